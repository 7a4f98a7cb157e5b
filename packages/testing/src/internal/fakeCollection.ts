/**
 * The fake's side of "one description per collection": `fakeCollection(state, spec, hooks)` serves a collection
 * from the same `Spec` the client is made from, so a new collection needs no fake code beyond what is its own
 * (the hooks). As LXD 5.0.2 answers:
 *
 * - `GET {path}`: the objects' URLs (`?project=` on those of another project than `default`), or the objects
 *   with `recursion=1`. `filter` (`key eq|ne value` terms, `not`, `and`, `or`) and `all-projects=true` (with a
 *   `project` as well: 400) when the spec takes them and the server advertises their extension; otherwise LXD
 *   ignores both query parameters, and so does the fake.
 * - `POST {path}`: 400 on a body that does not decode with `spec.post` (Go's `json: cannot unmarshal …`), without
 *   a name (`No name provided`) or with a slash in it; a duplicate is 409 unless the resource says otherwise; then
 *   `201` with `Location`.
 * - `GET {path}/{name}`: the object, its computed fields, an `ETag` over its `put` fields; 404 `<Label> not
 *   found` (also for a missing parent the fake serves).
 * - `PUT` replaces the writable fields, `PATCH` merges maps key by key and replaces the rest (or, for a spec
 *   whose client does not trust `PATCH`, `update: "merge"`, replaces each field it names whole, as LXD 5.0.2's
 *   projects do); both 412 on a stale `If-Match` (unless the spec says LXD ignores it: `ifMatch: false`) and 400
 *   on a bad body. Empty values are never kept in maps
 *   (LXD's database skips them: `""` unsets).
 * - `POST {path}/{name} {"name"}` renames (409 `Name "x" already in use`); `DELETE`. Nested objects follow their
 *   parent: renamed with it, deleted with it.
 * - lifecycle events `<lifecycle>-created/-updated/-renamed/-deleted` with the object's URL as source (a rename
 *   names `old_name` in its context); a verb in `spec.async` answers with an operation instead (`startOperation`).
 *
 * Go's decoder leaves a field that is `null` at its zero value; the fake drops top-level `null`s before decoding.
 *
 * @internal
 */
import type * as LxdResource from "@effect-lxd/core/LxdResource"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import * as SchemaAST from "effect/SchemaAST"
import * as M from "../LxdMockTransport.js"
import {
  type FakeEntry,
  type FakeState,
  type FakeStore,
  type Json,
  lifecycle,
  OpFailure,
  startOperation
} from "./fakeCore.js"
import { etagOf, fail, isObject, ok, projectOf, type Route, staleEtag } from "./fakeHttp.js"

type AnySpec = LxdResource.Spec<
  ReadonlyArray<string>,
  Schema.Schema.AnyNoContext,
  Schema.Schema.AnyNoContext,
  Schema.Schema.AnyNoContext
>

/**
 * Where a request lands: the project whose objects it reaches (after `hooks.project`) and its parents' names.
 *
 * @internal
 */
export interface Target {
  readonly state: FakeState
  readonly request: M.MockRequest
  readonly project: string
  readonly parents: ReadonlyArray<string>
}

/**
 * A refusal: an error answer; or, for a verb LXD runs as an operation and checks inside it, an `OpFailure` (the
 * operation fails with its message); or `undefined` to go on.
 *
 * @internal
 */
export type Veto = M.MockResponse | OpFailure | undefined

/** A change to an object, as its lifecycle event names it (`profile-created`). @internal */
export type Change = "created" | "updated" | "renamed" | "deleted"

/**
 * What a resource adds to the generated routes: only what is its own.
 *
 * @internal
 */
export interface Hooks {
  /** The word of its messages (`Profile` → `Profile not found`); default: the spec's `kind`, capitalised. */
  readonly label?: string | undefined
  /** The objects the fake starts with (project `default` unless given; the value holds the name field). */
  readonly initial?: ReadonlyArray<
    { readonly project?: string; readonly parents?: ReadonlyArray<string>; readonly value: Json }
  >
  /** One store for every project (projects, warnings): `?project=` does not choose where an object lives. */
  readonly global?: boolean | undefined
  /**
   * Where the objects of a request's project live, when it is not that project (a project without
   * `features.profiles` uses `default`'s profiles).
   */
  readonly project?: ((state: FakeState, requested: string) => string) | undefined
  /** Which objects a list shows (warnings: those of `?project=` when one is named); default: all of its store. */
  readonly visible?: ((target: Target, entry: FakeEntry) => boolean) | undefined
  /** The order of lists: by name (default) or as created (warnings). */
  readonly order?: "name" | "created" | undefined
  /** Read-only fields computed whenever the object is read (`used_by`, state). */
  readonly computed?: ((state: FakeState, entry: FakeEntry) => Json) | undefined
  /** Defaults of a new object, under what the body set (maps merged key by key). */
  readonly defaults?: ((target: Target, value: Json) => Json) | undefined
  /** A create the resource answers itself (a trust-token request), or `undefined` for the generated one. */
  readonly ownCreate?: ((target: Target) => Effect.Effect<M.MockResponse> | undefined) | undefined
  /** What LXD keeps or derives of a write, before the vetoes (a certificate sent empty keeps the current one). */
  readonly revise?: ((target: Target, entry: FakeEntry, next: Json) => Json) | undefined
  /** The name of a new object whose body names none (`snap0`); default: 400 `No name provided`. */
  readonly newName?: ((target: Target) => string) | undefined
  /**
   * The answer to a create or rename to a name in use; default: 409 `This "<collection>" entry already exists`
   * (create), 409 `Name "x" already in use` (rename).
   */
  readonly duplicate?: ((name: string, verb: "create" | "rename") => Veto) | undefined
  /**
   * `PATCH`: `merge`, maps merged key by key; `shallow`, each field named replaces the current one whole. Default:
   * `shallow` for a spec with `update: "merge"` (its client works around such a `PATCH`), else `merge`.
   */
  readonly patch?: "merge" | "shallow" | undefined
  /** Checks the parents of a nested collection the fake does not serve from a spec (instances for snapshots). */
  readonly parent?: ((target: Target) => Veto) | undefined
  readonly vetoCreate?: ((target: Target, value: Json) => Veto) | undefined
  readonly vetoWrite?: ((target: Target, entry: FakeEntry, next: Json) => Veto) | undefined
  readonly vetoRename?: ((target: Target, entry: FakeEntry, newName: string) => Veto) | undefined
  readonly vetoDelete?: ((target: Target, entry: FakeEntry) => Veto) | undefined
  /** What else changes with the object (a project's `default` profile), run with the change. */
  readonly after?: {
    readonly created?: ((entry: FakeEntry) => Effect.Effect<void>) | undefined
    readonly updated?: ((entry: FakeEntry, before: Json) => Effect.Effect<void>) | undefined
    readonly renamed?: ((entry: FakeEntry, oldName: string) => Effect.Effect<void>) | undefined
    readonly deleted?: ((entry: FakeEntry) => Effect.Effect<void>) | undefined
  } | undefined
  /**
   * The object a request names when no object has that exact name (an image by a unique fingerprint prefix), or
   * the answer LXD gives instead (an ambiguous prefix); default: none (404).
   */
  readonly resolve?: ((target: Target, name: string) => FakeEntry | M.MockResponse | undefined) | undefined
  /** The project of its lifecycle events; default: the object's (`default` for one that is not per project). */
  readonly eventProject?: ((entry: FakeEntry) => string) | undefined
  /**
   * The lifecycle action of a change, when it is not `<lifecycle>-<change>` (warnings: `warning-acknowledged`);
   * `undefined`: no event.
   */
  readonly action?: ((change: Change, entry: FakeEntry, before: Json) => string | undefined) | undefined
}

/** What the store helpers need of a spec. */
type PathOf = { readonly path: string }

const entryKey = (project: string, parents: ReadonlyArray<string>, name: string) =>
  JSON.stringify([project, ...parents, name])

/** The placeholders of a spec path, in order (`/instances/{instance}/snapshots` → `["instance"]`). */
const placeholdersOf = (path: string) => [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!)

/** The path with its placeholders filled with (encoded) names. */
const fill = (path: string, parents: ReadonlyArray<string>) => {
  let i = 0
  return path.replace(/\{[^}]+\}/g, () => encodeURIComponent(parents[i++] ?? ""))
}

/** The object's URL, as LXD writes it in lists, `used_by` and events. @internal */
export const urlOf = (spec: PathOf, entry: FakeEntry): string =>
  `/1.0${fill(spec.path, entry.parents)}/${encodeURIComponent(entry.name)}${
    entry.project === "" || entry.project === "default" ? "" : `?project=${encodeURIComponent(entry.project)}`
  }`

/** The store of a collection the fake serves from its spec, if it does. @internal */
export const storeOf = (state: FakeState, spec: PathOf): FakeStore | undefined => state.collections.get(spec.path)

/** One object, by the project a request named. @internal */
export const findEntry = (
  state: FakeState,
  spec: PathOf,
  requested: string,
  parents: ReadonlyArray<string>,
  name: string
): FakeEntry | undefined => {
  const store = storeOf(state, spec)
  return store?.entries.get(entryKey(store.scope(requested), parents, name))
}

/** Every object of a collection (of one project, or of all with `undefined`), in its store's order. @internal */
export const entriesOf = (
  state: FakeState,
  spec: PathOf,
  requested?: string,
  parents: ReadonlyArray<string> = []
): Array<FakeEntry> => {
  const store = storeOf(state, spec)
  if (store === undefined) return []
  const project = requested === undefined ? undefined : store.scope(requested)
  const found = [...store.entries.values()].filter((e) =>
    (project === undefined || e.project === project) && parents.every((p, i) => e.parents[i] === p)
  )
  return store.order === "created" ? found : found.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
}

/** Adds (or replaces) an object, as a test helper or a hook does. @internal */
export const putEntry = (
  state: FakeState,
  spec: PathOf,
  entry: FakeEntry
): void => {
  storeOf(state, spec)?.entries.set(entryKey(entry.project, entry.parents, entry.name), entry)
}

/** Removes an object (as a hook does). @internal */
export const removeEntry = (state: FakeState, spec: PathOf, entry: FakeEntry): void => {
  storeOf(state, spec)?.entries.delete(entryKey(entry.project, entry.parents, entry.name))
}

/** Reads a `config.image.os`-style key: a whole key first, else the map under a dotted prefix. */
const lookup = (u: unknown, field: string): unknown => {
  if (!isObject(u)) return undefined
  if (field in u) return u[field]
  for (let i = field.indexOf("."); i > 0; i = field.indexOf(".", i + 1)) {
    const head = field.slice(0, i)
    if (head in u) return lookup(u[head], field.slice(i + 1))
  }
  return undefined
}

/**
 * LXD's filter language, the part the fake understands: `key eq|ne value` terms (dotted keys reach into maps,
 * values compared case-insensitively), each maybe behind `not`, joined with `and` and `or` (`and` binds tighter).
 * A term it cannot read matches nothing.
 *
 * @internal
 */
export const filterMatches = (json: Json, filter: string | undefined): boolean => {
  if (filter === undefined || filter.trim() === "") return true
  return filter.split(/\s+or\s+/i).some((alternative) =>
    alternative.split(/\s+and\s+/i).every((term) => {
      const m = /^\s*(not\s+)?([\w.\-/]+)\s+(eq|ne)\s+"?([^"]*)"?\s*$/i.exec(term)
      if (!m) return false
      const [, not, field, op, value] = m
      const equal = String(lookup(json, field!) ?? "").toLowerCase() === value!.toLowerCase()
      const result = op!.toLowerCase() === "eq" ? equal : !equal
      return not ? !result : result
    })
  )
}

const fieldsOf = (schema: Schema.Schema.AnyNoContext): ReadonlyArray<string> =>
  Predicate.hasProperty(schema, "fields") && isObject(schema.fields) ? Object.keys(schema.fields) : []

const pick = (value: Json, fields: ReadonlyArray<string>): Json => {
  const out: Json = {}
  for (const f of fields) if (f in value) out[f] = value[f]
  return out
}

/** Top-level `null`s dropped: Go's decoder leaves such a field at its zero value. */
const withoutNulls = (value: Json): Json => Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null))

/** Maps without their empty values (LXD's database never stores `""` in config: it unsets). */
const clean = (value: Json): Json =>
  Object.fromEntries(
    Object.entries(value).map(([k, v]) =>
      isObject(v) ? [k, Object.fromEntries(Object.entries(v).filter(([, x]) => x !== ""))] : [k, v]
    )
  )

/** `defaults` under `value`, maps merged key by key. */
const under = (defaults: Json, value: Json): Json => {
  const out: Json = { ...defaults, ...value }
  for (const [k, v] of Object.entries(defaults)) {
    if (isObject(v) && isObject(value[k])) out[k] = { ...v, ...value[k] }
  }
  return out
}

const jsonKind = (u: unknown) =>
  Array.isArray(u) ? "array" : typeof u === "boolean" ? "bool" : isObject(u) ? "object" : typeof u

/**
 * The first failing leaf of a parse error and its path, found by following first children in a loop (no
 * recursion, and no rendering of the actual value: a body nested 20,000 deep must not overflow the fake).
 */
const firstLeaf = (error: ParseResult.ParseError) => {
  const path: Array<PropertyKey> = []
  let issue: ParseResult.ParseIssue = error.issue
  for (;;) {
    switch (issue._tag) {
      case "Pointer":
        if (Array.isArray(issue.path)) path.push(...(issue.path as ReadonlyArray<PropertyKey>))
        else path.push(issue.path as PropertyKey)
        issue = issue.issue
        continue
      case "Composite":
        issue = Array.isArray(issue.issues)
          ? (issue.issues as ReadonlyArray<ParseResult.ParseIssue>)[0]!
          : issue.issues as ParseResult.ParseIssue
        continue
      case "Refinement":
      case "Transformation":
        issue = issue.issue
        continue
      default:
        return { path, issue }
    }
  }
}

/** A body that does not decode: the start of Go's `json: cannot unmarshal …` message. */
const undecodable = (struct: string, input: Json, error: ParseResult.ParseError): string => {
  const { issue, path } = firstLeaf(error)
  const actual = path.reduce<unknown>((u, k) => (isObject(u) ? u[String(k)] : undefined), input)
  const field = [struct, ...path.map(String)].join(".")
  if (issue._tag === "Type" && actual !== undefined) {
    return `json: cannot unmarshal ${jsonKind(actual)} into Go struct field ${field}`
  }
  const message = issue._tag === "Missing" ? "is missing" : issue.message ?? `is ${issue._tag.toLowerCase()}`
  return `${field}: ${message.slice(0, 200)}`
}

/** The Go struct a schema stands for (its `identifier`: `ProfilesPost`). */
const identifierOf = (schema: Schema.Schema.AnyNoContext, fallback: string): string =>
  Option.getOrElse(SchemaAST.getIdentifierAnnotation(schema.ast), () => fallback)

/**
 * A body as `decoder` reads it, or LXD's 400: no body is Go's `EOF`, a JSON `null` an empty struct, and a field
 * that is `null` is left at its zero value (dropped before decoding).
 */
const decode = <A>(
  decoder: (u: unknown) => Either.Either<A, ParseResult.ParseError>,
  struct: string,
  input: unknown
): Either.Either<A, M.MockResponse> => {
  if (input === undefined) return Either.left(M.error(400, "EOF"))
  const body = input === null ? {} : input
  if (!isObject(body)) {
    return Either.left(M.error(400, `json: cannot unmarshal ${jsonKind(body)} into Go value of type api.${struct}`))
  }
  return Either.mapLeft(decoder(withoutNulls(body)), (error) => M.error(400, undecodable(struct, body, error)))
}

const gerunds: Partial<Record<LxdResource.Verb, string>> = {
  create: "Creating",
  replace: "Updating",
  modify: "Updating",
  update: "Updating",
  rename: "Renaming",
  delete: "Deleting"
}

/**
 * The routes of one collection, generated from its spec (`{placeholder}` → `:placeholder`), over a store kept
 * in this fake's state. Only the endpoints of the spec's verbs are served: another one is still a defect naming
 * it.
 *
 * @internal
 */
export const fakeCollection = (state: FakeState, spec: AnySpec, hooks: Hooks = {}): Array<Route> => {
  const label = hooks.label ?? spec.kind.charAt(0).toUpperCase() + spec.kind.slice(1)
  const scope = (requested: string) => hooks.global === true ? "" : hooks.project?.(state, requested) ?? requested
  const store: FakeStore = state.collections.get(spec.path) ??
    { label, scope, order: hooks.order ?? "name", entries: new Map() }
  state.collections.set(spec.path, store)
  const entries = store.entries
  for (const { parents = [], project = "default", value } of hooks.initial ?? []) {
    const name = String(value[spec.nameField])
    entries.set(entryKey(scope(project), parents, name), { project: scope(project), parents, name, value })
  }

  const placeholders = placeholdersOf(spec.path)
  const collectionPattern = spec.path.replace(/\{([^}]+)\}/g, ":$1")
  const itemParam = "__name"
  const itemPattern = `${collectionPattern}/:${itemParam}`
  const segment = spec.path.split("/").filter((s) => s !== "" && !s.startsWith("{")).pop() ?? spec.name
  const putFields = fieldsOf(spec.put)
  const patch = hooks.patch ?? (spec.update === "merge" ? "shallow" : "merge")
  const postStruct = identifierOf(spec.post, `${spec.name}Post`)
  const putStruct = identifierOf(spec.put, `${spec.name}Put`)
  const decodePost = Schema.decodeUnknownEither(spec.post)
  const encodePost = Schema.encodeEither(spec.post)
  const decodePut = Schema.decodeUnknownEither(spec.put)
  const has = (verb: LxdResource.Verb) => spec.verbs.includes(verb)
  const advertised = (extension: string | undefined) => extension !== undefined && state.extensions.includes(extension)
  // a list across projects names each object's project (the extension's LXD puts `project` in every one)
  const showProject = hooks.global !== true && advertised(spec.allProjects) && fieldsOf(spec.item).includes("project")

  const target = (r: M.MockRequest): Target => ({
    state,
    request: r,
    project: scope(projectOf(r)),
    parents: placeholders.map((p) => r.params[p] ?? "")
  })
  const writable = (entry: FakeEntry) => pick(entry.value, putFields)
  const read = (entry: FakeEntry): Json => ({
    ...entry.value,
    ...hooks.computed?.(state, entry),
    ...(showProject ? { project: entry.project } : {})
  })

  /** 404 for a project the fake does not have, or a missing parent (of a collection it serves, or by `parent`). */
  const missing = (t: Target): Veto => {
    const requested = projectOf(t.request)
    // every request in a project names one LXD has (once the fake serves projects)
    const projects = state.collections.get("/projects")
    if (hooks.global !== true && projects !== undefined && !projects.entries.has(entryKey("", [], requested))) {
      return M.error(404, "Project not found")
    }
    if (hooks.parent !== undefined) return hooks.parent(t)
    for (let i = 0; i < placeholders.length; i++) {
      const parent = state.collections.get(spec.path.slice(0, spec.path.indexOf(`/{${placeholders[i]}}`)))
      if (parent === undefined) continue
      if (!parent.entries.has(entryKey(parent.scope(requested), t.parents.slice(0, i), t.parents[i]!))) {
        return M.error(404, `${parent.label} not found`)
      }
    }
    return undefined
  }
  /** A veto's answer, or `go` (handed the failure the operation must end with, if any). */
  const or = (veto: Veto, go: (failure: OpFailure | undefined) => Effect.Effect<M.MockResponse>) =>
    veto instanceof OpFailure || veto === undefined ? go(veto) : Effect.succeed(veto)
  const withTarget = (f: (t: Target) => Effect.Effect<M.MockResponse>) => (r: M.MockRequest) =>
    Effect.suspend(() => {
      const t = target(r)
      return or(missing(t), () => f(t))
    })
  const withEntry = (f: (t: Target, entry: FakeEntry) => Effect.Effect<M.MockResponse>) =>
    withTarget((t) => {
      const name = t.request.params[itemParam] ?? ""
      const entry = entries.get(entryKey(t.project, t.parents, name)) ?? hooks.resolve?.(t, name)
      return entry === undefined
        ? fail(404, `${label} not found`)
        : "status" in entry
        ? Effect.succeed(entry)
        : f(t, entry)
    })

  /** A name LXD refuses before anything else, or `undefined`. */
  const badName = (name: unknown): Veto =>
    typeof name !== "string" || name === ""
      ? M.error(400, "No name provided")
      : name.includes("/")
      ? M.error(400, `${label} names may not contain slashes`)
      : name === "." || name === ".."
      ? M.error(400, `Invalid ${spec.kind} name "${name}"`)
      : undefined
  const taken = (t: Target, name: string, verb: "create" | "rename"): Veto =>
    !entries.has(entryKey(t.project, t.parents, name)) ? undefined : hooks.duplicate?.(name, verb) ??
      M.error(409, verb === "create" ? `This "${segment}" entry already exists` : `Name "${name}" already in use`)

  /** The change made, its hook run, its lifecycle event emitted. */
  const changed = (change: Change, entry: FakeEntry, before: Json, context?: Json) => {
    const action = hooks.action !== undefined
      ? hooks.action(change, entry, before)
      : spec.lifecycle === undefined
      ? undefined
      : `${spec.lifecycle}-${change}`
    const project = hooks.eventProject?.(entry) ?? (entry.project === "" ? "default" : entry.project)
    return action === undefined ? Effect.void : lifecycle(state, project, action, urlOf(spec, entry), context)
  }

  /**
   * The change answered sync, or, for a verb LXD runs as an operation, by an operation that makes it (or fails
   * with `failure`, which LXD found inside it).
   */
  const answer = (
    verbs: ReadonlyArray<LxdResource.Verb>,
    entry: FakeEntry,
    failure: OpFailure | undefined,
    work: Effect.Effect<void>,
    done: M.MockResponse
  ) => {
    if (!verbs.some((v) => spec.async.includes(v))) {
      return failure === undefined ? Effect.as(work, done) : fail(500, failure.message)
    }
    return startOperation(
      state,
      entry.project === "" ? "default" : entry.project,
      { description: `${gerunds[verbs[0]!]} ${spec.kind}`, resources: { [segment]: [urlOf(spec, entry)] } },
      failure === undefined ? work : Effect.fail(failure)
    )
  }

  /** The writable part `body` makes of the current one, decoded (or Go's 400). */
  const nextWritable = (entry: FakeEntry, body: unknown, merge: boolean) => {
    let next: unknown = body
    if (merge && isObject(body)) {
      const current = writable(entry)
      for (const [field, value] of Object.entries(withoutNulls(pick(body, putFields)))) {
        current[field] = patch === "merge" && isObject(value) && isObject(current[field])
          ? { ...current[field], ...value }
          : value
      }
      next = current
    }
    return Either.map(decode(decodePut, putStruct, next), (put) => clean(put as Json))
  }

  const write = (verbs: ReadonlyArray<LxdResource.Verb>, merge: boolean) =>
    withEntry((t, entry) => {
      const stale = spec.ifMatch ? staleEtag(t.request, writable(entry)) : undefined
      if (stale) return stale
      const next = nextWritable(entry, t.request.body, merge)
      if (Either.isLeft(next)) return Effect.succeed(next.left)
      const sent = { ...entry.value, ...next.right }
      const value = hooks.revise?.(t, entry, sent) ?? sent
      return or(hooks.vetoWrite?.(t, entry, value), (failure) => {
        const before = entry.value
        const work = Effect.suspend(() => {
          entry.value = value
          return Effect.zipRight(
            hooks.after?.updated?.(entry, before) ?? Effect.void,
            changed("updated", entry, before)
          )
        })
        return answer(verbs, entry, failure, work, M.sync({}))
      })
    })

  const create = withTarget((t) => {
    const own = hooks.ownCreate?.(t)
    if (own !== undefined) return own
    // Go decodes a missing name as "", which the handler then refuses
    const body = isObject(t.request.body) ? { [spec.nameField]: "", ...withoutNulls(t.request.body) } : t.request.body
    const decoded = decode(decodePost, postStruct, body)
    if (Either.isLeft(decoded)) return Effect.succeed(decoded.left)
    const given = isObject(body) ? body[spec.nameField] : undefined
    const name = given === "" && hooks.newName !== undefined ? hooks.newName(t) : given
    return or(badName(name), () => {
      const n = name as string
      // what `POST` set that `GET` shows, then the writable part with its defaults
      const posted = Either.getOrElse(encodePost(decoded.right), () => ({})) as Json
      const put = Either.getOrElse(decode(decodePut, putStruct, posted), () => ({}))
      const set = clean({ ...pick(posted, [...spec.readOnly, spec.nameField]), ...(put as Json), [spec.nameField]: n })
      const value = hooks.defaults === undefined ? set : under(hooks.defaults(t, set), set)
      const entry: FakeEntry = { project: t.project, parents: t.parents, name: n, value }
      return or(taken(t, n, "create") ?? hooks.vetoCreate?.(t, value), (failure) => {
        const work = Effect.suspend(() => {
          entries.set(entryKey(t.project, t.parents, n), entry)
          return Effect.zipRight(hooks.after?.created?.(entry) ?? Effect.void, changed("created", entry, {}))
        })
        return answer(
          ["create"],
          entry,
          failure,
          work,
          M.sync({}, { location: urlOf(spec, { ...entry, project: "" }) })
        )
      })
    })
  })

  /** The objects of collections nested below this one's `entry`. */
  const children = (entry: FakeEntry) => {
    const depth = placeholders.length
    return [...state.collections].filter(([path]) => path.startsWith(`${spec.path}/{`)).flatMap(([, child]) =>
      [...child.entries].filter(([, e]) =>
        e.project === entry.project && e.parents[depth] === entry.name &&
        entry.parents.every((p, i) => e.parents[i] === p)
      ).map(([key, e]) => ({ child, key, e }))
    )
  }

  const rename = withEntry((t, entry) => {
    const newName = isObject(t.request.body) ? t.request.body[spec.renameField] : undefined
    return or(hooks.vetoRename?.(t, entry, String(newName)) ?? badName(newName), (vetoed) => {
      const n = newName as string
      const conflict = taken(t, n, "rename")
      return or(vetoed ?? conflict, (failure) => {
        const old = entry.name
        const before = entry.value
        const work = Effect.suspend(() => {
          for (const { child, e, key } of children(entry)) {
            child.entries.delete(key)
            const parents = e.parents.map((p, i) => (i === placeholders.length ? n : p))
            child.entries.set(entryKey(e.project, parents, e.name), { ...e, parents })
          }
          entries.delete(entryKey(t.project, t.parents, old))
          entry.name = n
          entry.value = { ...entry.value, [spec.nameField]: n }
          entries.set(entryKey(t.project, t.parents, n), entry)
          return Effect.zipRight(
            hooks.after?.renamed?.(entry, old) ?? Effect.void,
            changed("renamed", entry, before, { old_name: old })
          )
        })
        const location = urlOf(spec, { ...entry, name: n, project: "" })
        return answer(["rename"], entry, failure, work, M.sync({}, { location }))
      })
    })
  })

  const remove = withEntry((t, entry) =>
    or(hooks.vetoDelete?.(t, entry), (failure) => {
      const work = Effect.suspend(() => {
        for (const { child, key } of children(entry)) child.entries.delete(key)
        entries.delete(entryKey(entry.project, entry.parents, entry.name))
        return Effect.zipRight(hooks.after?.deleted?.(entry) ?? Effect.void, changed("deleted", entry, entry.value))
      })
      return answer(["delete"], entry, failure, work, M.sync({}))
    })
  )

  const list = withTarget((t) => {
    const r = t.request
    const all = hooks.global !== true && advertised(spec.allProjects) && r.query["all-projects"] === "true"
    if (all && r.query.project !== undefined) return fail(400, "Cannot specify a project when requesting all projects")
    const filter = advertised(spec.filter) ? r.query.filter : undefined
    const found = entriesOf(state, spec, all ? undefined : projectOf(r), t.parents)
      .filter((entry) => hooks.visible?.(t, entry) ?? true)
      .map((entry) => ({ entry, json: read(entry) }))
      .filter(({ json }) => filterMatches(json, filter))
    const recursive = r.query.recursion !== undefined && r.query.recursion !== "0"
    return ok(recursive ? found.map(({ json }) => json) : found.map(({ entry }) => urlOf(spec, entry)))
  })

  const get = withEntry((_, entry) => ok(read(entry), { etag: etagOf(writable(entry)) }))

  return [
    ...(has("listNames") || has("list") ? [M.route("GET", collectionPattern, list)] : []),
    ...(has("create") ? [M.route("POST", collectionPattern, create)] : []),
    ...(["get", "getWithEtag", "exists", "modify"] as const).some(has) ? [M.route("GET", itemPattern, get)] : [],
    ...(has("replace") || has("modify") ? [M.route("PUT", itemPattern, write(["replace", "modify"], false))] : []),
    ...(has("update") ? [M.route("PATCH", itemPattern, write(["update"], true))] : []),
    ...(has("rename") ? [M.route("POST", itemPattern, rename)] : []),
    ...(has("delete") ? [M.route("DELETE", itemPattern, remove)] : [])
  ]
}

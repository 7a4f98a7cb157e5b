/**
 * `make(client, spec)`: the one implementation of a collection's verbs. Every decision a collection needs is
 * taken here, once: `null` lists, names from URLs, filter and all-projects gating, name validation before any
 * request, the one sync-or-async write path, read-only fields never sent back, spans per verb.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type { LxdClient, WriteResult } from "../LxdClient.js"
import { InvalidArgument, type LxdError } from "../LxdError.js"
import type * as LxdResource from "../LxdResource.js"
import { parseFailure, protocolError } from "./client.js"
import * as Path from "./path.js"

type AnySpec = LxdResource.Spec<
  ReadonlyArray<string>,
  Schema.Schema.AnyNoContext,
  Schema.Schema.AnyNoContext,
  Schema.Schema.AnyNoContext
>

/**
 * The `filter=` value: expressions joined with ` and ` as the Go client does (LXD 5.0.2's parser has no
 * parentheses: `(a eq b) and …` matches nothing).
 *
 * @internal
 */
export const filterValue = (filter: LxdResource.ListOptions["filter"]): string | undefined => {
  if (filter === undefined) return undefined
  if (typeof filter === "string") return filter === "" ? undefined : filter
  const parts = filter.filter((f) => f !== "")
  return parts.length === 0 ? undefined : parts.join(" and ")
}

/**
 * The path pieces of a spec's `path` around its placeholders: `/instances/{instance}/snapshots` →
 * `["/instances/", "/snapshots"]`.
 *
 * @internal
 */
export const pathPieces = (path: string): ReadonlyArray<string> => path.split(/\{[^}]+\}/)

/**
 * Names in LXD URLs, or a `ProtocolError` naming a URL that is not percent-encoded properly.
 *
 * @internal
 */
export const namesFromUrls = Path.namesFromUrls

const NameList = Schema.NullOr(Schema.Array(Schema.String))

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * A patch merged into an object as LXD's `PATCH` does: top-level fields replaced, except maps (`config`,
 * `devices`), which are merged key by key, a `""` (or `null`) value unsetting its key.
 *
 * @internal
 */
export const merge = (current: unknown, patch: unknown): Record<string, unknown> => {
  const out: Record<string, unknown> = isRecord(current) ? { ...current } : {}
  if (!isRecord(patch)) return out
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue
    const before = out[key]
    if (isRecord(value) && isRecord(before)) {
      const merged: Record<string, unknown> = { ...before }
      for (const [k, v] of Object.entries(value)) {
        if (v === "" || v === null) delete merged[k]
        else if (v !== undefined) merged[k] = v
      }
      out[key] = merged
    } else out[key] = value
  }
  return out
}

/**
 * The path below `/1.0` of one object of a collection (and of a part of it, with `suffix`), its parents' and
 * its own name validated and encoded; fails `APIExtensionNotAvailable` first when the collection needs one.
 *
 * @internal
 */
export const objectPath = <S extends AnySpec>(
  client: LxdClient.Service,
  spec: S,
  parents: ReadonlyArray<unknown>,
  name: unknown,
  suffix = ""
): Effect.Effect<string, LxdError> =>
  gated(client, spec, Path.build(...pathParts(spec, parents), "/", [spec.kind, name], suffix))

/** The pieces of a collection's path, its parents as names to validate and encode. */
const pathParts = (spec: AnySpec, parents: ReadonlyArray<unknown>) => {
  const pieces = pathPieces(spec.path)
  const parts: Array<string | readonly [Path.NameKind, unknown]> = [pieces[0]!]
  for (let i = 0; i < spec.parents.length; i++) parts.push([spec.parents[i]!, parents[i]], pieces[i + 1]!)
  return parts
}

/** `effect` (names validated first, nothing sent), then the collection's extension check when it has one. */
const gated = <A>(
  client: LxdClient.Service,
  spec: AnySpec,
  effect: Effect.Effect<A, LxdError>
): Effect.Effect<A, LxdError> =>
  spec.extension === undefined ? effect : Effect.tap(effect, () => client.requireExtension(spec.extension!))

/**
 * A part of an object that is read on its own (`GET {path}/{name}{suffix}`: a project's `/state`, a network's
 * `/leases`), decoded with `schema`, as a method taking the parents' names and the object's. Span
 * `${spec.name}.${verb}`; `extension` is required first when given.
 *
 * @internal
 */
export const readPart = <S extends AnySpec, A, I>(
  client: LxdClient.Service,
  spec: S,
  options: {
    readonly verb: string
    readonly suffix: string
    readonly schema: Schema.Schema<A, I, never>
    readonly extension?: string | undefined
  }
) =>
(...args: ReadonlyArray<string>): Effect.Effect<A, LxdError> =>
  Effect.gen(function*() {
    const depth = spec.parents.length
    // names first (nothing sent for a bad one), then the part's own extension
    const path = yield* objectPath(client, spec, args.slice(0, depth), args[depth], options.suffix)
    if (options.extension !== undefined) yield* client.requireExtension(options.extension)
    return (yield* client.sync(options.schema, { method: "GET", path })).metadata
  }).pipe(Effect.withSpan(`${spec.name}.${options.verb}`))

/**
 * The collection service a spec describes, over an engine.
 *
 * @internal
 */
export const make = <S extends AnySpec>(client: LxdClient.Service, spec: S): LxdResource.CollectionOf<S> => {
  const depth = spec.parents.length
  const ItemList = Schema.NullOr(Schema.Array(spec.item))
  const decodePut = Schema.decodeUnknown(spec.put, { onExcessProperty: "preserve" })
  const span = (verb: LxdResource.Verb) => `${spec.name}.${verb}`

  const refuse = (argument: string, value: unknown, reason: string) =>
    Effect.fail(new InvalidArgument({ argument, value, reason }))

  /** The collection's path with its parents validated and encoded. */
  const collectionPath = (parents: ReadonlyArray<unknown>) =>
    gated(client, spec, Path.build(...pathParts(spec, parents)))
  const itemPath = (parents: ReadonlyArray<unknown>, name: unknown) => objectPath(client, spec, parents, name)

  /**
   * A list's path and query: options the collection does not have refused and names checked (nothing sent),
   * then the extensions the collection and the options need.
   */
  const listRequest = (
    parents: ReadonlyArray<unknown>,
    options: LxdResource.ListOptions | undefined,
    recursion: string | undefined
  ) =>
    Effect.gen(function*() {
      const filter = filterValue(options?.filter)
      if (filter !== undefined && spec.filter === undefined) {
        yield* refuse("filter", filter, `${spec.name} cannot be filtered`)
      }
      const allProjects = options?.allProjects === true
      if (allProjects && spec.allProjects === undefined) {
        yield* refuse("allProjects", true, `${spec.name} has no list across all projects`)
      }
      const path = yield* collectionPath(parents)
      if (filter !== undefined) yield* client.requireExtension(spec.filter!)
      if (allProjects) yield* client.requireExtension(spec.allProjects!)
      return { path, query: { recursion, filter, "all-projects": allProjects ? "true" : undefined } }
    })

  // `args` of a verb: the parents, then the verb's own arguments
  const split = (args: ReadonlyArray<unknown>) => [args.slice(0, depth), args.slice(depth)] as const

  const getWithEtag = (parents: ReadonlyArray<unknown>, name: unknown) =>
    Effect.gen(function*() {
      const path = yield* itemPath(parents, name)
      const r = yield* client.sync(spec.item, { method: "GET", path })
      return { value: r.metadata, etag: r.etag }
    })

  /** The writable part of an object as LXD has it now (read-only fields left out, unknown ones kept), and its ETag. */
  const readWritable = (path: string) =>
    Effect.gen(function*() {
      const current = yield* client.request({ method: "GET", path })
      const raw: Record<string, unknown> = isRecord(current.metadata) ? { ...current.metadata } : {}
      for (const key of spec.readOnly) delete raw[key]
      const put = yield* Effect.mapError(
        decodePut(raw),
        (cause) => parseFailure({ method: "GET", path }, `the writable part does not match ${spec.name}`, cause)
      )
      return { put, etag: current.etag }
    })

  const write = client.write
  /** The name a create's body gives, if any. */
  const nameIn = (body: unknown): unknown => (isRecord(body) ? body[spec.nameField] : undefined)

  /** The new object's name: `Location`, else a resource of the operation below this collection, else the body. */
  const createdName = (
    path: string,
    result: WriteResult,
    body: unknown
  ): string | { readonly bad: string } | undefined => {
    const below = `/1.0${path}/`
    const urls = [
      ...(result.location === undefined ? [] : [result.location]),
      ...Object.values(result.operation?.resources ?? {}).flat()
    ]
    let bad: string | undefined
    for (const url of urls) {
      const p = url.split("?")[0]!
      if (p.startsWith(below) && !p.slice(below.length).includes("/")) {
        const name = Path.lastSegment(p)
        if (name !== undefined) return name
        bad ??= url // not percent-encoded properly: try the next one
      }
    }
    const named = nameIn(body)
    if (typeof named === "string" && named !== "") return named
    return bad === undefined ? undefined : { bad }
  }

  const service: LxdResource.Collection<ReadonlyArray<string>, unknown, unknown, unknown> = {
    listNames: (...args) => {
      const [parents, [options]] = split(args)
      return Effect.gen(function*() {
        const { path, query } = yield* listRequest(parents, options as LxdResource.ListOptions | undefined, undefined)
        const r = yield* client.sync(NameList, { method: "GET", path, query })
        return yield* namesFromUrls({ method: "GET", path }, r.metadata ?? [])
      }).pipe(Effect.withSpan(span("listNames")))
    },
    list: (...args) => {
      const [parents, [options]] = split(args)
      return Effect.gen(function*() {
        const { path, query } = yield* listRequest(parents, options as LxdResource.ListOptions | undefined, "1")
        const r = yield* client.sync(ItemList, { method: "GET", path, query })
        return r.metadata ?? []
      }).pipe(Effect.withSpan(span("list")))
    },
    get: (...args) => {
      const [parents, [name]] = split(args)
      return getWithEtag(parents, name).pipe(Effect.map((r) => r.value), Effect.withSpan(span("get")))
    },
    getWithEtag: (...args) => {
      const [parents, [name]] = split(args)
      return Effect.withSpan(getWithEtag(parents, name), span("getWithEtag"))
    },
    exists: (...args) => {
      const [parents, [name]] = split(args)
      return getWithEtag(parents, name).pipe(
        Effect.as(true),
        Effect.catchTag("NotFound", () => Effect.succeed(false)),
        Effect.withSpan(span("exists"))
      )
    },
    create: (...args) => {
      const [parents, [body]] = split(args)
      return Effect.gen(function*() {
        const named = nameIn(body)
        // before the path: its extension check would send GET /1.0 for a name we refuse anyway
        if (named !== undefined) yield* Path.validate(spec.kind, named)
        const path = yield* collectionPath(parents)
        const result = yield* write({ method: "POST", path, body })
        const name = createdName(path, result, body)
        if (name === undefined) {
          return yield* protocolError({ method: "POST", path }, "the answer does not name what it created")
        }
        if (typeof name !== "string") return yield* Path.badUrl({ method: "POST", path }, name.bad)
        return name
      }).pipe(Effect.withSpan(span("create")))
    },
    replace: (...args) => {
      const [parents, [name, body, options]] = split(args)
      return itemPath(parents, name).pipe(
        Effect.flatMap((path) =>
          write({ method: "PUT", path, body, etag: (options as LxdResource.EtagOptions | undefined)?.etag })
        ),
        Effect.asVoid,
        Effect.withSpan(span("replace"))
      )
    },
    update: (...args) => {
      const [parents, [name, patch, options]] = split(args)
      const etag = (options as LxdResource.EtagOptions | undefined)?.etag
      return Effect.gen(function*() {
        const path = yield* itemPath(parents, name)
        if (spec.update === "patch") return yield* write({ method: "PATCH", path, body: patch, etag })
        const current = yield* readWritable(path)
        return yield* write({ method: "PUT", path, body: merge(current.put, patch), etag: etag ?? current.etag })
      }).pipe(Effect.asVoid, Effect.withSpan(span("update")))
    },
    modify: (...args) => {
      const [parents, [name, f]] = split(args)
      return Effect.gen(function*() {
        const path = yield* itemPath(parents, name)
        const current = yield* readWritable(path)
        const body = (f as (current: unknown) => unknown)(current.put)
        yield* write({ method: "PUT", path, body, etag: current.etag })
      }).pipe(Effect.withSpan(span("modify")))
    },
    rename: (...args) => {
      const [parents, [name, newName]] = split(args)
      return Effect.gen(function*() {
        yield* Path.validate(spec.kind, newName) // before the path's extension check, as in create
        const path = yield* itemPath(parents, name)
        yield* write({ method: "POST", path, body: { name: newName } })
      }).pipe(Effect.withSpan(span("rename")))
    },
    delete: (...args) => {
      const [parents, [name]] = split(args)
      return itemPath(parents, name).pipe(
        Effect.flatMap((path) => write({ method: "DELETE", path })),
        Effect.asVoid,
        Effect.withSpan(span("delete"))
      )
    }
  }
  return service as unknown as LxdResource.CollectionOf<S>
}

/**
 * The checklist of STYLE §12, declared once for every collection from its spec, against the scripted mock:
 * decoding with unknown fields and Go `null`s, names from URLs, the error tags (404/409/412 and the others),
 * `modify`'s PUT (the GET's ETag, no read-only fields, unknown fields kept), extension gating with nothing sent
 * but `GET /1.0`, `filter`/`allProjects` refused or gated, `withProject` on every request, bad names refused
 * with nothing sent, the name a create returns, and every write answered sync and async (waited on, failed,
 * cancelled when interrupted): LXD moves writes between sync and async across versions, so every write verb
 * is tested both ways, not only those in `spec.async`.
 */
import { LxdClient, type LxdError, type LxdResource } from "@effect-lxd/core"
import { LxdMockTransport } from "@effect-lxd/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Schema, SchemaAST, TestClock } from "effect"
import { serverInfo } from "../helpers.js"

/** Any spec (the parameter `internal/collection.ts`'s `make` takes). */
export type AnySpec = LxdResource.Spec<
  ReadonlyArray<string>,
  Schema.Schema.AnyNoContext,
  Schema.Schema.AnyNoContext,
  Schema.Schema.AnyNoContext
>

/** What a spec cannot say: sample data as LXD sends it, names, and the service under test. */
export interface Fixture<S extends AnySpec> {
  /** The service as users get it (the module's `make`). */
  readonly make: Effect.Effect<Partial<LxdResource.CollectionOf<S>>, never, LxdClient.LxdClient>
  /**
   * An object as LXD 5.0.2 answers `GET {path}/{name}`, with some read-only fields; the suite adds unknown
   * fields and turns its slices and maps into Go `null`s itself.
   */
  readonly item: Readonly<Record<string, unknown>>
  /** A create body; when `post` has the spec's `nameField`, the suite sets it (to `name`, or `invalidName`). */
  readonly post: Schema.Schema.Encoded<S["post"]>
  /** The body LXD receives for `post` (default: `post` as it is), for a create that rewrites it. */
  readonly postSent?: unknown
  /** Valid names of the parents, in the order of `spec.path`. */
  readonly parents: NamesOf<S["parents"]>
  /** A valid name; one that needs percent-encoding tests the paths too. */
  readonly name: string
  /** Another valid name (rename's target, the name LXD gives a created object). */
  readonly newName: string
  /** A name the spec's `kind` refuses. */
  readonly invalidName: string
  /** A name each parent's kind refuses (default `a/b`, which every kind refuses). */
  readonly invalidParents?: NamesOf<S["parents"]> | undefined
}

/** A name for each parent (a tuple as long as the spec's `parents`). */
type NamesOf<P> = { readonly [K in keyof P]: string }

type Verb = LxdResource.Verb

/** The service seen without its types: every verb takes the parents, then its own arguments. */
type Loose = { readonly [V in Verb]: (...args: ReadonlyArray<unknown>) => Effect.Effect<unknown, LxdError.LxdError> }

type MockRequest = LxdMockTransport.MockRequest
type MockResponse = LxdMockTransport.MockResponse

const { async: asyncAnswer, error, operation, sync } = LxdMockTransport

const writeVerbs: ReadonlyArray<Verb> = ["create", "replace", "update", "modify", "rename", "delete"]
const namedVerbs: ReadonlyArray<Verb> = [
  "get",
  "getWithEtag",
  "exists",
  "replace",
  "update",
  "modify",
  "rename",
  "delete"
]

const OP = "op1"
const ETAG = "\"e1\""
const STALE = "\"e0\""
const PROJECT = "p"
const UNKNOWN = "a_field_from_the_future"
const unknownValue = { since: "6.x", values: [1, null] }

/** The shape of a Go slice or map in an encoded schema (a Go struct field of that type may be `null`). */
const isSliceOrMap = (ast: SchemaAST.AST): boolean =>
  SchemaAST.isTupleType(ast) ||
  (SchemaAST.isTypeLiteral(ast) && ast.indexSignatures.length > 0 && ast.propertySignatures.length === 0)

const members = (ast: SchemaAST.AST): ReadonlyArray<SchemaAST.AST> => SchemaAST.isUnion(ast) ? ast.types : [ast]

/**
 * The sample with every slice and map the schema declares (at the top and inside nested structs) as Go's `nil`
 * serialises it: `null`. Returns the sample and the paths it nulled.
 */
export const goNulls = (
  schema: Schema.Schema.AnyNoContext,
  sample: Readonly<Record<string, unknown>>
): { readonly value: Record<string, unknown>; readonly nulled: ReadonlyArray<string> } => {
  const nulled: Array<string> = []
  const walk = (ast: SchemaAST.AST, value: Readonly<Record<string, unknown>>, at: string) => {
    const out: Record<string, unknown> = { ...value }
    const struct = members(ast).find((m) => SchemaAST.isTypeLiteral(m) && m.propertySignatures.length > 0)
    if (struct === undefined || !SchemaAST.isTypeLiteral(struct)) return out
    for (const p of struct.propertySignatures) {
      const key = String(p.name)
      const v = value[key]
      if (v === undefined || v === null) continue
      const ms = members(p.type)
      if (ms.some(isSliceOrMap)) {
        out[key] = null
        nulled.push(at + key)
      } else if (typeof v === "object" && !Array.isArray(v)) {
        out[key] = walk(p.type, v as Record<string, unknown>, `${at}${key}.`)
      }
    }
    return out
  }
  const value = walk(SchemaAST.encodedAST(schema.ast), sample, "")
  return { value, nulled }
}

/** The sample with a field from a newer server. */
export const withUnknown = (sample: Readonly<Record<string, unknown>>): Record<string, unknown> => ({
  ...sample,
  [UNKNOWN]: unknownValue
})

/** How the mock answers: the collection's own routes from the spec, plus what a test changes. */
interface Script {
  /** The server's extensions; default: those the spec names. */
  readonly extensions?: ReadonlyArray<string> | undefined
  /** How writes (POST, PUT, PATCH, DELETE on the collection) are answered. */
  readonly writes?: "sync" | "async" | undefined
  /** How the operation of an async write ends. */
  readonly operation?: "success" | "failure" | "never" | undefined
  /** `GET {path}?recursion=1` (a key given as `null` answers `null`). */
  readonly list?: unknown
  /** `GET {path}`. */
  readonly names?: unknown
  /** `GET {path}/{name}`. */
  readonly item?: unknown
  /** Answers before the collection's routes (errors). */
  readonly answer?: ((request: MockRequest) => MockResponse | undefined) | undefined
}

/** A recorded request as a line: `GET /1.0/profiles/p1`. */
const line = (r: MockRequest) => `${r.method} /1.0${r.path}`

const tagOf = (exit: Exit.Exit<unknown, LxdError.LxdError>): string | undefined =>
  Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error._tag : undefined

const failure = (exit: Exit.Exit<unknown, LxdError.LxdError>): LxdError.LxdError => {
  if (Exit.isFailure(exit) && exit.cause._tag === "Fail") return exit.cause.error
  throw new Error(`expected a failure, got ${Exit.isSuccess(exit) ? "a success" : String(exit.cause)}`)
}

const encode = encodeURIComponent

/**
 * Declares `describe(spec.name)` with the checklist for every verb of `spec.verbs`.
 */
export const collectionSuite = <S extends AnySpec>(spec: S, fixture: Fixture<S>): void => {
  const parents = fixture.parents as unknown as ReadonlyArray<string>
  const invalidParents = (fixture.invalidParents as ReadonlyArray<string> | undefined) ??
    parents.map(() => "a/b")
  const verbs = spec.verbs
  const has = (verb: Verb) => verbs.includes(verb)
  const decode = Schema.decodeUnknownSync(spec.item)
  const extensions = [spec.extension, spec.filter, spec.allProjects].filter((e): e is string => e !== undefined)
  const resourceKey = spec.path.split("/").filter((s) => s !== "" && !s.startsWith("{")).at(-1) ?? spec.name

  const pathOf = (ps: ReadonlyArray<string>) => {
    let i = 0
    return spec.path.replace(/\{[^}]+\}/g, () => encode(ps[i++]!))
  }
  const collection = pathOf(parents)
  const itemPath = (name: string) => `${collection}/${encode(name)}`
  const url = (name: string) => `/1.0${itemPath(name)}`

  const sample = fixture.item
  const nulls = goNulls(spec.item, sample)
  const writable = Object.fromEntries(Object.entries(sample).filter(([k]) => !spec.readOnly.includes(k)))
  const firstWritable = Object.keys(writable)[0]
  const patch = firstWritable === undefined ? {} : { [firstWritable]: writable[firstWritable] }
  // a create that names its object (profiles) or one whose name LXD derives (certificates: the fingerprint)
  const postNamed = SchemaAST.getPropertySignatures(spec.post.ast).some((p) => p.name === spec.nameField)
  const postBody = (name: string) => postNamed ? { ...(fixture.post as object), [spec.nameField]: name } : fixture.post
  const postSent = "postSent" in fixture ? fixture.postSent : postBody(fixture.name)

  const finalOperation = (mode: "success" | "failure") =>
    operation(OP, {
      status: mode === "success" ? "Success" : "Failure",
      status_code: mode === "success" ? 200 : 400,
      err: mode === "success" ? "" : "the server says no",
      may_cancel: false,
      resources: { [resourceKey]: [`${url(fixture.newName)}?project=${PROJECT}`] }
    })

  const handler = (script: Script) => (r: MockRequest): Effect.Effect<MockResponse> => {
    if (r.method === "GET" && r.path === "") {
      return Effect.succeed(sync(serverInfo(["etag", ...(script.extensions ?? extensions)])))
    }
    if (r.path === `/operations/${OP}/wait`) {
      const mode = script.operation ?? "success"
      return mode === "never" ? Effect.never : Effect.succeed(sync(finalOperation(mode)))
    }
    if (r.path === `/operations/${OP}`) {
      return Effect.succeed(r.method === "DELETE" ? sync({}) : sync(operation(OP)))
    }
    const answered = script.answer?.(r)
    if (answered !== undefined) return Effect.succeed(answered)
    const write = script.writes === "async"
      ? asyncAnswer(operation(OP, { resources: { [resourceKey]: [url(fixture.newName)] } }))
      : undefined
    if (r.path === collection) {
      if (r.method === "GET") {
        return Effect.succeed(
          sync(
            r.query.recursion === "1"
              ? ("list" in script ? script.list : [sample])
              : ("names" in script ? script.names : [url(fixture.name)])
          )
        )
      }
      if (r.method === "POST") return Effect.succeed(write ?? sync({}, { location: url(fixture.newName) }))
    }
    if (r.path === itemPath(fixture.name)) {
      if (r.method === "GET") return Effect.succeed(sync("item" in script ? script.item : sample, { etag: ETAG }))
      return Effect.succeed(write ?? sync({}))
    }
    return Effect.dieMessage(`collectionSuite(${spec.name}): unexpected ${r.method} ${r.url}`)
  }

  const layer = (script: Script) =>
    LxdClient.layer.pipe(Layer.provideMerge(LxdMockTransport.layer({ handle: handler(script) })))

  const service = Effect.map(fixture.make, (s) => s as unknown as Loose)
  const recorded = Effect.flatMap(LxdMockTransport.MockTransport, (m) => m.requests)

  /** Runs `f` on the service over a mock playing `script`; its exit and what the mock saw. */
  const run = <A>(script: Script, f: (s: Loose) => Effect.Effect<A, LxdError.LxdError>) =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Effect.flatMap(service, f))
      return { exit, requests: yield* recorded }
    }).pipe(Effect.provide(layer(script)))

  interface Names {
    readonly parents: ReadonlyArray<string>
    readonly name: string
    readonly newName: string
    readonly etag?: string | undefined
    readonly modify?: ((current: unknown) => unknown) | undefined
  }
  const valid: Names = { parents, name: fixture.name, newName: fixture.newName, etag: ETAG }

  /** Calls a verb with the parents, then its own arguments. */
  const call = (s: Loose, verb: Verb, n: Names = valid, options?: LxdResource.ListOptions) => {
    const own: ReadonlyArray<unknown> = verb === "listNames" || verb === "list"
      ? (options === undefined ? [] : [options])
      : verb === "create"
      ? [postBody(n.name)]
      : verb === "replace"
      ? [n.name, writable, { etag: n.etag }]
      : verb === "update"
      ? [n.name, patch, { etag: n.etag }]
      : verb === "modify"
      ? [n.name, n.modify ?? ((current: unknown) => current)]
      : verb === "rename"
      ? [n.name, n.newName]
      : [n.name]
    return s[verb](...n.parents, ...own)
  }

  /** The requests a verb sends when every answer is sync. */
  const expected = (verb: Verb): ReadonlyArray<string> => {
    const gate = spec.extension === undefined ? [] : ["GET /1.0"]
    const c = `/1.0${collection}`
    const i = url(fixture.name)
    const own = verb === "listNames" || verb === "list"
      ? [`GET ${c}`]
      : verb === "create"
      ? [`POST ${c}`]
      : verb === "replace"
      ? [`PUT ${i}`]
      : verb === "update"
      ? (spec.update === "merge" ? [`GET ${i}`, `PUT ${i}`] : [`PATCH ${i}`])
      : verb === "modify"
      ? (spec.ifMatch ? [`GET ${i}`, `PUT ${i}`] : [`GET ${i}`, `GET ${i}`, `PUT ${i}`])
      : verb === "rename"
      ? [`POST ${i}`]
      : verb === "delete"
      ? [`DELETE ${i}`]
      : [`GET ${i}`]
    return [...gate, ...own]
  }

  /** The last request with this method. */
  const sent = (requests: ReadonlyArray<MockRequest>, method: string) => {
    const r = [...requests].reverse().find((x) => x.method === method && !x.path.startsWith("/operations/"))
    if (r === undefined) throw new Error(`no ${method} in ${requests.map(line).join(", ")}`)
    return r
  }

  const forVerbs = (candidates: ReadonlyArray<Verb>, title: string, test: (verb: Verb) => Effect.Effect<void>) => {
    const chosen = candidates.filter(has)
    if (chosen.length === 0) return
    describe(title, () => {
      for (const verb of chosen) it.effect(verb, () => test(verb))
    })
  }

  describe(spec.name, () => {
    it.effect("the service has the spec's verbs", () =>
      Effect.gen(function*() {
        const s = yield* service
        for (const verb of verbs) expect(typeof s[verb], verb).toBe("function")
      }).pipe(Effect.provide(layer({}))))

    describe("decoding", () => {
      if (has("get")) {
        const title = nulls.nulled.length === 0
          ? "get: fields from newer servers are dropped"
          : `get: fields from newer servers are dropped, Go nulls accepted (${nulls.nulled.join(", ")})`
        it.effect(title, () =>
          Effect.gen(function*() {
            const a = yield* run({ item: withUnknown(sample) }, (s) => call(s, "get"))
            expect(a.exit).toStrictEqual(Exit.succeed(decode(sample)))
            const b = yield* run({ item: withUnknown(nulls.value) }, (s) => call(s, "get"))
            expect(b.exit).toStrictEqual(Exit.succeed(decode(nulls.value)))
            if (Exit.isSuccess(b.exit)) {
              const got = b.exit.value as Record<string, unknown>
              expect(got).not.toHaveProperty(UNKNOWN)
              for (const key of nulls.nulled.filter((k) => !k.includes("."))) {
                expect([null, [], {}], key).toContainEqual(got[key])
              }
            }
          }))
      }
      if (has("list")) {
        it.effect("list: each element decoded as get does; a Go null list is []", () =>
          Effect.gen(function*() {
            const a = yield* run({ list: [withUnknown(sample), withUnknown(nulls.value)] }, (s) => call(s, "list"))
            expect(a.exit).toStrictEqual(Exit.succeed([decode(sample), decode(nulls.value)]))
            const b = yield* run({ list: null }, (s) => call(s, "list"))
            expect(b.exit).toStrictEqual(Exit.succeed([]))
          }))
      }
      if (has("listNames")) {
        it.effect("listNames: names from URLs (percent-encoded, with ?project=); a Go null list is []", () =>
          Effect.gen(function*() {
            const names = [url(fixture.name), `${url(fixture.newName)}?project=${PROJECT}`]
            const a = yield* run({ names }, (s) => call(s, "listNames"))
            expect(a.exit).toStrictEqual(Exit.succeed([fixture.name, fixture.newName]))
            const b = yield* run({ names: null }, (s) => call(s, "listNames"))
            expect(b.exit).toStrictEqual(Exit.succeed([]))
          }))
      }
    })

    forVerbs(verbs, "a sync answer", (verb) =>
      Effect.gen(function*() {
        const { exit, requests } = yield* run({}, (s) => call(s, verb))
        expect(requests.map(line)).toEqual(expected(verb))
        const last = requests.at(-1)!
        switch (verb) {
          case "listNames":
            expect(last.query.recursion ?? "0").toBe("0")
            return expect(exit).toStrictEqual(Exit.succeed([fixture.name]))
          case "list":
            expect(last.query.recursion).toBe("1")
            return expect(exit).toStrictEqual(Exit.succeed([decode(sample)]))
          case "get":
            return expect(exit).toStrictEqual(Exit.succeed(decode(sample)))
          case "getWithEtag":
            return expect(exit).toStrictEqual(Exit.succeed({ value: decode(sample), etag: ETAG }))
          case "exists":
            return expect(exit).toStrictEqual(Exit.succeed(true))
          case "create":
            expect(last.body).toEqual(postSent)
            // the name LXD gave it (Location), not the one asked for
            return expect(exit).toStrictEqual(Exit.succeed(fixture.newName))
          case "replace":
          case "update":
            // merge: the patch (the sample's own values) merged into what the GET answered: the sample's writable part
            expect(last.body).toEqual(verb === "update" && spec.update === "patch" ? patch : writable)
            expect(last.headers["if-match"]).toBe(ETAG)
            break
          case "rename":
            expect(last.body).toEqual({ [spec.renameField]: fixture.newName })
            break
        }
        expect(exit).toStrictEqual(Exit.void)
      }))

    forVerbs(verbs, "error answers keep their tags", (verb) =>
      Effect.gen(function*() {
        const tags = [[400, "BadRequest"], [403, "Forbidden"], [404, "NotFound"], [500, "LxdApiError"]] as const
        for (const [status, tag] of tags) {
          const { exit } = yield* run({ answer: () => error(status, `HTTP ${status}`) }, (s) => call(s, verb))
          if (verb === "exists" && status === 404) expect(exit).toStrictEqual(Exit.succeed(false))
          else expect(tagOf(exit), `${status}`).toBe(tag)
        }
      }))

    forVerbs(["create", "rename"], "409 is Conflict", (verb) =>
      Effect.gen(function*() {
        const { exit } = yield* run(
          { answer: (r) => r.method === "POST" ? error(409, "already exists") : undefined },
          (s) => call(s, verb)
        )
        expect(tagOf(exit)).toBe("Conflict")
      }))

    forVerbs(
      ["replace", "update", "modify"],
      "412 is PreconditionFailed, the ETag sent as If-Match",
      (verb) =>
        Effect.gen(function*() {
          const { exit, requests } = yield* run(
            { answer: (r) => r.method === "PUT" || r.method === "PATCH" ? error(412, "ETag mismatch") : undefined },
            (s) => call(s, verb, { ...valid, etag: STALE })
          )
          expect(tagOf(exit)).toBe("PreconditionFailed")
          // modify sends the ETag of its own GET; a merging update the caller's
          const write = sent(requests, verb === "update" && spec.update === "patch" ? "PATCH" : "PUT")
          expect(write.headers["if-match"]).toBe(verb === "modify" ? ETAG : STALE)
        })
    )

    forVerbs(
      spec.update === "merge" ? ["modify", "update"] : ["modify"],
      "read, change, write: PUT with the GET's ETag, without read-only fields, with unknown ones",
      (verb) =>
        Effect.gen(function*() {
          const readOnlyInSample = spec.readOnly.filter((k) => k in sample)
          expect(readOnlyInSample.length, "the sample has read-only fields").toBeGreaterThan(0)
          let seen: unknown = undefined
          const modify = (current: unknown) => {
            seen = current
            return current
          }
          // update without the caller's ETag: the GET's
          const { exit, requests } = yield* run(
            { item: withUnknown(sample) },
            (s) => call(s, verb, { ...valid, modify, etag: undefined })
          )
          expect(exit).toStrictEqual(Exit.void)
          expect(requests.map(line)).toEqual(expected(verb))
          const put = sent(requests, "PUT")
          expect(put.headers["if-match"]).toBe(ETAG)
          const body = put.body as Record<string, unknown>
          for (const key of spec.readOnly) {
            expect(body, `read-only ${key}`).not.toHaveProperty(key)
            if (verb === "modify") expect(seen, `read-only ${key}`).not.toHaveProperty(key)
          }
          expect(body[UNKNOWN]).toEqual(unknownValue)
          for (const [key, value] of Object.entries(writable)) expect(body[key], key).toEqual(value)
        })
    )

    if (!spec.ifMatch && has("modify")) {
      it.effect("modify: LXD ignores If-Match here, so the ETag is read again before the PUT; changed: PreconditionFailed, no PUT", () =>
        Effect.gen(function*() {
          let reads = 0
          const { exit, requests } = yield* run({
            answer: (r) =>
              r.method === "GET" && r.path === itemPath(fixture.name)
                ? sync(sample, { etag: reads++ === 0 ? ETAG : STALE })
                : undefined
          }, (s) => call(s, "modify"))
          expect(failure(exit)).toMatchObject({ _tag: "PreconditionFailed", status: 412 })
          expect(requests.map(line).filter((l) => !l.startsWith("GET"))).toEqual([])
        }))
    }

    /** The client refuses, having asked nothing but `GET /1.0`. */
    const refusedWithout = (extension: string, f: (s: Loose) => Effect.Effect<unknown, LxdError.LxdError>) =>
      Effect.gen(function*() {
        const { exit, requests } = yield* run({ extensions: extensions.filter((e) => e !== extension) }, f)
        expect(failure(exit)).toMatchObject({ _tag: "APIExtensionNotAvailable", extension })
        expect(requests.map(line)).toEqual(["GET /1.0"])
      })

    if (spec.extension !== undefined) {
      const extension = spec.extension
      forVerbs(
        verbs,
        `without ${extension}: APIExtensionNotAvailable, nothing sent but GET /1.0`,
        (verb) => refusedWithout(extension, (s) => call(s, verb))
      )
    }

    describe("list options", () => {
      const options: ReadonlyArray<{
        readonly option: keyof LxdResource.ListOptions
        readonly needs: string | undefined
        readonly verbs: ReadonlyArray<Verb>
        readonly given: LxdResource.ListOptions
        readonly sent: string
        readonly check: (query: MockRequest["query"]) => void
      }> = [{
        option: "filter",
        needs: spec.filter,
        verbs: ["listNames", "list"],
        given: { filter: ["name eq x", "description eq y"] },
        sent: "expressions joined with and",
        check: (query) => expect(query.filter).toBe("name eq x and description eq y")
      }, {
        option: "allProjects",
        needs: spec.allProjects,
        verbs: ["list"],
        given: { allProjects: true },
        sent: "all-projects=true, and no project",
        check: (query) => {
          expect(query).toMatchObject({ "all-projects": "true", recursion: "1" })
          expect(query).not.toHaveProperty("project")
        }
      }]
      for (const { check, given, needs, option, sent, verbs } of options) {
        for (const verb of verbs.filter(has)) {
          const list = (s: Loose) => call(s, verb, valid, given)
          if (needs === undefined) {
            it.effect(`${verb}: ${option} is InvalidArgument, nothing sent`, () =>
              Effect.gen(function*() {
                const { exit, requests } = yield* run({}, list)
                expect(failure(exit)).toMatchObject({ _tag: "InvalidArgument", argument: option })
                expect(requests).toEqual([])
              }))
            continue
          }
          it.effect(`${verb}: ${option} needs ${needs}, nothing sent but GET /1.0`, () => refusedWithout(needs, list))
          it.effect(`${verb}: ${option}: ${sent}`, () =>
            Effect.gen(function*() {
              const { exit, requests } = yield* run({}, (s) => LxdClient.withProject(list(s), PROJECT))
              expect(Exit.isSuccess(exit)).toBe(true)
              check(requests.at(-1)!.query)
            }))
        }
      }
    })

    forVerbs(verbs, `withProject("${PROJECT}") reaches every request`, (verb) =>
      Effect.gen(function*() {
        const modes = writeVerbs.includes(verb) ? (["sync", "async"] as const) : (["sync"] as const)
        for (const writes of modes) {
          const { exit, requests } = yield* run({ writes }, (s) => LxdClient.withProject(call(s, verb), PROJECT))
          expect(Exit.isSuccess(exit), writes).toBe(true)
          expect(requests.length).toBeGreaterThan(0)
          // but GET /1.0: the server's extensions, cached once for every project
          for (const r of requests.filter((x) => x.path !== "")) {
            expect(r.query.project, `${writes}: ${r.method} ${r.url}`).toBe(PROJECT)
          }
        }
      }))

    describe("a bad name is InvalidArgument with nothing sent", () => {
      const refused = (title: string, verb: Verb, n: Names, value: string, options?: LxdResource.ListOptions) =>
        it.effect(title, () =>
          Effect.gen(function*() {
            const { exit, requests } = yield* run({}, (s) => call(s, verb, n, options))
            expect(failure(exit)).toMatchObject({ _tag: "InvalidArgument", value })
            expect(requests).toEqual([])
          }))
      for (const verb of namedVerbs.filter(has)) {
        refused(`${verb}: the ${spec.kind} name`, verb, { ...valid, name: fixture.invalidName }, fixture.invalidName)
      }
      if (has("rename")) {
        refused(
          "rename: the new name",
          "rename",
          { ...valid, newName: fixture.invalidName },
          fixture.invalidName
        )
      }
      if (has("create") && postNamed) {
        refused(
          `create: the body's ${spec.nameField}`,
          "create",
          { ...valid, name: fixture.invalidName },
          fixture.invalidName
        )
      }
      spec.parents.forEach((kind, i) => {
        const bad = invalidParents[i]!
        const ps = parents.map((p, j) => (j === i ? bad : p))
        for (const verb of verbs) refused(`${verb}: parent ${i} (${kind})`, verb, { ...valid, parents: ps }, bad)
        // and with the options whose extensions would be checked (GET /1.0) if the names were not checked first
        const options = {
          ...(spec.filter === undefined ? {} : { filter: "name eq x" }),
          ...(spec.allProjects === undefined ? {} : { allProjects: true })
        }
        if (Object.keys(options).length === 0) return
        for (const verb of (["listNames", "list"] as const).filter(has)) {
          const given = verb === "list" ? options : { filter: options.filter }
          refused(
            `${verb} ${JSON.stringify(given)}: parent ${i} (${kind})`,
            verb,
            { ...valid, parents: ps },
            bad,
            given
          )
        }
      })
    })

    forVerbs(writeVerbs, "a write answered with an operation is waited on", (verb) =>
      Effect.gen(function*() {
        const { exit, requests } = yield* run({ writes: "async" }, (s) => call(s, verb))
        expect(requests.map(line)).toEqual([...expected(verb), `GET /1.0/operations/${OP}/wait`])
        // create: the name from the operation's resources
        expect(exit).toStrictEqual(verb === "create" ? Exit.succeed(fixture.newName) : Exit.void)
      }))

    forVerbs(writeVerbs, "a write whose operation fails is OperationFailed", (verb) =>
      Effect.gen(function*() {
        const { exit } = yield* run({ writes: "async", operation: "failure" }, (s) => call(s, verb))
        expect(failure(exit)).toMatchObject({ _tag: "OperationFailed", operationId: OP })
      }))

    forVerbs(writeVerbs, "a write interrupted while its operation runs cancels it", (verb) =>
      Effect.gen(function*() {
        const s = yield* service
        const fiber = yield* Effect.fork(call(s, verb))
        yield* TestClock.adjust("1 second") // let it reach /wait
        yield* Fiber.interrupt(fiber)
        const requests = yield* recorded
        expect(requests.map(line)).toContain(`GET /1.0/operations/${OP}/wait`)
        expect(requests.map(line).at(-1)).toBe(`DELETE /1.0/operations/${OP}`)
      }).pipe(Effect.provide(layer({ writes: "async", operation: "never" }))))
  })
}

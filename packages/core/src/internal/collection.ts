/**
 * `make(client, spec)`: the one implementation of a collection's verbs. Every decision a collection needs is
 * taken here, once: `null` lists, names from URLs, filter and all-projects gating, name validation before any
 * request, the one sync-or-async write path, read-only fields never sent back, spans per verb.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Take from "effect/Take"
import type { LxdClient, Request, WriteResult } from "../LxdClient.js"
import { InvalidArgument, type LxdError, PreconditionFailed } from "../LxdError.js"
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
  partPath(client, spec, options, args).pipe(
    Effect.flatMap((path) => client.sync(options.schema, { method: "GET", path })),
    Effect.map((r) => r.metadata),
    Effect.withSpan(`${spec.name}.${options.verb}`)
  )

/**
 * A part of an object that LXD answers as plain text, not an envelope (`GET {path}/{name}{suffix}`: an ACL's
 * `/log`), as {@link readPart} reads a JSON one.
 *
 * @internal
 */
export const readTextPart = <S extends AnySpec>(
  client: LxdClient.Service,
  spec: S,
  options: { readonly verb: string; readonly suffix: string; readonly extension?: string | undefined }
) =>
(...args: ReadonlyArray<string>): Effect.Effect<string, LxdError> =>
  partPath(client, spec, options, args).pipe(
    Effect.flatMap((path) => client.requestText({ method: "GET", path })),
    Effect.withSpan(`${spec.name}.${options.verb}`)
  )

/** The path of a part: names first (nothing sent for a bad one), then the collection's and the part's extension. */
const partPath = (
  client: LxdClient.Service,
  spec: AnySpec,
  options: { readonly suffix: string; readonly extension?: string | undefined },
  args: ReadonlyArray<string>
): Effect.Effect<string, LxdError> => {
  const depth = spec.parents.length
  const path = objectPath(client, spec, args.slice(0, depth), args[depth], options.suffix)
  return options.extension === undefined ? path : Effect.tap(path, () => client.requireExtension(options.extension!))
}

/** The writable part of an object as LXD has it now (read-only fields left out, unknown ones kept), and its ETag. */
const writablePart = (client: LxdClient.Service, spec: AnySpec, path: string) =>
  Effect.gen(function*() {
    const current = yield* client.request({ method: "GET", path })
    const raw: Record<string, unknown> = isRecord(current.metadata) ? { ...current.metadata } : {}
    for (const key of spec.readOnly) delete raw[key]
    const put = yield* Effect.mapError(
      Schema.decodeUnknown(spec.put, { onExcessProperty: "preserve" })(raw),
      (cause) => parseFailure({ method: "GET", path }, `the writable part does not match ${spec.name}`, cause)
    )
    return { put: put as unknown, etag: current.etag }
  })

/**
 * For a server that ignores `If-Match`: the object's `ETag` read again, and `PreconditionFailed` (made here, with
 * LXD's 412) when it is no longer the one the change was made from.
 */
const recheckEtag = (client: LxdClient.Service, path: string, etag: string | undefined) =>
  Effect.flatMap(client.request({ method: "GET", path }), (now) =>
    now.etag === etag ? Effect.void : Effect.fail(
      new PreconditionFailed({
        method: "PUT",
        path: `/1.0${path}`,
        status: 412,
        errorCode: 412,
        message: `ETag doesn't match: ${now.etag ?? "none"} vs ${
          etag ?? "none"
        } (checked by the client: the server ignores If-Match here)`
      })
    ))

/**
 * Read, change, write back, with a change that may fail or decide there is nothing to write: `GET` → `change`
 * (the writable part, read-only fields left out, unknown ones kept) → `PUT` with the `ETag` of the `GET`, unless
 * `change` answers `undefined`. Whether it wrote. What `modify` is, and what a helper that edits one element of
 * a list (a forward's port) builds on; the span is the caller's.
 *
 * @internal
 */
export const modifyWith = <S extends AnySpec>(
  client: LxdClient.Service,
  spec: S,
  parents: ReadonlyArray<unknown>,
  name: unknown,
  change: (current: Schema.Schema.Type<S["put"]>) => Effect.Effect<unknown, LxdError>
): Effect.Effect<boolean, LxdError> =>
  Effect.gen(function*() {
    const path = yield* objectPath(client, spec, parents, name)
    const current = yield* writablePart(client, spec, path)
    const body = yield* change(current.put as Schema.Schema.Type<S["put"]>)
    if (body === undefined) return false
    if (!spec.ifMatch) yield* recheckEtag(client, path, current.etag)
    yield* client.write({ method: "PUT", path, body, etag: current.etag })
    return true
  })

/**
 * A part of an object that is a raw body read as it arrives (`GET {path}/{name}{suffix}`: a backup's `/export`),
 * as a method taking the parents' names and the object's: the stream holds the bytes, memory stays bounded by
 * the transport's buffers. Span `${spec.name}.${verb}`.
 *
 * @internal
 */
export const downloadPart = <S extends AnySpec>(
  client: LxdClient.Service,
  spec: S,
  options: { readonly verb: string; readonly suffix: string }
) =>
(...args: ReadonlyArray<string>): Stream.Stream<Uint8Array, LxdError> =>
  Stream.unwrap(Effect.gen(function*() {
    const depth = spec.parents.length
    const path = yield* objectPath(client, spec, args.slice(0, depth), args[depth], options.suffix)
    return downloadStream(client, { method: "GET", path })
  })).pipe(Stream.withSpan(`${spec.name}.${options.verb}`))

/** How many chunks a {@link downloadStream} reads ahead of its consumer. */
const READ_AHEAD = 2
/** A chunk of a reused buffer copied out (`set`: no zero-filled intermediate, as `new Uint8Array(view)` may be). */
const copyOut = (chunk: Uint8Array): Uint8Array => {
  const copy = new Uint8Array(chunk.length)
  copy.set(chunk)
  return copy
}

/**
 * A `GET`'s body (status 200) as a stream, through the transport's reused-buffer download when it has one: each
 * chunk (128 KiB to 1 MiB, as the transport gathers them) is copied once out of the reused buffer, so the
 * consumer may keep it; at most {@link READ_AHEAD} chunks wait for the consumer (reading pauses meanwhile).
 * Without that path, or for an answer it refuses (an error, a body without `Content-Length`), the body is read
 * as `requestRaw` streams it, and an error answer fails the stream as `requestRaw` says. Ending the stream early
 * closes the connection. Memory: the copies are fresh, so the garbage V8 lets pile up before it collects them
 * (about 60 MiB measured) is on top; the callback variants ({@link downloadPartTo}) stay within the reused buffers.
 *
 * @internal
 */
export const downloadStream = (client: LxdClient.Service, request: Request): Stream.Stream<Uint8Array, LxdError> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    const queue = yield* Effect.acquireRelease(
      Queue.bounded<Take.Take<Uint8Array, LxdError>>(READ_AHEAD),
      Queue.shutdown
    )
    const offer = (chunk: Uint8Array) => Queue.offer(queue, Take.of(chunk))
    const asked = Effect.scoped(Effect.flatMap(
      client.requestRaw(request),
      (response) => Stream.runForEach(Stream.mapError(response.stream, client.connectionFailed(request)), offer)
    ))
    yield* client.download(request, (status) => status === 200, (chunk) => offer(copyOut(chunk))).pipe(
      Effect.flatMap((done) => done._tag === "Some" ? Effect.void : asked),
      Effect.exit,
      Effect.flatMap((exit) => Queue.offer(queue, exit._tag === "Success" ? Take.end : Take.failCause(exit.cause))),
      Effect.forkScoped
    )
    return Stream.flattenTake(Stream.fromQueue(queue))
  }))

/**
 * {@link downloadPart} into a callback: through the transport's reused-buffer download when it has one (no
 * allocation per chunk; `write` must be done with a chunk before it returns, the buffer is reused), else the
 * stream's chunks. As a method taking the parents' names, the object's, then `write`.
 *
 * @internal
 */
export const downloadPartTo = <S extends AnySpec>(
  client: LxdClient.Service,
  spec: S,
  options: { readonly verb: string; readonly suffix: string }
) =>
<E>(...args: [...ReadonlyArray<string>, (chunk: Uint8Array) => Effect.Effect<void, E>]): Effect.Effect<
  void,
  LxdError | E
> =>
  Effect.gen(function*() {
    const depth = spec.parents.length
    const write = args[args.length - 1] as (chunk: Uint8Array) => Effect.Effect<void, E>
    const names = args.slice(0, -1) as ReadonlyArray<string>
    const path = yield* objectPath(client, spec, names.slice(0, depth), names[depth], options.suffix)
    const request: Request = { method: "GET", path }
    const done = yield* client.download(request, (status) => status === 200, write)
    if (done._tag === "Some") return
    const response = yield* client.requestRaw(request)
    yield* Stream.runForEach(Stream.mapError(response.stream, client.connectionFailed(request)), write)
  }).pipe(Effect.withSpan(`${spec.name}.${options.verb}`))

/**
 * The URLs of a `recursion=0` list that name the collection's own objects: with `listQuirk: "snapshots"`, those
 * directly below its path (not `…/v1/snapshots/snap0`).
 *
 * @internal
 */
export const ownUrls = (spec: AnySpec, path: string, urls: ReadonlyArray<string>): ReadonlyArray<string> => {
  if (spec.listQuirk !== "snapshots") return urls
  const below = `/1.0${path}/`
  return urls.filter((url) => {
    const p = url.split("?")[0]!
    return !p.startsWith(below) || !p.slice(below.length).includes("/")
  })
}

/**
 * The items of a `recursion=1` list as `GET` shows them: with `listQuirk: "snapshots"` the snapshots (named
 * `v1/snap0`) left out; with `"parentPrefix"` the `v1/` of each name cut.
 *
 * @internal
 */
export const ownItems = <A>(spec: AnySpec, items: ReadonlyArray<A>): ReadonlyArray<A> => {
  if (spec.listQuirk === undefined) return items
  const nameOf = (item: A): unknown => (isRecord(item) ? item[spec.nameField] : undefined)
  if (spec.listQuirk === "snapshots") {
    return items.filter((item) => {
      const name = nameOf(item)
      return typeof name !== "string" || !name.includes("/")
    })
  }
  return items.map((item) => {
    const name = nameOf(item)
    if (typeof name !== "string" || !name.includes("/")) return item
    return { ...(item as Record<string, unknown>), [spec.nameField]: name.slice(name.lastIndexOf("/") + 1) } as A
  })
}

/** Whether a decoded name still holds a percent escape (`%C3`): see `listNames`. */
const hasEscape = (name: string): boolean => /%[0-9A-Fa-f]{2}/.test(name)

/**
 * The collection service a spec describes, over an engine.
 *
 * @internal
 */
export const make = <S extends AnySpec>(client: LxdClient.Service, spec: S): LxdResource.CollectionOf<S> => {
  const depth = spec.parents.length
  const ItemList = Schema.NullOr(Schema.Array(spec.item))
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

  const readWritable = (path: string) => writablePart(client, spec, path)

  const write = client.write
  /** The last literal segment of the path (`backups`): the key of the operation's resources LXD may use. */
  const segment = spec.path.split("/").filter((s) => s !== "" && !s.startsWith("{")).pop() ?? ""
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
    // LXD names some new objects under their own kind, not below the collection (a volume backup's operation
    // has `backups: ["/1.0/backups/backup0"]`)
    const own = result.operation?.resources[segment]?.[0]
    const ownName = own === undefined ? undefined : Path.lastSegment(own.split("?")[0]!)
    if (ownName !== undefined) return ownName
    return bad === undefined ? undefined : { bad }
  }

  const service: LxdResource.Collection<ReadonlyArray<string>, unknown, unknown, unknown> = {
    listNames: (...args) => {
      const [parents, [options]] = split(args)
      return Effect.gen(function*() {
        const { path, query } = yield* listRequest(parents, options as LxdResource.ListOptions | undefined, undefined)
        const r = yield* client.sync(NameList, { method: "GET", path, query })
        const names = yield* namesFromUrls({ method: "GET", path }, ownUrls(spec, path, r.metadata ?? []))
        if (!names.some(hasEscape)) return names
        // LXD before 5.19 (5.0.2 among them) encodes a name in these URLs twice (`café` is `caf%25C3%25A9`),
        // later ones once: a name that still holds an escape is ambiguous, so the names come from the objects
        const again = yield* listRequest(parents, options as LxdResource.ListOptions | undefined, "1")
        const items = yield* client.sync(ItemList, { method: "GET", path: again.path, query: again.query })
        return ownItems(spec, items.metadata ?? []).map((item) =>
          String((item as Record<string, unknown>)[spec.nameField])
        )
      }).pipe(Effect.withSpan(span("listNames")))
    },
    list: (...args) => {
      const [parents, [options]] = split(args)
      return Effect.gen(function*() {
        const { path, query } = yield* listRequest(parents, options as LxdResource.ListOptions | undefined, "1")
        const r = yield* client.sync(ItemList, { method: "GET", path, query })
        return ownItems(spec, r.metadata ?? [])
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
      const change = (current: unknown) => Effect.succeed((f as (current: unknown) => unknown)(current))
      return modifyWith(client, spec, parents, name, change).pipe(Effect.asVoid, Effect.withSpan(span("modify")))
    },
    rename: (...args) => {
      const [parents, [name, newName]] = split(args)
      return Effect.gen(function*() {
        yield* Path.validate(spec.kind, newName) // before the path's extension check, as in create
        const path = yield* itemPath(parents, name)
        yield* write({ method: "POST", path, body: { [spec.renameField]: newName } })
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

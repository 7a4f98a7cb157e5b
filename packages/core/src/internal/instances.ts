/**
 * The instances service, shared by `Instances`, `Containers` and `VirtualMachines`: one factory parameterised by
 * the instance type it sees.
 *
 * Schemas come from `../InstanceSchema.js`; `../Instances.js` (which imports this module) only for types.
 *
 * @internal
 */
import * as HttpBody from "@effect/platform/HttpBody"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Events from "../Events.js"
import type { Images } from "../Images.js"
import type * as I from "../Instances.js"
import {
  backupsSpec,
  ImageMetadata,
  Instance,
  instanceActions,
  InstanceFull,
  InstancePut,
  instancesSpec,
  InstanceState,
  snapshotsSpec
} from "../InstanceSchema.js"
import { LxdClient, type OperationOptions, type Request } from "../LxdClient.js"
import { ClientConnectionFailed, InvalidArgument, LxdApiError, type LxdError, OperationTimeout } from "../LxdError.js"
import { type Operation, StatusCode } from "../LxdSchema.js"
import { withStreamBody } from "./body.js"
import { parseFailure, protocolError, statusError } from "./client.js"
import * as Collection from "./collection.js"
import * as Console from "./console.js"
import * as Op from "./operation.js"
import * as Path from "./path.js"

/** @internal */
export interface Flavour {
  /** The only instance type this service sees; `undefined` for all. */
  readonly type: "container" | "virtual-machine" | undefined
  /** Span prefix (`Instances`, `Containers`, `VirtualMachines`). */
  readonly span: string
  /** The images service (`Images.make`), for the `Image` a publish returns. */
  readonly images: Effect.Effect<Pick<Images.Service, "get">, never, LxdClient>
}

/**
 * Fields of a GET that a PUT must not send back (read-only, another endpoint's, or a command: `restore`).
 *
 * @internal
 */
export const readOnlyFields: ReadonlyArray<string> = [
  "name",
  "status",
  "status_code",
  "created_at",
  "last_used_at",
  "location",
  "project",
  "type",
  "expanded_config",
  "expanded_devices",
  "state",
  "snapshots",
  "backups",
  ...instanceActions
]

/** @internal */
export const stripReadOnly = <A extends object>(value: A): A => {
  const out: Record<string, unknown> = { ...(value as Record<string, unknown>) }
  for (const key of readOnlyFields) delete out[key]
  return out as A
}

/**
 * An `expires_at`-style input as RFC 3339.
 *
 * @internal
 */
export const toTime = (input: I.TimeInput | undefined): Effect.Effect<string | undefined, InvalidArgument> =>
  input === undefined
    ? Effect.succeed(undefined)
    : typeof input === "string"
    ? Effect.succeed(input)
    : input instanceof Date
    ? (Number.isNaN(input.getTime())
      ? Effect.fail(new InvalidArgument({ argument: "expires_at", value: String(input), reason: "not a valid date" }))
      : Effect.succeed(input.toISOString()))
    : Effect.succeed(DateTime.formatIso(input))

/**
 * The first resource URL of a kind in an operation (`resources.instances[0]` of a create), as a name.
 *
 * @internal
 */
export const resourceName = (op: Operation, kind: string, contains?: string): string | undefined => {
  const urls = op.resources[kind] ?? []
  const url = contains === undefined ? urls[0] : urls.find((u) => u.includes(contains))
  // a URL that is not properly percent-encoded names nothing: the caller falls back or fails
  return url === undefined ? undefined : Path.lastSegment(url)
}

const stripQuery = (url: string): string => {
  const q = url.indexOf("?")
  return q === -1 ? url : url.slice(0, q)
}

const NameList = Schema.NullOr(Schema.Array(Schema.String))
const DescriptionOnly = Schema.Struct({ description: Schema.optionalWith(Schema.String, { default: () => "" }) })
const TypeOnly = Schema.Struct({ type: Schema.optionalWith(Schema.String, { default: () => "container" }) })
const Fingerprint = Schema.Struct({ fingerprint: Schema.String })

/** A snapshot body as it is sent: `expires_at` an RFC 3339 string. */
type OnWire<B> = Omit<B, "expires_at"> & { readonly expires_at: string }

const unquote = (etag: string): string => etag.replace(/^W\//, "").replace(/^"|"$/g, "")

const isAlreadyStopped = (e: LxdError): boolean =>
  (e._tag === "OperationFailed" || e._tag === "BadRequest") && /already stopped/i.test(e.message)

/**
 * Builds the service for one flavour.
 *
 * @internal
 */
export const make = (flavour: Flavour): Effect.Effect<I.Instances.Service, never, LxdClient> =>
  Effect.gen(function*() {
    const client = yield* LxdClient
    const events = yield* Events.make
    const images = yield* flavour.images
    const span = (method: string) => `${flavour.span}.${method}`
    const type = flavour.type

    const InstanceList = Schema.NullOr(Schema.Array(Instance))
    const InstanceFullList = Schema.NullOr(Schema.Array(InstanceFull))
    const decodePut = Schema.decodeUnknown(InstancePut, { onExcessProperty: "preserve" })

    // The collection shape serves `rename` and the `DELETE` only. The reads stay hand-written: the flavour sends
    // `instance-type` with every list and reports an instance of another type as not found, which the shape's
    // verbs cannot; `create` deletes what an interrupted create left behind; `replace` drops read-only fields;
    // `update` keeps the description 5.0.2 would reset; `modify` checks the type; `delete` may force-stop first.
    const instanceCollection = Collection.make(client, { ...instancesSpec, name: flavour.span })

    const instancePath = (name: string, ...rest: ReadonlyArray<string | readonly [Path.NameKind, unknown]>) =>
      Path.build("/instances/", ["instance", name], ...rest)

    /** The flavour sees only its type: another type is reported as not found. */
    const checkType = (name: string, path: string, actual: string): Effect.Effect<void, LxdError> =>
      type === undefined || actual === type
        ? Effect.void
        : Effect.fail(statusError({ method: "GET", path }, 404, `Instance "${name}" is a ${actual}, not a ${type}`))

    // the engine protects the start of an operation from interruption (internal/operation.ts `submit`)
    const submit = (request: Request, options?: OperationOptions) => client.operation(request, options)
    const run = (request: Request): Effect.Effect<Operation, LxdError> => client.run(request)
    const runVoid = (request: Request) => Effect.asVoid(run(request))

    const textOf = (request: Request, response: HttpClientResponse.HttpClientResponse) =>
      Effect.mapError(response.text, client.connectionFailed(request))

    const getText = (request: Request) =>
      Effect.flatMap(client.requestRaw(request), (response) => textOf(request, response))

    // -- read ------------------------------------------------------------------------------------------------

    const listQuery = (recursion: string, filter: I.ListOptions["filter"], allProjects: boolean) =>
      Effect.gen(function*() {
        const f = Collection.filterValue(filter)
        if (f !== undefined) yield* client.requireExtension("api_filtering")
        if (allProjects) yield* client.requireExtension("instance_all_projects")
        return {
          recursion,
          // Not in the 5.0.2 spec, but 5.0.2 honours it (and refuses an unknown type); the Go client sends it.
          "instance-type": type,
          filter: f,
          "all-projects": allProjects ? "true" : undefined
        }
      })

    const ofType = <A extends { readonly type: string }>(items: ReadonlyArray<A> | null): ReadonlyArray<A> =>
      items === null ? [] : type === undefined ? items : items.filter((i) => i.type === type)

    const listUrls = (filter: I.ListOptions["filter"], allProjects: boolean) =>
      listQuery("0", filter, allProjects).pipe(
        Effect.flatMap((query) => client.sync(NameList, { method: "GET", path: "/instances", query })),
        Effect.map((r) => r.metadata ?? [])
      )

    const listNames: I.Instances.Service["listNames"] = (options) =>
      listUrls(options?.filter, false).pipe(
        Effect.flatMap((urls) => Path.namesFromUrls({ method: "GET", path: "/instances" }, urls)),
        Effect.withSpan(span("listNames"))
      )

    const listNamesAllProjects: I.Instances.Service["listNamesAllProjects"] = (options) =>
      listUrls(options?.filter, true).pipe(
        Effect.flatMap((urls) =>
          Effect.map(Path.namesFromUrls({ method: "GET", path: "/instances" }, urls), (names) => {
            const out: Record<string, Array<string>> = {}
            urls.forEach((url, i) => {
              const project = Path.splitUrl(url).query["project"] ?? "default"
              ;(out[project] ??= []).push(names[i]!)
            })
            return out
          })
        ),
        Effect.withSpan(span("listNamesAllProjects"))
      )

    const list: I.Instances.Service["list"] = (options) =>
      listQuery("1", options?.filter, options?.allProjects === true).pipe(
        Effect.flatMap((query) => client.sync(InstanceList, { method: "GET", path: "/instances", query })),
        Effect.map((r) => ofType(r.metadata)),
        Effect.withSpan(span("list"))
      )

    const listFull: I.Instances.Service["listFull"] = (options) =>
      listQuery("2", options?.filter, options?.allProjects === true).pipe(
        Effect.flatMap((query) => client.sync(InstanceFullList, { method: "GET", path: "/instances", query })),
        Effect.map((r) => ofType(r.metadata)),
        Effect.withSpan(span("listFull"))
      )

    const getWithEtag: I.Instances.Service["getWithEtag"] = (name) =>
      Effect.gen(function*() {
        const path = yield* instancePath(name)
        const r = yield* client.sync(Instance, { method: "GET", path })
        yield* checkType(name, path, r.metadata.type)
        return { value: r.metadata, etag: r.etag }
      }).pipe(Effect.withSpan(span("get")))

    const get: I.Instances.Service["get"] = (name) => Effect.map(getWithEtag(name), (r) => r.value)

    const getFull: I.Instances.Service["getFull"] = (name) =>
      Effect.gen(function*() {
        const path = yield* instancePath(name)
        yield* client.requireExtension("instance_get_full")
        const r = yield* client.sync(InstanceFull, { method: "GET", path, query: { recursion: "1" } })
        yield* checkType(name, path, r.metadata.type)
        return r.metadata
      }).pipe(Effect.withSpan(span("getFull")))

    const exists: I.Instances.Service["exists"] = (name) =>
      get(name).pipe(
        Effect.as(true),
        Effect.catchTag("NotFound", () => Effect.succeed(false)),
        Effect.withSpan(span("exists"))
      )

    const state: I.Instances.Service["state"] = (name) =>
      Effect.gen(function*() {
        const path = yield* instancePath(name, "/state")
        return (yield* client.sync(InstanceState, { method: "GET", path })).metadata
      }).pipe(Effect.withSpan(span("state")))

    // -- state -----------------------------------------------------------------------------------------------

    const setState: I.Instances.Service["setState"] = (name, body) =>
      instancePath(name, "/state").pipe(
        Effect.flatMap((path) => runVoid({ method: "PUT", path, body })),
        Effect.withSpan(span("setState"), { attributes: { action: body.action } })
      )

    const forceStop = (name: string) =>
      setState(name, { action: "stop", force: true }).pipe(Effect.catchIf(isAlreadyStopped, () => Effect.void))

    const setStateMany: I.Instances.Service["setStateMany"] = (body) =>
      client.requireExtension("instance_bulk_state_change").pipe(
        Effect.zipRight(runVoid({
          method: "PUT",
          path: "/instances",
          query: { "instance-type": type },
          body: { state: body }
        })),
        Effect.withSpan(span("setStateMany"), { attributes: { action: body.action } })
      )

    const waitForStatus: I.Instances.Service["waitForStatus"] = (name, status, options) => {
      const wanted: ReadonlyArray<string> = typeof status === "string" ? [status] : status
      const program = Effect.scoped(Effect.gen(function*() {
        const source = `/1.0${yield* instancePath(name)}`
        // subscribe first, so no change between the read below and the first event is missed; sliding: every
        // event only triggers a fresh read, so older ones may be dropped
        const stream = yield* events.subscribe({ types: ["lifecycle"], bufferSize: 64, overflow: "sliding" })
        const check = Effect.map(state(name), (s) => wanted.includes(s.status) ? Option.some(s) : Option.none())
        const now = yield* check
        if (Option.isSome(now)) return now.value
        const found = yield* Events.lifecycle(stream).pipe(
          Stream.filter((e) => e.metadata.action.startsWith("instance-") && stripQuery(e.metadata.source) === source),
          Stream.mapEffect(() => check),
          Stream.filterMap((o) => o),
          Stream.runHead
        )
        if (Option.isSome(found)) return found.value
        const last = yield* check
        if (Option.isSome(last)) return last.value
        return yield* new ClientConnectionFailed({
          method: "GET",
          path: "/1.0/events",
          endpoint: client.endpoint,
          reason: "the events stream ended while waiting for the instance status"
        })
      }))
      const timed = options?.timeout === undefined ? program : program.pipe(
        Effect.timeoutFail({
          duration: options.timeout,
          onTimeout: () =>
            new OperationTimeout({
              operationId: "",
              timeoutMillis: Duration.toMillis(Duration.decode(options.timeout!))
            })
        })
      )
      return Effect.withSpan(timed, span("waitForStatus"))
    }

    // -- create ----------------------------------------------------------------------------------------------

    const validateCopySource = (source: string) => {
      const slash = source.indexOf("/")
      return slash === -1
        ? Path.validate("instance", source)
        : Effect.zipRight(
          Path.validate("instance", source.slice(0, slash)),
          Path.validate("snapshot", source.slice(slash + 1))
        )
    }

    const createRequest = (request: I.InstancesPost, options: I.CreateOptions | undefined) =>
      Effect.gen(function*() {
        if (request.name !== undefined) yield* Path.validate("instance", request.name)
        if (request.source.type === "copy") yield* validateCopySource(request.source.source)
        const profiles = request.profiles ?? (request.source.type === "copy" ? ["default"] : undefined)
        const body = {
          ...request,
          ...(profiles === undefined ? {} : { profiles }),
          ...(type === undefined ? {} : { type })
        }
        const req: Request = {
          method: "POST",
          path: "/instances",
          body,
          query: options?.target === undefined ? undefined : { target: options.target }
        }
        return req
      })

    const createdName = (op: Operation): string | undefined =>
      resourceName(op, "instances") ?? resourceName(op, "containers") ?? resourceName(op, "virtual-machines")

    /** Deletes what an interrupted create left behind (after the engine drained the operation). */
    const compensate = (name: string) => Effect.ignore(Op.bounded(deleteInstance(name, { force: true }), "30 seconds"))

    const runCreate = (request: Request, fallbackName: string | undefined, options: I.CreateOptions | undefined) =>
      Effect.suspend(() => {
        let created: string | undefined
        return Effect.uninterruptibleMask((restore) =>
          Effect.scoped(Effect.gen(function*() {
            const handle = yield* submit(request, options)
            created = createdName(handle.initial) ?? fallbackName
            const final = yield* restore(handle.wait())
            const name = createdName(final) ?? created
            if (name === undefined) {
              return yield* protocolError(
                { method: request.method, path: request.path },
                "the operation does not name the instance it created"
              )
            }
            return name
          }))
        ).pipe(Effect.onInterrupt(() => created === undefined ? Effect.void : compensate(created)))
      })

    const create: I.Instances.Service["create"] = (request, options) =>
      createRequest(request, options).pipe(
        Effect.flatMap((req) => runCreate(req, request.name, options)),
        Effect.withSpan(span("create"), { attributes: { source: request.source.type } })
      )

    const createOperation: I.Instances.Service["createOperation"] = (request, options) =>
      createRequest(request, options).pipe(
        Effect.flatMap((req) => submit(req, options)),
        Effect.withSpan(span("createOperation"))
      )

    const copy: I.Instances.Service["copy"] = (source, name, options = {}) => {
      const { instanceOnly, target, ...rest } = options
      return create(
        {
          ...rest,
          name,
          source: { type: "copy", source, ...(instanceOnly === undefined ? {} : { instance_only: instanceOnly }) }
        },
        { target }
      )
    }

    const createFromBackup: I.Instances.Service["createFromBackup"] = <E>(
      tarball: Stream.Stream<Uint8Array, E>,
      options?: I.ImportOptions
    ) =>
      Effect.gen(function*() {
        if (options?.name !== undefined) yield* Path.validate("instance", options.name)
        if (options?.pool !== undefined) yield* Path.validate("storage pool", options.pool)
        const headers: Record<string, string> = {}
        if (options?.name !== undefined) headers["X-LXD-name"] = options.name
        if (options?.pool !== undefined) headers["X-LXD-pool"] = options.pool
        // the tarball runs inside the transport: its own failure is re-raised as it was
        return yield* withStreamBody(
          tarball,
          "application/octet-stream",
          undefined,
          (rawBody) => runCreate({ method: "POST", path: "/instances", rawBody, headers }, options?.name, undefined)
        )
      }).pipe(Effect.withSpan(span("createFromBackup")))

    // -- change ----------------------------------------------------------------------------------------------

    const replace: I.Instances.Service["replace"] = (name, body, options) =>
      instancePath(name).pipe(
        Effect.flatMap((path) => runVoid({ method: "PUT", path, body: stripReadOnly(body), etag: options?.etag })),
        Effect.withSpan(span("replace"))
      )

    const update: I.Instances.Service["update"] = (name, patch, options) =>
      Effect.gen(function*() {
        const path = yield* instancePath(name)
        // 5.0.2 resets the description when a PATCH leaves it out
        const description = patch.description ??
          (yield* client.sync(DescriptionOnly, { method: "GET", path })).metadata.description
        yield* runVoid({ method: "PATCH", path, body: { ...patch, description }, etag: options?.etag })
      }).pipe(Effect.withSpan(span("update")))

    const modify: I.Instances.Service["modify"] = (name, f) =>
      Effect.gen(function*() {
        const path = yield* instancePath(name)
        const response = yield* client.request({ method: "GET", path })
        const current = yield* decodePut(response.metadata).pipe(
          Effect.mapError((cause) =>
            parseFailure({ method: "GET", path }, "metadata does not match InstancePut", cause)
          )
        )
        const actual = Schema.decodeUnknownOption(TypeOnly)(response.metadata)
        if (Option.isSome(actual)) yield* checkType(name, path, actual.value.type)
        const next = f(stripReadOnly(current))
        yield* runVoid({ method: "PUT", path, body: stripReadOnly(next), etag: response.etag })
      }).pipe(Effect.withSpan(span("modify")))

    const rename: I.Instances.Service["rename"] = instanceCollection.rename

    const move: I.Instances.Service["move"] = (name, options) =>
      Effect.gen(function*() {
        const path = yield* instancePath(name)
        if (options.newName !== undefined) yield* Path.validate("instance", options.newName)
        const { pool, project, target } = options
        if ([pool, project, target].filter((x) => x !== undefined).length !== 1) {
          // 5.0.2 given pool and project moves the pool and silently ignores the project; given none of them,
          // starts a migration for another server
          return yield* new InvalidArgument({
            argument: "options",
            value: { pool, project, target },
            reason: "a move inside one server takes exactly one of pool, project and target"
          })
        }
        if (pool !== undefined) yield* Path.validate("storage pool", pool)
        if (project !== undefined) yield* Path.validate("project", project)
        if (target !== undefined) yield* Path.validate("cluster member", target)
        yield* client.requireExtension(
          pool !== undefined ? "instance_pool_move" : project !== undefined ? "instance_project_move" : "clustering"
        )
        yield* runVoid({
          method: "POST",
          path,
          query: target === undefined ? undefined : { target },
          body: {
            migration: true,
            ...(options.newName === undefined ? {} : { name: options.newName }),
            ...(pool === undefined ? {} : { pool }),
            ...(project === undefined ? {} : { project }),
            ...(options.live === undefined ? {} : { live: options.live })
          }
        })
      }).pipe(Effect.withSpan(span("move"), {
        attributes: { to: options.pool !== undefined ? "pool" : options.project !== undefined ? "project" : "member" }
      }))

    const deleteInstance: I.Instances.Service["delete"] = (name, options) =>
      Effect.gen(function*() {
        yield* instancePath(name) // the name is checked before anything is sent
        if (options?.force === true) {
          const current = yield* state(name)
          if (current.status_code !== StatusCode.Stopped) yield* forceStop(name)
        }
        yield* instanceCollection.delete(name)
      }).pipe(Effect.withSpan(span("delete")))

    // -- images ----------------------------------------------------------------------------------------------

    const publishImage = (
      source: { readonly type: "instance" | "snapshot"; readonly name: string },
      options: I.PublishOptions = {}
    ) =>
      Effect.gen(function*() {
        const aliases = (options.aliases ?? []).map((a) => typeof a === "string" ? { name: a } : a)
        if (aliases.length > 0) yield* client.requireExtension("image_create_aliases")
        const op = yield* run({
          method: "POST",
          path: "/images",
          body: {
            source,
            ...(aliases.length > 0 ? { aliases } : {}),
            public: options.public,
            properties: options.properties,
            compression_algorithm: options.compression_algorithm,
            expires_at: yield* toTime(options.expires_at),
            filename: options.filename
          }
        })
        const decoded = Schema.decodeUnknownOption(Fingerprint)(op.metadata)
        if (Option.isNone(decoded)) {
          return yield* protocolError(
            { method: "POST", path: "/images" },
            "the publish operation did not return a fingerprint"
          )
        }
        return yield* images.get(decoded.value.fingerprint)
      })

    const publish: I.Instances.Service["publish"] = (name, options) =>
      Path.validate("instance", name).pipe(
        Effect.flatMap(() => publishImage({ type: "instance", name }, options)),
        Effect.withSpan(span("publish"))
      )

    // -- console ---------------------------------------------------------------------------------------------

    const consoleLog: I.Instances.Service["consoleLog"] = (name) =>
      instancePath(name, "/console").pipe(
        Effect.flatMap((path) => getText({ method: "GET", path })),
        Effect.catchTag("LxdApiError", (e) => {
          // 5.0.2: an instance that never ran has no console.log file yet; nothing to show
          if (e.status === 500 && /^open .+\/console\.log: no such file or directory$/.test(e.message)) {
            return Effect.succeed("")
          }
          // 5.0.2: a running container's log is not readable from the API ("open : no such file or directory")
          if (e.status === 500 && /^open : no such file or directory$/.test(e.message)) {
            return Effect.fail(
              new LxdApiError({
                method: e.method,
                path: e.path,
                status: e.status,
                errorCode: e.errorCode,
                message:
                  `The console log of a running instance is not available from this server (stop it first): ${e.message}`
              })
            )
          }
          return Effect.fail(e)
        }),
        Effect.withSpan(span("consoleLog"))
      )

    const clearConsoleLog: I.Instances.Service["clearConsoleLog"] = (name) =>
      instancePath(name, "/console").pipe(
        Effect.flatMap((path) => client.request({ method: "DELETE", path })),
        Effect.asVoid,
        Effect.withSpan(span("clearConsoleLog"))
      )

    const console: I.Instances.Service["console"] = (name, options = {}) =>
      instancePath(name, "/console").pipe(
        Effect.flatMap((path) => Console.attach(client, path, options)),
        Effect.withSpan(span("console"))
      )

    // -- snapshots -------------------------------------------------------------------------------------------

    // the collection shape serves the CRUD; `create` (its naming), `replace` (a `TimeInput`), `restore` and
    // `publish` are the snapshot's own
    const snapshotCollection = Collection.make(client, { ...snapshotsSpec, name: span("snapshots") })
    const backupCollection = Collection.make(client, { ...backupsSpec, name: span("backups") })

    /** The names in an instance's sub-collection (`GET /1.0/instances/{name}/snapshots`, `/backups`, `/logs`). */
    const namesAt = (instance: string, suffix: string) =>
      instancePath(instance, suffix).pipe(
        Effect.flatMap((path) =>
          Effect.flatMap(
            client.sync(NameList, { method: "GET", path }),
            (r) => Path.namesFromUrls({ method: "GET", path }, r.metadata ?? [])
          )
        )
      )

    /** A write of a snapshot's expiry: its names checked first (nothing sent), then `snapshot_expiry`. */
    const expiryWrite = <A>(instance: string, snapshot: string, write: Effect.Effect<A, LxdError>) =>
      Collection.objectPath(client, snapshotsSpec, [instance], snapshot).pipe(
        Effect.zipRight(client.requireExtension("snapshot_expiry")),
        Effect.zipRight(write)
      )

    /**
     * A snapshot body with its `expires_at` as RFC 3339, other fields as they are (the type says `string`: a body
     * without one stays without, which only `update`'s `Partial` body may be).
     */
    const expiryOf = <B extends { readonly expires_at?: I.TimeInput | undefined }>(
      body: B
    ): Effect.Effect<OnWire<B>, InvalidArgument> => {
      const { expires_at, ...rest } = body
      return expires_at === undefined
        ? Effect.succeed(rest as OnWire<B>)
        : Effect.map(toTime(expires_at), (time) => ({ ...rest, expires_at: time }) as OnWire<B>)
    }

    const snapshots: I.Instances.Snapshots = {
      listNames: snapshotCollection.listNames,
      list: snapshotCollection.list,
      get: snapshotCollection.get,
      getWithEtag: snapshotCollection.getWithEtag,
      exists: snapshotCollection.exists,
      rename: snapshotCollection.rename,
      delete: snapshotCollection.delete,
      create: (instance, body = {}) =>
        Effect.gen(function*() {
          const path = yield* instancePath(instance, "/snapshots")
          if (body.name !== undefined) yield* Path.validate("snapshot", body.name)
          const op = yield* run({
            method: "POST",
            path,
            body: { name: body.name, stateful: body.stateful, expires_at: yield* toTime(body.expires_at) }
          })
          if (body.name !== undefined) return body.name
          const fromOp = resourceName(op, "instances", "/snapshots/") ?? resourceName(op, "snapshots")
          if (fromOp !== undefined) return fromOp
          // 5.0.2 does not name a generated snapshot in the operation: take the newest one
          const all = yield* snapshotCollection.list(instance)
          const newest = all.reduce<I.InstanceSnapshot | undefined>(
            (a, s) =>
              a === undefined || DateTime.toEpochMillis(s.created_at) >= DateTime.toEpochMillis(a.created_at) ? s : a,
            undefined
          )
          if (newest === undefined) {
            return yield* protocolError({ method: "POST", path: path }, "the snapshot was created but cannot be found")
          }
          return newest.name
        }).pipe(Effect.withSpan(span("snapshots.create"))),
      replace: (instance, snapshot, body, options) =>
        expiryWrite(
          instance,
          snapshot,
          Effect.flatMap(expiryOf(body), (b) => snapshotCollection.replace(instance, snapshot, b, options))
        ),
      update: (instance, snapshot, patch, options) =>
        expiryWrite(
          instance,
          snapshot,
          Effect.flatMap(expiryOf(patch), (p) => snapshotCollection.update(instance, snapshot, p, options))
        ),
      modify: (instance, snapshot, f) =>
        expiryWrite(
          instance,
          snapshot,
          Collection.modifyWith(client, snapshotsSpec, [instance], snapshot, (current) => expiryOf(f(current))).pipe(
            Effect.withSpan(span("snapshots.modify"))
          )
        ),
      restore: (instance, snapshot, options) =>
        Effect.gen(function*() {
          const path = yield* instancePath(instance)
          yield* Path.validate("snapshot", snapshot)
          yield* runVoid({ method: "PUT", path, body: { restore: snapshot, stateful: options?.stateful } })
        }).pipe(Effect.withSpan(span("snapshots.restore"))),
      publish: (instance, snapshot, options) =>
        Collection.objectPath(client, snapshotsSpec, [instance], snapshot).pipe(
          Effect.flatMap(() => publishImage({ type: "snapshot", name: `${instance}/${snapshot}` }, options)),
          Effect.withSpan(span("snapshots.publish"))
        )
    }

    // -- backups ---------------------------------------------------------------------------------------------

    const backups: I.Instances.Backups = {
      listNames: backupCollection.listNames,
      list: backupCollection.list,
      get: backupCollection.get,
      getWithEtag: backupCollection.getWithEtag,
      exists: backupCollection.exists,
      rename: backupCollection.rename,
      delete: backupCollection.delete,
      // not the collection's create: LXD names the backup in the operation as `/1.0/backups/{name}`, not below
      // the collection's path
      create: (instance, body = {}) =>
        Effect.gen(function*() {
          const path = yield* instancePath(instance, "/backups")
          if (body.name !== undefined) yield* Path.validate("backup", body.name)
          const op = yield* run({ method: "POST", path, body: { ...body, expires_at: yield* toTime(body.expires_at) } })
          const name = body.name ?? resourceName(op, "backups")
          if (name === undefined) {
            return yield* protocolError(
              { method: "POST", path: path },
              "the operation does not name the backup it created"
            )
          }
          return name
        }).pipe(Effect.withSpan(span("backups.create"))),
      download: Collection.downloadPart(client, { ...backupsSpec, name: span("backups") }, {
        verb: "download",
        suffix: "/export"
      })
    }

    // -- logs, metadata, templates ---------------------------------------------------------------------------

    const logs: I.Instances.Logs = {
      list: (instance) => namesAt(instance, "/logs").pipe(Effect.withSpan(span("logs.list"))),
      get: (instance, file) =>
        instancePath(instance, "/logs/", ["name", file]).pipe(
          Effect.flatMap((path) => getText({ method: "GET", path })),
          Effect.withSpan(span("logs.get"))
        ),
      delete: (instance, file) =>
        instancePath(instance, "/logs/", ["name", file]).pipe(
          Effect.flatMap((path) => client.request({ method: "DELETE", path })),
          Effect.asVoid,
          Effect.withSpan(span("logs.delete"))
        )
    }

    const metadataGetWithEtag: I.Instances.Metadata["getWithEtag"] = (instance) =>
      instancePath(instance, "/metadata").pipe(
        Effect.flatMap((path) => client.sync(ImageMetadata, { method: "GET", path })),
        Effect.map((r) => ({ value: r.metadata, etag: r.etag })),
        Effect.withSpan(span("metadata.get"))
      )

    const metadata: I.Instances.Metadata = {
      get: (instance) => Effect.map(metadataGetWithEtag(instance), (r) => r.value),
      getWithEtag: metadataGetWithEtag,
      replace: (instance, body, options) =>
        Effect.gen(function*() {
          const path = yield* instancePath(instance, "/metadata")
          const etag = options?.etag
          if (etag !== undefined) {
            // LXD 5.0.2 ignores If-Match on this PUT (PATCH honours it): compare first, then send it anyway
            const current = yield* client.sync(Schema.Unknown, { method: "GET", path })
            if (current.etag !== undefined && unquote(current.etag) !== unquote(etag)) {
              return yield* Effect.fail(statusError(
                { method: "PUT", path },
                412,
                `ETag doesn't match: ${unquote(current.etag)} vs ${unquote(etag)} (checked by the client)`
              ))
            }
          }
          yield* runVoid({ method: "PUT", path, body, etag })
        }).pipe(Effect.withSpan(span("metadata.replace"))),
      update: (instance, patch, options) =>
        instancePath(instance, "/metadata").pipe(
          // 5.0.2 honours If-Match on this PATCH (not on the PUT): no client-side check
          Effect.flatMap((path) => runVoid({ method: "PATCH", path, body: patch, etag: options?.etag })),
          Effect.withSpan(span("metadata.update"))
        )
    }

    const templatesPath = (instance: string, template: string) =>
      Effect.zipLeft(instancePath(instance, "/metadata/templates"), Path.validate("name", template))

    const templates: I.Instances.Templates = {
      list: (instance) =>
        instancePath(instance, "/metadata/templates").pipe(
          Effect.flatMap((path) =>
            Effect.flatMap(client.sync(NameList, { method: "GET", path }), (r) =>
              Effect.forEach(
                r.metadata ?? [],
                (t) => t.startsWith("/1.0/") ? Path.nameFromUrl({ method: "GET", path }, t) : Effect.succeed(t)
              ))
          ),
          Effect.withSpan(span("templates.list"))
        ),
      get: (instance, template) =>
        templatesPath(instance, template).pipe(
          Effect.flatMap((path) => getText({ method: "GET", path, query: { path: template } })),
          Effect.withSpan(span("templates.get"))
        ),
      put: (instance, template, content) =>
        templatesPath(instance, template).pipe(
          Effect.flatMap((path) =>
            client.request({
              method: "POST",
              path,
              query: { path: template },
              rawBody: typeof content === "string"
                ? HttpBody.text(content, "application/octet-stream")
                : HttpBody.uint8Array(content, "application/octet-stream")
            })
          ),
          Effect.asVoid,
          Effect.withSpan(span("templates.put"))
        ),
      delete: (instance, template) =>
        templatesPath(instance, template).pipe(
          Effect.flatMap((path) => client.request({ method: "DELETE", path, query: { path: template } })),
          Effect.asVoid,
          Effect.withSpan(span("templates.delete"))
        )
    }

    return {
      listNames,
      listNamesAllProjects,
      list,
      listFull,
      get,
      getWithEtag,
      getFull,
      exists,
      state,
      create,
      createOperation,
      copy,
      createFromBackup,
      replace,
      update,
      modify,
      rename,
      move,
      delete: deleteInstance,
      setState,
      start: (name, options) => setState(name, { action: "start", stateful: options?.stateful }),
      stop: (name, options) =>
        setState(name, {
          action: "stop",
          force: options?.force,
          timeout: options?.timeout,
          stateful: options?.stateful
        }),
      restart: (name, options) =>
        setState(name, { action: "restart", force: options?.force, timeout: options?.timeout }),
      freeze: (name) => setState(name, { action: "freeze" }),
      unfreeze: (name) => setState(name, { action: "unfreeze" }),
      setStateMany,
      waitForStatus,
      publish,
      consoleLog,
      clearConsoleLog,
      console,
      snapshots,
      backups,
      logs,
      metadata,
      templates
    } satisfies I.Instances.Service
  })

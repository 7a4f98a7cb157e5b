/**
 * The request engine. It builds `/1.0` requests over an {@link LxdTransport}, decodes every body as the LXD
 * envelope whatever the HTTP status, maps error envelopes to tagged errors, follows background operations as
 * scoped handles, and caches `GET /1.0` for extension checks. Resource services are thin layers over it.
 *
 * @since 0.1.0
 */
import type * as HttpBody from "@effect/platform/HttpBody"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import * as internal from "./internal/client.js"
import * as References from "./internal/references.js"
import type { APIExtensionNotAvailable, ClientConnectionFailed, LxdError, ProtocolError } from "./LxdError.js"
import type { Operation, ServerInfo } from "./LxdSchema.js"
import type { LxdWebSocket } from "./LxdTransport.js"
import type { LxdTransport } from "./LxdTransport.js"
import type * as Sha256 from "./Sha256.js"

/**
 * One request to the API, relative to `/1.0`. Names inside `path` must already be validated and encoded
 * (resource modules do this); `query` values that are `undefined` are left out.
 *
 * @since 0.1.0
 * @category models
 */
export interface Request {
  readonly method: "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE"
  /** Path below `/1.0`, e.g. `/instances/web1`; `""` is `/1.0` itself. */
  readonly path: string
  readonly query?: Readonly<Record<string, string | undefined>> | undefined
  /** A JSON body (sent as `application/json`). */
  readonly body?: unknown
  /** A raw body (uploads, file pushes); takes precedence over `body`. */
  readonly rawBody?: HttpBody.HttpBody | undefined
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** Sent as `If-Match`: the change is refused with `PreconditionFailed` if the object changed since. */
  readonly etag?: string | undefined
}

/**
 * A sync answer: decoded metadata plus the `ETag` header (single-object GETs only).
 *
 * @since 0.1.0
 * @category models
 */
export interface SyncResponse<A> {
  readonly metadata: A
  readonly etag: string | undefined
  /** `Location` header, set by creates that answer `201`. */
  readonly location: string | undefined
}

/**
 * A background operation started by a request, alive in the caller's `Scope`. If the scope closes before the
 * operation reached a final state, the engine cancels it on the server (`DELETE /1.0/operations/{id}`, when
 * `may_cancel`), or, for operations LXD cannot cancel, waits (bounded) for them to finish so none is left
 * running behind the caller.
 *
 * @since 0.1.0
 * @category models
 */
export interface OperationHandle {
  /** Operation UUID (`""` when the endpoint answered sync, see `initial`). */
  readonly id: string
  /** The operation URL as LXD returned it (it may carry `?project=`). */
  readonly url: string
  /** The operation as the submitting request returned it (`metadata.fds` for websocket operations). */
  readonly initial: Operation
  /** The `Location` header of a sync answer (the URL of what a create made); `undefined` for an operation. */
  readonly location: string | undefined
  /**
   * Waits until the operation is final (`GET …/wait` long-polls). Fails with `OperationFailed` or
   * `OperationCancelled`; with `OperationTimeout` when `timeout` passes first (the operation keeps running).
   */
  readonly wait: (options?: { readonly timeout?: Duration.DurationInput | undefined }) => Effect.Effect<
    Operation,
    LxdError
  >
  /** Cancels the operation on the server (`DELETE /1.0/operations/{id}`). */
  readonly cancel: Effect.Effect<void, LxdError>
  /**
   * Updates of this operation from the events websocket, subscribed before the request was sent; ends at the
   * final state. Empty unless the operation was started with `{ progress: true }`.
   */
  readonly progress: Stream.Stream<Operation, LxdError>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface OperationOptions {
  /** Subscribe to operation events before sending the request, for `handle.progress`. */
  readonly progress?: boolean | undefined
  /**
   * How long the scope's finaliser waits for an operation LXD cannot cancel (`may_cancel: false`) before it
   * gives up on it. Default 60 seconds.
   */
  readonly uncancellableGrace?: Duration.DurationInput | undefined
  /**
   * `false`: never `DELETE` this operation when the scope closes early; drain it (bounded) instead. For
   * migration sources: LXD 5.0.2 panics (nil pointer in `Operation.Cancel`) when one is cancelled mid-transfer.
   */
  readonly cancelOnClose?: boolean | undefined
}

/**
 * @since 0.1.0
 * @category tags
 */
export class LxdClient extends Context.Tag("@effect-lxd/core/LxdClient")<LxdClient, LxdClient.Service>() {}

/**
 * The `Service` interface of the `LxdClient` tag.
 *
 * @since 0.1.0
 * @category models
 */
export declare namespace LxdClient {
  /**
   * The engine's methods. Resource services cover most endpoints; `sync`, `run` and `request` reach the others.
   *
   * @example
   * ```ts
   * import { LxdClient } from "@effect-lxd/core"
   * import { LxdFakeServer } from "@effect-lxd/testing"
   * import { Effect, Layer, Schema } from "effect"
   *
   * // an endpoint without a service of its own: the request, and a schema for its metadata
   * const program = Effect.gen(function*() {
   *   const client = yield* LxdClient.LxdClient
   *   const { metadata } = yield* client.sync(Schema.Array(Schema.String), { method: "GET", path: "/profiles" })
   *   return metadata // ["/1.0/profiles/default"]
   * })
   *
   * Effect.runPromise(program.pipe(Effect.provide(LxdClient.layer.pipe(Layer.provide(LxdFakeServer.layer())))))
   *   .then(console.log)
   * ```
   *
   * @since 0.1.0
   * @category models
   */
  export interface Service {
    /** The transport underneath, for raw bodies (files, exports) and websockets. */
    readonly transport: LxdTransport.Service
    /** Where requests go (`unix:/var/lib/lxd/unix.socket`, `https://host:8443`), for messages. */
    readonly endpoint: string
    /**
     * The SHA-256 every hash the services compute goes through (image exports and uploads): the
     * `Sha256.Sha256` reference as it was when the engine was built (Node's transport layers provide the native
     * one).
     */
    readonly sha256: Sha256.Sha256.Service
    /** A transport failure of `request` (a refused connection, a body cut short) as `ClientConnectionFailed`. */
    readonly connectionFailed: (request: Pick<Request, "method" | "path">) => (cause: unknown) => ClientConnectionFailed
    /**
     * Sends a request and reads the envelope: sync or async answers come back as they are; an error envelope
     * fails with its tag (`NotFound`, `Conflict`, `BadRequest`, `Forbidden`, `PreconditionFailed`,
     * `LxdApiError`); no connection → `ClientConnectionFailed`; a body that is not an envelope → `ProtocolError`.
     */
    readonly request: (request: Request) => Effect.Effect<RawResponse, LxdError>
    /**
     * Sends a request that answers raw bytes (file pulls, exports, logs): the response is returned as it is when
     * it is not an error envelope. The body must be consumed (or discarded) within the scope.
     */
    readonly requestRaw: (request: Request) => Effect.Effect<HttpClientResponse.HttpClientResponse, LxdError>
    /**
     * A request that answers text (metrics, logs): the body read whole, as UTF-8. An error envelope fails with
     * its tag; a body cut short is `ClientConnectionFailed`.
     */
    readonly requestText: (request: Request) => Effect.Effect<string, LxdError>
    /** A request that must answer sync; metadata decoded with `schema` (`ProtocolError` if it does not match). */
    readonly sync: <A, I>(
      schema: Schema.Schema<A, I, never>,
      request: Request
    ) => Effect.Effect<SyncResponse<A>, LxdError>
    /** A request that starts a background operation; the handle lives in the current scope. */
    readonly operation: (
      request: Request,
      options?: OperationOptions
    ) => Effect.Effect<OperationHandle, LxdError, Scope.Scope>
    /** Starts an operation and waits for it: `Effect.scoped(operation(request).wait())`. */
    readonly run: (request: Request, options?: OperationOptions) => Effect.Effect<Operation, LxdError>
    /**
     * The one write path: a request LXD may answer sync or with an operation (LXD has moved several writes from
     * sync to async between 5.0 and 6.x). An operation is waited on, and cancelled on the server when the caller
     * is interrupted; a sync answer's `Location` is kept. Errors: those of `request`, `OperationFailed`,
     * `OperationCancelled`.
     */
    readonly write: (request: Request, options?: OperationOptions) => Effect.Effect<WriteResult, LxdError>
    /** An open handle for an existing operation URL or id (no cancel-on-close). */
    readonly attach: (operation: Operation | string) => Effect.Effect<OperationHandle, LxdError>
    /**
     * Waits until an existing operation (URL or id) is final, long-polling from the first request (no `GET`
     * first). Errors: `OperationFailed`, `OperationCancelled`, `OperationTimeout`, `NotFound`.
     */
    readonly waitFor: (
      operation: string,
      options?: { readonly timeout?: Duration.DurationInput | undefined }
    ) => Effect.Effect<Operation, LxdError>
    /** Opens a websocket below `/1.0` (`/events`, `/operations/{id}/websocket`), adding the current project. */
    readonly websocket: (
      path: string,
      query?: Readonly<Record<string, string | undefined>>
    ) => Effect.Effect<LxdWebSocket, LxdError, Scope.Scope>
    /**
     * Downloads a body through the transport's reused-buffer path ({@link LxdTransport.Service.download}) when it
     * has one, adding the current project and target: `None` when there is none, or `accept` refused the
     * answer (then nothing was written; ask again with {@link LxdClient.Service.requestRaw}).
     */
    readonly download: <E>(
      request: Request,
      accept: (status: number, headers: Readonly<Record<string, string>>) => boolean,
      write: (chunk: Uint8Array) => Effect.Effect<void, E>
    ) => Effect.Effect<Option.Option<Readonly<Record<string, string>>>, LxdError | E>
    /**
     * Sends a body of `length` bytes through the transport's reused-buffer upload path
     * ({@link LxdTransport.Service.upload}) when it has one, and reads the answer as `request` does: `None`
     * when there is none (nothing was sent; send it with `request` and a `rawBody`).
     */
    readonly upload: <E>(
      request: Request,
      length: number,
      fill: (buffer: Uint8Array) => Effect.Effect<number, E>
    ) => Effect.Effect<Option.Option<RawResponse>, LxdError | E>
    /** `GET /1.0`, cached until it fails or {@link LxdClient.Service.refreshServer} is called. */
    readonly server: Effect.Effect<ServerInfo, LxdError>
    /** Drops the cached `GET /1.0` (after authenticating, or a server upgrade). */
    readonly refreshServer: Effect.Effect<void>
    /** Whether the server advertises an API extension. */
    readonly hasExtension: (name: string) => Effect.Effect<boolean, LxdError>
    /** Fails with `APIExtensionNotAvailable` unless the server advertises the extension. */
    readonly requireExtension: (name: string) => Effect.Effect<void, LxdError | APIExtensionNotAvailable>
  }
}

/**
 * What a write left: the `Location` of a sync answer, or the final state of the operation it ran.
 *
 * @since 0.2.0
 * @category models
 */
export interface WriteResult {
  readonly location: string | undefined
  /** `undefined` when LXD answered sync. */
  readonly operation: Operation | undefined
}

/**
 * The error LXD would give for `status` about a request (a `path` below `/1.0`): `NotFound` for 404,
 * `PreconditionFailed` for 412, …, for what a resource decides on its own (an instance of another type, a stale
 * ETag LXD does not check).
 *
 * @since 0.2.0
 * @category constructors
 */
export const statusError: (
  request: Pick<Request, "method" | "path">,
  status: number,
  message: string
) => LxdError = internal.statusError

/**
 * A `ProtocolError` about a request (a `path` below `/1.0`, as in {@link Request}): for answers that are
 * envelopes but do not say what they must.
 *
 * @since 0.2.0
 * @category constructors
 */
export const protocolError: (
  request: Pick<Request, "method" | "path">,
  description: string,
  cause?: unknown
) => ProtocolError = internal.protocolError

/**
 * The envelope of an answer, with the headers a caller may need.
 *
 * @since 0.1.0
 * @category models
 */
export interface RawResponse {
  readonly status: number
  readonly type: "sync" | "async"
  readonly metadata: unknown
  /** The operation URL of an async answer. */
  readonly operation: string | undefined
  readonly etag: string | undefined
  readonly location: string | undefined
}

/**
 * The project requests run in (`?project=`). `undefined` leaves it to the server (`default`).
 *
 * @since 0.1.0
 * @category references
 */
export const CurrentProject: typeof References.CurrentProject = References.CurrentProject

/**
 * @since 0.1.0
 * @category references
 */
export type CurrentProject = References.CurrentProject

/**
 * The cluster member requests are aimed at (`?target=`). `undefined` lets the cluster choose.
 *
 * @since 0.1.0
 * @category references
 */
export const CurrentTarget: typeof References.CurrentTarget = References.CurrentTarget

/**
 * @since 0.1.0
 * @category references
 */
export type CurrentTarget = References.CurrentTarget

/**
 * Runs an effect with every request in the given project (`?project=`).
 *
 * @example
 * ```ts
 * import { Instances, Lxd, LxdClient } from "@effect-lxd/core"
 * import { LxdFakeServer } from "@effect-lxd/testing"
 * import { Effect, Layer } from "effect"
 *
 * const names = Effect.flatMap(Instances.Instances, (instances) => instances.listNames())
 *
 * // every request inside carries ?project=default (data-first: LxdClient.withProject(names, "default"))
 * const inDefault = names.pipe(LxdClient.withProject("default"))
 *
 * // or one project for the whole program
 * const DefaultProject = Layer.succeed(LxdClient.CurrentProject, "default")
 *
 * const TestLxd = Lxd.layer.pipe(Layer.provide(LxdFakeServer.layer()))
 * Effect.runPromise(Effect.all([inDefault, names.pipe(Effect.provide(DefaultProject))]).pipe(Effect.provide(TestLxd)))
 *   .then(console.log)
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const withProject: {
  (project: string): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, project: string): Effect.Effect<A, E, R>
} = dual(
  2,
  <A, E, R>(self: Effect.Effect<A, E, R>, project: string): Effect.Effect<A, E, R> =>
    Effect.provideService(self, CurrentProject, project)
)

/**
 * Runs an effect with every request aimed at the given cluster member (`?target=`).
 *
 * @since 0.1.0
 * @category combinators
 */
export const withTarget: {
  (target: string): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, target: string): Effect.Effect<A, E, R>
} = dual(
  2,
  <A, E, R>(self: Effect.Effect<A, E, R>, target: string): Effect.Effect<A, E, R> =>
    Effect.provideService(self, CurrentTarget, target)
)

/**
 * Builds the engine over the transport in context.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<LxdClient.Service, never, LxdTransport> = internal.make

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<LxdClient, never, LxdTransport> = Layer.effect(LxdClient, make)

/**
 * Builds an engine over a transport layer, alive in the current scope: the way to hold several servers at once
 * (`const a = yield* LxdClient.connect(NodeLxdTransport.layerHttps(…))`), for `Migration` and `Lxd.layerFromClient`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const connect = <E, R>(
  transport: Layer.Layer<LxdTransport, E, R>
): Effect.Effect<LxdClient.Service, E, Scope.Scope | R> =>
  Effect.map(Layer.build(layer.pipe(Layer.provide(transport))), (context) => Context.get(context, LxdClient))

/**
 * Following background operations: the long-poll wait loop that survives LXD's quirks, and the scoped handle.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { LxdClient, OperationHandle, OperationOptions, RawResponse, Request } from "../LxdClient.js"
import {
  ClientConnectionFailed,
  type LxdError,
  OperationCancelled,
  OperationFailed,
  OperationTimeout,
  ProtocolError,
  type StatusError
} from "../LxdError.js"
import { isFinal, Operation, StatusCode } from "../LxdSchema.js"
import type { LxdWebSocket } from "../LxdTransport.js"
import { excerpt, formatParseError } from "./bounded.js"
import * as FastDecode from "./fastDecode.js"
import { lastSegment, splitUrl } from "./path.js"

const decodeOperation = FastDecode.decodeUnknownEither(Operation)

/** @internal */
export const toOperation = (
  method: string,
  path: string,
  metadata: unknown
): Effect.Effect<Operation, ProtocolError> => {
  const result = decodeOperation(metadata)
  return result._tag === "Right"
    ? Effect.succeed(result.right)
    : Effect.fail(
      new ProtocolError({
        method,
        path,
        description: `operation does not match its schema: ${formatParseError(result.left)}`
      })
    )
}

/**
 * Runs a step of a finaliser within a time bound. Finalisers run uninterruptibly (and the fiber may already be
 * interrupted): the step runs interruptibly inside its own timeout, whose race gives it a fresh fiber, so the
 * bound really holds.
 *
 * @internal
 */
export const bounded = <A, E>(effect: Effect.Effect<A, E>, limit: Duration.DurationInput) =>
  Effect.timeout(Effect.interruptible(effect), limit)

/** The long-poll slice: how long one `GET …/wait` asks the server to hold. */
const WAIT_SLICE_SECONDS = 30

/** @internal */
export interface Engine {
  readonly request: (request: Request) => Effect.Effect<RawResponse, LxdError>
  /** For messages. */
  readonly endpoint: string
}

/** How long an interruption may wait for the answer to a request that starts an operation. */
const SUBMIT_BOUND = Duration.seconds(30)

/**
 * Sends the request that starts an operation so that an interruption cannot orphan it: once sent, LXD creates
 * the operation whether or not we read the answer, so the answer is awaited (bounded) even when the caller is
 * interrupted, and the handle's finaliser can then cancel or drain it. The request runs in a daemon fiber
 * because Effect passes interruption on to child fibers even inside an uninterruptible region. Upload bodies
 * stay interruptible: LXD reads the whole body before it creates an operation.
 *
 * @internal
 */
export const submit = (engine: Engine, request: Request): Effect.Effect<RawResponse, LxdError> =>
  request.rawBody !== undefined ? engine.request(request) : Effect.uninterruptible(
    // a daemon fiber and a timer by hand: `forkDaemon` + `timeoutFail` cost ~85 runtime steps on every exec
    Effect.flatMap(Effect.runtime<never>(), (runtime) =>
      Effect.async<RawResponse, LxdError>((resume) => {
        const fiber = Runtime.runFork(runtime)(engine.request(request))
        const timer = setTimeout(() => {
          fiber.unsafeInterruptAsFork(fiber.id())
          resume(Effect.fail(
            new ClientConnectionFailed({
              method: request.method,
              path: `/1.0${request.path}`,
              endpoint: engine.endpoint,
              reason: `no answer within ${Duration.format(SUBMIT_BOUND)}`,
              kind: "timeout"
            })
          ))
        }, Duration.toMillis(SUBMIT_BOUND))
        fiber.addObserver((exit) => {
          clearTimeout(timer)
          resume(exit)
        })
      }))
  )

const isStatusError = (e: LxdError): e is StatusError =>
  e._tag === "NotFound" || e._tag === "Conflict" || e._tag === "BadRequest" || e._tag === "Forbidden" ||
  e._tag === "PreconditionFailed" || e._tag === "LxdApiError"

/**
 * `GET {operation}/wait?timeout=N` once. 5.0.2 answers a still-running operation when the timeout passes and a
 * failed one with HTTP 200; 6.x writes failures as an error envelope inside the 200. On an error envelope the
 * operation is fetched again and that is trusted; if it is gone, the original error stands.
 *
 * @internal
 */
export const waitOnce = (engine: Engine, url: string, seconds: number): Effect.Effect<Operation, LxdError> => {
  const { path, query } = splitUrl(url)
  return engine.request({ method: "GET", path: `${path}/wait`, query: { ...query, timeout: String(seconds) } }).pipe(
    Effect.flatMap((response) => toOperation("GET", `${path}/wait`, response.metadata)),
    Effect.catchIf(
      (e) => isStatusError(e) && e._tag !== "NotFound",
      (original) =>
        get(engine, url).pipe(
          Effect.catchAll(() => Effect.fail(original))
        )
    )
  )
}

/** `GET /1.0/operations/{id}` by URL. @internal */
export const get = (engine: Engine, url: string): Effect.Effect<Operation, LxdError> => {
  const { path, query } = splitUrl(url)
  return engine.request({ method: "GET", path, query }).pipe(
    Effect.flatMap((response) => toOperation("GET", path, response.metadata))
  )
}

/**
 * Opens one of an operation's websockets (`GET {operation}/websocket?secret=`), as exec and migration
 * use them.
 *
 * @internal
 */
export const openWebsocket = (
  websocket: LxdClient.Service["websocket"],
  url: string,
  secret: string
): Effect.Effect<LxdWebSocket, LxdError, Scope.Scope> => {
  const { path, query } = splitUrl(url)
  return websocket(`${path}/websocket`, { ...query, secret })
}

/** `DELETE /1.0/operations/{id}` by URL. @internal */
export const cancel = (engine: Engine, url: string): Effect.Effect<void, LxdError> => {
  const { path, query } = splitUrl(url)
  return Effect.asVoid(engine.request({ method: "DELETE", path, query }))
}

/**
 * Turns a final operation into success or the matching error.
 *
 * @internal
 */
export const settle = (operation: Operation): Effect.Effect<Operation, OperationFailed | OperationCancelled> => {
  if (operation.status_code === StatusCode.Success) return Effect.succeed(operation)
  if (operation.status_code === StatusCode.Cancelled) {
    return Effect.fail(
      new OperationCancelled({ operationId: operation.id, message: excerpt(operation.err || "Operation cancelled") })
    )
  }
  return Effect.fail(
    new OperationFailed({
      operationId: operation.id,
      statusCode: operation.status_code,
      message: excerpt(operation.err || operation.status),
      metadata: operation.metadata
    })
  )
}

/**
 * Waits until the operation is final, looping over long-poll slices.
 *
 * @internal
 */
export const waitFinal = (
  engine: Engine,
  url: string,
  initial: Operation,
  onFinal: (op: Operation) => void
): Effect.Effect<Operation, LxdError> => {
  const loop = (op: Operation): Effect.Effect<Operation, LxdError> =>
    isFinal(op)
      ? Effect.sync(() => {
        onFinal(op)
        return op
      })
      : Effect.flatMap(waitOnce(engine, url, WAIT_SLICE_SECONDS), loop)
  return Effect.flatMap(loop(initial), settle)
}

/** @internal */
export const operationUrl = (id: string): string => `/1.0/operations/${encodeURIComponent(id)}`

/** A synthetic completed operation for endpoints that answered sync where an operation was expected. @internal */
export const syntheticSuccess = (metadata: unknown): Operation => ({
  id: "",
  class: "task",
  description: "",
  status: "Success",
  status_code: StatusCode.Success,
  resources: {},
  metadata,
  may_cancel: false,
  err: "",
  location: ""
})

/**
 * Starts an operation in the caller's scope. The release cancels it when it is not final (or waits, bounded,
 * for one LXD cannot cancel).
 *
 * @internal
 */
export const start = (
  engine: Engine,
  request: Request,
  options: OperationOptions,
  subscribeOperations: Effect.Effect<Stream.Stream<Operation, LxdError>, LxdError, Scope.Scope> | undefined
): Effect.Effect<OperationHandle, LxdError, Scope.Scope> =>
  Effect.gen(function*() {
    const events = subscribeOperations === undefined ? undefined : yield* subscribeOperations
    const state = { final: false }
    const onFinal = (_op: Operation) => {
      state.final = true
    }
    // from sending the request to registering the finaliser nothing may be interrupted, or the operation
    // would exist on the server with nobody to cancel it
    return yield* Effect.uninterruptible(Effect.gen(function*() {
      const response = yield* submit(engine, request)
      if (response.type === "sync" || response.operation === undefined) {
        const op = syntheticSuccess(response.metadata)
        return makeHandle(engine, "", op, state, onFinal, Stream.empty, response.location)
      }
      const url = response.operation
      const initial = response.metadata === null
        ? yield* fetchInitial(engine, url)
        : yield* toOperation(request.method, request.path, response.metadata)
      if (isFinal(initial)) state.final = true
      const progress = events === undefined ? Stream.empty : events.pipe(
        Stream.filter((op) => op.id === initial.id),
        Stream.tap((op) => Effect.sync(() => isFinal(op) && onFinal(op))),
        Stream.takeUntil(isFinal)
      )
      const grace = Duration.decode(options.uncancellableGrace ?? "60 seconds")
      // LXD may only learn that an operation is cancellable once it runs (an image download reports
      // may_cancel: false at creation, true once the transfer starts), so a non-cancellable initial answer is
      // checked again before giving up on cancelling.
      const cancelOrDrain = Effect.gen(function*() {
        const cancellable = options.cancelOnClose !== false
        const current = initial.may_cancel && cancellable ? initial : yield* bounded(get(engine, url), "5 seconds")
        if (isFinal(current)) return
        if (current.may_cancel && cancellable) return yield* bounded(cancel(engine, url), "5 seconds")
        yield* bounded(waitFinal(engine, url, current, onFinal), grace)
      })
      yield* Effect.addFinalizer(() => Effect.suspend(() => state.final ? Effect.void : Effect.ignore(cancelOrDrain)))
      return makeHandle(engine, url, initial, state, onFinal, progress)
    }))
  })

/**
 * The operation of an async answer whose envelope has no `metadata`: fetched from its URL (bounded, as the
 * submit is). If that fails, nobody could cancel it later: it is cancelled now (bounded, best effort).
 */
const fetchInitial = (engine: Engine, url: string): Effect.Effect<Operation, LxdError> =>
  Effect.timeoutFail(Effect.interruptible(get(engine, url)), {
    duration: SUBMIT_BOUND,
    onTimeout: () =>
      new ClientConnectionFailed({
        method: "GET",
        path: url,
        endpoint: engine.endpoint,
        reason: `no answer within ${Duration.format(SUBMIT_BOUND)}`
      })
  }).pipe(Effect.tapError(() => Effect.ignore(bounded(cancel(engine, url), "5 seconds"))))

/** `OperationTimeout` when `options.timeout` passes first (the operation goes on). */
const withTimeout = <A>(
  wait: Effect.Effect<A, LxdError>,
  operationId: string,
  options: { readonly timeout?: Duration.DurationInput | undefined } | undefined
): Effect.Effect<A, LxdError> => {
  if (options?.timeout === undefined) return wait
  const timeout = Duration.decode(options.timeout)
  return Effect.timeoutFail(wait, {
    duration: timeout,
    onTimeout: () => new OperationTimeout({ operationId, timeoutMillis: Duration.toMillis(timeout) })
  })
}

const makeHandle = (
  engine: Engine,
  url: string,
  initial: Operation,
  state: { final: boolean },
  onFinal: (op: Operation) => void,
  progress: Stream.Stream<Operation, LxdError>,
  location?: string | undefined
): OperationHandle => ({
  id: initial.id,
  url,
  initial,
  location,
  wait: (options) =>
    withTimeout(url === "" ? settle(initial) : waitFinal(engine, url, initial, onFinal), initial.id, options),
  cancel: url === "" ? Effect.void : Effect.tap(cancel(engine, url), () => {
    state.final = true
  }),
  progress
})

/**
 * Waits until an existing operation (id or URL) is final, without fetching it first: the first long-poll answers
 * its state. Errors as `OperationHandle.wait`.
 *
 * @internal
 */
export const waitFor = (
  engine: Engine,
  operation: string,
  options?: { readonly timeout?: Duration.DurationInput | undefined }
): Effect.Effect<Operation, LxdError> => {
  const url = urlOf(operation)
  return withTimeout(
    Effect.flatMap(waitOnce(engine, url, WAIT_SLICE_SECONDS), (op) => waitFinal(engine, url, op, () => {})),
    lastSegment(url) ?? url,
    options
  )
}

/** An operation's URL from its URL or its id. */
const urlOf = (operation: string): string => operation.startsWith("/1.0/") ? operation : operationUrl(operation)

/**
 * A handle for an operation that already exists (no cancel-on-close).
 *
 * @internal
 */
export const attach = (engine: Engine, operation: Operation | string): Effect.Effect<OperationHandle, LxdError> =>
  Effect.gen(function*() {
    const url = typeof operation === "string" ? urlOf(operation) : operationUrl(operation.id)
    const op = typeof operation === "string" ? yield* get(engine, url) : operation
    const state = { final: isFinal(op) }
    return makeHandle(engine, url, op, state, () => {
      state.final = true
    }, Stream.empty)
  })

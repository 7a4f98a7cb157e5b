/**
 * What exec and the console share: an operation that hands out websocket secrets (`metadata.fds`), a terminal
 * over a data socket plus a control socket (`window-resize`), and a scope that detaches (closes the sockets)
 * when it closes before the operation ended.
 *
 * @internal
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { LxdClient, Request } from "../LxdClient.js"
import { InvalidArgument, type LxdError } from "../LxdError.js"
import type { LxdWebSocket } from "../LxdTransport.js"
import { protocolError } from "./client.js"
import * as FastDecode from "./fastDecode.js"
import * as Op from "./operation.js"

const Fds = Schema.Struct({ fds: Schema.Record({ key: Schema.String, value: Schema.String }) })
const decodeFds = FastDecode.decodeUnknownEither(Fds)

const encoder = new TextEncoder()

/** A string as UTF-8; bytes as they are. @internal */
export const toBytes = (chunk: Uint8Array | string): Uint8Array =>
  typeof chunk === "string" ? encoder.encode(chunk) : chunk

/** One JSON message on a control socket. @internal */
export const controlMessage = (control: LxdWebSocket, message: unknown) => control.send(JSON.stringify(message))

/**
 * Submits a request answered by a websocket operation that LXD cannot cancel (exec, console) and decodes its
 * secrets; `open(fd)` connects one in the caller's scope. When the scope closes early the caller's sockets are
 * closed first (its own finaliser, added later, runs first), then the engine waits (bounded) for the end.
 *
 * @internal
 */
export const submit = (client: LxdClient.Service, request: Request, what: string) =>
  Effect.gen(function*() {
    const handle = yield* client.operation(request, { uncancellableGrace: "15 seconds" })
    const fds = decodeFds(handle.initial.metadata)
    if (fds._tag === "Left") {
      return yield* protocolError(request, `${what} operation without websocket secrets`)
    }
    const open = (fd: string) => {
      const secret = fds.right.fds[fd]
      return secret === undefined
        ? Effect.fail(protocolError(request, `no websocket secret for fd ${fd}`))
        : Op.openWebsocket(client.websocket, handle.url, secret)
    }
    return { handle, open, fds: fds.right.fds }
  })

/**
 * Awaits `outcome` from the start, in the scope (LXD's long-poll `/wait` is in flight while the operation
 * runs); a scope that closes before it completed runs `detach` first. Returns the awaited outcome.
 *
 * @internal
 */
export const untilEnd = <A>(
  outcome: Effect.Effect<A, LxdError>,
  detach: Effect.Effect<void>
): Effect.Effect<Effect.Effect<A, LxdError>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const finished = yield* Deferred.make<A, LxdError>()
    let ended = false
    yield* Effect.addFinalizer(() => ended ? Effect.void : detach)
    yield* Effect.forkScoped(Deferred.complete(finished, Effect.tap(outcome, () => Effect.sync(() => (ended = true)))))
    return Deferred.await(finished)
  })

/** The duplex of a terminal: output, input and window size. @internal */
export interface Terminal {
  readonly output: Stream.Stream<Uint8Array, LxdError>
  readonly write: (chunk: Uint8Array | string) => Effect.Effect<void, LxdError>
  readonly resize: (width: number, height: number) => Effect.Effect<void, LxdError>
}

/**
 * A terminal size (`width`, `height`): an integer from 1 to 65535, or left out; else `InvalidArgument`.
 *
 * @internal
 */
export const dimension = (argument: string, value: number | undefined): Effect.Effect<void, InvalidArgument> =>
  value === undefined || (Number.isInteger(value) && value > 0 && value <= 65535)
    ? Effect.void
    : Effect.fail(new InvalidArgument({ argument, value, reason: "must be an integer from 1 to 65535" }))

/**
 * A terminal over a data socket (binary frames both ways) and a control socket (`window-resize`, as LXD's exec
 * PTY and console both take it). LXD drops the data socket without a close frame (1006) when the operation
 * ends, and a dying daemon drops it the same way: the outcome (`ended`) tells them apart, so the output then
 * ends when the operation ended and fails with its error otherwise.
 *
 * @internal
 */
export const terminal = (
  control: LxdWebSocket,
  data: LxdWebSocket,
  ended: Effect.Effect<unknown, LxdError>
): Terminal => ({
  output: data.frames.pipe(
    Stream.catchTag("ClientConnectionFailed", () => Stream.drain(Stream.fromEffect(ended))),
    Stream.filter((frame): frame is Uint8Array => typeof frame !== "string")
  ),
  write: (chunk) => data.send(toBytes(chunk)),
  resize: (width, height) =>
    Effect.zipRight(
      Effect.all([dimension("width", width), dimension("height", height)]),
      controlMessage(control, { command: "window-resize", args: { width: String(width), height: String(height) } })
    )
})

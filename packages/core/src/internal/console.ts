/**
 * An instance's console (`POST /1.0/instances/{name}/console`): the data socket (fd `0`) and `control` as a
 * terminal in the caller's scope, built on the websocket-operation pieces exec uses.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { Console, ConsoleOptions } from "../Instances.js"
import type { LxdClient } from "../LxdClient.js"
import { InvalidArgument, type LxdError } from "../LxdError.js"
import * as WsOp from "./websocketOperation.js"

/** A detach as LXD 5.0.2 sometimes reports it: the console's copy loop saw the closed terminal. */
const isDetach = (e: LxdError) => e._tag === "OperationFailed" && /file already closed/.test(e.message)

/**
 * Attaches to the console at `path` (`/instances/{name}/console`, validated by the caller). Closing the scope
 * first closes `control` (LXD then ends the operation, as Success), then the data socket; closing only the data
 * socket would leave the operation running on 5.0.2.
 *
 * @internal
 */
export const attach = (
  client: LxdClient.Service,
  path: string,
  options: ConsoleOptions
): Effect.Effect<Console, LxdError, Scope.Scope> =>
  Effect.gen(function*() {
    const type = options.type ?? "console"
    if (type !== "console" && type !== "vga") {
      return yield* new InvalidArgument({ argument: "type", value: type, reason: `must be "console" or "vga"` })
    }
    yield* WsOp.dimension("width", options.width)
    yield* WsOp.dimension("height", options.height)
    yield* client.requireExtension(type === "vga" ? "console_vga_type" : "console")
    const body = {
      type,
      ...(options.width === undefined ? {} : { width: options.width }),
      ...(options.height === undefined ? {} : { height: options.height })
    }
    const { handle, open } = yield* WsOp.submit(client, { method: "POST", path, body }, "console")
    // LXD reads control first, then starts the console once fd 0 is there
    const control = yield* open("control")
    const data = yield* open("0")
    const done = yield* WsOp.untilEnd(
      handle.wait().pipe(Effect.asVoid, Effect.catchIf(isDetach, () => Effect.void)),
      Effect.zipRight(control.close(), data.close())
    )
    return { operationId: handle.id, type, ...WsOp.terminal(control, data, done), done } satisfies Console
  })

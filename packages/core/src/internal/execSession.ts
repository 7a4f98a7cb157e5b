/**
 * An exec whose websockets are handed out (pylxd's `raw_interactive_execute`), for a web app that proxies them to
 * a browser terminal: the operation, each fd's secret and websocket path, and a scope that ends the command when
 * it closes, whether anybody connected or not.
 *
 * @internal
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { ExitStatus, Session, SessionOptions } from "../Exec.js"
import type { LxdClient } from "../LxdClient.js"
import type { LxdError } from "../LxdError.js"
import type { LxdWebSocket } from "../LxdTransport.js"
import { exitOf, prepare, ptyFields } from "./exec.js"
import { splitUrl } from "./path.js"

/**
 * Starts the exec (`wait-for-websocket`) and hands out its websockets. When the scope closes before the command
 * ended, every fd not connected through `connect` is connected here (control first) and closed: LXD then kills
 * the command (or, if it never started, ends the operation) instead of leaving it waiting 5 seconds for a
 * client; then the engine waits (bounded) for the operation to end, as for every exec.
 *
 * @internal
 */
export const session = (
  client: LxdClient.Service,
  instance: string,
  command: ReadonlyArray<string>,
  options: SessionOptions
): Effect.Effect<Session, LxdError, Scope.Scope> =>
  Effect.gen(function*() {
    const interactive = options.interactive !== false
    const extra = interactive ? yield* ptyFields(client, options) : { interactive: false }
    const { fds, handle, open } = yield* prepare(client, instance, command, options, extra)
    const { path, query } = splitUrl(handle.url)
    const handedOut = Object.fromEntries(
      Object.entries(fds).map(([fd, secret]) => [fd, {
        secret,
        path: `/1.0${path}/websocket?${new URLSearchParams({ ...query, secret }).toString()}`
      }])
    )
    const connected = new Set<string>()
    let ended = false
    const finished = yield* Deferred.make<ExitStatus, LxdError>()
    yield* Effect.addFinalizer(() =>
      ended ? Effect.void : Effect.scoped(Effect.gen(function*() {
        const order = ["control", ...Object.keys(fds).filter((fd) => fd !== "control").sort()]
        const claimed: Array<LxdWebSocket> = []
        for (const fd of order) {
          if (connected.has(fd)) continue
          const socket = yield* Effect.option(Effect.timeout(open(fd), "2 seconds"))
          if (socket._tag === "Some") claimed.push(socket.value)
        }
        for (const socket of claimed) yield* socket.close()
      }))
    )
    yield* Effect.forkScoped(
      Deferred.complete(finished, Effect.tap(exitOf(handle.wait()), () => Effect.sync(() => (ended = true))))
    )
    return {
      operationId: handle.id,
      interactive,
      fds: handedOut,
      connect: (fd) => Effect.tap(open(fd), () => Effect.sync(() => connected.add(fd))),
      exit: Deferred.await(finished)
    } satisfies Session
  })

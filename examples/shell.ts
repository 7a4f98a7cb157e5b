/**
 * A shell in a container from your terminal, like `lxc exec c1 -- sh`: raw mode, window size kept in sync on
 * SIGWINCH, the command's exit status as ours.
 *
 *   npx tsx examples/shell.ts c1            # an existing, running container
 *   npx tsx examples/shell.ts               # a throwaway busybox container, deleted on exit
 */
import { Exec, Lxd } from "@effect-lxd/core"
import { NodeLxdTransport } from "@effect-lxd/node"
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer, Stream } from "effect"
import { containerFor } from "./backend.js"

const given = process.argv[2]

const container = containerFor(given, "shell")

const program = Effect.gen(function*() {
  const name = yield* container
  const exec = yield* Exec.Exec
  const tty = process.stdin.isTTY === true
  const pty = yield* exec.pty(name, ["sh"], {
    width: process.stdout.columns ?? 80,
    height: process.stdout.rows ?? 24,
    environment: { TERM: process.env["TERM"] ?? "xterm" }
  })
  // our terminal in raw mode for the session, restored whatever happens
  if (tty) {
    yield* Effect.acquireRelease(
      Effect.sync(() => process.stdin.setRawMode(true)),
      () => Effect.sync(() => process.stdin.setRawMode(false))
    )
  }
  const onResize = () => Effect.runFork(Effect.ignore(pty.resize(process.stdout.columns, process.stdout.rows)))
  yield* Effect.acquireRelease(
    Effect.sync(() => process.on("SIGWINCH", onResize)),
    () => Effect.sync(() => process.off("SIGWINCH", onResize))
  )

  const input = Stream.fromAsyncIterable(process.stdin as AsyncIterable<Buffer>, () => undefined).pipe(
    Stream.runForEach((chunk) => pty.write(chunk)),
    Effect.ignore
  )
  const output = Stream.runForEach(pty.output, (chunk) => Effect.sync(() => process.stdout.write(chunk)))
  yield* Effect.forkScoped(input)
  const outputFiber = yield* Effect.forkScoped(output)
  const exit = yield* pty.exit
  yield* outputFiber.await
  process.exitCode = exit.exitCode
})

program.pipe(
  Effect.scoped,
  Effect.provide(Lxd.layer.pipe(Layer.provide(NodeLxdTransport.layerUnixSocket()))),
  Effect.ensuring(Effect.sync(() => process.stdin.destroy())),
  NodeRuntime.runMain
)

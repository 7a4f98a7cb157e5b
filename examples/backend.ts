/**
 * Where the examples run: the local LXD when one answers on its unix socket, else the embedded in-memory fake.
 * It says which.
 */
import { Instances, Lxd, Server } from "@effect-lxd/core"
import { NodeLxdTransport } from "@effect-lxd/node"
import { LxdFakeServer } from "@effect-lxd/testing"
import { Console, Effect, Layer } from "effect"

export const LocalOrFake: Layer.Layer<Lxd.Services> = Layer.unwrapEffect(
  Effect.gen(function*() {
    const socketPath = NodeLxdTransport.resolveSocketPath()
    const local = Lxd.layer.pipe(Layer.provide(NodeLxdTransport.layerUnixSocket({ socketPath })))
    const reachable = yield* Effect.flatMap(Server.Server, (server) => server.info).pipe(
      Effect.provide(local),
      Effect.timeout("3 seconds"),
      Effect.isSuccess
    )
    if (reachable) {
      yield* Console.log(`Backend: the local LXD at ${socketPath}`)
      return local
    }
    yield* Console.log(`Backend: the embedded fake LXD (no LXD answered at ${socketPath})`)
    return Lxd.layer.pipe(Layer.provide(LxdFakeServer.layer()))
  })
)

/** The image examples launch: `$LXD_EXAMPLE_IMAGE`, or the `busybox` alias (the lab's and the fake's). */
export const image = process.env["LXD_EXAMPLE_IMAGE"] ?? "busybox"

/**
 * The container an example works in: `given` (an existing, running one), else a throwaway ephemeral busybox
 * container named `<prefix>-…`, started now and stopped (so deleted) when the scope closes.
 */
export const containerFor = (given: string | undefined, prefix: string) =>
  given !== undefined ?
    Effect.succeed(given) :
    Effect.flatMap(Instances.Instances, (instances) =>
      Effect.acquireRelease(
        Effect.tap(
          instances.create({
            name: `${prefix}-${Date.now().toString(36)}`,
            source: { type: "image", alias: image },
            ephemeral: true
          }),
          (name) => instances.start(name)
        ),
        (name) => Effect.ignore(instances.stop(name, { force: true }))
      ))

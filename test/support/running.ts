/**
 * A running instance for one integration test file: launched from the lab's image before its tests, stopped
 * and deleted after them.
 */
import { LxdClient } from "@effect-lxd/core"
import { Effect, type Layer } from "effect"

const run = (
  layer: Layer.Layer<LxdClient.LxdClient, unknown>,
  effect: (c: LxdClient.LxdClient.Service) => Effect.Effect<unknown, unknown>
) =>
  Effect.runPromise(
    Effect.flatMap(LxdClient.LxdClient, effect).pipe(Effect.provide(layer)) as Effect.Effect<unknown>
  )

/** `launch` for `beforeAll`, `remove` for `afterAll`, through `layer` (the unix socket). */
export const runningInstance = (layer: Layer.Layer<LxdClient.LxdClient, unknown>, name: string, image: string) => ({
  launch: () =>
    run(layer, (c) =>
      Effect.all([
        c.run({ method: "POST", path: "/instances", body: { name, source: { type: "image", alias: image } } }),
        c.run({ method: "PUT", path: `/instances/${name}/state`, body: { action: "start" } })
      ], { concurrency: 1 })),
  remove: () =>
    run(layer, (c) =>
      Effect.all([
        c.run({ method: "PUT", path: `/instances/${name}/state`, body: { action: "stop", force: true } }),
        c.run({ method: "DELETE", path: `/instances/${name}` })
      ], { concurrency: 1 }))
})

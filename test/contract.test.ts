/**
 * The contract suite, run twice: against the lab's real LXD and against the in-memory fake.
 */
import { Lxd, LxdClient } from "@effect-lxd/core"
import type { LxdTransport } from "@effect-lxd/core/LxdTransport"
import { NodeLxdTransport } from "@effect-lxd/node"
import { LxdFakeServer } from "@effect-lxd/testing"
import { afterAll, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { collectionScenarios } from "./contract/collections.js"
import { execScenarios } from "./contract/exec.js"
import { fileScenarios } from "./contract/files.js"
import { pairScenarios, urlImportScenarios } from "./contract/imageImport.js"
import { imageScenarios } from "./contract/images.js"
import { instanceScenarios } from "./contract/instances.js"
import { networkScenarios } from "./contract/networks.js"
import { scenarios as core } from "./contract/scenarios.js"
import { storageScenarios } from "./contract/storage.js"
import { lab, lab2 } from "./lab/lab.js"

const info = lab()
const scenarios = [
  ...core,
  ...instanceScenarios,
  ...execScenarios,
  ...fileScenarios,
  ...collectionScenarios,
  ...networkScenarios,
  ...storageScenarios,
  ...imageScenarios,
  ...urlImportScenarios
]

const unix = (socketPath: string) => NodeLxdTransport.layerUnixSocket({ socketPath })

/** Two fakes that reach each other, as the lab's two daemons do: the source's engine and the target's. */
const twoFakes = Effect.gen(function*() {
  const remotes: Record<string, LxdTransport.Service> = {}
  const source = yield* LxdClient.connect(LxdFakeServer.layer({ address: "127.0.0.1:18443", remotes }))
  const target = yield* LxdClient.connect(LxdFakeServer.layer({ address: "127.0.0.1:18444", remotes }))
  remotes["https://127.0.0.1:18443"] = source.transport
  remotes["https://127.0.0.1:18444"] = target.transport
  return { source, target }
})

const backends = [
  {
    name: "lxd",
    layer: () => Lxd.layer.pipe(Layer.provide(unix(info.socket))),
    image: info.image,
    pair: Effect.all({ source: LxdClient.connect(unix(info.socket)), target: LxdClient.connect(unix(lab2().socket)) })
  },
  {
    name: "fake",
    layer: () => Lxd.layer.pipe(Layer.provide(LxdFakeServer.layer())),
    image: "busybox",
    pair: twoFakes
  }
] as const

const counts: Record<string, { passed: number; total: number }> = {}

for (const backend of backends) {
  describe(`contract against ${backend.name}`, () => {
    counts[backend.name] = { passed: 0, total: scenarios.length + pairScenarios.length }
    for (const scenario of scenarios) {
      it.live(scenario.name, () =>
        scenario.run({ image: backend.image }).pipe(
          Effect.tap(() => Effect.sync(() => counts[backend.name]!.passed++)),
          Effect.provide(backend.layer())
        ), 60_000)
    }
    // between two servers: the services are the target's, the source is the other server's engine
    for (const scenario of pairScenarios) {
      it.live(scenario.name, () =>
        Effect.scoped(Effect.gen(function*() {
          const { source, target } = yield* backend.pair
          yield* scenario.run({ source }).pipe(Effect.provide(Lxd.layerFromClient(target)))
          counts[backend.name]!.passed++
        })), 60_000)
    }
  })
}

afterAll(() => {
  const line = backends.map((b) =>
    `${counts[b.name]!.passed}/${counts[b.name]!.total} scenarios passed against ${b.name}`
  )
  process.stdout.write(`\ncontract: ${line.join(", ")}\n`)
})

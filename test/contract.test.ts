/**
 * The contract suite, run twice: against the lab's real LXD and against the in-memory fake.
 */
import { Lxd } from "@effect-lxd/core"
import { NodeLxdTransport } from "@effect-lxd/node"
import { LxdFakeServer } from "@effect-lxd/testing"
import { afterAll, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { collectionScenarios } from "./contract/collections.js"
import { execScenarios } from "./contract/exec.js"
import { fileScenarios } from "./contract/files.js"
import { imageScenarios } from "./contract/images.js"
import { instanceScenarios } from "./contract/instances.js"
import { networkScenarios } from "./contract/networks.js"
import { scenarios as core } from "./contract/scenarios.js"
import { storageScenarios } from "./contract/storage.js"
import { lab } from "./lab/lab.js"

const info = lab()
const scenarios = [
  ...core,
  ...instanceScenarios,
  ...execScenarios,
  ...fileScenarios,
  ...collectionScenarios,
  ...networkScenarios,
  ...storageScenarios,
  ...imageScenarios
]

const backends = [
  {
    name: "lxd",
    layer: () => Lxd.layer.pipe(Layer.provide(NodeLxdTransport.layerUnixSocket({ socketPath: info.socket }))),
    image: info.image
  },
  {
    name: "fake",
    layer: () => Lxd.layer.pipe(Layer.provide(LxdFakeServer.layer())),
    image: "busybox"
  }
] as const

const counts: Record<string, { passed: number; total: number }> = {}

for (const backend of backends) {
  describe(`contract against ${backend.name}`, () => {
    counts[backend.name] = { passed: 0, total: scenarios.length }
    for (const scenario of scenarios) {
      it.live(scenario.name, () =>
        scenario.run({ image: backend.image }).pipe(
          Effect.tap(() => Effect.sync(() => counts[backend.name]!.passed++)),
          Effect.provide(backend.layer())
        ), 60_000)
    }
  })
}

afterAll(() => {
  const line = backends.map((b) =>
    `${counts[b.name]!.passed}/${counts[b.name]!.total} scenarios passed against ${b.name}`
  )
  process.stdout.write(`\ncontract: ${line.join(", ")}\n`)
})

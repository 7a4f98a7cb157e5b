/**
 * Instances service scenarios for the contract suite: what users call, on both backends.
 */
import { Instances } from "@effect-lxd/core"
import { Effect } from "effect"
import { expect } from "vitest"
import type { Scenario } from "./scenarios.js"

const cleanup = (name: string) =>
  Effect.flatMap(Instances.Instances, (i) => Effect.ignore(i.delete(name, { force: true })))

export const instanceScenarios: ReadonlyArray<Scenario> = [
  {
    name: "Instances: server-named create keeps config and description; list levels; stale ETag refused",
    run: ({ image }) =>
      Effect.gen(function*() {
        const instances = yield* Instances.Instances
        const name = yield* instances.create({
          source: { type: "image", alias: image },
          description: "named by the server",
          config: { "limits.cpu": "1" }
        })
        yield* Effect.gen(function*() {
          expect(name.length).toBeGreaterThan(0)
          const { value: instance, etag } = yield* instances.getWithEtag(name)
          expect(instance.description).toBe("named by the server")
          expect(instance.config["limits.cpu"]).toBe("1")
          expect(instance.status).toBe("Stopped")
          expect(yield* instances.listNames()).toContain(name)
          expect((yield* instances.list()).map((i) => i.name)).toContain(name)
          const full = (yield* instances.listFull()).find((i) => i.name === name)
          expect(full?.state?.status).toBe("Stopped")
          yield* instances.update(name, { config: { "user.k": "v" } }, { etag })
          const stale = yield* Effect.flip(instances.update(name, { config: { "user.k": "w" } }, { etag }))
          expect(stale._tag).toBe("PreconditionFailed")
          const after = yield* instances.get(name)
          expect(after.config["user.k"]).toBe("v")
          expect(after.description).toBe("named by the server") // PATCH keeps it: the client sends it back
        }).pipe(Effect.ensuring(cleanup(name)))
      })
  },
  {
    name: "Instances: snapshots create, list, rename, restore, delete",
    run: ({ image }) =>
      Effect.gen(function*() {
        const instances = yield* Instances.Instances
        const name = "ct-snaps"
        yield* instances.create({ name, source: { type: "image", alias: image }, config: { "user.v": "1" } })
        yield* Effect.gen(function*() {
          yield* instances.snapshots.create(name, { name: "s1" })
          yield* instances.snapshots.create(name, { name: "s2" })
          expect([...(yield* instances.snapshots.listNames(name))].sort()).toEqual(["s1", "s2"])
          yield* instances.snapshots.rename(name, "s2", "s3")
          expect([...(yield* instances.snapshots.listNames(name))].sort()).toEqual(["s1", "s3"])
          yield* instances.update(name, { config: { "user.v": "2" } })
          yield* instances.snapshots.restore(name, "s1")
          expect((yield* instances.get(name)).config["user.v"]).toBe("1")
          yield* instances.snapshots.delete(name, "s1")
          yield* instances.snapshots.delete(name, "s3")
          expect(yield* instances.snapshots.listNames(name)).toEqual([])
          // 5.0.2 on a stopped instance; a running one gets "… CRIU isn't installed" (test/instances.test.ts)
          const stateful = yield* Effect.flip(instances.snapshots.create(name, { name: "live", stateful: true }))
          expect(stateful._tag).toBe("OperationFailed")
          expect(stateful.message).toBe("Unable to create a stateful snapshot. The instance isn't running")
        }).pipe(Effect.ensuring(cleanup(name)))
      })
  },
  {
    name: "Instances: ephemeral instances disappear when stopped; waitForStatus follows events",
    run: ({ image }) =>
      Effect.gen(function*() {
        const instances = yield* Instances.Instances
        const name = "ct-eph"
        yield* instances.create({ name, source: { type: "image", alias: image }, ephemeral: true })
        yield* Effect.gen(function*() {
          yield* instances.start(name)
          const state = yield* instances.waitForStatus(name, "Running", { timeout: "10 seconds" })
          expect(state.status).toBe("Running")
          yield* instances.stop(name, { force: true })
          const gone = yield* Effect.repeat(instances.exists(name), { until: (e) => !e, times: 50 })
          expect(gone).toBe(false)
        }).pipe(Effect.ensuring(cleanup(name)))
      })
  }
]

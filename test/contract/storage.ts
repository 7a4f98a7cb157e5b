/**
 * Storage for the contract suite: pools, custom volumes, their snapshots and backups, copies and moves between
 * pools, on both backends (the fake serves them from the same specs as the client).
 */
import { StoragePools, StorageVolumes } from "@effect-lxd/core"
import { Chunk, Effect, Stream } from "effect"
import { expect } from "vitest"
import type { Scenario } from "./scenarios.js"

export const storageScenarios: ReadonlyArray<Scenario> = [
  {
    name: "storage: pools and volumes, snapshots snap0/snap1 and a named one, backup export and import, copy, move",
    run: () =>
      Effect.gen(function*() {
        const pools = yield* StoragePools.StoragePools
        const v = yield* StorageVolumes.StorageVolumes
        const cleanup = Effect.all([
          ...["ct-vol", "ct-vol-imp"].map((n) => Effect.ignore(v.delete("default", "custom", n))),
          ...["ct-vol-copy", "ct-vol-moved"].map((n) => Effect.ignore(v.delete("ct-stpool", "custom", n))),
          Effect.ignore(pools.delete("ct-stpool"))
        ])
        yield* Effect.ensuring(
          Effect.gen(function*() {
            expect((yield* pools.get("default")).driver).toBe("dir")
            yield* pools.create({ name: "ct-stpool", driver: "dir" })
            expect(yield* pools.listNames()).toContain("ct-stpool")
            const resources = yield* pools.resources("ct-stpool")
            expect(resources.space.total).toBeGreaterThan(0)
            expect((yield* Effect.flip(pools.create({ name: "ct-stpool", driver: "dir" })))._tag).toMatch(
              /Conflict|LxdApiError|BadRequest/
            )

            expect(yield* v.create("default", "custom", { name: "ct-vol", config: {} })).toBe("ct-vol")
            const { etag } = yield* v.getWithEtag("default", "custom", "ct-vol")
            // 5.0.2's volume ETag covers the config, not the description: change both
            yield* v.update("default", "custom", "ct-vol", { description: "changed", config: { "user.a": "1" } }, {
              etag
            })
            const stale = yield* Effect.flip(v.update("default", "custom", "ct-vol", { description: "x" }, { etag }))
            expect(stale._tag).toBe("PreconditionFailed")
            expect((yield* v.get("default", "custom", "ct-vol")).description).toBe("changed")

            const s = v.snapshots
            expect(yield* s.create("default", "custom", "ct-vol")).toBe("snap0")
            expect(yield* s.create("default", "custom", "ct-vol")).toBe("snap1")
            yield* s.create("default", "custom", "ct-vol", { name: "named", expires_at: "2030-01-01T00:00:00Z" })
            expect((yield* s.list("default", "custom", "ct-vol")).map((x) => x.name).sort()).toEqual([
              "named",
              "snap0",
              "snap1"
            ])
            expect(yield* v.listNames("default", "custom")).not.toContain("snap0")
            yield* v.restore("default", "custom", "ct-vol", "snap0")
            yield* s.delete("default", "custom", "ct-vol", "snap1")
            expect(yield* s.exists("default", "custom", "ct-vol", "snap1")).toBe(false)
            expect((yield* Effect.flip(s.get("default", "custom", "ct-vol", "snap1")))._tag).toBe("NotFound")
            yield* s.rename("default", "custom", "ct-vol", "named", "renamed")
            expect([...(yield* s.listNames("default", "custom", "ct-vol"))].sort()).toEqual(["renamed", "snap0"])

            const backup = yield* v.backups.create("default", "custom", "ct-vol", {})
            expect(backup).toBe("backup0")
            const tarball = yield* Stream.runCollect(v.backups.export("default", "custom", "ct-vol", backup))
            expect(Chunk.reduce(tarball, 0, (n, c) => n + c.length)).toBeGreaterThan(0)
            yield* v.importBackup("default", Stream.fromChunk(tarball), { name: "ct-vol-imp" })
            expect([...(yield* s.listNames("default", "custom", "ct-vol-imp"))].sort()).toEqual(["renamed", "snap0"])

            yield* v.copy("default", "ct-vol", { targetPool: "ct-stpool", targetName: "ct-vol-copy", volumeOnly: true })
            expect(yield* s.listNames("ct-stpool", "custom", "ct-vol-copy")).toEqual([])
            yield* v.move("default", "ct-vol", { pool: "ct-stpool", name: "ct-vol-moved" })
            expect(yield* v.exists("default", "custom", "ct-vol")).toBe(false)
            expect((yield* v.listAll("ct-stpool")).map((x) => x.name).sort()).toEqual(["ct-vol-copy", "ct-vol-moved"])
            expect((yield* Effect.flip(pools.delete("ct-stpool")))._tag).toBe("BadRequest")
          }),
          cleanup
        )
      })
  }
]

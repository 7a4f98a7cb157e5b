/**
 * Instances service scenarios for the contract suite: what users call, on both backends.
 */
import { Events, Instances, LxdClient, Projects, StoragePools } from "@effect-lxd/core"
import { Chunk, DateTime, Effect, Fiber, Option, Stream } from "effect"
import { expect } from "vitest"
import type { Scenario } from "./scenarios.js"

const cleanup = (name: string) =>
  Effect.flatMap(Instances.Instances, (i) => Effect.ignore(i.delete(name, { force: true })))

const expiry = (s: Instances.InstanceSnapshot) =>
  Option.getOrElse(Option.map(Option.fromNullable(s.expires_at), DateTime.formatIso), () => "none")

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
  },
  {
    name: "Instances: snapshot expiry by PATCH and modify (ETag checked, left-out kept); metadata PATCH merges",
    run: ({ image }) =>
      Effect.gen(function*() {
        const instances = yield* Instances.Instances
        const s = instances.snapshots
        const name = "ct-patch"
        yield* instances.create({ name, source: { type: "image", alias: image } })
        yield* Effect.gen(function*() {
          yield* s.create(name, { name: "s0" })
          const { etag } = yield* s.getWithEtag(name, "s0")
          yield* s.update(name, "s0", { expires_at: new Date("2030-01-01T00:00:00Z") }, { etag })
          expect(expiry(yield* s.get(name, "s0"))).toBe("2030-01-01T00:00:00.000Z")
          const stale = yield* Effect.flip(s.update(name, "s0", { expires_at: "2031-01-01T00:00:00Z" }, { etag }))
          expect(stale._tag).toBe("PreconditionFailed")
          yield* s.update(name, "s0", {}) // 5.0.2 keeps what a PATCH leaves out
          expect(expiry(yield* s.get(name, "s0"))).toBe("2030-01-01T00:00:00.000Z")
          const garbage = yield* Effect.flip(s.update(name, "s0", { expires_at: "garbage" }))
          expect(garbage._tag).toBe("BadRequest")
          yield* s.modify(name, "s0", (current) => {
            expect(current.expires_at).toBe("2030-01-01T00:00:00Z")
            return { ...current, expires_at: DateTime.unsafeMake("2032-06-01T00:00:00Z") }
          })
          expect(expiry(yield* s.get(name, "s0"))).toBe("2032-06-01T00:00:00.000Z")
          yield* s.update(name, "s0", { expires_at: "0001-01-01T00:00:00Z" }) // LXD's "never": the expiry is gone
          expect(expiry(yield* s.get(name, "s0"))).toBe("0001-01-01T00:00:00.000Z")

          const before = yield* instances.metadata.getWithEtag(name)
          yield* instances.metadata.update(name, { properties: { extra: "1" } }, { etag: before.etag })
          const merged = yield* instances.metadata.get(name)
          expect(merged.properties).toEqual({ ...before.value.properties, extra: "1" }) // merged key by key
          expect(merged.architecture).toBe(before.value.architecture)
          expect(merged.creation_date).toBe(before.value.creation_date)
          const staleMeta = yield* Effect.flip(
            instances.metadata.update(name, { expiry_date: 5 }, { etag: before.etag })
          )
          expect(staleMeta._tag).toBe("PreconditionFailed")
          yield* instances.metadata.update(name, { expiry_date: 5, properties: { extra: "" } })
          const after = yield* instances.metadata.get(name)
          expect(after.expiry_date).toBe(5)
          expect(after.properties["extra"]).toBe("") // "" is a value here, not a removal
        }).pipe(Effect.ensuring(cleanup(name)))
      })
  },
  {
    name: "Instances: move inside the server to another pool and another project; running, taken, unknown refused",
    run: ({ image }) =>
      Effect.gen(function*() {
        const instances = yield* Instances.Instances
        const pools = yield* StoragePools.StoragePools
        const projects = yield* Projects.Projects
        const name = "ct-move"
        const inProject = LxdClient.withProject("ct-mvproj")
        const cleanupAll = Effect.all([
          cleanup(name),
          cleanup("ct-move-b"),
          inProject(cleanup("ct-moved")),
          Effect.ignore(projects.delete("ct-mvproj")),
          Effect.ignore(pools.delete("ct-mvpool"))
        ])
        yield* Effect.ensuring(
          Effect.gen(function*() {
            yield* pools.create({ name: "ct-mvpool", driver: "dir" })
            yield* projects.create({
              name: "ct-mvproj",
              config: { "features.images": "false", "features.profiles": "false" }
            })
            yield* instances.create({ name, source: { type: "image", alias: image } })
            yield* instances.create({ name: "ct-move-b", source: { type: "image", alias: image } })
            yield* instances.snapshots.create(name, { name: "s0" })

            yield* instances.start(name)
            const running = yield* Effect.flip(instances.move(name, { pool: "ct-mvpool" }))
            expect(running._tag).toBe("OperationFailed")
            expect(running.message).toBe("Unable to perform container live migration. CRIU isn't installed")
            const stateless = yield* Effect.flip(instances.move(name, { pool: "ct-mvpool", live: false }))
            expect(stateless.message).toBe("Instance must be stopped to move between pools statelessly")
            const runningProject = yield* Effect.flip(instances.move(name, { project: "ct-mvproj" }))
            expect(runningProject._tag).toBe("OperationFailed")
            yield* instances.stop(name, { force: true })

            const noPool = yield* Effect.flip(instances.move(name, { pool: "ct-nopool" }))
            expect(noPool._tag).toBe("OperationFailed")
            expect(noPool.message).toMatch(/Storage pool not found$/)
            const taken = yield* Effect.flip(instances.move(name, { pool: "ct-mvpool", newName: "ct-move-b" }))
            expect(taken.message).toMatch(/This "instances" entry already exists$/)
            const sameProject = yield* Effect.flip(instances.move(name, { project: "default" }))
            expect(sameProject.message).toMatch(/This "instances" entry already exists$/)
            const noProject = yield* Effect.flip(instances.move(name, { project: "ct-noproj" }))
            expect(noProject.message).toMatch(/Project not found$/)
            expect((yield* instances.get(name)).devices).toEqual({}) // its root disk is the profile's

            yield* instances.move(name, { pool: "ct-mvpool" })
            const onPool = yield* instances.get(name)
            expect(onPool.devices["root"]).toEqual({ type: "disk", path: "/", pool: "ct-mvpool" }) // pinned
            expect(yield* instances.snapshots.listNames(name)).toEqual(["s0"])

            yield* instances.move(name, { project: "ct-mvproj", newName: "ct-moved" })
            expect(yield* instances.exists(name)).toBe(false)
            const there = yield* inProject(instances.get("ct-moved"))
            expect(there.project).toBe("ct-mvproj")
            expect(there.devices["root"]?.["pool"]).toBe("ct-mvpool")
            expect(yield* inProject(instances.snapshots.listNames("ct-moved"))).toEqual(["s0"])
            yield* inProject(instances.move("ct-moved", { project: "default", newName: name }))
            expect((yield* instances.get(name)).project).toBe("default")
          }),
          cleanupAll
        )
      })
  },
  {
    name: "Instances: a pool move's events name a temporary instance; a project move's the target and the source",
    run: ({ image }) =>
      Effect.scoped(Effect.gen(function*() {
        const instances = yield* Instances.Instances
        const pools = yield* StoragePools.StoragePools
        const projects = yield* Projects.Projects
        const name = "ct-mvev"
        yield* Effect.addFinalizer(() =>
          Effect.all([
            cleanup(name),
            LxdClient.withProject(cleanup(name), "ct-mvevproj"),
            Effect.ignore(projects.delete("ct-mvevproj")),
            Effect.ignore(pools.delete("ct-mvevpool"))
          ])
        )
        yield* pools.create({ name: "ct-mvevpool", driver: "dir" })
        yield* projects.create({ name: "ct-mvevproj", config: { "features.images": "false" } })
        yield* instances.create({ name, source: { type: "image", alias: image } })
        const stream = yield* (yield* Events.Events).subscribe({ types: ["lifecycle"], allProjects: true })
        const fiber = yield* Effect.fork(Stream.runCollect(
          Events.lifecycle(stream).pipe(
            Stream.filter((e) => /^\/1\.0\/instances\/(ct-mvev|lxd-move-of-)/.test(e.metadata.source)),
            Stream.take(5)
          )
        ))
        yield* instances.move(name, { pool: "ct-mvevpool" })
        yield* instances.move(name, { project: "ct-mvevproj" })
        const got = Chunk.toReadonlyArray(yield* Fiber.join(fiber).pipe(Effect.timeout("10 seconds")))
        const temporary = got[0]?.metadata.source.replace("/1.0/instances/", "") ?? ""
        expect(temporary).toMatch(/^lxd-move-of-[0-9a-f-]{36}$/)
        expect(got.map((e) => [e.metadata.action, e.metadata.source, e.metadata.context, e.project])).toEqual([
          [
            "instance-created",
            `/1.0/instances/${temporary}`,
            { "storage-pool": "ct-mvevpool", type: "container" },
            "default"
          ],
          ["instance-deleted", `/1.0/instances/${name}`, {}, "default"],
          ["instance-renamed", `/1.0/instances/${name}`, { old_name: temporary }, "default"],
          [
            "instance-created",
            `/1.0/instances/${name}?project=ct-mvevproj`,
            { "storage-pool": "ct-mvevpool", type: "container" },
            "ct-mvevproj"
          ],
          ["instance-deleted", `/1.0/instances/${name}`, {}, "default"]
        ])
      }))
  }
]

/**
 * Storage against the lab's two real LXD 5.0.2 daemons: pylxd's storage scenarios, content checked through an
 * instance each volume is attached to, copies between pools and between the daemons (pull, push, relay), a
 * moved volume gone from its source, a backup exported and imported, an interrupted copy leaving nothing running.
 */
import { Exec, Lxd, LxdClient, Migration, Operations, StoragePools, StorageVolumes } from "@effect-lxd/core"
import { NodeLxdTransport } from "@effect-lxd/node"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Fiber, Stream } from "effect"
import { createHash } from "node:crypto"
import { lab, lab2 } from "./lab/lab.js"

const a = lab()
const b = lab2()

const connect = (socketPath: string) => LxdClient.connect(NodeLxdTransport.layerUnixSocket({ socketPath }))

/** The storage services (and the others) of one engine. */
const on = <A, E>(
  client: LxdClient.LxdClient.Service,
  use: Effect.Effect<A, E, Lxd.Services>
): Effect.Effect<A, E> => Effect.provide(use, Lxd.layerFromClient(client))

/** `use` with the services of the first lab daemon. */
const onA = <A, E>(use: Effect.Effect<A, E, Lxd.Services>) =>
  Effect.scoped(Effect.flatMap(connect(a.socket), (client) => on(client, use)))

const volumes = StorageVolumes.StorageVolumes
const pools = StoragePools.StoragePools

/** An extra `dir` pool (LXD picks its folder below the lab's own) for the duration of `use`. */
const withPool = <A, E, R>(name: string, use: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.flatMap(pools, (p) => p.create({ name, driver: "dir", description: "storage tests" })),
    () => use,
    () => Effect.ignore(Effect.flatMap(pools, (p) => p.delete(name)))
  )

/** Runs `sh -c script` in a running instance; fails on a non-zero exit. */
const sh = (instance: string, script: string) =>
  Effect.flatMap(Exec.Exec, (e) => e.runText(instance, ["sh", "-c", script])).pipe(
    Effect.tap((r) => r.exitCode === 0 ? Effect.void : Effect.dieMessage(`${script}: ${r.stderr}`)),
    Effect.map((r) => r.stdout.trim())
  )

/**
 * A running container with the custom volume `pool/volume` attached at `/mnt/v`, for `use`; the container is
 * deleted afterwards (the volume is kept).
 */
const withMounted = <A, E>(
  instance: string,
  pool: string,
  volume: string,
  use: Effect.Effect<A, E, Lxd.Services>
) =>
  Effect.acquireUseRelease(
    Effect.gen(function*() {
      const c = yield* LxdClient.LxdClient
      yield* c.run({
        method: "POST",
        path: "/instances",
        body: { name: instance, source: { type: "image", alias: a.image } }
      })
      yield* (yield* volumes).attach(pool, volume, instance, { path: "/mnt/v" })
      yield* c.run({ method: "PUT", path: `/instances/${instance}/state`, body: { action: "start" } })
    }),
    () => use,
    () =>
      Effect.gen(function*() {
        const c = yield* LxdClient.LxdClient
        yield* Effect.ignore(
          c.run({ method: "PUT", path: `/instances/${instance}/state`, body: { action: "stop", force: true } })
        )
        yield* Effect.ignore(c.run({ method: "DELETE", path: `/instances/${instance}` }))
      })
  )

/** The operations still running. */
const running = Effect.flatMap(Operations.Operations, (o) => o.list()).pipe(
  Effect.map((ops) => ops.filter((op) => op.status_code < 200).map((op) => op.description))
)

const deleteVolume = (pool: string, name: string) =>
  Effect.ignore(Effect.flatMap(volumes, (v) => v.delete(pool, "custom", name)))

describe("storage pools", () => {
  it.live("pylxd's pools scenario: get, all, create, save, put, patch, resources, delete", () =>
    onA(
      Effect.gen(function*() {
        const p = yield* pools
        const def = yield* p.get("default")
        expect(def).toMatchObject({ name: "default", driver: "dir", status: "Created", locations: ["none"] })
        expect(def.used_by.map((u) => u.url)).toContain("/1.0/profiles/default")
        yield* p.create({ name: "st-pools", driver: "dir", description: "one", config: {} })
        yield* Effect.ensuring(
          Effect.gen(function*() {
            expect((yield* p.list()).map((x) => x.name)).toEqual(expect.arrayContaining(["default", "st-pools"]))
            expect(yield* p.listNames()).toEqual(expect.arrayContaining(["default", "st-pools"]))
            // save(): the whole writable part with the ETag
            yield* p.modify("st-pools", (x) => ({ ...x, config: { ...x.config, "rsync.bwlimit": "10MiB" } }))
            const saved = yield* p.getWithEtag("st-pools")
            expect(saved.value.config["rsync.bwlimit"]).toBe("10MiB")
            expect(saved.value.config["source"]).toContain("st-pools")
            // put: left-out keys go (source stays: LXD keeps it)
            yield* p.replace("st-pools", { description: "put", config: { source: saved.value.config["source"]! } })
            expect((yield* p.get("st-pools")).config["rsync.bwlimit"]).toBeUndefined()
            yield* p.update("st-pools", { description: "patched" })
            expect((yield* p.get("st-pools")).description).toBe("patched")
            // a config-only update keeps the description (5.0.2's PATCH would reset it: update PUTs a merge)
            yield* p.update("st-pools", { config: { "rsync.bwlimit": "1MiB" } })
            expect((yield* p.get("st-pools")).description).toBe("patched")
            // 5.0.2 sends no ETag with a pool, yet checks an If-Match it is sent
            expect(saved.etag).toBeUndefined()
            const stale = yield* Effect.flip(p.update("st-pools", { description: "x" }, { etag: "\"0\"" }))
            expect(stale._tag).toBe("PreconditionFailed")
            const r = yield* p.resources("st-pools")
            expect(r.space.total).toBeGreaterThan(0)
            expect(r.space.used).toBeGreaterThan(0)
            expect(r.inodes.total).toBeGreaterThan(0)
            expect((yield* Effect.flip(p.delete("default")))._tag).toBe("BadRequest")
          }),
          Effect.ignore(p.delete("st-pools"))
        )
        expect(yield* p.exists("st-pools")).toBe(false)
      })
    ))
})

describe("custom volumes and their snapshots", () => {
  it.live(
    "pylxd's volume and snapshot scenarios, content checked through an attached instance",
    () =>
      onA(
        Effect.gen(function*() {
          const v = yield* volumes
          expect(yield* v.create("default", "custom", { name: "st-v1", config: {} })).toBe("st-v1")
          yield* Effect.ensuring(
            Effect.gen(function*() {
              const got = yield* v.get("default", "custom", "st-v1")
              expect(got).toMatchObject({ name: "st-v1", type: "custom", content_type: "filesystem", used_by: [] })
              yield* withMounted(
                "st-snapc",
                "default",
                "st-v1",
                Effect.gen(function*() {
                  expect((yield* v.get("default", "custom", "st-v1")).used_by.map((u) => u.name)).toEqual([
                    "st-snapc"
                  ])
                  yield* sh("st-snapc", "echo first > /mnt/v/file")
                  const s = v.snapshots
                  expect(yield* s.create("default", "custom", "st-v1")).toBe("snap0")
                  yield* sh("st-snapc", "echo second > /mnt/v/file")
                  expect(yield* s.create("default", "custom", "st-v1")).toBe("snap1")
                  const named = yield* s.create("default", "custom", "st-v1", {
                    name: "named",
                    expires_at: "2030-01-01T00:00:00Z"
                  })
                  expect(named).toBe("named")
                  expect((yield* s.get("default", "custom", "st-v1", "named")).expires_at).toBe(
                    "2030-01-01T00:00:00Z"
                  )
                  const all = yield* s.list("default", "custom", "st-v1")
                  expect(all.map((x) => x.name).sort()).toEqual(["named", "snap0", "snap1"])
                  // the volume list holds the snapshots too: left out
                  expect(yield* v.listNames("default", "custom")).toEqual(["st-v1"])
                  // LXD refuses to restore a volume a running instance uses
                  const busy = yield* Effect.flip(v.restore("default", "custom", "st-v1", "snap0"))
                  expect(busy.message).toContain("Cannot restore custom volume used by running instances")
                  const c = yield* LxdClient.LxdClient
                  yield* c.run({
                    method: "PUT",
                    path: "/instances/st-snapc/state",
                    body: { action: "stop", force: true }
                  })
                  yield* v.restore("default", "custom", "st-v1", "snap0")
                  yield* c.run({ method: "PUT", path: "/instances/st-snapc/state", body: { action: "start" } })
                  expect(yield* sh("st-snapc", "cat /mnt/v/file")).toBe("first")
                  yield* s.delete("default", "custom", "st-v1", "snap1")
                  expect(yield* s.exists("default", "custom", "st-v1", "snap1")).toBe(false)
                  expect((yield* Effect.flip(s.get("default", "custom", "st-v1", "snap1")))._tag).toBe("NotFound")
                  yield* s.rename("default", "custom", "st-v1", "named", "renamed")
                  expect([...(yield* s.listNames("default", "custom", "st-v1"))].sort()).toEqual(["renamed", "snap0"])
                  yield* s.update("default", "custom", "st-v1", "renamed", { expires_at: "2031-01-01T00:00:00Z" })
                  expect((yield* s.get("default", "custom", "st-v1", "renamed")).expires_at).toBe(
                    "2031-01-01T00:00:00Z"
                  )
                  // detach: the instance's device goes, the volume stays
                  yield* v.detach("st-snapc", "st-v1")
                  expect((yield* v.get("default", "custom", "st-v1")).used_by).toEqual([])
                })
              )
            }),
            deleteVolume("default", "st-v1")
          )
          expect((yield* Effect.flip(v.get("default", "custom", "st-v1")))._tag).toBe("NotFound")
        })
      ),
    120_000
  )
})

describe("copies, moves and backups", () => {
  it.live(
    "between two pools: a copy holds the content; a moved volume is gone from its source",
    () =>
      onA(
        withPool(
          "st-pool2",
          Effect.gen(function*() {
            const v = yield* volumes
            yield* v.create("default", "custom", { name: "st-src", config: {} })
            yield* Effect.ensuring(
              Effect.gen(function*() {
                yield* withMounted("st-writer", "default", "st-src", sh("st-writer", "echo pools > /mnt/v/file"))
                expect(yield* v.copy("default", "st-src", { targetPool: "st-pool2", targetName: "st-copy" })).toBe(
                  "st-copy"
                )
                yield* withMounted(
                  "st-reader",
                  "st-pool2",
                  "st-copy",
                  Effect.flatMap(
                    sh("st-reader", "cat /mnt/v/file"),
                    (t) => Effect.sync(() => expect(t).toBe("pools"))
                  )
                )
                yield* v.move("default", "st-src", { pool: "st-pool2", name: "st-moved" })
                expect(yield* v.exists("default", "custom", "st-src")).toBe(false)
                expect(
                  (yield* v.listAll("st-pool2")).map((x) => x.name).sort()
                ).toEqual(["st-copy", "st-moved"])
              }),
              Effect.all([
                deleteVolume("default", "st-src"),
                deleteVolume("st-pool2", "st-copy"),
                deleteVolume("st-pool2", "st-moved")
              ])
            )
          })
        )
      ),
    120_000
  )

  it.live(
    "between the two daemons, pull, push and relay; move leaves nothing on the source",
    () =>
      Effect.scoped(Effect.gen(function*() {
        const source = yield* connect(a.socket)
        const target = yield* connect(b.socket)
        const cleanup = Effect.all([
          on(source, deleteVolume("default", "st-mig")),
          ...["st-pull", "st-push", "st-relay", "st-mig"].map((n) => on(target, deleteVolume("default", n)))
        ])
        yield* Effect.ensuring(
          Effect.gen(function*() {
            yield* on(
              source,
              Effect.gen(function*() {
                yield* (yield* volumes).create("default", "custom", { name: "st-mig", config: {} })
                yield* withMounted("st-migw", "default", "st-mig", sh("st-migw", "echo across > /mnt/v/file"))
                yield* (yield* volumes).snapshots.create("default", "custom", "st-mig", { name: "s0" })
              })
            )
            for (const mode of ["pull", "push", "relay"] as const) {
              const op = yield* Migration.copyVolume({
                source,
                target,
                pool: "default",
                name: "st-mig",
                targetName: `st-${mode}`,
                mode
              })
              expect(op.status).toBe("Success")
              yield* on(
                target,
                Effect.gen(function*() {
                  expect(yield* (yield* volumes).snapshots.listNames("default", "custom", `st-${mode}`)).toEqual(["s0"])
                  yield* withMounted(
                    `st-r${mode}`,
                    "default",
                    `st-${mode}`,
                    Effect.flatMap(
                      sh(`st-r${mode}`, "cat /mnt/v/file"),
                      (t) => Effect.sync(() => expect(t).toBe("across"))
                    )
                  )
                })
              )
            }
            yield* Migration.copyVolume({
              source,
              target,
              pool: "default",
              name: "st-mig",
              move: true,
              volumeOnly: true
            })
            expect(yield* on(source, Effect.flatMap(volumes, (v) => v.exists("default", "custom", "st-mig")))).toBe(
              false
            )
            expect(
              yield* on(target, Effect.flatMap(volumes, (v) => v.snapshots.listNames("default", "custom", "st-mig")))
            )
              .toEqual([])
            expect(yield* on(source, running)).toEqual([])
            expect(yield* on(target, running)).toEqual([])
          }),
          cleanup
        )
      })),
    180_000
  )

  it.live(
    "a backup exported and imported under a new name round-trips its content",
    () =>
      onA(
        Effect.gen(function*() {
          const v = yield* volumes
          yield* v.create("default", "custom", { name: "st-bk", config: {} })
          yield* Effect.ensuring(
            Effect.gen(function*() {
              yield* withMounted("st-bkw", "default", "st-bk", sh("st-bkw", "echo backed-up > /mnt/v/file"))
              yield* v.snapshots.create("default", "custom", "st-bk", { name: "s0" })
              const name = yield* v.backups.create("default", "custom", "st-bk", { compression_algorithm: "gzip" })
              expect(name).toBe("backup0")
              expect((yield* v.backups.get("default", "custom", "st-bk", name)).volume_only).toBe(false)
              const imported = yield* v.importBackup(
                "default",
                v.backups.export("default", "custom", "st-bk", name),
                {
                  name: "st-bk-imp"
                }
              )
              expect(imported).toBe("st-bk-imp")
              // the reused-buffer export gives the same bytes as the stream
              const viaStream = createHash("sha256")
              yield* Stream.runForEach(v.backups.export("default", "custom", "st-bk", name), (c) =>
                Effect.sync(() => viaStream.update(c)))
              const viaTo = createHash("sha256")
              yield* v.backups.exportTo("default", "custom", "st-bk", name, (c) =>
                Effect.sync(() => viaTo.update(c)))
              expect(viaTo.digest("hex")).toBe(viaStream.digest("hex"))
              expect(yield* v.snapshots.listNames("default", "custom", "st-bk-imp")).toEqual(["s0"])
              yield* withMounted(
                "st-bkr",
                "default",
                "st-bk-imp",
                Effect.flatMap(sh("st-bkr", "cat /mnt/v/file"), (t) => Effect.sync(() => expect(t).toBe("backed-up")))
              )
              yield* v.backups.rename("default", "custom", "st-bk", name, "kept")
              expect(yield* v.backups.listNames("default", "custom", "st-bk")).toEqual(["kept"])
              yield* v.backups.delete("default", "custom", "st-bk", "kept")
              expect(yield* v.backups.exists("default", "custom", "st-bk", "kept")).toBe(false)
            }),
            Effect.all([deleteVolume("default", "st-bk"), deleteVolume("default", "st-bk-imp")])
          )
        })
      ),
    120_000
  )

  it.live(
    "a copy between the daemons reports progress; an interrupted one leaves no operation running on either",
    () =>
      Effect.scoped(Effect.gen(function*() {
        const source = yield* connect(a.socket)
        const target = yield* connect(b.socket)
        yield* Effect.ensuring(
          Effect.gen(function*() {
            yield* on(
              source,
              Effect.gen(function*() {
                yield* (yield* volumes).create("default", "custom", { name: "st-big", config: {} })
                yield* withMounted(
                  "st-bigw",
                  "default",
                  "st-big",
                  sh("st-bigw", "dd if=/dev/urandom of=/mnt/v/big bs=1M count=192 2>/dev/null")
                )
              })
            )
            // a whole copy first, its progress stream read to the end: at least one update of the target's operation
            const updates = yield* Effect.scoped(Effect.gen(function*() {
              const handle = yield* Migration.copyVolumeOperation({
                source,
                target,
                pool: "default",
                name: "st-big",
                targetName: "st-big3"
              })
              const seen = yield* Stream.runCollect(handle.progress)
              yield* handle.wait()
              return Chunk.toReadonlyArray(seen)
            }))
            expect(updates.length).toBeGreaterThanOrEqual(1)
            expect(updates.every((o) => o.id === updates[0]!.id)).toBe(true)
            const fiber = yield* Effect.fork(
              Migration.copyVolume({ source, target, pool: "default", name: "st-big", targetName: "st-big2" })
            )
            yield* Effect.sleep("400 millis")
            const exit = yield* Fiber.interrupt(fiber)
            // it was still copying (192 MiB takes longer than 400 ms here)
            expect(Exit.isInterrupted(exit)).toBe(true)
            expect(yield* on(source, running)).toEqual([])
            expect(yield* on(target, running)).toEqual([])
          }),
          Effect.all([
            on(source, deleteVolume("default", "st-big")),
            on(target, deleteVolume("default", "st-big2")),
            on(target, deleteVolume("default", "st-big3"))
          ])
        )
      })),
    180_000
  )
})

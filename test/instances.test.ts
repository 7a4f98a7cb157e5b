/**
 * Instances against a real LXD 5.0.2 daemon (started by test/lab/globalSetup.ts): the whole lifecycle on busybox
 * containers. Every test uses its own names and deletes what it made, whatever happens.
 */
import { Containers, Events, Instances, Lxd, LxdClient, Operations, VirtualMachines } from "@effect-lxd/core"
import { NodeLxdTransport } from "@effect-lxd/node"
import * as HttpBody from "@effect/platform/HttpBody"
import { describe, expect, it } from "@effect/vitest"
import { DateTime, Effect, Exit, Fiber, Layer, Option, Schedule, Schema, Stream } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { lab } from "./lab/lab.js"

const info = lab()
const unix = Lxd.layer.pipe(Layer.provide(NodeLxdTransport.layerUnixSocket({ socketPath: info.socket })))

let counter = 0
/** A fresh instance name (letters, digits, dashes; starts with a letter). */
const unique = (prefix: string) =>
  `${prefix}-${Date.now().toString(36)}${(counter++).toString(36)}${crypto.randomBytes(2).toString("hex")}`

const busybox = { type: "image", alias: info.image } as const

/** Deletes instances (force), ignoring the ones that are already gone. */
const cleanup = (...names: ReadonlyArray<string>) =>
  Effect.flatMap(
    Instances.Instances,
    (instances) =>
      Effect.forEach(names, (name) => Effect.ignore(instances.delete(name, { force: true })), { discard: true })
  )

/** A file pushed through the raw engine (no files API yet); octet-stream or LXD writes an empty file. */
const pushFile = (instance: string, file: string, body: HttpBody.HttpBody) =>
  Effect.flatMap(
    LxdClient.LxdClient,
    (client) =>
      client.request({ method: "POST", path: `/instances/${instance}/files`, query: { path: file }, rawBody: body })
  )

const pullFile = (instance: string, file: string) =>
  Effect.flatMap(
    LxdClient.LxdClient,
    (client) =>
      client.requestRaw({ method: "GET", path: `/instances/${instance}/files`, query: { path: file } }).pipe(
        Effect.flatMap((r) => r.text),
        Effect.orDie
      )
  )

const text = (s: string) => HttpBody.uint8Array(new TextEncoder().encode(s), "application/octet-stream")

/** Operations the server still runs (status codes below 200). */
const runningOperations = Effect.flatMap(Operations.Operations, (ops) => ops.list()).pipe(
  Effect.map((ops) => ops.filter((o) => o.status_code < 200 && o.class === "task"))
)

/** Waits for the operation event of a task with this description to show up running; returns its id. */
const firstRunning = (stream: Stream.Stream<Events.LxdEvent, unknown>, description: string) =>
  Events.operations(stream).pipe(
    Stream.filter((e) => e.metadata.description === description && e.metadata.status_code === 103),
    Stream.map((e) => e.metadata.id),
    Stream.runHead,
    Effect.flatMap(Option.match({ onNone: () => Effect.dieMessage("no operation event"), onSome: Effect.succeed }))
  )

describe("lifecycle (pylxd's scenario)", () => {
  it.live("create with limits.cpu, read at every recursion, update, rename, start, freeze, stop, delete", () => {
    const name = unique("life")
    const renamed = `${name}-b`
    return Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const containers = yield* Containers.Containers
      const vms = yield* VirtualMachines.VirtualMachines
      const created = yield* instances.create({
        name,
        source: busybox,
        config: { "limits.cpu": "1" },
        ephemeral: false,
        description: "lifecycle"
      })
      expect(created).toBe(name)

      const got = yield* instances.get(name)
      expect(got.status).toBe("Stopped")
      expect(got.config["limits.cpu"]).toBe("1")
      expect(got.ephemeral).toBe(false)
      expect(got.description).toBe("lifecycle")
      expect(got.profiles).toEqual(["default"])
      expect(got.expanded_devices["root"]?.["type"]).toBe("disk")
      expect(yield* instances.exists(name)).toBe(true)

      expect(yield* instances.listNames()).toContain(name)
      expect((yield* instances.list()).find((i) => i.name === name)?.config["limits.cpu"]).toBe("1")
      const full = (yield* instances.listFull()).find((i) => i.name === name)
      expect(full?.state?.status).toBe("Stopped")
      expect(full?.snapshots).toEqual([])
      expect((yield* instances.getFull(name)).state?.status_code).toBe(102)
      // type filter (instance-type=) and LXD filter expressions
      expect((yield* containers.list()).map((i) => i.name)).toContain(name)
      expect(yield* containers.listNames()).toContain(name)
      expect(yield* vms.listNames()).not.toContain(name)
      expect(yield* vms.exists(name)).toBe(false)
      expect((yield* Effect.flip(vms.get(name)))._tag).toBe("NotFound")
      expect((yield* instances.list({ filter: `name eq ${name}` })).map((i) => i.name)).toEqual([name])
      expect(yield* instances.listNames({ filter: [`name eq ${name}`, "type eq container"] })).toEqual([name])
      expect(yield* instances.listNames({ filter: [`name eq ${name}`, "status eq Running"] })).toEqual([])
      expect((yield* instances.listNamesAllProjects())["default"]).toContain(name)
      expect((yield* instances.list({ allProjects: true })).some((i) => i.name === name)).toBe(true)

      // update (PATCH) keeps the description, 5.0.2 would have reset it
      yield* instances.update(name, { config: { "limits.cpu": "2", "user.note": "x" } })
      const updated = yield* instances.get(name)
      expect(updated.config["limits.cpu"]).toBe("2")
      expect(updated.config["user.note"]).toBe("x")
      expect(updated.description).toBe("lifecycle")

      yield* instances.rename(name, renamed)
      expect((yield* Effect.flip(instances.get(name)))._tag).toBe("NotFound")
      expect((yield* instances.get(renamed)).config["limits.cpu"]).toBe("2")

      // waitForStatus, subscribed before the start
      const waiting = yield* Effect.fork(instances.waitForStatus(renamed, "Running", { timeout: "20 seconds" }))
      yield* instances.start(renamed)
      expect((yield* Fiber.join(waiting)).status).toBe("Running")
      const running = yield* instances.state(renamed)
      expect(running.status).toBe("Running")
      expect(running.pid).toBeGreaterThan(0)
      expect(running.processes).toBeGreaterThan(0)
      expect(running.memory.usage).toBeGreaterThan(0)
      expect(running.network["lo"]?.type).toBe("loopback")
      // renaming a running instance is refused by LXD
      const refused = yield* Effect.flip(instances.rename(renamed, `${name}-c`))
      expect(refused._tag).toBe("OperationFailed")
      expect(refused.message).toBe("Renaming of running container not allowed")

      yield* instances.freeze(renamed)
      expect((yield* instances.state(renamed)).status).toBe("Frozen")
      yield* instances.unfreeze(renamed)
      expect((yield* instances.state(renamed)).status).toBe("Running")
      yield* instances.stop(renamed, { force: true })
      expect((yield* instances.state(renamed)).status).toBe("Stopped")
      expect(yield* instances.waitForStatus(renamed, ["Stopped"], { timeout: "5 seconds" })).toMatchObject({
        status_code: 102
      })

      yield* instances.delete(renamed)
      const gone = yield* Effect.flip(instances.get(renamed))
      expect(gone._tag).toBe("NotFound")
      expect(yield* instances.exists(renamed)).toBe(false)
    }).pipe(Effect.ensuring(cleanup(name, renamed)), Effect.provide(unix))
  }, { timeout: 30_000 })

  it.live("delete refuses a running instance; { force: true } stops it first (frozen too)", () => {
    const name = unique("force")
    return Effect.gen(function*() {
      const instances = yield* Instances.Instances
      yield* instances.create({ name, source: busybox })
      yield* instances.start(name)
      yield* instances.freeze(name)
      const e = yield* Effect.flip(instances.delete(name))
      expect(e._tag).toBe("BadRequest")
      expect(e.message).toBe("Instance is running")
      yield* instances.delete(name, { force: true })
      expect(yield* instances.exists(name)).toBe(false)
    }).pipe(Effect.ensuring(cleanup(name)), Effect.provide(unix))
  }, { timeout: 30_000 })

  it.live("an ephemeral instance is gone once stopped", () => {
    const name = unique("eph")
    return Effect.gen(function*() {
      const instances = yield* Instances.Instances
      yield* instances.create({ name, source: busybox, ephemeral: true })
      expect((yield* instances.get(name)).ephemeral).toBe(true)
      yield* instances.start(name)
      yield* instances.stop(name, { force: true })
      // LXD deletes it as it stops (possibly just after the stop operation ends)
      yield* instances.exists(name).pipe(
        Effect.repeat({ until: (exists) => !exists, schedule: Schedule.spaced("100 millis") }),
        Effect.timeout("10 seconds")
      )
      expect((yield* Effect.flip(instances.get(name)))._tag).toBe("NotFound")
    }).pipe(Effect.ensuring(cleanup(name)), Effect.provide(unix))
  }, { timeout: 30_000 })
})

describe("creating", () => {
  it.live("a server-named create returns the generated name and keeps the description", () => {
    let generated = ""
    return Effect.gen(function*() {
      const instances = yield* Instances.Instances
      generated = yield* instances.create({ source: busybox, description: "named by LXD" })
      expect(generated).toMatch(/^[a-z]+-[a-z]+$/)
      const got = yield* instances.get(generated)
      expect(got.description).toBe("named by LXD")
      expect(got.status).toBe("Stopped")
    }).pipe(Effect.ensuring(Effect.suspend(() => cleanup(generated))), Effect.provide(unix))
  })

  it.live("an empty instance (source none), and a copy of a snapshot with default profiles", () => {
    const empty = unique("empty")
    const src = unique("src")
    const copy = unique("copy")
    return Effect.gen(function*() {
      const instances = yield* Instances.Instances
      yield* instances.create({ name: empty, source: { type: "none" } })
      expect((yield* instances.get(empty)).status).toBe("Stopped")
      yield* instances.create({ name: src, source: busybox })
      yield* pushFile(src, "/root/marker", text("from the snapshot"))
      yield* instances.snapshots.create(src, { name: "s0" })
      yield* pushFile(src, "/root/marker", text("after the snapshot"))
      // 5.0.2 refuses a copy without profiles; the client sends ["default"]
      yield* instances.copy(`${src}/s0`, copy)
      expect((yield* instances.get(copy)).profiles).toEqual(["default"])
      expect(yield* pullFile(copy, "/root/marker")).toBe("from the snapshot")
      yield* instances.start(copy)
      expect((yield* instances.state(copy)).status).toBe("Running")
    }).pipe(Effect.ensuring(cleanup(empty, src, copy)), Effect.provide(unix))
  }, { timeout: 30_000 })

  it.live("a create from an image alias that does not exist is NotFound and leaves nothing", () => {
    const name = unique("noimg")
    return Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const e = yield* Effect.flip(instances.create({ name, source: { type: "image", alias: "no-such-image" } }))
      expect(e._tag).toBe("NotFound") // 5.0.2 checks the alias before it starts the operation
      expect(e.message).toBe("Image alias not found")
      expect(yield* instances.exists(name)).toBe(false)
    }).pipe(Effect.ensuring(cleanup(name)), Effect.provide(unix))
  })
})

describe("ETags", () => {
  it.live("a stale ETag is refused with PreconditionFailed and nothing is changed", () => {
    const name = unique("etag")
    return Effect.gen(function*() {
      const instances = yield* Instances.Instances
      yield* instances.create({ name, source: busybox, description: "v0" })
      const { etag, value: instance } = yield* instances.getWithEtag(name)
      expect(etag).toMatch(/^"?[0-9a-f]{64}"?$/)
      yield* instances.update(name, { config: { "user.a": "1" } }, { etag })
      const stalePatch = yield* Effect.flip(instances.update(name, { config: { "user.b": "2" } }, { etag }))
      expect(stalePatch._tag).toBe("PreconditionFailed")
      expect(stalePatch.message).toContain("ETag doesn't match")
      const stalePut = yield* Effect.flip(
        instances.replace(name, { ...instance, config: { ...instance.config, "user.c": "3" } }, { etag })
      )
      expect(stalePut._tag).toBe("PreconditionFailed")
      const after = yield* instances.get(name)
      expect(after.config["user.a"]).toBe("1")
      expect(after.config["user.b"]).toBeUndefined()
      expect(after.config["user.c"]).toBeUndefined()
      expect(after.description).toBe("v0")
      // modify uses the fresh ETag, and a PUT round trip keeps everything else
      yield* instances.modify(name, (i) => ({ ...i, config: { ...i.config, "user.d": "4" } }))
      const modified = yield* instances.get(name)
      expect(modified.config["user.a"]).toBe("1")
      expect(modified.config["user.d"]).toBe("4")
      expect(modified.config["volatile.base_image"]).toBe(after.config["volatile.base_image"])
      expect(modified.description).toBe("v0")
      expect(modified.profiles).toEqual(["default"])
    }).pipe(Effect.ensuring(cleanup(name)), Effect.provide(unix))
  })
})

describe("snapshots", () => {
  it.live("create two, list, rename, restore (the file is back), expiry, delete, list is empty", () => {
    const name = unique("snap")
    return Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const snapshots = instances.snapshots
      yield* instances.create({ name, source: busybox })
      yield* pushFile(name, "/root/x", text("before"))
      expect(yield* snapshots.create(name, { name: "first" })).toBe("first")
      yield* pushFile(name, "/root/x", text("after"))
      expect(yield* pullFile(name, "/root/x")).toBe("after")
      // no name: LXD picks one, the client finds it
      const second = yield* snapshots.create(name)
      expect(second).toBe("snap0")
      expect(yield* snapshots.listNames(name)).toEqual(["first", "snap0"])
      expect((yield* snapshots.list(name)).map((s) => s.name)).toEqual(["first", "snap0"])

      yield* snapshots.rename(name, "snap0", "second")
      expect(yield* snapshots.listNames(name)).toEqual(["first", "second"])

      const expiry = DateTime.unsafeMake("2035-06-01T00:00:00Z")
      const { etag } = yield* snapshots.getWithEtag(name, "second")
      yield* snapshots.replace(name, "second", { expires_at: expiry }, { etag })
      const second2 = yield* snapshots.get(name, "second")
      expect(second2.expires_at && DateTime.toEpochMillis(second2.expires_at)).toBe(DateTime.toEpochMillis(expiry))

      yield* snapshots.restore(name, "first")
      expect(yield* pullFile(name, "/root/x")).toBe("before")

      yield* snapshots.delete(name, "first")
      yield* snapshots.delete(name, "second")
      expect(yield* snapshots.listNames(name)).toEqual([])
      expect(yield* snapshots.list(name)).toEqual([])
      expect((yield* Effect.flip(snapshots.get(name, "first")))._tag).toBe("NotFound")
    }).pipe(Effect.ensuring(cleanup(name)), Effect.provide(unix))
  }, { timeout: 30_000 })

  it.live("a snapshot created with expires_at carries it", () => {
    const name = unique("exp")
    return Effect.gen(function*() {
      const instances = yield* Instances.Instances
      yield* instances.create({ name, source: busybox })
      yield* instances.snapshots.create(name, { name: "s", expires_at: new Date("2031-01-02T03:04:05Z") })
      const s = yield* instances.snapshots.get(name, "s")
      expect(s.expires_at && DateTime.formatIso(s.expires_at)).toBe("2031-01-02T03:04:05.000Z")
    }).pipe(Effect.ensuring(cleanup(name)), Effect.provide(unix))
  })

  it.live("a stateful snapshot without CRIU is OperationFailed with LXD's message", () => {
    const name = unique("criu")
    return Effect.gen(function*() {
      const instances = yield* Instances.Instances
      yield* instances.create({ name, source: busybox })
      yield* instances.start(name)
      const e = yield* Effect.flip(instances.snapshots.create(name, { name: "live", stateful: true }))
      expect(e._tag).toBe("OperationFailed")
      expect(e.message).toBe("Unable to create a stateful snapshot. CRIU isn't installed")
      expect(yield* instances.snapshots.listNames(name)).toEqual([])
    }).pipe(Effect.ensuring(cleanup(name)), Effect.provide(unix))
  })
})

const ImageList = Schema.Array(Schema.Struct({
  fingerprint: Schema.String,
  aliases: Schema.NullOr(Schema.Array(Schema.Struct({ name: Schema.String }))),
  properties: Schema.NullOr(Schema.Record({ key: Schema.String, value: Schema.String }))
}))

const deleteImage = (fingerprint: string) =>
  Effect.flatMap(
    LxdClient.LxdClient,
    (client) => Effect.ignore(client.run({ method: "DELETE", path: `/images/${fingerprint}` }))
  )

describe("publishing", () => {
  it.live("a stopped container is published with an alias; a running one is refused", () => {
    const name = unique("pub")
    const alias = unique("img")
    const fingerprints: Array<string> = []
    return Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const client = yield* LxdClient.LxdClient
      yield* instances.create({ name, source: busybox })
      yield* pushFile(name, "/root/unique", text(alias)) // an image of its own (identical content = same image)
      const published = yield* instances.publish(name, {
        aliases: [{ name: alias, description: "published by a test" }],
        properties: { os: "busybox", note: "published" },
        public: true
      })
      const fingerprint = published.fingerprint
      fingerprints.push(fingerprint)
      // the Image as LXD stored it: the public flag, the alias and the properties asked for
      expect(published.public).toBe(true)
      expect(published.aliases).toEqual([{ name: alias, description: "published by a test" }])
      expect(published.properties).toMatchObject({ os: "busybox", note: "published" })
      expect(fingerprint).toMatch(/^[0-9a-f]{64}$/)
      const images = (yield* client.sync(ImageList, { method: "GET", path: "/images", query: { recursion: "1" } }))
        .metadata
      const image = images.find((i) => i.fingerprint === fingerprint)
      expect(image?.aliases?.map((a) => a.name)).toEqual([alias])
      expect(image?.properties?.["note"]).toBe("published")

      yield* instances.start(name)
      const e = yield* Effect.flip(instances.publish(name))
      expect(e._tag).toBe("OperationFailed")
      expect(e.message).toBe("Cannot export a running instance as an image")
    }).pipe(
      Effect.ensuring(Effect.suspend(() => Effect.forEach(fingerprints, deleteImage))),
      Effect.ensuring(cleanup(name)),
      Effect.provide(unix)
    )
  }, { timeout: 30_000 })

  it.live("a snapshot of a running container is published", () => {
    const name = unique("pubsnap")
    const fingerprints: Array<string> = []
    return Effect.gen(function*() {
      const instances = yield* Instances.Instances
      yield* instances.create({ name, source: busybox })
      yield* pushFile(name, "/root/unique", text(name))
      yield* instances.start(name)
      yield* instances.snapshots.create(name, { name: "s0" })
      const published = yield* instances.snapshots.publish(name, "s0", { compression_algorithm: "none" })
      const fingerprint = published.fingerprint
      fingerprints.push(fingerprint)
      expect(published.public).toBe(false)
      expect(published.size).toBeGreaterThan(0)
      expect(fingerprint).toMatch(/^[0-9a-f]{64}$/)
    }).pipe(
      Effect.ensuring(Effect.suspend(() => Effect.forEach(fingerprints, deleteImage))),
      Effect.ensuring(cleanup(name)),
      Effect.provide(unix)
    )
  }, { timeout: 30_000 })
})

describe("backups", () => {
  it.live("download streams to a file of the right size with bounded memory; the backup imports and starts", () => {
    const name = unique("bk")
    const restored = unique("restored")
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-lxd-backup-"))
    const file = path.join(dir, "backup.tar")
    const MiB = 1024 * 1024
    const payload = 64 * MiB
    return Effect.gen(function*() {
      const instances = yield* Instances.Instances
      yield* instances.create({ name, source: busybox })
      // 64 MiB of random bytes (incompressible), streamed in
      yield* pushFile(
        name,
        "/root/big",
        HttpBody.stream(
          Stream.range(1, payload / MiB).pipe(Stream.map(() => new Uint8Array(crypto.randomBytes(MiB)))),
          "application/octet-stream"
        )
      )
      yield* pushFile(name, "/root/marker", text("restored from a backup"))
      const backup = yield* instances.backups.create(name, { compression_algorithm: "none" })
      expect(backup).toBe("backup0")
      expect((yield* instances.backups.list(name)).map((b) => b.name)).toEqual(["backup0"])
      yield* instances.backups.rename(name, "backup0", "full")
      expect(yield* instances.backups.listNames(name)).toEqual(["full"])
      expect((yield* instances.backups.get(name, "full")).instance_only).toBe(false)

      // download: sample RSS on every chunk
      const baseline = process.memoryUsage.rss()
      let peak = baseline
      let chunks = 0
      const handle = yield* Effect.acquireRelease(
        Effect.promise(() => fs.promises.open(file, "w")),
        (h) => Effect.promise(() => h.close())
      )
      const started = Date.now()
      yield* instances.backups.download(name, "full").pipe(
        Stream.runForEach((chunk) =>
          Effect.promise(async () => {
            chunks++
            peak = Math.max(peak, process.memoryUsage.rss())
            await handle.write(chunk)
          })
        )
      )
      const elapsed = Date.now() - started
      const size = fs.statSync(file).size
      const onServer = fs.statSync(path.join(info.lxdDir, "backups", "instances", name, "full")).size
      const growth = (peak - baseline) / MiB
      console.log(
        `backup download: ${(size / MiB).toFixed(1)} MiB in ${chunks} chunks, ${elapsed} ms; ` +
          `RSS growth ${growth.toFixed(1)} MiB (baseline ${(baseline / MiB).toFixed(0)} MiB)`
      )
      expect(size).toBe(onServer)
      expect(size).toBeGreaterThan(payload)
      expect(growth).toBeLessThan(32) // the payload is 64 MiB: a buffered download would grow by at least that

      // import the file, streamed from disk
      const got = yield* instances.createFromBackup(
        Stream.fromAsyncIterable(fs.createReadStream(file), (e) => e),
        { name: restored }
      )
      expect(got).toBe(restored)
      yield* instances.start(restored)
      expect((yield* instances.state(restored)).status).toBe("Running")
      expect(yield* pullFile(restored, "/root/marker")).toBe("restored from a backup")

      yield* instances.backups.delete(name, "full")
      expect(yield* instances.backups.list(name)).toEqual([])
    }).pipe(
      Effect.scoped,
      Effect.ensuring(cleanup(name, restored)),
      Effect.ensuring(Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))),
      Effect.provide(unix)
    )
  }, { timeout: 30_000 })

  it.live("a backup of a missing instance is NotFound; a broken tarball fails the import and leaves nothing", () => {
    const restored = unique("broken")
    return Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const e = yield* Effect.flip(Stream.runDrain(instances.backups.download(unique("nope"), "b")))
      expect(e._tag).toBe("NotFound")
      const bad = yield* Effect.flip(
        instances.createFromBackup(Stream.make(new TextEncoder().encode("not a tarball")), { name: restored })
      )
      expect(bad._tag).toBe("LxdApiError")
      expect(bad.message).toBe("Unsupported compression")
      expect(yield* instances.exists(restored)).toBe(false)
      // a failing input stream is returned as it is
      const failing = yield* Effect.flip(
        instances.createFromBackup(
          Stream.concat(Stream.make(new Uint8Array(10)), Stream.fail("disk read error" as const)),
          { name: restored }
        )
      )
      expect(failing).toBe("disk read error")
      expect(yield* instances.exists(restored)).toBe(false)
    }).pipe(Effect.ensuring(cleanup(restored)), Effect.provide(unix))
  })
})

describe("interruption", () => {
  it.live("interrupting create mid-way leaves no running operation and no instance", () => {
    const name = unique("intcreate")
    return Effect.scoped(Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const events = yield* Events.Events
      const operations = yield* Operations.Operations
      const stream = yield* events.subscribe({ types: ["operation"] })
      const fiber = yield* Effect.fork(instances.create({ name, source: busybox }))
      const opId = yield* firstRunning(stream, "Creating instance")
      const exit = yield* Fiber.interrupt(fiber)
      expect(Exit.isInterrupted(exit)).toBe(true)
      // LXD cannot cancel a create: the client waited for it (it succeeded), then deleted the instance
      expect((yield* operations.get(opId)).status_code).toBe(200)
      expect(yield* runningOperations).toEqual([])
      expect(yield* instances.exists(name)).toBe(false)
    })).pipe(Effect.ensuring(cleanup(name)), Effect.provide(unix))
  }, { timeout: 30_000 })

  it.live("interrupting start mid-way leaves no running operation", () => {
    const name = unique("intstart")
    return Effect.scoped(Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const events = yield* Events.Events
      yield* instances.create({ name, source: busybox })
      const stream = yield* events.subscribe({ types: ["operation"] })
      const fiber = yield* Effect.fork(instances.start(name))
      yield* firstRunning(stream, "Starting instance")
      const exit = yield* Fiber.interrupt(fiber)
      expect(Exit.isInterrupted(exit)).toBe(true)
      expect(yield* runningOperations).toEqual([])
    })).pipe(Effect.ensuring(cleanup(name)), Effect.provide(unix))
  }, { timeout: 30_000 })

  it.live("a timeout on create is an interruption too: nothing is left behind", () => {
    const name = unique("timeout")
    return Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const result = yield* instances.create({ name, source: busybox }).pipe(Effect.timeout("5 millis"), Effect.exit)
      expect(Exit.isFailure(result)).toBe(true)
      expect(yield* runningOperations).toEqual([])
      expect(yield* instances.exists(name)).toBe(false)
    }).pipe(Effect.ensuring(cleanup(name)), Effect.provide(unix))
  }, { timeout: 30_000 })
})

describe("bulk state in a project", () => {
  it.live("setStateMany starts and stops every instance of the project; lists see the project", () => {
    const project = unique("proj").slice(0, 40)
    const a = unique("bulk-a")
    const b = unique("bulk-b")
    return Effect.gen(function*() {
      const client = yield* LxdClient.LxdClient
      const instances = yield* Instances.Instances
      yield* client.request({
        method: "POST",
        path: "/projects",
        body: { name: project, config: { "features.images": "false", "features.profiles": "false" } }
      })
      yield* Effect.gen(function*() {
        yield* instances.create({ name: a, source: busybox })
        yield* instances.create({ name: b, source: busybox })
        yield* instances.setStateMany({ action: "start" })
        expect((yield* instances.list()).map((i) => i.status)).toEqual(["Running", "Running"])
        yield* instances.setStateMany({ action: "stop", force: true })
        expect((yield* instances.list()).map((i) => i.status)).toEqual(["Stopped", "Stopped"])
        expect([...(yield* instances.listNames())].sort()).toEqual([a, b].sort())
      }).pipe(LxdClient.withProject(project))
      // not in the default project
      expect(yield* instances.listNames()).not.toContain(a)
      const all = yield* instances.listNamesAllProjects()
      expect([...(all[project] ?? [])].sort()).toEqual([a, b].sort())
      const everywhere = yield* instances.list({ allProjects: true })
      expect(everywhere.find((i) => i.name === a)?.project).toBe(project)
    }).pipe(
      Effect.ensuring(cleanup(a, b).pipe(LxdClient.withProject(project))),
      Effect.ensuring(
        Effect.flatMap(
          LxdClient.LxdClient,
          (c) => Effect.ignore(c.request({ method: "DELETE", path: `/projects/${project}` }))
        )
      ),
      Effect.provide(unix)
    )
  }, { timeout: 30_000 })
})

describe("console, logs, metadata, templates", () => {
  it.live("console log: empty before the first start; 5.0.2 refuses it while running; readable and clearable once stopped", () => {
    const name = unique("console")
    return Effect.gen(function*() {
      const instances = yield* Instances.Instances
      yield* instances.create({ name, source: busybox })
      expect(yield* instances.consoleLog(name)).toBe("")
      yield* instances.start(name)
      const e = yield* Effect.flip(instances.consoleLog(name))
      expect(e._tag).toBe("LxdApiError")
      expect(e.message).toContain("not available")
      expect(e.message).toContain("open : no such file or directory")
      yield* instances.stop(name, { force: true })
      expect(typeof (yield* instances.consoleLog(name))).toBe("string")
      yield* instances.clearConsoleLog(name)
      expect(yield* instances.consoleLog(name)).toBe("")
    }).pipe(Effect.ensuring(cleanup(name)), Effect.provide(unix))
  })

  it.live("log files: list, read lxc.log, lxc.log cannot be deleted", () => {
    const name = unique("logs")
    return Effect.gen(function*() {
      const instances = yield* Instances.Instances
      yield* instances.create({ name, source: busybox })
      yield* instances.start(name)
      const files = yield* instances.logs.list(name)
      expect(files).toContain("lxc.log")
      expect(files).toContain("lxc.conf")
      const conf = yield* instances.logs.get(name, "lxc.conf")
      expect(conf).toContain("lxc.")
      const e = yield* Effect.flip(instances.logs.delete(name, "lxc.log"))
      expect(e._tag).toBe("BadRequest")
      expect(e.message).toBe("lxc.log and lxc.conf may not be deleted")
      const invalid = yield* Effect.flip(instances.logs.get(name, "nope.log"))
      expect(invalid._tag).toBe("BadRequest")
      expect(invalid.message).toBe("log file name nope.log not valid")
    }).pipe(Effect.ensuring(cleanup(name)), Effect.provide(unix))
  })

  it.live("metadata round trip and templates: put, list, get, delete", () => {
    const name = unique("meta")
    return Effect.gen(function*() {
      const instances = yield* Instances.Instances
      yield* instances.create({ name, source: busybox })
      const { etag, value: metadata } = yield* instances.metadata.getWithEtag(name)
      expect(metadata.properties["os"]).toBe("busybox")
      yield* instances.templates.put(name, "hostname.tpl", "{{ container.name }}\n")
      expect(yield* instances.templates.list(name)).toEqual(["hostname.tpl"])
      expect(yield* instances.templates.get(name, "hostname.tpl")).toBe("{{ container.name }}\n")
      yield* instances.metadata.replace(name, {
        ...metadata,
        properties: { ...metadata.properties, description: "changed" },
        templates: {
          "/etc/hostname": { when: ["create", "copy"], create_only: false, template: "hostname.tpl", properties: {} }
        }
      }, { etag })
      const after = yield* instances.metadata.get(name)
      expect(after.properties["description"]).toBe("changed")
      expect(after.templates["/etc/hostname"]?.when).toEqual(["create", "copy"])
      const stale = yield* Effect.flip(instances.metadata.replace(name, metadata, { etag }))
      expect(stale._tag).toBe("PreconditionFailed")
      yield* instances.templates.delete(name, "hostname.tpl")
      expect(yield* instances.templates.list(name)).toEqual([])
      expect((yield* Effect.flip(instances.templates.get(name, "hostname.tpl")))._tag).toBe("NotFound")
    }).pipe(Effect.ensuring(cleanup(name)), Effect.provide(unix))
  })
})

describe("5.0.2 behaviour behind snapshots.update and move (raw requests the client does not send)", () => {
  it.live("a snapshot PUT or PATCH without expires_at, or with null, keeps the expiry; \"\" is refused", () => {
    const name = unique("snapx")
    return Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const client = yield* LxdClient.LxdClient
      yield* instances.create({ name, source: busybox })
      yield* instances.snapshots.create(name, { name: "s0", expires_at: "2030-01-01T00:00:00Z" })
      const path = `/instances/${name}/snapshots/s0`
      for (const [method, body] of [["PUT", {}], ["PATCH", {}], ["PUT", { expires_at: null }]] as const) {
        yield* client.run({ method, path, body })
        const s = yield* instances.snapshots.get(name, "s0")
        expect(s.expires_at && DateTime.formatIso(s.expires_at), `${method} ${JSON.stringify(body)}`).toBe(
          "2030-01-01T00:00:00.000Z"
        )
      }
      const empty = yield* Effect.flip(client.run({ method: "PATCH", path, body: { expires_at: "" } }))
      expect(empty._tag).toBe("BadRequest")
    }).pipe(Effect.ensuring(cleanup(name)), Effect.provide(unix))
  })

  it.live("a move given a pool and a project moves the pool and ignores the project (why move takes one)", () => {
    const name = unique("mvboth")
    const pool = unique("mvpool")
    const project = unique("mvproj")
    return Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const client = yield* LxdClient.LxdClient
      yield* client.request({ method: "POST", path: "/storage-pools", body: { name: pool, driver: "dir" } })
      yield* client.request({
        method: "POST",
        path: "/projects",
        body: { name: project, config: { "features.images": "false", "features.profiles": "false" } }
      })
      yield* instances.create({ name, source: busybox })
      yield* client.run({ method: "POST", path: `/instances/${name}`, body: { migration: true, pool, project } })
      const after = yield* instances.get(name)
      expect([after.project, after.devices["root"]?.["pool"]]).toEqual(["default", pool])
      expect(yield* instances.listNames().pipe(LxdClient.withProject(project))).toEqual([])
    }).pipe(
      Effect.ensuring(Effect.gen(function*() {
        yield* cleanup(name)
        const client = yield* LxdClient.LxdClient
        yield* Effect.ignore(client.request({ method: "DELETE", path: `/projects/${project}` }))
        yield* Effect.ignore(client.request({ method: "DELETE", path: `/storage-pools/${pool}` }))
      })),
      Effect.provide(unix)
    )
  })
})

describe("nothing left behind", () => {
  it.live("no test instance remains in the default project", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const names = yield* instances.listNames()
      expect(names.filter((n) =>
        /^(life|force|eph|empty|src|copy|noimg|etag|snap|exp|criu|pub|pubsnap|bk|restored|broken|intcreate|intstart|timeout|console|logs|meta|snapx|mvboth)-/
          .test(n)
      ))
        .toEqual([])
      expect(yield* runningOperations).toEqual([])
    }).pipe(Effect.provide(unix)))
})

import { Instances, Lxd, LxdClient } from "@effect-lxd/core"
import { LxdFakeServer } from "@effect-lxd/testing"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Layer, Stream } from "effect"

/** Every service over a fresh fake, with one stopped instance `c1` made from the fake's busybox image. */
const fake = () =>
  Layer.effectDiscard(
    Effect.flatMap(Instances.Instances, (i) => i.create({ name: "c1", source: { type: "image", alias: "busybox" } }))
  ).pipe(Layer.provideMerge(Lxd.layer), Layer.provide(LxdFakeServer.layer()))

const bytesOf = (s: Stream.Stream<Uint8Array, unknown>) =>
  Effect.map(Stream.runCollect(s), (chunks) => Buffer.concat(Chunk.toArray(chunks)))

describe("LxdFakeServer: an instance's backups, logs, metadata, templates and console", () => {
  it.effect("backups: create (named by the operation), list, get, rename, export, delete", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const first = yield* instances.backups.create("c1")
      expect(first).toBe("backup0")
      const second = yield* instances.backups.create("c1", {
        name: "weekly",
        instance_only: true,
        optimized_storage: false,
        compression_algorithm: "gzip"
      })
      expect(second).toBe("weekly")
      expect(yield* instances.backups.create("c1")).toBe("backup1")
      expect(yield* instances.backups.listNames("c1")).toEqual(["backup0", "weekly", "backup1"])
      const listed = yield* instances.backups.list("c1")
      expect(listed.map((b) => [b.name, b.instance_only])).toEqual([
        ["backup0", false],
        ["weekly", true],
        ["backup1", false]
      ])
      expect((yield* instances.backups.get("c1", "weekly")).instance_only).toBe(true)
      yield* instances.backups.rename("c1", "weekly", "monthly")
      expect(yield* instances.backups.listNames("c1")).toEqual(["backup0", "backup1", "monthly"])
      const tarball = yield* bytesOf(instances.backups.download("c1", "monthly"))
      expect(tarball.toString("utf8")).toMatch(/^backup\/index\.yaml\n\{"name":"c1"/)
      // deterministic: a backup is the instance as it was when taken
      expect(yield* bytesOf(instances.backups.download("c1", "monthly"))).toEqual(tarball)
      yield* instances.backups.delete("c1", "monthly")
      expect(yield* instances.backups.listNames("c1")).toEqual(["backup0", "backup1"])
      const missing = yield* Effect.flip(instances.backups.get("c1", "monthly"))
      expect(missing._tag).toBe("NotFound")
      expect((yield* instances.getFull("c1")).backups?.map((b) => b.name)).toEqual(["backup0", "backup1"])
    }).pipe(Effect.provide(fake())))

  it.effect("a backup imports back as an instance; a body that is no backup is LXD's 400", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      yield* instances.update("c1", { config: { "user.note": "kept" } })
      yield* instances.backups.create("c1", { name: "b" })
      const tarball = yield* bytesOf(instances.backups.download("c1", "b"))
      const name = yield* instances.createFromBackup(Stream.make(new Uint8Array(tarball)), { name: "restored" })
      expect(name).toBe("restored")
      const restored = yield* instances.get("restored")
      expect(restored.status).toBe("Stopped")
      expect(restored.config["user.note"]).toBe("kept")
      expect(restored.config["volatile.uuid"]).not.toBe((yield* instances.get("c1")).config["volatile.uuid"])
      const bad = yield* Effect.flip(instances.createFromBackup(Stream.make(new TextEncoder().encode("not a tar"))))
      expect(bad.message).toContain("Backup is missing index.yaml")
    }).pipe(Effect.provide(fake())))

  it.effect("logs: lxc.log and lxc.conf listed and read; LXD's own logs are not deletable", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      expect(yield* instances.logs.list("c1")).toEqual(["lxc.conf", "lxc.log"])
      expect(yield* instances.logs.get("c1", "lxc.log")).toContain("c1")
      expect(yield* instances.logs.get("c1", "lxc.conf")).toContain("lxc.uts.name = c1")
      const refused = yield* Effect.flip(instances.logs.delete("c1", "lxc.log"))
      expect(refused.message).toContain("lxc.log and lxc.conf may not be deleted")
    }).pipe(Effect.provide(fake())))

  it.effect("metadata: read with its ETag, replaced, a stale ETag refused (412)", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const { etag, value: metadata } = yield* instances.metadata.getWithEtag("c1")
      expect(metadata.architecture).toBe("x86_64")
      expect(etag).toBeDefined()
      yield* instances.metadata.replace("c1", { ...metadata, properties: { description: "mine" } }, { etag })
      const after = yield* instances.metadata.getWithEtag("c1")
      expect(after.value.properties).toEqual({ description: "mine" })
      expect(after.etag).not.toBe(etag)
      const stale = yield* Effect.flip(instances.metadata.replace("c1", metadata, { etag }))
      expect(stale._tag).toBe("PreconditionFailed")
      // the fake's own check, on the PATCH that LXD guards with If-Match
      const client = yield* LxdClient.LxdClient
      const patched = yield* Effect.flip(
        client.request({ method: "PATCH", path: "/instances/c1/metadata", body: { expiry_date: 1 }, etag })
      )
      expect(patched._tag).toBe("PreconditionFailed")
    }).pipe(Effect.provide(fake())))

  it.effect("metadata PATCH as 5.0.2 decodes it: a wrong type is 400 naming the Go field, null empties a map", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const client = yield* LxdClient.LxdClient
      const patch = (body: unknown) => client.request({ method: "PATCH", path: "/instances/c1/metadata", body })
      const wrong = yield* Effect.flip(patch({ architecture: 5 }))
      expect(wrong._tag).toBe("BadRequest")
      expect(wrong.message).toBe(
        "json: cannot unmarshal number into Go struct field ImageMetadata.architecture of type string"
      )
      expect((yield* Effect.flip(patch({ expiry_date: "soon" })))._tag).toBe("BadRequest")
      yield* patch({ architecture: null, properties: null })
      const after = yield* instances.metadata.get("c1")
      expect(after.architecture).toBe("x86_64") // null leaves a string as it was
      expect(after.properties).toEqual({})
    }).pipe(Effect.provide(fake())))

  it.effect("snapshot PUT and PATCH: an operation each, If-Match checked, a time that is not RFC 3339 is 400", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const client = yield* LxdClient.LxdClient
      yield* instances.snapshots.create("c1", { name: "s0", expires_at: "2030-01-01T02:00:00+02:00" })
      const { etag, value } = yield* instances.snapshots.getWithEtag("c1", "s0")
      expect(value.expires_at === undefined ? "" : new Date(value.expires_at.epochMillis).toISOString()).toBe(
        "2030-01-01T00:00:00.000Z"
      )
      const path = "/instances/c1/snapshots/s0"
      for (const method of ["PUT", "PATCH"] as const) {
        const answer = yield* client.request({ method, path, body: {} })
        expect(answer.type).toBe("async")
      }
      const stale = yield* Effect.flip(client.request({ method: "PATCH", path, body: {}, etag: "\"x\"" }))
      expect(stale._tag).toBe("PreconditionFailed")
      // not times (a 13th month and a 25th hour look like RFC 3339): 400, on a write and on a create alike
      for (const bad of ["", "2030-01-01", 5, "2030-13-01T00:00:00Z", "2030-01-01T25:00:00Z"]) {
        const e = yield* Effect.flip(client.request({ method: "PATCH", path, body: { expires_at: bad } }))
        expect(e._tag, JSON.stringify(bad)).toBe("BadRequest")
        const created = yield* Effect.flip(instances.snapshots.create("c1", { name: "s9", expires_at: String(bad) }))
        expect(created._tag, JSON.stringify(bad)).toBe("BadRequest")
      }
      expect(yield* instances.snapshots.listNames("c1")).toEqual(["s0"])
      expect((yield* instances.snapshots.getWithEtag("c1", "s0")).etag).toBe(etag)
    }).pipe(Effect.provide(fake())))

  it.effect("templates: put, list, get, delete", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      expect(yield* instances.templates.list("c1")).toEqual([])
      yield* instances.templates.put("c1", "hostname.tpl", "{{ container.name }}\n")
      yield* instances.templates.put("c1", "hosts.tpl", new TextEncoder().encode("127.0.0.1 localhost\n"))
      expect(yield* instances.templates.list("c1")).toEqual(["hostname.tpl", "hosts.tpl"])
      expect(yield* instances.templates.get("c1", "hostname.tpl")).toBe("{{ container.name }}\n")
      yield* instances.templates.delete("c1", "hostname.tpl")
      expect(yield* instances.templates.list("c1")).toEqual(["hosts.tpl"])
      const gone = yield* Effect.flip(instances.templates.get("c1", "hostname.tpl"))
      expect(gone._tag).toBe("NotFound")
    }).pipe(Effect.provide(fake())))

  it.effect("console log: empty before the first run, kept once stopped, refused while running (5.0.2), cleared", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      expect(yield* instances.consoleLog("c1")).toBe("")
      yield* instances.start("c1")
      const running = yield* Effect.flip(instances.consoleLog("c1"))
      expect(running.message).toContain("The console log of a running instance is not available")
      expect(running.message).toContain("open : no such file or directory")
      yield* instances.stop("c1", { force: true })
      expect(yield* instances.consoleLog("c1")).toContain("c1 started")
      yield* instances.clearConsoleLog("c1")
      expect(yield* instances.consoleLog("c1")).toBe("")
    }).pipe(Effect.provide(fake())))
})

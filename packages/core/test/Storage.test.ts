/**
 * What storage pools and volumes have beyond the collection checklist (`collections.test.ts` covers that for
 * their four specs): LXD 5.0.2's answers as the lab daemon gave them (lists holding snapshots, names said
 * nowhere, sync creates without `Location`), the volume's own verbs, attach/detach, and pylxd's storage
 * scenarios on the fake.
 */
import { Lxd, LxdClient, StoragePools, StorageVolumes } from "@effect-lxd/core"
import { LxdFakeServer, LxdMockTransport } from "@effect-lxd/testing"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Layer, Ref, Stream } from "effect"
import { mockLayer, serverInfo } from "./helpers.js"

const { async: asyncAnswer, error, operation, route, sync } = LxdMockTransport

const EXTENSIONS = [
  "etag",
  "resources",
  "storage_api_volume_snapshots",
  "custom_volume_backup",
  "storage_volume_state",
  "storage_volume_project_move",
  "storage_volume_api_filtering",
  "storage_volumes_all_projects"
]

const Fake = Lxd.layer.pipe(Layer.provide(LxdFakeServer.layer()))

const mock = (routes: ReadonlyArray<LxdMockTransport.Route<LxdMockTransport.Handler>>, extensions = EXTENSIONS) =>
  mockLayer({ routes: [route("GET", "", () => Effect.succeed(sync(serverInfo(extensions)))), ...routes] })

const sent = Effect.flatMap(LxdMockTransport.MockTransport, (m) => m.requests).pipe(
  Effect.map((rs) => rs.filter((r) => r.path !== "").map((r) => `${r.method} ${r.url}`))
)
const requests = Effect.flatMap(LxdMockTransport.MockTransport, (m) => m.requests)

const done = (id: string, resources: Record<string, Array<string>> | null) =>
  operation(id, { status: "Success", status_code: 200, resources })

/** An operation as 5.0.2 starts it (running), and its `/wait` answer. */
const opRoutes = (id: string, resources: Record<string, Array<string>> | null) => [
  route("GET", `/operations/${id}/wait`, () => Effect.succeed(sync(done(id, resources))))
]

const volume = (name: string) => ({
  config: {},
  description: "",
  name,
  type: "custom",
  used_by: [],
  location: "none",
  content_type: "filesystem",
  project: "default",
  created_at: "0001-01-01T00:00:00Z"
})

describe("StorageVolumes against 5.0.2's answers", () => {
  it.effect("a volume list holds the volumes' snapshots: list and listNames leave them out", () =>
    Effect.gen(function*() {
      const v = yield* StorageVolumes.StorageVolumes
      expect(yield* v.listNames("default", "custom")).toEqual(["v1"])
      expect((yield* v.list("default", "custom")).map((x) => x.name)).toEqual(["v1"])
      expect((yield* v.listAll("default")).map((x) => `${x.type}/${x.name}`)).toEqual(["custom/v1"])
    }).pipe(Effect.provide(mock([
      route("GET", "/storage-pools/default/volumes/custom", (r) =>
        Effect.succeed(sync(
          r.query.recursion === "1"
            ? [volume("v1"), volume("v1/snap0")]
            : [
              "/1.0/storage-pools/default/volumes/custom/v1",
              "/1.0/storage-pools/default/volumes/custom/v1/snapshots/snap0"
            ]
        ))),
      route("GET", "/storage-pools/default/volumes", () => Effect.succeed(sync([volume("v1"), volume("v1/snap0")])))
    ]))))

  it.effect("a snapshot list names each `v1/snap0`: list gives the name GET gives", () =>
    Effect.gen(function*() {
      const v = yield* StorageVolumes.StorageVolumes
      const snaps = yield* v.snapshots.list("default", "custom", "v1")
      expect(snaps.map((s) => s.name)).toEqual(["snap0", "snap1"])
      expect(snaps[0]!.expires_at).toBeUndefined() // `null` in a list
    }).pipe(Effect.provide(mock([
      route("GET", "/storage-pools/default/volumes/custom/v1/snapshots", () =>
        Effect.succeed(sync([
          {
            description: "",
            expires_at: null,
            name: "v1/snap0",
            config: {},
            content_type: "",
            created_at: "0001-01-01T00:00:00Z"
          },
          {
            description: "",
            expires_at: null,
            name: "v1/snap1",
            config: {},
            content_type: "",
            created_at: "0001-01-01T00:00:00Z"
          }
        ])))
    ]))))

  it.effect("an unnamed snapshot: 5.0.2 names it nowhere, so its name is the one new name in the list", () =>
    Effect.gen(function*() {
      const v = yield* StorageVolumes.StorageVolumes
      expect(yield* v.snapshots.create("default", "custom", "v1")).toBe("snap1")
      expect(yield* sent).toEqual([
        "GET /1.0/storage-pools/default/volumes/custom/v1/snapshots",
        "POST /1.0/storage-pools/default/volumes/custom/v1/snapshots",
        "GET /1.0/operations/op1/wait?timeout=30",
        "GET /1.0/storage-pools/default/volumes/custom/v1/snapshots"
      ])
    }).pipe(Effect.provide(Layer.unwrapEffect(Effect.gen(function*() {
      const created = yield* Ref.make(false)
      return mock([
        route(
          "GET",
          "/storage-pools/default/volumes/custom/v1/snapshots",
          () =>
            Effect.map(Ref.get(created), (c) =>
              sync([
                "/1.0/storage-pools/default/volumes/custom/v1/snapshots/snap0",
                ...(c ? ["/1.0/storage-pools/default/volumes/custom/v1/snapshots/snap1"] : [])
              ]))
        ),
        route("POST", "/storage-pools/default/volumes/custom/v1/snapshots", () =>
          Effect.as(
            Ref.set(created, true),
            asyncAnswer(operation("op1", { resources: { storage_volumes: ["/1.0/storage_volumes/v1"] } }))
          )),
        ...opRoutes("op1", { storage_volumes: ["/1.0/storage_volumes/v1"] })
      ])
    })))))

  it.effect("an unnamed backup is named by the operation's `backups` resource (not below the collection)", () =>
    Effect.gen(function*() {
      const v = yield* StorageVolumes.StorageVolumes
      expect(yield* v.backups.create("default", "custom", "v1", { compression_algorithm: "gzip" })).toBe("backup0")
    }).pipe(Effect.provide(mock([
      route(
        "POST",
        "/storage-pools/default/volumes/custom/v1/backups",
        () => Effect.succeed(asyncAnswer(operation("op2")))
      ),
      ...opRoutes("op2", { backups: ["/1.0/backups/backup0"], storage_volumes: ["/1.0/storage_volumes/v1"] })
    ]))))

  it.effect("a create answered sync without Location (5.0.2) or with an operation (newer) gives the name", () =>
    Effect.gen(function*() {
      const v = yield* StorageVolumes.StorageVolumes
      expect(yield* v.create("default", "custom", { name: "v1" })).toBe("v1")
      expect(yield* v.create("default", "custom", { name: "v2" })).toBe("v2")
      expect(yield* sent).toContain("GET /1.0/operations/op3/wait?timeout=30")
    }).pipe(Effect.provide(mock([
      route("POST", "/storage-pools/default/volumes/custom", (r) =>
        Effect.succeed(
          (r.body as { name: string }).name === "v1"
            ? sync({}) // 5.0.2: 200, `metadata: {}`, no Location
            : asyncAnswer(operation("op3"))
        )),
      ...opRoutes("op3", { storage_volumes: ["/1.0/storage-pools/default/volumes/custom/v2"] })
    ]))))

  it.effect("restore, copy, move and state send what LXD takes", () =>
    Effect.gen(function*() {
      const v = yield* StorageVolumes.StorageVolumes
      yield* v.restore("default", "custom", "v1", "snap0")
      expect(yield* v.copy("default", "v1", { targetPool: "st2", targetName: "v1c", volumeOnly: true })).toBe("v1c")
      yield* v.move("default", "v1", { pool: "st2" })
      const e = yield* Effect.flip(v.state("default", "custom", "v1"))
      expect(e._tag).toBe("LxdApiError")
      const rs = yield* requests
      const bodies = rs.filter((r) => r.method !== "GET").map((r) => [`${r.method} ${r.path}`, r.body])
      expect(bodies).toEqual([
        ["PUT /storage-pools/default/volumes/custom/v1", { restore: "snap0" }],
        ["POST /storage-pools/st2/volumes/custom", {
          name: "v1c",
          type: "custom",
          description: "d",
          config: { size: "1GiB" },
          content_type: "filesystem",
          source: { type: "copy", name: "v1", pool: "default", volume_only: true }
        }],
        ["POST /storage-pools/default/volumes/custom/v1", { name: "v1", pool: "st2" }]
      ])
    }).pipe(Effect.provide(mock([
      route("PUT", "/storage-pools/default/volumes/custom/v1", () => Effect.succeed(sync({}))),
      route("GET", "/storage-pools/default/volumes/custom/v1", () =>
        Effect.succeed(sync({ ...volume("v1"), description: "d", config: { size: "1GiB" } }))),
      route("POST", "/storage-pools/st2/volumes/custom", () =>
        Effect.succeed(asyncAnswer(operation("op4")))),
      ...opRoutes("op4", null),
      route("POST", "/storage-pools/default/volumes/custom/v1", () =>
        Effect.succeed(asyncAnswer(operation("op5")))),
      ...opRoutes("op5", null),
      // what a `dir` pool answers on 5.0.2
      route("GET", "/storage-pools/default/volumes/custom/v1/state", () => Effect.succeed(error(500, "Not supported")))
    ]))))

  it.effect("a move to a project needs storage_volume_project_move (nothing sent without it)", () =>
    Effect.gen(function*() {
      const v = yield* StorageVolumes.StorageVolumes
      const e = yield* Effect.flip(v.move("default", "v1", { project: "p2" }))
      expect(e._tag).toBe("APIExtensionNotAvailable")
      expect(yield* sent).toEqual([])
    }).pipe(Effect.provide(mock([], ["etag"]))))

  it.effect("bad names and volume types are refused before anything is sent", () =>
    Effect.gen(function*() {
      const v = yield* StorageVolumes.StorageVolumes
      for (
        const e of [
          yield* Effect.flip(v.get("default", "Custom volumes", "v1")),
          yield* Effect.flip(v.restore("default", "custom", "v1", "a b")),
          yield* Effect.flip(v.copy("default", "v1", { targetName: "x/y" })),
          yield* Effect.flip(v.attach("default", "v1", "-c1", { path: "/mnt" })),
          yield* Effect.flip(v.importBackup("a b", Stream.empty))
        ]
      ) expect(e._tag).toBe("InvalidArgument")
      expect(yield* sent).toEqual([])
    }).pipe(Effect.provide(mock([]))))

  it.effect("export streams the tarball as it comes; importBackup streams one in (octet-stream, X-LXD-name)", () =>
    Effect.gen(function*() {
      const v = yield* StorageVolumes.StorageVolumes
      const bytes = yield* Stream.runCollect(v.backups.export("default", "custom", "v1", "backup0"))
      expect(Chunk.reduce(bytes, 0, (n, c) => n + c.length)).toBe(3)
      // without the transport's download path, exportTo hands over the stream's chunks
      const seen: Array<number> = []
      yield* v.backups.exportTo("default", "custom", "v1", "backup0", (c) => Effect.sync(() => seen.push(...c)))
      expect(seen).toEqual([1, 2, 3])
      const name = yield* v.importBackup("st2", Stream.make(new Uint8Array([1, 2]), new Uint8Array([3])))
      expect(name).toBe("v1imp")
      const post = (yield* requests).find((r) => r.method === "POST")!
      expect(post.headers["content-type"]).toBe("application/octet-stream")
      expect([...post.bytes!]).toEqual([1, 2, 3])
      yield* v.importBackup("st2", Stream.make(new Uint8Array([1])), { name: "named" })
      const second = (yield* requests).filter((r) => r.method === "POST")[1]!
      expect(second.headers["x-lxd-name"]).toBe("named")
    }).pipe(Effect.provide(mock([
      route(
        "GET",
        "/storage-pools/default/volumes/custom/v1/backups/backup0/export",
        () =>
          Effect.succeed(LxdMockTransport.raw(new Uint8Array([1, 2, 3]), {
            headers: { "content-type": "application/octet-stream" }
          }))
      ),
      route("POST", "/storage-pools/st2/volumes/custom", () => Effect.succeed(asyncAnswer(operation("op6")))),
      ...opRoutes("op6", { storage_volumes: ["/1.0/storage_volumes/v1imp"] })
    ]))))

  it.effect("a failing tarball stream fails the import with its own error", () =>
    Effect.gen(function*() {
      const v = yield* StorageVolumes.StorageVolumes
      const e = yield* Effect.flip(v.importBackup("st2", Stream.fail("disk gone" as const)))
      expect(e).toBe("disk gone")
    }).pipe(Effect.provide(mock([
      route("POST", "/storage-pools/st2/volumes/custom", (r) =>
        Effect.succeed(r.bytes === undefined ? error(400, "no body") : asyncAnswer(operation("op7")))),
      ...opRoutes("op7", null)
    ]))))
})

const instance = (devices: Record<string, Record<string, string>>) => ({
  name: "c1",
  status: "Stopped",
  status_code: 102,
  type: "container",
  architecture: "x86_64",
  config: { "image.os": "busybox" },
  devices,
  ephemeral: false,
  profiles: ["default"],
  description: "",
  stateful: false,
  created_at: "2026-12-01T00:00:00Z",
  last_used_at: "1970-01-01T00:00:00Z",
  location: "none",
  project: "default",
  expanded_config: {},
  expanded_devices: {},
  a_field_from_the_future: 1
})

describe("attach and detach", () => {
  const layer = (devices: Record<string, Record<string, string>>) =>
    mock([
      route("GET", "/instances/c1", () => Effect.succeed(sync(instance(devices), { etag: "\"e1\"" }))),
      route("PUT", "/instances/c1", () => Effect.succeed(asyncAnswer(operation("op8")))),
      ...opRoutes("op8", null)
    ])

  it.effect("attach adds a disk device and writes back with the ETag it read (unknown fields kept)", () =>
    Effect.gen(function*() {
      const v = yield* StorageVolumes.StorageVolumes
      yield* v.attach("default", "v1", "c1", { path: "/mnt/v1" })
      const put = (yield* requests).find((r) => r.method === "PUT")!
      expect(put.headers["if-match"]).toBe("\"e1\"")
      const body = put.body as Record<string, unknown>
      expect(body.devices).toEqual({
        eth0: { type: "nic", network: "lxdbr0", name: "eth0" },
        v1: { type: "disk", pool: "default", source: "v1", path: "/mnt/v1" }
      })
      expect(body.a_field_from_the_future).toBe(1)
      expect(body.status).toBeUndefined()
    }).pipe(Effect.provide(layer({ eth0: { type: "nic", network: "lxdbr0", name: "eth0" } }))))

  it.effect("attach under a device name in use is refused, nothing written", () =>
    Effect.gen(function*() {
      const v = yield* StorageVolumes.StorageVolumes
      const e = yield* Effect.flip(v.attach("default", "v1", "c1", { path: "/mnt", device: "eth0" }))
      expect(e._tag).toBe("InvalidArgument")
      expect((yield* requests).some((r) => r.method === "PUT")).toBe(false)
    }).pipe(Effect.provide(layer({ eth0: { type: "nic", network: "lxdbr0" } }))))

  it.effect("detach removes the device; a missing one is NotFound", () =>
    Effect.gen(function*() {
      const v = yield* StorageVolumes.StorageVolumes
      yield* v.detach("c1", "v1")
      const put = (yield* requests).find((r) => r.method === "PUT")!
      expect((put.body as { devices: unknown }).devices).toEqual({})
      expect((yield* Effect.flip(v.detach("c1", "nope")))._tag).toBe("NotFound")
    }).pipe(Effect.provide(layer({ v1: { type: "disk", pool: "default", source: "v1", path: "/mnt" } }))))
})

describe("StoragePools", () => {
  it.effect("resources decode space and inodes", () =>
    Effect.gen(function*() {
      const p = yield* StoragePools.StoragePools
      const r = yield* p.resources("default")
      expect(r).toEqual({
        space: { used: 23903817728, total: 270553174016 },
        inodes: { used: 451065, total: 16777216 }
      })
    }).pipe(Effect.provide(mock([
      route("GET", "/storage-pools/default/resources", () =>
        Effect.succeed(sync({
          space: { used: 23903817728, total: 270553174016 },
          inodes: { used: 451065, total: 16777216 }
        })))
    ]))))
})

describe("storage on the fake: pylxd's scenarios", () => {
  it.effect("pools: get, all, create, save (modify), put (replace), patch (update), delete; in use refused", () =>
    Effect.gen(function*() {
      const p = yield* StoragePools.StoragePools
      expect((yield* p.get("default")).driver).toBe("dir")
      yield* p.create({ name: "st1", driver: "dir", description: "a pool" })
      expect((yield* p.list()).map((x) => x.name)).toEqual(["default", "st1"])
      yield* p.modify("st1", (x) => ({ ...x, config: { ...x.config, "user.a": "1" } }))
      yield* p.update("st1", { description: "patched" })
      const got = yield* p.get("st1")
      expect(got).toMatchObject({ description: "patched", config: { "user.a": "1" }, status: "Created" })
      yield* p.replace("st1", { description: "put", config: { source: got.config["source"]! } })
      expect((yield* p.get("st1")).config["user.a"]).toBeUndefined()
      expect((yield* p.resources("st1")).space.total).toBeGreaterThan(0)
      expect((yield* Effect.flip(p.delete("default")))._tag).toBe("BadRequest")
      yield* p.delete("st1")
      expect(yield* p.exists("st1")).toBe(false)
    }).pipe(Effect.provide(Fake)))

  it.effect("volume snapshots: auto-named snap0/snap1, named with expires_at, list 3, restore, delete, rename", () =>
    Effect.gen(function*() {
      const v = yield* StorageVolumes.StorageVolumes
      yield* v.create("default", "custom", { name: "v1" })
      const s = v.snapshots
      expect(yield* s.create("default", "custom", "v1")).toBe("snap0")
      expect(yield* s.create("default", "custom", "v1")).toBe("snap1")
      expect(yield* s.create("default", "custom", "v1", { name: "named", expires_at: "2030-01-01T00:00:00Z" }))
        .toBe("named")
      expect((yield* s.get("default", "custom", "v1", "named")).expires_at).toBe("2030-01-01T00:00:00Z")
      expect((yield* s.list("default", "custom", "v1")).length).toBe(3)
      yield* v.restore("default", "custom", "v1", "snap0")
      yield* s.delete("default", "custom", "v1", "snap1")
      expect(yield* s.exists("default", "custom", "v1", "snap1")).toBe(false)
      expect((yield* Effect.flip(s.get("default", "custom", "v1", "snap1")))._tag).toBe("NotFound")
      yield* s.rename("default", "custom", "v1", "named", "renamed")
      expect(yield* s.listNames("default", "custom", "v1")).toEqual(["renamed", "snap0"])
      yield* s.update("default", "custom", "v1", "renamed", { expires_at: "2031-01-01T00:00:00Z" })
      expect((yield* s.get("default", "custom", "v1", "renamed")).expires_at).toBe("2031-01-01T00:00:00Z")
      yield* v.delete("default", "custom", "v1")
      expect(yield* v.exists("default", "custom", "v1")).toBe(false)
    }).pipe(Effect.provide(Fake)))

  it.effect("backups export and import round-trip; copy and move between pools", () =>
    Effect.gen(function*() {
      const p = yield* StoragePools.StoragePools
      const v = yield* StorageVolumes.StorageVolumes
      yield* p.create({ name: "st2", driver: "dir" })
      yield* v.create("default", "custom", { name: "v1", config: { "user.k": "x" } })
      yield* v.snapshots.create("default", "custom", "v1", { name: "s0" })
      const backup = yield* v.backups.create("default", "custom", "v1", {})
      expect(backup).toBe("backup0")
      const imported = yield* v.importBackup("st2", v.backups.export("default", "custom", "v1", backup), {
        name: "v1imp"
      })
      expect((yield* v.get("st2", "custom", imported)).config).toEqual({ "user.k": "x" })
      expect(yield* v.snapshots.listNames("st2", "custom", "v1imp")).toEqual(["s0"])
      yield* v.copy("default", "v1", { targetPool: "st2", targetName: "v1copy" })
      expect(yield* v.snapshots.listNames("st2", "custom", "v1copy")).toEqual(["s0"])
      yield* v.move("default", "v1", { pool: "st2", name: "v1moved" })
      expect(yield* v.exists("default", "custom", "v1")).toBe(false)
      expect((yield* v.listAll("st2")).map((x) => x.name)).toEqual(["v1copy", "v1imp", "v1moved"])
      expect((yield* Effect.flip(p.delete("st2")))._tag).toBe("BadRequest")
    }).pipe(Effect.provide(Fake)))
})

describe("5.0.2's PATCH of a pool or volume resets a description it is not sent", () => {
  it.effect("update merges into a PUT with the ETag it read, so the description stays (on the fake as on LXD)", () =>
    Effect.gen(function*() {
      const p = yield* StoragePools.StoragePools
      const v = yield* StorageVolumes.StorageVolumes
      yield* p.create({ name: "st1", driver: "dir", description: "keep" })
      yield* p.update("st1", { config: { "user.a": "1" } })
      expect((yield* p.get("st1")).description).toBe("keep")
      yield* v.create("default", "custom", { name: "v1", description: "keep", config: { "user.a": "1" } })
      yield* v.update("default", "custom", "v1", { config: { "user.b": "2" } })
      expect(yield* v.get("default", "custom", "v1")).toMatchObject({
        description: "keep",
        config: { "user.a": "1", "user.b": "2" }
      })
      // what a bare PATCH does, on the fake as on 5.0.2
      const client = yield* LxdClient.LxdClient
      yield* client.request({ method: "PATCH", path: "/storage-pools/st1", body: { config: { "user.c": "3" } } })
      expect((yield* p.get("st1")).description).toBe("")
    }).pipe(Effect.provide(Fake)))
})

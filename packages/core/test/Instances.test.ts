import { Containers, Instances, LxdClient, VirtualMachines } from "@effect-lxd/core"
import { LxdMockTransport } from "@effect-lxd/testing"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, DateTime, Effect, Fiber, Stream, TestClock } from "effect"
import { mockLayer, serverInfo } from "./helpers.js"

const { sync, error, async: asyncAnswer, operation, route, socket, event, raw } = LxdMockTransport

const ALL_EXTENSIONS = [
  "etag",
  "api_filtering",
  "instance_all_projects",
  "instance_get_full",
  "instance_bulk_state_change",
  "snapshot_expiry",
  "image_create_aliases",
  "instance_pool_move",
  "instance_project_move",
  "clustering"
]

const recorded = Effect.flatMap(LxdMockTransport.MockTransport, (m) => m.requests)
const requests = Effect.map(
  recorded,
  (rs) => rs.filter((r) => r.path !== "" && !r.path.endsWith("/wait")).map((r) => `${r.method} ${r.url}`)
)
const find = (method: string, url: string) =>
  Effect.map(recorded, (rs) => {
    const r = rs.find((x) => x.method === method && x.url === url)
    if (r === undefined) throw new Error(`no ${method} ${url} in ${rs.map((x) => `${x.method} ${x.url}`).join(", ")}`)
    return r
  })

/** An instance as LXD 5.0.2 sends it, plus fields from a newer server and Go's nulls. */
const instanceJson = (name: string, overrides: Record<string, unknown> = {}) => ({
  architecture: "x86_64",
  config: { "limits.cpu": "1", "volatile.uuid": "u" },
  devices: null,
  ephemeral: false,
  profiles: null,
  stateful: false,
  description: "a box",
  created_at: "2026-11-23T20:48:40.422174457Z",
  expanded_config: { "limits.cpu": "1" },
  expanded_devices: { root: { path: "/", pool: "default", type: "disk" } },
  name,
  status: "Stopped",
  status_code: 102,
  last_used_at: "1970-01-01T00:00:00Z",
  location: "none",
  type: "container",
  project: "default",
  a_field_from_the_future: { nested: [1, 2] },
  ...overrides
})

const runningState = {
  status: "Running",
  status_code: 103,
  disk: {},
  memory: { usage: 798720, usage_peak: 1146880, swap_usage: 0, swap_usage_peak: 0, new_memory_field: 1 },
  network: {
    eth0: {
      addresses: [{ family: "inet", address: "10.0.0.2", netmask: "24", scope: "global" }],
      counters: {
        bytes_received: 10,
        bytes_sent: 20,
        packets_received: 1,
        packets_sent: 2,
        errors_received: 0,
        errors_sent: 0,
        packets_dropped_outbound: 0,
        packets_dropped_inbound: 0
      },
      hwaddr: "00:16:3e:00:00:01",
      host_name: "veth1",
      mtu: 1500,
      state: "up",
      type: "broadcast"
    },
    lo: { addresses: null, counters: null, mtu: 65536, state: "down", type: "loopback" }
  },
  pid: 952,
  processes: 3,
  cpu: { usage: 13065364 },
  a_field_from_the_future: true
}

const snapshotJson = (name: string, createdAt = "2026-11-23T20:49:02.061238373Z") => ({
  expires_at: "0001-01-01T00:00:00Z",
  architecture: "x86_64",
  config: {},
  created_at: createdAt,
  devices: {},
  ephemeral: false,
  expanded_config: {},
  expanded_devices: {},
  last_used_at: "0001-01-01T00:00:00Z",
  name,
  profiles: ["default"],
  stateful: false,
  size: -1,
  something_new: "x"
})

const done = (id: string, overrides: Record<string, unknown> = {}) =>
  sync(operation(id, { status: "Success", status_code: 200, ...overrides }))

/**
 * A mock LXD: `GET /1.0`, waits that succeed (with per-operation overrides), then the test's routes.
 */
const lxd = (
  routes: ReadonlyArray<LxdMockTransport.Route<LxdMockTransport.Handler>>,
  options: {
    readonly extensions?: ReadonlyArray<string>
    readonly finals?: Record<string, Record<string, unknown>>
    readonly sockets?: ReadonlyArray<LxdMockTransport.Route<LxdMockTransport.SocketHandler>>
  } = {}
) =>
  mockLayer({
    routes: [
      route("GET", "", () => Effect.succeed(sync(serverInfo(options.extensions ?? ALL_EXTENSIONS)))),
      route("GET", "/operations/:id/wait", (r) => Effect.succeed(done(r.params.id!, options.finals?.[r.params.id!]))),
      ...routes
    ],
    sockets: options.sockets
  })

/** An async answer for an operation that touches the given resources. */
const started = (id: string, resources: Record<string, ReadonlyArray<string>> = {}, mayCancel = false) =>
  Effect.succeed(asyncAnswer(operation(id, { may_cancel: mayCancel, resources })))

describe("decoding", () => {
  it.effect("list decodes instances with unknown fields and Go nulls; recursion=1", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const list = yield* instances.list()
      expect(list.map((i) => i.name)).toEqual(["c1", "c2"])
      expect(list[0]!.profiles).toEqual([])
      expect(list[0]!.devices).toEqual({})
      expect(list[0]!.config["limits.cpu"]).toBe("1")
      expect(DateTime.toEpochMillis(list[0]!.created_at)).toBe(Date.parse("2026-11-23T20:48:40.422Z"))
      expect(list[1]!.status).toBe("Hibernating") // an open enum: a status from the future does not break it
      expect(yield* requests).toEqual(["GET /1.0/instances?recursion=1"])
    }).pipe(Effect.provide(lxd([
      route("GET", "/instances", () =>
        Effect.succeed(sync([
          instanceJson("c1"),
          instanceJson("c2", { status: "Hibernating", status_code: 999 })
        ])))
    ]))))

  it.effect("listFull decodes state, snapshots and backups (recursion=2)", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const [full] = yield* instances.listFull()
      expect(full!.state?.status).toBe("Running")
      expect(full!.state?.network["eth0"]?.addresses[0]?.address).toBe("10.0.0.2")
      expect(full!.state?.network["lo"]?.addresses).toEqual([])
      expect(full!.snapshots.map((s) => s.name)).toEqual(["s0"])
      expect(full!.backups).toEqual([])
      expect(yield* requests).toEqual(["GET /1.0/instances?recursion=2"])
    }).pipe(Effect.provide(lxd([
      route("GET", "/instances", () =>
        Effect.succeed(sync([
          { ...instanceJson("c1"), state: runningState, snapshots: [snapshotJson("s0")], backups: null }
        ])))
    ]))))

  it.effect("state is typed: memory, cpu, network with addresses; unknown fields ignored", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const state = yield* instances.state("c1")
      expect(state.status_code).toBe(103)
      expect(state.pid).toBe(952)
      expect(state.memory.usage).toBe(798720)
      expect(state.cpu.usage).toBe(13065364)
      expect(state.network["eth0"]?.counters.bytes_sent).toBe(20)
      expect(state.network["lo"]?.counters.bytes_sent).toBe(0)
      expect(state.disk).toEqual({})
    }).pipe(Effect.provide(lxd([route("GET", "/instances/c1/state", () => Effect.succeed(sync(runningState)))]))))

  it.effect("a stopped instance's state (network null) decodes", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const state = yield* instances.state("c1")
      expect(state.network).toEqual({})
      expect(state.status).toBe("Stopped")
    }).pipe(Effect.provide(lxd([
      route("GET", "/instances/c1/state", () =>
        Effect.succeed(sync({
          status: "Stopped",
          status_code: 102,
          disk: {},
          memory: { usage: 0, usage_peak: 0, swap_usage: 0, swap_usage_peak: 0 },
          network: null,
          pid: 0,
          processes: 0,
          cpu: { usage: 0 }
        })))
    ]))))

  it.effect("metadata that is not an instance is a ProtocolError naming the schema", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const e = yield* Effect.flip(instances.get("c1"))
      expect(e._tag).toBe("ProtocolError")
      expect(e.message).toContain("Instance")
    }).pipe(Effect.provide(lxd([route("GET", "/instances/c1", () => Effect.succeed(sync({ name: "c1" })))]))))
})

describe("reading", () => {
  it.effect("listNames decodes URLs; listNamesAllProjects groups by project", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      expect(yield* instances.listNames()).toEqual(["c1", "web-2"])
      expect(yield* instances.listNamesAllProjects()).toEqual({ default: ["c1", "web-2"], p2: ["inp2"] })
      expect(yield* requests).toEqual([
        "GET /1.0/instances?recursion=0",
        "GET /1.0/instances?recursion=0&all-projects=true"
      ])
    }).pipe(Effect.provide(lxd([
      route("GET", "/instances", (r) =>
        Effect.succeed(sync(
          r.query["all-projects"] === "true"
            ? ["/1.0/instances/c1", "/1.0/instances/web-2", "/1.0/instances/inp2?project=p2"]
            : ["/1.0/instances/c1", "/1.0/instances/web-2"]
        )))
    ]))))

  it.effect("filters are sent as filter= (joined with and)", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      yield* instances.list({ filter: "status eq Running" })
      yield* instances.listNames({ filter: ["type eq container", "config.image.os eq busybox"] })
      const rs = yield* recorded
      const lists = rs.filter((r) => r.path === "/instances")
      expect(lists[0]!.query).toEqual({ recursion: "1", filter: "status eq Running" })
      expect(lists[1]!.query).toEqual({
        recursion: "0",
        filter: "type eq container and config.image.os eq busybox"
      })
    }).pipe(Effect.provide(lxd([route("GET", "/instances", () => Effect.succeed(sync([])))]))))

  it.effect("getWithEtag returns the ETag; getFull asks recursion=1; exists maps NotFound to false", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const { etag, value: instance } = yield* instances.getWithEtag("c1")
      expect(instance.name).toBe("c1")
      expect(etag).toBe("\"abc\"")
      const full = yield* instances.getFull("c1")
      expect(full.snapshots).toEqual([])
      expect(yield* instances.exists("c1")).toBe(true)
      expect(yield* instances.exists("nope")).toBe(false)
      expect(yield* requests).toEqual([
        "GET /1.0/instances/c1",
        "GET /1.0/instances/c1?recursion=1",
        "GET /1.0/instances/c1",
        "GET /1.0/instances/nope"
      ])
    }).pipe(Effect.provide(lxd([
      route("GET", "/instances/c1", () => Effect.succeed(sync(instanceJson("c1"), { etag: "\"abc\"" }))),
      route("GET", "/instances/nope", () => Effect.succeed(error(404, "Instance not found")))
    ]))))

  it.effect("a server error on get keeps its tag", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      expect((yield* Effect.flip(instances.get("c1")))._tag).toBe("Forbidden")
      expect((yield* Effect.flip(instances.exists("c1")))._tag).toBe("Forbidden")
    }).pipe(Effect.provide(lxd([route("GET", "/instances/c1", () => Effect.succeed(error(403, "not allowed")))]))))
})

describe("extension gating", () => {
  const bare = lxd([route("*", "/instances", () => Effect.die("no request expected"))], { extensions: ["etag"] })

  it.effect("filter, all-projects, getFull and bulk state need their extensions; nothing is sent", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const gated = [
        instances.list({ filter: "status eq Running" }),
        instances.listNames({ filter: ["a eq b"] }),
        instances.list({ allProjects: true }),
        instances.listNamesAllProjects(),
        instances.getFull("c1"),
        instances.setStateMany({ action: "stop", force: true }),
        instances.publish("c1", { aliases: ["x"] }),
        instances.snapshots.replace("c1", "s0", { expires_at: "2030-01-01T00:00:00Z" }),
        instances.snapshots.update("c1", "s0", { expires_at: "2030-01-01T00:00:00Z" }),
        instances.snapshots.modify("c1", "s0", (s) => s),
        instances.move("c1", { pool: "p2" }),
        instances.move("c1", { project: "p2", newName: "c2" }),
        instances.move("c1", { target: "m2" })
      ]
      const expected = [
        "api_filtering",
        "api_filtering",
        "instance_all_projects",
        "instance_all_projects",
        "instance_get_full",
        "instance_bulk_state_change",
        "image_create_aliases",
        "snapshot_expiry",
        "snapshot_expiry",
        "snapshot_expiry",
        "instance_pool_move",
        "instance_project_move",
        "clustering"
      ]
      for (const [i, effect] of gated.entries()) {
        const e = yield* Effect.flip(effect)
        expect(e._tag).toBe("APIExtensionNotAvailable")
        if (e._tag === "APIExtensionNotAvailable") expect(e.extension).toBe(expected[i])
      }
      expect(yield* requests).toEqual([])
    }).pipe(Effect.provide(bare)))
})

describe("request shapes", () => {
  it.effect("create: body, generated name read from the operation, target on the POST only", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const name = yield* instances.create(
        {
          source: { type: "image", alias: "busybox", server: "https://images.example", protocol: "simplestreams" },
          config: { "limits.cpu": "1" },
          description: "hello",
          ephemeral: true,
          devices: { eth0: { type: "nic", network: "br0" } }
        },
        { target: "node2" }
      )
      expect(name).toBe("relaxing-crappie")
      const post = yield* find("POST", "/1.0/instances?target=node2")
      expect(post.body).toEqual({
        source: { type: "image", alias: "busybox", server: "https://images.example", protocol: "simplestreams" },
        config: { "limits.cpu": "1" },
        description: "hello",
        ephemeral: true,
        devices: { eth0: { type: "nic", network: "br0" } }
      })
      const waits = (yield* recorded).filter((r) => r.path.endsWith("/wait"))
      expect(waits.every((r) => r.query["target"] === undefined)).toBe(true)
    }).pipe(Effect.provide(lxd([
      route("POST", "/instances", () =>
        started("op1", {
          instances: ["/1.0/instances/relaxing-crappie"],
          containers: ["/1.0/containers/relaxing-crappie"]
        }))
    ]))))

  it.effect("create with withTarget sends the target; a copy defaults profiles to default", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      yield* instances.create({ name: "c2", source: { type: "copy", source: "c1/snap0" } }).pipe(
        LxdClient.withTarget("node3")
      )
      yield* instances.copy("c1", "c3", { instanceOnly: true, profiles: ["default", "extra"] })
      const rs = (yield* recorded).filter((r) => r.method === "POST")
      expect(rs[0]!.query).toEqual({ target: "node3" })
      expect(rs[0]!.body).toEqual({
        name: "c2",
        source: { type: "copy", source: "c1/snap0" },
        profiles: ["default"]
      })
      expect(rs[1]!.body).toEqual({
        name: "c3",
        source: { type: "copy", source: "c1", instance_only: true },
        profiles: ["default", "extra"]
      })
    }).pipe(Effect.provide(lxd([route("POST", "/instances", () => started("op2"))]))))

  it.effect("createOperation returns the handle; its scope owns the operation", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const handle = yield* Effect.scoped(instances.createOperation({ name: "c9", source: { type: "none" } }))
      expect(handle.id).toBe("op3")
      const post = yield* find("POST", "/1.0/instances")
      expect(post.body).toEqual({ name: "c9", source: { type: "none" } })
      // the scope closed before the operation ended: it was cancelled
      expect(yield* requests).toEqual(["POST /1.0/instances", "DELETE /1.0/operations/op3"])
    }).pipe(Effect.provide(lxd([
      route("POST", "/instances", () => started("op3", {}, true)),
      route("DELETE", "/operations/op3", () => Effect.succeed(sync(null)))
    ]))))

  it.effect("replace sends PUT with If-Match and without read-only fields", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      yield* instances.replace("c1", {
        architecture: "x86_64",
        config: { a: "b" },
        devices: {},
        ephemeral: false,
        profiles: ["default"],
        description: "new",
        stateful: false
      }, { etag: "\"e1\"" })
      const put = yield* find("PUT", "/1.0/instances/c1")
      expect(put.headers["if-match"]).toBe("\"e1\"")
      expect(put.body).toEqual({
        architecture: "x86_64",
        config: { a: "b" },
        devices: {},
        ephemeral: false,
        profiles: ["default"],
        description: "new",
        stateful: false
      })
    }).pipe(Effect.provide(lxd([route("PUT", "/instances/c1", () => started("op4"))]))))

  it.effect("update always sends the description: the current one when the patch has none", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      yield* instances.update("c1", { config: { "limits.cpu": "2" } }, { etag: "\"e2\"" })
      yield* instances.update("c1", { description: "mine" })
      const patches = (yield* recorded).filter((r) => r.method === "PATCH")
      expect(patches[0]!.body).toEqual({ config: { "limits.cpu": "2" }, description: "a box" })
      expect(patches[0]!.headers["if-match"]).toBe("\"e2\"")
      expect(patches[1]!.body).toEqual({ description: "mine" })
      expect(yield* requests).toEqual([
        "GET /1.0/instances/c1",
        "PATCH /1.0/instances/c1",
        "PATCH /1.0/instances/c1"
      ])
    }).pipe(Effect.provide(lxd([
      route("GET", "/instances/c1", () => Effect.succeed(sync(instanceJson("c1")))),
      route("PATCH", "/instances/c1", () => Effect.succeed(sync({})))
    ]))))

  it.effect("modify: GET → f → PUT with the GET's ETag; unknown fields survive, read-only ones are dropped", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      yield* instances.modify("c1", (i) => ({ ...i, config: { ...i.config, "user.x": "1" } }))
      const put = yield* find("PUT", "/1.0/instances/c1")
      expect(put.headers["if-match"]).toBe("\"e3\"")
      const body = put.body as Record<string, unknown>
      expect(body["a_field_from_the_future"]).toEqual({ nested: [1, 2] })
      expect(body["config"]).toEqual({ "limits.cpu": "1", "volatile.uuid": "u", "user.x": "1" })
      expect(body["description"]).toBe("a box")
      for (const k of ["name", "status", "status_code", "created_at", "expanded_config", "type", "project"]) {
        expect(body).not.toHaveProperty(k)
      }
    }).pipe(Effect.provide(lxd([
      route("GET", "/instances/c1", () => Effect.succeed(sync(instanceJson("c1"), { etag: "\"e3\"" }))),
      route("PUT", "/instances/c1", () => started("op5"))
    ]))))

  it.effect("a stale ETag is PreconditionFailed", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const e = yield* Effect.flip(instances.update("c1", { description: "x" }, { etag: "\"old\"" }))
      expect(e._tag).toBe("PreconditionFailed")
    }).pipe(Effect.provide(lxd([
      route("PATCH", "/instances/c1", () => Effect.succeed(error(412, "ETag doesn't match: a vs b")))
    ]))))

  it.effect("rename, delete --force, and the state actions", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      yield* instances.rename("c1", "c2")
      yield* instances.delete("c2", { force: true })
      yield* instances.start("c1")
      yield* instances.stop("c1", { force: true, timeout: 5 })
      yield* instances.restart("c1", { force: true })
      yield* instances.freeze("c1")
      yield* instances.unfreeze("c1")
      yield* instances.setStateMany({ action: "stop", force: true })
      expect(yield* requests).toEqual([
        "POST /1.0/instances/c1",
        "GET /1.0/instances/c2/state",
        "PUT /1.0/instances/c2/state",
        "DELETE /1.0/instances/c2",
        "PUT /1.0/instances/c1/state",
        "PUT /1.0/instances/c1/state",
        "PUT /1.0/instances/c1/state",
        "PUT /1.0/instances/c1/state",
        "PUT /1.0/instances/c1/state",
        "PUT /1.0/instances"
      ])
      const rs = yield* recorded
      expect(rs.find((r) => r.method === "POST")!.body).toEqual({ name: "c2" })
      expect(rs.filter((r) => r.method === "PUT").map((r) => r.body)).toEqual([
        { action: "stop", force: true },
        { action: "start" },
        { action: "stop", force: true, timeout: 5 },
        { action: "restart", force: true },
        { action: "freeze" },
        { action: "unfreeze" },
        { state: { action: "stop", force: true } }
      ])
    }).pipe(Effect.provide(lxd([
      route("POST", "/instances/c1", () => started("r1")),
      route("GET", "/instances/c2/state", () => Effect.succeed(sync(runningState))),
      route("PUT", "/instances/c2/state", () => started("s1")),
      route("DELETE", "/instances/c2", () => started("d1")),
      route("PUT", "/instances/c1/state", () => started("s2")),
      route("PUT", "/instances", () => started("s3"))
    ]))))

  it.effect("delete --force of a stopped instance does not stop it; 'already stopped' races are ignored", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      yield* instances.delete("c1", { force: true })
      yield* instances.delete("c3", { force: true })
      expect(yield* requests).toEqual([
        "GET /1.0/instances/c1/state",
        "DELETE /1.0/instances/c1",
        "GET /1.0/instances/c3/state",
        "PUT /1.0/instances/c3/state",
        "DELETE /1.0/instances/c3"
      ])
    }).pipe(Effect.provide(lxd([
      route("GET", "/instances/c1/state", () => Effect.succeed(sync({ status: "Stopped", status_code: 102 }))),
      route("GET", "/instances/c3/state", () => Effect.succeed(sync({ status: "Frozen", status_code: 110 }))),
      route("PUT", "/instances/c3/state", () => started("s9")),
      route("DELETE", "/instances/:name", () => started("d2"))
    ], {
      finals: { s9: { status: "Failure", status_code: 400, err: "The instance is already stopped" } }
    }))))

  it.effect("snapshots: list, get, create, rename, replace, restore, delete, publish", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const s = instances.snapshots
      expect(yield* s.listNames("c1")).toEqual(["s0", "s1"])
      expect((yield* s.list("c1")).map((x) => x.name)).toEqual(["s0"])
      const { etag, value: snapshot } = yield* s.getWithEtag("c1", "s0")
      expect(snapshot.size).toBe(-1)
      expect(etag).toBe("\"se\"")
      expect(yield* s.create("c1", { name: "s2", expires_at: new Date("2030-01-01T00:00:00Z") })).toBe("s2")
      yield* s.rename("c1", "s2", "s3")
      yield* s.replace("c1", "s3", { expires_at: DateTime.unsafeMake("2031-01-01T00:00:00Z") }, { etag: "\"se\"" })
      yield* s.restore("c1", "s3")
      yield* s.delete("c1", "s3")
      const published = yield* s.publish("c1", "s0", {
        aliases: ["img", { name: "img2", description: "d" }],
        public: true
      })
      // the Image as the server has it after the publish (GET /images/{fingerprint})
      expect(published).toMatchObject({
        fingerprint: "f00d",
        public: true,
        aliases: [{ name: "img" }, { name: "img2" }]
      })
      const rs = yield* recorded
      const body = (method: string, url: string) => rs.find((r) => r.method === method && r.url === url)!.body
      expect(body("POST", "/1.0/instances/c1/snapshots")).toEqual({
        name: "s2",
        expires_at: "2030-01-01T00:00:00.000Z"
      })
      expect(body("POST", "/1.0/instances/c1/snapshots/s2")).toEqual({ name: "s3" })
      expect(body("PUT", "/1.0/instances/c1/snapshots/s3")).toEqual({ expires_at: "2031-01-01T00:00:00.000Z" })
      expect(rs.find((r) => r.method === "PUT" && r.url === "/1.0/instances/c1/snapshots/s3")!.headers["if-match"])
        .toBe("\"se\"")
      expect(body("PUT", "/1.0/instances/c1")).toEqual({ restore: "s3" })
      expect(body("POST", "/1.0/images")).toEqual({
        source: { type: "snapshot", name: "c1/s0" },
        aliases: [{ name: "img" }, { name: "img2", description: "d" }],
        public: true
      })
      expect(yield* requests).toContain("DELETE /1.0/instances/c1/snapshots/s3")
      expect(yield* requests).toContain("GET /1.0/instances/c1/snapshots?recursion=1")
    }).pipe(Effect.provide(lxd([
      route("GET", "/instances/c1/snapshots", (r) =>
        Effect.succeed(sync(
          r.query["recursion"] === "1"
            ? [snapshotJson("s0")]
            : ["/1.0/instances/c1/snapshots/s0", "/1.0/instances/c1/snapshots/s1"]
        ))),
      route("GET", "/instances/c1/snapshots/s0", () => Effect.succeed(sync(snapshotJson("s0"), { etag: "\"se\"" }))),
      route("POST", "/instances/c1/snapshots", () => started("sn1")),
      route("*", "/instances/c1/snapshots/:s", () => started("sn2")),
      route("PUT", "/instances/c1", () => started("sn3")),
      route("POST", "/images", () => started("pub1")),
      route("GET", "/images/f00d", () =>
        Effect.succeed(sync({
          fingerprint: "f00d",
          public: true,
          aliases: [{ name: "img", description: "" }, { name: "img2", description: "d" }],
          properties: {}
        })))
    ], { finals: { pub1: { metadata: { fingerprint: "f00d", size: "123" } } } }))))

  it.effect("a snapshot without a name: the newest one is returned", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      expect(yield* instances.snapshots.create("c1")).toBe("snap1")
      expect((yield* find("POST", "/1.0/instances/c1/snapshots")).body).toEqual({})
    }).pipe(Effect.provide(lxd([
      route("POST", "/instances/c1/snapshots", () => started("sn4")),
      route("GET", "/instances/c1/snapshots", () =>
        Effect.succeed(sync([
          snapshotJson("snap0", "2026-11-23T20:00:00Z"),
          snapshotJson("snap1", "2026-11-23T21:00:00Z")
        ])))
    ]))))

  it.effect("a stateful snapshot without CRIU fails with OperationFailed and LXD's message", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const e = yield* Effect.flip(instances.snapshots.create("c1", { name: "live", stateful: true }))
      expect(e._tag).toBe("OperationFailed")
      expect(e.message).toBe("Unable to create a stateful snapshot. CRIU isn't installed")
      expect((yield* find("POST", "/1.0/instances/c1/snapshots")).body).toEqual({ name: "live", stateful: true })
    }).pipe(Effect.provide(lxd([route("POST", "/instances/c1/snapshots", () => started("sn5"))], {
      finals: {
        sn5: { status: "Failure", status_code: 400, err: "Unable to create a stateful snapshot. CRIU isn't installed" }
      }
    }))))

  it.effect("publish an instance returns the Image the operation names, with its properties", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const fp = yield* instances.publish("c1", {
        properties: { os: "busybox" },
        compression_algorithm: "none",
        expires_at: "2030-01-01T00:00:00Z"
      })
      expect(fp).toMatchObject({ fingerprint: "beef", properties: { os: "busybox" } })
      expect((yield* find("POST", "/1.0/images")).body).toEqual({
        source: { type: "instance", name: "c1" },
        properties: { os: "busybox" },
        compression_algorithm: "none",
        expires_at: "2030-01-01T00:00:00Z"
      })
    }).pipe(Effect.provide(lxd([
      route("POST", "/images", () => started("pub2")),
      route("GET", "/images/beef", () => Effect.succeed(sync({ fingerprint: "beef", properties: { os: "busybox" } })))
    ], {
      finals: { pub2: { metadata: { fingerprint: "beef", size: "1" } } }
    }))))

  it.effect("backups: create (name from the operation), list, get, rename, delete, download", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const b = instances.backups
      expect(yield* b.create("c1", { instance_only: true, compression_algorithm: "gzip" })).toBe("backup0")
      expect(yield* b.listNames("c1")).toEqual(["backup0"])
      const [backup] = yield* b.list("c1")
      expect(backup!.instance_only).toBe(true)
      expect((yield* b.get("c1", "backup0")).name).toBe("backup0")
      yield* b.rename("c1", "backup0", "b1")
      yield* b.delete("c1", "b1")
      const chunks = yield* Stream.runCollect(b.download("c1", "b1"))
      const bytes = Chunk.toReadonlyArray(chunks).reduce((n, c) => n + c.length, 0)
      expect(bytes).toBe(4096)
      expect((yield* find("POST", "/1.0/instances/c1/backups")).body).toEqual({
        instance_only: true,
        compression_algorithm: "gzip"
      })
      expect((yield* find("POST", "/1.0/instances/c1/backups/backup0")).body).toEqual({ name: "b1" })
      expect(yield* requests).toContain("DELETE /1.0/instances/c1/backups/b1")
      expect(yield* requests).toContain("GET /1.0/instances/c1/backups/b1/export")
    }).pipe(Effect.provide(lxd([
      route(
        "POST",
        "/instances/c1/backups",
        () => started("bk1", { backups: ["/1.0/backups/backup0"], instances: ["/1.0/instances/c1"] })
      ),
      route("GET", "/instances/c1/backups", (r) =>
        Effect.succeed(sync(
          r.query["recursion"] === "1"
            ? [{ name: "backup0", created_at: "2026-11-23T20:49:10Z", instance_only: true, new_field: 1 }]
            : ["/1.0/instances/c1/backups/backup0"]
        ))),
      route("GET", "/instances/c1/backups/backup0", () =>
        Effect.succeed(sync({
          name: "backup0",
          created_at: "2026-11-23T20:49:10Z",
          expires_at: "0001-01-01T00:00:00Z"
        }))),
      route("POST", "/instances/c1/backups/backup0", () => started("bk2")),
      route("DELETE", "/instances/c1/backups/b1", () => started("bk3")),
      route("GET", "/instances/c1/backups/b1/export", () => Effect.succeed(raw(new Uint8Array(4096))))
    ], { finals: { bk1: { resources: { backups: ["/1.0/backups/backup0"], instances: ["/1.0/instances/c1"] } } } }))))

  it.effect("a download of a missing backup fails with NotFound", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const e = yield* Effect.flip(Stream.runDrain(instances.backups.download("c1", "nope")))
      expect(e._tag).toBe("NotFound")
    }).pipe(Effect.provide(lxd([
      route("GET", "/instances/c1/backups/nope/export", () => Effect.succeed(error(404, "Backup not found")))
    ]))))

  it.effect("createFromBackup streams an octet-stream body with X-LXD-name and X-LXD-pool", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const tarball = Stream.fromIterable([new Uint8Array([1, 2, 3]), new Uint8Array([4, 5])])
      const name = yield* instances.createFromBackup(tarball, { name: "restored1", pool: "default" })
      expect(name).toBe("restored1")
      const post = yield* find("POST", "/1.0/instances")
      expect(post.headers["content-type"]).toBe("application/octet-stream")
      expect(post.headers["x-lxd-name"]).toBe("restored1")
      expect(post.headers["x-lxd-pool"]).toBe("default")
      expect(Array.from(post.bytes!)).toEqual([1, 2, 3, 4, 5])
    }).pipe(Effect.provide(lxd([
      route("POST", "/instances", () => started("imp1", { instances: ["/1.0/instances/restored1"] }))
    ]))))

  it.effect("snapshots.update is a PATCH of what it is given (expires_at as RFC 3339); modify a GET then a PUT", () =>
    Effect.gen(function*() {
      const s = (yield* Instances.Instances).snapshots
      yield* s.update("c1", "s0", { expires_at: new Date("2030-01-01T00:00:00Z") }, { etag: "\"se\"" })
      yield* s.update("c1", "s0", {})
      yield* s.modify("c1", "s0", (current) => {
        expect(current).toEqual({ expires_at: "2031-02-03T04:05:06Z", something_new: "x", a_field_from_the_future: 7 })
        return { ...current, expires_at: DateTime.unsafeMake("2032-01-01T00:00:00Z") }
      })
      const rs = (yield* recorded).filter((r) => r.path.startsWith("/instances/"))
      expect(rs.map((r) => [r.method, r.url, r.body, r.headers["if-match"]])).toEqual([
        ["PATCH", "/1.0/instances/c1/snapshots/s0", { expires_at: "2030-01-01T00:00:00.000Z" }, "\"se\""],
        ["PATCH", "/1.0/instances/c1/snapshots/s0", {}, undefined],
        ["GET", "/1.0/instances/c1/snapshots/s0", undefined, undefined],
        [
          "PUT",
          "/1.0/instances/c1/snapshots/s0",
          { expires_at: "2032-01-01T00:00:00.000Z", something_new: "x", a_field_from_the_future: 7 },
          "\"s9\""
        ]
      ])
    }).pipe(Effect.provide(lxd([
      route("GET", "/instances/c1/snapshots/s0", () =>
        Effect.succeed(sync(
          { ...snapshotJson("s0"), expires_at: "2031-02-03T04:05:06Z", a_field_from_the_future: 7 },
          { etag: "\"s9\"" }
        ))),
      route("*", "/instances/c1/snapshots/s0", () => started("su1"))
    ]))))

  it.effect("snapshots.update: a stale ETag is PreconditionFailed; a failed operation OperationFailed", () =>
    Effect.gen(function*() {
      const s = (yield* Instances.Instances).snapshots
      const stale = yield* Effect.flip(s.update("c1", "s0", { expires_at: "2030-01-01T00:00:00Z" }, { etag: "x" }))
      expect(stale._tag).toBe("PreconditionFailed")
      const failed = yield* Effect.flip(s.update("c1", "s1", { expires_at: "2030-01-01T00:00:00Z" }))
      expect(failed._tag).toBe("OperationFailed")
      expect(failed.message).toBe("boom")
    }).pipe(Effect.provide(lxd([
      route("PATCH", "/instances/c1/snapshots/s0", () => Effect.succeed(error(412, "ETag doesn't match: a vs x"))),
      route("PATCH", "/instances/c1/snapshots/s1", () => started("su2"))
    ], { finals: { su2: { status: "Failure", status_code: 400, err: "boom" } } }))))

  it.effect("an invalid Date as expires_at is InvalidArgument (never a thrown RangeError); nothing is written", () =>
    Effect.gen(function*() {
      const i = yield* Instances.Instances
      const bad = new Date("not a date")
      const attempts = [
        i.snapshots.create("c1", { name: "s9", expires_at: bad }),
        i.snapshots.replace("c1", "s0", { expires_at: bad }),
        i.snapshots.update("c1", "s0", { expires_at: bad }),
        i.snapshots.modify("c1", "s0", (current) => ({ ...current, expires_at: bad })),
        i.backups.create("c1", { name: "b9", expires_at: bad }),
        i.publish("c1", { expires_at: bad })
      ]
      for (const attempt of attempts) {
        const e = yield* Effect.flip(attempt)
        expect(e).toMatchObject({ _tag: "InvalidArgument", argument: "expires_at" })
      }
      expect((yield* recorded).filter((r) => r.method !== "GET")).toEqual([])
    }).pipe(Effect.provide(lxd([
      route(
        "GET",
        "/instances/c1/snapshots/s0",
        () => Effect.succeed(sync({ ...snapshotJson("s0") }, { etag: "\"se\"" }))
      )
    ]))))

  it.effect("move: POST with migration and the pool, the project or ?target= (name, live when given), waited on", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      yield* instances.move("c1", { pool: "p2" })
      yield* instances.move("c1", { project: "p2", newName: "c2", live: false })
      yield* instances.move("c1", { pool: "p2" }).pipe(LxdClient.withProject("dev"))
      yield* instances.move("c1", { target: "m2", live: false })
      const posts = (yield* recorded).filter((r) => r.method === "POST")
      expect(posts.map((r) => [r.url, r.body])).toEqual([
        ["/1.0/instances/c1", { migration: true, pool: "p2" }],
        ["/1.0/instances/c1", { migration: true, name: "c2", project: "p2", live: false }],
        ["/1.0/instances/c1?project=dev", { migration: true, pool: "p2" }],
        ["/1.0/instances/c1?target=m2", { migration: true, live: false }]
      ])
      expect((yield* recorded).filter((r) => r.path.endsWith("/wait")).map((r) => r.path)).toEqual([
        "/operations/mv1/wait",
        "/operations/mv1/wait",
        "/operations/mv1/wait",
        "/operations/mv1/wait"
      ])
    }).pipe(Effect.provide(lxd([
      route("POST", "/instances/c1", () => started("mv1", { instances: ["/1.0/instances/c1"] }))
    ]))))

  it.effect("move: LXD's refusal of a running instance is OperationFailed with its text", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const e = yield* Effect.flip(instances.move("c1", { pool: "p2" }))
      expect(e._tag).toBe("OperationFailed")
      expect(e.message).toBe("Unable to perform container live migration. CRIU isn't installed")
    }).pipe(Effect.provide(lxd([
      route("POST", "/instances/c1", () => started("mv2"))
    ], {
      finals: {
        mv2: {
          status: "Failure",
          status_code: 400,
          err: "Unable to perform container live migration. CRIU isn't installed"
        }
      }
    }))))

  it.effect("console log, log files, metadata and templates", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      expect(yield* instances.consoleLog("c1")).toBe("boot ok\n")
      yield* instances.clearConsoleLog("c1")
      expect(yield* instances.logs.list("c1")).toEqual(["lxc.conf", "lxc.log"])
      expect(yield* instances.logs.get("c1", "lxc.log")).toBe("log line\n")
      yield* instances.logs.delete("c1", "exec_1.stdout")
      const { etag, value: metadata } = yield* instances.metadata.getWithEtag("c1")
      expect(metadata.templates["/etc/hostname"]?.when).toEqual(["create"])
      expect(metadata.properties["os"]).toBe("busybox")
      yield* instances.metadata.replace("c1", { ...metadata, properties: { os: "x" } }, { etag })
      expect(yield* instances.templates.list("c1")).toEqual(["hostname.tpl"])
      expect(yield* instances.templates.get("c1", "hostname.tpl")).toBe("{{ container.name }}")
      yield* instances.templates.put("c1", "hostname.tpl", "new {{ container.name }}")
      yield* instances.templates.delete("c1", "hostname.tpl")
      const rs = yield* recorded
      const tplPost = rs.find((r) => r.method === "POST" && r.path === "/instances/c1/metadata/templates")!
      expect(tplPost.query).toEqual({ path: "hostname.tpl" })
      expect(tplPost.headers["content-type"]).toBe("application/octet-stream")
      expect(new TextDecoder().decode(tplPost.bytes)).toBe("new {{ container.name }}")
      const metaPut = rs.find((r) => r.method === "PUT" && r.path === "/instances/c1/metadata")!
      expect(metaPut.headers["if-match"]).toBe("\"m1\"")
      expect((metaPut.body as { properties: unknown }).properties).toEqual({ os: "x" })
      expect(yield* requests).toEqual([
        "GET /1.0/instances/c1/console",
        "DELETE /1.0/instances/c1/console",
        "GET /1.0/instances/c1/logs",
        "GET /1.0/instances/c1/logs/lxc.log",
        "DELETE /1.0/instances/c1/logs/exec_1.stdout",
        "GET /1.0/instances/c1/metadata",
        "GET /1.0/instances/c1/metadata", // the ETag check (5.0.2 ignores If-Match on this PUT)
        "PUT /1.0/instances/c1/metadata",
        "GET /1.0/instances/c1/metadata/templates",
        "GET /1.0/instances/c1/metadata/templates?path=hostname.tpl",
        "POST /1.0/instances/c1/metadata/templates?path=hostname.tpl",
        "DELETE /1.0/instances/c1/metadata/templates?path=hostname.tpl"
      ])
    }).pipe(Effect.provide(lxd([
      route("GET", "/instances/c1/console", () => Effect.succeed(raw("boot ok\n"))),
      route("DELETE", "/instances/c1/console", () => Effect.succeed(sync({}))),
      route("GET", "/instances/c1/logs", () =>
        Effect.succeed(sync(["/1.0/instances/c1/logs/lxc.conf", "/1.0/instances/c1/logs/lxc.log"]))),
      route("GET", "/instances/c1/logs/lxc.log", () =>
        Effect.succeed(raw("log line\n"))),
      route("DELETE", "/instances/c1/logs/:file", () =>
        Effect.succeed(sync({}))),
      route("GET", "/instances/c1/metadata", () =>
        Effect.succeed(sync({
          architecture: "x86_64",
          creation_date: 1795466917,
          expiry_date: 0,
          properties: { os: "busybox" },
          templates: {
            "/etc/hostname": { when: ["create"], create_only: false, template: "hostname.tpl", properties: {} }
          }
        }, { etag: "\"m1\"" }))),
      route("PUT", "/instances/c1/metadata", () => Effect.succeed(sync({}))),
      route("GET", "/instances/c1/metadata/templates", (r) =>
        Effect.succeed(r.query["path"] === undefined ? sync(["hostname.tpl"]) : raw("{{ container.name }}"))),
      route("*", "/instances/c1/metadata/templates", () =>
        Effect.succeed(sync({})))
    ]))))

  it.effect("metadata.update is one PATCH with the caller's If-Match and only the fields given", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      yield* instances.metadata.update("c1", { properties: { os: "x" }, expiry_date: 5 }, { etag: "\"m1\"" })
      yield* instances.metadata.update("c1", { templates: {} })
      const patches = (yield* recorded).filter((r) => r.method === "PATCH")
      expect(patches.map((r) => [r.url, r.body, r.headers["if-match"]])).toEqual([
        ["/1.0/instances/c1/metadata", { properties: { os: "x" }, expiry_date: 5 }, "\"m1\""],
        ["/1.0/instances/c1/metadata", { templates: {} }, undefined]
      ])
      expect(yield* requests).toEqual(["PATCH /1.0/instances/c1/metadata", "PATCH /1.0/instances/c1/metadata"])
    }).pipe(Effect.provide(lxd([
      route("PATCH", "/instances/c1/metadata", () => Effect.succeed(sync({})))
    ]))))

  it.effect("metadata.update: LXD's 412 is PreconditionFailed, its 400 BadRequest", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const stale = yield* Effect.flip(instances.metadata.update("c1", { expiry_date: 1 }, { etag: "\"old\"" }))
      expect(stale._tag).toBe("PreconditionFailed")
      const wrong = yield* Effect.flip(instances.metadata.update("c1", { expiry_date: 1 }))
      expect(wrong._tag).toBe("BadRequest")
    }).pipe(Effect.provide(lxd([
      route("PATCH", "/instances/c1/metadata", (r) =>
        Effect.succeed(
          r.headers["if-match"] === undefined
            ? error(400, "json: cannot unmarshal string into Go struct field ImageMetadata.expiry_date of type int64")
            : error(412, "ETag doesn't match: m1 vs old")
        ))
    ]))))

  it.effect("metadata.replace with a stale ETag is refused by the client (5.0.2 would accept it)", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const e = yield* Effect.flip(
        instances.metadata.replace("c1", {
          architecture: "",
          creation_date: 0,
          expiry_date: 0,
          properties: {},
          templates: {}
        }, {
          etag: "\"old\""
        })
      )
      expect(e._tag).toBe("PreconditionFailed")
      expect(e.message).toBe("ETag doesn't match: m2 vs old (checked by the client)")
      expect(yield* requests).toEqual(["GET /1.0/instances/c1/metadata"])
    }).pipe(Effect.provide(lxd([
      route("GET", "/instances/c1/metadata", () => Effect.succeed(sync({}, { etag: "\"m2\"" })))
    ]))))

  it.effect("console log: 5.0.2's 500 for a running container is a clear LxdApiError; never-ran is empty", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const e = yield* Effect.flip(instances.consoleLog("running1"))
      expect(e._tag).toBe("LxdApiError")
      expect(e.message).toContain("console log of a running instance is not available")
      expect(e.message).toContain("open : no such file or directory")
      expect(yield* instances.consoleLog("fresh1")).toBe("")
      expect((yield* Effect.flip(instances.consoleLog("broken1")))._tag).toBe("LxdApiError")
    }).pipe(Effect.provide(lxd([
      route("GET", "/instances/running1/console", () => Effect.succeed(error(500, "open : no such file or directory"))),
      route(
        "GET",
        "/instances/fresh1/console",
        () => Effect.succeed(error(500, "open /var/lib/lxd/logs/fresh1/console.log: no such file or directory"))
      ),
      route("GET", "/instances/broken1/console", () => Effect.succeed(error(500, "disk on fire")))
    ]))))
})

describe("project", () => {
  it.effect("withProject adds ?project= to every request, waits included", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      yield* Effect.gen(function*() {
        yield* instances.list()
        yield* instances.start("c1")
        yield* instances.snapshots.create("c1", { name: "s1" })
      }).pipe(LxdClient.withProject("p2"))
      const rs = (yield* recorded).filter((r) => r.path !== "")
      expect(rs.length).toBeGreaterThanOrEqual(5)
      for (const r of rs) expect(r.query["project"], `${r.method} ${r.url}`).toBe("p2")
    }).pipe(Effect.provide(lxd([
      route("GET", "/instances", () => Effect.succeed(sync([]))),
      route("PUT", "/instances/c1/state", () => started("p1")),
      route("POST", "/instances/c1/snapshots", () => started("p2"))
    ]))))

  it.effect("all-projects leaves the project out", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      yield* instances.list({ allProjects: true }).pipe(LxdClient.withProject("p2"))
      const r = (yield* recorded).find((x) => x.path === "/instances")!
      expect(r.query).toEqual({ recursion: "1", "all-projects": "true" })
    }).pipe(Effect.provide(lxd([route("GET", "/instances", () => Effect.succeed(sync([])))]))))
})

describe("bad names never reach the server", () => {
  const refusing = lxd([route("*", "/instances", () => Effect.die("no request expected"))])

  it.effect("instance names LXD would reject fail with InvalidArgument, nothing sent", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      for (const name of ["../x", "", "a".repeat(64), "with space", "a/b", "1abc", "x-"]) {
        const attempts = [
          instances.get(name),
          instances.state(name),
          instances.start(name),
          instances.delete(name, { force: true }),
          instances.create({ name, source: { type: "none" } }),
          instances.rename("ok", name),
          instances.copy("ok", name),
          instances.update(name, { description: "x" }),
          instances.modify(name, (i) => i),
          instances.publish(name),
          instances.move(name, { pool: "p2" }),
          instances.move("ok", { project: "p2", newName: name }),
          instances.consoleLog(name),
          instances.snapshots.delete(name, "s0"),
          Stream.runDrain(instances.backups.download(name, "b")),
          instances.createFromBackup(Stream.empty, { name })
        ]
        for (const attempt of attempts) {
          const e = yield* Effect.flip(attempt)
          expect(e._tag, JSON.stringify(name)).toBe("InvalidArgument")
        }
      }
      expect(yield* recorded).toEqual([])
    }).pipe(Effect.provide(refusing)))

  it.effect("snapshot, backup, log and template names are checked too", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      for (const bad of ["../x", "", "a b", "a/b", ".."]) {
        const attempts = [
          instances.snapshots.create("ok", { name: bad }),
          instances.snapshots.rename("ok", "s0", bad),
          instances.snapshots.get("ok", bad),
          instances.snapshots.restore("ok", bad),
          instances.snapshots.update("ok", bad, {}),
          instances.snapshots.modify("ok", bad, (x) => x),
          instances.move("ok", { pool: bad }),
          instances.move("ok", { project: bad }),
          // a member name may hold a space (LXD's own rule is the path segment's)
          ...(bad === "a b" ? [] : [instances.move("ok", { target: bad })]),
          instances.copy(`ok/${bad}`, "new"),
          instances.backups.get("ok", bad),
          instances.backups.create("ok", { name: bad }),
          instances.logs.get("ok", bad.replace("a b", "a/b")),
          instances.templates.get("ok", bad.replace("a b", "a/b"))
        ]
        for (const attempt of attempts) {
          const e = yield* Effect.flip(attempt)
          expect(e._tag, JSON.stringify(bad)).toBe("InvalidArgument")
        }
      }
      expect(yield* recorded).toEqual([])
    }).pipe(Effect.provide(refusing)))

  it.effect("a move takes exactly one of pool, project and target: InvalidArgument, nothing sent", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      for (
        const options of [{}, { newName: "c2" }, { pool: "p2", project: "p2" }, { project: "p2", target: "m2" }, {
          pool: "p2",
          target: "m2"
        }]
      ) {
        const e = yield* Effect.flip(instances.move("ok", options))
        expect(e._tag).toBe("InvalidArgument")
        expect(e.message).toContain("exactly one of pool, project and target")
      }
      expect(yield* recorded).toEqual([])
    }).pipe(Effect.provide(refusing)))

  it.effect("a 63-character name is accepted", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      yield* instances.get("a".repeat(63))
      expect(yield* requests).toEqual([`GET /1.0/instances/${"a".repeat(63)}`])
    }).pipe(Effect.provide(lxd([
      route("GET", "/instances/:name", (r) => Effect.succeed(sync(instanceJson(r.params.name!))))
    ]))))
})

describe("cancel on interrupt", () => {
  it.effect("an interrupted move or snapshot update cancels its operation on the server", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      for (
        const start of [
          instances.move("c1", { pool: "p2" }),
          instances.snapshots.update("c1", "s0", { expires_at: "2030-01-01T00:00:00Z" })
        ]
      ) {
        const fiber = yield* Effect.fork(start)
        yield* TestClock.adjust("1 second")
        yield* Fiber.interrupt(fiber)
      }
      const deletes = (yield* requests).filter((r) => r.startsWith("DELETE"))
      expect(deletes).toEqual(["DELETE /1.0/operations/mv9", "DELETE /1.0/operations/su9"])
    }).pipe(Effect.provide(mockLayer({
      routes: [
        route("GET", "", () => Effect.succeed(sync(serverInfo(ALL_EXTENSIONS)))),
        route("POST", "/instances/c1", () => started("mv9", {}, true)),
        route("PATCH", "/instances/c1/snapshots/s0", () => started("su9", {}, true)),
        route("GET", "/operations/:id/wait", () => Effect.never),
        route("DELETE", "/operations/:id", () => Effect.succeed(sync(null)))
      ]
    }))))

  it.effect("an interrupted snapshot create cancels its operation on the server", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const fiber = yield* Effect.fork(instances.snapshots.create("c1", { name: "s1" }))
      yield* TestClock.adjust("1 second")
      yield* Fiber.interrupt(fiber)
      expect(yield* requests).toContain("DELETE /1.0/operations/sn9")
    }).pipe(Effect.provide(mockLayer({
      routes: [
        route("POST", "/instances/c1/snapshots", () => started("sn9", {}, true)),
        route("GET", "/operations/sn9/wait", () => Effect.never),
        route("DELETE", "/operations/sn9", () => Effect.succeed(sync(null)))
      ]
    }))))

  it.effect("an interrupted start (uncancellable) is drained, never DELETEd", () => {
    let waits = 0
    return Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const fiber = yield* Effect.fork(instances.start("c1"))
      yield* TestClock.adjust("1 second")
      yield* Fiber.interrupt(fiber)
      const rs = yield* recorded
      expect(rs.some((r) => r.method === "DELETE")).toBe(false)
      expect(waits).toBe(2) // the caller's wait (interrupted), then the finaliser's
    }).pipe(Effect.provide(mockLayer({
      routes: [
        route("PUT", "/instances/c1/state", () => started("st1")),
        route("GET", "/operations/st1", () => Effect.succeed(sync(operation("st1", { may_cancel: false })))),
        route("GET", "/operations/st1/wait", () => {
          waits++
          return waits === 1 ? Effect.never : Effect.succeed(done("st1"))
        })
      ]
    })))
  })

  it.effect("an interrupted create waits for LXD's operation, then deletes the instance it created", () => {
    let waits = 0
    return Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const fiber = yield* Effect.fork(instances.create({ source: { type: "image", alias: "busybox" } }))
      yield* TestClock.adjust("1 second")
      yield* Fiber.interrupt(fiber)
      expect(yield* requests).toEqual([
        "POST /1.0/instances",
        "GET /1.0/operations/cr1",
        "GET /1.0/instances/generated-1/state",
        "DELETE /1.0/instances/generated-1"
      ])
    }).pipe(Effect.provide(mockLayer({
      routes: [
        route("POST", "/instances", () => started("cr1", { instances: ["/1.0/instances/generated-1"] })),
        route("GET", "/operations/cr1", () => Effect.succeed(sync(operation("cr1", { may_cancel: false })))),
        route("GET", "/operations/cr1/wait", () => {
          waits++
          return waits === 1 ? Effect.never : Effect.succeed(done("cr1"))
        }),
        route(
          "GET",
          "/instances/generated-1/state",
          () => Effect.succeed(sync({ status: "Stopped", status_code: 102 }))
        ),
        route("DELETE", "/instances/generated-1", () => started("del1")),
        route("GET", "/operations/del1/wait", () => Effect.succeed(done("del1")))
      ]
    })))
  })

  it.effect("interrupted while LXD is still answering: the answer is awaited, then the operation cancelled", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const fiber = yield* Effect.fork(instances.snapshots.create("c1", { name: "s1" }))
      yield* TestClock.adjust("100 millis") // the POST is in flight
      const interrupting = yield* Effect.fork(Fiber.interrupt(fiber))
      yield* TestClock.adjust("1 second") // LXD answers
      yield* Fiber.join(interrupting)
      expect(yield* requests).toEqual(["POST /1.0/instances/c1/snapshots", "DELETE /1.0/operations/late1"])
    }).pipe(Effect.provide(mockLayer({
      routes: [
        route(
          "POST",
          "/instances/c1/snapshots",
          () => Effect.zipRight(Effect.sleep("500 millis"), started("late1", {}, true))
        ),
        route("GET", "/operations/late1/wait", () => Effect.never),
        route("DELETE", "/operations/late1", () => Effect.succeed(sync(null)))
      ]
    }))))

  it.effect("a create interrupted before LXD answered still deletes what it created", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const fiber = yield* Effect.fork(instances.create({ name: "late2", source: { type: "none" } }))
      yield* TestClock.adjust("100 millis")
      const interrupting = yield* Effect.fork(Fiber.interrupt(fiber))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(interrupting)
      expect(yield* requests).toEqual([
        "POST /1.0/instances",
        "GET /1.0/operations/cr5",
        "GET /1.0/instances/late2/state",
        "DELETE /1.0/instances/late2"
      ])
    }).pipe(Effect.provide(mockLayer({
      routes: [
        route(
          "POST",
          "/instances",
          () => Effect.zipRight(Effect.sleep("500 millis"), started("cr5", { instances: ["/1.0/instances/late2"] }))
        ),
        route("GET", "/operations/cr5", () => Effect.succeed(sync(operation("cr5", { may_cancel: false })))),
        route("GET", "/operations/cr5/wait", () => Effect.succeed(done("cr5"))),
        route("GET", "/instances/late2/state", () => Effect.succeed(sync({ status: "Stopped", status_code: 102 }))),
        route("DELETE", "/instances/late2", () => started("del5")),
        route("GET", "/operations/del5/wait", () => Effect.succeed(done("del5")))
      ]
    }))))

  it.effect("a create that fails is not compensated (LXD cleans up its own failure)", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const e = yield* Effect.flip(instances.create({ name: "c5", source: { type: "image", alias: "nope" } }))
      expect(e._tag).toBe("OperationFailed")
      expect(yield* requests).toEqual(["POST /1.0/instances"])
    }).pipe(Effect.provide(lxd([route("POST", "/instances", () => started("cr2"))], {
      finals: { cr2: { status: "Failure", status_code: 400, err: "Image not found" } }
    }))))
})

describe("waitForStatus", () => {
  const lifecycle = (action: string, source: string) => event("lifecycle", { action, source, context: {} })

  it.effect("subscribes, reads the state, and re-reads it on this instance's lifecycle events only", () => {
    let reads = 0
    return Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const state = yield* instances.waitForStatus("c1", "Running")
      expect(state.status).toBe("Running")
      expect(reads).toBe(2) // initial read + one after instance-started; the other events did not trigger reads
      const rs = yield* recorded
      const ws = rs.findIndex((r) => r.method === "WS")
      const firstRead = rs.findIndex((r) => r.path === "/instances/c1/state")
      expect(ws).toBeGreaterThanOrEqual(0)
      expect(ws).toBeLessThan(firstRead) // subscribed before the first read
      expect(rs[ws]!.query["type"]).toBe("lifecycle")
    }).pipe(Effect.provide(lxd([
      route("GET", "/instances/c1/state", () =>
        Effect.sync(() => {
          reads++
          return sync(reads === 1 ? { status: "Stopped", status_code: 102 } : runningState)
        }))
    ], {
      sockets: [
        route("GET", "/events", () =>
          Effect.succeed(socket([
            lifecycle("instance-started", "/1.0/instances/c10"),
            lifecycle("profile-updated", "/1.0/profiles/default"),
            lifecycle("instance-snapshot-created", "/1.0/instances/c1/snapshots/c1"),
            lifecycle("instance-started", "/1.0/instances/c1"),
            lifecycle("instance-stopped", "/1.0/instances/c1")
          ])))
      ]
    })))
  })

  it.effect("returns at once when the instance already has the status", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const state = yield* instances.waitForStatus("c1", ["Stopped", "Frozen"])
      expect(state.status).toBe("Frozen")
    }).pipe(Effect.provide(lxd([
      route("GET", "/instances/c1/state", () => Effect.succeed(sync({ status: "Frozen", status_code: 110 })))
    ], {
      sockets: [route("GET", "/events", () => Effect.succeed(socket(Stream.never)))]
    }))))

  it.effect("times out with OperationTimeout", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const fiber = yield* Effect.fork(Effect.flip(instances.waitForStatus("c1", "Running", { timeout: "2 seconds" })))
      yield* TestClock.adjust("3 seconds")
      const e = yield* Fiber.join(fiber)
      expect(e._tag).toBe("OperationTimeout")
    }).pipe(Effect.provide(lxd([
      route("GET", "/instances/c1/state", () => Effect.succeed(sync({ status: "Stopped", status_code: 102 })))
    ], {
      sockets: [route("GET", "/events", () => Effect.succeed(socket(Stream.never)))]
    }))))

  it.effect("the instance deleted while waiting is NotFound", () => {
    let reads = 0
    return Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const e = yield* Effect.flip(instances.waitForStatus("c1", "Running"))
      expect(e._tag).toBe("NotFound")
    }).pipe(Effect.provide(lxd([
      route("GET", "/instances/c1/state", () =>
        Effect.sync(() => {
          reads++
          return reads === 1 ? sync({ status: "Stopped", status_code: 102 }) : error(404, "Instance not found")
        }))
    ], {
      sockets: [
        route("GET", "/events", () => Effect.succeed(socket([lifecycle("instance-deleted", "/1.0/instances/c1")])))
      ]
    })))
  })
})

describe("typed flavours", () => {
  it.effect("Containers lists with instance-type=container and drops other types; create asks for a container", () =>
    Effect.gen(function*() {
      const containers = yield* Containers.Containers
      const list = yield* containers.list()
      expect(list.map((i) => i.name)).toEqual(["c1"])
      yield* containers.listNames()
      yield* containers.create({ name: "c2", type: "virtual-machine", source: { type: "none" } })
      const rs = (yield* recorded).filter((r) => r.path === "/instances")
      expect(rs[0]!.query).toEqual({ recursion: "1", "instance-type": "container" })
      expect(rs[1]!.query).toEqual({ recursion: "0", "instance-type": "container" })
      expect(rs[2]!.body).toEqual({ name: "c2", type: "container", source: { type: "none" } })
    }).pipe(Effect.provide(lxd([
      route("GET", "/instances", (r) =>
        Effect.succeed(sync(
          r.query["recursion"] === "0"
            ? ["/1.0/instances/c1"]
            : [instanceJson("c1"), instanceJson("vm1", { type: "virtual-machine" })]
        ))),
      route("POST", "/instances", () => started("cr3"))
    ]))))

  it.effect("a flavour does not see an instance of the other type: get is NotFound, exists is false", () =>
    Effect.gen(function*() {
      const vms = yield* VirtualMachines.VirtualMachines
      const containers = yield* Containers.Containers
      const e = yield* Effect.flip(vms.get("c1"))
      expect(e._tag).toBe("NotFound")
      expect(e.message).toBe("Instance \"c1\" is a container, not a virtual-machine")
      expect(yield* vms.exists("c1")).toBe(false)
      expect((yield* containers.get("c1")).name).toBe("c1")
      expect((yield* Effect.flip(vms.modify("c1", (i) => i)))._tag).toBe("NotFound")
      expect((yield* recorded).some((r) => r.method === "PUT")).toBe(false)
      yield* vms.setStateMany({ action: "start" })
      expect((yield* find("PUT", "/1.0/instances?instance-type=virtual-machine")).body).toEqual({
        state: { action: "start" }
      })
    }).pipe(Effect.provide(lxd([
      route("GET", "/instances/c1", () => Effect.succeed(sync(instanceJson("c1")))),
      route("PUT", "/instances", () => started("bulk1"))
    ]))))
})

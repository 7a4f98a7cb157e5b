/**
 * What the cluster modules have beyond the collection checklist (collections.test.ts): `Cluster.get`, the
 * members' evacuate/restore as operations (state changes, a second evacuate fails), `delete` with `force`, a
 * rename's `server_name` body, the `database` role that cannot be dropped, join tokens created, listed (their
 * operation's `"resources": {"cluster": null}` decodes) and revoked; groups and membership (the fake keeps a
 * group's `members` and a member's `groups` consistent, and refuses what 5.0.2 refuses); on the fake
 * (`clusterMembers`) and the mock.
 */
import { Cluster, ClusterGroups, ClusterMembers, Instances, Lxd, LxdClient, Operations } from "@effect-lxd/core"
import { LxdFakeServer, LxdMockTransport } from "@effect-lxd/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Stream } from "effect"
import { mockLayer, serverInfo } from "./helpers.js"

const fake = (clusterMembers?: ReadonlyArray<string>) =>
  Lxd.layer.pipe(Layer.provideMerge(LxdFakeServer.layer(clusterMembers === undefined ? {} : { clusterMembers })))

const three = fake(["m1", "m2", "m3"])

const tagOf = <A, E>(exit: Exit.Exit<A, E>): string | undefined =>
  Exit.isFailure(exit) && exit.cause._tag === "Fail" ? (exit.cause.error as { _tag: string })._tag : undefined

describe("Cluster on the fake", () => {
  it.effect("a clustered fake: enabled, named after its first member; a standalone one is not", () =>
    Effect.gen(function*() {
      const clustered = yield* Effect.flatMap(Cluster.Cluster, (c) => c.get()).pipe(Effect.provide(three))
      expect(clustered).toEqual({ server_name: "m1", enabled: true, member_config: [] })
      const alone = yield* Effect.flatMap(Cluster.Cluster, (c) => c.get()).pipe(Effect.provide(fake()))
      expect(alone.enabled).toBe(false)
      const none = yield* Effect.flatMap(ClusterMembers.ClusterMembers, (m) => Effect.exit(m.list())).pipe(
        Effect.provide(fake())
      )
      expect(tagOf(none)).toBe("LxdApiError")
    }))

  it.effect("members: three Online with URLs, get(name).url matches the list", () =>
    Effect.gen(function*() {
      const members = yield* ClusterMembers.ClusterMembers
      const all = yield* members.list()
      expect(all.map((m) => [m.server_name, m.status, m.database])).toEqual([
        ["m1", "Online", true],
        ["m2", "Online", true],
        ["m3", "Online", true]
      ])
      for (const m of all) expect((yield* members.get(m.server_name)).url).toBe(m.url)
    }).pipe(Effect.provide(three)))

  it.effect("evacuate → Evacuated (a second evacuate fails), restore → Online; progress handle ends", () =>
    Effect.gen(function*() {
      const members = yield* ClusterMembers.ClusterMembers
      yield* members.evacuate("m2", { mode: "stop" })
      const evacuated = yield* members.get("m2")
      expect([evacuated.status, evacuated.message]).toEqual(["Evacuated", "Unavailable due to maintenance"])
      const again = yield* Effect.exit(members.evacuate("m2"))
      expect(tagOf(again)).toBe("OperationFailed")
      const done = yield* Effect.scoped(
        Effect.flatMap(members.restoreOperation("m2"), (handle) => handle.wait())
      )
      expect(done.status).toBe("Success")
      expect((yield* members.get("m2")).status).toBe("Online")
    }).pipe(Effect.provide(three)))

  it.effect("the database role cannot be dropped (BadRequest); other changes keep it", () =>
    Effect.gen(function*() {
      const members = yield* ClusterMembers.ClusterMembers
      const dropped = yield* Effect.exit(members.modify("m3", (m) => ({ ...m, roles: [] })))
      expect(tagOf(dropped)).toBe("BadRequest")
      yield* members.modify("m3", (m) => ({ ...m, description: "rack 3", failure_domain: "rack3" }))
      const m3 = yield* members.get("m3")
      expect([m3.description, m3.failure_domain, m3.roles]).toEqual(["rack 3", "rack3", ["database"]])
    }).pipe(Effect.provide(three)))

  it.effect("rename sends server_name; delete with force removes; the last member cannot go", () =>
    Effect.gen(function*() {
      const members = yield* ClusterMembers.ClusterMembers
      yield* members.rename("m3", "m3b")
      expect(yield* members.listNames()).toEqual(["m1", "m2", "m3b"])
      yield* members.delete("m3b", { force: true })
      yield* members.delete("m2")
      expect(yield* members.listNames()).toEqual(["m1"])
      expect(tagOf(yield* Effect.exit(members.delete("m1")))).toBe("BadRequest")
    }).pipe(Effect.provide(three)))

  it.effect("join tokens: created (base64 JSON as lxc prints), listed, revoked; a member's name is Conflict", () =>
    Effect.gen(function*() {
      const members = yield* ClusterMembers.ClusterMembers
      const token = yield* members.createJoinToken("m4")
      const decoded = JSON.parse(atob(token.token)) as Record<string, unknown>
      expect(decoded["server_name"]).toBe("m4")
      expect(decoded["secret"]).toBe(token.secret)
      expect(token.addresses).toHaveLength(3)
      const listed = yield* members.listJoinTokens()
      expect(listed.map((t) => [t.serverName, t.operationId])).toEqual([["m4", token.operationId]])
      // Operations.list decodes the token's `"resources": {"cluster": null}` too
      const ops = yield* Effect.flatMap(Operations.Operations, (o) => o.list())
      expect(ops.find((o) => o.id === token.operationId)?.resources).toEqual({ cluster: [] })
      yield* members.revokeJoinToken(token.operationId)
      expect(yield* members.listJoinTokens()).toEqual([])
      expect(tagOf(yield* Effect.exit(members.createJoinToken("m2")))).toBe("Conflict")
      expect(tagOf(yield* Effect.exit(members.createJoinToken("a/b")))).toBe("InvalidArgument")
    }).pipe(Effect.provide(three)))
})

describe("ClusterMembers on the mock", () => {
  const { async: asyncAnswer, operation, route, sync } = LxdMockTransport
  const EXT = ["clustering", "clustering_evacuation", "clustering_join_token"]
  const requests = Effect.flatMap(LxdMockTransport.MockTransport, (m) => m.requests)

  it.effect("evacuate sends action and mode; delete sends force=1; without clustering_evacuation nothing is sent", () =>
    Effect.gen(function*() {
      const members = yield* ClusterMembers.ClusterMembers
      yield* members.evacuate("m2", { mode: "live-migrate" })
      yield* members.delete("m2", { force: true })
      const sent = (yield* requests).filter((r) => r.path !== "")
      expect(sent.map((r) => [r.method, r.path, r.body ?? null, r.query.force ?? null])).toEqual([
        ["POST", "/cluster/members/m2/state", { action: "evacuate", mode: "live-migrate" }, null],
        ["GET", "/operations/op1/wait", null, null],
        ["DELETE", "/cluster/members/m2", null, "1"]
      ])
    }).pipe(Effect.provide(
      mockLayer({
        routes: [
          route("GET", "", () => Effect.succeed(sync(serverInfo(EXT)))),
          route("POST", "/cluster/members/m2/state", () => Effect.succeed(asyncAnswer(operation("op1")))),
          route(
            "GET",
            "/operations/op1/wait",
            () => Effect.succeed(sync(operation("op1", { status: "Success", status_code: 200 })))
          ),
          route("DELETE", "/cluster/members/m2", () => Effect.succeed(sync({})))
        ]
      })
    )))

  it.effect("without clustering_evacuation: APIExtensionNotAvailable, no POST", () =>
    Effect.gen(function*() {
      const members = yield* ClusterMembers.ClusterMembers
      const exit = yield* Effect.exit(members.restore("m2"))
      expect(tagOf(exit)).toBe("APIExtensionNotAvailable")
      expect((yield* requests).filter((r) => r.method === "POST")).toEqual([])
    }).pipe(Effect.provide(
      mockLayer({
        routes: [route("GET", "", () => Effect.succeed(sync(serverInfo(["clustering"]))))]
      })
    )))

  it.effect("an interrupted evacuate cancels its operation on the server", () =>
    Effect.gen(function*() {
      const members = yield* ClusterMembers.ClusterMembers
      const fiber = yield* Effect.fork(members.evacuate("m2"))
      yield* Stream.runHead(
        Stream.repeatEffect(requests).pipe(
          Stream.filter((rs) => rs.some((r) => r.path === "/operations/op1/wait"))
        )
      )
      yield* Fiber.interrupt(fiber)
      expect((yield* requests).some((r) => r.method === "DELETE" && r.path === "/operations/op1")).toBe(true)
    }).pipe(Effect.provide(
      mockLayer({
        routes: [
          route("GET", "", () => Effect.succeed(sync(serverInfo(EXT)))),
          route(
            "POST",
            "/cluster/members/m2/state",
            () => Effect.succeed(asyncAnswer(operation("op1", { may_cancel: true })))
          ),
          route("GET", "/operations/op1/wait", () => Effect.never),
          route("DELETE", "/operations/op1", () => Effect.succeed(sync({})))
        ]
      })
    )))
})

describe("ClusterGroups on the fake", () => {
  const groupsOf = (name: string) =>
    Effect.flatMap(ClusterMembers.ClusterMembers, (m) => Effect.map(m.get(name), (x) => x.groups))

  it.effect("default holds every member; a new group's members show it in their groups", () =>
    Effect.gen(function*() {
      const groups = yield* ClusterGroups.ClusterGroups
      expect(yield* groups.list()).toEqual([
        { name: "default", description: "Default cluster group", members: ["m1", "m2", "m3"] }
      ])
      expect(yield* groupsOf("m1")).toEqual(["default"])
      expect(yield* groups.create({ name: "gpu", description: "gpu", members: ["m2"] })).toBe("gpu")
      expect(yield* groupsOf("m2")).toEqual(["default", "gpu"])
      expect(yield* groups.addMember("gpu", "m3")).toBe(true)
      expect(yield* groups.addMember("gpu", "m3")).toBe(false)
      expect((yield* groups.get("gpu")).members).toEqual(["m2", "m3"])
      expect(yield* groupsOf("m3")).toEqual(["default", "gpu"])
      expect(yield* groups.removeMember("gpu", "m2")).toBe(true)
      expect(yield* groups.removeMember("gpu", "m2")).toBe(false)
      expect(yield* groupsOf("m2")).toEqual(["default"])
      // a PUT without members empties the group (as 5.0.2's does)
      yield* groups.replace("gpu", { description: "none" })
      expect(yield* groupsOf("m3")).toEqual(["default"])
    }).pipe(Effect.provide(three)))

  it.effect("assign sets a member's groups: it leaves default; renaming a group or a member follows", () =>
    Effect.gen(function*() {
      const groups = yield* ClusterGroups.ClusterGroups
      const members = yield* ClusterMembers.ClusterMembers
      yield* groups.create({ name: "gpu" })
      yield* groups.assign("m3", ["gpu"])
      expect((yield* groups.get("default")).members).toEqual(["m1", "m2"])
      expect((yield* groups.get("gpu")).members).toEqual(["m3"])
      yield* groups.rename("gpu", "accel")
      expect(yield* groupsOf("m3")).toEqual(["accel"])
      yield* members.rename("m3", "m3b")
      expect((yield* groups.get("accel")).members).toEqual(["m3b"])
      yield* members.delete("m3b")
      expect((yield* groups.get("accel")).members).toEqual([])
      yield* groups.delete("accel")
      expect(yield* groups.listNames()).toEqual(["default"])
    }).pipe(Effect.provide(three)))

  it.effect("a group's PUT may leave a member in no group (groups: null); the member's own PUT may not", () =>
    Effect.gen(function*() {
      const groups = yield* ClusterGroups.ClusterGroups
      expect(yield* groups.removeMember("default", "m3")).toBe(true)
      expect(yield* groupsOf("m3")).toEqual([])
      expect(tagOf(yield* Effect.exit(groups.assign("m3", [])))).toBe("BadRequest")
      yield* groups.assign("m3", ["default"])
      expect((yield* groups.get("default")).members).toEqual(["m1", "m2", "m3"])
    }).pipe(Effect.provide(three)))

  it.effect("refusals as 5.0.2's: default is Forbidden, in use / duplicate / missing are LxdApiError, …", () =>
    Effect.gen(function*() {
      const groups = yield* ClusterGroups.ClusterGroups
      yield* groups.create({ name: "gpu", members: ["m1"] })
      const tags = yield* Effect.all([
        groups.delete("default"),
        groups.rename("default", "x"),
        groups.delete("gpu"),
        groups.create({ name: "gpu" }),
        groups.rename("gpu", "default"),
        groups.delete("nosuch"),
        groups.get("nosuch"),
        groups.create({ name: "g2", members: ["m9"] }),
        groups.addMember("gpu", "m9"),
        groups.assign("m2", ["nosuch"]),
        groups.assign("m2", ["two words"]),
        groups.create({ name: "two words" })
      ].map((e) => Effect.map(Effect.exit(e), tagOf)))
      expect(tags).toEqual([
        "Forbidden",
        "Forbidden",
        "LxdApiError",
        "LxdApiError",
        "LxdApiError",
        "LxdApiError",
        "NotFound",
        "LxdApiError",
        "NotFound",
        "NotFound",
        "InvalidArgument",
        "InvalidArgument"
      ])
      expect(yield* groups.listNames()).toEqual(["default", "gpu"])
      expect(yield* groupsOf("m2")).toEqual(["default"])
    }).pipe(Effect.provide(three)))
})

describe("placement on the fake (target on an instance create, the member in location)", () => {
  const image = { type: "image", alias: "busybox" } as const
  const create = (name: string, target?: string) =>
    Effect.flatMap(Instances.Instances, (i) => {
      const made = i.create({ name, source: image })
      return target === undefined ? made : LxdClient.withTarget(made, target)
    })
  const locations = Effect.flatMap(
    Instances.Instances,
    (i) => Effect.map(i.list(), (all) => all.map((x) => [x.name, x.location]))
  )

  it.effect("a member target places it there; no target spreads over the least-loaded; a rename follows", () =>
    Effect.gen(function*() {
      yield* create("a", "m2")
      yield* create("b")
      yield* create("c")
      yield* create("d")
      expect(yield* locations).toEqual([["a", "m2"], ["b", "m1"], ["c", "m3"], ["d", "m1"]])
      expect(tagOf(yield* Effect.exit(create("e", "m9")))).toBe("NotFound")
      // a renamed member keeps its instances
      yield* Effect.flatMap(ClusterMembers.ClusterMembers, (m) => m.rename("m2", "m2b"))
      expect((yield* locations)[0]).toEqual(["a", "m2b"])
    }).pipe(Effect.provide(three)))

  it.effect("@group: the group's least-loaded member; an empty or unknown group is BadRequest", () =>
    Effect.gen(function*() {
      const groups = yield* ClusterGroups.ClusterGroups
      yield* groups.create({ name: "gpu", members: ["m2", "m3"] })
      yield* create("a", ClusterGroups.target("gpu"))
      yield* create("b", ClusterGroups.target("gpu"))
      yield* create("c", "@gpu")
      expect(yield* locations).toEqual([["a", "m2"], ["b", "m3"], ["c", "m2"]])
      yield* groups.create({ name: "empty" })
      expect(tagOf(yield* Effect.exit(create("d", "@empty")))).toBe("BadRequest")
      expect(tagOf(yield* Effect.exit(create("d", "@nosuch")))).toBe("BadRequest")
    }).pipe(Effect.provide(three)))

  it.effect("a standalone fake: location none, a target is refused, and so are groups (as 5.0.2's)", () =>
    Effect.gen(function*() {
      yield* create("a")
      expect(yield* locations).toEqual([["a", "none"]])
      expect(tagOf(yield* Effect.exit(create("b", "m1")))).toBe("BadRequest")
      const groups = yield* ClusterGroups.ClusterGroups
      expect(tagOf(yield* Effect.exit(groups.list()))).toBe("BadRequest")
    }).pipe(Effect.provide(fake())))
})

describe("ClusterGroups on the mock", () => {
  const { route, sync } = LxdMockTransport
  const requests = Effect.flatMap(LxdMockTransport.MockTransport, (m) => m.requests)
  // what a member needs to decode, with a field from the future that `assign` must send back
  const member = { server_name: "m2", url: "https://10.0.0.2:8443", status: "Online", roles: ["database"], x: 1 }

  it.effect("assign: GET the member, PUT it whole with the new groups and the ETag; bad names send nothing", () =>
    Effect.gen(function*() {
      const groups = yield* ClusterGroups.ClusterGroups
      yield* groups.assign("m2", ["default", "gpu"])
      const sent = (yield* requests).filter((r) => r.path !== "")
      expect(sent.map((r) => [r.method, r.path, r.headers["if-match"] ?? null])).toEqual([
        ["GET", "/cluster/members/m2", null],
        ["PUT", "/cluster/members/m2", "\"e1\""]
      ])
      expect(sent[1]!.body).toEqual({
        description: "",
        config: {},
        failure_domain: "",
        groups: ["default", "gpu"],
        roles: ["database"],
        x: 1
      })
      const before = (yield* requests).length
      expect(tagOf(yield* Effect.exit(groups.assign("m2", ["a b"])))).toBe("InvalidArgument")
      expect(tagOf(yield* Effect.exit(groups.assign("a/b", ["gpu"])))).toBe("InvalidArgument")
      expect(tagOf(yield* Effect.exit(groups.addMember("gpu", "a/b")))).toBe("InvalidArgument")
      expect((yield* requests).length).toBe(before)
      expect(ClusterGroups.target("gpu")).toBe("@gpu")
    }).pipe(Effect.provide(
      mockLayer({
        routes: [
          route("GET", "", () => Effect.succeed(sync(serverInfo(["clustering", "clustering_groups", "etag"])))),
          route("GET", "/cluster/members/m2", () => Effect.succeed(sync(member, { etag: "\"e1\"" }))),
          route("PUT", "/cluster/members/m2", () => Effect.succeed(sync({})))
        ]
      })
    )))

  it.effect("without clustering_groups: APIExtensionNotAvailable, no member written", () =>
    Effect.gen(function*() {
      const groups = yield* ClusterGroups.ClusterGroups
      expect(tagOf(yield* Effect.exit(groups.assign("m2", ["gpu"])))).toBe("APIExtensionNotAvailable")
      expect((yield* requests).filter((r) => r.path !== "")).toEqual([])
    }).pipe(Effect.provide(
      mockLayer({ routes: [route("GET", "", () => Effect.succeed(sync(serverInfo(["clustering"]))))] })
    )))
})

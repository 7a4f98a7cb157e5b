/**
 * What the cluster modules have beyond the collection checklist (collections.test.ts): `Cluster.get`, the
 * members' evacuate/restore as operations (state changes, a second evacuate fails), `delete` with `force`, a
 * rename's `server_name` body, the `database` role that cannot be dropped, join tokens created, listed (their
 * operation's `"resources": {"cluster": null}` decodes) and revoked; on the fake (`clusterMembers`) and the mock.
 */
import { Cluster, ClusterMembers, Lxd, Operations } from "@effect-lxd/core"
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

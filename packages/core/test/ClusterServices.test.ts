/**
 * The Cinder view of the members (`ClusterServices`): on the fake (`clusterMembers`), list/listDetail/show, a
 * disable with a reason (the member `Evacuated`, the reason in `config["user.disabled_reason"]`, its
 * description untouched; a second disable only changes the reason), enable (restored, the key gone), the
 * filters; on the mock, `down` (an `Offline` member) and the failure-domain counts, and a failed evacuation
 * that takes the reason back.
 */
import { ClusterMembers, ClusterServices, Lxd } from "@effect-lxd/core"
import { LxdFakeServer, LxdMockTransport } from "@effect-lxd/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer } from "effect"
import { mockLayer, serverInfo } from "./helpers.js"

const fake = (clusterMembers?: ReadonlyArray<string>) =>
  Lxd.layer.pipe(Layer.provideMerge(LxdFakeServer.layer(clusterMembers === undefined ? {} : { clusterMembers })))

const tagOf = <A, E>(exit: Exit.Exit<A, E>): string | undefined =>
  Exit.isFailure(exit) && exit.cause._tag === "Fail" ? (exit.cause.error as { _tag: string })._tag : undefined

const up = (name: string) => ({ name, state: "up", status: "enabled" })

describe("ClusterServices on the fake", () => {
  it.effect("list, listDetail, show: every member up and enabled, counted in its failure domain", () =>
    Effect.gen(function*() {
      const services = yield* ClusterServices.ClusterServices
      expect(yield* services.list()).toEqual([up("m1"), up("m2"), up("m3")])
      const detail = yield* services.listDetail()
      expect(detail[1]).toEqual({
        ...up("m2"),
        disabled_reason: undefined,
        failure_domain: "default",
        num_hosts: 3,
        num_down_hosts: 0
      })
      expect(yield* services.show("m2")).toEqual(detail[1])
      expect(tagOf(yield* Effect.exit(services.show("m9")))).toBe("NotFound")
      expect(tagOf(yield* Effect.exit(services.show("a/b")))).toBe("InvalidArgument")
      // a standalone server answers 500 "Server is not clustered", as 5.0.2 does
      const alone = yield* Effect.flatMap(ClusterServices.ClusterServices, (s) => Effect.exit(s.list())).pipe(
        Effect.provide(fake())
      )
      expect(tagOf(alone)).toBe("LxdApiError")
    }).pipe(Effect.provide(fake(["m1", "m2", "m3"]))))

  it.effect("disable with a reason: Evacuated, reason in user.disabled_reason, description kept; enable undoes it", () =>
    Effect.gen(function*() {
      const services = yield* ClusterServices.ClusterServices
      const members = yield* ClusterMembers.ClusterMembers
      yield* members.update("m2", { description: "rack 2" })
      const disabled = yield* services.disable("m2", "disk swap")
      expect(disabled).toMatchObject({ name: "m2", state: "up", status: "disabled", disabled_reason: "disk swap" })
      const m2 = yield* members.get("m2")
      expect([m2.status, m2.description, m2.config]).toEqual([
        "Evacuated",
        "rack 2",
        { [ClusterServices.disabledReasonKey]: "disk swap" }
      ])
      expect(yield* services.list({ disabled: true })).toEqual([{ name: "m2", state: "up", status: "disabled" }])
      expect((yield* services.list({ disabled: false })).map((s) => s.name)).toEqual(["m1", "m3"])
      // disabling a disabled member changes its reason only (no second evacuation, which LXD would refuse)
      expect((yield* services.disable("m2", "disk swap, day 2")).disabled_reason).toBe("disk swap, day 2")
      const enabled = yield* services.enable("m2")
      expect(enabled).toMatchObject({ ...up("m2"), disabled_reason: undefined })
      const back = yield* members.get("m2")
      expect([back.status, back.description, back.config]).toEqual(["Online", "rack 2", {}])
      // enabling an enabled member is a no-op
      expect(yield* services.enable("m2")).toEqual(enabled)
    }).pipe(Effect.provide(fake(["m1", "m2", "m3"]))))

  it.effect("filters: name, is_up, num_hosts, num_down_hosts", () =>
    Effect.gen(function*() {
      const services = yield* ClusterServices.ClusterServices
      expect(yield* services.list({ name: "m3" })).toEqual([up("m3")])
      expect(yield* services.list({ name: "m9" })).toEqual([])
      expect((yield* services.list({ is_up: true })).length).toBe(3)
      expect(yield* services.list({ is_up: false })).toEqual([])
      expect((yield* services.listDetail({ num_hosts: 3, num_down_hosts: 0 })).length).toBe(3)
      expect(yield* services.listDetail({ num_hosts: 2 })).toEqual([])
    }).pipe(Effect.provide(fake(["m1", "m2", "m3"]))))
})

describe("ClusterServices on the mock", () => {
  const { async: asyncAnswer, operation, route, sync } = LxdMockTransport
  const EXT = ["clustering", "clustering_evacuation"]
  const member = (server_name: string, failure_domain: string, status: string) => ({
    server_name,
    url: `https://${server_name}:8443`,
    database: true,
    status,
    message: status === "Offline" ? "No heartbeat for 30s" : "Fully operational",
    architecture: "x86_64",
    failure_domain,
    description: "",
    config: {},
    groups: ["default"],
    roles: ["database"]
  })
  const members = [
    member("a1", "rack-a", "Online"),
    member("a2", "rack-a", "Offline"),
    member("b1", "rack-b", "Online"),
    member("b2", "rack-b", "Blocked")
  ]

  it.effect("Offline is down; the counts are per failure domain; the filters use them", () =>
    Effect.gen(function*() {
      const services = yield* ClusterServices.ClusterServices
      const detail = yield* services.listDetail()
      expect(detail.map((s) => [s.name, s.state, s.failure_domain, s.num_hosts, s.num_down_hosts])).toEqual([
        ["a1", "up", "rack-a", 2, 1],
        ["a2", "down", "rack-a", 2, 1],
        ["b1", "up", "rack-b", 2, 0],
        ["b2", "up", "rack-b", 2, 0]
      ])
      expect((yield* services.list({ is_up: false })).map((s) => s.name)).toEqual(["a2"])
      expect((yield* services.list({ num_down_hosts: 1 })).map((s) => s.name)).toEqual(["a1", "a2"])
      expect((yield* services.list({ num_down_hosts: 0, is_up: true })).map((s) => s.name)).toEqual(["b1", "b2"])
    }).pipe(Effect.provide(mockLayer({
      routes: [
        route("GET", "", () => Effect.succeed(sync(serverInfo(EXT)))),
        route("GET", "/cluster/members", () => Effect.succeed(sync(members)))
      ]
    }))))

  it.effect("a failed evacuation takes the reason back and fails with OperationFailed", () =>
    Effect.gen(function*() {
      const services = yield* ClusterServices.ClusterServices
      const exit = yield* Effect.exit(services.disable("b1", "why"))
      expect(tagOf(exit)).toBe("OperationFailed")
      const puts = (yield* Effect.flatMap(LxdMockTransport.MockTransport, (m) => m.requests))
        .filter((r) => r.method === "PUT")
        .map((r) => (r.body as { config: unknown }).config)
      expect(puts).toEqual([{ [ClusterServices.disabledReasonKey]: "why" }, {}])
    }).pipe(Effect.provide(mockLayer({
      routes: [
        route("GET", "", () => Effect.succeed(sync(serverInfo(EXT)))),
        route("GET", "/cluster/members/b1", () => Effect.succeed(sync(members[2], { etag: "\"e1\"" }))),
        route("PUT", "/cluster/members/b1", () => Effect.succeed(sync({}))),
        route("POST", "/cluster/members/b1/state", () => Effect.succeed(asyncAnswer(operation("ev1")))),
        route(
          "GET",
          "/operations/ev1/wait",
          () => Effect.succeed(sync(operation("ev1", { status: "Failure", status_code: 400, err: "no target" })))
        )
      ]
    }))))
})

import { Lxd, LxdClient, Profiles } from "@effect-lxd/core"
import { LxdFakeServer, LxdMockTransport } from "@effect-lxd/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Layer, TestClock } from "effect"
import { mockLayer, serverInfo } from "./helpers.js"

const { sync, error, route } = LxdMockTransport

const Fake = Lxd.layer.pipe(Layer.provide(LxdFakeServer.layer()))
const profiles = Profiles.Profiles

describe("Profiles on the fake", () => {
  it.effect("pylxd's scenario: create with limits.memory and a description, save, rename, delete", () =>
    Effect.gen(function*() {
      const p = yield* profiles
      const name = yield* p.create({ name: "p1", description: "first", config: { "limits.memory": "1GiB" } })
      expect(name).toBe("p1")
      const got = yield* p.get("p1")
      expect(got).toMatchObject({ name: "p1", description: "first", config: { "limits.memory": "1GiB" }, used_by: [] })
      yield* p.modify("p1", (current) => ({ ...current, config: { ...current.config, "limits.cpu": "2" } }))
      expect((yield* p.get("p1")).config).toEqual({ "limits.memory": "1GiB", "limits.cpu": "2" })
      yield* p.update("p1", { description: "changed" })
      expect((yield* p.get("p1")).description).toBe("changed")
      yield* p.rename("p1", "p2")
      expect(yield* p.exists("p1")).toBe(false)
      expect(yield* p.listNames()).toEqual(["default", "p2"])
      yield* p.delete("p2")
      const gone = yield* Effect.flip(p.get("p2"))
      expect(gone._tag).toBe("NotFound")
    }).pipe(Effect.provide(Fake)))

  it.effect("a stale ETag is PreconditionFailed", () =>
    Effect.gen(function*() {
      const p = yield* profiles
      yield* p.create({ name: "p1" })
      const { etag } = yield* p.getWithEtag("p1")
      yield* p.update("p1", { description: "someone else" })
      const e = yield* Effect.flip(p.replace("p1", { description: "mine" }, { etag }))
      expect(e._tag).toBe("PreconditionFailed")
    }).pipe(Effect.provide(Fake)))
})

describe("Profiles against the mock", () => {
  it.effect("a Go null list is []; unknown fields are kept by modify", () =>
    Effect.gen(function*() {
      const p = yield* profiles
      expect(yield* p.list()).toEqual([])
      expect(yield* p.listNames()).toEqual([])
      yield* p.modify("p1", (current) => ({ ...current, description: "new" }))
      const put = (yield* (yield* LxdMockTransport.MockTransport).requests).find((r) => r.method === "PUT")
      expect(put?.body).toEqual({ description: "new", config: {}, devices: {}, from_the_future: { x: 1 } })
      expect(put?.headers["if-match"]).toBe("\"e1\"")
    }).pipe(Effect.provide(mockLayer({
      routes: [
        route("GET", "", () => Effect.succeed(sync(serverInfo()))),
        route("GET", "/profiles", () => Effect.succeed(sync(null))),
        route("GET", "/profiles/:name", () =>
          Effect.succeed(sync({
            name: "p1",
            description: "old",
            config: null,
            devices: null,
            used_by: ["/1.0/instances/c1?project=dev"],
            from_the_future: { x: 1 }
          }, { etag: "\"e1\"" }))),
        route("PUT", "/profiles/:name", () => Effect.succeed(sync({})))
      ]
    }))))

  it.effect("a bad name is InvalidArgument with nothing sent", () =>
    Effect.gen(function*() {
      const p = yield* profiles
      const e = yield* Effect.flip(p.get("a b"))
      expect(e._tag).toBe("InvalidArgument")
      const f = yield* Effect.flip(p.list({ filter: "name eq x" }))
      expect(f._tag).toBe("InvalidArgument")
      expect(yield* (yield* LxdMockTransport.MockTransport).requests).toEqual([])
    }).pipe(Effect.provide(mockLayer({ routes: [] }))))

  it.effect("withProject reaches every request; used_by is decoded", () =>
    Effect.gen(function*() {
      const p = yield* profiles
      const got = yield* LxdClient.withProject(p.get("p1"), "dev")
      expect(got.used_by[0]).toMatchObject({ collection: "instances", name: "c1", project: "dev" })
      const rs = yield* (yield* LxdMockTransport.MockTransport).requests
      expect(rs.map((r) => r.query.project)).toEqual(["dev"])
    }).pipe(Effect.provide(mockLayer({
      routes: [
        route("GET", "/profiles/:name", () =>
          Effect.succeed(sync({ name: "p1", used_by: ["/1.0/instances/c1?project=dev"] })))
      ]
    }))))

  it.effect("a write LXD answers with an operation is waited on, and cancelled when interrupted", () =>
    Effect.gen(function*() {
      const p = yield* profiles
      const fiber = yield* Effect.fork(p.delete("p1"))
      yield* TestClock.adjust("1 second")
      yield* Fiber.interrupt(fiber)
      const rs = yield* (yield* LxdMockTransport.MockTransport).requests
      expect(rs.map((r) => `${r.method} ${r.path}`)).toContain("DELETE /operations/op1")
    }).pipe(Effect.provide(mockLayer({
      routes: [
        route(
          "DELETE",
          "/profiles/:name",
          () => Effect.succeed(LxdMockTransport.async(LxdMockTransport.operation("op1", { may_cancel: true })))
        ),
        route("GET", "/operations/:id/wait", () => Effect.never),
        route("DELETE", "/operations/:id", () => Effect.succeed(sync({})))
      ]
    }))))

  it.effect("errors keep their tags", () =>
    Effect.gen(function*() {
      const p = yield* profiles
      expect((yield* Effect.flip(p.create({ name: "p1" })))._tag).toBe("Conflict")
      expect((yield* Effect.flip(p.delete("default")))._tag).toBe("Forbidden")
    }).pipe(Effect.provide(mockLayer({
      routes: [
        route("POST", "/profiles", () => Effect.succeed(error(409, "Profile already exists"))),
        route("DELETE", "/profiles/:name", () => Effect.succeed(error(403, "cannot delete default")))
      ]
    }))))
})

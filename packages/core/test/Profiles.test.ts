import { Lxd, LxdClient, Profiles } from "@effect-lxd/core"
import { LxdFakeServer, LxdMockTransport } from "@effect-lxd/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { mockLayer } from "./helpers.js"

const { sync, route } = LxdMockTransport

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

// the checklist every collection shares (decoding, errors, gating, names, withProject, async writes) is
// collections.test.ts; what is a profile's own is here
describe("Profiles against the mock", () => {
  it.effect("used_by is decoded into references", () =>
    Effect.gen(function*() {
      const p = yield* profiles
      const got = yield* LxdClient.withProject(p.get("p1"), "dev")
      expect(got.used_by[0]).toMatchObject({ collection: "instances", name: "c1", project: "dev" })
    }).pipe(Effect.provide(mockLayer({
      routes: [
        route("GET", "/profiles/:name", () =>
          Effect.succeed(sync({ name: "p1", used_by: ["/1.0/instances/c1?project=dev"] })))
      ]
    }))))
})

describe("names that need encoding in list URLs", () => {
  const urls = (encode: (name: string) => string) =>
    route("GET", "/profiles", (req) =>
      Effect.succeed(
        req.query["recursion"] === "1"
          ? sync(["default", "café", "a%41"].map((name) => ({ name, used_by: [] })))
          : sync(["default", "café", "a%41"].map((name) => `/1.0/profiles/${encode(name)}`))
      ))

  it.effect("5.0.2 encodes them twice (caf%25C3%25A9): the names come from the objects", () =>
    Effect.gen(function*() {
      expect(yield* (yield* profiles).listNames()).toEqual(["default", "café", "a%41"])
    }).pipe(Effect.provide(mockLayer({
      routes: [urls((name) => encodeURIComponent(encodeURIComponent(name)))]
    }))))

  it.effect("a server that encodes once gives the same names", () =>
    Effect.gen(function*() {
      expect(yield* (yield* profiles).listNames()).toEqual(["default", "café", "a%41"])
    }).pipe(Effect.provide(mockLayer({ routes: [urls(encodeURIComponent)] }))))

  it.effect("names without escapes cost one request", () =>
    Effect.gen(function*() {
      expect(yield* (yield* profiles).listNames()).toEqual(["default", "p1"])
    }).pipe(Effect.provide(mockLayer({
      routes: [
        route("GET", "/profiles", (req) =>
          req.query["recursion"] === "1"
            ? Effect.dieMessage("a second request")
            : Effect.succeed(sync(["/1.0/profiles/default", "/1.0/profiles/p1"])))
      ]
    }))))
})

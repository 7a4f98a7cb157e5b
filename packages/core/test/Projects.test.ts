import { LxdClient, Projects, Warnings } from "@effect-lxd/core"
import { LxdMockTransport } from "@effect-lxd/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { mockLayer, serverInfo } from "./helpers.js"

const { route, sync, error } = LxdMockTransport
const recorded = Effect.flatMap(LxdMockTransport.MockTransport, (m) => m.requests)
const sent = Effect.map(recorded, (rs) => rs.filter((r) => r.path !== "").map((r) => `${r.method} ${r.url}`))

const projectJson = {
  name: "p1",
  description: "mine",
  config: { "features.images": "true", "features.profiles": "false", "limits.instances": "5" },
  used_by: ["/1.0/profiles/default?project=p1"]
}
const server = route("GET", "", () => Effect.succeed(sync(serverInfo(["projects", "project_usage", "warnings"]))))

describe("Projects", () => {
  it.effect("update keeps every key it is not given: GET, merge, PUT with the ETag (5.0.2's PATCH acts as PUT)", () =>
    Effect.gen(function*() {
      const projects = yield* Projects.Projects
      yield* projects.update("p1", { config: { "limits.instances": "10", "features.profiles": "" } })
      expect(yield* sent).toEqual(["GET /1.0/projects/p1", "PUT /1.0/projects/p1"])
      const put = (yield* recorded).find((r) => r.method === "PUT")!
      expect(put.body).toEqual({ description: "mine", config: { "features.images": "true", "limits.instances": "10" } })
      expect(put.headers["if-match"]).toBe("\"e1\"")
    }).pipe(Effect.provide(mockLayer({
      routes: [
        server,
        route("GET", "/projects/:name", () => Effect.succeed(sync(projectJson, { etag: "\"e1\"" }))),
        route("PUT", "/projects/:name", () => Effect.succeed(sync({})))
      ]
    }))))

  it.effect("a caller's etag wins over the one read; a stale one is PreconditionFailed", () =>
    Effect.gen(function*() {
      const projects = yield* Projects.Projects
      const e = yield* Effect.flip(projects.update("p1", { description: "x" }, { etag: "\"old\"" }))
      expect(e._tag).toBe("PreconditionFailed")
      const put = (yield* recorded).find((r) => r.method === "PUT")!
      expect(put.headers["if-match"]).toBe("\"old\"")
    }).pipe(Effect.provide(mockLayer({
      routes: [
        server,
        route("GET", "/projects/:name", () => Effect.succeed(sync(projectJson, { etag: "\"e1\"" }))),
        route("PUT", "/projects/:name", () => Effect.succeed(error(412, "ETag doesn't match")))
      ]
    }))))

  it.effect("state, features and used_by", () =>
    Effect.gen(function*() {
      const projects = yield* Projects.Projects
      const p = yield* projects.get("p1")
      expect(Projects.features(p)).toEqual({ images: true, profiles: false })
      expect(p.used_by[0]).toMatchObject({ collection: "profiles", name: "default", project: "p1" })
      const state = yield* projects.state("p1")
      expect(state.resources["instances"]).toEqual({ Limit: 5, Usage: 1 })
    }).pipe(Effect.provide(mockLayer({
      routes: [
        server,
        route("GET", "/projects/:name", () => Effect.succeed(sync(projectJson))),
        route("GET", "/projects/:name/state", () =>
          Effect.succeed(
            sync({ resources: { instances: { Limit: 5, Usage: 1 }, "new-kind": { Limit: -1, Usage: 0 } } })
          ))
      ]
    }))))

  it.effect("without the projects extension nothing but GET /1.0 is sent", () =>
    Effect.gen(function*() {
      const projects = yield* Projects.Projects
      expect((yield* Effect.flip(projects.list()))._tag).toBe("APIExtensionNotAvailable")
      expect(yield* sent).toEqual([])
    }).pipe(Effect.provide(mockLayer({
      routes: [route("GET", "", () => Effect.succeed(sync(serverInfo([]))))]
    }))))
})

describe("Warnings", () => {
  const warning = {
    uuid: "1b3c8a9e-0000-4000-8000-000000000001",
    status: "new",
    severity: "low",
    type: "Couldn't find the CGroup network priority controller",
    count: 1,
    first_seen_at: "2026-11-30T10:00:00.123456789Z",
    last_seen_at: "2026-11-30T10:00:00Z",
    last_message: "per-instance network priority will be ignored",
    entity_url: "",
    location: "none",
    project: ""
  }
  it.effect("list decodes; acknowledge PATCHes the status; allProjects drops the project", () =>
    Effect.gen(function*() {
      const warnings = yield* Warnings.Warnings
      const all = yield* LxdClient.withProject(warnings.list({ allProjects: true }), "dev")
      expect(all[0]).toMatchObject({ uuid: warning.uuid, status: "new", severity: "low", count: 1 })
      yield* warnings.acknowledge(warning.uuid)
      const patch = (yield* recorded).find((r) => r.method === "PATCH")!
      expect(patch.body).toEqual({ status: "acknowledged" })
      expect(yield* sent).toEqual([
        "GET /1.0/warnings?recursion=1&all-projects=true",
        `PATCH /1.0/warnings/${warning.uuid}`
      ])
      expect((yield* Effect.flip(warnings.get("not a uuid")))._tag).toBe("InvalidArgument")
    }).pipe(Effect.provide(mockLayer({
      routes: [
        server,
        route("GET", "/warnings", () => Effect.succeed(sync([{ ...warning, from_the_future: 1 }]))),
        route("PATCH", "/warnings/:uuid", () => Effect.succeed(sync({})))
      ]
    }))))
})

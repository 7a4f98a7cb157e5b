import { LxdClient, LxdError } from "@effect-lxd/core"
import { LxdMockTransport } from "@effect-lxd/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { mockLayer, serverInfo } from "./helpers.js"

const { sync, error, json, raw, async: asyncAnswer, operation } = LxdMockTransport

const answering = (answer: LxdMockTransport.MockResponse) => mockLayer({ handle: () => Effect.succeed(answer) })

const Named = Schema.Struct({ name: Schema.String, n: Schema.Number })

describe("envelope decoding", () => {
  it.effect("sync: metadata decoded, ETag and Location kept, unknown fields ignored", () =>
    Effect.gen(function*() {
      const client = yield* LxdClient.LxdClient
      const r = yield* client.sync(Named, { method: "GET", path: "/x" })
      expect(r.metadata).toEqual({ name: "a", n: 1 })
      expect(r.etag).toBe("\"abc\"")
    }).pipe(Effect.provide(answering(sync({ name: "a", n: 1, extra: true }, { etag: "\"abc\"" })))))

  it.effect("sync 201 with Location", () =>
    Effect.gen(function*() {
      const client = yield* LxdClient.LxdClient
      const r = yield* client.request({ method: "POST", path: "/profiles", body: { name: "p" } })
      expect(r.status).toBe(201)
      expect(r.location).toBe("/1.0/profiles/p")
    }).pipe(Effect.provide(answering(sync(null, { location: "/1.0/profiles/p" })))))

  it.effect("async: the operation URL and metadata come back", () =>
    Effect.gen(function*() {
      const client = yield* LxdClient.LxdClient
      const r = yield* client.request({ method: "POST", path: "/instances" })
      expect(r.type).toBe("async")
      expect(r.operation).toBe("/1.0/operations/op1")
      expect(r.status).toBe(202)
    }).pipe(Effect.provide(answering(asyncAnswer(operation("op1"))))))

  it.effect("sync expected but async received is a ProtocolError", () =>
    Effect.gen(function*() {
      const client = yield* LxdClient.LxdClient
      const e = yield* Effect.flip(client.sync(Schema.Unknown, { method: "GET", path: "/x" }))
      expect(e._tag).toBe("ProtocolError")
    }).pipe(Effect.provide(answering(asyncAnswer(operation("op1"))))))

  it.effect("metadata that fails its schema is a ProtocolError with the schema's explanation", () =>
    Effect.gen(function*() {
      const client = yield* LxdClient.LxdClient
      const e = yield* Effect.flip(client.sync(Named, { method: "GET", path: "/x" }))
      expect(e._tag).toBe("ProtocolError")
      expect(e.message).toContain("n")
      expect(e.message).toMatch(/Expected number/)
    }).pipe(Effect.provide(answering(sync({ name: "a", n: "one" })))))

  it.effect("a body that is not JSON is a ProtocolError naming the HTTP status", () =>
    Effect.gen(function*() {
      const client = yield* LxdClient.LxdClient
      const e = yield* Effect.flip(client.request({ method: "GET", path: "/x" }))
      expect(e._tag).toBe("ProtocolError")
      expect(e.message).toContain("HTTP 502")
    }).pipe(
      Effect.provide(
        answering(raw("<html>bad gateway</html>", { status: 502, headers: { "content-type": "text/html" } }))
      )
    ))

  it.effect("JSON that is not an envelope is a ProtocolError", () =>
    Effect.gen(function*() {
      const client = yield* LxdClient.LxdClient
      const e1 = yield* Effect.flip(client.request({ method: "GET", path: "/x" }))
      expect(e1._tag).toBe("ProtocolError")
      expect(e1.message).toContain("sync, async or error")
    }).pipe(Effect.provide(answering(json({ type: "weird" })))))

  it.effect("an array body is a ProtocolError", () =>
    Effect.gen(function*() {
      const client = yield* LxdClient.LxdClient
      const e = yield* Effect.flip(client.request({ method: "GET", path: "/x" }))
      expect(e._tag).toBe("ProtocolError")
    }).pipe(Effect.provide(answering(json(["/1.0"])))))
})

describe("error envelopes", () => {
  const cases: ReadonlyArray<readonly [number, string]> = [
    [400, "BadRequest"],
    [403, "Forbidden"],
    [404, "NotFound"],
    [409, "Conflict"],
    [412, "PreconditionFailed"],
    [500, "LxdApiError"],
    [501, "LxdApiError"],
    [503, "LxdApiError"]
  ]
  for (const [status, tag] of cases) {
    it.effect(`${status} → ${tag}`, () =>
      Effect.gen(function*() {
        const client = yield* LxdClient.LxdClient
        const e = yield* Effect.flip(client.request({ method: "DELETE", path: "/instances/c1" }))
        expect(e._tag).toBe(tag)
        expect(LxdError.isLxdError(e)).toBe(true)
        if (e._tag === tag && "status" in e) {
          expect(e.status).toBe(status)
          expect(e.errorCode).toBe(status)
          expect(e.message).toBe("boom")
          expect(e.method).toBe("DELETE")
          expect(e.path).toBe("/1.0/instances/c1")
        }
      }).pipe(Effect.provide(answering(error(status, "boom")))))
  }

  it.effect("error_code wins over the HTTP status (an error inside a 200)", () =>
    Effect.gen(function*() {
      const client = yield* LxdClient.LxdClient
      const e = yield* Effect.flip(client.request({ method: "GET", path: "/operations/x/wait" }))
      expect(e._tag).toBe("NotFound")
    }).pipe(Effect.provide(answering(error(200, "Operation not found", { errorCode: 404 })))))

  it.effect("a transport failure is ClientConnectionFailed, never an HttpClientError", () =>
    Effect.gen(function*() {
      const client = yield* LxdClient.LxdClient
      const e = yield* Effect.flip(client.request({ method: "GET", path: "" }))
      expect(e._tag).toBe("ClientConnectionFailed")
      if (e._tag === "ClientConnectionFailed") {
        expect(e.reason).toContain("ECONNREFUSED")
        expect(e.message).toContain("mock")
      }
    }).pipe(Effect.provide(answering(LxdMockTransport.unreachable()))))
})

describe("project and target", () => {
  const recording = mockLayer({ handle: () => Effect.succeed(sync({})) })
  const lastQuery = Effect.flatMap(LxdMockTransport.MockTransport, (m) => m.requests).pipe(
    Effect.map((rs) => rs[rs.length - 1]!.query)
  )

  it.effect("no reference: no project, no target", () =>
    Effect.gen(function*() {
      const client = yield* LxdClient.LxdClient
      yield* client.request({ method: "GET", path: "/instances", query: { recursion: "1" } })
      expect(yield* lastQuery).toEqual({ recursion: "1" })
    }).pipe(Effect.provide(recording)))

  it.effect("withProject (data-last) and withTarget (data-first) compose", () =>
    Effect.gen(function*() {
      const client = yield* LxdClient.LxdClient
      yield* LxdClient.withTarget(
        client.request({ method: "GET", path: "/instances" }).pipe(LxdClient.withProject("dev")),
        "node2"
      )
      expect(yield* lastQuery).toEqual({ project: "dev", target: "node2" })
    }).pipe(Effect.provide(recording)))

  it.effect("the innermost withProject wins", () =>
    Effect.gen(function*() {
      const client = yield* LxdClient.LxdClient
      yield* client.request({ method: "GET", path: "/x" }).pipe(
        LxdClient.withProject("inner"),
        LxdClient.withProject("outer")
      )
      expect(yield* lastQuery).toEqual({ project: "inner" })
    }).pipe(Effect.provide(recording)))

  it.effect("all-projects suppresses project; an explicit project query is kept", () =>
    Effect.gen(function*() {
      const client = yield* LxdClient.LxdClient
      yield* client.request({ method: "GET", path: "/instances", query: { "all-projects": "true" } }).pipe(
        LxdClient.withProject("dev")
      )
      expect(yield* lastQuery).toEqual({ "all-projects": "true" })
      yield* client.request({ method: "GET", path: "/x", query: { project: "mine" } }).pipe(
        LxdClient.withProject("dev")
      )
      expect(yield* lastQuery).toEqual({ project: "mine" })
    }).pipe(Effect.provide(recording)))

  it.effect("query values are encoded", () =>
    Effect.gen(function*() {
      const client = yield* LxdClient.LxdClient
      yield* client.request({ method: "GET", path: "/instances", query: { filter: "name eq a&b=c" } })
      const rs = yield* Effect.flatMap(LxdMockTransport.MockTransport, (m) => m.requests)
      expect(rs[0]!.url).toBe("/1.0/instances?filter=name%20eq%20a%26b%3Dc")
      expect(rs[0]!.query).toEqual({ filter: "name eq a&b=c" })
    }).pipe(Effect.provide(recording)))

  it.effect("If-Match carries the ETag; JSON bodies are typed application/json", () =>
    Effect.gen(function*() {
      const client = yield* LxdClient.LxdClient
      yield* client.request({ method: "PUT", path: "/x", body: { a: 1 }, etag: "\"e1\"" })
      const [r] = yield* Effect.flatMap(LxdMockTransport.MockTransport, (m) => m.requests)
      expect(r!.headers["if-match"]).toBe("\"e1\"")
      expect(r!.headers["content-type"]).toBe("application/json")
      expect(r!.body).toEqual({ a: 1 })
    }).pipe(Effect.provide(recording)))
})

describe("server cache and extensions", () => {
  it.effect("GET /1.0 is cached; a failure is not memoised", () =>
    Effect.gen(function*() {
      let calls = 0
      const layer = mockLayer({
        handle: () =>
          Effect.sync(() => {
            calls++
            return calls === 1 ? error(500, "not ready") : sync(serverInfo())
          })
      })
      yield* Effect.gen(function*() {
        const client = yield* LxdClient.LxdClient
        expect((yield* Effect.flip(client.server))._tag).toBe("LxdApiError")
        expect((yield* client.server).environment?.server_version).toBe("5.0.2")
        yield* client.server
        yield* client.hasExtension("etag")
        expect(calls).toBe(2)
        yield* client.refreshServer
        yield* client.server
        expect(calls).toBe(3)
      }).pipe(Effect.provide(layer))
    }))

  it.effect("requireExtension fails with APIExtensionNotAvailable", () =>
    Effect.gen(function*() {
      const client = yield* LxdClient.LxdClient
      expect(yield* client.hasExtension("etag")).toBe(true)
      yield* client.requireExtension("etag")
      const e = yield* Effect.flip(client.requireExtension("not_a_real_extension"))
      expect(e._tag).toBe("APIExtensionNotAvailable")
      expect(e.message).toContain("not_a_real_extension")
    }).pipe(Effect.provide(answering(sync(serverInfo())))))
})

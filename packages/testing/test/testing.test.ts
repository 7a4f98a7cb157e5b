import { Events, Lxd, LxdClient, Operations, Server } from "@effect-lxd/core"
import { LxdFakeServer, LxdMockTransport } from "@effect-lxd/testing"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Fiber, Layer, Stream, TestClock } from "effect"

const { route, sync, event, controlledOperation, controlledEvents } = LxdMockTransport

describe("LxdMockTransport", () => {
  it.effect("a controlled operation stays running, then succeeds when the test says so", () =>
    Effect.gen(function*() {
      const op = yield* controlledOperation("op1")
      const layer = Lxd.layer.pipe(Layer.provideMerge(LxdMockTransport.layer({
        routes: [route("POST", "/instances", () => Effect.succeed(op.accepted)), ...op.routes]
      })))
      yield* Effect.gen(function*() {
        const client = yield* LxdClient.LxdClient
        const fiber = yield* Effect.fork(client.run({ method: "POST", path: "/instances" }))
        yield* TestClock.adjust("31 seconds") // one long-poll slice: 5.0.2 answers the running operation
        expect(fiber.unsafePoll()).toBeNull()
        yield* op.succeed({ done: true })
        const result = yield* Fiber.join(fiber)
        expect(result.metadata).toEqual({ done: true })
        expect(yield* op.cancelled).toBe(false)
      }).pipe(Effect.provide(layer))
    }))

  it.effect("a controlled operation fails; an interrupted one is cancelled", () =>
    Effect.gen(function*() {
      const failing = yield* controlledOperation("op2")
      const hanging = yield* controlledOperation("op3")
      const layer = Lxd.layer.pipe(Layer.provideMerge(LxdMockTransport.layer({
        routes: [
          route("POST", "/a", () => Effect.succeed(failing.accepted)),
          route("POST", "/b", () => Effect.succeed(hanging.accepted)),
          ...failing.routes,
          ...hanging.routes
        ]
      })))
      yield* Effect.gen(function*() {
        const client = yield* LxdClient.LxdClient
        const a = yield* Effect.fork(client.run({ method: "POST", path: "/a" }))
        yield* failing.fail("boom")
        const e = yield* Effect.flip(Fiber.join(a))
        expect(e._tag).toBe("OperationFailed")
        const b = yield* Effect.fork(client.run({ method: "POST", path: "/b" }))
        yield* TestClock.adjust("1 second")
        yield* Fiber.interrupt(b)
        expect(yield* hanging.cancelled).toBe(true)
        expect((yield* hanging.current).status).toBe("Cancelled")
      }).pipe(Effect.provide(layer))
    }))

  it.effect("controlled events reach a subscriber; `connected` avoids racing the subscription", () =>
    Effect.gen(function*() {
      const events = yield* controlledEvents
      const layer = Lxd.layer.pipe(Layer.provide(LxdMockTransport.layer({ sockets: [events.route] })))
      yield* Effect.gen(function*() {
        const service = yield* Events.Events
        const fiber = yield* Effect.fork(Stream.runCollect(Stream.take(service.stream({ types: ["lifecycle"] }), 2)))
        yield* events.connected()
        yield* events.emit(event("lifecycle", { action: "instance-created", source: "/1.0/instances/a" }))
        yield* events.emit(event("lifecycle", { action: "instance-deleted", source: "/1.0/instances/a" }))
        const got = Chunk.toReadonlyArray(yield* Fiber.join(fiber))
        expect(got.map((e) => (e as Events.LifecycleEvent).metadata.action)).toEqual([
          "instance-created",
          "instance-deleted"
        ])
      }).pipe(Effect.provide(layer))
    }))

  it.effect("literal segments are tried before :param ones, whatever the order routes were given in", () =>
    Effect.gen(function*() {
      const client = yield* LxdClient.LxdClient
      const get = (path: string) => Effect.map(client.request({ method: "GET", path }), (r) => r.metadata)
      expect(yield* get("/images/aliases")).toBe("aliases")
      expect(yield* get("/images/abc123")).toBe("image abc123")
      expect(yield* get("/images/aliases/a1")).toBe("alias a1")
      expect(yield* get("/images/abc123/secret")).toBe("secret abc123")
      expect(yield* get("/images/abc123/export")).toBe("param")
    }).pipe(Effect.provide(Lxd.layer.pipe(Layer.provide(LxdMockTransport.layer({
      routes: [
        route("GET", "/images/:fingerprint", (r) => Effect.succeed(sync(`image ${r.params.fingerprint}`))),
        route("GET", "/images/:fingerprint/:sub", () => Effect.succeed(sync("param"))),
        route("GET", "/images/:fingerprint/secret", (r) => Effect.succeed(sync(`secret ${r.params.fingerprint}`))),
        route("GET", "/images/aliases/:name", (r) => Effect.succeed(sync(`alias ${r.params.name}`))),
        route("GET", "/images/aliases", () => Effect.succeed(sync("aliases")))
      ]
    }))))))

  it.effect("an unmatched request is a defect naming the endpoint", () =>
    Effect.gen(function*() {
      const client = yield* LxdClient.LxdClient
      const exit = yield* Effect.exit(client.request({ method: "GET", path: "/nope" }))
      expect(Exit.isFailure(exit) && String(exit.cause)).toContain("no route for GET /1.0/nope")
    }).pipe(Effect.provide(Lxd.layer.pipe(Layer.provide(LxdMockTransport.layer({
      routes: [route("GET", "", () => Effect.succeed(sync({})))]
    }))))))
})

describe("LxdFakeServer", () => {
  const fake = Lxd.layer.pipe(Layer.provideMerge(LxdFakeServer.layer()))

  it.effect("an endpoint the fake does not implement is a defect naming it, never a success", () =>
    Effect.gen(function*() {
      const client = yield* LxdClient.LxdClient
      const exit = yield* Effect.exit(client.request({ method: "GET", path: "/network-allocations" }))
      expect(Exit.isFailure(exit) && String(exit.cause)).toContain(
        "LxdFakeServer does not implement GET /1.0/network-allocations"
      )
    }).pipe(Effect.provide(fake)))

  it.effect("finished operations vanish 5 s after they end (TestClock)", () =>
    Effect.gen(function*() {
      const client = yield* LxdClient.LxdClient
      const operations = yield* Operations.Operations
      const op = yield* client.run({
        method: "POST",
        path: "/instances",
        body: { name: "c1", source: { type: "image", alias: "busybox" } }
      })
      expect((yield* operations.get(op.id)).status).toBe("Success")
      yield* TestClock.adjust("4 seconds")
      expect((yield* operations.get(op.id)).status).toBe("Success")
      yield* TestClock.adjust("2 seconds")
      expect((yield* Effect.flip(operations.get(op.id)))._tag).toBe("NotFound")
    }).pipe(Effect.provide(fake)))

  it.effect("extensions are configurable, so users can test their gating", () =>
    Effect.gen(function*() {
      const server = yield* Server.Server
      expect(yield* server.hasExtension("instances")).toBe(true)
      expect((yield* Effect.flip(server.requireExtension("instance_all_projects")))._tag).toBe(
        "APIExtensionNotAvailable"
      )
    }).pipe(Effect.provide(Lxd.layer.pipe(Layer.provide(LxdFakeServer.layer({ extensions: ["instances"] }))))))

  it.effect("each layer build is a fresh server", () =>
    Effect.gen(function*() {
      const create = Effect.flatMap(LxdClient.LxdClient, (c) =>
        c.run({
          method: "POST",
          path: "/instances",
          body: { name: "same", source: { type: "image", alias: "busybox" } }
        }))
      yield* Effect.provide(create, fake)
      yield* Effect.provide(create, fake)
    }))
})

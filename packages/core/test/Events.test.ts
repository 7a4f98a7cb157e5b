import { Events, LxdClient } from "@effect-lxd/core"
import { ClientConnectionFailed } from "@effect-lxd/core/LxdError"
import { LxdMockTransport } from "@effect-lxd/testing"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Chunk, Effect, Fiber, Option, Ref, Schedule, Stream, TestClock } from "effect"
import { mockLayer } from "./helpers.js"

const { route, socket, event, operation } = LxdMockTransport

const lifecycle = (action: string, source = "/1.0/instances/c1") =>
  event("lifecycle", { action, source, context: {}, requestor: { username: "root", protocol: "unix", address: "@" } })

const withFrames = (frames: ReadonlyArray<string> | Stream.Stream<string>) =>
  mockLayer({ sockets: [route("GET", "/events", () => Effect.succeed(socket(frames)))] })

const requests = Effect.flatMap(LxdMockTransport.MockTransport, (m) => m.requests)

describe("Events.stream", () => {
  it.effect("decodes lifecycle, operation, logging, and keeps unknown types raw", () =>
    Effect.gen(function*() {
      const events = yield* Events.Events
      const all = yield* Stream.runCollect(events.stream())
      const [a, b, c, d] = Chunk.toReadonlyArray(all)
      expect(a!.type).toBe("lifecycle")
      if (a!.type === "lifecycle" && !("raw" in a!)) {
        expect((a as Events.LifecycleEvent).metadata.action).toBe("instance-started")
        expect((a as Events.LifecycleEvent).metadata.requestor?.protocol).toBe("unix")
      }
      expect(b!.type).toBe("operation")
      expect((b as Events.OperationEvent).metadata.id).toBe("op1")
      expect(c!.type).toBe("logging")
      expect(d!.type).toBe("ovn")
      expect("raw" in d!).toBe(true)
    }).pipe(Effect.provide(withFrames([
      lifecycle("instance-started"),
      event("operation", operation("op1")),
      event("logging", { message: "hi", level: "info", context: null }),
      event("ovn", { whatever: 1 })
    ]))))

  it.effect("type, project and all-projects go into the query", () =>
    Effect.gen(function*() {
      const events = yield* Events.Events
      yield* Stream.runDrain(events.stream({ types: ["lifecycle", "operation"], project: "p1" }))
      yield* Stream.runDrain(events.stream({ allProjects: true }))
      const rs = yield* requests
      expect(rs.map((r) => r.url)).toEqual([
        "/1.0/events?type=lifecycle%2Coperation&project=p1",
        "/1.0/events?all-projects=true"
      ])
    }).pipe(Effect.provide(withFrames([]))))

  it.effect("invalid: \"fail\": an event that does not match its schema is a ProtocolError", () =>
    Effect.gen(function*() {
      const events = yield* Events.Events
      const e = yield* Effect.flip(Stream.runDrain(events.stream({ invalid: "fail" })))
      expect(e._tag).toBe("ProtocolError")
    }).pipe(Effect.provide(withFrames([event("lifecycle", { action: 42 })]))))

  it.effect("invalid: \"fail\": a frame that is not JSON is a ProtocolError", () =>
    Effect.gen(function*() {
      const events = yield* Events.Events
      const e = yield* Effect.flip(Stream.runDrain(events.stream({ invalid: "fail" })))
      expect(e._tag).toBe("ProtocolError")
    }).pipe(Effect.provide(withFrames(["{not json"]))))

  it.effect("lifecycle() narrows to lifecycle events of the given actions", () =>
    Effect.gen(function*() {
      const events = yield* Events.Events
      const got = yield* Stream.runCollect(Events.lifecycle(events.stream(), ["instance-deleted"]))
      expect(Chunk.toReadonlyArray(got).map((e) => e.metadata.action)).toEqual(["instance-deleted"])
    }).pipe(Effect.provide(withFrames([
      lifecycle("instance-created"),
      event("operation", operation("op1")),
      lifecycle("instance-deleted")
    ]))))
})

describe("overflow policies", () => {
  const burst = Array.from({ length: 50 }, (_, i) => lifecycle("instance-updated", `/1.0/instances/c${i}`))

  // subscribe, let the whole burst arrive while nobody reads, then read
  const readAfterBurst = (options: Events.StreamOptions) =>
    Effect.scoped(Effect.gen(function*() {
      const events = yield* Events.Events
      const stream = yield* events.subscribe(options)
      yield* Effect.sleep("30 millis")
      return yield* Stream.runCollect(stream).pipe(
        Effect.map((c) => Chunk.toReadonlyArray(c).map((e) => (e as Events.LifecycleEvent).metadata.source)),
        Effect.either
      )
    }))

  it.live("fail (default): the stream ends with EventBufferOverflow", () =>
    Effect.gen(function*() {
      const result = yield* readAfterBurst({ bufferSize: 10 })
      expect(result._tag).toBe("Left")
      if (result._tag === "Left") {
        expect(result.left._tag).toBe("EventBufferOverflow")
        expect(result.left.message).toContain("10")
      }
    }).pipe(Effect.provide(withFrames(burst))))

  it.live("dropping: the first bufferSize events are kept, later ones dropped", () =>
    Effect.gen(function*() {
      const result = yield* readAfterBurst({ bufferSize: 10, overflow: "dropping" })
      expect(result._tag).toBe("Right")
      if (result._tag === "Right") {
        expect(result.right).toEqual(burst.slice(0, 10).map((_, i) => `/1.0/instances/c${i}`))
      }
    }).pipe(Effect.provide(withFrames(burst))))

  it.live("sliding: the last bufferSize events are kept", () =>
    Effect.gen(function*() {
      const result = yield* readAfterBurst({ bufferSize: 10, overflow: "sliding" })
      expect(result._tag).toBe("Right")
      if (result._tag === "Right") {
        expect(result.right).toEqual(burst.slice(40).map((_, i) => `/1.0/instances/c${40 + i}`))
      }
    }).pipe(Effect.provide(withFrames(burst))))

  it.live("a consumer that keeps up loses nothing with a tiny buffer", () =>
    Effect.gen(function*() {
      const events = yield* Events.Events
      const got = yield* Stream.runCollect(Stream.take(events.stream({ bufferSize: 2 }), 50))
      expect(Chunk.size(got)).toBe(50)
    }).pipe(Effect.provide(withFrames(
      Stream.fromIterable(burst).pipe(Stream.schedule(Schedule.spaced("1 millis")))
    ))))
})

// ~6 KB: 3,000 nested arrays where an object is expected (formatting the schema error on it overflows the stack)
const deep = "[".repeat(3000) + "]".repeat(3000)
const hostile = (type: string) =>
  `{"type":"${type}","timestamp":"2026-01-01T00:00:00Z","location":"none","project":"default","metadata":${deep}}`

describe("hostile event frames (issue 13, defect 3)", () => {
  it("Events.decode never throws: a deeply nested frame is a typed ProtocolError with a bounded explanation", () => {
    for (const type of ["lifecycle", "operation", "logging"]) {
      const result = Effect.runSync(Effect.either(Events.decode(hostile(type))))
      expect(result._tag).toBe("Left")
      if (result._tag === "Left") {
        expect(result.left._tag).toBe("ProtocolError")
        expect(result.left.message.length).toBeLessThan(2000)
      }
    }
  })

  it.effect("one hostile frame of each known type is passed through raw (rejected) and the stream goes on", () =>
    Effect.gen(function*() {
      const events = yield* Events.Events
      const all = Chunk.toReadonlyArray(yield* Stream.runCollect(events.stream()))
      expect(all.map((e) => [e.type, "raw" in e, (e as Events.RawEvent).rejected !== undefined])).toEqual([
        ["lifecycle", true, true],
        ["operation", true, true],
        ["logging", true, true],
        ["lifecycle", true, true],
        ["lifecycle", false, false]
      ])
      expect((all[3] as Events.RawEvent).rejected).toContain("action")
      expect((all[3] as Events.RawEvent).metadata).toEqual({ action: 42 })
      // filters skip them
      expect(Chunk.size(yield* Stream.runCollect(Events.lifecycle(events.stream())))).toBe(1)
      expect(yield* events.invalidFrames).toEqual({ rejected: 8, unreadable: 0 })
    }).pipe(Effect.provide(withFrames([
      hostile("lifecycle"),
      hostile("operation"),
      hostile("logging"),
      event("lifecycle", { action: 42 }),
      lifecycle("instance-started")
    ]))))

  it.effect("frames that are no event at all are dropped and counted; the stream goes on", () =>
    Effect.gen(function*() {
      const events = yield* Events.Events
      const all = Chunk.toReadonlyArray(yield* Stream.runCollect(events.stream()))
      expect(all.map((e) => e.type)).toEqual(["lifecycle"])
      expect(yield* events.invalidFrames).toEqual({ rejected: 0, unreadable: 6 })
    }).pipe(Effect.provide(withFrames([
      "{not json",
      "[]",
      "null",
      "{\"type\":7}",
      "{\"type\":\"lifecycle\",\"timestamp\":\"yesterday\"}",
      deep,
      lifecycle("instance-started")
    ]))))

  it.effect("invalid: \"fail\": a hostile frame ends the stream with a ProtocolError, never a defect", () =>
    Effect.gen(function*() {
      const events = yield* Events.Events
      const exit = yield* Effect.exit(Stream.runDrain(events.stream({ invalid: "fail" })))
      expect(exit._tag).toBe("Failure")
      if (exit._tag === "Failure") {
        expect(Cause.isDie(exit.cause)).toBe(false)
        expect(Cause.failureOption(exit.cause).pipe(Option.map((e) => e._tag))).toEqual(Option.some("ProtocolError"))
      }
    }).pipe(Effect.provide(withFrames([hostile("lifecycle"), lifecycle("instance-started")]))))

  it.scoped("operation progress survives a hostile and a rejected operation frame", () =>
    Effect.gen(function*() {
      const client = yield* LxdClient.LxdClient
      const handle = yield* client.operation({ method: "POST", path: "/instances" }, { progress: true })
      const updates = yield* Stream.runCollect(handle.progress)
      expect([...updates].map((o) => o.status_code)).toEqual([103, 200])
    }).pipe(Effect.provide(mockLayer({
      routes: [route("POST", "/instances", () => Effect.succeed(LxdMockTransport.async(operation("op9"))))],
      sockets: [
        route("GET", "/events", () =>
          Effect.succeed(socket([
            hostile("operation"),
            event("operation", { id: 5 }),
            "{not json",
            event("operation", operation("op9", { metadata: { download_progress: "10%" } })),
            event("operation", operation("op9", { status: "Success", status_code: 200 }))
          ])))
      ]
    }))))
})

describe("resumable: events that survive a lost connection", () => {
  const refused = new ClientConnectionFailed({
    method: "GET",
    path: "/1.0/events",
    endpoint: "mock",
    reason: "connection refused (ECONNREFUSED)"
  })
  /** `/events` answered by the n-th connection's script (1-based); `connections` counts them. */
  const scripted = (script: (n: number) => MockSocketOrRefused) =>
    Effect.map(Ref.make(0), (connections) => ({
      connections,
      layer: mockLayer({
        sockets: [route("GET", "/events", () =>
          Effect.flatMap(Ref.updateAndGet(connections, (n) => n + 1), (n) => {
            const s = script(n)
            return s === "refused" ? Effect.fail(refused) : Effect.succeed(socket(s))
          }))]
      })
    }))
  type MockSocketOrRefused = "refused" | Stream.Stream<string, ClientConnectionFailed>
  const settle = Effect.repeatN(Effect.yieldNow(), 50)
  const describeItem = (e: Events.ResumableEvent) =>
    Events.isResubscribed(e)
      ? `resubscribed after ${e.attempts} (${e.cause?._tag ?? "closed"})`
      : (e as Events.LifecycleEvent).metadata.source

  it.effect("a dropped websocket: subscribes again with backoff (TestClock), a marker, then the new events", () =>
    Effect.gen(function*() {
      const { connections, layer } = yield* scripted((n) =>
        n === 1
          ? Stream.concat(Stream.make(lifecycle("instance-started", "a")), LxdMockTransport.dropped("/1.0/events"))
          : n < 4
          ? "refused"
          : Stream.concat(Stream.make(lifecycle("instance-started", "b")), Stream.never)
      )
      yield* Effect.gen(function*() {
        const events = yield* Events.Events
        const fiber = yield* Effect.fork(Stream.runCollect(Stream.take(events.resumable(), 3)))
        yield* settle
        // the first subscription, and the immediate first attempt after the drop
        expect(yield* Ref.get(connections)).toBe(2)
        yield* TestClock.adjust("249 millis")
        yield* settle
        expect(yield* Ref.get(connections)).toBe(2)
        yield* TestClock.adjust("1 millis")
        yield* settle
        expect(yield* Ref.get(connections)).toBe(3)
        // exponential: 500 ms before the next
        yield* TestClock.adjust("500 millis")
        const got = yield* Fiber.join(fiber)
        expect(Chunk.toReadonlyArray(got).map(describeItem)).toEqual([
          "a",
          "resubscribed after 3 (ClientConnectionFailed)",
          "b"
        ])
        expect(yield* Ref.get(connections)).toBe(4)
      }).pipe(Effect.provide(layer))
    }))

  it.effect("gives up after the policy's attempts with the last typed error", () =>
    Effect.gen(function*() {
      const { connections, layer } = yield* scripted((n) =>
        n === 1 ? Stream.concat(Stream.make(lifecycle("x", "a")), LxdMockTransport.dropped("/1.0/events")) : "refused"
      )
      yield* Effect.gen(function*() {
        const events = yield* Events.Events
        const fiber = yield* Effect.fork(
          Stream.runCollect(
            events.resumable({ retry: Schedule.spaced("1 second").pipe(Schedule.intersect(Schedule.recurs(2))) })
          )
            .pipe(Effect.flip)
        )
        yield* TestClock.adjust("10 seconds")
        const error = yield* Fiber.join(fiber)
        expect(error._tag).toBe("ClientConnectionFailed")
        expect((error as ClientConnectionFailed).reason).toContain("ECONNREFUSED")
        // the first subscription, then the immediate attempt and two retries a second apart
        expect(yield* Ref.get(connections)).toBe(1 + 1 + 2)
      }).pipe(Effect.provide(layer))
    }))

  it.effect("a websocket the server closes: subscribes again, the marker has no cause", () =>
    Effect.gen(function*() {
      const { layer } = yield* scripted((n) =>
        n === 1 ? Stream.make(lifecycle("x", "a")) : Stream.concat(Stream.make(lifecycle("x", "b")), Stream.never)
      )
      const got = yield* Effect.flatMap(
        Events.Events,
        (events) => Stream.runCollect(Stream.take(events.resumable(), 3))
      ).pipe(Effect.provide(layer))
      expect(Chunk.toReadonlyArray(got).map(describeItem)).toEqual(["a", "resubscribed after 1 (closed)", "b"])
    }))

  it.effect("a consumer that fell behind (EventBufferOverflow) gets the marker, not the end", () =>
    Effect.gen(function*() {
      const burst = Array.from({ length: 20 }, (_, i) => lifecycle("x", `c${i}`))
      const { layer } = yield* scripted((n) =>
        n === 1
          ? Stream.concat(Stream.fromIterable(burst), Stream.never)
          : Stream.concat(Stream.make(lifecycle("x", "b")), Stream.never)
      )
      yield* Effect.scoped(Effect.gen(function*() {
        const events = yield* Events.Events
        const stream = yield* events.subscribeResumable({ bufferSize: 5 })
        yield* settle
        const got = Chunk.toReadonlyArray(yield* Stream.runCollect(Stream.take(stream, 7))).map(describeItem)
        expect(got).toEqual(["c0", "c1", "c2", "c3", "c4", "resubscribed after 1 (EventBufferOverflow)", "b"])
      })).pipe(Effect.provide(layer))
    }))

  it.effect("an error subscribing again cannot mend (a ProtocolError under invalid: fail) ends it at once", () =>
    Effect.gen(function*() {
      const { connections, layer } = yield* scripted(() => Stream.make("{not json"))
      const error = yield* Effect.flatMap(
        Events.Events,
        (events) => Effect.flip(Stream.runDrain(events.resumable({ invalid: "fail" })))
      ).pipe(Effect.provide(layer))
      expect(error._tag).toBe("ProtocolError")
      expect(yield* Ref.get(connections)).toBe(1)
    }))

  it.effect("the first subscription is not retried: its failure fails the stream", () =>
    Effect.gen(function*() {
      const { connections, layer } = yield* scripted(() => "refused")
      const error = yield* Effect.flatMap(Events.Events, (events) => Effect.flip(Stream.runDrain(events.resumable())))
        .pipe(Effect.provide(layer))
      expect(error._tag).toBe("ClientConnectionFailed")
      expect(yield* Ref.get(connections)).toBe(1)
    }))
})

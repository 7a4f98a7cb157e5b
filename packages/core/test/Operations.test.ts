import { LxdClient, Operations } from "@effect-lxd/core"
import { LxdMockTransport } from "@effect-lxd/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Stream, TestClock } from "effect"
import { mockLayer, serverInfo } from "./helpers.js"

const { sync, error, async: asyncAnswer, operation, route, socket, event } = LxdMockTransport

const requests = Effect.flatMap(LxdMockTransport.MockTransport, (m) => m.requests).pipe(
  Effect.map((rs) => rs.map((r) => `${r.method} ${r.url}`))
)

describe("waiting for operations", () => {
  it.effect("loops while 5.0.2 answers a still-running operation at the timeout, then succeeds", () => {
    let waits = 0
    return Effect.gen(function*() {
      const client = yield* LxdClient.LxdClient
      const op = yield* client.run({ method: "PUT", path: "/instances/c1/state", body: { action: "start" } })
      expect(op.status_code).toBe(200)
      expect(waits).toBe(3)
      const rs = yield* requests
      expect(rs.filter((r) => r.startsWith("GET /1.0/operations/op1/wait?timeout="))).toHaveLength(3)
      expect(rs).not.toContain("DELETE /1.0/operations/op1")
    }).pipe(Effect.provide(mockLayer({
      routes: [
        route("PUT", "/instances/:name/state", () => Effect.succeed(asyncAnswer(operation("op1")))),
        route("GET", "/operations/:id/wait", () =>
          Effect.sync(() => {
            waits++
            return sync(operation("op1", waits < 3 ? {} : { status: "Success", status_code: 200 }))
          }))
      ]
    })))
  })

  it.effect("a failure reported with HTTP 200 is OperationFailed, with the err and metadata", () =>
    Effect.gen(function*() {
      const client = yield* LxdClient.LxdClient
      const e = yield* Effect.flip(client.run({ method: "POST", path: "/instances" }))
      expect(e._tag).toBe("OperationFailed")
      if (e._tag === "OperationFailed") {
        expect(e.message).toBe("Failed getting root disk")
        expect(e.statusCode).toBe(400)
        expect(e.metadata).toEqual({ return: 127 })
      }
    }).pipe(Effect.provide(mockLayer({
      routes: [
        route("POST", "/instances", () => Effect.succeed(asyncAnswer(operation("op2")))),
        route("GET", "/operations/op2/wait", () =>
          Effect.succeed(sync(operation("op2", {
            status: "Failure",
            status_code: 400,
            err: "Failed getting root disk",
            metadata: { return: 127 }
          }))))
      ]
    }))))

  it.effect("a cancelled operation is OperationCancelled", () =>
    Effect.gen(function*() {
      const client = yield* LxdClient.LxdClient
      const e = yield* Effect.flip(client.run({ method: "POST", path: "/images" }))
      expect(e._tag).toBe("OperationCancelled")
    }).pipe(Effect.provide(mockLayer({
      routes: [
        route("POST", "/images", () => Effect.succeed(asyncAnswer(operation("op3")))),
        route("GET", "/operations/op3/wait", () =>
          Effect.succeed(sync(operation("op3", { status: "Cancelled", status_code: 401, err: "cancelled" }))))
      ]
    }))))

  it.effect("6.x error-in-200: the operation is fetched again and that is trusted", () =>
    Effect.gen(function*() {
      const client = yield* LxdClient.LxdClient
      const e = yield* Effect.flip(client.run({ method: "POST", path: "/instances" }))
      expect(e._tag).toBe("OperationFailed")
      expect(yield* requests).toContain("GET /1.0/operations/op4")
    }).pipe(Effect.provide(mockLayer({
      routes: [
        route("POST", "/instances", () => Effect.succeed(asyncAnswer(operation("op4")))),
        route("GET", "/operations/op4/wait", () => Effect.succeed(error(200, "boom", { errorCode: 500 }))),
        route("GET", "/operations/op4", () =>
          Effect.succeed(sync(operation("op4", { status: "Failure", status_code: 400, err: "boom" }))))
      ]
    }))))

  it.effect("operation URLs with a query: /wait goes before the ?", () =>
    Effect.gen(function*() {
      const client = yield* LxdClient.LxdClient
      yield* client.run({ method: "POST", path: "/instances" })
      expect(yield* requests).toContain("GET /1.0/operations/op5/wait?project=p1&timeout=30")
    }).pipe(Effect.provide(mockLayer({
      routes: [
        route("POST", "/instances", () =>
          Effect.succeed(asyncAnswer(operation("op5"), { url: "/1.0/operations/op5?project=p1" }))),
        route("GET", "/operations/op5/wait", () =>
          Effect.succeed(sync(operation("op5", { status: "Success", status_code: 200 }))))
      ]
    }))))

  it.effect("an 'async' endpoint that answers sync yields a finished synthetic operation", () =>
    Effect.gen(function*() {
      const client = yield* LxdClient.LxdClient
      const op = yield* client.run({ method: "POST", path: "/storage-pools/default/volumes/custom" })
      expect(op.status_code).toBe(200)
      expect(op.id).toBe("")
      expect(yield* requests).toEqual(["POST /1.0/storage-pools/default/volumes/custom"])
    }).pipe(Effect.provide(mockLayer({ handle: () => Effect.succeed(sync(null, { location: "/1.0/x" })) }))))

  it.effect("a vanished operation (garbage-collected) is NotFound", () =>
    Effect.gen(function*() {
      const ops = yield* Operations.Operations
      const e = yield* Effect.flip(ops.wait("gone"))
      expect(e._tag).toBe("NotFound")
    }).pipe(Effect.provide(mockLayer({ handle: () => Effect.succeed(error(404, "Operation not found")) }))))

  it.effect("wait with a timeout fails with OperationTimeout and leaves the operation alone", () =>
    Effect.gen(function*() {
      const ops = yield* Operations.Operations
      const fiber = yield* Effect.fork(Effect.flip(ops.wait("op6", { timeout: "2 seconds" })))
      yield* TestClock.adjust("3 seconds")
      const e = yield* Fiber.join(fiber)
      expect(e._tag).toBe("OperationTimeout")
      expect(e._tag === "OperationTimeout" && e.operationId).toBe("op6")
      // the long-poll is the first request: no GET of the operation before it, no cancel after
      expect(yield* requests).toEqual(["GET /1.0/operations/op6/wait?timeout=30"])
    }).pipe(Effect.provide(mockLayer({
      routes: [
        route("GET", "/operations/op6", () => Effect.succeed(sync(operation("op6")))),
        route("GET", "/operations/op6/wait", () => Effect.never)
      ]
    }))))
})

describe("operations are scoped resources", () => {
  const hanging = (mayCancel: boolean) =>
    mockLayer({
      routes: [
        route("POST", "/instances", () => Effect.succeed(asyncAnswer(operation("op7", { may_cancel: mayCancel })))),
        route("GET", "/operations/op7/wait", () => Effect.never),
        route("GET", "/operations/op7", () => Effect.succeed(sync(operation("op7", { may_cancel: mayCancel })))),
        route("DELETE", "/operations/op7", () => Effect.succeed(sync(null)))
      ]
    })

  it.effect("interrupting the waiter cancels the operation on the server", () =>
    Effect.gen(function*() {
      const client = yield* LxdClient.LxdClient
      const fiber = yield* Effect.fork(client.run({ method: "POST", path: "/instances" }))
      yield* TestClock.adjust("1 second")
      yield* Fiber.interrupt(fiber)
      expect(yield* requests).toContain("DELETE /1.0/operations/op7")
    }).pipe(Effect.provide(hanging(true))))

  it.effect("a timeout cancels it too", () =>
    Effect.gen(function*() {
      const client = yield* LxdClient.LxdClient
      const fiber = yield* Effect.fork(
        client.run({ method: "POST", path: "/instances" }).pipe(Effect.timeout("5 seconds"))
      )
      yield* TestClock.adjust("6 seconds")
      const exit = yield* Fiber.await(fiber)
      expect(exit._tag).toBe("Failure")
      expect(yield* requests).toContain("DELETE /1.0/operations/op7")
    }).pipe(Effect.provide(hanging(true))))

  it.effect("a failing sibling cancels it", () =>
    Effect.gen(function*() {
      const client = yield* LxdClient.LxdClient
      const fiber = yield* Effect.fork(Effect.all([
        client.run({ method: "POST", path: "/instances" }),
        Effect.zipRight(Effect.sleep("1 second"), Effect.fail("sibling failed" as const))
      ], { concurrency: 2 }))
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.await(fiber)
      expect(yield* requests).toContain("DELETE /1.0/operations/op7")
    }).pipe(Effect.provide(hanging(true))))

  it.effect("an operation that became cancellable after it started is cancelled", () =>
    Effect.gen(function*() {
      const client = yield* LxdClient.LxdClient
      const fiber = yield* Effect.fork(client.run({ method: "POST", path: "/images" }))
      yield* TestClock.adjust("1 second")
      yield* Fiber.interrupt(fiber)
      const rs = yield* requests
      expect(rs).toContain("GET /1.0/operations/op10")
      expect(rs).toContain("DELETE /1.0/operations/op10")
    }).pipe(Effect.provide(mockLayer({
      routes: [
        route("POST", "/images", () => Effect.succeed(asyncAnswer(operation("op10", { may_cancel: false })))),
        route("GET", "/operations/op10/wait", () => Effect.never),
        route("GET", "/operations/op10", () => Effect.succeed(sync(operation("op10", { may_cancel: true })))),
        route("DELETE", "/operations/op10", () => Effect.succeed(sync(null)))
      ]
    }))))

  it.effect("an operation LXD cannot cancel is waited for (bounded), never DELETEd", () =>
    Effect.gen(function*() {
      const client = yield* LxdClient.LxdClient
      const fiber = yield* Effect.fork(
        client.run({ method: "POST", path: "/instances" }, { uncancellableGrace: "10 seconds" })
      )
      yield* TestClock.adjust("1 second")
      const interrupting = yield* Effect.fork(Fiber.interrupt(fiber))
      yield* TestClock.adjust("1 second")
      yield* TestClock.adjust("11 seconds")
      yield* Fiber.join(interrupting)
      const rs = yield* requests
      expect(rs).not.toContain("DELETE /1.0/operations/op7")
      expect(rs.filter((r) => r.startsWith("GET /1.0/operations/op7/wait")).length).toBeGreaterThanOrEqual(2)
    }).pipe(Effect.provide(hanging(false))))

  it.effect("a finished operation is not cancelled when the scope closes", () =>
    Effect.gen(function*() {
      const client = yield* LxdClient.LxdClient
      yield* client.run({ method: "POST", path: "/instances" })
      expect((yield* requests).some((r) => r.startsWith("DELETE"))).toBe(false)
    }).pipe(Effect.provide(mockLayer({
      routes: [
        route("POST", "/instances", () => Effect.succeed(asyncAnswer(operation("op8")))),
        route("GET", "/operations/op8/wait", () =>
          Effect.succeed(sync(operation("op8", { status: "Success", status_code: 200 }))))
      ]
    }))))

  it.scoped("progress: operation events subscribed before the request, filtered by id, ending at the final state", () =>
    Effect.gen(function*() {
      const client = yield* LxdClient.LxdClient
      const handle = yield* client.operation({ method: "POST", path: "/instances" }, { progress: true })
      const updates = yield* Stream.runCollect(handle.progress)
      expect([...updates].map((o) => o.status_code)).toEqual([103, 103, 200])
      const rs = yield* requests
      expect(rs.indexOf("WS /1.0/events?type=operation")).toBeLessThan(rs.indexOf("POST /1.0/instances"))
    }).pipe(Effect.provide(mockLayer({
      routes: [
        route("POST", "/instances", () => Effect.succeed(asyncAnswer(operation("op9"))))
      ],
      sockets: [
        route("GET", "/events", () =>
          Effect.succeed(socket([
            event("operation", operation("other")),
            event("operation", operation("op9", { metadata: { download_progress: "10%" } })),
            event("operation", operation("op9", { metadata: { download_progress: "90%" } })),
            event("operation", operation("op9", { status: "Success", status_code: 200 })),
            event("operation", operation("op9", { status: "Success", status_code: 200 }))
          ])))
      ]
    }))))
})

describe("Operations service", () => {
  it.effect("list flattens every status; listIds keeps ids by status", () =>
    Effect.gen(function*() {
      const ops = yield* Operations.Operations
      const all = yield* ops.list()
      expect(all.map((o) => o.id).sort()).toEqual(["a", "b"])
      const ids = yield* ops.listIds()
      expect(ids).toEqual({ running: ["a"], success: ["b"] })
    }).pipe(Effect.provide(mockLayer({
      handle: (r) =>
        Effect.succeed(
          r.query.recursion === "1"
            ? sync({ running: [operation("a")], success: [operation("b", { status_code: 200 })], failure: null })
            : sync({ running: ["/1.0/operations/a"], success: ["/1.0/operations/b"] })
        )
    }))))

  it.effect("allProjects is gated on operations_get_query_all_projects", () =>
    Effect.gen(function*() {
      const ops = yield* Operations.Operations
      const e = yield* Effect.flip(ops.list({ allProjects: true }))
      expect(e._tag).toBe("APIExtensionNotAvailable")
    }).pipe(Effect.provide(mockLayer({ handle: () => Effect.succeed(sync(serverInfo(["etag"]))) }))))

  it.effect("invalid ids are refused before any request", () =>
    Effect.gen(function*() {
      const ops = yield* Operations.Operations
      for (const id of ["../x", "", "a/b", "a b"]) {
        const e = yield* Effect.flip(ops.get(id))
        expect(e._tag).toBe("InvalidArgument")
      }
      expect(yield* requests).toEqual([])
    }).pipe(Effect.provide(mockLayer({ handle: () => Effect.die("no request expected") }))))
})

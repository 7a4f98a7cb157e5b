/**
 * `Instances.console` (`POST /1.0/instances/{name}/console`): request shape, socket order and detach order
 * against the mock; the fake's echoing console and its console log; typed errors before any request.
 */
import { Exec, Instances, Lxd, LxdClient, type LxdError, Operations } from "@effect-lxd/core"
import type { Frame } from "@effect-lxd/core/LxdTransport"
import { LxdFakeServer, LxdMockTransport } from "@effect-lxd/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import { mockLayer, serverInfo } from "./helpers.js"

const { dropped, operation, route, socket, sync } = LxdMockTransport

const bytes = (s: string) => new TextEncoder().encode(s)
const fds = { "0": "sd", control: "sc" }

/** A console operation `k1` whose `/wait` answers `final` once the control socket closed. */
const consoleMock = (options: {
  readonly extensions?: ReadonlyArray<string>
  readonly fds?: unknown
  readonly final?: LxdMockTransport.MockResponse
  /** `"detach"` (default): the operation ends once control closed; `"now"`: it has ended already. */
  readonly ends?: "detach" | "now"
  readonly events: Array<string>
  /** What fd 0 sends (nothing, open, by default). */
  readonly data?: (url: string) => Stream.Stream<Frame, LxdError.ClientConnectionFailed>
}) => {
  let controlClosed: (() => void) | undefined
  const closed = new Promise<void>((resolve) => (controlClosed = resolve))
  const final = options.final ?? sync(operation("k1", { status: "Success", status_code: 200 }))
  return mockLayer({
    routes: [
      route("GET", "", () => Effect.succeed(sync(serverInfo(options.extensions ?? ["console", "console_vga_type"])))),
      route("POST", "/instances/:name/console", () =>
        Effect.succeed(
          LxdMockTransport.async(
            operation("k1", { class: "websocket", metadata: options.fds ?? { fds }, may_cancel: false })
          )
        )),
      route(
        "GET",
        "/operations/k1/wait",
        () => options.ends === "now" ? Effect.succeed(final) : Effect.as(Effect.promise(() => closed), final)
      ),
      route("GET", "/operations/k1", () => Effect.succeed(final))
    ],
    sockets: [
      route("GET", "/operations/k1/websocket", (r) => {
        const fd = r.query.secret === "sc" ? "control" : "0"
        options.events.push(`open ${fd}`)
        const onClose = Effect.sync(() => {
          options.events.push(`close ${fd}`)
          if (fd === "control") controlClosed?.()
        })
        const onSend = (frame: Frame) =>
          Effect.sync(() =>
            options.events.push(`${fd} <- ${typeof frame === "string" ? frame : new TextDecoder().decode(frame)}`)
          )
        return Effect.succeed(
          fd === "control"
            ? socket(Stream.never, { onSend, onClose })
            : socket(options.data?.(r.url) ?? Stream.never, { onSend, onClose })
        )
      })
    ]
  })
}

const Fake = Lxd.layer.pipe(Layer.provideMerge(LxdFakeServer.layer()))

const running = (name: string) =>
  Effect.flatMap(
    Instances.Instances,
    (i) => Effect.zipRight(i.create({ name, source: { type: "image", alias: "busybox" } }), i.start(name))
  )

const text = (stream: Stream.Stream<Uint8Array, LxdError.LxdError>, until: string) =>
  stream.pipe(
    Stream.map((chunk) => Exec.decode(chunk)),
    Stream.scan("", (a, s) => a + s),
    Stream.takeUntil((s) => s.includes(until)),
    Stream.runLast,
    Effect.map((s) => s._tag === "Some" ? s.value : "")
  )

describe("Instances.console against the mock", () => {
  it.live("POSTs type, width and height; opens control, then fd 0; resize and input go where they belong", () =>
    Effect.gen(function*() {
      const events: Array<string> = []
      const layer = consoleMock({ events })
      yield* Effect.scoped(Effect.gen(function*() {
        const instances = yield* Instances.Instances
        const c = yield* instances.console("c1", { width: 100, height: 30 }).pipe(LxdClient.withProject("p2"))
        expect(c.operationId).toBe("k1")
        expect(c.type).toBe("console")
        yield* c.resize(120, 40)
        // sizes attach would refuse are refused on a resize too, and nothing goes out
        for (const [w, h] of [[0, 40], [120, 1.5], [70000, 40]] as const) {
          expect((yield* Effect.flip(c.resize(w, h)))._tag).toBe("InvalidArgument")
        }
        yield* c.write("ls\n")
        yield* c.write(bytes("x"))
      })).pipe(Effect.provide(layer))
      expect(events).toEqual([
        "open control",
        "open 0",
        `control <- {"command":"window-resize","args":{"width":"120","height":"40"}}`,
        "0 <- ls\n",
        "0 <- x",
        // detaching closes control first (LXD then ends the operation), then the data socket
        "close control",
        "close 0"
      ])
    }))

  it.live("the request body, the project query and the wait", () =>
    Effect.gen(function*() {
      const events: Array<string> = []
      const layer = consoleMock({ events })
      const requests = yield* Effect.scoped(Effect.gen(function*() {
        const instances = yield* Instances.Instances
        yield* instances.console("c1", { width: 100, height: 30 }).pipe(LxdClient.withProject("p2"))
        yield* instances.console("c2", { type: "vga" })
        const mock = yield* LxdMockTransport.MockTransport
        return yield* mock.requests
      })).pipe(Effect.provide(layer))
      const posts = requests.filter((r) => r.method === "POST")
      expect(posts.map((r) => [r.url, r.body])).toEqual([
        ["/1.0/instances/c1/console?project=p2", { type: "console", width: 100, height: 30 }],
        ["/1.0/instances/c2/console", { type: "vga" }]
      ])
    }))

  it.live("fd 0 dropped (1006) once the operation ended: the output ends normally; done completes", () =>
    Effect.gen(function*() {
      const events: Array<string> = []
      const data = (url: string) => Stream.concat(Stream.make(bytes("hello")), dropped(url))
      const layer = consoleMock({ events, data, ends: "now" })
      yield* Effect.scoped(Effect.gen(function*() {
        const c = yield* Effect.flatMap(Instances.Instances, (i) => i.console("c1"))
        const output = yield* Stream.runCollect(c.output)
        expect([...output].map((b) => Exec.decode(b))).toEqual(["hello"])
        yield* c.done
      })).pipe(Effect.provide(layer))
      // the operation was over: nothing to detach
      expect(events).toEqual(["open control", "open 0", "close 0", "close control"])
    }))

  it.live("fd 0 dropped (1006) while the operation runs: the output waits for its outcome (the daemon gone)", () =>
    Effect.gen(function*() {
      const gone = LxdMockTransport.unreachable("ECONNRESET", "socket hang up")
      const data = (url: string) => Stream.concat(Stream.make(bytes("hello")), dropped(url))
      const layer = consoleMock({ events: [], data, final: gone, ends: "now" })
      const e = yield* Effect.scoped(
        Effect.flatMap(Instances.Instances, (i) => i.console("c1")).pipe(
          Effect.flatMap((c) => Effect.flip(Stream.runDrain(c.output)))
        )
      ).pipe(Effect.provide(layer))
      expect(e._tag).toBe("ClientConnectionFailed")
    }))

  it.live("an operation that ends as Failure \"file already closed\" (5.0.2 on detach) is a normal end", () =>
    Effect.gen(function*() {
      const failed = sync(operation("k1", {
        status: "Failure",
        status_code: 400,
        err: "write /dev/pts/ptmx: file already closed"
      }))
      const layer = consoleMock({ events: [], final: failed, ends: "now" })
      yield* Effect.scoped(
        Effect.flatMap(Instances.Instances, (i) => i.console("c1")).pipe(
          Effect.flatMap((c) => c.done)
        )
      ).pipe(Effect.provide(layer))
    }))

  it.live("any other failure of the operation is done's OperationFailed", () =>
    Effect.gen(function*() {
      const failed = sync(operation("k1", { status: "Failure", status_code: 400, err: "Instance is not running" }))
      const layer = consoleMock({ events: [], final: failed, ends: "now" })
      const e = yield* Effect.scoped(
        Effect.flatMap(Instances.Instances, (i) => i.console("c1")).pipe(
          Effect.flatMap((c) => Effect.flip(c.done))
        )
      ).pipe(Effect.provide(layer))
      expect(e._tag).toBe("OperationFailed")
    }))

  it.effect("bad name, type or size: InvalidArgument before any request; vga needs console_vga_type", () =>
    Effect.gen(function*() {
      const events: Array<string> = []
      const layer = consoleMock({ events, extensions: ["console"] })
      const requests = yield* Effect.gen(function*() {
        const instances = yield* Instances.Instances
        const fail = (name: string, options?: Instances.ConsoleOptions) =>
          Effect.flip(Effect.scoped(instances.console(name, options)))
        expect((yield* fail("../x"))._tag).toBe("InvalidArgument")
        expect((yield* fail("c1/snap0"))._tag).toBe("InvalidArgument")
        expect((yield* fail("c1", { type: "serial" as "vga" }))._tag).toBe("InvalidArgument")
        expect((yield* fail("c1", { width: 0 }))._tag).toBe("InvalidArgument")
        expect((yield* fail("c1", { height: 2.5 }))._tag).toBe("InvalidArgument")
        const mock = yield* LxdMockTransport.MockTransport
        expect(yield* mock.requests).toEqual([])
        const vga = yield* fail("c1", { type: "vga" })
        expect(vga._tag === "APIExtensionNotAvailable" && vga.extension).toBe("console_vga_type")
        return yield* mock.requests
      }).pipe(Effect.provide(layer))
      expect(requests.map((r) => `${r.method} ${r.path}`)).toEqual(["GET "])
      expect(events).toEqual([])
    }))

  it.live("an answer without websocket secrets is a ProtocolError", () =>
    Effect.gen(function*() {
      const layer = consoleMock({ events: [], fds: { nothing: true } })
      const e = yield* Effect.flip(Effect.scoped(Effect.flatMap(Instances.Instances, (i) => i.console("c1"))))
        .pipe(Effect.provide(layer))
      expect(e._tag).toBe("ProtocolError")
    }))
})

describe("Instances.console against the fake", () => {
  it.live("echoes input, resizes, detaches; the operation ends and the input is in the console log", () =>
    Effect.gen(function*() {
      yield* running("k1")
      const instances = yield* Instances.Instances
      const id = yield* Effect.scoped(Effect.gen(function*() {
        const c = yield* instances.console("k1", { width: 80, height: 24 })
        yield* c.write("echo hi\n")
        yield* c.resize(100, 30)
        expect(yield* text(c.output, "echo hi\n")).toContain("echo hi\n")
        return c.operationId
      }))
      const op = yield* Effect.flatMap(Operations.Operations, (o) => o.get(id))
      expect(op.status).toBe("Success")
      const left = yield* Effect.flatMap(Operations.Operations, (o) => o.list())
      expect(left.filter((o) => o.status_code < 200)).toEqual([])
      yield* instances.stop("k1", { force: true })
      expect(yield* instances.consoleLog("k1")).toContain("echo hi\n")
    }).pipe(Effect.provide(Fake)))

  it.live("a stopped instance: BadRequest; vga on a container: BadRequest", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      yield* instances.create({ name: "k2", source: { type: "image", alias: "busybox" } })
      const stopped = yield* Effect.flip(Effect.scoped(instances.console("k2")))
      expect([stopped._tag, stopped.message]).toEqual(["BadRequest", "Instance is not running"])
      yield* instances.start("k2")
      const vga = yield* Effect.flip(Effect.scoped(instances.console("k2", { type: "vga" })))
      expect([vga._tag, vga.message]).toEqual(["BadRequest", "VGA console is only supported by virtual machines"])
      const missing = yield* Effect.flip(Effect.scoped(instances.console("nope")))
      expect(missing._tag).toBe("NotFound")
    }).pipe(Effect.provide(Fake)))
})

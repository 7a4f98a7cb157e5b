import { Exec, Instances, Lxd, LxdClient, Operations } from "@effect-lxd/core"
import { LxdFakeServer, LxdMockTransport } from "@effect-lxd/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"

const Fake = Lxd.layer.pipe(Layer.provideMerge(LxdFakeServer.layer()))

const running = (name: string) =>
  Effect.gen(function*() {
    const instances = yield* Instances.Instances
    yield* instances.create({ name, source: { type: "image", alias: "busybox" } })
    yield* instances.start(name)
  })

describe("Exec.session (websockets handed out, pylxd's raw_interactive_execute)", () => {
  it.live("hands out each fd's secret and path; connect opens one; exit has the status", () =>
    Effect.scoped(
      Effect.gen(function*() {
        yield* running("s1")
        const session = yield* Effect.flatMap(Exec.Exec, (x) => x.session("s1", ["echo", "handed-out"]))
        expect(session.interactive).toBe(true)
        expect(Object.keys(session.fds).sort()).toEqual(["0", "control"])
        for (const [, fd] of Object.entries(session.fds)) {
          expect(fd.path).toBe(`/1.0/operations/${session.operationId}/websocket?secret=${fd.secret}`)
        }
        yield* session.connect("control")
        const pty = yield* session.connect("0")
        const out = yield* pty.frames.pipe(
          Stream.filter((f): f is Uint8Array => typeof f !== "string"),
          Stream.map((f) => new TextDecoder().decode(f)),
          Stream.takeUntil((s) => s.includes("handed-out")),
          Stream.runFold("", (a, s) => a + s)
        )
        expect(out).toContain("handed-out")
        expect((yield* session.exit).exitCode).toBe(0)
      }).pipe(Effect.provide(Fake))
    ))

  it.live("not interactive: fds 0, 1, 2 and control", () =>
    Effect.scoped(
      Effect.gen(function*() {
        yield* running("s2")
        const session = yield* Effect.flatMap(Exec.Exec, (x) => x.session("s2", ["true"], { interactive: false }))
        expect(Object.keys(session.fds).sort()).toEqual(["0", "1", "2", "control"])
      }).pipe(Effect.provide(Fake))
    ))

  it.live("a session nobody connected is ended when the scope closes, not left to LXD's 5 s timeout", () =>
    Effect.gen(function*() {
      yield* running("s3")
      const id = yield* Effect.scoped(
        Effect.map(Effect.flatMap(Exec.Exec, (x) => x.session("s3", ["sleep", "600"])), (s) => s.operationId)
      )
      const op = yield* Effect.flatMap(Operations.Operations, (o) => o.get(id))
      expect(op.status_code).toBeGreaterThanOrEqual(200)
      expect(op.err).not.toMatch(/Timed out waiting for websockets/)
    }).pipe(Effect.provide(Fake), Effect.timeout("4 seconds")))

  it.effect("refuses a bad instance name and an empty command before any request", () =>
    Effect.gen(function*() {
      const requests: Array<string> = []
      const layer = Lxd.layer.pipe(
        Layer.provide(LxdMockTransport.layer({
          handle: (r) => Effect.sync(() => requests.push(r.path)).pipe(Effect.as(LxdMockTransport.sync({})))
        }))
      )
      const exec = yield* Effect.provide(Exec.Exec, layer)
      const bad = yield* Effect.flip(Effect.scoped(exec.session("../x", ["sh"])))
      expect(bad._tag).toBe("InvalidArgument")
      const empty = yield* Effect.flip(Effect.scoped(exec.session("c1", [])))
      expect(empty._tag).toBe("InvalidArgument")
      expect(requests).toEqual([])
    }))

  it.effect("an exec answer without secrets is a ProtocolError", () =>
    Effect.gen(function*() {
      const layer = Exec.layer.pipe(
        Layer.provideMerge(LxdClient.layer),
        Layer.provide(LxdMockTransport.layer({
          handle: (r) =>
            Effect.succeed(
              r.method === "POST"
                ? LxdMockTransport.async(LxdMockTransport.operation("op1", { metadata: {} }))
                : LxdMockTransport.sync(LxdMockTransport.operation("op1", { status_code: 200 }))
            )
        }))
      )
      const e = yield* Effect.flip(
        Effect.scoped(Effect.flatMap(Exec.Exec, (x) => x.session("c1", ["sh"]))).pipe(
          Effect.provide(layer)
        )
      )
      expect(e._tag).toBe("ProtocolError")
    }))
})

/**
 * Exec output after a lost connection (issue 13): an output socket dropped without a close frame (1006) ends
 * the output only once the command's outcome is known, and fails it when the daemon went away.
 */
import { Exec } from "@effect-lxd/core"
import type { Frame } from "@effect-lxd/core/LxdTransport"
import { LxdMockTransport } from "@effect-lxd/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { mockLayer } from "./helpers.js"

const { route, socket, sync, operation, unreachable, dropped } = LxdMockTransport

const fds = { "0": "s0", "1": "s1", "2": "s2", control: "sc" }
const bytes = (s: string) => new TextEncoder().encode(s)

/**
 * An exec whose stdout and stderr send some bytes and are then dropped (1006); `/wait` answers `final` after
 * `delay` (a connection failure when the daemon "died").
 */
const execLayer = (
  wait: LxdMockTransport.MockResponse,
  outputs: { readonly barrier: boolean; readonly pty?: boolean }
) =>
  mockLayer({
    routes: [
      route("POST", "/instances/c1/exec", () =>
        Effect.succeed(
          LxdMockTransport.async(operation("x1", { class: "websocket", metadata: { fds }, may_cancel: false }))
        )),
      route("GET", "/operations/x1/wait", () => Effect.as(Effect.sleep("30 millis"), wait)),
      route("GET", "/operations/x1", () => Effect.succeed(wait))
    ],
    sockets: [
      route("GET", "/operations/x1/websocket", (r) => {
        const secret = r.query.secret
        const out = (text: string): Stream.Stream<Frame, never> =>
          outputs.barrier ? Stream.make<Array<Frame>>(bytes(text), "") : Stream.make<Array<Frame>>(bytes(text))
        if (secret === "s1" || (outputs.pty === true && secret === "s0")) {
          return Effect.succeed(socket(Stream.concat(out("partial out"), dropped(r.url))))
        }
        if (secret === "s2") return Effect.succeed(socket(Stream.concat(out("partial err"), dropped(r.url))))
        // stdin and control stay open
        return Effect.succeed(socket(Stream.never))
      })
    ]
  })

const finished = sync(operation("x1", { status: "Success", status_code: 200, metadata: { return: 0 } }))
const daemonGone = unreachable("ECONNRESET", "socket hang up")

describe("Exec output after a lost connection", () => {
  it.scopedLive("start: stdout dropped (1006) and the daemon gone: stdout fails with ClientConnectionFailed", () =>
    Effect.gen(function*() {
      const exec = yield* Exec.Exec
      const p = yield* exec.start("c1", ["yes"])
      const chunks: Array<string> = []
      const error = yield* Effect.flip(
        Stream.runForEach(p.stdout, (c) => Effect.sync(() => chunks.push(Exec.decode(c))))
      )
      expect(chunks).toEqual(["partial out"])
      expect(error._tag).toBe("ClientConnectionFailed")
      expect((yield* Effect.flip(p.stderr.pipe(Stream.runDrain)))._tag).toBe("ClientConnectionFailed")
      expect((yield* Effect.flip(p.exit))._tag).toBe("ClientConnectionFailed")
    }).pipe(Effect.provide(execLayer(daemonGone, { barrier: false }))))

  it.scopedLive("start: stdout dropped (1006) after the command ended (as LXD does): the output ends normally", () =>
    Effect.gen(function*() {
      const exec = yield* Exec.Exec
      const p = yield* exec.start("c1", ["echo"])
      expect(Exec.decode(yield* Exec.collect(p.stdout))).toBe("partial out")
      expect(Exec.decode(yield* Exec.collect(p.stderr))).toBe("partial err")
      expect(yield* p.exit).toEqual({ exitCode: 0, error: undefined })
    }).pipe(Effect.provide(execLayer(finished, { barrier: false }))))

  it.live("run: the daemon gone mid-output is a ClientConnectionFailed, not a short result", () =>
    Effect.gen(function*() {
      const exec = yield* Exec.Exec
      const error = yield* Effect.flip(exec.run("c1", ["yes"]))
      expect(error._tag).toBe("ClientConnectionFailed")
    }).pipe(Effect.provide(execLayer(daemonGone, { barrier: false }))))

  it.scopedLive("pty: the terminal dropped and the daemon gone: the output fails with ClientConnectionFailed", () =>
    Effect.gen(function*() {
      const exec = yield* Exec.Exec
      const p = yield* exec.pty("c1", ["sh"])
      expect((yield* Effect.flip(Stream.runDrain(p.output)))._tag).toBe("ClientConnectionFailed")
    }).pipe(Effect.provide(execLayer(daemonGone, { barrier: false, pty: true }))))

  it.scopedLive("pty: the terminal dropped after the command ended: the output ends normally", () =>
    Effect.gen(function*() {
      const exec = yield* Exec.Exec
      const p = yield* exec.pty("c1", ["sh"])
      expect(Exec.decode(yield* Exec.collect(p.output))).toBe("partial out")
    }).pipe(Effect.provide(execLayer(finished, { barrier: false, pty: true }))))

  it.scopedLive("start: the barrier ends the output without waiting for the outcome", () =>
    Effect.gen(function*() {
      const exec = yield* Exec.Exec
      const p = yield* exec.start("c1", ["echo"])
      // the outcome is a connection failure, but the output was complete (LXD sent its barrier)
      expect(Exec.decode(yield* Exec.collect(p.stdout))).toBe("partial out")
    }).pipe(Effect.provide(execLayer(daemonGone, { barrier: true }))))
})

/**
 * The instance console (`POST /1.0/instances/{name}/console`) on a real LXD 5.0.2: the lab's busybox image has
 * no console entry in its inittab (nothing answers, but the terminal echoes input, and the console log keeps
 * it); a container given a console shell answers commands. Detaching ends the operation; nothing is left.
 */
import { Exec, Files, Instances, Lxd, Operations } from "@effect-lxd/core"
import { NodeLxdTransport } from "@effect-lxd/node"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Layer, Schedule, Stream } from "effect"
import { lab } from "./lab/lab.js"

const info = lab()
const unix = Lxd.layer.pipe(Layer.provide(NodeLxdTransport.layerUnixSocket({ socketPath: info.socket })))

/**
 * The console's output as it accumulates, read in the scope: `text()` so far, `waitFor(s)` until it holds `s`,
 * and `live` (LXD 5.0.2 relays input only once its console relay runs, ~250-300 ms after the websockets
 * connected; what is written earlier is lost): newlines until the terminal echoes one.
 */
const reader = (c: Instances.Console) =>
  Effect.gen(function*() {
    let seen = ""
    yield* Effect.forkScoped(Stream.runForEach(c.output, (chunk) => Effect.sync(() => (seen += Exec.decode(chunk)))))
    const waitFor = (s: string, limit: Duration.DurationInput = "10 seconds") =>
      Effect.suspend(() => seen.includes(s) ? Effect.succeed(seen) : Effect.fail("not yet" as const)).pipe(
        Effect.retry(Schedule.spaced("20 millis")),
        Effect.timeoutFail({
          duration: limit,
          onTimeout: () => new Error(`no ${JSON.stringify(s)} in ${JSON.stringify(seen)}`)
        })
      )
    const live = Effect.zipRight(c.write("\n"), waitFor("\n", "250 millis")).pipe(
      Effect.retry(Schedule.recurs(40)),
      Effect.timed,
      Effect.map(([elapsed]) => Math.round(Duration.toMillis(elapsed)))
    )
    return { text: () => seen, waitFor, live }
  })

/** A running container `name` (with `inittab` pushed before its start), deleted when the scope closes. */
const container = (name: string, inittab?: string) =>
  Effect.gen(function*() {
    const instances = yield* Instances.Instances
    yield* Effect.addFinalizer(() => Effect.ignore(instances.delete(name, { force: true })))
    yield* instances.create({ name, source: { type: "image", alias: info.image } })
    if (inittab !== undefined) yield* Effect.flatMap(Files.Files, (f) => f.put(name, "/etc/inittab", inittab))
    yield* instances.start(name)
    return instances
  })

/** Operations still running, tokens aside. */
const running = Effect.flatMap(Operations.Operations, (o) => o.list()).pipe(
  Effect.map((ops) => ops.filter((op) => op.status_code < 200 && op.class !== "token"))
)

describe("the console on a real daemon", () => {
  it.live(
    "the lab's busybox: nothing answers, the terminal echoes; resize; detach ends the operation",
    () =>
      Effect.scoped(Effect.gen(function*() {
        const instances = yield* container("console-echo")
        const started = Date.now()
        const attached = yield* Effect.scoped(Effect.gen(function*() {
          const c = yield* instances.console("console-echo", { width: 80, height: 24 })
          const attachMs = Date.now() - started
          const out = yield* reader(c)
          // busybox init has no console entry here: nothing is printed at attach
          yield* Effect.sleep("300 millis")
          expect(out.text()).toBe("")
          const liveMs = yield* out.live
          yield* c.resize(100, 30)
          yield* c.write("echo typed-in\n")
          const echoed = yield* out.waitFor("echo typed-in")
          return { attachMs, liveMs, echoed, id: c.operationId, closing: Date.now() }
        }))
        const { attachMs, echoed, id, liveMs } = attached
        const detachMs = Date.now() - attached.closing
        // the tty echoes input (with its own line endings); no init process answers
        expect(echoed).toContain("echo typed-in")
        const op = yield* Effect.flatMap(Operations.Operations, (o) => o.get(id))
        // ended: Success, or (5.0.2, now and then) Failure "write (or close) /dev/pts/ptmx: file already closed",
        // the detach as its console relay saw it; `done` treats both as the end
        expect(op.status === "Success" ? "" : op.err).toMatch(
          /^$|^(write|close) \/dev\/pts\/ptmx: file already closed$/
        )
        expect(yield* running).toEqual([])
        // 5.0.2 reads the console log of a stopped container only: what passed through the terminal is there
        yield* instances.stop("console-echo", { force: true })
        expect(yield* instances.consoleLog("console-echo")).toContain("echo typed-in")
        yield* Effect.log(`console: attach ${attachMs} ms, first echo ${liveMs} ms later, detach ${detachMs} ms`)
      })).pipe(Effect.provide(unix)),
    60_000
  )

  it.live("a container with a shell on /dev/console answers a command", () =>
    Effect.scoped(Effect.gen(function*() {
      // busybox init: an entry without a tty runs on the console
      const instances = yield* container(
        "console-shell",
        "::sysinit:/bin/true\n::respawn:/bin/sh\n::shutdown:/bin/poweroff -f\n"
      )
      const id = yield* Effect.scoped(Effect.gen(function*() {
        const c = yield* instances.console("console-shell")
        const out = yield* reader(c)
        yield* out.live
        yield* c.write("echo answer-$((6*7))\n")
        const text = yield* out.waitFor("answer-42")
        // the echo of the command line, then the shell's answer (the arithmetic was done in the container)
        expect(text).toContain("echo answer-$((6*7))")
        return c.operationId
      }))
      // ended (Success, or 5.0.2's Failure "file already closed", as above)
      const op = yield* Effect.flatMap(Operations.Operations, (o) => o.get(id))
      expect(op.status === "Success" ? "" : op.err).toMatch(/^$|^(write|close) \/dev\/pts\/ptmx: file already closed$/)
      expect(yield* running).toEqual([])
    })).pipe(Effect.provide(unix)), 60_000)

  it.live(
    "a stopped container: BadRequest before any websocket; vga on a container: BadRequest",
    () =>
      Effect.scoped(Effect.gen(function*() {
        const instances = yield* container("console-stopped")
        yield* instances.stop("console-stopped", { force: true })
        const stopped = yield* Effect.flip(Effect.scoped(instances.console("console-stopped")))
        expect([stopped._tag, stopped.message]).toEqual(["BadRequest", "Instance is not running"])
        yield* instances.start("console-stopped")
        const vga = yield* Effect.flip(Effect.scoped(instances.console("console-stopped", { type: "vga" })))
        expect(vga._tag).toBe("BadRequest")
        expect(vga.message).toMatch(/VGA console is only supported by virtual machines/)
        expect(yield* running).toEqual([])
      })).pipe(Effect.provide(unix)),
    60_000
  )
})

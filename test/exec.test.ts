/**
 * Exec against the real daemon: what only a real LXD can show (HTTPS, processes, PTYs, streaming volume).
 */
import { Certificates, Exec, Lxd } from "@effect-lxd/core"
import { NodeLxdTransport } from "@effect-lxd/node"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Redacted, Schedule, Stream } from "effect"
import * as fs from "node:fs"
import { lab } from "./lab/lab.js"
import { makeCertificate } from "./support/certs.js"
import { runningInstance } from "./support/running.js"

const info = lab()
const unix = Lxd.layer.pipe(Layer.provide(NodeLxdTransport.layerUnixSocket({ socketPath: info.socket })))
const keys = makeCertificate("effect-lxd-exec-https")
const https = Lxd.layer.pipe(Layer.provide(NodeLxdTransport.layerHttps({
  url: `https://${info.https}`,
  clientCertificate: keys.cert,
  clientKey: Redacted.make(keys.key),
  serverCertificate: fs.readFileSync(info.serverCert, "utf8")
})))
const NAME = "exec-real"

const instance = runningInstance(unix, NAME, info.image)

beforeAll(async () => {
  await instance.launch()
  await Effect.runPromise(
    Effect.flatMap(Certificates.Certificates, (c) => c.authenticate({ password: info.trustPassword })).pipe(
      Effect.provide(https)
    )
  )
}, 60_000)

afterAll(async () => {
  await instance.remove()
}, 60_000)

const processes = Effect.flatMap(Exec.Exec, (x) => x.runText(NAME, ["ps", "-o", "args"])).pipe(
  Effect.map((r) => r.stdout)
)

describe("exec on a real daemon", () => {
  it.live("exec over HTTPS works as over the socket", () =>
    Effect.gen(function*() {
      const x = yield* Exec.Exec
      const r = yield* x.runText(NAME, ["sh", "-c", "echo out; echo err >&2; exit 5"])
      expect(r).toEqual({ exitCode: 5, error: undefined, stdout: "out\n", stderr: "err\n" })
      expect((yield* x.runText(NAME, ["cat"], { stdin: "over tls" })).stdout).toBe("over tls")
    }).pipe(Effect.provide(https)))

  it.live(
    "lend: the handlers get every byte in order, from reused buffers, over the socket and over HTTPS",
    () =>
      Effect.gen(function*() {
        // 1.4 MiB of numbered lines on stdout, a few lines on stderr
        const script = "i=0; while [ $i -lt 150000 ]; do echo \"line $i\"; i=$((i+1)); done; echo e1 >&2; echo e2 >&2"
        let expected = ""
        for (let i = 0; i < 150000; i++) expected += `line ${i}\n`
        for (const layer of [unix, https]) {
          const out: Array<Buffer> = []
          const err: Array<Buffer> = []
          const buffers = new Set<ArrayBufferLike>()
          const r = yield* Effect.flatMap(Exec.Exec, (x) =>
            x.run(NAME, ["sh", "-c", script], {
              lend: true,
              // a lent view is valid until the handler's effect ends: copy it, after a pause
              onStdout: (chunk) =>
                Effect.zipRight(
                  Effect.sleep("1 millis"),
                  Effect.sync(() => {
                    buffers.add(chunk.buffer)
                    out.push(Buffer.from(chunk))
                  })
                ),
              onStderr: (chunk) => Effect.sync(() => err.push(Buffer.from(chunk)))
            })).pipe(Effect.provide(layer))
          expect(r.exitCode).toBe(0)
          expect(r.stdout.length).toBe(0)
          expect(Buffer.concat(out).toString()).toBe(expected)
          expect(Buffer.concat(err).toString()).toBe("e1\ne2\n")
          // over the socket, the chunks are views into the connection's two buffers (and the few first reads,
          // copied before the first pull); `ws` over HTTPS hands over a buffer per message
          if (layer === unix) expect(buffers.size).toBeLessThan(out.length / 4)
        }
      }),
    120_000
  )

  it.live("interrupting a long exec leaves no process in the container", () =>
    Effect.gen(function*() {
      const x = yield* Exec.Exec
      const fiber = yield* Effect.fork(x.run(NAME, ["sleep", "1234"]))
      // wait until it runs
      yield* processes.pipe(
        Effect.filterOrFail((ps) => ps.includes("sleep 1234")),
        Effect.retry({ times: 50 }),
        Effect.tapError(() => Effect.sleep("50 millis"))
      )
      yield* Fiber.interrupt(fiber)
      expect(yield* processes).not.toContain("sleep 1234")
    }).pipe(Effect.provide(unix)))

  it.live("user, group, cwd and environment reach the command", () =>
    Effect.gen(function*() {
      const x = yield* Exec.Exec
      const r = yield* x.runText(NAME, ["sh", "-c", "id -u; id -g; pwd; echo $GREETING"], {
        user: 1000,
        group: 1000,
        cwd: "/tmp",
        environment: { GREETING: "hi" }
      })
      expect(r.stdout).toBe("1000\n1000\n/tmp\nhi\n")
    }).pipe(Effect.provide(unix)))

  it.live(
    "streaming: stdout is consumed while the command runs, and a slow reader holds the command back",
    () =>
      Effect.scoped(Effect.gen(function*() {
        const x = yield* Exec.Exec
        const p = yield* x.start(NAME, ["sh", "-c", "head -c 67108864 /dev/zero; echo done >&2"])
        const exit = yield* Effect.fork(p.exit)
        const stderr = yield* Effect.fork(Exec.collect(p.stderr))
        let bytes = 0
        let exitedWhileSlow = false
        // one pass over stdout (each stream is consumed once): slow for the first 2 MiB, then full speed
        yield* p.stdout.pipe(
          Stream.mapEffect((chunk) =>
            Effect.gen(function*() {
              bytes += chunk.length
              if (bytes < 2 * 1024 * 1024) {
                yield* Effect.sleep("20 millis")
                if (exit.unsafePoll() !== null) exitedWhileSlow = true
              }
            })
          ),
          Stream.runDrain
        )
        expect(bytes).toBe(64 * 1024 * 1024)
        // 64 MiB cannot have been written while we read 2 MiB slowly: the command waited for us
        expect(exitedWhileSlow).toBe(false)
        expect(Exec.decode(yield* stderr.await.pipe(Effect.flatten))).toBe("done\n")
        expect((yield* exit.await.pipe(Effect.flatten)).exitCode).toBe(0)
      })).pipe(Effect.provide(unix)),
    60_000
  )

  it.live("a PTY: output, window resize, and the exit status", () =>
    Effect.scoped(Effect.gen(function*() {
      const x = yield* Exec.Exec
      const pty = yield* x.pty(NAME, ["sh"], { width: 100, height: 30, environment: { TERM: "xterm" } })
      let output = ""
      const decoder = new TextDecoder()
      const reader = yield* Effect.fork(
        Stream.runForEach(pty.output, (c) => Effect.sync(() => output += decoder.decode(c)))
      )
      const waitFor = (text: string) =>
        Effect.sync(() => output.includes(text)).pipe(
          // poll, not spin: a busy loop starves the reads that fill `output` (seconds under load)
          Effect.repeat({ until: (found) => found, schedule: Schedule.spaced("10 millis") }),
          Effect.timeout("10 seconds")
        )
      yield* pty.write("stty size\n")
      yield* waitFor("30 100")
      yield* pty.resize(120, 40)
      yield* pty.write("stty size\n")
      yield* waitFor("40 120")
      yield* pty.write("exit 7\n")
      const exit = yield* pty.exit.pipe(Effect.timeout("10 seconds"))
      expect(exit.exitCode).toBe(7)
      yield* reader.await
    })).pipe(Effect.provide(unix)), 30_000)
})

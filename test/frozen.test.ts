/**
 * A frozen daemon (SIGSTOP) against the transports' bounds: every call in flight fails with
 * `ClientConnectionFailed` of kind `"timeout"` within its bound, over the unix socket and over HTTPS; after
 * SIGCONT a fresh call works. A long-poll is not idle, and LXD answers the keep-alive pings.
 */
import { Certificates, Events, Exec, Lxd, LxdClient } from "@effect-lxd/core"
import type { ClientConnectionFailed } from "@effect-lxd/core/LxdError"
import { NodeLxdTransport } from "@effect-lxd/node"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Either, Fiber, Layer, Redacted, Stream } from "effect"
import * as fs from "node:fs"
import { lab } from "./lab/lab.js"
import { makeCertificate } from "./support/certs.js"
import { runningInstance } from "./support/running.js"

const info = lab()
const NAME = "frozen-transport"

/** Short bounds, so the test is quick: a silent websocket is seen after 3 ping intervals. */
const bounds = {
  connectTimeout: Duration.seconds(1),
  responseTimeout: Duration.seconds(1),
  pingInterval: Duration.millis(250),
  maxMissedPongs: 2
} as const
const RESPONSE_MS = 1000
const PING_MS = 250 * 3
/** Timers, the event loop and a loaded machine. */
const SLACK_MS = 1500

const keys = makeCertificate("effect-lxd-frozen-transport")
const transports = {
  unix: NodeLxdTransport.layerUnixSocket({ socketPath: info.socket, ...bounds }),
  https: NodeLxdTransport.layerHttps({
    url: `https://${info.https}`,
    clientCertificate: keys.cert,
    clientKey: Redacted.make(keys.key),
    serverCertificate: fs.readFileSync(info.serverCert, "utf8"),
    ...bounds
  })
}
const layers = {
  unix: Lxd.layer.pipe(Layer.provide(transports.unix)),
  https: Lxd.layer.pipe(Layer.provide(transports.https))
}

const instance = runningInstance(layers.unix, NAME, info.image)

beforeAll(async () => {
  await instance.launch()
  await Effect.runPromise(
    Effect.flatMap(Certificates.Certificates, (c) => c.authenticate({ password: info.trustPassword })).pipe(
      Effect.provide(layers.https)
    )
  )
}, 60_000)

afterAll(async () => {
  process.kill(info.pid, "SIGCONT")
  await instance.remove()
}, 60_000)

/** Runs `effect` with the daemon stopped from `after` on; always continued at the end. Returns ms since the stop. */
const frozen = <A, E, R>(effect: Effect.Effect<A, E, R>, options: { readonly after?: Duration.DurationInput } = {}) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(Effect.either(effect))
    yield* Effect.sleep(options.after ?? 0)
    // the call is still under way when the daemon stops (it did not fail on its own before)
    expect(fiber.unsafePoll()).toBe(null)
    const stoppedAt = Date.now()
    const result = yield* Effect.acquireUseRelease(
      Effect.sync(() => process.kill(info.pid, "SIGSTOP")),
      () => Fiber.join(fiber),
      () => Effect.sync(() => process.kill(info.pid, "SIGCONT"))
    )
    return { result, ms: Date.now() - stoppedAt }
  })

const expectTimeout = (result: Either.Either<unknown, unknown>, ms: number, boundMs: number) => {
  expect(Either.isLeft(result)).toBe(true)
  const error = (result as Either.Left<ClientConnectionFailed, unknown>).left
  expect(error._tag).toBe("ClientConnectionFailed")
  expect(error.kind).toBe("timeout")
  expect(ms).toBeLessThan(boundMs + SLACK_MS)
}

/** After SIGCONT a fresh call works. */
const freshCall = Effect.gen(function*() {
  const client = yield* LxdClient.LxdClient
  const response = yield* client.request({ method: "GET", path: "/instances" })
  expect(Array.isArray(response.metadata)).toBe(true)
})

/** A long-running exec's operation, for the long-polls. */
const sleeper = Effect.gen(function*() {
  const client = yield* LxdClient.LxdClient
  return yield* client.operation({
    method: "POST",
    path: `/instances/${NAME}/exec`,
    body: { command: ["sleep", "8"], "wait-for-websocket": false, interactive: false, "record-output": false }
  })
})

for (const [name, layer] of Object.entries(layers)) {
  describe(`a frozen daemon over ${name === "unix" ? "the unix socket" : "HTTPS"}`, () => {
    it.live("mid-request: a request in flight fails with the typed timeout within responseTimeout", () =>
      Effect.gen(function*() {
        const client = yield* LxdClient.LxdClient
        const { ms, result } = yield* frozen(
          Effect.forever(client.request({ method: "GET", path: "/instances", query: { recursion: "1" } })),
          { after: "300 millis" }
        )
        expectTimeout(result, ms, RESPONSE_MS)
        yield* freshCall
      }).pipe(Effect.provide(layer)))

    it.live("a long-poll is not idle: a 3 s wait outlives a 1 s responseTimeout; frozen, it fails within 3 s + 1 s", () =>
      Effect.scoped(Effect.gen(function*() {
        const client = yield* LxdClient.LxdClient
        const op = yield* sleeper
        const path = `/operations/${op.id}/wait`
        const started = Date.now()
        const polled = yield* client.request({ method: "GET", path, query: { timeout: "2" } })
        expect(Date.now() - started).toBeGreaterThanOrEqual(1900)
        expect((polled.metadata as { status?: string }).status).toBe("Running")
        const { ms, result } = yield* frozen(
          client.request({ method: "GET", path, query: { timeout: "3" } }),
          { after: "200 millis" }
        )
        expectTimeout(result, ms, 3000 + RESPONSE_MS)
        yield* freshCall
      })).pipe(Effect.provide(layer)))

    it.live("mid-event-stream: a silent stream lives on pings; frozen, it fails within 3 ping intervals", () =>
      Effect.scoped(Effect.gen(function*() {
        const events = yield* Events.Events
        // no event is caused: only the pongs keep it open for 2 s (8 intervals)
        const stream = yield* events.subscribe({ types: ["lifecycle"] })
        const fiber = yield* Effect.fork(Effect.either(Stream.runDrain(stream)))
        yield* Effect.sleep("2 seconds")
        expect(fiber.unsafePoll()).toBe(null)
        const { ms, result } = yield* frozen(Effect.flatten(Fiber.join(fiber)))
        expectTimeout(result, ms, PING_MS)
        yield* freshCall
      })).pipe(Effect.provide(layer)))

    it.live("mid-exec: a running command's output and exit fail with the typed timeout", () =>
      Effect.gen(function*() {
        const exec = yield* Exec.Exec
        // output first, then 2 s of silence (8 ping intervals: the exec sockets answer pings), then the stop
        const { ms, result } = yield* frozen(
          exec.runText(NAME, ["sh", "-c", "echo started; sleep 20"]),
          { after: "2 seconds" }
        )
        expectTimeout(result, ms, PING_MS)
        yield* freshCall
      }).pipe(Effect.provide(layer)))
  })
}

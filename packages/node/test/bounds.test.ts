/**
 * The transports' bounds against servers that stop answering, on unix sockets of our own: a request, a
 * websocket without pongs, a download and an upload fail with `ClientConnectionFailed` of kind `"timeout"`; a
 * long-poll is given its wait; a burst never holds more connections than `maxConnections`; an unusable HTTPS
 * configuration fails the layer with `InvalidArgument`.
 */
import { LxdClient, Server } from "@effect-lxd/core"
import type { ClientConnectionFailed } from "@effect-lxd/core/LxdError"
import { LxdTransport } from "@effect-lxd/core/LxdTransport"
import { NodeLxdTransport } from "@effect-lxd/node"
import type { HttpClient } from "@effect/platform"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Cause, ConfigProvider, Duration, Effect, Exit, Layer, Option, Redacted, Stream } from "effect"
import * as fs from "node:fs"
import * as http from "node:http"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { WebSocketServer } from "ws"
import { makeCertificate } from "../../../test/support/certs.js"

/** The folders this file made for its sockets, removed when it ends. */
const socketDirs: Array<string> = []
afterAll(() => {
  for (const dir of socketDirs) fs.rmSync(dir, { recursive: true, force: true })
})
const socketIn = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-lxd-bounds-"))
  socketDirs.push(dir)
  return path.join(dir, "unix.socket")
}

/** An HTTP server on a unix socket for the test's scope; `handle` may never answer. */
const server = (handle: http.RequestListener, setup: (s: http.Server) => void = () => {}) =>
  Effect.acquireRelease(
    Effect.async<{ socketPath: string; server: http.Server }>((resume) => {
      const socketPath = socketIn()
      const s = http.createServer(handle)
      setup(s)
      s.listen(socketPath, () => resume(Effect.succeed({ socketPath, server: s })))
    }),
    ({ server: s, socketPath }) =>
      Effect.async<void>((resume) => {
        s.closeAllConnections()
        s.close(() => {
          fs.rmSync(path.dirname(socketPath), { recursive: true, force: true })
          resume(Effect.void)
        })
      })
  )

const envelope = (metadata: unknown) => JSON.stringify({ type: "sync", status: "Success", status_code: 200, metadata })

const bounds = {
  connectTimeout: Duration.millis(500),
  responseTimeout: Duration.millis(300),
  pingInterval: Duration.millis(100),
  maxMissedPongs: 2
} as const

const client = (socketPath: string, options: NodeLxdTransport.UnixSocketOptions = {}) =>
  LxdClient.layer.pipe(Layer.provideMerge(NodeLxdTransport.layerUnixSocket({ socketPath, ...bounds, ...options })))

const expectTimeout = (exit: Exit.Exit<unknown, unknown>) => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  const failure = Option.getOrThrow(Cause.failureOption(exit.cause)) as ClientConnectionFailed
  expect(failure._tag).toBe("ClientConnectionFailed")
  expect(failure.kind).toBe("timeout")
  return failure
}

const elapsed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const started = Date.now()
    const exit = yield* Effect.exit(effect)
    return { exit, ms: Date.now() - started }
  })

describe("bounded waits", () => {
  it.live("a request the server never answers fails with kind timeout after responseTimeout (lean and HttpClient paths)", () =>
    Effect.scoped(Effect.gen(function*() {
      const { socketPath } = yield* server(() => {})
      const wrapped = { transformClient: (c: HttpClient.HttpClient) => c }
      for (const options of [{}, wrapped]) {
        const { exit, ms } = yield* elapsed(
          Effect.flatMap(LxdClient.LxdClient, (c) => c.request({ method: "GET", path: "/instances" })).pipe(
            Effect.provide(client(socketPath, options))
          )
        )
        const error = expectTimeout(exit)
        expect(error.message).toContain("GET /1.0/instances")
        expect(ms).toBeGreaterThanOrEqual(250)
        // undici's coarse clock, and a loaded machine
        expect(ms).toBeLessThan(4000)
      }
    })))

  it.live("an operation long-poll is held for its wait: ?timeout=2 outlives a 300 ms responseTimeout", () =>
    Effect.scoped(Effect.gen(function*() {
      const { socketPath } = yield* server((req, res) => {
        // undici's timers tick coarsely (a 300 ms bound fires within ~1 s): the delays leave room
        setTimeout(() => res.end(envelope({ status: "Running" })), 1500)
      })
      const layer = client(socketPath)
      const { exit, ms } = yield* elapsed(
        Effect.flatMap(
          LxdClient.LxdClient,
          (c) => c.request({ method: "GET", path: "/operations/x/wait", query: { timeout: "2" } })
        ).pipe(Effect.provide(layer))
      )
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(ms).toBeGreaterThanOrEqual(1450)
      // the same delay on another path is beyond the bound
      expectTimeout(
        yield* Effect.exit(
          Effect.flatMap(LxdClient.LxdClient, (c) => c.request({ method: "GET", path: "/operations/x" })).pipe(
            Effect.provide(layer)
          )
        )
      )
    })))

  it.live("a websocket whose peer stops answering pings fails with kind timeout; one that answers stays open", () =>
    Effect.scoped(Effect.gen(function*() {
      for (const autoPong of [true, false]) {
        const { server: s, socketPath } = yield* server(() => {})
        const wss = new WebSocketServer({ server: s, autoPong })
        yield* Effect.addFinalizer(() => Effect.sync(() => wss.close()))
        const { exit, ms } = yield* elapsed(
          Effect.scoped(
            Effect.flatMap(LxdTransport, (t) => t.websocket("/1.0/events")).pipe(
              Effect.flatMap((ws) => Stream.runDrain(ws.frames)),
              Effect.timeout("1500 millis")
            )
          ).pipe(Effect.provide(client(socketPath)))
        )
        if (autoPong) {
          // still open when the test's own bound passed
          expect(exit._tag).toBe("Failure")
          expect(JSON.stringify(exit)).toContain("TimeoutException")
        } else {
          const error = expectTimeout(exit)
          expect(error.reason).toContain("pings unanswered")
          expect(ms).toBeLessThan(1000)
        }
      }
    })))

  it.live("a websocket upgrade the server never answers fails with kind timeout", () =>
    Effect.scoped(Effect.gen(function*() {
      // an upgraded socket is the listener's: the server's close does not end it
      const held: Array<{ readonly destroy: () => void }> = []
      const { socketPath } = yield* server(() => {}, (s) => s.on("upgrade", (_req, socket) => held.push(socket)))
      // (finalizers run last first: these sockets go before the server closes)
      yield* Effect.addFinalizer(() => Effect.sync(() => held.forEach((socket) => socket.destroy())))
      const { exit, ms } = yield* elapsed(
        Effect.scoped(Effect.flatMap(LxdTransport, (t) => t.websocket("/1.0/events"))).pipe(
          Effect.provide(client(socketPath))
        )
      )
      expect(expectTimeout(exit).reason).toContain("no answer within")
      expect(ms).toBeLessThan(1500)
    })))

  it.live("a download and an upload to a silent server fail with kind timeout", () =>
    Effect.scoped(Effect.gen(function*() {
      // takes the connection, never answers
      const socketPath = socketIn()
      const silent = net.createServer(() => {})
      yield* Effect.acquireRelease(
        Effect.async<void>((resume) => void silent.listen(socketPath, () => resume(Effect.void))),
        () => Effect.sync(() => silent.close())
      )
      const transport = yield* Effect.provide(LxdTransport, client(socketPath))
      const download = yield* Effect.exit(
        transport.download!("/1.0/instances/a/files?path=/x", () => true, () => Effect.void)
      )
      expectTimeout(download)
      const upload = yield* Effect.exit(transport.upload!(
        { method: "POST", path: "/1.0/instances/a/files", query: "?path=/x", headers: {}, body: undefined, length: 4 },
        (buffer) => Effect.sync(() => (buffer.set([1, 2, 3, 4]), 4))
      ))
      expectTimeout(upload)
    })))
})

describe("bounded sockets", () => {
  it.live("a burst of 200 requests never holds more connections than maxConnections, and all succeed", () =>
    Effect.scoped(Effect.gen(function*() {
      let open = 0
      let peak = 0
      const { socketPath } = yield* server(
        (_req, res) => void setTimeout(() => res.end(envelope([])), 5),
        (s) =>
          s.on("connection", (socket) => {
            peak = Math.max(peak, ++open)
            socket.on("close", () => open--)
          })
      )
      for (const [max, atMost] of [[8, 8], [Infinity, 200]] as const) {
        peak = 0
        const exits = yield* Effect.flatMap(LxdClient.LxdClient, (c) =>
          Effect.forEach(
            Array.from({ length: 200 }),
            () => Effect.exit(c.request({ method: "GET", path: "/instances" })),
            { concurrency: "unbounded" }
          )).pipe(Effect.provide(client(socketPath, { maxConnections: max, responseTimeout: Duration.seconds(10) })))
        expect(exits.every(Exit.isSuccess)).toBe(true)
        expect(peak).toBeLessThanOrEqual(atMost)
        // the cap is what holds it: without one, the burst opens many more
        if (max === Infinity) expect(peak).toBeGreaterThan(8)
      }
    })))
})

describe("idle sockets", () => {
  it.live("a connection unused for idleSocketTimeout is closed", () =>
    Effect.scoped(Effect.gen(function*() {
      let open = 0
      const { socketPath } = yield* server(
        (_req, res) => res.end(envelope([])),
        (s) =>
          s.on("connection", (socket) => {
            open++
            socket.on("close", () => open--)
          })
      )
      yield* Effect.flatMap(LxdClient.LxdClient, (c) =>
        Effect.gen(function*() {
          yield* Effect.forEach(Array.from({ length: 20 }), () => c.request({ method: "GET", path: "" }), {
            concurrency: "unbounded"
          })
          expect(open).toBeGreaterThan(1)
          // undici checks on a coarse clock: within ~1 s of the bound
          yield* Effect.sleep("1800 millis")
          expect(open).toBe(0)
        })).pipe(Effect.provide(client(socketPath, { idleSocketTimeout: Duration.millis(200) })))
    })))
})

describe("layerHttps: an unusable configuration fails the layer with InvalidArgument", () => {
  const keys = makeCertificate("effect-lxd-bounds")
  const other = makeCertificate("effect-lxd-bounds-other")
  const build = (options: NodeLxdTransport.HttpsOptions) =>
    Effect.flip(Effect.scoped(Layer.build(NodeLxdTransport.layerHttps(options))))
  it.effect("a serverCertificate that is not PEM, a garbage key, a key of another certificate, a bad URL", () =>
    Effect.gen(function*() {
      const url = "https://127.0.0.1:1"
      const server = yield* build({ url, serverCertificate: "not a certificate at all" })
      expect(server._tag).toBe("InvalidArgument")
      expect(server.argument).toBe("serverCertificate")
      expect(server.message).toContain("is not a PEM certificate")

      const key = yield* build({ url, clientCertificate: keys.cert, clientKey: Redacted.make("-----BEGIN garbage") })
      expect(key.argument).toBe("clientKey")
      expect(key.message).not.toContain("garbage")

      const mismatch = yield* build({ url, clientCertificate: keys.cert, clientKey: Redacted.make(other.key) })
      expect(mismatch.argument).toBe("clientKey")
      expect(mismatch.message).toContain("does not go with clientCertificate")
      expect(mismatch.message).not.toContain(other.key.split("\n")[1]!)

      expect((yield* build({ url: "not a url" })).argument).toBe("url")
    }))

  it.effect("layerConfig too: LXD_SERVER_CERT that is not a certificate is InvalidArgument (bounds read alongside)", () =>
    Effect.gen(function*() {
      const provider = ConfigProvider.fromMap(
        new Map([
          ["LXD_URL", "https://127.0.0.1:1"],
          ["LXD_SERVER_CERT", "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----"],
          ["LXD_CONNECT_TIMEOUT", "2 seconds"],
          ["LXD_MAX_CONNECTIONS", "8"]
        ])
      )
      const error = yield* Effect.flip(Effect.scoped(Layer.build(NodeLxdTransport.layerConfig))).pipe(
        Effect.withConfigProvider(provider)
      )
      expect(error._tag).toBe("InvalidArgument")
      expect(error.argument).toBe("serverCertificate")
    }))

  it.effect("layerConfig: a PEM variable naming a missing file is InvalidArgument naming the variable", () =>
    Effect.gen(function*() {
      const provider = ConfigProvider.fromMap(
        new Map([["LXD_URL", "https://127.0.0.1:1"], ["LXD_CLIENT_CERT", "/nonexistent/effect-lxd/client.crt"]])
      )
      const error = yield* Effect.flip(Effect.scoped(Layer.build(NodeLxdTransport.layerConfig))).pipe(
        Effect.withConfigProvider(provider)
      )
      expect(error._tag).toBe("InvalidArgument")
      expect(error.argument).toBe("LXD_CLIENT_CERT")
      expect(error.reason).toContain("ENOENT")
    }))

  it.effect("the error reaches a program using the layer as a typed failure, not a defect", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(
        Effect.flatMap(Server.Server, (s) => s.info).pipe(
          Effect.provide(Server.layer.pipe(
            Layer.provide(LxdClient.layer),
            Layer.provide(NodeLxdTransport.layerHttps({ url: "https://127.0.0.1:1", serverCertificate: "x" }))
          ))
        )
      )
      expect(Exit.isFailure(exit) && exit.cause._tag).toBe("Fail")
    }))
})

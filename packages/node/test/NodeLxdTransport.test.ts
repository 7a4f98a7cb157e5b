import { LxdClient, Server } from "@effect-lxd/core"
import { LxdTransport } from "@effect-lxd/core/LxdTransport"
import { NodeLxdTransport } from "@effect-lxd/node"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Layer, Stream } from "effect"
import * as fs from "node:fs"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { WebSocketServer } from "ws"

describe("resolveSocketPath: LXD's discovery order", () => {
  const none = () => false
  it("LXD_SOCKET first", () => {
    expect(NodeLxdTransport.resolveSocketPath({ LXD_SOCKET: "/a.sock", LXD_DIR: "/d" }, none)).toBe("/a.sock")
  })
  it("then $LXD_DIR/unix.socket", () => {
    expect(NodeLxdTransport.resolveSocketPath({ LXD_DIR: "/d" }, () => true)).toBe("/d/unix.socket")
  })
  it("then the snap socket if it exists", () => {
    expect(NodeLxdTransport.resolveSocketPath({}, (p) => p.startsWith("/var/snap"))).toBe(
      "/var/snap/lxd/common/lxd/unix.socket"
    )
  })
  it("then /var/lib/lxd/unix.socket", () => {
    expect(NodeLxdTransport.resolveSocketPath({}, none)).toBe("/var/lib/lxd/unix.socket")
  })
})

/** A tiny LXD stand-in on a unix socket: HTTP answers and a websocket endpoint. */
const fakeDaemon = (onUpgrade: (ws: import("ws").WebSocket, url: string) => void) =>
  Effect.acquireRelease(
    Effect.async<
      { socketPath: string; requests: Array<http.IncomingMessage>; server: http.Server; wss: WebSocketServer }
    >(
      (resume) => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-lxd-node-"))
        const socketPath = path.join(dir, "unix.socket")
        const requests: Array<http.IncomingMessage> = []
        const server = http.createServer((req, res) => {
          requests.push(req)
          res.writeHead(200, { "content-type": "application/json", etag: "\"e1\"" })
          res.end(JSON.stringify({
            type: "sync",
            status: "Success",
            status_code: 200,
            metadata: { auth: "trusted", api_extensions: ["etag"], api_version: "1.0" }
          }))
        })
        const wss = new WebSocketServer({ server })
        wss.on("connection", (ws, req) => {
          requests.push(req)
          onUpgrade(ws, req.url ?? "")
        })
        server.listen(socketPath, () => resume(Effect.succeed({ socketPath, requests, server, wss })))
      }
    ),
    ({ server, socketPath, wss }) =>
      Effect.async<void>((resume) => {
        for (const c of wss.clients) c.terminate()
        server.closeAllConnections()
        server.close(() => {
          fs.rmSync(path.dirname(socketPath), { recursive: true, force: true })
          resume(Effect.void)
        })
      })
  )

describe("layerUnixSocket", () => {
  it.live("requests go to /1.0 over the socket, with JSON accept and no Origin on websockets", () =>
    Effect.scoped(Effect.gen(function*() {
      const daemon = yield* fakeDaemon((ws) => ws.close(1000))
      const layer = LxdClient.layer.pipe(
        Layer.provideMerge(NodeLxdTransport.layerUnixSocket({ socketPath: daemon.socketPath }))
      )
      yield* Effect.gen(function*() {
        const client = yield* LxdClient.LxdClient
        const info = yield* client.server
        expect(info.auth).toBe("trusted")
        const transport = yield* LxdTransport
        expect(transport.endpoint).toBe(`unix:${daemon.socketPath}`)
        yield* Effect.scoped(
          Effect.flatMap(client.websocket("/events", { type: "lifecycle" }), (ws) => Stream.runDrain(ws.frames))
        )
      }).pipe(Effect.provide(layer))
      expect(daemon.requests[0]!.url).toBe("/1.0")
      expect(daemon.requests[0]!.headers.accept).toBe("application/json")
      const upgrade = daemon.requests.find((r) => r.url?.startsWith("/1.0/events"))!
      expect(upgrade.url).toBe("/1.0/events?type=lifecycle")
      expect(upgrade.headers.origin).toBeUndefined()
    })))

  it.live("a slow websocket consumer pauses the socket: the sender cannot flush more than a bounded amount", () =>
    Effect.scoped(Effect.gen(function*() {
      const frame = Buffer.alloc(64 * 1024, 7)
      let flushed = 0
      const daemon = yield* fakeDaemon((ws) => {
        // offer 64 MiB; count the frames the kernel actually took (send callbacks)
        let sent = 0
        const pump = () => {
          while (sent < 1024 && ws.bufferedAmount < 4 * 1024 * 1024) {
            ws.send(frame, () => flushed++)
            sent++
          }
          if (sent < 1024) setTimeout(pump, 2)
        }
        pump()
      })
      const layer = LxdClient.layer.pipe(
        Layer.provide(NodeLxdTransport.layerUnixSocket({ socketPath: daemon.socketPath }))
      )
      const received = yield* Effect.gen(function*() {
        const client = yield* LxdClient.LxdClient
        const ws = yield* client.websocket("/operations/x/websocket", { secret: "s" })
        // a slow reader: 8 frames, 100 ms apart
        const head = yield* ws.frames.pipe(
          Stream.take(8),
          Stream.tap(() => Effect.sleep("100 millis")),
          Stream.runCollect
        )
        return Chunk.size(head)
      }).pipe(Effect.provide(layer))
      expect(received).toBe(8)
      // without the pause the client would have swallowed all 64 MiB in that time; with it, the transfer stalls
      // at the high-water mark plus the kernel's socket buffers
      expect(flushed * 64).toBeLessThan(16 * 1024)
    })))
})

describe("layerHttps", () => {
  it.live("connection failures name the endpoint and the reason", () =>
    Effect.gen(function*() {
      const server = yield* Server.Server
      const e = yield* Effect.flip(server.info)
      expect(e._tag).toBe("ClientConnectionFailed")
      expect(e.message).toContain("https://127.0.0.1:1")
      expect(e.message).toContain("ECONNREFUSED")
    }).pipe(Effect.provide(
      Server.layer.pipe(
        Layer.provide(LxdClient.layer),
        Layer.provide(NodeLxdTransport.layerHttps({ url: "https://127.0.0.1:1", insecureSkipVerify: true }))
      )
    )))
})

/**
 * The unix socket's own websocket client (`internal/socketWebSocket.ts`), against `ws`'s server and against a
 * raw socket that sends frames byte by byte or broken.
 */
import { LxdTransport } from "@effect-lxd/core/LxdTransport"
import { NodeLxdTransport } from "@effect-lxd/node"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { type Chunk, Effect, Either, Option } from "effect"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as http from "node:http"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { type WebSocket, WebSocketServer } from "ws"

/** The folders this file made for its sockets, removed when it ends. */
const socketDirs: Array<string> = []
afterAll(() => {
  for (const dir of socketDirs) fs.rmSync(dir, { recursive: true, force: true })
})
const tempSocket = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-lxd-ws-"))
  socketDirs.push(dir)
  return path.join(dir, "unix.socket")
}

/** `ws`'s server on a unix socket; `onConnection` gets each upgraded socket. */
const wsServer = (onConnection: (ws: WebSocket) => void) =>
  Effect.acquireRelease(
    Effect.async<{ socketPath: string }>((resume) => {
      const socketPath = tempSocket()
      const server = http.createServer((_req, res) => {
        res.writeHead(404, { "content-type": "application/json" })
        res.end(JSON.stringify({ type: "error", error: "not found", error_code: 404 }))
      })
      const wss = new WebSocketServer({ server })
      wss.on("connection", onConnection)
      server.listen(socketPath, () => resume(Effect.succeed({ socketPath, server, wss })))
    }),
    (s) =>
      Effect.async<void>((resume) => {
        const { server, wss } = s as unknown as { server: http.Server; wss: WebSocketServer }
        for (const c of wss.clients) c.terminate()
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )

/** A raw server: answers the upgrade properly, then writes `frames` as `write` decides. */
const rawServer = (frames: Buffer, write: (socket: net.Socket, frames: Buffer) => void) =>
  Effect.acquireRelease(
    Effect.async<{ socketPath: string; server: net.Server }>((resume) => {
      const socketPath = tempSocket()
      const server = net.createServer((socket) => {
        let head = ""
        socket.on("data", (data) => {
          if (head.includes("\r\n\r\n")) return
          head += data.toString("latin1")
          if (!head.includes("\r\n\r\n")) return
          const key = /sec-websocket-key: (.*)\r\n/i.exec(head)![1]!
          const accept = createHash("sha1").update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64")
          socket.write(
            `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
              `Sec-WebSocket-Accept: ${accept}\r\n\r\n`
          )
          write(socket, frames)
        })
      })
      server.listen(socketPath, () => resume(Effect.succeed({ socketPath, server })))
    }),
    ({ server }) => Effect.sync(() => server.close())
  )

/** A server frame (unmasked). */
const frame = (opcode: number, payload: Buffer, fin = true) => {
  const length = payload.length
  const head = length < 126
    ? Buffer.from([(fin ? 0x80 : 0) | opcode, length])
    : length < 65536
    ? Buffer.from([(fin ? 0x80 : 0) | opcode, 126, length >> 8, length & 0xff])
    : Buffer.concat([Buffer.from([(fin ? 0x80 : 0) | opcode, 127]), Buffer.alloc(8)])
  if (length >= 65536) head.writeBigUInt64BE(BigInt(length), 2)
  return Buffer.concat([head, payload])
}
const close = (code: number) => {
  const payload = Buffer.alloc(2)
  payload.writeUInt16BE(code)
  return frame(8, payload)
}

const transport = (socketPath: string) => Effect.provide(LxdTransport, NodeLxdTransport.layerUnixSocket({ socketPath }))

/** Pulls until the end; copies every binary frame at its pull (lent views are valid only until the next). */
const drain = (read: Effect.Effect<Chunk.Chunk<Uint8Array | string>, Option.Option<unknown>>) =>
  Effect.gen(function*() {
    const out: Array<Buffer | string> = []
    const buffers = new Set<ArrayBufferLike>()
    for (let pull = 0;; pull++) {
      const next = yield* Effect.either(read)
      if (Either.isLeft(next)) return { out, buffers, error: next.left }
      for (const f of next.right) {
        if (typeof f === "string") out.push(f)
        else {
          // the buffers behind the views, once the first reads (copied before the first pull) are through
          if (pull >= 10) buffers.add(f.buffer)
          out.push(Buffer.from(f))
        }
      }
    }
  })

const binary = (out: ReadonlyArray<Buffer | string>) =>
  Buffer.concat(out.filter((x): x is Buffer => typeof x !== "string"))

describe("the unix socket's websocket client", () => {
  it.live("messages sent in fragments, pings and a normal close: whole messages, pongs, then the end", () =>
    Effect.scoped(Effect.gen(function*() {
      const pongs: Array<string> = []
      const { socketPath } = yield* rawServer(
        Buffer.concat([
          frame(1, Buffer.from("hel"), false),
          frame(9, Buffer.from("ping-1")), // a ping between fragments
          frame(0, Buffer.from("lo")),
          frame(2, Buffer.alloc(70_000, 1), false),
          frame(0, Buffer.alloc(5, 2)),
          frame(2, Buffer.alloc(0)),
          close(1000)
        ]),
        (socket, frames) => {
          socket.on("data", (d) => {
            // the client's pong: FIN + opcode 10, masked
            if (d[0] === 0x8a) {
              const mask = d.subarray(2, 6)
              pongs.push(Buffer.from(d.subarray(6, 6 + (d[1]! & 0x7f)).map((b, i) => b ^ mask[i & 3]!)).toString())
            }
          })
          socket.write(frames)
        }
      )
      const ws = yield* transport(socketPath).pipe(Effect.flatMap((t) => t.websocket("/1.0/x")))
      const { error, out } = yield* drain(ws.read)
      expect(Option.isNone(error)).toBe(true)
      expect(out[0]).toBe("hello")
      expect(out.slice(1).map((b) => (b as Buffer).length)).toEqual([70_005, 0])
      expect((out[1] as Buffer).subarray(69_999, 70_001)).toEqual(Buffer.from([1, 2]))
      yield* Effect.sleep("20 millis")
      expect(pongs).toEqual(["ping-1"])
    })))

  it.live("frames that arrive a byte at a time parse the same; an abnormal close code fails the read", () =>
    Effect.scoped(Effect.gen(function*() {
      const payload = Buffer.from(Array.from({ length: 300 }, (_, i) => i & 0xff))
      const { socketPath } = yield* rawServer(
        Buffer.concat([frame(2, payload), frame(1, Buffer.from("barrier")), close(4001)]),
        (socket, frames) => {
          let i = 0
          const next = () => {
            if (i < frames.length) socket.write(frames.subarray(i, ++i), () => setImmediate(next))
          }
          next()
        }
      )
      const ws = yield* transport(socketPath).pipe(Effect.flatMap((t) => t.websocket("/1.0/x")))
      const { error, out } = yield* drain(ws.read)
      expect(binary(out)).toEqual(payload)
      expect(out[out.length - 1]).toBe("barrier")
      const failure = Option.getOrThrow(error) as { closeCode?: number; reason: string }
      expect(failure.closeCode).toBe(4001)
    })))

  it.live("a frame the protocol forbids (reserved bits, a masked server frame) fails with code 1002", () =>
    Effect.scoped(Effect.gen(function*() {
      for (const bad of [Buffer.from([0xc2, 0x01, 0x00]), Buffer.from([0x82, 0x81, 1, 2, 3, 4, 5])]) {
        const { socketPath } = yield* rawServer(bad, (socket, frames) => socket.write(frames))
        const ws = yield* transport(socketPath).pipe(Effect.flatMap((t) => t.websocket("/1.0/x")))
        const { error } = yield* drain(ws.read)
        const failure = Option.getOrThrow(error) as { closeCode?: number; reason: string }
        expect(failure.closeCode).toBe(1002)
        expect(failure.reason).toMatch(/invalid websocket frame/)
      }
    })))

  it.live("more forbidden frames: a 1-byte close payload (1002), text that is not UTF-8 (1007)", () =>
    Effect.scoped(Effect.gen(function*() {
      for (
        const [bad, code] of [
          [Buffer.from([0x88, 0x01, 0x03]), 1002],
          [frame(1, Buffer.from([0x68, 0xc3, 0x28])), 1007]
        ] as const
      ) {
        const { socketPath } = yield* rawServer(bad, (socket, frames) => socket.write(frames))
        const ws = yield* transport(socketPath).pipe(Effect.flatMap((t) => t.websocket("/1.0/x")))
        const { error } = yield* drain(ws.read)
        expect((Option.getOrThrow(error) as { closeCode?: number }).closeCode).toBe(code)
      }
    })))

  it.live("text frames whole in one read (decoded from the read buffer) and split over reads arrive the same", () =>
    Effect.scoped(Effect.gen(function*() {
      const texts = ["", "ünïcödé ✓ 🚀", "x".repeat(300), ...Array.from({ length: 500 }, (_, i) => `{"n":${i}}`)]
      const frames = Buffer.concat([
        ...texts.map((t) => frame(1, Buffer.from(t, "utf8"))),
        frame(1, Buffer.from("frag"), false),
        frame(0, Buffer.from("mented ✓")),
        close(1000)
      ])
      for (const split of [false, true]) {
        const { socketPath } = yield* rawServer(frames, (socket, all) => {
          if (!split) return socket.write(all)
          // pieces of 7 bytes: frames cut anywhere (head, payload, in the middle of a multi-byte character)
          let i = 0
          const next = () => {
            if (i < all.length) socket.write(all.subarray(i, i += 7), () => setImmediate(next))
          }
          next()
        })
        const ws = yield* transport(socketPath).pipe(Effect.flatMap((t) => t.websocket("/1.0/x")))
        const { error, out } = yield* drain(ws.read)
        expect(Option.isNone(error)).toBe(true)
        expect(out).toEqual([...texts, "fragmented ✓"])
      }
    })))

  it.live("text that is not UTF-8 fails with 1007 also when it comes in fragments", () =>
    Effect.scoped(Effect.gen(function*() {
      const bad = Buffer.concat([frame(1, Buffer.from([0x68, 0xc3]), false), frame(0, Buffer.from([0x28]))])
      const { socketPath } = yield* rawServer(bad, (socket, frames) => socket.write(frames))
      const ws = yield* transport(socketPath).pipe(Effect.flatMap((t) => t.websocket("/1.0/x")))
      const { error } = yield* drain(ws.read)
      expect((Option.getOrThrow(error) as { closeCode?: number }).closeCode).toBe(1007)
    })))

  it.live("readLent: an empty binary message sent in two empty fragments still arrives, as one empty view", () =>
    Effect.scoped(Effect.gen(function*() {
      const { socketPath } = yield* rawServer(
        Buffer.concat([
          frame(2, Buffer.alloc(0), false),
          frame(0, Buffer.alloc(0)),
          frame(1, Buffer.from("after")),
          close(1000)
        ]),
        // a first read (registered before the first pull: copied), then the frames, read in lending mode
        (socket, frames) => {
          setTimeout(() => socket.write(frame(2, Buffer.from("x"))), 30)
          setTimeout(() => socket.write(frames), 80)
        }
      )
      const ws = yield* transport(socketPath).pipe(Effect.flatMap((t) => t.websocket("/1.0/x")))
      const { error, out } = yield* drain(ws.readLent!)
      expect(Option.isNone(error)).toBe(true)
      expect(out.map((x) => typeof x === "string" ? x : x.length)).toEqual([1, 0, "after"])
    })))

  it.live("a server that never answers the upgrade: a timeout ends the open at once", () =>
    Effect.scoped(Effect.gen(function*() {
      const socketPath = tempSocket()
      const server = net.createServer(() => {}) // accepts, never answers
      yield* Effect.acquireRelease(
        Effect.async<void>((resume) => void server.listen(socketPath, () => resume(Effect.void))),
        () => Effect.sync(() => server.close())
      )
      const started = performance.now()
      const result = yield* transport(socketPath).pipe(
        Effect.flatMap((t) => Effect.scoped(t.websocket("/1.0/x"))),
        Effect.timeout("200 millis"),
        Effect.either
      )
      expect(Either.isLeft(result) && result.left._tag).toBe("TimeoutException")
      expect(performance.now() - started).toBeLessThan(1000)
    })))

  it.live("a refused upgrade fails the open with the server's message (JSON or chunked)", () =>
    Effect.scoped(Effect.gen(function*() {
      const body = JSON.stringify({ type: "error", error: "not found", error_code: 404 })
      for (
        const answer of [
          `HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
          `HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n${
            body.length.toString(16)
          }\r\n${body}\r\n0\r\n\r\n`
        ]
      ) {
        const socketPath = tempSocket()
        const server = net.createServer((socket) => socket.once("data", () => socket.write(answer)))
        yield* Effect.acquireRelease(
          Effect.async<void>((resume) => void server.listen(socketPath, () => resume(Effect.void))),
          () => Effect.sync(() => server.close())
        )
        const error = yield* transport(socketPath).pipe(
          Effect.flatMap((t) => t.websocket("/1.0/operations/nope/websocket")),
          Effect.flip
        )
        expect(error._tag).toBe("ClientConnectionFailed")
        expect(error.reason).toBe("websocket handshake refused: HTTP 404 not found")
      }
    })))

  it.live("what the client sends arrives whole (7-, 16- and 64-bit lengths, masked); closing the scope closes", () =>
    Effect.scoped(Effect.gen(function*() {
      const got: Array<Buffer | string> = []
      let closedWith = 0
      const { socketPath } = yield* wsServer((ws) => {
        ws.on("message", (data, isBinary) => got.push(isBinary ? Buffer.from(data as Buffer) : data.toString()))
        ws.on("close", (code) => closedWith = code)
      })
      const big = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 7) & 0xff))
      yield* Effect.scoped(Effect.gen(function*() {
        const ws = yield* transport(socketPath).pipe(Effect.flatMap((t) => t.websocket("/1.0/x")))
        yield* ws.send("{\"command\":\"signal\",\"signal\":15}")
        yield* ws.send(big.subarray(0, 1000))
        yield* ws.send(big)
      }))
      yield* Effect.sleep("100 millis")
      expect(got[0]).toBe("{\"command\":\"signal\",\"signal\":15}")
      expect(got[1]).toEqual(big.subarray(0, 1000))
      expect(got[2]).toEqual(big)
      expect(closedWith).toBe(1000)
    })))

  it.live("readLent: bytes come in order through two reused buffers, for a slow reader, with text in between", () =>
    Effect.scoped(Effect.gen(function*() {
      // 6 MiB of LXD-sized frames (14 KiB) with a text frame after every 4th
      const data = Buffer.from(Array.from({ length: 6 * 1024 * 1024 }, (_, i) => (i * 31 + (i >> 13)) & 0xff))
      const { socketPath } = yield* wsServer((ws) => {
        let at = 0
        const pump = () => {
          while (at < data.length && ws.bufferedAmount < 512 * 1024) {
            const end = Math.min(at + 14 * 1024, data.length)
            ws.send(data.subarray(at, end), { binary: true })
            if (end % (4 * 14 * 1024) === 0 || end === data.length) ws.send(`mark ${end}`)
            at = end
          }
          if (at < data.length) setTimeout(pump, 1)
          else ws.close(1000)
        }
        pump()
      })
      const ws = yield* transport(socketPath).pipe(Effect.flatMap((t) => t.websocket("/1.0/x")))
      let pulls = 0
      const slow = Effect.tap(ws.readLent!, () => (++pulls % 16 === 0 ? Effect.sleep("5 millis") : Effect.void))
      const { buffers, error, out } = yield* drain(slow)
      expect(Option.isNone(error)).toBe(true)
      const received = binary(out)
      expect(received.length).toBe(data.length)
      expect(received.equals(data)).toBe(true)
      // each text frame comes after exactly the bytes sent before it
      let bytes = 0
      for (const x of out) {
        if (typeof x === "string") expect(x).toBe(`mark ${bytes}`)
        else bytes += x.length
      }
      expect(out.filter((x) => typeof x === "string").length).toBe(Math.ceil(data.length / (4 * 14 * 1024)))
      // no allocation per chunk: every view is into one of the two arena buffers
      expect(buffers.size).toBe(2)
      // many of LXD's small frames per pull
      expect(pulls).toBeLessThan(6 * 1024 / 14 / 2)
    })))
})

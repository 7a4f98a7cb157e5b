import { Files, Lxd } from "@effect-lxd/core"
import { NodeLxdTransport } from "@effect-lxd/node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"

const lxdHeaders = (type: string) =>
  `X-Lxd-Type: ${type}\r\nX-Lxd-Uid: 0\r\nX-Lxd-Gid: 0\r\nX-Lxd-Mode: 0640\r\nX-Lxd-Modified: 2026-11-23 10:00:00 +0000 UTC\r\n`

/**
 * A stand-in for LXD's file endpoint on a unix socket, at the socket level: it answers each path with a
 * scripted response, written in small pieces with pauses, so that reads and writes interleave as they do
 * against a real daemon.
 */
const daemon = (answer: (path: string, socket: net.Socket) => void) =>
  Effect.acquireRelease(
    Effect.async<{ socketPath: string; paths: Array<string> }>((resume) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-lxd-dl-"))
      const socketPath = path.join(dir, "unix.socket")
      const paths: Array<string> = []
      const server = net.createServer((socket) => {
        let head = ""
        socket.on("data", (d) => {
          head += d.toString("latin1")
          const end = head.indexOf("\r\n\r\n")
          if (end < 0) return
          const target = head.slice(4, head.indexOf(" HTTP/1.1"))
          paths.push(target)
          head = ""
          answer(target, socket)
        })
        socket.on("error", () => {})
      })
      server.listen(socketPath, () => resume(Effect.succeed(Object.assign({ socketPath, paths }, { server }))))
    }),
    (d) =>
      Effect.async<void>((resume) => {
        ;(d as unknown as { server: net.Server }).server.close(() => resume(Effect.void))
        fs.rmSync(path.dirname(d.socketPath), { recursive: true, force: true })
      })
  )

/** Deterministic content (not a repeating pattern, so a misplaced piece shows). */
const content = (size: number) => {
  const out = Buffer.allocUnsafe(size)
  let x = 0x12345678
  for (let i = 0; i < size; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

/** Writes `body` in pieces of `piece` bytes, pausing every few pieces. */
const dribble = async (socket: net.Socket, head: string, body: Buffer, piece: number) => {
  socket.write(head)
  for (let o = 0, n = 0; o < body.length; o += piece, n++) {
    if (!socket.write(body.subarray(o, o + piece))) await new Promise((r) => socket.once("drain", r))
    if (n % 7 === 0) await new Promise((r) => setTimeout(r, 1))
  }
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex")

describe("Files.download over the unix socket (reused buffers)", () => {
  const body = content(5 * 1024 * 1024 + 12345)
  const run = <A, E>(socketPath: string, f: (files: Files.Files.Service) => Effect.Effect<A, E>) =>
    Effect.flatMap(Files.Files, f).pipe(
      Effect.provide(Lxd.layer.pipe(Layer.provide(NodeLxdTransport.layerUnixSocket({ socketPath }))))
    )

  it.live("a Content-Length body arrives whole and in order, in reused chunks that a slow writer holds back", () =>
    Effect.scoped(Effect.gen(function*() {
      const d = yield* daemon((p, socket) => {
        void dribble(
          socket,
          `HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n${
            lxdHeaders("file")
          }Content-Length: ${body.length}\r\n\r\n`,
          body,
          40_000
        ).then(() => socket.end())
      })
      const hash = createHash("sha256")
      const seen = new Set<ArrayBufferLike>()
      let chunks = 0
      const stat = yield* run(d.socketPath, (f) =>
        f.download("c1", "/root/big.bin", (chunk) =>
          Effect.andThen(
            Effect.sleep(chunks++ % 3 === 0 ? "3 millis" : "0 millis"),
            Effect.sync(() => {
              hash.update(chunk)
              seen.add(chunk.buffer)
            })
          )))
      expect(stat).toMatchObject({ type: "file", uid: 0, gid: 0, mode: 0o640 })
      expect(hash.digest("hex")).toBe(sha(body))
      expect(chunks).toBeGreaterThan(4)
      expect(seen.size).toBe(2) // every chunk is a view of one of the two buffers that take turns
      expect(d.paths).toEqual(["/1.0/instances/c1/files?path=%2Froot%2Fbig.bin"])
    })))

  it.live("a refused answer (not a file, an error) writes nothing and is asked again the usual way", () =>
    Effect.scoped(Effect.gen(function*() {
      const d = yield* daemon((p, socket) => {
        const json = JSON.stringify({ type: "error", error: "Not Found", error_code: 404 })
        const listing = JSON.stringify({ type: "sync", status: "Success", status_code: 200, metadata: ["a"] })
        socket.end(
          p.includes("dir")
            ? `HTTP/1.1 200 OK\r\n${
              lxdHeaders("directory")
            }Content-Type: application/json\r\nContent-Length: ${listing.length}\r\n\r\n${listing}`
            : `HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: ${json.length}\r\n\r\n${json}`
        )
      })
      const write = () => Effect.die("nothing may be written")
      const missing = yield* Effect.flip(run(d.socketPath, (f) => f.download("c1", "/root/nope", write)))
      expect(missing._tag).toBe("NotFound")
      const dir = yield* Effect.flip(run(d.socketPath, (f) => f.download("c1", "/root/dir", write)))
      expect(dir._tag).toBe("InvalidArgument")
      // each was asked twice: the download path, then the HTTP client for the error
      expect(d.paths.length).toBe(4)
    })))

  it.live("a connection that closes before the body ended is ClientConnectionFailed", () =>
    Effect.scoped(Effect.gen(function*() {
      const d = yield* daemon((_p, socket) => {
        void dribble(
          socket,
          `HTTP/1.1 200 OK\r\n${lxdHeaders("file")}Content-Length: ${body.length}\r\n\r\n`,
          body.subarray(0, 2 * 1024 * 1024),
          64 * 1024
        ).then(() => socket.destroy())
      })
      const e = yield* Effect.flip(run(d.socketPath, (f) => f.download("c1", "/root/cut", () => Effect.void)))
      expect(e._tag).toBe("ClientConnectionFailed")
      expect(e.message).toContain("closed before the whole body arrived")
    })))
})

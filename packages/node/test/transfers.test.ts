import { Files, Lxd, StorageVolumes } from "@effect-lxd/core"
import { NodeLxdTransport } from "@effect-lxd/node"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Layer, Stream } from "effect"
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

/** LXD's answer for a regular file: its headers, then `body` in pieces of `piece` bytes. */
const serveFile = (socket: net.Socket, body: Buffer, piece: number) =>
  dribble(socket, `HTTP/1.1 200 OK\r\n${lxdHeaders("file")}Content-Length: ${body.length}\r\n\r\n`, body, piece)

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

  it.live("a synchronous writer gets each read as it lands; switching between sync and async keeps the body whole", () =>
    Effect.scoped(Effect.gen(function*() {
      const d = yield* daemon((_p, socket) => {
        void serveFile(socket, body, 40_000).then(() => socket.end())
      })
      const download = (write: (chunk: Uint8Array, n: number) => Effect.Effect<void>) =>
        Effect.gen(function*() {
          const hash = createHash("sha256")
          const sizes: Array<number> = []
          yield* run(d.socketPath, (f) =>
            f.download("c1", "/root/big.bin", (chunk) =>
              Effect.andThen(
                Effect.sync(() => {
                  hash.update(chunk)
                  sizes.push(chunk.length)
                }),
                write(chunk, sizes.length)
              )))
          return { hash: hash.digest("hex"), sizes }
        })
      const sync = yield* download(() => Effect.void)
      expect(sync.hash).toBe(sha(body))
      // no gathering into 1 MiB: every chunk is one read (the server sends 40 000 bytes at a time)
      expect(Math.max(...sync.sizes)).toBeLessThan(512 * 1024)
      expect(sync.sizes.length).toBeGreaterThan(body.length / (512 * 1024))
      // every 5th write asynchronous: reads gather meanwhile, and the next synchronous one takes them
      const mixed = yield* download((_chunk, n) => (n % 5 === 0 ? Effect.sleep("2 millis") : Effect.void))
      expect(mixed.hash).toBe(sha(body))
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

  it.live("interrupting a download closes its connection", () =>
    Effect.scoped(Effect.gen(function*() {
      let closed = false
      const d = yield* daemon((_p, socket) => {
        socket.on("close", () => (closed = true))
        void serveFile(socket, body, 4096)
      })
      const result = yield* run(d.socketPath, (f) => f.download("c1", "/root/slow", () => Effect.void)).pipe(
        Effect.timeout("150 millis"),
        Effect.either
      )
      expect(result._tag).toBe("Left")
      // the server sees the close soon after (polled: a loaded machine takes longer than any fixed pause)
      for (let i = 0; i < 100 && !closed; i++) yield* Effect.sleep("50 millis")
      expect(closed).toBe(true)
    })))

  it.live("interrupting a download waits for the write under way (its caller may close the file next)", () =>
    Effect.scoped(Effect.gen(function*() {
      const d = yield* daemon((_p, socket) => {
        void serveFile(socket, body, 65536)
      })
      let writing = 0
      const write = () =>
        Effect.uninterruptible(Effect.andThen(
          Effect.sync(() => writing++),
          Effect.andThen(Effect.sleep("300 millis"), Effect.sync(() => writing--))
        ))
      const result = yield* run(d.socketPath, (f) => f.download("c1", "/root/slow", write)).pipe(
        Effect.timeout("100 millis"),
        Effect.either
      )
      expect(result._tag).toBe("Left")
      expect(writing).toBe(0)
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

describe("Files.upload over the unix socket (reused buffers)", () => {
  const body = content(3 * 1024 * 1024 + 777)
  const run = <A, E>(socketPath: string, f: (files: Files.Files.Service) => Effect.Effect<A, E>) =>
    Effect.flatMap(Files.Files, f).pipe(
      Effect.provide(Lxd.layer.pipe(Layer.provide(NodeLxdTransport.layerUnixSocket({ socketPath }))))
    )
  /** A stand-in that reads the head and the whole body, then answers. */
  const receiver = (
    answer: (head: string, body: Buffer) => string,
    opts: { early?: boolean; lateContinueMs?: number } = {}
  ) =>
    Effect.acquireRelease(
      Effect.async<{ socketPath: string; got: Array<{ head: string; body: Buffer }>; server: net.Server }>((resume) => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-lxd-ul-"))
        const socketPath = path.join(dir, "unix.socket")
        const got: Array<{ head: string; body: Buffer }> = []
        const server = net.createServer((socket) => {
          let raw = Buffer.alloc(0)
          let continued = false
          socket.on("error", () => {})
          socket.on("data", (d: Buffer) => {
            raw = Buffer.concat([raw, d])
            const end = raw.indexOf("\r\n\r\n")
            if (end < 0) return
            const head = raw.toString("latin1", 0, end)
            if (opts.early === true) {
              // answers before reading the body, as LXD does for a missing instance
              if (got.length === 0) {
                got.push({ head, body: Buffer.alloc(0) })
                socket.end(answer(head, Buffer.alloc(0)))
              }
              got[0] = { head, body: raw.subarray(end + 4) }
              return
            }
            if (!continued && /expect: 100-continue/i.test(head)) {
              continued = true
              if (opts.lateContinueMs === undefined) socket.write("HTTP/1.1 100 Continue\r\n\r\n")
              else setTimeout(() => socket.write("HTTP/1.1 100 Continue\r\n\r\n"), opts.lateContinueMs)
            }
            const length = Number(/content-length: (\d+)/i.exec(head)![1])
            if (raw.length - end - 4 < length) return
            const received = raw.subarray(end + 4, end + 4 + length)
            got.push({ head, body: received })
            // a late 100 Continue goes out before the final answer, as Go's server writes it on the first read
            if (opts.lateContinueMs === undefined) socket.end(answer(head, received))
            else setTimeout(() => socket.end(answer(head, received)), opts.lateContinueMs + 100)
          })
        })
        server.listen(socketPath, () => resume(Effect.succeed({ socketPath, got, server })))
      }),
      (d) =>
        Effect.async<void>((resume) => {
          d.server.close(() => resume(Effect.void))
          fs.rmSync(path.dirname(d.socketPath), { recursive: true, force: true })
        })
    )
  const ok = JSON.stringify({ type: "sync", status: "Success", status_code: 200, metadata: {} })
  /** Fills from `body` in short reads; records which buffers it was given. */
  const filler = (source: Buffer) => {
    let at = 0
    const buffers = new Set<ArrayBufferLike>()
    return {
      buffers,
      fill: (buffer: Uint8Array) =>
        Effect.sync(() => {
          buffers.add(buffer.buffer)
          const n = Math.min(buffer.length, source.length - at, 700_000)
          buffer.set(source.subarray(at, at + n))
          at += n
          return n
        })
    }
  }

  it.live("the body arrives whole after the head, from two buffers; the answer is read as an envelope", () =>
    Effect.scoped(Effect.gen(function*() {
      const d = yield* receiver(() =>
        `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${
          ok.length.toString(16)
        }\r\n${ok}\r\n0\r\n\r\n`
      )
      const source = filler(body)
      yield* run(d.socketPath, (f) => f.upload("c1", "/root/up.bin", body.length, source.fill, { mode: 0o640 }))
      expect(d.got).toHaveLength(1)
      const { body: received, head } = d.got[0]!
      expect(sha(received)).toBe(sha(body))
      expect(head).toMatch(/^POST \/1\.0\/instances\/c1\/files\?path=%2Froot%2Fup\.bin HTTP\/1\.1\r\n/)
      expect(head).toContain(`content-length: ${body.length}`)
      expect(head).toContain("content-type: application/octet-stream")
      expect(head.toLowerCase()).toContain("x-lxd-mode: 0640")
      expect(source.buffers.size).toBe(2)
      expect(head).toMatch(/expect: 100-continue/i)
    })))

  it.live("a 100 Continue that comes after the body went anyway is skipped: the final answer is the result", () =>
    Effect.scoped(Effect.gen(function*() {
      const d = yield* receiver(() => `HTTP/1.1 200 OK\r\nContent-Length: ${ok.length}\r\n\r\n${ok}`, {
        lateContinueMs: 1300
      })
      const small = body.subarray(0, 1000)
      yield* run(d.socketPath, (f) => f.upload("c1", "/root/late", small.length, filler(small).fill))
      expect(sha(d.got[0]!.body)).toBe(sha(small))
    })))

  it.live("an answer given before the body was taken is the result (LXD refuses early and closes)", () =>
    Effect.scoped(Effect.gen(function*() {
      const json = JSON.stringify({ type: "error", error: "Instance not found", error_code: 404 })
      const d = yield* receiver(
        () =>
          `HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: ${json.length}\r\n\r\n${json}`,
        { early: true }
      )
      const e = yield* Effect.flip(
        run(d.socketPath, (f) => f.upload("nope", "/root/x", body.length, filler(body).fill))
      )
      expect(e._tag).toBe("NotFound")
      expect(e.message).toContain("Instance not found")
      expect(d.got[0]!.head).toMatch(/expect: 100-continue/i)
      expect(d.got[0]!.body.length).toBe(0) // no byte of the body was sent
    })))

  it.live("a source that ends early fails the push", () =>
    Effect.scoped(Effect.gen(function*() {
      const d = yield* receiver(() => `HTTP/1.1 200 OK\r\nContent-Length: ${ok.length}\r\n\r\n${ok}`)
      const e = yield* Effect.flip(
        run(d.socketPath, (f) => f.upload("c1", "/root/x", body.length + 10, filler(body).fill))
      )
      expect(e._tag).toBe("ClientConnectionFailed")
      expect(e.message).toContain(`the body ended after ${body.length} of ${body.length + 10} bytes`)
    })))
})

describe("a backup export Stream over the unix socket (the transport's download, copied out)", () => {
  const body = content(3 * 1024 * 1024 + 777)
  const EXPORT = "/1.0/storage-pools/default/volumes/custom/v1/backups/b0/export"
  const exportOf = (socketPath: string) =>
    Stream.unwrap(Effect.map(StorageVolumes.StorageVolumes, (v) => v.backups.export("default", "custom", "v1", "b0")))
      .pipe(
        Stream.provideLayer(Lxd.layer.pipe(Layer.provide(NodeLxdTransport.layerUnixSocket({ socketPath }))))
      )
  /** `GET /1.0` (the extension check before the export), else `answer`. */
  const lxd = (answer: (socket: net.Socket) => void) => (p: string, socket: net.Socket) => {
    if (p !== "/1.0") return answer(socket)
    const json = JSON.stringify({
      type: "sync",
      status: "Success",
      status_code: 200,
      metadata: {
        api_extensions: ["custom_volume_backup"],
        api_status: "stable",
        api_version: "1.0",
        auth: "trusted",
        public: false,
        environment: { server_version: "5.0.2" }
      }
    })
    socket.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${json.length}\r\n\r\n${json}`)
  }
  const exports = (paths: ReadonlyArray<string>) => paths.filter((p) => p !== "/1.0")
  const tarball = (socket: net.Socket) =>
    dribble(
      socket,
      `HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\n\r\n`,
      body,
      40_000
    ).then(() => socket.end())

  it.live("one connection; the chunks are gathered reads (≥ 128 KiB but the last) the consumer may keep", () =>
    Effect.scoped(Effect.gen(function*() {
      const d = yield* daemon(lxd((socket) => void tarball(socket)))
      // kept whole: a chunk that were a view of a reused buffer would be overwritten by the reads after it
      const chunks = Chunk.toReadonlyArray(yield* Stream.runCollect(exportOf(d.socketPath)))
      expect(sha(Buffer.concat(chunks))).toBe(sha(body))
      // HttpClientResponse.stream hands over each socket read (≤ 64 KiB); the download gathers them
      for (const c of chunks.slice(0, -1)) expect(c.length).toBeGreaterThanOrEqual(128 * 1024)
      expect(new Set(chunks.map((c) => c.buffer)).size).toBe(chunks.length)
      expect(exports(d.paths)).toEqual([EXPORT])
    })))

  it.live("a slow consumer gets the body whole; taking a part of it closes the connection", () =>
    Effect.scoped(Effect.gen(function*() {
      let closed = false
      const d = yield* daemon(lxd((socket) => {
        socket.on("close", () => (closed = true))
        void tarball(socket)
      }))
      const hash = createHash("sha256")
      yield* Stream.runForEach(
        exportOf(d.socketPath),
        (c) => Effect.andThen(Effect.sleep("2 millis"), Effect.sync(() => hash.update(c)))
      )
      expect(hash.digest("hex")).toBe(sha(body))
      closed = false
      const first = yield* Stream.runCollect(Stream.take(exportOf(d.socketPath), 1))
      expect(Chunk.size(first)).toBe(1)
      yield* Effect.sleep("200 millis")
      expect(closed).toBe(true)
    })))

  it.live("an error answer is asked again the usual way and fails the stream with its tag", () =>
    Effect.scoped(Effect.gen(function*() {
      const d = yield* daemon(lxd((socket) => {
        const json = JSON.stringify({ type: "error", error: "not found", error_code: 404 })
        socket.end(
          `HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: ${json.length}\r\n\r\n${json}`
        )
      }))
      const e = yield* Effect.flip(Stream.runDrain(exportOf(d.socketPath)))
      expect(e._tag).toBe("NotFound")
      expect(exports(d.paths)).toEqual([EXPORT, EXPORT])
    })))
})

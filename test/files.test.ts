/**
 * The file API against a real LXD 5.0.2 (the lab daemon): big streamed transfers with bounded memory, trees
 * with modes and symlinks, path escapes, LXD's own pitfalls.
 */
import { Files, Lxd, LxdClient } from "@effect-lxd/core"
import { NodeFiles, NodeLxdTransport } from "@effect-lxd/node"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option, Stream } from "effect"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { lab } from "./lab/lab.js"
import { describeTree } from "./support/tree.js"

const info = lab()
const unix = Lxd.layer.pipe(Layer.provide(NodeLxdTransport.layerUnixSocket({ socketPath: info.socket })))

const MiB = 1024 * 1024
const CHUNK = Number(process.env.FILES_TEST_CHUNK ?? 256 * 1024)

/** Runs `use` with a fresh stopped instance (files work on stopped instances), deleted afterwards. */
const withInstance = <A, E, R>(name: string, use: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.flatMap(LxdClient.LxdClient, (c) =>
      c.run({ method: "POST", path: "/instances", body: { name, source: { type: "image", alias: info.image } } })),
    () =>
      use,
    () =>
      Effect.flatMap(LxdClient.LxdClient, (c) =>
        Effect.zipRight(
          Effect.ignore(
            c.run({ method: "PUT", path: `/instances/${name}/state`, body: { action: "stop", force: true } })
          ),
          Effect.ignore(c.run({ method: "DELETE", path: `/instances/${name}` }))
        ))
  )

/** Deterministic pseudo-random content, generated chunk by chunk (xorshift32 per 32-bit word). */
const generated = (totalBytes: number, chunkBytes = MiB): Stream.Stream<Uint8Array> =>
  Stream.unfold(0, (offset) => {
    if (offset >= totalBytes) return Option.none()
    const size = Math.min(chunkBytes, totalBytes - offset)
    const words = new Uint32Array(Math.ceil(size / 4))
    let x = (offset / 4 + 0x9e3779b9) >>> 0 || 1
    for (let i = 0; i < words.length; i++) {
      x ^= x << 13
      x >>>= 0
      x ^= x >>> 17
      x ^= x << 5
      x >>>= 0
      words[i] = x
    }
    return Option.some([new Uint8Array(words.buffer, 0, size), offset + size] as const)
  })

/** Peak RSS growth over a baseline, sampled every 10 ms while `self` runs. */
const peakRssGrowth = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    yield* Effect.sync(() => (globalThis as { gc?: () => void }).gc?.())
    const baseline = process.memoryUsage.rss()
    let peak = baseline
    const timer = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage.rss())
    }, 10)
    const result = yield* Effect.ensuring(self, Effect.sync(() => clearInterval(timer)))
    peak = Math.max(peak, process.memoryUsage.rss())
    return { result, growthMiB: (peak - baseline) / MiB }
  })

const sha256 = <E, R>(stream: Stream.Stream<Uint8Array, E, R>) =>
  Effect.suspend(() => {
    const hash = createHash("sha256")
    let bytes = 0
    return Stream.runForEach(stream, (chunk) =>
      Effect.sync(() => {
        bytes += chunk.length
        hash.update(chunk)
      })).pipe(Effect.map(() => ({ hex: hash.digest("hex"), bytes })))
  })

const made: Array<string> = []
const tmp = (tag: string) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `files-it-${tag}-`))
  made.push(dir)
  return dir
}
afterAll(() => {
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true })
})

describe("big files", () => {
  it.live("256 MiB pushed and pulled back has the same sha256, with bounded memory", () =>
    withInstance(
      "files-big",
      Effect.gen(function*() {
        const files = yield* Files.Files
        const size = 256 * MiB
        // warm-up, so the baseline is taken in a process whose heap has grown to its working size
        yield* files.put("files-big", "/root/warm.bin", generated(16 * MiB, CHUNK))
        yield* Stream.runDrain(files.stream("files-big", "/root/warm.bin"))
        // the content is hashed as it is uploaded: 256 MiB are never held anywhere
        const pushed = createHash("sha256")
        const content = Stream.tap(generated(size, CHUNK), (chunk) => Effect.sync(() => pushed.update(chunk)))
        const push = yield* peakRssGrowth(files.put("files-big", "/root/big.bin", content, { size }))
        const expected = { hex: pushed.digest("hex"), bytes: size }
        const stat = yield* files.stat("files-big", "/root/big.bin")
        expect(stat.type).toBe("file")
        const pull = yield* peakRssGrowth(sha256(files.stream("files-big", "/root/big.bin")))
        expect(pull.result).toEqual(expected)
        expect(pull.result.bytes).toBe(size)
        process.stderr.write(
          `files: 256 MiB push peak RSS +${push.growthMiB.toFixed(1)} MiB, pull +${pull.growthMiB.toFixed(1)} MiB\n`
        )
        expect(push.growthMiB).toBeLessThanOrEqual(64)
        expect(pull.growthMiB).toBeLessThanOrEqual(64)
      })
    ).pipe(Effect.provide(unix)), 180_000)

  it.live("a pull interrupted half-way releases its connection; later requests go on", () =>
    withInstance(
      "files-intr",
      Effect.gen(function*() {
        const files = yield* Files.Files
        yield* files.put("files-intr", "/root/f.bin", generated(32 * MiB), { size: 32 * MiB })
        for (let i = 0; i < 8; i++) {
          const first = yield* Stream.runCollect(Stream.take(files.stream("files-intr", "/root/f.bin"), 2))
          expect(first.length).toBe(2)
          const content = yield* files.get("files-intr", "/root/f.bin")
          yield* content.discard
        }
        // a stream that never ends uploads until interrupted; the daemon is fine afterwards
        const slow = Stream.concat(generated(MiB), Stream.never)
        const timedOut = yield* Effect.exit(Effect.timeout(files.put("files-intr", "/root/slow", slow), "500 millis"))
        expect(timedOut._tag).toBe("Failure")
        const full = yield* sha256(files.stream("files-intr", "/root/f.bin"))
        expect(full).toEqual(yield* sha256(generated(32 * MiB)))
      })
    ).pipe(Effect.provide(unix)), 120_000)
})

describe("content and LXD's pitfalls", () => {
  it.live("the empty-file pitfall cannot happen: string, bytes and stream contents come back whole", () =>
    withInstance(
      "files-empty",
      Effect.gen(function*() {
        const files = yield* Files.Files
        yield* files.put("files-empty", "/root/s", "text content")
        yield* files.put("files-empty", "/root/b", new Uint8Array([1, 2, 3, 0, 255]))
        yield* files.put("files-empty", "/root/st", Stream.make(new Uint8Array([9, 8]), new Uint8Array([7])))
        expect(yield* files.readText("files-empty", "/root/s")).toBe("text content")
        expect([...(yield* files.readBytes("files-empty", "/root/b"))]).toEqual([1, 2, 3, 0, 255])
        expect([...(yield* files.readBytes("files-empty", "/root/st"))]).toEqual([9, 8, 7])
        // the mode goes as octal with a leading 0 (644 would be decimal, 0o1204)
        yield* files.put("files-empty", "/root/m", "x", { mode: 0o644 })
        expect((yield* files.stat("files-empty", "/root/m")).mode).toBe(0o644)
      })
    ).pipe(Effect.provide(unix)))

  it.live("running instances too: put, get, list while it runs", () =>
    withInstance(
      "files-run",
      Effect.gen(function*() {
        const c = yield* LxdClient.LxdClient
        yield* c.run({ method: "PUT", path: "/instances/files-run/state", body: { action: "start" } })
        const files = yield* Files.Files
        yield* files.put("files-run", "/tmp/live.txt", "while running", { mode: 0o600 })
        expect(yield* files.readText("files-run", "/tmp/live.txt")).toBe("while running")
        expect(yield* files.list("files-run", "/tmp")).toContain("live.txt")
      })
    ).pipe(Effect.provide(unix)))
})

describe("trees", () => {
  it.live("push then pull of a tree round-trips exactly: nested directories, modes, symlinks", () =>
    withInstance(
      "files-tree",
      Effect.gen(function*() {
        const src = tmp("src")
        fs.mkdirSync(path.join(src, "etc", "app", "conf.d"), { recursive: true })
        fs.mkdirSync(path.join(src, "bin"))
        fs.mkdirSync(path.join(src, "secret"))
        fs.writeFileSync(path.join(src, "etc", "app", "app.conf"), "port = 80\n")
        fs.writeFileSync(path.join(src, "etc", "app", "conf.d", "10-extra.conf"), "")
        fs.writeFileSync(path.join(src, "bin", "start"), "#!/bin/sh\nexec app\n")
        fs.writeFileSync(path.join(src, "secret", "key"), "k".repeat(100_000))
        // large enough for pullTree's download path (reused buffers)
        fs.writeFileSync(
          path.join(src, "secret", "blob"),
          Buffer.from(Array.from({ length: 3 * MiB }, (_, i) => i % 251))
        )
        fs.chmodSync(path.join(src, "secret", "blob"), 0o640)
        fs.symlinkSync("../etc/app/app.conf", path.join(src, "bin", "config"))
        fs.symlinkSync("etc/app", path.join(src, "app"))
        fs.chmodSync(path.join(src, "secret"), 0o700)
        fs.chmodSync(path.join(src, "secret", "key"), 0o600)
        fs.chmodSync(path.join(src, "bin", "start"), 0o755)
        fs.chmodSync(path.join(src, "etc", "app", "app.conf"), 0o644)
        fs.chmodSync(path.join(src, "etc", "app", "conf.d"), 0o750)
        const pushed = yield* NodeFiles.pushTree("files-tree", src, "/opt/tree")
        expect(pushed).toMatchObject({ files: 5, directories: 5, symlinks: 2 })
        const files = yield* Files.Files
        expect((yield* files.stat("files-tree", "/opt/tree/secret")).mode).toBe(0o700)
        expect(yield* files.readlink("files-tree", "/opt/tree/bin/config")).toBe("/opt/tree/etc/app/app.conf")
        const dst = path.join(tmp("dst"), "copy")
        const pulled = yield* NodeFiles.pullTree("files-tree", "/opt/tree", dst)
        expect(pulled).toMatchObject({ files: 5, directories: 5, symlinks: 2, bytes: 3 * MiB + 100_029 })
        expect(describeTree(dst)).toEqual(describeTree(src))
        expect(fs.readFileSync(path.join(dst, "bin", "config"), "utf8")).toBe("port = 80\n")
        const blob = (root: string) => fs.readFileSync(path.join(root, "secret", "blob"))
        expect(blob(dst).equals(blob(src))).toBe(true)
      })
    ).pipe(Effect.provide(unix)))

  it.live("escapes are refused: a '..' path, and a pulled symlink pointing outside the tree", () =>
    withInstance(
      "files-esc",
      Effect.gen(function*() {
        const files = yield* Files.Files
        const dotdot = yield* Effect.flip(files.put("files-esc", "/tmp/../etc/passwd", "x"))
        expect(dotdot._tag).toBe("InvalidArgument")
        const tree = yield* Effect.flip(NodeFiles.pullTree("files-esc", "/opt/../etc", tmp("x")))
        expect(tree._tag).toBe("InvalidArgument")
        yield* files.mkdir("files-esc", "/opt/t/d", { parents: true })
        yield* files.put("files-esc", "/opt/t/d/f", "inside")
        yield* files.symlink("files-esc", "/opt/t/d/out", "../../../etc/passwd")
        const out = tmp("out")
        const e = yield* Effect.flip(NodeFiles.pullTree("files-esc", "/opt/t", out))
        expect(e._tag).toBe("InvalidArgument")
        expect(e.message).toContain("/opt/t/d/out")
        expect(e.message).toContain("/etc/passwd")
        expect(fs.existsSync(path.join(out, "d", "out"))).toBe(false)
      })
    ).pipe(Effect.provide(unix)))
})

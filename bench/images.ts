/**
 * Image transfer benchmark: a unified image of 200 MiB of random bytes (`metadata.yaml` and one random file in
 * `rootfs/`, a plain uncompressed tar, so the bytes are as many as the content) exported through effect-lxd
 * (`Images.exportTo`, the transport's reused buffers, and `Images.export`, a stream of fresh copies; both checked
 * against the fingerprint as the bytes flow, with the SHA-256 the node transport provides) next to
 * `curl --unix-socket … /1.0/images/FP/export -o /dev/null`, and uploaded from the file
 * (`NodeImages.uploadFile`, read into the transport's reused buffers, and `Images.upload` of a stream of the
 * file; fingerprint checked) next to `curl --data-binary @file` (+ waiting on the operation), in one run,
 * 3 runs each, medians. Targets: speed ≥ 0.90× curl's, peak RSS growth ≤ 32 MiB.
 *
 *   node_modules/.bin/tsx bench/images.ts
 *   LXD_SOCKET=/path/unix.socket node_modules/.bin/tsx bench/images.ts      (use an existing daemon)
 *   IMAGES_BENCH_MIB=64 IMAGES_BENCH_RUNS=5 …                                (other size and count)
 *
 * Every effect-lxd transfer runs in a fresh child process (`node --expose-gc`): it builds its runtime, sends a
 * warm-up request, collects garbage, takes the RSS baseline, then samples `process.memoryUsage.rss()` every
 * 10 ms during the transfer.
 */
import { Images, Lxd, LxdClient } from "@effect-lxd/core"
import { NodeImages, NodeLxdTransport } from "@effect-lxd/node"
import { Effect, Layer, ManagedRuntime, Stream } from "effect"
import { execFileSync } from "node:child_process"
import { createHash, randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { startLab } from "./lab.js"
import { curlDownload, entry, type Measure, measureInChild, run } from "./process.js"
import { median } from "./stats.js"

const SELF = fileURLToPath(import.meta.url)
const MiB = 1024 * 1024
const SIZE_MIB = Number(process.env.IMAGES_BENCH_MIB ?? 200)
const RUNS = Number(process.env.IMAGES_BENCH_RUNS ?? 3)

const layerFor = (socketPath: string) => Lxd.layer.pipe(Layer.provide(NodeLxdTransport.layerUnixSocket({ socketPath })))

/** A file as a stream of 1 MiB chunks, read as it is consumed. */
const fileStream = (file: string) =>
  Stream.fromAsyncIterable(
    fs.createReadStream(file, { highWaterMark: MiB }) as AsyncIterable<Uint8Array>,
    (e) => e as Error
  )

// ---------------------------------------------------------------------------------------------------------------
// child: one transfer, measured

/**
 * The floor in Node: `net.connect` with `onread` into one reused 1 MiB buffer, the head skipped, every body byte
 * hashed inline with `node:crypto`, the digest checked. No Effect, no HTTP parsing beyond the blank line.
 */
const rawExport = (socket: string, fingerprint: string) =>
  new Promise<Measure>((resolve, reject) => {
    const buffer = Buffer.allocUnsafe(MiB)
    const hash = createHash("sha256")
    let head = true
    let bytes = 0
    const t0 = performance.now()
    const s = net.connect({
      path: socket,
      onread: {
        buffer,
        callback: (n) => {
          let body = buffer.subarray(0, n)
          if (head) {
            const end = body.indexOf("\r\n\r\n")
            if (end < 0) {
              reject(new Error("the head did not come in one read"))
              return false
            }
            head = false
            body = body.subarray(end + 4)
          }
          bytes += body.length
          hash.update(body)
          return true
        }
      }
    })
    s.on("connect", () =>
      s.write(`GET /1.0/images/${fingerprint}/export HTTP/1.1\r\nHost: lxd\r\nConnection: close\r\n\r\n`))
    s.on("error", reject)
    s.on("close", () => {
      const ms = performance.now() - t0
      if (hash.digest("hex") !== fingerprint) {
        reject(new Error("raw export: sha256 mismatch"))
      } else resolve({ ms, rssMiB: Number.NaN, bytes })
    })
  })

const child = async ([mode, socket, arg]: ReadonlyArray<string>) => {
  if (mode === "raw") {
    process.stdout.write(JSON.stringify(await rawExport(socket!, arg!)) + "\n")
    return
  }
  await measureInChild(
    layerFor(socket!),
    Effect.flatMap(LxdClient.LxdClient, (c) => c.server),
    Effect.gen(function*() {
      const images = yield* Images.Images
      if (mode === "export") {
        let n = 0
        yield* Stream.runForEach(images.export(arg!), (chunk) => Effect.sync(() => (n += chunk.length)))
        return n
      }
      if (mode === "exportTo") {
        let n = 0
        yield* images.exportTo(arg!, (chunk) => Effect.sync(() => (n += chunk.bytes.length)))
        return n
      }
      const size = fs.statSync(arg!).size
      if (mode === "uploadFile") yield* NodeImages.uploadFile(arg!)
      else yield* images.upload(fileStream(arg!), { size })
      return size
    })
  )
}

// ---------------------------------------------------------------------------------------------------------------
// parent

const runChild = async (mode: string, socket: string, arg: string): Promise<Measure> => {
  const r = await run(process.execPath, ["--expose-gc", ...process.execArgv, SELF, "--child", mode, socket, arg])
  if (r.code !== 0) throw new Error(`${mode} failed (exit ${r.code}):\n${r.stderr}`)
  const m = JSON.parse(r.stdout.trim().split("\n").pop()!) as { ms: number; rssMiB: number | null; bytes: number }
  return { ...m, rssMiB: m.rssMiB ?? Number.NaN } // JSON writes NaN as null
}

/** `curl --data-binary @file` to `POST /1.0/images`, then `GET` the operation's `/wait` (as the client waits). */
const curlUpload = async (socket: string, file: string): Promise<Measure> => {
  const t0 = performance.now()
  const r = await run("curl", [
    "-sS",
    "--unix-socket",
    socket,
    "-X",
    "POST",
    "-H",
    "Content-Type: application/octet-stream",
    "--data-binary",
    `@${file}`,
    "http://lxd/1.0/images"
  ])
  const op = (JSON.parse(r.stdout) as { operation?: string }).operation
  if (r.code !== 0 || op === undefined) throw new Error(`curl upload failed: ${r.stdout} ${r.stderr}`)
  const w = await run("curl", ["-sS", "--unix-socket", socket, `http://lxd${op}/wait?timeout=600`])
  const status = (JSON.parse(w.stdout) as { metadata?: { status?: string } }).metadata?.status
  if (status !== "Success") throw new Error(`curl upload's operation: ${w.stdout}`)
  return { ms: performance.now() - t0, rssMiB: Number.NaN, bytes: fs.statSync(file).size }
}

/** `curl … | openssl dgst -sha256`: curl's export with a check, the hash in a second process (on the other core). */
const curlChecked = async (socket: string, fingerprint: string, size: number): Promise<Measure> => {
  const t0 = performance.now()
  const r = await run("sh", [
    "-c",
    `curl -sS --fail --unix-socket "$1" "http://lxd/1.0/images/$2/export" | openssl dgst -sha256 -r`,
    "sh",
    socket,
    fingerprint
  ])
  const ms = performance.now() - t0
  if (r.code !== 0 || !r.stdout.startsWith(fingerprint)) throw new Error(`curl | openssl: ${r.stdout} ${r.stderr}`)
  return { ms, rssMiB: Number.NaN, bytes: size }
}

/** The image: `metadata.yaml` and SIZE_MIB of random bytes in `rootfs/random`, as a plain tar. */
const build = (dir: string) => {
  const root = path.join(dir, "src")
  fs.mkdirSync(path.join(root, "rootfs"), { recursive: true })
  fs.writeFileSync(
    path.join(root, "metadata.yaml"),
    `architecture: x86_64\ncreation_date: ${Math.floor(Date.now() / 1000)}\nproperties:\n  os: bench\n  release: "1"\n`
  )
  const fd = fs.openSync(path.join(root, "rootfs", "random"), "w")
  for (let i = 0; i < SIZE_MIB; i++) fs.writeSync(fd, randomBytes(MiB))
  fs.closeSync(fd)
  const file = path.join(dir, "image.tar")
  execFileSync("tar", ["-cf", file, "-C", root, "metadata.yaml", "rootfs"])
  fs.rmSync(root, { recursive: true })
  const hash = createHash("sha256")
  const buffer = Buffer.alloc(4 * MiB)
  const rfd = fs.openSync(file, "r")
  for (let n; (n = fs.readSync(rfd, buffer)) > 0;) hash.update(buffer.subarray(0, n))
  fs.closeSync(rfd)
  return { file, fingerprint: hash.digest("hex") }
}

const main = async () => {
  const lab = await startLab()
  const runtime = ManagedRuntime.make(layerFor(lab.socket))
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-images-"))
  const remove = (fingerprint: string) =>
    runtime.runPromise(Effect.ignore(Effect.flatMap(Images.Images, (i) => i.delete(fingerprint))))
  try {
    process.stderr.write(`building a ${SIZE_MIB} MiB image of random bytes…\n`)
    const { file, fingerprint } = build(dir)
    await remove(fingerprint)
    const rows: Record<string, Array<Measure>> = {
      "effect-lxd exportTo (reused buffers, sha256 checked)": [],
      "effect-lxd export (stream, sha256 checked)": [],
      "curl export -o /dev/null": [],
      "(diag) raw node: socket + inline node:crypto sha256, checked": [],
      "(diag) curl | openssl dgst -sha256, checked": [],
      "effect-lxd NodeImages.uploadFile (reused buffers, sha256 checked)": [],
      "effect-lxd upload (stream from the file, sha256 checked)": [],
      "curl --data-binary @file": []
    }
    const record = (name: string, m: Measure) => {
      rows[name]!.push(m)
      process.stderr.write(
        `${name}: ${m.ms.toFixed(0)} ms, ${(m.bytes / MiB).toFixed(1)} MiB, RSS +${m.rssMiB.toFixed(1)} MiB\n`
      )
    }
    for (let i = 0; i < RUNS; i++) {
      // uploads first (each leaves the image there; the last one stays for the exports), order rotated
      const uploads = [
        [
          "effect-lxd NodeImages.uploadFile (reused buffers, sha256 checked)",
          () => runChild("uploadFile", lab.socket, file)
        ],
        ["effect-lxd upload (stream from the file, sha256 checked)", () => runChild("upload", lab.socket, file)],
        ["curl --data-binary @file", () => curlUpload(lab.socket, file)]
      ] as const
      for (let k = 0; k < uploads.length; k++) {
        const [name, f] = uploads[(k + i) % uploads.length]!
        await remove(fingerprint)
        record(name, await f())
      }
      const exports = [
        ["effect-lxd exportTo (reused buffers, sha256 checked)", () => runChild("exportTo", lab.socket, fingerprint)],
        ["effect-lxd export (stream, sha256 checked)", () => runChild("export", lab.socket, fingerprint)],
        ["curl export -o /dev/null", () => curlDownload(lab.socket, `/images/${fingerprint}/export`)],
        [
          "(diag) raw node: socket + inline node:crypto sha256, checked",
          () => runChild("raw", lab.socket, fingerprint)
        ],
        [
          "(diag) curl | openssl dgst -sha256, checked",
          () => curlChecked(lab.socket, fingerprint, fs.statSync(file).size)
        ]
      ] as const
      for (let k = 0; k < exports.length; k++) {
        const [name, f] = exports[(k + i) % exports.length]!
        record(name, await f())
      }
    }
    process.stdout.write(
      `\n## image export and upload, ${SIZE_MIB} MiB unified image (random, uncompressed tar), ${RUNS} runs (${
        new Date().toISOString()
      }, node ${process.version}, load ${os.loadavg().map((l) => l.toFixed(2)).join(" ")})\n\n`
    )
    process.stdout.write(
      "| client | each run ms | median ms | MiB/s | speed ÷ curl | peak RSS growth MiB | verdict |\n"
    )
    process.stdout.write("|---|---|---|---|---|---|---|\n")
    const pairs: Record<string, string> = {
      "effect-lxd exportTo (reused buffers, sha256 checked)": "curl export -o /dev/null",
      "effect-lxd export (stream, sha256 checked)": "curl export -o /dev/null",
      "(diag) raw node: socket + inline node:crypto sha256, checked": "curl export -o /dev/null",
      "(diag) curl | openssl dgst -sha256, checked": "curl export -o /dev/null",
      "effect-lxd NodeImages.uploadFile (reused buffers, sha256 checked)": "curl --data-binary @file",
      "effect-lxd upload (stream from the file, sha256 checked)": "curl --data-binary @file"
    }
    for (const [name, ms] of Object.entries(rows)) {
      const t = median(ms.map((m) => m.ms))
      const bytes = ms[0]!.bytes
      const rss = ms.map((m) => m.rssMiB).filter((x) => !Number.isNaN(x))
      const peak = rss.length === 0 ? undefined : Math.max(...rss)
      const base = pairs[name]
      const ratio = base === undefined ? undefined : median(rows[base]!.map((m) => m.ms)) / t
      const verdict = ratio === undefined || name.startsWith("(diag)")
        ? ""
        : ratio >= 0.9 && (peak ?? Infinity) <= 32
        ? "PASS (≥ 0.90×, ≤ 32 MiB)"
        : "MISS (≥ 0.90×, ≤ 32 MiB)"
      process.stdout.write(
        `| ${name} | ${ms.map((m) => m.ms.toFixed(0)).join(", ")} | ${t.toFixed(0)} | ${
          (bytes / MiB / (t / 1000)).toFixed(0)
        } | ${ratio === undefined ? "" : ratio.toFixed(2) + "×"} | ${
          peak === undefined ? "–" : peak.toFixed(1)
        } | ${verdict} |\n`
      )
    }
    await remove(fingerprint)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
    await runtime.dispose()
    await lab.stop()
  }
}

entry(child, main)

/**
 * Volume backup export benchmark: a custom volume holding 256 MiB (random bytes, so the tarball is as big) is
 * backed up (`compression_algorithm: "none"`) and its tarball exported through effect-lxd, hashed as it
 * arrives: `StorageVolumes.backups.exportTo` (the transport's reused-buffer download) and `backups.export` (a
 * `Stream<Uint8Array>`), next to the same export read whole into memory (what a client that buffers does) and
 * `curl -o /dev/null`, in one run, 3 runs each, medians. Target: peak RSS growth of `exportTo` ≤ 32 MiB.
 *
 *   node_modules/.bin/tsx bench/storage.ts
 *   LXD_SOCKET=/path/unix.socket node_modules/.bin/tsx bench/storage.ts      (use an existing daemon)
 *   STORAGE_BENCH_MIB=64 STORAGE_BENCH_RUNS=5 …                              (other size and count)
 *
 * Every effect-lxd export runs in a fresh child process (`node --expose-gc`): it builds its runtime, sends a
 * warm-up request, collects garbage, takes the RSS baseline, then samples `process.memoryUsage.rss()` every
 * 10 ms during the export.
 */
import { Exec, Lxd, LxdClient, StorageVolumes } from "@effect-lxd/core"
import { NodeLxdTransport } from "@effect-lxd/node"
import { Chunk, Effect, Layer, ManagedRuntime, Stream } from "effect"
import { createHash } from "node:crypto"
import { fileURLToPath } from "node:url"
import { startLab } from "./lab.js"
import { curlDownload, entry, type Measure, measureInChild, run } from "./process.js"
import { median } from "./stats.js"

const SELF = fileURLToPath(import.meta.url)
const MiB = 1024 * 1024
const SIZE_MIB = Number(process.env.STORAGE_BENCH_MIB ?? 256)
const RUNS = Number(process.env.STORAGE_BENCH_RUNS ?? 3)
const VOLUME = "bench-stvol"
const BACKUP = "bench-backup"

const layerFor = (socketPath: string) => Lxd.layer.pipe(Layer.provide(NodeLxdTransport.layerUnixSocket({ socketPath })))

// ---------------------------------------------------------------------------------------------------------------
// child: one export, measured

const child = async ([mode, socket]: ReadonlyArray<string>) => {
  await measureInChild(
    layerFor(socket!),
    Effect.flatMap(LxdClient.LxdClient, (c) => c.server),
    Effect.gen(function*() {
      const v = yield* StorageVolumes.StorageVolumes
      const stream = v.backups.export("default", "custom", VOLUME, BACKUP)
      if (mode === "whole") {
        const chunks = yield* Stream.runCollect(stream)
        const all = new Uint8Array(Chunk.reduce(chunks, 0, (n, c) => n + c.length))
        let offset = 0
        for (const c of chunks) {
          all.set(c, offset)
          offset += c.length
        }
        createHash("sha256").update(all).digest("hex")
        return all.length
      }
      const hash = createHash("sha256")
      let n = 0
      if (mode === "exportTo") {
        yield* v.backups.exportTo("default", "custom", VOLUME, BACKUP, (chunk) =>
          Effect.sync(() => {
            hash.update(chunk)
            n += chunk.length
          }))
        hash.digest("hex")
        return n
      }
      yield* Stream.runForEach(stream, (chunk) =>
        Effect.sync(() => {
          hash.update(chunk)
          n += chunk.length
        }))
      hash.digest("hex")
      return n
    })
  )
}

// ---------------------------------------------------------------------------------------------------------------
// parent

const runChild = async (mode: string, socket: string): Promise<Measure> => {
  const r = await run(process.execPath, ["--expose-gc", ...process.execArgv, SELF, "--child", mode, socket])
  if (r.code !== 0) throw new Error(`${mode} failed (exit ${r.code}):\n${r.stderr}`)
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as Measure
}

/** The volume with SIZE_MIB of random bytes, and its backup (no compression). */
const prepare = Effect.gen(function*() {
  const client = yield* LxdClient.LxdClient
  const v = yield* StorageVolumes.StorageVolumes
  yield* Effect.ignore(v.delete("default", "custom", VOLUME))
  yield* v.create("default", "custom", { name: VOLUME, config: {} })
  const c = "bench-stwriter"
  yield* client.run({
    method: "POST",
    path: "/instances",
    body: { name: c, source: { type: "image", alias: "busybox" } }
  })
  yield* v.attach("default", VOLUME, c, { path: "/mnt/v" })
  yield* client.run({ method: "PUT", path: `/instances/${c}/state`, body: { action: "start" } })
  const r = yield* Effect.flatMap(
    Exec.Exec,
    (e) => e.runText(c, ["sh", "-c", `dd if=/dev/urandom of=/mnt/v/data bs=1M count=${SIZE_MIB} 2>&1`])
  )
  if (r.exitCode !== 0) return yield* Effect.dieMessage(r.stdout)
  yield* client.run({ method: "PUT", path: `/instances/${c}/state`, body: { action: "stop", force: true } })
  yield* client.run({ method: "DELETE", path: `/instances/${c}` })
  yield* v.backups.create("default", "custom", VOLUME, { name: BACKUP, compression_algorithm: "none" })
})

const main = async () => {
  const lab = await startLab()
  const runtime = ManagedRuntime.make(layerFor(lab.socket))
  try {
    process.stderr.write(`preparing a ${SIZE_MIB} MiB volume and its backup…\n`)
    await runtime.runPromise(prepare)
    const rows: Record<string, Array<Measure>> = {
      "effect-lxd exportTo (reused buffers)": [],
      "effect-lxd export (stream)": [],
      "export read whole": [],
      curl: []
    }
    for (let i = 0; i < RUNS; i++) {
      // rotate the order each run
      const order = [
        ["effect-lxd exportTo (reused buffers)", () => runChild("exportTo", lab.socket)],
        ["effect-lxd export (stream)", () => runChild("stream", lab.socket)],
        ["export read whole", () => runChild("whole", lab.socket)],
        [
          "curl",
          () => curlDownload(lab.socket, `/storage-pools/default/volumes/custom/${VOLUME}/backups/${BACKUP}/export`)
        ]
      ] as const
      for (let k = 0; k < order.length; k++) {
        const [name, f] = order[(k + i) % order.length]!
        const m = await f()
        rows[name]!.push(m)
        process.stderr.write(
          `${name}: ${m.ms.toFixed(0)} ms, ${(m.bytes / MiB).toFixed(1)} MiB, RSS +${m.rssMiB.toFixed(1)} MiB\n`
        )
      }
    }
    process.stdout.write(
      `\n## volume backup export, ${SIZE_MIB} MiB volume, ${RUNS} runs (${
        new Date().toISOString()
      }, node ${process.version})\n\n`
    )
    process.stdout.write("| client | median ms | MiB/s | tarball MiB | peak RSS growth MiB | target | verdict |\n")
    process.stdout.write("|---|---|---|---|---|---|---|\n")
    for (const [name, ms] of Object.entries(rows)) {
      const t = median(ms.map((m) => m.ms))
      const bytes = ms[0]!.bytes
      const rss = ms.map((m) => m.rssMiB).filter((x) => !Number.isNaN(x))
      const peak = rss.length === 0 ? undefined : Math.max(...rss)
      const isTarget = name.startsWith("effect-lxd exportTo")
      process.stdout.write(
        `| ${name} | ${t.toFixed(0)} | ${(bytes / MiB / (t / 1000)).toFixed(0)} | ${(bytes / MiB).toFixed(1)} | ${
          peak === undefined ? "–" : peak.toFixed(1)
        } | ${isTarget ? "≤ 32 MiB" : ""} | ${isTarget ? ((peak ?? Infinity) <= 32 ? "PASS" : "MISS") : ""} |\n`
      )
    }
    await runtime.runPromise(
      Effect.ignore(Effect.flatMap(StorageVolumes.StorageVolumes, (v) => v.delete("default", "custom", VOLUME)))
    )
  } finally {
    await runtime.dispose()
    await lab.stop()
  }
}

entry(child, main)

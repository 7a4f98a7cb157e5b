/**
 * File transfer benchmark: push and pull 256 MiB through effect-lxd (`NodeFiles.pushFile` / `pullFile`, i.e.
 * `Files.upload` from and `Files.download` into a local file) against `curl` on the same daemon in one run, 5
 * runs each in a shuffled order (seeded, FILES_BENCH_SEED), medians. Targets: throughput ≥ 0.9× curl, peak RSS
 * growth of the effect-lxd process ≤ 32 MiB.
 *
 *   node_modules/.bin/tsx bench/files.ts
 *   LXD_SOCKET=/path/unix.socket node_modules/.bin/tsx bench/files.ts      (use an existing daemon)
 *   FILES_BENCH_RUNS=9 FILES_BENCH_MIB=64 …                                (other counts and sizes)
 *   FILES_BENCH_PROFILE=/tmp/prof …                                         (--cpu-prof of each effect-lxd child)
 *   FILES_BENCH_PERF=/tmp/perf …            (`perf record -g` of each child's timed transfer and of each curl)
 *   FILES_BENCH_ONLY=push-curl,pull-curl,pull-effect …                     (only these rows)
 *
 * Every transfer runs in a fresh child process (`node --expose-gc`), so its RSS growth is measured from a clean
 * baseline: the child builds its runtime, warms up with a 32 MiB round trip, collects garbage, takes the RSS
 * baseline, then samples `process.memoryUsage.rss()` every 10 ms during the timed transfer. Before each timed
 * transfer the parent runs `sync`, so no client pays for the writeback of the one before, and each pulled copy is
 * checked and deleted right after its pull, so every pull starts with the same free memory. curl is timed as a
 * whole process (spawn included, about 7 ms). Diagnostic rows time the same transfer with undici and Node
 * streams directly (no Effect), a raw socket with synchronous writes (the floor for a Node client), and
 * effect-lxd again with V8's young generation capped (`--max-semi-space-size=1`).
 *
 * Reading the RSS column: clients that allocate a fresh buffer per chunk (the undici rows) grow by the garbage
 * V8 lets pile up before a collection (about 32 MiB); effect-lxd's transfers over the unix socket reuse two
 * 1 MiB buffers.
 */
import { Files, Lxd, LxdClient } from "@effect-lxd/core"
import { NodeFiles, NodeLxdTransport } from "@effect-lxd/node"
import { Effect, Layer, ManagedRuntime } from "effect"
import { spawn } from "node:child_process"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { pipeline } from "node:stream/promises"
import { fileURLToPath } from "node:url"
import { startLab } from "./lab.js"
import { entry, run } from "./process.js"
import { median } from "./stats.js"

/** undici (a dependency of @effect-lxd/node only): the subset the diagnostic rows use. */
interface Agent {
  request(options: {
    origin: string
    path: string
    method: string
    headers?: Record<string, string>
    body?: NodeJS.ReadableStream
  }): Promise<{ statusCode: number; body: NodeJS.ReadableStream & { text(): Promise<string> } }>
  close(): Promise<void>
}
const makeAgent = (socketPath: string): Agent => {
  const require = createRequire(new URL("../packages/node/package.json", import.meta.url))
  const Undici = require("undici") as {
    Agent: new(options: { connect: { socketPath: string }; pipelining: number }) => Agent
  }
  return new Undici.Agent({ connect: { socketPath }, pipelining: 1 })
}

const MiB = 1024 * 1024
/** Caps V8's young generation (2 × 16 MiB by default): shows how much of the RSS growth is the JS heap itself. */
const SEMI = ["--max-semi-space-size=1"]
const SELF = fileURLToPath(import.meta.url)
const log = (line: string) => process.stderr.write(`${line}\n`)

interface Measure {
  readonly ms: number
  /** CPU time of the client process (user + system) during the transfer. */
  readonly cpuMs: number
  /** Of which in the kernel, and voluntary context switches (child rows only). */
  readonly sysMs?: number
  readonly vcsw?: number
  readonly rssMiB: number
  readonly bytes: number
}

// ---------------------------------------------------------------------------------------------------------------
// child: one measured transfer

const sampleRss = async <A>(
  f: () => Promise<A>
): Promise<{ result: A; ms: number; cpuMs: number; sysMs: number; vcsw: number; ivcsw: number; rssMiB: number }> => {
  // the warm-ups differ between clients (some push 32 MiB, all pull it): none leaves writeback for the timed part
  await new Promise((resolve) => spawn("sync").on("exit", resolve))
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
  gc?.()
  // FILES_BENCH_PERF=dir: `perf record -g` of this process during the timed transfer
  const perfDir = process.env.FILES_BENCH_PERF
  const perf = perfDir === undefined ? undefined : spawn("perf", [
    "record",
    "-g",
    "-p",
    String(process.pid),
    "-o",
    path.join(perfDir, `${process.argv[3]}-${process.pid}.data`)
  ], { stdio: "ignore" })
  if (perf !== undefined) await new Promise((resolve) => setTimeout(resolve, 500))
  const baseline = process.memoryUsage.rss()
  let peak = baseline
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 10)
  const cpu0 = process.cpuUsage()
  const ru0 = process.resourceUsage()
  const t0 = performance.now()
  try {
    const result = await f()
    const ms = performance.now() - t0
    const cpu = process.cpuUsage(cpu0)
    const ru = process.resourceUsage()
    peak = Math.max(peak, process.memoryUsage.rss())
    return {
      result,
      ms,
      cpuMs: (cpu.user + cpu.system) / 1000,
      sysMs: cpu.system / 1000,
      vcsw: ru.voluntaryContextSwitches - ru0.voluntaryContextSwitches,
      ivcsw: ru.involuntaryContextSwitches - ru0.involuntaryContextSwitches,
      rssMiB: (peak - baseline) / MiB
    }
  } finally {
    clearInterval(timer)
    if (perf !== undefined) {
      perf.kill("SIGINT")
      await new Promise((resolve) => perf.on("exit", resolve))
    }
  }
}

/** effect-lxd over the unix socket. */
const lxdRuntime = (socketPath: string) =>
  ManagedRuntime.make(Lxd.layer.pipe(Layer.provide(NodeLxdTransport.layerUnixSocket({ socketPath }))))

const filesUrl = (instance: string, remote: string) =>
  `/1.0/instances/${instance}/files?path=${encodeURIComponent(remote)}`

/** GET over a raw unix socket into a file: status line and headers parsed by hand, the body by Content-Length. */
const floorPull = (socket: string, pathAndQuery: string, file: string) =>
  new Promise<void>((resolve, reject) => {
    const fd = fs.openSync(file, "w")
    let head: Buffer | undefined = Buffer.alloc(0)
    let left = 0
    const done = (error?: Error) => {
      fs.closeSync(fd)
      conn.destroy()
      if (error) reject(error)
      else resolve()
    }
    const conn = net.connect({
      path: socket,
      onread: {
        buffer: Buffer.allocUnsafe(MiB),
        callback: (n, buf) => {
          let body = buf.subarray(0, n)
          if (head !== undefined) {
            head = Buffer.concat([head, body])
            const end = head.indexOf("\r\n\r\n")
            if (end < 0) return true
            const text = head.subarray(0, end).toString("latin1")
            const length = /\r\ncontent-length: *(\d+)/i.exec(text)
            if (!text.startsWith("HTTP/1.1 200") || length === null) {
              done(new Error(`pull-floor: ${text.split("\r\n")[0]}`))
              return false
            }
            left = Number(length[1])
            body = head.subarray(end + 4)
            head = undefined
          }
          fs.writeSync(fd, body)
          left -= body.length
          if (left <= 0) done()
          return true
        }
      }
    }, () => conn.write(`GET ${pathAndQuery} HTTP/1.1\r\nHost: lxd\r\nConnection: close\r\n\r\n`))
    conn.on("error", (e) => done(e))
  })

const child = async (args: ReadonlyArray<string>) => {
  const [mode, socket, instance, local, remote] = args as [string, string, string, string, string]
  const chunkSize = process.env.FILES_BENCH_CHUNK ? Number(process.env.FILES_BENCH_CHUNK) : undefined
  const warmLocal = `${local}.warm`
  let out: { ms: number; cpuMs: number; sysMs: number; vcsw: number; ivcsw: number; rssMiB: number }
  // warm-up: a 32 MiB round trip, so the timed transfer runs in a warm process (JIT, connections)
  writeContent(warmLocal, 32 * MiB)
  if (mode === "push-effect" || mode === "pull-effect") {
    const runtime = lxdRuntime(socket)
    await runtime.runPromise(Effect.gen(function*() {
      yield* NodeFiles.pushFile(instance, warmLocal, "/root/warm.bin")
      yield* NodeFiles.pullFile(instance, "/root/warm.bin", warmLocal)
    }))
    const transfer = mode === "push-effect"
      ? NodeFiles.pushFile(instance, local, remote, { chunkSize })
      : Effect.asVoid(NodeFiles.pullFile(instance, remote, local))
    out = await sampleRss(() => runtime.runPromise(transfer))
    await runtime.dispose()
  } else if (mode === "pull-download-sync") {
    // diagnostic: the library's download path (`Files.download`), writing synchronously as the floor does
    const runtime = lxdRuntime(socket)
    const pull = (from: string, file: string) =>
      runtime.runPromise(Effect.flatMap(Files.Files, (files) =>
        Effect.acquireUseRelease(
          Effect.sync(() => fs.openSync(file, "w")),
          (fd) => files.download(instance, from, (chunk) => Effect.sync(() => void fs.writeSync(fd, chunk))),
          (fd) => Effect.sync(() => fs.closeSync(fd))
        )))
    await pull("/root/warm.bin", warmLocal)
    out = await sampleRss(() => pull(remote, local))
    await runtime.dispose()
  } else if (mode === "pull-floor") {
    // diagnostic: the floor for a Node client here, with no HTTP library, no per-chunk allocation and no
    // asynchronous writes: one socket, one reused 1 MiB read buffer (`onread`), synchronous writes
    const pull = (from: string, file: string) => floorPull(socket, filesUrl(instance, from), file)
    await pull("/root/warm.bin", warmLocal)
    out = await sampleRss(() => pull(remote, local))
  } else {
    // diagnostic: undici + Node streams, no Effect
    const agent = makeAgent(socket)
    const push = async (file: string, to: string) => {
      const r = await agent.request({
        origin: "http://lxd",
        path: filesUrl(instance, to),
        method: "POST",
        headers: { "content-type": "application/octet-stream", "content-length": String(fs.statSync(file).size) },
        body: fs.createReadStream(file, chunkSize ? { highWaterMark: chunkSize } : {})
      })
      await r.body.text()
      if (r.statusCode !== 200) throw new Error(`push: HTTP ${r.statusCode}`)
    }
    const pull = async (from: string, file: string) => {
      const r = await agent.request({ origin: "http://lxd", path: filesUrl(instance, from), method: "GET" })
      if (r.statusCode !== 200) throw new Error(`pull: HTTP ${r.statusCode}`)
      await pipeline(r.body, fs.createWriteStream(file))
    }
    await push(warmLocal, "/root/warm.bin")
    await pull("/root/warm.bin", warmLocal)
    out = await sampleRss(() => (mode === "push-raw" ? push(local, remote) : pull(remote, local)))
    await agent.close()
  }
  fs.rmSync(warmLocal, { force: true })
  process.stdout.write(JSON.stringify(out) + "\n")
}

// ---------------------------------------------------------------------------------------------------------------
// parent

const runChild = async (
  mode: string,
  rest: ReadonlyArray<string>,
  bytes: number,
  nodeFlags: ReadonlyArray<string> = []
): Promise<Measure> => {
  const profile = process.env.FILES_BENCH_PROFILE
  const flags = ["--expose-gc", ...nodeFlags, ...(profile ? ["--cpu-prof", `--cpu-prof-dir=${profile}`] : [])]
  const r = await run(process.execPath, [...flags, ...process.execArgv, SELF, "--child", mode, ...rest])
  if (r.code !== 0) throw new Error(`${mode} failed (exit ${r.code}):\n${r.stderr}`)
  const line = r.stdout.trim().split("\n").pop()!
  const m = JSON.parse(line) as Omit<Measure, "bytes">
  return { ...m, bytes }
}

const curl = async (socket: string, args: ReadonlyArray<string>, bytes: number): Promise<Measure> => {
  const t0 = performance.now()
  const perfDir = process.env.FILES_BENCH_PERF
  const perf = perfDir === undefined
    ? []
    : ["perf", "record", "-g", "-o", path.join(perfDir, `curl-${performance.now().toFixed(0)}.data`), "--"]
  const r = await run(perf[0] ?? "/usr/bin/time", [
    ...perf.slice(1),
    ...(perf.length > 0 ? ["/usr/bin/time"] : []),
    "-f",
    "%U %S",
    "curl",
    "-sS",
    "--fail",
    "--unix-socket",
    socket,
    ...args
  ])
  const ms = performance.now() - t0
  if (r.code !== 0) throw new Error(`curl ${args.join(" ")} failed: ${r.stderr}`)
  const [user, sys] = r.stderr.trim().split("\n").pop()!.split(" ").map(Number)
  return { ms, cpuMs: ((user ?? Number.NaN) + (sys ?? Number.NaN)) * 1000, rssMiB: Number.NaN, bytes }
}

const sha256File = (file: string) =>
  new Promise<string>((resolve, reject) => {
    const h = createHash("sha256")
    fs.createReadStream(file).on("data", (c) => h.update(c)).on("end", () => resolve(h.digest("hex"))).on(
      "error",
      reject
    )
  })

/** A seeded xorshift32 generator of 32-bit words. */
const xorshift32 = (seed: number) => {
  let x = (seed * 0x9e3779b9) >>> 0 || 1
  return () => {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    return x
  }
}

/** Deterministic pseudo-random content (xorshift32), written 1 MiB at a time. */
const writeContent = (file: string, size: number) => {
  const fd = fs.openSync(file, "w")
  const words = new Uint32Array(MiB / 4)
  const next = xorshift32(1)
  for (let off = 0; off < size; off += MiB) {
    for (let i = 0; i < words.length; i++) words[i] = next()
    fs.writeSync(fd, new Uint8Array(words.buffer, 0, Math.min(MiB, size - off)))
  }
  fs.closeSync(fd)
}

const main = async () => {
  const runs = Number(process.env.FILES_BENCH_RUNS ?? 5)
  const size = Number(process.env.FILES_BENCH_MIB ?? 256) * MiB
  const withDiag = process.env.FILES_BENCH_DIAG !== "0"
  const lab = await startLab(log)
  const instance = `bench-files-${process.pid}`
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "bench-files-"))
  const runtime = lxdRuntime(lab.socket)
  try {
    await runtime.runPromise(
      Effect.flatMap(LxdClient.LxdClient, (c) =>
        c.run({
          method: "POST",
          path: "/instances",
          body: { name: instance, source: { type: "image", alias: "busybox" } }
        }))
    )
    const source = path.join(work, "source.bin")
    writeContent(source, size)
    const sourceHash = await sha256File(source)
    log(`${size / MiB} MiB source ${sourceHash.slice(0, 16)}…, instance ${instance} (stopped), ${runs} runs`)

    type Client = { readonly id: string; readonly label: string; readonly go: (run: number) => Promise<Measure> }
    const url = (remote: string) => `http://lxd${filesUrl(instance, remote)}`
    // a push row `push-x` writes `/root/x-{run}.bin`; every pull reads effect-lxd's push, into `{work}/x-{run}.out`
    const pushedTo = (id: string, r: number) => `/root/${id.replace("push-", "")}-${r}.bin`
    const pulled = (r: number) => pushedTo("push-effect", r)
    const pulledTo = (id: string, r: number) => path.join(work, `${id.replace("pull-", "")}-${r}.out`)
    const pushChild = (id: string, label: string, mode: string, flags?: ReadonlyArray<string>): Client => ({
      id,
      label,
      go: (r) => runChild(mode, [lab.socket, instance, source, pushedTo(id, r)], size, flags)
    })
    const pullChild = (id: string, label: string, mode: string, flags?: ReadonlyArray<string>): Client => ({
      id,
      label,
      go: (r) => runChild(mode, [lab.socket, instance, pulledTo(id, r), pulled(r)], size, flags)
    })
    const clients: Array<Client> = [
      {
        id: "push-curl",
        label: "push: curl --data-binary @file",
        go: (r) =>
          curl(lab.socket, [
            "-X",
            "POST",
            "-H",
            "Content-Type: application/octet-stream",
            "--data-binary",
            `@${source}`,
            "-o",
            "/dev/null",
            url(pushedTo("push-curl", r))
          ], size)
      },
      pushChild("push-effect", "push: effect-lxd NodeFiles.pushFile", "push-effect"),
      {
        id: "pull-curl",
        label: "pull: curl -o",
        go: (r) => curl(lab.socket, ["-o", pulledTo("pull-curl", r), url(pulled(r))], size)
      },
      pullChild("pull-effect", "pull: effect-lxd NodeFiles.pullFile", "pull-effect"),
      ...(withDiag
        ? [
          pushChild("push-effect-semi", "(diag) push: effect-lxd, node --max-semi-space-size=1", "push-effect", SEMI),
          pullChild("pull-effect-semi", "(diag) pull: effect-lxd, node --max-semi-space-size=1", "pull-effect", SEMI),
          pushChild("push-raw", "(diag) push: undici + fs stream", "push-raw"),
          pullChild("pull-download-sync", "(diag) pull: effect-lxd Files.download, sync writes", "pull-download-sync"),
          pullChild(
            "pull-floor",
            "(diag) pull: raw socket, reused 1 MiB buffer, sync writes (Node's floor)",
            "pull-floor"
          ),
          pullChild("pull-raw", "(diag) pull: undici + fs stream", "pull-raw")
        ]
        : [])
    ]
    // FILES_BENCH_ONLY=id,id…: only these rows (ids as in `clients`)
    const only = process.env.FILES_BENCH_ONLY?.split(",")
    if (only !== undefined) {
      for (let i = clients.length - 1; i >= 0; i--) if (!only.includes(clients[i]!.id)) clients.splice(i, 1)
    }
    const results = new Map<string, Array<Measure>>(clients.map((c) => [c.id, []]))
    // pushes come before pulls of the same run; every pull reads the file effect-lxd's push wrote (our round
    // trip, and the same remote file for every client); the order of clients is shuffled in each run (seeded),
    // so that no client always follows the same one: a rotation keeps neighbours, and what the transfer before
    // left in memory (its page cache just freed) changes what the next one pays
    const pushes = clients.filter((c) => c.id.startsWith("push"))
    const pulls = clients.filter((c) => c.id.startsWith("pull"))
    const next = xorshift32(Number(process.env.FILES_BENCH_SEED ?? 1))
    const random = () => next() / 0x100000000
    for (let r = 0; r < runs; r++) {
      for (const group of [pushes, pulls]) {
        const order = [...group]
        for (let i = order.length - 1; i > 0; i--) {
          const j = Math.floor(random() * (i + 1))
          ;[order[i], order[j]] = [order[j]!, order[i]!]
        }
        for (const c of order) {
          // every transfer starts with no dirty pages: the kernel's writeback of the transfer before (256 MiB
          // written) would otherwise compete for the CPUs with whichever client comes next
          await new Promise((resolve) => spawn("sync").on("exit", resolve))
          const m = await c.go(r)
          results.get(c.id)!.push(m)
          if (c.id.startsWith("pull")) {
            // the pulled copy is the source; removed at once, so every pull starts with the same free memory
            const file = pulledTo(c.id, r)
            const h = await sha256File(file)
            if (h !== sourceHash) throw new Error(`${c.label}: sha256 mismatch in run ${r + 1}`)
            fs.rmSync(file)
          }
          log(
            `run ${r + 1} ${c.label}: ${m.ms.toFixed(0)} ms, CPU ${m.cpuMs.toFixed(0)} ms${
              m.sysMs === undefined ? "" : ` (sys ${m.sysMs.toFixed(0)}, ${m.vcsw} voluntary switches)`
            }${Number.isNaN(m.rssMiB) ? "" : `, RSS +${m.rssMiB.toFixed(1)} MiB`}`
          )
        }
      }
      await runtime.runPromise(
        Effect.flatMap(LxdClient.LxdClient, (c) =>
          Effect.forEach(
            clients.filter((x) => x.id.startsWith("push")),
            (x) =>
              c.request({
                method: "DELETE",
                path: `/instances/${instance}/files`,
                query: { path: pushedTo(x.id, r) }
              })
          ))
      )
    }

    const mibs = (m: Measure) => m.bytes / MiB / (m.ms / 1000)
    const row = (c: Client) => {
      const ms = results.get(c.id)!
      const med = median(ms.map((m) => m.ms))
      const rss = ms.map((m) => m.rssMiB).filter((x) => !Number.isNaN(x))
      return {
        c,
        med,
        cpu: median(ms.map((m) => m.cpuMs)),
        rss: rss.length === 0 ? undefined : Math.max(...rss),
        mibs: median(ms.map(mibs))
      }
    }
    const rows = clients.map(row)
    const curlMed = (dir: string) => rows.find((x) => x.c.id === `${dir}-curl`)!.med
    const lines: Array<string> = []
    lines.push(
      `# effect-lxd file transfer bench (${
        new Date().toISOString()
      }, node ${process.version}, ${os.cpus().length} CPUs, load ${os.loadavg().map((l) => l.toFixed(2)).join(" ")})`
    )
    lines.push("")
    lines.push(
      `| transfer (${
        size / MiB
      } MiB, ${runs} runs) | median ms | MiB/s | vs curl (throughput) | client CPU ms | peak RSS growth MiB (max of runs) | target | verdict |`
    )
    lines.push("|---|---:|---:|---:|---:|---:|---|---|")
    for (const r of rows) {
      const dir = r.c.id.split("-")[0]!
      const ratio = curlMed(dir) / r.med
      const isEffect = r.c.id.endsWith("effect")
      const target = isEffect ? "≥ 0.90× curl, ≤ 32 MiB" : ""
      const verdict = isEffect ? (ratio >= 0.9 && (r.rss ?? 0) <= 32 ? "PASS" : "MISS") : ""
      lines.push(
        `| ${r.c.label} | ${r.med.toFixed(0)} | ${r.mibs.toFixed(0)} | ${
          r.c.id.endsWith("curl") ? "1.00" : ratio.toFixed(2)
        } | ${r.cpu.toFixed(0)} | ${r.rss === undefined ? "–" : r.rss.toFixed(1)} | ${target} | ${verdict} |`
      )
    }
    lines.push("")
    lines.push(
      "Per run (ms): " +
        rows.map((r) => `${r.c.id} ${results.get(r.c.id)!.map((m) => m.ms.toFixed(0)).join("/")}`).join("; ")
    )
    process.stdout.write(lines.join("\n") + "\n")
  } finally {
    await runtime.runPromise(
      Effect.flatMap(
        LxdClient.LxdClient,
        (c) => Effect.ignore(c.run({ method: "DELETE", path: `/instances/${instance}` }))
      )
    ).catch(() => undefined)
    await runtime.dispose()
    fs.rmSync(work, { recursive: true, force: true })
    await lab.stop()
  }
}

entry(child, main)

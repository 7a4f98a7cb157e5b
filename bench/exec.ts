/**
 * Exec benchmarks (issue 5), in one run against one daemon:
 *  1. `exec echo hi` round trip: effect-lxd vs raw node:http + ws, `lxc exec`, and pylxd (Debian's python3-pylxd)
 *     — target: effect-lxd ≤ 1.15× raw node;
 *  2. a command printing 1 GiB to stdout, streamed through effect-lxd: throughput and peak RSS growth
 *     — target: RSS growth ≤ 32 MiB; raw ws alongside for throughput.
 *
 *   node_modules/.bin/tsx bench/exec.ts        (starts its own lab daemon; or LXD_SOCKET=… for an existing one)
 */
import { Exec, LxdClient } from "@effect-lxd/core"
import { NodeLxdTransport } from "@effect-lxd/node"
import { Effect, Layer, ManagedRuntime, Stream } from "effect"
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import WebSocket from "ws"
import { startLab } from "./lab.js"
import { median, percentile, ratio } from "./stats.js"

const N = Number(process.env["EXEC_N"] ?? 100)
const STREAM_ONLY = process.env["EXEC_STREAM_ONLY"]
const GiB = 1024 * 1024 * 1024
const NAME = "bench-exec"

const lab = await startLab()
const socketPath = lab.socket
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 })

const rawJson = (method: string, p: string, body?: unknown) =>
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  new Promise<{ status: number; json: any }>((resolve, reject) => {
    const req = http.request(
      { socketPath, agent, method, path: p, headers: { "content-type": "application/json" } },
      (res) => {
        const chunks: Array<Buffer> = []
        res.on("data", (c: Buffer) => chunks.push(c))
        res.on(
          "end",
          () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString("utf8")) })
        )
      }
    )
    req.on("error", reject)
    req.end(body === undefined ? undefined : JSON.stringify(body))
  })
const waitOp = (op: string) => rawJson("GET", `${op}/wait?timeout=60`)

/** A raw exec: POST, four websockets (control first), stdin closed, stdout until the barrier, wait the op. */
const rawExec = async (command: ReadonlyArray<string>, onStdout?: (b: Buffer) => void): Promise<number> => {
  const { json } = await rawJson("POST", `/1.0/instances/${NAME}/exec`, {
    command,
    "wait-for-websocket": true,
    interactive: false,
    environment: {}
  })
  const op: string = json.operation
  const fds: Record<string, string> = json.metadata.metadata.fds
  const open = (fd: string) =>
    new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(`ws+unix://${socketPath}:${op}/websocket?secret=${fds[fd]}`)
      ws.once("open", () => resolve(ws))
      ws.once("error", reject)
    })
  const control = await open("control")
  const [stdin, stdout, stderr] = await Promise.all([open("0"), open("1"), open("2")])
  stdin.close()
  const drain = (ws: WebSocket, sink?: (b: Buffer) => void) =>
    new Promise<void>((resolve) => {
      ws.on("message", (data, isBinary) => {
        if (!isBinary) {
          resolve()
          ws.close()
        } else sink?.(data as Buffer)
      })
      ws.on("close", () => resolve())
    })
  const [, , result] = await Promise.all([drain(stdout, onStdout), drain(stderr), waitOp(op)])
  control.close()
  return result.json.metadata.metadata.return as number
}

const runtime = ManagedRuntime.make(
  Exec.layer.pipe(Layer.provideMerge(LxdClient.layer), Layer.provide(NodeLxdTransport.layerUnixSocket({ socketPath })))
)
const lxdExec = (command: ReadonlyArray<string>) =>
  runtime.runPromise(Effect.flatMap(Exec.Exec, (x) => x.run(NAME, command)))

const env: NodeJS.ProcessEnv = {
  ...process.env,
  LXD_DIR: path.dirname(socketPath),
  LXD_CONF: fs.mkdtempSync(path.join(os.tmpdir(), "lxc-conf-"))
}
delete env["LXD_SOCKET"]
const lxcExec = () => execFileSync("lxc", ["exec", NAME, "--", "echo", "hi"], { env, stdio: "pipe" })

const pylxd = (): Array<number> | string => {
  const script = `
import time, json, sys
from urllib.parse import quote
from pylxd import Client
c = Client(endpoint='http+unix://' + quote(sys.argv[1], safe=''))
ct = c.containers.get(sys.argv[2])
out = []
for i in range(int(sys.argv[3])):
    t = time.perf_counter(); r = ct.execute(['echo', 'hi']); out.append((time.perf_counter() - t) * 1000)
    assert r.exit_code == 0 and r.stdout == 'hi\\n', r
print(json.dumps(out))
`
  const python = fs.existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3" // Debian's python3-pylxd lives there
  const r = spawnSync(python, ["-c", script, socketPath, NAME, String(Math.min(N, 10))], { encoding: "utf8" })
  if (r.status !== 0) return (r.stderr || "python3-pylxd not available").trim().split("\n").slice(-1)[0]!
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as Array<number>
}

const time = async (f: () => Promise<unknown> | unknown) => {
  const t = performance.now()
  await f()
  return performance.now() - t
}

const measure = async (f: () => Promise<number>) => {
  const base = process.memoryUsage.rss()
  let peak = base
  const timer = setInterval(() => peak = Math.max(peak, process.memoryUsage.rss()), 10)
  const t = performance.now()
  const bytes = await f()
  const seconds = (performance.now() - t) / 1000
  clearInterval(timer)
  return { bytes, seconds, growth: (peak - base) / 1024 / 1024, base: base / 1024 / 1024 }
}
const streamCommand = ["head", "-c", String(GiB), "/dev/zero"]

if (STREAM_ONLY !== undefined) {
  const stream = (command: ReadonlyArray<string>): Promise<number> =>
    STREAM_ONLY === "lxd-lend"
      ? runtime.runPromise(Effect.gen(function*() {
        const x = yield* Exec.Exec
        let bytes = 0
        yield* x.run(NAME, command, { lend: true, onStdout: (c) => Effect.sync(() => bytes += c.length) })
        return bytes
      }))
      : STREAM_ONLY === "lxd"
      ? runtime.runPromise(Effect.scoped(Effect.gen(function*() {
        const x = yield* Exec.Exec
        const p = yield* x.start(NAME, command)
        const [bytes] = yield* Effect.all([
          Stream.runFold(p.stdout, 0, (n, c) => n + c.length),
          Stream.runDrain(p.stderr),
          p.exit
        ], { concurrency: "unbounded" })
        return bytes
      })))
      : (async () => {
        let bytes = 0
        await rawExec(command, (b) => bytes += b.length)
        return bytes
      })()
  if (process.env["EXEC_STREAM_WARM"] === "1") {
    // the same path once through 32 MiB (its code compiled, its buffers made), then a full GC, as bench/files.ts
    await stream(["head", "-c", String(32 * 1024 * 1024), "/dev/zero"])
    ;(globalThis as { gc?: () => void }).gc?.()
  }
  const result = await measure(() => stream(streamCommand))
  console.log(JSON.stringify(result))
  await runtime.dispose()
  agent.destroy()
  process.exit(0)
}

try {
  await rawJson("POST", "/1.0/instances", { name: NAME, source: { type: "image", alias: "busybox" } }).then((r) =>
    waitOp(r.json.operation)
  )
  await rawJson("PUT", `/1.0/instances/${NAME}/state`, { action: "start" }).then((r) => waitOp(r.json.operation))

  // 1. latency, interleaved rounds
  const samples: Record<string, Array<number>> = { raw: [], lxd: [], lxc: [] }
  for (let i = 0; i < 10; i++) {
    await rawExec(["echo", "hi"])
    await lxdExec(["echo", "hi"])
  }
  for (let round = 0; round < N; round++) {
    samples.raw!.push(await time(() => rawExec(["echo", "hi"])))
    samples.lxd!.push(await time(() => lxdExec(["echo", "hi"])))
    if (round % 4 === 0) samples.lxc!.push(await time(lxcExec))
  }
  const py = pylxd()
  const rawMedian = median(samples.raw!)
  console.log(
    `\neffect-lxd exec benchmarks, ${
      new Date().toISOString()
    }, node ${process.version}, ${os.cpus().length} cpus, load ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}`
  )
  console.log(`\n1. exec echo hi round trip (median / p95 over n, interleaved)`)
  const row = (name: string, xs: ReadonlyArray<number>) =>
    console.log(
      `   ${name.padEnd(36)} n=${String(xs.length).padStart(3)}  median ${median(xs).toFixed(1).padStart(7)} ms  p95 ${
        percentile(xs, 95).toFixed(1).padStart(7)
      } ms  ${ratio(median(xs) / rawMedian)} raw`
    )
  row("raw node:http + ws", samples.raw!)
  row("effect-lxd Exec.run", samples.lxd!)
  row("lxc exec (process spawn included)", samples.lxc!)
  if (typeof py === "string") console.log(`   pylxd: not measured (${py})`)
  else row("pylxd 2.2.10 execute()", py)
  const verdict = median(samples.lxd!) / rawMedian <= 1.15 ? "met" : "MISSED"
  console.log(`   target effect-lxd <= 1.15x raw: ${ratio(median(samples.lxd!) / rawMedian)} ${verdict}`)

  // 2. 1 GiB through stdout, each client in a fresh process so none inherits another's heap; cold (the first
  // stream of the process: its code is compiled on the way) and warm (after 32 MiB through the same path and a
  // full GC, as bench/files.ts measures)
  const child = (client: string, warm: boolean) => {
    const r = spawnSync(process.execPath, ["--expose-gc", ...process.execArgv, new URL(import.meta.url).pathname], {
      env: { ...process.env, LXD_SOCKET: socketPath, EXEC_STREAM_ONLY: client, EXEC_STREAM_WARM: warm ? "1" : "0" },
      encoding: "utf8",
      timeout: 300_000
    })
    const line = r.stdout.trim().split("\n").pop() ?? ""
    if (r.status !== 0 || !line.startsWith("{")) throw new Error(`${client} stream child failed: ${r.stderr}`)
    return JSON.parse(line) as { bytes: number; seconds: number; growth: number; base: number }
  }
  const clients = [
    ["lxd-lend", "effect-lxd Exec.run, onStdout, lend"],
    ["lxd", "effect-lxd Exec.start, stdout Stream"],
    ["raw", "raw node ws (no backpressure)"]
  ] as const
  const results = clients.map(([client, name]) => ({ name, warm: child(client, true), cold: child(client, false) }))
  console.log(`\n2. 1 GiB through stdout (head -c 1GiB /dev/zero), each client in a fresh process`)
  for (const { cold, name, warm } of results) {
    console.log(
      `   ${name.padEnd(36)} ${(warm.bytes / GiB).toFixed(3)} GiB in ${warm.seconds.toFixed(2)} s = ${
        (warm.bytes / 1024 / 1024 / warm.seconds).toFixed(0)
      } MiB/s, RSS ${warm.base.toFixed(0)} MiB + peak growth ${warm.growth.toFixed(1)} MiB warm, ${
        cold.growth.toFixed(1)
      } MiB cold (${(cold.bytes / 1024 / 1024 / cold.seconds).toFixed(0)} MiB/s)`
    )
  }
  const target = results[0]!.warm.growth
  console.log(
    `   target RSS growth <= 32 MiB (Exec.run, lend, warm): ${target.toFixed(1)} MiB ${target <= 32 ? "met" : "MISSED"}`
  )
} finally {
  await runtime.dispose()
  agent.destroy()
  await lab.stop()
}

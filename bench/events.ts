/**
 * Events benchmarks (issue 13), in one run, no LXD needed: a local websocket feed (a worker thread serving
 * `ws` on a unix socket) replays real LXD 5.0.2 event frames (`bench/fixtures/lxd-5.0.2-events.jsonl`, captured
 * from a lab daemon with `lxc monitor --format json` during a profile and container life cycle: 203 logging,
 * 55 operation, 12 lifecycle frames, 336 bytes on average).
 *
 *  1. events decoded per second on the main thread (the feed writes the whole burst, encoded beforehand, in one
 *     write: the client reads as fast as it can): effect-lxd's `Events.stream` over
 *     `NodeLxdTransport.layerUnixSocket` (the websocket client and decode users get) ÷ a bare `ws` client with
 *     `JSON.parse` per message — target ≥ 0.8×, and ≥ 20,000 events/s absolute. Two diagnostic rows split the
 *     cost: `(diag) transport` reads the transport's websocket alone (`read` in a loop, `JSON.parse` per frame),
 *     `(diag) texts` the subscription's buffered text stream (`internal/events.ts` `subscribe`, no decode); the
 *     gap between `texts` and `Events.stream` is the decode. CPU ratios are given for the medians and for the
 *     best run of each (on a loaded machine other processes only add to a run's CPU time);
 *  2. a consumer 10× slower than the feed (the feed paced at 10,000 events/s, the consumer sleeping 1 ms per
 *     event): RSS every second under each overflow policy (`fail`, `dropping`, `sliding`) — target: flat.
 *
 *   node --expose-gc --import tsx bench/events.ts   (EVENTS_N=… events per run, EVENTS_ROUNDS=…, EVENTS_SLOW_S=…;
 *                                                    --expose-gc: a full GC before each RSS sample)
 */
import { Events, LxdClient } from "@effect-lxd/core"
import { NodeLxdTransport } from "@effect-lxd/node"
import { Effect, Layer, ManagedRuntime, Stream } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Worker } from "node:worker_threads"
import WebSocket from "ws"
import * as EventsInternal from "../packages/core/src/internal/events.js"
import { median, ratio } from "./stats.js"

const N = Number(process.env["EVENTS_N"] ?? 100_000)
const ROUNDS = Number(process.env["EVENTS_ROUNDS"] ?? 5)
const SLOW_SECONDS = Number(process.env["EVENTS_SLOW_S"] ?? 10)
const FEED_RATE = 10_000

const here = path.dirname(fileURLToPath(import.meta.url))
const frames = fs.readFileSync(path.join(here, "fixtures", "lxd-5.0.2-events.jsonl"), "utf8").split("\n")
  .filter((l) => l.trim() !== "")
const socketPath = path.join(os.tmpdir(), `effect-lxd-events-bench-${process.pid}.sock`)

// --- the feed: a worker thread, so the client's thread does nothing but read and decode ------------------

const feedSource = `
const { parentPort, workerData } = require("node:worker_threads")
const http = require("node:http")
const fs = require("node:fs")
const { WebSocketServer } = require(workerData.ws)
const frames = workerData.frames
const encoded = frames.map((f) => {
  const payload = Buffer.from(f, "utf8")
  const n = payload.length
  const head = n < 126 ? Buffer.from([0x81, n]) : n < 65536 ? Buffer.from([0x81, 126, n >> 8, n & 255]) : null
  if (head === null) throw new Error("frame too large")
  return Buffer.concat([head, payload])
})
const bursts = new Map()
const burst = (n) => {
  let b = bursts.get(n)
  if (b === undefined) {
    const parts = []
    for (let i = 0; i < n; i++) parts.push(encoded[i % encoded.length])
    b = Buffer.concat(parts)
    bursts.set(n, b)
  }
  return b
}
let mode = { kind: "burst", n: 0 }
parentPort.on("message", (m) => { mode = m })
try { fs.unlinkSync(workerData.socketPath) } catch {}
const server = http.createServer((_, res) => { res.statusCode = 404; res.end() })
const wss = new WebSocketServer({ server })
wss.on("connection", (ws) => {
  const m = mode
  let i = 0
  let open = true
  ws.on("close", () => { open = false })
  ws.on("error", () => { open = false })
  if (m.kind === "burst") {
    // the n frames encoded once (unmasked text frames, as a server sends them) and written in one go: the
    // client never waits for the feed, and the feed's thread does no per-event work
    ws._socket.write(burst(m.n))
  } else {
    // paced: rate events per second in 10 ms ticks, for seconds
    const perTick = m.rate / 100
    const started = Date.now()
    const timer = setInterval(() => {
      if (!open || Date.now() - started > m.seconds * 1000) { clearInterval(timer); if (open) ws.close(1000); return }
      for (let k = 0; k < perTick; k++) ws.send(frames[i++ % frames.length])
    }, 10)
  }
})
server.listen(workerData.socketPath, () => parentPort.postMessage("listening"))
`

const feed = new Worker(feedSource, {
  eval: true,
  workerData: { frames, socketPath, ws: path.join(here, "..", "node_modules", "ws") }
})
await new Promise<void>((resolve, reject) => {
  feed.once("message", () => resolve())
  feed.once("error", reject)
})
const setMode = (m: { kind: "burst"; n: number } | { kind: "paced"; rate: number; seconds: number }) =>
  feed.postMessage(m)

// --- the clients ---------------------------------------------------------------------------------------------

/** Bare `ws` + `JSON.parse`: ms to receive and parse n events. */
const bare = (n: number): Promise<number> =>
  new Promise((resolve, reject) => {
    const t0 = performance.now()
    const ws = new WebSocket(`ws+unix://${socketPath}:/1.0/events`)
    let count = 0
    let sink = 0
    ws.on("message", (data) => {
      const event = JSON.parse(String(data)) as { type: string }
      sink += event.type.length
      if (++count === n) {
        const ms = performance.now() - t0
        ws.terminate()
        resolve(sink > 0 ? ms : ms)
      }
    })
    ws.on("error", reject)
  })

const runtime = ManagedRuntime.make(
  Events.layer.pipe(
    Layer.provideMerge(LxdClient.layer),
    Layer.provide(NodeLxdTransport.layerUnixSocket({ socketPath }))
  )
)

/** effect-lxd `Events.stream`: ms to receive and decode n events. */
const effectLxd = (n: number): Promise<number> =>
  runtime.runPromise(Effect.gen(function*() {
    const events = yield* Events.Events
    const t0 = performance.now()
    yield* events.stream({ bufferSize: 8192 }).pipe(Stream.take(n), Stream.runDrain)
    return performance.now() - t0
  }))

/** (diag) the transport's websocket alone: `read` in a loop and `JSON.parse` per frame, no Events layer. */
const transportOnly = (n: number): Promise<number> =>
  runtime.runPromise(Effect.scoped(Effect.gen(function*() {
    const client = yield* LxdClient.LxdClient
    const t0 = performance.now()
    const socket = yield* client.websocket("/events", {})
    let count = 0
    let sink = 0
    while (count < n) {
      const frames = yield* Effect.orDie(socket.read)
      for (const frame of frames) {
        sink += (JSON.parse(frame as string) as { type: string }).type.length
        count++
      }
    }
    return sink > 0 ? performance.now() - t0 : 0
  })))

/** (diag) the subscription's text stream (no decode), `JSON.parse` per text. */
const textsOnly = (n: number): Promise<number> =>
  runtime.runPromise(Effect.scoped(Effect.gen(function*() {
    const client = yield* LxdClient.LxdClient
    const t0 = performance.now()
    const texts = yield* EventsInternal.subscribe(client.websocket, { bufferSize: 8192 })
    let sink = 0
    yield* texts.pipe(
      Stream.take(n),
      Stream.runForEachChunk((chunk) =>
        Effect.sync(() => {
          for (const text of chunk) sink += (JSON.parse(text) as { type: string }).type.length
        })
      )
    )
    return sink > 0 ? performance.now() - t0 : 0
  })))

// --- 1. throughput -------------------------------------------------------------------------------------------

const ONLY = process.env["EVENTS_ONLY"] // "bare" or "effect": one client only (for a profile)
const clients = [
  { id: "bare", label: "bare ws + JSON.parse", run: bare },
  { id: "effect", label: "effect-lxd Events.stream", run: effectLxd },
  { id: "transport", label: "(diag) transport + JSON.parse", run: transportOnly },
  { id: "texts", label: "(diag) texts + JSON.parse", run: textsOnly }
].filter((c) => ONLY === undefined || c.id === ONLY)
const times = new Map<string, Array<number>>(clients.map((c) => [c.id, []]))
/** CPU ms (user + system, of the process: the feed's thread only writes once) per run. */
const cpus = new Map<string, Array<number>>(clients.map((c) => [c.id, []]))

process.stderr.write(`events bench: ${frames.length} distinct frames, ${N} events per run, ${ROUNDS} rounds\n`)
for (const c of clients) {
  setMode({ kind: "burst", n: 20_000 })
  await c.run(20_000) // warm-up
}
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 === 0 ? clients : [...clients].reverse()
  for (const c of order) {
    setMode({ kind: "burst", n: N })
    const cpu0 = process.cpuUsage()
    times.get(c.id)!.push(await c.run(N))
    const cpu = process.cpuUsage(cpu0)
    cpus.get(c.id)!.push((cpu.user + cpu.system) / 1000)
  }
}
const rate = (id: string) => N / (median(times.get(id) ?? []) / 1000)
const cpuRate = (id: string) => N / (median(cpus.get(id) ?? []) / 1000)
/** The least CPU of any run: other processes on a loaded machine only ever add to a run's CPU time. */
const bestCpuRate = (id: string) => N / (Math.min(...(cpus.get(id) ?? [])) / 1000)

// --- 2. a slow consumer: RSS over time under each policy -----------------------------------------------------

const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1)
const slow = (overflow: Events.Overflow) =>
  runtime.runPromise(Effect.gen(function*() {
    const events = yield* Events.Events
    global.gc?.()
    const rss: Array<string> = []
    let seen = 0
    // with --expose-gc, a full GC before each sample: what is left is what the stream holds
    const sampler = setInterval(() => {
      global.gc?.()
      const m = process.memoryUsage()
      rss.push(`${mib(m.rss)}/${mib(m.heapUsed)}`)
    }, 1000)
    const t0 = performance.now()
    setMode({ kind: "paced", rate: FEED_RATE, seconds: SLOW_SECONDS })
    const outcome = yield* events.stream({ overflow }).pipe(
      Stream.runForEach(() => Effect.zipRight(Effect.sync(() => seen++), Effect.sleep("1 millis"))),
      Effect.timeout(`${SLOW_SECONDS + 15} seconds`),
      Effect.match({
        onFailure: (e) => `${e._tag} after ${((performance.now() - t0) / 1000).toFixed(1)} s`,
        onSuccess: () => "ended"
      })
    )
    clearInterval(sampler)
    return { overflow, seen, outcome, rss }
  }))

const slowRuns: Array<Awaited<ReturnType<typeof slow>>> = []
for (const policy of ["fail", "dropping", "sliding"] as const) slowRuns.push(await slow(policy))

await runtime.dispose()
await feed.terminate()
fs.rmSync(socketPath, { force: true })

const fmt = (n: number) => Math.round(n).toLocaleString("en-US")
const lines = [
  `effect-lxd events benchmarks, ${new Date().toISOString()}, node ${process.version}, ${os.cpus().length} cpus, load ${
    os.loadavg().map((l) => l.toFixed(2)).join(" ")
  }`,
  "",
  `1. events decoded per second (${N} events per run, median of ${ROUNDS}, feed in a worker thread)`,
  ...clients.map((c) =>
    `   ${c.label.padEnd(28)} ${fmt(rate(c.id)).padStart(9)} events/s wall, ${
      fmt(cpuRate(c.id)).padStart(9)
    } events per CPU-second   runs (ms wall / CPU): ${
      times.get(c.id)!.map((t, i) => `${t.toFixed(0)}/${cpus.get(c.id)![i]!.toFixed(0)}`).join(" ")
    }`
  ),
  `   effect-lxd ÷ bare: ${ratio(rate("effect") / rate("bare"))} wall, ${
    ratio(cpuRate("effect") / cpuRate("bare"))
  } per CPU-second (median), ${
    ratio(bestCpuRate("effect") / bestCpuRate("bare"))
  } per CPU-second (best run of each); target ≥ 0.80x and ≥ 20,000 events/s: ${
    rate("effect") / rate("bare") >= 0.8 && rate("effect") >= 20_000 ? "met" : "MISSED"
  } (wall)`,
  "",
  `2. a consumer 10x slower than the feed (${FEED_RATE} events/s for ${SLOW_SECONDS} s, 1 ms per event), bufferSize 1024`,
  ...slowRuns.map((r) =>
    `   ${r.overflow.padEnd(9)} consumed ${String(r.seen).padStart(6)}, ${r.outcome}; RSS/heap MiB each second${
      global.gc ? " (after a full GC)" : ""
    }: ${r.rss.join(" ")}`
  )
]
process.stdout.write(`${lines.join("\n")}\n`)

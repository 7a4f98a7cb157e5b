/**
 * effect-lxd benchmarks against a throwaway LXD daemon, each side by side with a plain `node:http` baseline.
 *
 *   node_modules/.bin/tsx bench/index.ts          (or: pnpm bench)
 *   LXD_SOCKET=/path/unix.socket node_modules/.bin/tsx bench/index.ts   (use an existing daemon)
 *
 * See bench/README.md for what each benchmark measures and its target.
 */
import { Instance } from "@effect-lxd/core/Instances"
import * as LxdClient from "@effect-lxd/core/LxdClient"
import { ServerInfo } from "@effect-lxd/core/LxdSchema"
import * as NodeLxdTransport from "@effect-lxd/node/NodeLxdTransport"
import { Effect, Layer, ManagedRuntime, Schema } from "effect"
import * as os from "node:os"
// the decoder the engine runs for `LxdClient.sync` (internal: not exported by the package)
import * as FastDecode from "../packages/core/src/internal/fastDecode.js"
import { fetchRealInstance, synthesizeList } from "./instance.js"
import { isExiting, startLab } from "./lab.js"
import { makeRawClient, makeUndiciClient } from "./raw.js"
import { median, ms, percentile, ratio, renderTable, type Row, separator, sum } from "./stats.js"

const SEQ_WARMUP = 200
const SEQ_ROUNDS = 8
const SEQ_BLOCK = 250
const CONC_WARMUP = 200
const CONC_ROUNDS = 8
const CONC_BLOCK = 250
const CONCURRENCY = 16
const DECODE_INSTANCES = 500
const DECODE_WARMUP = 10
const DECODE_ITERATIONS = 50

const log = (line: string) => process.stderr.write(`${line}\n`)

const GET_SERVER: LxdClient.Request = { method: "GET", path: "" }

/**
 * `lean`: the transport as users get it (the engine sends envelope requests on its lean JSON path). Otherwise an
 * identity `transformClient`, which turns the lean path off: every request goes through `@effect/platform`'s
 * `HttpClient`, as it does for anyone who wraps the client.
 */
const makeRuntime = (socketPath: string, options: { readonly lean: boolean }) =>
  ManagedRuntime.make(
    LxdClient.layer.pipe(Layer.provide(NodeLxdTransport.layerUnixSocket({
      socketPath,
      ...(options.lean ? {} : { transformClient: (client) => client })
    })))
  )
type Runtime = ReturnType<typeof makeRuntime>

// --- clients ---------------------------------------------------------------------------------------------

interface ConcResult {
  readonly wallMs: number
  readonly latencies: Array<number>
}

/** One client under test: `n` sequential requests (per-request latencies), or `n` requests `c` at a time. */
interface Client {
  readonly id: string
  readonly label: string
  readonly seq: (n: number) => Promise<Array<number>>
  readonly conc: (n: number, concurrency: number) => Promise<ConcResult>
}

const promiseClient = (id: string, label: string, get: () => Promise<unknown>): Client => ({
  id,
  label,
  seq: async (n) => {
    const out = new Array<number>(n)
    for (let i = 0; i < n; i++) {
      const t0 = performance.now()
      await get()
      out[i] = performance.now() - t0
    }
    return out
  },
  conc: async (n, concurrency) => {
    const latencies: Array<number> = []
    let next = 0
    const worker = async () => {
      while (next < n) {
        next++
        const t0 = performance.now()
        await get()
        latencies.push(performance.now() - t0)
      }
    }
    const t0 = performance.now()
    await Promise.all(Array.from({ length: concurrency }, worker))
    return { wallMs: performance.now() - t0, latencies }
  }
})

const effectClient = (
  id: string,
  label: string,
  runtime: Runtime,
  one: (client: LxdClient.LxdClient.Service) => Effect.Effect<unknown, unknown>
): Client => ({
  id,
  label,
  // the whole block runs inside one Effect: runtime startup and runPromise are not in the per-request times
  seq: (n) =>
    runtime.runPromise(Effect.gen(function*() {
      const client = yield* LxdClient.LxdClient
      const out = new Array<number>(n)
      for (let i = 0; i < n; i++) {
        const t0 = performance.now()
        yield* one(client)
        out[i] = performance.now() - t0
      }
      return out
    })),
  conc: (n, concurrency) =>
    runtime.runPromise(Effect.gen(function*() {
      const client = yield* LxdClient.LxdClient
      const latencies: Array<number> = []
      const timed = Effect.suspend(() => {
        const t0 = performance.now()
        return Effect.map(one(client), () => void latencies.push(performance.now() - t0))
      })
      const t0 = performance.now()
      yield* Effect.forEach(Array.from({ length: n }), () => timed, { concurrency, discard: true })
      return { wallMs: performance.now() - t0, latencies } satisfies ConcResult
    }))
})

/** Runs `rounds` blocks per client, rotating the order each round so no client always runs first. */
const interleaved = async <A>(
  clients: ReadonlyArray<Client>,
  rounds: number,
  run: (client: Client) => Promise<A>
): Promise<Map<string, Array<A>>> => {
  const out = new Map<string, Array<A>>(clients.map((c) => [c.id, []]))
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < clients.length; k++) {
      const c = clients[(k + round) % clients.length]!
      out.get(c.id)!.push(await run(c))
    }
  }
  return out
}

// --- 3. decode -------------------------------------------------------------------------------------------

type DecodeVariant = "parse" | "engine" | "interpreted" | "sync" | "either"

const benchDecode = (text: string) => {
  const schema = Schema.Array(Instance)
  // what `client.sync(Schema.Array(Instance), ...)` runs: the compiled fast path, Schema when it rejects
  const engine = FastDecode.decodeUnknownEither(schema)
  // the same fast path without generated code (runtimes that refuse `new Function`)
  const interpreted = FastDecode.compile(schema.ast, undefined, { codegen: false })
  const decodeSync = Schema.decodeUnknownSync(schema)
  const decodeEither = Schema.decodeUnknownEither(schema)
  const metadata = () => (JSON.parse(text) as { metadata: unknown }).metadata
  const variants: Record<DecodeVariant, () => unknown> = {
    parse: () => JSON.parse(text) as { metadata: unknown },
    engine: () => {
      const r = engine(metadata())
      if (r._tag === "Left") throw new Error(`decode failed: ${r.left.message}`)
      return r.right
    },
    interpreted: () => {
      const r = interpreted(metadata())
      if (r === FastDecode.FAIL) throw new Error("the interpreted fast path rejected the list")
      return r
    },
    sync: () => decodeSync(metadata()),
    either: () => {
      const r = decodeEither(metadata())
      if (r._tag === "Left") throw new Error(`decode failed: ${r.left.message}`)
      return r.right
    }
  }
  const names: ReadonlyArray<DecodeVariant> = ["parse", "engine", "interpreted", "sync", "either"]
  // sanity: the synthesized list decodes, and the fast path takes it without falling back to Schema
  const decoded = decodeSync(metadata())
  if (decoded.length !== DECODE_INSTANCES) throw new Error(`decoded ${decoded.length} instances`)
  if (FastDecode.compile(schema.ast)(metadata()) === FastDecode.FAIL) throw new Error("the fast path rejected the list")
  for (let i = 0; i < DECODE_WARMUP; i++) for (const v of names) variants[v]()
  const samples: Record<DecodeVariant, Array<number>> = { parse: [], engine: [], interpreted: [], sync: [], either: [] }
  for (let i = 0; i < DECODE_ITERATIONS; i++) {
    for (let k = 0; k < names.length; k++) {
      const v = names[(k + i) % names.length]!
      const t0 = performance.now()
      variants[v]()
      samples[v].push(performance.now() - t0)
    }
  }
  return samples
}

// --- main ------------------------------------------------------------------------------------------------

const verdict = (ok: boolean) => (ok ? "ok" : "MISSED")
const us = (msValue: number) => `${(msValue * 1000).toFixed(0)} us`

const main = async () => {
  const started = performance.now()
  const lab = await startLab(log)
  const rawSeq = makeRawClient(lab.socket, 1)
  const rawConc = makeRawClient(lab.socket, CONCURRENCY)
  const undici = makeUndiciClient(lab.socket)
  const runtime = makeRuntime(lab.socket, { lean: true })
  const runtimeHttpClient = makeRuntime(lab.socket, { lean: false })
  try {
    // build the layers before anything is timed
    await runtime.runtime()
    await runtimeHttpClient.runtime()
    const info = await runtime.runPromise(
      Effect.flatMap(LxdClient.LxdClient, (c) => c.sync(ServerInfo, GET_SERVER))
    )
    const serverVersion = info.metadata.environment?.server_version ?? "?"

    const sync = (c: LxdClient.LxdClient.Service) => c.sync(ServerInfo, GET_SERVER)
    const request = (c: LxdClient.LxdClient.Service) => c.request(GET_SERVER)
    const raw: Client = {
      ...promiseClient("raw", "", () => rawSeq.get("/1.0")),
      conc: promiseClient("raw", "", () => rawConc.get("/1.0")).conc
    }
    const clients: ReadonlyArray<Client> = [
      { ...raw, label: "raw node:http keep-alive" },
      effectClient("sync", "effect-lxd sync(ServerInfo)", runtime, sync),
      effectClient("request", "effect-lxd request (envelope only)", runtime, request),
      promiseClient("undici", "(diag) undici Agent direct", () => undici.get("/1.0")),
      effectClient("sync-http", "(diag) sync(ServerInfo) via HttpClient", runtimeHttpClient, sync)
    ]

    log("1. sequential GET /1.0 ...")
    for (const c of clients) await c.seq(SEQ_WARMUP)
    const seqBlocks = await interleaved(clients, SEQ_ROUNDS, (c) => c.seq(SEQ_BLOCK))
    log("2. concurrent GET /1.0 ...")
    for (const c of clients) await c.conc(CONC_WARMUP, CONCURRENCY)
    const concBlocks = await interleaved(clients, CONC_ROUNDS, (c) => c.conc(CONC_BLOCK, CONCURRENCY))
    log("3. decode ...")
    const instance = await fetchRealInstance(rawSeq, lab, log)
    const text = synthesizeList(instance, DECODE_INSTANCES)
    const dec = benchDecode(text)

    const rows: Array<Row> = []

    // 1
    const seqN = SEQ_ROUNDS * SEQ_BLOCK
    const seqAll = (id: string) => seqBlocks.get(id)!.flat()
    const seqMed = (id: string) => median(seqAll(id))
    for (const c of clients) {
      const r = seqMed(c.id) / seqMed("raw")
      rows.push({
        bench: "1 sequential GET /1.0",
        client: c.id === "raw" ? "raw node:http keep-alive, maxSockets 1" : c.label,
        n: String(seqN),
        median: ms(seqMed(c.id)),
        p95: ms(percentile(seqAll(c.id), 95)),
        throughput: (1000 / (sum(seqAll(c.id)) / seqN)).toFixed(0),
        ratio: ratio(r),
        target: c.id === "sync" ? "<= 1.10x" : "",
        verdict: c.id === "sync" ? verdict(r <= 1.1) : ""
      })
    }
    rows.push(separator)

    // 2
    const concN = CONC_ROUNDS * CONC_BLOCK
    const tp = (id: string) => concN / (sum(concBlocks.get(id)!.map((b) => b.wallMs)) / 1000)
    for (const c of clients) {
      const lat = concBlocks.get(c.id)!.flatMap((b) => b.latencies)
      const r = tp(c.id) / tp("raw")
      rows.push({
        bench: `2 concurrent GET /1.0, c=${CONCURRENCY}`,
        client: c.id === "raw" ? "raw node:http keep-alive, maxSockets 16" : c.label,
        n: String(concN),
        median: ms(median(lat)),
        p95: ms(percentile(lat, 95)),
        throughput: tp(c.id).toFixed(0),
        ratio: ratio(r),
        target: c.id === "sync" ? ">= 0.90x" : "",
        verdict: c.id === "sync" ? verdict(r >= 0.9) : ""
      })
    }
    rows.push(separator)

    // 3
    const parseMed = median(dec.parse)
    const decRow = (v: DecodeVariant, client: string): Row => {
      const r = median(dec[v]) / parseMed
      const target = v === "engine"
      return {
        bench: `3 decode ${DECODE_INSTANCES} instances, ${(text.length / 1024).toFixed(0)} KiB`,
        client,
        n: String(DECODE_ITERATIONS),
        median: ms(median(dec[v]), 2),
        p95: ms(percentile(dec[v], 95), 2),
        throughput: "",
        ratio: ratio(r),
        target: target ? "<= 1.50x" : "",
        verdict: target ? verdict(r <= 1.5) : ""
      }
    }
    rows.push(decRow("parse", "JSON.parse"))
    rows.push(decRow("engine", "JSON.parse + effect-lxd decode (as sync runs it)"))
    rows.push(decRow("interpreted", "(diag) the same, interpreted (no new Function)"))
    rows.push(decRow("sync", "(diag) JSON.parse + Schema.decodeUnknownSync"))
    rows.push(decRow("either", "(diag) JSON.parse + Schema.decodeUnknownEither"))

    const cpus = os.cpus()
    const header = [
      `effect-lxd benchmarks, ${new Date().toISOString()}`,
      `node ${process.version}, ${os.platform()} ${os.arch()}, os.cpus().length = ${cpus.length} ` +
      `(${cpus[0]?.model.trim() ?? "?"}), load average ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`,
      `LXD ${serverVersion} at ${lab.socket}${lab.own ? " (lab started by this run)" : ""}`
    ]
    const blockMeds = (id: string) => seqBlocks.get(id)!.map((b) => median(b).toFixed(2)).join(" ")
    const blockTps = (id: string) =>
      concBlocks.get(id)!.map((b) => (CONC_BLOCK / (b.wallMs / 1000)).toFixed(0)).join(" ")
    const notes = [
      `1: ${SEQ_WARMUP} warm-up, then ${SEQ_ROUNDS} rounds x ${SEQ_BLOCK} requests per client, clients rotated each round.`,
      `   ratio = median / raw median; req/s = n / sum of latencies. Block medians (ms):`,
      ...clients.map((c) => `     ${c.id.padEnd(16)} ${blockMeds(c.id)}`),
      `   median overhead over raw: sync ${us(seqMed("sync") - seqMed("raw"))}, request ${
        us(seqMed("request") - seqMed("raw"))
      }, sync via HttpClient ${us(seqMed("sync-http") - seqMed("raw"))}; ` +
      `sync - request (ServerInfo decode) ${us(seqMed("sync") - seqMed("request"))}; ` +
      `sync - undici direct ${us(seqMed("sync") - seqMed("undici"))}`,
      `2: ${CONC_WARMUP} warm-up, then ${CONC_ROUNDS} rounds x ${CONC_BLOCK} requests per client, ${CONCURRENCY} in flight.`,
      `   req/s = n / sum of block wall times; ratio = req/s / raw req/s; median/p95 = per-request latency. Block req/s:`,
      ...clients.map((c) => `     ${c.id.padEnd(16)} ${blockTps(c.id)}`),
      `3: ${DECODE_WARMUP} warm-up, then ${DECODE_ITERATIONS} iterations, variants rotated; ratio = median / JSON.parse median.`,
      `   decode alone: ${(median(dec.engine) - parseMed).toFixed(2)} ms (effect-lxd) = ${
        ((median(dec.engine) - parseMed) * 1000 / DECODE_INSTANCES).toFixed(1)
      } us per instance; interpreted ${(median(dec.interpreted) - parseMed).toFixed(2)} ms; Schema ${
        (median(dec.sync) - parseMed).toFixed(2)
      } ms (sync), ${(median(dec.either) - parseMed).toFixed(2)} ms (either).`,
      `(diag) rows are diagnostics without a target: undici called directly (the transport effect-lxd uses); ` +
      `effect-lxd with an identity transformClient, which turns the lean JSON path off (every request through ` +
      `@effect/platform's HttpClient);`,
      `   the decode without generated code; Schema's own decoders.`,
      `run took ${((performance.now() - started) / 1000).toFixed(1)} s before lab teardown`
    ]
    process.stdout.write(`\n${header.join("\n")}\n\n${renderTable(rows)}\n\n${notes.join("\n")}\n`)
  } finally {
    rawSeq.close()
    rawConc.close()
    undici.close()
    await runtime.dispose().catch(() => {})
    await runtimeHttpClient.dispose().catch(() => {})
    await lab.stop()
  }
}

main().catch((e: unknown) => {
  if (isExiting()) return // torn down by a signal: the daemon is gone, failures are expected
  process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
  process.exitCode = 1
})

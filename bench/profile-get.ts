/**
 * Profiles one client's sequential `GET /1.0` loop (or the instance-list decode) and prints where the CPU time
 * goes. The V8 profiler is started and stopped around the measured loop only (through `node:inspector`, the
 * same sampler `node --cpu-prof` uses), so lab startup, warm-up and teardown are not in the profile.
 *
 *   node_modules/.bin/tsx bench/profile-get.ts [sync|request|raw|undici|decode|decode-schema] [--n 5000]
 *                                              [--concurrency 1] [--interval-us 100] [--top 25]
 *
 * Writes bench/.profiles/<mode>-c<concurrency>-<date>.cpuprofile (open it in Chrome DevTools, or summarise it
 * again with bench/cpuprofile.ts). `LXD_SOCKET` reuses an existing daemon, as for bench/index.ts.
 *
 * With `--no-inspector` the loop runs unprofiled, for a whole-process profile from node itself:
 *
 *   node --cpu-prof --cpu-prof-dir bench/.profiles --import tsx bench/profile-get.ts sync --no-inspector
 *   node_modules/.bin/tsx bench/cpuprofile.ts bench/.profiles/CPU.*.cpuprofile
 */
import { Instance } from "@effect-lxd/core/Instances"
import * as LxdClient from "@effect-lxd/core/LxdClient"
import { ServerInfo } from "@effect-lxd/core/LxdSchema"
import * as NodeLxdTransport from "@effect-lxd/node/NodeLxdTransport"
import { Effect, Layer, ManagedRuntime, Schema } from "effect"
import * as fs from "node:fs"
import * as inspector from "node:inspector"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as FastDecode from "../packages/core/src/internal/fastDecode.js"
import { type CpuProfile, render, summarise } from "./cpuprofile.js"
import { fetchRealInstance, synthesizeList } from "./instance.js"
import { isExiting, startLab } from "./lab.js"
import { makeRawClient, makeUndiciClient, parseJsonBody } from "./raw.js"

type Mode = "sync" | "request" | "raw" | "undici" | "decode" | "decode-schema"

const args = process.argv.slice(2)
const flag = (name: string, dflt: number) => {
  const i = args.indexOf(name)
  return i >= 0 ? Number(args[i + 1]) : dflt
}
const modes: ReadonlyArray<string> = ["sync", "request", "raw", "undici", "decode", "decode-schema"]
const mode = (args.find((a) => modes.includes(a)) ?? "sync") as Mode
const isDecode = mode === "decode" || mode === "decode-schema"
const N = flag("--n", isDecode ? 100 : 5000)
const INTERVAL_US = flag("--interval-us", 100)
const CONCURRENCY = flag("--concurrency", 1)
const TOP = flag("--top", 25)
const log = (line: string) => process.stderr.write(`${line}\n`)

const post = <T>(session: inspector.Session, method: string, params?: object) =>
  new Promise<T>((resolve, reject) =>
    session.post(method, params ?? {}, (err, result) => (err ? reject(err) : resolve(result as T)))
  )

const profiled = async (body: () => Promise<void>): Promise<CpuProfile> => {
  const session = new inspector.Session()
  session.connect()
  await post(session, "Profiler.enable")
  await post(session, "Profiler.setSamplingInterval", { interval: INTERVAL_US })
  await post(session, "Profiler.start")
  const stop = async () => {
    const { profile } = await post<{ profile: CpuProfile }>(session, "Profiler.stop")
    session.disconnect()
    return profile
  }
  try {
    await body()
  } catch (e) {
    await stop() // so the session does not keep sampling
    throw e
  }
  return stop()
}

const GET_SERVER: LxdClient.Request = { method: "GET", path: "" }

const main = async () => {
  const lab = await startLab(log)
  const raw = makeRawClient(lab.socket, CONCURRENCY)
  const undici = makeUndiciClient(lab.socket)
  const runtime = ManagedRuntime.make(
    LxdClient.layer.pipe(Layer.provide(NodeLxdTransport.layerUnixSocket({ socketPath: lab.socket })))
  )
  try {
    await runtime.runtime()
    const loop = (n: number): Promise<void> => {
      switch (mode) {
        case "raw":
        case "undici":
          return (async () => {
            const get = mode === "raw" ? raw.get : undici.get
            let next = 0
            const worker = async () => {
              while (next < n) {
                next++
                await get("/1.0")
              }
            }
            await Promise.all(Array.from({ length: CONCURRENCY }, worker))
          })()
        case "sync":
        case "request":
          return runtime.runPromise(Effect.gen(function*() {
            const client = yield* LxdClient.LxdClient
            if (CONCURRENCY > 1) {
              const one = mode === "sync"
                ? Effect.asVoid(client.sync(ServerInfo, GET_SERVER))
                : Effect.asVoid(client.request(GET_SERVER))
              yield* Effect.forEach(Array.from({ length: n }), () => one, { concurrency: CONCURRENCY, discard: true })
              return
            }
            for (let i = 0; i < n; i++) {
              if (mode === "sync") yield* client.sync(ServerInfo, GET_SERVER)
              else yield* client.request(GET_SERVER)
            }
          }))
        case "decode":
        case "decode-schema":
          return decodeLoop(n)
      }
    }
    // the decode modes reuse the GET /1.0 body's shape only through a synthesized instance list: `decode` as the
    // engine runs it (the compiled fast path), `decode-schema` with Schema's own decoder
    let decodeText = ""
    const decodeSchema = mode === "decode"
      ? FastDecode.decodeUnknownEither(Schema.Array(Instance))
      : Schema.decodeUnknownEither(Schema.Array(Instance))
    const decodeLoop = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const r = decodeSchema((parseJsonBody(decodeText) as { metadata: unknown }).metadata)
        if (r._tag === "Left") throw new Error(r.left.message)
      }
    }
    if (isDecode) decodeText = synthesizeList(await fetchRealInstance(raw, lab, log), 500)

    await loop(Math.min(1000, N))
    if (args.includes("--no-inspector")) {
      const t0 = performance.now()
      await loop(N)
      const wall = performance.now() - t0
      process.stdout.write(
        `mode ${mode}, concurrency ${CONCURRENCY}: ${N} in ${wall.toFixed(0)} ms = ` +
          `${((wall * 1000) / N).toFixed(1)} us wall each (no in-process profiler)\n`
      )
      return
    }
    const t0 = performance.now()
    const profile = await profiled(() => loop(N))
    const wall = performance.now() - t0
    const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), ".profiles")
    fs.mkdirSync(dir, { recursive: true })
    const file = path.join(dir, `${mode}-c${CONCURRENCY}-${new Date().toISOString().replace(/[:.]/g, "-")}.cpuprofile`)
    fs.writeFileSync(file, JSON.stringify(profile))
    const unit = isDecode ? "list" : "request"
    process.stdout.write(
      `mode ${mode}, concurrency ${CONCURRENCY}: ${N} ${unit}s in ${wall.toFixed(0)} ms = ${
        ((wall * 1000) / N).toFixed(1)
      } us wall per ${unit} ` +
        `(profiler on, ${INTERVAL_US} us sampling)\nprofile written to ${path.relative(process.cwd(), file)}\n\n` +
        `${render(summarise(profile), TOP, { count: N, unit })}\n`
    )
  } finally {
    raw.close()
    undici.close()
    await runtime.dispose().catch(() => {})
    await lab.stop()
  }
}

main().catch((e: unknown) => {
  if (isExiting()) return // torn down by a signal: the daemon is gone, failures are expected
  process.stderr.write(`profile failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
  process.exitCode = 1
})

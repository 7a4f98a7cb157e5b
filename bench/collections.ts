/**
 * A collection list through the shared helper against raw `node:http`, on the same daemon in one run:
 * `GET /1.0/profiles?recursion=1` with 200 profiles. Target: effect-lxd `Profiles.list()` ÷ raw ≤ 1.10×.
 *
 *   node_modules/.bin/tsx bench/collections.ts       (LXD_SOCKET=… to reuse a daemon you already run)
 */
import * as LxdClient from "@effect-lxd/core/LxdClient"
import * as Profiles from "@effect-lxd/core/Profiles"
import * as NodeLxdTransport from "@effect-lxd/node/NodeLxdTransport"
import { Effect, Layer, ManagedRuntime } from "effect"
import * as os from "node:os"
import { isExiting, startLab } from "./lab.js"
import { makeRawClient } from "./raw.js"
import { median, ms, percentile, ratio, renderTable, type Row } from "./stats.js"

const PROFILES = 200
const WARMUP = 30
const ROUNDS = 8
const BLOCK = 40
const PREFIX = "bench-p"

const log = (line: string) => process.stderr.write(`${line}\n`)

const main = async () => {
  const lab = await startLab(log)
  const raw = makeRawClient(lab.socket, 1)
  const runtime = ManagedRuntime.make(
    Profiles.layer.pipe(
      Layer.provideMerge(LxdClient.layer),
      Layer.provide(NodeLxdTransport.layerUnixSocket({ socketPath: lab.socket }))
    )
  )
  const names = Array.from({ length: PROFILES }, (_, i) => `${PREFIX}${String(i).padStart(3, "0")}`)
  try {
    log(`creating ${PROFILES} profiles`)
    for (const name of names) {
      const r = await raw.request("POST", "/1.0/profiles", {
        name,
        description: `bench profile ${name}`,
        config: { "limits.cpu": "1", "limits.memory": "256MiB", "user.bench": name },
        devices: { data: { type: "disk", source: "/tmp", path: "/mnt/data" } }
      })
      if (r.status !== 201 && r.status !== 200) throw new Error(`POST ${name}: ${JSON.stringify(r.json)}`)
    }
    const list = (n: number) =>
      runtime.runPromise(Effect.gen(function*() {
        const profiles = yield* Profiles.Profiles
        const out: Array<number> = []
        for (let i = 0; i < n; i++) {
          const t0 = performance.now()
          const all = yield* profiles.list()
          out.push(performance.now() - t0)
          if (all.length < PROFILES) throw new Error(`listed ${all.length} profiles`)
        }
        return out
      }))
    const rawList = async (n: number) => {
      const out: Array<number> = []
      for (let i = 0; i < n; i++) {
        const t0 = performance.now()
        const body = await raw.get("/1.0/profiles?recursion=1") as { metadata: Array<unknown> }
        out.push(performance.now() - t0)
        if (body.metadata.length < PROFILES) throw new Error(`listed ${body.metadata.length} profiles`)
      }
      return out
    }
    const clients = [{ id: "raw", run: rawList }, { id: "effect-lxd", run: list }] as const
    for (const c of clients) await c.run(WARMUP)
    const samples = new Map<string, Array<number>>(clients.map((c) => [c.id, []]))
    for (let round = 0; round < ROUNDS; round++) {
      for (let k = 0; k < clients.length; k++) {
        const c = clients[(k + round) % clients.length]!
        samples.get(c.id)!.push(...(await c.run(BLOCK)))
      }
    }
    const rawMed = median(samples.get("raw")!)
    const row = (id: string, client: string, target: boolean): Row => {
      const xs = samples.get(id)!
      const r = median(xs) / rawMed
      return {
        bench: `GET /1.0/profiles?recursion=1, ${PROFILES} profiles`,
        client,
        n: String(xs.length),
        median: ms(median(xs), 2),
        p95: ms(percentile(xs, 95), 2),
        throughput: "",
        ratio: ratio(r),
        target: target ? "<= 1.10x" : "",
        verdict: target ? (r <= 1.1 ? "ok" : "MISSED") : ""
      }
    }
    const cpus = os.cpus()
    process.stdout.write(
      `\neffect-lxd collection bench, ${new Date().toISOString()}, node ${process.version}, ` +
        `${cpus.length} CPUs, load ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}\n\n` +
        renderTable([
          row("raw", "raw node:http + JSON.parse", false),
          row("effect-lxd", "effect-lxd Profiles.list() (decoded, used_by parsed)", true)
        ]) +
        `\n\n${WARMUP} warm-up each, then ${ROUNDS} rounds x ${BLOCK} lists per client, order rotated each round.\n`
    )
  } finally {
    log("deleting the profiles")
    for (const name of names) await raw.request("DELETE", `/1.0/profiles/${name}`).catch(() => undefined)
    raw.close()
    await runtime.dispose().catch(() => {})
    await lab.stop()
  }
}

main().catch((e: unknown) => {
  if (isExiting()) return
  process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
  process.exitCode = 1
})

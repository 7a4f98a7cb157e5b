/**
 * Bursts of 1,000 concurrent `GET /1.0/instances` through one unix-socket transport: with no connection cap
 * (how the transport behaved before the cap) and with the default cap of 64, side by side in one run, in
 * rounds that alternate the order. Prints the throughput of each (requests ÷ wall time of the burst), the ratio
 * capped ÷ uncapped (target ≥ 0.90) and the peak number of sockets the process held.
 *
 *   node_modules/.bin/tsx bench/burst.ts      # LXD_SOCKET=… to reuse a daemon
 */
import * as LxdClient from "@effect-lxd/core/LxdClient"
import { Effect } from "effect"
import { burst, type BurstResult, countSockets, makeRuntime } from "../test/support/burst.js"
import { startLab } from "./lab.js"
import { median, ratio, renderTable, type Row } from "./stats.js"

const N = 1000
const ROUNDS = 6
const WARMUP = 1

const main = async () => {
  const lab = await startLab()
  const clients = [
    { name: "no cap (before)", runtime: makeRuntime(lab.socket, Infinity) },
    { name: "maxConnections 64 (default)", runtime: makeRuntime(lab.socket, 64) }
  ]
  try {
    // both transports built, one connection each
    for (const c of clients) {
      await c.runtime.runPromise(Effect.flatMap(LxdClient.LxdClient, (l) => l.request({ method: "GET", path: "" })))
    }
    await new Promise((resolve) => setTimeout(resolve, 5000))
    const baseline = countSockets()
    const results = new Map<string, Array<BurstResult>>(clients.map((c) => [c.name, []]))
    for (let round = 0; round < WARMUP + ROUNDS; round++) {
      const order = round % 2 === 0 ? clients : [...clients].reverse()
      for (const client of order) {
        const result = await burst(client.runtime, N)
        if (result.failed > 0) throw new Error(`${client.name}: ${result.failed} failed: ${result.reasons.join("; ")}`)
        if (round >= WARMUP) results.get(client.name)!.push(result)
        // the idle sockets close (after idleSocketTimeout, 4 s), so each burst starts alike
        const settled = Date.now() + 8000
        while (countSockets() > baseline + 2 && Date.now() < settled) {
          await new Promise((resolve) => setTimeout(resolve, 250))
        }
      }
      process.stderr.write(`round ${round + 1}/${WARMUP + ROUNDS}\n`)
    }
    const throughput = (name: string) => median(results.get(name)!.map((r) => N / (r.ms / 1000)))
    const base = throughput(clients[0]!.name)
    const rows: Array<Row> = clients.map((c) => {
      const rs = results.get(c.name)!
      const t = throughput(c.name)
      const capped = c !== clients[0]
      return {
        bench: `burst ${N} GET /1.0/instances`,
        client: c.name,
        n: String(N * ROUNDS),
        median: `${median(rs.map((r) => r.ms)).toFixed(0)} ms`,
        p95: `peak +${Math.max(...rs.map((r) => r.newSockets))} sockets`,
        throughput: `${t.toFixed(0)} req/s`,
        ratio: ratio(t / base),
        target: capped ? "≥ 0.90x" : "",
        verdict: capped ? (t / base >= 0.9 ? "ok" : "MISS") : ""
      }
    })
    process.stdout.write(
      `\n${
        renderTable(rows)
      }\n\n(median = median wall time of one burst; peak = most sockets above the idle process during a burst; ratio = req/s ÷ no cap)\n`
    )
  } finally {
    for (const c of clients) await c.runtime.dispose()
    await lab.stop()
  }
}

await main()

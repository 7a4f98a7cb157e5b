/**
 * Listing a cluster's instances with their state (issue 17), side by side in one run: a private three-member
 * loopback cluster (`scripts/lxd-lab.sh cluster-up DIR --https-ports P1,P2,P3`, as `test/lab/cluster.ts` drives
 * it; `cluster-down DIR` always at the end, also on an error or a signal), 30 busybox instances spread over the
 * members (`m1`, `m2`, `m3` in turn, created 10 at a time through member 1 with `LxdClient.withTarget`, left
 * **stopped**; `CLUSTER_START=1` starts them), then, in every round and in rotating order:
 *
 *  - effect-lxd `Instances.listFull()` (`GET /1.0/instances?recursion=2`: instances with state, snapshots and
 *    backups) over `NodeLxdTransport.layerUnixSocket` on member 1's socket, decoded; the runtime is built once;
 *  - `lxc list --format json` with member 1's `LXD_DIR` (a process per call, as a user runs it: its start-up is
 *    counted; `lxc --debug` shows `GET /1.0`, then `GET /1.0/instances?filter=&recursion=2`);
 *  - pylxd 2.2.10 (Debian's `python3-pylxd`, one Python process per round, connected once before the timing;
 *    `Client()` on member 1's unix socket through `LXD_DIR`). This pylxd has no `instances` manager, and
 *    `containers.all()` fetches names only (recursion=0), so two rows: `containers.all()` + `sync()` +
 *    `state()` for each (the model API's closest to "with state": 1 + 2 × 30 requests), and
 *    `client.api.instances.get(params={"recursion": 2}).json()` (the raw API node: the same single request as
 *    the others, parsed, no models).
 *
 * Each row is the median (and min–max) of CLUSTER_ROUNDS rounds (default 7) after one warm-up call each.
 *
 *   node --import tsx bench/cluster.ts        (as root; CLUSTER_ROUNDS=…, CLUSTER_N=… instances, CLUSTER_START=1)
 */
import { Instances, Lxd, LxdClient } from "@effect-lxd/core"
import { NodeLxdTransport } from "@effect-lxd/node"
import { Effect, Layer, ManagedRuntime } from "effect"
import { execFile, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { median } from "./stats.js"

const execFileP = promisify(execFile)
const ROUNDS = Number(process.env["CLUSTER_ROUNDS"] ?? 7)
const COUNT = Number(process.env["CLUSTER_N"] ?? 30)
const START = process.env["CLUSTER_START"] === "1"
const script = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "scripts", "lxd-lab.sh")
const log = (line: string) => process.stderr.write(`${line}\n`)
/** The lab script and the tools get no `LXD_*` of ours (as test/lab/cluster.ts). */
const cleanEnv = (): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("LXD_")))

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })

// --- the cluster: up, and always down ------------------------------------------------------------------------

const dir = fs.mkdtempSync(path.join("/tmp", "effect-lxd-cluster-perf-"))
let down = false
const teardownSync = () => {
  if (down) return
  down = true
  spawnSync("bash", [script, "cluster-down", dir], { env: cleanEnv(), stdio: ["ignore", "ignore", "inherit"] })
}
const teardown = async () => {
  if (down) return
  down = true
  const t0 = performance.now()
  await execFileP("bash", [script, "cluster-down", dir], { env: cleanEnv(), timeout: 240_000 })
    .catch((e: unknown) => log(`cluster-down ${dir} failed: ${String(e)}`))
  log(`cluster down in ${(performance.now() - t0).toFixed(0)} ms`)
}
process.on("exit", teardownSync)
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => void teardown().finally(() => process.exit(130)))
}

interface Member {
  readonly name: string
  readonly socket: string
}

const main = async () => {
  const ports = [await freePort(), await freePort(), await freePort()]
  const t0 = performance.now()
  const { stdout } = await execFileP(
    "bash",
    [script, "cluster-up", dir, "--https-ports", ports.join(","), "--name", "cluster-perf"],
    { env: cleanEnv(), timeout: 300_000 }
  )
  const members = (JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as { members?: Array<Member> }).members
  if (members?.length !== 3) throw new Error(`cluster-up printed no three members: ${stdout}`)
  const m1 = members[0]!
  const lxdDir = path.dirname(m1.socket)
  log(`cluster up in ${(performance.now() - t0).toFixed(0)} ms (member 1: ${m1.socket})`)

  const runtime = ManagedRuntime.make(
    Lxd.layer.pipe(Layer.provide(NodeLxdTransport.layerUnixSocket({ socketPath: m1.socket })))
  )
  try {
    // --- 30 instances over the three members ------------------------------------------------------------------
    const c0 = performance.now()
    const placed = await runtime.runPromise(Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const names = Array.from({ length: COUNT }, (_, i) => `b${String(i).padStart(2, "0")}`)
      yield* Effect.forEach(names, (name, i) =>
        LxdClient.withTarget(
          Effect.zipRight(
            instances.create({ name, source: { type: "image", alias: "busybox" } }),
            START ? instances.start(name) : Effect.void
          ),
          members[i % 3]!.name
        ), { concurrency: 10, discard: true })
      const all = yield* instances.list()
      return all.map((i) => i.location)
    }))
    const perMember = new Map<string, number>()
    for (const l of placed) perMember.set(l, (perMember.get(l) ?? 0) + 1)
    const spread = [...perMember].sort().map(([k, v]) => `${k}: ${v}`)
    log(
      `${placed.length} instances (${START ? "started" : "stopped"}) in ${(performance.now() - c0).toFixed(0)} ms: ${
        spread.join(", ")
      }`
    )

    // --- the clients --------------------------------------------------------------------------------------------
    const effectLxd = () =>
      runtime.runPromise(Effect.gen(function*() {
        const instances = yield* Instances.Instances
        const t = performance.now()
        const all = yield* instances.listFull()
        if (all.length !== COUNT || all.some((i) => i.state === undefined || i.state === null)) {
          throw new Error(`listFull: ${all.length} instances`)
        }
        return performance.now() - t
      }))
    const lxc = async () => {
      const t = performance.now()
      const { stdout: out } = await execFileP("lxc", ["list", "--format", "json"], {
        env: { ...cleanEnv(), LXD_DIR: lxdDir },
        maxBuffer: 64 * 1024 * 1024
      })
      const ms = performance.now() - t
      const all = JSON.parse(out) as Array<{ state?: unknown }>
      if (all.length !== COUNT || all.some((i) => i.state === undefined || i.state === null)) {
        throw new Error(`lxc list: ${all.length} instances`)
      }
      return ms
    }
    const pythonSource = `
import json, sys, time
from pylxd import Client
client = Client()
mode = sys.argv[1]
def run():
    if mode == "raw":
        return len(client.api.instances.get(params={"recursion": 2}).json()["metadata"])
    containers = client.containers.all()
    for c in containers:
        c.sync()
        c.state()
    return len(containers)
run()
t = time.perf_counter()
n = run()
print(json.dumps({"ms": (time.perf_counter() - t) * 1000, "n": n}))
`
    const pylxd = (mode: "raw" | "model") => async () => {
      const { stdout: out } = await execFileP("/usr/bin/python3", ["-c", pythonSource, mode], {
        env: { ...cleanEnv(), LXD_DIR: lxdDir }
      })
      const r = JSON.parse(out.trim()) as { ms: number; n: number }
      if (r.n !== COUNT) throw new Error(`pylxd ${mode}: ${r.n} instances`)
      return r.ms
    }
    const clients = [
      { label: "effect-lxd Instances.listFull()", run: effectLxd, warm: true },
      { label: "lxc list --format json", run: lxc, warm: true },
      { label: "pylxd api.instances recursion=2", run: pylxd("raw"), warm: false },
      { label: "pylxd containers.all()+sync+state", run: pylxd("model"), warm: false }
    ]
    // the Python rows warm up inside their process (a call before the timed one)
    for (const c of clients) if (c.warm) await c.run()
    const times = clients.map(() => [] as Array<number>)
    for (let round = 0; round < ROUNDS; round++) {
      for (let k = 0; k < clients.length; k++) {
        const i = (k + round) % clients.length
        times[i]!.push(await clients[i]!.run())
      }
    }

    const base = median(times[0]!)
    const lines = [
      `effect-lxd cluster list benchmark, ${
        new Date().toISOString()
      }, node ${process.version}, ${os.cpus().length} cpus, load ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`,
      `three-member loopback cluster (LXD ${
        spawnSync("lxd", ["--version"], { encoding: "utf8" }).stdout.trim()
      }), ${COUNT} busybox instances (${START ? "started" : "stopped"}: ${spread.join(", ")}), ${ROUNDS} rounds`,
      "",
      `   ${"client".padEnd(36)} ${"median ms".padStart(10)} ${"min–max".padStart(14)} ${"÷ effect-lxd".padStart(13)}`,
      ...clients.map((c, i) => {
        const m = median(times[i]!)
        return `   ${c.label.padEnd(36)} ${m.toFixed(1).padStart(10)} ${
          `${Math.min(...times[i]!).toFixed(0)}–${Math.max(...times[i]!).toFixed(0)}`.padStart(14)
        } ${`${(m / base).toFixed(2)}x`.padStart(13)}`
      })
    ]
    process.stdout.write(`${lines.join("\n")}\n`)
  } finally {
    await runtime.dispose()
  }
}

await main().catch((e: unknown) => {
  log(`cluster bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`)
  process.exitCode = 1
}).finally(teardown)

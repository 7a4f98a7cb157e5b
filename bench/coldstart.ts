/**
 * Cold start: a fresh process that gets the answer of `GET /1.0` over the unix socket, side by side in one run:
 * raw `node:http`, effect-lxd from its BUILT packages (plain `node`, ESM, as users run it: `npx -y pnpm@10 build`
 * first), pylxd 2.2.10 (Debian's python3-pylxd, whose `Client()` sends `GET /1.0`), and, to say what the import
 * costs, a process that only imports effect-lxd's packages. Each row is the wall time from spawn to exit; the
 * last column is the median CPU time (user + system, all threads) the process reports at exit, which other
 * work on the machine inflates much less than the wall time.
 * The floor rows import only what effect-lxd cannot do without: `effect`'s index (what `import { Effect } from
 * "effect"` loads: every module), and `effect/Schema` with `effect/Effect` and `effect/Layer` (what a program
 * that imports modules one by one still loads; `effect/Schema` imports `effect/FastCheck`, ~240 modules of
 * fast-check and pure-rand). The deep-import row is `Server.info` written that way: `effect/Effect`,
 * `@effect-lxd/core/Server` and `/LxdClient`, `@effect-lxd/node/NodeLxdTransport`, no index.
 *
 *   npx -y pnpm@10 build && node_modules/.bin/tsx bench/coldstart.ts     (LXD_SOCKET=… to reuse a daemon)
 *
 * COLDSTART_BEFORE=/path/to/another/checkout (installed and built: say `git archive main | tar -x -C …`, then
 * `npx -y pnpm@10 install --frozen-lockfile --offline && npx -y pnpm@10 build` there) adds its import-only,
 * Server.info and deep-import rows, labelled "before", to the same run: before and after on the same machine load.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { isExiting, startLab } from "./lab.js"
import { median, ms, percentile, ratio, renderTable, type Row } from "./stats.js"

const RUNS = Number(process.env["COLDSTART_RUNS"] ?? 15)
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
// inside the repository's node_modules, so `@effect-lxd/*` and `effect` resolve as they do for a user's project
const dir = path.join(root, "node_modules", ".cache", "coldstart")
const before = process.env["COLDSTART_BEFORE"]
const beforeDir = before === undefined
  ? undefined
  : path.join(path.resolve(before), "node_modules", ".cache", "coldstart")

const scripts = {
  raw: `import * as http from "node:http"
const req = http.request({ socketPath: process.argv[2], path: "/1.0", headers: { accept: "application/json" } }, (res) => {
  const chunks = []
  res.on("data", (c) => chunks.push(c))
  res.on("end", () => { const b = JSON.parse(Buffer.concat(chunks).toString("utf8")); if (b.metadata.api_version !== "1.0") process.exit(2) })
})
req.on("error", () => process.exit(3))
req.end()
`,
  effect: `import { Lxd, Server } from "@effect-lxd/core"
import { NodeLxdTransport } from "@effect-lxd/node"
import { Effect, Layer } from "effect"
const info = await Effect.runPromise(Effect.flatMap(Server.Server, (s) => s.info).pipe(
  Effect.provide(Lxd.layer.pipe(Layer.provide(NodeLxdTransport.layerUnixSocket({ socketPath: process.argv[2] }))))
))
if (info.api_version !== "1.0") process.exit(2)
`,
  deep: `import * as LxdClient from "@effect-lxd/core/LxdClient"
import * as Server from "@effect-lxd/core/Server"
import * as NodeLxdTransport from "@effect-lxd/node/NodeLxdTransport"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
const info = await Effect.runPromise(Effect.flatMap(Server.Server, (s) => s.info).pipe(
  Effect.provide(Server.layer.pipe(
    Layer.provide(LxdClient.layer),
    Layer.provide(NodeLxdTransport.layerUnixSocket({ socketPath: process.argv[2] }))
  ))
))
if (info.api_version !== "1.0") process.exit(2)
`,
  effectIndex: `import "effect"
`,
  effectSchema: `import "effect/Effect"
import "effect/Layer"
import "effect/Schema"
`,
  importOnly: `import "@effect-lxd/core"
import "@effect-lxd/node"
import "effect"
`,
  empty: ``
} as const

const pylxd = `
import atexit, resource, sys
atexit.register(lambda: sys.stderr.write('\\ncoldstart-cpu %f\\n' % (1000 * sum(resource.getrusage(resource.RUSAGE_SELF)[:2]))))
from urllib.parse import quote
from pylxd import Client
c = Client(endpoint='http+unix://' + quote(sys.argv[1], safe=''))
assert c.host_info['api_version'] == '1.0'
`

// preloaded into every node row: its CPU time at exit, on stderr
const cpuPreload = `process.on("exit", () => {
  const u = process.cpuUsage()
  require("node:fs").writeSync(2, "\\ncoldstart-cpu " + (u.user + u.system) / 1000 + "\\n")
})
`
const cpuLine = /^coldstart-cpu ([\d.]+)$/m

const log = (line: string) => process.stderr.write(`${line}\n`)

const main = async () => {
  if (!fs.existsSync(path.join(root, "packages", "core", "build", "esm", "index.js"))) {
    throw new Error("the packages are not built: run `npx -y pnpm@10 build` first")
  }
  for (const d of beforeDir === undefined ? [dir] : [dir, beforeDir]) {
    fs.mkdirSync(d, { recursive: true })
    for (const [name, text] of Object.entries(scripts)) fs.writeFileSync(path.join(d, `${name}.mjs`), text)
    fs.writeFileSync(path.join(d, "cpu.cjs"), cpuPreload)
  }
  const lab = await startLab(log)
  try {
    const python = fs.existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3"
    const node = (name: string, from = dir, flags: ReadonlyArray<string> = []) => () =>
      spawnSync(process.execPath, [
        ...flags,
        "--require",
        path.join(dir, "cpu.cjs"),
        path.join(from, `${name}.mjs`),
        lab.socket
      ])
    const beforeRows = beforeDir === undefined ? [] : [
      {
        id: "importBefore",
        label: "(diag) before: import @effect-lxd/core + node + effect only",
        run: node("importOnly", beforeDir)
      },
      { id: "effectBefore", label: "before: effect-lxd Server.info", run: node("effect", beforeDir) },
      { id: "deepBefore", label: "before: effect-lxd Server.info, deep imports", run: node("deep", beforeDir) }
    ]
    const clients = [
      { id: "empty", label: "(diag) node, empty script", run: node("empty") },
      { id: "raw", label: "raw node:http GET /1.0", run: node("raw") },
      {
        id: "effectSchema",
        label: "(floor) node, import effect/Effect + /Layer + /Schema only",
        run: node("effectSchema")
      },
      { id: "effectIndex", label: "(floor) node, import \"effect\" (its index) only", run: node("effectIndex") },
      { id: "import", label: "(diag) node, import @effect-lxd/core + node + effect only", run: node("importOnly") },
      { id: "effect", label: "effect-lxd (built, plain node) Server.info", run: node("effect") },
      { id: "deep", label: "effect-lxd Server.info, deep imports (no index)", run: node("deep") },
      // undici parses HTTP/1 with llhttp compiled to WASM: after the first answer V8 tiers the parser up to
      // TurboFan in the background, and node waits for that compile at exit; Liftoff only, it never does
      {
        id: "liftoff",
        label: "(diag) effect-lxd Server.info, node --liftoff-only",
        run: node("effect", dir, ["--liftoff-only"])
      },
      ...beforeRows,
      { id: "pylxd", label: "pylxd 2.2.10 Client()", run: () => spawnSync(python, ["-c", pylxd, lab.socket]) }
    ]
    const samples = new Map<string, Array<number>>(clients.map((c) => [c.id, []]))
    const cpu = new Map<string, Array<number>>(clients.map((c) => [c.id, []]))
    const failed = new Map<string, string>()
    for (const c of clients) c.run() // warm the page cache once
    for (let round = 0; round < RUNS; round++) {
      for (let k = 0; k < clients.length; k++) {
        const c = clients[(k + round) % clients.length]!
        if (failed.has(c.id)) continue
        const t0 = performance.now()
        const r = c.run()
        const t = performance.now() - t0
        const stderr = String(r.stderr)
        if (r.status !== 0) {
          failed.set(c.id, `exit ${r.status}: ${stderr.replace(cpuLine, "").trim().split("\n").slice(-1)[0]}`)
        } else {
          samples.get(c.id)!.push(t)
          const used = cpuLine.exec(stderr)
          if (used !== null) cpu.get(c.id)!.push(Number(used[1]))
        }
      }
    }
    const rawMed = median(samples.get("raw")!)
    const rows: Array<Row> = clients.map((c) => {
      const xs = samples.get(c.id)!
      if (failed.has(c.id) || xs.length === 0) {
        return {
          bench: "cold GET /1.0",
          client: c.label,
          n: "0",
          median: "",
          p95: "",
          throughput: "",
          ratio: "",
          target: "",
          verdict: `not measured (${failed.get(c.id)})`
        }
      }
      return {
        bench: "cold GET /1.0",
        client: c.label,
        n: String(xs.length),
        median: ms(median(xs), 1),
        p95: ms(percentile(xs, 95), 1),
        throughput: "",
        ratio: ratio(median(xs) / rawMed),
        target: "",
        verdict: cpu.get(c.id)!.length > 0 ? `cpu ${ms(median(cpu.get(c.id)!), 0)}` : ""
      }
    })
    const med = (id: string) => (samples.get(id)!.length > 0 ? median(samples.get(id)!) : NaN)
    process.stdout.write(
      `\neffect-lxd cold start, ${new Date().toISOString()}, node ${process.version}, ${os.cpus().length} CPUs, ` +
        `load ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}\n\n${renderTable(rows)}\n\n` +
        `${RUNS} runs per row, order rotated each run; wall time from spawn to exit. ` +
        `The import alone costs ${(med("import") - med("empty")).toFixed(1)} ms over an empty node process; ` +
        `effect-lxd's request and runtime ${(med("effect") - med("import")).toFixed(1)} ms over the import ` +
        `(raw's request: ${(med("raw") - med("empty")).toFixed(1)} ms over an empty process). ` +
        `Floors: effect's index ${(med("effectIndex") - med("empty")).toFixed(1)} ms over an empty process, ` +
        `effect/Schema + Effect + Layer ${(med("effectSchema") - med("empty")).toFixed(1)} ms; ` +
        `effect-lxd's import over effect's index ${(med("import") - med("effectIndex")).toFixed(1)} ms; ` +
        `deep-import Server.info over its floor ${(med("deep") - med("effectSchema")).toFixed(1)} ms; ` +
        `undici's WASM parser tier-up at exit ${(med("effect") - med("liftoff")).toFixed(1)} ms.\n`
    )
  } finally {
    await lab.stop()
  }
}

main().catch((e: unknown) => {
  if (isExiting()) return
  process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
  process.exitCode = 1
})

/**
 * Starts and stops the throwaway LXD daemon the benchmarks run against (`scripts/lxd-lab.sh`), unless
 * `LXD_SOCKET` names an existing socket.
 *
 * `up` and `down` run as child processes without blocking the event loop, so a signal is handled at once. This
 * matters under `tsx`: its parent process SIGKILLs a child that does not acknowledge a relayed SIGINT within
 * about 60 ms, and a child blocked in `execFileSync` would leave the daemon behind. On SIGINT, SIGTERM or
 * SIGHUP the lab is stopped (after a pending `up` has finished) before the process exits. Errors stop it too,
 * and a synchronous `down` on `exit` is the last resort.
 */
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const labScript = path.join(repoRoot, "scripts", "lxd-lab.sh")

export interface Lab {
  /** The unix socket of the daemon. */
  readonly socket: string
  /** Whether this process started the daemon (and so may create and delete things freely). */
  readonly own: boolean
  /** Stops the daemon if this process started it; safe to call more than once. */
  readonly stop: () => Promise<void>
}

const isSocket = (p: string): boolean => {
  try {
    return fs.statSync(p).isSocket()
  } catch {
    return false
  }
}

const run = (args: ReadonlyArray<string>): Promise<{ code: number | null; stdout: string; stderr: string }> =>
  new Promise((resolve, reject) => {
    // detached: a Ctrl-C in the terminal reaches this process, which then tears down in order; `up` itself is
    // not interrupted halfway
    const child = spawn("bash", [labScript, ...args], { stdio: ["ignore", "pipe", "pipe"], detached: true })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s))
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s))
    child.on("error", reject)
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })

const portFree = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const server = net.createServer()
    server.once("error", () => resolve(false))
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)))
  })

/** A free TCP port in 18600–18899 for the lab's HTTPS listener (the benchmarks only use the unix socket). */
const freePort = async (avoid: ReadonlySet<number>): Promise<number> => {
  const start = 18600 + (process.pid % 300)
  for (let i = 0; i < 300; i++) {
    const port = 18600 + ((start - 18600 + i) % 300)
    if (!avoid.has(port) && (await portFree(port))) return port
  }
  throw new Error("no free port in 18600-18899")
}

// --- teardown --------------------------------------------------------------------------------------------

let pendingUp: Promise<unknown> | undefined
const stops = new Set<{ readonly async: () => Promise<void>; readonly sync: () => void }>()
let handlersInstalled = false
let exiting = false

const stopAll = async () => {
  await pendingUp?.catch(() => {})
  for (const s of [...stops]) {
    await s.async().catch((e: unknown) => process.stderr.write(`teardown failed: ${String(e)}\n`))
  }
}

const installHandlers = () => {
  if (handlersInstalled) return
  handlersInstalled = true
  // last resort: `exit` handlers must be synchronous
  process.on("exit", () => {
    for (const s of [...stops]) s.sync()
  })
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]] as const) {
    process.on(signal, () => {
      if (exiting) {
        process.stderr.write(`${signal}: still tearing the lab down\n`)
        return
      }
      exiting = true
      process.stderr.write(`\n${signal}: tearing the lab down\n`)
      void stopAll().finally(() => process.exit(code))
    })
  }
  const fatal = (what: string) => (e: unknown) => {
    process.stderr.write(`${what}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
    if (exiting) return
    exiting = true
    void stopAll().finally(() => process.exit(1))
  }
  process.on("uncaughtException", fatal("uncaught exception"))
  process.on("unhandledRejection", fatal("unhandled rejection"))
}

/** Whether the process is being torn down after a signal or a fatal error (later failures are expected). */
export const isExiting = (): boolean => exiting

// --- start -----------------------------------------------------------------------------------------------

/**
 * The lab to use: `LXD_SOCKET` if it points at a socket, else a new daemon in `/tmp/bench-lab-<pid>` (HTTPS on a
 * free port in 18600–18899).
 */
export const startLab = async (log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<Lab> => {
  const external = process.env.LXD_SOCKET
  if (external !== undefined && external !== "") {
    if (!isSocket(external)) throw new Error(`LXD_SOCKET=${external} is not a socket`)
    log(`using the existing daemon at ${external}`)
    return { socket: external, own: false, stop: async () => {} }
  }
  installHandlers()
  const dir = path.join(os.tmpdir(), `bench-lab-${process.pid}`)
  let stopping: Promise<void> | undefined
  const entry = {
    async: (): Promise<void> => (stopping ??= (async () => {
      const t0 = performance.now()
      const r = await run(["down", dir])
      stops.delete(entry)
      if (r.code !== 0) process.stderr.write(`lab down failed (exit ${r.code}):\n${r.stderr}\n`)
      else log(`lab ${dir} down in ${(performance.now() - t0).toFixed(0)} ms`)
    })()),
    sync: () => {
      if (stopping !== undefined) return
      stops.delete(entry)
      spawnSync("bash", [labScript, "down", dir], { stdio: "ignore" })
    }
  }
  // registered before `up`, so whatever `up` started is torn down on any exit path
  stops.add(entry)
  const t0 = performance.now()
  const tried = new Set<number>()
  const up = (async () => {
    for (let attempt = 0;; attempt++) {
      const port = await freePort(tried)
      tried.add(port)
      const r = await run(["up", dir, "--https-port", String(port)])
      if (r.code === 0) return r.stdout
      // another daemon may have taken the port between the probe and `up`: try another one
      if (attempt < 2 && r.stderr.includes("address already in use")) {
        log(`port ${port} taken, retrying`)
        continue
      }
      throw new Error(`lxd-lab.sh up failed (exit ${r.code}):\n${r.stderr.split("\n").slice(-15).join("\n")}`)
    }
  })()
  pendingUp = up
  let out: string
  try {
    out = await up
  } catch (e) {
    await entry.async()
    throw e
  } finally {
    pendingUp = undefined
  }
  const info = JSON.parse(out.trim().split("\n").pop() ?? "{}") as { socket?: unknown }
  if (typeof info.socket !== "string") {
    await entry.async()
    throw new Error(`lxd-lab.sh up printed no socket: ${out}`)
  }
  log(`lab ${dir} up in ${(performance.now() - t0).toFixed(0)} ms (socket ${info.socket})`)
  return { socket: info.socket, own: true, stop: entry.async }
}

/**
 * Vitest global setup: starts throwaway LXD daemons with `scripts/lxd-lab.sh` and provides them to tests as
 * `inject("lab")` / `inject("lab2")` (see `./lab.ts` for the helpers tests use).
 *
 * Environment:
 * - `LXD_LAB=external` + `LXD_LAB_SOCKET=/path/unix.socket`: use that running daemon; nothing is started or
 *   stopped. Optional: `LXD_LAB_SOCKET_2` (second daemon), `LXD_LAB_TRUST_PASSWORD` (default `labpw`),
 *   `LXD_LAB_SERVER_CERT` (default `<socket dir>/server.crt`), `LXD_LAB_IMAGE` (default `busybox`).
 * - `LXD_LAB_DAEMONS=2`: start a second daemon as well, provided as `lab2`.
 * - `CI=true`: a lab that cannot start fails the whole run (never a skip).
 */
import { execFile, execFileSync } from "node:child_process"
import * as fs from "node:fs/promises"
import * as http from "node:http"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import type { TestProject } from "vitest/node"
import { isLabInfo, type LabInfo } from "./types.js"

const execFileP = promisify(execFile)

const script = fileURLToPath(new URL("../../scripts/lxd-lab.sh", import.meta.url))
const repoRoot = fileURLToPath(new URL("../../", import.meta.url))

/** `up` is ~1.5 s, but may have to apt-get install the packages first. */
const UP_TIMEOUT_MS = 300_000
const DOWN_TIMEOUT_MS = 120_000

const inCI = process.env["CI"] === "true"

const warn = (message: string): void => {
  const bar = "!".repeat(78)
  process.stderr.write(`\n${bar}\n!! LXD LAB: ${message.split("\n").join("\n!! ")}\n${bar}\n\n`)
}

/** The caller's environment without LXD_* variables (LXD_SOCKET would redirect the daemon and lxc). */
const cleanEnv = (): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith("LXD_") && v !== undefined) env[k] = v
  }
  return env
}

const errorText = (e: unknown): string => {
  if (typeof e === "object" && e !== null) {
    const r = e as { message?: unknown; stderr?: unknown }
    const stderr = typeof r.stderr === "string" ? r.stderr.trim() : ""
    const message = typeof r.message === "string" ? r.message.split("\n")[0] ?? "" : String(e)
    if (stderr !== "") {
      const tail = stderr.split("\n").slice(-25).join("\n")
      return `${message}\n--- lxd-lab.sh stderr (tail) ---\n${tail}`
    }
    return message
  }
  return String(e)
}

/** Free TCP ports on 127.0.0.1, all distinct (the listeners stay open until every port is picked). */
const freePorts = async (count: number): Promise<Array<number>> => {
  const servers: Array<net.Server> = []
  try {
    const ports: Array<number> = []
    for (let i = 0; i < count; i++) {
      const server = net.createServer()
      servers.push(server)
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject)
        server.listen(0, "127.0.0.1", () => resolve())
      })
      const address = server.address()
      if (address === null || typeof address === "string") throw new Error("cannot pick a free port")
      ports.push(address.port)
    }
    return ports
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))))
  }
}

/** A folder for a lab; short enough that `<dir>/lxd/unix.socket` fits in sun_path (108 bytes). */
const makeLabDir = async (): Promise<string> => {
  let base = os.tmpdir()
  if (path.join(base, "effect-lxd-lab-XXXXXX", "lxd", "unix.socket").length > 100) base = "/tmp"
  return fs.mkdtemp(path.join(base, "effect-lxd-lab-"))
}

const parseUp = (stdout: string): LabInfo => {
  const line = stdout.trim().split("\n").filter((l) => l.trim() !== "").at(-1) ?? ""
  let parsed: unknown
  try {
    parsed = JSON.parse(line)
  } catch {
    throw new Error(`lxd-lab.sh up printed no JSON line: ${JSON.stringify(stdout.slice(0, 500))}`)
  }
  if (!isLabInfo(parsed)) throw new Error(`lxd-lab.sh up printed an unexpected JSON line: ${line}`)
  return parsed
}

const down = async (dir: string): Promise<void> => {
  try {
    await execFileP("bash", [script, "down", dir], {
      cwd: repoRoot,
      env: cleanEnv(),
      timeout: DOWN_TIMEOUT_MS,
      maxBuffer: 16 * 1024 * 1024
    })
  } catch (e) {
    // An empty folder (up never got far) can still go; rmdir refuses anything else.
    await fs.rmdir(dir).catch(() => undefined)
    const message = `lxd-lab.sh down ${dir} failed: ${errorText(e)}`
    if (inCI) throw new Error(message)
    warn(message)
  }
}

const downSync = (dir: string): void => {
  try {
    execFileSync("bash", [script, "down", dir], {
      cwd: repoRoot,
      env: cleanEnv(),
      timeout: DOWN_TIMEOUT_MS,
      stdio: ["ignore", "ignore", "inherit"]
    })
  } catch (e) {
    process.stderr.write(`lxd-lab.sh down ${dir} failed: ${errorText(e)}\n`)
  }
}

const up = async (dir: string, port: number, name: string): Promise<LabInfo> => {
  try {
    const { stdout } = await execFileP("bash", [script, "up", dir, "--https-port", String(port), "--name", name], {
      cwd: repoRoot,
      env: cleanEnv(),
      timeout: UP_TIMEOUT_MS,
      maxBuffer: 64 * 1024 * 1024
    })
    return parseUp(stdout)
  } catch (e) {
    throw new Error(`lxd-lab.sh up ${dir} failed: ${errorText(e)}`)
  }
}

// --- external daemon ------------------------------------------------------------------------------------

const getJson = (socketPath: string, urlPath: string): Promise<unknown> =>
  new Promise((resolve, reject) => {
    const req = http.request({ socketPath, path: urlPath, method: "GET", timeout: 10_000 }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (c: Buffer) => chunks.push(c))
      res.on("end", () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")))
        } catch (e) {
          reject(e)
        }
      })
      res.on("error", reject)
    })
    req.on("timeout", () => req.destroy(new Error(`GET ${urlPath} on ${socketPath} timed out`)))
    req.on("error", reject)
    req.end()
  })

const field = (u: unknown, ...keys: Array<string>): unknown => {
  let cur = u
  for (const k of keys) {
    if (typeof cur !== "object" || cur === null) return undefined
    cur = (cur as Record<string, unknown>)[k]
  }
  return cur
}

const externalLab = async (socket: string): Promise<LabInfo> => {
  const lxdDir = path.dirname(socket)
  const image = process.env["LXD_LAB_IMAGE"] ?? "busybox"
  const server = await getJson(socket, "/1.0")
  if (field(server, "type") !== "sync") {
    throw new Error(`GET /1.0 on ${socket} gave ${JSON.stringify(server).slice(0, 300)}`)
  }
  const https = field(server, "metadata", "config", "core.https_address")
  const pid = field(server, "metadata", "environment", "server_pid")
  const alias = await getJson(socket, `/1.0/images/aliases/${encodeURIComponent(image)}`)
  const fingerprint = field(alias, "metadata", "target")
  return {
    dir: process.env["LXD_LAB_DIR"] ?? path.dirname(lxdDir),
    lxdDir,
    socket,
    https: typeof https === "string" ? https : "",
    serverCert: process.env["LXD_LAB_SERVER_CERT"] ?? path.join(lxdDir, "server.crt"),
    trustPassword: process.env["LXD_LAB_TRUST_PASSWORD"] ?? "labpw",
    pid: typeof pid === "number" ? pid : 0,
    image,
    fingerprint: typeof fingerprint === "string" ? fingerprint : ""
  }
}

// --- setup ----------------------------------------------------------------------------------------------

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  project.provide("lab", null)
  project.provide("lab2", null)
  project.provide("labError", null)

  const daemons = process.env["LXD_LAB_DAEMONS"] === "2" ? 2 : 1
  const external = process.env["LXD_LAB"] === "external" ? process.env["LXD_LAB_SOCKET"] : undefined

  const fail = (message: string): void => {
    if (inCI) throw new Error(`LXD lab could not start (CI=true, so the run fails): ${message}`)
    project.provide("labError", message)
    warn(`could not start; tests that need LXD will fail or be skipped.\n${message}`)
  }

  if (external !== undefined && external !== "") {
    try {
      project.provide("lab", await externalLab(external))
      const second = process.env["LXD_LAB_SOCKET_2"]
      if (second !== undefined && second !== "") project.provide("lab2", await externalLab(second))
    } catch (e) {
      fail(`external daemon (LXD_LAB_SOCKET=${external}): ${errorText(e)}`)
    }
    return async () => {}
  }

  // Folders of the labs this run started; teardown (normal or on exit/signal) removes each once.
  const dirs: Array<string> = []
  let tornDown = false
  const teardownSync = (): void => {
    if (tornDown) return
    tornDown = true
    for (const dir of dirs) downSync(dir)
  }
  const onExit = (): void => teardownSync()
  const onSignal = (signal: NodeJS.Signals): void => {
    teardownSync()
    process.off("SIGINT", onSignal)
    process.off("SIGTERM", onSignal)
    // Keep the default behaviour (exit) when nobody else handles the signal.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal)
  }
  // Prepended: vitest's own SIGINT/SIGTERM/exit listeners (registered earlier) call process.exit() from inside
  // the "exit" event, which exits at once and skips every exit listener registered after them.
  process.prependListener("exit", onExit)
  process.prependListener("SIGINT", onSignal)
  process.prependListener("SIGTERM", onSignal)
  const unregister = (): void => {
    process.off("exit", onExit)
    process.off("SIGINT", onSignal)
    process.off("SIGTERM", onSignal)
  }

  const teardown = async (): Promise<void> => {
    if (tornDown) return
    tornDown = true
    unregister()
    await Promise.all(dirs.map(down))
  }

  try {
    const ports = await freePorts(daemons)
    const names = ["lab", "lab2"] as const
    const infos = await Promise.all(
      ports.map(async (port, i) => {
        const dir = await makeLabDir()
        dirs.push(dir)
        return up(dir, port, names[i] ?? `lab${i + 1}`)
      })
    )
    project.provide("lab", infos[0] ?? null)
    project.provide("lab2", infos[1] ?? null)
  } catch (e) {
    // Do not leave a half-started lab behind (down is idempotent); report the start failure first.
    let message = errorText(e)
    try {
      await teardown()
    } catch (te) {
      message += `\n(and the teardown failed too: ${errorText(te)})`
    }
    fail(message)
  }
  return teardown
}

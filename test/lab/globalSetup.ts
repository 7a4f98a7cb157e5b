/**
 * Vitest global setup: starts throwaway LXD daemons with `scripts/lxd-lab.sh` and provides them to tests as
 * `inject("lab")` / `inject("lab2")` (see `./lab.ts` for the helpers tests use).
 *
 * Environment:
 * - `LXD_LAB=external` + `LXD_LAB_SOCKET=/path/unix.socket`: use that running daemon; nothing is started or
 *   stopped. Optional: `LXD_LAB_SOCKET_2` (second daemon), `LXD_LAB_TRUST_PASSWORD` (default `labpw`),
 *   `LXD_LAB_SERVER_CERT` (default `<socket dir>/server.crt`), `LXD_LAB_IMAGE` (default `busybox`).
 * - `LXD_LAB_DAEMONS=2`: start a second daemon as well, provided as `lab2`.
 * - `LXD_LAB_HTTPS_PORTS=PORT[,PORT]`: the HTTPS ports of `lab` and `lab2` (an empty entry: a free port). A port
 *   something else listens on makes that lab fail to start, which shows the teardown on failure.
 * - `CI=true`: a lab that cannot start fails the whole run (never a skip).
 *
 * The packages the labs need are installed first (`lxd-lab.sh install`), then the labs start in parallel. When one
 * cannot start, every lab is torn down once every `up` has ended: an `up` still running would start its daemon
 * after the teardown.
 */
import { type ChildProcess, execFile, execFileSync } from "node:child_process"
import { createHash } from "node:crypto"
import * as fsSync from "node:fs"
import * as fs from "node:fs/promises"
import * as http from "node:http"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import type { TestProject } from "vitest/node"
import * as Coverage from "./coverage.js"
import { isLabInfo, type LabInfo } from "./types.js"

const execFileP = promisify(execFile)

/** The lab script (`scripts/lxd-lab.sh`). */
export const script = fileURLToPath(new URL("../../scripts/lxd-lab.sh", import.meta.url))
const repoRoot = fileURLToPath(new URL("../../", import.meta.url))

/** `up` takes ~1.5 s once the packages are there (`install` has none: see there). */
const UP_TIMEOUT_MS = 120_000
const DOWN_TIMEOUT_MS = 120_000

const inCI = process.env["CI"] === "true"

const warn = (message: string): void => {
  const bar = "!".repeat(78)
  process.stderr.write(`\n${bar}\n!! LXD LAB: ${message.split("\n").join("\n!! ")}\n${bar}\n\n`)
}

/** The caller's environment without LXD_* variables (LXD_SOCKET would redirect the daemon and lxc). */
/** This process's environment without `LXD_*` (the script picks its own `LXD_DIR`). */
export const cleanEnv = (): NodeJS.ProcessEnv => {
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
    if (typeof r.message !== "string") return String(e)
    if (stderr !== "") {
      // a failed command: its message repeats the whole stderr after the command line
      const message = r.message.split("\n")[0] ?? ""
      const tail = stderr.split("\n").slice(-25).join("\n")
      return `${message}\n--- lxd-lab.sh stderr (tail) ---\n${tail}`
    }
    return r.message
  }
  return String(e)
}

/** Free TCP ports on 127.0.0.1, all distinct (the listeners stay open until every port is picked). */
export const freePorts = async (count: number): Promise<Array<number>> => {
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

const run = (args: ReadonlyArray<string>, timeout?: number) =>
  execFileP("bash", [script, ...args], {
    cwd: repoRoot,
    env: cleanEnv(),
    maxBuffer: 64 * 1024 * 1024,
    ...(timeout === undefined ? {} : { timeout, killSignal: "SIGKILL" })
  })

/**
 * Installs what the labs need (a no-op when it is there), once, before any lab starts. No timeout: killing apt
 * halfway would leave dpkg's state broken, and the script bounds its own waits for locks.
 */
const install = async (): Promise<void> => {
  try {
    await run(["install"])
  } catch (e) {
    throw new Error(`lxd-lab.sh install failed: ${errorText(e)}`)
  }
}

/** Tears down every lab folder (all of them, even when one fails); resolves to the failures' messages. */
const downAll = async (dirs: ReadonlyArray<string>): Promise<Array<string>> => {
  const results = await Promise.allSettled(dirs.map(async (dir) => {
    try {
      await run(["down", dir], DOWN_TIMEOUT_MS)
    } catch (e) {
      // An empty folder (up never got far) can still go; rmdir refuses anything else.
      await fs.rmdir(dir).catch(() => undefined)
      throw new Error(`lxd-lab.sh down ${dir} failed: ${errorText(e)}`)
    }
  }))
  return results.flatMap((r) => r.status === "rejected" ? [errorText(r.reason)] : [])
}

/**
 * `lxd-lab.sh COMMAND DIR` run to its end, synchronously (for exit handlers, where nothing async runs any more);
 * a failure is reported on stderr, not thrown.
 */
export const labCommandSync = (command: "down" | "cluster-down", dir: string): void => {
  try {
    execFileSync("bash", [script, command, dir], {
      cwd: repoRoot,
      env: cleanEnv(),
      timeout: DOWN_TIMEOUT_MS,
      stdio: ["ignore", "ignore", "inherit"]
    })
  } catch (e) {
    process.stderr.write(`lxd-lab.sh ${command} ${dir} failed: ${errorText(e)}\n`)
  }
}

const downSync = (dir: string): void => labCommandSync("down", dir)

export const logFile = (dir: string) => path.join(dir, "lxd.log")

/** Where the test files' own labs leave the requests they handled ({@link Coverage.keepRequests}). */
export const keptRequestsDir = path.join(repoRoot, "node_modules", ".cache", "spec-coverage-requests")

/** The spec-coverage line of this run, from the labs' debug logs (read before `down` removes them). */
const specCoverage = (logStarts: ReadonlyMap<string, number>): string => {
  try {
    const logs = [
      ...[...logStarts].map(([dir, start]) => Coverage.requestLines(logFile(dir), start)),
      ...Coverage.keptRequests(keptRequestsDir)
    ]
    return Coverage.report(
      path.join(repoRoot, "..", "shared", "lxd-api", "rest-api-5.0.2.yaml"),
      logs,
      path.join(repoRoot, "node_modules", ".cache", "spec-coverage.txt")
    )
  } catch (e) {
    return `spec coverage: not computed (${errorText(e)})`
  }
}

/** The `up` scripts still running, so that an exit or a signal can stop them before it tears their labs down. */
const running = new Set<ChildProcess>()

const up = async (dir: string, port: number, name: string): Promise<LabInfo> => {
  // On timeout the script is SIGKILLed: it can take no further step, and `down` ends the daemon it started.
  const pending = run(["up", dir, "--https-port", String(port), "--name", name, "--debug"], UP_TIMEOUT_MS)
  running.add(pending.child)
  try {
    return parseUp((await pending).stdout)
  } catch (e) {
    throw new Error(`${name}: lxd-lab.sh up ${dir} --https-port ${port} failed: ${errorText(e)}`)
  } finally {
    running.delete(pending.child)
  }
}

/**
 * Starts one lab per entry, in parallel, each in a new folder (reported to `onDir` at once). When any fails, every
 * lab is torn down (the half-started ones too) after every `up` has ended, and the error names each failure.
 */
export const startLabs = async (
  labs: ReadonlyArray<{ readonly name: string; readonly port: number }>,
  onDir: (dir: string) => void = () => {}
): Promise<Array<LabInfo>> => {
  const dirs: Array<string> = []
  const results = await Promise.allSettled(labs.map(async ({ name, port }) => {
    const dir = await makeLabDir()
    dirs.push(dir)
    onDir(dir)
    return up(dir, port, name)
  }))
  const failures = results.flatMap((r) => r.status === "rejected" ? [errorText(r.reason)] : [])
  if (failures.length === 0) return results.flatMap((r) => r.status === "fulfilled" ? [r.value] : [])
  const downFailures = await downAll(dirs)
  throw new Error([...failures, ...downFailures.map((m) => `(and the teardown failed too: ${m})`)].join("\n"))
}

/** The HTTPS ports of `count` labs: those `LXD_LAB_HTTPS_PORTS` names, free ones for the rest. */
const labPorts = async (count: number): Promise<Array<number>> => {
  const wanted = (process.env["LXD_LAB_HTTPS_PORTS"] ?? "").split(",").slice(0, count)
  const free = await freePorts(count)
  return free.map((port, i) => {
    const entry = wanted[i]?.trim() ?? ""
    if (entry === "") return port
    if (!/^\d+$/.test(entry)) throw new Error(`LXD_LAB_HTTPS_PORTS: not a port: ${JSON.stringify(entry)}`)
    return Number(entry)
  })
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
  const dir = process.env["LXD_LAB_DIR"] ?? path.dirname(lxdDir)
  const splitMeta = path.join(dir, "split-meta.tar.gz")
  const splitRootfs = path.join(dir, "split-rootfs.tar.gz")
  const split = fsSync.existsSync(splitMeta) && fsSync.existsSync(splitRootfs)
    ? {
      metadata: splitMeta,
      rootfs: splitRootfs,
      fingerprint: createHash("sha256").update(fsSync.readFileSync(splitMeta)).update(fsSync.readFileSync(splitRootfs))
        .digest("hex")
    }
    : undefined
  return {
    ...(split === undefined ? {} : { split }),
    dir,
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

  try {
    await install()
  } catch (e) {
    fail(errorText(e))
    return async () => {}
  }

  // Folders of the labs this run started; teardown (normal or on exit/signal) removes each once.
  const dirs: Array<string> = []
  let tornDown = false
  const teardownSync = (): void => {
    if (tornDown) return
    tornDown = true
    // an `up` still running would start its daemon after the teardown
    for (const child of running) child.kill("SIGKILL")
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
    tornDown = true
    process.off("exit", onExit)
    process.off("SIGINT", onSignal)
    process.off("SIGTERM", onSignal)
  }

  // where each lab's log stood when its `up` ended: what the tests sent comes after
  const logStarts = new Map<string, number>()
  const teardown = async (): Promise<void> => {
    if (tornDown) return
    unregister()
    process.stdout.write(`\n${specCoverage(logStarts)}\n`)
    const failures = await downAll(dirs)
    if (failures.length === 0) return
    if (inCI) throw new Error(failures.join("\n"))
    warn(failures.join("\n"))
  }

  fsSync.rmSync(keptRequestsDir, { recursive: true, force: true })
  try {
    const names = ["lab", "lab2"]
    const ports = await labPorts(daemons)
    const infos = await startLabs(ports.map((port, i) => ({ name: names[i] ?? `lab${i + 1}`, port })), (dir) => {
      dirs.push(dir)
    })
    for (const info of infos) logStarts.set(info.dir, Coverage.sizeOf(logFile(info.dir)))
    project.provide("lab", infos[0] ?? null)
    project.provide("lab2", infos[1] ?? null)
  } catch (e) {
    // startLabs has torn down whatever it started
    unregister()
    fail(errorText(e))
  }
  return teardown
}

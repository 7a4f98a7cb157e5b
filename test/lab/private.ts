/**
 * A private LXD daemon for a destructive test file (one that kills and restarts its daemon): the shared lab
 * daemons (`./globalSetup.ts`) serve every other file and must not go down. `usePrivateLab(name)` starts one
 * in `beforeAll` with `scripts/lxd-lab.sh up` (its own temp folder and free HTTPS port) and always tears it
 * down: in `afterAll`, and on exit or a signal when the file's worker dies first.
 *
 *   const lab = usePrivateLab("resume")
 *   it("...", async () => { await lab.kill(); await lab.restart(); lab.info().socket })
 *
 * With `{ bare: true }` the daemon is bare (`lxd-lab.sh bare-up`: nothing initialised, no HTTPS listener, no
 * image; its `https` is empty), as a server about to join a cluster must be.
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { promisify } from "node:util"
import { afterAll, beforeAll } from "vitest"
import { keepRequests, requestLines, sizeOf } from "./coverage.js"
import { cleanEnv, freePorts, keptRequestsDir, labCommandSync, logFile, script } from "./globalSetup.js"
import { isLabInfo, type LabInfo } from "./types.js"

const execFileP = promisify(execFile)

/** What a destructive test does with its daemon. */
export interface PrivateLab {
  /** The daemon as it is now (its PID changes with `restart`); throws before `beforeAll` ran. */
  readonly info: () => LabInfo
  /** SIGKILLs the daemon and waits until it is gone (its containers keep running, as after a crash). */
  readonly kill: () => Promise<void>
  /** Starts the daemon again on the same `LXD_DIR` (`lxd-lab.sh restart`) and waits until it is ready. */
  readonly restart: () => Promise<LabInfo>
}

const lab = async (args: ReadonlyArray<string>): Promise<LabInfo> => {
  const { stdout } = await execFileP("bash", [script, ...args], {
    env: cleanEnv(),
    timeout: 120_000,
    killSignal: "SIGKILL"
  })
  const line = stdout.trim().split("\n").at(-1) ?? ""
  const parsed: unknown = JSON.parse(line)
  if (!isLabInfo(parsed)) throw new Error(`lxd-lab.sh ${args[0]} printed an unexpected line: ${line}`)
  return parsed
}

const gone = (pid: number): boolean => {
  try {
    return /^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, "utf8"))
  } catch {
    return true
  }
}

/** Starts a private daemon for this file (in `beforeAll`) and tears it down whatever happens. */
export const usePrivateLab = (name: string, options: { readonly bare?: boolean } = {}): PrivateLab => {
  let current: LabInfo | undefined
  let dir: string | undefined
  // the requests the tests sent (for the run's spec-coverage figure): the log from where `up` or `restart` ended
  let logStart = 0
  const requests: Array<string> = []
  const keep = (d: string) => {
    requests.push(requestLines(logFile(d), logStart))
    keepRequests(keptRequestsDir, `private-${name}`, requests.splice(0))
  }
  const downSync = () => {
    if (dir === undefined) return
    const d = dir
    dir = undefined
    keep(d)
    labCommandSync("down", d)
  }
  const onExit = () => downSync()
  beforeAll(async () => {
    const base = path.join(os.tmpdir(), "effect-lxd-lab-XXXXXX", "lxd", "unix.socket").length > 100
      ? "/tmp"
      : os.tmpdir()
    dir = fs.mkdtempSync(path.join(base, `effect-lxd-${name}-`))
    process.prependListener("exit", onExit)
    if (options.bare === true) {
      current = await lab(["bare-up", dir, "--name", `private-${name}`, "--debug"])
    } else {
      const [port] = await freePorts(1)
      current = await lab(["up", dir, "--https-port", String(port), "--name", `private-${name}`, "--debug"])
    }
    logStart = sizeOf(logFile(dir))
  }, 180_000)
  afterAll(async () => {
    process.off("exit", onExit)
    if (dir === undefined) return
    const d = dir
    dir = undefined
    keep(d)
    const t0 = Date.now()
    await execFileP("bash", [script, "down", d], { env: cleanEnv(), timeout: 120_000 })
    if (options.bare === true) process.stdout.write(`bare lab ${name}: down ${Date.now() - t0} ms\n`)
  }, 180_000)
  const info = () => {
    if (current === undefined) throw new Error(`private lab ${name} is not up (did beforeAll fail?)`)
    return current
  }
  return {
    info,
    kill: async () => {
      const { pid } = info()
      process.kill(pid, "SIGKILL")
      for (let i = 0; i < 200 && !gone(pid); i++) await new Promise((resolve) => setTimeout(resolve, 50))
      if (!gone(pid)) throw new Error(`lxd ${pid} still alive 10 s after SIGKILL`)
    },
    restart: async () => {
      const d = info().dir
      requests.push(requestLines(logFile(d), logStart))
      current = await lab(["restart", d, "--debug"])
      logStart = sizeOf(logFile(d))
      return current
    }
  }
}

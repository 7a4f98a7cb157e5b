/**
 * A private three-member LXD cluster on loopback for a test file (`scripts/lxd-lab.sh cluster-up`, lab-notes §5):
 * `useClusterLab(name)` forms it in `beforeAll` (its own temp folder, three free HTTPS ports on 127.0.0.1) and
 * always tears it down, all members together: in `afterAll`, and on exit when the file's worker dies first.
 *
 *   const cluster = useClusterLab("cluster")
 *   it("...", () => { cluster.members()[1].socket })
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

/** One member: its lab line (socket, `https`, the cluster certificate as `serverCert`) and its name. */
export interface ClusterMemberLab extends LabInfo {
  readonly name: string
}

/** What a test does with its cluster. */
export interface ClusterLab {
  /** The members `m1`, `m2`, `m3` in order; throws before `beforeAll` ran. */
  readonly members: () => ReadonlyArray<ClusterMemberLab>
  /** How long `cluster-up` took, in ms. */
  readonly upMs: () => number
}

const isMember = (u: unknown): u is ClusterMemberLab =>
  isLabInfo(u) && typeof (u as unknown as Record<string, unknown>)["name"] === "string"

/** Forms a private cluster for this file (in `beforeAll`) and tears it down whatever happens. */
export const useClusterLab = (name: string): ClusterLab => {
  let current: ReadonlyArray<ClusterMemberLab> | undefined
  let dir: string | undefined
  let took = 0
  // where each member's log stood when `cluster-up` ended (for the run's spec-coverage figure)
  let logStarts: ReadonlyArray<readonly [string, number]> = []
  const keep = () =>
    keepRequests(keptRequestsDir, `cluster-${name}`, logStarts.map(([file, start]) => requestLines(file, start)))
  const onExit = () => {
    if (dir === undefined) return
    const d = dir
    dir = undefined
    keep()
    labCommandSync("cluster-down", d)
  }
  beforeAll(async () => {
    const base = path.join(os.tmpdir(), "effect-lxd-cluster-XXXXXX", "m1", "lxd", "unix.socket").length > 100
      ? "/tmp"
      : os.tmpdir()
    dir = fs.mkdtempSync(path.join(base, `effect-lxd-cluster-${name}-`))
    process.prependListener("exit", onExit)
    const ports = await freePorts(3)
    const t0 = Date.now()
    const { stdout } = await execFileP(
      "bash",
      [script, "cluster-up", dir, "--https-ports", ports.join(","), "--name", `cluster-${name}`, "--debug"],
      { env: cleanEnv(), timeout: 240_000, killSignal: "SIGKILL" }
    )
    took = Date.now() - t0
    const line = stdout.trim().split("\n").at(-1) ?? ""
    const parsed = JSON.parse(line) as { readonly members?: unknown }
    const members = Array.isArray(parsed.members) ? parsed.members : []
    if (members.length !== 3 || !members.every(isMember)) {
      throw new Error(`lxd-lab.sh cluster-up printed an unexpected line: ${line}`)
    }
    current = members
    logStarts = members.map((m) => [logFile(m.dir), sizeOf(logFile(m.dir))] as const)
  }, 300_000)
  afterAll(async () => {
    process.off("exit", onExit)
    if (dir === undefined) return
    const d = dir
    dir = undefined
    keep()
    const t0 = Date.now()
    await execFileP("bash", [script, "cluster-down", d], { env: cleanEnv(), timeout: 180_000 })
    process.stdout.write(`cluster lab ${name}: cluster-up ${took} ms, cluster-down ${Date.now() - t0} ms\n`)
  }, 200_000)
  return {
    members: () => {
      if (current === undefined) throw new Error(`cluster lab ${name} is not up (did beforeAll fail?)`)
      return current
    },
    upMs: () => took
  }
}

import * as fs from "node:fs"
import * as net from "node:net"
import { describe, expect, it } from "vitest"
import { freePorts, startLabs } from "./globalSetup.js"
import { labAvailable } from "./lab.js"

/** Processes that name `dir` on their command line (`lxd-lab.sh up DIR`, `lxd --logfile DIR/lxd.log`) or run with
 * `LXD_DIR` in it (the daemon and its helpers). */
const processesOf = (dir: string): Array<string> => {
  const found: Array<string> = []
  for (const pid of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue
    try {
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")
      const environ = fs.readFileSync(`/proc/${pid}/environ`, "utf8").split("\0")
      if (cmdline.some((a) => a.includes(dir)) || environ.includes(`LXD_DIR=${dir}/lxd`)) {
        found.push(`${pid} ${cmdline.join(" ")}`)
      }
    } catch {
      // gone meanwhile
    }
  }
  return found
}

const mountsUnder = (dir: string): Array<string> =>
  fs.readFileSync("/proc/self/mountinfo", "utf8").split("\n").map((line) => line.split(" ")[4] ?? "")
    .filter((mountPoint) => mountPoint === dir || mountPoint.startsWith(`${dir}/`))

describe.runIf(labAvailable)("lab start failure", () => {
  it("waits for every lab, then tears down the one that started and the one that failed halfway", async () => {
    // Port 0 makes `up` fail before it starts anything, while the others are still starting: the teardown must
    // wait for them. Something already listens on the third lab's HTTPS port: its daemon starts, then its preseed
    // fails.
    const [okPort = 0, badPort = 0] = await freePorts(2)
    const taken = net.createServer()
    await new Promise<void>((resolve) => taken.listen(badPort, "127.0.0.1", resolve))
    const dirs: Array<string> = []
    try {
      const labs = [{ name: "ok", port: okPort }, { name: "early", port: 0 }, { name: "halfway", port: badPort }]
      const started = startLabs(labs, (dir) => dirs.push(dir))
      await expect(started).rejects.toThrow(/^early: .*bad --https-port: 0\nhalfway: .*address already in use/s)
    } finally {
      await new Promise((resolve) => taken.close(resolve))
    }
    expect(dirs).toHaveLength(3)
    for (const dir of dirs) {
      expect(fs.existsSync(dir)).toBe(false)
      expect(processesOf(dir)).toEqual([])
      expect(mountsUnder(dir)).toEqual([])
    }
  })
})

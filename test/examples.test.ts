/**
 * Every example runs, as a user would run it, against the lab daemon (and the main one also without any LXD,
 * against the embedded fake). An example that no longer works is a failing test.
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { lab } from "./lab/lab.js"
import { makeCertificate } from "./support/certs.js"

const root = fileURLToPath(new URL("../", import.meta.url))
const tsx = path.join(root, "node_modules/.bin/tsx")
const info = lab()

const run = (file: string, env: Record<string, string>, timeout = 60_000) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const clean: Record<string, string> = {}
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("LXD_") && v !== undefined) clean[k] = v
    execFile(
      tsx,
      [path.join(root, "examples", file)],
      { cwd: root, env: { ...clean, ...env }, timeout },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr })
    )
  })

describe("examples", () => {
  it("remote-https: pinned HTTPS with a client certificate, authenticating with the trust password", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-lxd-example-"))
    try {
      const keys = makeCertificate("example-remote")
      fs.writeFileSync(path.join(dir, "client.crt"), keys.cert)
      fs.writeFileSync(path.join(dir, "client.key"), keys.key)
      const env = {
        LXD_URL: `https://${info.https}`,
        LXD_CLIENT_CERT: path.join(dir, "client.crt"),
        LXD_CLIENT_KEY: path.join(dir, "client.key"),
        LXD_SERVER_CERT: info.serverCert,
        LXD_TRUST_PASSWORD: info.trustPassword
      }
      const first = await run("remote-https.ts", env)
      expect(first.stderr).toBe("")
      expect(first.code).toBe(0)
      expect(first.stdout).toContain("Authenticated")
      expect(first.stdout).toContain("running LXD 5.0.2: trusted")
      const second = await run("remote-https.ts", { ...env, LXD_TRUST_PASSWORD: "" })
      expect(second.stdout).not.toContain("Authenticated")
      expect(second.stdout).toContain("trusted")
      const wrongPin = await run("remote-https.ts", { ...env, LXD_SERVER_CERT: path.join(dir, "client.crt") })
      expect(wrongPin.code).not.toBe(0)
      expect(wrongPin.stderr + wrongPin.stdout).toContain("pinned certificate")
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})

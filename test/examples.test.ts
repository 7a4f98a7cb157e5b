/**
 * Every example runs, as a user would run it, against the lab daemon (and the main one also without any LXD,
 * against the embedded fake). An example that no longer works is a failing test.
 */
import { execFile, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { WebSocket } from "ws"
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

const run2 = (file: string, env: Record<string, string>, input: string) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const clean: Record<string, string> = {}
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("LXD_") && v !== undefined) clean[k] = v
    const child = execFile(
      tsx,
      [path.join(root, "examples", file)],
      { cwd: root, env: { ...clean, ...env }, timeout: 60_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr })
    )
    child.stdin!.end(input)
  })

describe("examples", () => {
  it("launch (the README's main example) against the local LXD", async () => {
    const r = await run("launch.ts", { LXD_SOCKET: info.socket })
    expect(r.stderr).toBe("")
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(`Backend: the local LXD at ${info.socket}`)
    expect(r.stdout).toContain("exec: hello from inside (exit 0)")
    expect(r.stdout).toContain("restored snapshot \"before\": user.purpose=demo")
    expect(r.stdout).toMatch(/deleted example-/)
  })

  it("launch without any LXD runs against the embedded fake and says so", async () => {
    const r = await run("launch.ts", { LXD_SOCKET: "/nonexistent/unix.socket" })
    expect(r.code).toBe(0)
    expect(r.stdout).toContain("Backend: the embedded fake LXD")
    expect(r.stdout).toContain("exec: hello from inside (exit 0)")
    expect(r.stdout).toContain("restored snapshot \"before\": user.purpose=demo")
  })

  it("watch-events: a slow watcher sees every lifecycle event of the worker's containers", async () => {
    const r = await run("watch-events.ts", { LXD_SOCKET: info.socket })
    expect(r.stderr).toBe("")
    expect(r.code).toBe(0)
    expect(r.stdout).toContain("saw 6 lifecycle events for 3 containers created and deleted")
  })

  it("shell: a PTY session fed from stdin, exit status passed through", async () => {
    const r = await run2("shell.ts", { LXD_SOCKET: info.socket }, "echo hi-from-shell\nexit 3\n")
    expect(r.stdout).toContain("hi-from-shell")
    expect(r.code).toBe(3)
  })

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

  it("browser-terminal: a page's websocket gets the container's shell over a loopback proxy", async () => {
    const clean: Record<string, string> = {}
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("LXD_") && v !== undefined) clean[k] = v
    const child = spawn(tsx, [path.join(root, "examples", "browser-terminal.ts")], {
      cwd: root,
      env: { ...clean, LXD_SOCKET: info.socket, BROWSER_TERMINAL_ONCE: "1" }
    })
    let stdout = ""
    let stderr = ""
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve))
    try {
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on("data", (d: Buffer) => {
          stdout += d.toString()
          const m = /Browser terminal for \S+: (http:\/\/127\.0\.0\.1:\d+)\//.exec(stdout)
          if (m) resolve(m[1]!)
        })
        child.once("exit", () => reject(new Error(`exited early: ${stdout} ${stderr}`)))
      })
      expect(await (await fetch(url + "/")).text()).toContain("/terminal")
      // another site's page is refused
      const foreign = new WebSocket(url.replace("http", "ws") + "/terminal", { origin: "http://evil.example" })
      await new Promise<void>((resolve) => foreign.once("error", () => resolve()))
      const ws = new WebSocket(url.replace("http", "ws") + "/terminal", { origin: url })
      let output = ""
      const closed = new Promise<void>((resolve) => ws.once("close", () => resolve()))
      await new Promise<void>((resolve, reject) => {
        ws.once("error", reject)
        ws.on("message", (data: Buffer) => {
          output += data.toString("utf8")
          if (output.includes("browser-42")) resolve()
        })
        ws.once("open", () => ws.send(Buffer.from("echo browser-$((6*7))\n")))
      })
      ws.send(Buffer.from("exit 4\n"))
      await closed
      expect(await exited).toBe(0)
      expect(stdout).toMatch(/session \S+ ended \(exit 4\)/)
    } finally {
      child.kill()
    }
  }, 150_000)
})

/**
 * lxc's remotes and certificates, pylxd's defaults and the browser-terminal exec session, against the lab's two
 * real daemons, with `lxc` itself writing and reading the same configuration (always in a temporary `LXD_CONF`
 * and `HOME`, never the real `~/.config/lxc`).
 */
import { Certificates, Events, Exec, Instances, Lxd, Operations, Server } from "@effect-lxd/core"
import { LxcConfig, LxcRemotes, NodeLxdTransport } from "@effect-lxd/node"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Redacted, Stream } from "effect"
import { execFileSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { WebSocket } from "ws"
import { lab, lab2 } from "./lab/lab.js"

const a = lab()
const b = lab2()
const home = fs.mkdtempSync(path.join(os.tmpdir(), "effect-lxd-remote-home-"))
const tmp = (prefix: string) => fs.mkdtempSync(path.join(home, prefix))

/** `lxc` with only the variables given (no LXD_* of ours leaks in), HOME a temporary folder. */
const lxc = (args: ReadonlyArray<string>, env: Record<string, string>) =>
  execFileSync("lxc", args, {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, ...env },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"]
  })

const unixA = Lxd.layer.pipe(Layer.provide(NodeLxdTransport.layerUnixSocket({ socketPath: a.socket })))
const overRemote = (name: string | undefined, dir: string) =>
  Lxd.layer.pipe(Layer.provide(NodeLxdTransport.layerRemote(name, { configDir: dir })))
const fingerprintOf = (pem: string) => new crypto.X509Certificate(pem).fingerprint256.replace(/:/g, "").toLowerCase()
const names = (text: string) => text.split("\n").filter((l) => l !== "").sort()

/** Runs `f` with `process.env.LXD_CONF` set, restoring it after. */
const withLxdConf = <A, E, R>(dir: string, effect: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const before = process.env.LXD_CONF
      process.env.LXD_CONF = dir
      return before
    }),
    () => effect,
    (before) =>
      Effect.sync(() => {
        if (before === undefined) delete process.env.LXD_CONF
        else process.env.LXD_CONF = before
      })
  )

afterAll(() => fs.rmSync(home, { recursive: true, force: true }))

describe("a remote that lxc added (lab2, over HTTPS with a trust token)", () => {
  const dir = tmp("lxc-")
  const INSTANCE = "remote-listed"

  beforeAll(() => {
    // LXD 5.0.2's lxc takes the token as the address (`lxc remote add <name> <token>`; no --token flag)
    const token = lxc(["config", "trust", "add", "--name", "effect-lxd-remote", "-q"], { LXD_DIR: b.lxdDir }).trim()
    lxc(["remote", "add", "lab2", token], { LXD_CONF: dir })
    lxc(["init", b.image, INSTANCE], { LXD_DIR: b.lxdDir })
  }, 60_000)
  afterAll(() => {
    lxc(["delete", "--force", INSTANCE], { LXD_DIR: b.lxdDir })
  }, 60_000)

  it.live("layerRemote(\"lab2\") lists lab2's instances, as `lxc list lab2:` does", () =>
    Effect.gen(function*() {
      const listed = yield* Effect.flatMap(Instances.Instances, (i) => i.listNames())
      expect(listed).toContain(INSTANCE)
      expect([...listed].sort()).toEqual(names(lxc(["list", "lab2:", "--format", "csv", "-c", "n"], { LXD_CONF: dir })))
      expect(yield* Effect.flatMap(Server.Server, (s) => s.isTrusted)).toBe(true)
    }).pipe(Effect.provide(overRemote("lab2", dir))))

  it.live("lxc's default-remote is used when no name is given; LXD_CONF finds the folder", () =>
    Effect.gen(function*() {
      const copy = tmp("switched-")
      fs.cpSync(dir, copy, { recursive: true })
      lxc(["remote", "switch", "lab2"], { LXD_CONF: copy })
      const viaDefault = yield* Effect.flatMap(Instances.Instances, (i) => i.listNames()).pipe(
        Effect.provide(Lxd.layer.pipe(Layer.provide(NodeLxdTransport.layerRemote()))),
        (e) => withLxdConf(copy, e)
      )
      expect(viaDefault).toContain(INSTANCE)
    }))

  it.live("layerHttps without a client certificate uses lxc's pair and servercerts (pylxd's defaults)", () =>
    Effect.gen(function*() {
      const layer = Lxd.layer.pipe(Layer.provide(NodeLxdTransport.layerHttps({ url: `https://${b.https}` })))
      const trusted = yield* Effect.flatMap(Server.Server, (s) => s.isTrusted).pipe(
        Effect.provide(layer),
        (e) => withLxdConf(dir, e)
      )
      expect(trusted).toBe(true)
      // without lxc's folder: no client certificate (untrusted), and the self-signed server fails the trust store
      const bare = tmp("bare-")
      const failed = yield* Effect.flip(
        Effect.flatMap(Server.Server, (s) => s.isTrusted).pipe(
          Effect.provide(Lxd.layer.pipe(Layer.provide(NodeLxdTransport.layerHttps({ url: `https://${b.https}` })))),
          (e) => withLxdConf(bare, e)
        )
      )
      expect(failed._tag).toBe("ClientConnectionFailed")
    }))

  it.live("a wrong servercerts/lab2.crt fails with the pin error, for HTTP and for websockets", () =>
    Effect.gen(function*() {
      const wrong = tmp("wrong-")
      fs.cpSync(dir, wrong, { recursive: true })
      fs.copyFileSync(a.serverCert, path.join(wrong, "servercerts", "lab2.crt"))
      const layer = overRemote("lab2", wrong)
      const http = yield* Effect.flip(
        Effect.flatMap(Instances.Instances, (i) => i.listNames()).pipe(Effect.provide(layer))
      )
      expect(http._tag).toBe("ClientConnectionFailed")
      expect(http.message).toMatch(/does not match the pinned certificate/)
      const ws = yield* Effect.flip(
        Effect.scoped(Effect.flatMap(Events.Events, (e) => e.subscribe())).pipe(
          Effect.provide(layer)
        )
      )
      expect(ws._tag).toBe("ClientConnectionFailed")
      expect(ws.message).toMatch(/does not match the pinned certificate/)
    }))

  it.live("an image server, an unknown remote and a missing client certificate are LxcConfigErrors naming the file", () =>
    Effect.gen(function*() {
      const images = yield* Effect.flip(
        Layer.build(NodeLxdTransport.layerRemote("images", { configDir: dir })).pipe(
          Effect.scoped
        )
      )
      expect(images._tag).toBe("LxcConfigError")
      expect(images.message).toContain("simplestreams")
      expect(images.message).toContain(path.join(dir, "config.yml"))
      const unknown = yield* Effect.flip(LxcConfig.resolve("nope", { dir }))
      expect(unknown.message).toContain(path.join(dir, "config.yml"))
      const noKey = tmp("nokey-")
      fs.cpSync(dir, noKey, { recursive: true })
      fs.rmSync(path.join(noKey, "client.crt"))
      fs.rmSync(path.join(noKey, "client.key"))
      const missing = yield* Effect.flip(LxcConfig.resolve("lab2", { dir: noKey }))
      expect(missing.path).toBe(path.join(noKey, "client.crt"))
    }))
})

describe("LxcRemotes.add, as `lxc remote add` (against the first lab daemon)", () => {
  const token = (name: string) =>
    Effect.flatMap(Certificates.Certificates, (c) => c.createToken({ name })).pipe(Effect.provide(unixA))
  const revoke = (operationId: string) =>
    Effect.flatMap(Operations.Operations, (o) => o.cancel(operationId)).pipe(Effect.provide(unixA))

  it.live("adds the remote with a token after confirmation; plain lxc then lists the daemon with those files", () =>
    Effect.gen(function*() {
      const dir = tmp("added-")
      const t = yield* token("effect-lxd-add")
      const seen: Array<LxcRemotes.ServerCertificate> = []
      const added = yield* LxcRemotes.add({
        name: "lab",
        address: `https://${a.https}`,
        token: Redacted.make(t.token),
        confirm: (certificate) => Effect.sync(() => seen.push(certificate)).pipe(Effect.as(true)),
        dir
      })
      const expected = fingerprintOf(fs.readFileSync(a.serverCert, "utf8"))
      expect(seen.map((c) => c.fingerprint)).toEqual([expected])
      expect(added).toEqual({
        name: "lab",
        url: `https://${a.https}`,
        fingerprint: expected,
        generatedClientCertificate: true
      })
      // lxc's layout and modes
      expect(fs.statSync(path.join(dir, "client.key")).mode & 0o777).toBe(0o600)
      expect(fingerprintOf(fs.readFileSync(path.join(dir, "servercerts", "lab.crt"), "utf8"))).toBe(expected)
      const client = new crypto.X509Certificate(fs.readFileSync(path.join(dir, "client.crt"), "utf8"))
      expect(client.publicKey.asymmetricKeyDetails?.namedCurve).toBe("secp384r1")
      // plain lxc, same LXD_CONF
      expect(lxc(["remote", "list", "--format", "csv"], { LXD_CONF: dir })).toContain(`lab,https://${a.https},lxd`)
      const viaLxc = names(lxc(["list", "lab:", "--format", "csv", "-c", "n"], { LXD_CONF: dir }))
      const viaSocket = yield* Effect.flatMap(Instances.Instances, (i) => i.listNames()).pipe(Effect.provide(unixA))
      expect(viaLxc).toEqual([...viaSocket].sort())
      // and effect-lxd reads it back
      expect(yield* Effect.flatMap(Server.Server, (s) => s.isTrusted).pipe(Effect.provide(overRemote("lab", dir))))
        .toBe(true)
    }))

  it.live("a refused fingerprint writes nothing (confirm says no, or expectedFingerprint differs)", () =>
    Effect.gen(function*() {
      const dir = path.join(tmp("refused-"), "lxc")
      const t = yield* token("effect-lxd-refused")
      // each refused: nothing written, not even the folder
      const refusedTag = (options: Partial<LxcRemotes.AddOptions>) =>
        Effect.flip(LxcRemotes.add({ name: "lab", address: `https://${a.https}`, dir, ...options })).pipe(
          Effect.tap(() => Effect.sync(() => expect(fs.existsSync(dir)).toBe(false))),
          Effect.map((e) => e._tag)
        )
      expect(yield* refusedTag({ token: Redacted.make(t.token), confirm: () => Effect.succeed(false) })).toBe(
        "CertificateRefused"
      )
      const password = Redacted.make(a.trustPassword)
      expect(yield* refusedTag({ password, expectedFingerprint: "00".repeat(32) })).toBe("CertificateRefused")
      // nothing vouches for the certificate: refused before connecting
      const unvouched = { _tag: yield* refusedTag({ password }) }
      expect(unvouched._tag).toBe("InvalidArgument")
      expect(fs.existsSync(dir)).toBe(false)
      // the refused token was never used: revoke it, so no operation is left running on the daemon
      yield* revoke(t.operationId)
    }))

  it.live("with 5.0's trust password and an expected fingerprint; a wrong password writes nothing", () =>
    Effect.gen(function*() {
      const dir = tmp("password-")
      const expectedFingerprint = fingerprintOf(fs.readFileSync(a.serverCert, "utf8"))
      const bad = yield* Effect.flip(LxcRemotes.add({
        name: "lab",
        address: a.https,
        password: Redacted.make("not-the-password"),
        expectedFingerprint,
        dir
      }))
      expect(bad._tag).toBe("Forbidden")
      expect(fs.readdirSync(dir)).toEqual([])
      const added = yield* LxcRemotes.add({
        name: "lab",
        address: a.https,
        password: Redacted.make(a.trustPassword),
        expectedFingerprint,
        dir
      })
      expect(added.fingerprint).toBe(expectedFingerprint)
      expect(names(lxc(["list", "lab:", "--format", "csv", "-c", "n"], { LXD_CONF: dir }))).toBeDefined()
    }))
})

describe("Exec.session: websockets handed out for a browser terminal", () => {
  const NAME = "remote-session"
  beforeAll(() => void lxc(["launch", a.image, NAME], { LXD_DIR: a.lxdDir }), 60_000)
  afterAll(() => void lxc(["delete", "--force", NAME], { LXD_DIR: a.lxdDir }), 60_000)

  /** A plain `ws` client on the handed-out path, as a proxy for a browser would open it. */
  const open = (p: string) =>
    Effect.async<WebSocket, Error>((resume) => {
      const socket = new WebSocket(`ws+unix://${a.socket}:${p}`)
      socket.once("open", () => resume(Effect.succeed(socket)))
      socket.once("error", (e) => resume(Effect.fail(e)))
    })

  it.live("a test client connects to the handed-out websockets and runs echo in the container", () =>
    Effect.scoped(
      Effect.gen(function*() {
        const exec = yield* Exec.Exec
        const session = yield* exec.session(NAME, ["sh"], { width: 100, height: 30 })
        expect(Object.keys(session.fds).sort()).toEqual(["0", "control"])
        expect(session.fds["0"]!.path).toBe(
          `/1.0/operations/${session.operationId}/websocket?secret=${session.fds["0"]!.secret}`
        )
        const control = yield* open(session.fds["control"]!.path)
        const pty = yield* open(session.fds["0"]!.path)
        let output = ""
        const seen = Effect.async<void>((resume) => {
          pty.on("message", (data: Buffer) => {
            output += data.toString("utf8")
            if (output.includes("session-42")) resume(Effect.void)
          })
        })
        pty.send(Buffer.from("echo session-$((6*7))\n"))
        yield* seen.pipe(Effect.timeout("10 seconds"))
        // the command exits: LXD drops control, the client closes the PTY (as a browser tab would)
        control.once("close", () => pty.close())
        pty.send(Buffer.from("exit 3\n"))
        const exit = yield* session.exit.pipe(Effect.timeout("10 seconds"))
        expect(exit.exitCode).toBe(3)
      }).pipe(Effect.provide(unixA))
    ))

  it.live("a session nobody connects to is ended when its scope closes: no operation left", () =>
    Effect.gen(function*() {
      const ops = yield* Operations.Operations
      const id = yield* Effect.scoped(
        Effect.map(Effect.flatMap(Exec.Exec, (x) => x.session(NAME, ["sleep", "600"])), (s) => s.operationId)
      )
      const ids = yield* ops.listIds()
      expect(ids["running"] ?? []).not.toContain(id)
      const all = yield* ops.list()
      const op = all.find((o) => o.id === id)
      // gone, or ended; not waiting for a client and not LXD's 5 s "Timed out waiting for websockets to connect"
      if (op !== undefined) {
        expect(op.status_code).toBeGreaterThanOrEqual(200)
        expect(op.err).not.toMatch(/Timed out waiting for websockets/)
      }
      // and the command never lingered in the container
      const ps = yield* Effect.flatMap(Exec.Exec, (x) => x.runText(NAME, ["ps", "-o", "args"]))
      expect(ps.stdout).not.toContain("sleep 600")
    }).pipe(Effect.provide(unixA)))

  it.live("connect opens a handed-out fd through the client's transport (for a proxy)", () =>
    Effect.scoped(
      Effect.gen(function*() {
        const session = yield* Effect.flatMap(Exec.Exec, (x) => x.session(NAME, ["sh", "-c", "echo via-connect"]))
        const control = yield* session.connect("control")
        const pty = yield* session.connect("0")
        const out = yield* pty.frames.pipe(
          Stream.filter((f): f is Uint8Array => typeof f !== "string"),
          Stream.map((f) => Buffer.from(f).toString("utf8")),
          Stream.takeUntil((s) => s.includes("via-connect")),
          Stream.runFold("", (acc, s) => acc + s),
          Effect.timeout("10 seconds")
        )
        expect(out).toContain("via-connect")
        yield* control.frames.pipe(Stream.runDrain, Effect.ignore)
        yield* pty.close()
        expect((yield* session.exit.pipe(Effect.timeout("10 seconds"))).exitCode).toBe(0)
        const unknown = yield* Effect.flip(session.connect("7"))
        expect(unknown._tag).toBe("ProtocolError")
      }).pipe(Effect.provide(unixA))
    ))
})

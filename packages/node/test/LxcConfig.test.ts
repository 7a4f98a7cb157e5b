import { Server } from "@effect-lxd/core"
import * as Lxd from "@effect-lxd/core/Lxd"
import { LxcConfig, LxcRemotes, NodeLxdTransport } from "@effect-lxd/node"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option, Redacted } from "effect"
import { execFileSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as https from "node:https"
import type { AddressInfo } from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import type * as tls from "node:tls"
import { makeCertificate } from "../../../test/support/certs.js"

const root = fs.mkdtempSync(path.join(os.tmpdir(), "effect-lxd-lxcconfig-"))
afterAll(() => fs.rmSync(root, { recursive: true, force: true }))
const tmp = (prefix: string) => fs.mkdtempSync(path.join(root, prefix))

/** config.yml exactly as `lxc remote add lab2 <token>` (LXD 5.0.2) wrote it. */
const lxcWritten = `default-remote: local
remotes:
  images:
    addr: https://images.linuxcontainers.org
    protocol: simplestreams
    public: true
  lab2:
    addr: https://127.0.0.1:55465
    project: default
    protocol: lxd
    public: false
  local:
    addr: unix://
    public: false
aliases: {}
`

const pair = Effect.runSync(LxcConfig.generateClientCertificate({ commonName: "test@host" }))

/** A folder laid out as lxc's, with `config` as config.yml and lxc's client pair. */
const lxcDir = (config: string, options: { readonly pair?: boolean } = {}) => {
  const dir = tmp("conf-")
  fs.writeFileSync(path.join(dir, "config.yml"), config)
  if (options.pair !== false) {
    fs.writeFileSync(path.join(dir, "client.crt"), pair.certificate)
    fs.writeFileSync(path.join(dir, "client.key"), Redacted.value(pair.key))
  }
  return dir
}

/** A self-signed server certificate for 127.0.0.1, as the lab's daemons have. */
const serverKeys = makeCertificate("lxd-stand-in", { subjectAltName: "IP:127.0.0.1" })

/** An HTTPS stand-in for LXD that answers GET /1.0 and records the client certificate each request presented. */
const standIn = Effect.acquireRelease(
  Effect.async<{ url: string; peers: Array<string | undefined>; server: https.Server }>((resume) => {
    const peers: Array<string | undefined> = []
    const server = https.createServer(
      { cert: serverKeys.cert, key: serverKeys.key, requestCert: true, rejectUnauthorized: false },
      (req, res) => {
        const peer = (req.socket as tls.TLSSocket).getPeerX509Certificate()
        peers.push(peer?.fingerprint256)
        res.setHeader("content-type", "application/json")
        res.end(JSON.stringify({
          type: "sync",
          status: "Success",
          status_code: 200,
          metadata: {
            api_extensions: [],
            api_status: "stable",
            api_version: "1.0",
            auth: peer === undefined ? "untrusted" : "trusted",
            public: false,
            auth_methods: ["tls"]
          }
        }))
      }
    )
    server.listen(
      0,
      "127.0.0.1",
      () =>
        resume(Effect.succeed({ url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, peers, server }))
    )
  }),
  ({ server }) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
)

const setEnv = (vars: Record<string, string | undefined>) => {
  for (const [k, v] of Object.entries(vars)) {
    if (v === undefined) delete process.env[k]
    else process.env[k] = v
  }
}

const withEnv = <A, E, R>(vars: Record<string, string | undefined>, effect: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const before = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]))
      setEnv(vars)
      return before
    }),
    () => effect,
    (before) => Effect.sync(() => setEnv(before))
  )

const fingerprint = (pem: string) => new crypto.X509Certificate(pem).fingerprint256

describe("LxcConfig.configDir: where lxc looks", () => {
  it("$LXD_CONF first", () => {
    expect(LxcConfig.configDir({ LXD_CONF: "/c", HOME: "/h" }, () => true)).toBe("/c")
  })
  it("then the snap's ~/snap/lxd/common/config when it exists", () => {
    expect(LxcConfig.configDir({ HOME: "/h" }, (p) => p === "/h/snap/lxd/common/config")).toBe(
      "/h/snap/lxd/common/config"
    )
  })
  it("then ~/.config/lxc", () => {
    expect(LxcConfig.configDir({ HOME: "/h" }, () => false)).toBe("/h/.config/lxc")
  })
})

describe("LxcConfig.read and resolve", () => {
  it.effect("a missing config.yml gives lxc's defaults (local, images)", () =>
    Effect.gen(function*() {
      const config = yield* LxcConfig.read(tmp("empty-"))
      expect(config.exists).toBe(false)
      expect(config.defaultRemote).toBe("local")
      expect(Object.keys(config.remotes).sort()).toEqual(["images", "local"])
      const local = yield* LxcConfig.resolve(undefined, { dir: config.dir })
      expect(local).toEqual({ _tag: "Unix", remote: "local", socketPath: undefined, project: undefined })
    }))

  it.effect("an HTTPS remote of lxc's file: lxc's pair (key Redacted) and the pinned servercerts/<remote>.crt", () =>
    Effect.gen(function*() {
      const dir = lxcDir(lxcWritten)
      fs.mkdirSync(path.join(dir, "servercerts"))
      fs.writeFileSync(path.join(dir, "servercerts", "lab2.crt"), serverKeys.cert)
      const c = yield* LxcConfig.resolve("lab2", { dir })
      if (c._tag !== "Https") throw new Error("expected HTTPS")
      expect(c.url).toBe("https://127.0.0.1:55465")
      expect(c.clientCertificate).toBe(pair.certificate)
      expect(Redacted.isRedacted(c.clientKey)).toBe(true)
      expect(Redacted.value(c.clientKey!)).toBe(Redacted.value(pair.key))
      expect(c.serverCertificate).toBe(serverKeys.cert)
      expect(c.project).toBe("default")
      // without servercerts/lab2.crt the system trust store verifies the server
      fs.rmSync(path.join(dir, "servercerts", "lab2.crt"))
      const unpinned = yield* LxcConfig.resolve("lab2", { dir })
      expect(unpinned._tag === "Https" && unpinned.serverCertificate).toBe(undefined)
    }))

  it.effect("local is always the socket; unix:///path is that socket", () =>
    Effect.gen(function*() {
      const dir = lxcDir(
        "remotes:\n  local:\n    addr: https://evil:8443\n    project: p1\n  sock:\n    addr: unix:///run/x.sock\n"
      )
      expect(yield* LxcConfig.resolve("local", { dir })).toEqual({
        _tag: "Unix",
        remote: "local",
        socketPath: undefined,
        project: "p1"
      })
      const sock = yield* LxcConfig.resolve("sock", { dir })
      expect(sock._tag === "Unix" && sock.socketPath).toBe("/run/x.sock")
    }))

  it.effect("typed errors that name the file: image server, Candid, unknown remote, half a pair, bad YAML, bad name", () =>
    Effect.gen(function*() {
      const dir = lxcDir(lxcWritten + "")
      const config = path.join(dir, "config.yml")
      const images = yield* Effect.flip(LxcConfig.resolve("images", { dir }))
      expect(images._tag).toBe("LxcConfigError")
      expect(images.path).toBe(config)
      expect(images.message).toContain("simplestreams")
      expect(images.message).toContain(config)
      const unknown = yield* Effect.flip(LxcConfig.resolve("nope", { dir }))
      expect(unknown.message).toContain("no such remote")
      expect(unknown.message).toContain(config)
      const candid = lxcDir("remotes:\n  c:\n    addr: https://x:8443\n    auth_type: candid\n")
      expect((yield* Effect.flip(LxcConfig.resolve("c", { dir: candid }))).reason).toContain("candid")
      fs.rmSync(path.join(dir, "client.key"))
      const half = yield* Effect.flip(LxcConfig.resolve("lab2", { dir }))
      expect(half.path).toBe(path.join(dir, "client.key"))
      const none = lxcDir(lxcWritten, { pair: false })
      const missing = yield* Effect.flip(LxcConfig.resolve("lab2", { dir: none }))
      expect(missing.path).toBe(path.join(none, "client.crt"))
      const bad = lxcDir("remotes: [unclosed\n")
      expect((yield* Effect.flip(LxcConfig.read(bad))).reason).toBe("not valid YAML")
      const wrongShape = lxcDir("remotes:\n  x:\n    protocol: lxd\n")
      expect((yield* Effect.flip(LxcConfig.read(wrongShape))).reason).toContain("not an lxc config.yml")
      const escape = yield* Effect.flip(LxcConfig.resolve("../x", { dir }))
      expect(escape.reason).toContain("invalid name")
    }))

  it.effect("a public HTTPS remote needs no client certificate", () =>
    Effect.gen(function*() {
      const dir = lxcDir("remotes:\n  pub:\n    addr: https://x:8443\n    public: true\n", { pair: false })
      const c = yield* LxcConfig.resolve("pub", { dir })
      expect(c._tag === "Https" && c.clientCertificate).toBe(undefined)
    }))
})

describe("LxcConfig.writeRemote", () => {
  it.effect("keeps the file's other remotes, keys and comments; lxc's modes", () =>
    Effect.gen(function*() {
      const dir = lxcDir("# mine\n" + lxcWritten, { pair: false })
      yield* LxcConfig.writeRemote({
        dir,
        name: "new",
        remote: { addr: "https://10.0.0.2:8443", protocol: "lxd", public: false, project: "default" },
        serverCertificate: serverKeys.cert,
        clientCertificate: pair
      })
      const text = fs.readFileSync(path.join(dir, "config.yml"), "utf8")
      expect(text.startsWith("# mine\n")).toBe(true)
      expect(text).toContain("aliases: {}")
      expect(text).toContain(
        "  new:\n    addr: https://10.0.0.2:8443\n    project: default\n    protocol: lxd\n    public: false"
      )
      const config = yield* LxcConfig.read(dir)
      expect(Object.keys(config.remotes).sort()).toEqual(["images", "lab2", "local", "new"])
      expect(fs.readFileSync(path.join(dir, "servercerts", "new.crt"), "utf8")).toBe(serverKeys.cert)
      expect(fs.statSync(path.join(dir, "client.key")).mode & 0o777).toBe(0o600)
      expect(fs.statSync(path.join(dir, "servercerts")).mode & 0o777).toBe(0o750)
    }))

  it.effect("a new folder gets lxc's defaults; an existing client pair is never replaced", () =>
    Effect.gen(function*() {
      const dir = path.join(tmp("fresh-"), "lxc")
      yield* LxcConfig.writeRemote({
        dir,
        name: "a",
        remote: { addr: "https://a:8443", protocol: "lxd", public: false }
      })
      const config = yield* LxcConfig.read(dir)
      expect(config.defaultRemote).toBe("local")
      expect(Object.keys(config.remotes).sort()).toEqual(["a", "images", "local"])
      expect(fs.statSync(dir).mode & 0o777).toBe(0o700)
      const other = Effect.runSync(LxcConfig.generateClientCertificate())
      fs.writeFileSync(path.join(dir, "client.crt"), pair.certificate)
      fs.writeFileSync(path.join(dir, "client.key"), Redacted.value(pair.key))
      yield* LxcConfig.writeRemote({
        dir,
        name: "b",
        remote: { addr: "https://b:8443", protocol: "lxd", public: false },
        clientCertificate: other
      })
      expect(fs.readFileSync(path.join(dir, "client.crt"), "utf8")).toBe(pair.certificate)
    }))
})

describe("LxcConfig.generateClientCertificate: as lxc makes them", () => {
  it("EC P-384, self-signed with ECDSA SHA-384, TLS client, not a CA, ten years; SEC1 key that matches", () => {
    const cert = new crypto.X509Certificate(pair.certificate)
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe("secp384r1")
    expect(cert.subject).toBe("O=linuxcontainers.org\nCN=test@host")
    expect(cert.issuer).toBe(cert.subject)
    expect(cert.verify(cert.publicKey)).toBe(true)
    expect(cert.ca).toBe(false)
    expect(cert.keyUsage).toEqual(["1.3.6.1.5.5.7.3.2"])
    const years = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / (365.25 * 24 * 3600 * 1000)
    expect(Math.round(years)).toBe(10)
    expect(Redacted.value(pair.key)).toMatch(/^-----BEGIN EC PRIVATE KEY-----/)
    expect(cert.checkPrivateKey(crypto.createPrivateKey(Redacted.value(pair.key)))).toBe(true)
    const text = execFileSync("openssl", ["x509", "-noout", "-text"], { input: pair.certificate, encoding: "utf8" })
    expect(text).toContain("Signature Algorithm: ecdsa-with-SHA384")
    expect(text).toMatch(/Key Usage: critical\s+Digital Signature, Key Encipherment/)
  })
})

describe("layerHttps: pylxd's defaults from lxc's folder", () => {
  const isTrusted = (options: NodeLxdTransport.HttpsOptions) =>
    Effect.flatMap(Server.Server, (s) => s.isTrusted).pipe(
      Effect.provide(Lxd.layer.pipe(Layer.provide(NodeLxdTransport.layerHttps(options))))
    )

  it.live("no client certificate given: lxc's pair is presented; servercerts/<host>.crt pins the server", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* standIn
      const dir = lxcDir("remotes: {}\n")
      fs.mkdirSync(path.join(dir, "servercerts"))
      fs.writeFileSync(path.join(dir, "servercerts", "127.0.0.1.crt"), serverKeys.cert)
      const trusted = yield* withEnv({ LXD_CONF: dir }, isTrusted({ url: server.url }))
      expect(trusted).toBe(true)
      expect(server.peers).toEqual([fingerprint(pair.certificate)])
    })))

  it.live("servercerts/<remote>.crt of the config.yml remote with that address is found too", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* standIn
      const dir = lxcDir(`remotes:\n  mine:\n    addr: ${server.url}\n`)
      fs.mkdirSync(path.join(dir, "servercerts"))
      fs.writeFileSync(path.join(dir, "servercerts", "mine.crt"), serverKeys.cert)
      expect(yield* withEnv({ LXD_CONF: dir }, isTrusted({ url: server.url }))).toBe(true)
    })))

  it.live("without servercerts the system trust store decides (a self-signed server fails); never insecure", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* standIn
      const dir = lxcDir("remotes: {}\n")
      const e = yield* Effect.flip(withEnv({ LXD_CONF: dir }, isTrusted({ url: server.url })))
      expect(e._tag).toBe("ClientConnectionFailed")
      expect(server.peers).toEqual([])
    })))

  it.live("given options win, and lxcDefaults: false turns the defaults off", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* standIn
      const dir = lxcDir("remotes: {}\n")
      const other = Effect.runSync(LxcConfig.generateClientCertificate())
      yield* withEnv(
        { LXD_CONF: dir },
        isTrusted({
          url: server.url,
          clientCertificate: other.certificate,
          clientKey: other.key,
          serverCertificate: serverKeys.cert
        })
      )
      const untrusted = yield* withEnv(
        { LXD_CONF: dir },
        isTrusted({ url: server.url, serverCertificate: serverKeys.cert, lxcDefaults: false })
      )
      expect(untrusted).toBe(false)
      expect(server.peers).toEqual([fingerprint(other.certificate), undefined])
    })))
})

describe("LxcRemotes", () => {
  it("decodeTrustToken reads lxc's token; anything else is None", () => {
    const token = Buffer.from(JSON.stringify({
      client_name: "c",
      fingerprint: "ab",
      addresses: ["10.0.0.1:8443"],
      secret: "s",
      expires_at: "0001-01-01T00:00:00Z"
    })).toString("base64")
    expect(Option.map(LxcRemotes.decodeTrustToken(token), (t) => [t.fingerprint, t.addresses])).toEqual(
      Option.some(["ab", ["10.0.0.1:8443"]])
    )
    expect(LxcRemotes.decodeTrustToken("a-password")).toEqual(Option.none())
  })

  it.live("fetchServerCertificate reads what the server presents, without trusting it", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* standIn
      const c = yield* LxcRemotes.fetchServerCertificate(server.url)
      expect(c.fingerprint).toBe(fingerprint(serverKeys.cert).replace(/:/g, "").toLowerCase())
      expect(c.pem.trim()).toBe(serverKeys.cert.trim())
    })))

  it.live("add: an address that is not HTTPS, or nothing to vouch for the certificate, is refused before connecting", () =>
    Effect.gen(function*() {
      const dir = path.join(tmp("add-"), "lxc")
      const http = yield* Effect.flip(
        LxcRemotes.add({ name: "x", address: "http://127.0.0.1:1", expectedFingerprint: "00", dir })
      )
      expect(http._tag).toBe("InvalidArgument")
      const unvouched = yield* Effect.flip(LxcRemotes.add({ name: "x", address: "127.0.0.1:1", dir }))
      expect(unvouched._tag).toBe("InvalidArgument")
      const badName = yield* Effect.flip(
        LxcRemotes.add({ name: "../x", address: "127.0.0.1:1", expectedFingerprint: "00", dir })
      )
      expect(badName._tag === "InvalidArgument" && badName.argument).toBe("name")
      const unreachable = yield* Effect.flip(
        LxcRemotes.add({ name: "x", address: "127.0.0.1:1", expectedFingerprint: "00", dir })
      )
      expect(unreachable._tag).toBe("ClientConnectionFailed")
      expect(fs.existsSync(dir)).toBe(false)
    }))

  it.live("add: a token naming another fingerprint is refused, nothing written", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* standIn
      const dir = path.join(tmp("add-"), "lxc")
      const token = Buffer.from(JSON.stringify({ fingerprint: "ab".repeat(32), addresses: [], secret: "s" }))
        .toString("base64")
      const e = yield* Effect.flip(LxcRemotes.add({ name: "x", address: server.url, token: Redacted.make(token), dir }))
      expect(e._tag).toBe("CertificateRefused")
      expect(fs.existsSync(dir)).toBe(false)
    })))
})

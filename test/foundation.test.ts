/**
 * The foundation against a real LXD 5.0.2 daemon (started by test/lab/globalSetup.ts).
 */
import { Certificates, Events, Lxd, LxdClient, Operations, Server } from "@effect-lxd/core"
import { NodeLxdTransport } from "@effect-lxd/node"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Layer, Option, Redacted, Stream } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { lab } from "./lab/lab.js"
import { makeCertificate } from "./support/certs.js"

const info = lab()
const unix = Lxd.layer.pipe(Layer.provide(NodeLxdTransport.layerUnixSocket({ socketPath: info.socket })))
const serverCert = fs.readFileSync(info.serverCert, "utf8")
const https = (options: Partial<NodeLxdTransport.HttpsOptions> & { readonly keys?: { cert: string; key: string } }) =>
  Lxd.layer.pipe(Layer.provide(NodeLxdTransport.layerHttps({
    url: `https://${info.https}`,
    serverCertificate: serverCert,
    ...(options.keys ? { clientCertificate: options.keys.cert, clientKey: Redacted.make(options.keys.key) } : {}),
    ...options
  })))

describe("server", () => {
  it.live("server info decodes against 5.0.2 with its real extension list", () =>
    Effect.gen(function*() {
      const server = yield* Server.Server
      const server_ = yield* server.info
      expect(server_.auth).toBe("trusted")
      expect(server_.environment?.server_version).toBe("5.0.2")
      expect(server_.api_extensions.length).toBeGreaterThanOrEqual(300)
      for (const ext of ["instances", "projects", "certificate_token", "instance_all_projects", "resources"]) {
        expect(yield* server.hasExtension(ext)).toBe(true)
      }
      expect(yield* server.hasExtension("explicit_trust_token")).toBe(false)
      const e = yield* Effect.flip(server.requireExtension("not_a_real_extension"))
      expect(e._tag).toBe("APIExtensionNotAvailable")
      const resources = yield* server.resources
      expect(resources.cpu.total).toBeGreaterThan(0)
      expect(resources.memory.total).toBeGreaterThan(0)
    }).pipe(Effect.provide(unix)))

  it.live("config: PATCH with the ETag from a fresh GET; a stale ETag is PreconditionFailed", () =>
    Effect.gen(function*() {
      const server = yield* Server.Server
      const { etag } = yield* server.getWithEtag
      expect(etag).toBeDefined()
      yield* server.updateConfig({ "images.remote_cache_expiry": "7" }, { etag })
      const stale = yield* Effect.flip(server.updateConfig({ "images.remote_cache_expiry": "8" }, { etag }))
      expect(stale._tag).toBe("PreconditionFailed")
      const { value: after } = yield* server.getWithEtag
      expect(after.config["images.remote_cache_expiry"]).toBe("7")
      yield* server.updateConfig({ "images.remote_cache_expiry": "" })
    }).pipe(Effect.provide(unix)))
})

describe("connection failures", () => {
  it.live("a missing socket path fails with ClientConnectionFailed naming the path", () =>
    Effect.gen(function*() {
      const server = yield* Server.Server
      const e = yield* Effect.flip(server.info)
      expect(e._tag).toBe("ClientConnectionFailed")
      expect(e.message).toContain("/nonexistent/lxd/unix.socket")
      expect(e.message).toContain("ENOENT")
    }).pipe(Effect.provide(
      Lxd.layer.pipe(Layer.provide(NodeLxdTransport.layerUnixSocket({ socketPath: "/nonexistent/lxd/unix.socket" })))
    )))

  it.live("a wrong TLS pin fails with ClientConnectionFailed, for HTTP and for events", () =>
    Effect.gen(function*() {
      const server = yield* Server.Server
      const e = yield* Effect.flip(server.info)
      expect(e._tag).toBe("ClientConnectionFailed")
      expect(e.message).toContain("pinned certificate")
      const events = yield* Events.Events
      const ev = yield* Effect.flip(Stream.runDrain(events.stream()))
      expect(ev._tag).toBe("ClientConnectionFailed")
      expect(ev.message).toContain("pinned certificate")
      expect(ev.message).toContain("/1.0/events")
    }).pipe(Effect.provide(https({ serverCertificate: makeCertificate("not-the-server").cert }))))

  it.live("the right pin connects; an unauthenticated client is untrusted", () =>
    Effect.gen(function*() {
      const server = yield* Server.Server
      const i = yield* server.info
      expect(i.auth).toBe("untrusted")
      expect(i.environment).toBeUndefined()
    }).pipe(Effect.provide(https({}))))
})

describe("HTTPS trust", () => {
  it.live("an untrusted client authenticates with the trust password and becomes trusted; its certificate is listed and deleted", () => {
    const keys = makeCertificate("effect-lxd-https-test")
    return Effect.gen(function*() {
      const server = yield* Server.Server
      const certificates = yield* Certificates.Certificates
      expect(yield* server.isTrusted).toBe(false)
      const wrong = yield* Effect.flip(certificates.authenticate({ password: "not-the-password" }))
      expect(wrong._tag).toBe("Forbidden")
      yield* certificates.authenticate({ password: info.trustPassword }, { name: "effect-lxd-https-test" })
      expect(yield* server.isTrusted).toBe(true)
      expect((yield* server.info).auth).toBe("trusted") // the cached GET /1.0 was refreshed
      const mine = (yield* certificates.list()).find((c) => c.name === "effect-lxd-https-test")
      expect(mine).toBeDefined()
      expect(yield* certificates.listNames()).toContain(mine!.fingerprint)
      const got = yield* certificates.get(mine!.fingerprint)
      expect(got.type).toBe("client")
      yield* certificates.delete(mine!.fingerprint)
      expect(yield* server.isTrusted).toBe(false)
    }).pipe(Effect.provide(https({ keys })))
  })

  it.live("an untrusted client trusts another certificate with the password (pylxd's Certificate.create); it stays untrusted", () => {
    const other = makeCertificate("effect-lxd-other")
    return Effect.gen(function*() {
      const certificates = yield* Certificates.Certificates
      const server = yield* Server.Server
      const bad = yield* Effect.flip(certificates.authenticate({ password: info.trustPassword }, { certificate: "x" }))
      expect(bad._tag).toBe("InvalidArgument")
      yield* certificates.authenticate({ password: info.trustPassword }, { name: "other-one", certificate: other.cert })
      expect(yield* server.isTrusted).toBe(false)
      // the other certificate is trusted now: an admin sees it, and a client holding it is trusted
      const listed = yield* Effect.provide(
        Effect.flatMap(Certificates.Certificates, (c) => c.list()),
        unix
      )
      const added = listed.find((c) => c.name === "other-one")
      expect(added?.type).toBe("client")
      yield* Effect.ensuring(
        Effect.provide(Effect.flatMap(Server.Server, (s) => s.isTrusted), https({ keys: other })).pipe(
          Effect.map((trusted) => expect(trusted).toBe(true))
        ),
        Effect.provide(
          Effect.flatMap(Certificates.Certificates, (c) => Effect.orDie(c.delete(added!.fingerprint))),
          unix
        )
      )
    }).pipe(Effect.provide(https({ keys: makeCertificate("effect-lxd-untrusted") })))
  })

  it.live("an admin trusts a certificate by PEM (restricted), changes and removes it", () => {
    const keys = makeCertificate("effect-lxd-restricted")
    return Effect.gen(function*() {
      const certificates = yield* Certificates.Certificates
      const fingerprint = yield* certificates.create({
        certificate: keys.cert,
        name: "restricted-one",
        restricted: true,
        projects: ["default"]
      })
      expect(fingerprint).toMatch(/^[0-9a-f]{64}$/)
      const { value: certificate, etag } = yield* certificates.getWithEtag(fingerprint)
      expect(certificate.restricted).toBe(true)
      expect(certificate.projects).toEqual(["default"])
      yield* certificates.update(fingerprint, { name: "renamed-one" }, { etag })
      expect((yield* certificates.get(fingerprint)).name).toBe("renamed-one")
      const stale = yield* Effect.flip(certificates.update(fingerprint, { name: "again" }, { etag }))
      expect(stale._tag).toBe("PreconditionFailed")
      yield* certificates.delete(fingerprint)
      expect((yield* Effect.flip(certificates.get(fingerprint)))._tag).toBe("NotFound")
    }).pipe(Effect.provide(unix))
  })

  it.live("a trust token makes a new client trusted; a pending token is a running operation until used", () => {
    const keys = makeCertificate("effect-lxd-token")
    return Effect.gen(function*() {
      const token = yield* Effect.provide(
        Effect.flatMap(Certificates.Certificates, (c) => c.createToken({ name: "token-client" })),
        unix
      )
      const pending = yield* Effect.provide(
        Effect.flatMap(Operations.Operations, (o) => o.get(token.operationId)),
        unix
      )
      expect(pending.status_code).toBe(103)
      yield* Effect.provide(
        Effect.gen(function*() {
          const certificates = yield* Certificates.Certificates
          yield* certificates.authenticate({ token: token.token })
          expect(yield* Effect.flatMap(Server.Server, (s) => s.isTrusted)).toBe(true)
        }),
        https({ keys })
      )
      yield* Effect.provide(
        Effect.gen(function*() {
          const certificates = yield* Certificates.Certificates
          const mine = (yield* certificates.list()).find((c) => c.name === "token-client")
          expect(mine).toBeDefined()
          yield* certificates.delete(mine!.fingerprint)
        }),
        unix
      )
    })
  })
})

/** A local "image server" that answers LXD's HEAD with image headers and then trickles the download. */
const slowImageServer = Effect.acquireRelease(
  Effect.async<{ url: string; closed: Promise<void>; server: http.Server }>((resume) => {
    let resolveClosed: () => void = () => {}
    const closed = new Promise<void>((r) => (resolveClosed = r))
    const server = http.createServer((req, res) => {
      const { port } = server.address() as AddressInfo
      if (req.method === "HEAD" || req.url === "/meta") {
        res.writeHead(200, {
          "LXD-Image-Hash": "a".repeat(64),
          "LXD-Image-URL": `http://127.0.0.1:${port}/image.tar.gz`
        })
        res.end()
        return
      }
      res.writeHead(200, { "content-length": String(100 * 1024 * 1024), "content-type": "application/octet-stream" })
      const timer = setInterval(() => res.write(Buffer.alloc(1024)), 50)
      res.on("close", () => {
        clearInterval(timer)
        resolveClosed()
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resume(Effect.succeed({ url: `http://127.0.0.1:${port}/meta`, closed, server }))
    })
  }),
  ({ server }) =>
    Effect.sync(() => server.closeAllConnections()).pipe(
      Effect.zipRight(Effect.promise(() => new Promise((r) => server.close(r))))
    )
)

describe("operations", () => {
  it.live(
    "an operation started and then interrupted is cancelled on the server",
    () =>
      Effect.scoped(Effect.gen(function*() {
        const client = yield* LxdClient.LxdClient
        const operations = yield* Operations.Operations
        const events = yield* Events.Events
        const image = yield* slowImageServer
        const opEvents = yield* events.subscribe({ types: ["operation"] })
        const collected = yield* Effect.fork(Stream.runCollect(
          Events.operations(opEvents).pipe(Stream.takeUntil((e) => e.metadata.status_code >= 200))
        ))
        const fiber = yield* Effect.fork(
          client.run({ method: "POST", path: "/images", body: { source: { type: "url", url: image.url } } })
        )
        // wait until LXD is downloading (its operation shows up running, and becomes cancellable)
        const running = yield* operations.list().pipe(
          Effect.map((ops) =>
            ops.find((o) => o.description === "Downloading image" && o.status_code === 103 && o.may_cancel)
          ),
          Effect.flatMap(Option.fromNullable),
          Effect.retry({ times: 100, schedule: undefined }),
          Effect.tapError(() => Effect.sleep("50 millis"))
        )
        yield* Fiber.interrupt(fiber)
        const final = Chunk.toReadonlyArray(yield* Fiber.join(collected)).filter((e) => e.metadata.id === running.id)
          .at(-1)
        expect(final?.metadata.status_code).toBeGreaterThanOrEqual(400) // Cancelled, or Failure "context canceled"
        const after = yield* operations.get(running.id)
        // LXD 5.0.2 reports a cancelled download as Cancelled (401), or as Failure "context canceled" when the
        // cancel reached the transfer itself: either way it is over, and it was us
        expect(after.status_code === 401 || (after.status_code === 400 && after.err.includes("cancel"))).toBe(true)
        yield* Effect.promise(() => image.closed) // and LXD hung up on the download
      })).pipe(Effect.provide(unix)),
    { timeout: 30_000 }
  )

  it.live("Operations.wait with a timeout fails with OperationTimeout; cancel ends a token operation", () =>
    Effect.gen(function*() {
      const certificates = yield* Certificates.Certificates
      const operations = yield* Operations.Operations
      const token = yield* certificates.createToken({ name: "never-used" })
      const e = yield* Effect.flip(operations.wait(token.operationId, { timeout: "1 second" }))
      expect(e._tag).toBe("OperationTimeout")
      yield* operations.cancel(token.operationId)
      const done = yield* operations.get(token.operationId)
      expect(done.status_code).toBe(401)
      const cancelled = yield* Effect.flip(operations.wait(token.operationId))
      expect(cancelled._tag).toBe("OperationCancelled")
    }).pipe(Effect.provide(unix)))

  it.live("a failed operation is OperationFailed with LXD's message", () =>
    Effect.gen(function*() {
      const client = yield* LxdClient.LxdClient
      yield* client.run({
        method: "POST",
        path: "/instances",
        body: { name: "fail-src", source: { type: "image", alias: info.image } }
      })
      // 5.0.2: a copy without "profiles" fails in the operation (with HTTP 200 on /wait)
      const e = yield* Effect.flip(client.run({
        method: "POST",
        path: "/instances",
        body: { name: "fail-copy", source: { type: "copy", source: "fail-src" } }
      }))
      expect(e._tag).toBe("OperationFailed")
      expect(e.message).toContain("No root device could be found")
      yield* client.run({ method: "DELETE", path: "/instances/fail-src" })
      const gone = yield* Effect.flip(client.request({ method: "GET", path: "/instances/fail-src" }))
      expect(gone._tag).toBe("NotFound")
    }).pipe(Effect.provide(unix)))
})

describe("events", () => {
  it.live("the stream delivers a lifecycle event caused by a request made after subscribing", () =>
    Effect.scoped(Effect.gen(function*() {
      const client = yield* LxdClient.LxdClient
      const events = yield* Events.Events
      const stream = yield* events.subscribe({ types: ["lifecycle"] })
      const fiber = yield* Effect.fork(Stream.runCollect(
        Events.lifecycle(stream).pipe(
          Stream.filter((e) => e.metadata.source === "/1.0/profiles/events-probe"),
          Stream.take(2)
        )
      ))
      yield* client.request({ method: "POST", path: "/profiles", body: { name: "events-probe" } })
      yield* client.request({ method: "DELETE", path: "/profiles/events-probe" })
      const got = Chunk.toReadonlyArray(yield* Fiber.join(fiber).pipe(Effect.timeout("10 seconds")))
      expect(got.map((e) => e.metadata.action)).toEqual(["profile-created", "profile-deleted"])
      expect(got[0]!.metadata.requestor?.protocol).toBe("unix")
    })).pipe(Effect.provide(unix)))

  it.live("a slow consumer with a tiny buffer gets EventBufferOverflow under the default policy", () =>
    Effect.scoped(Effect.gen(function*() {
      const client = yield* LxdClient.LxdClient
      const events = yield* Events.Events
      const stream = yield* events.subscribe({ types: ["lifecycle"], bufferSize: 2 })
      const slow = yield* Effect.fork(Stream.runDrain(Stream.tap(stream, () => Effect.sleep("1 second"))))
      for (let i = 0; i < 5; i++) {
        yield* client.request({ method: "POST", path: "/profiles", body: { name: `overflow-${i}` } })
        yield* client.request({ method: "DELETE", path: `/profiles/overflow-${i}` })
      }
      const e = yield* Effect.flip(Fiber.join(slow)).pipe(Effect.timeout("20 seconds"))
      expect(e._tag).toBe("EventBufferOverflow")
    })).pipe(Effect.provide(unix)))

  it.live("closing the stream's scope closes the websocket", () =>
    Effect.gen(function*() {
      const events = yield* Events.Events
      const count = Effect.sync(() => connectionsToDaemon(info.socket))
      const before = yield* count
      yield* Effect.scoped(Effect.gen(function*() {
        yield* events.subscribe({ types: ["lifecycle"] })
        expect(yield* count).toBe(before + 1)
      }))
      let after = yield* count
      for (let i = 0; i < 40 && after !== before; i++) {
        yield* Effect.sleep("50 millis")
        after = yield* count
      }
      expect(after).toBe(before)
    }).pipe(
      // a transport of its own, so no pooled HTTP connection comes or goes during the count
      Effect.provide(Lxd.layer.pipe(Layer.provide(NodeLxdTransport.layerUnixSocket({ socketPath: info.socket }))))
    ))
})

/** Connections from this process to the daemon's socket, from `ss -xp` (server ends whose peer is ours). */
const connectionsToDaemon = (socketPath: string): number => {
  const lines = execFileSync("ss", ["-xpH"], { encoding: "utf8" }).split("\n")
  const ours = new Set<string>()
  const serverPeers: Array<string> = []
  for (const line of lines) {
    const f = line.trim().split(/\s+/)
    // Netid State Recv-Q Send-Q Local Inode Peer PeerInode users
    if (f.length < 8) continue
    const [local, inode, , peerInode] = [f[4], f[5], f[6], f[7]]
    if (line.includes(`pid=${process.pid},`)) ours.add(inode!)
    if (local === socketPath) serverPeers.push(peerInode!)
  }
  return serverPeers.filter((p) => ours.has(p)).length
}

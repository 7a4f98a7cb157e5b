/**
 * Images arriving from elsewhere, against the lab's two real LXD 5.0.2 daemons: a private image copied from the
 * first daemon to the second with a one-time secret (pull) and pushed (push), landing with its alias; the progress
 * stream; a copy whose scope closes mid-way leaving no operation on either daemon; imports from a URL and from a
 * simplestreams index served by a small HTTP server on 127.0.0.1 that the test starts; and `refresh` picking up a
 * newer image that server then describes.
 */
import { Images, Lxd, LxdClient, Operations } from "@effect-lxd/core"
import { NodeLxdTransport } from "@effect-lxd/node"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, type Scope, Stream } from "effect"
import { createHash } from "node:crypto"
import { readdirSync, readFileSync, utimesSync } from "node:fs"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import { createServer as createHttpsServer } from "node:https"
import type { AddressInfo } from "node:net"
import { join } from "node:path"
import { gunzipSync, gzipSync } from "node:zlib"
import { simplestreams } from "./contract/imageImport.js"
import { lab, lab2 } from "./lab/lab.js"
import { makeCertificate } from "./support/certs.js"

const a = lab()
const b = lab2()

const connect = (socket: string) => LxdClient.connect(NodeLxdTransport.layerUnixSocket({ socketPath: socket }))

/** `use` with the first daemon's engine (`source`) and the second's services (where images arrive). */
const onB = <A, E>(
  use: (source: LxdClient.LxdClient.Service) => Effect.Effect<A, E, Lxd.Services | Scope.Scope>
) =>
  Effect.scoped(Effect.gen(function*() {
    const source = yield* connect(a.socket)
    const target = yield* connect(b.socket)
    return yield* Effect.provide(use(source), Lxd.layerFromClient(target))
  }))

/** The operations still running on a daemon. */
const running = (client: LxdClient.LxdClient.Service) =>
  Effect.flatMap(Operations.Operations, (o) => o.list()).pipe(
    Effect.provide(Lxd.layerFromClient(client)),
    Effect.map((ops) => ops.filter((op) => op.status_code < 200).map((op) => `${op.class}: ${op.description}`))
  )

/** Deletes an image on the second daemon if it is there. */
const dropOnB = (fingerprint: string) => Effect.flatMap(Images.Images, (i) => Effect.ignore(i.delete(fingerprint)))

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")

/** The lab's tarball, and the same tarball compressed again (another fingerprint: a "newer" image). */
const tarball = readFileSync(join(a.dir, "busybox-image.tar.gz"))
const newer = (() => {
  const gz = gzipSync(gunzipSync(tarball), { level: 1 })
  new DataView(gz.buffer, gz.byteOffset).setUint32(4, 424242, true) // gzip MTIME: another valid archive
  return gz
})()

/** An HTTP server on 127.0.0.1 serving files and HEAD answers, with the requests it saw. */
const serve = (
  files: Map<string, Uint8Array>,
  heads: Map<string, Record<string, string>>,
  tls?: { readonly key: string; readonly cert: string }
) =>
  Effect.acquireRelease(
    Effect.async<{ server: Server; url: string; seen: Array<string> }>((resume) => {
      const seen: Array<string> = []
      const handler = (req: IncomingMessage, res: ServerResponse) => {
        const path = (req.url ?? "/").split("?")[0]!
        seen.push(`${req.method} ${path}`)
        const head = heads.get(path)
        if (req.method === "HEAD" && head !== undefined) {
          res.writeHead(200, head).end()
          return
        }
        const file = files.get(path)
        if (file === undefined) {
          res.writeHead(404).end()
          return
        }
        res.writeHead(200, { "content-type": "application/octet-stream", "content-length": file.length })
        res.end(req.method === "HEAD" ? undefined : file)
      }
      const server: Server = tls === undefined ? createServer(handler) : createHttpsServer(tls, handler)
      server.listen(0, "127.0.0.1", () => {
        const scheme = tls === undefined ? "http" : "https"
        resume(Effect.succeed({ server, seen, url: `${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}` }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )

/** A simplestreams tree describing versions of one busybox product (`lab-busybox`). */
const busyboxStreams = (files: Map<string, Uint8Array>, versions: ReadonlyArray<readonly [string, Uint8Array]>) =>
  simplestreams(files, { os: "busybox", release: "1.35", aliases: "lab-busybox" }, versions)

describe("Images.copyFrom between two daemons", () => {
  /** Copies the first daemon's image to the second with `options`, checks what landed, and drops it. */
  const copied = (
    options: Omit<Images.CopyOptions, "source" | "fingerprint">,
    check: (image: Images.Image, source: LxdClient.LxdClient.Service) => Effect.Effect<void, unknown, Lxd.Services>
  ) =>
    onB((source) =>
      Effect.flatMap(Images.Images, (i) => i.copyFrom({ source, fingerprint: a.fingerprint.slice(0, 12), ...options }))
        .pipe(
          Effect.tap((image) => expect(image.fingerprint).toBe(a.fingerprint)),
          Effect.flatMap((image) => check(image, source)),
          Effect.ensuring(dropOnB(a.fingerprint))
        )
    )

  it.live("pull: a private image lands with its alias (a one-time secret); no operation is left on either side", () =>
    copied({ aliases: ["ii-pull"] }, (image, source) =>
      Effect.gen(function*() {
        expect(image.public).toBe(false)
        expect(image.aliases.map((x) => x.name)).toEqual(["ii-pull"])
        expect((yield* (yield* Images.Images).getByAlias("ii-pull")).fingerprint).toBe(a.fingerprint)
        expect(yield* running(source)).toEqual([])
        expect(yield* running(yield* LxdClient.LxdClient)).toEqual([])
      })))

  it.live("push: the source uploads it; it lands public with its alias", () =>
    copied(
      { mode: "push", aliases: [{ name: "ii-push", description: "pushed" }], public: true },
      (image, source) =>
        Effect.gen(function*() {
          expect(image.aliases).toEqual([{ name: "ii-push", description: "pushed" }])
          expect(image.public).toBe(true)
          expect(yield* running(source)).toEqual([])
          expect(yield* running(yield* LxdClient.LxdClient)).toEqual([])
        })
    ))

  it.live("relay: the bytes stream through the client, the alias is made after", () =>
    copied({ mode: "relay", aliases: ["ii-relay"] }, () =>
      Effect.gen(function*() {
        expect((yield* (yield* Images.Images).getByAlias("ii-relay")).fingerprint).toBe(a.fingerprint)
      })))

  it.live("copyFromOperation: the progress stream reports the download until it is final", () =>
    onB((source) =>
      Effect.gen(function*() {
        const images = yield* Images.Images
        const [updates, op] = yield* Effect.scoped(Effect.gen(function*() {
          const handle = yield* images.copyFromOperation({ source, fingerprint: a.fingerprint })
          return yield* Effect.all([Stream.runCollect(handle.progress), handle.wait()], { concurrency: 2 })
        }))
        const seen = Chunk.toReadonlyArray(updates)
        expect(seen.length).toBeGreaterThanOrEqual(1)
        expect(seen.every((u) => u.id === op.id)).toBe(true)
        expect(seen.at(-1)?.status).toBe("Success")
        expect(op.status).toBe("Success")
      }).pipe(Effect.ensuring(dropOnB(a.fingerprint)))
    ))

  it.live("a copy whose scope closes at its first update leaves no operation running on either daemon (the download drained)", () =>
    onB((source) =>
      Effect.gen(function*() {
        const images = yield* Images.Images
        const target = yield* LxdClient.LxdClient
        yield* Effect.scoped(Effect.gen(function*() {
          const handle = yield* images.copyFromOperation({ source, fingerprint: a.fingerprint })
          yield* Stream.runDrain(Stream.take(handle.progress, 1))
        }))
        // LXD 5.0.2 reports an image download as may_cancel: false throughout, so the scope drained it (it
        // landed) rather than cancelling it; the source's secret token was cancelled
        expect(yield* images.exists(a.fingerprint)).toBe(true)
        expect(yield* running(source)).toEqual([])
        expect(yield* running(target)).toEqual([])
      }).pipe(Effect.ensuring(dropOnB(a.fingerprint)))
    ))
})

describe("Images.importFrom (a local HTTP server on 127.0.0.1)", () => {
  it.live("a URL: LXD sends HEAD, follows LXD-Image-URL, checks LXD-Image-Hash; the image lands with its alias", () =>
    onB(() =>
      Effect.gen(function*() {
        const images = yield* Images.Images
        const files = new Map([["/busybox.tar.gz", new Uint8Array(tarball)]])
        const heads = new Map<string, Record<string, string>>()
        const server = yield* serve(files, heads)
        heads.set("/image", { "LXD-Image-URL": `${server.url}/busybox.tar.gz`, "LXD-Image-Hash": a.fingerprint })
        const image = yield* images.importFrom({ type: "url", url: `${server.url}/image` }, {
          aliases: ["ii-url"],
          properties: { "user.from": "url" }
        })
        expect(image.fingerprint).toBe(a.fingerprint)
        expect(image.aliases.map((x) => x.name)).toEqual(["ii-url"])
        expect(server.seen).toContain("HEAD /image")
        expect(server.seen).toContain("GET /busybox.tar.gz")
        // a hash that does not match the bytes: LXD refuses the image
        yield* images.delete(a.fingerprint)
        heads.set("/bad", { "LXD-Image-URL": `${server.url}/busybox.tar.gz`, "LXD-Image-Hash": "0".repeat(64) })
        const bad = yield* Effect.flip(images.importFrom({ type: "url", url: `${server.url}/bad` }))
        expect(bad._tag).toBe("OperationFailed")
        expect(yield* images.exists(a.fingerprint)).toBe(false)
        // refused before any request
        const wrong = yield* Effect.flip(images.importFrom({ type: "url", url: "ftp://x" }))
        expect(wrong._tag).toBe("InvalidArgument")
      }).pipe(Effect.ensuring(dropOnB(a.fingerprint)))
    ))

  it.live("simplestreams over plain http: by alias, with auto_update; then refresh finds the newer image", () =>
    onB(() =>
      Effect.gen(function*() {
        const images = yield* Images.Images
        const files = new Map<string, Uint8Array>()
        busyboxStreams(files, [["20261201_0000", new Uint8Array(tarball)]])
        const server = yield* serve(files, new Map())
        const image = yield* images.importFrom(
          { type: "image", protocol: "simplestreams", server: server.url, alias: "lab-busybox" },
          { aliases: ["ii-ss"], autoUpdate: true }
        )
        expect(image.fingerprint).toBe(a.fingerprint)
        expect(image.auto_update).toBe(true)
        expect(image.update_source).toMatchObject({
          protocol: "simplestreams",
          server: server.url,
          alias: "lab-busybox"
        })
        expect(image.properties).toMatchObject({ os: "busybox", release: "1.35", serial: "20261201_0000" })
        expect(server.seen).toContain("GET /streams/v1/index.json")

        // nothing newer yet: the same fingerprint
        expect(yield* images.refresh(a.fingerprint)).toBe(a.fingerprint)
        // the server now describes a newer version; LXD 5.0.2 keeps the index an hour in LXD_DIR/cache/<hash>/,
        // so the cached copies are aged past that
        busyboxStreams(files, [["20261201_0000", new Uint8Array(tarball)], ["20261202_0000", newer]])
        for (const entry of readdirSync(join(b.lxdDir, "cache"), { withFileTypes: true })) {
          if (!entry.isDirectory()) continue
          for (const name of ["index.json", "images.json"]) {
            const old = new Date(Date.now() - 2 * 3600_000)
            yield* Effect.try(() => utimesSync(join(b.lxdDir, "cache", entry.name, name), old, old)).pipe(Effect.ignore)
          }
        }
        const fresh = yield* images.refresh(a.fingerprint)
        expect(fresh).toBe(sha256(newer))
        expect((yield* images.getByAlias("ii-ss")).fingerprint).toBe(fresh)
        expect(yield* images.exists(a.fingerprint)).toBe(false)
        yield* images.delete(fresh)
      }).pipe(Effect.ensuring(Effect.all([dropOnB(a.fingerprint), dropOnB(sha256(newer))])))
    ))

  it.live("an LXD server by fingerprint (public image, no secret); a missing alias is OperationFailed", () =>
    onB((source) =>
      Effect.gen(function*() {
        const images = yield* Images.Images
        yield* source.request({ method: "PATCH", path: `/images/${a.fingerprint}`, body: { public: true } })
        const image = yield* images.importFrom({
          type: "image",
          server: `https://${a.https}`,
          protocol: "lxd",
          fingerprint: a.fingerprint,
          certificate: readFileSync(a.serverCert, "utf8")
        })
        expect(image.fingerprint).toBe(a.fingerprint)
        const missing = yield* Effect.flip(images.importFrom({
          type: "image",
          server: `https://${a.https}`,
          alias: "no-such-alias",
          certificate: readFileSync(a.serverCert, "utf8")
        }))
        expect(missing._tag).toBe("OperationFailed")
      }).pipe(
        Effect.ensuring(dropOnB(a.fingerprint)),
        Effect.ensuring(Effect.ignore(
          source.request({ method: "PATCH", path: `/images/${a.fingerprint}`, body: { public: false } })
        ))
      )
    ))
  it.live("simplestreams over https: a self-signed server is refused, then accepted with its certificate", () =>
    onB(() =>
      Effect.gen(function*() {
        const images = yield* Images.Images
        const { cert, key } = makeCertificate("imgimport", { subjectAltName: "IP:127.0.0.1" })
        const files = new Map<string, Uint8Array>()
        busyboxStreams(files, [["20261201_0000", new Uint8Array(tarball)]])
        const server = yield* serve(files, new Map(), { key, cert })
        const source = { type: "image", protocol: "simplestreams", server: server.url, alias: "lab-busybox" } as const
        const refused = yield* Effect.flip(images.importFrom(source))
        expect(refused._tag).toBe("OperationFailed")
        expect(refused.message).toContain("certificate signed by unknown authority")
        const image = yield* images.importFrom({ ...source, certificate: cert })
        expect(image.fingerprint).toBe(a.fingerprint)
        // LXD keeps the certificate with the update source, for refreshes
        expect(image.update_source?.certificate).toBe(cert)
      }).pipe(Effect.ensuring(dropOnB(a.fingerprint)))
    ))
})

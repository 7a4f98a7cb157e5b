/**
 * Images arriving from elsewhere, for the contract suite. On one server: an import from a URL served by a small
 * HTTP server on 127.0.0.1 started here (`HEAD` with `LXD-Image-Hash` and `LXD-Image-URL`, then the tarball),
 * with LXD's failures for a missing header, a wrong hash, a file that is not there, bytes that are no archive
 * and a server nobody listens on; an image that is there already imported again. Between two servers (the
 * lab's two daemons, or two fakes that reach each other): a private image pulled without its secret, with a
 * wrong one and with a one-time secret (the token then cancelled), and pushed (`images_push_relay`), again and
 * with a wrong secret. Each scenario makes its own image (a tarball with a random file) and deletes what it made.
 */
import { Images, Lxd, LxdClient, Operations } from "@effect-lxd/core"
import { Effect, type Scope, Stream } from "effect"
import { execFileSync } from "node:child_process"
import { createHash, randomBytes } from "node:crypto"
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { expect } from "vitest"
import type { Scenario } from "./scenarios.js"

/**
 * An image tree in a scratch folder (`metadata.yaml`; `rootfs/etc/hostname` and `rootfs/random`, `randomSize`
 * random bytes: a fingerprint of its own), handed to `pack` to make tarballs of; the folder goes afterwards.
 */
export const imageTree = <A>(randomSize: number, pack: (dir: string) => A): A => {
  const dir = mkdtempSync(join(tmpdir(), "contract-image-"))
  try {
    writeFileSync(
      join(dir, "metadata.yaml"),
      `architecture: x86_64\ncreation_date: ${Math.floor(Date.now() / 1000)}\nproperties:\n  os: contract\n`
    )
    mkdirSync(join(dir, "rootfs", "etc"), { recursive: true })
    writeFileSync(join(dir, "rootfs", "etc", "hostname"), "contract\n")
    writeFileSync(join(dir, "rootfs", "random"), randomBytes(randomSize))
    return pack(dir)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** A unified image tarball LXD takes: its bytes and fingerprint. */
const uniqueTarball = (): { readonly bytes: Uint8Array; readonly fingerprint: string } =>
  imageTree(4096, (dir) => {
    execFileSync("tar", ["-czf", join(dir, "image.tar.gz"), "-C", dir, "metadata.yaml", "rootfs"])
    const bytes = new Uint8Array(readFileSync(join(dir, "image.tar.gz")))
    return { bytes, fingerprint: createHash("sha256").update(bytes).digest("hex") }
  })

/** An HTTP server on 127.0.0.1 answering `HEAD`s from `heads` and `GET`s from `files`, for the scope. */
const serve = (
  heads: Map<string, Record<string, string>>,
  files: Map<string, Uint8Array>
): Effect.Effect<string, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.async<ReturnType<typeof createServer>>((resume) => {
        const server = createServer((req: IncomingMessage, res: ServerResponse) => {
          const path = (req.url ?? "/").split("?")[0]!
          const head = heads.get(path)
          if (req.method === "HEAD" && head !== undefined) return void res.writeHead(200, head).end()
          const file = files.get(path)
          if (file === undefined) return void res.writeHead(404).end()
          res.writeHead(200, { "content-type": "application/octet-stream", "content-length": file.length })
          res.end(req.method === "HEAD" ? undefined : file)
        })
        server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
      }),
      (server) =>
        Effect.async<void>((resume) => {
          server.closeAllConnections()
          server.close(() => resume(Effect.void))
        })
    ),
    (server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  )

/** Runs `POST /1.0/images` with `body`: the operation's outcome, `Success` or its error. */
const imagesPost = (body: unknown) =>
  Effect.flatMap(LxdClient.LxdClient, (c) => c.run({ method: "POST", path: "/images", body })).pipe(
    Effect.as("Success"),
    Effect.catchTag("OperationFailed", (e) => Effect.succeed(e.message))
  )

const dropImage = (fingerprint: string) => Effect.flatMap(Images.Images, (i) => Effect.ignore(i.delete(fingerprint)))

/**
 * A simplestreams tree in `files` (`streams/v1/index.json`, `streams/v1/images.json`): one amd64 product with a
 * unified image (`lxd_combined.tar.gz`, at `/<serial>.tar.gz`) for each of `versions`.
 */
export const simplestreams = (
  files: Map<string, Uint8Array>,
  product: { readonly os: string; readonly release: string; readonly aliases: string },
  versions: ReadonlyArray<readonly [serial: string, bytes: Uint8Array]>
): void => {
  const name = `${product.os}:${product.release}:amd64:default`
  const json = (u: unknown) => new TextEncoder().encode(JSON.stringify(u))
  const items = Object.fromEntries(versions.map(([serial, bytes]) => {
    files.set(`/${serial}.tar.gz`, bytes)
    const item = {
      ftype: "lxd_combined.tar.gz",
      path: `${serial}.tar.gz`,
      sha256: createHash("sha256").update(bytes).digest("hex"),
      size: bytes.length
    }
    return [serial, { items: { "lxd.tar.gz": item } }]
  }))
  files.set(
    "/streams/v1/index.json",
    json({
      format: "index:1.0",
      index: {
        images: {
          datatype: "image-downloads",
          path: "streams/v1/images.json",
          format: "products:1.0",
          products: [name]
        }
      }
    })
  )
  files.set(
    "/streams/v1/images.json",
    json({
      content_id: "images",
      datatype: "image-downloads",
      format: "products:1.0",
      products: {
        [name]: { ...product, arch: "amd64", release_title: product.release, versions: items }
      }
    })
  )
}

export const urlImportScenarios: ReadonlyArray<Scenario> = [
  {
    name: "images: import from a URL (HEAD names the image and its hash); LXD's failures; again when it is there",
    run: () =>
      Effect.scoped(Effect.gen(function*() {
        const images = yield* Images.Images
        const { bytes, fingerprint } = uniqueTarball()
        const garbage = new TextEncoder().encode(`not an archive ${Math.random()}\n`)
        const junk = createHash("sha256").update(garbage).digest("hex")
        const heads = new Map<string, Record<string, string>>()
        const url = yield* serve(heads, new Map([["/image.tar.gz", bytes], ["/junk.bin", garbage]]))
        const image = `${url}/image.tar.gz`
        heads.set("/ok", { "LXD-Image-URL": image, "LXD-Image-Hash": fingerprint })
        heads.set("/nohash", { "LXD-Image-URL": image })
        heads.set("/nourl", { "LXD-Image-Hash": fingerprint })
        heads.set("/bad", { "LXD-Image-URL": image, "LXD-Image-Hash": "0".repeat(64) })
        heads.set("/gone", { "LXD-Image-URL": `${url}/gone.tar.gz`, "LXD-Image-Hash": fingerprint })
        heads.set("/junk", { "LXD-Image-URL": `${url}/junk.bin`, "LXD-Image-Hash": junk })
        const from = (path: string, extra: Record<string, unknown> = {}) =>
          imagesPost({ source: { type: "url", url: `${url}${path}` }, ...extra })
        yield* Effect.ensuring(
          Effect.gen(function*() {
            expect(yield* from("/nohash")).toBe("Missing LXD-Image-Hash header")
            expect(yield* from("/nourl")).toBe("Missing LXD-Image-URL header")
            expect(yield* from("/bad")).toBe(`Hash mismatch for "${image}": ${fingerprint} != ${"0".repeat(64)}`)
            expect(yield* from("/gone")).toBe(`Unable to fetch "${url}/gone.tar.gz": 404 Not Found`)
            expect(yield* from("/junk")).toBe("Unsupported compression")
            expect(yield* imagesPost({ source: { type: "url", url: "http://127.0.0.1:1/x" } })).toContain(
              `Head "http://127.0.0.1:1/x": Unable to connect to: 127.0.0.1:1 (`
            )
            expect(yield* images.exists(fingerprint)).toBe(false)
            expect(yield* from("/ok", { aliases: [{ name: "ct-url" }], public: true })).toBe("Success")
            const got = yield* images.getByAlias("ct-url")
            // metadata.yaml names the architecture and the properties
            expect(got).toMatchObject({
              fingerprint,
              public: true,
              size: bytes.length,
              architecture: "x86_64",
              properties: { os: "contract" }
            })
            // a URL names no update source
            expect(got.update_source ?? null).toBe(null)
            // there already: nothing is downloaded, the import succeeds
            expect(yield* from("/ok")).toBe("Success")
            // and through the client
            expect((yield* images.importFrom({ type: "url", url: `${url}/ok` })).fingerprint).toBe(fingerprint)
          }),
          dropImage(fingerprint)
        )
      }))
  },
  {
    name: "images: import from a simplestreams server (by alias, auto_update, update_source); an unknown alias",
    run: () =>
      Effect.scoped(Effect.gen(function*() {
        const images = yield* Images.Images
        const { bytes, fingerprint } = uniqueTarball()
        const files = new Map<string, Uint8Array>()
        simplestreams(files, { os: "contract", release: "1.0", aliases: "ct-stream,ct-stream/1.0" }, [[
          "20261202_0000",
          bytes
        ]])
        const url = yield* serve(new Map(), files)
        const source = { type: "image", protocol: "simplestreams", server: url } as const
        yield* Effect.ensuring(
          Effect.gen(function*() {
            const unknown = yield* Effect.flip(images.importFrom({ ...source, alias: "ct-no-such" }))
            expect(unknown.message).toBe(
              "Failed getting remote image info: Failed getting image: The requested image couldn't be found"
            )
            const image = yield* images.importFrom({ ...source, alias: "ct-stream" }, {
              aliases: ["ct-ss"],
              autoUpdate: true
            })
            expect(image).toMatchObject({
              fingerprint,
              auto_update: true,
              public: false,
              architecture: "x86_64",
              properties: { os: "contract", release: "1.0", serial: "20261202_0000", architecture: "amd64" },
              update_source: { protocol: "simplestreams", server: url, alias: "ct-stream" }
            })
            expect(image.aliases.map((a) => a.name)).toEqual(["ct-ss"])
            // there already: nothing is downloaded, the import succeeds
            files.delete("/20261202_0000.tar.gz")
            expect((yield* images.importFrom({ ...source, alias: "ct-stream" })).fingerprint).toBe(fingerprint)
          }),
          dropImage(fingerprint)
        )
      }))
  }
]

/** A scenario between two servers: `source` is the other server's engine, the services are the target's. */
export interface PairScenario {
  readonly name: string
  readonly run: (env: { readonly source: LxdClient.LxdClient.Service }) => Effect.Effect<void, unknown, Lxd.Services>
}

/** The source's own services. */
const onSource = <X, Y>(source: LxdClient.LxdClient.Service, effect: Effect.Effect<X, Y, Lxd.Services>) =>
  Effect.provide(effect, Lxd.layerFromClient(source))

/** `use` with a unique private image uploaded to `source`; it is deleted from both servers afterwards. */
const withSourceImage = <A, E>(
  source: LxdClient.LxdClient.Service,
  use: (fingerprint: string) => Effect.Effect<A, E, Lxd.Services>
) =>
  Effect.gen(function*() {
    const { bytes, fingerprint } = uniqueTarball()
    yield* onSource(source, Effect.flatMap(Images.Images, (i) => i.upload(Stream.make(bytes))))
    return yield* Effect.ensuring(
      use(fingerprint),
      Effect.all([dropImage(fingerprint), onSource(source, dropImage(fingerprint))])
    )
  })

/** How the target reaches the source: its URL and certificate, from `GET /1.0`. */
const reach = (client: LxdClient.LxdClient.Service) =>
  Effect.map(client.server, (info) => ({
    server: `https://${info.environment?.addresses[0] ?? ""}`,
    certificate: info.environment?.certificate ?? ""
  }))

/** The operations still running on a server, by description. */
const running = (client: LxdClient.LxdClient.Service) =>
  onSource(client, Effect.flatMap(Operations.Operations, (o) => o.list())).pipe(
    Effect.map((ops) => ops.filter((op) => op.status_code < 200).map((op) => op.description))
  )

export const pairScenarios: ReadonlyArray<PairScenario> = [
  {
    name: "image pull: a private image needs its one-time secret (the token is cancelled once used)",
    run: ({ source }) =>
      withSourceImage(source, (fingerprint) =>
        Effect.gen(function*() {
          const at = yield* reach(source)
          const pull = (fields: Record<string, unknown>) =>
            imagesPost({ source: { type: "image", mode: "pull", protocol: "lxd", ...at, ...fields } })
          expect(yield* pull({ fingerprint })).toBe(
            `Failed getting remote image info: Image "${fingerprint}" not found`
          )
          expect(yield* pull({ fingerprint, secret: "not-the-secret" })).toBe(`Image "${fingerprint}" not found`)
          const token = yield* source.request({ method: "POST", path: `/images/${fingerprint}/secret` })
          const op = token.metadata as {
            readonly id: string
            readonly class: string
            readonly description: string
            readonly resources: Record<string, ReadonlyArray<string>>
            readonly metadata: { readonly secret: string }
          }
          expect(op).toMatchObject({
            class: "token",
            description: "Image download token",
            resources: { images: [`/1.0/images/${fingerprint}`] }
          })
          expect(yield* pull({ fingerprint: fingerprint.slice(0, 12), secret: op.metadata.secret })).toBe("Success")
          const image = yield* (yield* Images.Images).get(fingerprint)
          expect(image.public).toBe(false)
          expect(image.update_source ?? null).toBe(null)
          const after = yield* source.request({ method: "GET", path: `/operations/${op.id}` })
          expect((after.metadata as { status: string }).status).toBe("Cancelled")
          // the client's copy makes and spends its own secret; nothing is left running on either side
          yield* dropImage(fingerprint)
          expect((yield* (yield* Images.Images).copyFrom({ source, fingerprint, aliases: ["ct-pulled"] })).aliases)
            .toEqual([{ name: "ct-pulled", description: "" }])
          expect(yield* running(source)).toEqual([])
          expect(yield* running(yield* LxdClient.LxdClient)).toEqual([])
        }))
  },
  {
    name: "image push: the source uploads to the target with its secret; again, and with a wrong secret, refused",
    run: ({ source }) =>
      withSourceImage(source, (fingerprint) =>
        Effect.gen(function*() {
          const images = yield* Images.Images
          const pushed = yield* images.copyFrom({
            source,
            fingerprint,
            mode: "push",
            aliases: [{ name: "ct-pushed", description: "pushed" }],
            public: true
          })
          expect(pushed).toMatchObject({
            fingerprint,
            public: true,
            filename: fingerprint,
            aliases: [{ name: "ct-pushed", description: "pushed" }]
          })
          const again = yield* Effect.flip(images.copyFrom({ source, fingerprint, mode: "push" }))
          expect(again.message).toBe(`Failed operation "Failure": "Image with same fingerprint already exists"`)
          const at = yield* reach(yield* LxdClient.LxdClient)
          const wrong = yield* Effect.flip(source.run({
            method: "POST",
            path: `/images/${fingerprint}/export`,
            body: { target: at.server, certificate: at.certificate, secret: "not-the-secret" }
          }))
          expect(wrong.message).toBe("not authorized")
          expect(yield* running(source)).toEqual([])
          expect(yield* running(yield* LxdClient.LxdClient)).toEqual([])
        }))
  }
]

/**
 * The fake's image imports, held to what LXD 5.0.2 did in the lab (see `fakeImageImport.ts`): two fakes that
 * reach each other through one shared `remotes` record, a private image pulled with and without its secret (single
 * use, yet good while the cancelled token is listed), a public one by alias (`update_source` recorded), a push and
 * its failures, and URL imports through an injected `fetch`, hostile answers included (a fast-check property:
 * whatever the server says, the operation ends, Success or LXD's failure, and the fake goes on).
 */
import { Images, Lxd, LxdClient, Operations } from "@effect-lxd/core"
import type { LxdTransport } from "@effect-lxd/core/LxdTransport"
import { LxdFakeServer } from "@effect-lxd/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect, FastCheck as fc, Layer, Stream } from "effect"
import type * as Scope from "effect/Scope"
import { gzipSync } from "node:zlib"

const A = "127.0.0.1:18443"
const B = "127.0.0.1:18444"

/** Two fakes that can reach each other (`source` at A, `target` at B). */
const pair = <X, E>(
  use: (source: LxdClient.LxdClient.Service, target: LxdClient.LxdClient.Service) => Effect.Effect<X, E, Scope.Scope>,
  options: LxdFakeServer.Options = {}
) =>
  Effect.scoped(Effect.gen(function*() {
    const remotes: Record<string, LxdTransport.Service> = {}
    const source = yield* LxdClient.connect(LxdFakeServer.layer({ ...options, address: A, remotes }))
    const target = yield* LxdClient.connect(LxdFakeServer.layer({ ...options, address: B, remotes }))
    remotes[`https://${A}`] = source.transport
    remotes[`https://${B}`] = target.transport
    return yield* use(source, target)
  }))

const on = <X, E>(client: LxdClient.LxdClient.Service, use: Effect.Effect<X, E, Lxd.Services>) =>
  Effect.provide(use, Lxd.layerFromClient(client))

const images = (client: LxdClient.LxdClient.Service) => on(client, Images.Images)

/** A unique gzip-looking image on `client`: its fingerprint. */
const uniqueImage = (client: LxdClient.LxdClient.Service, options: Images.UploadOptions = {}) =>
  Effect.flatMap(
    images(client),
    (i) => i.upload(Stream.make(new Uint8Array([0x1f, 0x8b, ...new TextEncoder().encode(`${Math.random()}`)])), options)
  )

const pullBody = (fields: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  source: { type: "image", mode: "pull", protocol: "lxd", server: `https://${A}`, ...fields },
  ...extra
})

/** Runs `POST /1.0/images` with `body` on `client`: the final operation (failure included). */
const create = (client: LxdClient.LxdClient.Service, body: unknown) =>
  Effect.scoped(Effect.flatMap(client.operation({ method: "POST", path: "/images", body }), (h) => h.wait())).pipe(
    Effect.map((op) => ({ status: op.status, err: op.err, metadata: op.metadata })),
    Effect.catchTag("OperationFailed", (e) => Effect.succeed({ status: "Failure", err: e.message, metadata: null }))
  )

const running = (client: LxdClient.LxdClient.Service) =>
  on(client, Effect.flatMap(Operations.Operations, (o) => o.list())).pipe(
    Effect.map((ops) => ops.filter((op) => op.status_code < 200).map((op) => op.description))
  )

describe("LxdFakeServer: image secrets between two fakes", () => {
  it.live("a private image needs its secret; the secret is single use, good while its cancelled token is listed", () =>
    pair((source, target) =>
      Effect.gen(function*() {
        const fp = yield* uniqueImage(source, { aliases: ["priv"] })
        expect(yield* create(target, pullBody({ fingerprint: fp }))).toMatchObject({
          status: "Failure",
          err: `Failed getting remote image info: Image "${fp}" not found`
        })
        // a private image's alias is not seen either: the alias is taken as a fingerprint
        expect((yield* create(target, pullBody({ alias: "priv" }))).err).toBe(
          "Failed getting remote image info: Image not found"
        )
        expect((yield* create(target, pullBody({ fingerprint: fp, secret: "nope" }))).err).toBe(
          `Image "${fp}" not found`
        )
        const token = yield* source.request({ method: "POST", path: `/images/${fp}/secret` })
        const op = token.metadata as { id: string; description: string; metadata: { secret: string } }
        expect(op.description).toBe("Image download token")
        const pulled = yield* create(
          target,
          pullBody({ fingerprint: fp.slice(0, 12), secret: op.metadata.secret }, { properties: { "user.x": "1" } })
        )
        expect(pulled).toMatchObject({ status: "Success", metadata: { fingerprint: fp } })
        const image = yield* Effect.flatMap(images(target), (i) => i.get(fp))
        // named by its secret: no update source, the source's privacy not carried over
        expect(image).toMatchObject({ public: false, update_source: null, properties: { "user.x": "1" } })
        expect((yield* source.request({ method: "GET", path: `/operations/${op.id}` })).metadata).toMatchObject({
          status: "Cancelled"
        })
        // the used secret still opens the image while the cancelled token is listed (LXD 5.0.2 does the same)
        yield* Effect.flatMap(images(target), (i) => i.delete(fp))
        expect((yield* create(target, pullBody({ fingerprint: fp, secret: op.metadata.secret }))).status).toBe(
          "Success"
        )
        yield* Effect.flatMap(images(target), (i) => i.delete(fp))
        yield* Effect.sleep("400 millis")
        expect((yield* create(target, pullBody({ fingerprint: fp, secret: op.metadata.secret }))).err).toBe(
          `Image "${fp}" not found`
        )
        expect(yield* running(source)).toEqual([])
      }), { operationRetention: 300 }))

  it.live("a public image by alias: update_source and auto_update recorded; a second copy keeps what is there", () =>
    pair((source, target) =>
      Effect.gen(function*() {
        const fp = yield* uniqueImage(source, { aliases: ["pub"], public: true })
        const pulled = yield* create(
          target,
          pullBody({ alias: "pub" }, { auto_update: true, aliases: [{ name: "here" }] })
        )
        expect(pulled.status).toBe("Success")
        const image = yield* Effect.flatMap(images(target), (i) => i.get(fp))
        expect(image.auto_update).toBe(true)
        expect(image.update_source).toMatchObject({ alias: "pub", protocol: "lxd", server: `https://${A}` })
        expect(image.aliases.map((a) => a.name)).toEqual(["here"])
        // the same again: nothing downloaded, Success (as LXD); an alias the target has fails the operation
        expect((yield* create(target, pullBody({ alias: "pub" }))).status).toBe("Success")
        expect((yield* create(target, pullBody({ alias: "pub" }, { aliases: [{ name: "here" }] }))).err).toContain(
          "already exists"
        )
        // a server the fake does not know, and a source naming nothing
        expect((yield* create(target, pullBody({ alias: "pub", server: "https://127.0.0.1:1" }))).err).toBe(
          "Unable to connect to: https://127.0.0.1:1"
        )
        expect(yield* create(target, pullBody({}))).toMatchObject({
          err: "must specify one of alias or fingerprint for init from image"
        })
      })
    ))

  it.live("another server sees public images only, and cannot upload without a push secret", () =>
    pair((source, target) =>
      Effect.gen(function*() {
        const priv = yield* uniqueImage(source)
        const pub = yield* uniqueImage(source, { public: true })
        expect((yield* create(target, pullBody({ fingerprint: pub }))).status).toBe("Success")
        expect((yield* create(target, pullBody({ fingerprint: priv }))).status).toBe("Failure")
        // a push whose secret is wrong: the target refuses the upload as LXD refuses it
        const e = yield* Effect.flip(
          source.run({
            method: "POST",
            path: `/images/${priv}/export`,
            body: { target: `https://${B}`, secret: "nope", certificate: "" }
          })
        )
        expect(e.message).toBe("not authorized")
      })
    ))
})

describe("LxdFakeServer: push between two fakes", () => {
  it.live("Images.copyFrom push: the token carries aliases, public and properties; the token ends cancelled", () =>
    pair((source, target) =>
      Effect.gen(function*() {
        const fp = yield* uniqueImage(source, { properties: { os: "mine" } })
        const image = yield* Effect.flatMap(images(target), (i) =>
          i.copyFrom({
            source,
            fingerprint: fp.slice(0, 10),
            mode: "push",
            aliases: [{ name: "pushed", description: "x" }],
            public: true,
            properties: { "user.p": "2" }
          }))
        // as LXD: the token's properties replace the image's; the file name is the fingerprint
        expect(image).toMatchObject({
          fingerprint: fp,
          public: true,
          properties: { "user.p": "2" },
          filename: fp,
          aliases: [{ name: "pushed", description: "x" }]
        })
        expect(yield* running(source)).toEqual([])
        expect(yield* running(target)).toEqual([])
        // pushed again with a new token: the target has it
        const again = yield* Effect.flip(
          Effect.flatMap(images(target), (i) => i.copyFrom({ source, fingerprint: fp, mode: "push" }))
        )
        expect(again.message).toBe(`Failed operation "Failure": "Image with same fingerprint already exists"`)
      })
    ))

  it.live("export: a prefix fails as 5.0.2's does, an unknown target is a 500, a missing image a 404", () =>
    pair((source) =>
      Effect.gen(function*() {
        const fp = yield* uniqueImage(source)
        const run = (path: string, target: string) =>
          Effect.flip(source.run({ method: "POST", path, body: { target, secret: "s", certificate: "" } }))
        expect((yield* run(`/images/${fp.slice(0, 12)}/export`, `https://${B}`)).message).toBe(
          `open /var/lib/lxd/images/${fp.slice(0, 12)}: no such file or directory`
        )
        const unknown = yield* run(`/images/${fp}/export`, "https://127.0.0.1:1")
        expect(unknown._tag).toBe("LxdApiError")
        expect(unknown.message).toContain(`Get "https://127.0.0.1:1/1.0": Unable to connect to: 127.0.0.1:1`)
        expect((yield* run(`/images/${"f".repeat(64)}/export`, `https://${B}`))._tag).toBe("NotFound")
      })
    ))
})

/** A fetch answering from a table: `HEAD` answers and files, by URL; a URL in neither rejects like a dead port. */
const tableFetch = (
  heads: Record<string, Record<string, string>>,
  files: Record<string, { readonly status?: number; readonly body: Uint8Array }>,
  seen: Array<string> = []
): NonNullable<LxdFakeServer.Options["fetch"]> =>
(input, init) => {
  const method = init?.method ?? "GET"
  seen.push(`${method} ${input}`)
  const head = heads[input]
  if (method === "HEAD" && head !== undefined) return Promise.resolve(new Response(null, { headers: head }))
  const file = files[input]
  if (file === undefined) {
    return Promise.reject(new TypeError("fetch failed", { cause: new Error("connect ECONNREFUSED") }))
  }
  return Promise.resolve(
    new Response(new Uint8Array(file.body), {
      status: file.status ?? 200,
      statusText: file.status === 404 ? "Not Found" : "OK"
    })
  )
}

/** A gzip tarball of `files` (ustar headers, as `tar` writes them). */
const targz = (files: Record<string, string>): Uint8Array => {
  const blocks: Array<Uint8Array> = []
  for (const [name, content] of Object.entries(files)) {
    const body = new TextEncoder().encode(content)
    const header = new Uint8Array(512)
    const put = (at: number, text: string) => header.set(new TextEncoder().encode(text), at)
    put(0, name)
    put(100, "0000644\0")
    put(124, `${body.length.toString(8).padStart(11, "0")}\0`)
    put(136, `${Math.floor(Date.now() / 1000).toString(8).padStart(11, "0")}\0`)
    put(148, "        ")
    put(156, "0")
    put(257, "ustar\u000000")
    put(148, `${header.reduce((n, b) => n + b, 0).toString(8).padStart(6, "0")}\0 `)
    blocks.push(header, body, new Uint8Array((512 - (body.length % 512)) % 512))
  }
  blocks.push(new Uint8Array(1024))
  return new Uint8Array(gzipSync(Buffer.concat(blocks)))
}

const withFetch = (fetch: NonNullable<LxdFakeServer.Options["fetch"]>) =>
  Lxd.layer.pipe(Layer.provide(LxdFakeServer.layer({ fetch })))

const sha256 = async (bytes: Uint8Array) =>
  Array.from(
    new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array(bytes))),
    (b) => b.toString(16).padStart(2, "0")
  )
    .join("")

describe("LxdFakeServer: import from a URL through the fetch option", () => {
  const metadata = "architecture: x86_64\ncreation_date: 1700000000\nproperties:\n  os: ct\n  release: \"1\"\n"
  const tarball = targz({ "metadata.yaml": metadata, "rootfs/etc/hostname": "ct\n" })
  const garbage = new TextEncoder().encode("garbage bytes\n")

  it.live("HEAD, then the image LXD-Image-URL names, checked against LXD-Image-Hash; LXD's failures", () =>
    Effect.gen(function*() {
      const hash = yield* Effect.promise(() => sha256(tarball))
      const junk = yield* Effect.promise(() => sha256(garbage))
      // archives LXD cannot read an image from
      const broken = Object.fromEntries(
        yield* Effect.forEach(
          Object.entries({
            nometa: targz({ "rootfs/x": "x" }),
            nodate: targz({ "metadata.yaml": "architecture: x86_64\n" }),
            cut: tarball.subarray(0, 30)
          }),
          ([name, bytes]) => Effect.map(Effect.promise(() => sha256(bytes)), (hash) => [name, { bytes, hash }] as const)
        )
      )
      const seen: Array<string> = []
      const img = "http://files.test/img.tar.gz"
      const fetch = tableFetch({
        "http://files.test/ok": { "LXD-Image-URL": img, "LXD-Image-Hash": hash },
        "http://files.test/nohash": { "LXD-Image-URL": img },
        "http://files.test/nourl": { "LXD-Image-Hash": hash },
        "http://files.test/bad": { "LXD-Image-URL": img, "LXD-Image-Hash": "0".repeat(64) },
        "http://files.test/gone": { "LXD-Image-URL": "http://files.test/404", "LXD-Image-Hash": hash },
        "http://files.test/junk": { "LXD-Image-URL": "http://files.test/junk.bin", "LXD-Image-Hash": junk },
        "http://files.test/rel": { "LXD-Image-URL": "img.tar.gz", "LXD-Image-Hash": "1".repeat(64) },
        ...Object.fromEntries(
          Object.entries(broken).map(([name, b]) => [
            `http://files.test/${name}`,
            { "LXD-Image-URL": `http://files.test/${name}.bin`, "LXD-Image-Hash": b.hash }
          ])
        )
      }, {
        ...Object.fromEntries(
          Object.entries(broken).map(([name, b]) => [`http://files.test/${name}.bin`, { body: b.bytes }])
        ),
        [img]: { body: tarball },
        "http://files.test/404": { status: 404, body: new Uint8Array() },
        "http://files.test/junk.bin": { body: garbage }
      }, seen)
      yield* Effect.gen(function*() {
        const client = yield* LxdClient.LxdClient
        const url = (path: string, extra: Record<string, unknown> = {}) =>
          create(client, { source: { type: "url", url: `http://files.test/${path}` }, ...extra })
        expect((yield* url("nohash")).err).toBe("Missing LXD-Image-Hash header")
        expect((yield* url("nourl")).err).toBe("Missing LXD-Image-URL header")
        expect((yield* url("bad")).err).toBe(`Hash mismatch for "${img}": ${hash} != ${"0".repeat(64)}`)
        expect((yield* url("gone")).err).toBe(`Unable to fetch "http://files.test/404": 404 Not Found`)
        expect((yield* url("junk")).err).toBe("Unsupported compression")
        expect((yield* url("nometa")).err).toBe("Metadata tarball is missing metadata.yaml")
        expect((yield* url("nodate")).err).toBe("Missing creation date")
        expect((yield* url("cut")).err).toMatch(/^gzip: /)
        expect((yield* url("rel")).err).toBe(`Get "img.tar.gz": unsupported protocol scheme ""`)
        expect((yield* url("dead")).err).toBe(
          `Head "http://files.test/dead": Unable to connect to: files.test:80 ([connect ECONNREFUSED])`
        )
        const ok = yield* url("ok", { aliases: [{ name: "from-url" }], properties: { "user.u": "1" }, public: true })
        expect(ok).toMatchObject({ status: "Success", metadata: { fingerprint: hash, size: String(tarball.length) } })
        const image = yield* (yield* Images.Images).getByAlias("from-url")
        // metadata.yaml's properties, the request's on top; its architecture and creation date
        expect(image).toMatchObject({
          fingerprint: hash,
          public: true,
          architecture: "x86_64",
          properties: { os: "ct", release: "1", "user.u": "1" },
          update_source: null
        })
        const raw = yield* client.request({ method: "GET", path: `/images/${hash}` })
        expect(raw.metadata).toMatchObject({ created_at: "2023-11-14T22:13:20Z" })
        expect(seen).toContain("HEAD http://files.test/ok")
        expect(seen).toContain(`GET ${img}`)
        // again: the image is there, nothing is fetched, the import succeeds
        const before = seen.length
        expect((yield* url("ok")).status).toBe("Success")
        expect(seen.slice(before)).toEqual(["HEAD http://files.test/ok"])
        expect((yield* create(client, { source: { type: "url" } })).err).toBe("Missing URL")
      }).pipe(Effect.provide(withFetch(fetch)))
    }))

  it.live("progress: a download reports download_progress, and keeps it when the hash then fails", () =>
    Effect.gen(function*() {
      const hash = yield* Effect.promise(() => sha256(tarball))
      const img = "http://files.test/img.tar.gz"
      const fetch = tableFetch({
        "http://files.test/ok": { "LXD-Image-URL": img, "LXD-Image-Hash": hash },
        "http://files.test/bad": { "LXD-Image-URL": img, "LXD-Image-Hash": "0".repeat(64) }
      }, { [img]: { body: tarball } })
      yield* Effect.gen(function*() {
        const client = yield* LxdClient.LxdClient
        const updates = yield* Effect.scoped(Effect.gen(function*() {
          const handle = yield* (yield* Images.Images).importFromOperation({ type: "url", url: "http://files.test/ok" })
          const [updates] = yield* Effect.all([Stream.runCollect(handle.progress), handle.wait()], { concurrency: 2 })
          return [...updates]
        }))
        const progress = updates.map((u) => (u.metadata as { download_progress?: string } | null)?.download_progress)
        expect(progress.some((p) => p !== undefined && /^100% \(\d+(\.\d\d)?[kMG]?B\/s\)$/.test(p))).toBe(true)
        expect(updates.at(-1)?.metadata).toEqual({ fingerprint: hash, size: String(tarball.length) })
        const failed = yield* Effect.scoped(Effect.gen(function*() {
          const handle = yield* client.operation({
            method: "POST",
            path: "/images",
            body: { source: { type: "url", url: "http://files.test/bad" } }
          })
          yield* Effect.ignore(handle.wait())
          return (yield* client.request({ method: "GET", path: `/operations/${handle.id}` })).metadata
        }))
        expect(failed).toMatchObject({
          status: "Failure",
          metadata: { download_progress: expect.stringMatching(/^100% /) }
        })
      }).pipe(Effect.provide(withFetch(fetch)))
    }))

  it.live("property: whatever a server answers (headers, status, body, a rejection), the import ends typed", () =>
    Effect.gen(function*() {
      const answer = fc.record({
        hash: fc.oneof(fc.constant(undefined), fc.string(), fc.hexaString({ minLength: 64, maxLength: 64 })),
        location: fc.oneof(fc.constant(undefined), fc.string(), fc.constant("http://files.test/img")),
        status: fc.constantFrom(200, 201, 404, 500),
        body: fc.uint8Array({ maxLength: 64 }),
        rejects: fc.boolean()
      })
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(answer, async (a) => {
            const fetch: NonNullable<LxdFakeServer.Options["fetch"]> = (input, init) => {
              if (a.rejects) return Promise.reject(new Error("boom"))
              if (init?.method === "HEAD") {
                const headers: Record<string, string> = {}
                if (a.hash !== undefined) headers["LXD-Image-Hash"] = a.hash.replace(/[^\x20-\x7e]/g, "")
                if (a.location !== undefined) headers["LXD-Image-URL"] = a.location.replace(/[^\x20-\x7e]/g, "")
                return Promise.resolve(new Response(null, { headers }))
              }
              return Promise.resolve(new Response(new Uint8Array(a.body), { status: a.status }))
            }
            const result = await Effect.runPromise(
              Effect.flatMap(LxdClient.LxdClient, (client) =>
                create(client, { source: { type: "url", url: "http://files.test/x" } })).pipe(
                  Effect.provide(withFetch(fetch))
                )
            )
            expect(["Success", "Failure"]).toContain(result.status)
            if (result.status === "Failure") {
              expect(result.err).not.toBe("")
            }
          }),
          { numRuns: 60 }
        )
      )
    }))
})

describe("LxdFakeServer: import from a simplestreams server through the fetch option", () => {
  const server = "http://streams.test"
  const json = (u: unknown) => ({ body: new TextEncoder().encode(JSON.stringify(u)) })
  const index = json({
    format: "index:1.0",
    index: { images: { datatype: "image-downloads", path: "streams/v1/images.json", format: "products:1.0" } }
  })
  /** A products file: one product with two unified versions and one split one (a squashfs rootfs). */
  const tree = Effect.gen(function*() {
    const old = new Uint8Array([0x1f, 0x8b, 1])
    const fresh = new Uint8Array([0x1f, 0x8b, 2])
    const meta = new Uint8Array([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 3])
    const squash = new Uint8Array([0x68, 0x73, 0x71, 0x73, 4])
    const digest = (b: Uint8Array) => Effect.promise(() => sha256(b))
    const split = yield* digest(new Uint8Array([...meta, ...squash]))
    const item = (ftype: string, path: string, hash: string, extra: Record<string, string> = {}) => ({
      ftype,
      path,
      sha256: hash,
      ...extra
    })
    const files = {
      [`${server}/streams/v1/index.json`]: index,
      [`${server}/streams/v1/images.json`]: json({
        format: "products:1.0",
        products: {
          "ct:1:amd64:default": {
            aliases: "ct, ct/1",
            arch: "amd64",
            os: "ct",
            release: "1",
            release_title: "One",
            versions: {
              "20260101": { items: { a: item("lxd_combined.tar.gz", "old.tar.gz", yield* digest(old)) } },
              "20260102": { items: { a: item("lxd_combined.tar.gz", "fresh.tar.gz", yield* digest(fresh)) } }
            }
          },
          "vm:1:arm64:default": {
            aliases: "vm",
            arch: "arm64",
            os: "vm",
            release: "1",
            versions: {
              "20260103": {
                items: {
                  m: item("lxd.tar.xz", "meta.tar.xz", yield* digest(meta), { combined_squashfs_sha256: split }),
                  r: item("squashfs", "root.squashfs", yield* digest(squash))
                }
              }
            }
          }
        }
      }),
      [`${server}/old.tar.gz`]: { body: old },
      [`${server}/fresh.tar.gz`]: { body: fresh },
      [`${server}/meta.tar.xz`]: { body: meta },
      [`${server}/root.squashfs`]: { body: squash }
    }
    return { files, fresh: yield* digest(fresh), old: yield* digest(old), split }
  })

  it.live("the newest version an alias names; a fingerprint; a split image; LXD's failures", () =>
    Effect.gen(function*() {
      const { files, fresh, old, split } = yield* tree
      const seen: Array<string> = []
      yield* Effect.gen(function*() {
        const images = yield* Images.Images
        const source = { type: "image", protocol: "simplestreams", server } as const
        const image = yield* images.importFrom({ ...source, alias: "ct" }, { autoUpdate: true, aliases: ["mine"] })
        expect(image).toMatchObject({
          fingerprint: fresh,
          auto_update: true,
          architecture: "x86_64",
          properties: { os: "ct", release: "1", serial: "20260102", architecture: "amd64" },
          update_source: { alias: "ct", protocol: "simplestreams", server }
        })
        // by its full fingerprint: no update source
        expect((yield* images.importFrom({ ...source, fingerprint: old })).update_source ?? null).toBe(null)
        const vm = yield* images.importFrom({ ...source, alias: "vm" })
        expect(vm).toMatchObject({ fingerprint: split, architecture: "aarch64", size: 12 })
        expect((yield* Stream.runCollect(images.exportParts(split))).length).toBeGreaterThan(0)
        const unknown = yield* Effect.flip(images.importFrom({ ...source, alias: "nope" }))
        expect(unknown.message).toBe(
          "Failed getting remote image info: Failed getting image: The requested image couldn't be found"
        )
        expect(seen.filter((s) => s.endsWith(".tar.gz"))).toEqual([
          `GET ${server}/fresh.tar.gz`,
          `GET ${server}/old.tar.gz`
        ])
      }).pipe(Effect.provide(withFetch(tableFetch({}, files, seen))))

      // hostile servers: an index that is no JSON, a file whose bytes are not what the index says
      const refused = (changed: Record<string, { readonly body: Uint8Array }>) =>
        Effect.flip(
          Effect.flatMap(Images.Images, (i) =>
            i.importFrom({ type: "image", protocol: "simplestreams", server, alias: "ct" }))
            .pipe(Effect.provide(withFetch(tableFetch({}, { ...files, ...changed }))))
        )
      const broken = yield* refused({ [`${server}/streams/v1/index.json`]: { body: new Uint8Array([1]) } })
      expect(broken.message).toContain(`Failed to connect to simple streams server "${server}": `)
      const lying = yield* refused({ [`${server}/fresh.tar.gz`]: { body: new Uint8Array([9]) } })
      expect(lying.message).toBe(
        `Image fingerprint doesn't match. Got ${yield* Effect.promise(() =>
          sha256(new Uint8Array([9]))
        )} expected ${fresh}`
      )
    }))

  it.live("property: whatever JSON the index and the products file hold, the import ends typed", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(fc.jsonValue(), fc.jsonValue(), fc.boolean(), async (indexJson, products, real) => {
          const files = {
            [`${server}/streams/v1/index.json`]: real ? index : json(indexJson),
            [`${server}/streams/v1/images.json`]: json(products)
          }
          const result = await Effect.runPromise(
            Effect.flatMap(LxdClient.LxdClient, (client) =>
              create(client, { source: { type: "image", protocol: "simplestreams", server, alias: "ct" } })).pipe(
                Effect.provide(withFetch(tableFetch({}, files)))
              )
          )
          expect(result.status).toBe("Failure")
          expect(result.err).not.toBe("")
        }),
        { numRuns: 80 }
      )
    ))
})

/**
 * What images have beyond the collection checklist (`collections.test.ts` covers that for the images and
 * aliases specs): the upload and the export hashed as their bytes flow (a corrupted export or an upload LXD
 * fingerprints differently fails typed), a fingerprint prefix (unique: accepted; ambiguous: typed), aliases
 * updated with `PUT` only, and pylxd's image scenarios on the fake.
 */
import { Images, Lxd } from "@effect-lxd/core"
import { LxdFakeServer, LxdMockTransport } from "@effect-lxd/testing"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Layer, Stream } from "effect"
import { createHash } from "node:crypto"
import { mockLayer, serverInfo } from "./helpers.js"

const { async: asyncAnswer, error, operation, raw, route, sync } = LxdMockTransport

const Fake = Lxd.layer.pipe(Layer.provide(LxdFakeServer.layer()))

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")

/** Some bytes that are not all alike, in chunks of odd sizes (the hash must cross chunk edges). */
const tarball = (size: number) => {
  const bytes = new Uint8Array(size)
  for (let i = 0; i < size; i++) bytes[i] = (i * 2654435761) >>> 24
  return bytes
}
const chunked = (bytes: Uint8Array, size = 1000) => {
  const chunks: Array<Uint8Array> = []
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size))
  return Stream.fromIterable(chunks)
}
const concat = (all: ReadonlyArray<Uint8Array>) => new Uint8Array(Buffer.concat(all))
const collect = <E>(stream: Stream.Stream<Uint8Array, E>) =>
  Effect.map(Stream.runCollect(stream), (chunks) => concat(Chunk.toReadonlyArray(chunks)))

const image = (fingerprint: string) => ({
  fingerprint,
  aliases: [],
  architecture: "x86_64",
  properties: {},
  public: false,
  size: 0,
  type: "container"
})

const mock = (routes: ReadonlyArray<LxdMockTransport.Route<LxdMockTransport.Handler>>) =>
  mockLayer({
    routes: [route("GET", "", () => Effect.succeed(sync(serverInfo(["etag", "api_filtering"])))), ...routes]
  })
const requests = Effect.flatMap(LxdMockTransport.MockTransport, (m) => m.requests).pipe(
  Effect.map((rs) => rs.filter((r) => r.path !== "").map((r) => `${r.method} ${r.path}`))
)

describe("Images on the fake (pylxd's scenarios)", () => {
  it.effect("upload: the fingerprint is the sha256 of the bytes; properties, filename, public and aliases kept", () =>
    Effect.gen(function*() {
      const images = yield* Images.Images
      const bytes = tarball(70_001)
      const fingerprint = yield* images.upload(chunked(bytes, 777), {
        filename: "bb.tar.gz",
        public: true,
        properties: { os: "busybox", description: "a b&c=d" },
        aliases: ["up+1"]
      })
      expect(fingerprint).toBe(sha256(bytes))
      const got = yield* images.get(fingerprint)
      expect(got.filename).toBe("bb.tar.gz")
      expect(got.public).toBe(true)
      expect(got.size).toBe(bytes.length)
      expect(got.properties).toEqual({ os: "busybox", description: "a b&c=d" })
      expect(got.aliases.map((a) => a.name)).toEqual(["up+1"])
      expect((yield* images.getByAlias("up+1")).fingerprint).toBe(fingerprint)
    }).pipe(Effect.provide(Fake)))

  it.effect("update properties and re-get; export hashes to the fingerprint; delete then NotFound", () =>
    Effect.gen(function*() {
      const images = yield* Images.Images
      const bytes = tarball(10_000)
      const fingerprint = yield* images.upload(chunked(bytes))
      // a unique prefix is accepted, as LXD does
      yield* images.update(fingerprint.slice(0, 12), { properties: { description: "changed" } })
      expect((yield* images.get(fingerprint)).properties).toEqual({ description: "changed" })
      yield* images.modify(fingerprint, (put) => ({ ...put, public: true }))
      expect((yield* images.get(fingerprint)).public).toBe(true)
      const exported = yield* collect(images.export(fingerprint.slice(0, 8)))
      expect(sha256(exported)).toBe(fingerprint)
      expect(exported).toEqual(bytes)
      yield* images.delete(fingerprint)
      expect((yield* Effect.flip(images.get(fingerprint)))._tag).toBe("NotFound")
      expect(yield* images.exists(fingerprint)).toBe(false)
    }).pipe(Effect.provide(Fake)))

  it.effect("the same bytes twice: the second upload fails (OperationFailed)", () =>
    Effect.gen(function*() {
      const images = yield* Images.Images
      yield* images.upload(chunked(tarball(100)))
      const e = yield* Effect.flip(images.upload(chunked(tarball(100))))
      expect(e._tag).toBe("OperationFailed")
      expect(e.message).toContain("same fingerprint")
    }).pipe(Effect.provide(Fake)))

  it.effect("aliases: create, rename, update (PUT), delete; get by alias after a rename", () =>
    Effect.gen(function*() {
      const images = yield* Images.Images
      const a = yield* images.upload(chunked(tarball(300)))
      const b = yield* images.upload(chunked(tarball(301)))
      yield* images.aliases.create({ name: "al", target: a, description: "first" })
      yield* images.aliases.rename("al", "al2")
      expect((yield* images.getByAlias("al2")).fingerprint).toBe(a)
      yield* images.aliases.update("al2", { target: b })
      const alias = yield* images.aliases.get("al2")
      expect(alias).toMatchObject({ target: b, description: "first" })
      expect((yield* images.get(b)).aliases.map((x) => x.name)).toEqual(["al2"])
      yield* images.aliases.delete("al2")
      expect(yield* images.aliases.exists("al2")).toBe(false)
      expect((yield* Effect.flip(images.aliases.create({ name: "x", target: "ab".repeat(32) })))._tag).toBe("NotFound")
    }).pipe(Effect.provide(Fake)))
})

describe("Images: the bytes are checked against the fingerprint", () => {
  const bytes = tarball(5000)
  const fingerprint = sha256(bytes)

  it.effect("an export with one byte flipped fails ImageFingerprintMismatch after its bytes, before its end", () =>
    Effect.gen(function*() {
      const images = yield* Images.Images
      const seen: Array<number> = []
      const e = yield* images.export(fingerprint).pipe(
        Stream.tap((c) => Effect.sync(() => seen.push(c.length))),
        Stream.runDrain,
        Effect.flip
      )
      expect(e._tag).toBe("ImageFingerprintMismatch")
      expect(e).toMatchObject({ expected: fingerprint, direction: "export" })
      expect(seen.reduce((a, b) => a + b, 0)).toBe(bytes.length)
    }).pipe(Effect.provide(mock([
      route("GET", `/images/${fingerprint}`, () => Effect.succeed(sync(image(fingerprint)))),
      route("GET", `/images/${fingerprint}/export`, () => {
        const corrupted = bytes.slice()
        corrupted[4321] = corrupted[4321]! ^ 1
        return Effect.succeed(raw(corrupted))
      })
    ]))))

  it.effect("an intact export ends; a multipart answer that is not two parts is ProtocolError", () =>
    Effect.gen(function*() {
      const images = yield* Images.Images
      expect(yield* collect(images.export(fingerprint))).toEqual(bytes)
      const e = yield* Effect.flip(Stream.runDrain(images.exportParts("ab".repeat(32))))
      expect(e._tag).toBe("ProtocolError")
    }).pipe(Effect.provide(mock([
      route("GET", `/images/${fingerprint}`, () => Effect.succeed(sync(image(fingerprint)))),
      route("GET", `/images/${fingerprint}/export`, () => Effect.succeed(raw(bytes))),
      route("GET", `/images/${"ab".repeat(32)}`, () => Effect.succeed(sync(image("ab".repeat(32))))),
      route(
        "GET",
        `/images/${"ab".repeat(32)}/export`,
        () => Effect.succeed(raw("--x--", { headers: { "content-type": "multipart/form-data; boundary=x" } }))
      )
    ]))))

  it.effect("a whole fingerprint is exported with one request; a prefix is resolved first; a missing one is NotFound", () =>
    Effect.gen(function*() {
      const images = yield* Images.Images
      expect(yield* collect(images.export(fingerprint))).toEqual(bytes)
      expect(yield* requests).toEqual([`GET /images/${fingerprint}/export`])
      expect(yield* collect(images.export(fingerprint.slice(0, 12)))).toEqual(bytes)
      const missing = "cd".repeat(32)
      const e = yield* Effect.flip(images.exportTo(missing, () => Effect.void))
      expect(e._tag).toBe("NotFound")
      expect((yield* requests).slice(1)).toEqual([
        `GET /images/${fingerprint.slice(0, 12)}`,
        `GET /images/${fingerprint}/export`,
        `GET /images/${missing}/export`
      ])
    }).pipe(Effect.provide(mock([
      route("GET", `/images/${fingerprint.slice(0, 12)}`, () => Effect.succeed(sync(image(fingerprint)))),
      route("GET", `/images/${fingerprint}/export`, () => Effect.succeed(raw(bytes))),
      route("GET", `/images/${"cd".repeat(32)}/export`, () => Effect.succeed(error(404, "not found")))
    ]))))

  it.effect("an upload LXD fingerprints differently fails ImageFingerprintMismatch, and that image is deleted", () =>
    Effect.gen(function*() {
      const images = yield* Images.Images
      const other = "cd".repeat(32)
      const e = yield* Effect.flip(images.upload(chunked(bytes), { aliases: ["never"] }))
      expect(e._tag).toBe("ImageFingerprintMismatch")
      expect(e).toMatchObject({ expected: fingerprint, actual: other, direction: "upload" })
      const sent = yield* requests
      expect(sent).toContain(`DELETE /images/${other}`)
      expect(sent.filter((r) => r.startsWith("POST /images/aliases"))).toEqual([])
    }).pipe(Effect.provide(mock([
      route(
        "POST",
        "/images",
        () =>
          Effect.succeed(asyncAnswer(operation("up", {
            status: "Success",
            status_code: 200,
            metadata: {
              fingerprint: "cd".repeat(32),
              size: "5000"
            }
          })))
      ),
      route(
        "GET",
        "/operations/up/wait",
        () =>
          Effect.succeed(sync(operation("up", {
            status: "Success",
            status_code: 200,
            metadata: {
              fingerprint: "cd".repeat(32),
              size: "5000"
            }
          })))
      ),
      route("DELETE", `/images/${"cd".repeat(32)}`, () => Effect.succeed(sync({})))
    ]))))

  it.effect("a bad filename or alias is refused with nothing sent", () =>
    Effect.gen(function*() {
      const images = yield* Images.Images
      expect((yield* Effect.flip(images.upload(chunked(bytes), { filename: "bad\nname" })))._tag).toBe(
        "InvalidArgument"
      )
      expect((yield* Effect.flip(images.upload(chunked(bytes), { aliases: ["a/b"] })))._tag).toBe("InvalidArgument")
      expect(yield* requests).toEqual([])
    }).pipe(Effect.provide(mock([]))))

  const done = { status: "Success", status_code: 200, metadata: { fingerprint, size: "5000" } }
  it.effect("upload sends the bytes as they come, with the headers LXD reads", () =>
    Effect.gen(function*() {
      const images = yield* Images.Images
      const got = yield* images.upload(chunked(bytes), { filename: "f.tar.gz", properties: { os: "a b" } })
      expect(got).toBe(fingerprint)
      const r = (yield* Effect.flatMap(LxdMockTransport.MockTransport, (m) => m.requests)).find((r) =>
        r.method === "POST"
      )!
      expect(r.bytes).toEqual(bytes)
      expect(r.headers["content-type"]).toBe("application/octet-stream")
      expect(r.headers["x-lxd-filename"]).toBe("f.tar.gz")
      expect(r.headers["x-lxd-properties"]).toBe("os=a+b")
      expect(r.headers["x-lxd-public"]).toBe("0")
    }).pipe(Effect.provide(mock([
      route("POST", "/images", () => Effect.succeed(asyncAnswer(operation("up", done)))),
      route("GET", "/operations/up/wait", () => Effect.succeed(sync(operation("up", done))))
    ]))))
})

describe("Images: fingerprints and aliases as LXD 5.0.2 has them", () => {
  it.effect("a prefix that matches several images is AmbiguousFingerprint (LXD answers 500)", () =>
    Effect.gen(function*() {
      const images = yield* Images.Images
      const e = yield* Effect.flip(images.get("ab"))
      expect(e).toMatchObject({ _tag: "AmbiguousFingerprint", prefix: "ab" })
      expect((yield* Effect.flip(images.exists("ab")))._tag).toBe("AmbiguousFingerprint")
      expect((yield* Effect.flip(images.delete("ab")))._tag).toBe("AmbiguousFingerprint")
    }).pipe(Effect.provide(mock([
      route("GET", "/images/ab", () => Effect.succeed(error(500, "More than one image matches"))),
      route("DELETE", "/images/ab", () => Effect.succeed(error(500, "More than one image matches")))
    ]))))

  it.effect("the fake answers an ambiguous prefix as LXD does", () =>
    Effect.gen(function*() {
      const images = yield* Images.Images
      // upload until two fingerprints share their first hex digit (at most 17 uploads)
      const seen = new Map<string, string>()
      let prefix: string | undefined
      for (let i = 0; prefix === undefined; i++) {
        const f = yield* images.upload(chunked(tarball(100 + i)))
        if (seen.has(f[0]!)) prefix = f[0]!
        seen.set(f[0]!, f)
      }
      expect((yield* Effect.flip(images.get(prefix)))._tag).toBe("AmbiguousFingerprint")
    }).pipe(Effect.provide(Fake)))

  it.effect("alias update reads, merges and sends PUT with the ETag: never PATCH (it hangs on 5.0.2)", () =>
    Effect.gen(function*() {
      const images = yield* Images.Images
      yield* images.aliases.update("a1", { description: "new" })
      const sent = yield* requests
      expect(sent).toEqual(["GET /images/aliases/a1", "PUT /images/aliases/a1"])
      const all = yield* Effect.flatMap(LxdMockTransport.MockTransport, (m) => m.requests)
      const put = all.find((r) => r.method === "PUT")!
      expect(put.body).toEqual({ description: "new", target: "ab".repeat(32) })
      expect(put.headers["if-match"]).toBe("\"e1\"")
    }).pipe(Effect.provide(mock([
      route(
        "GET",
        "/images/aliases/a1",
        () =>
          Effect.succeed(sync({ name: "a1", description: "old", target: "ab".repeat(32), type: "container" }, {
            etag: "\"e1\""
          }))
      ),
      route("PUT", "/images/aliases/a1", () => Effect.succeed(sync({})))
    ]))))
})

/** A multipart body as LXD 5.0.2 exports a split image (the closing delimiter written twice, as LXD does). */
const multipart = (boundary: string, parts: ReadonlyArray<readonly [string, string, Uint8Array]>) => {
  const enc = new TextEncoder()
  const pieces: Array<Uint8Array> = []
  for (const [name, filename, bytes] of parts) {
    pieces.push(
      enc.encode(
        `--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="${filename}"\r\n` +
          "Content-Type: application/octet-stream\r\n\r\n"
      ),
      bytes,
      enc.encode("\r\n")
    )
  }
  pieces.push(enc.encode(`--${boundary}--\r\n--${boundary}--\r\n`))
  return concat(pieces)
}

describe("Images: split images (metadata + rootfs)", () => {
  // the metadata starts as gzip does (LXD names it `.tar.gz`), the rootfs as nothing LXD knows (no extension)
  const meta = new Uint8Array([0x1f, 0x8b, ...tarball(3_001)])
  const rootfs = tarball(50_000).map((b) => b ^ 0x5a)
  const both = new Uint8Array([...meta, ...rootfs])
  const fingerprint = sha256(both)
  const byPart = (chunks: ReadonlyArray<Images.ImageExportChunk>) => {
    const out: Record<string, { filename: string; bytes: Array<number> }> = {}
    for (const c of chunks) (out[c.part] ??= { filename: c.filename, bytes: [] }).bytes.push(...c.bytes)
    return out
  }

  it.effect("on the fake: uploaded from two streams, exported as two parts (metadata first), sha256 over both", () =>
    Effect.gen(function*() {
      const images = yield* Images.Images
      const got = yield* images.uploadSplit(
        { metadata: chunked(meta, 500), rootfs: chunked(rootfs, 4096), metadataSize: meta.length },
        { filename: "split.tar.gz", aliases: ["split1"] }
      )
      expect(got).toBe(fingerprint)
      expect((yield* images.getByAlias("split1")).size).toBe(both.length)
      const chunks = Chunk.toReadonlyArray(yield* Stream.runCollect(images.exportParts(fingerprint.slice(0, 10))))
      expect([...new Set(chunks.map((c) => c.part))]).toEqual(["metadata", "rootfs"])
      const parts = byPart(chunks)
      expect(parts["metadata"]).toEqual({ filename: `meta-${fingerprint}.tar.gz`, bytes: [...meta] })
      expect(parts["rootfs"]).toEqual({ filename: fingerprint, bytes: [...rootfs] })
      // the callback form sees the same, and the unified export refuses a split image
      const seen: Array<string> = []
      yield* images.exportTo(fingerprint, (c) => Effect.sync(() => seen.push(c.part)))
      expect(seen[0]).toBe("metadata")
      expect(seen.at(-1)).toBe("rootfs")
      expect((yield* Effect.flip(Stream.runDrain(images.export(fingerprint))))._tag).toBe("InvalidArgument")
      // a unified image through exportParts is one part
      const unified = yield* images.upload(chunked(new Uint8Array([0x1f, 0x8b, ...tarball(2000)])))
      const one = Chunk.toReadonlyArray(yield* Stream.runCollect(images.exportParts(unified)))
      expect(new Set(one.map((c) => c.part))).toEqual(new Set(["unified"]))
      expect(one[0]!.filename).toBe(`${unified}.tar.gz`)
    }).pipe(Effect.provide(Fake)))

  it.effect("upload: multipart, metadata part first, rootfs.img for a VM, Content-Length from both sizes", () =>
    Effect.gen(function*() {
      const images = yield* Images.Images
      const got = yield* images.uploadSplit({
        metadata: chunked(meta),
        rootfs: chunked(rootfs),
        type: "virtual-machine",
        metadataSize: meta.length,
        rootfsSize: rootfs.length
      })
      expect(got).toBe(fingerprint)
      const r = (yield* Effect.flatMap(LxdMockTransport.MockTransport, (m) => m.requests)).find((r) =>
        r.method === "POST"
      )!
      const type = r.headers["content-type"]!
      expect(type).toMatch(/^multipart\/form-data; boundary=/)
      expect(Number(r.headers["content-length"])).toBe(r.bytes!.length)
      const text = new TextDecoder("latin1").decode(r.bytes)
      expect(text.indexOf("name=\"metadata\"")).toBeLessThan(text.indexOf("name=\"rootfs.img\""))
      expect(text).not.toContain("name=\"rootfs\"")
    }).pipe(Effect.provide(mock([
      route(
        "POST",
        "/images",
        () =>
          Effect.succeed(
            asyncAnswer(operation("up", { status: "Success", status_code: 200, metadata: { fingerprint } }))
          )
      ),
      route(
        "GET",
        "/operations/up/wait",
        () => Effect.succeed(sync(operation("up", { status: "Success", status_code: 200, metadata: { fingerprint } })))
      )
    ]))))

  const exportOf = (body: Uint8Array) =>
    mock([
      route("GET", `/images/${fingerprint}`, () => Effect.succeed(sync(image(fingerprint)))),
      route("GET", `/images/${fingerprint}/export`, () =>
        Effect.succeed(raw(body, { headers: { "content-type": "multipart/form-data; boundary=b0" } })))
    ])

  it.effect("export: LXD's body (closing delimiter twice) is read; one byte flipped fails ImageFingerprintMismatch", () =>
    Effect.gen(function*() {
      const images = yield* Images.Images
      const ok = byPart(Chunk.toReadonlyArray(yield* Stream.runCollect(images.exportParts(fingerprint))))
      expect(ok["rootfs"]!.bytes).toEqual([...rootfs])
      const flipped = rootfs.slice()
      flipped[777] = flipped[777]! ^ 1
      const e = yield* Effect.flip(
        Effect.flatMap(Images.Images, (i) => Stream.runDrain(i.exportParts(fingerprint))).pipe(
          Effect.provide(exportOf(multipart("b0", [["metadata", "m", meta], ["rootfs", "r", flipped]])))
        )
      )
      expect(e).toMatchObject({ _tag: "ImageFingerprintMismatch", expected: fingerprint, direction: "export" })
    }).pipe(Effect.provide(exportOf(multipart("b0", [["metadata", "m", meta], ["rootfs", "r", rootfs]])))))

  it.effect("export: parts out of order, a third part, or one missing is ProtocolError", () =>
    Effect.gen(function*() {
      const cases = [
        multipart("b0", [["rootfs", "r", rootfs], ["metadata", "m", meta]]),
        multipart("b0", [["metadata", "m", meta], ["rootfs", "r", rootfs], ["extra", "x", meta]]),
        multipart("b0", [["metadata", "m", both]])
      ]
      for (const body of cases) {
        const e = yield* Effect.flip(
          Effect.flatMap(Images.Images, (i) => Stream.runDrain(i.exportParts(fingerprint))).pipe(
            Effect.provide(exportOf(body))
          )
        )
        expect(e._tag).toBe("ProtocolError")
      }
    }))
})

describe("Images.uploadFrom (a fill callback)", () => {
  const bytes = tarball(2_500_000)
  const fingerprint = sha256(bytes)
  const done = { status: "Success", status_code: 200, metadata: { fingerprint } }
  const fillFrom = (source: Uint8Array) => {
    let at = 0
    return (buffer: Uint8Array) =>
      Effect.sync(() => {
        const n = Math.min(buffer.length, source.length - at)
        buffer.set(source.subarray(at, at + n))
        at += n
        return n
      })
  }
  const layer = mock([
    route("POST", "/images", () => Effect.succeed(asyncAnswer(operation("up", done)))),
    route("GET", "/operations/up/wait", () => Effect.succeed(sync(operation("up", done))))
  ])

  it.effect("without an upload path: the filled bytes go as chunks, hashed, with the size as Content-Length", () =>
    Effect.gen(function*() {
      const images = yield* Images.Images
      expect(yield* images.uploadFrom(bytes.length, fillFrom(bytes), { filename: "f.tar" })).toBe(fingerprint)
      const r = (yield* Effect.flatMap(LxdMockTransport.MockTransport, (m) => m.requests)).find((r) =>
        r.method === "POST"
      )!
      expect(sha256(r.bytes!)).toBe(fingerprint)
      expect(r.headers["content-type"]).toBe("application/octet-stream")
      expect(r.headers["x-lxd-filename"]).toBe("f.tar")
    }).pipe(Effect.provide(layer)))

  it.effect("a fill that ends early, or bytes LXD fingerprints otherwise, fail typed", () =>
    Effect.gen(function*() {
      const images = yield* Images.Images
      const short = yield* Effect.flip(images.uploadFrom(bytes.length + 10, fillFrom(bytes)))
      expect(short._tag).toBe("InvalidArgument")
      const other = bytes.slice()
      other[0] = other[0]! ^ 1
      const e = yield* Effect.flip(images.uploadFrom(other.length, fillFrom(other)))
      expect(e).toMatchObject({ _tag: "ImageFingerprintMismatch", actual: fingerprint, direction: "upload" })
      expect((yield* Effect.flip(images.uploadFrom(-1, fillFrom(bytes))))._tag).toBe("InvalidArgument")
    }).pipe(Effect.provide(mock([
      route("POST", "/images", () => Effect.succeed(asyncAnswer(operation("up", done)))),
      route("GET", "/operations/up/wait", () => Effect.succeed(sync(operation("up", done)))),
      route("DELETE", `/images/${fingerprint}`, () => Effect.succeed(sync({})))
    ]))))
})

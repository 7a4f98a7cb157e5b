/**
 * Images against the lab's real LXD 5.0.2 daemon: pylxd's image scenarios (upload a raw tarball → its sha256 is
 * the fingerprint; properties updated and read again; an export whose bytes hash to the fingerprint; delete then
 * `NotFound`), a fingerprint prefix (unique: accepted; ambiguous: typed), aliases created, renamed, updated with
 * `PUT` and deleted, the image found by alias after a rename.
 */
import { Images, Lxd, LxdClient } from "@effect-lxd/core"
import { NodeLxdTransport } from "@effect-lxd/node"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Stream } from "effect"
import { createHash } from "node:crypto"
import { createReadStream, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { gunzipSync, gzipSync } from "node:zlib"
import { lab } from "./lab/lab.js"

const a = lab()

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")

/** `use` with the services of the lab daemon. */
const onA = <A, E>(use: Effect.Effect<A, E, Lxd.Services>) =>
  Effect.scoped(
    Effect.flatMap(
      LxdClient.connect(NodeLxdTransport.layerUnixSocket({ socketPath: a.socket })),
      (client) => Effect.provide(use, Lxd.layerFromClient(client))
    )
  )

/**
 * The lab's busybox tarball compressed again (the same image, other bytes, so another fingerprint), a variant
 * chosen by `accept` on its sha256 (each test starts at its own `from`, so none shares another's); written next to the lab's tarball.
 */
const variant = (name: string, from: number, accept: (fingerprint: string) => boolean) => {
  const tar = gunzipSync(readFileSync(join(a.dir, "busybox-image.tar.gz")))
  for (let mtime = from;; mtime++) {
    const gz = gzipSync(tar, { level: 1 })
    // gzip's MTIME field (bytes 4-7): any value is a valid archive
    new DataView(gz.buffer, gz.byteOffset).setUint32(4, mtime, true)
    const fingerprint = sha256(gz)
    if (accept(fingerprint)) {
      const file = join(a.dir, `${name}.tar.gz`)
      writeFileSync(file, gz)
      return { file, fingerprint, size: gz.length }
    }
  }
}

/** A file as a stream of chunks, read as it is consumed. */
const fileStream = (file: string) =>
  Stream.fromAsyncIterable(createReadStream(file) as AsyncIterable<Uint8Array>, (e) => e as Error)

const images = Images.Images

describe("images (pylxd's scenarios)", () => {
  it.live("upload → fingerprint = sha256; properties updated and re-got; export → sha256 = fingerprint; delete", () =>
    onA(Effect.gen(function*() {
      const i = yield* images
      const { file, fingerprint, size } = variant("images-up", 1000, (f) => f !== a.fingerprint)
      const got = yield* i.upload(fileStream(file), {
        filename: "images-up.tar.gz",
        properties: { os: "busybox", description: "uploaded" },
        size
      })
      expect(got).toBe(fingerprint)
      const image = yield* i.get(fingerprint)
      expect(image).toMatchObject({ fingerprint, size, filename: "images-up.tar.gz", public: false })
      expect(image.properties).toMatchObject({ os: "busybox", description: "uploaded" })

      yield* i.update(fingerprint, { properties: { os: "busybox", description: "changed" } })
      // PATCH merges the map: what the upload set (and LXD took from metadata.yaml) stays
      expect((yield* i.get(fingerprint)).properties).toMatchObject({ os: "busybox", description: "changed" })
      yield* i.modify(fingerprint.slice(0, 16), (put) => ({ ...put, public: true }))
      expect((yield* i.get(fingerprint)).public).toBe(true)
      const { etag } = yield* i.getWithEtag(fingerprint)
      yield* i.update(fingerprint, { public: false }, { etag })
      expect((yield* Effect.flip(i.update(fingerprint, { public: true }, { etag })))._tag).toBe("PreconditionFailed")

      // the export, hashed by the client as it flows (a mismatch would fail it), and by the test
      const hash = createHash("sha256")
      let bytes = 0
      yield* Stream.runForEach(i.export(fingerprint.slice(0, 12)), (chunk) =>
        Effect.sync(() => {
          hash.update(chunk)
          bytes += chunk.length
        }))
      expect(hash.digest("hex")).toBe(fingerprint)
      expect(bytes).toBe(size)

      expect((yield* i.listNames()).includes(fingerprint)).toBe(true)
      expect((yield* i.list({ filter: "properties.description eq changed" })).map((x) => x.fingerprint)).toEqual([
        fingerprint
      ])
      yield* i.delete(fingerprint)
      expect((yield* Effect.flip(i.get(fingerprint)))._tag).toBe("NotFound")
      expect(yield* i.exists(fingerprint)).toBe(false)
    })))

  it.live("the lab's image: its export hashes to the fingerprint the lab computed", () =>
    onA(Effect.gen(function*() {
      const chunks = yield* Stream.runCollect((yield* images).export(a.fingerprint))
      const hash = createHash("sha256")
      for (const c of Chunk.toReadonlyArray(chunks)) hash.update(c)
      expect(hash.digest("hex")).toBe(a.fingerprint)
    })))

  it.live("a prefix two images share is AmbiguousFingerprint; all-projects is refused without the extension", () =>
    onA(Effect.gen(function*() {
      const i = yield* images
      const { file, fingerprint } = variant("images-amb", 2000, (f) => f[0] === a.fingerprint[0] && f !== a.fingerprint)
      yield* i.upload(fileStream(file))
      const e = yield* Effect.flip(i.get(a.fingerprint.slice(0, 1)))
      expect(e._tag).toBe("AmbiguousFingerprint")
      expect((yield* Effect.flip(i.list({ allProjects: true })))._tag).toBe("APIExtensionNotAvailable")
      yield* i.delete(fingerprint)
    })))
})

describe("image aliases", () => {
  it.live("create, rename, update (PUT), delete; get by alias after the rename", () =>
    onA(Effect.gen(function*() {
      const i = yield* images
      const { file, fingerprint } = variant("images-al", 3000, (f) => f !== a.fingerprint)
      yield* i.upload(fileStream(file), { aliases: ["img-al"] })
      expect((yield* i.getByAlias("img-al")).fingerprint).toBe(fingerprint)
      yield* i.aliases.rename("img-al", "img-al2")
      expect(yield* i.aliases.exists("img-al")).toBe(false)
      expect((yield* i.getByAlias("img-al2")).fingerprint).toBe(fingerprint)
      // update goes as PUT (5.0.2's PATCH hangs 20 s): the description changes, the target stays
      yield* i.aliases.update("img-al2", { description: "renamed" })
      expect(yield* i.aliases.get("img-al2")).toMatchObject({
        name: "img-al2",
        description: "renamed",
        target: fingerprint
      })
      // pointed at the lab's image, then gone
      yield* i.aliases.update("img-al2", { target: a.fingerprint })
      expect((yield* i.getByAlias("img-al2")).fingerprint).toBe(a.fingerprint)
      expect((yield* i.get(fingerprint)).aliases).toEqual([])
      yield* i.aliases.create({ name: "img-al3", target: fingerprint })
      expect((yield* Effect.flip(i.aliases.create({ name: "img-al3", target: fingerprint })))._tag).toBe("Conflict")
      yield* i.aliases.delete("img-al2")
      yield* i.aliases.delete("img-al3")
      expect((yield* Effect.flip(i.getByAlias("img-al2")))._tag).toBe("NotFound")
      yield* i.delete(fingerprint)
    })))
})

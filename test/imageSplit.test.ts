/**
 * Split images and image files against the lab's real LXD 5.0.2 daemon: the lab's tiny split image uploaded from
 * two streams (multipart, metadata first) gets sha256(metadata ‖ rootfs) as its fingerprint and exports as two
 * parts with LXD's file names and the same bytes; an export corrupted in transit (a transport wrapping the lab's
 * that flips one byte of the export body, on the reused-buffer download and on the streamed body) fails with
 * `ImageFingerprintMismatch`, unified and split; a VM image (`rootfs.img`) stores and exports without KVM; `NodeImages` exports to a file and to a directory (staged, nothing
 * left behind on failure) and uploads from files, round trips checked byte for byte.
 */
import { Images, Lxd, LxdClient } from "@effect-lxd/core"
import { LxdTransport } from "@effect-lxd/core/LxdTransport"
import { NodeImages, NodeLxdTransport } from "@effect-lxd/node"
import * as HttpClient from "@effect/platform/HttpClient"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Layer, Stream } from "effect"
import { createHash, randomBytes } from "node:crypto"
import { createReadStream, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { lab } from "./lab/lab.js"

const a = lab()
const split = a.split!
const sha256 = (...parts: ReadonlyArray<Uint8Array>) => {
  const h = createHash("sha256")
  for (const p of parts) h.update(p)
  return h.digest("hex")
}
const fileStream = (file: string) =>
  Stream.fromAsyncIterable(createReadStream(file) as AsyncIterable<Uint8Array>, (e) => e as Error)

const real = NodeLxdTransport.layerUnixSocket({ socketPath: a.socket })

/** `use` with the services of the lab daemon over `transport`. */
const on = <A, E>(use: Effect.Effect<A, E, Lxd.Services>, transport: Layer.Layer<LxdTransport> = real) =>
  Effect.scoped(
    Effect.flatMap(LxdClient.connect(transport), (client) => Effect.provide(use, Lxd.layerFromClient(client)))
  )

/** The byte at this offset of every export body is flipped (past the multipart framing, inside an image part). */
const FLIP_AT = 10_000

/** The lab's transport with one byte of every `…/export` body flipped, on both body paths. */
const corrupting: Layer.Layer<LxdTransport> = Layer.effect(
  LxdTransport,
  Effect.map(LxdTransport, (t): LxdTransport.Service => {
    const flipper = () => {
      let seen = 0
      return (chunk: Uint8Array) => {
        const at = FLIP_AT - seen
        seen += chunk.length
        if (at < 0 || at >= chunk.length) return chunk
        const copy = chunk.slice()
        copy[at] = copy[at]! ^ 0xff
        return copy
      }
    }
    return {
      ...t,
      json: t.json,
      download: t.download === undefined ? undefined : (p, accept, write) => {
        const flip = flipper()
        return t.download!(p, accept, p.includes("/export") ? (chunk) => write(flip(chunk)) : write)
      },
      http: HttpClient.transformResponse(t.http, (effect) =>
        Effect.map(effect, (response) => {
          if (!response.request.url.includes("/export")) return response
          const flip = flipper()
          const stream = Stream.map(response.stream, flip)
          return Object.create(response, { stream: { get: () => stream } })
        }))
    }
  })
).pipe(Layer.provide(real))

const images = Images.Images

describe("split images on LXD 5.0.2", () => {
  it.live("uploaded from two streams: fingerprint sha256(meta ‖ rootfs); exported as two parts, LXD's names", () =>
    on(Effect.gen(function*() {
      const i = yield* images
      const meta = readFileSync(split.metadata)
      const rootfs = readFileSync(split.rootfs)
      expect(sha256(meta, rootfs)).toBe(split.fingerprint)
      const fp = yield* i.uploadSplit({ metadata: fileStream(split.metadata), rootfs: fileStream(split.rootfs) }, {
        filename: "split.tar.gz",
        aliases: ["split-up"]
      })
      yield* Effect.ensuring(
        Effect.gen(function*() {
          expect(fp).toBe(split.fingerprint)
          expect(yield* i.getByAlias("split-up")).toMatchObject({ fingerprint: fp, type: "container" })
          const chunks = Chunk.toReadonlyArray(yield* Stream.runCollect(i.exportParts(fp.slice(0, 12))))
          const parts = [...new Set(chunks.map((c) => `${c.part}:${c.filename}`))]
          expect(parts).toEqual([`metadata:meta-${fp}.tar.gz`, `rootfs:${fp}.tar.gz`])
          const bytesOf = (part: string) => Buffer.concat(chunks.filter((c) => c.part === part).map((c) => c.bytes))
          expect(bytesOf("metadata").equals(meta)).toBe(true)
          expect(bytesOf("rootfs").equals(rootfs)).toBe(true)
          // the unified-only export refuses it, typed
          expect((yield* Effect.flip(Stream.runDrain(i.export(fp))))._tag).toBe("InvalidArgument")
        }),
        Effect.ignore(i.delete(split.fingerprint))
      )
    })))

  it.live("a VM image (metadata + rootfs.img) needs no KVM to store: up from streams, down as LXD names its parts", () =>
    on(Effect.gen(function*() {
      const i = yield* images
      const meta = readFileSync(split.metadata)
      const disk = randomBytes(300_000) // LXD 5.0.2 does not look inside a VM's disk until an instance uses it
      const fp = yield* i.uploadSplit({
        metadata: Stream.make(meta),
        rootfs: Stream.make(disk.subarray(0, 100_000), disk.subarray(100_000)),
        type: "virtual-machine",
        metadataSize: meta.length,
        rootfsSize: disk.length
      })
      yield* Effect.ensuring(
        Effect.gen(function*() {
          expect(fp).toBe(sha256(meta, disk))
          expect(yield* i.get(fp)).toMatchObject({ type: "virtual-machine", size: meta.length + disk.length })
          const chunks = Chunk.toReadonlyArray(yield* Stream.runCollect(i.exportParts(fp)))
          // LXD names a VM disk part after the fingerprint alone, without an extension
          expect([...new Set(chunks.map((c) => `${c.part}:${c.filename}`))]).toEqual([
            `metadata:meta-${fp}.tar.gz`,
            `rootfs.img:${fp}`
          ])
          const bytesOf = (part: string) => Buffer.concat(chunks.filter((c) => c.part === part).map((c) => c.bytes))
          expect(bytesOf("metadata").equals(meta)).toBe(true)
          expect(bytesOf("rootfs.img").equals(disk)).toBe(true)
          const dir = mkdtempSync(join(tmpdir(), "imgsplit-vm-"))
          try {
            const got = yield* NodeImages.exportToDirectory(fp, join(dir, "out"))
            expect(got.paths).toEqual([join(dir, "out", `meta-${fp}.tar.gz`), join(dir, "out", fp)])
            expect(readFileSync(got.paths[1]!).equals(disk)).toBe(true)
          } finally {
            rmSync(dir, { recursive: true, force: true })
          }
        }),
        Effect.ignore(i.delete(fp))
      )
    })))

  it.live("a corrupted export (one byte flipped in transit) fails ImageFingerprintMismatch: unified and split", () =>
    Effect.gen(function*() {
      const uploaded = yield* on(NodeImages.uploadSplitFiles({ metadata: split.metadata, rootfs: split.rootfs }))
      expect(uploaded).toBe(split.fingerprint)
      yield* Effect.ensuring(
        on(
          Effect.gen(function*() {
            const i = yield* images
            const unified = yield* Effect.flip(i.exportTo(a.fingerprint, () => Effect.void))
            expect(unified).toMatchObject({ _tag: "ImageFingerprintMismatch", expected: a.fingerprint })
            const stream = yield* Effect.flip(Stream.runDrain(i.export(a.fingerprint)))
            expect(stream._tag).toBe("ImageFingerprintMismatch")
            const parts = yield* Effect.flip(Stream.runDrain(i.exportParts(split.fingerprint)))
            expect(parts).toMatchObject({ _tag: "ImageFingerprintMismatch", expected: split.fingerprint })
            // nothing of a corrupted export reaches its destination
            const dir = mkdtempSync(join(tmpdir(), "imgsplit-bad-"))
            try {
              const e = yield* Effect.flip(NodeImages.exportToDirectory(split.fingerprint, join(dir, "out")))
              expect(e._tag).toBe("ImageFingerprintMismatch")
              expect(readdirSync(dir)).toEqual([])
            } finally {
              rmSync(dir, { recursive: true, force: true })
            }
          }),
          corrupting
        ),
        on(Effect.ignore(Effect.flatMap(images, (i) => i.delete(split.fingerprint))))
      )
      // the same exports through the lab's own transport are intact
      yield* on(Effect.flatMap(images, (i) => i.exportTo(a.fingerprint, () => Effect.void)))
    }))
})

describe("NodeImages on LXD 5.0.2", () => {
  it.live("export to a file and to a directory, upload from files: round trips byte for byte", () =>
    on(Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "imgsplit-node-"))
      try {
        // unified: to a file, then to a directory (LXD's file name)
        const file = join(dir, "busybox.tar.gz")
        const one = yield* NodeImages.exportToFile(a.fingerprint.slice(0, 12), file)
        expect(one).toMatchObject({ fingerprint: a.fingerprint, paths: [file] })
        expect(sha256(readFileSync(file))).toBe(a.fingerprint)
        expect(readFileSync(file).equals(readFileSync(join(a.dir, "busybox-image.tar.gz")))).toBe(true)
        const unifiedDir = yield* NodeImages.exportToDirectory(a.fingerprint, join(dir, "unified"))
        expect(unifiedDir.paths).toEqual([join(dir, "unified", `${a.fingerprint}.tar.gz`)])

        // a variant of the lab's tarball (gzip MTIME changed: another fingerprint) up from a file
        const variant = readFileSync(file)
        variant.writeUInt32LE(4242, 4)
        const variantFile = join(dir, "variant.tar.gz")
        writeFileSync(variantFile, variant)
        const vfp = yield* NodeImages.uploadFile(variantFile, { filename: "variant.tar.gz" })
        expect(vfp).toBe(sha256(variant))
        yield* Effect.flatMap(images, (i) => i.delete(vfp))

        // split: up from two files, down to a directory as two files named as lxc names them
        const fp = yield* NodeImages.uploadSplitFiles({ metadata: split.metadata, rootfs: split.rootfs })
        yield* Effect.ensuring(
          Effect.gen(function*() {
            const out = join(dir, "split")
            const got = yield* NodeImages.exportToDirectory(fp, out)
            expect(got.paths).toEqual([join(out, `meta-${fp}.tar.gz`), join(out, `${fp}.tar.gz`)])
            expect(readFileSync(got.paths[0]!).equals(readFileSync(split.metadata))).toBe(true)
            expect(readFileSync(got.paths[1]!).equals(readFileSync(split.rootfs))).toBe(true)
            expect(got.bytes).toBe(readFileSync(split.metadata).length + readFileSync(split.rootfs).length)
            // a split image to one file is refused, and leaves nothing (no staging directory either)
            const before = readdirSync(dir).sort()
            expect((yield* Effect.flip(NodeImages.exportToFile(fp, join(dir, "one.tar.gz"))))._tag).toBe(
              "InvalidArgument"
            )
            expect(readdirSync(dir).sort()).toEqual(before)
          }),
          Effect.ignore(Effect.flatMap(images, (i) => i.delete(fp)))
        )
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    })))
})

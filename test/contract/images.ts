/**
 * Images for the contract suite, on both backends (the fake serves them from the same specs as the client): the
 * image the backend starts with found by alias and by a prefix of its fingerprint, its export hashing to its
 * fingerprint, its properties changed and put back with the ETag, aliases created, renamed, updated (`PUT`) and
 * deleted; a split image (a metadata tarball and a rootfs tarball made here) uploaded from two streams, its
 * fingerprint sha256(metadata ‖ rootfs), exported as two parts named as LXD names them (by their first bytes: a VM's
 * raw disk has no extension); an instance published
 * as an image.
 */
import { Files, Images, Instances } from "@effect-lxd/core"
import { Chunk, Effect, Stream } from "effect"
import { execFileSync } from "node:child_process"
import { createHash, randomBytes } from "node:crypto"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { expect } from "vitest"
import { imageTree } from "./imageImport.js"
import type { Scenario } from "./scenarios.js"

/** A tiny split image: `metadata.yaml` alone, and a rootfs of two files (one random: a fingerprint of its own). */
const splitImage = () =>
  imageTree(20_000, (dir) => {
    execFileSync("tar", ["-czf", join(dir, "meta.tar.gz"), "-C", dir, "metadata.yaml"])
    execFileSync("tar", ["-czf", join(dir, "rootfs.tar.gz"), "-C", join(dir, "rootfs"), "."])
    return { metadata: readFileSync(join(dir, "meta.tar.gz")), rootfs: readFileSync(join(dir, "rootfs.tar.gz")) }
  })

/** A plain (uncompressed) tarball of one file, made by `tar` (LXD names such a file `.tar`). */
const plainTar = (name: string, content: string) => {
  const dir = mkdtempSync(join(tmpdir(), "contract-tar-"))
  try {
    writeFileSync(join(dir, name), content)
    execFileSync("tar", ["-cf", join(dir, "out.tar"), "-C", dir, name])
    return readFileSync(join(dir, "out.tar"))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

export const imageScenarios: ReadonlyArray<Scenario> = [
  {
    name: "images: a split image up from two streams (fingerprint over both), exported as metadata then rootfs",
    run: () =>
      Effect.gen(function*() {
        const images = yield* Images.Images
        const { metadata, rootfs } = splitImage()
        const expected = createHash("sha256").update(metadata).update(rootfs).digest("hex")
        const fingerprint = yield* images.uploadSplit({
          metadata: Stream.make(metadata.subarray(0, 100), metadata.subarray(100)),
          rootfs: Stream.make(rootfs),
          metadataSize: metadata.length,
          rootfsSize: rootfs.length
        })
        yield* Effect.ensuring(
          Effect.gen(function*() {
            expect(fingerprint).toBe(expected)
            expect((yield* images.get(fingerprint)).size).toBe(metadata.length + rootfs.length)
            const chunks = Chunk.toReadonlyArray(yield* Stream.runCollect(images.exportParts(fingerprint)))
            expect([...new Set(chunks.map((c) => `${c.part}:${c.filename}`))]).toEqual([
              `metadata:meta-${fingerprint}.tar.gz`,
              `rootfs:${fingerprint}.tar.gz`
            ])
            const part = (name: string) => Buffer.concat(chunks.filter((c) => c.part === name).map((c) => c.bytes))
            expect(part("metadata").equals(metadata)).toBe(true)
            expect(part("rootfs").equals(rootfs)).toBe(true)
          }),
          Effect.ignore(images.delete(fingerprint))
        )
      })
  },
  {
    name: "images: a VM image (plain tar metadata + raw rootfs.img) is stored as such; its parts named by their bytes",
    run: () =>
      Effect.gen(function*() {
        const images = yield* Images.Images
        const metadata = plainTar(
          "metadata.yaml",
          `architecture: x86_64\ncreation_date: ${Math.floor(Date.now() / 1000)}\nproperties:\n  os: contract-vm\n`
        )
        const disk = randomBytes(40_000) // nothing LXD recognises: no extension
        const fingerprint = yield* images.uploadSplit({
          metadata: Stream.make(metadata),
          rootfs: Stream.make(disk),
          type: "virtual-machine"
        })
        yield* Effect.ensuring(
          Effect.gen(function*() {
            expect(fingerprint).toBe(createHash("sha256").update(metadata).update(disk).digest("hex"))
            expect((yield* images.get(fingerprint)).type).toBe("virtual-machine")
            const chunks = Chunk.toReadonlyArray(yield* Stream.runCollect(images.exportParts(fingerprint)))
            expect([...new Set(chunks.map((c) => `${c.part}:${c.filename}`))]).toEqual([
              `metadata:meta-${fingerprint}.tar`,
              `rootfs.img:${fingerprint}`
            ])
            const part = (name: string) => Buffer.concat(chunks.filter((c) => c.part === name).map((c) => c.bytes))
            expect(part("rootfs.img").equals(disk)).toBe(true)
          }),
          Effect.ignore(images.delete(fingerprint))
        )
      })
  },
  {
    name: "images: get by alias and prefix, export = fingerprint, properties with ETag, aliases rename/update/delete",
    run: ({ image }) =>
      Effect.gen(function*() {
        const images = yield* Images.Images
        const found = yield* images.getByAlias(image)
        const fingerprint = found.fingerprint
        expect(found.aliases.map((a) => a.name)).toContain(image)
        expect((yield* images.get(fingerprint.slice(0, 10))).fingerprint).toBe(fingerprint)
        expect(yield* images.listNames()).toContain(fingerprint)

        const hash = createHash("sha256")
        yield* Stream.runForEach(images.export(fingerprint), (c) => Effect.sync(() => hash.update(c)))
        expect(hash.digest("hex")).toBe(fingerprint)

        const before = found.properties
        const { etag } = yield* images.getWithEtag(fingerprint)
        yield* images.update(fingerprint, { properties: { ...before, "user.contract": "1" } }, { etag })
        expect((yield* images.get(fingerprint)).properties["user.contract"]).toBe("1")
        expect((yield* Effect.flip(images.update(fingerprint, { public: true }, { etag })))._tag).toBe(
          "PreconditionFailed"
        )
        yield* images.modify(fingerprint, (put) => ({ ...put, properties: before }))
        expect((yield* images.get(fingerprint)).properties).toEqual(before)

        const aliases = images.aliases
        yield* Effect.ensuring(
          Effect.gen(function*() {
            expect(yield* aliases.create({ name: "ct-al", target: fingerprint, description: "d" })).toBe("ct-al")
            expect((yield* Effect.flip(aliases.create({ name: "ct-al", target: fingerprint })))._tag).toBe(
              "Conflict"
            )
            yield* aliases.rename("ct-al", "ct-al2")
            expect(yield* aliases.exists("ct-al")).toBe(false)
            expect((yield* images.getByAlias("ct-al2")).fingerprint).toBe(fingerprint)
            yield* aliases.update("ct-al2", { description: "changed" })
            expect(yield* aliases.get("ct-al2")).toMatchObject({ description: "changed", target: fingerprint })
            expect((yield* aliases.list()).map((a) => a.name)).toContain("ct-al2")
            yield* aliases.delete("ct-al2")
            expect((yield* Effect.flip(aliases.get("ct-al2")))._tag).toBe("NotFound")
            expect((yield* Effect.flip(images.get("0".repeat(64))))._tag).toBe("NotFound")
          }),
          Effect.ignore(Effect.all([aliases.delete("ct-al"), aliases.delete("ct-al2")], { mode: "either" }))
        )
      })
  },
  {
    name: "images: publish returns the Image with its alias, properties and public flag; a running instance is refused",
    run: ({ image }) =>
      Effect.gen(function*() {
        const instances = yield* Instances.Instances
        const images = yield* Images.Images
        const name = "ct-pub"
        const published: Array<string> = []
        yield* Effect.ensuring(
          Effect.gen(function*() {
            yield* instances.create({ name, source: { type: "image", alias: image } })
            // a file of its own, so the image differs from any other
            yield* (yield* Files.Files).put(name, "/root/ct-pub", "ct-pub")
            const got = yield* instances.publish(name, {
              aliases: [{ name: "ct-pub-img", description: "contract" }],
              properties: { "user.ct": "1" },
              public: true
            })
            published.push(got.fingerprint)
            expect(got.public).toBe(true)
            expect(got.aliases).toEqual([{ name: "ct-pub-img", description: "contract" }])
            expect(got.properties["user.ct"]).toBe("1")
            expect((yield* images.getByAlias("ct-pub-img")).fingerprint).toBe(got.fingerprint)
            yield* instances.start(name)
            const e = yield* Effect.flip(instances.publish(name))
            expect(e.message).toBe("Cannot export a running instance as an image")
          }),
          Effect.all([
            Effect.ignore(instances.delete(name, { force: true })),
            Effect.suspend(() => Effect.forEach(published, (f) => Effect.ignore(images.delete(f))))
          ])
        )
      })
  }
]

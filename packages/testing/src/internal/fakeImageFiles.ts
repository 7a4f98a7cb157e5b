/**
 * The bytes of an image in the fake: one tarball, or a split image's metadata and rootfs; read from an upload
 * (`multipart/form-data` with LXD's part names) and written back as LXD 5.0.2 exports them.
 *
 * @internal
 */
import * as Multipart from "@effect/platform/Multipart"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as M from "../LxdMockTransport.js"
import { sha256 } from "./fakeCore.js"

/** What an image holds: one tarball, or a split image's two parts in order. @internal */
export type Blob = Uint8Array | {
  readonly metadata: Uint8Array
  readonly rootfs: Uint8Array
  readonly rootfsName: string
}

/** @internal */
export const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** The bytes an image's fingerprint is the sha256 of (metadata ‖ rootfs for a split image). */
const bytesOf = (blob: Blob): Uint8Array => blob instanceof Uint8Array ? blob : concat([blob.metadata, blob.rootfs])

/** An image's fingerprint and size, as LXD computes them. @internal */
export const fingerprintOf = (blob: Blob): { readonly fingerprint: string; readonly size: number } => {
  const all = bytesOf(blob)
  return { fingerprint: sha256(all), size: all.length }
}

/**
 * A split upload's parts, as LXD reads them: `metadata` first, then `rootfs` or `rootfs.img`, nothing else.
 *
 * @internal
 */
export const splitUpload = (
  contentType: string,
  bytes: Uint8Array
): Effect.Effect<Exclude<Blob, Uint8Array> | undefined> =>
  Stream.make(bytes).pipe(
    Stream.pipeThroughChannel(Multipart.makeChannel<never>({ "content-type": contentType })),
    Stream.mapEffect((part): Effect.Effect<readonly [string, Uint8Array], unknown> =>
      Multipart.isFile(part)
        ? Effect.map(part.contentEffect, (b): readonly [string, Uint8Array] => [part.key, b])
        : Effect.fail(part.key)
    ),
    Stream.runCollect,
    Effect.map((chunk): ReadonlyArray<readonly [string, Uint8Array]> => Chunk.toReadonlyArray(chunk)),
    Effect.orElseSucceed((): ReadonlyArray<readonly [string, Uint8Array]> => []),
    Effect.map((parts) => {
      const [meta, rootfs] = parts
      return parts.length === 2 && meta !== undefined && rootfs !== undefined && meta[0] === "metadata" &&
          (rootfs[0] === "rootfs" || rootfs[0] === "rootfs.img")
        ? { metadata: meta[1], rootfs: rootfs[1], rootfsName: rootfs[0] }
        : undefined
    })
  )

/**
 * The extension LXD gives an exported file, from its first bytes (LXD's `DetectCompressionFile`): `.tar.gz`,
 * `.tar.xz`, `.tar.zst`, `.squashfs`, `.qcow2`, …; none for bytes it does not recognise (a raw VM disk).
 *
 * @internal
 */
export const extensionOf = (bytes: Uint8Array): string => {
  const at = (offset: number, ...magic: ReadonlyArray<number>) => magic.every((b, i) => bytes[offset + i] === b)
  const ascii = (text: string) => Array.from(text, (c) => c.charCodeAt(0))
  if (at(0, ...ascii("BZ"))) return ".tar.bz2"
  if (at(0, 0x1f, 0x8b)) return ".tar.gz"
  if (at(1, ...ascii("7zXZ"))) return bytes[0] === 0xfd ? ".tar.xz" : ".tar.lzma"
  if (at(0, 0x5d, 0x00, 0x00)) return ".tar.lzma"
  if (at(257, ...ascii("ustar"))) return ".tar"
  if (at(0, ...ascii("hsqs"))) return ".squashfs"
  if (at(0, ...ascii("QFI"))) return ".qcow2"
  if (at(0, 0x28, 0xb5, 0x2f, 0xfd)) return ".tar.zst"
  return ""
}

/**
 * A split image as `multipart/form-data`, with LXD 5.0.2's part names and file names (`meta-<fp><ext>`,
 * `<fp><ext>`: {@link extensionOf}): its content type and body.
 *
 * @internal
 */
export const splitBody = (
  fingerprint: string,
  blob: Exclude<Blob, Uint8Array>
): { readonly contentType: string; readonly body: Uint8Array } => {
  const boundary = `fake${fingerprint.slice(0, 24)}`
  const encoder = new TextEncoder()
  const head = (name: string, filename: string) =>
    encoder.encode(
      `--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="${filename}"\r\n` +
        `Content-Type: application/octet-stream\r\n\r\n`
    )
  const body = concat([
    head("metadata", `meta-${fingerprint}${extensionOf(blob.metadata)}`),
    blob.metadata,
    encoder.encode("\r\n"),
    head(blob.rootfsName, `${fingerprint}${extensionOf(blob.rootfs)}`),
    blob.rootfs,
    encoder.encode(`\r\n--${boundary}--\r\n`)
  ])
  return { contentType: `multipart/form-data; boundary=${boundary}`, body }
}

/** An image's export as LXD 5.0.2 answers it. @internal */
export const exportResponse = (fingerprint: string, blob: Blob): M.MockResponse => {
  if (!(blob instanceof Uint8Array)) {
    const { body, contentType } = splitBody(fingerprint, blob)
    return M.raw(body, { headers: { "content-type": contentType } })
  }
  return M.raw(blob.slice(), {
    headers: {
      "content-type": "application/octet-stream",
      "content-length": String(blob.length),
      "content-disposition": `inline;filename=${fingerprint}${extensionOf(blob)}`
    }
  })
}

/**
 * Whether some bytes start as an archive LXD can unpack (gzip, bzip2, lzma, xz, zstd, squashfs, or a plain tar);
 * LXD refuses anything else in an image with `Unsupported compression`.
 *
 * @internal
 */
export const isArchive = (bytes: Uint8Array): boolean => !["", ".qcow2"].includes(extensionOf(bytes))

/** What LXD reads of an image's `metadata.yaml`. @internal */
export interface ImageMetadata {
  readonly architecture: string
  readonly creationDate: number
  readonly properties: Record<string, string>
}

const unquote = (v: string): string => {
  const t = v.trim()
  return /^(["']).*\1$/.test(t) ? t.slice(1, -1) : t
}

/** The parts of `metadata.yaml` LXD needs: `architecture`, `creation_date` and the `properties` map. */
const parseMetadata = (text: string): ImageMetadata => {
  let architecture = ""
  let creationDate = 0
  const properties: Record<string, string> = {}
  let inProperties = false
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === "" || line.trim().startsWith("#")) continue
    const top = /^([A-Za-z_][\w.-]*):\s*(.*)$/.exec(line)
    if (top !== null) {
      inProperties = top[1] === "properties" && top[2]!.trim() === ""
      if (top[1] === "architecture") architecture = unquote(top[2]!)
      if (top[1] === "creation_date") {
        // an int64 of seconds, as Go reads it; a time past what a date can hold counts as none
        const seconds = unquote(top[2]!)
        const n = /^-?\d+$/.test(seconds) ? Number(seconds) : 0
        creationDate = Number.isFinite(new Date(n * 1000).getTime()) ? n : 0
      }
      continue
    }
    const nested = /^\s+([^:#]+):\s*(.*)$/.exec(line)
    if (inProperties && nested !== null) properties[unquote(nested[1]!)] = unquote(nested[2]!)
  }
  return { architecture, creationDate, properties }
}

/** The `metadata.yaml` in a tar archive, or `undefined` when it has none; a broken archive fails. */
const metadataInTar = (tar: Uint8Array): Effect.Effect<string | undefined, string> => {
  const text = (from: number, to: number) => {
    const raw = tar.subarray(from, to)
    const end = raw.indexOf(0)
    return new TextDecoder().decode(end < 0 ? raw : raw.subarray(0, end))
  }
  for (let at = 0; at + 512 <= tar.length;) {
    if (tar.subarray(at, at + 512).every((b) => b === 0)) return Effect.succeed(undefined)
    const size = parseInt(text(at + 124, at + 136).trim() || "0", 8)
    if (!Number.isSafeInteger(size) || size < 0) return Effect.fail("archive/tar: invalid tar header")
    const prefix = text(at + 257, at + 262) === "ustar" ? text(at + 345, at + 500) : ""
    const name = (prefix === "" ? "" : `${prefix}/`) + text(at, at + 100)
    const start = at + 512
    if (start + size > tar.length) return Effect.fail("unexpected EOF")
    if (name === "metadata.yaml" || name === "./metadata.yaml") {
      return Effect.succeed(new TextDecoder().decode(tar.subarray(start, start + size)))
    }
    at = start + Math.ceil(size / 512) * 512
  }
  return tar.length === 0 ? Effect.succeed(undefined) : Effect.fail("unexpected EOF")
}

/**
 * `metadata.yaml` of an image tarball, gzip-compressed or plain, read as LXD reads it (`getImageMetadata`):
 * `Metadata tarball is missing metadata.yaml`, `Missing creation date`, or the archive's own error. Other
 * compressions (xz, zstd, …) are not read here: `undefined`.
 *
 * @internal
 */
export const imageMetadata = (bytes: Uint8Array): Effect.Effect<ImageMetadata | undefined, string> =>
  Effect.gen(function*() {
    const ext = extensionOf(bytes)
    if (ext !== ".tar.gz" && ext !== ".tar") return undefined
    const tar = ext === ".tar" ? bytes : yield* Effect.tryPromise({
      try: () =>
        new Response(new Response(bytes.slice()).body!.pipeThrough(new DecompressionStream("gzip"))).arrayBuffer(),
      catch: (e) => `gzip: ${e instanceof Error ? e.message : String(e)}`
    }).pipe(Effect.map((buffer) => new Uint8Array(buffer)))
    const text = yield* metadataInTar(tar)
    if (text === undefined) return yield* Effect.fail("Metadata tarball is missing metadata.yaml")
    const metadata = parseMetadata(text)
    if (metadata.creationDate === 0) return yield* Effect.fail("Missing creation date")
    return metadata
  })

/**
 * Image files on the local filesystem, on top of the core `Images` service: an export written to a file (a
 * unified image) or to a directory (either kind; a split image gives two files named as `lxc image export`
 * names them, `meta-<fp>.tar.gz` and `<fp>.tar.gz`, from LXD's part names), and an upload from a file or from
 * a split image's two files. Every byte is checked against the fingerprint as it flows (the SHA-256 the node
 * transports provide), memory stays bounded, and an export is all or nothing: it is written into a staging
 * directory beside the destination and moved into place only once the fingerprint matched (a failed,
 * mismatched or interrupted export leaves what was there untouched).
 *
 * @example
 * ```ts
 * import { Lxd } from "@effect-lxd/core"
 * import { NodeImages, NodeLxdTransport } from "@effect-lxd/node"
 * import { Effect, Layer } from "effect"
 *
 * const backup = Effect.gen(function*() {
 *   const files = yield* NodeImages.exportToDirectory("busybox-fingerprint-prefix", "./images")
 *   yield* Effect.log(files.paths)
 *   yield* NodeImages.uploadSplitFiles({ metadata: "./meta.tar.gz", rootfs: "./rootfs.tar.gz" }, { aliases: ["mine"] })
 * })
 *
 * // for NodeRuntime.runMain(main)
 * export const main = backup.pipe(Effect.provide(Lxd.layer.pipe(Layer.provide(NodeLxdTransport.layerUnixSocket()))))
 * ```
 *
 * @since 0.2.0
 */
import * as Images from "@effect-lxd/core/Images"
import { InvalidArgument, type LxdError } from "@effect-lxd/core/LxdError"
import type { PlatformError } from "@effect/platform/Error"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as FsP from "node:fs/promises"
import * as Path from "node:path"
import * as Tree from "./internal/tree.js"

/**
 * What an export wrote: the files (absolute paths, in the order of the parts) and the bytes in all.
 *
 * @since 0.2.0
 * @category models
 */
export interface ExportedFiles {
  readonly fingerprint: string
  readonly paths: ReadonlyArray<string>
  readonly bytes: number
}

const CHUNK_BYTES = 1024 * 1024

/** A part's file name: LXD's when it is a plain name, else the one `lxc image export` gives. */
const partFile = (chunk: Images.ImageExportChunk, fingerprint: string) => {
  const name = chunk.filename
  if (name !== "" && name === Path.basename(name) && name !== "." && name !== ".." && !name.startsWith(".")) {
    return name
  }
  return chunk.part === "metadata" ? `meta-${fingerprint}.tar.gz` : `${fingerprint}.tar.gz`
}

/**
 * Writes an export into `dir`, one file per part (named by `name`), each chunk written in full before the next
 * is asked for (the chunks are lent); `only` refuses other parts before anything of theirs is written.
 */
const writeParts = (
  images: Images.Images.Service,
  fingerprint: string,
  dir: string,
  name: (chunk: Images.ImageExportChunk) => string,
  only?: Images.ImageExportChunk["part"]
) =>
  Effect.suspend(() => {
    let fd: number | undefined
    let part: string | undefined
    let bytes = 0
    const paths: Array<string> = []
    const close = Effect.sync(() => {
      if (fd !== undefined) Fs.closeSync(fd)
      fd = undefined
    })
    return images.exportTo(fingerprint, (chunk) =>
      Effect.gen(function*() {
        if (only !== undefined && chunk.part !== only) {
          return yield* new InvalidArgument({
            argument: "fingerprint",
            value: fingerprint,
            reason: "is a split image (metadata and rootfs): export it to a directory"
          })
        }
        if (chunk.part !== part) {
          yield* close
          part = chunk.part
          const path = Path.join(dir, name(chunk))
          fd = yield* Tree.fs("open", path, async () => Fs.openSync(path, "wx", 0o644))
          paths.push(path)
        }
        const target = fd!
        const path = paths[paths.length - 1]!
        yield* Tree.fs("write", path, async () => {
          for (let at = 0; at < chunk.bytes.length;) at += Fs.writeSync(target, chunk.bytes, at)
        })
        bytes += chunk.bytes.length
      })).pipe(
        Effect.ensuring(close),
        Effect.map(() => ({ paths, bytes }))
      )
  })

/**
 * Exports a unified image into a local file (`GET /1.0/images/{fingerprint}/export`, through the transport's
 * reused buffers), checked against the fingerprint, written beside `localPath` first and renamed into place on
 * success (a file there is replaced). A split image fails with `InvalidArgument` (use {@link exportToDirectory}).
 * Errors: `NotFound`, `AmbiguousFingerprint`, `ImageFingerprintMismatch`, `ClientConnectionFailed`,
 * `SystemError` (local).
 *
 * @since 0.2.0
 * @category constructors
 */
export const exportToFile = (
  fingerprint: string,
  localPath: string
): Effect.Effect<ExportedFiles, LxdError | PlatformError, Images.Images> =>
  Effect.gen(function*() {
    yield* Tree.checkLocalPath("localPath", localPath)
    const images = yield* Images.Images
    const dest = Path.resolve(localPath)
    const stage = yield* Tree.staging({ path: dest, exists: false })
    const written = yield* writeParts(images, fingerprint, stage, () => "image", "unified")
    const full = (yield* images.get(fingerprint)).fingerprint
    yield* Tree.fs("rename", dest, () => FsP.rename(written.paths[0]!, dest))
    return { fingerprint: full, paths: [dest], bytes: written.bytes }
  }).pipe(Effect.scoped, Effect.withSpan("NodeImages.exportToFile"))

/**
 * Exports an image into a local directory (created if missing; an existing one keeps its other entries): a
 * unified image as one file, a split one as two (`meta-<fp>.tar.gz`, `<fp>.tar.gz`: the names LXD gives the
 * parts, as `lxc image export` writes them), checked against the fingerprint (sha256 over both parts), staged
 * beside the directory and moved in on success. A file of the same name already there is replaced. Errors:
 * `NotFound`, `AmbiguousFingerprint`, `ImageFingerprintMismatch`, `ProtocolError`, `ClientConnectionFailed`,
 * `InvalidArgument` (`localDir` is not a directory), `SystemError` (local).
 *
 * @since 0.2.0
 * @category constructors
 */
export const exportToDirectory = (
  fingerprint: string,
  localDir: string
): Effect.Effect<ExportedFiles, LxdError | PlatformError, Images.Images> =>
  Effect.gen(function*() {
    yield* Tree.checkLocalPath("localDir", localDir)
    const images = yield* Images.Images
    const full = (yield* images.get(fingerprint)).fingerprint
    const dest = yield* Tree.destination(localDir)
    const stage = yield* Tree.staging(dest)
    const written = yield* writeParts(images, full, stage, (chunk) => partFile(chunk, full))
    yield* Tree.commit(stage, dest)
    return {
      fingerprint: full,
      paths: written.paths.map((p) => Path.join(dest.path, Path.basename(p))),
      bytes: written.bytes
    }
  }).pipe(Effect.scoped, Effect.withSpan("NodeImages.exportToDirectory"))

/**
 * Uploads a unified image tarball from a local file (`POST /1.0/images`, **async**), read straight into the
 * transport's reused buffers as it is sent (`Images.uploadFrom`), with its size as `Content-Length`, and returns the fingerprint LXD gave it, checked against the
 * sha256 computed while sending. Options and errors as `Images.upload`, plus `SystemError` (local).
 *
 * @since 0.2.0
 * @category constructors
 */
export const uploadFile = (
  localPath: string,
  options: Omit<Images.UploadOptions, "size"> = {}
): Effect.Effect<string, LxdError | PlatformError, Images.Images> =>
  Effect.gen(function*() {
    yield* Tree.checkLocalPath("localPath", localPath)
    const images = yield* Images.Images
    const size = (yield* Tree.fs("stat", localPath, () => FsP.stat(localPath))).size
    return yield* Tree.withFileReader(localPath, (read) => images.uploadFrom(size, read, options))
  }).pipe(Effect.withSpan("NodeImages.uploadFile"))

/**
 * Uploads a split image from its two local files (`POST /1.0/images`, `multipart/form-data`, metadata first,
 * **async**), both read as they are sent, with the body's `Content-Length` from their sizes, and returns the
 * fingerprint, checked against sha256(metadata ‖ rootfs). `type: "virtual-machine"` sends the rootfs as
 * `rootfs.img`. Options and errors as `Images.uploadSplit`, plus `SystemError` (local).
 *
 * @since 0.2.0
 * @category constructors
 */
export const uploadSplitFiles = (
  files: {
    readonly metadata: string
    readonly rootfs: string
    readonly type?: "container" | "virtual-machine" | undefined
  },
  options: Images.UploadOptions = {}
): Effect.Effect<string, LxdError | PlatformError, Images.Images> =>
  Effect.gen(function*() {
    yield* Tree.checkLocalPath("metadata", files.metadata)
    yield* Tree.checkLocalPath("rootfs", files.rootfs)
    const images = yield* Images.Images
    const sizeOf = (path: string) => Effect.map(Tree.fs("stat", path, () => FsP.stat(path)), (s) => s.size)
    return yield* images.uploadSplit({
      metadata: Tree.readFile(files.metadata, CHUNK_BYTES),
      rootfs: Tree.readFile(files.rootfs, CHUNK_BYTES),
      type: files.type,
      metadataSize: yield* sizeOf(files.metadata),
      rootfsSize: yield* sizeOf(files.rootfs)
    }, options)
  }).pipe(Effect.withSpan("NodeImages.uploadSplitFiles"))

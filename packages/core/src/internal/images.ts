/**
 * The images service: the collection shape for images and aliases, plus what is an image's own (a fingerprint
 * prefix that matches several images, get by alias, refresh, the export and the upload hashed as they flow).
 *
 * The specs come from `../Images.js`, passed in (that module imports this one).
 *
 * @internal
 */
import * as Multipart from "@effect/platform/Multipart"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Take from "effect/Take"
import type * as I from "../Images.js"
import type { LxdClient, Request } from "../LxdClient.js"
import {
  AmbiguousFingerprint,
  ImageFingerprintMismatch,
  InvalidArgument,
  type LxdError,
  type ProtocolError
} from "../LxdError.js"
import type { Operation } from "../LxdSchema.js"
import type * as Sha256 from "../Sha256.js"
import { fillChunks, withStreamBody } from "./body.js"
import { protocolError } from "./client.js"
import * as Collection from "./collection.js"
import * as Path from "./path.js"

/** What the public module hands over. @internal */
export interface Specs {
  readonly images: typeof I.spec
  readonly aliases: typeof I.aliasesSpec
}

const span = (verb: string) => `Images.${verb}`

const OCTET = "application/octet-stream"

/** LXD 5.0.2's answer to a prefix that matches several images (a 500 from `GetImage`). */
const AMBIGUOUS = /more than one image/i

/** A whole image fingerprint: 64 lowercase hex digits (a SHA-256). */
const FINGERPRINT = /^[0-9a-f]{64}$/

/** The error of a read by fingerprint, with LXD's answer to an ambiguous prefix as `AmbiguousFingerprint`. */
const ambiguity = (fingerprint: string) => (error: LxdError): LxdError =>
  (error._tag === "LxdApiError" || error._tag === "BadRequest") && AMBIGUOUS.test(error.message)
    ? new AmbiguousFingerprint({ prefix: fingerprint, message: error.message })
    : error

const UploadResult = Schema.Struct({ fingerprint: Schema.String })

const encoder = new TextEncoder()

/** Chunk size of `uploadFrom` when the transport has no upload path. */
const UPLOAD_CHUNK_BYTES = 1024 * 1024

/** How many chunks an export stream reads ahead of its consumer. */
const READ_AHEAD = 2

/** A lent chunk copied out (`set`: no zero-filled intermediate). */
const copyOut = (chunk: Uint8Array): Uint8Array => {
  const copy = new Uint8Array(chunk.length)
  copy.set(chunk)
  return copy
}

/**
 * The parts of a split image's export (`multipart/form-data`) as tagged chunks, parsed as the body flows (each
 * part's bytes are pulled before the next part is read): `metadata`, then `rootfs` or `rootfs.img`, and nothing
 * else (`ProtocolError`). LXD 5.0.2 writes the closing delimiter twice; what follows the first is ignored.
 */
const splitParts = (
  request: Request,
  contentType: string,
  body: Stream.Stream<Uint8Array, LxdError>
): Stream.Stream<I.ImageExportChunk, LxdError> => {
  const invalid = (description: string, cause?: unknown): ProtocolError =>
    protocolError(request, `split image export: ${description}`, cause)
  let index = 0
  return body.pipe(
    Stream.pipeThroughChannel(Multipart.makeChannel<LxdError>({ "content-type": contentType })),
    Stream.mapError((e): LxdError =>
      e instanceof Multipart.MultipartError ? invalid(`not a multipart body (${e.reason})`, e) : e
    ),
    Stream.flatMap((part) => {
      const at = index++
      const expected = at === 0 ? ["metadata"] : at === 1 ? ["rootfs", "rootfs.img"] : []
      if (!Multipart.isFile(part) || !expected.includes(part.key)) {
        return Stream.fail(invalid(`part ${at + 1} is "${part.key}", not ${expected.join(" or ") || "expected"}`))
      }
      const name = part.key as I.ImageExportChunk["part"]
      return part.content.pipe(
        Stream.mapError((e) => invalid(`part "${name}" cut short (${e.reason})`, e)),
        Stream.map((bytes): I.ImageExportChunk => ({ part: name, filename: part.name, bytes }))
      )
    }),
    Stream.concat(Stream.suspend(() => index === 2 ? Stream.empty : Stream.fail(invalid(`${index} parts, not 2`))))
  )
}

/** A multipart boundary's random part (not a secret: it only has to be absent from the image bytes). */
const randomHex = () => {
  let out = ""
  for (let i = 0; i < 4; i++) out += Math.floor(Math.random() * 0x100000000).toString(16).padStart(8, "0")
  return out
}

/** The file name of a `Content-Disposition` (`inline;filename=x.tar.gz`, or quoted). */
const filenameOf = (disposition: string | undefined): string | undefined => {
  const m = disposition === undefined ? null : /filename="?([^";]+)"?/i.exec(disposition)
  return m === null ? undefined : m[1]
}

/** Header values LXD reads as they are: printable ASCII, no line breaks. */
const printable = /^[\x20-\x7e]*$/

/** @internal */
export const make = (client: LxdClient.Service, specs: Specs): Omit<I.Images.Service, keyof I.ImportService> => {
  const images = Collection.make(client, specs.images)
  const aliases = Collection.make(client, specs.aliases)
  const byFingerprint = <A>(fingerprint: string, effect: Effect.Effect<A, LxdError>) =>
    Effect.mapError(effect, ambiguity(fingerprint))

  const get = (fingerprint: string) => byFingerprint(fingerprint, images.get(fingerprint))

  /**
   * The export of an image into `write`, every byte hashed on its way and checked against the fingerprint at the
   * end (`ImageFingerprintMismatch`): a unified image through the transport's reused-buffer download when it has
   * one (the chunk is lent: valid until `write` returns), else, and for a split image (LXD answers
   * `multipart/form-data`, chunked), the body as it streams, parsed part by part.
   */
  const exportTo = <E>(
    fingerprint: string,
    write: (chunk: I.ImageExportChunk) => Effect.Effect<void, E>
  ): Effect.Effect<void, LxdError | E> =>
    Effect.gen(function*() {
      // a whole fingerprint is the one to check against: no `GET` first (a prefix is resolved, as LXD does)
      const image = FINGERPRINT.test(fingerprint) ? { fingerprint } : yield* get(fingerprint)
      const path = yield* Collection.objectPath(client, specs.images, [], image.fingerprint, "/export")
      const request: Request = { method: "GET", path }
      const hash = client.sha256.make()
      const unifiedName = (disposition: string | undefined) => filenameOf(disposition) ?? `${image.fingerprint}.tar.gz`
      let filename = ""
      const done = yield* client.download(
        request,
        (status, headers) => {
          filename = unifiedName(headers["content-disposition"])
          return status === 200 && !(headers["content-type"] ?? OCTET).startsWith("multipart/")
        },
        (bytes) => {
          hash.update(bytes)
          return write({ part: "unified", filename, bytes })
        }
      )
      if (done._tag === "None") {
        yield* Effect.scoped(Effect.flatMap(client.requestRaw(request), (response) => {
          const type = response.headers["content-type"] ?? OCTET
          const body = Stream.mapError(response.stream, client.connectionFailed(request))
          const chunks = type.startsWith("multipart/")
            ? splitParts(request, type, body)
            : Stream.map(body, (bytes): I.ImageExportChunk => ({
              part: "unified",
              filename: unifiedName(response.headers["content-disposition"]),
              bytes
            }))
          return Stream.runForEach(chunks, (chunk) => {
            hash.update(chunk.bytes)
            return write(chunk)
          })
        }))
      }
      const actual = hash.digest()
      if (actual !== image.fingerprint) {
        return yield* new ImageFingerprintMismatch({ expected: image.fingerprint, actual, direction: "export" })
      }
    })

  /** {@link exportTo} as a stream: each lent chunk copied out, at most `READ_AHEAD` waiting for the consumer. */
  const exportStream = (fingerprint: string): Stream.Stream<I.ImageExportChunk, LxdError> =>
    Stream.unwrapScoped(Effect.gen(function*() {
      const queue = yield* Effect.acquireRelease(
        Queue.bounded<Take.Take<I.ImageExportChunk, LxdError>>(READ_AHEAD),
        Queue.shutdown
      )
      yield* exportTo(fingerprint, (chunk) => Queue.offer(queue, Take.of({ ...chunk, bytes: copyOut(chunk.bytes) })))
        .pipe(
          Effect.exit,
          Effect.flatMap((exit) => Queue.offer(queue, exit._tag === "Success" ? Take.end : Take.failCause(exit.cause))),
          Effect.forkScoped
        )
      return Stream.flattenTake(Stream.fromQueue(queue))
    }))

  const exportImage = (fingerprint: string): Stream.Stream<Uint8Array, LxdError> =>
    exportStream(fingerprint).pipe(
      Stream.mapEffect((chunk) =>
        chunk.part === "unified" ? Effect.succeed(chunk.bytes) : Effect.fail(
          new InvalidArgument({
            argument: "fingerprint",
            value: fingerprint,
            reason: "is a split image (metadata and rootfs): export it with exportParts"
          })
        )
      ),
      Stream.withSpan(span("export"))
    )

  /**
   * Sends an upload body whose image bytes went through `hash`, then checks the fingerprint LXD answers against
   * it (the image LXD stored goes when they differ) and creates the aliases.
   */
  /** The upload request with the headers LXD reads (`InvalidArgument` for a bad filename or alias). */
  const uploadRequest = (options: I.UploadOptions | undefined) =>
    Effect.gen(function*() {
      const filename = options?.filename
      if (filename !== undefined && !printable.test(filename)) {
        return yield* new InvalidArgument({ argument: "filename", value: filename, reason: "must be printable ASCII" })
      }
      for (const alias of options?.aliases ?? []) yield* Path.validate("image alias", alias)
      const headers: Record<string, string> = { "X-LXD-public": options?.public === true ? "1" : "0" }
      if (filename !== undefined) headers["X-LXD-filename"] = filename
      if (options?.properties !== undefined && Object.keys(options.properties).length > 0) {
        headers["X-LXD-properties"] = new URLSearchParams(options.properties).toString()
      }
      const request: Request = { method: "POST", path: "/images", headers }
      return request
    })

  const sendUpload = <E>(
    body: Stream.Stream<Uint8Array, E>,
    contentType: string,
    length: number | undefined,
    hash: Sha256.Hash,
    options: I.UploadOptions | undefined
  ) =>
    Effect.gen(function*() {
      const request = yield* uploadRequest(options)
      const result = yield* withStreamBody(
        body,
        contentType,
        length,
        (rawBody) => client.write({ ...request, rawBody })
      )
      return yield* uploaded(request, result.operation, hash, options)
    })

  /** Checks the fingerprint the finished upload operation names against `hash`, then creates the aliases. */
  const uploaded = (
    request: Request,
    operation: Operation | undefined,
    hash: Sha256.Hash,
    options: I.UploadOptions | undefined
  ) =>
    Effect.gen(function*() {
      const answered = Schema.decodeUnknownOption(UploadResult)(operation?.metadata)
      if (Option.isNone(answered)) {
        return yield* protocolError(request, "the upload's operation does not name the image's fingerprint")
      }
      const fingerprint = answered.value.fingerprint
      const actual = hash.digest()
      if (fingerprint !== actual) {
        // what LXD stored is not what was sent: it goes
        yield* Effect.ignore(images.delete(fingerprint))
        return yield* new ImageFingerprintMismatch({ expected: actual, actual: fingerprint, direction: "upload" })
      }
      for (const name of options?.aliases ?? []) yield* aliases.create({ name, target: fingerprint })
      return fingerprint
    })

  /** `stream` with each chunk fed to `hash` on its way. */
  const hashing = <E>(stream: Stream.Stream<Uint8Array, E>, hash: Sha256.Hash) =>
    Stream.mapChunks(stream, (chunks) => {
      for (const chunk of chunks) hash.update(chunk)
      return chunks
    })

  const uploadFrom = <E>(
    size: number,
    fill: (buffer: Uint8Array) => Effect.Effect<number, E>,
    options?: Omit<I.UploadOptions, "size">
  ): Effect.Effect<string, LxdError | E> =>
    Effect.gen(function*() {
      if (!Number.isSafeInteger(size) || size < 0) {
        return yield* new InvalidArgument({ argument: "size", value: size, reason: "must be a byte count" })
      }
      const request = yield* uploadRequest(options)
      const hash = client.sha256.make()
      const hashed = (buffer: Uint8Array) =>
        Effect.map(fill(buffer), (n) => {
          if (n > 0) hash.update(buffer.subarray(0, n))
          return n
        })
      const raw = yield* client.upload(
        { ...request, headers: { ...request.headers, "Content-Type": OCTET } },
        size,
        hashed
      )
      if (Option.isNone(raw)) {
        // no upload path in the transport: the same bytes as a stream of fresh chunks
        const chunks = fillChunks(size, UPLOAD_CHUNK_BYTES, fill)
        return yield* sendUpload(hashing(chunks, hash), OCTET, size, hash, options)
      }
      const answer = raw.value
      const operation = answer.type === "async" && answer.operation !== undefined
        ? yield* client.waitFor(answer.operation)
        : undefined
      return yield* uploaded(request, operation, hash, options)
    }).pipe(Effect.withSpan(span("uploadFrom")))

  const uploadSplit: I.Images.Service["uploadSplit"] = (parts, options) =>
    Effect.suspend(() => {
      const hash = client.sha256.make()
      const rootfsName = parts.type === "virtual-machine" ? "rootfs.img" : "rootfs"
      const boundary = `effect-lxd-${randomHex()}`
      const head = (name: string) =>
        encoder.encode(
          `--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="${name}"\r\n` +
            `Content-Type: application/octet-stream\r\n\r\n`
        )
      const metaHead = head("metadata")
      const rootfsHead = encoder.encode(`\r\n${new TextDecoder().decode(head(rootfsName))}`)
      const tail = encoder.encode(`\r\n--${boundary}--\r\n`)
      const length = parts.metadataSize !== undefined && parts.rootfsSize !== undefined
        ? metaHead.length + parts.metadataSize + rootfsHead.length + parts.rootfsSize + tail.length
        : undefined
      const body = Stream.make(metaHead).pipe(
        Stream.concat(hashing(parts.metadata, hash)),
        Stream.concat(Stream.make(rootfsHead)),
        Stream.concat(hashing(parts.rootfs, hash)),
        Stream.concat(Stream.make(tail))
      )
      return sendUpload(body, `multipart/form-data; boundary=${boundary}`, length, hash, options)
    }).pipe(Effect.withSpan(span("uploadSplit")))

  const upload: I.Images.Service["upload"] = (tarball, options) =>
    Effect.suspend(() => {
      const hash = client.sha256.make()
      return sendUpload(hashing(tarball, hash), OCTET, options?.size, hash, options)
    }).pipe(Effect.withSpan(span("upload")))

  return {
    listNames: images.listNames,
    list: images.list,
    get: (fingerprint) => Effect.withSpan(get(fingerprint), span("get")),
    getWithEtag: (fingerprint) => byFingerprint(fingerprint, images.getWithEtag(fingerprint)),
    exists: (fingerprint) => byFingerprint(fingerprint, images.exists(fingerprint)),
    replace: (fingerprint, body, options) => byFingerprint(fingerprint, images.replace(fingerprint, body, options)),
    update: (fingerprint, patch, options) => byFingerprint(fingerprint, images.update(fingerprint, patch, options)),
    modify: (fingerprint, f) => byFingerprint(fingerprint, images.modify(fingerprint, f)),
    delete: (fingerprint) => byFingerprint(fingerprint, images.delete(fingerprint)),
    aliases,
    getByAlias: (alias) =>
      aliases.get(alias).pipe(Effect.flatMap((entry) => images.get(entry.target)), Effect.withSpan(span("getByAlias"))),
    export: exportImage,
    exportParts: (fingerprint) => Stream.withSpan(exportStream(fingerprint), span("exportParts")),
    exportTo: (fingerprint, write) => Effect.withSpan(exportTo(fingerprint, write), span("exportTo")),
    upload,
    uploadFrom,
    uploadSplit
  }
}

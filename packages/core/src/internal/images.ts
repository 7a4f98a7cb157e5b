/**
 * The images service: the collection shape for images and aliases, plus what is an image's own (a fingerprint
 * prefix that matches several images, get by alias, refresh, the export and the upload hashed as they flow).
 *
 * The specs come from `../Images.js`, passed in (that module imports this one).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type * as I from "../Images.js"
import type { LxdClient, Request } from "../LxdClient.js"
import { AmbiguousFingerprint, ImageFingerprintMismatch, InvalidArgument, type LxdError } from "../LxdError.js"
import { discard, withStreamBody } from "./body.js"
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

/** The error of a read by fingerprint, with LXD's answer to an ambiguous prefix as `AmbiguousFingerprint`. */
const ambiguity = (fingerprint: string) => (error: LxdError): LxdError =>
  (error._tag === "LxdApiError" || error._tag === "BadRequest") && AMBIGUOUS.test(error.message)
    ? new AmbiguousFingerprint({ prefix: fingerprint, message: error.message })
    : error

const UploadResult = Schema.Struct({ fingerprint: Schema.String })

/** Header values LXD reads as they are: printable ASCII, no line breaks. */
const printable = /^[\x20-\x7e]*$/

/** @internal */
export const make = (client: LxdClient.Service, specs: Specs): I.Images.Service => {
  const images = Collection.make(client, specs.images)
  const aliases = Collection.make(client, specs.aliases)
  const byFingerprint = <A>(fingerprint: string, effect: Effect.Effect<A, LxdError>) =>
    Effect.mapError(effect, ambiguity(fingerprint))

  const get = (fingerprint: string) => byFingerprint(fingerprint, images.get(fingerprint))

  const exportImage = (fingerprint: string): Stream.Stream<Uint8Array, LxdError> =>
    Stream.unwrap(Effect.gen(function*() {
      const image = yield* get(fingerprint)
      const path = yield* Collection.objectPath(client, specs.images, [], image.fingerprint, "/export")
      const request: Request = { method: "GET", path }
      const response = yield* client.requestRaw(request)
      const type = response.headers["content-type"] ?? OCTET
      if (type.startsWith("multipart/")) {
        yield* discard(response)
        return yield* new InvalidArgument({
          argument: "fingerprint",
          value: fingerprint,
          reason: "a split image (metadata and rootfs) cannot be exported as one stream yet"
        })
      }
      const hash = client.sha256.make()
      const verify = Effect.suspend(() => {
        const actual = hash.digest()
        return actual === image.fingerprint
          ? Effect.void
          : Effect.fail(new ImageFingerprintMismatch({ expected: image.fingerprint, actual, direction: "export" }))
      })
      return Stream.mapError(response.stream, client.connectionFailed(request)).pipe(
        Stream.mapChunks((chunks) => {
          for (const chunk of chunks) hash.update(chunk)
          return chunks
        }),
        Stream.concat(Stream.drain(Stream.fromEffect(verify)))
      )
    })).pipe(Stream.withSpan(span("export")))

  const upload: I.Images.Service["upload"] = <E>(tarball: Stream.Stream<Uint8Array, E>, options?: I.UploadOptions) =>
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
      const hash = client.sha256.make()
      const body = Stream.mapChunks(tarball, (chunks) => {
        for (const chunk of chunks) hash.update(chunk)
        return chunks
      })
      const request: Request = { method: "POST", path: "/images", headers }
      const result = yield* withStreamBody(
        body,
        OCTET,
        options?.size,
        (rawBody) => client.write({ ...request, rawBody })
      )
      const answered = Schema.decodeUnknownOption(UploadResult)(result.operation?.metadata)
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
    refresh: (fingerprint) =>
      Collection.objectPath(client, specs.images, [], fingerprint, "/refresh").pipe(
        Effect.flatMap((path) => client.write({ method: "POST", path })),
        Effect.mapError(ambiguity(fingerprint)),
        Effect.asVoid,
        Effect.withSpan(span("refresh"))
      ),
    export: exportImage,
    upload
  }
}

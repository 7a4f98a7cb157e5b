/**
 * Images arriving from elsewhere: copied from another LXD (pull, push, relay), imported from a URL or from an
 * image server (LXD or simplestreams). Every one is an operation on the target in the caller's scope, with
 * `progress` subscribed; the copy's other side (the source's secret token, its export) lives in the same scope, so
 * closing it early leaves nothing running on either server.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as I from "../Images.js"
import type { CopyOptions, ImportOptions, ImportSource } from "../Images.js"
import type { LxdClient, OperationHandle, Request } from "../LxdClient.js"
import { InvalidArgument, type LxdError, ProtocolError } from "../LxdError.js"
import type { Operation } from "../LxdSchema.js"
import { discard, withStreamBody } from "./body.js"
import { protocolError } from "./client.js"
import { connectionInfo } from "./migration.js"
import * as Path from "./path.js"
import { CurrentProject } from "./references.js"

const ImageInfo = Schema.Struct({
  fingerprint: Schema.String,
  public: Schema.optionalWith(Schema.Boolean, { default: () => false })
})
const ImageSecret = Schema.Struct({ secret: Schema.String })
const Fingerprint = Schema.Struct({ fingerprint: Schema.String })

const OCTET = "application/octet-stream"

/** What a create on the target carries besides its source: `aliases`, `public`, `auto_update`, `properties`. */
const settingsOf = (client: LxdClient.Service, options: ImportOptions) =>
  Effect.gen(function*() {
    const aliases = (options.aliases ?? []).map((a) => typeof a === "string" ? { name: a } : a)
    for (const alias of aliases) yield* Path.validate("image alias", alias.name)
    if (aliases.length > 0) yield* client.requireExtension("image_create_aliases")
    return {
      aliases,
      body: {
        ...(options.public === undefined ? {} : { public: options.public }),
        ...(options.autoUpdate === undefined ? {} : { auto_update: options.autoUpdate }),
        ...(options.properties === undefined ? {} : { properties: options.properties }),
        ...(aliases.length === 0 ? {} : { aliases })
      }
    }
  })

const secretOf = (operation: Operation, method: string, path: string): Effect.Effect<string, ProtocolError> =>
  Option.match(Schema.decodeUnknownOption(ImageSecret)(operation.metadata), {
    onNone: () => Effect.fail(new ProtocolError({ method, path, description: "no secret in the token operation" })),
    onSome: (m) => Effect.succeed(m.secret)
  })

/** A started copy: the operation whose outcome is the result, and the fingerprint that arrives. @internal */
export interface Started {
  readonly handle: OperationHandle
  readonly fingerprint: string
}

/**
 * Starts a copy of an image from `options.source` to `target` in the caller's scope. Pull (default): the target
 * downloads from the source over HTTPS, a private image with a one-time secret (a token operation on the source,
 * cancelled by the scope if unused). Push (`images_push_relay`): the target waits with a one-time secret and the
 * source uploads to it (`POST …/export`); the source's export operation is the outcome, as in the Go client.
 * Relay: the export streams through the client into the target's upload (bounded memory).
 *
 * @internal
 */
export const copyOperation = (
  target: LxdClient.Service,
  options: CopyOptions
): Effect.Effect<Started, LxdError, Scope.Scope> =>
  Effect.gen(function*() {
    const { source } = options
    const onSource = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      options.sourceProject === undefined
        ? effect
        : Effect.provideService(effect, CurrentProject, options.sourceProject)
    const imagePath = yield* Path.build("/images/", ["fingerprint", options.fingerprint])
    const image = (yield* onSource(source.sync(ImageInfo, { method: "GET", path: imagePath }))).metadata
    const fullPath = yield* Path.build("/images/", ["fingerprint", image.fingerprint])
    const started = (handle: OperationHandle): Started => ({ handle, fingerprint: image.fingerprint })
    const mode = options.mode ?? "pull"
    if (mode === "relay") {
      return started(yield* relayOperation(source, target, fullPath, image, options, onSource))
    }
    const settings = yield* settingsOf(target, options)
    if (mode === "push") {
      yield* source.requireExtension("images_push_relay")
      yield* target.requireExtension("images_push_relay")
      const targetInfo = yield* connectionInfo(target, "target")
      // the target waits for the upload with a one-time secret; the source then pushes to it
      const receiving = yield* target.operation({
        method: "POST",
        path: "/images",
        body: { source: { type: "image", mode: "push", fingerprint: image.fingerprint }, ...settings.body }
      })
      const secret = yield* secretOf(receiving.initial, "POST", "/1.0/images")
      // the receiving token ends as Cancelled once used (how LXD retires tokens): the export is the outcome
      const exporting = yield* onSource(source.operation({
        method: "POST",
        path: `${fullPath}/export`,
        body: {
          target: targetInfo.url,
          certificate: targetInfo.certificate,
          secret,
          ...(settings.aliases.length === 0 ? {} : { aliases: settings.aliases })
        }
      }, { progress: true }))
      return started(exporting)
    }
    if (options.sourceProject !== undefined) yield* target.requireExtension("image_source_project")
    const sourceInfo = yield* connectionInfo(source, "source")
    let secret: string | undefined
    if (!image.public) {
      // a token operation that stays running until the target uses it; the scope cancels it if unused
      const token = yield* onSource(source.operation({ method: "POST", path: `${fullPath}/secret` }))
      secret = yield* secretOf(token.initial, "POST", `/1.0${fullPath}/secret`)
    }
    const handle = yield* target.operation({
      method: "POST",
      path: "/images",
      body: {
        source: {
          type: "image",
          mode: "pull",
          server: sourceInfo.url,
          protocol: "lxd",
          certificate: sourceInfo.certificate,
          fingerprint: image.fingerprint,
          ...(secret === undefined ? {} : { secret }),
          ...(options.sourceProject === undefined ? {} : { project: options.sourceProject })
        },
        ...settings.body
      }
    }, { progress: true })
    return started(handle)
  })

/**
 * Relay mode: the export (`GET /1.0/images/{fingerprint}/export`) streams through the client into the target's
 * upload (`POST /1.0/images`) as it comes, with its `Content-Type` (one tarball, or the multipart form of a split
 * image, which the upload takes as it is). LXD spools the body before it answers, so the handle comes once the
 * bytes are across; the aliases are created after the operation, as the Go client does.
 */
const relayOperation = (
  source: LxdClient.Service,
  target: LxdClient.Service,
  imagePath: string,
  image: { readonly fingerprint: string; readonly public: boolean },
  options: CopyOptions,
  onSource: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
): Effect.Effect<OperationHandle, LxdError, Scope.Scope> =>
  Effect.gen(function*() {
    for (const alias of options.aliases ?? []) {
      yield* Path.validate("image alias", typeof alias === "string" ? alias : alias.name)
    }
    const exportRequest: Request = { method: "GET", path: `${imagePath}/export` }
    const response = yield* onSource(source.requestRaw(exportRequest))
    const length = Number(response.headers["content-length"])
    let read = false
    const body = Stream.suspend(() => {
      read = true
      return Stream.mapError(response.stream, source.connectionFailed(exportRequest))
    })
    const headers: Record<string, string> = { "X-LXD-public": (options.public ?? image.public) ? "1" : "0" }
    if (options.properties !== undefined && Object.keys(options.properties).length > 0) {
      headers["X-LXD-properties"] = new URLSearchParams(options.properties).toString()
    }
    const handle = yield* withStreamBody(
      body,
      response.headers["content-type"] ?? OCTET,
      Number.isSafeInteger(length) ? length : undefined,
      (rawBody) => target.operation({ method: "POST", path: "/images", rawBody, headers }, { progress: true })
    ).pipe(
      // a target that refused before reading the body: the export is ended, not left open
      Effect.onError(() => read ? Effect.void : discard(response))
    )
    const aliases = (options.aliases ?? []).map((a) => typeof a === "string" ? { name: a } : a)
    const wait: OperationHandle["wait"] = (waitOptions) =>
      Effect.tap(handle.wait(waitOptions), () =>
        Effect.forEach(aliases, (alias) =>
          target.request({
            method: "POST",
            path: "/images/aliases",
            body: { name: alias.name, description: alias.description ?? "", target: image.fingerprint }
          }), { discard: true }))
    return { ...handle, wait }
  })

/**
 * Copies an image and waits for it: the target's outcome (the source's in push mode). The scope then ends what
 * is left (an unused secret token, a used receiving token).
 *
 * @internal
 */
export const copy = (target: LxdClient.Service, options: CopyOptions): Effect.Effect<Operation, LxdError> =>
  Effect.scoped(Effect.flatMap(copyOperation(target, options), ({ handle }) => handle.wait()))

/** The create body's `source` for an import from a URL or an image server, checked before anything is sent. */
const importSource = (source: ImportSource): Effect.Effect<Record<string, unknown>, InvalidArgument> =>
  Effect.gen(function*() {
    const url = source.type === "url" ? source.url : source.server
    if (!/^https?:\/\/[^\s]+$/.test(url)) {
      return yield* new InvalidArgument({
        argument: source.type === "url" ? "url" : "server",
        value: url,
        reason: "must be an http:// or https:// URL"
      })
    }
    if (source.type === "url") return { type: "url", url: source.url }
    if ((source.alias === undefined) === (source.fingerprint === undefined)) {
      return yield* new InvalidArgument({
        argument: "source",
        value: source.alias ?? source.fingerprint,
        reason: "give exactly one of alias and fingerprint"
      })
    }
    if (source.alias !== undefined) yield* Path.validate("image alias", source.alias)
    return {
      type: "image",
      mode: "pull",
      server: source.server,
      protocol: source.protocol ?? "lxd",
      ...(source.alias === undefined ? {} : { alias: source.alias }),
      ...(source.fingerprint === undefined ? {} : { fingerprint: source.fingerprint }),
      ...(source.certificate === undefined ? {} : { certificate: source.certificate }),
      ...(source.secret === undefined ? {} : { secret: source.secret }),
      ...(source.imageType === undefined ? {} : { image_type: source.imageType })
    }
  })

/**
 * Starts an import from a URL (`source.type: "url"`) or an image server (`source.type: "image"`, protocol `lxd`
 * or `simplestreams`) on `target`, in the caller's scope, with `progress` subscribed.
 *
 * @internal
 */
export const importOperation = (
  target: LxdClient.Service,
  source: ImportSource,
  options: ImportOptions = {}
): Effect.Effect<OperationHandle, LxdError, Scope.Scope> =>
  Effect.gen(function*() {
    const body = yield* importSource(source)
    const settings = yield* settingsOf(target, options)
    return yield* target.operation({ method: "POST", path: "/images", body: { source: body, ...settings.body } }, {
      progress: true
    })
  })

/**
 * The fingerprint a finished download names (`metadata.fingerprint`), or a `ProtocolError`.
 *
 * @internal
 */
export const fingerprintOf = (operation: Operation): Effect.Effect<string, ProtocolError> =>
  Option.match(Schema.decodeUnknownOption(Fingerprint)(operation.metadata), {
    onNone: () => Effect.fail(protocolError({ method: "POST", path: "/images" }, "the operation names no image")),
    onSome: (m) => Effect.succeed(m.fingerprint)
  })

const RefreshResult = Schema.Struct({ refreshed: Schema.optionalWith(Schema.Boolean, { default: () => false }) })

/** The parts of the images service the imports use. @internal */
export type Base = Pick<I.Images.Service, "get" | "list">

/**
 * The import methods of the images service, over `target` (the server the service talks to).
 *
 * @internal
 */
export const make = (target: LxdClient.Service, images: Base): I.ImportService => {
  const landed = (operation: Effect.Effect<Operation, LxdError>) =>
    Effect.flatMap(Effect.flatMap(operation, fingerprintOf), images.get)

  const refresh: I.ImportService["refresh"] = (fingerprint) =>
    Effect.gen(function*() {
      const before = yield* images.get(fingerprint)
      const path = yield* Path.build("/images/", ["fingerprint", before.fingerprint], "/refresh")
      const result = yield* target.write({ method: "POST", path })
      const refreshed = Option.match(Schema.decodeUnknownOption(RefreshResult)(result.operation?.metadata), {
        onNone: () => false,
        onSome: (r) => r.refreshed
      })
      if (!refreshed) return before.fingerprint
      // the new image: where the old one's first alias points now, or the one image from the same source
      const alias = before.aliases[0]
      if (alias !== undefined) {
        const aliasPath = yield* Path.build("/images/aliases/", ["image alias", alias.name])
        const entry = yield* target.request({ method: "GET", path: aliasPath })
        const moved = Schema.decodeUnknownOption(Schema.Struct({ target: Schema.String }))(entry.metadata)
        if (Option.isSome(moved)) return moved.value.target
      }
      const source = before.update_source
      const same = (yield* images.list()).filter((image) =>
        image.fingerprint !== before.fingerprint && source != null && image.update_source != null &&
        image.update_source.server === source.server && image.update_source.alias === source.alias &&
        image.update_source.protocol === source.protocol
      )
      if (same.length === 1) return same[0]!.fingerprint
      return yield* protocolError(
        { method: "POST", path },
        "the image was refreshed, but its replacement cannot be told apart"
      )
    }).pipe(Effect.withSpan("Images.refresh"))

  return {
    copyFrom: (options) =>
      Effect.scoped(
        Effect.flatMap(
          copyOperation(target, options),
          ({ fingerprint, handle }) => Effect.as(handle.wait(), fingerprint)
        )
      ).pipe(Effect.flatMap(images.get), Effect.withSpan("Images.copyFrom")),
    copyFromOperation: (options) =>
      Effect.map(copyOperation(target, options), ({ handle }) => handle).pipe(
        Effect.withSpan("Images.copyFromOperation")
      ),
    importFrom: (source, options) =>
      landed(Effect.scoped(Effect.flatMap(importOperation(target, source, options), (handle) => handle.wait()))).pipe(
        Effect.withSpan("Images.importFrom")
      ),
    importFromOperation: (source, options) =>
      importOperation(target, source, options).pipe(Effect.withSpan("Images.importFromOperation")),
    refresh
  }
}

/**
 * Images (`/1.0/images`) and their aliases (`/1.0/images/aliases`): a collection on the shared shape
 * ({@link LxdResource.Collection}) without `create`/`rename` (an image is made by an upload, a publish or an
 * import, and is named by its content), plus what is its own: `getByAlias`, `refresh`, an `export` streamed and
 * checked against the fingerprint as the bytes flow (`exportParts` / `exportTo` for split images too), and an
 * `upload` streamed from the caller and checked the same way (`uploadFrom` from a fill callback, `uploadSplit`
 * for a metadata and a rootfs tarball; hashes go through the engine's `Sha256`, native under Node); and images
 * brought in from elsewhere ({@link ImportService}): `copyFrom` another LXD (pull, push or relay) and
 * `importFrom` a URL or an image server (LXD or simplestreams), each with an `…Operation` variant for progress.
 * Every call honours `LxdClient.withProject`.
 *
 * A fingerprint may be a unique prefix, as LXD accepts it; one that matches several images fails with
 * `AmbiguousFingerprint`.
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import * as imports from "./internal/imageImport.js"
import * as internal from "./internal/images.js"
import { LxdClient, type OperationHandle } from "./LxdClient.js"
import type { LxdError } from "./LxdError.js"
import * as LxdResource from "./LxdResource.js"
import { NullableArray, OpenEnum, StringMap, Timestamp } from "./LxdSchema.js"

/**
 * The writable part of an image (`PUT /1.0/images/{fingerprint}`): `expires_at` as LXD sends it (RFC 3339,
 * `0001-01-01T00:00:00Z` = never), `properties` (`os`, `release`, `description`, …), the `profiles` an
 * instance made from it gets.
 *
 * @since 0.2.0
 * @category schemas
 */
export const ImagePut = Schema.Struct({
  auto_update: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  expires_at: Schema.optional(Schema.String),
  profiles: NullableArray(Schema.String),
  properties: StringMap,
  public: Schema.optionalWith(Schema.Boolean, { default: () => false })
}).annotations({ identifier: "ImagePut" })

/**
 * @since 0.2.0
 * @category models
 */
export interface ImagePut extends Schema.Schema.Encoded<typeof ImagePut> {}

/**
 * An alias as an image lists it.
 *
 * @since 0.2.0
 * @category schemas
 */
export const ImageAlias = Schema.Struct({
  name: Schema.String,
  description: Schema.optionalWith(Schema.String, { default: () => "" })
}).annotations({ identifier: "ImageAlias" })

/**
 * @since 0.2.0
 * @category models
 */
export interface ImageAlias extends Schema.Schema.Type<typeof ImageAlias> {}

/**
 * Where an image that auto-updates comes from.
 *
 * @since 0.2.0
 * @category schemas
 */
export const ImageSource = Schema.Struct({
  alias: Schema.optionalWith(Schema.String, { default: () => "" }),
  certificate: Schema.optionalWith(Schema.String, { default: () => "" }),
  protocol: Schema.optionalWith(Schema.String, { default: () => "" }),
  server: Schema.optionalWith(Schema.String, { default: () => "" }),
  image_type: Schema.optional(Schema.String)
}).annotations({ identifier: "ImageSource" })

/**
 * An image (`GET /1.0/images/{fingerprint}`). `fingerprint` is the sha256 of its bytes (of metadata ‖ rootfs for
 * a split image); `type` is `container` or `virtual-machine`.
 *
 * @since 0.2.0
 * @category schemas
 */
export const Image = Schema.Struct({
  ...ImagePut.fields,
  fingerprint: Schema.String,
  aliases: NullableArray(ImageAlias),
  architecture: Schema.optionalWith(Schema.String, { default: () => "" }),
  cached: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  filename: Schema.optionalWith(Schema.String, { default: () => "" }),
  size: Schema.optionalWith(Schema.Number, { default: () => 0 }),
  type: Schema.optionalWith(OpenEnum("container", "virtual-machine"), { default: () => "container" }),
  update_source: Schema.optional(Schema.NullOr(ImageSource)),
  created_at: Schema.optional(Timestamp),
  last_used_at: Schema.optional(Timestamp),
  uploaded_at: Schema.optional(Timestamp),
  /** Since `images_all_projects` (absent on 5.0.2). */
  project: Schema.optional(Schema.String)
}).annotations({ identifier: "Image" })

/**
 * @since 0.2.0
 * @category models
 */
export interface Image extends Schema.Schema.Type<typeof Image> {}

/**
 * The collection of images, read by the client, the fake and the tests. No `create` (uploads, publishes and
 * imports are their own methods) and no `rename`; `DELETE` is an operation. `filter` needs `api_filtering`,
 * `allProjects` needs `images_all_projects` (not in 5.0.2).
 *
 * @since 0.2.0
 * @category descriptors
 */
export const spec = LxdResource.spec({
  name: "Images",
  path: "/images",
  kind: "fingerprint",
  item: Image,
  post: ImagePut, // unused: no create through the collection
  put: ImagePut,
  verbs: [...LxdResource.readVerbs, "replace", "update", "modify", "delete"],
  async: ["delete"],
  nameField: "fingerprint",
  filter: "api_filtering",
  allProjects: "images_all_projects",
  lifecycle: "image"
})

/**
 * The writable part of an alias (`PUT /1.0/images/aliases/{name}`): the image it points at.
 *
 * @since 0.2.0
 * @category schemas
 */
export const ImageAliasesEntryPut = Schema.Struct({
  description: Schema.optionalWith(Schema.String, { default: () => "" }),
  target: Schema.String
}).annotations({ identifier: "ImageAliasesEntryPut" })

/**
 * @since 0.2.0
 * @category models
 */
export interface ImageAliasesEntryPut extends Schema.Schema.Encoded<typeof ImageAliasesEntryPut> {}

/**
 * An alias (`GET /1.0/images/aliases/{name}`): `target` is the image's fingerprint.
 *
 * @since 0.2.0
 * @category schemas
 */
export const ImageAliasesEntry = Schema.Struct({
  ...ImageAliasesEntryPut.fields,
  name: Schema.String,
  type: Schema.optionalWith(OpenEnum("container", "virtual-machine"), { default: () => "container" })
}).annotations({ identifier: "ImageAliasesEntry" })

/**
 * @since 0.2.0
 * @category models
 */
export interface ImageAliasesEntry extends Schema.Schema.Type<typeof ImageAliasesEntry> {}

/**
 * A new alias (`POST /1.0/images/aliases`).
 *
 * @since 0.2.0
 * @category schemas
 */
export const ImageAliasesPost = Schema.Struct({
  ...ImageAliasesEntryPut.fields,
  name: Schema.String,
  type: Schema.optional(Schema.String)
}).annotations({ identifier: "ImageAliasesPost" })

/**
 * @since 0.2.0
 * @category models
 */
export interface ImageAliasesPost extends Schema.Schema.Encoded<typeof ImageAliasesPost> {}

/**
 * The collection of image aliases. `update` reads, merges and sends `PUT`: LXD 5.0.2's alias `PATCH` hangs for
 * 20 s and fails (`context deadline exceeded`), so it is never sent.
 *
 * @since 0.2.0
 * @category descriptors
 */
export const aliasesSpec = LxdResource.spec({
  name: "ImageAliases",
  path: "/images/aliases",
  kind: "image alias",
  item: ImageAliasesEntry,
  post: ImageAliasesPost,
  put: ImageAliasesEntryPut,
  update: "merge",
  lifecycle: "image-alias"
})

/**
 * Options of {@link Images.Service.upload}.
 *
 * @since 0.2.0
 * @category models
 */
export interface UploadOptions {
  /** Make the image public (`X-LXD-public`); default private. */
  readonly public?: boolean | undefined
  /** The file name LXD records (`X-LXD-filename`; printable ASCII). */
  readonly filename?: string | undefined
  /** Image properties (`X-LXD-properties`, URL-encoded). */
  readonly properties?: Readonly<Record<string, string>> | undefined
  /** Aliases to create for it once it is there (`POST /1.0/images/aliases` each). */
  readonly aliases?: ReadonlyArray<string> | undefined
  /** The tarball's length in bytes, when known (sent as `Content-Length`). */
  readonly size?: number | undefined
}

// -- imports: copies from another LXD, URLs, image servers -------------------------------------------------

/**
 * What an image that arrives (a copy, an import) gets on the target: `aliases` (created with it,
 * `image_create_aliases`; after it in relay mode), `public`, `autoUpdate` (follow the source's updates; only for
 * a source LXD can go back to: pull from a server, not a relay or a URL), `properties`.
 *
 * @since 0.2.0
 * @category models
 */
export interface ImportOptions {
  readonly aliases?:
    | ReadonlyArray<string | { readonly name: string; readonly description?: string | undefined }>
    | undefined
  readonly public?: boolean | undefined
  readonly autoUpdate?: boolean | undefined
  readonly properties?: Readonly<Record<string, string>> | undefined
}

/**
 * An image copied from another LXD: its engine (`source`, from `LxdClient.connect`), the image there
 * (`fingerprint`, a unique prefix accepted), its project there (`sourceProject`), and the `mode`: `pull`
 * (default; the target downloads it over HTTPS, a private image with a one-time secret), `push` (the source
 * uploads it; `images_push_relay`), `relay` (the bytes stream through the client, for servers that cannot reach
 * each other; memory stays bounded).
 *
 * @since 0.2.0
 * @category models
 */
export interface CopyOptions extends ImportOptions {
  readonly source: LxdClient.Service
  readonly fingerprint: string
  readonly sourceProject?: string | undefined
  readonly mode?: "pull" | "push" | "relay" | undefined
}

/**
 * Where an import comes from. `{ type: "url", url }`: LXD sends `HEAD url` and expects the headers
 * `LXD-Image-URL` (where the tarball is) and `LXD-Image-Hash` (its sha256), then downloads it. `{ type: "image",
 * server, protocol, alias | fingerprint }`: an image server, `lxd` (another LXD's HTTPS API; `secret` for a
 * private image) or `simplestreams` (`streams/v1/index.json` and the products it names); `certificate` (PEM) pins
 * a server whose certificate no system CA signed. LXD 5.0.2 also takes plain `http://` servers for both.
 *
 * @since 0.2.0
 * @category models
 */
export type ImportSource =
  | { readonly type: "url"; readonly url: string }
  | {
    readonly type: "image"
    readonly server: string
    readonly protocol?: "lxd" | "simplestreams" | undefined
    readonly alias?: string | undefined
    readonly fingerprint?: string | undefined
    readonly certificate?: string | undefined
    readonly secret?: string | undefined
    readonly imageType?: "container" | "virtual-machine" | undefined
  }

/**
 * The methods of {@link Images.Service} that bring images in from elsewhere, and `refresh`.
 *
 * @since 0.2.0
 * @category models
 */
export interface ImportService {
  /**
   * Copies an image from another LXD and returns it as it landed (`POST /1.0/images` with `source.type: image`
   * on this server in pull mode; `POST /1.0/images/{fingerprint}/export` on the source in push mode,
   * `images_push_relay`; `GET …/export` into an upload in relay mode), **async**. Interrupting it leaves no
   * operation running on either server. Errors: `NotFound`, `InvalidArgument` (names; a pull or push
   * server that does not listen on the network), `APIExtensionNotAvailable`, `OperationFailed` ("Image with same
   * fingerprint already exists"), `ClientConnectionFailed`.
   */
  readonly copyFrom: (options: CopyOptions) => Effect.Effect<Image, LxdError>
  /**
   * Starts {@link ImportService.copyFrom} in the caller's scope and returns the operation to follow (its
   * `progress` is subscribed; the source's in push mode). Closing the scope early ends the copy on both servers.
   */
  readonly copyFromOperation: (options: CopyOptions) => Effect.Effect<OperationHandle, LxdError, Scope.Scope>
  /**
   * Imports an image from a URL or an image server ({@link ImportSource}) and returns it (`POST /1.0/images`,
   * **async**). Errors: `InvalidArgument` (not an http(s) URL; both or neither of alias and fingerprint),
   * `OperationFailed` (LXD's reason: an unreachable server, a missing alias, a hash mismatch),
   * `APIExtensionNotAvailable` (`image_create_aliases`).
   */
  readonly importFrom: (source: ImportSource, options?: ImportOptions) => Effect.Effect<Image, LxdError>
  /** Starts {@link ImportService.importFrom} in the caller's scope (`progress` subscribed). */
  readonly importFromOperation: (
    source: ImportSource,
    options?: ImportOptions
  ) => Effect.Effect<OperationHandle, LxdError, Scope.Scope>
  /**
   * Refreshes an image from its `update_source` (`POST /1.0/images/{fingerprint}/refresh`, **async**) and
   * returns the fingerprint now current: the new image's when LXD replaced it (the operation says
   * `refreshed: true`; the aliases moved to it), else the same. LXD 5.0.2 caches a simplestreams index for an
   * hour, so a newer image is seen only once that cache expires. Errors: `NotFound`, `OperationFailed`,
   * `AmbiguousFingerprint`.
   */
  readonly refresh: (fingerprint: string) => Effect.Effect<string, LxdError>
}

/**
 * One piece of an export read with {@link Images.Service.exportParts}: the bytes of part `part` (`unified` for a
 * one-file image; `metadata`, then `rootfs` or `rootfs.img` for a split one), in order, with the file name LXD
 * gives that part (`Content-Disposition`). Each chunk is the caller's to keep.
 *
 * @since 0.2.0
 * @category models
 */
export interface ImageExportChunk {
  readonly part: "unified" | "metadata" | "rootfs" | "rootfs.img"
  readonly filename: string
  readonly bytes: Uint8Array
}

/**
 * The two tarballs of a split image for {@link Images.Service.uploadSplit}, read as they are sent, metadata
 * first; with both sizes the body has a `Content-Length`, else it goes chunked.
 *
 * @since 0.2.0
 * @category models
 */
export interface SplitUpload<E> {
  /** The metadata tarball (`metadata.yaml`, `templates/`). */
  readonly metadata: Stream.Stream<Uint8Array, E>
  /** The rootfs: a tarball (container) or a disk image (`virtual-machine`, sent as `rootfs.img`). */
  readonly rootfs: Stream.Stream<Uint8Array, E>
  /** `container` (default) or `virtual-machine`. */
  readonly type?: "container" | "virtual-machine" | undefined
  readonly metadataSize?: number | undefined
  readonly rootfsSize?: number | undefined
}

/**
 * @since 0.2.0
 * @category tags
 */
export class Images extends Context.Tag("@effect-lxd/core/Images")<Images, Images.Service>() {}

/**
 * @since 0.2.0
 */
export declare namespace Images {
  /**
   * The alias collection (`/1.0/images/aliases`): `listNames`, `list`, `get`, `getWithEtag`, `exists`, `create`,
   * `replace`, `update` (as a `PUT`), `modify`, `rename`, `delete`.
   *
   * @since 0.2.0
   * @category models
   */
  export interface Aliases
    extends LxdResource.Collection<[], ImageAliasesEntry, ImageAliasesPost, ImageAliasesEntryPut>
  {}

  /**
   * The collection verbs on `/1.0/images/{fingerprint}` (a unique prefix accepted; `AmbiguousFingerprint` for
   * one that is not), the aliases, and what images have of their own.
   *
   * @since 0.2.0
   * @category models
   */
  export interface Service extends
    Pick<
      LxdResource.Collection<[], Image, ImagePut, ImagePut>,
      LxdResource.ReadVerb | "replace" | "update" | "modify" | "delete"
    >,
    ImportService
  {
    /** The image aliases. */
    readonly aliases: Aliases
    /**
     * The image an alias points at (`GET /1.0/images/aliases/{name}`, then the image). Errors: `NotFound`
     * (either), `InvalidArgument`.
     */
    readonly getByAlias: (alias: string) => Effect.Effect<Image, LxdError>
    /**
     * The image's bytes as they arrive (`GET /1.0/images/{fingerprint}/export`, after a `GET` of the image for
     * its full fingerprint), hashed as they flow: when their sha256 is not the fingerprint, the stream fails
     * with `ImageFingerprintMismatch` instead of ending. A unified image only: a split one (LXD answers
     * `multipart/form-data`) fails with `InvalidArgument` before any byte (read it with `exportParts`). Errors also: `NotFound`,
     * `AmbiguousFingerprint`, `ClientConnectionFailed` (the body cut short).
     */
    readonly export: (fingerprint: string) => Stream.Stream<Uint8Array, LxdError>
    /**
     * Any image's bytes as they arrive, each chunk tagged with its part (`GET /1.0/images/{fingerprint}/export`,
     * after a `GET` of the image): a unified image is one part (`unified`); a split one, which LXD answers as
     * `multipart/form-data`, is `metadata` then `rootfs` (`rootfs.img` for a VM), parsed as the body flows.
     * sha256 over every part's bytes in order is checked against the fingerprint: on a difference the stream
     * fails with `ImageFingerprintMismatch` after the last byte instead of ending.
     *
     * One stream of tagged chunks rather than a stream per part: the parts come one after the other on one
     * connection, so a stream per part could only be read in order anyway (or be buffered), while here each
     * part's bytes are pulled by the consumer as they come, memory stays bounded by a chunk, the fingerprint
     * check covers both parts in one place, and unified and split images are read the same way (route by `part`:
     * `Stream.groupAdjacentBy`, or a writer per part as {@link Images.Service.exportTo} allows). Errors also:
     * `NotFound`, `AmbiguousFingerprint`, `ProtocolError` (a body that is not two parts named as LXD names them),
     * `ClientConnectionFailed` (the body cut short).
     */
    readonly exportParts: (fingerprint: string) => Stream.Stream<ImageExportChunk, LxdError>
    /**
     * {@link Images.Service.exportParts} into a callback, for writing to files: a unified image goes through the
     * transport's reused-buffer download when it has one, with no allocation per chunk, so each chunk's `bytes`
     * are lent, valid only until `write` returns (copy what you keep). The same check (`ImageFingerprintMismatch`
     * once every byte went through `write`) and errors, plus `write`'s own.
     */
    readonly exportTo: <E>(
      fingerprint: string,
      write: (chunk: ImageExportChunk) => Effect.Effect<void, E>
    ) => Effect.Effect<void, LxdError | E>
    /**
     * Uploads a unified image tarball as it is read from `tarball` (`POST /1.0/images`,
     * `application/octet-stream`, **async**), never holding it whole, and returns its fingerprint: the one LXD
     * answers, checked against the sha256 computed while sending (`ImageFingerprintMismatch` on a difference,
     * and the image LXD stored is deleted). Then the `aliases` are created. Errors: `OperationFailed` ("Image
     * with same fingerprint already exists"), `InvalidArgument` (a bad filename or alias, nothing sent),
     * `Conflict` (an alias in use), the stream's own error as it was.
     */
    readonly upload: <E>(
      tarball: Stream.Stream<Uint8Array, E>,
      options?: UploadOptions
    ) => Effect.Effect<string, LxdError | E>
    /**
     * {@link Images.Service.upload} of a tarball of `size` bytes whose content `fill` provides: `fill` writes
     * into the buffer it is given, from its start, and returns how many bytes it wrote. Where the transport has
     * an upload path (the node unix socket) the buffers are reused, with no allocation per chunk (a buffer is
     * filled again only once the connection took the bytes before); otherwise fresh chunks go as `upload` sends
     * a stream. A `fill` that returns 0 before `size` bytes fails the upload. The same check and errors, plus
     * `InvalidArgument` for a `size` that is not a byte count and `fill`'s own.
     */
    readonly uploadFrom: <E>(
      size: number,
      fill: (buffer: Uint8Array) => Effect.Effect<number, E>,
      options?: Omit<UploadOptions, "size">
    ) => Effect.Effect<string, LxdError | E>
    /**
     * Uploads a split image (`POST /1.0/images`, `multipart/form-data` with the part `metadata` first, then
     * `rootfs`, or `rootfs.img` for a VM, as LXD requires; **async**), both parts streamed as they are read,
     * never held whole, and returns its fingerprint, checked against sha256(metadata ‖ rootfs) computed while
     * sending (`ImageFingerprintMismatch`, and the image LXD stored is deleted). Options and errors as
     * {@link Images.Service.upload}.
     */
    readonly uploadSplit: <E>(
      parts: SplitUpload<E>,
      options?: UploadOptions
    ) => Effect.Effect<string, LxdError | E>
  }
}

/**
 * @since 0.2.0
 * @category constructors
 */
export const make: Effect.Effect<Images.Service, never, LxdClient> = Effect.map(
  LxdClient,
  (client) => {
    const service = internal.make(client, { images: spec, aliases: aliasesSpec })
    return { ...service, ...imports.make(client, service) }
  }
)

/**
 * @since 0.2.0
 * @category layers
 */
export const layer: Layer.Layer<Images, never, LxdClient> = Layer.effect(Images, make)

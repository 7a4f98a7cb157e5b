/**
 * LXD instances (`/1.0/instances`): containers and virtual machines, their whole lifecycle (create, change,
 * move to another pool, project or cluster member, state, snapshots, backups, publish as an image, console log,
 * log files, metadata and templates).
 *
 * Every long step is an LXD background operation that lives in the caller's scope: interrupting a method (a
 * timeout, a failing sibling, `Fiber.interrupt`) cancels the operation on the server, or waits (bounded) for one
 * LXD cannot cancel, so nothing is left running behind the caller. `create` also deletes an instance it brought
 * into existence when it is interrupted. The `Containers` and `VirtualMachines` modules give the same service
 * restricted to one instance type.
 *
 * @example
 * ```ts
 * import { Instances, Lxd } from "@effect-lxd/core"
 * import { LxdFakeServer } from "@effect-lxd/testing"
 * import { Effect, Layer } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const instances = yield* Instances.Instances
 *   // each step waits for its operation; interrupted, it cancels (or drains) the operation on the server
 *   yield* instances.create({ name: "web1", source: { type: "image", alias: "busybox" } })
 *   yield* instances.start("web1")
 *   const state = yield* instances.state("web1")
 *   yield* instances.stop("web1", { force: true })
 *   yield* instances.delete("web1")
 *   return state.status // "Running"
 * })
 *
 * // against the in-memory fake; NodeLxdTransport.layerUnixSocket() for a real LXD
 * Effect.runPromise(program.pipe(Effect.provide(Lxd.layer.pipe(Layer.provide(LxdFakeServer.layer())))))
 *   .then(console.log)
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as DateTime from "effect/DateTime"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import * as Images from "./Images.js"
import type { Image } from "./Images.js"
import type {
  ImageMetadata,
  Instance,
  InstanceBackup,
  InstanceBackupsPost,
  InstanceFull,
  InstancePut,
  InstanceSnapshot,
  InstanceSnapshotPut,
  InstanceSnapshotsPost,
  InstanceState,
  InstanceStatus,
  InstanceType
} from "./InstanceSchema.js"
import * as internal from "./internal/instances.js"
import type { LxdClient, OperationHandle, OperationOptions } from "./LxdClient.js"
import type { LxdError } from "./LxdError.js"
import type * as LxdResource from "./LxdResource.js"
import type { ConfigMap, DevicesMap } from "./LxdSchema.js"

// ---------------------------------------------------------------------------------------------------------------
// schemas (in `InstanceSchema`, re-exported here)

export {
  /**
   * @since 0.2.0
   * @category descriptors
   */
  backupsSpec,
  /**
   * @since 0.1.0
   * @category schemas
   */
  ImageMetadata,
  /**
   * @since 0.1.0
   * @category schemas
   */
  ImageMetadataTemplate,
  /**
   * @since 0.1.0
   * @category schemas
   */
  Instance,
  /**
   * @since 0.1.0
   * @category schemas
   */
  InstanceBackup,
  /**
   * @since 0.1.0
   * @category schemas
   */
  InstanceBackupsPost,
  /**
   * @since 0.1.0
   * @category schemas
   */
  InstanceFull,
  /**
   * @since 0.1.0
   * @category schemas
   */
  InstancePut,
  /**
   * @since 0.1.0
   * @category schemas
   */
  InstanceSnapshot,
  /**
   * @since 0.1.0
   * @category schemas
   */
  InstanceSnapshotPut,
  /**
   * @since 0.1.0
   * @category schemas
   */
  InstanceSnapshotsPost,
  /**
   * @since 0.2.0
   * @category descriptors
   */
  instancesSpec,
  /**
   * @since 0.1.0
   * @category schemas
   */
  InstanceState,
  /**
   * @since 0.1.0
   * @category schemas
   */
  InstanceStateCPU,
  /**
   * @since 0.1.0
   * @category schemas
   */
  InstanceStateDisk,
  /**
   * @since 0.1.0
   * @category schemas
   */
  InstanceStateMemory,
  /**
   * @since 0.1.0
   * @category schemas
   */
  InstanceStateNetwork,
  /**
   * @since 0.1.0
   * @category schemas
   */
  InstanceStateNetworkAddress,
  /**
   * @since 0.1.0
   * @category schemas
   */
  InstanceStateNetworkCounters,
  /**
   * @since 0.1.0
   * @category schemas
   */
  InstanceStatus,
  /**
   * @since 0.1.0
   * @category schemas
   */
  InstanceType,
  /**
   * @since 0.2.0
   * @category descriptors
   */
  snapshotsSpec
} from "./InstanceSchema.js"

// ---------------------------------------------------------------------------------------------------------------
// request bodies

/**
 * A point in time for `expires_at` fields: a `Date`, an Effect `DateTime` or an RFC 3339 string.
 *
 * @since 0.1.0
 * @category models
 */
export type TimeInput = Date | DateTime.DateTime | string

/**
 * A request body whose `expires_at` may be a `Date`, a `DateTime` or a string ({@link TimeInput}); it is sent as RFC 3339.
 *
 * @since 0.2.0
 * @category models
 */
export type WithTimeInput<A> = {
  readonly [K in keyof A]: K extends "expires_at" ? TimeInput | Exclude<A[K], string> : A[K]
}

/**
 * Create from an image: local by `alias` or `fingerprint` (or `properties`), or pulled from a remote image
 * server (`server` + `protocol`, `secret` for a private image on an LXD server, `certificate` = PEM of a
 * non-CA-signed LXD server).
 *
 * @since 0.1.0
 * @category models
 */
export interface InstanceSourceImage {
  readonly type: "image"
  readonly alias?: string | undefined
  readonly fingerprint?: string | undefined
  readonly properties?: ConfigMap | undefined
  readonly server?: string | undefined
  readonly protocol?: "lxd" | "simplestreams" | (string & {}) | undefined
  readonly secret?: string | undefined
  readonly certificate?: string | undefined
  readonly mode?: "pull" | (string & {}) | undefined
  /** Source project of a local image. */
  readonly project?: string | undefined
  readonly image_type?: string | undefined
}

/**
 * Create an empty instance (no root filesystem content).
 *
 * @since 0.1.0
 * @category models
 */
export interface InstanceSourceNone {
  readonly type: "none"
}

/**
 * A local copy of another instance (`source: "c1"`) or of a snapshot (`source: "c1/snap0"`).
 *
 * @since 0.1.0
 * @category models
 */
export interface InstanceSourceCopy {
  readonly type: "copy"
  readonly source: string
  /** Copy without the snapshots. */
  readonly instance_only?: boolean | undefined
  /** Update an existing copy incrementally (`container_incremental_copy`). */
  readonly refresh?: boolean | undefined
  /** Project of the source instance. */
  readonly project?: string | undefined
  readonly live?: boolean | undefined
  readonly allow_inconsistent?: boolean | undefined
}

/**
 * A migration target (server-to-server copy); passed through as is.
 *
 * @since 0.1.0
 * @category models
 */
export interface InstanceSourceMigration {
  readonly type: "migration"
  readonly mode?: "pull" | "push" | (string & {}) | undefined
  readonly operation?: string | undefined
  readonly certificate?: string | undefined
  readonly secrets?: Readonly<Record<string, string>> | undefined
  readonly "base-image"?: string | undefined
  readonly live?: boolean | undefined
  readonly instance_only?: boolean | undefined
  readonly refresh?: boolean | undefined
}

/**
 * Where a new instance comes from (`InstanceSource`).
 *
 * @since 0.1.0
 * @category models
 */
export type InstanceSource = InstanceSourceImage | InstanceSourceNone | InstanceSourceCopy | InstanceSourceMigration

/**
 * `POST /1.0/instances`. Without `name`, LXD picks one (`create` returns it).
 *
 * @since 0.1.0
 * @category models
 */
export interface InstancesPost {
  readonly name?: string | undefined
  readonly source: InstanceSource
  /** `container` (default) or `virtual-machine`; set by the `Containers`/`VirtualMachines` flavours. */
  readonly type?: InstanceType | undefined
  readonly description?: string | undefined
  readonly architecture?: string | undefined
  /** Profiles to apply, in order. A copy (`source.type: "copy"`) defaults to `["default"]`, see `create`. */
  readonly profiles?: ReadonlyArray<string> | undefined
  readonly config?: ConfigMap | undefined
  readonly devices?: DevicesMap | undefined
  readonly ephemeral?: boolean | undefined
  /** A cloud instance type (`t2.micro`, `c2-m4`) that sets `limits.cpu`/`limits.memory`. */
  readonly instance_type?: string | undefined
  readonly stateful?: boolean | undefined
}

/**
 * A partial change (`PATCH /1.0/instances/{name}`): `config` keys are merged (`""` removes a key), devices are
 * merged by name (removing a device needs `replace`).
 *
 * @since 0.1.0
 * @category models
 */
export interface InstancePatch {
  readonly architecture?: string | undefined
  readonly config?: ConfigMap | undefined
  readonly devices?: DevicesMap | undefined
  readonly ephemeral?: boolean | undefined
  readonly profiles?: ReadonlyArray<string> | undefined
  readonly description?: string | undefined
}

/**
 * A state change (`PUT /1.0/instances/{name}/state`). `timeout` is in seconds (`-1`: no timeout) and applies
 * to a graceful stop; `force` kills instead; `stateful` saves or restores the running state (needs CRIU for
 * containers).
 *
 * @since 0.1.0
 * @category models
 */
export interface InstanceStatePut {
  readonly action: "start" | "stop" | "restart" | "freeze" | "unfreeze" | (string & {})
  readonly timeout?: number | undefined
  readonly force?: boolean | undefined
  readonly stateful?: boolean | undefined
}

/**
 * Options of publishing an instance or a snapshot as an image (`POST /1.0/images` with an `instance` or
 * `snapshot` source).
 *
 * @since 0.1.0
 * @category models
 */
export interface PublishOptions {
  /** Aliases to create for the new image (`image_create_aliases`). */
  readonly aliases?:
    | ReadonlyArray<string | { readonly name: string; readonly description?: string | undefined }>
    | undefined
  readonly public?: boolean | undefined
  /** Image properties (`os`, `release`, `description`, …). */
  readonly properties?: ConfigMap | undefined
  /** `gzip` (default), `xz`, `zstd`, `none`, … */
  readonly compression_algorithm?: string | undefined
  readonly expires_at?: TimeInput | undefined
  readonly filename?: string | undefined
}

/**
 * Options of the list methods.
 *
 * @since 0.1.0
 * @category models
 */
export type ListOptions = LxdResource.ListOptions

/**
 * @since 0.1.0
 * @category models
 */
export interface CreateOptions extends OperationOptions {
  /** Cluster member to create the instance on (`?target=` on the create request only; `@group` for a group). */
  readonly target?: string | undefined
}

/**
 * Where `move` takes an instance inside one server (or cluster): exactly one of `pool`, `project` and `target`.
 *
 * @since 0.2.0
 * @category models
 */
export interface MoveOptions {
  /** The storage pool to move it to (`instance_pool_move`). */
  readonly pool?: string | undefined
  /** The project to move it to (`instance_project_move`). */
  readonly project?: string | undefined
  /** The cluster member to move it to (`?target=`, `clustering`; its storage moves with it). */
  readonly target?: string | undefined
  /** Its name where it lands (the same name when left out). */
  readonly newName?: string | undefined
  /** Sent as `live` when given; LXD refuses a running instance either way (see `move`). */
  readonly live?: boolean | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface StopOptions {
  /** Kill instead of a clean shutdown. */
  readonly force?: boolean | undefined
  /** Seconds to wait for a clean shutdown (`-1`: no limit). */
  readonly timeout?: number | undefined
  readonly stateful?: boolean | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ImportOptions {
  /** Name of the new instance (`X-LXD-name`); the backup's own name otherwise. */
  readonly name?: string | undefined
  /** Storage pool to restore into (`X-LXD-pool`). */
  readonly pool?: string | undefined
}

/**
 * Options of {@link Instances.Service.console}: `type` (`"console"`, the default: the text console;
 * `"vga"`: a virtual machine's SPICE display, extension `console_vga_type`), and the terminal's `width` and
 * `height` (integers from 1 to 65535, sent only when given).
 *
 * @since 0.2.0
 * @category models
 */
export interface ConsoleOptions {
  /** `"console"` (default) or `"vga"` (virtual machines only: LXD answers a container with `BadRequest`). */
  readonly type?: "console" | "vga" | undefined
  /** Terminal width in columns. */
  readonly width?: number | undefined
  /** Terminal height in rows. */
  readonly height?: number | undefined
}

/**
 * An attached console, alive in the caller's scope: `operationId`; `output` (the console's bytes as they come,
 * for one consumer; for `vga` the SPICE stream); `write(chunk)` (a string as UTF-8); `resize(width, height)`
 * (`window-resize` on the control socket); `done`, which completes when the console operation ended (the scope
 * closed, or LXD ended it). Closing the scope detaches: the control socket closes first (LXD then ends the
 * operation), then the data socket, and the engine waits (bounded) for the operation to end.
 *
 * @since 0.2.0
 * @category models
 */
export interface Console {
  /** The id of the console operation. */
  readonly operationId: string
  /** The console type asked for. */
  readonly type: "console" | "vga"
  /** What the console prints (LXD's terminal echoes what is written). */
  readonly output: Stream.Stream<Uint8Array, LxdError>
  /** Sends bytes (a string as UTF-8) to the console. */
  readonly write: (chunk: Uint8Array | string) => Effect.Effect<void, LxdError>
  /** Resizes the console's terminal (`InvalidArgument` for a size that is not an integer from 1 to 65535). */
  readonly resize: (width: number, height: number) => Effect.Effect<void, LxdError>
  /** Completes when the console operation has ended. */
  readonly done: Effect.Effect<void, LxdError>
}

// ---------------------------------------------------------------------------------------------------------------
// service

/** The verbs snapshots and backups take from the collection shape as they are. */
type ChildVerbs = LxdResource.ReadVerb | "rename" | "delete"

/**
 * @since 0.1.0
 * @category tags
 */
export class Instances extends Context.Tag("@effect-lxd/core/Instances")<Instances, Instances.Service>() {}

/**
 * The `Service` interface of the `Instances` tag, and its parts (`Snapshots`, `Backups`, `Logs`, `Metadata`,
 * `Templates`).
 *
 * @since 0.1.0
 * @category models
 */
export declare namespace Instances {
  /**
   * Instance snapshots (`/1.0/instances/{name}/snapshots`): `listNames`, `list`, `get`, `getWithEtag`, `exists`,
   * `rename` (**async**; errors `Conflict`, `NotFound`), `delete` (**async**) on the collection shape
   * ({@link snapshotsSpec}), and the snapshot's own `create`, `replace`, `update`, `modify` (their `expires_at`
   * a {@link TimeInput}), `restore`, `publish`.
   *
   * @since 0.1.0
   * @category models
   */
  export interface Snapshots extends
    Pick<
      LxdResource.Collection<[instance: string], InstanceSnapshot, InstanceSnapshotsPost, InstanceSnapshotPut>,
      ChildVerbs
    >
  {
    /**
     * Takes a snapshot and returns its name (`POST …/snapshots`, **async**). When no name is given, LXD picks
     * one; it is read from the operation, or else from the newest snapshot. Errors: `Conflict` (name taken),
     * `OperationFailed` (LXD 5.0.2 without CRIU refuses `stateful: true` with "Unable to create a stateful
     * snapshot. CRIU isn't installed").
     */
    readonly create: (
      instance: string,
      body?: WithTimeInput<InstanceSnapshotsPost>
    ) => Effect.Effect<string, LxdError>
    /**
     * Changes the expiry (`PUT …/snapshots/{snapshot}`, **async**, `snapshot_expiry`). Errors:
     * `PreconditionFailed` (stale `etag`), `NotFound`.
     */
    readonly replace: (
      instance: string,
      snapshot: string,
      body: WithTimeInput<InstanceSnapshotPut>,
      options?: LxdResource.EtagOptions
    ) => Effect.Effect<void, LxdError>
    /**
     * Changes what `patch` names (`PATCH …/snapshots/{snapshot}`, **async**, `snapshot_expiry`): LXD 5.0.2 keeps
     * the expiry when `expires_at` is left out (an empty patch changes nothing), and `"0001-01-01T00:00:00Z"`
     * removes it (the API cannot clear an expiry otherwise: `null` is ignored, `""` refused). Errors:
     * `PreconditionFailed` (stale `etag`), `NotFound`, `BadRequest` (a time LXD cannot parse), `InvalidArgument`.
     */
    readonly update: (
      instance: string,
      snapshot: string,
      patch: WithTimeInput<Partial<InstanceSnapshotPut>>,
      options?: LxdResource.EtagOptions
    ) => Effect.Effect<void, LxdError>
    /**
     * Read-modify-write (`snapshot_expiry`): `GET …/snapshots/{snapshot}`, `f` on the writable part (fields this
     * client does not know kept), then `PUT` (**async**) with the `ETag` of the `GET`, so a concurrent change
     * fails with `PreconditionFailed` instead of being overwritten. Errors: `NotFound`, `InvalidArgument`.
     */
    readonly modify: (
      instance: string,
      snapshot: string,
      f: (current: InstanceSnapshotPut) => WithTimeInput<InstanceSnapshotPut>
    ) => Effect.Effect<void, LxdError>
    /**
     * Restores the instance to the snapshot (`PUT /1.0/instances/{name}` with `restore`, **async**). Errors:
     * `NotFound`, `OperationFailed`.
     */
    readonly restore: (
      instance: string,
      snapshot: string,
      options?: { readonly stateful?: boolean | undefined }
    ) => Effect.Effect<void, LxdError>
    /**
     * Publishes the snapshot as an image and returns it as it landed (`POST /1.0/images`, source `snapshot`,
     * **async**, then `GET /1.0/images/{fingerprint}` through `Images`): its `public` flag, aliases and
     * properties as asked. Errors: `OperationFailed` ("The image already exists: <fingerprint>" when an
     * identical image is already there), `APIExtensionNotAvailable` (`image_create_aliases`, when aliases are
     * given).
     */
    readonly publish: (
      instance: string,
      snapshot: string,
      options?: PublishOptions
    ) => Effect.Effect<Image, LxdError>
  }

  /**
   * Instance backups (`/1.0/instances/{name}/backups`): `listNames`, `list`, `get`, `getWithEtag`, `exists`,
   * `rename` (**async**), `delete` (**async**) on the collection shape ({@link backupsSpec}), and `create`,
   * `download`.
   *
   * @since 0.1.0
   * @category models
   */
  export interface Backups extends
    Pick<
      LxdResource.Collection<[instance: string], InstanceBackup, InstanceBackupsPost, never>,
      ChildVerbs
    >
  {
    /** Makes a backup and returns its name (`POST …/backups`, **async**). Errors: `Conflict`, `OperationFailed`. */
    readonly create: (
      instance: string,
      body?: WithTimeInput<InstanceBackupsPost>
    ) => Effect.Effect<string, LxdError>
    /**
     * The backup tarball as a stream (`GET …/backups/{backup}/export`), read as it arrives (through the
     * transport's reused-buffer download when it has one, each chunk a copy the consumer may keep; memory stays
     * bounded). Errors: `NotFound`, `ClientConnectionFailed` (the connection broke mid-way).
     */
    readonly download: (instance: string, backup: string) => Stream.Stream<Uint8Array, LxdError>
  }

  /**
   * Instance log files (`/1.0/instances/{name}/logs`).
   *
   * @since 0.1.0
   * @category models
   */
  export interface Logs {
    /** Log file names (`lxc.log`, `lxc.conf`, `exec_*.stdout`, …). */
    readonly list: (instance: string) => Effect.Effect<ReadonlyArray<string>, LxdError>
    /** A log file's text (`GET …/logs/{file}`). Errors: `NotFound`. */
    readonly get: (instance: string, file: string) => Effect.Effect<string, LxdError>
    /** Deletes a log file (`DELETE …/logs/{file}`). Errors: `BadRequest` (`lxc.log` and `lxc.conf`). */
    readonly delete: (instance: string, file: string) => Effect.Effect<void, LxdError>
  }

  /**
   * Instance image metadata (`/1.0/instances/{name}/metadata`).
   *
   * @since 0.1.0
   * @category models
   */
  export interface Metadata {
    /** `GET …/metadata`. */
    readonly get: (instance: string) => Effect.Effect<ImageMetadata, LxdError>
    /** `GET …/metadata` with its ETag. */
    readonly getWithEtag: (
      instance: string
    ) => Effect.Effect<LxdResource.WithEtag<ImageMetadata>, LxdError>
    /**
     * Replaces the metadata (`PUT …/metadata`). LXD 5.0.2 ignores `If-Match` here, so with an `etag` the
     * client compares it with a fresh GET first (a narrow race remains) and sends it as well. Errors:
     * `PreconditionFailed`, `BadRequest`.
     */
    readonly replace: (
      instance: string,
      metadata: ImageMetadata,
      options?: { readonly etag?: string | undefined }
    ) => Effect.Effect<void, LxdError>
    /**
     * Changes what `patch` names (`PATCH …/metadata`, sync), as LXD 5.0.2 decodes a patch over the current
     * metadata: fields left out are kept; `properties` and `templates` are merged key by key (a template given is
     * replaced whole; a `""` property stays `""`: removing a key needs `replace`). 5.0.2 honours `If-Match` here.
     * Errors: `PreconditionFailed` (stale `etag`), `BadRequest` (a field of the wrong type), `NotFound`.
     */
    readonly update: (
      instance: string,
      patch: Partial<ImageMetadata>,
      options?: LxdResource.EtagOptions
    ) => Effect.Effect<void, LxdError>
  }

  /**
   * Instance template files (`/1.0/instances/{name}/metadata/templates`).
   *
   * @since 0.1.0
   * @category models
   */
  export interface Templates {
    /** Template file names. */
    readonly list: (instance: string) => Effect.Effect<ReadonlyArray<string>, LxdError>
    /** A template's content (`GET …/templates?path=`). Errors: `NotFound`. */
    readonly get: (instance: string, template: string) => Effect.Effect<string, LxdError>
    /** Creates or replaces a template (`POST …/templates?path=`, raw body). */
    readonly put: (instance: string, template: string, content: string | Uint8Array) => Effect.Effect<void, LxdError>
    /** Deletes a template (`DELETE …/templates?path=`). Errors: `NotFound`. */
    readonly delete: (instance: string, template: string) => Effect.Effect<void, LxdError>
  }

  /**
   * Every method that starts a background operation waits for it; `createOperation` hands you the operation
   * itself, alive in your scope.
   *
   * @example
   * ```ts
   * import { Instances, Lxd } from "@effect-lxd/core"
   * import { LxdFakeServer } from "@effect-lxd/testing"
   * import { Effect, Layer } from "effect"
   *
   * // leaving the scope before the operation ended cancels it on the server (or drains one LXD cannot cancel)
   * const program = Effect.scoped(Effect.gen(function*() {
   *   const instances = yield* Instances.Instances
   *   const handle = yield* instances.createOperation({ name: "web1", source: { type: "image", alias: "busybox" } })
   *   const done = yield* handle.wait({ timeout: "2 minutes" }) // OperationTimeout if it takes longer
   *   return `${handle.id}: ${done.status}` // "…: Success"
   * }))
   *
   * Effect.runPromise(program.pipe(Effect.provide(Lxd.layer.pipe(Layer.provide(LxdFakeServer.layer())))))
   *   .then(console.log)
   * ```
   *
   * @since 0.1.0
   * @category models
   */
  export interface Service {
    // -- read ----------------------------------------------------------------------------------------------
    /**
     * Instance names (`GET /1.0/instances`). Errors: `APIExtensionNotAvailable` (`api_filtering` for a
     * filter), status errors, `ClientConnectionFailed`, `ProtocolError`.
     */
    readonly listNames: (options?: { readonly filter?: ListOptions["filter"] }) => Effect.Effect<
      ReadonlyArray<string>,
      LxdError
    >
    /** Instance names of every project, by project (`GET /1.0/instances?all-projects=true`). */
    readonly listNamesAllProjects: (options?: { readonly filter?: ListOptions["filter"] }) => Effect.Effect<
      Readonly<Record<string, ReadonlyArray<string>>>,
      LxdError
    >
    /** Instances (`GET /1.0/instances?recursion=1`). */
    readonly list: (options?: ListOptions) => Effect.Effect<ReadonlyArray<Instance>, LxdError>
    /** Instances with state, snapshots and backups (`GET /1.0/instances?recursion=2`). */
    readonly listFull: (options?: ListOptions) => Effect.Effect<ReadonlyArray<InstanceFull>, LxdError>
    /** `GET /1.0/instances/{name}`. Errors: `NotFound`, `InvalidArgument`. */
    readonly get: (name: string) => Effect.Effect<Instance, LxdError>
    /** `GET /1.0/instances/{name}` with the ETag to pass to `replace`/`update`. */
    readonly getWithEtag: (
      name: string
    ) => Effect.Effect<LxdResource.WithEtag<Instance>, LxdError>
    /** `GET /1.0/instances/{name}?recursion=1` (`instance_get_full`): with state, snapshots, backups. */
    readonly getFull: (name: string) => Effect.Effect<InstanceFull, LxdError>
    /** Whether the instance exists (a `NotFound` is `false`). */
    readonly exists: (name: string) => Effect.Effect<boolean, LxdError>
    /** The live state (`GET /1.0/instances/{name}/state`). Errors: `NotFound`. */
    readonly state: (name: string) => Effect.Effect<InstanceState, LxdError>

    // -- create --------------------------------------------------------------------------------------------
    /**
     * Creates an instance, waits for it, and returns its name, the generated one when `name` is left out
     * (`POST /1.0/instances`, **async**). LXD 5.0.2 refuses a copy without profiles ("Failed getting root
     * disk: No root device could be found"), so a copy (`source.type: "copy"`) without `profiles` is sent
     * with `profiles: ["default"]`. If interrupted, the engine waits for LXD's (uncancellable) operation,
     * then the instance it created is deleted. Errors: `Conflict` (name taken), `NotFound` ("Image alias not
     * found"), `BadRequest`, `OperationFailed` (the operation failed), `InvalidArgument` (a name LXD would
     * refuse, nothing sent).
     */
    readonly create: (request: InstancesPost, options?: CreateOptions) => Effect.Effect<string, LxdError>
    /**
     * Starts creating an instance and returns the operation's handle in the current scope (closing the
     * scope before the end cancels or drains it). No compensation: use `create` for that.
     */
    readonly createOperation: (
      request: InstancesPost,
      options?: CreateOptions
    ) => Effect.Effect<OperationHandle, LxdError, Scope.Scope>
    /**
     * A local copy of an instance (`"c1"`) or of a snapshot (`"c1/snap0"`), as `create` with a `copy`
     * source; `profiles` default to `["default"]`.
     */
    readonly copy: (
      source: string,
      name: string,
      options?: Omit<InstancesPost, "name" | "source"> & {
        readonly instanceOnly?: boolean | undefined
        readonly target?: string | undefined
      }
    ) => Effect.Effect<string, LxdError>
    /**
     * Restores a backup tarball as a new instance and returns its name (`POST /1.0/instances` with
     * `Content-Type: application/octet-stream`, **async**). The body is streamed, never held in memory; a
     * failure of `tarball` is returned as it is. Interrupted, the instance is deleted as for `create`. A body
     * that is not a backup: `LxdApiError` (5.0.2: HTTP 500 "Unsupported compression").
     */
    readonly createFromBackup: <E>(
      tarball: Stream.Stream<Uint8Array, E>,
      options?: ImportOptions
    ) => Effect.Effect<string, LxdError | E>

    // -- change --------------------------------------------------------------------------------------------
    /**
     * Replaces the writable fields (`PUT /1.0/instances/{name}`, **async**). Errors: `PreconditionFailed`
     * (stale `etag`, nothing changed), `BadRequest`.
     */
    readonly replace: (
      name: string,
      body: InstancePut,
      options?: { readonly etag?: string | undefined }
    ) => Effect.Effect<void, LxdError>
    /**
     * Merges a change (`PATCH /1.0/instances/{name}`, sync). `description` is always sent: LXD 5.0.2 resets it
     * when a PATCH leaves it out, so without one in `patch` the current description is read and sent back.
     * Errors: `PreconditionFailed` (stale `etag`), `BadRequest`.
     */
    readonly update: (
      name: string,
      patch: InstancePatch,
      options?: { readonly etag?: string | undefined }
    ) => Effect.Effect<void, LxdError>
    /**
     * Read-modify-write: GET, `f`, then PUT with the ETag of the GET, so a concurrent change fails with
     * `PreconditionFailed` instead of being overwritten. `f` receives the writable fields plus any field this
     * client does not know (spread it to keep them: `(i) => ({ ...i, config: { ...i.config, k: "v" } })`).
     */
    readonly modify: (name: string, f: (current: InstancePut) => InstancePut) => Effect.Effect<void, LxdError>
    /**
     * Renames (`POST /1.0/instances/{name}`, **async**). LXD refuses a running instance: `OperationFailed`
     * "Renaming of running container not allowed". Errors: `Conflict`, `BadRequest`, `InvalidArgument`.
     */
    readonly rename: (name: string, newName: string) => Effect.Effect<void, LxdError>
    /**
     * Moves an instance inside this server (`POST /1.0/instances/{name}` with `migration: true`, **async**): to
     * another storage `pool` (`instance_pool_move`), to another `project` (the instance is read in the current
     * one; `instance_project_move`) or to another cluster member (`target`, sent as `?target=`; `clustering`),
     * renamed to `newName` on the way when given. Snapshots go along. A pool or project move pins the root disk
     * in the instance's own devices (its pool: the new one, or the one it was on). Exactly one of `pool`,
     * `project` and `target` (5.0.2 given a pool and a project moves the pool and ignores the project).
     * LXD 5.0.2 refuses to move a running instance: `OperationFailed` "Unable to perform container live
     * migration. CRIU isn't installed" (a pool move with `live: false`: "Instance must be stopped to move between
     * pools statelessly"), except to another member with `live: false`, which stops it, moves it and starts it
     * there. A name taken where it goes (the same project included): `OperationFailed` "… This "instances" entry
     * already exists"; an unknown pool or project: `OperationFailed` "… Storage pool not found" / "… Project not
     * found"; an unknown member: `NotFound` "Failed to get target node: Cluster member not found"; the member it
     * is on: `OperationFailed` "Target must be different than instance's current location". Errors also:
     * `InvalidArgument` (a bad name, not exactly one of `pool`, `project`, `target`; nothing sent),
     * `APIExtensionNotAvailable`, `NotFound`.
     */
    readonly move: (name: string, options: MoveOptions) => Effect.Effect<void, LxdError>
    /**
     * Deletes (`DELETE /1.0/instances/{name}`, **async**). `force: true` force-stops a running or frozen
     * instance first; without it LXD refuses with `BadRequest` "Instance is running".
     */
    readonly delete: (name: string, options?: { readonly force?: boolean | undefined }) => Effect.Effect<
      void,
      LxdError
    >

    // -- state ---------------------------------------------------------------------------------------------
    /**
     * Changes the state (`PUT /1.0/instances/{name}/state`, **async**). Errors: `OperationFailed` ("The
     * instance is already stopped", …), `BadRequest`, `NotFound`.
     */
    readonly setState: (name: string, body: InstanceStatePut) => Effect.Effect<void, LxdError>
    /** `setState` `start`. */
    readonly start: (name: string, options?: { readonly stateful?: boolean | undefined }) => Effect.Effect<
      void,
      LxdError
    >
    /** `setState` `stop` (a clean shutdown unless `force`). */
    readonly stop: (name: string, options?: StopOptions) => Effect.Effect<void, LxdError>
    /** `setState` `restart`. */
    readonly restart: (name: string, options?: Omit<StopOptions, "stateful">) => Effect.Effect<void, LxdError>
    /** `setState` `freeze`. */
    readonly freeze: (name: string) => Effect.Effect<void, LxdError>
    /** `setState` `unfreeze`. */
    readonly unfreeze: (name: string) => Effect.Effect<void, LxdError>
    /**
     * Changes the state of every instance of the project (of this flavour's type) at once (`PUT /1.0/instances`,
     * **async**, `instance_bulk_state_change`).
     */
    readonly setStateMany: (body: InstanceStatePut) => Effect.Effect<void, LxdError>
    /**
     * Waits until the instance has one of the given statuses. Subscribes to lifecycle events first, then reads
     * the state, then re-reads it on each `instance-*` event of this instance: no polling. Errors:
     * `OperationTimeout` (with an empty `operationId`) when `timeout` passes, `NotFound` (deleted meanwhile),
     * `ClientConnectionFailed` (the events websocket).
     */
    readonly waitForStatus: (
      name: string,
      status: InstanceStatus | ReadonlyArray<InstanceStatus>,
      options?: { readonly timeout?: Duration.DurationInput | undefined }
    ) => Effect.Effect<InstanceState, LxdError>

    // -- images --------------------------------------------------------------------------------------------
    /**
     * Publishes a stopped instance as an image and returns it as it landed (`POST /1.0/images`, source
     * `instance`, **async**, then `GET /1.0/images/{fingerprint}` through `Images`): its `public` flag, aliases
     * and properties as asked. Errors: `OperationFailed` ("Cannot export a running instance as an image";
     * "The image already exists: <fingerprint>"), `APIExtensionNotAvailable` (`image_create_aliases`).
     */
    readonly publish: (name: string, options?: PublishOptions) => Effect.Effect<Image, LxdError>

    // -- console -------------------------------------------------------------------------------------------
    /**
     * The console log (`GET /1.0/instances/{name}/console`); `""` for an instance that never ran. LXD 5.0.2
     * answers a *running* container with HTTP 500 "open : no such file or directory": that is an
     * `LxdApiError` whose message says so.
     */
    readonly consoleLog: (name: string) => Effect.Effect<string, LxdError>
    /** Empties the console log (`DELETE /1.0/instances/{name}/console`). */
    readonly clearConsoleLog: (name: string) => Effect.Effect<void, LxdError>
    /**
     * Attaches to the console in the caller's scope (`POST /1.0/instances/{name}/console`, **async**: a
     * websocket operation with fds `0` and `control`; extension `console`, or `console_vga_type` for `vga`).
     * Needs a running instance. Detaching (closing the scope) ends the operation (LXD 5.0.2 sometimes reports
     * it as Failure "write /dev/pts/ptmx: file already closed": `done` takes that as the end). The text console
     * is what the instance's init gives `/dev/console`: a busybox init without a console entry prints nothing,
     * but the terminal still echoes input, and what passed through is in `consoleLog` once the instance stopped.
     * LXD 5.0.2 relays input only once its console relay runs, ~250-300 ms after the attach: what is written
     * earlier is lost (write until the terminal echoes).
     * Errors: `InvalidArgument` (name, type, size; nothing sent), `BadRequest` ("Instance is not running",
     * "VGA console is only supported by virtual machines"), `NotFound`, `APIExtensionNotAvailable`,
     * `ProtocolError` (no websocket secrets), `ClientConnectionFailed`.
     */
    readonly console: (name: string, options?: ConsoleOptions) => Effect.Effect<Console, LxdError, Scope.Scope>

    // -- sub-resources -------------------------------------------------------------------------------------
    /** Snapshots. */
    readonly snapshots: Snapshots
    /** Backups. */
    readonly backups: Backups
    /** Log files. */
    readonly logs: Logs
    /** Image metadata. */
    readonly metadata: Metadata
    /** Template files. */
    readonly templates: Templates
  }
}

/**
 * Builds the service for every instance type.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Instances.Service, never, LxdClient> = internal.make({
  type: undefined,
  span: "Instances",
  images: Images.make
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Instances, never, LxdClient> = Layer.effect(Instances, make)

/**
 * Storage volumes (`/1.0/storage-pools/{pool}/volumes/{type}`), their snapshots and backups: collections on the
 * shared shape ({@link LxdResource.Collection}), nested below their pool and volume type, parents first
 * (`volumes.get("default", "custom", "data")`, `volumes.snapshots.get("default", "custom", "data", "snap0")`).
 * Beside the collection verbs: volumes of every type (`listAll`), `state`, `restore`, copies and moves within a
 * server, backup export (a stream, memory bounded) and import, and attaching a custom volume to an instance as a
 * `disk` device. Copies between servers are `Migration.copyVolume`. Every call honours `LxdClient.withProject`.
 *
 * LXD 5.0.2 answers a volume's create and rename sync and newer servers with an operation; the client takes
 * both. It lists a volume's snapshots with the volumes (`v1/snap0`): `list` and `listNames` leave them out.
 *
 * @since 0.2.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Stream from "effect/Stream"
import * as internal from "./internal/storageVolumes.js"
import { LxdClient } from "./LxdClient.js"
import type { LxdError } from "./LxdError.js"
import * as LxdResource from "./LxdResource.js"
import { OpenEnum, StringMap, Timestamp, UsedBy } from "./LxdSchema.js"

/**
 * A volume type: `custom` (made by users), `container`, `virtual-machine`, `image` (LXD's own).
 *
 * @since 0.2.0
 * @category models
 */
export type VolumeType = "custom" | "container" | "virtual-machine" | "image" | (string & {})

/**
 * The writable part of a volume (`PUT /1.0/storage-pools/{pool}/volumes/{type}/{name}`).
 *
 * @since 0.2.0
 * @category schemas
 */
export const StorageVolumePut = Schema.Struct({
  description: Schema.optionalWith(Schema.String, { default: () => "" }),
  config: StringMap
}).annotations({ identifier: "StorageVolumePut" })

/**
 * @since 0.2.0
 * @category models
 */
export interface StorageVolumePut extends Schema.Schema.Encoded<typeof StorageVolumePut> {}

/**
 * A volume (`GET /1.0/storage-pools/{pool}/volumes/{type}/{name}`). `content_type`: `filesystem` or `block`
 * (`custom_block_volumes`); `created_at` is `0001-01-01T00:00:00Z` on 5.0.2's `dir` pools.
 *
 * @since 0.2.0
 * @category schemas
 */
export const StorageVolume = Schema.Struct({
  ...StorageVolumePut.fields,
  name: Schema.String,
  type: OpenEnum("custom", "container", "virtual-machine", "image"),
  used_by: UsedBy,
  location: Schema.optional(Schema.String),
  content_type: Schema.optionalWith(OpenEnum("filesystem", "block"), { default: () => "filesystem" }),
  project: Schema.optional(Schema.String),
  created_at: Schema.optional(Timestamp)
}).annotations({ identifier: "StorageVolume" })

/**
 * @since 0.2.0
 * @category models
 */
export interface StorageVolume extends Schema.Schema.Type<typeof StorageVolume> {}

/**
 * Where a new volume comes from: `type: "copy"` (`name`, `pool`, `project` of another volume on the same server;
 * `volume_only` leaves its snapshots out, `refresh` updates an existing copy) or `type: "migration"` (another
 * server; filled in by `Migration.copyVolume`).
 *
 * @since 0.2.0
 * @category schemas
 */
export const StorageVolumeSource = Schema.Struct({
  type: Schema.String,
  name: Schema.optional(Schema.String),
  pool: Schema.optional(Schema.String),
  project: Schema.optional(Schema.String),
  volume_only: Schema.optional(Schema.Boolean),
  refresh: Schema.optional(Schema.Boolean),
  mode: Schema.optional(Schema.String),
  operation: Schema.optional(Schema.String),
  certificate: Schema.optional(Schema.String),
  secrets: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String }))
}).annotations({ identifier: "StorageVolumeSource" })

/**
 * @since 0.2.0
 * @category models
 */
export interface StorageVolumeSource extends Schema.Schema.Encoded<typeof StorageVolumeSource> {}

/**
 * A new volume (`POST /1.0/storage-pools/{pool}/volumes/{type}`): from scratch, or a copy (`source`).
 *
 * @since 0.2.0
 * @category schemas
 */
export const StorageVolumesPost = Schema.Struct({
  ...StorageVolumePut.fields,
  name: Schema.String,
  type: Schema.optional(Schema.String),
  content_type: Schema.optional(Schema.String),
  source: Schema.optional(StorageVolumeSource)
}).annotations({ identifier: "StorageVolumesPost" })

/**
 * @since 0.2.0
 * @category models
 */
export interface StorageVolumesPost extends Schema.Schema.Encoded<typeof StorageVolumesPost> {}

/**
 * A volume's usage (`GET …/{name}/state`, `storage_volume_state`): bytes `used`, and `total` where the volume
 * has a size (`storage_volume_state_total`). `usage` is absent when the driver cannot tell.
 *
 * @since 0.2.0
 * @category schemas
 */
export const StorageVolumeState = Schema.Struct({
  usage: Schema.optionalWith(
    Schema.Struct({
      used: Schema.optionalWith(Schema.Number, { default: () => 0 }),
      total: Schema.optional(Schema.Number)
    }),
    { nullable: true }
  )
}).annotations({ identifier: "StorageVolumeState" })

/**
 * @since 0.2.0
 * @category models
 */
export interface StorageVolumeState extends Schema.Schema.Type<typeof StorageVolumeState> {}

/**
 * The writable part of a volume snapshot (`PUT …/snapshots/{snapshot}`). `expires_at`: RFC 3339;
 * `0001-01-01T00:00:00Z` is "never".
 *
 * @since 0.2.0
 * @category schemas
 */
export const StorageVolumeSnapshotPut = Schema.Struct({
  description: Schema.optionalWith(Schema.String, { default: () => "" }),
  expires_at: Schema.optional(Schema.String)
}).annotations({ identifier: "StorageVolumeSnapshotPut" })

/**
 * @since 0.2.0
 * @category models
 */
export interface StorageVolumeSnapshotPut extends Schema.Schema.Encoded<typeof StorageVolumeSnapshotPut> {}

/**
 * A volume snapshot (`GET …/snapshots/{snapshot}`). Its `name` is the snapshot's own (`snap0`; LXD's lists say
 * `v1/snap0`, which `list` cuts).
 *
 * @since 0.2.0
 * @category schemas
 */
export const StorageVolumeSnapshot = Schema.Struct({
  description: Schema.optionalWith(Schema.String, { default: () => "" }),
  expires_at: Schema.optionalWith(Schema.String, { nullable: true }),
  name: Schema.String,
  config: StringMap,
  content_type: Schema.optionalWith(Schema.String, { default: () => "" }),
  created_at: Schema.optional(Timestamp)
}).annotations({ identifier: "StorageVolumeSnapshot" })

/**
 * @since 0.2.0
 * @category models
 */
export interface StorageVolumeSnapshot extends Schema.Schema.Type<typeof StorageVolumeSnapshot> {}

/**
 * A new volume snapshot (`POST …/snapshots`). Without `name`, LXD picks one (`snap0`, `snap1`, …).
 * `expires_at`: RFC 3339 (`custom_volume_snapshot_expiry`).
 *
 * @since 0.2.0
 * @category schemas
 */
export const StorageVolumeSnapshotsPost = Schema.Struct({
  name: Schema.optional(Schema.String),
  expires_at: Schema.optional(Schema.String)
}).annotations({ identifier: "StorageVolumeSnapshotsPost" })

/**
 * @since 0.2.0
 * @category models
 */
export interface StorageVolumeSnapshotsPost extends Schema.Schema.Encoded<typeof StorageVolumeSnapshotsPost> {}

/**
 * A volume backup (`GET …/backups/{backup}`, `custom_volume_backup`).
 *
 * @since 0.2.0
 * @category schemas
 */
export const StorageVolumeBackup = Schema.Struct({
  name: Schema.String,
  created_at: Schema.optional(Timestamp),
  expires_at: Schema.optionalWith(Schema.String, { nullable: true }),
  volume_only: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  optimized_storage: Schema.optionalWith(Schema.Boolean, { default: () => false })
}).annotations({ identifier: "StoragePoolVolumeBackup" })

/**
 * @since 0.2.0
 * @category models
 */
export interface StorageVolumeBackup extends Schema.Schema.Type<typeof StorageVolumeBackup> {}

/**
 * A new volume backup (`POST …/backups`). Without `name`, LXD picks one (`backup0`, …). `compression_algorithm`:
 * `gzip`, `xz`, `zstd`, `none`, … (`backup_compression_algorithm`); `volume_only` leaves the snapshots out.
 *
 * @since 0.2.0
 * @category schemas
 */
export const StorageVolumeBackupsPost = Schema.Struct({
  name: Schema.optional(Schema.String),
  expires_at: Schema.optional(Schema.String),
  volume_only: Schema.optional(Schema.Boolean),
  optimized_storage: Schema.optional(Schema.Boolean),
  compression_algorithm: Schema.optional(Schema.String)
}).annotations({ identifier: "StoragePoolVolumeBackupsPost" })

/**
 * @since 0.2.0
 * @category models
 */
export interface StorageVolumeBackupsPost extends Schema.Schema.Encoded<typeof StorageVolumeBackupsPost> {}

/**
 * The volumes of one pool and type, read by the client, the fake and the tests. `filter` needs
 * `storage_volume_api_filtering`, `allProjects` `storage_volumes_all_projects`. Every write may be answered with
 * an operation (LXD 5.0.2 answers create from scratch, rename and the rest sync, a copy or a move to another
 * pool async; newer servers answer all of them async). `update` is a read, a merge and a `PUT` with the ETag:
 * LXD 5.0.2's `PATCH` resets the description it is not sent.
 *
 * @since 0.2.0
 * @category descriptors
 */
export const spec = LxdResource.spec({
  name: "StorageVolumes",
  path: "/storage-pools/{pool}/volumes/{type}",
  parents: ["storage pool", "storage volume type"],
  kind: "storage volume",
  item: StorageVolume,
  post: StorageVolumesPost,
  put: StorageVolumePut,
  async: ["create", "replace", "update", "modify", "rename", "delete"],
  filter: "storage_volume_api_filtering",
  allProjects: "storage_volumes_all_projects",
  // 5.0.2's PATCH resets the description when it is not sent: `update` reads, merges and PUTs with the ETag
  update: "merge",
  lifecycle: "storage-volume",
  listQuirk: "snapshots"
})

/**
 * A volume's snapshots (`…/volumes/{type}/{volume}/snapshots`, `storage_api_volume_snapshots`), read by the
 * client, the fake and the tests. Create, rename and delete are operations on 5.0.2.
 *
 * @since 0.2.0
 * @category descriptors
 */
export const snapshotsSpec = LxdResource.spec({
  name: "StorageVolumes.snapshots",
  path: "/storage-pools/{pool}/volumes/{type}/{volume}/snapshots",
  parents: ["storage pool", "storage volume type", "storage volume"],
  kind: "snapshot",
  item: StorageVolumeSnapshot,
  post: StorageVolumeSnapshotsPost,
  put: StorageVolumeSnapshotPut,
  async: ["create", "replace", "update", "modify", "rename", "delete"],
  extension: "storage_api_volume_snapshots",
  lifecycle: "storage-volume-snapshot",
  listQuirk: "parentPrefix"
})

/**
 * A custom volume's backups (`…/volumes/{type}/{volume}/backups`, `custom_volume_backup`): no `PUT` or `PATCH`;
 * every write is an operation.
 *
 * @since 0.2.0
 * @category descriptors
 */
export const backupsSpec = LxdResource.spec({
  name: "StorageVolumes.backups",
  path: "/storage-pools/{pool}/volumes/{type}/{volume}/backups",
  parents: ["storage pool", "storage volume type", "storage volume"],
  kind: "backup",
  item: StorageVolumeBackup,
  post: StorageVolumeBackupsPost,
  put: Schema.Struct({}),
  verbs: [...LxdResource.readVerbs, "create", "rename", "delete"],
  async: ["create", "rename", "delete"],
  extension: "custom_volume_backup",
  lifecycle: "storage-volume-backup"
})

/**
 * Options of a copy within one server (`POST /1.0/storage-pools/{targetPool}/volumes/custom`, source `copy`).
 *
 * @since 0.2.0
 * @category models
 */
export interface CopyOptions {
  /** The pool of the copy (default: the source's). */
  readonly targetPool?: string | undefined
  /** The name of the copy. */
  readonly targetName: string
  /** Leave the snapshots out. */
  readonly volumeOnly?: boolean | undefined
  /** Update an existing copy with what changed (`custom_volume_refresh`). */
  readonly refresh?: boolean | undefined
}

/**
 * Where a move takes a custom volume (`POST /1.0/storage-pools/{pool}/volumes/custom/{name}`): another pool,
 * another name, another project (`storage_volume_project_move`).
 *
 * @since 0.2.0
 * @category models
 */
export interface MoveOptions {
  readonly pool?: string | undefined
  readonly name?: string | undefined
  readonly project?: string | undefined
}

/**
 * How a custom volume is attached to an instance: the device's name (default: the volume's), its mount `path`
 * (required for a filesystem volume, none for a block one), `readOnly`.
 *
 * @since 0.2.0
 * @category models
 */
export interface AttachOptions {
  readonly device?: string | undefined
  readonly path?: string | undefined
  readonly readOnly?: boolean | undefined
}

/**
 * @since 0.2.0
 * @category models
 */
export interface ImportOptions {
  /** The new volume's name (`X-LXD-name`); the backup's own otherwise. */
  readonly name?: string | undefined
}

/**
 * @since 0.2.0
 * @category tags
 */
export class StorageVolumes extends Context.Tag("@effect-lxd/core/StorageVolumes")<
  StorageVolumes,
  StorageVolumes.Service
>() {}

/**
 * The `Service` interface of the `StorageVolumes` tag and its parts (`Snapshots`, `Backups`).
 *
 * @since 0.2.0
 */
export declare namespace StorageVolumes {
  /** A volume's parents: its pool, its type. */
  type Parents = [pool: string, type: VolumeType]
  /** A snapshot's or backup's parents: the pool, the type, the volume. */
  type VolumeParents = [pool: string, type: VolumeType, volume: string]

  /**
   * `listNames`, `list`, `get`, `getWithEtag`, `exists`, `replace`, `update`, `modify`, `rename`, `delete` on the
   * collection shape ({@link snapshotsSpec}), and `create`, which reads the name LXD picked.
   *
   * @since 0.2.0
   * @category models
   */
  export interface Snapshots extends
    Pick<
      LxdResource.Collection<
        VolumeParents,
        StorageVolumeSnapshot,
        StorageVolumeSnapshotsPost,
        StorageVolumeSnapshotPut
      >,
      Exclude<LxdResource.Verb, "create">
    >
  {
    /**
     * Takes a snapshot and returns its name (`POST …/snapshots`, **async**). Without a name LXD picks the next
     * `snap<N>`; 5.0.2 names it nowhere in its answer, so it is read as the one new name in the list. Errors:
     * `Conflict` (name taken), `NotFound`, `OperationFailed`.
     */
    readonly create: (
      pool: string,
      type: VolumeType,
      volume: string,
      body?: StorageVolumeSnapshotsPost
    ) => Effect.Effect<string, LxdError>
  }

  /**
   * `listNames`, `list`, `get`, `getWithEtag`, `exists`, `create` (**async**, the name LXD picked read from the
   * operation), `rename`, `delete` on the collection shape ({@link backupsSpec}), and `export`.
   *
   * @since 0.2.0
   * @category models
   */
  export interface Backups extends
    Pick<
      LxdResource.Collection<VolumeParents, StorageVolumeBackup, StorageVolumeBackupsPost, never>,
      LxdResource.ReadVerb | "create" | "rename" | "delete"
    >
  {
    /**
     * The backup tarball as a stream (`GET …/backups/{backup}/export`), read as it arrives (through the
     * transport's reused-buffer download when it has one, each chunk a copy the consumer may keep, two at most
     * read ahead): memory stays bounded whatever its size; `exportTo` allocates
     * nothing per chunk. Errors: `NotFound`, `ClientConnectionFailed` (cut short).
     */
    readonly export: (
      pool: string,
      type: VolumeType,
      volume: string,
      backup: string
    ) => Stream.Stream<Uint8Array, LxdError>
    /**
     * The backup tarball into `write`, chunk by chunk (`GET …/backups/{backup}/export`), through the transport's
     * reused-buffer download when it has one (the Node transport over a unix socket): no allocation per chunk,
     * so memory stays flat. A chunk is valid only until `write` returns (copy what you keep). Errors:
     * `NotFound`, `ClientConnectionFailed`, `write`'s own.
     */
    readonly exportTo: <E>(
      pool: string,
      type: VolumeType,
      volume: string,
      backup: string,
      write: (chunk: Uint8Array) => Effect.Effect<void, E>
    ) => Effect.Effect<void, LxdError | E>
  }

  /**
   * The collection verbs on `/1.0/storage-pools/{pool}/volumes/{type}` ({@link spec}) and what is a volume's own.
   *
   * @since 0.2.0
   * @category models
   */
  export interface Service
    extends LxdResource.Collection<Parents, StorageVolume, StorageVolumesPost, StorageVolumePut>
  {
    /** Volumes of every type in a pool (`GET /1.0/storage-pools/{pool}/volumes?recursion=1`), snapshots left out. */
    readonly listAll: (pool: string, options?: LxdResource.ListOptions) => Effect.Effect<
      ReadonlyArray<StorageVolume>,
      LxdError
    >
    /**
     * Usage (`GET …/{name}/state`, `storage_volume_state`). Errors: `NotFound`; `LxdApiError` "Not supported" on
     * 5.0.2's `dir` pools (no quota support there).
     */
    readonly state: (pool: string, type: VolumeType, name: string) => Effect.Effect<StorageVolumeState, LxdError>
    /**
     * Restores the volume to one of its snapshots (`PUT …/{name}` with `restore`; pylxd's `restore_from`).
     * Errors: `NotFound`, `BadRequest`/`LxdApiError` (a volume in use by a running instance).
     */
    readonly restore: (pool: string, type: VolumeType, name: string, snapshot: string) => Effect.Effect<
      void,
      LxdError
    >
    /**
     * Copies a custom volume within the server, to the same or another pool (`POST
     * /1.0/storage-pools/{targetPool}/volumes/custom`, source `copy`, **async**), with the source's config and
     * description; returns the copy's name. Errors: `NotFound`, `Conflict`, `OperationFailed`.
     */
    readonly copy: (pool: string, name: string, options: CopyOptions) => Effect.Effect<string, LxdError>
    /**
     * Moves a custom volume to another pool, name or project (`POST …/custom/{name}`, **async** across pools).
     * Errors: `NotFound`, `Conflict`, `OperationFailed`, `APIExtensionNotAvailable` (`project`).
     */
    readonly move: (pool: string, name: string, options: MoveOptions) => Effect.Effect<void, LxdError>
    /**
     * Creates a custom volume from a backup tarball (`POST /1.0/storage-pools/{pool}/volumes/custom` with an
     * `application/octet-stream` body, **async**), streamed as it comes; returns the volume's name. Errors:
     * `OperationFailed` (not a backup, name taken), `APIExtensionNotAvailable`, the stream's own error.
     */
    readonly importBackup: <E>(
      pool: string,
      tarball: Stream.Stream<Uint8Array, E>,
      options?: ImportOptions
    ) => Effect.Effect<string, LxdError | E>
    /**
     * `importBackup` from a file, read in chunks through `FileSystem` (memory bounded). Errors: those of
     * `importBackup`; `InvalidArgument` for a file that cannot be read.
     */
    readonly importBackupFile: (
      pool: string,
      path: string,
      options?: ImportOptions
    ) => Effect.Effect<string, LxdError, FileSystem.FileSystem>
    /**
     * Attaches a custom volume to an instance as a `disk` device (`{type: disk, pool, source, path}`): a
     * read-modify-write of the instance with its ETag (`PUT /1.0/instances/{name}`, **async**), so a concurrent
     * change fails with `PreconditionFailed` instead of being lost. Errors: `InvalidArgument` (a device of that
     * name exists), `NotFound`, `PreconditionFailed`, `OperationFailed`.
     */
    readonly attach: (
      pool: string,
      name: string,
      instance: string,
      options?: AttachOptions
    ) => Effect.Effect<void, LxdError>
    /**
     * Removes a device from an instance (the read-modify-write of `attach`). Errors: `NotFound` (no such device),
     * `PreconditionFailed`, `OperationFailed`.
     */
    readonly detach: (instance: string, device: string) => Effect.Effect<void, LxdError>
    /** Snapshots. */
    readonly snapshots: Snapshots
    /** Backups. */
    readonly backups: Backups
  }
}

/**
 * @since 0.2.0
 * @category constructors
 */
export const make: Effect.Effect<StorageVolumes.Service, never, LxdClient> = Effect.map(
  LxdClient,
  (client) =>
    internal.make(client, { volumes: spec, snapshots: snapshotsSpec, backups: backupsSpec, state: StorageVolumeState })
)

/**
 * @since 0.2.0
 * @category layers
 */
export const layer: Layer.Layer<StorageVolumes, never, LxdClient> = Layer.effect(StorageVolumes, make)

/**
 * Storage pools (`/1.0/storage-pools`): where instances, images and custom volumes are stored. A collection on
 * the shared shape ({@link LxdResource.Collection}) without `rename` (LXD has none for pools), plus `resources`.
 * In a cluster, `LxdClient.withTarget(member)` reads and writes one member's config (`source`, `size`, …) and
 * creates the pending per-member pool that a later cluster-wide create completes.
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Collection from "./internal/collection.js"
import { LxdClient } from "./LxdClient.js"
import type { LxdError } from "./LxdError.js"
import * as LxdResource from "./LxdResource.js"
import { NullableArray, OpenEnum, StringMap, UsedBy } from "./LxdSchema.js"

/**
 * The writable part of a pool (`PUT /1.0/storage-pools/{name}`).
 *
 * @since 0.2.0
 * @category schemas
 */
export const StoragePoolPut = Schema.Struct({
  description: Schema.optionalWith(Schema.String, { default: () => "" }),
  config: StringMap
}).annotations({ identifier: "StoragePoolPut" })

/**
 * @since 0.2.0
 * @category models
 */
export interface StoragePoolPut extends Schema.Schema.Encoded<typeof StoragePoolPut> {}

/**
 * A pool (`GET /1.0/storage-pools/{name}`): `driver` (`dir`, `btrfs`, `lvm`, `zfs`, `ceph`, `cephfs`, …),
 * `status` (`Created`, `Pending`, `Errored`, `Unknown`), `locations` (the cluster members it is defined on;
 * `["none"]` outside a cluster), `used_by` (profiles, instances, volumes, images).
 *
 * @since 0.2.0
 * @category schemas
 */
export const StoragePool = Schema.Struct({
  ...StoragePoolPut.fields,
  name: Schema.String,
  driver: Schema.String,
  status: Schema.optional(OpenEnum("Created", "Pending", "Errored", "Unknown")),
  locations: NullableArray(Schema.String),
  used_by: UsedBy
}).annotations({ identifier: "StoragePool" })

/**
 * @since 0.2.0
 * @category models
 */
export interface StoragePool extends Schema.Schema.Type<typeof StoragePool> {}

/**
 * A new pool (`POST /1.0/storage-pools`). `config.source` is where a `dir` pool keeps its data (LXD picks a
 * folder below its own when it is left out).
 *
 * @since 0.2.0
 * @category schemas
 */
export const StoragePoolsPost = Schema.Struct({
  ...StoragePoolPut.fields,
  name: Schema.String,
  driver: Schema.String
}).annotations({ identifier: "StoragePoolsPost" })

/**
 * @since 0.2.0
 * @category models
 */
export interface StoragePoolsPost extends Schema.Schema.Encoded<typeof StoragePoolsPost> {}

const Usage = Schema.Struct({
  used: Schema.optionalWith(Schema.Number, { default: () => 0 }),
  total: Schema.optionalWith(Schema.Number, { default: () => 0 })
})

/**
 * What a pool has and uses (`GET /1.0/storage-pools/{name}/resources`): `space` in bytes and `inodes`, each
 * `{ used, total }` (`0` where the driver cannot tell).
 *
 * @since 0.2.0
 * @category schemas
 */
export const ResourcesStoragePool = Schema.Struct({
  space: Schema.optionalWith(Usage, { default: () => ({ used: 0, total: 0 }) }),
  inodes: Schema.optionalWith(Usage, { default: () => ({ used: 0, total: 0 }) })
}).annotations({ identifier: "ResourcesStoragePool" })

/**
 * @since 0.2.0
 * @category models
 */
export interface ResourcesStoragePool extends Schema.Schema.Type<typeof ResourcesStoragePool> {}

/**
 * The pools collection, read by the client, the fake and the tests. No rename; no filter or all-projects list
 * (pools are not per project). LXD answers every write sync today; the client takes an operation as well.
 * `update` is a read, a merge and a `PUT` with the ETag: LXD 5.0.2's `PATCH` resets the description it is not
 * sent.
 *
 * @since 0.2.0
 * @category descriptors
 */
export const spec = LxdResource.spec({
  name: "StoragePools",
  path: "/storage-pools",
  kind: "storage pool",
  item: StoragePool,
  post: StoragePoolsPost,
  put: StoragePoolPut,
  verbs: [...LxdResource.readVerbs, "create", "replace", "update", "modify", "delete"],
  // 5.0.2's PATCH resets the description when it is not sent: `update` reads, merges and PUTs with the ETag
  update: "merge",
  lifecycle: "storage-pool"
})

/**
 * @since 0.2.0
 * @category tags
 */
export class StoragePools extends Context.Tag("@effect-lxd/core/StoragePools")<
  StoragePools,
  StoragePools.Service
>() {}

/**
 * @since 0.2.0
 */
export declare namespace StoragePools {
  /**
   * `listNames`, `list`, `get`, `getWithEtag`, `exists`, `create`, `replace`, `update`, `modify`, `delete` on
   * `/1.0/storage-pools`, and `resources`. LXD refuses to delete a pool in use (`BadRequest`: "The storage pool
   * is currently in use") and a create with a driver it lacks (`LxdApiError`/`BadRequest` naming the tool).
   *
   * @since 0.2.0
   * @category models
   */
  export interface Service extends
    Pick<
      LxdResource.Collection<[], StoragePool, StoragePoolsPost, StoragePoolPut>,
      Exclude<LxdResource.Verb, "rename">
    >
  {
    /**
     * Space and inodes, used and total (`GET /1.0/storage-pools/{name}/resources`, `resources`). Errors:
     * `InvalidArgument`, `NotFound`, `APIExtensionNotAvailable`.
     */
    readonly resources: (name: string) => Effect.Effect<ResourcesStoragePool, LxdError>
  }
}

/**
 * @since 0.2.0
 * @category constructors
 */
export const make: Effect.Effect<StoragePools.Service, never, LxdClient> = Effect.map(LxdClient, (client) => ({
  ...Collection.make(client, spec),
  resources: Collection.readPart(client, spec, {
    verb: "resources",
    suffix: "/resources",
    schema: ResourcesStoragePool,
    extension: "resources"
  })
}))

/**
 * @since 0.2.0
 * @category layers
 */
export const layer: Layer.Layer<StoragePools, never, LxdClient> = Layer.effect(StoragePools, make)

/**
 * The schemas of instances and their parts (`Instance`, `InstanceState`, `InstanceSnapshot`, `InstanceBackup`,
 * `InstanceFull`, `InstancePut`, `ImageMetadata`), as LXD sends them. `Instances` re-exports every one.
 *
 * @since 0.2.0
 */
import * as Schema from "effect/Schema"
import * as LxdResource from "./LxdResource.js"
import { Devices, NullableArray, OpenEnum, StringMap, Timestamp } from "./LxdSchema.js"

/**
 * An instance status as LXD spells it (open: a newer server may send another one).
 *
 * @since 0.1.0
 * @category schemas
 */
export const InstanceStatus = OpenEnum(
  "Running",
  "Stopped",
  "Frozen",
  "Error",
  "Starting",
  "Stopping",
  "Freezing",
  "Ready"
)

/**
 * @since 0.1.0
 * @category models
 */
export type InstanceStatus = Schema.Schema.Type<typeof InstanceStatus>

/**
 * The instance type (open).
 *
 * @since 0.1.0
 * @category schemas
 */
export const InstanceType = OpenEnum("container", "virtual-machine")

/**
 * @since 0.1.0
 * @category models
 */
export type InstanceType = Schema.Schema.Type<typeof InstanceType>

/**
 * An instance as `GET /1.0/instances/{name}` returns it.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Instance = Schema.Struct({
  name: Schema.String,
  type: Schema.optionalWith(InstanceType, { default: () => "container" }),
  architecture: Schema.optionalWith(Schema.String, { default: () => "" }),
  description: Schema.optionalWith(Schema.String, { default: () => "" }),
  status: InstanceStatus,
  status_code: Schema.Number,
  created_at: Timestamp,
  last_used_at: Timestamp,
  location: Schema.optionalWith(Schema.String, { default: () => "" }),
  project: Schema.optionalWith(Schema.String, { default: () => "default" }),
  ephemeral: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  stateful: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  profiles: NullableArray(Schema.String),
  config: StringMap,
  devices: Devices,
  expanded_config: StringMap,
  expanded_devices: Devices
}).annotations({ identifier: "Instance" })

/**
 * @since 0.1.0
 * @category models
 */
export interface Instance extends Schema.Schema.Type<typeof Instance> {}

const count = Schema.optionalWith(Schema.Number, { default: () => 0 })

/**
 * CPU usage of a running instance (`usage` in nanoseconds).
 *
 * @since 0.1.0
 * @category schemas
 */
export const InstanceStateCPU = Schema.Struct({ usage: count }).annotations({ identifier: "InstanceStateCPU" })

/**
 * @since 0.1.0
 * @category models
 */
export interface InstanceStateCPU extends Schema.Schema.Type<typeof InstanceStateCPU> {}

/**
 * Memory usage in bytes.
 *
 * @since 0.1.0
 * @category schemas
 */
export const InstanceStateMemory = Schema.Struct({
  usage: count,
  usage_peak: count,
  swap_usage: count,
  swap_usage_peak: count,
  /** Newer servers also report the limit. */
  total: Schema.optional(Schema.Number)
}).annotations({ identifier: "InstanceStateMemory" })

/**
 * @since 0.1.0
 * @category models
 */
export interface InstanceStateMemory extends Schema.Schema.Type<typeof InstanceStateMemory> {}

/**
 * Disk usage of one disk device, in bytes (empty on storage drivers without quotas, such as `dir`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const InstanceStateDisk = Schema.Struct({
  usage: count,
  total: Schema.optional(Schema.Number)
}).annotations({ identifier: "InstanceStateDisk" })

/**
 * @since 0.1.0
 * @category models
 */
export interface InstanceStateDisk extends Schema.Schema.Type<typeof InstanceStateDisk> {}

/**
 * One address of a network interface.
 *
 * @since 0.1.0
 * @category schemas
 */
export const InstanceStateNetworkAddress = Schema.Struct({
  family: OpenEnum("inet", "inet6"),
  address: Schema.String,
  netmask: Schema.optionalWith(Schema.String, { default: () => "" }),
  scope: Schema.optionalWith(OpenEnum("global", "local", "link"), { default: () => "" })
}).annotations({ identifier: "InstanceStateNetworkAddress" })

/**
 * @since 0.1.0
 * @category models
 */
export interface InstanceStateNetworkAddress extends Schema.Schema.Type<typeof InstanceStateNetworkAddress> {}

/**
 * Traffic counters of a network interface.
 *
 * @since 0.1.0
 * @category schemas
 */
export const InstanceStateNetworkCounters = Schema.Struct({
  bytes_received: count,
  bytes_sent: count,
  packets_received: count,
  packets_sent: count,
  errors_received: count,
  errors_sent: count,
  packets_dropped_outbound: count,
  packets_dropped_inbound: count
}).annotations({ identifier: "InstanceStateNetworkCounters" })

/**
 * @since 0.1.0
 * @category models
 */
export interface InstanceStateNetworkCounters extends Schema.Schema.Type<typeof InstanceStateNetworkCounters> {}

/**
 * One network interface of a running instance.
 *
 * @since 0.1.0
 * @category schemas
 */
export const InstanceStateNetwork = Schema.Struct({
  addresses: NullableArray(InstanceStateNetworkAddress),
  counters: Schema.optionalWith(InstanceStateNetworkCounters, {
    nullable: true,
    default: () => ({
      bytes_received: 0,
      bytes_sent: 0,
      packets_received: 0,
      packets_sent: 0,
      errors_received: 0,
      errors_sent: 0,
      packets_dropped_outbound: 0,
      packets_dropped_inbound: 0
    })
  }),
  hwaddr: Schema.optionalWith(Schema.String, { default: () => "" }),
  host_name: Schema.optionalWith(Schema.String, { default: () => "" }),
  mtu: count,
  state: Schema.optionalWith(OpenEnum("up", "down"), { default: () => "" }),
  type: Schema.optionalWith(OpenEnum("broadcast", "loopback", "point-to-point"), { default: () => "" })
}).annotations({ identifier: "InstanceStateNetwork" })

/**
 * @since 0.1.0
 * @category models
 */
export interface InstanceStateNetwork extends Schema.Schema.Type<typeof InstanceStateNetwork> {}

/**
 * The live state of an instance (`GET /1.0/instances/{name}/state`). `disk` and `network` are keyed by device
 * or interface name; both are `{}` when LXD has nothing to report (a stopped instance, a `dir` pool).
 *
 * @since 0.1.0
 * @category schemas
 */
export const InstanceState = Schema.Struct({
  status: InstanceStatus,
  status_code: Schema.Number,
  disk: Schema.optionalWith(Schema.Record({ key: Schema.String, value: InstanceStateDisk }), {
    nullable: true,
    default: () => ({})
  }),
  memory: Schema.optionalWith(InstanceStateMemory, {
    nullable: true,
    default: () => ({ usage: 0, usage_peak: 0, swap_usage: 0, swap_usage_peak: 0 })
  }),
  network: Schema.optionalWith(Schema.Record({ key: Schema.String, value: InstanceStateNetwork }), {
    nullable: true,
    default: () => ({})
  }),
  pid: count,
  processes: count,
  cpu: Schema.optionalWith(InstanceStateCPU, { nullable: true, default: () => ({ usage: 0 }) })
}).annotations({ identifier: "InstanceState" })

/**
 * @since 0.1.0
 * @category models
 */
export interface InstanceState extends Schema.Schema.Type<typeof InstanceState> {}

/**
 * A snapshot (`GET /1.0/instances/{name}/snapshots/{snapshot}`). `name` is the snapshot's own name (no
 * `instance/` prefix). `expires_at` is `0001-01-01T00:00:00Z` when it never expires.
 *
 * @since 0.1.0
 * @category schemas
 */
export const InstanceSnapshot = Schema.Struct({
  name: Schema.String,
  architecture: Schema.optionalWith(Schema.String, { default: () => "" }),
  created_at: Timestamp,
  last_used_at: Schema.optional(Timestamp),
  expires_at: Schema.optional(Timestamp),
  ephemeral: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  stateful: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  profiles: NullableArray(Schema.String),
  config: StringMap,
  devices: Devices,
  expanded_config: StringMap,
  expanded_devices: Devices,
  /** Size in bytes; `-1` when the storage driver cannot tell. */
  size: Schema.optionalWith(Schema.Number, { default: () => -1 })
}).annotations({ identifier: "InstanceSnapshot" })

/**
 * @since 0.1.0
 * @category models
 */
export interface InstanceSnapshot extends Schema.Schema.Type<typeof InstanceSnapshot> {}

/**
 * A backup (`GET /1.0/instances/{name}/backups/{backup}`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const InstanceBackup = Schema.Struct({
  name: Schema.String,
  created_at: Timestamp,
  expires_at: Schema.optional(Timestamp),
  instance_only: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  container_only: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  optimized_storage: Schema.optionalWith(Schema.Boolean, { default: () => false })
}).annotations({ identifier: "InstanceBackup" })

/**
 * @since 0.1.0
 * @category models
 */
export interface InstanceBackup extends Schema.Schema.Type<typeof InstanceBackup> {}

/**
 * An instance with its state, snapshots and backups (`GET /1.0/instances?recursion=2`, or
 * `GET /1.0/instances/{name}?recursion=1` with `instance_get_full`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const InstanceFull = Schema.Struct({
  ...Instance.fields,
  state: Schema.optionalWith(InstanceState, { nullable: true }),
  snapshots: NullableArray(InstanceSnapshot),
  backups: NullableArray(InstanceBackup)
}).annotations({ identifier: "InstanceFull" })

/**
 * @since 0.1.0
 * @category models
 */
export interface InstanceFull extends Schema.Schema.Type<typeof InstanceFull> {}

/**
 * The writable fields of an instance (`PUT /1.0/instances/{name}`). A PUT replaces all of them: a key left out
 * of `config` is removed, a device left out of `devices` is detached. Decoding a GET with this schema under
 * `{ onExcessProperty: "preserve" }` keeps fields a newer server added (that is what `modify` does).
 *
 * @since 0.1.0
 * @category schemas
 */
export const InstancePut = Schema.Struct({
  architecture: Schema.optionalWith(Schema.String, { default: () => "" }),
  config: StringMap,
  devices: Devices,
  ephemeral: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  profiles: NullableArray(Schema.String),
  description: Schema.optionalWith(Schema.String, { default: () => "" }),
  stateful: Schema.optionalWith(Schema.Boolean, { default: () => false })
}).annotations({ identifier: "InstancePut" })

/**
 * @since 0.1.0
 * @category models
 */
export interface InstancePut extends Schema.Schema.Type<typeof InstancePut> {}

/**
 * A template entry of instance metadata.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ImageMetadataTemplate = Schema.Struct({
  when: NullableArray(OpenEnum("create", "copy", "start")),
  create_only: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  template: Schema.String,
  properties: StringMap
}).annotations({ identifier: "ImageMetadataTemplate" })

/**
 * @since 0.1.0
 * @category models
 */
export interface ImageMetadataTemplate extends Schema.Schema.Type<typeof ImageMetadataTemplate> {}

/**
 * An instance's image metadata (`GET /1.0/instances/{name}/metadata`, the `metadata.yaml` a published image
 * will carry). Dates are UNIX seconds.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ImageMetadata = Schema.Struct({
  architecture: Schema.optionalWith(Schema.String, { default: () => "" }),
  creation_date: count,
  expiry_date: count,
  properties: StringMap,
  // Go's `map[string]*ImageMetadataTemplate`: an entry may be `null`
  templates: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.NullOr(ImageMetadataTemplate) }), {
    nullable: true,
    default: () => ({})
  })
}).annotations({ identifier: "ImageMetadata" })

/**
 * @since 0.1.0
 * @category models
 */
export interface ImageMetadata extends Schema.Schema.Type<typeof ImageMetadata> {}

/**
 * A new snapshot (`POST /1.0/instances/{name}/snapshots`). Without `name`, LXD picks one (`snap0`, `snap1`, …).
 * `expires_at`: RFC 3339 on the wire.
 *
 * @since 0.1.0
 * @category schemas
 */
export const InstanceSnapshotsPost = Schema.Struct({
  name: Schema.optional(Schema.String),
  /** Include the running state (needs CRIU for containers; LXD 5.0.2 without it refuses, see `create`). */
  stateful: Schema.optional(Schema.Boolean),
  expires_at: Schema.optional(Schema.String)
}).annotations({ identifier: "InstanceSnapshotsPost" })

/**
 * @since 0.1.0
 * @category models
 */
export interface InstanceSnapshotsPost extends Schema.Schema.Encoded<typeof InstanceSnapshotsPost> {}

/**
 * The writable part of a snapshot (`PUT /1.0/instances/{name}/snapshots/{snapshot}`, `snapshot_expiry`).
 * `expires_at`: RFC 3339 on the wire.
 *
 * @since 0.1.0
 * @category schemas
 */
export const InstanceSnapshotPut = Schema.Struct({
  expires_at: Schema.String
}).annotations({ identifier: "InstanceSnapshotPut" })

/**
 * @since 0.1.0
 * @category models
 */
export interface InstanceSnapshotPut extends Schema.Schema.Encoded<typeof InstanceSnapshotPut> {}

/**
 * A new backup (`POST /1.0/instances/{name}/backups`). Without `name`, LXD picks one (`backup0`, …).
 * `expires_at`: RFC 3339 on the wire.
 *
 * @since 0.1.0
 * @category schemas
 */
export const InstanceBackupsPost = Schema.Struct({
  name: Schema.optional(Schema.String),
  expires_at: Schema.optional(Schema.String),
  /** Leave the snapshots out. */
  instance_only: Schema.optional(Schema.Boolean),
  /** The storage driver's own format (faster, but restorable only on the same driver). */
  optimized_storage: Schema.optional(Schema.Boolean),
  /** `gzip`, `bzip2`, `xz`, `zstd`, `none`, … (`backup_compression_algorithm`). */
  compression_algorithm: Schema.optional(Schema.String)
}).annotations({ identifier: "InstanceBackupsPost" })

/**
 * @since 0.1.0
 * @category models
 */
export interface InstanceBackupsPost extends Schema.Schema.Encoded<typeof InstanceBackupsPost> {}

/**
 * Fields of an instance `PUT` that are commands, not state: `restore` (restore this snapshot, as the 5.0.2 and
 * Incus spec examples show it in a `GET`), `restore_disk_volumes_mode` (newer LXD). A read-modify-write never
 * sends them back. `stateful` stays: without `restore`, LXD reads it as state and ignores it.
 *
 * @since 0.2.0
 * @category descriptors
 */
export const instanceActions: ReadonlyArray<string> = ["restore", "restore_disk_volumes_mode"]

/**
 * An instance's snapshots (`/1.0/instances/{instance}/snapshots`), read by the client, the fake and the tests.
 * Every write may be answered with an operation. `replace` (`PUT`), `update` (`PATCH`) and `modify` change the
 * expiry and need `snapshot_expiry`.
 *
 * @since 0.2.0
 * @category descriptors
 */
export const snapshotsSpec = LxdResource.spec({
  name: "Instances.snapshots",
  path: "/instances/{instance}/snapshots",
  parents: ["instance"],
  kind: "snapshot",
  item: InstanceSnapshot,
  post: InstanceSnapshotsPost,
  put: InstanceSnapshotPut,
  actions: instanceActions,
  verbs: [...LxdResource.readVerbs, "create", "replace", "update", "modify", "rename", "delete"],
  async: ["create", "replace", "update", "modify", "rename", "delete"]
})

/**
 * An instance's backups (`/1.0/instances/{instance}/backups`): no `PUT` or `PATCH`. Every write may be answered
 * with an operation.
 *
 * @since 0.2.0
 * @category descriptors
 */
export const backupsSpec = LxdResource.spec({
  name: "Instances.backups",
  path: "/instances/{instance}/backups",
  parents: ["instance"],
  kind: "backup",
  item: InstanceBackup,
  post: InstanceBackupsPost,
  put: Schema.Struct({}),
  verbs: [...LxdResource.readVerbs, "create", "rename", "delete"],
  async: ["create", "rename", "delete"]
})

/**
 * The instances collection (`/1.0/instances`), read by the client, the fake and the tests. `post` is the top
 * level of a create body with `source` left opaque (its union is typed by `Instances.InstancesPost`).
 *
 * The client goes through it for `rename` and the `DELETE` of `delete` only: the flavours (`Containers`,
 * `VirtualMachines`) send `instance-type` with every list and check the type of what they read, `create`
 * deletes what an interrupted create left behind, `replace` drops read-only fields, `update` works around
 * 5.0.2 resetting the description, and `delete` may stop the instance first.
 *
 * @since 0.2.0
 * @category descriptors
 */
export const instancesSpec = LxdResource.spec({
  name: "Instances",
  path: "/instances",
  kind: "instance",
  item: Instance,
  post: Schema.Struct({
    name: Schema.optional(Schema.String),
    source: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
    type: Schema.optional(Schema.String)
  }),
  put: InstancePut,
  actions: instanceActions,
  filter: "api_filtering",
  allProjects: "instance_all_projects",
  async: ["create", "replace", "update", "modify", "rename", "delete"],
  lifecycle: "instance"
})

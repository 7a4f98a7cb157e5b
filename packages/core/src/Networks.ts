/**
 * Networks (`/1.0/networks`, extension `network`): LXD's managed bridges, macvlan, sriov, OVN and physical
 * networks, and the host's unmanaged interfaces (`managed: false`). A collection on the shared shape
 * ({@link LxdResource.Collection}), plus `state` (addresses, counters, bond/bridge/VLAN parts) and DHCP `leases`.
 * Every call honours `LxdClient.withProject` (a project with `features.networks=true` has networks of its own)
 * and `LxdClient.withTarget` (in a cluster: a member's own config, or the pending per-member create).
 *
 * Their sub-collections are modules of their own: `NetworkForwards`, `NetworkPeers`, `NetworkLoadBalancers`; and
 * beside networks, `NetworkAcls` and `NetworkZones`/`NetworkZoneRecords`.
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
 * The writable part of a network (`PUT /1.0/networks/{name}`): its description and config (`ipv4.address`,
 * `ipv4.nat`, `ipv6.address`, `dns.domain`, …; see LXD's `doc/networks.md`).
 *
 * @since 0.2.0
 * @category schemas
 */
export const NetworkPut = Schema.Struct({
  description: Schema.optionalWith(Schema.String, { default: () => "" }),
  config: StringMap
}).annotations({ identifier: "NetworkPut" })

/**
 * @since 0.2.0
 * @category models
 */
export interface NetworkPut extends Schema.Schema.Encoded<typeof NetworkPut> {}

/**
 * The kinds of network LXD knows (an open enum: a newer server may add some). `loopback`, `physical` and
 * `unknown` are what unmanaged host interfaces report.
 *
 * @since 0.2.0
 * @category schemas
 */
export const NetworkType = OpenEnum("bridge", "macvlan", "sriov", "ovn", "physical", "loopback", "unknown")

/**
 * A network (`GET /1.0/networks/{name}`). `used_by`: the instances, profiles and networks that use it, decoded
 * from their URLs. `status` and `locations` matter in a cluster (`Created`, `Pending`, `Errored`).
 *
 * @since 0.2.0
 * @category schemas
 */
export const Network = Schema.Struct({
  ...NetworkPut.fields,
  name: Schema.String,
  type: NetworkType,
  managed: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  status: Schema.optionalWith(Schema.String, { default: () => "" }),
  locations: NullableArray(Schema.String),
  used_by: UsedBy,
  /** Since `networks_all_projects` (not in 5.0.2). */
  project: Schema.optional(Schema.String)
}).annotations({ identifier: "Network" })

/**
 * @since 0.2.0
 * @category models
 */
export interface Network extends Schema.Schema.Type<typeof Network> {}

/**
 * A new network (`POST /1.0/networks`). Without `type` LXD makes a `bridge`. On these machines a bridge needs an
 * explicit `ipv4.address` (LXD cannot pick a free subnet without a route to the outside).
 *
 * @since 0.2.0
 * @category schemas
 */
export const NetworksPost = Schema.Struct({
  ...NetworkPut.fields,
  name: Schema.String,
  type: Schema.optional(Schema.String)
}).annotations({ identifier: "NetworksPost" })

/**
 * @since 0.2.0
 * @category models
 */
export interface NetworksPost extends Schema.Schema.Encoded<typeof NetworksPost> {}

/**
 * One address of a network's interface.
 *
 * @since 0.2.0
 * @category schemas
 */
export const NetworkStateAddress = Schema.Struct({
  family: OpenEnum("inet", "inet6"),
  address: Schema.String,
  netmask: Schema.String,
  scope: OpenEnum("global", "link", "local")
}).annotations({ identifier: "NetworkStateAddress" })

/**
 * Packet and byte counters (the error and drop counters since `network_counters_errors_dropped`).
 *
 * @since 0.2.0
 * @category schemas
 */
export const NetworkStateCounters = Schema.Struct({
  bytes_received: Schema.Number,
  bytes_sent: Schema.Number,
  packets_received: Schema.Number,
  packets_sent: Schema.Number,
  errors_received: Schema.optional(Schema.Number),
  errors_sent: Schema.optional(Schema.Number),
  packets_dropped_outbound: Schema.optional(Schema.Number),
  packets_dropped_inbound: Schema.optional(Schema.Number)
}).annotations({ identifier: "NetworkStateCounters" })

/**
 * The bond part of a network's state (extension `network_state_bond_bridge`).
 *
 * @since 0.2.0
 * @category schemas
 */
export const NetworkStateBond = Schema.Struct({
  mode: Schema.String,
  transmit_policy: Schema.String,
  up_delay: Schema.Number,
  down_delay: Schema.Number,
  mii_frequency: Schema.Number,
  mii_state: Schema.String,
  lower_devices: NullableArray(Schema.String)
}).annotations({ identifier: "NetworkStateBond" })

/**
 * The bridge part of a network's state (extension `network_state_bond_bridge`).
 *
 * @since 0.2.0
 * @category schemas
 */
export const NetworkStateBridge = Schema.Struct({
  id: Schema.String,
  stp: Schema.Boolean,
  forward_delay: Schema.Number,
  vlan_default: Schema.Number,
  vlan_filtering: Schema.Boolean,
  upper_devices: NullableArray(Schema.String)
}).annotations({ identifier: "NetworkStateBridge" })

/**
 * The VLAN part of a network's state (extension `network_state_vlan`).
 *
 * @since 0.2.0
 * @category schemas
 */
export const NetworkStateVlan = Schema.Struct({
  lower_device: Schema.String,
  vid: Schema.Number
}).annotations({ identifier: "NetworkStateVLAN" })

/**
 * The OVN part of a network's state (extension `network_state_ovn`).
 *
 * @since 0.2.0
 * @category schemas
 */
export const NetworkStateOvn = Schema.Struct({ chassis: Schema.String }).annotations({
  identifier: "NetworkStateOVN"
})

/** A part of the state that is there only for its kind of interface: Go's `nil` pointer is `null`. */
const part = <A, I>(schema: Schema.Schema<A, I, never>) =>
  Schema.optionalWith(Schema.NullOr(schema), { default: () => null })

/**
 * A network's state (`GET /1.0/networks/{name}/state`, extension `network_state`): link state, addresses,
 * counters, and the part of its kind (`bond`, `bridge`, `vlan`, `ovn`; `null` where it does not apply).
 *
 * @since 0.2.0
 * @category schemas
 */
export const NetworkState = Schema.Struct({
  addresses: NullableArray(NetworkStateAddress),
  counters: NetworkStateCounters,
  hwaddr: Schema.String,
  mtu: Schema.Number,
  state: OpenEnum("up", "down"),
  type: Schema.String,
  bond: part(NetworkStateBond),
  bridge: part(NetworkStateBridge),
  vlan: part(NetworkStateVlan),
  ovn: part(NetworkStateOvn)
}).annotations({ identifier: "NetworkState" })

/**
 * @since 0.2.0
 * @category models
 */
export interface NetworkState extends Schema.Schema.Type<typeof NetworkState> {}

/**
 * One DHCP lease of a managed network (the gateway's own address is listed as `type: "gateway"`).
 *
 * @since 0.2.0
 * @category schemas
 */
export const NetworkLease = Schema.Struct({
  hostname: Schema.String,
  hwaddr: Schema.optionalWith(Schema.String, { default: () => "" }),
  address: Schema.String,
  type: OpenEnum("static", "dynamic", "gateway", "uplink"),
  /** Since `network_leases_location`. */
  location: Schema.optional(Schema.String),
  /** In newer LXD. */
  project: Schema.optional(Schema.String)
}).annotations({ identifier: "NetworkLease" })

/**
 * @since 0.2.0
 * @category models
 */
export interface NetworkLease extends Schema.Schema.Type<typeof NetworkLease> {}

const Leases = Schema.NullOr(Schema.Array(NetworkLease))

/**
 * The networks collection, read by the client, the fake and the tests. `allProjects` needs
 * `networks_all_projects` (not in 5.0.2); LXD has no `filter` for networks. Writes are sync on 5.0.2 (the shared
 * write path follows an operation should a newer server answer with one).
 *
 * @since 0.2.0
 * @category descriptors
 */
export const spec = LxdResource.spec({
  name: "Networks",
  path: "/networks",
  kind: "network",
  item: Network,
  post: NetworksPost,
  put: NetworkPut,
  extension: "network",
  allProjects: "networks_all_projects",
  lifecycle: "network"
})

/**
 * @since 0.2.0
 * @category tags
 */
export class Networks extends Context.Tag("@effect-lxd/core/Networks")<Networks, Networks.Service>() {}

/**
 * @since 0.2.0
 */
export declare namespace Networks {
  /**
   * `listNames`, `list`, `get`, `getWithEtag`, `exists`, `create`, `replace`, `update`, `modify`, `rename`,
   * `delete` on `/1.0/networks`, plus `state` and `leases`. LXD refuses to rename or delete a network in use
   * (`BadRequest`), to change an unmanaged one, and a bridge whose subnet it cannot pick (`LxdApiError`).
   *
   * @since 0.2.0
   * @category models
   */
  export interface Service extends LxdResource.Collection<[], Network, NetworksPost, NetworkPut> {
    /**
     * The interface's state (`GET /1.0/networks/{name}/state`, extension `network_state`). Errors: `NotFound`,
     * `InvalidArgument`, `APIExtensionNotAvailable`.
     */
    readonly state: (name: string) => Effect.Effect<NetworkState, LxdError>
    /**
     * The DHCP leases of a managed network (`GET /1.0/networks/{name}/leases`, extension `network_leases`); a Go
     * `null` list is `[]`. Errors: `NotFound`, `BadRequest` (an unmanaged network), `InvalidArgument`,
     * `APIExtensionNotAvailable`.
     */
    readonly leases: (name: string) => Effect.Effect<ReadonlyArray<NetworkLease>, LxdError>
  }
}

/**
 * @since 0.2.0
 * @category constructors
 */
export const make: Effect.Effect<Networks.Service, never, LxdClient> = Effect.map(LxdClient, (client) => ({
  ...Collection.make(client, spec),
  state: Collection.readPart(client, spec, {
    verb: "state",
    suffix: "/state",
    schema: NetworkState,
    extension: "network_state"
  }),
  leases: (name) =>
    Collection.readPart(client, spec, {
      verb: "leases",
      suffix: "/leases",
      schema: Leases,
      extension: "network_leases"
    })(name).pipe(Effect.map((leases) => leases ?? []))
}))

/**
 * @since 0.2.0
 * @category layers
 */
export const layer: Layer.Layer<Networks, never, LxdClient> = Layer.effect(Networks, make)

/**
 * Network peers (`/1.0/networks/{network}/peers`, extension `network_peer`): routing between two OVN networks
 * (of the same or of another project) without an uplink hop. A nested collection on the shared shape: every
 * method takes the network first (`peers.get("ovn1", "to-ovn2")`); no rename. Only OVN networks have peers: on a
 * bridge LXD answers `BadRequest` (`Network driver "bridge" does not support peering`).
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Collection from "./internal/collection.js"
import { LxdClient } from "./LxdClient.js"
import * as LxdResource from "./LxdResource.js"
import { OpenEnum, StringMap, UsedBy } from "./LxdSchema.js"

/**
 * The writable part of a peer (`PUT /1.0/networks/{network}/peers/{peer}`).
 *
 * @since 0.2.0
 * @category schemas
 */
export const NetworkPeerPut = Schema.Struct({
  description: Schema.optionalWith(Schema.String, { default: () => "" }),
  config: StringMap
}).annotations({ identifier: "NetworkPeerPut" })

/**
 * @since 0.2.0
 * @category models
 */
export interface NetworkPeerPut extends Schema.Schema.Encoded<typeof NetworkPeerPut> {}

/**
 * A peer (`GET /1.0/networks/{network}/peers/{peer}`). `status`: `Created` once the other side has its peer
 * back, `Pending` until then.
 *
 * @since 0.2.0
 * @category schemas
 */
export const NetworkPeer = Schema.Struct({
  ...NetworkPeerPut.fields,
  name: Schema.String,
  target_project: Schema.String,
  target_network: Schema.String,
  status: OpenEnum("Created", "Pending", "Errored"),
  used_by: UsedBy
}).annotations({ identifier: "NetworkPeer" })

/**
 * @since 0.2.0
 * @category models
 */
export interface NetworkPeer extends Schema.Schema.Type<typeof NetworkPeer> {}

/**
 * A new peer (`POST /1.0/networks/{network}/peers`): the network it routes to.
 *
 * @since 0.2.0
 * @category schemas
 */
export const NetworkPeersPost = Schema.Struct({
  ...NetworkPeerPut.fields,
  name: Schema.String,
  target_project: Schema.optional(Schema.String),
  target_network: Schema.String
}).annotations({ identifier: "NetworkPeersPost" })

/**
 * @since 0.2.0
 * @category models
 */
export interface NetworkPeersPost extends Schema.Schema.Encoded<typeof NetworkPeersPost> {}

/**
 * The peers of a network, read by the client, the fake and the tests.
 *
 * @since 0.2.0
 * @category descriptors
 */
export const spec = LxdResource.spec({
  name: "NetworkPeers",
  path: "/networks/{network}/peers",
  parents: ["network"],
  kind: "network peer",
  item: NetworkPeer,
  post: NetworkPeersPost,
  put: NetworkPeerPut,
  verbs: LxdResource.verbsWithoutRename,
  extension: "network_peer",
  lifecycle: "network-peer"
})

/**
 * @since 0.2.0
 * @category tags
 */
export class NetworkPeers extends Context.Tag("@effect-lxd/core/NetworkPeers")<NetworkPeers, NetworkPeers.Service>() {}

/**
 * @since 0.2.0
 */
export declare namespace NetworkPeers {
  /**
   * `listNames`, `list`, `get`, `getWithEtag`, `exists`, `create`, `replace`, `update`, `modify`, `delete`, each
   * taking the network first (LXD has no peer rename). Errors: `BadRequest` (a network that is not OVN, a
   * target that does not exist), `NotFound`, `Conflict`, `PreconditionFailed`.
   *
   * @since 0.2.0
   * @category models
   */
  export interface Service extends
    Pick<
      LxdResource.Collection<[network: string], NetworkPeer, NetworkPeersPost, NetworkPeerPut>,
      LxdResource.VerbWithoutRename
    >
  {}
}

/**
 * @since 0.2.0
 * @category constructors
 */
export const make: Effect.Effect<NetworkPeers.Service, never, LxdClient> = Effect.map(
  LxdClient,
  (client) => Collection.make(client, spec)
)

/**
 * @since 0.2.0
 * @category layers
 */
export const layer: Layer.Layer<NetworkPeers, never, LxdClient> = Layer.effect(NetworkPeers, make)

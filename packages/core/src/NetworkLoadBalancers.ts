/**
 * Network load balancers (`/1.0/networks/{network}/load-balancers`, extension `network_load_balancer`, not in
 * LXD 5.0.2): a listen address on an OVN network spreading its ports over named backends. A nested collection on
 * the shared shape: every method takes the network first (`loadBalancers.get("ovn1", "192.0.2.10")`); named by
 * the listen address, no rename. On a server without the extension every method fails with
 * `APIExtensionNotAvailable` before sending anything but the cached `GET /1.0`.
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
import { NullableArray, OpenEnum, StringMap } from "./LxdSchema.js"

const text = Schema.optionalWith(Schema.String, { default: () => "" })

/**
 * A backend: a named target (`target_address`, and `target_port` when it differs from the listen port).
 *
 * @since 0.2.0
 * @category schemas
 */
export const NetworkLoadBalancerBackend = Schema.Struct({
  name: Schema.String,
  description: text,
  target_address: Schema.String,
  target_port: text
}).annotations({ identifier: "NetworkLoadBalancerBackend" })

/**
 * @since 0.2.0
 * @category models
 */
export interface NetworkLoadBalancerBackend extends Schema.Schema.Encoded<typeof NetworkLoadBalancerBackend> {}

/**
 * A port: `listen_port` of `protocol` spread over the backends named in `target_backend`.
 *
 * @since 0.2.0
 * @category schemas
 */
export const NetworkLoadBalancerPort = Schema.Struct({
  description: text,
  protocol: OpenEnum("tcp", "udp"),
  listen_port: Schema.String,
  target_backend: NullableArray(Schema.String)
}).annotations({ identifier: "NetworkLoadBalancerPort" })

/**
 * @since 0.2.0
 * @category models
 */
export interface NetworkLoadBalancerPort extends Schema.Schema.Encoded<typeof NetworkLoadBalancerPort> {}

/**
 * The writable part of a load balancer (`PUT /1.0/networks/{network}/load-balancers/{listenAddress}`).
 *
 * @since 0.2.0
 * @category schemas
 */
export const NetworkLoadBalancerPut = Schema.Struct({
  description: text,
  config: StringMap,
  backends: NullableArray(NetworkLoadBalancerBackend),
  ports: NullableArray(NetworkLoadBalancerPort)
}).annotations({ identifier: "NetworkLoadBalancerPut" })

/**
 * @since 0.2.0
 * @category models
 */
export interface NetworkLoadBalancerPut extends Schema.Schema.Encoded<typeof NetworkLoadBalancerPut> {}

/**
 * A load balancer (`GET /1.0/networks/{network}/load-balancers/{listenAddress}`).
 *
 * @since 0.2.0
 * @category schemas
 */
export const NetworkLoadBalancer = Schema.Struct({
  ...NetworkLoadBalancerPut.fields,
  listen_address: Schema.String,
  location: Schema.optional(Schema.String)
}).annotations({ identifier: "NetworkLoadBalancer" })

/**
 * @since 0.2.0
 * @category models
 */
export interface NetworkLoadBalancer extends Schema.Schema.Type<typeof NetworkLoadBalancer> {}

/**
 * A new load balancer (`POST /1.0/networks/{network}/load-balancers`).
 *
 * @since 0.2.0
 * @category schemas
 */
export const NetworkLoadBalancersPost = Schema.Struct({
  ...NetworkLoadBalancerPut.fields,
  listen_address: Schema.String
}).annotations({ identifier: "NetworkLoadBalancersPost" })

/**
 * @since 0.2.0
 * @category models
 */
export interface NetworkLoadBalancersPost extends Schema.Schema.Encoded<typeof NetworkLoadBalancersPost> {}

/**
 * The health of one backend's ports.
 *
 * @since 0.2.0
 * @category schemas
 */
export const NetworkLoadBalancerBackendHealth = Schema.Struct({
  address: Schema.String,
  ports: NullableArray(
    Schema.Struct({ protocol: Schema.String, port: Schema.Number, status: OpenEnum("up", "down", "unknown") })
  )
}).annotations({ identifier: "NetworkLoadBalancerStateBackendHealth" })

/**
 * `GET /1.0/networks/{network}/load-balancers/{listenAddress}/state` (extension `network_load_balancer_state`):
 * each backend's health, by backend name.
 *
 * @since 0.2.0
 * @category schemas
 */
export const NetworkLoadBalancerState = Schema.Struct({
  backend_health: Schema.optionalWith(Schema.Record({ key: Schema.String, value: NetworkLoadBalancerBackendHealth }), {
    nullable: true,
    default: () => ({})
  })
}).annotations({ identifier: "NetworkLoadBalancerState" })

/**
 * @since 0.2.0
 * @category models
 */
export interface NetworkLoadBalancerState extends Schema.Schema.Type<typeof NetworkLoadBalancerState> {}

/**
 * The load balancers of a network, read by the client, the fake and the tests.
 *
 * @since 0.2.0
 * @category descriptors
 */
export const spec = LxdResource.spec({
  name: "NetworkLoadBalancers",
  path: "/networks/{network}/load-balancers",
  parents: ["network"],
  kind: "listen address",
  nameField: "listen_address",
  item: NetworkLoadBalancer,
  post: NetworkLoadBalancersPost,
  put: NetworkLoadBalancerPut,
  verbs: LxdResource.verbsWithoutRename,
  extension: "network_load_balancer",
  lifecycle: "network-load-balancer"
})

/**
 * @since 0.2.0
 * @category tags
 */
export class NetworkLoadBalancers
  extends Context.Tag("@effect-lxd/core/NetworkLoadBalancers")<NetworkLoadBalancers, NetworkLoadBalancers.Service>()
{}

/**
 * @since 0.2.0
 */
export declare namespace NetworkLoadBalancers {
  /**
   * `listNames`, `list`, `get`, `getWithEtag`, `exists`, `create`, `replace`, `update`, `modify`, `delete`, each
   * taking the network first, plus `state`. Errors: `APIExtensionNotAvailable` (LXD 5.0.2: nothing sent),
   * `BadRequest` (a network that is not OVN, a backend outside it), `NotFound`, `PreconditionFailed`.
   *
   * @since 0.2.0
   * @category models
   */
  export interface Service extends
    Pick<
      LxdResource.Collection<
        [network: string],
        NetworkLoadBalancer,
        NetworkLoadBalancersPost,
        NetworkLoadBalancerPut
      >,
      LxdResource.VerbWithoutRename
    >
  {
    /**
     * The backends' health (`GET …/load-balancers/{listenAddress}/state`, extensions `network_load_balancer` and
     * `network_load_balancer_state`). Errors: `NotFound`, `InvalidArgument`, `APIExtensionNotAvailable`.
     */
    readonly state: (network: string, listenAddress: string) => Effect.Effect<NetworkLoadBalancerState, LxdError>
  }
}

/**
 * @since 0.2.0
 * @category constructors
 */
export const make: Effect.Effect<NetworkLoadBalancers.Service, never, LxdClient> = Effect.map(
  LxdClient,
  (client) => ({
    ...Collection.make(client, spec),
    state: Collection.readPart(client, spec, {
      verb: "state",
      suffix: "/state",
      schema: NetworkLoadBalancerState,
      extension: "network_load_balancer_state"
    })
  })
)

/**
 * @since 0.2.0
 * @category layers
 */
export const layer: Layer.Layer<NetworkLoadBalancers, never, LxdClient> = Layer.effect(NetworkLoadBalancers, make)

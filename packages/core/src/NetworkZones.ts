/**
 * Network zones (`/1.0/network-zones`, extension `network_dns`): DNS zones LXD serves (over its own DNS
 * server, `core.dns_address`) for the networks that name them (`dns.zone.forward`, `dns.zone.reverse.*`). A
 * collection on the shared shape; a zone is named by its domain and has no rename. Its records are
 * `NetworkZoneRecords`. Every call honours `LxdClient.withProject`.
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
import { StringMap, UsedBy } from "./LxdSchema.js"

/**
 * The writable part of a zone (`PUT /1.0/network-zones/{zone}`): `config` (`peers.*`, `dns.nameservers`,
 * `user.*`) and `description`.
 *
 * @since 0.2.0
 * @category schemas
 */
export const NetworkZonePut = Schema.Struct({
  description: Schema.optionalWith(Schema.String, { default: () => "" }),
  config: StringMap
}).annotations({ identifier: "NetworkZonePut" })

/**
 * @since 0.2.0
 * @category models
 */
export interface NetworkZonePut extends Schema.Schema.Encoded<typeof NetworkZonePut> {}

/**
 * A zone (`GET /1.0/network-zones/{zone}`). `used_by`: the networks that use it.
 *
 * @since 0.2.0
 * @category schemas
 */
export const NetworkZone = Schema.Struct({
  ...NetworkZonePut.fields,
  name: Schema.String,
  used_by: UsedBy,
  /** Since `network_zones_all_projects` (not in 5.0.2). */
  project: Schema.optional(Schema.String)
}).annotations({ identifier: "NetworkZone" })

/**
 * @since 0.2.0
 * @category models
 */
export interface NetworkZone extends Schema.Schema.Type<typeof NetworkZone> {}

/**
 * A new zone (`POST /1.0/network-zones`); `name` is its DNS domain (`example.net`).
 *
 * @since 0.2.0
 * @category schemas
 */
export const NetworkZonesPost = Schema.Struct({ ...NetworkZonePut.fields, name: Schema.String }).annotations({
  identifier: "NetworkZonesPost"
})

/**
 * @since 0.2.0
 * @category models
 */
export interface NetworkZonesPost extends Schema.Schema.Encoded<typeof NetworkZonesPost> {}

/**
 * The zones collection, read by the client, the fake and the tests. `allProjects` needs
 * `network_zones_all_projects` (not in 5.0.2).
 *
 * @since 0.2.0
 * @category descriptors
 */
export const spec = LxdResource.spec({
  name: "NetworkZones",
  path: "/network-zones",
  kind: "network zone",
  item: NetworkZone,
  post: NetworkZonesPost,
  put: NetworkZonePut,
  verbs: LxdResource.verbsWithoutRename,
  extension: "network_dns",
  allProjects: "network_zones_all_projects",
  lifecycle: "network-zone"
})

/**
 * @since 0.2.0
 * @category tags
 */
export class NetworkZones extends Context.Tag("@effect-lxd/core/NetworkZones")<NetworkZones, NetworkZones.Service>() {}

/**
 * @since 0.2.0
 */
export declare namespace NetworkZones {
  /**
   * `listNames`, `list`, `get`, `getWithEtag`, `exists`, `create`, `replace`, `update`, `modify`, `delete` on
   * `/1.0/network-zones` (LXD has no zone rename). LXD refuses a zone name in use in another project, and to
   * delete a zone a network uses (`BadRequest`).
   *
   * @since 0.2.0
   * @category models
   */
  export interface Service extends
    Pick<
      LxdResource.Collection<[], NetworkZone, NetworkZonesPost, NetworkZonePut>,
      LxdResource.VerbWithoutRename
    >
  {}
}

/**
 * @since 0.2.0
 * @category constructors
 */
export const make: Effect.Effect<NetworkZones.Service, never, LxdClient> = Effect.map(
  LxdClient,
  (client) => Collection.make(client, spec)
)

/**
 * @since 0.2.0
 * @category layers
 */
export const layer: Layer.Layer<NetworkZones, never, LxdClient> = Layer.effect(NetworkZones, make)

/**
 * Records of a network zone (`/1.0/network-zones/{zone}/records`, extension `network_dns_records`): extra DNS
 * entries LXD serves in a zone beside the ones it derives from instances. A nested collection on the shared
 * shape: every method takes the zone first (`records.get("example.net", "www")`); no rename.
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
import { NullableArray, OpenEnum, StringMap } from "./LxdSchema.js"

/**
 * One DNS entry of a record: its `type` (`A`, `AAAA`, `CNAME`, `TXT`, …), its `value` and, when set, its `ttl`.
 *
 * @since 0.2.0
 * @category schemas
 */
export const NetworkZoneRecordEntry = Schema.Struct({
  type: OpenEnum("A", "AAAA", "CNAME", "MX", "NS", "PTR", "SRV", "TXT"),
  value: Schema.String,
  ttl: Schema.optional(Schema.Number)
}).annotations({ identifier: "NetworkZoneRecordEntry" })

/**
 * @since 0.2.0
 * @category models
 */
export interface NetworkZoneRecordEntry extends Schema.Schema.Encoded<typeof NetworkZoneRecordEntry> {}

/**
 * The writable part of a record (`PUT /1.0/network-zones/{zone}/records/{name}`).
 *
 * @since 0.2.0
 * @category schemas
 */
export const NetworkZoneRecordPut = Schema.Struct({
  description: Schema.optionalWith(Schema.String, { default: () => "" }),
  config: StringMap,
  entries: NullableArray(NetworkZoneRecordEntry)
}).annotations({ identifier: "NetworkZoneRecordPut" })

/**
 * @since 0.2.0
 * @category models
 */
export interface NetworkZoneRecordPut extends Schema.Schema.Encoded<typeof NetworkZoneRecordPut> {}

/**
 * A record (`GET /1.0/network-zones/{zone}/records/{name}`).
 *
 * @since 0.2.0
 * @category schemas
 */
export const NetworkZoneRecord = Schema.Struct({ ...NetworkZoneRecordPut.fields, name: Schema.String }).annotations(
  { identifier: "NetworkZoneRecord" }
)

/**
 * @since 0.2.0
 * @category models
 */
export interface NetworkZoneRecord extends Schema.Schema.Type<typeof NetworkZoneRecord> {}

/**
 * A new record (`POST /1.0/network-zones/{zone}/records`); `name` is relative to the zone (`www`).
 *
 * @since 0.2.0
 * @category schemas
 */
export const NetworkZoneRecordsPost = Schema.Struct({ ...NetworkZoneRecordPut.fields, name: Schema.String })
  .annotations({ identifier: "NetworkZoneRecordsPost" })

/**
 * @since 0.2.0
 * @category models
 */
export interface NetworkZoneRecordsPost extends Schema.Schema.Encoded<typeof NetworkZoneRecordsPost> {}

/**
 * The records of a zone, read by the client, the fake and the tests.
 *
 * @since 0.2.0
 * @category descriptors
 */
export const spec = LxdResource.spec({
  name: "NetworkZoneRecords",
  path: "/network-zones/{zone}/records",
  parents: ["network zone"],
  kind: "network zone record",
  item: NetworkZoneRecord,
  post: NetworkZoneRecordsPost,
  put: NetworkZoneRecordPut,
  verbs: LxdResource.verbsWithoutRename,
  extension: "network_dns_records",
  lifecycle: "network-zone-record"
})

/**
 * @since 0.2.0
 * @category tags
 */
export class NetworkZoneRecords
  extends Context.Tag("@effect-lxd/core/NetworkZoneRecords")<NetworkZoneRecords, NetworkZoneRecords.Service>()
{}

/**
 * @since 0.2.0
 */
export declare namespace NetworkZoneRecords {
  /**
   * `listNames`, `list`, `get`, `getWithEtag`, `exists`, `create`, `replace`, `update`, `modify`, `delete`, each
   * taking the zone first (LXD has no record rename). Errors: `NotFound` (the zone or the record), `BadRequest`
   * (an entry LXD cannot read), `Conflict`, `PreconditionFailed`.
   *
   * @since 0.2.0
   * @category models
   */
  export interface Service extends
    Pick<
      LxdResource.Collection<[zone: string], NetworkZoneRecord, NetworkZoneRecordsPost, NetworkZoneRecordPut>,
      LxdResource.VerbWithoutRename
    >
  {}
}

/**
 * @since 0.2.0
 * @category constructors
 */
export const make: Effect.Effect<NetworkZoneRecords.Service, never, LxdClient> = Effect.map(
  LxdClient,
  (client) => Collection.make(client, spec)
)

/**
 * @since 0.2.0
 * @category layers
 */
export const layer: Layer.Layer<NetworkZoneRecords, never, LxdClient> = Layer.effect(NetworkZoneRecords, make)

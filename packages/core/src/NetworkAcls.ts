/**
 * Network ACLs (`/1.0/network-acls`, extension `network_acl`): named sets of ingress and egress rules, applied
 * to networks (`security.acls`) and to instance NICs (`security.acls` of a `nic` device). A collection on the
 * shared shape with rename, plus `log` (`network_acl_log`): the firewall's log of the rules with
 * `state: "logged"`, as text. Every call honours `LxdClient.withProject`.
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
 * One rule (LXD's `doc/network-acls.md`): `action` on traffic matching every field that is given. `source`
 * and `destination` take addresses, CIDRs, ranges and ACL names (`@internal`, `@external`); ports take comma
 * lists and ranges; `icmp_type`/`icmp_code` apply to `icmp4`/`icmp6`.
 *
 * @since 0.2.0
 * @category schemas
 */
export const NetworkAclRule = Schema.Struct({
  action: OpenEnum("allow", "allow-stateless", "drop", "reject"),
  /** Required by LXD 5.0.2 (`State must be one of: enabled, disabled, logged`). */
  state: OpenEnum("enabled", "disabled", "logged"),
  // LXD leaves empty fields out (`omitempty`): optional, so a read-modify-write sends back what it read
  description: Schema.optional(Schema.String),
  source: Schema.optional(Schema.String),
  destination: Schema.optional(Schema.String),
  protocol: Schema.optional(OpenEnum("tcp", "udp", "icmp4", "icmp6")),
  source_port: Schema.optional(Schema.String),
  destination_port: Schema.optional(Schema.String),
  icmp_type: Schema.optional(Schema.String),
  icmp_code: Schema.optional(Schema.String)
}).annotations({ identifier: "NetworkACLRule" })

/**
 * @since 0.2.0
 * @category models
 */
export interface NetworkAclRule extends Schema.Schema.Encoded<typeof NetworkAclRule> {}

/**
 * The writable part of an ACL (`PUT /1.0/network-acls/{name}`).
 *
 * @since 0.2.0
 * @category schemas
 */
export const NetworkAclPut = Schema.Struct({
  description: Schema.optionalWith(Schema.String, { default: () => "" }),
  config: StringMap,
  ingress: NullableArray(NetworkAclRule),
  egress: NullableArray(NetworkAclRule)
}).annotations({ identifier: "NetworkACLPut" })

/**
 * @since 0.2.0
 * @category models
 */
export interface NetworkAclPut extends Schema.Schema.Encoded<typeof NetworkAclPut> {}

/**
 * An ACL (`GET /1.0/network-acls/{name}`). `used_by`: the networks, instances and profiles that apply it.
 *
 * @since 0.2.0
 * @category schemas
 */
export const NetworkAcl = Schema.Struct({
  ...NetworkAclPut.fields,
  name: Schema.String,
  used_by: UsedBy,
  /** Since `network_acls_all_projects` (not in 5.0.2). */
  project: Schema.optional(Schema.String)
}).annotations({ identifier: "NetworkACL" })

/**
 * @since 0.2.0
 * @category models
 */
export interface NetworkAcl extends Schema.Schema.Type<typeof NetworkAcl> {}

/**
 * A new ACL (`POST /1.0/network-acls`).
 *
 * @since 0.2.0
 * @category schemas
 */
export const NetworkAclsPost = Schema.Struct({ ...NetworkAclPut.fields, name: Schema.String }).annotations({
  identifier: "NetworkACLsPost"
})

/**
 * @since 0.2.0
 * @category models
 */
export interface NetworkAclsPost extends Schema.Schema.Encoded<typeof NetworkAclsPost> {}

/**
 * The ACLs collection, read by the client, the fake and the tests. `allProjects` needs
 * `network_acls_all_projects` (not in 5.0.2).
 *
 * @since 0.2.0
 * @category descriptors
 */
export const spec = LxdResource.spec({
  name: "NetworkAcls",
  path: "/network-acls",
  kind: "network acl",
  item: NetworkAcl,
  post: NetworkAclsPost,
  put: NetworkAclPut,
  extension: "network_acl",
  allProjects: "network_acls_all_projects",
  lifecycle: "network-acl"
})

/**
 * @since 0.2.0
 * @category tags
 */
export class NetworkAcls extends Context.Tag("@effect-lxd/core/NetworkAcls")<NetworkAcls, NetworkAcls.Service>() {}

/**
 * @since 0.2.0
 */
export declare namespace NetworkAcls {
  /**
   * The collection verbs on `/1.0/network-acls` (with rename), plus `log`. LXD refuses to delete or rename an
   * ACL in use (`BadRequest`) and rules it cannot read (`BadRequest`, naming the rule).
   *
   * @since 0.2.0
   * @category models
   */
  export interface Service extends LxdResource.Collection<[], NetworkAcl, NetworkAclsPost, NetworkAclPut> {
    /**
     * The log of its `logged` rules (`GET /1.0/network-acls/{name}/log`, extension `network_acl_log`), as the
     * text LXD sends (not an envelope). Errors: `NotFound`, `InvalidArgument`, `APIExtensionNotAvailable`.
     */
    readonly log: (name: string) => Effect.Effect<string, LxdError>
  }
}

/**
 * @since 0.2.0
 * @category constructors
 */
export const make: Effect.Effect<NetworkAcls.Service, never, LxdClient> = Effect.map(LxdClient, (client) => ({
  ...Collection.make(client, spec),
  log: Collection.readTextPart(client, spec, { verb: "log", suffix: "/log", extension: "network_acl_log" })
}))

/**
 * @since 0.2.0
 * @category layers
 */
export const layer: Layer.Layer<NetworkAcls, never, LxdClient> = Layer.effect(NetworkAcls, make)

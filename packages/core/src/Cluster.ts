/**
 * The cluster itself (`/1.0/cluster`, extension `clustering`): whether clustering is on, this member's name,
 * the member-specific config keys (`member_config`: a pool's `source`, a network's parent) a joining server
 * must fill in; enabling clustering on a standalone server, joining one to a cluster, and replacing the cluster
 * certificate. Members are {@link ClusterMembers}.
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { LxdClient } from "./LxdClient.js"
import type { LxdError } from "./LxdError.js"
import type { WithEtag } from "./LxdResource.js"
import { NullableArray } from "./LxdSchema.js"

/**
 * One member-specific config key (`GET /1.0/cluster` `member_config`): `entity` (`storage-pool`, `network`),
 * its `name`, the `key` and its `value` on this member.
 *
 * @since 0.2.0
 * @category schemas
 */
export const ClusterMemberConfigKey = Schema.Struct({
  entity: Schema.String,
  name: Schema.String,
  key: Schema.String,
  value: Schema.optionalWith(Schema.String, { default: () => "" }),
  description: Schema.optionalWith(Schema.String, { default: () => "" })
}).annotations({ identifier: "ClusterMemberConfigKey" })

/**
 * @since 0.2.0
 * @category models
 */
export interface ClusterMemberConfigKey extends Schema.Schema.Encoded<typeof ClusterMemberConfigKey> {}

/**
 * The cluster as one member sees it (`GET /1.0/cluster`).
 *
 * @since 0.2.0
 * @category schemas
 */
export const ClusterInfo = Schema.Struct({
  server_name: Schema.optionalWith(Schema.String, { default: () => "" }),
  enabled: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  member_config: NullableArray(ClusterMemberConfigKey)
}).annotations({ identifier: "Cluster" })

/**
 * @since 0.2.0
 * @category models
 */
export interface ClusterInfo extends Schema.Schema.Type<typeof ClusterInfo> {}

/**
 * The body of `PUT /1.0/cluster`: `{server_name, enabled: true}` enables clustering on a standalone server;
 * with `cluster_address`, `cluster_certificate` (PEM), `server_address`, `member_config` and the join token in
 * `cluster_password` (5.0.2: `lxd init` turns a `cluster_token` into it) it joins the server to a cluster;
 * `{enabled: false}` makes a member leave.
 *
 * @since 0.2.0
 * @category models
 */
export interface ClusterPut {
  readonly server_name?: string | undefined
  readonly enabled?: boolean | undefined
  readonly server_address?: string | undefined
  readonly cluster_address?: string | undefined
  readonly cluster_certificate?: string | undefined
  readonly cluster_password?: string | undefined
  readonly member_config?: ReadonlyArray<ClusterMemberConfigKey> | undefined
}

/**
 * @since 0.2.0
 * @category tags
 */
export class Cluster extends Context.Tag("@effect-lxd/core/Cluster")<Cluster, Cluster.Service>() {}

/**
 * @since 0.2.0
 */
export declare namespace Cluster {
  /**
   * `GET`/`PUT` of `/1.0/cluster`, and `PUT /1.0/cluster/certificate`.
   *
   * @since 0.2.0
   * @category models
   */
  export interface Service {
    /** `GET /1.0/cluster`. Errors: `APIExtensionNotAvailable` (no `clustering`), `ClientConnectionFailed`. */
    readonly get: () => Effect.Effect<ClusterInfo, LxdError>
    /** `GET /1.0/cluster` with its `ETag`. */
    readonly getWithEtag: () => Effect.Effect<WithEtag<ClusterInfo>, LxdError>
    /**
     * `PUT /1.0/cluster` (**async**: waited on, cancelled when interrupted), with `If-Match` when `etag` is
     * given. Errors: `PreconditionFailed` (stale `etag`), `BadRequest`, `OperationFailed`.
     */
    readonly update: (body: ClusterPut, options?: { readonly etag?: string | undefined }) => Effect.Effect<
      void,
      LxdError
    >
    /**
     * Enables clustering on a standalone server under `serverName` (`PUT /1.0/cluster {server_name, enabled:
     * true}`; its `cluster.https_address` must be set first). Errors as `update`.
     */
    readonly enable: (serverName: string) => Effect.Effect<void, LxdError>
    /**
     * Replaces the cluster certificate and key (PEM) on every member (`PUT /1.0/cluster/certificate`,
     * extension `clustering_update_cert`). Errors: `BadRequest`, `APIExtensionNotAvailable`.
     */
    readonly updateCertificate: (certificate: string, key: string) => Effect.Effect<void, LxdError>
  }
}

/**
 * @since 0.2.0
 * @category constructors
 */
export const make: Effect.Effect<Cluster.Service, never, LxdClient> = Effect.map(LxdClient, (client) => {
  const clustering = client.requireExtension("clustering")
  const getWithEtag = clustering.pipe(
    Effect.zipRight(client.sync(ClusterInfo, { method: "GET", path: "/cluster" })),
    Effect.map((r): WithEtag<ClusterInfo> => ({ value: r.metadata, etag: r.etag }))
  )
  const update = (body: ClusterPut, options?: { readonly etag?: string | undefined }) =>
    clustering.pipe(
      Effect.zipRight(client.write({ method: "PUT", path: "/cluster", body, etag: options?.etag })),
      Effect.asVoid
    )
  return {
    get: () => getWithEtag.pipe(Effect.map((r) => r.value), Effect.withSpan("Cluster.get")),
    getWithEtag: () => Effect.withSpan(getWithEtag, "Cluster.getWithEtag"),
    update: (body, options) => Effect.withSpan(update(body, options), "Cluster.update"),
    enable: (serverName) => Effect.withSpan(update({ server_name: serverName, enabled: true }), "Cluster.enable"),
    updateCertificate: (certificate, key) =>
      client.requireExtension("clustering_update_cert").pipe(
        Effect.zipRight(
          client.write({
            method: "PUT",
            path: "/cluster/certificate",
            body: { cluster_certificate: certificate, cluster_certificate_key: key }
          })
        ),
        Effect.asVoid,
        Effect.withSpan("Cluster.updateCertificate")
      )
  }
})

/**
 * @since 0.2.0
 * @category layers
 */
export const layer: Layer.Layer<Cluster, never, LxdClient> = Layer.effect(Cluster, make)

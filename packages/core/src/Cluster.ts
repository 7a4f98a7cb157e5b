/**
 * The cluster itself (`/1.0/cluster`, extension `clustering`): whether clustering is on, this member's name,
 * the member-specific config keys (`member_config`: a pool's `source`, a network's parent) a joining server
 * must fill in; enabling clustering on a standalone server, joining one to a cluster with a join token
 * ({@link Cluster.Service.join}), and replacing the cluster certificate. Members are {@link ClusterMembers}.
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Path from "./internal/path.js"
import * as Sha256 from "./internal/sha256.js"
import { LxdClient } from "./LxdClient.js"
import { InvalidArgument, type LxdError } from "./LxdError.js"
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
 * `cluster_password` (5.0.2: `lxd init` turns a `cluster_token` into it; newer servers with
 * `explicit_trust_token` take `cluster_token`) it joins the server to a cluster; `{enabled: false}` makes a
 * member leave.
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
  readonly cluster_token?: string | undefined
  readonly member_config?: ReadonlyArray<ClusterMemberConfigKey> | undefined
}

/**
 * What {@link Cluster.Service.join} needs. `token` is a join token (`ClusterMembers.createJoinToken(name).token`,
 * or what `lxc cluster add` prints: base64 JSON `{server_name, fingerprint, addresses, secret, expires_at}`);
 * `clusterCertificate` is the cluster certificate (PEM: `environment.certificate` of `GET /1.0` on any member,
 * or its `cluster.crt`); its SHA-256 must be the token's `fingerprint`. `serverAddress` (`host:port`) is where
 * the joining server will listen for the cluster (it becomes its `cluster.https_address`, and its
 * `core.https_address` when that is unset). `serverName` defaults to the token's `server_name`;
 * `clusterAddress` to the token's first address. `memberConfig` fills the member-specific keys the cluster
 * asks for (`GET /1.0/cluster` `member_config` on a member: a pool's `source`, …).
 *
 * @since 0.2.0
 * @category models
 */
export interface ClusterJoin {
  readonly token: string
  readonly clusterCertificate: string
  readonly serverAddress: string
  readonly serverName?: string | undefined
  readonly clusterAddress?: string | undefined
  readonly memberConfig?: ReadonlyArray<ClusterMemberConfigKey> | undefined
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
     * Joins this (standalone, empty) server to a cluster with a join token, as `lxd init` does: checks the
     * certificate against the token's fingerprint, then `PUT /1.0/cluster {server_name, enabled: true,
     * server_address, cluster_address, cluster_certificate, cluster_password: token, member_config}`
     * (`cluster_token` instead with `explicit_trust_token`), an operation waited on ("Joining cluster", not
     * cancellable: an interrupted join is waited for, bounded). The server needs no HTTPS address of its own
     * beforehand. LXD 5.0.2 does not check that `serverName` is the name the token was made for. Errors:
     * `InvalidArgument` (not a join token, a certificate that is not the token's, a bad name; before any request),
     * `BadRequest` ("This server is already clustered", "No server address provided for this member"),
     * `OperationFailed` (the join failed on the cluster: a used or revoked token, "Existing server certificate with
     * different name … already in trust store" when the server was a member before under another name).
     */
    readonly join: (options: ClusterJoin) => Effect.Effect<void, LxdError>
    /**
     * Replaces the cluster certificate and key (PEM) on every member (`PUT /1.0/cluster/certificate`,
     * extension `clustering_update_cert`). Errors: `BadRequest`, `APIExtensionNotAvailable`.
     */
    readonly updateCertificate: (certificate: string, key: string) => Effect.Effect<void, LxdError>
  }
}

const JoinTokenJson = Schema.parseJson(Schema.Struct({
  server_name: Schema.String,
  fingerprint: Schema.optionalWith(Schema.String, { default: () => "" }),
  addresses: NullableArray(Schema.String),
  secret: Schema.String
}))

const invalid = (argument: string, value: unknown, reason: string) => new InvalidArgument({ argument, value, reason })

/** The request `join` sends, or why the options are refused. */
const joinBody = (options: ClusterJoin): Effect.Effect<ClusterPut, InvalidArgument> =>
  Effect.gen(function*() {
    const text = Encoding.decodeBase64String(options.token.trim())
    const token = Either.isRight(text) ? Schema.decodeUnknownOption(JoinTokenJson)(text.right) : undefined
    if (token === undefined || token._tag === "None") {
      return yield* invalid("join token", options.token.slice(0, 16), "not a cluster join token")
    }
    const { addresses, fingerprint, server_name } = token.value
    const serverName = yield* Path.validate("cluster member", options.serverName ?? server_name)
    const clusterAddress = options.clusterAddress ?? addresses[0]
    if (clusterAddress === undefined || clusterAddress === "") {
      return yield* invalid("cluster address", clusterAddress, "the token names no address: give clusterAddress")
    }
    const pem = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(options.clusterCertificate)
    const der = pem === null ? undefined : Encoding.decodeBase64(pem[1]!.replace(/\s+/g, ""))
    if (der === undefined || Either.isLeft(der)) {
      return yield* invalid("cluster certificate", options.clusterCertificate.slice(0, 64), "not a PEM certificate")
    }
    const hash = Sha256.make()
    hash.update(der.right)
    if (fingerprint !== "" && hash.digest() !== fingerprint.toLowerCase()) {
      return yield* invalid("cluster certificate", fingerprint, "its SHA-256 is not the token's fingerprint")
    }
    return {
      server_name: serverName,
      enabled: true,
      server_address: options.serverAddress,
      cluster_address: clusterAddress,
      cluster_certificate: options.clusterCertificate,
      member_config: options.memberConfig ?? []
    }
  })

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
    join: (options) =>
      Effect.gen(function*() {
        const body = yield* joinBody(options)
        const explicit = yield* client.hasExtension("explicit_trust_token")
        yield* update(
          explicit ? { ...body, cluster_token: options.token } : { ...body, cluster_password: options.token }
        )
      }).pipe(Effect.withSpan("Cluster.join")),
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

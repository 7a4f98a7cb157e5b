/**
 * Cluster members (`/1.0/cluster/members`, extension `clustering`): list, get, change (roles, failure domain,
 * groups, description, config) with an `ETag`, rename, remove; evacuate and restore (`…/state`, extension
 * `clustering_evacuation`) as operations; join tokens (extension `clustering_join_token`). A collection on the
 * shared shape ({@link LxdResource.Collection}) without `create`: a member is added by joining it with a token.
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Encoding from "effect/Encoding"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Collection from "./internal/collection.js"
import * as Path from "./internal/path.js"
import { LxdClient, type OperationHandle, protocolError } from "./LxdClient.js"
import type { LxdError } from "./LxdError.js"
import * as LxdResource from "./LxdResource.js"
import { NullableArray, OpenEnum, StringMap } from "./LxdSchema.js"
import * as Operations from "./Operations.js"

/**
 * The writable part of a member (`PUT /1.0/cluster/members/{name}`). LXD refuses to drop the `database` role
 * of a voter (`BadRequest`); `config` needs `clustering_config`, `groups` `clustering_groups`.
 *
 * @since 0.2.0
 * @category schemas
 */
export const ClusterMemberPut = Schema.Struct({
  description: Schema.optionalWith(Schema.String, { default: () => "" }),
  config: StringMap,
  failure_domain: Schema.optionalWith(Schema.String, { default: () => "" }),
  groups: NullableArray(Schema.String),
  roles: NullableArray(Schema.String)
}).annotations({ identifier: "ClusterMemberPut" })

/**
 * @since 0.2.0
 * @category models
 */
export interface ClusterMemberPut extends Schema.Schema.Encoded<typeof ClusterMemberPut> {}

/**
 * A member (`GET /1.0/cluster/members/{name}`), as LXD 5.0.2 answers: `url` (its HTTPS address), `database`
 * (a voter), `status` (`Online`, `Evacuated`, `Offline`, …), `message` (`Fully operational`, `Unavailable due to
 * maintenance`), `architecture`. 5.0.2 has no heartbeat field.
 *
 * @since 0.2.0
 * @category schemas
 */
export const ClusterMember = Schema.Struct({
  ...ClusterMemberPut.fields,
  server_name: Schema.String,
  url: Schema.String,
  database: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  status: OpenEnum("Online", "Evacuated", "Offline", "Blocked"),
  message: Schema.optionalWith(Schema.String, { default: () => "" }),
  architecture: Schema.optionalWith(Schema.String, { default: () => "" })
}).annotations({ identifier: "ClusterMember" })

/**
 * @since 0.2.0
 * @category models
 */
export interface ClusterMember extends Schema.Schema.Type<typeof ClusterMember> {}

/**
 * A join-token request (`POST /1.0/cluster/members`): the name the new member will join under.
 *
 * @since 0.2.0
 * @category schemas
 */
export const ClusterMembersPost = Schema.Struct({ server_name: Schema.String }).annotations({
  identifier: "ClusterMembersPost"
})

/**
 * @since 0.2.0
 * @category models
 */
export interface ClusterMembersPost extends Schema.Schema.Encoded<typeof ClusterMembersPost> {}

/**
 * The members collection, read by the client, the fake and the tests. No `create` (see
 * {@link ClusterMembers.Service.createJoinToken}); a rename sends `{"server_name": …}`; `update` is a merged
 * `PUT` (LXD 5.0.2's `PATCH` drops the fields it is not sent); no filter, no projects.
 *
 * @since 0.2.0
 * @category descriptors
 */
export const spec = LxdResource.spec({
  name: "ClusterMembers",
  path: "/cluster/members",
  kind: "cluster member",
  item: ClusterMember,
  post: ClusterMembersPost, // unused: a member joins with a token
  put: ClusterMemberPut,
  verbs: [...LxdResource.readVerbs, "replace", "update", "modify", "rename", "delete"],
  nameField: "server_name",
  renameField: "server_name",
  // 5.0.2's PATCH sets what it is not sent to its zero value: a PATCH of the description alone drops the roles
  // ("The "database" role cannot be dropped at this time"); `update` reads, merges and PUTs with the ETag
  update: "merge",
  extension: "clustering",
  lifecycle: "cluster-member"
})

/**
 * How an evacuation treats the member's instances (`mode` of `POST …/state`; LXD's default, `auto`, follows
 * each instance's `cluster.evacuate`). Any other string is passed on for newer servers.
 *
 * @since 0.2.0
 * @category models
 */
export type EvacuationMode = "auto" | "stop" | "migrate" | "live-migrate" | (string & {})

/**
 * A join token for a new member: `token` is what `lxd init` (or `Cluster.update` with `cluster_password` on
 * 5.0.2) takes: base64 JSON `{server_name, fingerprint, addresses, secret, expires_at}`, as `lxc cluster add`
 * prints it. The token is an operation that runs until it is used or revoked.
 *
 * @since 0.2.0
 * @category models
 */
export interface JoinToken {
  readonly token: string
  readonly serverName: string
  readonly secret: string
  readonly fingerprint: string
  readonly addresses: ReadonlyArray<string>
  readonly expiresAt: string | undefined
  /** The operation that holds the token (`revokeJoinToken` cancels it). */
  readonly operationId: string
}

/**
 * @since 0.2.0
 * @category tags
 */
export class ClusterMembers
  extends Context.Tag("@effect-lxd/core/ClusterMembers")<ClusterMembers, ClusterMembers.Service>()
{}

/**
 * @since 0.2.0
 */
export declare namespace ClusterMembers {
  /**
   * `listNames`, `list`, `get`, `getWithEtag`, `exists`, `replace`, `update`, `modify`, `rename`, `delete` on
   * `/1.0/cluster/members`, plus evacuate/restore and join tokens. Errors as for every collection; LXD refuses
   * to drop a voter's `database` role and to remove the last member with `BadRequest`; a rename onto a member's
   * name is `Conflict`; a standalone server answers `LxdApiError` (5.0.2: 500, "Server is not clustered").
   *
   * @since 0.2.0
   * @category models
   */
  export interface Service extends
    Omit<
      LxdResource.Collection<[], ClusterMember, ClusterMembersPost, ClusterMemberPut>,
      "create" | "delete"
    >
  {
    /**
     * Removes a member (`DELETE /1.0/cluster/members/{name}`). Without `force` LXD refuses a member that still
     * has instances (5.0.2: `LxdApiError` status 500, "Node still has the following containers: …"), and
     * resets the removed server to a standalone one (it re-execs itself: same PID); its certificate stays in the
     * trust store under the name it first joined with. With `force` (`?force=1`) the member goes at once, even
     * unreachable or with instances (their records go with it), and the server is not told (it still believes
     * it is a member). Errors: `NotFound`, `BadRequest` (the last member), `LxdApiError`, `InvalidArgument`.
     */
    readonly delete: (name: string, options?: { readonly force?: boolean | undefined }) => Effect.Effect<
      void,
      LxdError
    >
    /**
     * Moves (or stops) the member's instances and marks it `Evacuated` (`POST /1.0/cluster/members/{name}/state
     * {"action":"evacuate","mode"}`, extension `clustering_evacuation`, **async**); waited on, and cancelled on the
     * server when interrupted. Errors: `NotFound`, `BadRequest`, `OperationFailed`, `InvalidArgument`.
     */
    readonly evacuate: (name: string, options?: { readonly mode?: EvacuationMode | undefined }) => Effect.Effect<
      void,
      LxdError
    >
    /** `evacuate` as a handle in the current scope (its `progress`, its `cancel`); closing the scope cancels it. */
    readonly evacuateOperation: (
      name: string,
      options?: { readonly mode?: EvacuationMode | undefined }
    ) => Effect.Effect<OperationHandle, LxdError, Scope.Scope>
    /**
     * Brings an evacuated member back, its instances with it (`POST /1.0/cluster/members/{name}/state
     * {"action":"restore"}`, extension `clustering_evacuation`, **async**). Errors as `evacuate`.
     */
    readonly restore: (name: string) => Effect.Effect<void, LxdError>
    /** `restore` as a handle in the current scope. */
    readonly restoreOperation: (name: string) => Effect.Effect<OperationHandle, LxdError, Scope.Scope>
    /**
     * A token for a new member named `name` (`POST /1.0/cluster/members {"server_name"}`, extension
     * `clustering_join_token`); the token's operation keeps running until used or revoked. Errors: `Conflict`
     * (a member or token of that name), `BadRequest`, `InvalidArgument`, `ProtocolError`.
     */
    readonly createJoinToken: (name: string) => Effect.Effect<JoinToken, LxdError>
    /**
     * The join tokens not used yet: the running `token` operations about the cluster (`GET
     * /1.0/operations?recursion=1`; 5.0.2 has no list of its own).
     */
    readonly listJoinTokens: () => Effect.Effect<ReadonlyArray<JoinToken>, LxdError>
    /** Revokes a join token (`DELETE /1.0/operations/{id}`). Errors: `NotFound`, `InvalidArgument`. */
    readonly revokeJoinToken: (operationId: string) => Effect.Effect<void, LxdError>
  }
}

const TokenMetadata = Schema.Struct({
  serverName: Schema.String,
  fingerprint: Schema.optionalWith(Schema.String, { default: () => "" }),
  addresses: NullableArray(Schema.String),
  secret: Schema.String,
  expiresAt: Schema.optional(Schema.String)
})

/** The token of a join-token operation, or `undefined` for an operation that is not one. */
const tokenOf = (op: Operations.Operation): JoinToken | undefined => {
  if (op.class !== "token" || !("cluster" in op.resources)) return undefined
  const decoded = Schema.decodeUnknownOption(TokenMetadata)(op.metadata)
  if (decoded._tag === "None") return undefined
  const meta = decoded.value
  const json = {
    server_name: meta.serverName,
    fingerprint: meta.fingerprint,
    addresses: meta.addresses,
    secret: meta.secret,
    ...(meta.expiresAt === undefined ? {} : { expires_at: meta.expiresAt })
  }
  return {
    token: Encoding.encodeBase64(JSON.stringify(json)),
    serverName: meta.serverName,
    secret: meta.secret,
    fingerprint: meta.fingerprint,
    addresses: meta.addresses,
    expiresAt: meta.expiresAt,
    operationId: op.id
  }
}

/**
 * @since 0.2.0
 * @category constructors
 */
export const make: Effect.Effect<ClusterMembers.Service, never, LxdClient> = Effect.gen(function*() {
  const client = yield* LxdClient
  const operations = yield* Operations.make
  const members = Collection.make(client, spec)
  const statePath = (name: string) =>
    Effect.zipLeft(
      Collection.objectPath(client, spec, [], name, "/state"),
      client.requireExtension("clustering_evacuation")
    )
  const stateBody = (action: "evacuate" | "restore", mode: string | undefined) =>
    mode === undefined ? { action } : { action, mode }
  return {
    ...members,
    delete: (name, options) =>
      Collection.objectPath(client, spec, [], name).pipe(
        Effect.flatMap((path) =>
          client.write({ method: "DELETE", path, query: { force: options?.force === true ? "1" : undefined } })
        ),
        Effect.asVoid,
        Effect.withSpan("ClusterMembers.delete")
      ),
    evacuate: (name, options) =>
      statePath(name).pipe(
        Effect.flatMap((path) => client.write({ method: "POST", path, body: stateBody("evacuate", options?.mode) })),
        Effect.asVoid,
        Effect.withSpan("ClusterMembers.evacuate")
      ),
    evacuateOperation: (name, options) =>
      statePath(name).pipe(
        Effect.flatMap((path) =>
          client.operation({ method: "POST", path, body: stateBody("evacuate", options?.mode) }, { progress: true })
        ),
        Effect.withSpan("ClusterMembers.evacuateOperation")
      ),
    restore: (name) =>
      statePath(name).pipe(
        Effect.flatMap((path) => client.write({ method: "POST", path, body: stateBody("restore", undefined) })),
        Effect.asVoid,
        Effect.withSpan("ClusterMembers.restore")
      ),
    restoreOperation: (name) =>
      statePath(name).pipe(
        Effect.flatMap((path) =>
          client.operation({ method: "POST", path, body: stateBody("restore", undefined) }, { progress: true })
        ),
        Effect.withSpan("ClusterMembers.restoreOperation")
      ),
    createJoinToken: (name) =>
      Effect.gen(function*() {
        yield* Path.validate("cluster member", name)
        yield* client.requireExtension("clustering_join_token")
        const request = { method: "POST", path: "/cluster/members" } as const
        const response = yield* client.request({ ...request, body: { server_name: name } })
        const op = yield* Effect.mapError(
          Schema.decodeUnknown(Operations.Operation)(response.metadata),
          (cause) => protocolError(request, "the answer is not a token operation", cause)
        )
        const token = tokenOf(op)
        if (token === undefined) return yield* protocolError(request, "the operation holds no join token")
        return token
      }).pipe(Effect.withSpan("ClusterMembers.createJoinToken")),
    listJoinTokens: () =>
      operations.list().pipe(
        Effect.map((ops) =>
          ops.flatMap((op) => {
            const token = op.status_code === 103 ? tokenOf(op) : undefined
            return token === undefined ? [] : [token]
          })
        ),
        Effect.withSpan("ClusterMembers.listJoinTokens")
      ),
    revokeJoinToken: (operationId) => Effect.withSpan(operations.cancel(operationId), "ClusterMembers.revokeJoinToken")
  }
})

/**
 * @since 0.2.0
 * @category layers
 */
export const layer: Layer.Layer<ClusterMembers, never, LxdClient> = Layer.effect(ClusterMembers, make)

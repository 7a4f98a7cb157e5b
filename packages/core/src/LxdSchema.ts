/**
 * Wire types shared by several resources: config maps, devices, status codes, operations.
 * Field names stay snake_case, exactly as the REST API spells them.
 *
 * @since 0.1.0
 */
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

/**
 * A `config`-style map of strings. Go serialises a nil map as `null`; that decodes to `{}`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const StringMap = Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.String }), {
  nullable: true,
  default: () => ({})
})

/**
 * The plain record schema behind {@link StringMap}, for request bodies.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ConfigMap = Schema.Record({ key: Schema.String, value: Schema.String })

/**
 * @since 0.1.0
 * @category models
 */
export type ConfigMap = Schema.Schema.Type<typeof ConfigMap>

/**
 * Devices: device name → device config.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Devices = Schema.optionalWith(Schema.Record({ key: Schema.String, value: ConfigMap }), {
  nullable: true,
  default: () => ({})
})

/**
 * @since 0.1.0
 * @category models
 */
export type DevicesMap = { readonly [device: string]: ConfigMap }

/**
 * A list that Go may serialise as `null` (nil slice); decodes to `[]`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const NullableArray = <A, I, R>(item: Schema.Schema<A, I, R>) =>
  Schema.optionalWith(Schema.Array(item), { nullable: true, default: () => [] })

/**
 * An open enum: the known literals, plus any other string a newer server may send.
 *
 * @since 0.1.0
 * @category schemas
 */
export const OpenEnum = <const L extends ReadonlyArray<string>>(...literals: L) =>
  Schema.Union(Schema.Literal(...literals), Schema.String)

/**
 * A timestamp as LXD sends it (RFC 3339 with nanoseconds). `0001-01-01T00:00:00Z` means "never".
 *
 * @since 0.1.0
 * @category schemas
 */
export const Timestamp = Schema.DateTimeUtc

/**
 * LXD's status codes (`shared/api/status_code.go`). 1xx are states, 2xx success, 4xx failure.
 *
 * @since 0.1.0
 * @category models
 */
export const StatusCode = {
  OperationCreated: 100,
  Started: 101,
  Stopped: 102,
  Running: 103,
  Cancelling: 104,
  Pending: 105,
  Starting: 106,
  Stopping: 107,
  Aborting: 108,
  Freezing: 109,
  Frozen: 110,
  Thawed: 111,
  Error: 112,
  Ready: 113,
  Success: 200,
  Failure: 400,
  Cancelled: 401
} as const

/** A list of URLs that Go may serialise as `null`, as a value of a map (decodes to `[]`). */
const UrlList = Schema.transform(Schema.NullOr(Schema.Array(Schema.String)), Schema.Array(Schema.String), {
  strict: true,
  decode: (urls) => urls ?? [],
  encode: (urls) => urls
})

/**
 * A background operation (`GET /1.0/operations/{id}`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Operation = Schema.Struct({
  id: Schema.String,
  class: OpenEnum("task", "websocket", "token"),
  description: Schema.optionalWith(Schema.String, { default: () => "" }),
  created_at: Schema.optional(Timestamp),
  updated_at: Schema.optional(Timestamp),
  status: Schema.String,
  status_code: Schema.Number,
  // a join token's operation has `"resources": {"cluster": null}` (LXD 5.0.2): a `null` list is `[]`
  resources: Schema.optionalWith(Schema.Record({ key: Schema.String, value: UrlList }), {
    nullable: true,
    default: () => ({})
  }),
  metadata: Schema.optionalWith(Schema.Unknown, { nullable: true, default: () => null }),
  may_cancel: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  err: Schema.optionalWith(Schema.String, { default: () => "" }),
  location: Schema.optionalWith(Schema.String, { default: () => "" })
}).annotations({ identifier: "Operation" })

/**
 * @since 0.1.0
 * @category models
 */
export interface Operation extends Schema.Schema.Type<typeof Operation> {}

/**
 * `true` once an operation reached a final state (success, failure or cancelled).
 *
 * @since 0.1.0
 * @category guards
 */
export const isFinal = (operation: { readonly status_code: number }): boolean => operation.status_code >= 200

/**
 * `environment` of `GET /1.0` (trusted callers only).
 *
 * @since 0.1.0
 * @category schemas
 */
export const ServerEnvironment = Schema.Struct({
  addresses: NullableArray(Schema.String),
  architectures: NullableArray(Schema.String),
  certificate: Schema.optionalWith(Schema.String, { default: () => "" }),
  certificate_fingerprint: Schema.optionalWith(Schema.String, { default: () => "" }),
  driver: Schema.optionalWith(Schema.String, { default: () => "" }),
  driver_version: Schema.optionalWith(Schema.String, { default: () => "" }),
  firewall: Schema.optional(Schema.String),
  kernel: Schema.optionalWith(Schema.String, { default: () => "" }),
  kernel_architecture: Schema.optionalWith(Schema.String, { default: () => "" }),
  kernel_features: StringMap,
  kernel_version: Schema.optionalWith(Schema.String, { default: () => "" }),
  lxc_features: StringMap,
  os_name: Schema.optional(Schema.String),
  os_version: Schema.optional(Schema.String),
  project: Schema.optionalWith(Schema.String, { default: () => "default" }),
  server: Schema.optionalWith(Schema.String, { default: () => "lxd" }),
  server_clustered: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  server_event_mode: Schema.optional(Schema.String),
  server_name: Schema.optionalWith(Schema.String, { default: () => "" }),
  server_pid: Schema.optional(Schema.Number),
  server_version: Schema.optionalWith(Schema.String, { default: () => "" }),
  storage: Schema.optionalWith(Schema.String, { default: () => "" }),
  storage_version: Schema.optionalWith(Schema.String, { default: () => "" }),
  storage_supported_drivers: NullableArray(Schema.Struct({
    Name: Schema.String,
    Version: Schema.optionalWith(Schema.String, { default: () => "" }),
    Remote: Schema.optionalWith(Schema.Boolean, { default: () => false })
  }))
}).annotations({ identifier: "ServerEnvironment" })

/**
 * @since 0.1.0
 * @category models
 */
export interface ServerEnvironment extends Schema.Schema.Type<typeof ServerEnvironment> {}

/**
 * `GET /1.0`: server information. Untrusted callers see only the API fields (no `config`, no `environment`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const ServerInfo = Schema.Struct({
  api_extensions: NullableArray(Schema.String),
  api_status: Schema.optionalWith(Schema.String, { default: () => "" }),
  api_version: Schema.optionalWith(Schema.String, { default: () => "1.0" }),
  auth: OpenEnum("trusted", "untrusted"),
  auth_methods: NullableArray(Schema.String),
  public: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  config: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.Unknown }), {
    nullable: true,
    default: () => ({})
  }),
  environment: Schema.optional(ServerEnvironment)
}).annotations({ identifier: "Server" })

/**
 * @since 0.1.0
 * @category models
 */
export interface ServerInfo extends Schema.Schema.Type<typeof ServerInfo> {}

/**
 * One entry of a `used_by` list, read from its URL (`/1.0/instances/web1?project=dev`): the collection's path
 * below `/1.0` (`instances`, `storage-pools/default/volumes/custom`), the name, and the project and cluster member
 * when the URL names them.
 *
 * @since 0.2.0
 * @category models
 */
export interface UsedByRef {
  readonly url: string
  readonly collection: string
  readonly name: string
  readonly project: string | undefined
  readonly target: string | undefined
}

const UsedByRefStruct = Schema.Struct({
  url: Schema.String,
  collection: Schema.String,
  name: Schema.String,
  project: Schema.UndefinedOr(Schema.String),
  target: Schema.UndefinedOr(Schema.String)
})

/**
 * A `used_by` URL decoded to a {@link UsedByRef} (encoded back to the URL). A URL that is not properly
 * percent-encoded fails the decode.
 *
 * @since 0.2.0
 * @category schemas
 */
export const UsedByEntry: Schema.Schema<UsedByRef, string> = Schema.transformOrFail(Schema.String, UsedByRefStruct, {
  strict: true,
  decode: (url, _, ast) => {
    const q = url.indexOf("?")
    const path = (q === -1 ? url : url.slice(0, q)).replace(/^\/1\.0\//, "")
    const slash = path.lastIndexOf("/")
    try {
      const params = new URLSearchParams(q === -1 ? "" : url.slice(q + 1))
      return ParseResult.succeed({
        url,
        collection: slash === -1 ? "" : path.slice(0, slash).split("/").map(decodeURIComponent).join("/"),
        name: decodeURIComponent(slash === -1 ? path : path.slice(slash + 1)),
        project: params.get("project") ?? undefined,
        target: params.get("target") ?? undefined
      })
    } catch {
      return ParseResult.fail(new ParseResult.Type(ast, url, "not a properly percent-encoded URL"))
    }
  },
  encode: (ref) => ParseResult.succeed(ref.url)
}).annotations({ identifier: "UsedByEntry" })

/**
 * A `used_by` list (Go `null` is `[]`), each URL decoded.
 *
 * @since 0.2.0
 * @category schemas
 */
export const UsedBy = NullableArray(UsedByEntry)

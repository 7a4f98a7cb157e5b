/**
 * The LXD server itself (`/1.0`): information, extensions, configuration, host resources.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { LxdClient } from "./LxdClient.js"
import type { LxdError } from "./LxdError.js"
import type { WithEtag } from "./LxdResource.js"
import { NullableArray, ServerInfo } from "./LxdSchema.js"

export {
  /**
   * @since 0.1.0
   * @category schemas
   */
  ServerEnvironment,
  /**
   * @since 0.1.0
   * @category schemas
   */
  ServerInfo
} from "./LxdSchema.js"

/**
 * Host resources (`GET /1.0/resources`). CPU and memory are typed; the other sections are kept as LXD sends them.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Resources = Schema.Struct({
  cpu: Schema.Struct({
    architecture: Schema.optionalWith(Schema.String, { default: () => "" }),
    total: Schema.optionalWith(Schema.Number, { default: () => 0 }),
    sockets: NullableArray(Schema.Struct({
      name: Schema.optional(Schema.String),
      vendor: Schema.optional(Schema.String),
      socket: Schema.optional(Schema.Number),
      cores: NullableArray(Schema.Unknown)
    }))
  }),
  memory: Schema.Struct({
    used: Schema.optionalWith(Schema.Number, { default: () => 0 }),
    total: Schema.optionalWith(Schema.Number, { default: () => 0 }),
    hugepages_total: Schema.optional(Schema.Number),
    hugepages_used: Schema.optional(Schema.Number)
  }),
  gpu: Schema.optional(Schema.Unknown),
  network: Schema.optional(Schema.Unknown),
  storage: Schema.optional(Schema.Unknown),
  usb: Schema.optional(Schema.Unknown),
  pci: Schema.optional(Schema.Unknown),
  system: Schema.optional(Schema.Unknown)
}).annotations({ identifier: "Resources" })

/**
 * @since 0.1.0
 * @category models
 */
export interface Resources extends Schema.Schema.Type<typeof Resources> {}

/**
 * Server configuration values (`core.https_address`, `core.trust_password`, …). LXD answers `true` for a set
 * password instead of its value, hence `unknown`.
 *
 * @since 0.1.0
 * @category models
 */
export type ServerConfig = Readonly<Record<string, unknown>>

/**
 * @since 0.1.0
 * @category tags
 */
export class Server extends Context.Tag("@effect-lxd/core/Server")<Server, Server.Service>() {}

/**
 * The `Service` interface of the `Server` tag.
 *
 * @since 0.1.0
 * @category models
 */
export declare namespace Server {
  /**
   * @since 0.1.0
   * @category models
   */
  export interface Service {
    /** `GET /1.0`, cached (see `LxdClient.server`). */
    readonly info: Effect.Effect<ServerInfo, LxdError>
    /** `GET /1.0`, fresh, with its ETag for a later {@link Server.Service.replaceConfig}. */
    readonly getWithEtag: Effect.Effect<WithEtag<ServerInfo>, LxdError>
    /** Whether LXD trusts this client (`auth: "trusted"`), fresh. */
    readonly isTrusted: Effect.Effect<boolean, LxdError>
    /** `api_extensions` of the server. */
    readonly extensions: Effect.Effect<ReadonlyArray<string>, LxdError>
    /** Whether the server has an API extension. */
    readonly hasExtension: (name: string) => Effect.Effect<boolean, LxdError>
    /** Fails with `APIExtensionNotAvailable` unless the server has the extension. */
    readonly requireExtension: (name: string) => Effect.Effect<void, LxdError>
    /**
     * Replaces the whole server configuration (`PUT /1.0`): keys left out are reset. Errors: `PreconditionFailed`
     * (stale `etag`), `BadRequest`, `Forbidden`.
     */
    readonly replaceConfig: (
      config: Readonly<Record<string, string>>,
      options?: { readonly etag?: string | undefined }
    ) => Effect.Effect<void, LxdError>
    /**
     * Merges keys into the server configuration (`PATCH /1.0`); `""` unsets a key. Errors: `PreconditionFailed`,
     * `BadRequest`, `Forbidden`.
     */
    readonly updateConfig: (
      config: Readonly<Record<string, string>>,
      options?: { readonly etag?: string | undefined }
    ) => Effect.Effect<void, LxdError>
    /** Host hardware (`GET /1.0/resources`; per member with `LxdClient.withTarget`). Extension `resources`. */
    readonly resources: Effect.Effect<Resources, LxdError>
  }
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Server.Service, never, LxdClient> = Effect.gen(function*() {
  const client = yield* LxdClient
  const getWithEtag = client.sync(ServerInfo, { method: "GET", path: "" }).pipe(
    Effect.map((r): WithEtag<ServerInfo> => ({ value: r.metadata, etag: r.etag })),
    Effect.withSpan("Server.get")
  )
  const writeConfig =
    (method: "PUT" | "PATCH") =>
    (config: Readonly<Record<string, string>>, options?: { readonly etag?: string | undefined }) =>
      client.request({ method, path: "", body: { config }, etag: options?.etag }).pipe(
        Effect.zipRight(client.refreshServer),
        Effect.withSpan(method === "PUT" ? "Server.replaceConfig" : "Server.updateConfig")
      )
  return Server.of({
    info: client.server,
    getWithEtag,
    isTrusted: Effect.map(getWithEtag, ({ value }) => value.auth === "trusted"),
    extensions: Effect.map(client.server, (info) => info.api_extensions),
    hasExtension: client.hasExtension,
    requireExtension: client.requireExtension,
    replaceConfig: writeConfig("PUT"),
    updateConfig: writeConfig("PATCH"),
    resources: client.requireExtension("resources").pipe(
      Effect.zipRight(client.sync(Resources, { method: "GET", path: "/resources" })),
      Effect.map((r) => r.metadata),
      Effect.withSpan("Server.resources")
    )
  })
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Server, never, LxdClient> = Layer.effect(Server, make)

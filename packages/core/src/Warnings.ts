/**
 * Warnings (`/1.0/warnings`, extension `warnings`): problems LXD noticed (a missing AppArmor, an unsupported
 * cgroup controller, a failed image refresh), each counted and timed, to acknowledge or delete. Without
 * `LxdClient.withProject` (or with `allProjects`) the list is every project's.
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
import { OpenEnum, Timestamp } from "./LxdSchema.js"

/**
 * The writable part of a warning (`PUT /1.0/warnings/{uuid}`): its status (`resolved` is LXD's to set).
 *
 * @since 0.2.0
 * @category schemas
 */
export const WarningPut = Schema.Struct({ status: OpenEnum("new", "acknowledged", "resolved") }).annotations({
  identifier: "WarningPut"
})

/**
 * @since 0.2.0
 * @category models
 */
export interface WarningPut extends Schema.Schema.Encoded<typeof WarningPut> {}

/**
 * A warning (`GET /1.0/warnings/{uuid}`).
 *
 * @since 0.2.0
 * @category schemas
 */
export const Warning = Schema.Struct({
  ...WarningPut.fields,
  uuid: Schema.String,
  type: Schema.optionalWith(Schema.String, { default: () => "" }),
  severity: OpenEnum("low", "moderate", "high"),
  count: Schema.optionalWith(Schema.Number, { default: () => 0 }),
  last_message: Schema.optionalWith(Schema.String, { default: () => "" }),
  entity_url: Schema.optionalWith(Schema.String, { default: () => "" }),
  project: Schema.optionalWith(Schema.String, { default: () => "" }),
  location: Schema.optionalWith(Schema.String, { default: () => "" }),
  first_seen_at: Schema.optional(Timestamp),
  last_seen_at: Schema.optional(Timestamp)
}).annotations({ identifier: "Warning" })

/**
 * @since 0.2.0
 * @category models
 */
export interface Warning extends Schema.Schema.Type<typeof Warning> {}

/**
 * The warnings collection: LXD makes warnings, so there is no create and no rename.
 *
 * @since 0.2.0
 * @category descriptors
 */
export const spec = LxdResource.spec({
  name: "Warnings",
  path: "/warnings",
  kind: "warning id",
  item: Warning,
  post: WarningPut, // unused: LXD has no create
  put: WarningPut,
  verbs: [...LxdResource.readVerbs, "replace", "update", "modify", "delete"],
  nameField: "uuid",
  extension: "warnings",
  allProjects: "warnings",
  lifecycle: "warning"
})

/**
 * @since 0.2.0
 * @category tags
 */
export class Warnings extends Context.Tag("@effect-lxd/core/Warnings")<Warnings, Warnings.Service>() {}

/**
 * @since 0.2.0
 */
export declare namespace Warnings {
  /**
   * The collection verbs on `/1.0/warnings` (by UUID), and `acknowledge`.
   *
   * @since 0.2.0
   * @category models
   */
  export interface Service extends
    Pick<
      LxdResource.Collection<[], Warning, WarningPut, WarningPut>,
      LxdResource.ReadVerb | "replace" | "update" | "modify" | "delete"
    >
  {
    /**
     * Marks a warning seen (`PATCH /1.0/warnings/{uuid} {"status":"acknowledged"}`); LXD stops reporting it as
     * new. Errors: `NotFound`, `InvalidArgument`.
     */
    readonly acknowledge: (uuid: string) => Effect.Effect<void, LxdError>
  }
}

/**
 * @since 0.2.0
 * @category constructors
 */
export const make: Effect.Effect<Warnings.Service, never, LxdClient> = Effect.map(LxdClient, (client) => {
  const warnings = Collection.make(client, spec)
  return {
    ...warnings,
    acknowledge: (uuid) => Effect.withSpan(warnings.update(uuid, { status: "acknowledged" }), "Warnings.acknowledge")
  }
})

/**
 * @since 0.2.0
 * @category layers
 */
export const layer: Layer.Layer<Warnings, never, LxdClient> = Layer.effect(Warnings, make)

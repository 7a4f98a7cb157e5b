/**
 * Profiles (`/1.0/profiles`): named sets of config and devices that instances apply in order. A collection on
 * the shared shape ({@link LxdResource.Collection}); every call honours `LxdClient.withProject`.
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
import { Devices, StringMap, UsedBy } from "./LxdSchema.js"

/**
 * The writable part of a profile (`PUT /1.0/profiles/{name}`).
 *
 * @since 0.2.0
 * @category schemas
 */
export const ProfilePut = Schema.Struct({
  description: Schema.optionalWith(Schema.String, { default: () => "" }),
  config: StringMap,
  devices: Devices
}).annotations({ identifier: "ProfilePut" })

/**
 * @since 0.2.0
 * @category models
 */
export interface ProfilePut extends Schema.Schema.Encoded<typeof ProfilePut> {}

/**
 * A profile (`GET /1.0/profiles/{name}`). `used_by`: the instances (and snapshots) that apply it.
 *
 * @since 0.2.0
 * @category schemas
 */
export const Profile = Schema.Struct({
  ...ProfilePut.fields,
  name: Schema.String,
  used_by: UsedBy,
  /** Since LXD 5.x's `profiles_all_projects`; absent on 5.0.2. */
  project: Schema.optional(Schema.String)
}).annotations({ identifier: "Profile" })

/**
 * @since 0.2.0
 * @category models
 */
export interface Profile extends Schema.Schema.Type<typeof Profile> {}

/**
 * A new profile (`POST /1.0/profiles`).
 *
 * @since 0.2.0
 * @category schemas
 */
export const ProfilesPost = Schema.Struct({ ...ProfilePut.fields, name: Schema.String }).annotations({
  identifier: "ProfilesPost"
})

/**
 * @since 0.2.0
 * @category models
 */
export interface ProfilesPost extends Schema.Schema.Encoded<typeof ProfilesPost> {}

/**
 * The profiles collection, read by the client, the fake and the tests. `allProjects` needs
 * `profiles_all_projects` (not in 5.0.2); profiles take no filter.
 *
 * @since 0.2.0
 * @category descriptors
 */
export const spec = LxdResource.spec({
  name: "Profiles",
  path: "/profiles",
  kind: "profile",
  item: Profile,
  post: ProfilesPost,
  put: ProfilePut,
  allProjects: "profiles_all_projects",
  lifecycle: "profile"
})

/**
 * @since 0.2.0
 * @category tags
 */
export class Profiles extends Context.Tag("@effect-lxd/core/Profiles")<Profiles, Profiles.Service>() {}

/**
 * @since 0.2.0
 */
export declare namespace Profiles {
  /**
   * `listNames`, `list`, `get`, `getWithEtag`, `exists`, `create`, `replace`, `update`, `modify`, `rename`,
   * `delete` on `/1.0/profiles`. LXD refuses to delete or rename `default` (`Forbidden`) and to delete a profile
   * in use (`BadRequest`).
   *
   * @since 0.2.0
   * @category models
   */
  export interface Service extends LxdResource.Collection<[], Profile, ProfilesPost, ProfilePut> {}
}

/**
 * @since 0.2.0
 * @category constructors
 */
export const make: Effect.Effect<Profiles.Service, never, LxdClient> = Effect.map(
  LxdClient,
  (client) => Collection.make(client, spec)
)

/**
 * @since 0.2.0
 * @category layers
 */
export const layer: Layer.Layer<Profiles, never, LxdClient> = Layer.effect(Profiles, make)

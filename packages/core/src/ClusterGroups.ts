/**
 * Cluster groups (`/1.0/cluster/groups`, extension `clustering_groups`): named sets of members, for placement
 * (`target=@group` on an instance create: {@link target}) and for projects' `restricted.cluster.groups`. A
 * collection on the shared shape ({@link LxdResource.Collection}), plus membership helpers: a group's `members`
 * and a member's `groups` are two views of one relation, which LXD keeps consistent.
 *
 * LXD 5.0.2 (measured on a three-member loopback cluster): every member starts in `default`, which cannot be
 * renamed or deleted (`Forbidden`); only an empty group can be deleted (`LxdApiError`, status 500, "Only empty
 * cluster groups can be removed"); a duplicate name is a 500 too ("This cluster group already exists", `Name "x"
 * already in use` on rename), a member that does not exist 404 on `PUT` and 500 on create; a `PUT` of a group
 * without `members` empties it, and a group's `PUT` may leave a member in no group at all (its `groups` is then
 * `null`), while a member's own `PUT` refuses that ("Cluster members need to belong to at least one group").
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as ClusterMembers from "./ClusterMembers.js"
import * as Collection from "./internal/collection.js"
import * as Path from "./internal/path.js"
import { LxdClient } from "./LxdClient.js"
import type { LxdError } from "./LxdError.js"
import * as LxdResource from "./LxdResource.js"
import { NullableArray } from "./LxdSchema.js"

/**
 * The writable part of a group (`PUT /1.0/cluster/groups/{name}`): its description and its members' names.
 *
 * @since 0.2.0
 * @category schemas
 */
export const ClusterGroupPut = Schema.Struct({
  description: Schema.optionalWith(Schema.String, { default: () => "" }),
  members: NullableArray(Schema.String)
}).annotations({ identifier: "ClusterGroupPut" })

/**
 * @since 0.2.0
 * @category models
 */
export interface ClusterGroupPut extends Schema.Schema.Encoded<typeof ClusterGroupPut> {}

/**
 * A group (`GET /1.0/cluster/groups/{name}`). `used_by` (the projects and instances that name it) is newer than
 * 5.0.2: absent there.
 *
 * @since 0.2.0
 * @category schemas
 */
export const ClusterGroup = Schema.Struct({
  ...ClusterGroupPut.fields,
  name: Schema.String,
  used_by: Schema.optionalWith(Schema.Array(Schema.String), { nullable: true })
}).annotations({ identifier: "ClusterGroup" })

/**
 * @since 0.2.0
 * @category models
 */
export interface ClusterGroup extends Schema.Schema.Type<typeof ClusterGroup> {}

/**
 * A new group (`POST /1.0/cluster/groups`), maybe with its members already.
 *
 * @since 0.2.0
 * @category schemas
 */
export const ClusterGroupsPost = Schema.Struct({ ...ClusterGroupPut.fields, name: Schema.String }).annotations({
  identifier: "ClusterGroupsPost"
})

/**
 * @since 0.2.0
 * @category models
 */
export interface ClusterGroupsPost extends Schema.Schema.Encoded<typeof ClusterGroupsPost> {}

/**
 * The groups collection, read by the client, the fake and the tests. 5.0.2 checks `If-Match` on a group's
 * `PATCH` but ignores it on its `PUT` (`ifMatch: false`: `replace` with a stale `etag` is not refused there;
 * `modify` reads the `ETag` again right before writing); its `PATCH` merges (the fields it is not sent stay);
 * it emits `cluster-group-created`, `-updated` and `-renamed`, but no event when a group is deleted.
 *
 * @since 0.2.0
 * @category descriptors
 */
export const spec = LxdResource.spec({
  name: "ClusterGroups",
  path: "/cluster/groups",
  kind: "cluster group",
  item: ClusterGroup,
  post: ClusterGroupsPost,
  put: ClusterGroupPut,
  // 5.0.2 sends an ETag with a group and checks If-Match on PATCH, not on PUT
  ifMatch: false,
  extension: "clustering_groups",
  lifecycle: "cluster-group"
})

/**
 * The `target` that places a new instance on some member of a group (`@gpu`), for `LxdClient.withTarget`:
 * `LxdClient.withTarget(instances.create(body), ClusterGroups.target("gpu"))`. LXD picks the member with the
 * fewest instances; an empty group is 400 "No suitable cluster member could be found", an unknown one 400
 * `Cluster group "x" doesn't exist`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const target = (group: string): string => `@${group}`

/**
 * @since 0.2.0
 * @category tags
 */
export class ClusterGroups
  extends Context.Tag("@effect-lxd/core/ClusterGroups")<ClusterGroups, ClusterGroups.Service>()
{}

/**
 * @since 0.2.0
 */
export declare namespace ClusterGroups {
  /**
   * `listNames`, `list`, `get`, `getWithEtag`, `exists`, `create`, `replace`, `update`, `modify`, `rename`,
   * `delete` on `/1.0/cluster/groups`, plus membership: `assign`, `addMember`, `removeMember`. Errors as for
   * every collection (`APIExtensionNotAvailable` without `clustering_groups`); `Forbidden` for renaming or
   * deleting `default`; `LxdApiError` (500) for a duplicate name or deleting a group with members.
   *
   * @since 0.2.0
   * @category models
   */
  export interface Service extends LxdResource.Collection<[], ClusterGroup, ClusterGroupsPost, ClusterGroupPut> {
    /**
     * Sets the groups a member belongs to (its `groups`: read, merged, `PUT /1.0/cluster/members/{name}` with
     * the `ETag` read, as `ClusterMembers.update` does). Errors: `InvalidArgument` (a bad name, nothing sent),
     * `NotFound` (the member, or a group that does not exist), `BadRequest` (no group: "Cluster members need to
     * belong to at least one group"), `PreconditionFailed` (the member changed meanwhile).
     */
    readonly assign: (member: string, groups: ReadonlyArray<string>) => Effect.Effect<void, LxdError>
    /**
     * Adds a member to a group (`GET`, then `PUT` of its `members` with the `ETag` checked again right before):
     * `false`, nothing written, when it is a member already. Errors: `NotFound` (the group, or the member:
     * LXD's 404 "Failed to get node info"), `PreconditionFailed`, `InvalidArgument`.
     */
    readonly addMember: (group: string, member: string) => Effect.Effect<boolean, LxdError>
    /**
     * Removes a member from a group, the same way: `false` when it is not a member. LXD lets this leave the
     * member in no group at all. Errors as `addMember`.
     */
    readonly removeMember: (group: string, member: string) => Effect.Effect<boolean, LxdError>
  }
}

/**
 * @since 0.2.0
 * @category constructors
 */
export const make: Effect.Effect<ClusterGroups.Service, never, LxdClient> = Effect.map(LxdClient, (client) => {
  const members = Collection.make(client, ClusterMembers.spec)
  const membership = (group: string, member: string, add: boolean) =>
    Path.validate("cluster member", member).pipe(
      Effect.zipRight(Collection.modifyWith(client, spec, [], group, (current) => {
        const has = current.members.includes(member)
        if (has === add) return Effect.succeed(undefined)
        const next = add ? [...current.members, member] : current.members.filter((m) => m !== member)
        return Effect.succeed({ ...current, members: next })
      }))
    )
  return {
    ...Collection.make(client, spec),
    assign: (member, groups) =>
      Path.validate("cluster member", member).pipe(
        Effect.zipRight(Effect.forEach(groups, (g) => Path.validate("cluster group", g), { discard: true })),
        Effect.zipRight(client.requireExtension("clustering_groups")),
        Effect.zipRight(members.update(member, { groups })),
        Effect.withSpan("ClusterGroups.assign")
      ),
    addMember: (group, member) => Effect.withSpan(membership(group, member, true), "ClusterGroups.addMember"),
    removeMember: (group, member) => Effect.withSpan(membership(group, member, false), "ClusterGroups.removeMember")
  }
})

/**
 * @since 0.2.0
 * @category layers
 */
export const layer: Layer.Layer<ClusterGroups, never, LxdClient> = Layer.effect(ClusterGroups, make)

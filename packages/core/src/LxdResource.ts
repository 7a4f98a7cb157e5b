/**
 * The shape every LXD collection shares (profiles, projects, networks, volumes, snapshots, …): one description
 * per collection ({@link Spec}), read by the client (`Collection`), the fake LXD in `@effect-lxd/testing` and the
 * test suite, so the three cannot drift apart.
 *
 * Methods take the parents' names first, then their own arguments, as the Go client does:
 * `snapshots.get("web1", "snap0")`, `volumes.get("default", "custom", "data")`.
 *
 * @since 0.2.0
 */
import type * as Effect from "effect/Effect"
import type * as Schema from "effect/Schema"
import type { LxdError } from "./LxdError.js"

/**
 * A kind of name, with its rules (checked before any request is sent; a bad name is `InvalidArgument`).
 *
 * @since 0.2.0
 * @category models
 */
export type NameKind =
  | "instance"
  | "snapshot"
  | "project"
  | "profile"
  | "network"
  | "network acl"
  | "network zone"
  | "network zone record"
  | "network peer"
  | "listen address"
  | "storage pool"
  | "storage volume"
  | "storage volume type"
  | "image alias"
  | "fingerprint"
  | "certificate fingerprint"
  | "backup"
  | "cluster member"
  | "cluster group"
  | "operation id"
  | "warning id"
  | "name"

/**
 * Options of every `list`. `filter` is LXD's filter language (`status eq Running`); several expressions are
 * joined with ` and ` (5.0.2's parser has no parentheses). Both are checked against the server's extensions,
 * and refused with `InvalidArgument` by a collection that has no such option, before any request.
 *
 * @since 0.2.0
 * @category models
 */
export interface ListOptions {
  readonly filter?: string | ReadonlyArray<string> | undefined
  /** Every project's items (`?all-projects=true`); each item names its `project`. */
  readonly allProjects?: boolean | undefined
}

/**
 * Options of every write that can be made conditional: with `etag` (from `getWithEtag`) LXD refuses the change
 * with `PreconditionFailed` when the object changed since it was read.
 *
 * @since 0.2.0
 * @category models
 */
export interface EtagOptions {
  readonly etag?: string | undefined
}

/**
 * A value and the `ETag` LXD sent with it.
 *
 * @since 0.2.0
 * @category models
 */
export interface WithEtag<A> {
  readonly value: A
  readonly etag: string | undefined
}

/**
 * The verbs of a collection.
 *
 * @since 0.2.0
 * @category models
 */
export type Verb =
  | "listNames"
  | "list"
  | "get"
  | "getWithEtag"
  | "exists"
  | "create"
  | "replace"
  | "update"
  | "modify"
  | "rename"
  | "delete"

/**
 * The generic collection service. `Parents` are the names of the enclosing objects (`[]` for a top-level
 * collection, `[instance: string]` for snapshots). A collection without some verbs exposes a `Pick` of it.
 *
 * Errors: `InvalidArgument` (a bad name or option, nothing sent), `NotFound`, `Conflict`, `PreconditionFailed`
 * (stale `etag`), `BadRequest`, `Forbidden`, `APIExtensionNotAvailable`, `OperationFailed` (a write LXD ran as
 * an operation), `ClientConnectionFailed`, `ProtocolError`.
 *
 * @since 0.2.0
 * @category models
 */
export interface Collection<Parents extends ReadonlyArray<string>, A, Post, Put> {
  /**
   * The names (`GET {path}`, `recursion=0`; the URLs LXD answers are turned into names). When a name still holds
   * a percent escape (LXD before 5.19 encodes names in these URLs twice), they are read from the objects instead
   * (a second `GET`, `recursion=1`).
   */
  readonly listNames: (...args: [...Parents, options?: Pick<ListOptions, "filter">]) => Effect.Effect<
    ReadonlyArray<string>,
    LxdError
  >
  /** The objects (`GET {path}?recursion=1`); a Go `null` list is `[]`. */
  readonly list: (...args: [...Parents, options?: ListOptions]) => Effect.Effect<ReadonlyArray<A>, LxdError>
  /** `GET {path}/{name}`. */
  readonly get: (...args: [...Parents, name: string]) => Effect.Effect<A, LxdError>
  /** `GET {path}/{name}` with the `ETag` to pass to `replace`/`update`. */
  readonly getWithEtag: (...args: [...Parents, name: string]) => Effect.Effect<WithEtag<A>, LxdError>
  /** Whether `GET {path}/{name}` finds it. */
  readonly exists: (...args: [...Parents, name: string]) => Effect.Effect<boolean, LxdError>
  /**
   * `POST {path}`; returns the new object's name (from `Location`, the operation's resources, or the body).
   * Sync or async: an operation is waited on, and cancelled on the server when the caller is interrupted.
   */
  readonly create: (...args: [...Parents, body: Post]) => Effect.Effect<string, LxdError>
  /** `PUT {path}/{name}`: replaces every writable field (left-out keys are dropped). */
  readonly replace: (
    ...args: [...Parents, name: string, body: Put, options?: EtagOptions]
  ) => Effect.Effect<void, LxdError>
  /** `PATCH {path}/{name}`: changes the given fields; config maps are merged key by key (`""` unsets). */
  readonly update: (
    ...args: [...Parents, name: string, patch: Partial<Put>, options?: EtagOptions]
  ) => Effect.Effect<void, LxdError>
  /**
   * Read, change, write back: `GET` → `f(writable part)` → `PUT` with the `ETag` (so a concurrent change fails
   * with `PreconditionFailed` instead of being lost). Read-only fields are never sent; fields this client does
   * not know are sent back unchanged.
   */
  readonly modify: (
    ...args: [...Parents, name: string, f: (current: Put) => Put]
  ) => Effect.Effect<void, LxdError>
  /** `POST {path}/{name} {"name": newName}` (the spec's `renameField`). */
  readonly rename: (...args: [...Parents, name: string, newName: string]) => Effect.Effect<void, LxdError>
  /** `DELETE {path}/{name}`. */
  readonly delete: (...args: [...Parents, name: string]) => Effect.Effect<void, LxdError>
}

/**
 * One collection, described once. Read by the client (`internal/collection.ts`), by the fake LXD and by the
 * tests; build it with {@link spec}.
 *
 * @since 0.2.0
 * @category models
 */
export interface Spec<
  Parents extends ReadonlyArray<string>,
  Item extends Schema.Schema.AnyNoContext,
  Post extends Schema.Schema.AnyNoContext,
  Put extends Schema.Schema.AnyNoContext
> {
  /** Span prefix (`Profiles` → `Profiles.get`) and the name tests report. */
  readonly name: string
  /** The collection's path below `/1.0`, parents as `{placeholders}`: `/instances/{instance}/snapshots`. */
  readonly path: string
  /** The name rule of each placeholder of `path`, in order. */
  readonly parents: { readonly [K in keyof Parents]: NameKind }
  /** The name rule of the objects themselves. */
  readonly kind: NameKind
  /** An object as `GET` answers it, and each element of `recursion=1`. */
  readonly item: Item
  /** The body of a create (`POST {path}`): its encoded side is what callers pass and what is sent. */
  readonly post: Post
  /**
   * The writable part: the `PUT` body (encoded side), what `modify` hands over (decoded, with defaults) and what
   * an `ETag` covers. Its decoded type must be a valid encoded value (defaults and `null`s only, no transforms).
   */
  readonly put: Put
  /** The verbs LXD has for this collection. */
  readonly verbs: ReadonlyArray<Verb>
  /** The verbs LXD may answer with an operation (it has moved several from sync to async between 5.0 and 6.x). */
  readonly async: ReadonlyArray<Verb>
  /** The field of `post` that holds the new name. */
  readonly nameField: string
  /** The field of a rename's body (`POST {path}/{name}`): `name`, or `server_name` for cluster members. */
  readonly renameField: string
  /**
   * How `update` writes: `"patch"` sends `PATCH`; `"merge"` (for an endpoint whose `PATCH` drops the keys it is
   * not sent, as LXD 5.0.2's projects do) reads, merges the patch in (config-like maps key by key, `""` unsets)
   * and sends `PUT` with the `ETag` it read (or the caller's).
   */
  readonly update: "patch" | "merge"
  /**
   * Whether LXD checks `If-Match` on `PUT`/`PATCH` (`false`: it sends an `ETag` but ignores the one it is sent, as
   * 5.0.2's network forwards do; `modify` then reads the `ETag` again just before writing and fails
   * `PreconditionFailed` itself when it changed, which narrows the race to that last moment).
   */
  readonly ifMatch: boolean
  /** The extension without which the whole collection is refused (`APIExtensionNotAvailable`, nothing sent). */
  readonly extension: string | undefined
  /** The extension that allows `filter` (`api_filtering`); `undefined`: the collection takes no filter. */
  readonly filter: string | undefined
  /** The extension that allows `allProjects`; `undefined`: the collection has no all-projects list. */
  readonly allProjects: string | undefined
  /** The prefix of its lifecycle events (`profile` → `profile-created`, `profile-updated`, …). */
  readonly lifecycle: string | undefined
  /**
   * Fields a `GET` may carry that a `PUT` takes as a command, not as state (an instance's `restore`, which
   * restores that snapshot): never sent back by `modify`.
   */
  readonly actions: ReadonlyArray<string>
  /** Top-level fields of `item` that are not in `put`, and the {@link Spec.actions}: never sent by `modify`. */
  readonly readOnly: ReadonlyArray<string>
  /**
   * What LXD's lists hold besides the collection's own objects, which the client leaves out or fixes:
   * `"snapshots"`, its objects' snapshots as well (storage volumes: URLs `…/v1/snapshots/snap0`, items named
   * `v1/snap0`), left out; `"parentPrefix"`, items named after their parent (volume snapshots: `v1/snap0` where
   * `GET` says `snap0`), the prefix cut. `undefined`: a list holds its objects only.
   */
  readonly listQuirk: "snapshots" | "parentPrefix" | undefined
}

/**
 * The service type a spec describes: objects as `item` decodes them, bodies as `post` and `put` encode them
 * (their optional fields optional).
 *
 * @since 0.2.0
 * @category models
 */
export type CollectionOf<S> = S extends Spec<infer Parents, infer Item, infer Post, infer Put> ? Collection<
    Parents,
    Schema.Schema.Type<Item>,
    Schema.Schema.Encoded<Post>,
    Schema.Schema.Encoded<Put>
  >
  : never

/**
 * The verbs that only read: every collection has them.
 *
 * @since 0.2.0
 * @category models
 */
export type ReadVerb = "listNames" | "list" | "get" | "getWithEtag" | "exists"

/**
 * The {@link ReadVerb}s, for a spec's `verbs`: `[...readVerbs, "replace", "delete"]`.
 *
 * @since 0.2.0
 * @category models
 */
export const readVerbs: ReadonlyArray<ReadVerb> = ["listNames", "list", "get", "getWithEtag", "exists"]

/**
 * The verbs every collection has unless its spec says otherwise.
 *
 * @since 0.2.0
 * @category models
 */
export const allVerbs: ReadonlyArray<Verb> = [
  ...readVerbs,
  "create",
  "replace",
  "update",
  "modify",
  "rename",
  "delete"
]

/**
 * The verbs of a collection LXD has no rename for (network forwards, zones and their records, peers, load
 * balancers): for a spec's `verbs` and its service's `Pick`.
 *
 * @since 0.2.0
 * @category models
 */
export type VerbWithoutRename = Exclude<Verb, "rename">

/**
 * The {@link VerbWithoutRename}s.
 *
 * @since 0.2.0
 * @category models
 */
export const verbsWithoutRename: ReadonlyArray<VerbWithoutRename> = allVerbs.filter(
  (v): v is VerbWithoutRename => v !== "rename"
)

const fieldsOf = (schema: Schema.Schema.AnyNoContext): ReadonlyArray<string> => {
  // a Struct's fields, without importing Schema at run time here (the spec is data)
  const fields = (schema as unknown as { readonly fields?: Readonly<Record<string, unknown>> }).fields
  return fields === undefined ? [] : Object.keys(fields)
}

/**
 * Builds a {@link Spec}: the defaults (every verb, sync answers, a `name` field, no filter, no all-projects) plus
 * what is derived (`readOnly` = the fields of `item` that are not in `put`, and the `actions`). `item` and `put` must be
 * `Schema.Struct`s.
 *
 * @since 0.2.0
 * @category constructors
 */
export const spec = <
  Item extends Schema.Schema.AnyNoContext,
  Post extends Schema.Schema.AnyNoContext,
  Put extends Schema.Schema.AnyNoContext,
  // a spec without `parents` is top-level: `readonly []`, not the constraint (which would type every method as
  // taking any number of parents)
  const Parents extends ReadonlyArray<NameKind> = readonly []
>(options: {
  readonly name: string
  readonly path: string
  readonly parents?: Parents | undefined
  readonly kind: NameKind
  readonly item: Item
  readonly post: Post
  readonly put: Put
  readonly verbs?: ReadonlyArray<Verb> | undefined
  readonly async?: ReadonlyArray<Verb> | undefined
  readonly nameField?: string | undefined
  readonly renameField?: string | undefined
  readonly update?: "patch" | "merge" | undefined
  readonly ifMatch?: boolean | undefined
  readonly extension?: string | undefined
  readonly filter?: string | undefined
  readonly allProjects?: string | undefined
  readonly lifecycle?: string | undefined
  readonly listQuirk?: "snapshots" | "parentPrefix" | undefined
  readonly actions?: ReadonlyArray<string> | undefined
}): Spec<{ readonly [K in keyof Parents]: string }, Item, Post, Put> => {
  const writable = new Set(fieldsOf(options.put))
  const placeholders = options.path.match(/\{[^}]+\}/g)?.length ?? 0
  const parents = (options.parents ?? []) as unknown as { readonly [K in keyof Parents]: NameKind }
  if (placeholders !== (parents as ReadonlyArray<NameKind>).length) {
    throw new Error(`spec ${options.name}: ${placeholders} placeholders in ${options.path}, ${parents.length} parents`)
  }
  return {
    name: options.name,
    path: options.path,
    parents: parents as Spec<{ readonly [K in keyof Parents]: string }, Item, Post, Put>["parents"],
    kind: options.kind,
    item: options.item,
    post: options.post,
    put: options.put,
    verbs: options.verbs ?? allVerbs,
    async: options.async ?? [],
    nameField: options.nameField ?? "name",
    renameField: options.renameField ?? "name",
    update: options.update ?? "patch",
    ifMatch: options.ifMatch ?? true,
    extension: options.extension,
    filter: options.filter,
    allProjects: options.allProjects,
    lifecycle: options.lifecycle,
    actions: options.actions ?? [],
    readOnly: [...fieldsOf(options.item).filter((f) => !writable.has(f)), ...(options.actions ?? [])],
    listQuirk: options.listQuirk
  }
}

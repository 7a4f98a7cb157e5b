/**
 * Clustering in the fake, as LXD 5.0.2 has it (measured on a three-member loopback cluster, lab-notes §5):
 * `GET`/`PUT /1.0/cluster`; the generated routes of `ClusterMembers.spec` (no create: a member joins with a
 * token; a rename's body is `{"server_name"}`), every member `Online`, "Fully operational", with the `database`
 * role; `POST …/members/{name}/state` evacuate → `Evacuated` / "Unavailable due to maintenance", restore →
 * `Online` (as operations; a second evacuate is 400). An evacuation moves each of the member's instances to the
 * least-loaded member that is `Online`, running as before (`auto`/`migrate`, LXD's way on local storage), or only
 * stops it (`stop`: the request's `mode`, else the instance's `cluster.evacuate`, or when no member can take it);
 * the restore moves them back and starts what was running. Join tokens as `token` operations that run until
 * cancelled, with `"resources": {"cluster": null}` as LXD sends them. A fake is clustered when
 * `Options.clusterMembers` names its members; otherwise it is a standalone server (`enabled: false`; its
 * members' list and members answer 500 "Server is not clustered", as 5.0.2's do).
 *
 * Groups (`ClusterGroups.spec`) as 5.0.2 keeps them: every member starts in `default` ("Default cluster group"),
 * which cannot be renamed or deleted (403); a group's `members` and a member's `groups` are one relation (a
 * write to either changes the other; a member in no group shows `groups: null`); a member's `PUT` needs one
 * group at least (400) that exists (404); a group with members cannot be deleted, a duplicate name is refused,
 * and a `DELETE` of a missing group fails, each with LXD's 500s; members that do not exist are refused (500 on
 * create, 404 on `PUT`/`PATCH`); a group's `PUT` ignores `If-Match`; deleting a group emits no event.
 *
 * Placement (`placement`, read by the instance create): `?target=<member>` puts the instance there (404 "Cluster
 * member not found" for another name), `?target=@<group>` on the group's member with the fewest instances (400
 * `Cluster group "x" doesn't exist`, 400 "No suitable cluster member could be found" for an empty group), no
 * target on the least-loaded member; the member is the instance's `location`. A standalone fake refuses a target
 * (400 "Target only allowed when clustered"), and every groups request (400 "This server is not clustered").
 *
 * @internal
 */
import * as ClusterGroups from "@effect-lxd/core/ClusterGroups"
import * as ClusterMembers from "@effect-lxd/core/ClusterMembers"
import * as Effect from "effect/Effect"
import * as M from "../LxdMockTransport.js"
import { entriesOf, fakeCollection, findEntry } from "./fakeCollection.js"
import type { FakeInstance, Json } from "./fakeCore.js"
import { type FakeState, hash, INSTANCE_EXISTS, key, lifecycle, now, OpFailure, startOperation } from "./fakeCore.js"
import { body, fail, ok, type Route } from "./fakeHttp.js"

const membersOf = (state: FakeState): ReadonlyArray<string> => state.options.clusterMembers ?? []

const strings = (u: unknown): ReadonlyArray<string> =>
  Array.isArray(u) ? u.filter((x): x is string => typeof x === "string") : []

/**
 * The relation between members and groups, kept both ways: each member's `groups` follows the groups' `members`
 * (`null` for a member in none, as LXD sends it), and a member's write moves it between groups.
 */
const membership = (state: FakeState) => {
  const groups = () => entriesOf(state, ClusterGroups.spec)
  const members = () => entriesOf(state, ClusterMembers.spec).map((m) => m.name)
  const inOrder = (names: ReadonlyArray<string>) => members().filter((m) => names.includes(m))
  /** Every member's `groups` from the groups' `members`. */
  const syncMembers = () =>
    Effect.sync(() => {
      for (const m of entriesOf(state, ClusterMembers.spec)) {
        const of = groups().filter((g) => strings(g.value.members).includes(m.name)).map((g) => g.name)
        m.value = { ...m.value, groups: of.length === 0 ? null : of }
      }
    })
  /** Each group's `members` changed so that `member` is in exactly `of` (its old name `renamedFrom` gone). */
  const moveMember = (member: string, of: ReadonlyArray<string>, renamedFrom?: string) =>
    Effect.suspend(() => {
      for (const g of groups()) {
        const current = strings(g.value.members).filter((m) => m !== member && m !== renamedFrom)
        g.value = { ...g.value, members: inOrder(of.includes(g.name) ? [...current, member] : current) }
      }
      return syncMembers()
    })
  const unknownMembers = (value: Json) => strings(value.members).filter((m) => !members().includes(m))
  return { groups, syncMembers, moveMember, unknownMembers }
}

/** Of `candidates`, the member with the fewest instances (the first of equals); `undefined` for none. */
const leastLoaded = (state: FakeState, candidates: ReadonlyArray<string>): string | undefined => {
  const load = (member: string) => [...state.instances.values()].filter((i) => i.location === member).length
  return candidates.reduce<string | undefined>(
    (best, m) => (best === undefined || load(m) < load(best) ? m : best),
    undefined
  )
}

/**
 * Where a new instance goes for a create's `?target=` (see the module comment): the member's name, `undefined`
 * on a standalone fake without a target, or LXD's refusal. Evacuated members are left out of an automatic choice.
 *
 * @internal
 */
export const placement = (state: FakeState, target: string | undefined): string | M.MockResponse | undefined => {
  const names = membersOf(state)
  if (names.length === 0) {
    return target === undefined ? undefined : M.error(400, "Target only allowed when clustered")
  }
  const members = entriesOf(state, ClusterMembers.spec)
  if (target !== undefined && !target.startsWith("@")) {
    return members.some((m) => m.name === target) ? target : M.error(404, "Cluster member not found")
  }
  let candidates = members.filter((m) => m.value.status !== "Evacuated").map((m) => m.name)
  if (target !== undefined) {
    const group = findEntry(state, ClusterGroups.spec, "default", [], target.slice(1))
    if (group === undefined) return M.error(400, `Cluster group "${target.slice(1)}" doesn't exist`)
    candidates = candidates.filter((m) => strings(group.value.members).includes(m))
  }
  const chosen = leastLoaded(state, candidates)
  return chosen ?? M.error(400, "No suitable cluster member could be found")
}

/**
 * A move to another member (`POST /instances/{name}?target=` with `migration` and neither pool nor project), as
 * 5.0.2 does it: an unknown member is 404 before any operation; the member it is on, a running instance without
 * `live: false` (then it is stopped, moved and started again) and a taken name fail the operation.
 *
 * @internal
 */
export const moveToMember = (
  state: FakeState,
  instance: FakeInstance,
  target: string,
  b: Json
): Effect.Effect<M.MockResponse> => {
  const member = placement(state, target)
  if (typeof member !== "string") {
    return member === undefined || member.status !== 404
      ? Effect.succeed(member ?? M.error(400, "Target only allowed when clustered"))
      : fail(404, "Failed to get target node: Cluster member not found")
  }
  const name = typeof b.name === "string" && b.name !== "" ? b.name : instance.name
  const url = `/1.0/instances/${instance.name}`
  return startOperation(
    state,
    instance.project,
    {
      description: "Migrating instance",
      resources: { instances: [url], containers: [url.replace("instances", "containers")] }
    },
    Effect.suspend(() => {
      if (instance.location === member) {
        return Effect.fail(new OpFailure("Target must be different than instance's current location"))
      }
      if (instance.status !== "Stopped" && b.live !== false) {
        return Effect.fail(
          new OpFailure(
            `Failed stopping instance "${instance.name}": Unable to perform container live migration. CRIU isn't installed`
          )
        )
      }
      const taken = state.instances.get(key(instance.project, name))
      if (taken !== undefined && taken !== instance) return Effect.fail(new OpFailure(INSTANCE_EXISTS))
      state.instances.delete(key(instance.project, instance.name))
      instance.name = name
      instance.location = member
      state.instances.set(key(instance.project, name), instance)
      return Effect.void
    })
  )
}

/** @internal */
export const clusterRoutes = (state: FakeState): Array<Route> => {
  const names = membersOf(state)
  const relation = membership(state)
  const cluster = { server_name: names[0] ?? "", enabled: names.length > 0, member_config: null as unknown }
  const member = (name: string, i: number) => ({
    server_name: name,
    url: `https://10.0.0.${i + 1}:8443`,
    database: true,
    status: "Online",
    message: "Fully operational",
    architecture: "x86_64",
    failure_domain: "default",
    description: "",
    config: {},
    groups: ["default"],
    roles: i === 0 ? ["database-leader", "database"] : ["database"]
  })
  // what an evacuation did to each instance, so that the restore undoes it
  const evacuations = new Map<
    FakeInstance,
    { readonly from: string; readonly moved: boolean; readonly running: boolean }
  >()
  const setState = (name: string, action: "evacuate" | "restore", mode: string | undefined) =>
    Effect.suspend(() => {
      const entry = findEntry(state, ClusterMembers.spec, "default", [], name)
      if (entry === undefined) return Effect.fail(new OpFailure("Cluster member not found"))
      const evacuated = entry.value.status === "Evacuated"
      if (action === "evacuate" && evacuated) return Effect.fail(new OpFailure("Cluster member is already evacuated"))
      if (action === "restore" && !evacuated) return Effect.fail(new OpFailure("Cluster member is already restored"))
      if (action === "evacuate") {
        // each instance stopped, moved to the least-loaded member that is up and started there again (`auto`
        // and `migrate`, as 5.0.2 does on local storage), or only stopped (`stop`, or no member to take it)
        const others = entriesOf(state, ClusterMembers.spec).filter((m) =>
          m.name !== name && m.value.status === "Online"
        ).map((m) => m.name)
        for (const instance of [...state.instances.values()].filter((i) => i.location === name)) {
          const how = mode ?? instance.config["cluster.evacuate"] ?? "auto"
          const to = how === "stop" ? undefined : leastLoaded(state, others)
          evacuations.set(instance, { from: name, moved: to !== undefined, running: instance.status === "Running" })
          if (to === undefined) instance.status = "Stopped"
          else instance.location = to
        }
      } else {
        for (const [instance, done] of [...evacuations].filter(([, e]) => e.from === name)) {
          evacuations.delete(instance)
          if (state.instances.get(key(instance.project, instance.name)) !== instance) continue // deleted meanwhile
          if (done.moved) instance.location = name
          if (done.running) instance.status = "Running"
        }
      }
      entry.value = {
        ...entry.value,
        status: action === "evacuate" ? "Evacuated" : "Online",
        message: action === "evacuate" ? "Unavailable due to maintenance" : "Fully operational"
      }
      const change = action === "evacuate" ? "evacuated" : "restored"
      return lifecycle(state, "default", `cluster-member-${change}`, `/1.0/cluster/members/${encodeURIComponent(name)}`)
    })
  return [
    M.route("GET", "/cluster", () => ok(cluster, { etag: `"${hash(JSON.stringify(cluster))}"` })),
    M.route("PUT", "/cluster", (r) => {
      const b = body(r)
      if (b.enabled === true && names.length > 0) return fail(400, "This LXD instance is already clustered")
      return fail(400, "The fake cannot change its cluster: start it with `clusterMembers`")
    }),
    // a standalone LXD 5.0.2 answers its members' routes with 500 "Server is not clustered"
    ...(names.length > 0 ? [] : [
      M.route("GET", "/cluster/members", () => fail(500, "Server is not clustered")),
      M.route("*", "/cluster/members/:name", () => fail(500, "Server is not clustered"))
    ]),
    ...fakeCollection(state, ClusterMembers.spec, {
      label: "Cluster member",
      global: true,
      initial: names.map((name, i) => ({ value: member(name, i) })),
      vetoDelete: () =>
        entriesOf(state, ClusterMembers.spec).length <= 1
          ? M.error(400, "Member is the last one in the cluster")
          : undefined,
      vetoWrite: (_, entry, next) => {
        if (
          (entry.value.roles as ReadonlyArray<string>).includes("database") &&
          !(next.roles as ReadonlyArray<string> | undefined ?? []).includes("database")
        ) return M.error(400, `The "database" role cannot be dropped at this time`)
        const groups = strings(next.groups)
        if (groups.length === 0) return M.error(400, "Cluster members need to belong to at least one group")
        const known = relation.groups().map((g) => g.name)
        return groups.every((g) => known.includes(g)) ? undefined : M.error(
          404,
          "Update cluster groups: Failed to add member to cluster group: Failed to get cluster group ID: Cluster group not found"
        )
      },
      after: {
        updated: (entry) => relation.moveMember(entry.name, strings(entry.value.groups)),
        renamed: (entry, oldName) =>
          Effect.zipRight(
            Effect.sync(() => {
              // its instances stay on it, under its new name
              for (const i of state.instances.values()) if (i.location === oldName) i.location = entry.name
            }),
            relation.moveMember(entry.name, strings(entry.value.groups), oldName)
          ),
        deleted: (entry) => relation.moveMember(entry.name, [])
      }
    }),
    ...fakeCollection(state, ClusterGroups.spec, {
      label: "Cluster group",
      global: true,
      // a standalone 5.0.2 answers every groups request so
      parent: () => names.length === 0 ? M.error(400, "This server is not clustered") : undefined,
      initial: names.length === 0
        ? []
        : [{ value: { name: "default", description: "Default cluster group", members: [...names] } }],
      duplicate: (name, verb) =>
        M.error(500, verb === "create" ? "This cluster group already exists" : `Name "${name}" already in use`),
      vetoCreate: (_, value) =>
        relation.unknownMembers(value).length === 0
          ? undefined
          : M.error(500, "Insert nodes for cluster group: NOT NULL constraint failed: nodes_cluster_groups.node_id"),
      vetoWrite: (_, __, next) =>
        relation.unknownMembers(next).length === 0
          ? undefined
          : M.error(404, "Failed to get node info: Cluster member not found"),
      vetoRename: (_, entry) =>
        entry.name === "default" ? M.error(403, `The "default" group cannot be renamed`) : undefined,
      vetoDelete: (_, entry) =>
        entry.name === "default"
          ? M.error(403, "The 'default' cluster group cannot be deleted")
          : strings(entry.value.members).length > 0
          ? M.error(500, "Only empty cluster groups can be removed")
          : undefined,
      // 5.0.2's DELETE of a group that does not exist fails in its database layer
      resolve: (t) => t.request.method === "DELETE" ? M.error(500, "Query deleted 0 rows instead of 1") : undefined,
      // 5.0.2 emits no event when a group is deleted
      action: (change) => change === "deleted" ? undefined : `cluster-group-${change}`,
      after: {
        created: () => relation.syncMembers(),
        updated: () => relation.syncMembers(),
        renamed: () => relation.syncMembers()
      }
    }),
    M.route("POST", "/cluster/members", (r) => {
      const name = body(r).server_name
      if (typeof name !== "string" || name === "") return fail(400, "No name provided")
      if (names.length === 0) return fail(400, "This server is not clustered")
      if (findEntry(state, ClusterMembers.spec, "default", [], name) !== undefined) {
        return fail(409, "The cluster already has a member with name: " + name)
      }
      return startOperation(state, "default", {
        description: "Executing operation",
        class: "token",
        mayCancel: true,
        // LXD 5.0.2 sends a `null` list here; the fake keeps it, so clients are tested against it
        resources: { cluster: null } as unknown as Record<string, Array<string>>,
        metadata: {
          serverName: name,
          fingerprint: hash(`cluster ${names[0]}`),
          addresses: names.map((_, i) => `10.0.0.${i + 1}:8443`),
          secret: hash(`${name} ${now()}`),
          expiresAt: new Date(Date.now() + 3 * 3600_000).toISOString()
        }
      }, Effect.never)
    }),
    M.route("POST", "/cluster/members/:name/state", (r) => {
      const action = body(r).action
      if (action !== "evacuate" && action !== "restore") return fail(400, `Unknown action "${String(action)}"`)
      if (findEntry(state, ClusterMembers.spec, "default", [], r.params.name ?? "") === undefined) {
        return fail(404, "Cluster member not found")
      }
      return startOperation(state, "default", {
        description: action === "evacuate" ? "Evacuating cluster member" : "Restoring cluster member",
        mayCancel: false
      }, setState(r.params.name ?? "", action, typeof body(r).mode === "string" ? body(r).mode as string : undefined))
    })
  ]
}

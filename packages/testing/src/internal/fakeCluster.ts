/**
 * Clustering in the fake, as LXD 5.0.2 has it (measured on a three-member loopback cluster, lab-notes §5):
 * `GET`/`PUT /1.0/cluster`; the generated routes of `ClusterMembers.spec` (no create: a member joins with a
 * token; a rename's body is `{"server_name"}`), every member `Online`, "Fully operational", with the `database`
 * role; `POST …/members/{name}/state` evacuate → `Evacuated` / "Unavailable due to maintenance", restore →
 * `Online` (as operations; a second evacuate is 400); join tokens as `token` operations that run until
 * cancelled, with `"resources": {"cluster": null}` as LXD sends them. A fake is clustered when
 * `Options.clusterMembers` names its members; otherwise it is a standalone server (`enabled: false`; its
 * members' list and members answer 500 "Server is not clustered", as 5.0.2's do).
 *
 * @internal
 */
import * as ClusterMembers from "@effect-lxd/core/ClusterMembers"
import * as Effect from "effect/Effect"
import * as M from "../LxdMockTransport.js"
import { entriesOf, fakeCollection, findEntry } from "./fakeCollection.js"
import { type FakeState, hash, lifecycle, now, OpFailure, startOperation } from "./fakeCore.js"
import { body, fail, ok, type Route } from "./fakeHttp.js"

const membersOf = (state: FakeState): ReadonlyArray<string> => state.options.clusterMembers ?? []

/** @internal */
export const clusterRoutes = (state: FakeState): Array<Route> => {
  const names = membersOf(state)
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
  const setState = (name: string, action: "evacuate" | "restore") =>
    Effect.suspend(() => {
      const entry = findEntry(state, ClusterMembers.spec, "default", [], name)
      if (entry === undefined) return Effect.fail(new OpFailure("Cluster member not found"))
      const evacuated = entry.value.status === "Evacuated"
      if (action === "evacuate" && evacuated) return Effect.fail(new OpFailure("Cluster member is already evacuated"))
      if (action === "restore" && !evacuated) return Effect.fail(new OpFailure("Cluster member is already restored"))
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
      vetoWrite: (_, entry, next) =>
        (entry.value.roles as ReadonlyArray<string>).includes("database") &&
          !(next.roles as ReadonlyArray<string> | undefined ?? []).includes("database")
          ? M.error(400, `The "database" role cannot be dropped at this time`)
          : undefined
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
      }, setState(r.params.name ?? "", action))
    })
  ]
}

/**
 * Networks in the fake: the generated routes of the network specs (networks, forwards, ACLs, zones, records,
 * peers, load balancers) plus what is their own, as LXD 5.0.2 answers on the lab machines (lab notes §6):
 *
 * - networks: the host's `lo` (unmanaged: listed with `default`'s networks, not in a project with its own, its writes 404 `Failed loading network:
 *   Network not found`); a new one is a managed `bridge` (`status: Created`, `locations: ["none"]`), or in a
 *   project with `features.networks` an `ovn` one, which needs its uplink (`network`: 500 `Option "network" is
 *   required`); a bridge given no `ipv4.address`/`ipv6.address` gets a generated subnet with NAT, as LXD does
 *   where it finds a free one; `used_by` the instances and profiles with a NIC on it; rename and delete refused
 *   while in use (400); `state` computed from the config; `leases` the gateway and one dynamic lease per running
 *   instance with a NIC on the network;
 * - ACLs and zones: per project with `features.networks` (else `default`'s), rules checked as 5.0.2 checks them
 *   (action `allow`/`drop`/`reject`), `used_by` the networks (and NICs) that name them, delete and rename refused
 *   while in use (500), `log` only for an ACL an OVN network uses (500 `Only OVN log entries may be retrieved at
 *   this time`, as on a bridge);
 * - forwards: 409 `A forward for that listen address already exists`, 500 on a listen port used twice, and
 *   `If-Match` ignored (5.0.2 sends an ETag but never checks one on a forward's PUT or PATCH);
 * - peers and load balancers: only below an OVN network (400 `Network driver "bridge" does not support
 *   peering`, for every request, as LXD answers); a peer is `Created` once its target has one back, else
 *   `Pending`; a load balancer's `state` lists each backend's ports as `unknown`.
 *
 * @internal
 */
import * as NetworkAcls from "@effect-lxd/core/NetworkAcls"
import * as NetworkForwards from "@effect-lxd/core/NetworkForwards"
import * as NetworkLoadBalancers from "@effect-lxd/core/NetworkLoadBalancers"
import * as NetworkPeers from "@effect-lxd/core/NetworkPeers"
import * as Networks from "@effect-lxd/core/Networks"
import * as NetworkZoneRecords from "@effect-lxd/core/NetworkZoneRecords"
import * as NetworkZones from "@effect-lxd/core/NetworkZones"
import * as Effect from "effect/Effect"
import * as M from "../LxdMockTransport.js"
import { entriesOf, fakeCollection, findEntry, type Target, urlOf, type Veto } from "./fakeCollection.js"
import { type FakeEntry, type FakeInstance, type FakeState, hash, type Json } from "./fakeCore.js"
import { fail, isObject, ok, projectOf, type Route, strMap } from "./fakeHttp.js"
import { featureProject, profileOf } from "./fakeProfiles.js"

const networksProject = featureProject("features.networks")

const configOf = (value: Json) => strMap(value.config)

const instanceUrl = (i: FakeInstance) =>
  `/1.0/instances/${encodeURIComponent(i.name)}${i.project === "default" ? "" : `?project=${i.project}`}`

/** Every NIC of every instance (its own devices over its profiles') and of every profile. */
const nics = (state: FakeState) => {
  const out: Array<{ readonly url: string; readonly project: string; readonly device: Record<string, string> }> = []
  for (const i of state.instances.values()) {
    const expanded: Record<string, Record<string, string>> = {}
    for (const p of i.profiles) Object.assign(expanded, strMapOf(profileOf(state, i.project, p)?.value.devices))
    Object.assign(expanded, i.devices)
    const url = instanceUrl(i)
    for (const d of Object.values(expanded)) if (d.type === "nic") out.push({ url, project: i.project, device: d })
  }
  return out
}

const strMapOf = (u: unknown): Record<string, Record<string, string>> =>
  isObject(u) ? Object.fromEntries(Object.entries(u).map(([k, v]) => [k, strMap(v)])) : {}

/** The running instances with a NIC (their own or a profile's) on the network. */
const runningOn = (state: FakeState, network: FakeEntry) => {
  const urls = new Set(usedBy(state, network))
  return [...state.instances.values()].filter((i) =>
    i.status === "Running" &&
    urls.has(instanceUrl(i))
  )
}

const usedBy = (
  state: FakeState,
  network: FakeEntry
) => [
  ...new Set(
    nics(state).filter((n) =>
      networksProject(state, n.project) === network.project && n.device.network === network.name
    ).map((n) => n.url)
  )
]

const networkOf = (t: Target) => findEntry(t.state, Networks.spec, projectOf(t.request), [], t.parents[0] ?? "")

const unmanaged = (entry: FakeEntry): Veto =>
  entry.value.managed === true ? undefined : M.error(404, "Failed loading network: Network not found")

/** A generated subnet for a bridge given none (`auto`), as LXD picks one it finds unused. */
const autoConfig = (state: FakeState, name: string, config: Record<string, string>) => {
  const n = parseInt(hash(name).slice(0, 4), 16)
  return {
    ...(config["ipv4.address"] === undefined
      ? { "ipv4.address": `10.${(n >> 8) % 256}.${n % 256}.1/24`, "ipv4.nat": "true" }
      : {}),
    ...(config["ipv6.address"] === undefined
      ? { "ipv6.address": `fd42:${n.toString(16)}:${state.counters.names.toString(16)}::1/64`, "ipv6.nat": "true" }
      : {})
  }
}

/** The interface's addresses, from `ipv4.address`/`ipv6.address` (`none` and `auto` have none). */
const addressesOf = (config: Record<string, string>) =>
  (["ipv4.address", "ipv6.address"] as const).flatMap((key) => {
    const value = config[key]
    if (value === undefined || value === "none" || !value.includes("/")) return []
    const [address, netmask] = value.split("/") as [string, string]
    return [{ family: key === "ipv4.address" ? "inet" : "inet6", address, netmask, scope: "global" }]
  })

const hwaddrOf = (name: string) => `00:16:3e:${hash(name).slice(0, 6).match(/../g)!.join(":")}`

const networksRoutes = (state: FakeState): Array<Route> => [
  ...fakeCollection(state, Networks.spec, {
    label: "Network",
    initial: [{
      value: { name: "lo", type: "loopback", managed: false, description: "", config: {}, status: "", locations: null }
    }],
    project: networksProject,
    // host interfaces are listed wherever default's networks are (a project without features.networks too)
    visible: (t, entry) => entry.value.managed === true || t.project === "default",
    computed: (state, entry) => ({ used_by: usedBy(state, entry) }),
    defaults: (t, value) => {
      const type = typeof value.type === "string" && value.type !== "" ? value.type : t.project === "default"
        ? "bridge"
        : "ovn"
      const config = configOf(value)
      return {
        type,
        managed: true,
        status: "Created",
        locations: ["none"],
        config: type === "bridge" ? autoConfig(t.state, String(value.name), config) : {}
      }
    },
    vetoCreate: (t, value) =>
      t.project !== "default" && value.type !== "ovn"
        ? M.error(400, "Network type does not support non-default projects")
        : value.type === "ovn" && configOf(value).network === undefined
        ? M.error(500, "Option \"network\" is required")
        : undefined,
    vetoWrite: (_, entry) => unmanaged(entry),
    vetoRename: (t, entry) =>
      unmanaged(entry) ?? (usedBy(t.state, entry).length > 0 ? M.error(400, "Network is currently in use") : undefined),
    vetoDelete: (t, entry) =>
      unmanaged(entry) ??
        (usedBy(t.state, entry).length > 0 ? M.error(400, "The network is currently in use") : undefined)
  }),
  M.route("GET", "/networks/:name/state", (r) => {
    const entry = findEntry(state, Networks.spec, projectOf(r), [], r.params.name ?? "")
    if (entry === undefined) return fail(404, `Network interface "${r.params.name}" not found`)
    const bridge = entry.value.type === "bridge"
    return ok({
      addresses: addressesOf(configOf(entry.value)),
      counters: { bytes_received: 0, bytes_sent: 0, packets_received: 0, packets_sent: 0 },
      hwaddr: entry.value.type === "loopback" ? "" : hwaddrOf(entry.name),
      mtu: entry.value.type === "loopback" ? 65536 : 1500,
      state: "up",
      type: entry.value.type === "loopback" ? "loopback" : "broadcast",
      bond: null,
      bridge: bridge
        ? {
          id: `8000.${hwaddrOf(entry.name).replace(/:/g, "")}`,
          stp: false,
          forward_delay: 1500,
          vlan_default: 0,
          vlan_filtering: false,
          upper_devices: runningOn(state, entry).map((i) => `veth${hash(i.name).slice(0, 8)}`)
        }
        : null,
      vlan: null,
      ovn: entry.value.type === "ovn" ? { chassis: "fake" } : null
    })
  }),
  M.route("GET", "/networks/:name/leases", (r) => {
    const entry = findEntry(state, Networks.spec, projectOf(r), [], r.params.name ?? "")
    if (entry === undefined || entry.value.managed !== true) {
      return fail(404, "Failed loading network: Network not found")
    }
    const gateways = addressesOf(configOf(entry.value)).map((a) => ({
      hostname: `${entry.name}.gw`,
      hwaddr: "",
      address: a.address,
      type: "gateway",
      location: ""
    }))
    const v4 = addressesOf(configOf(entry.value)).find((a) => a.family === "inet")
    const dynamic = v4 === undefined ? [] : runningOn(state, entry).map((i, n) => ({
      hostname: i.name,
      hwaddr: hwaddrOf(i.name),
      address: v4.address.replace(/\.\d+$/, `.${n + 10}`),
      type: "dynamic",
      location: "none"
    }))
    return ok([...gateways, ...dynamic])
  })
]

/** The names in a comma list (`security.acls`). */
const listOf = (value: string | undefined) => (value ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "")

/** The URLs of the networks (and NICs) whose `key` names `name`, in the project an ACL or a zone lives in. */
const namedBy = (state: FakeState, entry: FakeEntry, keys: ReadonlyArray<string>, withNics: boolean) => [
  ...entriesOf(state, Networks.spec, entry.project).filter((n) =>
    keys.some((k) => listOf(configOf(n.value)[k]).includes(entry.name))
  ).map((n) => urlOf(Networks.spec, n)),
  ...(withNics
    ? nics(state).filter((n) =>
      networksProject(state, n.project) === entry.project && listOf(n.device["security.acls"]).includes(entry.name)
    ).map((n) => n.url)
    : [])
]

const ACTIONS = ["allow", "drop", "reject"]
const STATES = ["enabled", "disabled", "logged"]

/** 5.0.2's checks of an ACL's rules (`Invalid ingress rule 0: …`). */
const badRule = (value: Json): Veto => {
  for (const direction of ["ingress", "egress"] as const) {
    const rules = Array.isArray(value[direction]) ? value[direction] as Array<unknown> : []
    for (const [i, rule] of rules.entries()) {
      const r = isObject(rule) ? rule : {}
      if (!ACTIONS.includes(String(r.action))) {
        return M.error(500, `Invalid ${direction} rule ${i}: Action must be one of: ${ACTIONS.join(", ")}`)
      }
      if (!STATES.includes(String(r.state ?? ""))) {
        return M.error(500, `Invalid ${direction} rule ${i}: State must be one of: ${STATES.join(", ")}`)
      }
    }
  }
  return undefined
}

const inUse = (what: string, verb: string) => (t: Target, entry: FakeEntry, keys: ReadonlyArray<string>) =>
  namedBy(t.state, entry, keys, what === "ACL").length > 0
    ? M.error(500, `Cannot ${verb} ${what === "ACL" ? "an ACL" : "a zone"} that is in use`)
    : undefined

const ACL_KEYS = ["security.acls"]
const ZONE_KEYS = ["dns.zone.forward", "dns.zone.reverse.ipv4", "dns.zone.reverse.ipv6"]

const aclRoutes = (state: FakeState): Array<Route> => [
  ...fakeCollection(state, NetworkAcls.spec, {
    label: "Network ACL",
    project: networksProject,
    computed: (state, entry) => ({ used_by: namedBy(state, entry, ACL_KEYS, true) }),
    vetoCreate: (_, value) => badRule(value),
    vetoWrite: (_, __, next) => badRule(next),
    vetoRename: (t, entry) => inUse("ACL", "rename")(t, entry, ACL_KEYS),
    vetoDelete: (t, entry) => inUse("ACL", "delete")(t, entry, ACL_KEYS)
  }),
  M.route("GET", "/network-acls/:name/log", (r) => {
    const entry = findEntry(state, NetworkAcls.spec, projectOf(r), [], r.params.name ?? "")
    if (entry === undefined) return fail(404, "Network ACL not found")
    const onOvn = entriesOf(state, Networks.spec, entry.project).some((n) =>
      n.value.type === "ovn" && listOf(configOf(n.value)["security.acls"]).includes(entry.name)
    )
    return onOvn
      ? Effect.succeed(M.raw(""))
      : fail(500, "Only OVN log entries may be retrieved at this time")
  })
]

const zoneRoutes = (state: FakeState): Array<Route> => [
  ...fakeCollection(state, NetworkZones.spec, {
    label: "Network zone",
    project: networksProject,
    computed: (state, entry) => ({ used_by: namedBy(state, entry, ZONE_KEYS, false) }),
    vetoDelete: (t, entry) => inUse("zone", "delete")(t, entry, ZONE_KEYS)
  }),
  ...fakeCollection(state, NetworkZoneRecords.spec, { label: "Network zone record" })
]

/** Below a network of the given driver only: what LXD answers for every request below another kind. */
const onlyBelow = (feature: string) => (t: Target): Veto => {
  const network = networkOf(t)
  if (network === undefined) return M.error(404, "Network not found")
  return network.value.type === "ovn"
    ? undefined
    : M.error(400, `Network driver "${String(network.value.type)}" does not support ${feature}`)
}

const forwardRoutes = (state: FakeState): Array<Route> =>
  fakeCollection(state, NetworkForwards.spec, {
    label: "Network forward",
    computed: () => ({ location: "none" }),
    duplicate: (_, verb) =>
      verb === "create"
        ? M.error(409, "Failed creating forward: A forward for that listen address already exists")
        : undefined,
    vetoCreate: (_, value) => duplicatePort("creating", value),
    vetoWrite: (_, __, next) => duplicatePort("updating", next)
  })

/** 5.0.2's 500 for a listen port two mappings of one protocol share. */
const duplicatePort = (verb: string, value: Json): Veto => {
  const ports = Array.isArray(value.ports) ? value.ports.filter(isObject) : []
  const seen = new Set<string>()
  for (const [i, p] of ports.entries()) {
    for (const port of String(p.listen_port).split(",")) {
      const key = `${String(p.protocol)}/${port.trim()}`
      if (seen.has(key)) {
        return M.error(
          500,
          `Failed ${verb} forward: Duplicate listen port ${port.trim()} for protocol "${
            String(p.protocol)
          }" in port specification ${i}`
        )
      }
      seen.add(key)
    }
  }
  return undefined
}

const peerRoutes = (state: FakeState): Array<Route> =>
  fakeCollection(state, NetworkPeers.spec, {
    label: "Network peer",
    parent: onlyBelow("peering"),
    defaults: (t) => ({ target_project: t.project }),
    computed: (state, entry) => {
      const back = entriesOf(state, NetworkPeers.spec, String(entry.value.target_project), [
        String(entry.value.target_network)
      ]).some((p) => p.value.target_network === entry.parents[0] && p.value.target_project === entry.project)
      return { status: back ? "Created" : "Pending", used_by: [] }
    }
  })

const loadBalancerRoutes = (state: FakeState): Array<Route> => [
  ...fakeCollection(state, NetworkLoadBalancers.spec, {
    label: "Network load balancer",
    parent: onlyBelow("load balancers"),
    computed: () => ({ location: "none" })
  }),
  M.route("GET", "/networks/:network/load-balancers/:address/state", (r) => {
    const entry = findEntry(
      state,
      NetworkLoadBalancers.spec,
      projectOf(r),
      [r.params.network ?? ""],
      r.params.address ?? ""
    )
    if (entry === undefined) return fail(404, "Network load balancer not found")
    const backends = Array.isArray(entry.value.backends) ? entry.value.backends.filter(isObject) : []
    const ports = Array.isArray(entry.value.ports) ? entry.value.ports.filter(isObject) : []
    return ok({
      backend_health: Object.fromEntries(backends.map((b) => [String(b.name), {
        address: String(b.target_address),
        ports: ports.filter((p) => Array.isArray(p.target_backend) && p.target_backend.includes(b.name)).map((p) => ({
          protocol: String(p.protocol),
          port: Number(String(p.listen_port).split(/[,-]/)[0]),
          status: "unknown"
        }))
      }]))
    })
  })
]

/** @internal */
export const networkRoutes = (state: FakeState): Array<Route> => [
  ...networksRoutes(state),
  ...forwardRoutes(state),
  ...peerRoutes(state),
  ...loadBalancerRoutes(state),
  ...aclRoutes(state),
  ...zoneRoutes(state)
]

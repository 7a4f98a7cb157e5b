/**
 * What the network modules have beyond the collection checklist (collections.test.ts): networks' `state` and
 * `leases`, an ACL's `log`, a load balancer's `state`, a forward's `addPort`/`removePort` (read-modify-write
 * with the ETag), `withTarget`; and the same modules on the fake (peers and load balancers below an OVN network).
 */
import {
  Instances,
  Lxd,
  LxdClient,
  NetworkAcls,
  NetworkForwards,
  NetworkLoadBalancers,
  NetworkPeers,
  Networks,
  NetworkZoneRecords,
  NetworkZones
} from "@effect-lxd/core"
import { LxdFakeServer, LxdMockTransport } from "@effect-lxd/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { mockLayer, serverInfo } from "./helpers.js"

const { error, raw, route, sync } = LxdMockTransport

const NETWORK_EXTENSIONS = ["etag", "network", "network_state", "network_leases", "network_forward", "network_acl"]

/** A mock serving `routes`, the server advertising `extensions`; its requests recorded. */
const mock = (
  routes: ReadonlyArray<LxdMockTransport.Route<LxdMockTransport.Handler>>,
  extensions: ReadonlyArray<string> = NETWORK_EXTENSIONS
) =>
  mockLayer({
    routes: [route("GET", "", () => Effect.succeed(sync(serverInfo(extensions)))), ...routes]
  })

const requests = Effect.flatMap(LxdMockTransport.MockTransport, (m) => m.requests).pipe(
  Effect.map((rs) => rs.map((r) => `${r.method} /1.0${r.path}`))
)

// `GET /1.0/networks/netbr0/state` and `…/leases` on LXD 5.0.2, a container on the bridge holding a lease
const STATE = {
  addresses: [{ family: "inet", address: "10.213.0.1", netmask: "24", scope: "global" }],
  counters: { bytes_received: 1088, bytes_sent: 686, packets_received: 8, packets_sent: 2 },
  hwaddr: "00:16:3e:3d:4d:98",
  mtu: 1500,
  state: "up",
  type: "broadcast",
  bond: null,
  bridge: {
    id: "8000.00163e3d4d98",
    stp: false,
    forward_delay: 1500,
    vlan_default: 0,
    vlan_filtering: false,
    upper_devices: ["veth488bf277"]
  },
  vlan: null,
  ovn: null,
  a_field_from_the_future: true
}
const LEASES = [
  { hostname: "netbr0.gw", hwaddr: "", address: "10.213.0.1", type: "gateway", location: "" },
  { hostname: "n1", hwaddr: "00:16:3e:9b:09:0e", address: "10.213.0.6", type: "dynamic", location: "none" }
]

describe("Networks against the mock", () => {
  it.effect("state decodes 5.0.2's answer: addresses, counters, the bridge part, null bond/vlan/ovn", () =>
    Effect.gen(function*() {
      const state = yield* Effect.flatMap(Networks.Networks, (n) => n.state("netbr0"))
      expect(state.addresses[0]).toEqual({ family: "inet", address: "10.213.0.1", netmask: "24", scope: "global" })
      expect(state.counters.packets_received).toBe(8)
      expect(state.bridge?.upper_devices).toEqual(["veth488bf277"])
      expect([state.bond, state.vlan, state.ovn]).toEqual([null, null, null])
      expect(state).not.toHaveProperty("a_field_from_the_future")
    }).pipe(Effect.provide(mock([route("GET", "/networks/:n/state", () => Effect.succeed(sync(STATE)))]))))

  it.effect("state of an interface without the per-kind parts (an older server leaves them out)", () =>
    Effect.gen(function*() {
      const state = yield* Effect.flatMap(Networks.Networks, (n) => n.state("lo"))
      expect([state.bond, state.bridge, state.vlan, state.ovn]).toEqual([null, null, null, null])
      expect(state.mtu).toBe(1500)
    }).pipe(Effect.provide(mock([
      route("GET", "/networks/:n/state", () => {
        const { bond: _b, bridge: _r, ovn: _o, vlan: _v, ...older } = STATE
        return Effect.succeed(sync(older))
      })
    ]))))

  it.effect("leases decode (the gateway and a dynamic lease); a Go null list is []", () =>
    Effect.gen(function*() {
      const networks = yield* Networks.Networks
      const leases = yield* networks.leases("netbr0")
      expect(leases.map((l) => [l.type, l.hostname, l.address])).toEqual([
        ["gateway", "netbr0.gw", "10.213.0.1"],
        ["dynamic", "n1", "10.213.0.6"]
      ])
      expect(yield* networks.leases("empty")).toEqual([])
    }).pipe(Effect.provide(mock([
      route("GET", "/networks/netbr0/leases", () => Effect.succeed(sync(LEASES))),
      route("GET", "/networks/empty/leases", () => Effect.succeed(sync(null)))
    ]))))

  it.effect("state and leases need their extensions: APIExtensionNotAvailable, nothing sent but GET /1.0", () =>
    Effect.gen(function*() {
      const networks = yield* Networks.Networks
      const state = yield* Effect.flip(networks.state("netbr0"))
      const leases = yield* Effect.flip(networks.leases("netbr0"))
      expect(state).toMatchObject({ _tag: "APIExtensionNotAvailable", extension: "network_state" })
      expect(leases).toMatchObject({ _tag: "APIExtensionNotAvailable", extension: "network_leases" })
      expect(yield* requests).toEqual(["GET /1.0"])
    }).pipe(Effect.provide(mock([], ["network"]))))

  it.effect("state and leases: a bad name is InvalidArgument with nothing sent", () =>
    Effect.gen(function*() {
      const networks = yield* Networks.Networks
      expect((yield* Effect.flip(networks.state("a/b")))._tag).toBe("InvalidArgument")
      expect((yield* Effect.flip(networks.leases("sixteen-chars-xx")))._tag).toBe("InvalidArgument")
      expect(yield* requests).toEqual([])
    }).pipe(Effect.provide(mock([]))))

  it.effect("an unmanaged network's leases: LXD's 404 is NotFound", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(Effect.flatMap(Networks.Networks, (n) => n.leases("lo")))
      expect(e).toMatchObject({ _tag: "NotFound", message: "Failed loading network: Network not found" })
    }).pipe(Effect.provide(mock([
      route("GET", "/networks/lo/leases", () => Effect.succeed(error(404, "Failed loading network: Network not found")))
    ]))))

  it.effect("withTarget puts ?target= on a create (a member's pending network in a cluster)", () =>
    Effect.gen(function*() {
      const networks = yield* Networks.Networks
      yield* LxdClient.withTarget(
        networks.create({ name: "br0", config: { "bridge.external_interfaces": "eth1" } }),
        "m1"
      )
      const mockT = yield* LxdMockTransport.MockTransport
      const post = (yield* mockT.requests).find((r) => r.method === "POST")!
      expect(post.query.target).toBe("m1")
    }).pipe(Effect.provide(mock([
      route("POST", "/networks", () => Effect.succeed(sync(null, { location: "/1.0/networks/br0" })))
    ]))))
})

describe("NetworkAcls.log and NetworkLoadBalancers.state against the mock", () => {
  it.effect("log is the text LXD sends, not an envelope", () =>
    Effect.gen(function*() {
      const log = yield* Effect.flatMap(NetworkAcls.NetworkAcls, (a) => a.log("web"))
      expect(log).toBe("2026-12-01T10:00:00Z ovn-controller ACL web allow\n")
    }).pipe(Effect.provide(mock([
      route("GET", "/network-acls/web/log", () =>
        Effect.succeed(raw("2026-12-01T10:00:00Z ovn-controller ACL web allow\n")))
    ], [...NETWORK_EXTENSIONS, "network_acl_log"]))))

  it.effect("log on a bridge: 5.0.2's 500 is LxdApiError; without network_acl_log nothing is sent", () =>
    Effect.gen(function*() {
      const acls = yield* NetworkAcls.NetworkAcls
      const e = yield* Effect.flip(acls.log("web"))
      expect(e).toMatchObject({ _tag: "LxdApiError", message: "Only OVN log entries may be retrieved at this time" })
    }).pipe(Effect.provide(mock([
      route(
        "GET",
        "/network-acls/web/log",
        () => Effect.succeed(error(500, "Only OVN log entries may be retrieved at this time"))
      )
    ], [...NETWORK_EXTENSIONS, "network_acl_log"]))))

  it.effect("log needs network_acl_log: nothing sent but GET /1.0", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(Effect.flatMap(NetworkAcls.NetworkAcls, (a) => a.log("web")))
      expect(e).toMatchObject({ _tag: "APIExtensionNotAvailable", extension: "network_acl_log" })
      expect(yield* requests).toEqual(["GET /1.0"])
    }).pipe(Effect.provide(mock([]))))

  it.effect("a load balancer's state: backend health by backend name", () =>
    Effect.gen(function*() {
      const state = yield* Effect.flatMap(
        NetworkLoadBalancers.NetworkLoadBalancers,
        (l) => l.state("ovn1", "192.0.2.10")
      )
      expect(state.backend_health["c1-http"]).toEqual({
        address: "10.0.0.5",
        ports: [{ protocol: "tcp", port: 80, status: "up" }]
      })
    }).pipe(Effect.provide(mock([
      route("GET", "/networks/ovn1/load-balancers/192.0.2.10/state", () =>
        Effect.succeed(sync({
          backend_health: { "c1-http": { address: "10.0.0.5", ports: [{ protocol: "tcp", port: 80, status: "up" }] } }
        })))
    ], ["network", "network_load_balancer", "network_load_balancer_state"]))))

  it.effect("on 5.0.2's extensions every load balancer call is APIExtensionNotAvailable, nothing else sent", () =>
    Effect.gen(function*() {
      const lbs = yield* NetworkLoadBalancers.NetworkLoadBalancers
      const calls = [
        lbs.list("netbr0"),
        lbs.get("netbr0", "192.0.2.10"),
        lbs.create("netbr0", { listen_address: "192.0.2.10" }),
        lbs.update("netbr0", "192.0.2.10", { description: "x" }),
        lbs.delete("netbr0", "192.0.2.10"),
        lbs.state("netbr0", "192.0.2.10")
      ]
      for (const call of calls) {
        expect(yield* Effect.flip(call)).toMatchObject({
          _tag: "APIExtensionNotAvailable",
          extension: "network_load_balancer"
        })
      }
      expect(yield* requests).toEqual(["GET /1.0"])
    }).pipe(Effect.provide(mock([], NETWORK_EXTENSIONS))))
})

const FORWARD = {
  description: "",
  config: {},
  ports: [{ description: "", protocol: "tcp", listen_port: "8080", target_port: "80", target_address: "10.213.0.5" }],
  listen_address: "10.213.0.200",
  location: "none",
  a_field_from_the_future: 1
}

/** A mock forward at `/networks/netbr0/forwards/10.213.0.200`, its PUTs recorded; `put` answers them. */
const forwardMock = (put: () => LxdMockTransport.MockResponse = () => sync({})) =>
  mock([
    route("GET", "/networks/netbr0/forwards/10.213.0.200", () => Effect.succeed(sync(FORWARD, { etag: "\"e1\"" }))),
    route("PUT", "/networks/netbr0/forwards/10.213.0.200", () => Effect.succeed(put()))
  ])

const lastPut = Effect.flatMap(LxdMockTransport.MockTransport, (m) => m.requests).pipe(
  Effect.map((rs) => rs.filter((r) => r.method === "PUT").at(-1))
)

describe("NetworkForwards.addPort / removePort", () => {
  const ssh = { protocol: "tcp", listen_port: "2222", target_address: "10.213.0.6", target_port: "22" } as const

  it.effect("addPort: GET, then PUT of the ports with it added, the GET's ETag, unknown fields kept", () =>
    Effect.gen(function*() {
      const forwards = yield* NetworkForwards.NetworkForwards
      expect(yield* forwards.addPort("netbr0", "10.213.0.200", ssh)).toBe(true)
      // the second GET: 5.0.2 ignores If-Match on forwards, so the client compares the ETag itself
      expect(yield* requests).toEqual([
        "GET /1.0",
        "GET /1.0/networks/netbr0/forwards/10.213.0.200",
        "GET /1.0/networks/netbr0/forwards/10.213.0.200",
        "PUT /1.0/networks/netbr0/forwards/10.213.0.200"
      ])
      const put = (yield* lastPut)!
      expect(put.headers["if-match"]).toBe("\"e1\"")
      const body = put.body as Record<string, unknown>
      expect(body.ports).toEqual([FORWARD.ports[0], { description: "", ...ssh }])
      expect(body).not.toHaveProperty("listen_address")
      expect(body).not.toHaveProperty("location")
      expect(body.a_field_from_the_future).toBe(1)
    }).pipe(Effect.provide(forwardMock())))

  it.effect("addPort of a mapping that is there already writes nothing", () =>
    Effect.gen(function*() {
      const forwards = yield* NetworkForwards.NetworkForwards
      const same = { protocol: "tcp", listen_port: "8080", target_address: "10.213.0.5", target_port: "80" } as const
      expect(yield* forwards.addPort("netbr0", "10.213.0.200", same)).toBe(false)
      expect(yield* lastPut).toBeUndefined()
    }).pipe(Effect.provide(forwardMock())))

  it.effect("addPort of a port another mapping listens on (a range covering it) is InvalidArgument, no PUT", () =>
    Effect.gen(function*() {
      const forwards = yield* NetworkForwards.NetworkForwards
      const clash = { protocol: "tcp", listen_port: "8000-8090", target_address: "10.213.0.7" } as const
      const e = yield* Effect.flip(forwards.addPort("netbr0", "10.213.0.200", clash))
      expect(e).toMatchObject({ _tag: "InvalidArgument", argument: "port" })
      expect(yield* lastPut).toBeUndefined()
      // the same port over udp is another mapping
      const udp = { ...clash, protocol: "udp" } as const
      expect(yield* forwards.addPort("netbr0", "10.213.0.200", udp)).toBe(true)
    }).pipe(Effect.provide(forwardMock())))

  it.effect("addPort of something that is not a port mapping is InvalidArgument with nothing sent", () =>
    Effect.gen(function*() {
      const forwards = yield* NetworkForwards.NetworkForwards
      const junk = { protocol: 6, listen_port: 80 } as unknown as NetworkForwards.NetworkForwardPort
      expect((yield* Effect.flip(forwards.addPort("netbr0", "10.213.0.200", junk)))._tag).toBe("InvalidArgument")
      expect((yield* Effect.flip(forwards.addPort("netbr0", "not an ip", ssh)))._tag).toBe("InvalidArgument")
      expect(yield* requests).toEqual([])
    }).pipe(Effect.provide(forwardMock())))

  it.effect("a concurrent change: the PUT's 412 is PreconditionFailed", () =>
    Effect.gen(function*() {
      const forwards = yield* NetworkForwards.NetworkForwards
      const e = yield* Effect.flip(forwards.addPort("netbr0", "10.213.0.200", ssh))
      expect(e._tag).toBe("PreconditionFailed")
    }).pipe(Effect.provide(forwardMock(() => error(412, "ETag doesn't match")))))

  it.effect("a change between the read and the write (the ETag read again differs): PreconditionFailed, no PUT", () =>
    Effect.gen(function*() {
      const forwards = yield* NetworkForwards.NetworkForwards
      const e = yield* Effect.flip(forwards.addPort("netbr0", "10.213.0.200", ssh))
      expect(e).toMatchObject({ _tag: "PreconditionFailed", status: 412 })
      expect(yield* lastPut).toBeUndefined()
    }).pipe(Effect.provide((() => {
      let reads = 0
      return mock([
        route(
          "GET",
          "/networks/netbr0/forwards/10.213.0.200",
          () => Effect.succeed(sync(FORWARD, { etag: reads++ === 0 ? "\"e1\"" : "\"e2\"" }))
        ),
        route("PUT", "/networks/netbr0/forwards/10.213.0.200", () => Effect.succeed(sync({})))
      ])
    })())))

  it.effect("removePort: PUT without the mapping; none there: false, nothing written", () =>
    Effect.gen(function*() {
      const forwards = yield* NetworkForwards.NetworkForwards
      expect(yield* forwards.removePort("netbr0", "10.213.0.200", { protocol: "udp", listen_port: "8080" })).toBe(false)
      expect(yield* lastPut).toBeUndefined()
      expect(yield* forwards.removePort("netbr0", "10.213.0.200", { protocol: "tcp", listen_port: "8080" })).toBe(true)
      const put = (yield* lastPut)!
      expect((put.body as { ports: unknown }).ports).toEqual([])
      expect(put.headers["if-match"]).toBe("\"e1\"")
    }).pipe(Effect.provide(forwardMock())))
})

const Fake = (extensions?: ReadonlyArray<string>) =>
  Lxd.layer.pipe(Layer.provide(LxdFakeServer.layer(extensions === undefined ? {} : { extensions })))

describe("networks on the fake", () => {
  const bridge = { name: "netbr0", config: { "ipv4.address": "10.213.0.1/24", "ipv6.address": "none" } }

  it.effect("a bridge by default (managed, Created), lo unmanaged; state and leases from its config", () =>
    Effect.gen(function*() {
      const networks = yield* Networks.Networks
      expect(yield* networks.create(bridge)).toBe("netbr0")
      const got = yield* networks.get("netbr0")
      expect(got).toMatchObject({ type: "bridge", managed: true, description: "", status: "Created" })
      expect(got.config).toEqual(bridge.config)
      expect((yield* networks.get("lo")).managed).toBe(false)
      const state = yield* networks.state("netbr0")
      expect(state.addresses).toEqual([{ family: "inet", address: "10.213.0.1", netmask: "24", scope: "global" }])
      expect((yield* networks.leases("netbr0")).map((l) => l.type)).toEqual(["gateway"])
      expect((yield* Effect.flip(networks.leases("lo")))._tag).toBe("NotFound")
      expect((yield* Effect.flip(networks.delete("lo")))._tag).toBe("NotFound")
    }).pipe(Effect.provide(Fake())))

  it.effect("a running instance with a NIC on the bridge: used_by, a dynamic lease, its veth, in-use refusals", () =>
    Effect.gen(function*() {
      const networks = yield* Networks.Networks
      const instances = yield* Instances.Instances
      yield* networks.create(bridge)
      yield* instances.create({
        name: "c1",
        source: { type: "image", alias: "busybox" },
        devices: { eth0: { type: "nic", network: "netbr0", name: "eth0" } }
      })
      yield* instances.start("c1")
      expect((yield* networks.get("netbr0")).used_by.map((u) => u.url)).toEqual(["/1.0/instances/c1"])
      const leases = yield* networks.leases("netbr0")
      expect(leases.map((l) => [l.type, l.hostname])).toEqual([["gateway", "netbr0.gw"], ["dynamic", "c1"]])
      expect((yield* networks.state("netbr0")).bridge?.upper_devices.length).toBe(1)
      expect(yield* Effect.flip(networks.delete("netbr0"))).toMatchObject({
        _tag: "BadRequest",
        message: "The network is currently in use"
      })
      expect((yield* Effect.flip(networks.rename("netbr0", "netbr1")))._tag).toBe("BadRequest")
    }).pipe(Effect.provide(Fake())))

  it.effect("peers: 400 below a bridge; CRUD below OVN networks, Created once both sides peer", () =>
    Effect.gen(function*() {
      const networks = yield* Networks.Networks
      const peers = yield* NetworkPeers.NetworkPeers
      yield* networks.create(bridge)
      const onBridge = yield* Effect.flip(peers.create("netbr0", { name: "p", target_network: "x" }))
      expect(onBridge).toMatchObject({
        _tag: "BadRequest",
        message: "Network driver \"bridge\" does not support peering"
      })
      expect((yield* Effect.flip(peers.list("netbr0")))._tag).toBe("BadRequest")
      for (const name of ["netov1", "netov2"]) {
        yield* networks.create({ name, type: "ovn", config: { network: "netbr0" } })
      }
      yield* peers.create("netov1", { name: "to2", target_network: "netov2", description: "one way" })
      expect((yield* peers.get("netov1", "to2")).status).toBe("Pending")
      yield* peers.create("netov2", { name: "to1", target_network: "netov1" })
      expect(yield* peers.get("netov1", "to2")).toMatchObject({
        status: "Created",
        target_project: "default",
        description: "one way"
      })
      const { etag } = yield* peers.getWithEtag("netov1", "to2")
      yield* peers.update("netov1", "to2", { config: { "user.k": "v" } }, { etag })
      expect((yield* Effect.flip(peers.update("netov1", "to2", { description: "x" }, { etag })))._tag).toBe(
        "PreconditionFailed"
      )
      yield* peers.delete("netov1", "to2")
      expect(yield* peers.listNames("netov1")).toEqual([])
    }).pipe(Effect.provide(Fake())))

  it.effect("load balancers (network_load_balancer given): below OVN only, backends and ports, state", () =>
    Effect.gen(function*() {
      const networks = yield* Networks.Networks
      const lbs = yield* NetworkLoadBalancers.NetworkLoadBalancers
      yield* networks.create(bridge)
      yield* networks.create({ name: "netov1", type: "ovn", config: { network: "netbr0" } })
      const onBridge = yield* Effect.flip(lbs.create("netbr0", { listen_address: "10.213.0.100" }))
      expect(onBridge._tag).toBe("BadRequest")
      yield* lbs.create("netov1", {
        listen_address: "10.213.0.100",
        backends: [{ name: "c1-http", target_address: "10.213.0.5", target_port: "80" }],
        ports: [{ protocol: "tcp", listen_port: "80", target_backend: ["c1-http"] }]
      })
      expect((yield* lbs.list("netov1")).map((l) => l.listen_address)).toEqual(["10.213.0.100"])
      const state = yield* lbs.state("netov1", "10.213.0.100")
      expect(state.backend_health["c1-http"]).toEqual({
        address: "10.213.0.5",
        ports: [{ protocol: "tcp", port: 80, status: "unknown" }]
      })
      yield* lbs.modify("netov1", "10.213.0.100", (lb) => ({ ...lb, backends: [], ports: [] }))
      expect((yield* lbs.get("netov1", "10.213.0.100")).backends).toEqual([])
      yield* lbs.delete("netov1", "10.213.0.100")
      expect(yield* lbs.exists("netov1", "10.213.0.100")).toBe(false)
    }).pipe(
      Effect.provide(Fake([...LxdFakeServer.defaultExtensions, "network_load_balancer", "network_load_balancer_state"]))
    ))

  it.effect("the fake without network_load_balancer (5.0.2): refused with nothing sent", () =>
    Effect.gen(function*() {
      const lbs = yield* NetworkLoadBalancers.NetworkLoadBalancers
      expect(yield* Effect.flip(lbs.list("netbr0"))).toMatchObject({ _tag: "APIExtensionNotAvailable" })
    }).pipe(Effect.provide(Fake())))

  it.effect("zones and records: used_by the network naming the zone, delete refused while in use", () =>
    Effect.gen(function*() {
      const networks = yield* Networks.Networks
      const zones = yield* NetworkZones.NetworkZones
      const records = yield* NetworkZoneRecords.NetworkZoneRecords
      yield* zones.create({ name: "net213.example" })
      yield* records.create("net213.example", { name: "www", entries: [{ type: "A", value: "10.213.0.5", ttl: 300 }] })
      yield* networks.create({ ...bridge, config: { ...bridge.config, "dns.zone.forward": "net213.example" } })
      expect((yield* zones.get("net213.example")).used_by.map((u) => u.name)).toEqual(["netbr0"])
      expect((yield* Effect.flip(zones.delete("net213.example")))._tag).toBe("LxdApiError")
      expect((yield* Effect.flip(records.get("nope.example", "www")))._tag).toBe("NotFound")
      yield* networks.delete("netbr0")
      yield* zones.delete("net213.example") // its records with it
      expect(yield* zones.exists("net213.example")).toBe(false)
    }).pipe(Effect.provide(Fake())))

  it.effect("ACLs: 5.0.2's rule checks, used_by a network, rename and delete refused in use", () =>
    Effect.gen(function*() {
      const networks = yield* Networks.Networks
      const acls = yield* NetworkAcls.NetworkAcls
      const bad = yield* Effect.flip(acls.create({ name: "a1", ingress: [{ action: "allow", state: "on" }] }))
      expect(bad.message).toBe("Invalid ingress rule 0: State must be one of: enabled, disabled, logged")
      yield* acls.create({ name: "a1", egress: [{ action: "reject", state: "logged", destination: "192.0.2.1/32" }] })
      yield* networks.create({ ...bridge, config: { ...bridge.config, "security.acls": "a1" } })
      expect((yield* acls.get("a1")).used_by.map((u) => u.url)).toEqual(["/1.0/networks/netbr0"])
      expect((yield* Effect.flip(acls.rename("a1", "a2"))).message).toBe("Cannot rename an ACL that is in use")
      expect((yield* Effect.flip(acls.log("a1"))).message).toBe("Only OVN log entries may be retrieved at this time")
      yield* networks.update("netbr0", { config: { "security.acls": "" } })
      yield* acls.rename("a1", "a2")
      yield* acls.delete("a2")
      yield* networks.delete("netbr0")
    }).pipe(Effect.provide(Fake())))

  it.effect("addPort on the fake: a duplicate listen port refused before LXD sees it, a concurrent one by LXD", () =>
    Effect.gen(function*() {
      const networks = yield* Networks.Networks
      const forwards = yield* NetworkForwards.NetworkForwards
      yield* networks.create(bridge)
      yield* forwards.create("netbr0", { listen_address: "10.213.0.200" })
      const web = { protocol: "tcp", listen_port: "80", target_address: "10.213.0.5" } as const
      expect(yield* forwards.addPort("netbr0", "10.213.0.200", web)).toBe(true)
      expect((yield* forwards.get("netbr0", "10.213.0.200")).ports).toEqual([{
        description: "",
        target_port: "",
        ...web
      }])
      const dup = yield* Effect.flip(forwards.create("netbr0", { listen_address: "10.213.0.200" }))
      expect(dup._tag).toBe("Conflict")
      expect(yield* forwards.removePort("netbr0", "10.213.0.200", web)).toBe(true)
      expect((yield* forwards.get("netbr0", "10.213.0.200")).ports).toEqual([])
      yield* networks.delete("netbr0") // its forwards with it
      expect((yield* Effect.flip(forwards.list("netbr0")))._tag).toBe("NotFound")
    }).pipe(Effect.provide(Fake())))
})

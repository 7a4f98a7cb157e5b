/**
 * Networks against the lab's real LXD 5.0.2, for what only a real daemon shows: a bridge's state and DHCP leases
 * with a running container that took a lease, `used_by` decoded, what 5.0.2 refuses (an ACL on a bridged NIC,
 * an automatic subnet on these machines, peers on a bridge), load balancers refused before any request.
 * Bridge names start with `neti` (this file's own), addresses are in 10.213.2x.0/24 on bridges made here.
 */
import { Exec, Instances, Lxd, NetworkAcls, NetworkLoadBalancers, NetworkPeers, Networks } from "@effect-lxd/core"
import { NodeLxdTransport } from "@effect-lxd/node"
import { HttpClient } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { withBridge } from "./contract/networks.js"
import { lab } from "./lab/lab.js"

const info = lab()

/** The lab daemon, every HTTP request it is sent counted in `sent`. */
const counted = () => {
  const sent: Array<string> = []
  const layer = Lxd.layer.pipe(Layer.provide(NodeLxdTransport.layerUnixSocket({
    socketPath: info.socket,
    transformClient: HttpClient.tapRequest((r) =>
      Effect.sync(() => sent.push(`${r.method} ${new URL(r.url).pathname}`))
    )
  })))
  return { sent, layer }
}

const unix = counted().layer

/** A container on `network`'s `eth0`, running, for `use`; force-deleted after. */
const withContainer = <A, E, R>(name: string, network: string, use: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.flatMap(Instances.Instances, (instances) =>
      Effect.zipRight(
        instances.create({
          name,
          source: { type: "image", alias: info.image },
          devices: { eth0: { type: "nic", network, name: "eth0" } }
        }),
        instances.start(name)
      )),
    () => use,
    () => Effect.ignore(Effect.flatMap(Instances.Instances, (instances) => instances.delete(name, { force: true })))
  )

describe("a bridge with a container that took a DHCP lease", () => {
  it.live(
    "state (addresses, counters, bridge part with the container's veth) and leases decode; used_by",
    () =>
      withBridge(
        "neti0",
        20,
        withContainer(
          "neti-c1",
          "neti0",
          Effect.gen(function*() {
            const networks = yield* Networks.Networks
            const exec = yield* Exec.Exec
            // busybox's init brings no interface up: ask for a lease once (the lab notes' command)
            const dhcp = yield* exec.runText("neti-c1", [
              "udhcpc",
              "-i",
              "eth0",
              "-n",
              "-q",
              "-t",
              "5",
              "-s",
              "/bin/true"
            ])
            expect(dhcp.stderr + dhcp.stdout).toContain("lease of 10.213.20.")
            const leases = yield* networks.leases("neti0")
            expect(leases.find((l) => l.type === "gateway")).toMatchObject({
              hostname: "neti0.gw",
              address: "10.213.20.1"
            })
            const lease = leases.find((l) => l.type === "dynamic")
            expect(lease).toMatchObject({ hostname: "neti-c1", location: "none" })
            expect(lease!.address).toMatch(/^10\.213\.20\.\d+$/)
            expect(lease!.hwaddr).toMatch(/^00:16:3e(:[0-9a-f]{2}){3}$/)
            const state = yield* networks.state("neti0")
            expect(state).toMatchObject({
              state: "up",
              type: "broadcast",
              mtu: 1500,
              bond: null,
              vlan: null,
              ovn: null
            })
            expect(state.addresses).toEqual([{
              family: "inet",
              address: "10.213.20.1",
              netmask: "24",
              scope: "global"
            }])
            expect(state.counters.packets_received).toBeGreaterThan(0) // the DHCP exchange
            expect(state.bridge?.upper_devices.length).toBe(1)
            expect(state.bridge?.upper_devices[0]).toMatch(/^veth/)
            const network = yield* networks.get("neti0")
            expect(network.used_by).toEqual([
              {
                url: "/1.0/instances/neti-c1",
                collection: "instances",
                name: "neti-c1",
                project: undefined,
                target: undefined
              }
            ])
            // in use: LXD refuses rename and delete
            expect(yield* Effect.flip(networks.rename("neti0", "neti0b"))).toMatchObject({
              _tag: "BadRequest",
              message: "Network is currently in use"
            })
            expect(yield* Effect.flip(networks.delete("neti0"))).toMatchObject({
              _tag: "BadRequest",
              message: "The network is currently in use"
            })
          })
        )
      ).pipe(Effect.provide(unix)),
    60_000
  )
})

describe("what 5.0.2 refuses, typed", () => {
  it.live(
    "an ACL on a bridged NIC: the create's operation fails (security.acls is an OVN NIC option there)",
    () =>
      withBridge(
        "neti1",
        21,
        Effect.gen(function*() {
          const acls = yield* NetworkAcls.NetworkAcls
          const instances = yield* Instances.Instances
          yield* acls.create({
            name: "neti-acl",
            ingress: [{ action: "allow", state: "enabled", protocol: "tcp", destination_port: "22" }],
            egress: [{ action: "drop", state: "enabled", destination: "192.0.2.0/24" }]
          })
          yield* Effect.ensuring(
            Effect.gen(function*() {
              const e = yield* Effect.flip(instances.create({
                name: "neti-c2",
                source: { type: "image", alias: info.image },
                devices: { eth0: { type: "nic", network: "neti1", name: "eth0", "security.acls": "neti-acl" } }
              }))
              expect(e._tag).toBe("OperationFailed")
              expect(e.message).toContain("Invalid device option \"security.acls\"")
              expect(yield* instances.exists("neti-c2")).toBe(false)
              // on the bridge itself it applies (network_bridge_acl)
              yield* Effect.flatMap(
                Networks.Networks,
                (n) => n.update("neti1", { config: { "security.acls": "neti-acl" } })
              )
              expect((yield* acls.get("neti-acl")).used_by.map((u) => u.name)).toEqual(["neti1"])
              yield* Effect.flatMap(Networks.Networks, (n) => n.update("neti1", { config: { "security.acls": "" } }))
            }),
            Effect.ignore(acls.delete("neti-acl"))
          )
        })
      ).pipe(Effect.provide(unix)),
    60_000
  )

  it.live("a bridge without ipv4.address: these machines find no free subnet (LxdApiError)", () =>
    Effect.gen(function*() {
      const networks = yield* Networks.Networks
      const e = yield* Effect.flip(networks.create({ name: "neti2" }))
      expect(e).toMatchObject({
        _tag: "LxdApiError",
        status: 500,
        message:
          "Failed generating auto config: Failed to automatically find an unused IPv4 subnet, manual configuration required"
      })
      expect(yield* networks.exists("neti2")).toBe(false)
    }).pipe(Effect.provide(unix)))

  it.live("peers on a bridge: BadRequest for a create and for a list", () =>
    withBridge(
      "neti3",
      23,
      Effect.gen(function*() {
        const peers = yield* NetworkPeers.NetworkPeers
        const e = yield* Effect.flip(peers.create("neti3", { name: "p1", target_network: "neti3" }))
        expect(e).toMatchObject({ _tag: "BadRequest", message: "Network driver \"bridge\" does not support peering" })
        expect((yield* Effect.flip(peers.listNames("neti3")))._tag).toBe("BadRequest")
      })
    ).pipe(Effect.provide(unix)))

  it.live("load balancers: APIExtensionNotAvailable, and nothing sent but GET /1.0", () => {
    const { layer, sent } = counted()
    return Effect.gen(function*() {
      const lbs = yield* NetworkLoadBalancers.NetworkLoadBalancers
      const calls = [
        lbs.listNames("lo"),
        lbs.list("lo"),
        lbs.get("lo", "10.213.24.1"),
        lbs.create("lo", { listen_address: "10.213.24.1" }),
        lbs.replace("lo", "10.213.24.1", {}),
        lbs.modify("lo", "10.213.24.1", (x) => x),
        lbs.delete("lo", "10.213.24.1"),
        lbs.state("lo", "10.213.24.1")
      ]
      for (const call of calls) {
        expect(yield* Effect.flip(call)).toMatchObject({
          _tag: "APIExtensionNotAvailable",
          extension: "network_load_balancer"
        })
      }
      expect(sent).toEqual(["GET /1.0"])
    }).pipe(Effect.provide(layer))
  })
})

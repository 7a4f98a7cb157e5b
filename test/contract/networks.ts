/**
 * Networks for the contract suite, on both backends: pylxd's network scenarios, a forward with a port mapping,
 * an ACL with rules, a zone with a record, peers and load balancers as 5.0.2 refuses them, two projects' networks
 * side by side. Bridges are host interfaces: every name starts with `netc` (this suite's own, ≤ 15 characters),
 * every address is in 10.213.1x.0/24 or fd42:213:1x::/64 on a bridge made here, and each is deleted after.
 */
import { LxdClient, NetworkAcls, NetworkForwards, NetworkLoadBalancers, NetworkPeers, Networks } from "@effect-lxd/core"
import { NetworkZoneRecords, NetworkZones, Projects } from "@effect-lxd/core"
import { Effect } from "effect"
import { expect } from "vitest"
import type { Scenario } from "./scenarios.js"

const STALE = "\"0000000000000000000000000000000000000000000000000000000000000000\""

/** A bridge on `10.213.<n>.1/24` (no IPv6, no NAT) for `use`, deleted after (with what hangs below it). */
export const withBridge = <A, E, R>(name: string, n: number, use: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.flatMap(Networks.Networks, (networks) =>
      networks.create({
        name,
        config: { "ipv4.address": `10.213.${n}.1/24`, "ipv4.nat": "false", "ipv6.address": "none" }
      })),
    () => use,
    () => Effect.ignore(Effect.flatMap(Networks.Networks, (networks) => networks.delete(name)))
  )

export const networkScenarios: ReadonlyArray<Scenario> = [
  {
    name:
      "networks: pylxd's create (defaults: managed bridge, empty description), explicit addresses, save, rename, delete",
    run: () =>
      Effect.gen(function*() {
        const networks = yield* Networks.Networks
        // pylxd's defaults: no type, no description (these machines need an explicit ipv4.address)
        yield* withBridge(
          "netc0",
          10,
          Effect.gen(function*() {
            const created = yield* networks.get("netc0")
            expect(created).toMatchObject({ name: "netc0", type: "bridge", managed: true, description: "" })
            expect(created.used_by).toEqual([])
            expect(yield* networks.listNames()).toContain("netc0")
            expect((yield* networks.list()).find((n) => n.name === "netc0")?.config["ipv4.address"]).toBe(
              "10.213.10.1/24"
            )
          })
        )
        expect(yield* networks.exists("netc0")).toBe(false)
        // explicit ipv4.address / ipv6.address, a type and a description
        const name = yield* networks.create({
          name: "netc1",
          type: "bridge",
          description: "a test network",
          config: { "ipv4.address": "10.213.11.1/24", "ipv6.address": "fd42:213:11::1/64", "ipv4.nat": "false" }
        })
        expect(name).toBe("netc1")
        yield* Effect.ensuring(
          Effect.gen(function*() {
            const got = yield* networks.getWithEtag("netc1")
            expect(got.value.config).toMatchObject({
              "ipv4.address": "10.213.11.1/24",
              "ipv6.address": "fd42:213:11::1/64"
            })
            expect(got.etag).toBeDefined()
            // pylxd's save(): the whole writable part, with the ETag
            yield* networks.modify("netc1", (n) => ({ ...n, config: { ...n.config, "ipv4.dhcp": "false" } }))
            expect((yield* networks.get("netc1")).config["ipv4.dhcp"]).toBe("false")
            const stale = yield* Effect.flip(networks.update("netc1", { description: "x" }, { etag: got.etag }))
            expect(stale._tag).toBe("PreconditionFailed")
            yield* networks.rename("netc1", "netc1b")
            expect(yield* networks.exists("netc1")).toBe(false)
            expect((yield* networks.state("netc1b")).addresses.map((a) => a.address)).toEqual(
              expect.arrayContaining(["10.213.11.1", "fd42:213:11::1"])
            )
            yield* networks.delete("netc1b")
            expect((yield* Effect.flip(networks.get("netc1b")))._tag).toBe("NotFound")
          }),
          Effect.ignore(Effect.all([networks.delete("netc1"), networks.delete("netc1b")], { mode: "either" }))
        )
      })
  },
  {
    name:
      "network forwards: a port mapping created, listed, a stale ETag not checked (5.0.2), addPort/removePort, deleted",
    run: () =>
      withBridge(
        "netc2",
        12,
        Effect.gen(function*() {
          const forwards = yield* NetworkForwards.NetworkForwards
          const listen = yield* forwards.create("netc2", {
            listen_address: "10.213.12.200",
            description: "web",
            ports: [{ protocol: "tcp", listen_port: "8080", target_address: "10.213.12.5", target_port: "80" }]
          })
          expect(listen).toBe("10.213.12.200")
          expect(yield* forwards.listNames("netc2")).toEqual(["10.213.12.200"])
          const [listed] = yield* forwards.list("netc2")
          expect(listed).toMatchObject({ listen_address: "10.213.12.200", description: "web" })
          expect(listed!.ports).toEqual([{
            description: "",
            protocol: "tcp",
            listen_port: "8080",
            target_address: "10.213.12.5",
            target_port: "80"
          }])
          // LXD 5.0.2 sends a forward's ETag but never checks If-Match on it: a stale one is not refused
          yield* forwards.update("netc2", "10.213.12.200", { description: "x" }, { etag: STALE })
          expect((yield* forwards.get("netc2", "10.213.12.200")).description).toBe("x")
          const ssh = { protocol: "udp", listen_port: "5353", target_address: "10.213.12.6" } as const
          expect(yield* forwards.addPort("netc2", "10.213.12.200", ssh)).toBe(true)
          expect((yield* forwards.get("netc2", "10.213.12.200")).ports.map((p) => p.listen_port)).toEqual([
            "8080",
            "5353"
          ])
          const clash = yield* Effect.flip(
            forwards.addPort("netc2", "10.213.12.200", {
              protocol: "tcp",
              listen_port: "8000-8100",
              target_address: "10.213.12.7"
            })
          )
          expect(clash._tag).toBe("InvalidArgument")
          expect(yield* forwards.removePort("netc2", "10.213.12.200", { protocol: "tcp", listen_port: "8080" })).toBe(
            true
          )
          expect((yield* forwards.get("netc2", "10.213.12.200")).ports.map((p) => p.listen_port)).toEqual(["5353"])
          const again = yield* Effect.flip(forwards.create("netc2", { listen_address: "10.213.12.200" }))
          expect(again._tag).toBe("Conflict")
          yield* forwards.delete("netc2", "10.213.12.200")
          expect(yield* forwards.exists("netc2", "10.213.12.200")).toBe(false)
        })
      )
  },
  {
    name:
      "network ACLs: ingress and egress rules, on a network (used_by), rename and delete refused in use, stale ETag",
    run: () =>
      Effect.gen(function*() {
        const acls = yield* NetworkAcls.NetworkAcls
        const networks = yield* Networks.Networks
        yield* acls.create({
          name: "netc-acl",
          description: "ssh in, one host out",
          ingress: [{
            action: "allow",
            state: "enabled",
            source: "10.213.13.0/24",
            protocol: "tcp",
            destination_port: "22"
          }],
          egress: [{ action: "reject", state: "logged", destination: "192.0.2.1/32" }]
        })
        yield* Effect.ensuring(
          Effect.gen(function*() {
            const acl = yield* acls.get("netc-acl")
            expect(acl.ingress).toEqual([{
              action: "allow",
              state: "enabled",
              source: "10.213.13.0/24",
              protocol: "tcp",
              destination_port: "22"
            }])
            expect(acl.egress).toEqual([{ action: "reject", state: "logged", destination: "192.0.2.1/32" }])
            expect(yield* acls.listNames()).toContain("netc-acl")
            expect((yield* acls.list()).find((a) => a.name === "netc-acl")?.description).toBe("ssh in, one host out")
            const bad = yield* Effect.flip(
              acls.create({ name: "netc-bad", ingress: [{ action: "allow", state: "on" }] })
            )
            expect(bad.message).toBe("Invalid ingress rule 0: State must be one of: enabled, disabled, logged")
            yield* withBridge(
              "netc3",
              13,
              Effect.gen(function*() {
                yield* networks.update("netc3", { config: { "security.acls": "netc-acl" } })
                expect((yield* acls.get("netc-acl")).used_by.map((u) => u.url)).toEqual(["/1.0/networks/netc3"])
                expect((yield* Effect.flip(acls.delete("netc-acl"))).message).toBe(
                  "Cannot delete an ACL that is in use"
                )
                expect((yield* Effect.flip(acls.rename("netc-acl", "netc-acl2"))).message).toBe(
                  "Cannot rename an ACL that is in use"
                )
                // only OVN networks log ACLs
                expect((yield* Effect.flip(acls.log("netc-acl"))).message).toBe(
                  "Only OVN log entries may be retrieved at this time"
                )
                yield* networks.update("netc3", { config: { "security.acls": "" } })
              })
            )
            const stale = yield* Effect.flip(acls.update("netc-acl", { description: "x" }, { etag: STALE }))
            expect(stale._tag).toBe("PreconditionFailed")
            yield* acls.modify("netc-acl", (a) => ({ ...a, egress: [] }))
            expect((yield* acls.get("netc-acl")).egress).toEqual([])
            yield* acls.rename("netc-acl", "netc-acl2")
            yield* acls.delete("netc-acl2")
            expect(yield* acls.exists("netc-acl2")).toBe(false)
          }),
          Effect.ignore(Effect.all([acls.delete("netc-acl"), acls.delete("netc-acl2")], { mode: "either" }))
        )
      })
  },
  {
    name: "network zones: a zone with a record, used_by a network, stale ETags refused, deleted",
    run: () =>
      Effect.gen(function*() {
        const zones = yield* NetworkZones.NetworkZones
        const records = yield* NetworkZoneRecords.NetworkZoneRecords
        const networks = yield* Networks.Networks
        yield* zones.create({ name: "netc.example", description: "test zone" })
        yield* Effect.ensuring(
          Effect.gen(function*() {
            yield* records.create("netc.example", {
              name: "www",
              entries: [{ type: "A", value: "10.213.14.5", ttl: 300 }]
            })
            expect(yield* records.listNames("netc.example")).toEqual(["www"])
            expect((yield* records.list("netc.example"))[0]!.entries).toEqual([{
              type: "A",
              value: "10.213.14.5",
              ttl: 300
            }])
            const staleRecord = yield* Effect.flip(
              records.update("netc.example", "www", { description: "x" }, { etag: STALE })
            )
            expect(staleRecord._tag).toBe("PreconditionFailed")
            yield* records.modify("netc.example", "www", (r) => ({
              ...r,
              entries: [...(r.entries ?? []), { type: "TXT", value: "\"hello\"" }]
            }))
            expect((yield* records.get("netc.example", "www")).entries.map((e) => e.type)).toEqual(["A", "TXT"])
            expect(yield* zones.listNames()).toContain("netc.example")
            yield* zones.replace("netc.example", { description: "replaced", config: { "user.k": "v" } })
            expect((yield* zones.list()).find((z) => z.name === "netc.example")).toMatchObject({
              description: "replaced",
              config: { "user.k": "v" }
            })
            const staleZone = yield* Effect.flip(zones.update("netc.example", { description: "x" }, { etag: STALE }))
            expect(staleZone._tag).toBe("PreconditionFailed")
            yield* withBridge(
              "netc4",
              14,
              Effect.gen(function*() {
                yield* networks.update("netc4", { config: { "dns.zone.forward": "netc.example" } })
                expect((yield* zones.get("netc.example")).used_by.map((u) => u.url)).toEqual(["/1.0/networks/netc4"])
                expect((yield* Effect.flip(zones.delete("netc.example"))).message).toBe(
                  "Cannot delete a zone that is in use"
                )
                yield* networks.update("netc4", { config: { "dns.zone.forward": "" } })
              })
            )
            yield* records.delete("netc.example", "www")
            expect(yield* records.exists("netc.example", "www")).toBe(false)
            yield* zones.delete("netc.example")
            expect((yield* Effect.flip(zones.get("netc.example")))._tag).toBe("NotFound")
          }),
          Effect.ignore(zones.delete("netc.example"))
        )
      })
  },
  {
    name: "network peers on a bridge: BadRequest (they need OVN); load balancers: APIExtensionNotAvailable",
    run: () =>
      withBridge(
        "netc5",
        15,
        Effect.gen(function*() {
          const peers = yield* NetworkPeers.NetworkPeers
          const create = yield* Effect.flip(peers.create("netc5", { name: "p1", target_network: "netc5" }))
          expect(create).toMatchObject({
            _tag: "BadRequest",
            message: "Network driver \"bridge\" does not support peering"
          })
          expect((yield* Effect.flip(peers.list("netc5")))._tag).toBe("BadRequest")
          // every verb on one peer: the same refusal (LXD checks the driver first)
          for (
            const verb of [
              peers.get("netc5", "p1"),
              peers.exists("netc5", "p1"),
              peers.replace("netc5", "p1", { description: "x" }),
              peers.update("netc5", "p1", { description: "x" }),
              peers.delete("netc5", "p1")
            ]
          ) expect(yield* Effect.flip(verb)).toMatchObject({ _tag: "BadRequest", status: 400 })
          const lbs = yield* NetworkLoadBalancers.NetworkLoadBalancers
          const lb = yield* Effect.flip(lbs.create("netc5", { listen_address: "10.213.15.100" }))
          expect(lb).toMatchObject({ _tag: "APIExtensionNotAvailable", extension: "network_load_balancer" })
        })
      )
  },
  {
    name: "networks of two projects side by side (features.networks=true): each lists its own, no leak",
    run: () =>
      Effect.gen(function*() {
        const projects = yield* Projects.Projects
        const networks = yield* Networks.Networks
        const acls = yield* NetworkAcls.NetworkAcls
        yield* projects.create({ name: "netc-own", config: { "features.networks": "true" } })
        yield* projects.create({ name: "netc-shared", config: {} })
        yield* Effect.ensuring(
          withBridge(
            "netc6",
            16,
            Effect.gen(function*() {
              yield* LxdClient.withProject(acls.create({ name: "netc-own-acl" }), "netc-own")
              const [inDefault, inOwn, inShared] = yield* Effect.all([
                networks.listNames(),
                LxdClient.withProject(networks.listNames(), "netc-own"),
                LxdClient.withProject(networks.listNames(), "netc-shared")
              ], { concurrency: 3 })
              expect(inDefault).toContain("netc6")
              expect(inDefault).toContain("lo")
              // a project with its own networks sees none of default's (nor the host's interfaces)
              expect(inOwn).toEqual([])
              // one without uses default's (the host's interfaces with them)
              expect(inShared).toContain("netc6")
              expect(inShared).toContain("lo")
              const [aclsDefault, aclsOwn] = yield* Effect.all([
                acls.listNames(),
                LxdClient.withProject(acls.listNames(), "netc-own")
              ], { concurrency: 2 })
              expect(aclsOwn).toEqual(["netc-own-acl"])
              expect(aclsDefault).not.toContain("netc-own-acl")
              // non-default projects get OVN networks only: a bridge is refused
              const bridge = yield* Effect.flip(
                LxdClient.withProject(
                  networks.create({ name: "netc7", type: "bridge", config: { "ipv4.address": "10.213.17.1/24" } }),
                  "netc-own"
                )
              )
              expect(bridge).toMatchObject({
                _tag: "BadRequest",
                message: "Network type does not support non-default projects"
              })
              yield* LxdClient.withProject(acls.delete("netc-own-acl"), "netc-own")
            })
          ),
          Effect.ignore(
            Effect.all([
              LxdClient.withProject(acls.delete("netc-own-acl"), "netc-own"),
              projects.delete("netc-own"),
              projects.delete("netc-shared")
            ], { mode: "either" })
          )
        )
      })
  }
]

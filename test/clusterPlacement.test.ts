/**
 * Placement on a private three-member loopback cluster (`test/lab/cluster.ts`, issue 17): a cluster group with
 * m3 assigned takes an instance created with `target=@group` to m3; `withTarget` places a custom volume on m2
 * and creates a network the cluster way (a pending create per member, then the global one), and reads and writes
 * of those member-specific objects work through another member; an instance on m2 is reached through m1's unix
 * socket and over HTTPS against m3 (exec, file push and pull); an operation started through m1 on m2 carries
 * `?project=` in its URL, is waited on, and an interrupted exec leaves no operation running on any member.
 */
import {
  Certificates,
  ClusterGroups,
  ClusterMembers,
  Exec,
  Files,
  Instances,
  Lxd,
  LxdClient,
  Networks,
  Operations,
  Server,
  StorageVolumes
} from "@effect-lxd/core"
import { NodeLxdTransport } from "@effect-lxd/node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Redacted } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import { useClusterLab } from "./lab/cluster.js"
import { makeCertificate } from "./support/certs.js"

const cluster = useClusterLab("clplace")

/** A client of member `i` (0-based) over its unix socket. */
const through = (i: number) =>
  Lxd.layer.pipe(Layer.provide(NodeLxdTransport.layerUnixSocket({ socketPath: cluster.members()[i]!.socket })))

const image = { type: "image", alias: "busybox" } as const

/** The running operations of every member, as each member's own unix socket lists them (id, description). */
const runningEverywhere = Effect.forEach([0, 1, 2], (i) =>
  Effect.flatMap(Operations.Operations, (o) => o.list()).pipe(
    Effect.map((ops) => ops.filter((op) => op.status_code === 103).map((op) => `${op.id} ${op.description}`)),
    Effect.provide(through(i))
  )).pipe(Effect.map((lists) => [...new Set(lists.flat())].sort()))

/** `self` again every 200 ms until `done` holds of its value (20 s at most). */
const pollUntil = <A, E, R>(self: Effect.Effect<A, E, R>, done: (a: A) => boolean) =>
  Effect.repeat(Effect.delay(self, "200 millis"), { until: done }).pipe(Effect.timeout("20 seconds"))

describe("placement on a three-member loopback cluster", () => {
  it.live("a group with m3 assigned: an instance created with target=@group lands on m3", () =>
    Effect.gen(function*() {
      console.log(`cluster-up took ${cluster.upMs()} ms`)
      const groups = yield* ClusterGroups.ClusterGroups
      const instances = yield* Instances.Instances
      expect(yield* groups.list()).toEqual([
        { name: "default", description: "Default cluster group", members: ["m1", "m2", "m3"] }
      ])
      yield* groups.create({ name: "clplace-g", description: "placement" })
      // assigned through another member than the one that created the group
      yield* Effect.provide(
        Effect.flatMap(ClusterGroups.ClusterGroups, (g) => g.assign("m3", ["default", "clplace-g"])),
        through(1)
      )
      expect((yield* groups.get("clplace-g")).members).toEqual(["m3"])
      expect((yield* Effect.flatMap(ClusterMembers.ClusterMembers, (m) => m.get("m3"))).groups).toEqual([
        "default",
        "clplace-g"
      ])
      yield* LxdClient.withTarget(
        instances.create({ name: "clplace-g1", source: image }),
        ClusterGroups.target("clplace-g")
      )
      expect((yield* instances.get("clplace-g1")).location).toBe("m3")

      // an empty group and an unknown one are refused; a group in use cannot be deleted, default never
      yield* groups.create({ name: "clplace-empty" })
      const refusals = yield* Effect.all([
        Effect.flip(
          LxdClient.withTarget(instances.create({ name: "clplace-g2", source: image }), "@clplace-empty")
        ),
        Effect.flip(LxdClient.withTarget(instances.create({ name: "clplace-g2", source: image }), "@nosuch")),
        Effect.flip(groups.delete("clplace-g")),
        Effect.flip(groups.delete("default")),
        Effect.flip(groups.assign("m3", []))
      ])
      console.log(refusals.map((e) => `${e._tag}: ${"message" in e ? e.message : ""}`).join("\n"))
      expect(refusals.map((e) => e._tag)).toEqual([
        "BadRequest",
        "BadRequest",
        "LxdApiError",
        "Forbidden",
        "BadRequest"
      ])

      yield* instances.delete("clplace-g1")
      expect(yield* groups.removeMember("clplace-g", "m3")).toBe(true)
      yield* groups.delete("clplace-g")
      yield* groups.delete("clplace-empty")
      expect(yield* groups.listNames()).toEqual(["default"])
      expect((yield* Effect.flatMap(ClusterMembers.ClusterMembers, (m) => m.get("m3"))).groups).toEqual(["default"])
    }).pipe(Effect.provide(through(0))), 120_000)

  it.live(
    "withTarget places a custom volume on m2; it is read and written through m3 and m1 with withTarget",
    () =>
      Effect.gen(function*() {
        const onM1 = (e: Effect.Effect<unknown, unknown, StorageVolumes.StorageVolumes>) =>
          Effect.provide(e, through(0))
        const volumes = yield* StorageVolumes.StorageVolumes
        yield* onM1(Effect.flatMap(
          StorageVolumes.StorageVolumes,
          (v) => LxdClient.withTarget(v.create("default", "custom", { name: "clplace-v", description: "on m2" }), "m2")
        ))
        // through m3, aimed at m2
        const read = yield* LxdClient.withTarget(volumes.get("default", "custom", "clplace-v"), "m2")
        expect([read.location, read.description]).toEqual(["m2", "on m2"])
        const elsewhere = yield* Effect.flip(LxdClient.withTarget(volumes.get("default", "custom", "clplace-v"), "m1"))
        expect(elsewhere._tag).toBe("NotFound")
        // written through m1, aimed at m2; read back through m3
        yield* onM1(Effect.flatMap(
          StorageVolumes.StorageVolumes,
          (v) => LxdClient.withTarget(v.update("default", "custom", "clplace-v", { config: { "user.k": "v" } }), "m2")
        ))
        const written = yield* LxdClient.withTarget(volumes.get("default", "custom", "clplace-v"), "m2")
        expect([written.config["user.k"], written.description]).toEqual(["v", "on m2"])
        const listed = yield* LxdClient.withTarget(volumes.list("default", "custom"), "m2")
        expect(listed.map((v) => [v.name, v.location])).toContainEqual(["clplace-v", "m2"])
        yield* LxdClient.withTarget(volumes.delete("default", "custom", "clplace-v"), "m2")
        expect(yield* LxdClient.withTarget(volumes.exists("default", "custom", "clplace-v"), "m2")).toBe(false)
      }).pipe(Effect.provide(through(2))),
    120_000
  )

  it.live("a network the cluster way: pending per-member creates withTarget, then the global create", () => {
    // macvlan, whose `parent` is member-specific, over a veth pair of our own (the members share one kernel, so
    // one bridge per member cannot exist: the next test); the network object creates no interface by itself
    execFileSync("ip", ["link", "add", "clplv1", "type", "veth", "peer", "name", "clplv2"])
    const parents = ["clplv1", "clplv2", "lo"]
    return Effect.gen(function*() {
      const networks = yield* Networks.Networks
      for (const [i, parent] of parents.entries()) {
        yield* LxdClient.withTarget(
          networks.create({ name: "clplmv0", type: "macvlan", config: { parent } }),
          `m${i + 1}`
        )
      }
      const pending = yield* networks.get("clplmv0")
      expect([pending.status, [...pending.locations].sort()]).toEqual(["Pending", ["m1", "m2", "m3"]])
      yield* networks.create({ name: "clplmv0", type: "macvlan", config: { mtu: "1400" } })
      const created = yield* networks.get("clplmv0")
      expect([created.status, created.config]).toEqual(["Created", { mtu: "1400" }])
      // each member's own config, read through another member
      const onM3 = yield* Effect.provide(
        Effect.forEach(
          ["m1", "m2", "m3"],
          (m) => Effect.flatMap(Networks.Networks, (n) => LxdClient.withTarget(n.get("clplmv0"), m))
        ),
        through(2)
      )
      expect(onM3.map((n) => n.config)).toEqual(parents.map((parent) => ({ mtu: "1400", parent })))
      // a member's key changed through m2, aimed at m3
      yield* Effect.provide(
        Effect.flatMap(
          Networks.Networks,
          (n) => LxdClient.withTarget(n.update("clplmv0", { config: { parent: "clplv2" } }), "m3")
        ),
        through(1)
      )
      expect((yield* LxdClient.withTarget(networks.get("clplmv0"), "m3")).config.parent).toBe("clplv2")
      expect((yield* LxdClient.withTarget(networks.get("clplmv0"), "m1")).config.parent).toBe("clplv1")
      expect((yield* networks.get("clplmv0")).config.parent).toBeUndefined()
      yield* networks.delete("clplmv0")
    }).pipe(
      Effect.provide(through(0)),
      Effect.ensuring(Effect.sync(() => execFileSync("ip", ["link", "del", "clplv1"])))
    )
  }, 120_000)

  it.live(
    "a bridge the cluster way fails on a loopback cluster: the second member finds the interface exists",
    () =>
      Effect.gen(function*() {
        const networks = yield* Networks.Networks
        for (const m of ["m1", "m2", "m3"]) {
          yield* LxdClient.withTarget(networks.create({ name: "clplbr0", type: "bridge", config: {} }), m)
        }
        const failed = yield* Effect.flip(networks.create({
          name: "clplbr0",
          type: "bridge",
          config: { "ipv4.address": "none", "ipv6.address": "none" }
        }))
        console.log(`global bridge create: ${failed._tag}: ${"message" in failed ? failed.message : ""}`)
        expect(failed._tag).toBe("LxdApiError")
        expect((yield* networks.get("clplbr0")).status).toBe("Errored")
        yield* networks.delete("clplbr0") // removes the host interface m1 made
      }).pipe(Effect.provide(through(0))),
    60_000
  )
})

describe("an instance on m2, through other members", () => {
  const name = "clplace-c2"
  const setUp = Effect.suspend(() =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      if (yield* instances.exists(name)) return
      yield* LxdClient.withTarget(instances.create({ name, source: image }), "m2")
      yield* instances.start(name)
      expect((yield* instances.get(name)).location).toBe("m2")
    }).pipe(Effect.provide(through(0)))
  )

  it.live("exec and a file push/pull through m1's unix socket", () =>
    Effect.gen(function*() {
      yield* setUp
      const exec = yield* Exec.Exec
      const files = yield* Files.Files
      const out = yield* exec.runText(name, ["sh", "-c", "echo $(hostname) on m2; echo err >&2; exit 3"])
      expect([out.stdout, out.stderr, out.exitCode]).toEqual([`${name} on m2\n`, "err\n", 3])
      const payload = new Uint8Array(256 * 1024).map((_, i) => (i * 7) % 251)
      yield* files.put(name, "/root/through-m1.bin", payload)
      expect(yield* files.readBytes(name, "/root/through-m1.bin")).toEqual(payload)
      const sum = yield* exec.runText(name, ["sh", "-c", "wc -c < /root/through-m1.bin"])
      expect(sum.stdout.trim()).toBe(String(payload.length))
    }).pipe(Effect.provide(through(0))), 120_000)

  it.live(
    "over HTTPS against m3 (client certificate trusted, the cluster certificate pinned): exec, push, pull",
    () => {
      const keys = makeCertificate("clplace-https")
      const m3 = cluster.members()[2]!
      const https = Lxd.layer.pipe(Layer.provide(NodeLxdTransport.layerHttps({
        url: `https://${m3.https}`,
        serverCertificate: fs.readFileSync(m3.serverCert, "utf8"),
        clientCertificate: keys.cert,
        clientKey: Redacted.make(keys.key)
      })))
      return Effect.gen(function*() {
        yield* setUp
        const fingerprint = yield* Effect.provide(
          Effect.flatMap(Certificates.Certificates, (c) => c.create({ certificate: keys.cert, name: "clplace-https" })),
          through(0)
        )
        yield* Effect.gen(function*() {
          expect((yield* Effect.flatMap(Server.Server, (s) => s.info)).auth).toBe("trusted")
          const exec = yield* Exec.Exec
          const files = yield* Files.Files
          const out = yield* exec.runText(name, ["sh", "-c", "cat /proc/self/cgroup >/dev/null; echo over https"])
          expect([out.stdout, out.exitCode]).toEqual(["over https\n", 0])
          yield* files.put(name, "/root/over-https.txt", "pushed to m2 through m3\n")
          expect(yield* files.readText(name, "/root/over-https.txt")).toBe("pushed to m2 through m3\n")
          // and a file m1 pushed, pulled through m3
          expect((yield* files.readBytes(name, "/root/through-m1.bin")).length).toBe(256 * 1024)
        }).pipe(
          Effect.provide(https),
          Effect.ensuring(Effect.provide(
            Effect.flatMap(Certificates.Certificates, (c) => Effect.ignore(c.delete(fingerprint))),
            through(0)
          ))
        )
      })
    },
    120_000
  )

  it.live(
    "an operation started through m1 on m2: its URL carries ?project=, it is waited on (forwarded)",
    () =>
      Effect.gen(function*() {
        yield* setUp
        const client = yield* LxdClient.LxdClient
        const started = Date.now()
        const done = yield* Effect.scoped(Effect.gen(function*() {
          const handle = yield* client.operation({
            method: "POST",
            path: `/instances/${name}/exec`,
            body: { command: ["sh", "-c", "sleep 1; exit 7"], "wait-for-websocket": false, "record-output": true }
          })
          console.log(`forwarded exec operation: ${handle.url} (location ${handle.initial.location})`)
          expect(handle.url).toMatch(/^\/1\.0\/operations\/[0-9a-f-]+\?project=default$/)
          expect(handle.initial.location).toBe("m2")
          return yield* handle.wait()
        }))
        expect(Date.now() - started).toBeGreaterThanOrEqual(900)
        expect([done.status, (done.metadata as { readonly return?: unknown } | null)?.return]).toEqual(["Success", 7])
      }).pipe(Effect.provide(through(0))),
    60_000
  )

  it.live(
    "an exec through m1 on m2, interrupted: the command ends and no operation is left on any member",
    () =>
      Effect.gen(function*() {
        yield* setUp
        const before = yield* runningEverywhere
        const exec = yield* Exec.Exec
        const fiber = yield* Effect.fork(exec.run(name, ["sleep", "300"]))
        // the exec is running on m2 (m1 lists it too)
        const running = yield* pollUntil(runningEverywhere, (ops) => ops.some((op) => op.endsWith("Executing command")))
        expect(running.length).toBe(before.length + 1)
        const interrupted = Date.now()
        yield* Fiber.interrupt(fiber)
        const left = yield* pollUntil(runningEverywhere, (ops) => ops.length === before.length)
        console.log(`interrupted exec: no operation left after ${Date.now() - interrupted} ms`)
        expect(left).toEqual(before)
        const ps = yield* exec.runText(name, ["ps"])
        expect(ps.stdout).not.toContain("sleep 300")
      }).pipe(Effect.provide(through(0))),
    90_000
  )

  it.live("a token operation on m2 is cancelled through m1 (the DELETE is forwarded)", () =>
    Effect.gen(function*() {
      const token = yield* Effect.provide(
        Effect.flatMap(Certificates.Certificates, (c) => c.createToken({ name: "clplace-token" })),
        through(1)
      )
      const operations = yield* Operations.Operations
      const seen = yield* operations.get(token.operationId)
      expect([seen.status_code, seen.location, seen.may_cancel]).toEqual([103, "m2", true])
      yield* operations.cancel(token.operationId)
      const after = yield* Effect.provide(
        Effect.flatMap(Operations.Operations, (o) => Effect.exit(o.get(token.operationId))),
        through(1)
      )
      const status = after._tag === "Success" ? after.value.status : "gone"
      expect(["Cancelled", "gone"]).toContain(status)
      expect((yield* runningEverywhere).some((op) => op.startsWith(token.operationId))).toBe(false)
    }).pipe(Effect.provide(through(0))), 60_000)
})

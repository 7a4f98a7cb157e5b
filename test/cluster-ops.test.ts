/**
 * Cluster operations against a private three-member loopback cluster (`test/lab/cluster.ts`) and a bare private
 * daemon (`usePrivateLab(…, { bare: true })`), issue 17: a bare server joins with a token the API way
 * (`Cluster.join`) and shows `Online`; a member is renamed (and read by its new name), refused removal while
 * it has an instance (typed), removed, rejoined, and force-removed. The shared lab daemons are not used.
 */
import { Cluster, ClusterMembers, Lxd, Server } from "@effect-lxd/core"
import { NodeLxdTransport } from "@effect-lxd/node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { useClusterLab } from "./lab/cluster.js"
import { freePorts } from "./lab/globalSetup.js"
import { usePrivateLab } from "./lab/private.js"

const cluster = useClusterLab("clops")
const spare = usePrivateLab("clops-join", { bare: true })

const over = (socketPath: string) => Lxd.layer.pipe(Layer.provide(NodeLxdTransport.layerUnixSocket({ socketPath })))
/** A client of member `i` (0-based) over its unix socket. */
const member = (i: number) => over(cluster.members()[i]!.socket)
const onSpare = () => over(spare.info().socket)

/** Where the spare daemon listens once it joined (its `server_address`). */
let spareAddress = ""

/** Joins the spare daemon to the cluster under `name`: a token and the certificate from m1, the join on it. */
const joinSpare = (name: string) =>
  Effect.gen(function*() {
    const { certificate, member_config, token } = yield* Effect.gen(function*() {
      const members = yield* ClusterMembers.ClusterMembers
      const token = yield* members.createJoinToken(name)
      const info = yield* Effect.flatMap(Server.Server, (s) => s.info)
      const { member_config } = yield* Effect.flatMap(Cluster.Cluster, (c) => c.get())
      return { token, certificate: info.environment?.certificate ?? "", member_config }
    }).pipe(Effect.provide(member(0)))
    const started = Date.now()
    const joined = yield* Effect.flatMap(Cluster.Cluster, (c) =>
      c.join({
        token: token.token,
        clusterCertificate: certificate,
        serverAddress: spareAddress,
        // the member-specific keys the cluster asks for (the pool's `source`), empty: LXD's default place
        memberConfig: member_config
      })).pipe(Effect.provide(onSpare()), Effect.exit)
    return { joined, ms: Date.now() - started, token }
  })

describe("cluster operations (join, rename, remove)", () => {
  it.live(
    "join: a bare daemon joins with a token through the API (Cluster.join) and shows Online",
    () =>
      Effect.gen(function*() {
        console.log(`cluster-up took ${cluster.upMs()} ms`)
        const [port] = yield* Effect.promise(() => freePorts(1))
        spareAddress = `127.0.0.1:${port}`
        // before: a standalone server with no HTTPS address of its own
        const before = yield* Effect.flatMap(Server.Server, (s) => s.info).pipe(Effect.provide(onSpare()))
        expect([before.environment?.server_clustered, before.config?.["core.https_address"]]).toEqual([
          false,
          undefined
        ])
        const { joined, ms } = yield* joinSpare("m4")
        expect(joined._tag).toBe("Success")
        console.log(`join (PUT /1.0/cluster, waited): ${ms} ms`)
        const all = yield* Effect.flatMap(ClusterMembers.ClusterMembers, (m) => m.list()).pipe(
          Effect.provide(member(1))
        )
        const m4 = all.find((m) => m.server_name === "m4")
        expect([m4?.status, m4?.url]).toEqual(["Online", `https://${spareAddress}`])
        console.log(`m4 roles after the join: ${m4?.roles.join(",")}`)
        const seen = yield* Effect.flatMap(Cluster.Cluster, (c) => c.get()).pipe(Effect.provide(onSpare()))
        expect([seen.enabled, seen.server_name]).toEqual([true, "m4"])
        // the join set its addresses: cluster.https_address, and core.https_address as it was unset
        const after = yield* Effect.flatMap(Server.Server, (s) => s.info).pipe(Effect.provide(onSpare()))
        expect(after.config).toMatchObject({
          "cluster.https_address": spareAddress,
          "core.https_address": spareAddress
        })
        // a second join of a clustered server is refused at once
        const again = yield* joinSpare("m5")
        expect(again.joined._tag === "Failure" && again.joined.cause._tag === "Fail" && again.joined.cause.error._tag)
          .toBe("BadRequest")
        yield* Effect.flatMap(ClusterMembers.ClusterMembers, (m) => m.revokeJoinToken(again.token.operationId)).pipe(
          Effect.provide(member(0))
        )
      }),
    120_000
  )
})

/**
 * Against a private three-member loopback cluster (`test/lab/cluster.ts`, issue 17): the members list shows
 * three `Online` members with their URLs (`get(name).url` matches, and is the member's HTTPS address); an
 * instance created with `withTarget("m2")` runs on m2; evacuating m2 moves it away with progress and shows
 * `Evacuated`, restore brings it back; join tokens are created, listed and revoked; a member's description
 * changes with the ETag, and the `database` role cannot be dropped. The shared lab daemons are not used.
 */
import { ClusterMembers, Instances, Lxd, LxdClient } from "@effect-lxd/core"
import { NodeLxdTransport } from "@effect-lxd/node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Ref, Stream } from "effect"
import { useClusterLab } from "./lab/cluster.js"

const cluster = useClusterLab("cluster")

/** A client of member `i` (0-based) over its unix socket. */
const through = (i: number) =>
  Lxd.layer.pipe(Layer.provide(NodeLxdTransport.layerUnixSocket({ socketPath: cluster.members()[i]!.socket })))

describe("a three-member loopback cluster", () => {
  it.live("members: three Online with their URLs; get(name).url matches", () =>
    Effect.gen(function*() {
      console.log(`cluster-up took ${cluster.upMs()} ms`)
      const members = yield* ClusterMembers.ClusterMembers
      const all = yield* members.list()
      expect(all.map((m) => [m.server_name, m.status, m.database])).toEqual([
        ["m1", "Online", true],
        ["m2", "Online", true],
        ["m3", "Online", true]
      ])
      for (const [i, m] of all.entries()) {
        expect(m.url).toBe(`https://${cluster.members()[i]!.https}`)
        expect((yield* members.get(m.server_name)).url).toBe(m.url)
      }
    }).pipe(Effect.provide(through(0))), 60_000)

  it.live(
    "an instance created withTarget(\"m2\") runs on m2; evacuate m2 (progress, Evacuated) and restore",
    () =>
      Effect.gen(function*() {
        const instances = yield* Instances.Instances
        const members = yield* ClusterMembers.ClusterMembers
        yield* LxdClient.withTarget(
          instances.create({ name: "c2", source: { type: "image", alias: "busybox" } }),
          "m2"
        )
        yield* instances.start("c2")
        const placed = yield* instances.get("c2")
        expect([placed.location, placed.status]).toEqual(["m2", "Running"])

        const updates = yield* Ref.make(0)
        const started = Date.now()
        yield* Effect.scoped(Effect.gen(function*() {
          const handle = yield* members.evacuateOperation("m2")
          const watching = yield* Effect.fork(
            Stream.runForEach(handle.progress, () => Ref.update(updates, (n) => n + 1))
          )
          const done = yield* handle.wait()
          expect(done.status).toBe("Success")
          yield* Effect.ignore(watching.await.pipe(Effect.timeout("1 second")))
        }))
        const evacuatedMs = Date.now() - started
        const m2 = yield* members.get("m2")
        expect([m2.status, m2.message]).toEqual(["Evacuated", "Unavailable due to maintenance"])
        const moved = yield* instances.get("c2")
        expect(moved.location).not.toBe("m2")
        console.log(
          `evacuate: ${evacuatedMs} ms, ${yield* Ref.get(
            updates
          )} progress updates, c2 on ${moved.location} (${moved.status})`
        )

        const restoring = Date.now()
        yield* members.restore("m2")
        const restoredMs = Date.now() - restoring
        expect((yield* members.get("m2")).status).toBe("Online")
        const back = yield* instances.get("c2")
        expect(back.location).toBe("m2")
        console.log(`restore: ${restoredMs} ms, c2 on ${back.location} (${back.status})`)
        yield* instances.delete("c2", { force: true })
      }).pipe(Effect.provide(through(0))),
    180_000
  )

  it.live("join tokens: created, listed (through another member), revoked", () =>
    Effect.gen(function*() {
      const members = yield* ClusterMembers.ClusterMembers
      const token = yield* members.createJoinToken("m9")
      const decoded = JSON.parse(Buffer.from(token.token, "base64").toString("utf8")) as Record<string, unknown>
      expect(decoded["server_name"]).toBe("m9")
      expect([...token.addresses].sort()).toEqual(cluster.members().map((m) => m.https).sort())
      const listed = yield* members.listJoinTokens()
      expect(listed.map((t) => t.serverName)).toContain("m9")
      yield* members.revokeJoinToken(token.operationId)
      expect((yield* members.listJoinTokens()).map((t) => t.serverName)).not.toContain("m9")
    }).pipe(Effect.provide(through(0))), 60_000)

  it.live(
    "a member's description changes with the ETag (read through m3); the database role cannot be dropped",
    () =>
      Effect.gen(function*() {
        const members = yield* ClusterMembers.ClusterMembers
        yield* members.modify("m2", (m) => ({ ...m, description: "rack 2" }))
        expect((yield* members.get("m2")).description).toBe("rack 2")
        const stale = yield* members.getWithEtag("m2")
        yield* members.update("m2", { description: "rack 2b" })
        const refused = yield* Effect.flip(
          members.replace("m2", { ...stale.value, description: "x" }, { etag: stale.etag })
        )
        expect(refused._tag).toBe("PreconditionFailed")
        const dropped = yield* Effect.flip(members.modify("m3", (m) => ({ ...m, roles: [] })))
        console.log(
          `dropping the database role: ${dropped._tag}: ${"message" in dropped ? String(dropped.message) : ""}`
        )
        expect(dropped._tag).toBe("BadRequest")
      }).pipe(Effect.provide(through(2))),
    60_000
  )
})

/**
 * The cluster contract: scenarios for a three-member cluster (`m1`, `m2`, `m3`), run against the fake
 * (`LxdFakeServer.layer({ clusterMembers })`) and against a real loopback cluster (`test/cluster-ops.test.ts`,
 * through member m1). Each scenario leaves the members as it found them.
 */
import { ClusterMembers, ClusterServices, Instances, LxdClient } from "@effect-lxd/core"
import { Effect, Exit } from "effect"
import { expect } from "vitest"
import type { Scenario } from "./scenarios.js"

const tagOf = <A, E>(exit: Exit.Exit<A, E>): string | undefined =>
  Exit.isFailure(exit) && exit.cause._tag === "Fail" ? (exit.cause.error as { _tag: string })._tag : undefined

/** Restores m2 whatever happened (a failed scenario must not leave it evacuated for the next). */
const restoringM2 = <A, E, R>(use: Effect.Effect<A, E, R>) =>
  Effect.ensuring(
    use,
    Effect.flatMap(ClusterMembers.ClusterMembers, (members) =>
      Effect.flatMap(members.get("m2"), (m) =>
        Effect.zipRight(
          m.status === "Evacuated" ? members.restore("m2") : Effect.void,
          members.modify("m2", (p) => {
            const { [ClusterServices.disabledReasonKey]: _, ...config } = p.config ?? {}
            return { ...p, config }
          })
        ))).pipe(Effect.ignore)
  )

export const clusterScenarios: ReadonlyArray<Scenario> = [
  {
    name: "members: list and get agree; three Online voters; an unknown member is NotFound",
    run: () =>
      Effect.gen(function*() {
        const members = yield* ClusterMembers.ClusterMembers
        const all = yield* members.list()
        expect(all.map((m) => [m.server_name, m.status, m.message, m.database])).toEqual([
          ["m1", "Online", "Fully operational", true],
          ["m2", "Online", "Fully operational", true],
          ["m3", "Online", "Fully operational", true]
        ])
        expect(yield* members.listNames()).toEqual(["m1", "m2", "m3"])
        for (const m of all) {
          const one = yield* members.get(m.server_name)
          expect([one.url, one.failure_domain, one.roles]).toEqual([m.url, m.failure_domain, m.roles])
          expect(one.url).toMatch(/^https:\/\//)
        }
        expect(tagOf(yield* Effect.exit(members.get("m9")))).toBe("NotFound")
      })
  },
  {
    name: "evacuate m2 → Evacuated (again: OperationFailed); restore → Online (again: OperationFailed)",
    run: () =>
      restoringM2(Effect.gen(function*() {
        const members = yield* ClusterMembers.ClusterMembers
        yield* members.evacuate("m2")
        const evacuated = yield* members.get("m2")
        expect([evacuated.status, evacuated.message]).toEqual(["Evacuated", "Unavailable due to maintenance"])
        expect((yield* members.get("m1")).status).toBe("Online")
        const again = yield* Effect.exit(members.evacuate("m2"))
        expect(tagOf(again)).toBe("OperationFailed")
        yield* members.restore("m2")
        const restored = yield* members.get("m2")
        expect([restored.status, restored.message]).toEqual(["Online", "Fully operational"])
        const twice = yield* Effect.exit(members.restore("m2"))
        expect(tagOf(twice)).toBe("OperationFailed")
        expect(String((twice as Exit.Failure<unknown, { message: string }>).cause)).toContain("already restored")
      }))
  },
  {
    name: "evacuate m2 moves its running instance off m2, restore back; with cluster.evacuate=stop it is only stopped",
    run: ({ image }) =>
      restoringM2(Effect.gen(function*() {
        const members = yield* ClusterMembers.ClusterMembers
        const instances = yield* Instances.Instances
        const where = Effect.map(instances.get("ct-ev"), (i) => [i.location === "m2" ? "m2" : "elsewhere", i.status])
        yield* LxdClient.withTarget(instances.create({ name: "ct-ev", source: { type: "image", alias: image } }), "m2")
        yield* Effect.ensuring(
          Effect.gen(function*() {
            yield* instances.start("ct-ev")
            expect(yield* where).toEqual(["m2", "Running"])
            yield* members.evacuate("m2")
            expect(yield* where).toEqual(["elsewhere", "Running"])
            yield* members.restore("m2")
            expect(yield* where).toEqual(["m2", "Running"])
            yield* instances.modify("ct-ev", (p) => ({ ...p, config: { ...p.config, "cluster.evacuate": "stop" } }))
            yield* members.evacuate("m2")
            expect(yield* where).toEqual(["m2", "Stopped"])
            yield* members.restore("m2")
            expect(yield* where).toEqual(["m2", "Running"])
          }),
          Effect.ignore(Effect.zipRight(instances.stop("ct-ev", { force: true }), instances.delete("ct-ev")))
        )
      }))
  },
  {
    name: "Cinder view: all up/enabled; disable m2 with a reason → disabled with it; enable → enabled, reason gone",
    run: () =>
      restoringM2(Effect.gen(function*() {
        const services = yield* ClusterServices.ClusterServices
        const members = yield* ClusterMembers.ClusterMembers
        const up = (name: string) => ({ name, state: "up", status: "enabled" })
        expect(yield* services.list()).toEqual([up("m1"), up("m2"), up("m3")])
        const detail = yield* services.listDetail()
        expect(detail.map((s) => [s.name, s.disabled_reason, s.num_hosts, s.num_down_hosts])).toEqual([
          ["m1", undefined, 3, 0],
          ["m2", undefined, 3, 0],
          ["m3", undefined, 3, 0]
        ])
        const disabled = yield* services.disable("m2", "kernel upgrade")
        expect(disabled).toMatchObject({
          name: "m2",
          state: "up",
          status: "disabled",
          disabled_reason: "kernel upgrade"
        })
        expect(yield* services.show("m2")).toEqual(disabled)
        expect(yield* services.list({ disabled: true })).toEqual([{ name: "m2", state: "up", status: "disabled" }])
        const m2 = yield* members.get("m2")
        expect([m2.status, m2.config[ClusterServices.disabledReasonKey]]).toEqual(["Evacuated", "kernel upgrade"])
        const enabled = yield* services.enable("m2")
        expect(enabled).toMatchObject({ ...up("m2"), disabled_reason: undefined })
        expect(yield* services.list({ disabled: true })).toEqual([])
        const back = yield* members.get("m2")
        expect([back.status, ClusterServices.disabledReasonKey in back.config]).toEqual(["Online", false])
      }))
  },
  {
    name:
      "instances: moved to another member (?target=, snapshots along); the member it is on, an unknown one, a running one refused; live: false moves a running one",
    run: ({ image }) =>
      Effect.gen(function*() {
        const instances = yield* Instances.Instances
        const name = "ct-clmove"
        yield* Effect.ensuring(
          Effect.gen(function*() {
            yield* LxdClient.withTarget(instances.create({ name, source: { type: "image", alias: image } }), "m1")
            yield* instances.snapshots.create(name, { name: "s0" })
            yield* instances.move(name, { target: "m2" })
            expect((yield* instances.get(name)).location).toBe("m2")
            expect(yield* instances.snapshots.listNames(name)).toEqual(["s0"])
            const same = yield* Effect.flip(instances.move(name, { target: "m2" }))
            expect([same._tag, same.message]).toEqual([
              "OperationFailed",
              "Target must be different than instance's current location"
            ])
            const unknown = yield* Effect.flip(instances.move(name, { target: "m9" }))
            expect([unknown._tag, unknown.message]).toEqual([
              "NotFound",
              "Failed to get target node: Cluster member not found"
            ])
            yield* instances.start(name)
            const running = yield* Effect.flip(instances.move(name, { target: "m3" }))
            expect([running._tag, running.message]).toEqual([
              "OperationFailed",
              `Failed stopping instance "${name}": Unable to perform container live migration. CRIU isn't installed`
            ])
            // without live migration LXD stops it, moves it and starts it again on the target
            yield* instances.move(name, { target: "m3", live: false })
            const after = yield* instances.get(name)
            expect([after.location, after.status]).toEqual(["m3", "Running"])
          }),
          Effect.flatMap(Instances.Instances, (i) => Effect.ignore(i.delete(name, { force: true })))
        )
      })
  }
]

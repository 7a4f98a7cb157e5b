/**
 * Against a private daemon this file kills (SIGKILL) and restarts on the same LXD_DIR (issue 13): the
 * resubscribing event stream delivers its marker and then events caused after the restart; `Exec.start`'s
 * stdout fails with `ClientConnectionFailed` when the daemon dies mid-output instead of ending as if complete.
 * The shared lab daemons are never touched.
 */
import { Events, Exec, Instances, Lxd, Profiles } from "@effect-lxd/core"
import { NodeLxdTransport } from "@effect-lxd/node"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Layer, Ref, Stream } from "effect"
import { usePrivateLab } from "./lab/private.js"

const lab = usePrivateLab("resume")

/** A fresh client each time: the one of a killed daemon holds dead connections. */
const client = () => Lxd.layer.pipe(Layer.provide(NodeLxdTransport.layerUnixSocket({ socketPath: lab.info().socket })))

const until = <A>(ref: Ref.Ref<ReadonlyArray<A>>, found: (items: ReadonlyArray<A>) => boolean, what: string) =>
  Effect.gen(function*() {
    const start = Date.now()
    while (!found(yield* Ref.get(ref))) {
      if (Date.now() - start > 60_000) return yield* Effect.dieMessage(`timed out waiting for ${what}`)
      yield* Effect.sleep("50 millis")
    }
  })

const label = (e: Events.ResumableEvent): string =>
  Events.isResubscribed(e)
    ? `resubscribed (${e.cause?._tag ?? "closed"})`
    : e.type === "lifecycle" && !("raw" in e)
    ? `${(e as Events.LifecycleEvent).metadata.action} ${(e as Events.LifecycleEvent).metadata.source}`
    : e.type

describe("a daemon killed and restarted on the same LXD_DIR", () => {
  it.live(
    "resumable events: the marker, then events caused after the restart",
    () =>
      Effect.scoped(Effect.gen(function*() {
        const seen = yield* Ref.make<ReadonlyArray<string>>([])
        const events = yield* Events.Events
        const stream = yield* events.subscribeResumable({ types: ["lifecycle"] })
        const reader = yield* Effect.fork(
          Stream.runForEach(stream, (e) => Ref.update(seen, (xs) => [...xs, label(e)]))
        )
        yield* Effect.flatMap(Profiles.Profiles, (p) => p.create({ name: "resume-before" })).pipe(
          Effect.provide(client())
        )
        yield* until(seen, (xs) => xs.includes("profile-created /1.0/profiles/resume-before"), "the first event")
        yield* Effect.promise(() => lab.kill())
        const killed = Date.now()
        yield* Effect.promise(() => lab.restart())
        const restarted = Date.now()
        yield* until(seen, (xs) => xs.some((x) => x.startsWith("resubscribed")), "the marker")
        yield* Effect.flatMap(Profiles.Profiles, (p) => p.create({ name: "resume-after" })).pipe(
          Effect.provide(client())
        )
        yield* until(seen, (xs) => xs.includes("profile-created /1.0/profiles/resume-after"), "the event after")
        const got = yield* Ref.get(seen)
        console.log(`restart took ${restarted - killed} ms; seen: ${JSON.stringify(got)}`)
        expect(got.filter((x) => x.startsWith("resubscribed"))).toEqual(["resubscribed (ClientConnectionFailed)"])
        const marker = got.findIndex((x) => x.startsWith("resubscribed"))
        expect(got.indexOf("profile-created /1.0/profiles/resume-before")).toBeLessThan(marker)
        expect(got.indexOf("profile-created /1.0/profiles/resume-after")).toBeGreaterThan(marker)
        expect(reader.unsafePoll()).toBeNull()
        yield* Fiber.interrupt(reader)
      })).pipe(Effect.provide(client())),
    120_000
  )

  it.live(
    "Exec.start killed mid-output: stdout fails with ClientConnectionFailed instead of ending",
    () =>
      Effect.gen(function*() {
        const instances = yield* Instances.Instances
        yield* instances.create({ name: "resume-exec", source: { type: "image", alias: lab.info().image } })
        yield* instances.start("resume-exec")
        const result = yield* Effect.scoped(Effect.gen(function*() {
          const exec = yield* Exec.Exec
          const p = yield* exec.start("resume-exec", ["sh", "-c", "while true; do echo 0123456789; done"])
          let bytes = 0
          let killedAt = 0
          const outcome = yield* p.stdout.pipe(
            Stream.runForEach((chunk) =>
              Effect.promise(async () => {
                bytes += chunk.length
                if (killedAt === 0 && bytes > 64 * 1024) {
                  killedAt = Date.now()
                  await lab.kill()
                }
              })
            ),
            Effect.either,
            Effect.timeout(Duration.seconds(30))
          )
          return { outcome, bytes, afterKill: Date.now() - killedAt }
        }))
        console.log(`stdout: ${result.bytes} bytes, ended ${result.afterKill} ms after the kill`)
        expect(result.bytes).toBeGreaterThan(64 * 1024)
        expect(result.outcome._tag).toBe("Left")
        if (result.outcome._tag === "Left") expect(result.outcome.left._tag).toBe("ClientConnectionFailed")
        // a fresh call works once the daemon is back
        yield* Effect.promise(() => lab.restart())
      }).pipe(Effect.provide(client())),
    120_000
  )

  it.live("after the restart a fresh client works (the instance survived the kill)", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      const names = yield* instances.listNames()
      expect(names).toContain("resume-exec")
      const x = yield* Exec.Exec
      const r = yield* x.runText("resume-exec", ["echo", "back"])
      expect(r.stdout).toBe("back\n")
      // restart refuses while the daemon is alive (it never starts a second one on the same LXD_DIR)
      const refused = yield* Effect.promise(() => lab.restart().then(() => "restarted", (e: Error) => e.message))
      expect(refused).toContain("still running")
    }).pipe(Effect.provide(client())), 120_000)
})

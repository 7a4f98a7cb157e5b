/**
 * The main example: launch a container, configure it, run a command, snapshot, change, restore, clean up.
 * Runs against the local LXD when one answers, else against the embedded fake (it says which).
 *
 *   npx -y pnpm@10 example
 */
import { Exec, Instances } from "@effect-lxd/core"
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect } from "effect"
import { image, LocalOrFake } from "./backend.js"

const program = Effect.gen(function*() {
  const instances = yield* Instances.Instances
  const exec = yield* Exec.Exec
  const name = `example-${Date.now().toString(36)}`

  // every step is typed; every long step is an operation that is cancelled (or drained) if we are interrupted
  yield* Effect.acquireRelease(
    Effect.tap(
      instances.create({ name, source: { type: "image", alias: image }, config: { "limits.cpu": "1" } }),
      () => Console.log(`created ${name} from ${image}`)
    ),
    () => Effect.ignore(instances.delete(name, { force: true })).pipe(Effect.zipRight(Console.log(`deleted ${name}`)))
  )

  yield* instances.update(name, { description: "launched by effect-lxd", config: { "user.purpose": "demo" } })
  const configured = yield* instances.get(name)
  yield* Console.log(`configured: ${configured.description}, limits.cpu=${configured.config["limits.cpu"]}`)

  yield* instances.start(name)
  const state = yield* instances.state(name)
  yield* Console.log(`started: ${state.status}`)

  const hello = yield* exec.runText(name, ["echo", "hello from inside"])
  yield* Console.log(`exec: ${hello.stdout.trim()} (exit ${hello.exitCode})`)

  yield* instances.snapshots.create(name, { name: "before" })
  yield* instances.update(name, { description: "changed after the snapshot", config: { "user.purpose": "changed" } })
  yield* instances.stop(name, { force: true })
  yield* instances.snapshots.restore(name, "before")
  const restored = yield* instances.get(name)
  yield* Console.log(`restored snapshot "before": user.purpose=${restored.config["user.purpose"]}`)
  yield* instances.snapshots.delete(name, "before")
})

program.pipe(Effect.scoped, Effect.provide(LocalOrFake), NodeRuntime.runMain)

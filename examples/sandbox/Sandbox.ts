/**
 * A small service of "your own" built on effect-lxd: run a command in a throwaway container and always clean
 * up. `Sandbox.test.ts` next to it shows how we recommend testing such a service: against the in-memory fake.
 */
import { Exec, Instances } from "@effect-lxd/core"
import type { LxdError } from "@effect-lxd/core/LxdError"
import { Context, Effect, Layer } from "effect"

export interface RunResult {
  readonly exitCode: number
  readonly output: string
}

export class Sandbox extends Context.Tag("example/Sandbox")<Sandbox, {
  /** Creates a container from `image`, starts it, runs `command`, and deletes the container whatever happens. */
  readonly run: (image: string, command: ReadonlyArray<string>) => Effect.Effect<RunResult, LxdError>
}>() {}

let counter = 0

export const layer = Layer.effect(
  Sandbox,
  Effect.gen(function*() {
    const instances = yield* Instances.Instances
    const exec = yield* Exec.Exec
    return {
      run: (image, command) =>
        Effect.acquireUseRelease(
          Effect.suspend(() =>
            instances.create({
              name: `sandbox-${Date.now().toString(36)}-${counter++}`,
              source: { type: "image", alias: image },
              ephemeral: true
            })
          ),
          (name) =>
            Effect.zipRight(
              instances.start(name),
              Effect.map(exec.runText(name, command), (r) => ({ exitCode: r.exitCode, output: r.stdout + r.stderr }))
            ),
          // an ephemeral container disappears when it stops; delete covers the case where it never started
          (name) => Effect.ignore(Effect.orElse(instances.stop(name, { force: true }), () => instances.delete(name)))
        )
    }
  })
)

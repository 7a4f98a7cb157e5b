/**
 * How we recommend testing code built on effect-lxd: provide the in-memory fake, script commands with an exec
 * handler, and assert on behaviour (and, where it matters, on the requests made).
 */
import { Instances, Lxd } from "@effect-lxd/core"
import { LxdFakeServer } from "@effect-lxd/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as Sandbox from "./Sandbox.js"

const TestLxd = Lxd.layer.pipe(
  Layer.provide(LxdFakeServer.layer({
    // commands your code runs, answered by the test; the built-ins (echo, cat, …) still work
    exec: (ctx) => ctx.command[0] === "uname" ? Effect.as(ctx.stdout("Linux\n"), 0) : undefined
  }))
)
const TestSandbox = Sandbox.layer.pipe(Layer.provideMerge(TestLxd))

describe("Sandbox", () => {
  it.effect("runs a command and leaves no container behind", () =>
    Effect.gen(function*() {
      const sandbox = yield* Sandbox.Sandbox
      const result = yield* sandbox.run("busybox", ["uname"])
      expect(result).toEqual({ exitCode: 0, output: "Linux\n" })
      const instances = yield* Instances.Instances
      expect(yield* instances.listNames()).toEqual([])
    }).pipe(Effect.provide(TestSandbox)))

  it.effect("reports a failing command and still cleans up", () =>
    Effect.gen(function*() {
      const sandbox = yield* Sandbox.Sandbox
      const result = yield* sandbox.run("busybox", ["no-such-tool"])
      expect(result.exitCode).toBe(127)
      expect(yield* Effect.flatMap(Instances.Instances, (i) => i.listNames())).toEqual([])
    }).pipe(Effect.provide(TestSandbox)))

  it.effect("a missing image is a typed error", () =>
    Effect.gen(function*() {
      const sandbox = yield* Sandbox.Sandbox
      const error = yield* Effect.flip(sandbox.run("no-such-image", ["true"]))
      expect(error._tag).toBe("NotFound")
    }).pipe(Effect.provide(TestSandbox)))
})

/**
 * Bodies JSON cannot write or the fake cannot render: a caller's value with a cycle, a `BigInt` or nesting deeper
 * than the stack is refused with `InvalidArgument` before anything is sent (on the lean path and on the platform
 * client path alike), and its message is bounded; a raw body 20,000 levels deep gets the fake's 400, not a
 * stack overflow.
 */
import { LxdClient, LxdError, LxdTransport, Profiles } from "@effect-lxd/core"
import * as Lxd from "@effect-lxd/core/Lxd"
import { LxdFakeServer } from "@effect-lxd/testing"
import { HttpBody } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Context, Effect, Exit, Layer } from "effect"

const deep = (levels: number): unknown => {
  let v: unknown = "x"
  for (let i = 0; i < levels; i++) v = [v]
  return v
}
const cyclic = (): unknown => {
  const o: Record<string, unknown> = { a: 1 }
  o["self"] = o
  return o
}

/** Requests that reached the lean path's `json` sender (which only counts and fails). */
let sent = 0

/** The fake; on the lean path its transport also has a `json` sender, which must never be reached. */
const fake = (lean: boolean) =>
  lean
    ? Layer.map(LxdFakeServer.layer(), (ctx) =>
      Context.add(ctx, LxdTransport.LxdTransport, {
        ...Context.get(ctx, LxdTransport.LxdTransport),
        json: () => {
          sent++
          return Effect.dieMessage("a request was sent")
        }
      }))
    : LxdFakeServer.layer()

describe("bodies JSON cannot write", () => {
  for (const lean of [true, false]) {
    for (const [what, config] of [["a cycle", cyclic()], ["a BigInt", { a: 1n }], ["20,000 levels", deep(20_000)]]) {
      it.effect(`${what} (${lean ? "lean path" : "platform client"}): InvalidArgument, nothing created`, () =>
        Effect.gen(function*() {
          sent = 0
          const profiles = yield* Profiles.Profiles
          const exit = yield* Effect.exit(profiles.create({ name: "p1", config } as never))
          expect(Exit.isFailure(exit)).toBe(true)
          if (Exit.isSuccess(exit)) return
          const error = Cause.squash(exit.cause)
          expect(LxdError.isLxdError(error) && error._tag).toBe("InvalidArgument")
          expect(String((error as Error).message).length).toBeLessThan(2_000)
          expect(Cause.pretty(exit.cause).length).toBeLessThan(10_000)
          if (lean) expect(sent).toBe(0)
          else expect(yield* profiles.exists("p1")).toBe(false)
        }).pipe(Effect.provide(Lxd.layer.pipe(Layer.provide(fake(lean))))))
    }
  }

  it.effect("a raw body 20,000 levels deep: the fake's 400 names the field", () =>
    Effect.gen(function*() {
      const client = yield* LxdClient.LxdClient
      const text = `{"name":"p1","config":${"[".repeat(20_000)}${"]".repeat(20_000)}}`
      const error = yield* Effect.flip(
        client.request({ method: "POST", path: "/profiles", rawBody: HttpBody.text(text, "application/json") })
      )
      expect(error._tag).toBe("BadRequest")
      expect(error.message).toContain("ProfilesPost.config")
    }).pipe(Effect.provide(Lxd.layer.pipe(Layer.provide(LxdFakeServer.layer())))))
})

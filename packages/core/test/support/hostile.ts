/**
 * What the hostile-answer tests share: a server advertising every extension the client asks for, the exit of a
 * call against a scripted answer, and the checks that a failure is typed and its rendering bounded.
 */
import { LxdMockTransport } from "@effect-lxd/testing"
import { expect } from "@effect/vitest"
import { Cause, Effect, Exit } from "effect"
import { mockLayer, serverInfo } from "../helpers.js"
import { collections } from "./collections.js"

/** Any call under test, its types erased. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyCall = Effect.Effect<unknown, unknown, any>

/** Every extension a call may require (the collections' own, read from their specs), so nothing is gated. */
export const everyExtension: ReadonlyArray<string> = [
  ...new Set([
    "api_filtering",
    "certificate_token",
    "container_exec_recording",
    "container_exec_user_group_cwd",
    "container_only_migration",
    "container_push",
    "container_push_target",
    "etag",
    "file_append",
    "file_delete",
    "file_get_symlink",
    "file_symlinks",
    "image_create_aliases",
    "images_push_relay",
    "instance_all_projects",
    "instance_bulk_state_change",
    "instance_file_head",
    "instance_get_full",
    "metrics",
    "operations_get_query_all_projects",
    "resources",
    "snapshot_expiry",
    ...collections.flatMap((e) =>
      [e.spec.extension, e.spec.filter, e.spec.allProjects].filter((x): x is string => typeof x === "string")
    )
  ])
]

/** `GET /1.0` answered with {@link everyExtension}; everything else by `answer`. */
export const hostileLayer = (answer: (r: LxdMockTransport.MockRequest) => LxdMockTransport.MockResponse) =>
  mockLayer({
    handle: (r) =>
      Effect.sync(() =>
        r.path === "" && r.method === "GET" ? LxdMockTransport.sync(serverInfo(everyExtension)) : answer(r)
      )
  })

/** The exit of `call` against {@link hostileLayer}. */
export const exitOf = (
  call: AnyCall,
  answer: (r: LxdMockTransport.MockRequest) => LxdMockTransport.MockResponse
): Effect.Effect<Exit.Exit<unknown, unknown>> =>
  Effect.exit(call.pipe(Effect.provide(hostileLayer(answer)))) as Effect.Effect<Exit.Exit<unknown, unknown>>

/** A typed `ProtocolError` (no defect) whose rendering (`message`, `Cause.pretty`) is bounded. */
export const expectProtocolError = (exit: Exit.Exit<unknown, unknown>, contains?: string) => {
  expect(Exit.isFailure(exit)).toBe(true)
  if (Exit.isSuccess(exit)) return
  expect(Cause.isDie(exit.cause), Cause.pretty(exit.cause).slice(0, 500)).toBe(false)
  const error = Cause.squash(exit.cause) as { _tag: string; message: string }
  expect(error._tag).toBe("ProtocolError")
  expect(error.message.length).toBeLessThan(2_000)
  expect(Cause.pretty(exit.cause).length).toBeLessThan(10_000)
  if (contains !== undefined) expect(error.message).toContain(contains)
}

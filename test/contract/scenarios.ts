/**
 * The contract: scenarios written once against the public services, run against a real LXD and against the
 * in-memory fake (`test/contract.test.ts`). Each scenario cleans up after itself and uses its own names.
 */
import { Events, type Lxd, LxdClient, Operations, Server } from "@effect-lxd/core"
import { Chunk, Effect, Fiber, Stream } from "effect"
import { expect } from "vitest"

export interface Scenario {
  readonly name: string
  readonly run: (env: { readonly image: string }) => Effect.Effect<void, unknown, Lxd.Services>
}

const client = LxdClient.LxdClient

/** Runs `use` with an instance created from the image, deleting it (force-stopped) afterwards. */
export const withInstance = <A, E, R>(
  name: string,
  image: string,
  use: Effect.Effect<A, E, R>
) =>
  Effect.acquireUseRelease(
    Effect.flatMap(client, (c) =>
      c.run({ method: "POST", path: "/instances", body: { name, source: { type: "image", alias: image } } })),
    () =>
      use,
    () =>
      Effect.gen(function*() {
        const c = yield* client
        yield* Effect.ignore(
          c.run({ method: "PUT", path: `/instances/${name}/state`, body: { action: "stop", force: true } })
        )
        yield* Effect.ignore(c.run({ method: "DELETE", path: `/instances/${name}` }))
      })
  )

export const status = (name: string) =>
  Effect.flatMap(client, (c) => c.request({ method: "GET", path: `/instances/${name}` })).pipe(
    Effect.map((r) => (r.metadata as { status: string }).status)
  )

export const setState = (name: string, action: string) =>
  Effect.flatMap(
    client,
    (c) => c.run({ method: "PUT", path: `/instances/${name}/state`, body: { action, force: true, timeout: -1 } })
  )

export const scenarios: ReadonlyArray<Scenario> = [
  {
    name: "server info: trusted, extensions, a missing extension is typed",
    run: () =>
      Effect.gen(function*() {
        const server = yield* Server.Server
        const info = yield* server.info
        expect(info.auth).toBe("trusted")
        expect(info.api_version).toBe("1.0")
        expect(info.environment?.server_version).toBe("5.0.2")
        for (const ext of ["instances", "etag", "instance_all_projects", "certificate_token"]) {
          expect(yield* server.hasExtension(ext)).toBe(true)
        }
        const e = yield* Effect.flip(server.requireExtension("not_a_real_extension"))
        expect(e._tag).toBe("APIExtensionNotAvailable")
      })
  },
  {
    name: "profiles: create, ETag, patch, stale ETag refused, rename, delete; default is protected",
    run: () =>
      Effect.gen(function*() {
        const c = yield* client
        yield* c.request({
          method: "POST",
          path: "/profiles",
          body: { name: "ct-prof", config: { "limits.cpu": "1" } }
        })
        const first = yield* c.request({ method: "GET", path: "/profiles/ct-prof" })
        expect(first.etag).toBeDefined()
        expect((first.metadata as { config: Record<string, string> }).config).toEqual({ "limits.cpu": "1" })
        yield* c.request({
          method: "PATCH",
          path: "/profiles/ct-prof",
          body: { config: { "limits.memory": "64MB" } },
          etag: first.etag
        })
        const stale = yield* Effect.flip(
          c.request({
            method: "PATCH",
            path: "/profiles/ct-prof",
            body: { config: { "limits.cpu": "2" } },
            etag: first.etag
          })
        )
        expect(stale._tag).toBe("PreconditionFailed")
        const second = yield* c.request({ method: "GET", path: "/profiles/ct-prof" })
        expect((second.metadata as { config: Record<string, string> }).config).toEqual({
          "limits.cpu": "1",
          "limits.memory": "64MB"
        })
        yield* c.request({ method: "POST", path: "/profiles/ct-prof", body: { name: "ct-prof2" } })
        expect((yield* Effect.flip(c.request({ method: "GET", path: "/profiles/ct-prof" })))._tag).toBe("NotFound")
        yield* c.request({ method: "DELETE", path: "/profiles/ct-prof2" })
        expect((yield* Effect.flip(c.request({ method: "GET", path: "/profiles/ct-prof2" })))._tag).toBe("NotFound")
        expect((yield* Effect.flip(c.request({ method: "DELETE", path: "/profiles/default" })))._tag).toBe("Forbidden")
        const dup = yield* Effect.flip(c.request({ method: "POST", path: "/profiles", body: { name: "default" } }))
        // 5.0.2 answers a duplicate with a 500, not a 409
        expect(dup._tag).toBe("LxdApiError")
        expect(dup.message).toContain("The profile already exists")
      })
  },
  {
    name: "events: lifecycle events for requests made after subscribing",
    run: () =>
      Effect.scoped(Effect.gen(function*() {
        const c = yield* client
        const events = yield* Events.Events
        const stream = yield* events.subscribe({ types: ["lifecycle"] })
        const fiber = yield* Effect.fork(Stream.runCollect(
          Events.lifecycle(stream).pipe(
            Stream.filter((e) => e.metadata.source === "/1.0/profiles/ct-events"),
            Stream.take(2)
          )
        ))
        yield* c.request({ method: "POST", path: "/profiles", body: { name: "ct-events" } })
        yield* c.request({ method: "DELETE", path: "/profiles/ct-events" })
        const got = Chunk.toReadonlyArray(yield* Fiber.join(fiber).pipe(Effect.timeout("10 seconds")))
        expect(got.map((e) => e.metadata.action)).toEqual(["profile-created", "profile-deleted"])
      }))
  },
  {
    name: "instance lifecycle: create, start → Running, freeze → Frozen, unfreeze, stop → Stopped, delete → NotFound",
    run: ({ image }) =>
      withInstance(
        "ct-life",
        image,
        Effect.gen(function*() {
          expect(yield* status("ct-life")).toBe("Stopped")
          yield* setState("ct-life", "start")
          expect(yield* status("ct-life")).toBe("Running")
          yield* setState("ct-life", "freeze")
          expect(yield* status("ct-life")).toBe("Frozen")
          yield* setState("ct-life", "unfreeze")
          expect(yield* status("ct-life")).toBe("Running")
          yield* setState("ct-life", "stop")
          expect(yield* status("ct-life")).toBe("Stopped")
        })
      ).pipe(
        Effect.zipRight(
          Effect.flatMap(client, (c) => Effect.flip(c.request({ method: "GET", path: "/instances/ct-life" })))
        ),
        Effect.map((e) => expect(e._tag).toBe("NotFound"))
      )
  },
  {
    name: "state changes that make no sense fail the operation with LXD's message",
    run: ({ image }) =>
      withInstance(
        "ct-state",
        image,
        Effect.gen(function*() {
          const stopped = yield* Effect.flip(setState("ct-state", "stop"))
          expect(stopped._tag).toBe("OperationFailed")
          expect(stopped.message).toBe("The instance is already stopped")
          yield* setState("ct-state", "start")
          const started = yield* Effect.flip(setState("ct-state", "start"))
          expect(started._tag).toBe("OperationFailed")
          expect(started.message).toBe("The instance is already running")
          const c = yield* client
          const del = yield* Effect.flip(c.request({ method: "DELETE", path: "/instances/ct-state" }))
          expect(del._tag).toBe("BadRequest")
          expect(del.message).toBe("Instance is running")
          const rename = yield* Effect.flip(
            c.run({ method: "POST", path: "/instances/ct-state", body: { name: "ct-state2" } })
          )
          expect(rename._tag).toBe("OperationFailed")
          expect(rename.message).toContain("Renaming of running container not allowed")
        })
      )
  },
  {
    name: "a copy without profiles fails in its operation: no root device",
    run: ({ image }) =>
      withInstance(
        "ct-copysrc",
        image,
        Effect.gen(function*() {
          const c = yield* client
          const e = yield* Effect.flip(c.run({
            method: "POST",
            path: "/instances",
            body: { name: "ct-copy", source: { type: "copy", source: "ct-copysrc" } }
          }))
          expect(e._tag).toBe("OperationFailed")
          expect(e.message).toContain("No root device could be found")
          // with explicit profiles the copy works
          yield* c.run({
            method: "POST",
            path: "/instances",
            body: { name: "ct-copy", profiles: ["default"], source: { type: "copy", source: "ct-copysrc" } }
          })
          expect(yield* status("ct-copy")).toBe("Stopped")
          yield* c.run({ method: "DELETE", path: "/instances/ct-copy" })
        })
      )
  },
  {
    name: "operations: listed while known, waited on, gone about 5 s after they finish",
    run: ({ image }) =>
      Effect.gen(function*() {
        const c = yield* client
        const operations = yield* Operations.Operations
        const op = yield* Effect.scoped(Effect.gen(function*() {
          const handle = yield* c.operation({
            method: "POST",
            path: "/instances",
            body: { name: "ct-ops", source: { type: "image", alias: image } }
          })
          return yield* handle.wait()
        }))
        expect(op.status_code).toBe(200)
        expect(op.resources["instances"]).toContain("/1.0/instances/ct-ops")
        const ids = Object.values(yield* operations.listIds()).flat()
        expect(ids).toContain(op.id)
        const listed = yield* operations.list()
        expect(listed.map((o) => o.id)).toContain(op.id)
        expect((yield* operations.get(op.id)).status).toBe("Success")
        yield* Effect.sleep("6 seconds")
        expect((yield* Effect.flip(operations.get(op.id)))._tag).toBe("NotFound")
        yield* c.run({ method: "DELETE", path: "/instances/ct-ops" })
      })
  }
]

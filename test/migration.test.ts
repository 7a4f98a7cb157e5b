/**
 * Copy and move between two real daemons (the lab starts two: LXD_LAB_DAEMONS=2).
 */
import { Files, LxdClient, Migration, Operations } from "@effect-lxd/core"
import { NodeLxdTransport } from "@effect-lxd/node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Layer } from "effect"
import { lab, lab2 } from "./lab/lab.js"

const a = lab()
const b = lab2()

const both = Effect.all({
  source: LxdClient.connect(NodeLxdTransport.layerUnixSocket({ socketPath: a.socket })),
  target: LxdClient.connect(NodeLxdTransport.layerUnixSocket({ socketPath: b.socket }))
})

const instance = (client: LxdClient.LxdClient.Service, name: string) =>
  client.request({ method: "GET", path: `/instances/${name}` }).pipe(
    Effect.map((r) => (r.metadata as { status: string }).status),
    Effect.catchTag("NotFound", () => Effect.succeed("absent"))
  )

/** An image on `client` as LXD describes it, and where one of its aliases points. */
const imageOn = (client: LxdClient.LxdClient.Service, alias: string) =>
  Effect.all({
    image: Effect.map(
      client.request({ method: "GET", path: `/images/${a.fingerprint}` }),
      (r) => r.metadata as { fingerprint: string; public: boolean }
    ),
    aliasTarget: Effect.map(
      client.request({ method: "GET", path: `/images/aliases/${alias}` }),
      (r) => (r.metadata as { target: string }).target
    )
  })

/** Copies the lab image to the second daemon under `alias`: both clients, the operation and what the target holds. */
const copyImageAs = (alias: string, options: Partial<Migration.CopyImageOptions> = {}) =>
  Effect.gen(function*() {
    const { source, target } = yield* both
    const op = yield* Migration.copyImage({ source, target, fingerprint: a.fingerprint, aliases: [alias], ...options })
    return { source, target, op, ...(yield* imageOn(target, alias)) }
  })

/** The operations still running on `client`. */
const running = (client: LxdClient.LxdClient.Service) =>
  Effect.flatMap(Operations.Operations, (o) => o.list()).pipe(
    Effect.provide(Operations.layer.pipe(Layer.provide(Layer.succeed(LxdClient.LxdClient, client)))),
    Effect.map((ops) => ops.filter((op) => op.status_code < 200))
  )

/** The files service on `client`. */
const filesOn = (client: LxdClient.LxdClient.Service) =>
  Effect.provide(Files.Files, Files.layer.pipe(Layer.provide(Layer.succeed(LxdClient.LxdClient, client))))

const cleanup = (client: LxdClient.LxdClient.Service, name: string) =>
  Effect.ignore(client.run({ method: "PUT", path: `/instances/${name}/state`, body: { action: "stop", force: true } }))
    .pipe(
      Effect.zipRight(Effect.ignore(client.run({ method: "DELETE", path: `/instances/${name}` })))
    )

const withSource = (
  name: string,
  use: (c: { source: LxdClient.LxdClient.Service; target: LxdClient.LxdClient.Service }) => Effect.Effect<void, unknown>
) =>
  Effect.scoped(Effect.gen(function*() {
    const clients = yield* both
    yield* Effect.addFinalizer(() =>
      Effect.all([
        cleanup(clients.source, name),
        cleanup(clients.target, name),
        cleanup(clients.target, `${name}-copy`)
      ])
    )
    yield* clients.source.run({
      method: "POST",
      path: "/instances",
      body: { name, source: { type: "image", alias: a.image } }
    })
    yield* clients.source.run({ method: "POST", path: `/instances/${name}/snapshots`, body: { name: "snap0" } })
    yield* use(clients)
  }))

describe("between two servers", () => {
  it.live(
    "a stopped container copied (pull) starts on the second daemon; the source is kept",
    () =>
      withSource("mig-pull", ({ source, target }) =>
        Effect.gen(function*() {
          yield* Migration.copyInstance({ source, target, name: "mig-pull", targetName: "mig-pull-copy" })
          const snaps = yield* target.request({ method: "GET", path: "/instances/mig-pull-copy/snapshots" })
          expect(snaps.metadata).toEqual(["/1.0/instances/mig-pull-copy/snapshots/snap0"])
          yield* target.run({ method: "PUT", path: "/instances/mig-pull-copy/state", body: { action: "start" } })
          expect(yield* instance(target, "mig-pull-copy")).toBe("Running")
          expect(yield* instance(source, "mig-pull")).toBe("Stopped")
        })),
    60_000
  )

  it.live(
    "push and relay modes, instance-only",
    () =>
      withSource("mig-modes", ({ source, target }) =>
        Effect.gen(function*() {
          yield* Migration.copyInstance({
            source,
            target,
            name: "mig-modes",
            targetName: "mig-modes-copy",
            mode: "push"
          })
          expect(yield* instance(target, "mig-modes-copy")).toBe("Stopped")
          yield* cleanup(target, "mig-modes-copy")
          yield* Migration.copyInstance({
            source,
            target,
            name: "mig-modes",
            targetName: "mig-modes-copy",
            mode: "relay",
            instanceOnly: true
          })
          const snaps = yield* target.request({ method: "GET", path: "/instances/mig-modes-copy/snapshots" })
          expect(snaps.metadata).toEqual([])
        })),
    60_000
  )

  it.live(
    "move: the source is gone; a running source moves stateless and runs on the target",
    () =>
      withSource("mig-move", ({ source, target }) =>
        Effect.gen(function*() {
          yield* source.run({ method: "PUT", path: "/instances/mig-move/state", body: { action: "start" } })
          yield* Migration.copyInstance({ source, target, name: "mig-move", move: true })
          expect(yield* instance(source, "mig-move")).toBe("absent")
          expect(yield* instance(target, "mig-move")).toBe("Running")
        })),
    60_000
  )

  it.live(
    "live migration without CRIU is a clear typed error, and nothing is left behind",
    () =>
      withSource("mig-live", ({ source, target }) =>
        Effect.gen(function*() {
          yield* source.run({ method: "PUT", path: "/instances/mig-live/state", body: { action: "start" } })
          const e = yield* Effect.flip(Migration.copyInstance({ source, target, name: "mig-live", live: true }))
          expect(["LxdApiError", "OperationFailed"]).toContain(e._tag)
          expect(e.message).toContain("CRIU isn't installed")
          expect(yield* instance(target, "mig-live")).toBe("absent")
          expect(yield* instance(source, "mig-live")).toBe("Running")
        })),
    60_000
  )

  it.live(
    "interrupting a copy leaves no migration operation running on either server",
    () =>
      withSource("mig-int", ({ source, target }) =>
        Effect.gen(function*() {
          const fiber = yield* Effect.fork(
            Migration.copyInstance({ source, target, name: "mig-int", targetName: "mig-int-copy" })
          )
          yield* Effect.sleep("150 millis")
          yield* Fiber.interrupt(fiber)
          const migrating = (client: LxdClient.LxdClient.Service) =>
            Effect.map(running(client), (ops) => ops.filter((op) => op.class !== "token"))
          expect(yield* migrating(source)).toEqual([])
          expect(yield* migrating(target)).toEqual([])
          // both daemons still answer
          expect(yield* instance(source, "mig-int")).toBe("Stopped")
        })),
    90_000
  )

  it.live(
    "a snapshot copied as a new instance on the second daemon (pull, push, relay): the snapshot's file is there",
    () =>
      Effect.scoped(Effect.gen(function*() {
        const { source, target } = yield* both
        const modes = ["pull", "push", "relay"] as const
        yield* Effect.addFinalizer(() =>
          Effect.all([cleanup(source, "mig-snap"), ...modes.map((mode) => cleanup(target, `mig-snap-${mode}`))])
        )
        yield* source.run({
          method: "POST",
          path: "/instances",
          body: { name: "mig-snap", source: { type: "image", alias: a.image } }
        })
        const [from, to] = [yield* filesOn(source), yield* filesOn(target)]
        yield* from.put("mig-snap", "/root/marker", "in snap0\n")
        yield* source.run({ method: "POST", path: "/instances/mig-snap/snapshots", body: { name: "snap0" } })
        // changed after the snapshot: the copy must hold the snapshot's content
        yield* from.put("mig-snap", "/root/marker", "after snap0\n")
        const took: Record<string, number> = {}
        for (const mode of modes) {
          const name = `mig-snap-${mode}`
          const started = Date.now()
          const op = yield* Migration.copySnapshot({
            source,
            target,
            name: "mig-snap",
            snapshot: "snap0",
            targetName: name,
            mode
          })
          took[mode] = Date.now() - started
          expect(op.status).toBe("Success")
          expect(yield* to.readText(name, "/root/marker")).toBe("in snap0\n")
          expect((yield* target.request({ method: "GET", path: `/instances/${name}/snapshots` })).metadata).toEqual([])
          expect(yield* instance(target, name)).toBe("Stopped")
        }
        yield* target.run({ method: "PUT", path: "/instances/mig-snap-pull/state", body: { action: "start" } })
        expect(yield* instance(target, "mig-snap-pull")).toBe("Running")
        // the source and its snapshot are untouched; nothing is left running on either side
        expect(yield* from.readText("mig-snap", "/root/marker")).toBe("after snap0\n")
        const migrating = (client: LxdClient.LxdClient.Service) =>
          Effect.map(running(client), (ops) => ops.filter((op) => op.class !== "token"))
        expect(yield* migrating(source)).toEqual([])
        expect(yield* migrating(target)).toEqual([])
        yield* Effect.log(`snapshot copy: pull ${took["pull"]} ms, push ${took["push"]} ms, relay ${took["relay"]} ms`)
      })),
    90_000
  )

  it.live(
    "a private image is copied with a one-time secret, under a new alias",
    () =>
      Effect.scoped(Effect.gen(function*() {
        const { aliasTarget, target } = yield* copyImageAs("copied-busybox")
        expect(aliasTarget).toBe(a.fingerprint)
        yield* target.run({ method: "DELETE", path: `/images/${a.fingerprint}` })
      })),
    60_000
  )

  it.live(
    "push mode: the source uploads the image to the target, which names it",
    () =>
      Effect.scoped(Effect.gen(function*() {
        const { aliasTarget, image, op, source, target } = yield* copyImageAs("pushed-busybox", { mode: "push" })
        expect(op.status).toBe("Success")
        expect(image.fingerprint).toBe(a.fingerprint)
        expect(aliasTarget).toBe(a.fingerprint)
        // nothing left running on either side (the receiving operation was used)
        expect(yield* running(source)).toEqual([])
        expect(yield* running(target)).toEqual([])
        yield* target.run({ method: "DELETE", path: `/images/${a.fingerprint}` })
      })),
    60_000
  )

  it.live(
    "relay mode: the image streams through the client; a target that refuses it fails typed",
    () =>
      Effect.scoped(Effect.gen(function*() {
        const { aliasTarget, image, op, source, target } = yield* copyImageAs("relayed-busybox", {
          mode: "relay",
          public: true
        })
        expect(op.status).toBe("Success")
        expect(image.fingerprint).toBe(a.fingerprint)
        expect(image.public).toBe(true)
        expect(aliasTarget).toBe(a.fingerprint)
        // the same image again: the target refuses it, as a typed error
        const again = yield* Effect.flip(
          Migration.copyImage({ source, target, fingerprint: a.fingerprint, mode: "relay" })
        )
        expect(again._tag).toBe("OperationFailed")
        yield* target.run({ method: "DELETE", path: `/images/${a.fingerprint}` })
      })),
    60_000
  )
})

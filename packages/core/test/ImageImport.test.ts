/**
 * Images arriving from elsewhere, on two fakes (the target pulls from the source through `remotes`) and on the
 * mock: a private image copied with a one-time secret whose token is gone afterwards, a copy whose scope closes
 * early, relay, publish answered by the fake, the request bodies of URL and simplestreams imports, names refused
 * before any request, and `refresh` returning the fingerprint now current.
 */
import { Images, Instances, Lxd, LxdClient, Operations } from "@effect-lxd/core"
import { LxdFakeServer, LxdMockTransport } from "@effect-lxd/testing"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Layer, Stream } from "effect"
import { mockLayer, serverInfo } from "./helpers.js"

const { async: asyncAnswer, operation, route, socket, sync } = LxdMockTransport

/** Two fakes: `source` listens on an address, the target (whose services are provided) can pull from it. */
const twoFakes = <A, E>(use: (source: LxdClient.LxdClient.Service) => Effect.Effect<A, E, Lxd.Services>) =>
  Effect.scoped(Effect.gen(function*() {
    const source = yield* LxdClient.connect(LxdFakeServer.layer({ address: "10.0.0.1:8443" }))
    const target = yield* LxdClient.connect(
      LxdFakeServer.layer({ remotes: { "https://10.0.0.1:8443": source.transport } })
    )
    return yield* Effect.provide(use(source), Lxd.layerFromClient(target))
  }))

/** The target's images with its own busybox image deleted, so that the source's (the same) can land. */
const withoutBusybox = Effect.gen(function*() {
  const images = yield* Images.Images
  const fingerprint = (yield* images.getByAlias("busybox")).fingerprint
  yield* images.delete(fingerprint)
  return { images, fingerprint }
})

const onServer = <A, E>(client: LxdClient.LxdClient.Service, use: Effect.Effect<A, E, Lxd.Services>) =>
  Effect.provide(use, Lxd.layerFromClient(client))

const runningOn = (client: LxdClient.LxdClient.Service) =>
  onServer(
    client,
    Effect.map(
      Effect.flatMap(Operations.Operations, (o) => o.list()),
      (ops) => ops.filter((op) => op.status_code < 200)
    )
  )

describe("Images.copyFrom on two fakes", () => {
  it.live("pull: a private image lands with its aliases; the secret's token does not outlive the copy", () =>
    twoFakes((source) =>
      Effect.gen(function*() {
        // the target fake starts with the same image as the source: it goes, so the copy can land
        const { fingerprint, images } = yield* withoutBusybox
        const image = yield* images.copyFrom({
          source,
          fingerprint: fingerprint.slice(0, 8),
          aliases: ["copied", { name: "copied2", description: "d" }],
          public: true
        })
        expect(image).toMatchObject({ fingerprint, public: true })
        expect(image.aliases).toEqual([{ name: "copied", description: "" }, { name: "copied2", description: "d" }])
        expect(image.properties).toMatchObject({ os: "busybox" })
        expect(yield* runningOn(source)).toEqual([])
        // again: as LXD, the target keeps the image it has (nothing is downloaded) and the copy succeeds
        expect((yield* images.copyFrom({ source, fingerprint })).aliases.length).toBe(2)
        expect(yield* runningOn(source)).toEqual([])
      })
    ))

  it.live("copyFromOperation: progress follows the download; a scope closed first leaves no operation", () =>
    twoFakes((source) =>
      Effect.gen(function*() {
        const { fingerprint, images } = yield* withoutBusybox
        const updates = yield* Effect.scoped(Effect.gen(function*() {
          const handle = yield* images.copyFromOperation({ source, fingerprint })
          const [updates] = yield* Effect.all([Stream.runCollect(handle.progress), handle.wait()], { concurrency: 2 })
          return Chunk.toReadonlyArray(updates)
        }))
        expect(updates.length).toBeGreaterThanOrEqual(1)
        expect(updates.at(-1)?.status).toBe("Success")
        yield* images.delete(fingerprint)
        // the scope closes before anything is waited on: nothing stays running on either side
        yield* Effect.scoped(images.copyFromOperation({ source, fingerprint }))
        expect(yield* runningOn(source)).toEqual([])
        expect(yield* runningOn(yield* LxdClient.LxdClient)).toEqual([])
      })
    ))

  it.live("relay: the export streams into the target's upload; the alias follows", () =>
    twoFakes((source) =>
      Effect.gen(function*() {
        const { fingerprint, images } = yield* withoutBusybox
        const image = yield* images.copyFrom({ source, fingerprint, mode: "relay", aliases: ["relayed"] })
        expect(image.fingerprint).toBe(fingerprint)
        expect((yield* images.getByAlias("relayed")).fingerprint).toBe(fingerprint)
      })
    ))

  it.live("a source that does not listen on the network is refused before the target is asked", () =>
    twoFakes(() =>
      Effect.gen(function*() {
        const images = yield* Images.Images
        const target = yield* LxdClient.LxdClient
        const fingerprint = (yield* images.getByAlias("busybox")).fingerprint
        const e = yield* Effect.flip(images.copyFrom({ source: target, fingerprint }))
        expect(e._tag).toBe("InvalidArgument")
        const bad = yield* Effect.flip(images.copyFrom({ source: target, fingerprint, aliases: ["a/b"] }))
        expect(bad._tag).toBe("InvalidArgument")
      })
    ))
})

describe("publish answered by the fake", () => {
  it.live("a stopped instance becomes an Image with its alias, properties and public flag; a running one fails", () =>
    Effect.gen(function*() {
      const instances = yield* Instances.Instances
      yield* instances.create({ name: "c1", source: { type: "image", alias: "busybox" } })
      const image = yield* instances.publish("c1", {
        aliases: ["pub"],
        properties: { note: "x" },
        public: true
      })
      expect(image).toMatchObject({ public: true, properties: { note: "x" }, aliases: [{ name: "pub" }] })
      expect((yield* (yield* Images.Images).getByAlias("pub")).fingerprint).toBe(image.fingerprint)
      yield* instances.snapshots.create("c1", { name: "s0" })
      yield* instances.start("c1")
      expect((yield* instances.snapshots.publish("c1", "s0")).public).toBe(false)
      const e = yield* Effect.flip(instances.publish("c1"))
      expect(e.message).toBe("Cannot export a running instance as an image")
    }).pipe(Effect.provide(Lxd.layer.pipe(Layer.provide(LxdFakeServer.layer())))))
})

describe("Images.importFrom and refresh on the mock", () => {
  const recorded = Effect.flatMap(LxdMockTransport.MockTransport, (m) => m.requests)
  const image = (fingerprint: string, aliases: ReadonlyArray<string> = []) =>
    sync({
      fingerprint,
      aliases: aliases.map((name) => ({ name, description: "" })),
      properties: {},
      update_source: { server: "https://s", protocol: "simplestreams", alias: "a", certificate: "" }
    })
  const mock = (refreshed: boolean) =>
    mockLayer({
      // the progress subscription: no events (the wait answers)
      sockets: [route("GET", "/events", () => Effect.succeed(socket([])))],
      routes: [
        route("GET", "", () => Effect.succeed(sync(serverInfo(["image_create_aliases"])))),
        route("POST", "/images", () => Effect.succeed(asyncAnswer(operation("imp")))),
        route("GET", "/operations/imp/wait", () =>
          Effect.succeed(
            sync(operation("imp", { status: "Success", status_code: 200, metadata: { fingerprint: "aa" } }))
          )),
        route("GET", "/images/aa", () => Effect.succeed(image("aa", ["al"]))),
        route("POST", "/images/aa/refresh", () => Effect.succeed(asyncAnswer(operation("ref")))),
        route("GET", "/operations/ref/wait", () =>
          Effect.succeed(sync(operation("ref", { status: "Success", status_code: 200, metadata: { refreshed } })))),
        route("GET", "/images/aliases/al", () =>
          Effect.succeed(sync({ name: "al", target: "bb" })))
      ]
    })

  it.effect("a URL and a simplestreams server are sent as LXD reads them; the Image comes back", () =>
    Effect.gen(function*() {
      const images = yield* Images.Images
      expect((yield* images.importFrom({ type: "url", url: "https://example.net/img" })).fingerprint).toBe("aa")
      yield* images.importFrom(
        { type: "image", protocol: "simplestreams", server: "https://s", alias: "a", certificate: "PEM" },
        { aliases: ["al"], autoUpdate: true, public: false }
      )
      const bodies = (yield* recorded).filter((r) => r.method === "POST" && r.url === "/1.0/images").map((r) => r.body)
      expect(bodies).toEqual([
        { source: { type: "url", url: "https://example.net/img" } },
        {
          source: {
            type: "image",
            mode: "pull",
            server: "https://s",
            protocol: "simplestreams",
            alias: "a",
            certificate: "PEM"
          },
          public: false,
          auto_update: true,
          aliases: [{ name: "al" }]
        }
      ])
    }).pipe(Effect.provide(mock(false))))

  it.effect("bad sources are refused before any request", () =>
    Effect.gen(function*() {
      const images = yield* Images.Images
      const attempts = [
        images.importFrom({ type: "url", url: "file:///etc/passwd" }),
        images.importFrom({ type: "image", server: "https://s" }),
        images.importFrom({ type: "image", server: "https://s", alias: "a", fingerprint: "f" }),
        images.importFrom({ type: "image", server: "https://s", alias: "a/b" }),
        images.importFrom({ type: "url", url: "https://s/x" }, { aliases: ["../x"] })
      ]
      for (const attempt of attempts) expect((yield* Effect.flip(attempt))._tag).toBe("InvalidArgument")
      expect((yield* recorded).filter((r) => r.method === "POST")).toEqual([])
    }).pipe(Effect.provide(mock(false))))

  it.effect("refresh: the same fingerprint when nothing changed, the alias's new target when it did", () =>
    Effect.gen(function*() {
      expect(yield* (yield* Images.Images).refresh("aa")).toBe("aa")
    }).pipe(
      Effect.provide(mock(false)),
      Effect.zipRight(
        Effect.flatMap(Images.Images, (i) => i.refresh("aa")).pipe(
          Effect.map((fresh) => expect(fresh).toBe("bb")),
          Effect.provide(mock(true))
        )
      )
    ))
})

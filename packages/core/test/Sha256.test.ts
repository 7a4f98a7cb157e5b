/**
 * The SHA-256 reference: the engine takes the one in context where it is built, and every image hash goes through
 * it (a counting hasher sees the export's and the upload's bytes); the plain TypeScript default agrees with
 * `node:crypto` on random inputs cut in random chunks.
 */
import { Images, Lxd, LxdClient, Sha256 } from "@effect-lxd/core"
import { LxdMockTransport } from "@effect-lxd/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect, FastCheck as fc, Layer, Stream } from "effect"
import { createHash } from "node:crypto"
import { mockLayer, serverInfo } from "./helpers.js"

const { async: asyncAnswer, operation, raw, route, sync } = LxdMockTransport

const native = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")

/** A hasher that counts what it is given and delegates to the plain one. */
const counting = () => {
  const seen = { hashes: 0, bytes: 0 }
  const service: Sha256.Sha256.Service = {
    make: () => {
      seen.hashes++
      const inner = Sha256.plain.make()
      return {
        update: (chunk) => {
          seen.bytes += chunk.length
          inner.update(chunk)
        },
        digest: inner.digest
      }
    }
  }
  return { seen, service }
}

describe("Sha256", () => {
  const bytes = new Uint8Array(3000).map((_, i) => (i * 7919) & 0xff)
  const fingerprint = native(bytes)
  const done = { status: "Success", status_code: 200, metadata: { fingerprint, size: "3000" } }
  const transport = mockLayer({
    routes: [
      route("GET", "", () => Effect.succeed(sync(serverInfo(["etag"])))),
      route("GET", `/images/${fingerprint}`, () => Effect.succeed(sync({ fingerprint, properties: {} }))),
      route("GET", `/images/${fingerprint}/export`, () => Effect.succeed(raw(bytes))),
      route("POST", "/images", () => Effect.succeed(asyncAnswer(operation("up", done)))),
      route("GET", "/operations/up/wait", () => Effect.succeed(sync(operation("up", done))))
    ]
  })

  it.effect("the engine takes the reference where it is built; export and upload hash through it", () => {
    const { seen, service } = counting()
    return Effect.gen(function*() {
      const client = yield* LxdClient.LxdClient
      expect(client.sha256).toBe(service)
      const images = yield* Images.Images
      yield* Stream.runDrain(images.export(fingerprint))
      expect(seen).toEqual({ hashes: 1, bytes: 3000 })
      expect(yield* images.upload(Stream.make(bytes.subarray(0, 1000), bytes.subarray(1000)))).toBe(fingerprint)
      expect(seen).toEqual({ hashes: 2, bytes: 6000 })
    }).pipe(
      Effect.provide(
        Lxd.layer.pipe(Layer.provide(transport), Layer.provide(Layer.succeed(Sha256.Sha256, service)))
      )
    )
  })

  it.effect("without one in context, the engine uses the plain default", () =>
    Effect.map(LxdClient.LxdClient, (client) => expect(client.sha256).toBe(Sha256.plain)).pipe(
      Effect.provide(LxdClient.layer.pipe(Layer.provide(transport)))
    ))

  it("the plain default agrees with node:crypto on random inputs in random chunks", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 700 }),
        fc.array(fc.integer({ min: 0, max: 200 }), { maxLength: 12 }),
        (input, cuts) => {
          const hash = Sha256.plain.make()
          let at = 0
          for (const cut of cuts) {
            hash.update(input.subarray(at, at + cut))
            at = Math.min(input.length, at + cut)
          }
          hash.update(input.subarray(at))
          expect(hash.digest()).toBe(native(input))
        }
      ),
      { numRuns: 300 }
    )
  })
})

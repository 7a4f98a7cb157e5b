/**
 * The node transports provide `node:crypto`'s SHA-256 beside the transport: an engine built over any of them hashes
 * with it (nothing connects to build one), and it agrees with the plain default on random inputs.
 */
import { LxdClient, Sha256 } from "@effect-lxd/core"
import { NodeLxdTransport } from "@effect-lxd/node"
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, FastCheck as fc, Layer } from "effect"

describe("NodeLxdTransport provides the native SHA-256", () => {
  it.scoped("layerUnixSocket, layerHttps and layerConfig: the engine hashes with node:crypto", () =>
    Effect.gen(function*() {
      const unix = yield* LxdClient.connect(NodeLxdTransport.layerUnixSocket({ socketPath: "/nonexistent.sock" }))
      expect(unix.sha256).toBe(NodeLxdTransport.nativeSha256)
      const https = yield* LxdClient.connect(NodeLxdTransport.layerHttps({ url: "https://127.0.0.1:1" }))
      expect(https.sha256).toBe(NodeLxdTransport.nativeSha256)
      const config = yield* LxdClient.connect(NodeLxdTransport.layerConfig).pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["LXD_SOCKET", "/nonexistent.sock"]])))
      )
      expect(config.sha256).toBe(NodeLxdTransport.nativeSha256)
      // one set by hand, merged after the transport, is the one the engine takes
      const byHand = yield* LxdClient.connect(
        Layer.merge(NodeLxdTransport.layerUnixSocket({ socketPath: "/x" }), Layer.succeed(Sha256.Sha256, Sha256.plain))
      )
      expect(byHand.sha256).toBe(Sha256.plain)
    }))

  it("agrees with the plain default on random inputs", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (input) => {
        const a = NodeLxdTransport.nativeSha256.make()
        const b = Sha256.plain.make()
        a.update(input)
        b.update(input)
        expect(a.digest()).toBe(b.digest())
      }),
      { numRuns: 200 }
    )
  })
})

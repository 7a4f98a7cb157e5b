/**
 * The contract suite must catch a fake that lies: here the fake is wrapped so that, once a `stop` went through,
 * instances still read as Running. The lifecycle scenario has to fail on it.
 */
import { Lxd } from "@effect-lxd/core"
import { LxdTransport } from "@effect-lxd/core/LxdTransport"
import { LxdFakeServer } from "@effect-lxd/testing"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { scenarios } from "./contract/scenarios.js"

const runningAfterStop = Layer.effect(
  LxdTransport,
  Effect.map(LxdTransport, (transport) => {
    let stopped = false
    const http = HttpClient.transformResponse(transport.http, (effect) =>
      Effect.flatMap(effect, (response) => {
        const { method, url } = response.request
        if (method === "PUT" && url.endsWith("/state")) stopped = true
        if (!stopped || method !== "GET" || !/\/1\.0\/instances\/[^/?]+(\?|$)/.test(url)) {
          return Effect.succeed(response)
        }
        return Effect.map(Effect.orDie(response.json), (body) => {
          const b = body as { metadata: { status: string; status_code: number } }
          if (b.metadata.status === "Stopped") b.metadata = { ...b.metadata, status: "Running", status_code: 103 }
          return HttpClientResponse.fromWeb(
            response.request,
            new Response(JSON.stringify(b), { status: response.status })
          )
        })
      }))
    return LxdTransport.of({ ...transport, http })
  })
).pipe(Layer.provide(LxdFakeServer.layer()))

describe("the contract suite itself", () => {
  it.live("catches a fake that reports Running after stop", () =>
    Effect.gen(function*() {
      const lifecycle = scenarios.find((s) => s.name.startsWith("instance lifecycle"))!
      const exit = yield* Effect.exit(
        lifecycle.run({ image: "busybox" }).pipe(
          Effect.provide(Lxd.layer.pipe(Layer.provide(runningAfterStop)))
        )
      )
      expect(exit._tag).toBe("Failure")
      expect(String(exit)).toContain("Stopped")
      // and the honest fake passes the very same scenario
      yield* lifecycle.run({ image: "busybox" }).pipe(
        Effect.provide(Lxd.layer.pipe(Layer.provide(LxdFakeServer.layer())))
      )
    }))
})

/**
 * A prototype of a leaner request path, for comparison only (not library code): one `Effect.tryPromise` around
 * undici's `Agent.request` (with the abort signal, so interruption still aborts the request), the body read and
 * `JSON.parse`d, the envelope checked by hand, and the metadata decoded with a cached
 * `Schema.decodeUnknownEither`. It skips what `@effect/platform`'s `HttpClient` adds per request: the span and
 * trace headers, `new URL`, the `Headers` conversions, the `FinalizationRegistry` entry, and the
 * `Effect.cached` + `Effect.runSync` fiber behind `response.json`.
 */
import { Effect, Schema } from "effect"
import { makeUndiciAgent } from "./raw.js"

export interface LeanClient {
  readonly sync: <A, I>(schema: Schema.Schema<A, I, never>, path: string) => Effect.Effect<A, Error>
  readonly close: () => void
}

export const makeLeanClient = (socketPath: string): LeanClient => {
  const agent = makeUndiciAgent(socketPath)
  const decoders = new WeakMap<object, (u: unknown) => unknown>()
  const decoderFor = <A, I>(schema: Schema.Schema<A, I, never>) => {
    let d = decoders.get(schema)
    if (d === undefined) {
      const decode = Schema.decodeUnknownEither(schema)
      d = (u) => decode(u)
      decoders.set(schema, d)
    }
    return d as (u: unknown) => ReturnType<ReturnType<typeof Schema.decodeUnknownEither<A, I>>>
  }
  return {
    sync: (schema, path) =>
      Effect.flatMap(
        Effect.tryPromise({
          try: async (signal) => {
            const r = await agent.request({
              origin: "http://lxd",
              path: `/1.0${path}`,
              method: "GET",
              headers: { accept: "application/json" },
              signal
            })
            return { status: r.statusCode, body: JSON.parse(await r.body.text()) as unknown }
          },
          catch: (cause) => new Error("request failed", { cause })
        }),
        ({ body, status }) => {
          const env = body as { type?: unknown; metadata?: unknown }
          if (typeof env !== "object" || env === null || env.type !== "sync") {
            return Effect.fail(new Error(`HTTP ${status}: not a sync envelope`))
          }
          const r = decoderFor(schema)(env.metadata ?? null)
          return r._tag === "Right" ? Effect.succeed(r.right) : Effect.fail(new Error(r.left.message))
        }
      ),
    close: () => void agent.close().catch(() => {})
  }
}

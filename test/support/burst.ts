/**
 * A burst of concurrent `GET /1.0/instances` through one unix-socket transport, with the number of sockets the
 * process holds sampled while it runs (`/proc/self/fd` links to `socket:[…]`). Imported by `bench/burst.ts`;
 * run directly (`node --import tsx test/support/burst.ts SOCKET N MAX`, MAX `off` for no cap) it prints one JSON
 * line, for `test/burst.test.ts` to run it under `ulimit -n 256`.
 */
import * as LxdClient from "@effect-lxd/core/LxdClient"
import * as NodeLxdTransport from "@effect-lxd/node/NodeLxdTransport"
import { Effect, Exit, Layer, ManagedRuntime } from "effect"
import * as fs from "node:fs"
import { fileURLToPath } from "node:url"

/** Sockets this process holds now (0 when it cannot even list them). */
export const countSockets = (): number => {
  let n = 0
  let fds: Array<string>
  try {
    fds = fs.readdirSync("/proc/self/fd")
  } catch {
    return 0 // out of descriptors (EMFILE) without a cap: this sample is lost
  }
  for (const fd of fds) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith("socket:")) n++
    } catch {
      // closed meanwhile
    }
  }
  return n
}

export interface BurstResult {
  readonly ok: number
  readonly failed: number
  /** The first failures' reasons, for the report. */
  readonly reasons: ReadonlyArray<string>
  /** The most sockets the process held during the burst. */
  readonly peakSockets: number
  /** `peakSockets` minus those it held before the burst. */
  readonly newSockets: number
  readonly ms: number
}

/** A client over its own transport; `maxConnections` `Infinity` is no cap. */
export const makeRuntime = (socketPath: string, maxConnections: number) =>
  ManagedRuntime.make(
    LxdClient.layer.pipe(Layer.provide(NodeLxdTransport.layerUnixSocket({ socketPath, maxConnections })))
  )

/** `n` concurrent GETs on a built runtime; the sockets are sampled every 2 ms meanwhile. */
export const burst = async (
  runtime: ReturnType<typeof makeRuntime>,
  n: number
): Promise<BurstResult> => {
  const before = countSockets()
  let peakSockets = before
  const sampler = setInterval(() => {
    peakSockets = Math.max(peakSockets, countSockets())
  }, 2)
  const started = performance.now()
  const exits = await runtime.runPromise(
    Effect.flatMap(LxdClient.LxdClient, (client) =>
      Effect.forEach(
        Array.from({ length: n }, (_, i) => i),
        () => Effect.exit(client.request({ method: "GET", path: "/instances" })),
        { concurrency: "unbounded" }
      ))
  )
  const ms = performance.now() - started
  clearInterval(sampler)
  peakSockets = Math.max(peakSockets, countSockets())
  const failures = exits.filter(Exit.isFailure)
  const reasons = [...new Set(failures.map((e) => String(e.cause._tag === "Fail" ? e.cause.error.message : e.cause)))]
  return {
    ok: n - failures.length,
    failed: failures.length,
    reasons: reasons.slice(0, 3),
    peakSockets,
    newSockets: peakSockets - before,
    ms
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [socketPath, count, max] = process.argv.slice(2)
  const runtime = makeRuntime(socketPath!, max === "off" ? Infinity : Number(max))
  // the transport is built (and a connection warmed) before the burst
  await runtime.runPromise(Effect.flatMap(LxdClient.LxdClient, (c) => c.request({ method: "GET", path: "" })))
  const result = await burst(runtime, Number(count))
  await runtime.dispose()
  process.stdout.write(JSON.stringify(result) + "\n")
}

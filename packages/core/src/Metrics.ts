/**
 * Metrics (`GET /1.0/metrics`, extension `metrics`): the server's and its running instances' counters and
 * gauges, as typed samples parsed from the OpenMetrics text LXD writes (kept whole in `text`). LXD caches the
 * text for about 8 seconds; in a cluster, aim at one member with `LxdClient.withTarget`. Over HTTPS the client
 * needs a `metrics` (or trusted) certificate unless `core.metrics_authentication=false`.
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as internal from "./internal/metrics.js"
import { LxdClient, protocolError } from "./LxdClient.js"
import type { LxdError } from "./LxdError.js"

/**
 * One sample: its own name (`lxd_cpu_seconds_total`), its family's name, `# TYPE` (`counter`, `gauge`, …;
 * `unknown` when none was given) and `# HELP`, its labels (`name`, `project`, `type` for instance series) and
 * its value (`NaN` and `±Infinity` included).
 *
 * @since 0.2.0
 * @category models
 */
export interface MetricSample {
  readonly name: string
  readonly family: string
  readonly type: string
  readonly help: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
  /** Only when the line carries one (LXD's do not). */
  readonly timestamp?: number | undefined
}

/**
 * The samples and the text they were read from.
 *
 * @since 0.2.0
 * @category models
 */
export interface MetricSet {
  readonly samples: ReadonlyArray<MetricSample>
  readonly text: string
}

/**
 * Parses OpenMetrics text as LXD writes it; a line it cannot read is a `ProtocolError` naming the line.
 *
 * @since 0.2.0
 * @category constructors
 */
export const parse = (text: string): Effect.Effect<MetricSet, LxdError> => {
  const parsed = internal.parse(text)
  return parsed instanceof internal.MetricsSyntaxError
    ? Effect.fail(
      protocolError({ method: "GET", path: "/metrics" }, `metrics line ${parsed.line}: ${parsed.reason}`)
    )
    : Effect.succeed({ samples: parsed.samples, text })
}

/**
 * The samples of one family (`lxd_memory_MemAvailable_bytes`), or whose own name is `name`.
 *
 * @since 0.2.0
 * @category accessors
 */
export const samplesOf = (metrics: MetricSet, name: string): ReadonlyArray<MetricSample> =>
  metrics.samples.filter((s) => s.family === name || s.name === name)

/**
 * The instances the metrics describe, as `project/name` (from the `name` and `project` labels of their series).
 * LXD reports series for running instances only; the `lxd_instances` gauge (`metrics_instances_count`, not in
 * 5.0.2) counts all of them.
 *
 * @since 0.2.0
 * @category accessors
 */
export const instances = (metrics: MetricSet): ReadonlyArray<string> => {
  const out = new Set<string>()
  for (const s of metrics.samples) {
    const name = s.labels["name"]
    if (name !== undefined && s.labels["type"] !== undefined) out.add(`${s.labels["project"] ?? "default"}/${name}`)
  }
  return [...out].sort()
}

/**
 * @since 0.2.0
 * @category tags
 */
export class Metrics extends Context.Tag("@effect-lxd/core/Metrics")<Metrics, Metrics.Service>() {}

/**
 * @since 0.2.0
 */
export declare namespace Metrics {
  /**
   * @since 0.2.0
   * @category models
   */
  export interface Service {
    /**
     * `GET /1.0/metrics` (extension `metrics`), parsed. In a project (`LxdClient.withProject`) only its
     * instances. Errors: `APIExtensionNotAvailable`, `Forbidden` (a certificate not allowed metrics),
     * `ProtocolError` (text it cannot read), `ClientConnectionFailed`.
     */
    readonly get: Effect.Effect<MetricSet, LxdError>
  }
}

/**
 * @since 0.2.0
 * @category constructors
 */
export const make: Effect.Effect<Metrics.Service, never, LxdClient> = Effect.map(LxdClient, (client) => ({
  get: client.requireExtension("metrics").pipe(
    Effect.zipRight(client.requestText({ method: "GET", path: "/metrics" })),
    Effect.flatMap(parse),
    Effect.withSpan("Metrics.get")
  )
}))

/**
 * @since 0.2.0
 * @category layers
 */
export const layer: Layer.Layer<Metrics, never, LxdClient> = Layer.effect(Metrics, make)

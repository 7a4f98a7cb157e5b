/**
 * The transports' bounds: how long a connect, an answer and a silent websocket may take, how many connections
 * a transport opens at once, and how long an unused socket stays open. One resolved value per transport, in
 * milliseconds, read by every path (undici, the unix socket's own download, upload and websocket clients, `ws`).
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import type { CommonOptions } from "../NodeLxdTransport.js"

/** Resolved bounds; `0` (or `Infinity` connections) means none. @internal */
export interface Limits {
  readonly connectMs: number
  readonly responseMs: number
  readonly pingIntervalMs: number
  readonly maxMissedPongs: number
  readonly maxConnections: number
  readonly idleSocketMs: number
}

/** @internal */
export const DEFAULTS = {
  connectTimeout: Duration.seconds(10),
  responseTimeout: Duration.seconds(60),
  pingInterval: Duration.seconds(20),
  maxMissedPongs: 2,
  maxConnections: 64,
  idleSocketTimeout: Duration.seconds(4)
} as const

/** `Duration.infinity` (or zero) turns a bound off. */
const millis = (input: Duration.DurationInput): number => {
  const d = Duration.decode(input)
  return Duration.isFinite(d) ? Math.max(0, Math.ceil(Duration.toMillis(d))) : 0
}

/** @internal */
export const resolve = (options: CommonOptions): Limits => {
  const maxConnections = options.maxConnections ?? DEFAULTS.maxConnections
  return {
    connectMs: millis(options.connectTimeout ?? DEFAULTS.connectTimeout),
    responseMs: millis(options.responseTimeout ?? DEFAULTS.responseTimeout),
    pingIntervalMs: millis(options.pingInterval ?? DEFAULTS.pingInterval),
    maxMissedPongs: Math.max(1, Math.floor(options.maxMissedPongs ?? DEFAULTS.maxMissedPongs)),
    maxConnections: Number.isFinite(maxConnections) && maxConnections > 0 ? Math.floor(maxConnections) : Infinity,
    idleSocketMs: millis(options.idleSocketTimeout ?? DEFAULTS.idleSocketTimeout)
  }
}

/** A bound of the transport passed; `connectionFailureKind` reads its code as `"timeout"`. @internal */
export class TimeoutError extends Error {
  readonly code = "ERR_LXD_TIMEOUT"
  constructor(message: string, override readonly cause?: unknown) {
    super(message)
  }
}

const format = (ms: number) => Duration.format(Duration.millis(ms))

/** @internal */
export const connectTimedOut = (ms: number) => new TimeoutError(`could not connect within ${format(ms)}`)

/** @internal */
export const noAnswer = (ms: number, cause?: unknown) => new TimeoutError(`no answer within ${format(ms)}`, cause)

/** @internal */
export const noPong = (pings: number, intervalMs: number) =>
  new TimeoutError(`websocket silent: ${pings} pings unanswered (one every ${format(intervalMs)})`)

const LONG_POLL = /\/wait\?(?:.*&)?timeout=(-?\d+)/

/**
 * The response bound of one request: an operation long-poll (`…/wait?timeout=N`) may be held `N` seconds by the
 * server, so its bound is `N` s plus the response timeout; `timeout=-1` or none (wait for ever) has none.
 * `undefined`: the transport's own bound.
 *
 * @internal
 */
export const responseMsFor = (pathAndQuery: string, limits: Limits): number | undefined => {
  if (limits.responseMs === 0 || !pathAndQuery.includes("/wait")) return undefined
  const qs = pathAndQuery.indexOf("?")
  const path = qs < 0 ? pathAndQuery : pathAndQuery.slice(0, qs)
  if (!path.endsWith("/wait")) return undefined
  const match = LONG_POLL.exec(pathAndQuery)
  if (match === null) return 0
  const seconds = Number(match[1])
  return seconds < 0 ? 0 : seconds * 1000 + limits.responseMs
}

/**
 * Rewrites undici's timeout errors (`Headers Timeout Error`) to say which bound passed, keeping the original
 * as the cause.
 *
 * @internal
 */
export const explainTimeout = (limits: Limits) => (error: unknown): unknown => {
  const code = (error as { code?: unknown } | null)?.code
  if (code === "UND_ERR_CONNECT_TIMEOUT") {
    return new TimeoutError(`could not connect within ${format(limits.connectMs)}`, error)
  }
  if (code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT") {
    return new TimeoutError(`no answer within the response timeout (${format(limits.responseMs)})`, error)
  }
  return error
}

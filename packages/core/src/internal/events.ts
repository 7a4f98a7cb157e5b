/**
 * Event subscription: the `/1.0/events` websocket read into a bounded buffer with an explicit overflow policy,
 * and the event schemas.
 *
 * @internal
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Overflow } from "../Events.js"
import { EventBufferOverflow, type LxdError, ProtocolError } from "../LxdError.js"
import { Operation, StringMap, Timestamp } from "../LxdSchema.js"
import type { Frame, LxdWebSocket } from "../LxdTransport.js"
import { formatParseError } from "./bounded.js"
import * as FastDecode from "./fastDecode.js"

/** @internal */
export interface SubscribeOptions {
  readonly types?: ReadonlyArray<string> | undefined
  readonly project?: string | undefined
  readonly allProjects?: boolean | undefined
  readonly bufferSize?: number | undefined
  readonly overflow?: Overflow | undefined
}

/**
 * Opens the events websocket now (so nothing that happens after this returns is missed) and returns the stream
 * of raw event texts. A reader fiber drains the socket into a buffer of `bufferSize` events; when the consumer
 * falls behind, `"fail"` ends the stream with `EventBufferOverflow` (after the buffered events), `"dropping"`
 * drops new events, `"sliding"` drops the oldest.
 *
 * @internal
 */
export const subscribe = (
  open: (
    path: string,
    query: Readonly<Record<string, string | undefined>>
  ) => Effect.Effect<LxdWebSocket, LxdError, Scope.Scope>,
  options: SubscribeOptions = {}
): Effect.Effect<Stream.Stream<string, LxdError>, LxdError, Scope.Scope> =>
  Effect.gen(function*() {
    const bufferSize = Math.max(1, options.bufferSize ?? 1024)
    const overflow = options.overflow ?? "fail"
    const query: Record<string, string | undefined> = {}
    if (options.types !== undefined && options.types.length > 0) query.type = options.types.join(",")
    if (options.allProjects === true) query["all-projects"] = "true"
    else if (options.project !== undefined) query.project = options.project
    const socket = yield* open("/events", query)
    // the buffer: a plain array the reader appends every frame that arrived to at once (`read`), and the
    // consumer takes whole (no effect, queue node nor wake-up per event); `head` skips what sliding dropped
    let items: Array<string> = []
    let head = 0
    let end: Option.Option<Option.Option<LxdError>> = Option.none()
    let waiter: (() => void) | undefined
    const wake = () => {
      const w = waiter
      waiter = undefined
      w?.()
    }
    const finish = (error: Option.Option<LxdError>) => {
      if (Option.isNone(end)) end = Option.some(error)
      wake()
    }
    const decoder = new TextDecoder()
    const offer = (frames: Chunk.Chunk<Frame>) => {
      if (Option.isSome(end)) return
      for (const frame of frames) {
        if (overflow !== "sliding" && items.length - head >= bufferSize) {
          if (overflow === "fail") finish(Option.some(new EventBufferOverflow({ bufferSize })))
          break
        }
        items.push(typeof frame === "string" ? frame : decoder.decode(frame))
      }
      if (overflow === "sliding" && items.length - head > bufferSize) {
        head = items.length - bufferSize
        if (head > bufferSize) {
          items = items.slice(head)
          head = 0
        }
      }
      wake()
    }
    const pump: Effect.Effect<void> = Effect.matchEffect(socket.read, {
      onFailure: (e) => Effect.sync(() => finish(e)),
      onSuccess: (frames) =>
        Effect.suspend(() => {
          offer(frames)
          return Option.isSome(end) ? Effect.void : pump
        })
    })
    yield* Effect.forkScoped(pump)
    // the events before the end are delivered first, then the end (normal, or the error)
    const take = Effect.async<Chunk.Chunk<string>, Option.Option<LxdError>>((resume) => {
      const attempt = () => {
        if (items.length > head) {
          const out = head === 0 ? items : items.slice(head)
          items = []
          head = 0
          resume(Effect.succeed(Chunk.unsafeFromArray(out)))
        } else if (Option.isSome(end)) {
          resume(Effect.fail(end.value))
        } else {
          waiter = attempt
          return
        }
      }
      attempt()
      return Effect.sync(() => {
        if (waiter === attempt) waiter = undefined
      })
    })
    return Stream.repeatEffectChunkOption(take)
  })

/**
 * The marker a resubscribing stream emits after it subscribed again (see `Events.Resubscribed`).
 *
 * @internal
 */
export interface Resubscribed {
  readonly _tag: "Resubscribed"
  readonly cause: LxdError | undefined
  readonly attempts: number
}

/** What ends a subscription that subscribing again can mend: a lost connection, a consumer that fell behind, a close. */
const mendable = (cause: LxdError | undefined): boolean =>
  cause === undefined || cause._tag === "ClientConnectionFailed" || cause._tag === "EventBufferOverflow"

/**
 * A subscription that subscribes again when it ends: `open` subscribes once, now (its failure fails this
 * effect), and each time the subscription ends (connection lost, `EventBufferOverflow`, the websocket closed)
 * it is opened again, immediately and then as `retry` says (fed the last error), with a fresh run of `retry` for
 * each outage. Once open again, a `Resubscribed` marker comes before its events. When `retry` gives up, the
 * stream fails with the last error; any other error (a `ProtocolError` under `invalid: "fail"`, a refused
 * handshake that is no connection failure) ends it at once. Each subscription lives in a scope of its own,
 * closed before the next one opens.
 *
 * @internal
 */
export const resubscribing = <Out, R>(
  open: Effect.Effect<Stream.Stream<LxdEvent, LxdError>, LxdError, Scope.Scope>,
  retry: Schedule.Schedule<Out, LxdError, R>
): Effect.Effect<Stream.Stream<LxdEvent | Resubscribed, LxdError, R>, LxdError, Scope.Scope> =>
  Effect.gen(function*() {
    const outer = yield* Effect.scope
    const openIn = (scope: Scope.CloseableScope) =>
      Effect.onError(
        Scope.extend(Effect.flatMap(open, Stream.toPull), scope),
        (cause) => Scope.close(scope, Exit.failCause(cause))
      )
    let segment = yield* Scope.fork(outer, ExecutionStrategy.sequential)
    let pull = yield* openIn(segment)
    const reopen = (cause: LxdError | undefined): Effect.Effect<Resubscribed, LxdError, R> =>
      Effect.gen(function*() {
        yield* Scope.close(segment, Exit.void)
        const driver = yield* Schedule.driver(retry)
        for (let attempts = 1;; attempts++) {
          const next = yield* Scope.fork(outer, ExecutionStrategy.sequential)
          const opened = yield* Effect.either(openIn(next))
          if (opened._tag === "Right") {
            segment = next
            pull = opened.right
            return { _tag: "Resubscribed", cause, attempts } as const
          }
          if (!mendable(opened.left)) return yield* Effect.fail(opened.left)
          const more = yield* Effect.either(driver.next(opened.left))
          if (more._tag === "Left") return yield* Effect.fail(opened.left)
        }
      })
    const step: Effect.Effect<Chunk.Chunk<LxdEvent | Resubscribed>, Option.Option<LxdError>, R> = Effect.catchAll(
      Effect.suspend(() => pull),
      (end) => {
        const cause = Option.getOrUndefined(end)
        return mendable(cause)
          ? Effect.mapBoth(reopen(cause), { onFailure: Option.some, onSuccess: Chunk.of })
          : Effect.fail(end)
      }
    )
    return Stream.repeatEffectChunkOption(step)
  })

// ---------------------------------------------------------------------------------------------------------------
// schemas

const EventBase = {
  timestamp: Timestamp,
  location: Schema.optionalWith(Schema.String, { default: () => "" }),
  project: Schema.optionalWith(Schema.String, { default: () => "" })
}

/** @internal */
export const LifecycleRequestor = Schema.Struct({
  username: Schema.optionalWith(Schema.String, { default: () => "" }),
  protocol: Schema.optionalWith(Schema.String, { default: () => "" }),
  address: Schema.optionalWith(Schema.String, { default: () => "" })
})

/** @internal */
export const LifecycleEvent = Schema.Struct({
  type: Schema.Literal("lifecycle"),
  ...EventBase,
  metadata: Schema.Struct({
    action: Schema.String,
    source: Schema.String,
    context: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.Unknown }), {
      nullable: true,
      default: () => ({})
    }),
    requestor: Schema.optionalWith(LifecycleRequestor, { nullable: true })
  })
}).annotations({ identifier: "LifecycleEvent" })

/** @internal */
export const OperationEvent = Schema.Struct({
  type: Schema.Literal("operation"),
  ...EventBase,
  metadata: Operation
}).annotations({ identifier: "OperationEvent" })

/** @internal */
export const LoggingEvent = Schema.Struct({
  type: Schema.Literal("logging"),
  ...EventBase,
  metadata: Schema.Struct({
    message: Schema.String,
    level: Schema.String,
    context: StringMap
  })
}).annotations({ identifier: "LoggingEvent" })

/** @internal */
export const RawEvent = Schema.Struct({
  type: Schema.String,
  ...EventBase,
  metadata: Schema.optionalWith(Schema.Unknown, { nullable: true, default: () => null })
}).annotations({ identifier: "RawEvent" })

/** @internal */
export type LxdEvent =
  | Schema.Schema.Type<typeof LifecycleEvent>
  | Schema.Schema.Type<typeof OperationEvent>
  | Schema.Schema.Type<typeof LoggingEvent>
  | (Schema.Schema.Type<typeof RawEvent> & { readonly raw: true; readonly rejected?: string | undefined })

const decodeLifecycle = FastDecode.decodeUnknownEither(LifecycleEvent)
const decodeOperation = FastDecode.decodeUnknownEither(OperationEvent)
const decodeLogging = FastDecode.decodeUnknownEither(LoggingEvent)
const decodeRaw = FastDecode.decodeUnknownEither(RawEvent)

// --- the hand-checked fast path for the three envelopes LXD sends ----------------------------------------------

const hasOwn = Object.prototype.hasOwnProperty
const fastTimestamp = FastDecode.compileOnFirstUse(Timestamp.ast)
const fastOperation = FastDecode.compileOnFirstUse(Operation.ast)

/** A JSON object (not an array) with no own `__proto__` or `constructor` key (the schema's record copy treats them apart). */
const isPlainObject = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u) && !hasOwn.call(u, "__proto__") &&
  !hasOwn.call(u, "constructor")

/** `optionalWith(String, { default: "" })`: absent is `""`, a string is itself, anything else `undefined`. */
const stringOr = (json: Record<string, unknown>, key: string): string | undefined => {
  if (!hasOwn.call(json, key)) return ""
  const v = json[key]
  return typeof v === "string" ? v : undefined
}

/** `StringMap` (a `{ [k]: string }`, `{}` when absent or `null`): the object as it is, or `undefined`. */
const stringMap = (json: Record<string, unknown>, key: string): Record<string, string> | undefined => {
  const v = hasOwn.call(json, key) ? json[key] : null
  if (v === null) return {}
  if (!isPlainObject(v)) return undefined
  for (const k in v) if (typeof v[k] !== "string") return undefined
  return v as Record<string, string>
}

/** A lifecycle event's `context` (a `{ [k]: unknown }`, `{}` when absent or `null`): the object, or `undefined`. */
const unknownMap = (v: unknown): Record<string, unknown> | undefined =>
  v === undefined || v === null ? {} : isPlainObject(v) ? v : undefined

const fastLogging = (m: unknown) => {
  if (!isPlainObject(m) || typeof m.message !== "string" || typeof m.level !== "string") return undefined
  const context = stringMap(m, "context")
  return context === undefined ? undefined : { message: m.message, level: m.level, context }
}

const fastLifecycle = (m: unknown) => {
  if (!isPlainObject(m) || typeof m.action !== "string" || typeof m.source !== "string") return undefined
  const context = unknownMap(hasOwn.call(m, "context") ? m.context : undefined)
  if (context === undefined) return undefined
  const r = hasOwn.call(m, "requestor") ? m.requestor : null
  if (r === null) return { action: m.action, source: m.source, context }
  if (!isPlainObject(r)) return undefined
  const username = stringOr(r, "username")
  const protocol = stringOr(r, "protocol")
  const address = stringOr(r, "address")
  if (username === undefined || protocol === undefined || address === undefined) return undefined
  return { action: m.action, source: m.source, context, requestor: { username, protocol, address } }
}

/**
 * The hand-checked fast path of {@link decodeOrInvalid}: a `logging`, `operation` or `lifecycle` frame of the
 * usual shape decoded in straight-line code, exactly as its schema decodes it (same value, same keys in the same
 * order; the records LXD sends are kept as they are, as the fast decoder does); `undefined` for anything else
 * (another type, a field of another type, a `__proto__` key, ...), which the schemas then decide.
 *
 * @internal
 */
export const decodeKnownFast = (json: Record<string, unknown>): LxdEvent | undefined => {
  const type = json.type
  const metadata = type === "logging"
    ? fastLogging(json.metadata)
    : type === "operation"
    ? hasOwn.call(json, "metadata") ? fastOperation(json.metadata) : FastDecode.FAIL
    : type === "lifecycle"
    ? fastLifecycle(json.metadata)
    : undefined
  if (metadata === undefined || metadata === FastDecode.FAIL || !hasOwn.call(json, "timestamp")) return undefined
  const timestamp = typeof json.timestamp === "string" ? fastTimestamp(json.timestamp) : FastDecode.FAIL
  if (timestamp === FastDecode.FAIL) return undefined
  const location = stringOr(json, "location")
  const project = stringOr(json, "project")
  if (location === undefined || project === undefined) return undefined
  return { type, timestamp, location, project, metadata } as LxdEvent
}

/** A schema's explanation, bounded (the shared formatter: the frame may be nested too deep or huge to render). */
const describe = (error: ParseResult.ParseError): string => formatParseError(error)

/**
 * Why a frame is not an event of its type: `rejected` for a frame of a known type whose shape the schema
 * refused (`raw` is the frame kept as a raw event), `unreadable` for one that is not an event at all (not JSON,
 * not an object, no string `type`, a bad `timestamp`).
 *
 * @internal
 */
export type Invalid =
  | { readonly _tag: "rejected"; readonly raw: LxdEvent; readonly error: ParseResult.ParseError }
  | { readonly _tag: "unreadable"; readonly description: string; readonly cause: unknown }

const isInvalid = (u: LxdEvent | Invalid): u is Invalid => "_tag" in u

const unreadable = (description: string, cause?: unknown): Invalid => ({ _tag: "unreadable", description, cause })

/**
 * Decodes one event text without building an error: known types get their schema, others are kept raw
 * (`raw: true`); a known type its schema refuses is also kept raw, with `rejected` set. Never throws.
 *
 * @internal
 */
export const decodeOrInvalid = (text: string): LxdEvent | Invalid => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (cause) {
    return unreadable("event is not JSON", cause)
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) return unreadable("event is not an object")
  const fast = decodeKnownFast(json as Record<string, unknown>)
  if (fast !== undefined) return fast
  const type = (json as { type?: unknown }).type
  const known = type === "lifecycle"
    ? decodeLifecycle(json)
    : type === "operation"
    ? decodeOperation(json)
    : type === "logging"
    ? decodeLogging(json)
    : undefined
  if (known !== undefined && known._tag === "Right") return known.right as LxdEvent
  const raw = decodeRaw(json)
  if (raw._tag === "Left") {
    return unreadable(`event does not match its schema: ${describe(raw.left)}`)
  }
  if (known === undefined) return { ...raw.right, raw: true }
  const error = known.left
  return {
    _tag: "rejected",
    error,
    raw: { ...raw.right, raw: true, rejected: describe(error) }
  }
}

const invalidError = (invalid: Invalid): ProtocolError =>
  invalid._tag === "unreadable"
    ? new ProtocolError({
      method: "GET",
      path: "/1.0/events",
      description: invalid.description,
      cause: invalid.cause
    })
    : new ProtocolError({
      method: "GET",
      path: "/1.0/events",
      description: `event does not match its schema: ${describe(invalid.error)}`
    })

/**
 * Decodes one event text: known types get their schema, others are kept raw (`raw: true`); a frame that is not
 * an event of its type is a `ProtocolError` (built only then, bounded). Never throws.
 *
 * @internal
 */
export const decodeEvent = (text: string): Effect.Effect<LxdEvent, ProtocolError> =>
  Effect.suspend(() => {
    const decoded = decodeOrInvalid(text)
    return isInvalid(decoded) ? Effect.fail(invalidError(decoded)) : Effect.succeed(decoded)
  })

/**
 * Frames that were not events of their type, as counted by {@link decodeStream}.
 *
 * @internal
 */
export interface InvalidCounts {
  rejected: number
  unreadable: number
}

/**
 * The event texts of a subscription decoded in chunks (no effect per event). `invalid: "raw"` (default) keeps a
 * frame of a known type that its schema refuses as a raw event (`rejected` set) and drops a frame that is no
 * event at all, counting both in `counts`; `"fail"` ends the stream with a `ProtocolError` instead.
 *
 * @internal
 */
export const decodeStream = <E>(
  texts: Stream.Stream<string, E>,
  invalid: "raw" | "fail" = "raw",
  counts?: InvalidCounts
): Stream.Stream<LxdEvent, E | ProtocolError> =>
  invalid === "fail"
    ? Stream.mapEffect(texts, decodeEvent)
    : Stream.mapChunks(texts, (chunk) => {
      const out: Array<LxdEvent> = []
      for (const text of chunk) {
        const decoded = decodeOrInvalid(text)
        if (!isInvalid(decoded)) {
          out.push(decoded)
          continue
        }
        if (counts !== undefined) counts[decoded._tag]++
        if (decoded._tag === "rejected") out.push(decoded.raw)
      }
      return Chunk.unsafeFromArray(out)
    })

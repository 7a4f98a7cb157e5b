/**
 * Event subscription: the `/1.0/events` websocket read into a bounded buffer with an explicit overflow policy,
 * and the event schemas.
 *
 * @internal
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Overflow } from "../Events.js"
import { EventBufferOverflow, type LxdError, ProtocolError } from "../LxdError.js"
import { Operation, StringMap, Timestamp } from "../LxdSchema.js"
import type { LxdWebSocket } from "../LxdTransport.js"
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

interface End {
  readonly _end: Option.Option<LxdError>
}
const isEnd = (u: string | End): u is End => typeof u !== "string"

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
    // one slot more than the buffer, so the end marker always fits
    const queue = yield* (overflow === "sliding"
      ? Queue.sliding<string | End>(bufferSize + 1)
      : Queue.dropping<string | End>(bufferSize + 1))
    const decoder = new TextDecoder()
    let ended = false
    const end = (error: Option.Option<LxdError>) =>
      Effect.suspend(() => {
        if (ended) return Effect.void
        ended = true
        return Queue.offer(queue, { _end: error })
      })
    yield* socket.frames.pipe(
      Stream.runForEach((frame) =>
        Effect.suspend(() => {
          if (ended) return Effect.void
          const text = typeof frame === "string" ? frame : decoder.decode(frame)
          if (overflow !== "sliding" && Option.getOrElse(queue.unsafeSize(), () => 0) >= bufferSize) {
            return overflow === "fail" ? end(Option.some(new EventBufferOverflow({ bufferSize }))) : Effect.void
          }
          return Queue.offer(queue, text)
        })
      ),
      Effect.matchEffect({ onSuccess: () => end(Option.none()), onFailure: (e) => end(Option.some(e)) }),
      Effect.forkScoped
    )
    return Stream.repeatEffectChunkOption(
      Effect.flatMap(Queue.takeBetween(queue, 1, 256), (items) => {
        const out: Array<string> = []
        for (const item of items) {
          if (!isEnd(item)) {
            out.push(item)
            continue
          }
          // put the end back so the next pull sees it after the events before it are delivered
          const rest = Effect.zipRight(Queue.offer(queue, item), Effect.succeed(Chunk.unsafeFromArray(out)))
          if (out.length > 0) return rest
          return Effect.fail(item._end)
        }
        return Effect.succeed(Chunk.unsafeFromArray(out))
      })
    )
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
  | (Schema.Schema.Type<typeof RawEvent> & { readonly raw: true })

const decodeLifecycle = FastDecode.decodeUnknownEither(LifecycleEvent)
const decodeOperation = FastDecode.decodeUnknownEither(OperationEvent)
const decodeLogging = FastDecode.decodeUnknownEither(LoggingEvent)
const decodeRaw = FastDecode.decodeUnknownEither(RawEvent)

/**
 * Decodes one event text: known types get their schema, others are kept raw (`raw: true`).
 *
 * @internal
 */
export const decodeEvent = (text: string): Effect.Effect<LxdEvent, ProtocolError> => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (cause) {
    return Effect.fail(
      new ProtocolError({ method: "GET", path: "/1.0/events", description: "event is not JSON", cause })
    )
  }
  const type = typeof json === "object" && json !== null ? (json as { type?: unknown }).type : undefined
  const result = type === "lifecycle"
    ? decodeLifecycle(json)
    : type === "operation"
    ? decodeOperation(json)
    : type === "logging"
    ? decodeLogging(json)
    : decodeRaw(json)
  if (result._tag === "Right") {
    const event = result.right
    return Effect.succeed(
      event.type === "lifecycle" || event.type === "operation" || event.type === "logging"
        ? event as LxdEvent
        : { ...event, raw: true as const }
    )
  }
  return Effect.fail(
    new ProtocolError({
      method: "GET",
      path: "/1.0/events",
      description: `event does not match its schema: ${formatParseError(result.left)}`
    })
  )
}

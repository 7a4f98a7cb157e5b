/**
 * LXD events (`GET /1.0/events`, websocket) as a `Stream`, with a bounded buffer and an explicit overflow policy.
 *
 * To react to what an action of yours causes, subscribe first: `subscribe` returns once the websocket is open,
 * so no event that happens after it is missed. `stream` opens the websocket only when the stream starts.
 *
 * A frame that is not an event of its type does not end a subscription (`invalid: "raw"`, the default): it is
 * delivered raw (`rejected` set) or dropped, and counted in `invalidFrames`. To outlive a lost connection (a
 * daemon restart), use `resumable`: it subscribes again with a `Schedule` and emits a `Resubscribed` marker
 * where events may have been missed (re-list what you track then).
 *
 * @example
 * ```ts
 * import { Events, Instances, Lxd } from "@effect-lxd/core"
 * import { LxdFakeServer } from "@effect-lxd/testing"
 * import { Effect, Layer, Stream } from "effect"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const events = yield* Events.Events
 *   const instances = yield* Instances.Instances
 *   // subscribed when this returns: the events of the create below cannot be missed
 *   const lifecycle = yield* events.subscribe({ types: ["lifecycle"] })
 *   yield* instances.create({ name: "c1", source: { type: "image", alias: "busybox" } })
 *   // the first instance-created event; the websocket closes with the scope
 *   return yield* Events.lifecycle(lifecycle, ["instance-created"]).pipe(Stream.runHead)
 * }))
 *
 * Effect.runPromise(program.pipe(Effect.provide(Lxd.layer.pipe(Layer.provide(LxdFakeServer.layer())))))
 *   .then(console.log)
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as internal from "./internal/events.js"
import { LxdClient } from "./LxdClient.js"
import type { LxdError } from "./LxdError.js"

/**
 * `lifecycle` event: `{ action: "instance-started", source: "/1.0/instances/c1", context, requestor }`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const LifecycleEvent = internal.LifecycleEvent

/**
 * @since 0.1.0
 * @category models
 */
export interface LifecycleEvent extends Schema.Schema.Type<typeof LifecycleEvent> {}

/**
 * `operation` event: the full operation object after a change.
 *
 * @since 0.1.0
 * @category schemas
 */
export const OperationEvent = internal.OperationEvent

/**
 * @since 0.1.0
 * @category models
 */
export interface OperationEvent extends Schema.Schema.Type<typeof OperationEvent> {}

/**
 * `logging` event (admin only): `{ message, level, context }`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const LoggingEvent = internal.LoggingEvent

/**
 * @since 0.1.0
 * @category models
 */
export interface LoggingEvent extends Schema.Schema.Type<typeof LoggingEvent> {}

/**
 * Any event type this client does not know (newer servers add `ovn`, `security`, …), kept with raw metadata.
 *
 * @since 0.1.0
 * @category schemas
 */
export const RawEvent = internal.RawEvent

/**
 * @since 0.1.0
 * @category models
 */
export interface RawEvent extends Schema.Schema.Type<typeof RawEvent> {
  readonly raw: true
  /**
   * Set on a frame of a known type (`lifecycle`, `operation`, `logging`) whose shape its schema refused, kept raw
   * under `invalid: "raw"` (the default): the schema's explanation (bounded). Such a frame is also counted in
   * {@link Events.Service.invalidFrames}.
   */
  readonly rejected?: string | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export type LxdEvent = LifecycleEvent | OperationEvent | LoggingEvent | RawEvent

/**
 * What happens when the consumer falls behind and `bufferSize` events are waiting: `"fail"` (default) ends the
 * stream with `EventBufferOverflow` so the consumer can re-list and resubscribe; `"dropping"` drops new events;
 * `"sliding"` drops the oldest.
 *
 * @since 0.1.0
 * @category models
 */
export type Overflow = "fail" | "dropping" | "sliding"

/**
 * @since 0.1.0
 * @category models
 */
export interface StreamOptions {
  /** Event types to receive (`lifecycle`, `operation`, `logging`, …); all that the caller may see by default. */
  readonly types?: ReadonlyArray<"lifecycle" | "operation" | "logging" | (string & {})> | undefined
  /** Project to listen to; the current project (`LxdClient.withProject`) by default. */
  readonly project?: string | undefined
  /** Listen to every project (`all-projects=true`). */
  readonly allProjects?: boolean | undefined
  /** Events buffered for a slow consumer. Default 1024. */
  readonly bufferSize?: number | undefined
  /** Default `"fail"`. */
  readonly overflow?: Overflow | undefined
  /**
   * A frame that is not an event of its type. `"raw"` (default): a frame of a known type whose shape its schema
   * refuses is delivered as a `RawEvent` with `rejected` set, and a frame that is no event at all (not JSON, no
   * `type`, a bad `timestamp`) is dropped; both are counted in {@link Events.Service.invalidFrames} and the
   * stream goes on. `"fail"`: the stream ends with a `ProtocolError`.
   */
  readonly invalid?: "raw" | "fail" | undefined
}

/**
 * The element a resubscribing stream ({@link Events.Service.resumable}) emits when it subscribed again after
 * its subscription ended: events may have been missed in between, so re-list what you track. `cause` is what
 * ended the previous subscription (`ClientConnectionFailed` for a lost connection, `EventBufferOverflow` for a
 * consumer that fell behind; `undefined` when the server closed the websocket), `attempts` how many subscribe
 * attempts it took.
 *
 * @since 0.2.0
 * @category models
 */
export interface Resubscribed {
  readonly _tag: "Resubscribed"
  /** What ended the previous subscription; `undefined` when the server closed the websocket normally. */
  readonly cause: LxdError | undefined
  /** How many subscribe attempts it took (1: the first one worked). */
  readonly attempts: number
}

/**
 * What a resubscribing stream emits: events, and a {@link Resubscribed} marker after each gap.
 *
 * @since 0.2.0
 * @category models
 */
export type ResumableEvent = LxdEvent | Resubscribed

/**
 * Whether an element of a resubscribing stream is the {@link Resubscribed} marker.
 *
 * @since 0.2.0
 * @category guards
 */
export const isResubscribed = (u: ResumableEvent): u is Resubscribed => "_tag" in u && u._tag === "Resubscribed"

/**
 * The default policy of {@link Events.Service.resumable} between failed subscribe attempts of one outage:
 * exponential backoff from 250 ms, doubling, at most 5 s apart, 9 retries after the immediate first attempt
 * (10 attempts over about 28 s: a restarting daemon answers again within a few seconds).
 *
 * @since 0.2.0
 * @category constructors
 */
export const defaultRetry: Schedule.Schedule<unknown, LxdError> = Schedule.exponential("250 millis").pipe(
  Schedule.either(Schedule.spaced("5 seconds")),
  Schedule.intersect(Schedule.recurs(9))
)

/**
 * `StreamOptions` plus `retry`: the `Schedule` between failed subscribe attempts after a subscription ended
 * (fed each attempt's error; a fresh run for each outage). {@link defaultRetry} by default.
 *
 * @since 0.2.0
 * @category models
 */
export interface ResumableOptions<R = never> extends StreamOptions {
  /** Between failed subscribe attempts of one outage; {@link defaultRetry} by default. */
  readonly retry?: Schedule.Schedule<unknown, LxdError, R> | undefined
}

/**
 * Frames not decoded as events of their type under `invalid: "raw"`, counted over every stream of one
 * `Events` service: `rejected` (a known type whose shape its schema refused, delivered raw) and `unreadable`
 * (not an event at all, dropped).
 *
 * @since 0.2.0
 * @category models
 */
export interface InvalidFrames {
  readonly rejected: number
  readonly unreadable: number
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Events extends Context.Tag("@effect-lxd/core/Events")<Events, Events.Service>() {}

/**
 * The `Service` interface of the `Events` tag.
 *
 * @since 0.1.0
 * @category models
 */
export declare namespace Events {
  /**
   * `stream` and `subscribe`, both with `StreamOptions`.
   *
   * @example
   * ```ts
   * import { Events } from "@effect-lxd/core"
   * import { Effect, Stream } from "effect"
   *
   * // runs until interrupted (closing its scope closes the websocket)
   * export const watch = Effect.flatMap(Events.Events, (events) =>
   *   events.stream({ types: ["lifecycle"], bufferSize: 256, overflow: "fail" }).pipe(
   *     Events.lifecycle,
   *     Stream.runForEach((event) => Effect.log(`${event.metadata.action} ${event.metadata.source}`)),
   *     // "fail": EventBufferOverflow once 256 events wait unread; re-list what you track, then subscribe again
   *     Effect.catchTag("EventBufferOverflow", (e) => Effect.logWarning(`fell ${e.bufferSize} events behind`))
   *   ))
   * ```
   *
   * @since 0.1.0
   * @category models
   */
  export interface Service {
    /**
     * Events as a stream (`GET /1.0/events`, websocket). The websocket opens when the stream starts and closes
     * with the stream's scope. Fails with `ClientConnectionFailed` (connect or connection lost),
     * `EventBufferOverflow` (under `overflow: "fail"`), `ProtocolError` (under `invalid: "fail"`, a frame that
     * is not an event of its type).
     */
    readonly stream: (options?: StreamOptions) => Stream.Stream<LxdEvent, LxdError>
    /**
     * Subscribes now, in the current scope, and returns the stream: nothing that happens after this effect
     * completes is missed. Use it to start an action after subscribing.
     */
    readonly subscribe: (
      options?: StreamOptions
    ) => Effect.Effect<Stream.Stream<LxdEvent, LxdError>, LxdError, Scope.Scope>
    /**
     * Events that survive a lost connection (a daemon restart): when the subscription ends
     * (`ClientConnectionFailed`, `EventBufferOverflow`, the server closed the websocket) it subscribes again, at
     * once and then as `retry` says ({@link defaultRetry}), and emits a {@link Resubscribed} marker before the
     * new subscription's events: re-list what you track. Fails with the last error once `retry` gives up, and
     * at once with any other error (`ProtocolError` under `invalid: "fail"`, `Forbidden`…). The first
     * subscription is not retried: its failure fails the stream.
     */
    readonly resumable: <R = never>(options?: ResumableOptions<R>) => Stream.Stream<ResumableEvent, LxdError, R>
    /** {@link Events.Service.resumable}, subscribed now in the current scope (as `subscribe`). */
    readonly subscribeResumable: <R = never>(
      options?: ResumableOptions<R>
    ) => Effect.Effect<Stream.Stream<ResumableEvent, LxdError, R>, LxdError, Scope.Scope>
    /** The frames this service's streams did not decode as events of their type (under `invalid: "raw"`). */
    readonly invalidFrames: Effect.Effect<InvalidFrames>
  }
}

/**
 * Keeps only lifecycle events, optionally of the given actions (`instance-started`, …).
 *
 * @since 0.1.0
 * @category combinators
 */
export const lifecycle = <E, R>(
  self: Stream.Stream<LxdEvent, E, R>,
  actions?: ReadonlyArray<string>
): Stream.Stream<LifecycleEvent, E, R> =>
  Stream.filter(
    self,
    (event): event is LifecycleEvent =>
      event.type === "lifecycle" && !("raw" in event) &&
      (actions === undefined || actions.includes((event as LifecycleEvent).metadata.action))
  )

/**
 * Keeps only operation events.
 *
 * @since 0.1.0
 * @category combinators
 */
export const operations = <E, R>(self: Stream.Stream<LxdEvent, E, R>): Stream.Stream<OperationEvent, E, R> =>
  Stream.filter(self, (event): event is OperationEvent => event.type === "operation" && !("raw" in event))

/**
 * Decodes one event frame's text; never throws. Errors: `ProtocolError` (not JSON, not an event, or a known type
 * whose shape its schema refuses; the explanation is bounded).
 *
 * @since 0.1.0
 * @category constructors
 */
export const decode: (text: string) => Effect.Effect<LxdEvent, LxdError> = internal.decodeEvent as (
  text: string
) => Effect.Effect<LxdEvent, LxdError>

/**
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Events.Service, never, LxdClient> = Effect.gen(function*() {
  const client = yield* LxdClient
  const counts: internal.InvalidCounts = { rejected: 0, unreadable: 0 }
  const subscribe = (options: StreamOptions = {}) =>
    Effect.map(
      internal.subscribe(client.websocket, options),
      (texts) => internal.decodeStream(texts, options.invalid, counts) as Stream.Stream<LxdEvent, LxdError>
    ).pipe(Effect.withSpan("Events.subscribe"))
  const subscribeResumable = <R>(options: ResumableOptions<R> = {}) =>
    internal.resubscribing(subscribe(options), options.retry ?? defaultRetry).pipe(
      Effect.withSpan("Events.subscribeResumable")
    ) as Effect.Effect<Stream.Stream<ResumableEvent, LxdError, R>, LxdError, Scope.Scope>
  return Events.of({
    subscribe,
    stream: (options) => Stream.unwrapScoped(subscribe(options)),
    subscribeResumable,
    resumable: (options) => Stream.unwrapScoped(subscribeResumable(options)),
    invalidFrames: Effect.sync(() => ({ rejected: counts.rejected, unreadable: counts.unreadable }))
  })
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Events, never, LxdClient> = Layer.effect(Events, make)

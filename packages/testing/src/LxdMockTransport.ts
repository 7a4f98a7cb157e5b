/**
 * A scripted mock transport for tests: requests are answered by handlers the test supplies (by method and path
 * pattern), with builders for sync, async (operation), error, raw and websocket answers, and every request is
 * recorded so tests can assert on it.
 *
 * @since 0.1.0
 */
import * as Exec from "@effect-lxd/core/Exec"
import { ClientConnectionFailed } from "@effect-lxd/core/LxdError"
import type { Operation } from "@effect-lxd/core/LxdSchema"
import { type Frame, LxdTransport, type LxdWebSocket } from "@effect-lxd/core/LxdTransport"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as PubSub from "effect/PubSub"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"

/**
 * A request as the mock saw it.
 *
 * @since 0.1.0
 * @category models
 */
export interface MockRequest {
  readonly method: string
  /** Path below `/1.0` (`/instances/c1`; `""` for `/1.0` itself), decoded segments left encoded. */
  readonly path: string
  /** Path and query as sent (`/1.0/instances/c1?project=p`). */
  readonly url: string
  readonly query: Readonly<Record<string, string>>
  readonly headers: Readonly<Record<string, string>>
  /** The JSON body, parsed; `undefined` when there is none or it is not JSON. */
  readonly body: unknown
  /** The raw body bytes, when there is one. */
  readonly bytes: Uint8Array | undefined
  /** Values of `:params` of the matched route pattern. */
  readonly params: Readonly<Record<string, string>>
}

/**
 * An answer to give.
 *
 * @since 0.1.0
 * @category models
 */
export interface MockResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string | Uint8Array
  /** When set, the request fails at the transport with this cause (no answer at all). */
  readonly transportFailure?: unknown
}

/**
 * No answer: the transport fails as a refused or missing socket would (`ClientConnectionFailed` for the caller).
 *
 * @since 0.1.0
 * @category constructors
 */
export const unreachable = (code = "ECONNREFUSED", message = `connect ${code} mock`): MockResponse => ({
  status: 0,
  headers: {},
  body: "",
  transportFailure: Object.assign(new Error(message), { code })
})

/**
 * A sync envelope (`200`, or `201` with `location`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const sync = (
  metadata: unknown,
  options: {
    readonly status?: number
    readonly etag?: string
    readonly location?: string
    /** Further headers (`X-LXD-*` on directory listings). */
    readonly headers?: Readonly<Record<string, string>>
  } = {}
): MockResponse =>
  json(
    { type: "sync", status: "Success", status_code: 200, operation: "", error_code: 0, error: "", metadata },
    options.status ?? (options.location ? 201 : 200),
    {
      ...options.headers,
      ...(options.etag === undefined ? {} : { etag: options.etag }),
      ...(options.location === undefined ? {} : { location: options.location })
    }
  )

/**
 * An operation object, `Running` unless overridden.
 *
 * @since 0.1.0
 * @category constructors
 */
export const operation = (
  id: string,
  overrides: Partial<Record<keyof Operation, unknown>> = {}
): Record<string, unknown> => ({
  id,
  class: "task",
  description: "Mock operation",
  created_at: "2026-01-01T00:00:00Z",
  updated_at: "2026-01-01T00:00:00Z",
  status: "Running",
  status_code: 103,
  resources: {},
  metadata: null,
  may_cancel: true,
  err: "",
  location: "none",
  ...overrides
})

/**
 * An async envelope (`202`, `Location` = operation URL) for an operation object.
 *
 * @since 0.1.0
 * @category constructors
 */
export const async = (op: Record<string, unknown>, options: { readonly url?: string } = {}): MockResponse => {
  const url = options.url ?? `/1.0/operations/${String(op.id)}`
  return json(
    {
      type: "async",
      status: "Operation created",
      status_code: 100,
      operation: url,
      error_code: 0,
      error: "",
      metadata: op
    },
    202,
    { location: url }
  )
}

/**
 * An error envelope (`error_code` = HTTP status unless given).
 *
 * @since 0.1.0
 * @category constructors
 */
export const error = (status: number, message: string, options: { readonly errorCode?: number } = {}): MockResponse =>
  json(
    {
      type: "error",
      status: "",
      status_code: 0,
      operation: "",
      error_code: options.errorCode ?? status,
      error: message,
      metadata: null
    },
    status
  )

/**
 * Any JSON body (for answers that are not envelopes).
 *
 * @since 0.1.0
 * @category constructors
 */
export const json = (body: unknown, status = 200, headers: Readonly<Record<string, string>> = {}): MockResponse => ({
  status,
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body)
})

/**
 * A raw body (file pulls, exports, logs).
 *
 * @since 0.1.0
 * @category constructors
 */
export const raw = (
  body: string | Uint8Array,
  options: { readonly status?: number; readonly headers?: Readonly<Record<string, string>> } = {}
): MockResponse => ({
  status: options.status ?? 200,
  headers: { "content-type": "application/octet-stream", ...options.headers },
  body
})

/**
 * A websocket script: the frames the server sends, and what to do with frames the client sends.
 *
 * @since 0.1.0
 * @category models
 */
export interface MockSocket {
  /** The frames the server sends; a failure (`ClientConnectionFailed`, `closeCode: 1006`) is a lost connection. */
  readonly frames: Stream.Stream<Frame, ClientConnectionFailed>
  readonly onSend?: ((frame: Frame) => Effect.Effect<void>) | undefined
  /** Runs once when the client closes the socket (or its scope closes). */
  readonly onClose?: Effect.Effect<void> | undefined
}

/**
 * A websocket that sends the given frames, then closes normally.
 *
 * @since 0.1.0
 * @category constructors
 */
export const socket = (
  frames: Iterable<Frame> | Stream.Stream<Frame, ClientConnectionFailed>,
  options: { readonly onSend?: (frame: Frame) => Effect.Effect<void>; readonly onClose?: Effect.Effect<void> } = {}
): MockSocket => ({
  frames: Stream.StreamTypeId in (frames as object)
    ? frames as Stream.Stream<Frame, ClientConnectionFailed>
    : Stream.fromIterable(frames as Iterable<Frame>),
  onSend: options.onSend,
  onClose: options.onClose
})

/**
 * The end of a websocket whose connection was lost (a daemon killed): `ClientConnectionFailed` with close code
 * 1006, for the end of a `socket`'s frames (`Stream.concat(frames, M.dropped(url))`).
 *
 * @since 0.2.0
 * @category constructors
 */
export const dropped = (path: string): Stream.Stream<never, ClientConnectionFailed> =>
  Stream.fail(
    new ClientConnectionFailed({
      method: "GET",
      path,
      endpoint: "mock",
      reason: "websocket closed abnormally (1006)",
      closeCode: 1006
    })
  )

/**
 * An event frame as LXD sends it on `/1.0/events`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const event = (type: string, metadata: unknown, options: { readonly project?: string } = {}): string =>
  JSON.stringify({
    type,
    timestamp: "2026-01-01T00:00:00.000000000Z",
    metadata,
    location: "none",
    project: options.project ?? "default"
  })

/**
 * @since 0.1.0
 * @category models
 */
export type Handler = (request: MockRequest) => Effect.Effect<MockResponse>

/**
 * @since 0.1.0
 * @category models
 */
export type SocketHandler = (request: MockRequest) => Effect.Effect<MockSocket, ClientConnectionFailed, Scope.Scope>

/**
 * A route: method (or `*`) and a path pattern below `/1.0` with `:params` (`/instances/:name/state`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Route<H> {
  readonly method: string
  readonly pattern: string
  readonly handler: H
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const route = <H extends Handler | SocketHandler>(method: string, pattern: string, handler: H): Route<H> => ({
  method,
  pattern,
  handler
})

/**
 * How specific a pattern is, segment by segment (`0` literal, `1` `:param`, `2` `*`): of the patterns that match
 * a path (they have as many segments), the smallest rank is the most specific.
 */
const specificity = (pattern: string): string =>
  pattern.split("/").map((p) => p === "*" ? "2" : p.startsWith(":") ? "1" : "0").join("")

/**
 * The routes in the order they are tried: literal segments before `:param` ones before `*`, whatever order they
 * were given in (`GET /images/aliases` is never caught by `GET /images/:fingerprint`); routes as specific as each
 * other keep their order.
 */
const bySpecificity = <H>(routes: ReadonlyArray<Route<H>>): ReadonlyArray<Route<H>> =>
  routes
    .map((r, i) => ({ r, i, rank: specificity(r.pattern) }))
    .sort((a, b) => (a.rank < b.rank ? -1 : a.rank > b.rank ? 1 : a.i - b.i))
    .map(({ r }) => r)

const nullBodyStatus = new Set([101, 103, 204, 205, 304])

/** A path segment decoded; one that is not properly percent-encoded (a hostile URL followed) is kept as it is. */
const decodeSegment = (segment: string): string => {
  try {
    return decodeURIComponent(segment)
  } catch {
    return segment
  }
}

const matchPattern = (pattern: string, path: string): Record<string, string> | undefined => {
  const ps = pattern.split("/")
  const xs = path.split("/")
  if (ps.length !== xs.length) return undefined
  const params: Record<string, string> = {}
  for (let i = 0; i < ps.length; i++) {
    const p = ps[i]!
    if (p.startsWith(":")) params[p.slice(1)] = decodeSegment(xs[i]!)
    else if (p !== "*" && p !== xs[i]) return undefined
  }
  return params
}

/**
 * The record of what the mock saw.
 *
 * @since 0.1.0
 * @category tags
 */
export class MockTransport extends Context.Tag("@effect-lxd/testing/MockTransport")<MockTransport, {
  /** Every HTTP request, in order (websocket opens are included with method `WS`). */
  readonly requests: Effect.Effect<ReadonlyArray<MockRequest>>
  /** Frames the client sent on websockets, by socket URL. */
  readonly sent: Effect.Effect<ReadonlyArray<{ readonly url: string; readonly frame: Frame }>>
}>() {}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Answers a request; or give `routes`. */
  readonly handle?: Handler | undefined
  /**
   * Routes; literal segments are tried before `:param` ones (and those before `*`), and routes as specific as
   * each other in the order given. An unmatched request is a defect naming the endpoint.
   */
  readonly routes?: ReadonlyArray<Route<Handler>> | undefined
  /** Websocket routes (`/events`, `/operations/:id/websocket`). */
  readonly sockets?: ReadonlyArray<Route<SocketHandler>> | undefined
  /** Answers requests no route matched (instead of a defect). */
  readonly fallback?: Handler | undefined
}

const parse = (url: URL) => {
  const full = url.pathname
  const path = full === "/1.0" ? "" : full.startsWith("/1.0/") ? full.slice(4) : full
  const query: Record<string, string> = {}
  for (const [k, v] of url.searchParams) query[k] = v
  return { path, query, url: full + url.search }
}

const decoder = new TextDecoder()

/**
 * The mock as a Layer: it provides `LxdTransport` and the `MockTransport` record.
 *
 * @example
 * ```ts
 * import { Instances, Lxd } from "@effect-lxd/core"
 * import { LxdMockTransport } from "@effect-lxd/testing"
 * import { Effect, Layer } from "effect"
 *
 * // answers by method and path pattern; a request no route matches is a defect naming it
 * const Scripted = Lxd.layer.pipe(Layer.provideMerge(LxdMockTransport.layer({
 *   routes: [
 *     LxdMockTransport.route("GET", "/instances/:name", () =>
 *       Effect.succeed(LxdMockTransport.error(404, "Instance not found")))
 *   ]
 * })))
 *
 * const program = Effect.gen(function*() {
 *   const instances = yield* Instances.Instances
 *   const exists = yield* instances.exists("web1") // NotFound is `false`
 *   const mock = yield* LxdMockTransport.MockTransport
 *   const requests = yield* mock.requests // every request, in order
 *   return [exists, requests.map((r) => `${r.method} ${r.url}`)] // [false, ["GET /1.0/instances/web1"]]
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(Scripted))).then(console.log)
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<LxdTransport | MockTransport> =>
  Layer.effectContext(Effect.gen(function*() {
    const requests = yield* Ref.make<ReadonlyArray<MockRequest>>([])
    const sent = yield* Ref.make<ReadonlyArray<{ readonly url: string; readonly frame: Frame }>>([])

    const httpRoutes = bySpecificity(options.routes ?? [])
    const socketRoutes = bySpecificity(options.sockets ?? [])
    const dispatch = <H>(
      method: string,
      path: string,
      routes: ReadonlyArray<Route<H>>,
      fallback: H | undefined
    ): { handler: H; params: Record<string, string> } | undefined => {
      for (const r of routes) {
        if (r.method !== "*" && r.method !== method) continue
        const params = matchPattern(r.pattern, path)
        if (params !== undefined) return { handler: r.handler, params }
      }
      return fallback === undefined ? undefined : { handler: fallback, params: {} }
    }

    const http = HttpClient.mapRequest(HttpClientRequest.prependUrl("http://lxd.mock"))(
      HttpClient.make((request, url) =>
        Effect.gen(function*() {
          let bytes: Uint8Array | undefined
          const body = request.body
          if (body._tag === "Uint8Array") bytes = body.body
          else if (body._tag === "Raw" && typeof body.body === "string") bytes = new TextEncoder().encode(body.body)
          else if (body._tag === "Stream") {
            bytes = yield* Effect.orDie(Exec.collect(body.stream))
          }
          let jsonBody: unknown = undefined
          if (bytes !== undefined && (request.headers["content-type"] ?? "").includes("json")) {
            try {
              jsonBody = JSON.parse(decoder.decode(bytes))
            } catch {
              jsonBody = undefined
            }
          }
          const { path, query, url: full } = parse(url)
          const found = dispatch(request.method, path, httpRoutes, options.handle ?? options.fallback)
          const req: MockRequest = {
            method: request.method,
            path,
            url: full,
            query,
            headers: request.headers,
            body: jsonBody,
            bytes,
            params: found?.params ?? {}
          }
          yield* Ref.update(requests, (rs) => [...rs, req])
          if (found === undefined) {
            return yield* Effect.dieMessage(`LxdMockTransport: no route for ${request.method} ${full}`)
          }
          // the handler plays the server: it must not inherit the client's interruptibility
          const answer = yield* Effect.interruptible(found.handler(req))
          if (answer.transportFailure !== undefined) {
            return yield* new HttpClientError.RequestError({
              request,
              reason: "Transport",
              cause: answer.transportFailure
            })
          }
          return HttpClientResponse.fromWeb(
            request,
            new Response(
              // statuses that cannot have a body (the Fetch `Response` refuses one): the body is dropped
              nullBodyStatus.has(answer.status) ? null : answer.body as BodyInit,
              { status: answer.status, headers: answer.headers }
            )
          )
        })
      )
    )

    const websocket = (pathAndQuery: string) =>
      Effect.gen(function*() {
        const url = new URL(pathAndQuery, "http://lxd.mock")
        const { path, query, url: full } = parse(url)
        const found = dispatch("GET", path, socketRoutes, undefined)
        const req: MockRequest = {
          method: "WS",
          path,
          url: full,
          query,
          headers: {},
          body: undefined,
          bytes: undefined,
          params: found?.params ?? {}
        }
        yield* Ref.update(requests, (rs) => [...rs, req])
        if (found === undefined) {
          return yield* new ClientConnectionFailed({
            method: "GET",
            path: full,
            endpoint: "mock",
            reason: `LxdMockTransport: no websocket route for ${full}`
          })
        }
        const script = yield* Effect.interruptible(found.handler(req))
        const closed = yield* Deferred.make<void>()
        const close = Effect.suspend(() =>
          Effect.zipRight(Deferred.succeed(closed, undefined), script.onClose ?? Effect.void).pipe(
            Effect.whenEffect(Effect.map(Deferred.isDone(closed), (done) => !done)),
            Effect.asVoid
          )
        )
        // one run of the script serves both `read` and `frames`
        const read = yield* Stream.toPull(script.frames.pipe(Stream.interruptWhen(Deferred.await(closed))))
        const ws: LxdWebSocket = {
          frames: Stream.repeatEffectChunkOption(read),
          read,
          send: (frame) =>
            Effect.zipRight(
              Ref.update(sent, (xs) => [...xs, { url: full, frame }]),
              script.onSend ? script.onSend(frame) : Effect.void
            ),
          close: () => close,
          terminate: close
        }
        yield* Effect.addFinalizer(() => close)
        return ws
      })

    return Context.make(LxdTransport, LxdTransport.of({ endpoint: "mock", http, websocket })).pipe(
      Context.add(MockTransport, { requests: Ref.get(requests), sent: Ref.get(sent) })
    )
  }))

/**
 * An operation the test drives: it stays `Running` (with `GET`, long-poll `/wait` that answers the running
 * operation at its timeout as LXD 5.0.2 does, and `DELETE` = cancel) until the test calls `succeed` or `fail`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ControlledOperation {
  readonly id: string
  /** The `202` answer that starts it; return it from the route that creates the operation. */
  readonly accepted: MockResponse
  /** Routes for `/operations/{id}` and `/operations/{id}/wait`; put them in `routes`. */
  readonly routes: ReadonlyArray<Route<Handler>>
  readonly succeed: (metadata?: unknown) => Effect.Effect<void>
  readonly fail: (err: string, metadata?: unknown) => Effect.Effect<void>
  /** Whether a client cancelled it (`DELETE`). */
  readonly cancelled: Effect.Effect<boolean>
  /** The operation as it is now. */
  readonly current: Effect.Effect<Record<string, unknown>>
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const controlledOperation = (
  id: string,
  overrides: Partial<Record<keyof Operation, unknown>> = {}
): Effect.Effect<ControlledOperation> =>
  Effect.gen(function*() {
    const state = yield* Ref.make(operation(id, overrides))
    const done = yield* Deferred.make<void>()
    const cancelled = yield* Ref.make(false)
    const finish = (fields: Record<string, unknown>) =>
      Effect.zipRight(
        Ref.update(state, (op) => ({ ...op, ...fields, may_cancel: false })),
        Deferred.succeed(done, undefined)
      )
    const current = Ref.get(state)
    return {
      id,
      accepted: async(operation(id, overrides)),
      routes: [
        route("GET", `/operations/${id}`, () => Effect.map(current, (op) => sync(op))),
        route("GET", `/operations/${id}/wait`, (r) => {
          const seconds = Number(r.query.timeout ?? "-1")
          const wait = Deferred.await(done)
          return Effect.zipRight(
            seconds < 0 ? wait : Effect.timeoutOption(wait, seconds * 1000),
            Effect.map(current, (op) => sync(op))
          )
        }),
        route("DELETE", `/operations/${id}`, () =>
          Effect.flatMap(current, (op) =>
            op.may_cancel !== true
              ? Effect.succeed(error(400, "This operation can't be cancelled"))
              : Effect.as(
                Effect.zipRight(
                  Ref.set(cancelled, true),
                  finish({ status: "Cancelled", status_code: 401, err: "Operation cancelled" })
                ),
                sync({})
              )))
      ],
      succeed: (metadata) =>
        finish({ status: "Success", status_code: 200, ...(metadata === undefined ? {} : { metadata }) }),
      fail: (err, metadata) =>
        finish({ status: "Failure", status_code: 400, err, ...(metadata === undefined ? {} : { metadata }) }),
      cancelled: Ref.get(cancelled),
      current
    } satisfies ControlledOperation
  })

/**
 * An event websocket the test pushes events into (`emit`), for `/events` in `sockets`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ControlledEvents {
  readonly route: Route<SocketHandler>
  /** Sends one event (`event(type, metadata)`) to every connected listener. */
  readonly emit: (frame: string) => Effect.Effect<void>
  /** Completes once at least `n` listeners are connected (so a test does not race the subscription). */
  readonly connected: (n?: number) => Effect.Effect<void>
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const controlledEvents: Effect.Effect<ControlledEvents> = Effect.gen(function*() {
  const hub = yield* PubSub.unbounded<string>()
  const listeners = yield* Ref.make(0)
  const routeEvents = route("GET", "/events", () =>
    Effect.gen(function*() {
      const subscription = yield* PubSub.subscribe(hub)
      yield* Ref.update(listeners, (n) => n + 1)
      yield* Effect.addFinalizer(() => Ref.update(listeners, (n) => n - 1))
      return socket(Stream.fromQueue(subscription))
    }))
  return {
    route: routeEvents,
    emit: (frame) => Effect.asVoid(PubSub.publish(hub, frame)),
    connected: (n = 1) =>
      Effect.gen(function*() {
        // yields instead of sleeping, so it works under the TestClock too
        while ((yield* Ref.get(listeners)) < n) yield* Effect.yieldNow()
      })
  }
})

/**
 * The transports' lean JSON path: one undici `dispatch` per request with a handler that collects the body, inside
 * one `Effect.async` whose canceller aborts the request, in one client span. No `AbortController`, `Headers`,
 * `URL`, trace headers or per-request fibers.
 *
 * @internal
 */
import { ClientConnectionFailed } from "@effect-lxd/core/LxdError"
import type { JsonRequest, JsonResponse } from "@effect-lxd/core/LxdTransport"
import { connectionFailureKind, describeConnectionError } from "@effect-lxd/core/LxdTransport"
import * as Effect from "effect/Effect"
import type * as Undici from "undici"

/** Why an interrupted request was aborted (never seen by the caller: the fiber is gone by then). */
class RequestInterrupted extends Error {
  readonly code = "ERR_LXD_REQUEST_INTERRUPTED"
  constructor() {
    super("request interrupted")
  }
}

/** @internal */
export const make = (o: {
  readonly dispatcher: Undici.Dispatcher
  readonly origin: string
  readonly endpoint: string
  readonly mapError?: ((error: unknown) => unknown) | undefined
}) =>
(request: JsonRequest): Effect.Effect<JsonResponse, ClientConnectionFailed> =>
  // one client span per request, as `HttpClient` makes (no trace headers: LXD ignores them)
  Effect.useSpan(
    `http.client ${request.method}`,
    {
      kind: "client",
      captureStackTrace: false,
      attributes: { "http.request.method": request.method, "server.address": o.endpoint, "url.path": request.path }
    },
    (span) =>
      Effect.tap(dispatch(o, request), (response) => span.attribute("http.response.status_code", response.status))
  )

const dispatch = (
  o: {
    readonly dispatcher: Undici.Dispatcher
    readonly origin: string
    readonly endpoint: string
    readonly mapError?: ((error: unknown) => unknown) | undefined
  },
  request: JsonRequest
): Effect.Effect<JsonResponse, ClientConnectionFailed> =>
  Effect.async<JsonResponse, ClientConnectionFailed>((resume) => {
    let controller: Undici.Dispatcher.DispatchController | undefined
    let interrupted = false
    let status = 0
    let headers: JsonResponse["headers"] = {}
    const chunks: Array<Buffer> = []
    const handler: Undici.Dispatcher.DispatchHandler = {
      onRequestStart(c) {
        // interrupted while the request waited for a connection: abort it as soon as it has one
        if (interrupted) c.abort(new RequestInterrupted())
        else controller = c
      },
      onResponseStart(_c, statusCode, responseHeaders) {
        status = statusCode
        headers = responseHeaders
      },
      onResponseData(_c, chunk) {
        chunks.push(chunk)
      },
      onResponseEnd() {
        const text = chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks).toString("utf8")
        resume(Effect.succeed({ status, headers, text }))
      },
      onResponseError(_c, error) {
        if (interrupted) return
        const cause = o.mapError === undefined ? error : o.mapError(error)
        resume(Effect.fail(
          new ClientConnectionFailed({
            method: request.method,
            path: request.path,
            endpoint: o.endpoint,
            reason: describeConnectionError(cause),
            kind: connectionFailureKind(cause),
            cause
          })
        ))
      }
    }
    o.dispatcher.dispatch(
      {
        origin: o.origin,
        path: request.path + request.query,
        method: request.method as Undici.Dispatcher.HttpMethod,
        headers: request.headers,
        body: request.body ?? null
      },
      handler
    )
    return Effect.sync(() => {
      interrupted = true
      controller?.abort(new RequestInterrupted())
    })
  })

/**
 * The transport the request engine runs on: an `HttpClient` whose requests carry paths below the server's origin,
 * and a websocket opener. `@effect-lxd/node` provides unix-socket and HTTPS layers; `@effect-lxd/testing` provides
 * a scripted mock and an in-memory fake.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type { ClientConnectionFailed, ConnectionFailureKind } from "./LxdError.js"

/**
 * One websocket frame: text frames are strings, binary frames are bytes.
 *
 * @since 0.1.0
 * @category models
 */
export type Frame = string | Uint8Array

/**
 * An open websocket. It lives in the `Scope` it was opened in; closing the scope closes it.
 *
 * @since 0.1.0
 * @category models
 */
export interface LxdWebSocket {
  /**
   * The frames as they arrive, for one consumer. Pulling drives backpressure: a transport pauses reading from
   * the network while unread frames pile up. Ends when the peer closes normally (1000/1005); fails with
   * `ClientConnectionFailed` when the connection is lost.
   */
  readonly frames: Stream.Stream<Frame, ClientConnectionFailed>
  /**
   * The same frames as a pull, for consumers that do not need a `Stream` (each stream step costs allocations,
   * and exec reads its output sockets on a hot path): waits for at least one frame and takes every frame that
   * arrived; fails with `None` at a normal close, `Some(ClientConnectionFailed)` when the connection is lost.
   * Use one of `frames`, `read` and `readLent`.
   */
  readonly read: Effect.Effect<Chunk.Chunk<Frame>, Option.Option<ClientConnectionFailed>>
  /**
   * Optional: `read` without a copy. Binary bytes may be views into the transport's reused receive buffers,
   * valid only until the next pull (the transport reads from the network again only then), and a binary message
   * may come in pieces. For consumers that are done with each chunk before they pull again: a command printing
   * gigabytes streams through without an allocation per chunk. Use one of `frames`, `read` and `readLent`.
   */
  readonly readLent?: Effect.Effect<Chunk.Chunk<Frame>, Option.Option<ClientConnectionFailed>> | undefined
  /** Sends one frame; waits until the transport accepted it (flow control for large inputs). */
  readonly send: (frame: Frame) => Effect.Effect<void, ClientConnectionFailed>
  /** Sends a close frame (default 1000) and lets the peer finish. */
  readonly close: (code?: number) => Effect.Effect<void>
  /**
   * Drops the connection without a close handshake, as the Go client does once LXD sent an exec output's
   * barrier (LXD closes its end then, and a close frame written after that fails with EPIPE).
   */
  readonly terminate: Effect.Effect<void>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class LxdTransport extends Context.Tag("@effect-lxd/core/LxdTransport")<LxdTransport, LxdTransport.Service>() {}

/**
 * The `Service` interface of the `LxdTransport` tag.
 *
 * @since 0.1.0
 * @category models
 */
export declare namespace LxdTransport {
  /**
   * @since 0.1.0
   * @category models
   */
  export interface Service {
    /** Where the transport connects (`unix:/var/lib/lxd/unix.socket`, `https://10.0.0.2:8443`), for messages. */
    readonly endpoint: string
    /** An HTTP client; requests carry the path and query only (`/1.0/instances?recursion=1`). */
    readonly http: HttpClient.HttpClient
    /**
     * Opens a websocket to a path with its query (`/1.0/events?type=lifecycle`). Succeeds once the connection
     * is open; fails with `ClientConnectionFailed` (refused, TLS or pin failure, handshake refused).
     */
    readonly websocket: (pathAndQuery: string) => Effect.Effect<LxdWebSocket, ClientConnectionFailed, Scope.Scope>
    /**
     * An optional lean path for requests with a JSON body (or none) whose JSON answer is read whole: the engine
     * uses it for every envelope request when it is there, and `http` for raw bodies. It must behave as `http`
     * does for these requests (same headers on the wire, interruption aborts the request, connection failures
     * are `ClientConnectionFailed` naming the endpoint and the reason), minus the per-request machinery a
     * general `HttpClient` needs. A transport wrapped by the user (`transformClient`) leaves it out, so that the
     * wrapping sees every request.
     */
    readonly json?: ((request: JsonRequest) => Effect.Effect<JsonResponse, ClientConnectionFailed>) | undefined
    /**
     * An optional lean path for sending a body of known length (`request.length`; `request.body` is unused) from
     * reused buffers: `fill` writes into the buffer it is given, from its start, and returns how many bytes it
     * wrote (0: the source ended early, which fails the request); a buffer is filled again only once the
     * connection took the bytes before. The answer is read as `json` reads it. A transport wrapped by the user
     * leaves it out.
     */
    readonly upload?:
      | (<E>(
        request: JsonRequest & { readonly length: number },
        fill: (buffer: Uint8Array) => Effect.Effect<number, E>
      ) => Effect.Effect<JsonResponse, ClientConnectionFailed | E>)
      | undefined
    /**
     * An optional lean path for downloading a body (`GET` of a path with its query) through reused buffers: no
     * allocation per chunk. `accept` sees the status and the headers (names lowercased) first; when it refuses,
     * or the answer has no `Content-Length`, nothing is written, the connection is dropped and the result is
     * `None` (the caller then asks again through `http`). Each chunk is valid only until its `write` ends. A
     * transport wrapped by the user leaves it out.
     */
    readonly download?:
      | (<E>(
        pathAndQuery: string,
        accept: (status: number, headers: Readonly<Record<string, string>>) => boolean,
        write: (chunk: Uint8Array) => Effect.Effect<void, E>
      ) => Effect.Effect<Option.Option<Readonly<Record<string, string>>>, ClientConnectionFailed | E>)
      | undefined
  }
}

/**
 * A request for {@link LxdTransport.Service.json}.
 *
 * @since 0.1.0
 * @category models
 */
export interface JsonRequest {
  readonly method: string
  /** The path below the origin, without the query (`/1.0/instances`); a `ClientConnectionFailed` names it. */
  readonly path: string
  /** The encoded query with its `?` (`?recursion=1`), or `""`. */
  readonly query: string
  /** Header names in lower case; `accept` is set, and `content-type` when there is a body. */
  readonly headers: Readonly<Record<string, string>>
  /** The body as JSON text. */
  readonly body: string | undefined
}

/**
 * The answer to a {@link JsonRequest}: its status, headers (names in lower case) and the whole body as text.
 *
 * @since 0.1.0
 * @category models
 */
export interface JsonResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>
  readonly text: string
}

/**
 * Describes why a connection failed, from a transport error's cause chain: a missing socket, a refused
 * connection, a TLS or certificate-pin failure, or the error's own message.
 *
 * @since 0.1.0
 * @category constructors
 */
export const describeConnectionError = (cause: unknown): string => {
  const seen = new Set<unknown>()
  let current: unknown = cause
  let fallback: string | undefined
  while (typeof current === "object" && current !== null && !seen.has(current)) {
    seen.add(current)
    const e = current as { code?: unknown; message?: unknown; cause?: unknown; reason?: unknown }
    const code = typeof e.code === "string" ? e.code : undefined
    const message = typeof e.message === "string" ? e.message : undefined
    if (code !== undefined && timeoutCodes.has(code)) return `timeout: ${message ?? code}`
    if (code === "ENOENT") return `socket not found (ENOENT)${message ? `: ${message}` : ""}`
    if (code === "ECONNREFUSED") return `connection refused (ECONNREFUSED)${message ? `: ${message}` : ""}`
    if (code === "EACCES") return `permission denied (EACCES)${message ? `: ${message}` : ""}`
    if (code === "ERR_LXD_CERTIFICATE_PIN") return `TLS: ${message ?? "server certificate does not match the pin"}`
    if (code !== undefined && (code.startsWith("ERR_TLS") || code.startsWith("ERR_SSL") || code.includes("CERT"))) {
      return `TLS: ${message ?? code}`
    }
    if (code !== undefined && fallback === undefined) fallback = `${code}${message ? `: ${message}` : ""}`
    if (fallback === undefined && message !== undefined && message.length > 0 && message !== "Transport error") {
      fallback = message
    }
    current = e.cause ?? (typeof e.reason === "object" ? e.reason : undefined)
  }
  return fallback ?? String(cause)
}

const timeoutCodes = new Set([
  "ETIMEDOUT",
  "ERR_LXD_TIMEOUT",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT"
])

/**
 * The {@link ConnectionFailureKind} of a transport error, from its cause chain (error codes): `timeout` for
 * `ETIMEDOUT`, undici's connect, headers and body timeouts and `ERR_LXD_TIMEOUT`; `refused`, `notFound`,
 * `permission`, `tls`; `closed` for a reset or broken connection; else `other`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const connectionFailureKind = (cause: unknown): ConnectionFailureKind => {
  const seen = new Set<unknown>()
  let current: unknown = cause
  while (typeof current === "object" && current !== null && !seen.has(current)) {
    seen.add(current)
    const e = current as { code?: unknown; cause?: unknown; reason?: unknown }
    if (typeof e.code === "string") {
      const code = e.code
      if (timeoutCodes.has(code)) return "timeout"
      if (code === "ECONNREFUSED") return "refused"
      if (code === "ENOENT") return "notFound"
      if (code === "EACCES") return "permission"
      if (code === "ERR_LXD_CERTIFICATE_PIN" || code.startsWith("ERR_TLS") || code.startsWith("ERR_SSL")) return "tls"
      if (code.includes("CERT")) return "tls"
      if (code === "ECONNRESET" || code === "EPIPE" || code === "UND_ERR_SOCKET" || code === "UND_ERR_CLOSED") {
        return "closed"
      }
    }
    current = e.cause ?? (typeof e.reason === "object" ? e.reason : undefined)
  }
  return "other"
}

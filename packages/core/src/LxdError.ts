/**
 * The typed error family of effect-lxd. Every failure that a caller can expect is one of these tags; they share
 * one {@link TypeId} and the {@link isLxdError} guard. Nothing from `@effect/platform` (`HttpClientError`,
 * `ParseError`) reaches a public error channel.
 *
 * @since 0.1.0
 */
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import { excerpt, preview } from "./internal/bounded.js"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@effect-lxd/core/LxdError")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * Fields shared by every error that LXD answered with an error envelope.
 *
 * @since 0.1.0
 * @category models
 */
export const StatusFields = {
  /** HTTP method of the request that failed. */
  method: Schema.String,
  /** Path of the request, relative to the API root (`/1.0/…`). */
  path: Schema.String,
  /** HTTP status of the response. */
  status: Schema.Number,
  /** `error_code` of LXD's error envelope (keyed on first; the HTTP status is the fallback). */
  errorCode: Schema.Number,
  /** LXD's `error` text. */
  message: Schema.String
}

/**
 * The object or endpoint does not exist (`error_code` 404).
 *
 * @since 0.1.0
 * @category errors
 */
export class NotFound extends Schema.TaggedError<NotFound>("@effect-lxd/core/NotFound")("NotFound", StatusFields) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
}

/**
 * The object already exists or is in a state that forbids the change (`error_code` 409).
 *
 * @since 0.1.0
 * @category errors
 */
export class Conflict extends Schema.TaggedError<Conflict>("@effect-lxd/core/Conflict")("Conflict", StatusFields) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
}

/**
 * LXD refused the request as malformed or invalid (`error_code` 400).
 *
 * @since 0.1.0
 * @category errors
 */
export class BadRequest extends Schema.TaggedError<BadRequest>("@effect-lxd/core/BadRequest")(
  "BadRequest",
  StatusFields
) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
}

/**
 * The caller is not allowed to do this: untrusted, restricted, or a wrong trust password (`error_code` 403).
 *
 * @since 0.1.0
 * @category errors
 */
export class Forbidden extends Schema.TaggedError<Forbidden>("@effect-lxd/core/Forbidden")("Forbidden", StatusFields) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
}

/**
 * The `If-Match` ETag no longer matches the object: somebody changed it since it was read (`error_code` 412).
 *
 * @since 0.1.0
 * @category errors
 */
export class PreconditionFailed extends Schema.TaggedError<PreconditionFailed>(
  "@effect-lxd/core/PreconditionFailed"
)("PreconditionFailed", StatusFields) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
}

/**
 * Any other error envelope (500, 501, 503, …), with LXD's status, `error_code` and message.
 *
 * @since 0.1.0
 * @category errors
 */
export class LxdApiError extends Schema.TaggedError<LxdApiError>("@effect-lxd/core/LxdApiError")(
  "LxdApiError",
  StatusFields
) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
}

/**
 * What kind of connection failure a {@link ClientConnectionFailed} is, to match on: `timeout` (a connect,
 * response or websocket keep-alive bound of the transport passed: the server stopped answering), `refused`
 * (nothing listens), `notFound` (no such socket), `permission` (not allowed to open the socket), `tls` (TLS
 * handshake or certificate-pin failure), `closed` (the connection was lost or a websocket closed abnormally),
 * `other`.
 *
 * @since 0.2.0
 * @category models
 */
export const ConnectionFailureKind = Schema.Literal(
  "timeout",
  "refused",
  "notFound",
  "permission",
  "tls",
  "closed",
  "other"
)

/**
 * @since 0.2.0
 * @category models
 */
export type ConnectionFailureKind = typeof ConnectionFailureKind.Type

/**
 * The server could not be reached or the connection broke: socket missing or refused, TLS handshake failure,
 * server certificate not matching the pin, connection reset, or no answer within a transport's bound. `kind`
 * says which as a literal ({@link ConnectionFailureKind}: `"timeout"` when a bound passed), `reason` says it in
 * words, `endpoint` says where.
 *
 * @since 0.1.0
 * @category errors
 */
export class ClientConnectionFailed extends Schema.TaggedError<ClientConnectionFailed>(
  "@effect-lxd/core/ClientConnectionFailed"
)("ClientConnectionFailed", {
  method: Schema.String,
  path: Schema.String,
  endpoint: Schema.String,
  /** The failure in words (`connection refused (ECONNREFUSED): …`, `timeout: no answer within 30s`). */
  reason: Schema.String,
  /** The failure as a literal, to match on; `"other"` when the constructor was not told. @since 0.2.0 */
  kind: Schema.optionalWith(ConnectionFailureKind, { default: () => "other" as const }),
  /** The websocket close code, when an open websocket was closed abnormally (1006: dropped without a close frame). */
  closeCode: Schema.optional(Schema.Number),
  cause: Schema.optional(Schema.Unknown)
}) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
  override get message() {
    return `Could not reach LXD at ${this.endpoint} (${this.method} ${this.path}): ${this.reason}`
  }
}

/**
 * LXD answered something this client cannot read: a body that is not an LXD envelope, or metadata that does
 * not match its schema. `description` carries the schema's explanation.
 *
 * @since 0.1.0
 * @category errors
 */
export class ProtocolError extends Schema.TaggedError<ProtocolError>("@effect-lxd/core/ProtocolError")(
  "ProtocolError",
  {
    method: Schema.String,
    path: Schema.String,
    description: Schema.String,
    cause: Schema.optional(Schema.Unknown)
  }
) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
  override get message() {
    return `Unexpected answer from LXD to ${this.method} ${this.path}: ${this.description}`
  }
}

/**
 * The server does not advertise an API extension the call needs (`GET /1.0` → `api_extensions`).
 *
 * @since 0.1.0
 * @category errors
 */
export class APIExtensionNotAvailable extends Schema.TaggedError<APIExtensionNotAvailable>(
  "@effect-lxd/core/APIExtensionNotAvailable"
)("APIExtensionNotAvailable", { extension: Schema.String }) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
  override get message() {
    return `The server is missing the required "${this.extension}" API extension`
  }
}

/** A value as JSON, cut short; a {@link preview} of one JSON cannot write (a cycle, a BigInt, too deep). */
const shown = (value: unknown): string => {
  try {
    const json = JSON.stringify(value)
    if (json !== undefined) return excerpt(json)
  } catch {
    // below
  }
  return preview(value)
}

/**
 * An argument was refused before any request was sent (an invalid name, a path that would escape, …).
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidArgument extends Schema.TaggedError<InvalidArgument>("@effect-lxd/core/InvalidArgument")(
  "InvalidArgument",
  { argument: Schema.String, value: Schema.Unknown, reason: Schema.String }
) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
  override get message() {
    return `Invalid ${this.argument} ${shown(this.value)}: ${this.reason}`
  }
}

/**
 * A background operation ended in `Failure` (status code 400); `message` is the operation's `err`.
 *
 * @since 0.1.0
 * @category errors
 */
export class OperationFailed extends Schema.TaggedError<OperationFailed>("@effect-lxd/core/OperationFailed")(
  "OperationFailed",
  {
    operationId: Schema.String,
    statusCode: Schema.Number,
    message: Schema.String,
    /** The operation's final `metadata` (exec keeps its `return` here even on failure). */
    metadata: Schema.optional(Schema.Unknown)
  }
) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
}

/**
 * A background operation ended `Cancelled` (status code 401).
 *
 * @since 0.1.0
 * @category errors
 */
export class OperationCancelled extends Schema.TaggedError<OperationCancelled>(
  "@effect-lxd/core/OperationCancelled"
)("OperationCancelled", { operationId: Schema.String, message: Schema.String }) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
}

/**
 * Waiting for an operation took longer than the caller allowed. The operation itself is left as it is.
 *
 * @since 0.1.0
 * @category errors
 */
export class OperationTimeout extends Schema.TaggedError<OperationTimeout>("@effect-lxd/core/OperationTimeout")(
  "OperationTimeout",
  { operationId: Schema.String, timeoutMillis: Schema.Number }
) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
  override get message() {
    return `Operation ${this.operationId} did not finish within ${this.timeoutMillis} ms`
  }
}

/**
 * An event consumer fell behind and the bounded buffer filled up under the `"fail"` overflow policy. Re-list
 * the state you track, then subscribe again.
 *
 * @since 0.1.0
 * @category errors
 */
export class EventBufferOverflow extends Schema.TaggedError<EventBufferOverflow>(
  "@effect-lxd/core/EventBufferOverflow"
)("EventBufferOverflow", { bufferSize: Schema.Number }) {
  /**
   * @since 0.1.0
   */
  readonly [TypeId]: TypeId = TypeId
  override get message() {
    return `The event consumer fell behind: more than ${this.bufferSize} events were buffered`
  }
}

/**
 * Image bytes whose sha256 is not the image's fingerprint: an export whose stream did not hash to the
 * fingerprint it was asked for (the stream fails before its end), or an upload whose fingerprint (as LXD
 * answered it) is not the sha256 the client computed while sending.
 *
 * @since 0.2.0
 * @category errors
 */
export class ImageFingerprintMismatch extends Schema.TaggedError<ImageFingerprintMismatch>(
  "@effect-lxd/core/ImageFingerprintMismatch"
)("ImageFingerprintMismatch", {
  expected: Schema.String,
  actual: Schema.String,
  direction: Schema.Literal("export", "upload")
}) {
  /**
   * @since 0.2.0
   */
  readonly [TypeId]: TypeId = TypeId
  override get message() {
    return `Image ${this.direction}: expected fingerprint ${this.expected}, the bytes hash to ${this.actual}`
  }
}

/**
 * A fingerprint prefix that matches more than one image (LXD 5.0.2 answers 500 "More than one image matches").
 *
 * @since 0.2.0
 * @category errors
 */
export class AmbiguousFingerprint extends Schema.TaggedError<AmbiguousFingerprint>(
  "@effect-lxd/core/AmbiguousFingerprint"
)("AmbiguousFingerprint", { prefix: Schema.String, message: Schema.String }) {
  /**
   * @since 0.2.0
   */
  readonly [TypeId]: TypeId = TypeId
}

/**
 * Every error effect-lxd raises.
 *
 * @since 0.1.0
 * @category errors
 */
export type LxdError =
  | NotFound
  | Conflict
  | BadRequest
  | Forbidden
  | PreconditionFailed
  | LxdApiError
  | ClientConnectionFailed
  | ProtocolError
  | APIExtensionNotAvailable
  | InvalidArgument
  | OperationFailed
  | OperationCancelled
  | OperationTimeout
  | EventBufferOverflow
  | ImageFingerprintMismatch
  | AmbiguousFingerprint

/**
 * Errors that come from an LXD error envelope.
 *
 * @since 0.1.0
 * @category errors
 */
export type StatusError = NotFound | Conflict | BadRequest | Forbidden | PreconditionFailed | LxdApiError

/**
 * @since 0.1.0
 * @category guards
 */
export const isLxdError = (u: unknown): u is LxdError => Predicate.hasProperty(u, TypeId)

/**
 * Builds the status error for an LXD error envelope, keyed on `error_code` first and the HTTP status second
 * (`/1.0/operations/{id}/wait` may send 200 before it knows the outcome).
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromStatus = (fields: {
  readonly method: string
  readonly path: string
  readonly status: number
  readonly errorCode: number
  readonly message: string
}): StatusError => {
  const code = fields.errorCode > 0 ? fields.errorCode : fields.status
  // the server's text, bounded as every error's is
  fields = { ...fields, message: excerpt(fields.message) }
  switch (code) {
    case 400:
      return new BadRequest(fields)
    case 403:
      return new Forbidden(fields)
    case 404:
      return new NotFound(fields)
    case 409:
      return new Conflict(fields)
    case 412:
      return new PreconditionFailed(fields)
    default:
      return new LxdApiError(fields)
  }
}

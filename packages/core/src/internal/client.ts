/**
 * The request engine behind `LxdClient`.
 *
 * @internal
 */
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type { LxdClient, RawResponse, Request, SyncResponse } from "../LxdClient.js"
import {
  APIExtensionNotAvailable,
  ClientConnectionFailed,
  fromStatus,
  InvalidArgument,
  type LxdError,
  ProtocolError
} from "../LxdError.js"
import { ServerInfo } from "../LxdSchema.js"
import {
  connectionFailureKind,
  describeConnectionError,
  type JsonRequest,
  type JsonResponse,
  LxdTransport
} from "../LxdTransport.js"
import { Sha256 } from "../Sha256.js"
import { excerpt, formatParseError, preview } from "./bounded.js"
import * as Envelope from "./envelope.js"
import * as Events from "./events.js"
import * as FastDecode from "./fastDecode.js"
import * as Op from "./operation.js"
import { CurrentProject, CurrentTarget } from "./references.js"

const API = "/1.0"

/**
 * Builds the query: the request's own keys, then `project` (unless `all-projects` is asked for or the request
 * names its own) and `target` from the references.
 *
 * @internal
 */
export const composeQuery = (
  query: Readonly<Record<string, string | undefined>> | undefined,
  project: string | undefined,
  target: string | undefined
): Array<[string, string]> => {
  const out: Array<[string, string]> = []
  let hasProject = false
  let hasTarget = false
  let allProjects = false
  if (query !== undefined) {
    for (const key in query) {
      const value = query[key]
      if (value === undefined) continue
      if (key === "project") hasProject = true
      else if (key === "target") hasTarget = true
      else if (key === "all-projects" && value === "true") allProjects = true
      out.push([key, value])
    }
  }
  if (project !== undefined && !hasProject && !allProjects) out.push(["project", project])
  if (target !== undefined && !hasTarget) out.push(["target", target])
  return out
}

/** @internal */
export const queryString = (params: ReadonlyArray<readonly [string, string]>): string => {
  if (params.length === 0) return ""
  let out = ""
  for (const [k, v] of params) out += `${out === "" ? "?" : "&"}${encodeURIComponent(k)}=${encodeURIComponent(v)}`
  return out
}

/**
 * A request's transport failure (a refused connection, a body cut short) as `ClientConnectionFailed`.
 *
 * @internal
 */
export const connectionFailed =
  (endpoint: string, request: Pick<Request, "method" | "path">) => (cause: unknown): ClientConnectionFailed =>
    new ClientConnectionFailed({
      method: request.method,
      path: API + request.path,
      endpoint,
      reason: describeConnectionError(cause),
      kind: connectionFailureKind(cause),
      cause
    })

/** @internal */
export const protocolError = (
  request: Pick<Request, "method" | "path">,
  description: string,
  cause?: unknown
): ProtocolError =>
  new ProtocolError({
    method: request.method,
    path: API + request.path,
    description,
    ...(cause === undefined ? {} : { cause })
  })

/**
 * Metadata that failed its schema as a `ProtocolError`: `what` and the bounded explanation, not the `ParseError`
 * itself (it holds the whole answer, and rendering it recurses as deep as the answer goes).
 *
 * @internal
 */
export const parseFailure = (
  request: Pick<Request, "method" | "path">,
  what: string,
  error: ParseResult.ParseError
): ProtocolError => protocolError(request, `${what}: ${formatParseError(error)}`)

/** @internal */
export const statusError = (
  request: Pick<Request, "method" | "path">,
  status: number,
  message: string
): LxdError => fromStatus({ method: request.method, path: API + request.path, status, errorCode: status, message })

/**
 * A request's JSON body as text, or `InvalidArgument` when JSON cannot write it (a cycle, a `BigInt`, nesting
 * deeper than the stack): the caller's value, refused before anything is sent.
 */
const jsonBody = (request: Request): string | undefined | InvalidArgument => {
  if (request.body === undefined) return undefined
  try {
    return JSON.stringify(request.body)
  } catch (cause) {
    return new InvalidArgument({
      argument: "body",
      value: preview(request.body),
      reason: `${request.method} ${API + request.path}: JSON cannot write it (${excerpt(String(cause), 200)})`
    })
  }
}

/** @internal */
export const make: Effect.Effect<LxdClient.Service, never, LxdTransport> = Effect.gen(function*() {
  const transport = yield* LxdTransport
  const sha256 = yield* Sha256
  const http = transport.http

  /** The query string of a request in the fiber's project and target (`CurrentProject`, `CurrentTarget`). */
  const scopedQuery = (context: Context.Context<never>, query: Request["query"]): string =>
    queryString(composeQuery(query, Context.get(context, CurrentProject), Context.get(context, CurrentTarget)))

  const buildRequest = (request: Request, query: string, json: string | undefined) => {
    const url = API + request.path + query
    let req = HttpClientRequest.make(request.method)(url, { acceptJson: true })
    if (request.rawBody !== undefined) req = HttpClientRequest.setBody(req, request.rawBody)
    else if (json !== undefined) req = HttpClientRequest.bodyText(req, json, "application/json")
    if (request.headers !== undefined) req = HttpClientRequest.setHeaders(req, request.headers)
    if (request.etag !== undefined) req = HttpClientRequest.setHeader(req, "If-Match", request.etag)
    return req
  }

  const send = (request: Request): Effect.Effect<HttpClientResponse.HttpClientResponse, LxdError> =>
    Effect.contextWithEffect((context: Context.Context<never>) => {
      const json = request.rawBody === undefined ? jsonBody(request) : undefined
      if (json instanceof InvalidArgument) return Effect.fail<LxdError>(json)
      return http.execute(buildRequest(request, scopedQuery(context, request.query), json)).pipe(
        Effect.mapError(connectionFailed(transport.endpoint, request))
      )
    })

  /** The envelope of a JSON body, as the answer or the error it carries. */
  const fromJson = (
    request: Request,
    status: number,
    json: unknown,
    headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>
  ): Effect.Effect<RawResponse, LxdError> => {
    const envelope = Envelope.parse(json)
    if ("invalid" in envelope) {
      return Effect.fail(
        new ProtocolError({
          method: request.method,
          path: API + request.path,
          description: `HTTP ${status}: ${envelope.invalid}`
        })
      )
    }
    if (envelope.type === "error") {
      return Effect.fail(fromStatus({
        method: request.method,
        path: API + request.path,
        status,
        errorCode: envelope.error_code,
        message: envelope.error
      }))
    }
    const result: RawResponse = {
      status,
      type: envelope.type,
      metadata: envelope.metadata,
      operation: envelope.type === "async" ? envelope.operation : undefined,
      etag: header(headers["etag"]),
      location: header(headers["location"])
    }
    return Effect.succeed(result)
  }

  const notJson = (request: Request, status: number, cause: unknown) =>
    new ProtocolError({
      method: request.method,
      path: API + request.path,
      description: `HTTP ${status}: the body is not JSON`,
      cause
    })

  const readEnvelope = (
    request: Request,
    response: HttpClientResponse.HttpClientResponse
  ): Effect.Effect<RawResponse, LxdError> =>
    Effect.flatMap(
      Effect.mapError(response.json, (cause) => notJson(request, response.status, cause)),
      (json) => fromJson(request, response.status, json, response.headers)
    )

  // the transport's lean path (node transports without `transformClient`): a JSON body in, the text out
  const lean = transport.json
  /** A request on one of the transport's lean paths: headers and query built as `http` builds them, the JSON
   * answer read as an envelope. */
  const requestLean = <E>(
    req: Request,
    send: (request: JsonRequest) => Effect.Effect<JsonResponse, ClientConnectionFailed | E>,
    extraHeaders?: Readonly<Record<string, string>>
  ): Effect.Effect<RawResponse, LxdError | E> =>
    Effect.contextWithEffect((context: Context.Context<never>) => {
      const query = scopedQuery(context, req.query)
      const headers: Record<string, string> = { accept: "application/json", ...extraHeaders }
      const body = jsonBody(req)
      if (body instanceof InvalidArgument) return Effect.fail(body)
      if (body !== undefined) headers["content-type"] = "application/json"
      if (req.headers !== undefined) {
        for (const name in req.headers) headers[name.toLowerCase()] = req.headers[name]!
      }
      if (req.etag !== undefined) headers["if-match"] = req.etag
      return Effect.flatMap(
        send({ method: req.method, path: API + req.path, query, headers, body }),
        (response) => {
          let parsed: unknown
          try {
            parsed = response.text === "" ? null : JSON.parse(response.text)
          } catch (cause) {
            return Effect.fail(notJson(req, response.status, cause))
          }
          return fromJson(req, response.status, parsed, response.headers)
        }
      )
    })

  const upload: LxdClient.Service["upload"] = (req, length, fill) => {
    const lean = transport.upload
    if (lean === undefined) return Effect.succeed(Option.none())
    const headers = { "content-type": "application/octet-stream", "content-length": String(length) }
    return Effect.map(requestLean(req, (request) => lean({ ...request, length }, fill), headers), Option.some)
  }

  const request = (req: Request): Effect.Effect<RawResponse, LxdError> =>
    lean !== undefined && req.rawBody === undefined
      ? requestLean(req, lean)
      : Effect.scoped(Effect.flatMap(send(req), (response) => readEnvelope(req, response)))

  const requestRaw = (req: Request): Effect.Effect<HttpClientResponse.HttpClientResponse, LxdError> =>
    Effect.flatMap(send(req), (response) => {
      if (response.status >= 400) {
        // a HEAD answer has no body to read the error from: the status is all there is
        if (req.method === "HEAD") {
          return Effect.fail(fromStatus({
            method: req.method,
            path: API + req.path,
            status: response.status,
            errorCode: response.status,
            message: `HTTP ${response.status} (a HEAD answer carries no error text)`
          }))
        }
        return Effect.flatMap(readEnvelope(req, response), () =>
          Effect.fail(
            new ProtocolError({
              method: req.method,
              path: API + req.path,
              description: `HTTP ${response.status}: expected a raw body, got a JSON envelope`
            })
          ))
      }
      return Effect.succeed(response)
    })

  // the compiled fast path first; Schema's own decoder (and its explanation) when it rejects
  const decoders = new WeakMap<object, (u: unknown) => Either.Either<unknown, ParseResult.ParseError>>()
  const decoderFor = <A, I>(schema: Schema.Schema<A, I, never>) => {
    let decode = decoders.get(schema)
    if (decode === undefined) {
      decode = FastDecode.decodeUnknownEither(schema as Schema.Schema<unknown, unknown, never>)
      decoders.set(schema, decode)
    }
    return decode as (u: unknown) => Either.Either<A, ParseResult.ParseError>
  }

  const decodeMetadata = <A, I>(schema: Schema.Schema<A, I, never>, req: Request, metadata: unknown) => {
    const result = decoderFor(schema)(metadata)
    return result._tag === "Right" ? Effect.succeed(result.right) : Effect.fail(
      parseFailure(req, `metadata does not match ${schemaName(schema)}`, result.left)
    )
  }

  const sync = <A, I>(schema: Schema.Schema<A, I, never>, req: Request): Effect.Effect<SyncResponse<A>, LxdError> =>
    Effect.flatMap(request(req), (response) => {
      if (response.type !== "sync") {
        return Effect.fail(
          new ProtocolError({
            method: req.method,
            path: API + req.path,
            description: `expected a sync response, got an operation (${excerpt(response.operation ?? "", 256)})`
          })
        )
      }
      return Effect.map(decodeMetadata(schema, req, response.metadata), (metadata) => ({
        metadata,
        etag: response.etag,
        location: response.location
      }))
    })

  const websocket = (path: string, query?: Readonly<Record<string, string | undefined>>) =>
    Effect.contextWithEffect((context: Context.Context<never>) =>
      transport.websocket(API + path + scopedQuery(context, query))
    )

  const download: LxdClient.Service["download"] = (req, accept, write) => {
    const lean = transport.download
    if (lean === undefined) return Effect.succeed(Option.none())
    return Effect.contextWithEffect((context: Context.Context<never>) =>
      lean(API + req.path + scopedQuery(context, req.query), accept, write)
    )
  }

  const engine: Op.Engine = { request, endpoint: transport.endpoint }

  const subscribeOperations = Effect.map(
    Events.subscribe(websocket, { types: ["operation"], overflow: "sliding", bufferSize: 256 }),
    (texts) =>
      Events.decodeStream(texts, "raw").pipe(
        Stream.filterMap((event) =>
          event.type === "operation" && !("raw" in event) ? Option.some(event.metadata) : Option.none()
        )
      )
  )

  const operation: LxdClient.Service["operation"] = (req, options = {}) =>
    Op.start(engine, req, options, options.progress === true ? subscribeOperations : undefined)

  const [cachedServer, invalidate] = yield* Effect.cachedInvalidateWithTTL(
    Effect.map(sync(ServerInfo, { method: "GET", path: "" }), (r) => r.metadata),
    Duration.infinity
  )
  const server = Effect.tapError(cachedServer, () => invalidate)

  const hasExtension = (name: string) => Effect.map(server, (info) => info.api_extensions.includes(name))

  return {
    transport,
    endpoint: transport.endpoint,
    sha256,
    connectionFailed: (req) => connectionFailed(transport.endpoint, req),
    request,
    requestRaw,
    requestText: (req) =>
      Effect.scoped(
        Effect.flatMap(requestRaw(req), (response) =>
          Effect.mapError(response.text, connectionFailed(transport.endpoint, req)))
      ),
    sync,
    operation,
    run: (req, options) => Effect.scoped(Effect.flatMap(operation(req, options), (handle) => handle.wait())),
    write: (req, options) =>
      Effect.scoped(Effect.flatMap(operation(req, options), (handle) =>
        Effect.map(handle.wait(), (op) => ({
          location: handle.location,
          operation: handle.id === "" ? undefined : op
        })))),
    attach: (op) => Op.attach(engine, op),
    waitFor: (op, options) => Op.waitFor(engine, op, options),
    websocket,
    download,
    upload,
    server,
    refreshServer: invalidate,
    hasExtension,
    requireExtension: (name) =>
      Effect.flatMap(
        hasExtension(name),
        (has) => has ? Effect.void : Effect.fail(new APIExtensionNotAvailable({ extension: name }))
      )
  } satisfies LxdClient.Service
})

const header = (value: string | ReadonlyArray<string> | undefined): string | undefined =>
  typeof value === "string" || value === undefined ? value : value[0]

const schemaName = (schema: Schema.Schema.Any): string => {
  const id = schema.ast.annotations[Symbol.for("effect/annotation/Identifier")]
  return typeof id === "string" ? id : "its schema"
}

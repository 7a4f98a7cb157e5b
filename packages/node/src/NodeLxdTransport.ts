/**
 * Node transports for LXD, as Layers: the local unix socket (with LXD's own discovery order) and HTTPS with a
 * client certificate and a pinned server certificate. HTTP goes through undici; websockets send no `Origin`
 * header, over the unix socket through a client of our own that reads into reused buffers, over HTTPS through `ws`
 * with the same TLS options as HTTP. Neither layer provides or replaces the application's `HttpClient`.
 *
 * @since 0.1.0
 */
import { InvalidArgument } from "@effect-lxd/core/LxdError"
import { LxdTransport } from "@effect-lxd/core/LxdTransport"
import * as Sha256 from "@effect-lxd/core/Sha256"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import type * as Undici from "undici"
import type * as WS from "ws"
import * as Download from "./internal/download.js"
import * as Json from "./internal/json.js"
import * as Lazy from "./internal/lazy.js"
import * as Limits from "./internal/limits.js"
import * as SocketWebSocket from "./internal/socketWebSocket.js"
import { checkSettings, explainTlsError, tlsOptions, type TlsSettings } from "./internal/tls.js"
import * as Upload from "./internal/upload.js"
import * as WebSocket from "./internal/websocket.js"
import * as LxcConfig from "./LxcConfig.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface CommonOptions {
  /** Wraps the HTTP client (retries for GETs, logging). Never retry requests that start operations. */
  readonly transformClient?: ((client: HttpClient.HttpClient) => HttpClient.HttpClient) | undefined
  /**
   * Bound on opening a connection: the socket's connect, with TLS the handshake, and a websocket's upgrade
   * request (a websocket open may take `connectTimeout` + `responseTimeout`). Default 10 seconds;
   * `Duration.infinity` turns it off.
   */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /**
   * Bound on a silent server during a request: until the answer's headers come, and between chunks of its
   * body, as undici's `headersTimeout` and `bodyTimeout` (a body the caller does not read yet is not timed).
   * An operation long-poll (`GET …/wait?timeout=N`) gets `N` seconds more: it is not idle. undici checks its
   * bounds on a coarse clock: a bound fires up to ~1 s late. Default 60 seconds
   * (LXD answers synchronous requests such as a storage pool's creation only once done); `Duration.infinity`
   * turns it off.
   */
  readonly responseTimeout?: Duration.DurationInput | undefined
  /**
   * Keep-alive of every websocket (events, exec, console): a ping this often while the socket is read, and
   * the connection is dropped once `maxMissedPongs` pings in a row had no answer (and nothing else came).
   * Default 20 seconds; `Duration.infinity` turns pings off. While reading is paused for a consumer that fell
   * behind (backpressure), pongs could not be read: missed ones are not counted then.
   */
  readonly pingInterval?: Duration.DurationInput | undefined
  /** Unanswered pings before a websocket fails; default 2 (a dead peer is seen within 3 ping intervals). */
  readonly maxMissedPongs?: number | undefined
  /**
   * The most HTTP connections this transport opens at once (default 64): a burst beyond it queues instead of
   * exhausting file descriptors. File transfers over the unix socket's own paths count separately, with the
   * same limit; websockets are not limited (each one is held by its caller). `Infinity` turns the cap off.
   */
  readonly maxConnections?: number | undefined
  /** How long an unused keep-alive connection stays open (default 4 seconds, as undici's). */
  readonly idleSocketTimeout?: Duration.DurationInput | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface UnixSocketOptions extends CommonOptions {
  /** Socket path; by default {@link resolveSocketPath}. */
  readonly socketPath?: string | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface HttpsOptions extends CommonOptions {
  /** `https://host:8443`. */
  readonly url: string
  /** PEM client certificate: the identity LXD trusts. */
  readonly clientCertificate?: string | undefined
  /** PEM private key of the client certificate. */
  readonly clientKey?: Redacted.Redacted<string> | undefined
  /**
   * PEM server certificate to pin (LXD's self-signed `server.crt`). Without it the system's trust store verifies
   * the server (for LXD behind a CA-issued certificate).
   */
  readonly serverCertificate?: string | undefined
  /** Skips server verification entirely. Explicit opt-out; never the default. */
  readonly insecureSkipVerify?: boolean | undefined
  /**
   * `false`: no defaults from lxc's folder (`LxcConfig.configDir`). By default, as pylxd does, a client pair
   * left out is lxc's `client.crt`/`client.key` when both exist, and a server certificate left out is
   * `servercerts/<remote>.crt` of the `config.yml` remote with this address, else `servercerts/<host>.crt`, when
   * present (else the system trust store verifies the server; never insecure by default).
   */
  readonly lxcDefaults?: boolean | undefined
}

const SNAP_SOCKET = "/var/snap/lxd/common/lxd/unix.socket"
const DEBIAN_SOCKET = "/var/lib/lxd/unix.socket"

/**
 * LXD's discovery order for the local socket (`client/connection.go`): `$LXD_SOCKET`, then
 * `$LXD_DIR/unix.socket`, then the snap's socket if it exists, then `/var/lib/lxd/unix.socket`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const resolveSocketPath = (
  env: Readonly<Record<string, string | undefined>> = process.env,
  exists: (path: string) => boolean = Fs.existsSync
): string => {
  if (env.LXD_SOCKET) return env.LXD_SOCKET
  if (env.LXD_DIR) return Path.join(env.LXD_DIR, "unix.socket")
  if (exists(SNAP_SOCKET)) return SNAP_SOCKET
  return DEBIAN_SOCKET
}

/**
 * `@effect/platform-node`'s undici client, imported on the first request that goes through it (a wrapped client,
 * or a request off the lean JSON path), not when the transport is built: it and undici's index are most of this
 * package's import cost. The same client, the same spans and errors: only the import moved.
 */
const lazyUndiciClient = (dispatcher: Undici.Dispatcher): HttpClient.HttpClient => {
  let client: HttpClient.HttpClient | undefined
  // a failed import (a broken install) is the request's transport error, not a defect
  const load = (request: HttpClientRequest.HttpClientRequest) =>
    Effect.suspend(() =>
      client !== undefined
        ? Effect.succeed(client)
        : Effect.map(
          Effect.tryPromise({
            try: () => {
              Lazy.undici()
              return import("@effect/platform-node/NodeHttpClient")
            },
            catch: (cause) => new HttpClientError.RequestError({ request, reason: "Transport", cause })
          }),
          (NodeHttpClient) => (client ??= NodeHttpClient.makeUndici(dispatcher))
        )
    )
  return HttpClient.makeWith<never, never, HttpClientError.HttpClientError, never>(
    (request) =>
      Effect.flatMap(request, (request) => Effect.flatMap(load(request), (client) => client.execute(request))),
    Effect.succeed
  )
}

const makeTransport = (o: {
  readonly endpoint: string
  readonly origin: string
  readonly limits: Limits.Limits
  readonly websocket: LxdTransport.Service["websocket"]
  readonly connect: NonNullable<Undici.Agent.Options["connect"]>
  readonly socketPath?: string | undefined
  readonly mapError?: ((error: unknown) => unknown) | undefined
  readonly transformClient?: ((client: HttpClient.HttpClient) => HttpClient.HttpClient) | undefined
}) =>
  Effect.gen(function*() {
    const { limits } = o
    const agent = yield* Effect.acquireRelease(
      Effect.sync(() =>
        new (Lazy.undiciAgent())({
          connect: o.connect,
          pipelining: 1,
          headersTimeout: limits.responseMs,
          bodyTimeout: limits.responseMs,
          ...(limits.idleSocketMs > 0
            ? { keepAliveTimeout: limits.idleSocketMs, keepAliveMaxTimeout: limits.idleSocketMs }
            : {}),
          ...(Number.isFinite(limits.maxConnections) ? { connections: limits.maxConnections } : {})
        })
      ),
      (agent) => Effect.promise(() => agent.destroy())
    )
    // every request gets the response bound (`HttpClient` asks undici for none), an operation long-poll more:
    // the server holds it for the time it asked
    const dispatcher = agent.compose((dispatch) => (opts, handler) => {
      const ms = Limits.responseMsFor(opts.path, limits) ?? limits.responseMs
      return dispatch({ ...opts, headersTimeout: ms, bodyTimeout: ms }, handler)
    })
    const explainTimeout = Limits.explainTimeout(limits)
    const mapError = (error: unknown) => explainTimeout(o.mapError === undefined ? error : o.mapError(error))
    // LXD ignores trace headers: the span stays, the propagation goes
    const base = lazyUndiciClient(dispatcher).pipe(
      HttpClient.mapRequest(HttpClientRequest.prependUrl(o.origin)),
      HttpClient.withTracerPropagation(false)
    )
    const http = o.transformClient ? o.transformClient(base) : base
    // the unix socket's own file paths open a connection each: as many at once as HTTP may
    const lean = !o.transformClient && o.socketPath !== undefined
    const transfers = lean && Number.isFinite(limits.maxConnections)
      ? yield* Effect.makeSemaphore(limits.maxConnections)
      : undefined
    const download = lean ? Download.make(o.socketPath!, o.endpoint, limits) : undefined
    const upload = lean ? Upload.make(o.socketPath!, o.endpoint, limits) : undefined
    return LxdTransport.of({
      endpoint: o.endpoint,
      http,
      // the lean path for envelope requests, unless the user wraps the client (then every request goes through it)
      json: o.transformClient
        ? undefined
        : Json.make({ dispatcher, origin: o.origin, endpoint: o.endpoint, mapError }),
      // file bodies through reused buffers; unix socket only: over HTTPS, TLS costs more than the copies
      download: download === undefined || transfers === undefined
        ? download
        : (pathAndQuery, accept, write) => transfers.withPermits(1)(download(pathAndQuery, accept, write)),
      upload: upload === undefined || transfers === undefined
        ? upload
        : (request, fill) => transfers.withPermits(1)(upload(request, fill)),
      websocket: o.websocket
    })
  })

/**
 * `node:crypto`'s native SHA-256 (`createHash("sha256")`, GB/s where the plain TypeScript default does tens of
 * MB/s), which every transport layer here provides beside the transport, so image exports and uploads are
 * checked with it without anything to do. For a transport of your own (or to be explicit), provide it where the
 * engine is built: `Lxd.layer.pipe(Layer.provide(myTransport), Layer.provide(Layer.succeed(Sha256.Sha256,
 * NodeLxdTransport.nativeSha256)))`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const nativeSha256: Sha256.Sha256.Service = {
  make: () => {
    const hash = Crypto.createHash("sha256")
    return {
      update: (chunk) => {
        hash.update(chunk)
      },
      digest: () => hash.digest("hex")
    }
  }
}

const withNativeSha256 = <E>(transport: Layer.Layer<LxdTransport, E>) =>
  Layer.merge(transport, Layer.succeed(Sha256.Sha256, nativeSha256))

/**
 * Connects over the local unix socket. A socket user is fully trusted by LXD.
 *
 * Every wait is bounded by default (see {@link CommonOptions}): a connect 10 s, a silent answer 60 s (an
 * operation long-poll `…/wait?timeout=N` gets `N` s more), a websocket 3 × 20 s without a pong; the bound fails
 * the call with `ClientConnectionFailed` of `kind: "timeout"`. At most 64 HTTP connections (and 64 file
 * transfers) at once: a larger burst queues; an unused connection closes after 4 s.
 *
 * @example
 * ```ts
 * import { Instances, Lxd } from "@effect-lxd/core"
 * import { NodeLxdTransport } from "@effect-lxd/node"
 * import { Effect, Layer } from "effect"
 *
 * const program = Effect.flatMap(Instances.Instances, (instances) => instances.listNames())
 *
 * // the socket as `lxc` finds it (resolveSocketPath), or { socketPath: "/var/lib/lxd/unix.socket" };
 * // nothing connects before the program runs: NodeRuntime.runMain(main)
 * export const main = program.pipe(Effect.provide(Lxd.layer.pipe(Layer.provide(NodeLxdTransport.layerUnixSocket()))))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerUnixSocket = (options: UnixSocketOptions = {}): Layer.Layer<LxdTransport | Sha256.Sha256> =>
  withNativeSha256(Layer.scoped(
    LxdTransport,
    Effect.suspend(() => {
      const socketPath = options.socketPath ?? resolveSocketPath()
      const limits = Limits.resolve(options)
      return makeTransport({
        endpoint: `unix:${socketPath}`,
        origin: "http://lxd",
        limits,
        // websockets read into reused buffers (TLS sockets cannot, so HTTPS keeps `ws`)
        websocket: (pathAndQuery) =>
          SocketWebSocket.open({ socketPath, endpoint: `unix:${socketPath}`, pathAndQuery, limits }),
        connect: { socketPath, timeout: limits.connectMs },
        socketPath,
        transformClient: options.transformClient
      })
    })
  ))

/**
 * Connects over HTTPS with a client certificate. The server certificate is pinned when given (TLS 1.3 only);
 * a mismatch fails every request and websocket with `ClientConnectionFailed` ("does not match the pinned
 * certificate").
 *
 * A configuration that cannot work fails the layer itself, before anything connects, with `InvalidArgument`
 * naming the option (`url` not `https://`; `serverCertificate` or `clientCertificate` not a PEM certificate;
 * `clientKey` not a PEM private key, or not the certificate's; a key's text is never in the error).
 *
 * Every wait is bounded by default (see {@link CommonOptions}): a connect 10 s, a silent answer 60 s (a
 * long-poll its own wait more), a websocket 3 × 20 s without a pong; the bound fails the call with
 * `ClientConnectionFailed` of `kind: "timeout"`. At most 64 connections at once (`maxConnections`).
 *
 * @example
 * ```ts
 * import { Lxd, Server } from "@effect-lxd/core"
 * import { NodeLxdTransport } from "@effect-lxd/node"
 * import { Effect, Layer, Redacted } from "effect"
 * import * as Fs from "node:fs"
 *
 * // Layer.suspend: the PEM files are read when the layer is built, not when this module loads
 * const remote = Layer.suspend(() =>
 *   NodeLxdTransport.layerHttps({
 *     url: "https://lxd.example.net:8443",
 *     clientCertificate: Fs.readFileSync("client.crt", "utf8"),
 *     clientKey: Redacted.make(Fs.readFileSync("client.key", "utf8")),
 *     // LXD's self-signed server.crt, pinned
 *     serverCertificate: Fs.readFileSync("server.crt", "utf8")
 *   })
 * )
 *
 * // for NodeRuntime.runMain(main)
 * export const main = Effect.flatMap(Server.Server, (server) => server.isTrusted).pipe(
 *   Effect.provide(Lxd.layer.pipe(Layer.provide(remote)))
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerHttps = (given: HttpsOptions): Layer.Layer<LxdTransport | Sha256.Sha256, InvalidArgument> =>
  withNativeSha256(Layer.scoped(
    LxdTransport,
    Effect.suspend(() => {
      const url = parseUrl(given.url)
      if (url === undefined || url.protocol !== "https:") {
        return Effect.fail(
          new InvalidArgument({ argument: "url", value: given.url, reason: "is not an https:// URL" })
        )
      }
      const options = withLxcDefaults(url, given)
      const origin = url.origin
      const settings: TlsSettings = {
        cert: options.clientCertificate,
        key: options.clientKey === undefined ? undefined : Redacted.value(options.clientKey),
        serverCertificate: options.serverCertificate,
        insecureSkipVerify: options.insecureSkipVerify
      }
      const invalid = checkSettings(settings)
      if (invalid !== undefined) return Effect.fail(invalid)
      const tls = tlsOptions(settings)
      const limits = Limits.resolve(options)
      const explain = explainTlsError(settings)
      const connector = Lazy.undiciBuildConnector()(
        { ...tls, timeout: limits.connectMs } as Undici.buildConnector.BuildOptions
      )
      // rewrite certificate failures so the error says the pin did not match
      const connect: Undici.buildConnector.connector = (opts, callback) =>
        connector(opts, (...args) => {
          if (args[0] !== null) callback(explain(args[0]) as Error, null)
          else callback(...args)
        })
      return makeTransport({
        endpoint: origin,
        origin,
        limits,
        websocket: (pathAndQuery) =>
          WebSocket.open({
            url: `wss://${url.host}${pathAndQuery}`,
            endpoint: origin,
            pathAndQuery,
            wsOptions: tls as unknown as WS.ClientOptions,
            limits,
            mapError: explain
          }),
        connect,
        mapError: explain,
        transformClient: options.transformClient
      })
    })
  ))

/**
 * {@link layerHttps} from `Config` (environment by default).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerHttpsConfig = (
  config: Config.Config.Wrap<HttpsOptions>
): Layer.Layer<LxdTransport | Sha256.Sha256, InvalidArgument> =>
  Layer.unwrapEffect(
    Effect.map(Effect.orDie(Config.unwrap(config)), layerHttps)
  )

const optional = <A>(config: Config.Config<A>) => Config.map(Config.option(config), Option.getOrUndefined)

/**
 * Picks the transport from the environment: HTTPS when `LXD_URL` is set (`LXD_CLIENT_CERT`, `LXD_CLIENT_KEY`,
 * `LXD_SERVER_CERT` as PEM text or file paths), else the local unix socket ({@link resolveSocketPath}). The
 * bounds of {@link CommonOptions} come from `LXD_CONNECT_TIMEOUT`, `LXD_RESPONSE_TIMEOUT`, `LXD_PING_INTERVAL`,
 * `LXD_IDLE_SOCKET_TIMEOUT` (durations: `"5 seconds"`, `"500 millis"`), `LXD_MAX_MISSED_PONGS` and
 * `LXD_MAX_CONNECTIONS` (integers), each defaulting as there. An unusable HTTPS configuration fails the layer
 * with `InvalidArgument` (see {@link layerHttps}).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig: Layer.Layer<LxdTransport | Sha256.Sha256, InvalidArgument> = Layer.unwrapEffect(
  Effect.gen(function*() {
    const bounds = yield* Effect.orDie(Config.all({
      connectTimeout: optional(Config.duration("LXD_CONNECT_TIMEOUT")),
      responseTimeout: optional(Config.duration("LXD_RESPONSE_TIMEOUT")),
      pingInterval: optional(Config.duration("LXD_PING_INTERVAL")),
      idleSocketTimeout: optional(Config.duration("LXD_IDLE_SOCKET_TIMEOUT")),
      maxMissedPongs: optional(Config.integer("LXD_MAX_MISSED_PONGS")),
      maxConnections: optional(Config.integer("LXD_MAX_CONNECTIONS"))
    }))
    const url = yield* Effect.orDie(Config.option(Config.string("LXD_URL")))
    if (url._tag === "None") return layerUnixSocket(bounds)
    const pem = (name: string) =>
      Effect.flatMap(Effect.orDie(Config.option(Config.string(name))), (o) => readPem(name, o))
    const cert = yield* pem("LXD_CLIENT_CERT")
    const key = yield* pem("LXD_CLIENT_KEY")
    const server = yield* pem("LXD_SERVER_CERT")
    return layerHttps({
      ...bounds,
      url: url.value,
      clientCertificate: cert,
      clientKey: key === undefined ? undefined : Redacted.make(key),
      serverCertificate: server
    })
  })
)

const parseUrl = (url: string): URL | undefined => {
  try {
    return new URL(url)
  } catch {
    return undefined
  }
}

/** pylxd's defaults from lxc's folder for what `options` leaves out (see `HttpsOptions.lxcDefaults`). */
const withLxcDefaults = (url: URL, options: HttpsOptions): HttpsOptions => {
  if (options.lxcDefaults === false || options.insecureSkipVerify === true) return options
  const needClient = options.clientCertificate === undefined && options.clientKey === undefined
  if (!needClient && options.serverCertificate !== undefined) return options
  const defaults = LxcConfig.httpsDefaults(url)
  return {
    ...options,
    ...(needClient ? { clientCertificate: defaults.clientCertificate, clientKey: defaults.clientKey } : {}),
    serverCertificate: options.serverCertificate ?? defaults.serverCertificate
  }
}

/**
 * Connects to a remote of lxc's configuration (`~/.config/lxc/config.yml`, `$LXD_CONF`, the snap's
 * `~/snap/lxd/common/config`: `LxcConfig.configDir`): `name`, else lxc's `default-remote`. `local` is the unix
 * socket in LXD's discovery order ({@link resolveSocketPath}); an HTTPS remote uses lxc's client certificate and
 * key and pins `servercerts/<name>.crt` (a mismatch fails requests and websockets with `ClientConnectionFailed`).
 * Fails with `LxcConfigError` (naming the file) for a missing remote or file, a `simplestreams` remote, or a
 * Candid one, and with `InvalidArgument` for unusable files (see {@link layerHttps}). The remote's `project` is
 * not applied: use `LxdClient.withProject` (see `LxcConfig.resolve`).
 *
 * @example
 * ```ts
 * import { Instances, Lxd } from "@effect-lxd/core"
 * import { NodeLxdTransport } from "@effect-lxd/node"
 * import { Effect, Layer } from "effect"
 *
 * // what `lxc list lab2:` lists, with the files `lxc remote add lab2 …` wrote
 * export const main = Effect.flatMap(Instances.Instances, (instances) => instances.listNames()).pipe(
 *   Effect.provide(Lxd.layer.pipe(Layer.provide(NodeLxdTransport.layerRemote("lab2"))))
 * )
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerRemote = (
  name?: string | undefined,
  options: CommonOptions & { readonly configDir?: string | undefined } = {}
): Layer.Layer<LxdTransport | Sha256.Sha256, LxcConfig.LxcConfigError | InvalidArgument> => {
  const { configDir, ...common } = options
  return Layer.unwrapEffect(
    Effect.map(LxcConfig.resolve(name, { dir: configDir }), (c) =>
      c._tag === "Unix"
        ? layerUnixSocket({ ...common, socketPath: c.socketPath })
        : layerHttps({
          ...common,
          url: c.url,
          clientCertificate: c.clientCertificate,
          clientKey: c.clientKey,
          serverCertificate: c.serverCertificate,
          lxcDefaults: false
        }))
  )
}

/**
 * {@link layerRemote} from `Config`: `name` (say `Config.string("LXD_REMOTE")`, or left out for lxc's
 * `default-remote`) and `configDir`.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerRemoteConfig = (
  config: Config.Config.Wrap<{ readonly name?: string | undefined; readonly configDir?: string | undefined }>
): Layer.Layer<LxdTransport | Sha256.Sha256, LxcConfig.LxcConfigError | InvalidArgument> =>
  Layer.unwrapEffect(
    Effect.map(Effect.orDie(Config.unwrap(config)), (c) => layerRemote(c.name, { configDir: c.configDir }))
  )

/** PEM text as given, or the file it names; an unreadable file is `InvalidArgument` naming the variable. */
const readPem = (name: string, value: Option.Option<string>): Effect.Effect<string | undefined, InvalidArgument> => {
  if (Option.isNone(value)) return Effect.succeed(undefined)
  const given = value.value
  if (given.includes("-----BEGIN")) return Effect.succeed(given)
  return Effect.try({
    try: () => Fs.readFileSync(given, "utf8"),
    catch: (e) =>
      new InvalidArgument({
        argument: name,
        value: given,
        reason: `is neither PEM text nor a readable file (${
          typeof e === "object" && e !== null && "code" in e ? String(e.code) : "unreadable"
        })`
      })
  })
}

/**
 * Adding a remote as `lxc remote add` does, so that `lxc` and effect-lxd share it afterwards: fetch the server's
 * certificate, have the caller confirm its fingerprint (never trusted on first use silently), authenticate with a
 * trust token (or LXD 5.0's trust password), and write the remote, `servercerts/<remote>.crt` and, when there is
 * none yet, a fresh client certificate in lxc's folder ({@link LxcConfig.configDir}).
 *
 * @since 0.2.0
 */
import * as Certificates from "@effect-lxd/core/Certificates"
import * as LxdClient from "@effect-lxd/core/LxdClient"
import { ClientConnectionFailed, InvalidArgument, type LxdError, TypeId } from "@effect-lxd/core/LxdError"
import * as Server from "@effect-lxd/core/Server"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Net from "node:net"
import * as Tls from "node:tls"
import * as LxcConfig from "./LxcConfig.js"
import { layerHttps } from "./NodeLxdTransport.js"

/**
 * The server's certificate was not accepted: the caller's `confirm` said no, or its fingerprint differs from
 * `expectedFingerprint` or from the one in the trust token. Nothing was written.
 *
 * @since 0.2.0
 * @category errors
 */
export class CertificateRefused extends Schema.TaggedError<CertificateRefused>(
  "@effect-lxd/node/CertificateRefused"
)("CertificateRefused", { url: Schema.String, fingerprint: Schema.String, reason: Schema.String }) {
  /**
   * @since 0.2.0
   */
  readonly [TypeId]: TypeId = TypeId
  override get message() {
    return `The certificate of ${this.url} (SHA-256 ${this.fingerprint}) was refused: ${this.reason}`
  }
}

/**
 * The server certificate as fetched, for the caller to confirm: `fingerprint` (SHA-256, lower-case hex without
 * colons, as `lxc` shows it), `pem`, `subject`, `validTo`.
 *
 * @since 0.2.0
 * @category models
 */
export interface ServerCertificate {
  readonly url: string
  readonly fingerprint: string
  readonly pem: string
  readonly subject: string
  readonly validTo: string
}

/**
 * What {@link add} takes:
 *
 * - `name`: the remote's name in lxc's config;
 * - `address`: `https://host:port`, `host:port` or `host` (port 8443), as `lxc remote add` takes it; left out,
 *   the first address in the trust token;
 * - `token` (`lxc config trust add`) or `password` (`core.trust_password`, LXD 5.0): how to authenticate when
 *   the server does not trust the client certificate yet;
 * - `expectedFingerprint` or `confirm`: at least one (a token that names the fingerprint also counts, as in
 *   `lxc`); `confirm` sees the certificate and answers `true` to accept it;
 * - `dir`: lxc's folder ({@link LxcConfig.configDir} by default); `project` (default `default`); `clientName`:
 *   the name LXD gives the trusted certificate.
 *
 * @since 0.2.0
 * @category models
 */
export interface AddOptions {
  readonly name: string
  readonly address?: string | undefined
  readonly token?: Redacted.Redacted<string> | undefined
  readonly password?: Redacted.Redacted<string> | undefined
  readonly expectedFingerprint?: string | undefined
  readonly confirm?: ((certificate: ServerCertificate) => Effect.Effect<boolean>) | undefined
  readonly dir?: string | undefined
  readonly project?: string | undefined
  readonly clientName?: string | undefined
}

/**
 * What {@link add} wrote: the remote's `name` and `url`, the server's `fingerprint`, and whether a client
 * certificate was made (`generatedClientCertificate`).
 *
 * @since 0.2.0
 * @category models
 */
export interface Added {
  readonly name: string
  readonly url: string
  readonly fingerprint: string
  readonly generatedClientCertificate: boolean
}

/** A trust token's content (`shared/api.CertificateAddToken`, base64 JSON). */
const Token = Schema.Struct({
  client_name: Schema.optional(Schema.String),
  fingerprint: Schema.optional(Schema.String),
  addresses: Schema.optionalWith(Schema.Array(Schema.String), { nullable: true, default: () => [] }),
  secret: Schema.String
})
const decodeToken = Schema.decodeUnknownOption(Schema.parseJson(Token))

/**
 * Decodes a trust token (`lxc config trust add`): the server's `fingerprint`, its `addresses`, the
 * `client_name`. `None` for anything else (an old-style secret, a password).
 *
 * @since 0.2.0
 * @category constructors
 */
export const decodeTrustToken = (token: string): Option.Option<typeof Token.Type> => {
  try {
    return decodeToken(Buffer.from(token, "base64").toString("utf8"))
  } catch {
    return Option.none()
  }
}

const normalizeFingerprint = (f: string) => f.replace(/:/g, "").toLowerCase()

/** `https://host:port` from what `lxc remote add` accepts (`host`, `host:port`, a URL; port 8443 by default). */
const toUrl = (address: string): Effect.Effect<URL, InvalidArgument> =>
  Effect.try({
    try: () => {
      const url = new URL(/^[a-z]+:\/\//i.test(address) ? address : `https://${address}`)
      if (url.protocol !== "https:" || url.pathname !== "/" || url.search !== "") throw new Error("not https")
      if (url.port === "") url.port = "8443"
      return url
    },
    catch: () =>
      new InvalidArgument({ argument: "address", value: address, reason: "must be https://host[:port] or host[:port]" })
  })

/**
 * Fetches the certificate a TLS server presents, without trusting it (as `lxc remote add` does before asking).
 * Fails with `ClientConnectionFailed`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const fetchServerCertificate = (url: string): Effect.Effect<ServerCertificate, ClientConnectionFailed> =>
  Effect.async<ServerCertificate, ClientConnectionFailed>((resume) => {
    const target = new URL(url)
    let done = false
    const settle = (effect: Effect.Effect<ServerCertificate, ClientConnectionFailed>) => {
      if (done) return
      done = true
      resume(effect)
    }
    const fail = (reason: string, cause?: unknown) =>
      settle(
        Effect.fail(new ClientConnectionFailed({ method: "TLS", path: "/", endpoint: target.origin, reason, cause }))
      )
    const host = target.hostname.replace(/^\[|\]$/g, "")
    const socket = Tls.connect({
      host,
      port: Number(target.port || 8443),
      rejectUnauthorized: false,
      ALPNProtocols: ["http/1.1"],
      ...(Net.isIP(host) === 0 ? { servername: host } : {})
    })
    socket.setTimeout(10_000, () => {
      socket.destroy()
      fail("timed out fetching the server certificate")
    })
    socket.once("error", (cause) => fail(cause.message, cause))
    socket.once("secureConnect", () => {
      const peer = socket.getPeerX509Certificate()
      socket.setTimeout(0)
      socket.end()
      if (peer === undefined) return fail("the server presented no certificate")
      settle(Effect.succeed({
        url: target.origin,
        fingerprint: normalizeFingerprint(peer.fingerprint256),
        pem: peer.toString(),
        subject: peer.subject,
        validTo: peer.validTo
      }))
    })
    return Effect.sync(() => socket.destroy())
  })

/**
 * Adds a remote as `lxc remote add <name> <address>` does: fetches the server certificate; checks it against
 * `expectedFingerprint` and the trust token's fingerprint, and asks `confirm` (at least one of these must
 * vouch for it); connects with lxc's client certificate (a fresh EC P-384 one when there is none) pinned to that
 * certificate; authenticates with the token or password when the server does not trust it yet
 * (`POST /1.0/certificates`); then writes the remote, `servercerts/<name>.crt` and the new client pair in lxc's
 * layout. Nothing is written unless every step succeeded.
 *
 * Errors: `InvalidArgument` (name, address, no way to confirm), `CertificateRefused`, `ClientConnectionFailed`,
 * `Forbidden` (a wrong token or password, or none while the server does not trust the client), `LxcConfigError`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const add = (
  options: AddOptions
): Effect.Effect<Added, LxdError | LxcConfig.LxcConfigError | CertificateRefused> =>
  Effect.gen(function*() {
    const invalid = LxcConfig.invalidName(options.name)
    if (invalid !== undefined) {
      return yield* new InvalidArgument({ argument: "name", value: options.name, reason: invalid })
    }
    const token = options.token === undefined ? Option.none() : decodeTrustToken(Redacted.value(options.token))
    const address = options.address ??
      Option.getOrUndefined(Option.flatMap(token, (t) => Option.fromNullable(t.addresses[0])))
    if (address === undefined) {
      return yield* new InvalidArgument({
        argument: "address",
        value: address,
        reason: "no address and no token naming one"
      })
    }
    const url = yield* toUrl(address)
    const expected = [
      ...(options.expectedFingerprint === undefined ? [] : [options.expectedFingerprint]),
      ...Option.toArray(Option.flatMap(token, (t) => Option.fromNullable(t.fingerprint)))
    ].map(normalizeFingerprint)
    if (expected.length === 0 && options.confirm === undefined) {
      return yield* new InvalidArgument({
        argument: "confirm",
        value: undefined,
        reason: "give confirm or expectedFingerprint (a server certificate is never trusted silently)"
      })
    }
    const server = yield* fetchServerCertificate(url.origin)
    const refuse = (reason: string) =>
      new CertificateRefused({ url: url.origin, fingerprint: server.fingerprint, reason })
    for (const f of expected) {
      if (f !== server.fingerprint) return yield* refuse(`expected ${f}`)
    }
    if (options.confirm !== undefined && !(yield* options.confirm(server))) {
      return yield* refuse("not confirmed")
    }
    const dir = options.dir ?? LxcConfig.configDir()
    const existing = yield* LxcConfig.clientCertificate(dir)
    const pair = Option.isSome(existing) ? existing.value : yield* LxcConfig.generateClientCertificate()
    yield* authenticate(url.origin, pair, server.pem, options)
    yield* LxcConfig.writeRemote({
      dir,
      name: options.name,
      remote: { addr: url.origin, protocol: "lxd", public: false, project: options.project ?? "default" },
      serverCertificate: server.pem,
      clientCertificate: Option.isSome(existing) ? undefined : pair
    })
    return {
      name: options.name,
      url: url.origin,
      fingerprint: server.fingerprint,
      generatedClientCertificate: Option.isNone(existing)
    }
  }).pipe(Effect.withSpan("LxcRemotes.add"))

/** Connects pinned to the fetched certificate and authenticates when the server does not trust the client yet. */
const authenticate = (url: string, pair: LxcConfig.KeyPair, serverPem: string, options: AddOptions) =>
  Effect.gen(function*() {
    const server = yield* Server.Server
    if (yield* server.isTrusted) return
    const secret = options.token ?? options.password
    if (secret === undefined) {
      return yield* new InvalidArgument({
        argument: "token",
        value: undefined,
        reason: "the server does not trust this client certificate: give a trust token or password"
      })
    }
    const certificates = yield* Certificates.Certificates
    yield* certificates.authenticate(
      options.token === undefined ? { password: Redacted.value(secret) } : { token: Redacted.value(secret) },
      options.clientName === undefined ? undefined : { name: options.clientName }
    )
  }).pipe(
    Effect.provide(
      Layer.mergeAll(Server.layer, Certificates.layer).pipe(
        Layer.provide(LxdClient.layer),
        Layer.provide(layerHttps({
          url,
          clientCertificate: pair.certificate,
          clientKey: pair.key,
          serverCertificate: serverPem,
          lxcDefaults: false
        }))
      )
    )
  )

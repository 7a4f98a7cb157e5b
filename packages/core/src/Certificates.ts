/**
 * Trusted certificates (`/1.0/certificates`): list, add, change, remove, trust tokens, and `authenticate` for an
 * untrusted HTTPS client with a trust password or token.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Encoding from "effect/Encoding"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { toOperation } from "./internal/operation.js"
import * as Path from "./internal/path.js"
import { LxdClient } from "./LxdClient.js"
import { InvalidArgument, type LxdError, ProtocolError } from "./LxdError.js"
import { NullableArray, OpenEnum } from "./LxdSchema.js"

/**
 * A trusted certificate. `certificate` is PEM.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Certificate = Schema.Struct({
  name: Schema.optionalWith(Schema.String, { default: () => "" }),
  type: OpenEnum("client", "metrics", "server"),
  restricted: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  projects: NullableArray(Schema.String),
  certificate: Schema.optionalWith(Schema.String, { default: () => "" }),
  fingerprint: Schema.String,
  description: Schema.optional(Schema.String)
}).annotations({ identifier: "Certificate" })

/**
 * @since 0.1.0
 * @category models
 */
export interface Certificate extends Schema.Schema.Type<typeof Certificate> {}

/**
 * Writable fields of a certificate (`PUT`/`PATCH /1.0/certificates/{fingerprint}`).
 *
 * @since 0.1.0
 * @category models
 */
export interface CertificatePut {
  readonly name?: string | undefined
  readonly type?: "client" | "metrics" | "server" | undefined
  readonly restricted?: boolean | undefined
  readonly projects?: ReadonlyArray<string> | undefined
  /** PEM; changes the certificate itself. */
  readonly certificate?: string | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface CertificatesPost {
  /** PEM certificate to trust. */
  readonly certificate: string
  readonly name?: string | undefined
  /** Default `client`. */
  readonly type?: "client" | "metrics" | "server" | undefined
  /** Limit the certificate to `projects` (extension `certificate_project`). */
  readonly restricted?: boolean | undefined
  readonly projects?: ReadonlyArray<string> | undefined
}

/**
 * A trust token: the string to hand to the new client, and the operation that holds it until it is used
 * (cancel that operation to revoke the token).
 *
 * @since 0.1.0
 * @category models
 */
export interface TrustToken {
  /** base64 JSON `{client_name, fingerprint, addresses, secret, expires_at}`, as `lxc config trust add` prints. */
  readonly token: string
  readonly secret: string
  readonly operationId: string
  readonly addresses: ReadonlyArray<string>
  readonly fingerprint: string
  readonly expiresAt: string | undefined
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Certificates extends Context.Tag("@effect-lxd/core/Certificates")<Certificates, Certificates.Service>() {}

/**
 * The `Service` interface of the `Certificates` tag.
 *
 * @since 0.1.0
 * @category models
 */
export declare namespace Certificates {
  /**
   * @since 0.1.0
   * @category models
   */
  export interface Service {
    /** Fingerprints of the trusted certificates (`GET /1.0/certificates`). */
    readonly listFingerprints: Effect.Effect<ReadonlyArray<string>, LxdError>
    /** The trusted certificates (`GET /1.0/certificates?recursion=1`). */
    readonly list: Effect.Effect<ReadonlyArray<Certificate>, LxdError>
    /** `GET /1.0/certificates/{fingerprint}`. Errors: `NotFound`, `InvalidArgument`. */
    readonly get: (fingerprint: string) => Effect.Effect<Certificate, LxdError>
    /** The certificate and its ETag. */
    readonly getWithEtag: (
      fingerprint: string
    ) => Effect.Effect<{ readonly certificate: Certificate; readonly etag: string | undefined }, LxdError>
    /**
     * Trusts a certificate (`POST /1.0/certificates`, trusted callers). Returns its fingerprint.
     * Errors: `InvalidArgument` (not a PEM certificate), `Conflict`/`BadRequest` (already trusted), `Forbidden`.
     */
    readonly create: (certificate: CertificatesPost) => Effect.Effect<string, LxdError>
    /** Replaces the writable fields (`PUT`). Errors: `PreconditionFailed`, `NotFound`. */
    readonly replace: (
      fingerprint: string,
      certificate: CertificatePut,
      options?: { readonly etag?: string | undefined }
    ) => Effect.Effect<void, LxdError>
    /** Changes some fields (`PATCH`). Errors: `PreconditionFailed`, `NotFound`. */
    readonly update: (
      fingerprint: string,
      patch: CertificatePut,
      options?: { readonly etag?: string | undefined }
    ) => Effect.Effect<void, LxdError>
    /** Removes trust (`DELETE /1.0/certificates/{fingerprint}`). Errors: `NotFound`. */
    readonly delete: (fingerprint: string) => Effect.Effect<void, LxdError>
    /**
     * Creates a single-use trust token (`POST /1.0/certificates {token: true}`, extension `certificate_token`);
     * the token operation stays running until used or cancelled.
     */
    readonly createToken: (options: {
      readonly name: string
      readonly restricted?: boolean | undefined
      readonly projects?: ReadonlyArray<string> | undefined
    }) => Effect.Effect<TrustToken, LxdError>
    /**
     * Makes this connection's client certificate trusted with a trust password (5.0.2) or a trust token
     * (`POST /1.0/certificates {type: "client", password}` over HTTPS). Errors: `Forbidden` (wrong password or
     * token), `BadRequest` ("No client certificate provided").
     */
    readonly authenticate: (
      secret: { readonly password: string } | { readonly token: string },
      options?: { readonly name?: string | undefined }
    ) => Effect.Effect<void, LxdError>
  }
}

/**
 * The base64 DER body of a PEM certificate, as LXD wants it in `certificate` fields.
 *
 * @since 0.1.0
 * @category constructors
 */
export const pemToBase64Der = (pem: string): Effect.Effect<string, InvalidArgument> => {
  const match = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(pem)
  const body = (match?.[1] ?? pem).replace(/\s+/g, "")
  if (body.length === 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(body)) {
    return Effect.fail(
      new InvalidArgument({ argument: "certificate", value: pem.slice(0, 64), reason: "not a PEM certificate" })
    )
  }
  return Effect.succeed(body)
}

const TokenMetadata = Schema.Struct({
  request: Schema.optional(Schema.Struct({ name: Schema.optionalWith(Schema.String, { default: () => "" }) })),
  fingerprint: Schema.optionalWith(Schema.String, { default: () => "" }),
  addresses: NullableArray(Schema.String),
  secret: Schema.String,
  expiresAt: Schema.optional(Schema.String)
})

const path = (fingerprint: string) => Path.build("/certificates/", ["certificate fingerprint", fingerprint])

const body = (put: CertificatePut) =>
  Effect.map(
    put.certificate === undefined ? Effect.succeed(undefined) : pemToBase64Der(put.certificate),
    (certificate) => ({ ...put, ...(certificate === undefined ? {} : { certificate }) })
  )

/**
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Certificates.Service, never, LxdClient> = Effect.gen(function*() {
  const client = yield* LxdClient
  const getWithEtag = (fingerprint: string) =>
    path(fingerprint).pipe(
      Effect.flatMap((p) => client.sync(Certificate, { method: "GET", path: p })),
      Effect.map((r) => ({ certificate: r.metadata, etag: r.etag })),
      Effect.withSpan("Certificates.get")
    )
  const write =
    (method: "PUT" | "PATCH") =>
    (fingerprint: string, put: CertificatePut, options?: { readonly etag?: string | undefined }) =>
      Effect.all([path(fingerprint), body(put)]).pipe(
        Effect.flatMap(([p, b]) => client.request({ method, path: p, body: b, etag: options?.etag })),
        Effect.asVoid,
        Effect.withSpan(method === "PUT" ? "Certificates.replace" : "Certificates.update")
      )
  return Certificates.of({
    listFingerprints: client.sync(Schema.Array(Schema.String), { method: "GET", path: "/certificates" }).pipe(
      Effect.map((r) => r.metadata.map(Path.nameFromUrl)),
      Effect.withSpan("Certificates.listFingerprints")
    ),
    list: client.sync(Schema.Array(Certificate), { method: "GET", path: "/certificates", query: { recursion: "1" } })
      .pipe(Effect.map((r) => r.metadata), Effect.withSpan("Certificates.list")),
    get: (fingerprint) => Effect.map(getWithEtag(fingerprint), (r) => r.certificate),
    getWithEtag,
    create: (post) =>
      pemToBase64Der(post.certificate).pipe(
        Effect.flatMap((certificate) =>
          client.request({
            method: "POST",
            path: "/certificates",
            body: {
              type: post.type ?? "client",
              certificate,
              ...(post.name === undefined ? {} : { name: post.name }),
              ...(post.restricted === undefined ? {} : { restricted: post.restricted }),
              ...(post.projects === undefined ? {} : { projects: post.projects })
            }
          }).pipe(
            // the fingerprint of what was sent (the DER `pemToBase64Der` read), when LXD gives no Location
            Effect.flatMap((r) => fingerprintOf(certificate, r.location))
          )
        ),
        Effect.withSpan("Certificates.create")
      ),
    replace: write("PUT"),
    update: write("PATCH"),
    delete: (fingerprint) =>
      path(fingerprint).pipe(
        Effect.flatMap((p) => client.request({ method: "DELETE", path: p })),
        Effect.asVoid,
        Effect.withSpan("Certificates.delete")
      ),
    createToken: (options) =>
      Effect.gen(function*() {
        yield* client.requireExtension("certificate_token")
        const response = yield* client.request({
          method: "POST",
          path: "/certificates",
          body: {
            type: "client",
            name: options.name,
            token: true,
            ...(options.restricted === undefined ? {} : { restricted: options.restricted }),
            ...(options.projects === undefined ? {} : { projects: options.projects })
          }
        })
        const op = yield* toOperation("POST", "/1.0/certificates", response.metadata)
        const meta = yield* Schema.decodeUnknown(TokenMetadata)(op.metadata).pipe(
          Effect.mapError((cause) =>
            new ProtocolError({
              method: "POST",
              path: "/1.0/certificates",
              description: `token operation metadata: ${cause.message}`,
              cause
            })
          )
        )
        const tokenJson = {
          client_name: meta.request?.name ?? options.name,
          fingerprint: meta.fingerprint,
          addresses: meta.addresses,
          secret: meta.secret,
          ...(meta.expiresAt === undefined ? {} : { expires_at: meta.expiresAt })
        }
        return {
          token: Encoding.encodeBase64(JSON.stringify(tokenJson)),
          secret: meta.secret,
          operationId: op.id,
          addresses: meta.addresses,
          fingerprint: meta.fingerprint,
          expiresAt: meta.expiresAt
        } satisfies TrustToken
      }).pipe(Effect.withSpan("Certificates.createToken")),
    authenticate: (secret, options) =>
      client.request({
        method: "POST",
        path: "/certificates",
        body: {
          type: "client",
          password: "password" in secret ? secret.password : secret.token,
          ...(options?.name === undefined ? {} : { name: options.name })
        }
      }).pipe(
        Effect.zipRight(client.refreshServer),
        Effect.withSpan("Certificates.authenticate")
      )
  })
})

/** The fingerprint from `Location`, or SHA-256 of the DER (Web Crypto, so the core stays platform-agnostic). */
const fingerprintOf = (base64Der: string, location: string | undefined): Effect.Effect<string> => {
  if (location !== undefined && location.length > 0) return Effect.succeed(Path.nameFromUrl(location))
  return Effect.promise(async () => {
    const der = Encoding.decodeBase64(base64Der)
    const bytes = new Uint8Array(der._tag === "Right" ? der.right : new Uint8Array())
    const digest = new Uint8Array(await globalThis.crypto.subtle.digest("SHA-256", bytes))
    return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("")
  })
}

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Certificates, never, LxdClient> = Layer.effect(Certificates, make)

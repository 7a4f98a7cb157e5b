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
import { parseFailure } from "./internal/client.js"
import * as Collection from "./internal/collection.js"
import { toOperation } from "./internal/operation.js"
import * as Path from "./internal/path.js"
import { LxdClient } from "./LxdClient.js"
import { InvalidArgument, type LxdError } from "./LxdError.js"
import * as LxdResource from "./LxdResource.js"
import { NullableArray, OpenEnum } from "./LxdSchema.js"

/**
 * The writable part of a trusted certificate (`PUT /1.0/certificates/{fingerprint}`). `certificate` is PEM; a
 * new one replaces the certificate itself (and so its fingerprint).
 *
 * @since 0.1.0
 * @category schemas
 */
export const CertificatePut = Schema.Struct({
  name: Schema.optionalWith(Schema.String, { default: () => "" }),
  type: OpenEnum("client", "metrics", "server"),
  restricted: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  projects: NullableArray(Schema.String),
  certificate: Schema.optionalWith(Schema.String, { default: () => "" }),
  description: Schema.optional(Schema.String)
}).annotations({ identifier: "CertificatePut" })

/**
 * @since 0.1.0
 * @category models
 */
export interface CertificatePut extends Schema.Schema.Encoded<typeof CertificatePut> {}

/**
 * A trusted certificate. `certificate` is PEM.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Certificate = Schema.Struct({ ...CertificatePut.fields, fingerprint: Schema.String }).annotations({
  identifier: "Certificate"
})

/**
 * @since 0.1.0
 * @category models
 */
export interface Certificate extends Schema.Schema.Type<typeof Certificate> {}

/**
 * A certificate to trust (`POST /1.0/certificates`): `certificate` is PEM (sent as LXD wants it, base64 DER);
 * `type` defaults to `client`; `restricted` + `projects` limit it (extension `certificate_project`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const CertificatesPost = Schema.Struct({
  ...CertificatePut.fields,
  type: Schema.optionalWith(OpenEnum("client", "metrics", "server"), { default: () => "client" }),
  certificate: Schema.String
}).annotations({ identifier: "CertificatesPost" })

/**
 * @since 0.1.0
 * @category models
 */
export interface CertificatesPost extends Schema.Schema.Encoded<typeof CertificatesPost> {}

/**
 * The trusted certificates, by fingerprint. Create is the collection's own (PEM in, the fingerprint out);
 * there is no rename.
 *
 * @since 0.2.0
 * @category descriptors
 */
export const spec = LxdResource.spec({
  name: "Certificates",
  path: "/certificates",
  kind: "certificate fingerprint",
  item: Certificate,
  post: CertificatesPost,
  put: CertificatePut,
  verbs: [...LxdResource.readVerbs, "create", "replace", "update", "modify", "delete"],
  nameField: "fingerprint",
  lifecycle: "certificate"
})

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
  export interface Service extends
    Pick<
      LxdResource.Collection<[], Certificate, CertificatesPost, CertificatePut>,
      LxdResource.ReadVerb | "replace" | "update" | "modify" | "delete"
    >
  {
    /**
     * Trusts a certificate (`POST /1.0/certificates`, trusted callers). Returns its fingerprint.
     * Errors: `InvalidArgument` (not a PEM certificate), `Conflict`/`BadRequest` (already trusted), `Forbidden`.
     */
    readonly create: (certificate: CertificatesPost) => Effect.Effect<string, LxdError>
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
     * (`POST /1.0/certificates {type: "client", password}` over HTTPS). With `certificate` (PEM), that
     * certificate is the one trusted instead, as pylxd's `Certificate.create(client, password, cert_data)` does
     * (this connection stays untrusted unless it is its own). Errors: `InvalidArgument` (not a PEM certificate, nothing sent),
     * `Forbidden` (wrong password or token), `BadRequest` ("No client certificate provided").
     */
    readonly authenticate: (
      secret: { readonly password: string } | { readonly token: string },
      options?: { readonly name?: string | undefined; readonly certificate?: string | undefined }
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
  // base64 in whole quads (what LXD decodes; it checks the DER itself)
  if (body.length === 0 || body.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(body)) {
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

/**
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Certificates.Service, never, LxdClient> = Effect.gen(function*() {
  const client = yield* LxdClient
  return Certificates.of({
    ...Collection.make(client, spec),
    create: (post) =>
      pemToBase64Der(post.certificate).pipe(
        Effect.flatMap((certificate) =>
          // the one write path: an answer as an operation is waited on (and cancelled when interrupted)
          client.write({
            method: "POST",
            path: "/certificates",
            body: {
              ...post,
              type: post.type ?? "client",
              certificate
            }
          }).pipe(
            // the fingerprint of what was sent (the DER `pemToBase64Der` read), when LXD gives no Location
            Effect.flatMap((r) => fingerprintOf(certificate, r.location))
          )
        ),
        Effect.withSpan("Certificates.create")
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
        // an async answer without `metadata` is followed through its operation URL
        const op = response.metadata === null && response.operation !== undefined
          ? (yield* client.attach(response.operation)).initial
          : yield* toOperation("POST", "/1.0/certificates", response.metadata)
        const meta = yield* Schema.decodeUnknown(TokenMetadata)(op.metadata).pipe(
          Effect.mapError((cause) =>
            parseFailure({ method: "POST", path: "/certificates" }, "token operation metadata", cause)
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
      Effect.gen(function*() {
        const certificate = options?.certificate === undefined
          ? undefined
          : yield* pemToBase64Der(options.certificate)
        yield* client.request({
          method: "POST",
          path: "/certificates",
          body: {
            type: "client",
            password: "password" in secret ? secret.password : secret.token,
            ...(options?.name === undefined ? {} : { name: options.name }),
            ...(certificate === undefined ? {} : { certificate })
          }
        })
        // the certificate given may be this connection's own: read the server's view again either way
        yield* client.refreshServer
      }).pipe(Effect.withSpan("Certificates.authenticate"))
  })
})

/** The fingerprint from `Location`, or SHA-256 of the DER (Web Crypto, so the core stays platform-agnostic). */
const fingerprintOf = (base64Der: string, location: string | undefined): Effect.Effect<string, LxdError> => {
  if (location !== undefined && location.length > 0) {
    return Path.nameFromUrl({ method: "POST", path: "/certificates" }, location)
  }
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

/**
 * Trusted certificates in the fake: the generated routes of `Certificates.spec` plus what is a certificate's
 * own, as LXD 5.0.2 has it (`lxd/certificates.go`): one store for all projects; `POST` takes base64 DER and names
 * the certificate by its SHA-256 fingerprint (`Location`), 400 `Certificate already in trust store` for one it
 * has, 400 `Can't use TLS data on non-TLS link` without a certificate (the fake is a unix socket); `GET` answers
 * PEM; a `PUT` with a new certificate replaces it, and so its fingerprint; a trust-token request (`token: true`)
 * is a `token` operation that runs until it is cancelled. Trust passwords need TLS: the fake does not implement
 * them.
 *
 * @internal
 */
import * as Certificates from "@effect-lxd/core/Certificates"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import * as M from "../LxdMockTransport.js"
import { fakeCollection, putEntry, removeEntry } from "./fakeCollection.js"
import { type FakeEntry, type FakeState, sha256, startOperation, uuid } from "./fakeCore.js"
import { body, type Route } from "./fakeHttp.js"

/** The DER of a base64 body or a PEM certificate; `undefined` when it is not a certificate (x509's SEQUENCE). */
const derOf = (certificate: string): Uint8Array | undefined => {
  const b64 = certificate.replace(/-----(BEGIN|END) CERTIFICATE-----/g, "").replace(/\s+/g, "")
  const der = Encoding.decodeBase64(b64)
  return Either.isRight(der) && der.right.length > 0 && der.right[0] === 0x30 ? der.right : undefined
}

const pemOf = (certificate: string): string =>
  certificate.includes("-----BEGIN CERTIFICATE-----")
    ? certificate.trim()
    : `-----BEGIN CERTIFICATE-----\n${
      certificate.replace(/\s+/g, "").replace(/.{1,64}/g, "$&\n")
    }-----END CERTIFICATE-----`

const fingerprintOf = (certificate: string) => sha256(derOf(certificate) ?? new Uint8Array())

const token = (state: FakeState, request: Record<string, unknown>) =>
  startOperation(
    state,
    "default",
    {
      description: "Certificate add token",
      class: "token",
      mayCancel: true,
      resources: {},
      metadata: { request, secret: sha256(new TextEncoder().encode(uuid(state))), fingerprint: "", addresses: [] }
    },
    Effect.never
  )

/** @internal */
export const certificateRoutes = (state: FakeState): Array<Route> =>
  fakeCollection(state, Certificates.spec, {
    label: "Certificate",
    global: true,
    ownCreate: (t) => {
      const b = body(t.request)
      if (b.token === true) return token(state, b)
      if (typeof b.password === "string") {
        return Effect.dieMessage("LxdFakeServer does not implement trust passwords (they need a TLS client)")
      }
      if (typeof b.certificate !== "string" || b.certificate === "") {
        return Effect.succeed(M.error(400, "Can't use TLS data on non-TLS link"))
      }
      return derOf(b.certificate) === undefined
        ? Effect.succeed(M.error(400, "invalid certificate material: x509: malformed certificate"))
        : undefined
    },
    newName: (t) => fingerprintOf(String(body(t.request).certificate)),
    duplicate: () => M.error(400, "Certificate already in trust store"),
    computed: (_, entry) => ({ certificate: pemOf(String(entry.value.certificate ?? "")) }),
    // an empty certificate keeps the current one
    revise: (_, entry, next) => next.certificate === "" ? { ...next, certificate: entry.value.certificate } : next,
    vetoWrite: (_, __, next) =>
      derOf(String(next.certificate)) === undefined
        ? M.error(400, "Invalid certificate material: x509: malformed certificate")
        : undefined,
    after: {
      updated: (entry: FakeEntry) =>
        Effect.sync(() => {
          const fingerprint = fingerprintOf(String(entry.value.certificate))
          if (fingerprint === entry.name) return
          removeEntry(state, Certificates.spec, entry)
          entry.name = fingerprint
          entry.value = { ...entry.value, fingerprint }
          putEntry(state, Certificates.spec, entry)
        })
    }
  })

/**
 * TLS options for HTTPS and websockets: client certificate, pinned server certificate, TLS 1.3.
 *
 * @internal
 */
import * as Crypto from "node:crypto"
import type * as Tls from "node:tls"

/** @internal */
export class PinError extends Error {
  readonly code = "ERR_LXD_CERTIFICATE_PIN"
  constructor(message: string, override readonly cause?: unknown) {
    super(message)
  }
}

/** SHA-256 fingerprint of a PEM certificate, as `AB:CD:…` (Node's `fingerprint256` form). @internal */
export const fingerprint256 = (pem: string): string => new Crypto.X509Certificate(pem).fingerprint256

const verificationCodes = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_GET_ISSUER_CERT",
  "CERT_SIGNATURE_FAILURE",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "ERR_LXD_CERTIFICATE_PIN"
])

/** @internal */
export interface TlsSettings {
  readonly cert?: string | undefined
  readonly key?: string | undefined
  /** PEM of the server certificate to pin. */
  readonly serverCertificate?: string | undefined
  readonly insecureSkipVerify?: boolean | undefined
}

/**
 * Node TLS options. With a pinned certificate, the chain is verified against that certificate alone and its
 * SHA-256 fingerprint must match; the host name is not checked (LXD certificates rarely name the dialled host).
 *
 * @internal
 */
export const tlsOptions = (settings: TlsSettings): Tls.ConnectionOptions => {
  const options: Tls.ConnectionOptions = { minVersion: "TLSv1.3", ALPNProtocols: ["http/1.1"] }
  if (settings.cert !== undefined) options.cert = settings.cert
  if (settings.key !== undefined) options.key = settings.key
  if (settings.insecureSkipVerify === true) {
    options.rejectUnauthorized = false
    return options
  }
  if (settings.serverCertificate !== undefined) {
    const pinned = fingerprint256(settings.serverCertificate)
    options.ca = settings.serverCertificate
    options.checkServerIdentity = (_host, cert) =>
      cert.fingerprint256 === pinned ? undefined : new PinError(
        `server certificate ${cert.fingerprint256} does not match the pinned certificate ${pinned}`
      )
  }
  return options
}

/**
 * Rewrites certificate verification failures as pin failures when a certificate is pinned, so the message says
 * what happened.
 *
 * @internal
 */
export const explainTlsError = (settings: TlsSettings) => (error: unknown): unknown => {
  if (settings.serverCertificate === undefined || settings.insecureSkipVerify === true) return error
  let current: unknown = error
  const seen = new Set<unknown>()
  while (typeof current === "object" && current !== null && !seen.has(current)) {
    seen.add(current)
    const code = (current as { code?: unknown }).code
    if (typeof code === "string" && verificationCodes.has(code)) {
      if (current instanceof PinError) return current
      const message = (current as { message?: unknown }).message
      return new PinError(
        `server certificate does not match the pinned certificate (${typeof message === "string" ? message : code})`,
        current
      )
    }
    current = (current as { cause?: unknown }).cause
  }
  return error
}

/**
 * TLS options for HTTPS and websockets: client certificate, pinned server certificate, TLS 1.3.
 *
 * @internal
 */
import { InvalidArgument } from "@effect-lxd/core/LxdError"
import * as Crypto from "node:crypto"
import * as Tls from "node:tls"

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

/** What an error says, without the input (a key never reaches an error). */
const why = (error: unknown) => error instanceof Error ? error.message : String(error)

/** A certificate as an error shows it: its first line and its size, never more. */
const preview = (pem: unknown): string => {
  if (typeof pem !== "string") return typeof pem
  const first = pem.trimStart().split("\n", 1)[0]!.slice(0, 40)
  return `${first}${pem.length > first.length ? "…" : ""} (${pem.length} characters)`
}

/**
 * Checks the PEM inputs before anything connects: the pinned server certificate must parse as an X.509
 * certificate, the client certificate too, and the key must be a private key that goes with it (as Node's TLS
 * reads them). The error names the option; a key's text is never in it.
 *
 * @internal
 */
export const checkSettings = (settings: TlsSettings): InvalidArgument | undefined => {
  const invalid = (argument: string, value: unknown, error: unknown) =>
    new InvalidArgument({
      argument,
      value,
      reason: `is not a PEM ${argument === "clientKey" ? "private key" : "certificate"}: ${why(error)}`
    })
  if (settings.serverCertificate !== undefined && settings.insecureSkipVerify !== true) {
    try {
      new Crypto.X509Certificate(settings.serverCertificate)
    } catch (error) {
      return invalid("serverCertificate", preview(settings.serverCertificate), error)
    }
  }
  if (settings.cert !== undefined) {
    try {
      new Crypto.X509Certificate(settings.cert)
    } catch (error) {
      return invalid("clientCertificate", preview(settings.cert), error)
    }
  }
  if (settings.key !== undefined) {
    try {
      Crypto.createPrivateKey(settings.key)
    } catch (error) {
      return invalid("clientKey", "<redacted>", error)
    }
    if (settings.cert !== undefined) {
      try {
        Tls.createSecureContext({ cert: settings.cert, key: settings.key })
      } catch (error) {
        return new InvalidArgument({
          argument: "clientKey",
          value: "<redacted>",
          reason: `does not go with clientCertificate: ${why(error)}`
        })
      }
    }
  }
  return undefined
}

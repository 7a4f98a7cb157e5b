import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

export interface KeyPair {
  readonly cert: string
  readonly key: string
}

/**
 * A fresh self-signed EC client certificate, as `lxc` makes them (openssl, secp384r1); with `subjectAltName`
 * (`IP:127.0.0.1`), one a TLS server can present.
 */
export const makeCertificate = (
  cn = "effect-lxd-test",
  options: { readonly subjectAltName?: string } = {}
): KeyPair => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-lxd-cert-"))
  try {
    execFileSync("openssl", [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:secp384r1",
      "-nodes",
      "-keyout",
      path.join(dir, "c.key"),
      "-out",
      path.join(dir, "c.crt"),
      "-days",
      "2",
      "-subj",
      `/CN=${cn}`,
      ...(options.subjectAltName === undefined ? [] : ["-addext", `subjectAltName=${options.subjectAltName}`])
    ], { stdio: "ignore" })
    return {
      cert: fs.readFileSync(path.join(dir, "c.crt"), "utf8"),
      key: fs.readFileSync(path.join(dir, "c.key"), "utf8")
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * lxc's client configuration, read and written the way `lxc` does: `config.yml` (remotes, `default-remote`), the
 * client certificate pair `client.crt`/`client.key` beside it, and pinned server certificates in
 * `servercerts/<remote>.crt`. The folder is `$LXD_CONF`, else the snap's `~/snap/lxd/common/config` when it
 * exists, else `~/.config/lxc`. YAML is parsed and written with the `yaml` package (comments and key order of an
 * existing file are kept), the client certificate is made with Node's crypto and `@peculiar/asn1-x509` (EC P-384,
 * self-signed, as `lxc` makes it).
 *
 * Connect with {@link NodeLxdTransport.layerRemote}; add a remote as `lxc remote add` does with
 * {@link LxcRemotes.add}.
 *
 * @since 0.2.0
 */
import { TypeId } from "@effect-lxd/core/LxdError"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Lazy from "./internal/lazy.js"

/**
 * lxc's configuration could not be used: a missing or unreadable file, a remote that is not there, or one this
 * client cannot speak to (`simplestreams`, Candid). `path` names the file; `remote` the remote, when one was
 * asked for. Carries the `LxdError` type id (`LxdError.isLxdError` is true).
 *
 * @since 0.2.0
 * @category errors
 */
export class LxcConfigError extends Schema.TaggedError<LxcConfigError>("@effect-lxd/node/LxcConfigError")(
  "LxcConfigError",
  {
    path: Schema.String,
    reason: Schema.String,
    remote: Schema.optional(Schema.String),
    cause: Schema.optional(Schema.Unknown)
  }
) {
  /**
   * @since 0.2.0
   */
  readonly [TypeId]: TypeId = TypeId
  override get message() {
    return `${this.remote === undefined ? "" : `remote "${this.remote}": `}${this.reason} (${this.path})`
  }
}

/**
 * One remote of `config.yml`, as lxc writes it: `addr` (`unix://`, `unix:///path`, `https://host:port`),
 * `protocol` (`lxd` when left out, or `simplestreams`), `public`, and the optional `project` and `auth_type`.
 *
 * @since 0.2.0
 * @category schemas
 */
export const Remote = Schema.Struct({
  addr: Schema.String,
  protocol: Schema.optionalWith(Schema.String, { default: () => "lxd" }),
  public: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  project: Schema.optional(Schema.String),
  auth_type: Schema.optional(Schema.String)
}).annotations({ identifier: "Remote" })

/**
 * @since 0.2.0
 * @category models
 */
export interface Remote extends Schema.Schema.Type<typeof Remote> {}

/**
 * `config.yml` as lxc reads it (`default-remote`, `remotes`); unknown keys (`aliases`) are ignored when read and
 * kept when written.
 *
 * @since 0.2.0
 * @category schemas
 */
export const ConfigFile = Schema.Struct({
  "default-remote": Schema.optionalWith(Schema.String, { nullable: true, default: () => "local" }),
  remotes: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Remote }), {
    nullable: true,
    default: () => ({})
  })
}).annotations({ identifier: "ConfigFile" })

/**
 * lxc's configuration as read: its folder `dir`, the `path` of `config.yml`, whether that file `exists` (lxc
 * uses its defaults when it does not), `defaultRemote` and `remotes` (with lxc's static `local` remote).
 *
 * @since 0.2.0
 * @category models
 */
export interface LxcConfig {
  readonly dir: string
  readonly path: string
  readonly exists: boolean
  readonly defaultRemote: string
  readonly remotes: Readonly<Record<string, Remote>>
}

/**
 * A remote resolved to what a transport needs: the unix socket (`socketPath` `undefined`: LXD's discovery order,
 * `NodeLxdTransport.resolveSocketPath`), or HTTPS with the client pair and the pinned server certificate (when
 * `servercerts/<remote>.crt` exists; else the system trust store verifies the server).
 *
 * @since 0.2.0
 * @category models
 */
export type Connection =
  | {
    readonly _tag: "Unix"
    readonly remote: string
    readonly socketPath: string | undefined
    readonly project: string | undefined
  }
  | {
    readonly _tag: "Https"
    readonly remote: string
    readonly url: string
    readonly clientCertificate: string | undefined
    readonly clientKey: Redacted.Redacted<string> | undefined
    readonly serverCertificate: string | undefined
    readonly project: string | undefined
  }

/**
 * A PEM client certificate and its key.
 *
 * @since 0.2.0
 * @category models
 */
export interface KeyPair {
  readonly certificate: string
  readonly key: Redacted.Redacted<string>
}

/** lxc's defaults when `config.yml` does not exist (`lxc/config/default.go` of 5.0). */
const defaultRemotes: Readonly<Record<string, Remote>> = {
  images: { addr: "https://images.linuxcontainers.org", protocol: "simplestreams", public: true },
  local: { addr: "unix://", protocol: "lxd", public: false }
}

/**
 * The folder of lxc's configuration, as `lxc` (and the snap's wrapper, and pylxd) find it: `$LXD_CONF`, else
 * `~/snap/lxd/common/config` when it exists, else `~/.config/lxc`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const configDir = (
  env: Readonly<Record<string, string | undefined>> = process.env,
  exists: (path: string) => boolean = Fs.existsSync
): string => {
  if (env.LXD_CONF) return env.LXD_CONF
  const home = env.HOME || Os.homedir()
  const snap = Path.join(home, "snap", "lxd", "common", "config")
  if (exists(snap)) return snap
  return Path.join(home, ".config", "lxc")
}

/**
 * Why `name` cannot be a remote's name, or `undefined`: it must be one path segment (`servercerts/<remote>.crt`
 * is built from it).
 *
 * @internal
 */
export const invalidName = (name: string): string | undefined =>
  name.length === 0
    ? "is empty"
    : /[/\\:\0]/.test(name) || name === "." || name === ".."
    ? "must not contain '/', '\\\\', ':' or be '.' or '..'"
    : undefined

const readText = (path: string, remote?: string) =>
  Effect.try({
    try: () => Fs.readFileSync(path, "utf8"),
    catch: (cause) =>
      new LxcConfigError({
        path,
        reason: (cause as { code?: unknown }).code === "ENOENT" ? "file not found" : "file could not be read",
        remote,
        cause
      })
  })

const readIfExists = (path: string, remote?: string) =>
  Effect.suspend(() =>
    Fs.existsSync(path) ? Effect.map(readText(path, remote), Option.some) : Effect.succeed(Option.none<string>())
  )

const decodeConfig = Schema.decodeUnknown(ConfigFile)

/**
 * Reads `config.yml` from `dir` ({@link configDir} by default). A missing file gives lxc's defaults (`local`,
 * `images`); an unreadable or malformed one fails with {@link LxcConfigError}. `local` is always the unix
 * socket, as in lxc (only its `project` is taken from the file).
 *
 * @since 0.2.0
 * @category constructors
 */
export const read = (dir?: string): Effect.Effect<LxcConfig, LxcConfigError> =>
  Effect.gen(function*() {
    const folder = dir ?? configDir()
    const path = Path.join(folder, "config.yml")
    const text = yield* readIfExists(path)
    if (Option.isNone(text)) {
      return { dir: folder, path, exists: false, defaultRemote: "local", remotes: defaultRemotes }
    }
    const parsed = yield* Effect.try({
      try: () => Lazy.yaml().parse(text.value) as unknown,
      catch: (cause) => new LxcConfigError({ path, reason: "not valid YAML", cause })
    })
    const file = yield* decodeConfig(parsed ?? {}).pipe(
      Effect.mapError((cause) =>
        new LxcConfigError({ path, reason: `not an lxc config.yml: ${cause.message.split("\n")[0]}`, cause })
      )
    )
    const local = file.remotes["local"]
    const remotes = {
      ...file.remotes,
      local: { ...defaultRemotes["local"]!, ...(local?.project === undefined ? {} : { project: local.project }) }
    }
    return { dir: folder, path, exists: true, defaultRemote: file["default-remote"], remotes }
  })

/** `client.crt` and `client.key` of lxc's folder. */
const clientPaths = (dir: string) => ({
  certificate: Path.join(dir, "client.crt"),
  key: Path.join(dir, "client.key")
})

/** `servercerts/<remote>.crt` of lxc's folder. */
const serverCertificatePath = (dir: string, remote: string): string => Path.join(dir, "servercerts", `${remote}.crt`)

/**
 * Resolves a remote of lxc's configuration (`name`, else `default-remote`) to a {@link Connection}: `local`
 * (`unix://`) is the unix socket, `unix:///path` that socket, an `https://` remote uses `client.crt` and
 * `client.key` from the same folder (the key as `Redacted`) and pins `servercerts/<remote>.crt` when it exists.
 * Fails with {@link LxcConfigError} naming the file for a remote that is not there, a `simplestreams` remote, a
 * Candid remote, or a missing client certificate of a non-public HTTPS remote.
 *
 * @since 0.2.0
 * @category constructors
 */
export const resolve = (
  name?: string | undefined,
  options: { readonly dir?: string | undefined } = {}
): Effect.Effect<Connection, LxcConfigError> =>
  Effect.gen(function*() {
    const config = yield* read(options.dir)
    const remoteName = name ?? config.defaultRemote
    const invalid = invalidName(remoteName)
    if (invalid !== undefined) {
      return yield* new LxcConfigError({ path: config.path, remote: remoteName, reason: `invalid name: ${invalid}` })
    }
    const remote = config.remotes[remoteName]
    if (remote === undefined) {
      return yield* new LxcConfigError({
        path: config.path,
        remote: remoteName,
        reason: config.exists
          ? `no such remote (there are: ${Object.keys(config.remotes).sort().join(", ")})`
          : "no such remote (the file does not exist: lxc's defaults have only local and images)"
      })
    }
    if (remote.protocol !== "lxd") {
      return yield* new LxcConfigError({
        path: config.path,
        remote: remoteName,
        reason: `protocol "${remote.protocol}" is an image server, not the LXD API`
      })
    }
    if (remote.auth_type !== undefined && remote.auth_type !== "tls") {
      return yield* new LxcConfigError({
        path: config.path,
        remote: remoteName,
        reason: `auth_type "${remote.auth_type}" is not supported (only tls)`
      })
    }
    if (remote.addr.startsWith("unix:")) {
      const socket = remote.addr.replace(/^unix:(\/\/)?/, "")
      return {
        _tag: "Unix",
        remote: remoteName,
        socketPath: socket === "" ? undefined : socket,
        project: remote.project
      }
    }
    if (!remote.addr.startsWith("https://")) {
      return yield* new LxcConfigError({
        path: config.path,
        remote: remoteName,
        reason: `address "${remote.addr}" is neither unix:// nor https://`
      })
    }
    const paths = clientPaths(config.dir)
    const pair = yield* readPair(config.dir, remoteName)
    if (Option.isNone(pair) && !remote.public) {
      return yield* new LxcConfigError({
        path: paths.certificate,
        remote: remoteName,
        reason: "lxc's client certificate is missing (lxc remote add makes it)"
      })
    }
    const server = yield* readIfExists(serverCertificatePath(config.dir, remoteName), remoteName)
    return {
      _tag: "Https",
      remote: remoteName,
      url: remote.addr,
      clientCertificate: Option.getOrUndefined(Option.map(pair, (p) => p.certificate)),
      clientKey: Option.getOrUndefined(Option.map(pair, (p) => p.key)),
      serverCertificate: Option.getOrUndefined(server),
      project: remote.project
    } satisfies Connection
  })

/** The client pair when both files exist; a half pair or an unreadable file is an error. */
const readPair = (dir: string, remote?: string): Effect.Effect<Option.Option<KeyPair>, LxcConfigError> =>
  Effect.gen(function*() {
    const paths = clientPaths(dir)
    const certificate = yield* readIfExists(paths.certificate, remote)
    const key = yield* readIfExists(paths.key, remote)
    if (Option.isNone(certificate) && Option.isNone(key)) return Option.none()
    if (Option.isNone(certificate) || Option.isNone(key)) {
      return yield* new LxcConfigError({
        path: Option.isNone(key) ? paths.key : paths.certificate,
        remote,
        reason: "file not found (lxc's client certificate and key go together)"
      })
    }
    return Option.some({ certificate: certificate.value, key: Redacted.make(key.value) })
  })

/**
 * lxc's client certificate pair (`client.crt`, `client.key` in `dir`, {@link configDir} by default), when both
 * exist. pylxd's default `cert`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const clientCertificate = (dir?: string): Effect.Effect<Option.Option<KeyPair>, LxcConfigError> =>
  Effect.suspend(() => readPair(dir ?? configDir()))

/**
 * Defaults for an HTTPS connection to `url` that were not given, as pylxd picks them: lxc's client pair, and the
 * server certificate `servercerts/<remote>.crt` of the remote in `config.yml` with that address, else
 * `servercerts/<host>.crt`. Synchronous and best-effort (what cannot be read is left out). Used by
 * `NodeLxdTransport.layerHttps`.
 *
 * @internal
 */
export const httpsDefaults = (
  url: URL,
  dir: string = configDir()
): {
  readonly clientCertificate?: string
  readonly clientKey?: Redacted.Redacted<string>
  readonly serverCertificate?: string
} => {
  const tryRead = (path: string): string | undefined => {
    try {
      return Fs.readFileSync(path, "utf8")
    } catch {
      return undefined
    }
  }
  const paths = clientPaths(dir)
  const certificate = tryRead(paths.certificate)
  const key = certificate === undefined ? undefined : tryRead(paths.key)
  const named = Effect.runSync(
    Effect.option(read(dir)).pipe(
      Effect.map(Option.flatMap((config) =>
        Option.fromNullable(
          Object.entries(config.remotes).find(([, r]) => sameOrigin(r.addr, url.origin))?.[0]
        )
      ))
    )
  )
  const candidates = [...Option.toArray(named), url.hostname].filter((n) => invalidName(n) === undefined)
  const server = candidates.map((n) => tryRead(serverCertificatePath(dir, n))).find((pem) => pem !== undefined)
  return {
    ...(certificate === undefined || key === undefined
      ? {}
      : { clientCertificate: certificate, clientKey: Redacted.make(key) }),
    ...(server === undefined ? {} : { serverCertificate: server })
  }
}

const sameOrigin = (addr: string, origin: string) => {
  try {
    return new URL(addr).origin === origin
  } catch {
    return false
  }
}

/** An X.509 extension holding `value` (DER). */
const extension = (extnID: string, critical: boolean, value: unknown) => {
  const { AsnConvert, OctetString } = Lazy.asn1Schema()
  const X509 = Lazy.asn1X509()
  return new X509.Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) })
}

const attribute = (type: string, value: string) => {
  const X509 = Lazy.asn1X509()
  return new X509.RelativeDistinguishedName([
    new X509.AttributeTypeAndValue({ type, value: new X509.AttributeValue({ utf8String: value }) })
  ])
}

/**
 * A fresh client certificate as `lxc` makes one (`shared.GenerateMemCert`): EC P-384 key (PEM `EC PRIVATE
 * KEY`), self-signed with ECDSA SHA-384, `O=linuxcontainers.org, CN=<user>@<host>`, ten years, key usage
 * digital signature and key encipherment (critical), extended key usage TLS client, not a CA (critical). The
 * key comes from Node's crypto, the certificate's DER from `@peculiar/asn1-x509`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const generateClientCertificate = (
  options: { readonly commonName?: string | undefined } = {}
): Effect.Effect<KeyPair> =>
  Effect.sync(() => {
    const X509 = Lazy.asn1X509()
    const { AsnConvert } = Lazy.asn1Schema()
    const { privateKey, publicKey } = Crypto.generateKeyPairSync("ec", { namedCurve: "secp384r1" })
    const ecdsaWithSha384 = new X509.AlgorithmIdentifier({ algorithm: "1.2.840.10045.4.3.3" })
    const name = new X509.Name([
      attribute("2.5.4.10", "linuxcontainers.org"),
      attribute("2.5.4.3", options.commonName ?? `${Os.userInfo().username}@${Os.hostname()}`)
    ])
    const notBefore = new Date()
    const notAfter = new Date(notBefore)
    notAfter.setUTCFullYear(notAfter.getUTCFullYear() + 10)
    const serial = Crypto.randomBytes(16)
    serial[0] = (serial[0]! & 0x7f) | 0x01
    const tbs = new X509.TBSCertificate({
      version: X509.Version.v3,
      serialNumber: Uint8Array.from(serial).buffer,
      signature: ecdsaWithSha384,
      issuer: name,
      subject: name,
      validity: new X509.Validity({ notBefore, notAfter }),
      subjectPublicKeyInfo: AsnConvert.parse(
        publicKey.export({ type: "spki", format: "der" }),
        X509.SubjectPublicKeyInfo
      ),
      extensions: new X509.Extensions([
        extension(
          X509.id_ce_keyUsage,
          true,
          new X509.KeyUsage(X509.KeyUsageFlags.digitalSignature | X509.KeyUsageFlags.keyEncipherment)
        ),
        extension(X509.id_ce_extKeyUsage, false, new X509.ExtendedKeyUsage([X509.id_kp_clientAuth])),
        extension(X509.id_ce_basicConstraints, true, new X509.BasicConstraints({ cA: false }))
      ])
    })
    // ECDSA-Sig-Value in DER, as X.509 wants it (Node's default dsaEncoding)
    const signature = Crypto.sign("sha384", new Uint8Array(AsnConvert.serialize(tbs)), privateKey)
    const der = AsnConvert.serialize(
      new X509.Certificate({
        tbsCertificate: tbs,
        signatureAlgorithm: ecdsaWithSha384,
        signatureValue: Uint8Array.from(signature).buffer
      })
    )
    const body = Buffer.from(der).toString("base64").replace(/.{64}/g, "$&\n").replace(/\n$/, "")
    return {
      certificate: `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`,
      key: Redacted.make(privateKey.export({ type: "sec1", format: "pem" }) as string)
    }
  })

/** The text of `config.yml` with `remote` set, keeping the file's other keys, comments and order. */
const withRemote = (text: string | undefined, name: string, remote: Remote): string => {
  const Yaml = Lazy.yaml()
  const doc = text === undefined
    ? new Yaml.Document({
      "default-remote": "local",
      remotes: { images: { ...defaultRemotes["images"]! }, local: { addr: "unix://", public: false } },
      aliases: {}
    })
    : Yaml.parseDocument(text)
  const entry: Record<string, unknown> = { addr: remote.addr }
  if (remote.project !== undefined) entry.project = remote.project
  entry.protocol = remote.protocol
  entry.public = remote.public
  if (remote.auth_type !== undefined) entry.auth_type = remote.auth_type
  doc.setIn(["remotes", name], doc.createNode(entry))
  return doc.toString()
}

const writeFile = (path: string, text: string, mode: number) =>
  Effect.try({
    try: () => {
      // write beside, then rename: a reader (lxc) never sees half a file
      const temporary = `${path}.${process.pid}.tmp`
      Fs.writeFileSync(temporary, text, { mode })
      Fs.renameSync(temporary, path)
    },
    catch: (cause) => new LxcConfigError({ path, reason: "file could not be written", cause })
  })

const makeDir = (path: string, mode: number) =>
  Effect.try({
    try: () => void Fs.mkdirSync(path, { recursive: true, mode }),
    catch: (cause) => new LxcConfigError({ path, reason: "folder could not be created", cause })
  })

/**
 * Writes what `lxc remote add` writes for remote `name` in `dir`: `servercerts/<name>.crt` (when given), the
 * client pair (when given: only when none exists yet, it never replaces one) and the remote in `config.yml`
 * (created with lxc's defaults when missing), with lxc's modes (folder 0700, key 0600, `servercerts` 0750).
 * Used by {@link LxcRemotes.add}.
 *
 * @since 0.2.0
 * @category constructors
 */
export const writeRemote = (options: {
  readonly dir?: string | undefined
  readonly name: string
  readonly remote: Remote
  readonly serverCertificate?: string | undefined
  readonly clientCertificate?: KeyPair | undefined
}): Effect.Effect<void, LxcConfigError> =>
  Effect.gen(function*() {
    const dir = options.dir ?? configDir()
    const path = Path.join(dir, "config.yml")
    const invalid = invalidName(options.name)
    if (invalid !== undefined) {
      return yield* new LxcConfigError({ path, remote: options.name, reason: `invalid name: ${invalid}` })
    }
    yield* makeDir(dir, 0o700)
    if (options.clientCertificate !== undefined) {
      const paths = clientPaths(dir)
      if (!Fs.existsSync(paths.certificate) && !Fs.existsSync(paths.key)) {
        yield* writeFile(paths.key, Redacted.value(options.clientCertificate.key), 0o600)
        yield* writeFile(paths.certificate, options.clientCertificate.certificate, 0o644)
      }
    }
    if (options.serverCertificate !== undefined) {
      yield* makeDir(Path.join(dir, "servercerts"), 0o750)
      yield* writeFile(serverCertificatePath(dir, options.name), options.serverCertificate, 0o644)
    }
    const text = yield* readIfExists(path)
    yield* writeFile(path, withRemote(Option.getOrUndefined(text), options.name, options.remote), 0o644)
  })

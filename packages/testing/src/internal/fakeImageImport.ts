/**
 * Images arriving in the fake from elsewhere, as LXD 5.0.2 brings them (`lxd/images.go`, `lxd/daemon_images.go`),
 * with the errors it gives:
 *
 * - image secrets: `POST /1.0/images/{fp}/secret` is an `Image download token` operation (class `token`, the
 *   image in its resources, a 64-hex `secret`). A request naming the secret (`?secret=`, or `X-LXD-secret` on an
 *   upload) cancels the token, as LXD does on first use, yet the secret stays good while the cancelled token is
 *   still listed (LXD looks up tokens whatever their status): about 5 s;
 * - trust: what one fake asks of another through `remotes` is marked as coming from another server, untrusted
 *   (the lab's two daemons do not trust each other): it sees public images and their aliases, a private image
 *   only with its secret (`Image "<fp>" not found`), and may upload only with a push secret (403 `not authorized`);
 * - pull (`source.type: "image"`, protocol `lxd`): without a secret the alias is resolved and the image read
 *   (`Failed getting remote image info: …`), with one the image is read with it; an image the project has is kept
 *   (nothing is downloaded, the copy succeeds), one another project has is shared; otherwise the export is
 *   downloaded and checked against the fingerprint. `update_source` is recorded only when the image was named by
 *   an alias (or a fingerprint prefix), as LXD records it;
 * - push (`images_push_relay`): the target's `POST /1.0/images` with `source.mode: "push"` is an image token
 *   carrying the request's aliases, properties and public flag; the source's `POST /1.0/images/{fp}/export`
 *   uploads to the target (`X-LXD-secret`, `X-LXD-fingerprint`) and waits for its operation (`Failed operation
 *   "Failure": "…"`); a target it cannot reach is LXD's 500, a fingerprint prefix LXD 5.0.2's failure to open it;
 * - URL (`source.type: "url"`): `HEAD` through the fake's `fetch`, `LXD-Image-Hash` and `LXD-Image-URL` required
 *   (whatever the status, as LXD), the image fetched (`Unable to fetch "<url>": <status>`), its sha256 checked
 *   (`Hash mismatch for "<url>": <got> != <want>`) and its compression (`Unsupported compression`); the
 *   `metadata.yaml` of a gzip or plain tarball gives the architecture, creation date and properties (the
 *   request's on top), other compressions are not read;
 * - simplestreams (`source.type: "image"`, protocol `simplestreams`), through the same `fetch`:
 *   `streams/v1/index.json`, the products files of its `image-downloads` entries, the newest version of the product
 *   an alias names (or the image a fingerprint prefix names), a unified (`lxd_combined.tar.gz`) or split
 *   (`lxd.tar.xz` with `squashfs` or `root.tar.xz`) image, each file checked against its sha256, the product's
 *   `os`, `release`, `architecture`, `serial`, … as properties.
 *
 * @internal
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Effect from "effect/Effect"
import * as M from "../LxdMockTransport.js"
import {
  cancelOperation,
  type FakeEntry,
  type FakeState,
  type Fetch,
  type Json,
  lifecycle,
  NEVER,
  OpFailure,
  sha256,
  startOperation,
  uuid
} from "./fakeCore.js"
import { fail, isObject, strMap } from "./fakeHttp.js"
import { type Blob, fingerprintOf, imageMetadata, isArchive, splitBody, splitUpload } from "./fakeImageFiles.js"

/** The header marking a request one fake sends another (an untrusted server). */
const PEER = "x-fake-lxd-peer"

/** Whether a request came from another server (untrusted). @internal */
export const fromPeer = (r: M.MockRequest): boolean => r.headers[PEER] !== undefined

/** Aliases as a create names them. @internal */
export type Aliases = ReadonlyArray<{ readonly name: string; readonly description: string }>

/** @internal */
export const aliasesOf = (u: unknown): Aliases =>
  (Array.isArray(u) ? u : []).filter(isObject).map((a) => ({
    name: String(a.name),
    description: typeof a.description === "string" ? a.description : ""
  }))

/** What the import needs of the fake's image store (`fakeImages.ts`). @internal */
export interface ImageStore {
  /** The image of `project` a fingerprint prefix names, if exactly one. */
  readonly find: (project: string, prefix: string) => FakeEntry | undefined
  readonly blob: (project: string, fingerprint: string) => Blob | undefined
  /**
   * Stores a new image and its aliases; `Image with same fingerprint already exists` for one the project has.
   */
  readonly put: (
    project: string,
    blob: Blob,
    fields: Json,
    aliases: Aliases
  ) => Effect.Effect<{ readonly fingerprint: string; readonly size: string }, OpFailure>
  /**
   * An image that is there already: the project's (its `public`, `auto_update`, `properties` set as asked) or
   * another project's (shared into this one); then the aliases. `undefined` when no project has it.
   */
  readonly adopt: (
    project: string,
    fingerprint: string,
    fields: Json,
    aliases: Aliases
  ) => Effect.Effect<{ readonly fingerprint: string; readonly size: string } | undefined, OpFailure>
}

/** What a create asks besides its source: `public`, `auto_update`, `properties`, `aliases`. @internal */
export interface Settings {
  readonly fields: { readonly public: boolean; readonly auto_update: boolean; readonly properties: Json }
  readonly aliases: Aliases
}

/**
 * The work of a download operation: what `source` brings into `project`, as `settings` ask; `update` sets the
 * operation's metadata (`download_progress`).
 *
 * @internal
 */
export type Work = (
  state: FakeState,
  store: ImageStore,
  project: string,
  src: Json,
  settings: Settings,
  update: (metadata: Json) => Effect.Effect<void>
) => Effect.Effect<unknown, OpFailure>

/** LXD's `units.GetByteSizeString(n, 2)`: `512B`, `1.50kB`, `108.89MB`. */
const byteSize = (n: number): string => {
  const units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"]
  let i = 0
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000
    i++
  }
  return i === 0 ? `${Math.round(n)}B` : `${n.toFixed(2)}${units[i]}`
}

/** The progress LXD reports once a download of `bytes` that began at `started` (ms) is in: `100% (<speed>/s)`. */
const downloaded = (update: (metadata: Json) => Effect.Effect<void>, bytes: number, started: number) =>
  update({ download_progress: `100% (${byteSize(bytes / Math.max((Date.now() - started) / 1000, 0.001))}/s)` })

const TOKEN = "Image download token"

/**
 * An image token (`createTokenResponse`): a `token` operation running until used or cancelled, the image in its
 * resources, `metadata` plus a new `secret`.
 *
 * @internal
 */
export const imageToken = (
  state: FakeState,
  project: string,
  fingerprint: string,
  metadata: Json = {}
): Effect.Effect<M.MockResponse> =>
  startOperation(state, project, {
    description: TOKEN,
    class: "token",
    mayCancel: true,
    resources: { images: [`/1.0/images/${fingerprint}`] },
    metadata: { ...metadata, secret: sha256(new TextEncoder().encode(`${uuid(state)} ${Math.random()}`)) }
  }, Effect.never)

/**
 * `imageValidSecret`: the metadata of the image token of `project` for `fingerprint` whose secret this is,
 * cancelled now if it still runs (single use); `undefined` when there is none.
 *
 * @internal
 */
export const validSecret = (
  state: FakeState,
  project: string,
  fingerprint: string,
  secret: string | undefined
): Effect.Effect<Json | undefined> =>
  Effect.suspend(() => {
    if (secret === undefined || secret === "") return Effect.succeed(undefined)
    for (const entry of state.operations.values()) {
      const { op } = entry
      if (entry.project !== project || op.class !== "token" || op.description !== TOKEN) continue
      const images = isObject(op.resources) && Array.isArray(op.resources.images) ? op.resources.images : []
      if (!images.some((u) => String(u).startsWith(`/1.0/images/${fingerprint}`))) continue
      if (isObject(op.metadata) && op.metadata.secret === secret) {
        const metadata = op.metadata
        return Effect.as(cancelOperation(entry), metadata)
      }
    }
    return Effect.succeed(undefined)
  })

/** `host:port` of a URL (the default port of its scheme when it names none). */
const hostOf = (url: string): string => {
  try {
    const u = new URL(url)
    return `${u.hostname}:${u.port === "" ? (u.protocol === "https:" ? "443" : "80") : u.port}`
  } catch {
    return url
  }
}

const causeOf = (e: unknown): string => {
  const cause = e instanceof Error && e.cause instanceof Error ? e.cause : e
  return cause instanceof Error ? cause.message : String(cause)
}

/** Go's `net/http` words for a request that never got an answer. */
const unreachable = (verb: string, url: string, e: unknown) =>
  /^https?:\/\//.test(url)
    ? `${verb} "${url}": Unable to connect to: ${hostOf(url)} ([${causeOf(e)}])`
    : `${verb} "${url}": unsupported protocol scheme "${/^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1] ?? ""}"`

/** Another fake's HTTP client (one of `options.remotes`), its requests marked as from this server. */
const peer = (state: FakeState, server: string): HttpClient.HttpClient | undefined => {
  const remote = state.options.remotes?.[server.replace(/\/+$/, "")]
  return remote === undefined
    ? undefined
    : HttpClient.mapRequest(
      remote.http,
      HttpClientRequest.setHeaders({ [PEER]: state.options.address ?? "fake", "user-agent": "LXD 5.0.2" })
    )
}

const execute = (client: HttpClient.HttpClient, request: HttpClientRequest.HttpClientRequest, url: string) =>
  Effect.mapError(
    client.execute(request),
    (e) => new OpFailure(unreachable(request.method === "GET" ? "Get" : "Post", url, e))
  )

/** The metadata of a sync answer; the error of any other as an `OpFailure`. */
const syncOf = (response: HttpClientResponse.HttpClientResponse): Effect.Effect<Json, OpFailure> =>
  response.json.pipe(
    Effect.orElseSucceed((): unknown => undefined),
    Effect.flatMap((u) =>
      isObject(u) && u.type === "sync" && isObject(u.metadata)
        ? Effect.succeed(u.metadata)
        : Effect.fail(
          new OpFailure(isObject(u) && typeof u.error === "string" ? u.error : `Bad answer (HTTP ${response.status})`)
        )
    )
  )

/** The image an export answer carries: one tarball, or the two parts of a split image. */
const blobOf = (response: HttpClientResponse.HttpClientResponse): Effect.Effect<Blob, OpFailure> =>
  Effect.gen(function*() {
    if (response.status !== 200) {
      const answer = yield* Effect.either(syncOf(response))
      return yield* Effect.fail(
        answer._tag === "Left" ? answer.left : new OpFailure(`Bad answer (HTTP ${response.status})`)
      )
    }
    const bytes = new Uint8Array(yield* Effect.mapError(response.arrayBuffer, (e) => new OpFailure(causeOf(e))))
    const type = response.headers["content-type"] ?? ""
    if (!type.startsWith("multipart/form-data")) return bytes
    const split = yield* splitUpload(type, bytes)
    return split ?? (yield* Effect.fail(new OpFailure("Invalid multipart image")))
  })

/**
 * Pull (`source.type: "image"`, protocol `lxd`) from one of `options.remotes`: the work of the download operation.
 *
 * @internal
 */
export const pull: Work = (state, store, project, src, settings, update) =>
  Effect.gen(function*() {
    const server = String(src.server ?? "")
    const client = peer(state, server)
    if (client === undefined) return yield* Effect.fail(new OpFailure(`Unable to connect to: ${server}`))
    const secret = typeof src.secret === "string" && src.secret !== "" ? src.secret : undefined
    const named = String(src.fingerprint || src.alias || "")
    if (named === "") {
      return yield* Effect.fail(new OpFailure("must specify one of alias or fingerprint for init from image"))
    }
    const query = {
      ...(secret === undefined ? {} : { secret }),
      ...(typeof src.project === "string" && src.project !== "" ? { project: src.project } : {})
    }
    const get = (path: string) =>
      execute(client, HttpClientRequest.get(`/1.0${path}`, { urlParams: query }), `${server}/1.0${path}`)
    let alias = named
    let fingerprint = named
    let info: Json | undefined
    if (secret === undefined) {
      // a public image: an alias of that name first, then the image (a fingerprint prefix expands)
      const entry = yield* Effect.option(Effect.flatMap(get(`/images/aliases/${encodeURIComponent(named)}`), syncOf))
      if (entry._tag === "Some") fingerprint = String(entry.value.target)
      info = yield* Effect.flatMap(get(`/images/${encodeURIComponent(fingerprint)}`), syncOf).pipe(
        Effect.mapError((e) => new OpFailure(`Failed getting remote image info: ${e.message}`))
      )
      fingerprint = String(info.fingerprint)
    }
    const adopted = yield* store.adopt(project, fingerprint, settings.fields, settings.aliases)
    if (adopted !== undefined) return adopted
    if (info === undefined) {
      info = yield* Effect.flatMap(get(`/images/${encodeURIComponent(fingerprint)}`), syncOf)
      fingerprint = String(info.fingerprint)
      alias = fingerprint
    }
    const started = Date.now()
    const blob = yield* Effect.flatMap(get(`/images/${encodeURIComponent(fingerprint)}/export`), blobOf)
    yield* downloaded(update, fingerprintOf(blob).size, started)
    const got = fingerprintOf(blob).fingerprint
    if (got !== fingerprint) {
      return yield* Effect.fail(new OpFailure(`Image fingerprint doesn't match. Got ${got} expected ${fingerprint}`))
    }
    const recorded = alias !== fingerprint
    return yield* store.put(project, blob, {
      ...settings.fields,
      properties: { ...strMap(info.properties), ...settings.fields.properties },
      filename: typeof info.filename === "string" ? info.filename : "",
      ...(typeof info.architecture === "string" ? { architecture: info.architecture } : {}),
      ...(typeof info.type === "string" ? { type: info.type } : {}),
      update_source: recorded
        ? {
          alias,
          certificate: typeof src.certificate === "string" ? src.certificate : "",
          protocol: "lxd",
          server,
          image_type: ""
        }
        : null
    }, settings.aliases)
  })

/**
 * The target's side of a push (`source.mode: "push"`): an image token carrying what the image will be.
 *
 * @internal
 */
export const receive = (state: FakeState, project: string, src: Json, b: Json): Effect.Effect<M.MockResponse> =>
  imageToken(state, project, String(src.fingerprint ?? ""), {
    aliases: Array.isArray(b.aliases) ? aliasesOf(b.aliases) : null,
    expires_at: typeof b.expires_at === "string" ? b.expires_at : NEVER,
    properties: isObject(b.properties) ? strMap(b.properties) : null,
    public: b.public === true
  })

/**
 * An upload's secret (`X-LXD-secret`, `X-LXD-fingerprint`): the token's metadata (what the image will be) when it
 * names one; 403 for a server that is not trusted without one.
 *
 * @internal
 */
export const uploadSecret = (
  state: FakeState,
  project: string,
  r: M.MockRequest
): Effect.Effect<{ readonly refused: M.MockResponse } | { readonly metadata: Json | undefined }> =>
  Effect.gen(function*() {
    const secret = r.headers["x-lxd-secret"] ?? ""
    const fingerprint = r.headers["x-lxd-fingerprint"] ?? ""
    const refused = { refused: M.error(403, "not authorized") }
    if (fromPeer(r) && (secret === "" || fingerprint === "")) return refused
    const metadata = yield* validSecret(state, project, fingerprint, secret)
    return metadata === undefined && fromPeer(r) ? refused : { metadata }
  })

/**
 * The source's side of a push, `POST /1.0/images/{fingerprint}/export` (`target`, `certificate`, `secret`,
 * `project`): uploads the image to the target and waits for the target's operation.
 *
 * @internal
 */
export const pushTo = (
  state: FakeState,
  store: ImageStore,
  project: string,
  named: string,
  b: Json
): Effect.Effect<M.MockResponse> =>
  Effect.gen(function*() {
    const image = store.find(project, named)
    if (image === undefined) return yield* fail(404, "Image not found")
    const target = String(b.target ?? "")
    const client = peer(state, target)
    if (client === undefined) {
      return yield* fail(500, unreachable("Get", `${target.replace(/\/+$/, "")}/1.0`, "connect: connection refused"))
    }
    const work = Effect.gen(function*() {
      // LXD 5.0.2 opens the image's file by the name in the URL: a prefix is no file
      if (named !== image.name) {
        return yield* Effect.fail(new OpFailure(`open /var/lib/lxd/images/${named}: no such file or directory`))
      }
      const blob = store.blob(project, image.name)
      if (blob === undefined) {
        return yield* Effect.fail(new OpFailure("Image file not found"))
      }
      const { body, contentType } = blob instanceof Uint8Array
        ? { body: blob, contentType: "application/octet-stream" }
        : splitBody(image.name, blob)
      const query = typeof b.project === "string" && b.project !== "" ? { project: b.project } : {}
      const upload = HttpClientRequest.post("/1.0/images", { urlParams: query }).pipe(
        HttpClientRequest.setHeaders({
          "x-lxd-secret": String(b.secret ?? ""),
          "x-lxd-fingerprint": image.name,
          "x-lxd-filename": image.name
        }),
        HttpClientRequest.bodyUint8Array(body, contentType)
      )
      const answer = yield* Effect.flatMap(
        execute(client, upload, `${target}/1.0/images`),
        (response) => Effect.orElseSucceed(response.json, (): unknown => undefined)
      )
      if (!isObject(answer) || answer.type !== "async" || !isObject(answer.metadata)) {
        return yield* Effect.fail(
          new OpFailure(isObject(answer) && typeof answer.error === "string" ? answer.error : "Bad answer")
        )
      }
      const op = answer.metadata
      const secret = isObject(op.metadata) && typeof op.metadata.secret === "string" ? op.metadata.secret : ""
      const done = yield* Effect.flatMap(
        execute(
          client,
          HttpClientRequest.get(`/1.0/operations/${String(op.id)}/wait`, { urlParams: { secret, timeout: "-1" } }),
          `${target}/1.0/operations/${String(op.id)}/wait`
        ),
        syncOf
      )
      if (done.status_code !== 200) {
        return yield* Effect.fail(new OpFailure(`Failed operation "${String(done.status)}": "${String(done.err)}"`))
      }
      yield* lifecycle(state, project, "image-retrieved", `/1.0/images/${image.name}`, { target })
    })
    return yield* startOperation(state, project, { description: "Downloading image" }, work)
  })

/** A `HEAD` or `GET` through the fake's `fetch`, its rejection as Go's words. */
const fetching = (state: FakeState) => {
  const fetch: Fetch = state.options.fetch ?? ((input, init) => globalThis.fetch(input, init))
  return (verb: "Head" | "Get", target: string, headers: Record<string, string>) =>
    Effect.tryPromise({
      try: (signal) => {
        if (!/^https?:\/\//.test(target)) throw new Error("not an http URL")
        return fetch(target, {
          method: verb.toUpperCase(),
          headers: { "User-Agent": "LXD 5.0.2", ...headers },
          signal
        })
      },
      catch: (e) => new OpFailure(unreachable(verb, target, e))
    })
}

/** The body of an answer, or the failure to read it. */
const bodyOf = (response: Response): Effect.Effect<Uint8Array, OpFailure> =>
  Effect.map(
    Effect.tryPromise({ try: () => response.arrayBuffer(), catch: (e) => new OpFailure(causeOf(e)) }),
    (buffer) => new Uint8Array(buffer)
  )

/**
 * Import from a URL (`source.type: "url"`): the work of the download operation.
 *
 * @internal
 */
export const fromUrl: Work = (state, store, project, src, settings, update) =>
  Effect.gen(function*() {
    const url = typeof src.url === "string" ? src.url : ""
    if (url === "") return yield* Effect.fail(new OpFailure("Missing URL"))
    const call = fetching(state)
    const head = yield* call("Head", url, {
      "LXD-Server-Architectures": "x86_64, i686",
      "LXD-Server-Version": "5.0.2"
    })
    const hash = head.headers.get("LXD-Image-Hash") ?? ""
    if (hash === "") return yield* Effect.fail(new OpFailure("Missing LXD-Image-Hash header"))
    const location = head.headers.get("LXD-Image-URL") ?? ""
    if (location === "") return yield* Effect.fail(new OpFailure("Missing LXD-Image-URL header"))
    const adopted = yield* store.adopt(project, hash, settings.fields, settings.aliases)
    if (adopted !== undefined) return adopted
    const started = Date.now()
    const got = yield* call("Get", location, {})
    if (got.status !== 200) {
      return yield* Effect.fail(new OpFailure(`Unable to fetch "${location}": ${got.status} ${got.statusText}`.trim()))
    }
    const bytes = yield* bodyOf(got)
    yield* downloaded(update, bytes.length, started)
    const actual = sha256(bytes)
    if (actual !== hash) {
      return yield* Effect.fail(new OpFailure(`Hash mismatch for "${location}": ${actual} != ${hash}`))
    }
    if (!isArchive(bytes)) return yield* Effect.fail(new OpFailure("Unsupported compression"))
    const metadata = yield* Effect.mapError(imageMetadata(bytes), (message) => new OpFailure(message))
    return yield* store.put(project, bytes, {
      ...settings.fields,
      ...(metadata === undefined ? {} : {
        architecture: metadata.architecture,
        created_at: new Date(metadata.creationDate * 1000).toISOString().replace(/\.\d+Z$/, "Z")
      }),
      properties: { ...metadata?.properties, ...settings.fields.properties },
      filename: "",
      update_source: null
    }, settings.aliases)
  })

/** One image a simplestreams server describes: a product's version, its files and what LXD makes of it. */
interface StreamImage {
  readonly fingerprint: string
  readonly aliases: ReadonlyArray<string>
  readonly serial: string
  readonly files: ReadonlyArray<{ readonly path: string; readonly sha256: string }>
  readonly properties: Record<string, string>
  readonly architecture: string
}

const ARCHITECTURES: Readonly<Record<string, string>> = { amd64: "x86_64", i386: "i686", arm64: "aarch64" }

/** The images of a products file (`products:1.0`), each version that has a unified or split LXD image. */
const streamImages = (products: unknown): ReadonlyArray<StreamImage> => {
  const out: Array<StreamImage> = []
  for (const product of Object.values(isObject(products) ? products : {})) {
    if (!isObject(product) || !isObject(product.versions)) continue
    const arch = String(product.arch ?? "")
    const serials = Object.keys(product.versions).sort()
    for (const serial of serials) {
      const version = product.versions[serial]
      const items = isObject(version) && isObject(version.items) ? Object.values(version.items).filter(isObject) : []
      const file = (ftype: string) => items.find((i) => i.ftype === ftype)
      const unified = file("lxd_combined.tar.gz")
      const meta = file("lxd.tar.xz")
      const rootfs = file("squashfs") ?? file("root.tar.xz")
      const parts = unified !== undefined ? [unified] : meta !== undefined && rootfs !== undefined ? [meta, rootfs] : []
      if (parts.length === 0) continue
      const files = parts.map((p) => ({ path: String(p.path ?? ""), sha256: String(p.sha256 ?? "") }))
      const combined = rootfs === undefined ? undefined : rootfs.ftype === "squashfs"
        ? meta?.combined_squashfs_sha256
        : meta?.combined_rootxz_sha256
      const properties: Record<string, string> = {}
      const set = (k: string, v: unknown) => {
        if (typeof v === "string" && v !== "") properties[k] = v
      }
      set("os", product.os)
      set("release", product.release)
      set("version", product.version)
      set("architecture", arch)
      set("variant", product.variant)
      set("serial", serial)
      set("description", `${String(product.os ?? "")} ${String(product.release_title ?? "")} ${arch} (${serial})`)
      out.push({
        fingerprint: typeof combined === "string" ? combined : files[0]!.sha256,
        // the aliases name the newest version
        aliases: serial === serials[serials.length - 1]
          ? String(product.aliases ?? "").split(",").map((a) => a.trim()).filter((a) => a !== "")
          : [],
        serial,
        files,
        properties,
        architecture: ARCHITECTURES[arch] ?? arch
      })
    }
  }
  return out
}

/**
 * Import from a simplestreams server (`source.type: "image"`, protocol `simplestreams`): `streams/v1/index.json`,
 * the products files of its `image-downloads` entries, the image an alias or a fingerprint prefix names, its
 * files checked against their sha256. The work of the download operation.
 *
 * @internal
 */
export const fromSimplestreams: Work = (state, store, project, src, settings, update) =>
  Effect.gen(function*() {
    const server = String(src.server ?? "").replace(/\/+$/, "")
    const call = fetching(state)
    const json = (path: string) =>
      Effect.gen(function*() {
        const response = yield* call("Get", `${server}/${path}`, {})
        if (response.status !== 200) {
          return yield* Effect.fail(
            new OpFailure(`Unable to fetch "${server}/${path}": ${response.status} ${response.statusText}`.trim())
          )
        }
        const text = new TextDecoder().decode(yield* bodyOf(response))
        return yield* Effect.try({ try: (): unknown => JSON.parse(text), catch: (e) => new OpFailure(causeOf(e)) })
      }).pipe(
        Effect.mapError((e) => new OpFailure(`Failed to connect to simple streams server "${server}": ${e.message}`))
      )
    const index = yield* json("streams/v1/index.json")
    const entries = isObject(index) && isObject(index.index) ? Object.values(index.index).filter(isObject) : []
    const all: Array<StreamImage> = []
    for (const entry of entries) {
      if (entry.datatype !== "image-downloads" || typeof entry.path !== "string") continue
      const products = yield* json(entry.path)
      all.push(...streamImages(isObject(products) ? products.products : undefined))
    }
    const named = String(src.fingerprint || src.alias || "")
    const image = all.filter((i) => i.aliases.includes(named)).at(-1) ??
      (() => {
        const found = all.filter((i) => named !== "" && i.fingerprint.startsWith(named))
        return found.length === 1 ? found[0] : undefined
      })()
    if (image === undefined) {
      return yield* Effect.fail(
        new OpFailure("Failed getting remote image info: Failed getting image: The requested image couldn't be found")
      )
    }
    const adopted = yield* store.adopt(project, image.fingerprint, settings.fields, settings.aliases)
    if (adopted !== undefined) return adopted
    const parts: Array<Uint8Array> = []
    const started = Date.now()
    for (const file of image.files) {
      const got = yield* call("Get", `${server}/${file.path}`, {})
      if (got.status !== 200) {
        return yield* Effect.fail(
          new OpFailure(`Unable to fetch "${server}/${file.path}": ${got.status} ${got.statusText}`.trim())
        )
      }
      const bytes = yield* bodyOf(got)
      if (sha256(bytes) !== file.sha256) {
        return yield* Effect.fail(
          new OpFailure(`Image fingerprint doesn't match. Got ${sha256(bytes)} expected ${file.sha256}`)
        )
      }
      parts.push(bytes)
    }
    yield* downloaded(update, parts.reduce((n, p) => n + p.length, 0), started)
    const [first, second] = parts
    const blob: Blob = second === undefined
      ? first!
      : { metadata: first!, rootfs: second, rootfsName: "rootfs" }
    const recorded = named !== image.fingerprint
    return yield* store.put(project, blob, {
      ...settings.fields,
      architecture: image.architecture,
      properties: { ...image.properties, ...settings.fields.properties },
      update_source: recorded
        ? {
          alias: named,
          certificate: typeof src.certificate === "string" ? src.certificate : "",
          protocol: "simplestreams",
          server: String(src.server ?? ""),
          image_type: ""
        }
        : null
    }, settings.aliases)
  })

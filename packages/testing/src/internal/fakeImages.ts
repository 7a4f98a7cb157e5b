/**
 * Images and their aliases in the fake: the generated routes of `Images.spec` and `Images.aliasesSpec` plus what
 * is an image's own, as LXD 5.0.2 has it: a fingerprint prefix accepted when it is unique (500 `More than one
 * image matches` when it is not), `aliases` computed from the alias collection (and deleted with the image), an
 * alias refused for an image that is not there (404), an upload (`POST /images`, `application/octet-stream`:
 * the fingerprint is the sha256 of the bytes; or `multipart/form-data` with `metadata` then `rootfs` /
 * `rootfs.img`: sha256(metadata ‖ rootfs); a duplicate fails the operation) and an export of the bytes uploaded,
 * a split image as `multipart/form-data` with LXD's part names and file names. A project without `features.images` uses the images of `default`.
 *
 * @internal
 */
import * as Images from "@effect-lxd/core/Images"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Multipart from "@effect/platform/Multipart"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as M from "../LxdMockTransport.js"
import { entriesOf, fakeCollection, findEntry, putEntry, removeEntry, type Target } from "./fakeCollection.js"
import { type FakeEntry, type FakeState, key, NEVER, now, OpFailure, sha256, startOperation, uuid } from "./fakeCore.js"
import { body, fail, isObject, projectOf, type Route, strMap } from "./fakeHttp.js"
import { featureProject } from "./fakeProfiles.js"

/** The project whose images a request in `project` reaches. @internal */
export const imagesProject: (state: FakeState, project: string) => string = featureProject("features.images")

const imageJson = (fingerprint: string, fields: Record<string, unknown>) => ({
  auto_update: false,
  profiles: ["default"],
  properties: {},
  public: false,
  expires_at: NEVER,
  fingerprint,
  architecture: "x86_64",
  cached: false,
  filename: "",
  size: 0,
  type: "container",
  update_source: null,
  created_at: now(),
  last_used_at: NEVER,
  uploaded_at: now(),
  ...fields
})

/** The images of a project whose fingerprint starts with `prefix`. */
const matching = (state: FakeState, project: string, prefix: string) =>
  entriesOf(state, Images.spec, project).filter((e) => prefix !== "" && e.name.startsWith(prefix))

/**
 * The image an instance of `project` is created from (`source.alias` or a `source.fingerprint` prefix), as
 * stored (`properties`, `architecture`).
 *
 * @internal
 */
export const imageFor = (
  state: FakeState,
  project: string,
  source: { readonly alias?: unknown; readonly fingerprint?: unknown }
): FakeEntry | undefined => {
  if (typeof source.alias === "string") {
    const alias = findEntry(state, Images.aliasesSpec, project, [], source.alias)
    return alias === undefined ? undefined : findEntry(state, Images.spec, project, [], String(alias.value.target))
  }
  const found = matching(state, project, String(source.fingerprint ?? ""))
  return found.length === 1 ? found[0] : undefined
}

/** The URLs of a project's images, as `used_by` lists them. @internal */
export const imagesOf = (state: FakeState, project: string): ReadonlyArray<FakeEntry> =>
  entriesOf(state, Images.spec).filter((e) => e.project === project)

const header = (r: M.MockRequest, name: string): string | undefined => r.headers[name.toLowerCase()]

/** What an image upload holds: one tarball, or a split image's two parts in order. */
type Blob = Uint8Array | { readonly metadata: Uint8Array; readonly rootfs: Uint8Array; readonly rootfsName: string }

const concat = (parts: ReadonlyArray<Uint8Array>) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** A split upload's parts, as LXD reads them: `metadata` first, then `rootfs` or `rootfs.img`, nothing else. */
const splitUpload = (
  contentType: string,
  bytes: Uint8Array
): Effect.Effect<Exclude<Blob, Uint8Array> | undefined> =>
  Stream.make(bytes).pipe(
    Stream.pipeThroughChannel(Multipart.makeChannel<never>({ "content-type": contentType })),
    Stream.mapEffect((part): Effect.Effect<readonly [string, Uint8Array], unknown> =>
      Multipart.isFile(part)
        ? Effect.map(part.contentEffect, (b): readonly [string, Uint8Array] => [part.key, b])
        : Effect.fail(part.key)
    ),
    Stream.runCollect,
    Effect.map((chunk): ReadonlyArray<readonly [string, Uint8Array]> => Chunk.toReadonlyArray(chunk)),
    Effect.orElseSucceed((): ReadonlyArray<readonly [string, Uint8Array]> => []),
    Effect.map((parts) => {
      const [meta, rootfs] = parts
      return parts.length === 2 && meta !== undefined && rootfs !== undefined && meta[0] === "metadata" &&
          (rootfs[0] === "rootfs" || rootfs[0] === "rootfs.img")
        ? { metadata: meta[1], rootfs: rootfs[1], rootfsName: rootfs[0] }
        : undefined
    })
  )

/**
 * The extension LXD gives an exported file, from its first bytes (LXD's `DetectCompressionFile`): `.tar.gz`,
 * `.tar.xz`, `.tar.zst`, `.squashfs`, `.qcow2`, …; none for bytes it does not recognise (a raw VM disk).
 */
const extensionOf = (bytes: Uint8Array): string => {
  const at = (offset: number, ...magic: ReadonlyArray<number>) => magic.every((b, i) => bytes[offset + i] === b)
  const ascii = (text: string) => Array.from(text, (c) => c.charCodeAt(0))
  if (at(0, ...ascii("BZ"))) return ".tar.bz2"
  if (at(0, 0x1f, 0x8b)) return ".tar.gz"
  if (at(1, ...ascii("7zXZ"))) return bytes[0] === 0xfd ? ".tar.xz" : ".tar.lzma"
  if (at(0, 0x5d, 0x00, 0x00)) return ".tar.lzma"
  if (at(257, ...ascii("ustar"))) return ".tar"
  if (at(0, ...ascii("hsqs"))) return ".squashfs"
  if (at(0, ...ascii("QFI"))) return ".qcow2"
  if (at(0, 0x28, 0xb5, 0x2f, 0xfd)) return ".tar.zst"
  return ""
}

/** A split image's export as LXD 5.0.2 writes it (file names `meta-<fp><ext>`, `<fp><ext>`: {@link extensionOf}). */
const splitExport = (fingerprint: string, blob: Exclude<Blob, Uint8Array>): M.MockResponse => {
  const boundary = `fake${fingerprint.slice(0, 24)}`
  const encoder = new TextEncoder()
  const head = (name: string, filename: string) =>
    encoder.encode(
      `--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="${filename}"\r\n` +
        `Content-Type: application/octet-stream\r\n\r\n`
    )
  const body = concat([
    head("metadata", `meta-${fingerprint}${extensionOf(blob.metadata)}`),
    blob.metadata,
    encoder.encode("\r\n"),
    head(blob.rootfsName, `${fingerprint}${extensionOf(blob.rootfs)}`),
    blob.rootfs,
    encoder.encode(`\r\n--${boundary}--\r\n`)
  ])
  return M.raw(body, { headers: { "content-type": `multipart/form-data; boundary=${boundary}` } })
}

/** @internal */
export const imageRoutes = (state: FakeState): Array<Route> => {
  // the bytes of each uploaded image (per fake), by project and fingerprint
  const blobs = new Map<string, Blob>()
  const blobKey = (project: string, fingerprint: string) => `${project}/${fingerprint}`
  // the image the fake starts with: some bytes (not a real tarball), fingerprinted as LXD does, exportable
  const busyboxBytes = new TextEncoder().encode("busybox fake image: not a real tarball\n")
  const busybox = sha256(busyboxBytes)
  blobs.set(blobKey("default", busybox), busyboxBytes)

  const aliasesOf = (entry: FakeEntry) =>
    entriesOf(state, Images.aliasesSpec, entry.project).filter((a) => a.value.target === entry.name).map((a) => ({
      name: a.name,
      description: a.value.description ?? ""
    }))

  /** Stores a new image and its aliases, as the work of an operation: LXD refuses a fingerprint it has. */
  const store = (
    project: string,
    bytes: Uint8Array,
    fields: Record<string, unknown>,
    aliases: ReadonlyArray<{ readonly name: string; readonly description: string }>
  ) =>
    Effect.suspend(() => {
      const fingerprint = sha256(bytes)
      if (findEntry(state, Images.spec, project, [], fingerprint) !== undefined) {
        return Effect.fail(new OpFailure("Image with same fingerprint already exists"))
      }
      blobs.set(blobKey(project, fingerprint), bytes.slice())
      putEntry(state, Images.spec, {
        project,
        parents: [],
        name: fingerprint,
        value: imageJson(fingerprint, { size: bytes.length, ...fields })
      })
      for (const alias of aliases) {
        if (findEntry(state, Images.aliasesSpec, project, [], alias.name) !== undefined) {
          return Effect.fail(new OpFailure(`Alias "${alias.name}" already exists`))
        }
        putEntry(state, Images.aliasesSpec, {
          project,
          parents: [],
          name: alias.name,
          value: { ...alias, target: fingerprint, type: "container" }
        })
      }
      return Effect.succeed({ fingerprint, size: String(bytes.length) })
    })

  /**
   * `POST /images` with a JSON body: a publish (`source.type` `instance` or `snapshot`: new bytes of its own,
   * refused for a running instance) or a pull from another server (`type: image`, protocol `lxd`, from one of
   * `options.remotes`: its image and export read through its transport, `secret` passed on).
   */
  const create = (r: M.MockRequest) =>
    Effect.suspend(() => {
      const b = body(r)
      const src = isObject(b.source) ? b.source : {}
      const project = imagesProject(state, projectOf(r))
      const aliases = (Array.isArray(b.aliases) ? b.aliases : []).filter(isObject).map((a) => ({
        name: String(a.name),
        description: typeof a.description === "string" ? a.description : ""
      }))
      const fields = {
        public: b.public === true,
        auto_update: b.auto_update === true,
        properties: strMap(b.properties)
      }
      const started = (description: string, work: Effect.Effect<unknown, OpFailure>) =>
        startOperation(state, project, { description }, work)
      if (src.type === "instance" || src.type === "snapshot") {
        const [name = "", snapshot] = String(src.name ?? "").split("/")
        const instance = state.instances.get(key(projectOf(r), name))
        if (instance === undefined || (snapshot !== undefined && !instance.snapshots.has(snapshot))) {
          return fail(404, src.type === "snapshot" ? "Instance snapshot not found" : "Instance not found")
        }
        if (snapshot === undefined && instance.status !== "Stopped") {
          return started("Creating image", Effect.fail(new OpFailure("Cannot export a running instance as an image")))
        }
        const bytes = new TextEncoder().encode(`published ${projectOf(r)}/${String(src.name)} ${uuid(state)}\n`)
        return started("Creating image", store(project, bytes, fields, aliases))
      }
      if (src.type === "image" && (src.mode ?? "pull") === "pull" && (src.protocol ?? "lxd") === "lxd") {
        const server = String(src.server ?? "")
        const remote = state.options.remotes?.[server]
        if (remote === undefined) {
          return started("Downloading image", Effect.fail(new OpFailure(`Unable to connect to: ${server}`)))
        }
        const query = typeof src.secret === "string" ? { secret: src.secret } : {}
        const get = (path: string) =>
          remote.http.execute(HttpClientRequest.get(`/1.0${path}`, { urlParams: query })).pipe(
            Effect.mapError((e) => new OpFailure(String(e)))
          )
        const json = (path: string) =>
          Effect.flatMap(get(path), (response) => response.json).pipe(
            Effect.mapError((e) => e instanceof OpFailure ? e : new OpFailure(String(e))),
            Effect.flatMap((u) =>
              isObject(u) && u.type === "sync" && isObject(u.metadata)
                ? Effect.succeed(u.metadata)
                : Effect.fail(new OpFailure(isObject(u) ? String(u.error) : "Bad answer"))
            )
          )
        const work = Effect.gen(function*() {
          const fingerprint = typeof src.alias === "string"
            ? String((yield* json(`/images/aliases/${encodeURIComponent(src.alias)}`)).target)
            : String(src.fingerprint ?? "")
          const info = yield* json(`/images/${encodeURIComponent(fingerprint)}`)
          const response = yield* get(`/images/${encodeURIComponent(String(info.fingerprint))}/export`)
          const bytes = new Uint8Array(
            yield* Effect.mapError(response.arrayBuffer, (e) => new OpFailure(String(e)))
          )
          return yield* store(project, bytes, {
            ...fields,
            properties: { ...strMap(info.properties), ...fields.properties },
            filename: typeof info.filename === "string" ? info.filename : "",
            update_source: {
              alias: typeof src.alias === "string" ? src.alias : "",
              certificate: "",
              protocol: "lxd",
              server
            }
          }, aliases)
        })
        return started("Downloading image", work)
      }
      return fail(400, `The fake does not implement image source ${JSON.stringify(src.type)} (mode, protocol)`)
    })

  const upload = (r: M.MockRequest) =>
    Effect.gen(function*() {
      const type = header(r, "content-type") ?? ""
      if (type.startsWith("application/json")) return yield* create(r)
      const bytes = r.bytes ?? new Uint8Array(0)
      let blob: Blob
      if (type.startsWith("multipart/form-data")) {
        const split = yield* splitUpload(type, bytes)
        if (split === undefined) return yield* fail(400, "Invalid multipart image")
        blob = split
      } else if (type.startsWith("application/octet-stream")) {
        blob = bytes.slice()
      } else {
        return yield* fail(400, "the fake takes image uploads (octet-stream or multipart) only")
      }
      const all = blob instanceof Uint8Array ? blob : concat([blob.metadata, blob.rootfs])
      const project = imagesProject(state, projectOf(r))
      const fingerprint = sha256(all)
      const properties = Object.fromEntries(new URLSearchParams(header(r, "X-LXD-properties") ?? ""))
      const isPublic = ["1", "true"].includes(header(r, "X-LXD-public") ?? "")
      const work = Effect.suspend(() => {
        if (findEntry(state, Images.spec, project, [], fingerprint) !== undefined) {
          return Effect.fail(new OpFailure("Image with same fingerprint already exists"))
        }
        blobs.set(blobKey(project, fingerprint), blob)
        const value = imageJson(fingerprint, {
          filename: header(r, "X-LXD-filename") ?? "",
          size: all.length,
          properties,
          public: isPublic,
          type: blob instanceof Uint8Array || blob.rootfsName === "rootfs" ? "container" : "virtual-machine"
        })
        putEntry(state, Images.spec, { project, parents: [], name: fingerprint, value })
        return Effect.succeed({ fingerprint, size: String(all.length) })
      })
      return yield* startOperation(state, project, {
        description: "Downloading image",
        resources: { images: [`/1.0/images/${fingerprint}`] },
        metadata: { fingerprint, size: String(all.length) }
      }, work)
    })

  const exportImage = (r: M.MockRequest) =>
    Effect.suspend(() => {
      const project = imagesProject(state, projectOf(r))
      const found = matching(state, project, r.params.fingerprint ?? "")
      const bytes = found.length === 1 ? blobs.get(blobKey(project, found[0]!.name)) : undefined
      if (bytes !== undefined && !(bytes instanceof Uint8Array)) {
        return Effect.succeed(splitExport(found[0]!.name, bytes))
      }
      return bytes === undefined
        ? fail(404, "Image not found")
        : Effect.succeed(M.raw(bytes.slice(), {
          headers: {
            "content-type": "application/octet-stream",
            "content-length": String(bytes.length),
            "content-disposition": `inline;filename=${found[0]!.name}${extensionOf(bytes)}`
          }
        }))
    })

  // a one-time secret for an image (a token operation, running until cancelled)
  const secret = (r: M.MockRequest) =>
    Effect.suspend(() => {
      const project = imagesProject(state, projectOf(r))
      const found = matching(state, project, r.params.fingerprint ?? "")
      if (found.length !== 1) return fail(404, "Image not found")
      return startOperation(state, project, {
        description: "Downloading image",
        class: "token",
        mayCancel: true,
        metadata: { secret: uuid(state) }
      }, Effect.never)
    })

  return [
    M.route("POST", "/images", upload),
    M.route("POST", "/images/:fingerprint/secret", secret),
    M.route("GET", "/images/:fingerprint/export", exportImage),
    ...fakeCollection(state, Images.aliasesSpec, {
      label: "Image alias",
      initial: [{ value: { name: "busybox", description: "", target: busybox, type: "container" } }],
      project: imagesProject,
      duplicate: () => M.error(409, "Alias already exists"),
      vetoCreate: (t, value) =>
        findEntry(state, Images.spec, t.project, [], String(value.target)) === undefined
          ? M.error(404, "Image not found")
          : undefined
    }),
    ...fakeCollection(state, Images.spec, {
      label: "Image",
      initial: [{
        value: imageJson(busybox, {
          filename: "busybox.tar.gz",
          size: busyboxBytes.length,
          properties: { os: "busybox", release: "1.35.0", description: "busybox fake image" }
        })
      }],
      project: imagesProject,
      computed: (_, entry) => ({ aliases: aliasesOf(entry) }),
      resolve: (t: Target, name: string) => {
        const found = matching(state, t.project, name)
        return found.length > 1 ? M.error(500, "More than one image matches") : found[0]
      },
      after: {
        deleted: (entry) =>
          Effect.sync(() => {
            blobs.delete(blobKey(entry.project, entry.name))
            for (const alias of aliasesOf(entry)) {
              const stored = findEntry(state, Images.aliasesSpec, entry.project, [], alias.name)
              if (stored !== undefined) removeEntry(state, Images.aliasesSpec, stored)
            }
          })
      }
    })
  ]
}

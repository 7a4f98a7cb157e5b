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
import * as Effect from "effect/Effect"
import * as M from "../LxdMockTransport.js"
import { entriesOf, fakeCollection, findEntry, putEntry, removeEntry, type Target } from "./fakeCollection.js"
import { type FakeEntry, type FakeState, key, NEVER, now, OpFailure, sha256, startOperation, uuid } from "./fakeCore.js"
import { body, fail, isObject, projectOf, type Route, strMap } from "./fakeHttp.js"
import { type Blob, exportResponse, fingerprintOf, splitUpload } from "./fakeImageFiles.js"
import {
  type Aliases,
  aliasesOf,
  fromPeer,
  fromSimplestreams,
  fromUrl,
  type ImageStore,
  imageToken,
  pull,
  pushTo,
  receive,
  uploadSecret,
  validSecret,
  type Work
} from "./fakeImageImport.js"
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

/** @internal */
export const imageRoutes = (state: FakeState): Array<Route> => {
  // the bytes of each image (per fake), by project and fingerprint
  const blobs = new Map<string, Blob>()
  const blobKey = (project: string, fingerprint: string) => `${project}/${fingerprint}`
  // the image the fake starts with: some bytes (not a real tarball), fingerprinted as LXD does, exportable
  const busyboxBytes = new TextEncoder().encode("busybox fake image: not a real tarball\n")
  const busybox = sha256(busyboxBytes)
  blobs.set(blobKey("default", busybox), busyboxBytes)

  const aliasesOf_ = (entry: FakeEntry) =>
    entriesOf(state, Images.aliasesSpec, entry.project).filter((a) => a.value.target === entry.name).map((a) => ({
      name: a.name,
      description: a.value.description ?? ""
    }))

  const addAliases = (project: string, fingerprint: string, aliases: Aliases) =>
    Effect.suspend(() => {
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
      return Effect.void
    })

  const store: ImageStore = {
    find: (project, prefix) => {
      const found = matching(state, project, prefix)
      return found.length === 1 ? found[0] : undefined
    },
    blob: (project, fingerprint) => blobs.get(blobKey(project, fingerprint)),
    put: (project, blob, fields, aliases) =>
      Effect.suspend(() => {
        const { fingerprint, size } = fingerprintOf(blob)
        if (findEntry(state, Images.spec, project, [], fingerprint) !== undefined) {
          return Effect.fail(new OpFailure("Image with same fingerprint already exists"))
        }
        blobs.set(blobKey(project, fingerprint), blob instanceof Uint8Array ? blob.slice() : blob)
        const type = blob instanceof Uint8Array || blob.rootfsName === "rootfs" ? "container" : "virtual-machine"
        putEntry(state, Images.spec, {
          project,
          parents: [],
          name: fingerprint,
          value: imageJson(fingerprint, { size, type, ...fields })
        })
        return Effect.as(addAliases(project, fingerprint, aliases), { fingerprint, size: String(size) })
      }),
    adopt: (project, fingerprint, fields, aliases) =>
      Effect.suspend(() => {
        const own = findEntry(state, Images.spec, project, [], fingerprint)
        const other = own ?? entriesOf(state, Images.spec).find((e) => e.name === fingerprint)
        if (other === undefined) return Effect.succeed(undefined)
        let entry = other
        if (own === undefined) {
          // another project's image: LXD adds it to this one without downloading it
          entry = { project, parents: [], name: fingerprint, value: { ...other.value, public: fields.public } }
          putEntry(state, Images.spec, entry)
          const blob = blobs.get(blobKey(other.project, fingerprint))
          if (blob !== undefined) blobs.set(blobKey(project, fingerprint), blob)
        }
        const props = strMap(fields.properties)
        if (fields.public || fields.auto_update || Object.keys(props).length > 0) {
          entry.value = {
            ...entry.value,
            public: fields.public,
            auto_update: fields.auto_update,
            properties: { ...strMap(entry.value.properties), ...props }
          }
        }
        return Effect.as(addAliases(project, fingerprint, aliases), {
          fingerprint,
          size: String(entry.value.size ?? 0)
        })
      })
  }

  /**
   * `POST /images` with a JSON body: a publish (`source.type` `instance` or `snapshot`: new bytes of its own,
   * refused for a running instance), a pull from another server (`type: image`, protocol `lxd`, one of
   * `options.remotes`), the target's side of a push (`mode: push`) or an import from a URL (`fakeImageImport.ts`).
   */
  const create = (r: M.MockRequest) =>
    Effect.suspend(() => {
      const b = body(r)
      const src = isObject(b.source) ? b.source : {}
      const project = imagesProject(state, projectOf(r))
      if (fromPeer(r)) return fail(403, "not authorized")
      const settings = {
        fields: { public: b.public === true, auto_update: b.auto_update === true, properties: strMap(b.properties) },
        aliases: aliasesOf(b.aliases)
      }
      const started = (work: Work) =>
        startOperation(
          state,
          project,
          { description: "Downloading image" },
          (update) => work(state, store, project, src, settings, update)
        )
      if (src.mode === "push") return receive(state, project, src, b)
      if (src.type === "instance" || src.type === "snapshot") {
        const [name = "", snapshot] = String(src.name ?? "").split("/")
        const instance = state.instances.get(key(projectOf(r), name))
        if (instance === undefined || (snapshot !== undefined && !instance.snapshots.has(snapshot))) {
          return fail(404, src.type === "snapshot" ? "Instance snapshot not found" : "Instance not found")
        }
        const bytes = new TextEncoder().encode(`published ${projectOf(r)}/${String(src.name)} ${uuid(state)}\n`)
        return startOperation(
          state,
          project,
          { description: "Creating image" },
          snapshot === undefined && instance.status !== "Stopped"
            ? Effect.fail(new OpFailure("Cannot export a running instance as an image"))
            : store.put(project, bytes, settings.fields, settings.aliases)
        )
      }
      if (src.type === "image" && (src.protocol ?? "lxd") === "lxd") {
        return started(pull)
      }
      if (src.type === "image" && src.protocol === "simplestreams") {
        return started(fromSimplestreams)
      }
      if (src.type === "url") return started(fromUrl)
      return fail(400, `The fake does not implement image source ${JSON.stringify(src.type)} (mode, protocol)`)
    })

  const upload = (r: M.MockRequest) =>
    Effect.gen(function*() {
      const type = header(r, "content-type") ?? ""
      if (type.startsWith("application/json")) return yield* create(r)
      const project = imagesProject(state, projectOf(r))
      const secret = yield* uploadSecret(state, project, r)
      if ("refused" in secret) return secret.refused
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
      const { fingerprint, size } = fingerprintOf(blob)
      const token = secret.metadata
      const expected = header(r, "X-LXD-fingerprint") ?? ""
      const fields = {
        filename: header(r, "X-LXD-filename") ?? "",
        // a push's token says what the image is (its properties replace the image's, as in LXD)
        properties: token === undefined
          ? Object.fromEntries(new URLSearchParams(header(r, "X-LXD-properties") ?? ""))
          : strMap(token.properties),
        public: token === undefined ? ["1", "true"].includes(header(r, "X-LXD-public") ?? "") : token.public === true
      }
      const work = expected !== "" && expected !== fingerprint
        ? Effect.fail(new OpFailure(`fingerprints don't match, got ${fingerprint} expected ${expected}`))
        : store.put(project, blob, fields, token === undefined ? [] : aliasesOf(token.aliases))
      return yield* startOperation(state, project, {
        description: "Downloading image",
        resources: { images: [`/1.0/images/${fingerprint}`] },
        metadata: {
          fingerprint,
          size: String(size),
          ...(token === undefined ? {} : { secret: sha256(new TextEncoder().encode(uuid(state))) })
        }
      }, work)
    })

  const exportImage = (r: M.MockRequest) =>
    Effect.gen(function*() {
      const project = imagesProject(state, projectOf(r))
      const found = store.find(project, r.params.fingerprint ?? "")
      const blob = found === undefined ? undefined : blobs.get(blobKey(project, found.name))
      if (found === undefined || blob === undefined) return M.error(404, "Image not found")
      const refused = yield* untrustedRefusal(r, project, found)
      return refused ?? exportResponse(found.name, blob)
    })

  /** What LXD answers a server it does not trust for a private image without its secret (`undefined`: go on). */
  const untrustedRefusal = (r: M.MockRequest, project: string, image: FakeEntry) =>
    Effect.map(
      validSecret(state, project, image.name, r.query.secret),
      (token) =>
        fromPeer(r) && image.value.public !== true && token === undefined
          ? M.error(404, `Image "${image.name}" not found`)
          : undefined
    )

  /** A `GET` route of a collection for `pattern`, with `refusal` asked first (`undefined`: the route answers). */
  const guarded = (
    pattern: RegExp,
    refusal: (r: M.MockRequest, project: string, name: string) => Effect.Effect<M.MockResponse | undefined>
  ) =>
  (route: Route): Route =>
    route.method === "GET" && pattern.test(route.pattern)
      ? M.route(route.method, route.pattern, (r) =>
        Effect.flatMap(
          // the route's own (safely decoded) last parameter: a bad `%` escape is the router's 404, not a throw
          refusal(r, imagesProject(state, projectOf(r)), r.params[route.pattern.split(":").pop() ?? ""] ?? ""),
          (refused) => refused === undefined ? route.handler(r) : Effect.succeed(refused)
        ))
      : route

  // `GET /images/{fingerprint}`: the secret is checked (and used) first
  const imageGuard = guarded(/^\/images\/:[^/]+$/, (r, project, name) => {
    const found = store.find(project, name)
    return found === undefined ? Effect.succeed(undefined) : untrustedRefusal(r, project, found)
  })

  // `GET /images/aliases/{name}`: another server sees the aliases of public images only
  const aliasGuard = guarded(/^\/images\/aliases\/:[^/]+$/, (r, project, name) => {
    const alias = findEntry(state, Images.aliasesSpec, project, [], name)
    const image = alias && findEntry(state, Images.spec, project, [], String(alias.value.target))
    return Effect.succeed(
      alias !== undefined && fromPeer(r) && image?.value.public !== true
        ? M.error(404, "Image alias not found")
        : undefined
    )
  })

  return [
    M.route("POST", "/images", upload),
    // a one-time secret for an image (a token operation, running until used or cancelled)
    M.route("POST", "/images/:fingerprint/secret", (r) =>
      Effect.suspend(() => {
        const found = store.find(imagesProject(state, projectOf(r)), r.params.fingerprint ?? "")
        return found === undefined
          ? fail(404, "Image not found")
          : imageToken(state, imagesProject(state, projectOf(r)), found.name)
      })),
    M.route("GET", "/images/:fingerprint/export", exportImage),
    M.route(
      "POST",
      "/images/:fingerprint/export",
      (r) => pushTo(state, store, imagesProject(state, projectOf(r)), r.params.fingerprint ?? "", body(r))
    ),
    ...fakeCollection(state, Images.aliasesSpec, {
      label: "Image alias",
      initial: [{ value: { name: "busybox", description: "", target: busybox, type: "container" } }],
      project: imagesProject,
      duplicate: () => M.error(409, "Alias already exists"),
      vetoCreate: (t, value) =>
        findEntry(state, Images.spec, t.project, [], String(value.target)) === undefined
          ? M.error(404, "Image not found")
          : undefined
    }).map(aliasGuard),
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
      computed: (_, entry) => ({ aliases: aliasesOf_(entry) }),
      visible: (t, entry) => !fromPeer(t.request) || entry.value.public === true,
      resolve: (t: Target, name: string) => {
        const found = matching(state, t.project, name)
        return found.length > 1 ? M.error(500, "More than one image matches") : found[0]
      },
      after: {
        deleted: (entry) =>
          Effect.sync(() => {
            blobs.delete(blobKey(entry.project, entry.name))
            for (const alias of aliasesOf_(entry)) {
              const stored = findEntry(state, Images.aliasesSpec, entry.project, [], alias.name)
              if (stored !== undefined) removeEntry(state, Images.aliasesSpec, stored)
            }
          })
      }
    }).map(imageGuard)
  ]
}

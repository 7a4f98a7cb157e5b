/**
 * Images and their aliases in the fake: the generated routes of `Images.spec` and `Images.aliasesSpec` plus what
 * is an image's own, as LXD 5.0.2 has it: a fingerprint prefix accepted when it is unique (500 `More than one
 * image matches` when it is not), `aliases` computed from the alias collection (and deleted with the image), an
 * alias refused for an image that is not there (404), an upload (`POST /images`, `application/octet-stream`:
 * the fingerprint is the sha256 of the bytes, a duplicate fails the operation) and an export streaming the bytes
 * uploaded. A project without `features.images` uses the images of `default`.
 *
 * @internal
 */
import * as Images from "@effect-lxd/core/Images"
import * as Effect from "effect/Effect"
import * as M from "../LxdMockTransport.js"
import { entriesOf, fakeCollection, findEntry, putEntry, removeEntry, type Target } from "./fakeCollection.js"
import { type FakeEntry, type FakeState, NEVER, now, OpFailure, sha256, startOperation } from "./fakeCore.js"
import { fail, projectOf, type Route } from "./fakeHttp.js"
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
  // the bytes of each uploaded image (per fake), by project and fingerprint
  const blobs = new Map<string, Uint8Array>()
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

  const upload = (r: M.MockRequest) =>
    Effect.suspend(() => {
      const type = header(r, "content-type") ?? ""
      if (!type.startsWith("application/octet-stream")) {
        return fail(400, "the fake takes unified image uploads (application/octet-stream) only")
      }
      const bytes = r.bytes ?? new Uint8Array(0)
      const project = imagesProject(state, projectOf(r))
      const fingerprint = sha256(bytes)
      const properties = Object.fromEntries(new URLSearchParams(header(r, "X-LXD-properties") ?? ""))
      const isPublic = ["1", "true"].includes(header(r, "X-LXD-public") ?? "")
      const work = Effect.suspend(() => {
        if (findEntry(state, Images.spec, project, [], fingerprint) !== undefined) {
          return Effect.fail(new OpFailure("Image with same fingerprint already exists"))
        }
        blobs.set(blobKey(project, fingerprint), bytes.slice())
        const value = imageJson(fingerprint, {
          filename: header(r, "X-LXD-filename") ?? "",
          size: bytes.length,
          properties,
          public: isPublic
        })
        putEntry(state, Images.spec, { project, parents: [], name: fingerprint, value })
        return Effect.succeed({ fingerprint, size: String(bytes.length) })
      })
      return startOperation(state, project, {
        description: "Downloading image",
        resources: { images: [`/1.0/images/${fingerprint}`] },
        metadata: { fingerprint, size: String(bytes.length) }
      }, work)
    })

  const exportImage = (r: M.MockRequest) =>
    Effect.suspend(() => {
      const project = imagesProject(state, projectOf(r))
      const found = matching(state, project, r.params.fingerprint ?? "")
      const bytes = found.length === 1 ? blobs.get(blobKey(project, found[0]!.name)) : undefined
      return bytes === undefined
        ? fail(404, "Image not found")
        : Effect.succeed(M.raw(bytes.slice(), {
          headers: {
            "content-type": "application/octet-stream",
            "content-length": String(bytes.length),
            "content-disposition": `inline;filename=${found[0]!.name}.tar.gz`
          }
        }))
    })

  return [
    M.route("POST", "/images", upload),
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

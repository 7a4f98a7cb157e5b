/**
 * An instance's parts besides snapshots, files and exec, as LXD 5.0.2 serves them: backups (create, list, rename,
 * export, delete, and the import of an exported tarball by `POST /1.0/instances`), logs, image metadata and
 * templates, the console log.
 *
 * A backup's tarball is the fake's own: `backup/index.yaml` then the instance as JSON (its config, devices,
 * profiles, snapshots' names and files), enough for an import to give the instance back; LXD refuses any other
 * body as it refuses a tarball without an index (`Backup is missing index.yaml`).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import * as M from "../LxdMockTransport.js"
import {
  addInstance,
  type FakeBackup,
  type FakeFile,
  type FakeInstance,
  type FakeState,
  type Json,
  lifecycle,
  NEVER,
  newInstance,
  now,
  renameEntry,
  startOperation,
  uuid
} from "./fakeCore.js"
import { body, devMap, etagOf, fail, isObject, ok, projectOf, type Route, staleEtag, strMap } from "./fakeHttp.js"

const INDEX = "backup/index.yaml\n"
const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** A backup tarball in the fake's own format: `backup/index.yaml`, then `index` as JSON. @internal */
export const backupTarball = (index: Json): Uint8Array => encoder.encode(INDEX + JSON.stringify(index))

/** The index of a tarball `backupTarball` made, or `undefined` for anything else. @internal */
export const backupIndex = (bytes: Uint8Array | undefined): Json | undefined => {
  const raw = decoder.decode(bytes ?? new Uint8Array(0))
  try {
    const parsed: unknown = raw.startsWith(INDEX) ? JSON.parse(raw.slice(INDEX.length)) : undefined
    return isObject(parsed) ? parsed : undefined
  } catch {
    return undefined
  }
}
const text = (s: string) => Effect.succeed(M.raw(s, { headers: { "content-type": "application/octet-stream" } }))

/** A backup as `GET /1.0/instances/{name}/backups/{backup}` answers it. @internal */
export const backupJson = (b: FakeBackup) => ({
  name: b.name,
  created_at: b.created_at,
  expires_at: b.expires_at,
  instance_only: b.instance_only,
  container_only: b.instance_only,
  optimized_storage: b.optimized_storage
})

const tarballOf = (i: FakeInstance, instanceOnly: boolean): Uint8Array => {
  const files = [...i.files].map(([p, f]) =>
    [p, f.type === "file" ? { ...f, content: Encoding.encodeBase64(f.content) } : f] as const
  )
  const index = {
    name: i.name,
    type: i.type,
    description: i.description,
    ephemeral: i.ephemeral,
    profiles: i.profiles,
    config: i.config,
    devices: i.devices,
    snapshots: instanceOnly ? [] : [...i.snapshots.keys()],
    files
  }
  return backupTarball(index)
}

const restoreFiles = (u: unknown): Map<string, FakeFile> => {
  const out = new Map<string, FakeFile>()
  for (const [p, f] of Array.isArray(u) ? u as Array<[string, Json]> : []) {
    out.set(
      p,
      (f.type === "file"
        ? { ...f, content: Either.getOrElse(Encoding.decodeBase64(String(f.content)), () => new Uint8Array()) }
        : f) as FakeFile
    )
  }
  return out
}

/**
 * `POST /1.0/instances` with an `application/octet-stream` body: the import of a backup tarball (`X-LXD-name`
 * renames it). @internal
 */
export const importBackup = (state: FakeState, r: M.MockRequest): Effect.Effect<M.MockResponse> => {
  const index = backupIndex(r.bytes)
  if (index === undefined) return fail(400, "Backup is missing index.yaml")
  const project = projectOf(r)
  const name = r.headers["x-lxd-name"] ?? String(index.name)
  return addInstance(
    state,
    newInstance({
      name,
      project,
      type: String(index.type ?? "container"),
      description: String(index.description ?? ""),
      ephemeral: index.ephemeral === true,
      profiles: Array.isArray(index.profiles) ? index.profiles.map(String) : [],
      config: { ...strMap(index.config), "volatile.uuid": uuid(state) },
      devices: devMap(index.devices),
      files: restoreFiles(index.files)
    }),
    "Restoring backup"
  )
}

const metadataTypes: Record<string, "string" | "number" | "object"> = {
  architecture: "string",
  creation_date: "number",
  expiry_date: "number",
  properties: "object",
  templates: "object"
}

/** Go's refusal of a metadata field of the wrong JSON type (`null` is no value: always accepted). */
const wrongMetadataField = (b: Json): string | undefined => {
  for (const [k, want] of Object.entries(metadataTypes)) {
    const v = b[k]
    if (v === undefined || v === null) continue
    const got = Array.isArray(v) ? "array" : typeof v
    if (got !== want) {
      const goType = { string: "string", number: "int64", object: "map[string]string" }[want]
      return `json: cannot unmarshal ${got} into Go struct field ImageMetadata.${k} of type ${goType}`
    }
  }
  return undefined
}

/**
 * A `PATCH` of the metadata as 5.0.2 decodes it over the current one (Go's `json.Unmarshal` into the struct):
 * maps merged key by key (a template given replaces that template; `""` is a value, not a removal), other fields
 * replaced; `null` empties a map and leaves any other field as it was.
 */
const patchMetadata = (current: Json, patch: Json): Json => {
  const out: Json = { ...current }
  for (const [k, v] of Object.entries(patch)) {
    const before = out[k]
    if (v === null) {
      if (isObject(before) || before === null || before === undefined) out[k] = {}
    } else if (isObject(v) && (isObject(before) || before === null || before === undefined)) {
      out[k] = { ...(isObject(before) ? before : {}), ...v }
    } else out[k] = v
  }
  return out
}

/** The default image metadata of an instance: what its image gave it (`image.*` config keys). */
const metadataOf = (i: FakeInstance): Json =>
  i.metadata ?? {
    architecture: i.config["image.architecture"] ?? "x86_64",
    creation_date: 0,
    expiry_date: 0,
    properties: Object.fromEntries(
      Object.entries(i.config).filter(([k]) => k.startsWith("image.") && k !== "image.architecture").map((
        [k, v]
      ) => [k.slice("image.".length), v])
    ),
    templates: {}
  }

/** 5.0 (lxd/instance_logs.go `validLogFileName`): the log file names the API serves. */
const validLogName = (file: string) =>
  ["lxc.log", "lxc.conf", "qemu.log", "qemu.conf"].includes(file) || /^(migration_|snapshot_|exec_)/.test(file)

/** @internal */
export const instancePartRoutes = (
  state: FakeState,
  find: (r: M.MockRequest) => FakeInstance | undefined
): Array<Route> => {
  const withInstance = (r: M.MockRequest, f: (i: FakeInstance) => Effect.Effect<M.MockResponse>) => {
    const i = find(r)
    return i ? f(i) : fail(404, "Instance not found")
  }
  const src = (i: FakeInstance) => `/1.0/instances/${i.name}`
  const backupUrl = (i: FakeInstance, b: string) => `${src(i)}/backups/${b}`
  const backupsOf = (i: FakeInstance) => (i.backups ??= new Map())
  const withBackup = (r: M.MockRequest, f: (i: FakeInstance, b: FakeBackup) => Effect.Effect<M.MockResponse>) =>
    withInstance(r, (i) => {
      const b = backupsOf(i).get(r.params.backup!)
      return b ? f(i, b) : fail(404, "Instance backup not found")
    })
  // the log directory as LXD lists it (read in name order)
  const logs = (i: FakeInstance): Record<string, string> => ({
    "lxc.conf": `lxc.uts.name = ${i.name}\nlxc.rootfs.path = dir:/var/lib/lxd/containers/${i.name}/rootfs\n`,
    "lxc.log": `lxc ${i.name} 20240101000000.000 INFO     lxccontainer - Container "${i.name}" is ${i.status}\n`
  })
  const templatesOf = (i: FakeInstance) => (i.templates ??= new Map())
  const writeMetadata = (merge: boolean) => (r: M.MockRequest) =>
    withInstance(r, (i) => {
      // 5.0.2 ignores If-Match on the PUT, honours it on the PATCH
      const stale = merge ? staleEtag(r, metadataOf(i)) : undefined
      if (stale) return stale
      const b = body(r)
      const wrong = wrongMetadataField(b)
      if (wrong !== undefined) return fail(400, wrong)
      i.metadata = merge ? patchMetadata(metadataOf(i), b) : { ...metadataOf(i), templates: {}, ...b }
      return Effect.zipRight(lifecycle(state, i.project, "instance-metadata-updated", src(i)), ok({}))
    })
  const writeTemplate = (r: M.MockRequest) =>
    withInstance(r, (i) => {
      const path = r.query.path ?? ""
      if (path === "") return fail(400, "missing path argument")
      templatesOf(i).set(path, (r.bytes ?? new Uint8Array(0)).slice())
      return Effect.zipRight(
        lifecycle(state, i.project, "instance-metadata-template-created", src(i), { path }),
        ok({})
      )
    })

  return [
    // -- backups
    M.route("GET", "/instances/:name/backups", (r) =>
      withInstance(r, (i) => {
        const list = [...backupsOf(i).values()]
        return ok(r.query.recursion === "1" ? list.map(backupJson) : list.map((b) => backupUrl(i, b.name)))
      })),
    M.route("POST", "/instances/:name/backups", (r) =>
      withInstance(r, (i) => {
        const b = body(r)
        const backups = backupsOf(i)
        let name = typeof b.name === "string" ? b.name : ""
        if (name === "") { for (let n = 0; name === "" || backups.has(name); n++) name = `backup${n}` }
        if (name.includes("/")) return fail(400, "Backup names may not contain slashes")
        if (backups.has(name)) return fail(409, `Backup "${name}" already exists`)
        const instanceOnly = b.instance_only === true || b.container_only === true
        return startOperation(
          state,
          i.project,
          { description: "Backing up instance", resources: { instances: [src(i)], backups: [backupUrl(i, name)] } },
          Effect.gen(function*() {
            backups.set(name, {
              name,
              created_at: now(),
              expires_at: typeof b.expires_at === "string" ? b.expires_at : NEVER,
              instance_only: instanceOnly,
              optimized_storage: b.optimized_storage === true,
              compression_algorithm: typeof b.compression_algorithm === "string" ? b.compression_algorithm : "gzip",
              tarball: tarballOf(i, instanceOnly)
            })
            yield* lifecycle(state, i.project, "instance-backup-created", backupUrl(i, name))
          })
        )
      })),
    M.route("GET", "/instances/:name/backups/:backup", (r) => withBackup(r, (_, b) => ok(backupJson(b)))),
    M.route("POST", "/instances/:name/backups/:backup", (r) =>
      withBackup(r, (i, b) => {
        const name = String(body(r).name ?? "")
        if (name === "" || name.includes("/")) return fail(400, "Backup names may not contain slashes")
        if (backupsOf(i).has(name)) return fail(409, `Backup "${name}" already exists`)
        return startOperation(
          state,
          i.project,
          {
            description: "Renaming instance backup",
            resources: { instances: [src(i)], backups: [backupUrl(i, b.name)] }
          },
          Effect.gen(function*() {
            const old = renameEntry(backupsOf(i), b, name)
            yield* lifecycle(state, i.project, "instance-backup-renamed", backupUrl(i, name), { old_name: old })
          })
        )
      })),
    M.route("DELETE", "/instances/:name/backups/:backup", (r) =>
      withBackup(r, (i, b) =>
        startOperation(
          state,
          i.project,
          {
            description: "Deleting instance backup",
            resources: { instances: [src(i)], backups: [backupUrl(i, b.name)] }
          },
          Effect.gen(function*() {
            backupsOf(i).delete(b.name)
            yield* lifecycle(state, i.project, "instance-backup-deleted", backupUrl(i, b.name))
          })
        ))),
    M.route(
      "GET",
      "/instances/:name/backups/:backup/export",
      (r) =>
        withBackup(r, (_, b) =>
          Effect.succeed(M.raw(b.tarball.slice(), {
            headers: { "content-type": "application/octet-stream", "content-length": String(b.tarball.length) }
          })))
    ),
    // -- logs
    M.route(
      "GET",
      "/instances/:name/logs",
      (r) => withInstance(r, (i) => ok(Object.keys(logs(i)).map((f) => `${src(i)}/logs/${f}`)))
    ),
    M.route("GET", "/instances/:name/logs/:file", (r) =>
      withInstance(r, (i) => {
        const file = r.params.file!
        if (!validLogName(file)) return fail(400, `log file name ${file} not valid`)
        const content = logs(i)[file]
        if (content === undefined) return fail(404, "not found")
        return Effect.zipRight(
          lifecycle(state, i.project, "instance-log-retrieved", `${src(i)}/logs/${file}`),
          text(content)
        )
      })),
    // the fake keeps no other log files (exec output is not recorded): every other valid name is not found
    M.route("DELETE", "/instances/:name/logs/:file", (r) =>
      withInstance(r, () => {
        const file = r.params.file!
        if (!validLogName(file)) return fail(400, `log file name ${file} not valid`)
        if (file === "lxc.log" || file === "lxc.conf") return fail(400, "lxc.log and lxc.conf may not be deleted")
        return fail(404, "not found")
      })),
    // -- image metadata and templates
    M.route(
      "GET",
      "/instances/:name/metadata",
      (r) => withInstance(r, (i) => ok(metadataOf(i), { etag: etagOf(metadataOf(i)) }))
    ),
    M.route("PUT", "/instances/:name/metadata", writeMetadata(false)),
    M.route("PATCH", "/instances/:name/metadata", writeMetadata(true)),
    M.route("GET", "/instances/:name/metadata/templates", (r) =>
      withInstance(r, (i) => {
        const path = r.query.path ?? ""
        if (path === "") return ok([...templatesOf(i).keys()])
        const content = templatesOf(i).get(path)
        return content === undefined
          ? fail(404, `Template "${path}" not found`)
          : Effect.succeed(M.raw(content.slice(), { headers: { "content-type": "application/octet-stream" } }))
      })),
    M.route("POST", "/instances/:name/metadata/templates", writeTemplate),
    M.route("PUT", "/instances/:name/metadata/templates", writeTemplate),
    M.route("DELETE", "/instances/:name/metadata/templates", (r) =>
      withInstance(r, (i) => {
        const path = r.query.path ?? ""
        if (path === "") return fail(400, "missing path argument")
        if (!templatesOf(i).delete(path)) return fail(404, `Template "${path}" not found`)
        return Effect.zipRight(
          lifecycle(state, i.project, "instance-metadata-template-deleted", src(i), { path }),
          ok({})
        )
      })),
    // -- console log
    M.route("GET", "/instances/:name/console", (r) =>
      withInstance(r, (i) => {
        // 5.0.2: a running container's log is not readable from the API; one that never ran has no file yet
        if (i.status !== "Stopped") return fail(500, "open : no such file or directory")
        if (i.console === undefined) {
          return fail(500, `open /var/log/lxd/${i.name}/console.log: no such file or directory`)
        }
        return text(i.console)
      })),
    M.route("DELETE", "/instances/:name/console", (r) =>
      withInstance(r, (i) => {
        if (i.console !== undefined) i.console = ""
        return Effect.zipRight(lifecycle(state, i.project, "instance-console-reset", src(i)), ok({}))
      }))
  ]
}

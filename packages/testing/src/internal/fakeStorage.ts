/**
 * Storage in the fake: pools, volumes, volume snapshots and volume backups served from the client's specs
 * (`StoragePools.spec`, `StorageVolumes.spec`, `snapshotsSpec`, `backupsSpec`), plus what is storage's own, as
 * LXD 5.0.2 answers it on a `dir` pool:
 *
 * - a `default` `dir` pool; `GET …/resources` (space and inodes); a pool in use (a profile's or an instance's
 *   disk, a volume in it) cannot be deleted (400 `The storage pool is currently in use`);
 * - volumes of every type (`GET /storage-pools/{pool}/volumes`), `used_by` from the instances' disk devices, a
 *   copy (`source.type: "copy"`, with its snapshots unless `volume_only`), a move to another pool or project
 *   (`POST …/{name}` with `pool`/`project`), `PUT` with `restore`, `GET …/state` (500 `Not supported`, as a
 *   `dir` pool answers), an import from a backup tarball (`application/octet-stream`, `X-LXD-name`);
 * - snapshots named `snap0`, `snap1`, … when the body names none; backups `backup0`, …, and their tarball
 *   (`GET …/export`: `backup/index.yaml` then the volume as JSON, the fake's own format).
 *
 * @internal
 */
import * as StoragePools from "@effect-lxd/core/StoragePools"
import * as StorageVolumes from "@effect-lxd/core/StorageVolumes"
import * as Effect from "effect/Effect"
import * as M from "../LxdMockTransport.js"
import { entriesOf, fakeCollection, findEntry, putEntry, removeEntry, urlOf } from "./fakeCollection.js"
import {
  type FakeEntry,
  type FakeState,
  type Json,
  lifecycle,
  NEVER,
  now,
  OpFailure,
  startOperation
} from "./fakeCore.js"
import { body, fail, isObject, ok, projectOf, type Route, strMap } from "./fakeHttp.js"
import { backupIndex, backupTarball } from "./fakeInstanceParts.js"

/** The next free `<prefix><N>` among `taken`. */
const nextName = (prefix: string, taken: ReadonlyArray<string>) => {
  let n = 0
  while (taken.includes(`${prefix}${n}`)) n++
  return `${prefix}${n}`
}

const volumeUrl = (entry: FakeEntry) => urlOf(StorageVolumes.spec, entry)

/** LXD 5.0.2's `PATCH` of a pool or volume: a description it is not sent is reset to `""`. */
const patchResetsDescription = (r: M.MockRequest, next: Json): Json =>
  r.method === "PATCH" && !(isObject(r.body) && "description" in r.body) ? { ...next, description: "" } : next

/** @internal */
export const storageRoutes = (state: FakeState): Array<Route> => {
  const inPool = (pool: string) =>
    [...(state.collections.get(StorageVolumes.spec.path)?.entries.values() ?? [])].filter((e) => e.parents[0] === pool)
  const disksOn = (pool: string, volume?: string) =>
    [...state.instances.values()].filter((i) =>
      Object.values(i.devices).some((d) =>
        d.type === "disk" && d.pool === pool && (volume === undefined ? true : d.source === volume)
      )
    )
  const instanceUrl = (i: { readonly name: string; readonly project: string }) =>
    `/1.0/instances/${encodeURIComponent(i.name)}${i.project === "default" ? "" : `?project=${i.project}`}`

  const poolUsedBy = (pool: string) => {
    const profiles = entriesOf(state, { path: "/profiles" }).filter((p) =>
      isObject(p.value.devices) &&
      Object.values(p.value.devices).some((d) => isObject(d) && d.type === "disk" && d.pool === pool)
    ).map((p) => urlOf({ path: "/profiles" }, p))
    return [...profiles, ...disksOn(pool).map(instanceUrl), ...inPool(pool).map(volumeUrl)]
  }

  const pools = fakeCollection(state, StoragePools.spec, {
    label: "Storage pool",
    initial: [{
      project: "",
      value: {
        name: "default",
        description: "",
        driver: "dir",
        config: { source: "/var/lib/lxd/storage-pools/default" }
      }
    }],
    global: true,
    defaults: (_, value) => ({
      status: "Created",
      locations: ["none"],
      config: { source: `/var/lib/lxd/storage-pools/${String(value.name)}` }
    }),
    computed: (_, entry) => ({ used_by: poolUsedBy(entry.name) }),
    patch: "merge",
    revise: (t, _, next) => patchResetsDescription(t.request, next),
    vetoCreate: (_, value) =>
      value.driver === "dir" ? undefined : M.error(500, `Required tool "${String(value.driver)}" is missing`),
    vetoDelete: (_, entry) =>
      poolUsedBy(entry.name).length > 0
        ? M.error(400, "The storage pool is currently in use")
        : undefined
  })

  /** What a backup holds: the volume as it was, and the names of its snapshots. */
  const tarballs = new WeakMap<FakeEntry, Uint8Array>()
  const snapshotNames = (volume: FakeEntry) =>
    entriesOf(state, StorageVolumes.snapshotsSpec, volume.project, [...volume.parents, volume.name]).map((s) => s.name)

  const copySnapshots = (from: FakeEntry, to: FakeEntry) => {
    for (const s of entriesOf(state, StorageVolumes.snapshotsSpec, from.project, [...from.parents, from.name])) {
      putEntry(state, StorageVolumes.snapshotsSpec, {
        project: to.project,
        parents: [...to.parents, to.name],
        name: s.name,
        value: { ...s.value }
      })
    }
  }

  /** `POST /storage-pools/{pool}/volumes/custom` with a backup tarball: the volume (and its snapshots) back. */
  const importVolume = (r: M.MockRequest): Effect.Effect<M.MockResponse> => {
    const index = backupIndex(r.bytes)
    const project = projectOf(r)
    const pool = r.params.pool!
    const name = r.headers["x-lxd-name"] ?? String(index?.name ?? "")
    const parents = [pool, "custom"]
    const entry: FakeEntry = {
      project,
      parents,
      name,
      value: {
        name,
        description: String(index?.description ?? ""),
        config: strMap(index?.config),
        content_type: "filesystem",
        location: "none",
        created_at: NEVER
      }
    }
    return startOperation(
      state,
      project,
      {
        description: "Restoring custom volume backup",
        resources: { storage_volumes: [`/1.0/storage_volumes/${name}`] }
      },
      Effect.suspend(() => {
        if (index === undefined) return Effect.fail(new OpFailure("Unsupported compression"))
        if (findEntry(state, StorageVolumes.spec, project, parents, name) !== undefined) {
          return Effect.fail(new OpFailure(`Volume by that name already exists`))
        }
        putEntry(state, StorageVolumes.spec, entry)
        const snaps = Array.isArray(index.snapshots) ? index.snapshots.map(String) : []
        for (const s of snaps) {
          putEntry(state, StorageVolumes.snapshotsSpec, {
            project,
            parents: [...parents, name],
            name: s,
            value: {
              name: s,
              description: "",
              config: {},
              content_type: "filesystem",
              created_at: NEVER,
              expires_at: NEVER
            }
          })
        }
        return lifecycle(state, project, "storage-volume-created", volumeUrl(entry))
      })
    )
  }

  /** Copies on their way: the source of each volume being created from one (by its key). */
  const copies = new Map<string, { readonly from: FakeEntry; readonly volumeOnly: boolean }>()
  const volumes = fakeCollection(state, StorageVolumes.spec, {
    label: "Storage volume",
    defaults: (t) => ({ content_type: "filesystem", location: "none", created_at: NEVER, type: t.parents[1]! }),
    computed: (_, entry) => ({
      type: entry.parents[1]!,
      project: entry.project,
      used_by: disksOn(entry.parents[0]!, entry.name).map(instanceUrl)
    }),
    ownCreate: (t) =>
      (t.request.headers["content-type"] ?? "").startsWith("application/octet-stream")
        ? importVolume(t.request)
        : undefined,
    vetoCreate: (t, value) => {
      const source = isObject(t.request.body) && isObject(t.request.body.source) ? t.request.body.source : undefined
      if (source === undefined || source.type !== "copy") return undefined
      const from = findEntry(
        state,
        StorageVolumes.spec,
        t.project,
        [String(source.pool ?? t.parents[0]), "custom"],
        String(source.name)
      )
      if (from === undefined) return M.error(404, "Storage volume not found")
      copies.set(JSON.stringify([t.project, ...t.parents, String(value.name)]), {
        from,
        volumeOnly: source.volume_only === true
      })
      return undefined
    },
    after: {
      created: (entry) =>
        Effect.sync(() => {
          const key = JSON.stringify([entry.project, ...entry.parents, entry.name])
          const copy = copies.get(key)
          copies.delete(key)
          if (copy === undefined) return
          entry.value = { ...entry.value, config: { ...strMap(copy.from.value.config), ...strMap(entry.value.config) } }
          if (!copy.volumeOnly) copySnapshots(copy.from, entry)
        })
    },
    patch: "merge",
    revise: (t, entry, next) =>
      isObject(t.request.body) && typeof t.request.body.restore === "string"
        ? entry.value
        : patchResetsDescription(t.request, next),
    vetoWrite: (t, entry) => {
      const restore = isObject(t.request.body) ? t.request.body.restore : undefined
      if (typeof restore !== "string") return undefined
      return snapshotNames(entry).includes(restore) ? undefined : M.error(404, "Storage volume snapshot not found")
    },
    vetoDelete: (_, entry) =>
      disksOn(entry.parents[0]!, entry.name).length > 0 ? M.error(400, "Storage volume is currently in use") : undefined
  })

  const snapshots = fakeCollection(state, StorageVolumes.snapshotsSpec, {
    label: "Storage volume snapshot",
    newName: (t) =>
      nextName("snap", entriesOf(state, StorageVolumes.snapshotsSpec, t.project, t.parents).map((e) => e.name)),
    defaults: () => ({ config: {}, content_type: "filesystem", created_at: NEVER, expires_at: NEVER })
  })

  const backups = fakeCollection(state, StorageVolumes.backupsSpec, {
    label: "Storage volume backup",
    newName: (t) =>
      nextName("backup", entriesOf(state, StorageVolumes.backupsSpec, t.project, t.parents).map((e) => e.name)),
    defaults: () => ({ created_at: now(), expires_at: NEVER, volume_only: false, optimized_storage: false }),
    after: {
      created: (entry) =>
        Effect.sync(() => {
          const [pool, type, name] = entry.parents as [string, string, string]
          const volume = findEntry(state, StorageVolumes.spec, entry.project, [pool, type], name)
          const index = {
            name,
            description: volume?.value.description ?? "",
            config: volume?.value.config ?? {},
            snapshots: volume === undefined || entry.value.volume_only === true ? [] : snapshotNames(volume)
          }
          tarballs.set(entry, backupTarball(index))
        })
    }
  })

  /** A move to another pool or project (`POST …/{name}` with `pool` or `project`): the volume and its snapshots. */
  const move = (r: M.MockRequest): Effect.Effect<M.MockResponse> | undefined => {
    const b = body(r)
    const project = projectOf(r)
    const pool = r.params.pool!
    const targetPool = typeof b.pool === "string" && b.pool !== "" ? b.pool : pool
    const targetProject = typeof b.project === "string" && b.project !== "" ? b.project : project
    if (targetPool === pool && targetProject === project) return undefined
    const from = findEntry(state, StorageVolumes.spec, project, [pool, r.params.type!], r.params.__name!)
    if (from === undefined) return fail(404, "Storage volume not found")
    if (findEntry(state, StoragePools.spec, "", [], targetPool) === undefined) {
      return fail(404, "Storage pool not found")
    }
    const name = typeof b.name === "string" && b.name !== "" ? b.name : from.name
    return startOperation(
      state,
      project,
      { description: "Moving storage volume" },
      Effect.suspend(() => {
        if (findEntry(state, StorageVolumes.spec, targetProject, [targetPool, "custom"], name) !== undefined) {
          return Effect.fail(new OpFailure(`Volume by that name already exists`))
        }
        const to: FakeEntry = {
          project: targetProject,
          parents: [targetPool, "custom"],
          name,
          value: { ...from.value, name }
        }
        putEntry(state, StorageVolumes.spec, to)
        copySnapshots(from, to)
        for (const s of entriesOf(state, StorageVolumes.snapshotsSpec, from.project, [...from.parents, from.name])) {
          removeEntry(state, StorageVolumes.snapshotsSpec, s)
        }
        removeEntry(state, StorageVolumes.spec, from)
        return lifecycle(state, targetProject, "storage-volume-moved", volumeUrl(to))
      })
    )
  }
  const volumeItem = "/storage-pools/:pool/volumes/:type/:__name"
  const generatedRename = volumes.find((route) => route.method === "POST" && route.pattern === volumeItem)!

  return [
    ...pools,
    M.route(
      "GET",
      "/storage-pools/:pool/resources",
      (r) =>
        findEntry(state, StoragePools.spec, "", [], r.params.pool!) === undefined
          ? fail(404, "Storage pool not found")
          : ok({ space: { used: 23903817728, total: 270553174016 }, inodes: { used: 451065, total: 16777216 } })
    ),
    M.route("GET", "/storage-pools/:pool/volumes", (r) => {
      const pool = r.params.pool!
      if (findEntry(state, StoragePools.spec, "", [], pool) === undefined) return fail(404, "Storage pool not found")
      const all = entriesOf(state, StorageVolumes.spec, projectOf(r)).filter((e) => e.parents[0] === pool)
      return ok(
        r.query.recursion === "1"
          ? all.map((e) => ({ ...e.value, type: e.parents[1], project: e.project, used_by: [] }))
          : all.map(volumeUrl)
      )
    }),
    M.route("POST", volumeItem, (r) => move(r) ?? generatedRename.handler(r)),
    M.route("GET", `${volumeItem}/state`, () => fail(500, "Not supported")),
    ...volumes.filter((route) => route !== generatedRename),
    ...snapshots,
    ...backups,
    M.route("GET", "/storage-pools/:pool/volumes/:type/:volume/backups/:backup/export", (r) => {
      const entry = findEntry(
        state,
        StorageVolumes.backupsSpec,
        projectOf(r),
        [r.params.pool!, r.params.type!, r.params.volume!],
        r.params.backup!
      )
      const tarball = entry === undefined ? undefined : tarballs.get(entry)
      return tarball === undefined
        ? fail(404, "Storage volume backup not found")
        : Effect.succeed(M.raw(tarball.slice(), {
          headers: { "content-type": "application/octet-stream", "content-length": String(tarball.length) }
        }))
    })
  ]
}

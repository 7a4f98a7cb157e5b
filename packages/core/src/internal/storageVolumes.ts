/**
 * The storage volumes service: the collection shape for volumes, their snapshots and backups, plus what is a
 * volume's own (all types, state, restore, local copy and move, backup import, attach and detach).
 *
 * The specs and schemas come from `../StorageVolumes.js`, passed in (that module imports this one).
 *
 * @internal
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import type * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { instancesSpec } from "../InstanceSchema.js"
import type { LxdClient } from "../LxdClient.js"
import { InvalidArgument, type LxdError } from "../LxdError.js"
import type * as LxdResource from "../LxdResource.js"
import type * as SV from "../StorageVolumes.js"
import { withStreamBody } from "./body.js"
import { protocolError, statusError } from "./client.js"
import * as Collection from "./collection.js"
import * as Path from "./path.js"

/** What the public module hands over. @internal */
export interface Specs {
  readonly volumes: typeof SV.spec
  readonly snapshots: typeof SV.snapshotsSpec
  readonly backups: typeof SV.backupsSpec
  readonly state: Schema.Schema<SV.StorageVolumeState, Schema.Schema.Encoded<typeof SV.StorageVolumeState>>
}

const span = (verb: string) => `StorageVolumes.${verb}`

/** The name of the first resource of a kind in an operation (`storage_volumes: ["/1.0/storage_volumes/v1"]`). */
const firstResource = (resources: Readonly<Record<string, ReadonlyArray<string>>> | undefined, kind: string) => {
  const url = resources?.[kind]?.[0]
  // a URL that is not percent-encoded properly names nothing (the caller falls back or fails with ProtocolError)
  return url === undefined ? undefined : Path.lastSegment(url.split("?")[0]!)
}

/** @internal */
export const make = (client: LxdClient.Service, specs: Specs): SV.StorageVolumes.Service => {
  const volumes = Collection.make(client, specs.volumes)
  const snapshots = Collection.make(client, specs.snapshots)
  const backups = Collection.make(client, specs.backups)
  const instances = Collection.make(client, instancesSpec)
  // the volumes of every type: the same shape one level up (`/storage-pools/{pool}/volumes`)
  const allTypes = Collection.make(client, {
    ...specs.volumes,
    name: "StorageVolumes.all",
    path: "/storage-pools/{pool}/volumes",
    parents: ["storage pool"]
  }) as unknown as LxdResource.Collection<[pool: string], SV.StorageVolume, never, never>

  /** `/storage-pools/{pool}/volumes/custom`, the pool's name checked. */
  const customCollection = (pool: string) => Path.build("/storage-pools/", ["storage pool", pool], "/volumes/custom")
  const customVolume = (pool: string, name: string) =>
    Collection.objectPath(client, specs.volumes, [pool, "custom"], name)

  const importBackup: SV.StorageVolumes.Service["importBackup"] = <E>(
    pool: string,
    tarball: Stream.Stream<Uint8Array, E>,
    options?: SV.ImportOptions
  ) =>
    Effect.gen(function*() {
      const path = yield* customCollection(pool)
      if (options?.name !== undefined) yield* Path.validate("storage volume", options.name)
      yield* client.requireExtension("custom_volume_backup")
      const headers: Record<string, string> = options?.name === undefined ? {} : { "X-LXD-name": options.name }
      // the tarball runs inside the transport: its own failure is re-raised as it was
      const result = yield* withStreamBody(
        tarball,
        "application/octet-stream",
        undefined,
        (rawBody) => client.write({ method: "POST", path, rawBody, headers })
      )
      const name = options?.name ?? firstResource(result.operation?.resources, "storage_volumes")
      if (name === undefined) {
        return yield* protocolError({ method: "POST", path }, "the import does not name the volume it created")
      }
      return name
    }).pipe(Effect.withSpan(span("importBackup")))

  /** The instance's devices after `f`, written back with the ETag of the read (`PUT`, maybe async). */
  const changeDevices = (
    instance: string,
    check: (devices: Readonly<Record<string, Readonly<Record<string, string>>>>) => Effect.Effect<void, LxdError>,
    f: (devices: Record<string, Record<string, string>>) => void
  ) =>
    Effect.gen(function*() {
      yield* check((yield* instances.get(instance)).devices)
      yield* instances.modify(instance, (put) => {
        const devices = Object.fromEntries(Object.entries(put.devices ?? {}).map(([k, v]) => [k, { ...v }]))
        f(devices)
        return { ...put, devices }
      })
    })

  return {
    ...volumes,
    listAll: (pool, options) => Effect.withSpan(allTypes.list(pool, options), span("listAll")),
    state: Collection.readPart(client, specs.volumes, {
      verb: "state",
      suffix: "/state",
      schema: specs.state,
      extension: "storage_volume_state"
    }),
    restore: (pool, type, name, snapshot) =>
      Effect.gen(function*() {
        yield* Path.validate("snapshot", snapshot)
        const path = yield* Collection.objectPath(client, specs.volumes, [pool, type], name)
        yield* client.write({ method: "PUT", path, body: { restore: snapshot } })
      }).pipe(Effect.withSpan(span("restore"))),
    copy: (pool, name, options) =>
      Effect.gen(function*() {
        const targetPool = options.targetPool ?? pool
        yield* Path.validate("storage pool", targetPool)
        yield* Path.validate("storage volume", options.targetName)
        if (options.refresh === true) yield* client.requireExtension("custom_volume_refresh")
        // the source's config and description go with it, as the Go client sends them
        const source = yield* volumes.get(pool, "custom", name)
        return yield* volumes.create(targetPool, "custom", {
          name: options.targetName,
          type: "custom",
          description: source.description,
          config: source.config,
          content_type: source.content_type,
          source: {
            type: "copy",
            name,
            pool,
            ...(options.volumeOnly === undefined ? {} : { volume_only: options.volumeOnly }),
            ...(options.refresh === undefined ? {} : { refresh: options.refresh })
          }
        })
      }).pipe(Effect.withSpan(span("copy"))),
    move: (pool, name, options) =>
      Effect.gen(function*() {
        const path = yield* customVolume(pool, name)
        if (options.pool !== undefined) yield* Path.validate("storage pool", options.pool)
        if (options.name !== undefined) yield* Path.validate("storage volume", options.name)
        if (options.project !== undefined) {
          yield* Path.validate("project", options.project)
          yield* client.requireExtension("storage_volume_project_move")
        }
        yield* client.write({
          method: "POST",
          path,
          body: {
            name: options.name ?? name,
            ...(options.pool === undefined ? {} : { pool: options.pool }),
            ...(options.project === undefined ? {} : { project: options.project })
          }
        })
      }).pipe(Effect.withSpan(span("move"))),
    importBackup,
    importBackupFile: (pool, file, options) =>
      Effect.flatMap(FileSystem.FileSystem, (fs) =>
        importBackup(
          pool,
          fs.stream(file).pipe(
            Stream.mapError((e) => new InvalidArgument({ argument: "path", value: file, reason: e.message }))
          ),
          options
        )),
    attach: (pool, name, instance, options = {}) =>
      Effect.gen(function*() {
        const device = options.device ?? name
        yield* Path.validate("storage pool", pool)
        yield* Path.validate("storage volume", name)
        yield* Path.validate("name", device)
        const disk: Record<string, string> = {
          type: "disk",
          pool,
          source: name,
          ...(options.path === undefined ? {} : { path: options.path }),
          ...(options.readOnly === true ? { readonly: "true" } : {})
        }
        yield* changeDevices(
          instance,
          (devices) =>
            devices[device] === undefined ? Effect.void : Effect.fail(
              new InvalidArgument({
                argument: "device",
                value: device,
                reason: "the instance has a device of that name"
              })
            ),
          (devices) => {
            devices[device] = disk
          }
        )
      }).pipe(Effect.withSpan(span("attach"))),
    detach: (instance, device) =>
      Effect.gen(function*() {
        yield* Path.validate("name", device)
        const path = yield* Path.build("/instances/", ["instance", instance])
        yield* changeDevices(
          instance,
          (devices) =>
            devices[device] !== undefined
              ? Effect.void
              : Effect.fail(statusError({ method: "PUT", path }, 404, `Device "${device}" not found`)),
          (devices) => {
            delete devices[device]
          }
        )
      }).pipe(Effect.withSpan(span("detach"))),
    snapshots: {
      ...snapshots,
      create: (pool, type, volume, body = {}) =>
        Effect.gen(function*() {
          if (body.name !== undefined) return yield* snapshots.create(pool, type, volume, body)
          // LXD picks the name and (5.0.2) says it nowhere: the one name the list did not have before
          const before = new Set(yield* snapshots.listNames(pool, type, volume))
          const path = yield* Collection.objectPath(client, specs.volumes, [pool, type], volume, "/snapshots")
          yield* client.write({ method: "POST", path, body })
          const added = (yield* snapshots.listNames(pool, type, volume)).filter((n) => !before.has(n))
          if (added.length !== 1) {
            return yield* protocolError(
              { method: "POST", path },
              `the snapshot was created but ${added.length} new names are listed`
            )
          }
          return added[0]!
        }).pipe(Effect.withSpan(span("snapshots.create")))
    },
    backups: {
      ...backups,
      export: Collection.downloadPart(client, specs.backups, { verb: "export", suffix: "/export" }),
      exportTo: Collection.downloadPartTo(client, specs.backups, { verb: "exportTo", suffix: "/export" })
    }
  }
}

/**
 * The in-memory fake LXD: state, operations and events. Routes live in `fakeRoutes.ts`.
 *
 * @internal
 */
import type { LxdTransport } from "@effect-lxd/core/LxdTransport"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as PubSub from "effect/PubSub"
import type * as Scope from "effect/Scope"
import * as M from "../LxdMockTransport.js"

/** @internal */
export type Json = Record<string, unknown>

/** @internal */
export interface FakeSnapshot {
  name: string
  created_at: string
  expires_at: string
  stateful: boolean
  description: string
  config: Record<string, string>
  devices: Record<string, Record<string, string>>
  profiles: Array<string>
  ephemeral: boolean
  files: Map<string, FakeFile>
}

/** @internal */
export interface FakeInstance {
  name: string
  project: string
  type: string
  description: string
  status: "Running" | "Stopped" | "Frozen"
  created_at: string
  last_used_at: string
  ephemeral: boolean
  profiles: Array<string>
  config: Record<string, string>
  devices: Record<string, Record<string, string>>
  snapshots: Map<string, FakeSnapshot>
  /** The instance's filesystem: absolute path → entry (see `fakeFiles.ts`). */
  files: Map<string, FakeFile>
  /** Its backups, by name (see `fakeInstanceParts.ts`; absent = none yet). */
  backups?: Map<string, FakeBackup>
  /** Its image metadata (`metadata.yaml`) once written; absent = what its image gave it. */
  metadata?: Json
  /** Its template files, by name. */
  templates?: Map<string, Uint8Array>
  /** Its console log; absent while it has never run (no console.log file yet). */
  console?: string
  /** The cluster member it runs on (`fakeCluster.ts`'s `placement`); absent on a standalone fake (`none`). */
  location?: string
}

/** A backup of an instance, with the tarball it was taken as. @internal */
export interface FakeBackup {
  name: string
  readonly created_at: string
  readonly expires_at: string
  readonly instance_only: boolean
  readonly optimized_storage: boolean
  readonly compression_algorithm: string
  readonly tarball: Uint8Array
}

/** @internal */
export type FakeFile =
  | { readonly type: "file"; content: Uint8Array; uid: number; gid: number; mode: number; modified: string }
  | { readonly type: "directory"; uid: number; gid: number; mode: number; modified: string }
  | { readonly type: "symlink"; target: string; uid: number; gid: number; mode: number; modified: string }

/** A deep copy of a filesystem (snapshots, restores, copies). @internal */
export const cloneFiles = (files: Map<string, FakeFile>): Map<string, FakeFile> => {
  const out = new Map<string, FakeFile>()
  for (const [p, f] of files) out.set(p, f.type === "file" ? { ...f, content: f.content.slice() } : { ...f })
  return out
}

/** A fresh root filesystem: the directories a busybox image has. @internal */
export const rootFilesystem = (): Map<string, FakeFile> => {
  const files = new Map<string, FakeFile>()
  const dir = (mode = 0o755): FakeFile => ({ type: "directory", uid: 0, gid: 0, mode, modified: now() })
  for (const p of ["/", "/bin", "/dev", "/etc", "/proc", "/root", "/sbin", "/sys", "/tmp", "/var"]) {
    files.set(p, dir(p === "/tmp" ? 0o1777 : p === "/root" ? 0o700 : 0o755))
  }
  files.set("/etc/hostname", {
    type: "file",
    content: new TextEncoder().encode("fake\n"),
    uid: 0,
    gid: 0,
    mode: 0o644,
    modified: now()
  })
  return files
}

/**
 * An object of a collection the fake serves from its spec (`fakeCollection.ts`): where it lives (project and
 * parents' names), its name and what is stored of it (the writable fields and what `POST` set; computed fields are
 * added when it is read).
 *
 * @internal
 */
export interface FakeEntry {
  /** `""` in a collection that is not per project (projects themselves). */
  readonly project: string
  readonly parents: ReadonlyArray<string>
  name: string
  value: Json
}

/**
 * The store of one collection served from its spec, with what other collections need to know of it (a nested
 * collection checks that its parent exists, and follows it when it is renamed or deleted).
 *
 * @internal
 */
export interface FakeStore {
  /** `Profile` (`Profile not found`). */
  readonly label: string
  /** Where the objects of a request's project live (`""` for a store of every project). */
  readonly scope: (requested: string) => string
  /** The order of its lists. */
  readonly order: "name" | "created"
  /** (project, parents' names, name) → object. */
  readonly entries: Map<string, FakeEntry>
}

/** @internal */
export interface FakeOperation {
  readonly op: Json
  readonly project: string
  readonly done: Deferred.Deferred<void>
  fiber: Fiber.RuntimeFiber<unknown, unknown> | undefined
}

/** The fake's clock of record: real time, formatted as LXD does. @internal */
export const now = (): string => new Date().toISOString().replace("Z", "000000Z")

/** LXD's "never". @internal */
export const NEVER = "0001-01-01T00:00:00Z"

/** A fresh UUID-shaped id, from this fake's own counter. @internal */
export const uuid = (state: FakeState): string => {
  const n = ++state.counters.uuid
  const hex = (x: number, len: number) => x.toString(16).padStart(len, "0").slice(-len)
  return `${hex(Date.now(), 8)}-${hex(n, 4)}-4${hex(n * 7, 3)}-8${hex(n * 13, 3)}-${
    hex(Math.floor(Math.random() * 2 ** 48), 12)
  }`
}

/** A stable hash (FNV-1a, 64 hex digits by repetition) for ETags and fingerprints. @internal */
export const hash = (text: string): string => {
  let out = ""
  for (let round = 0; round < 8; round++) {
    let h = 0x811c9dc5 ^ round
    for (let i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i)
      h = Math.imul(h, 0x01000193)
    }
    out += (h >>> 0).toString(16).padStart(8, "0")
  }
  return out
}

const K256 = Array.from({ length: 64 }, (_, i) => {
  // the first 32 bits of the fractional parts of the cube roots of the first 64 primes
  const primes: Array<number> = []
  for (let n = 2; primes.length < 64; n++) if (primes.every((p) => n % p !== 0)) primes.push(n)
  return Math.floor((Math.cbrt(primes[i]!) % 1) * 2 ** 32) >>> 0
})

/** SHA-256 (hex) of some bytes, as LXD fingerprints certificates and images; synchronous. @internal */
export const sha256 = (bytes: Uint8Array): string => {
  const h = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
  const length = Math.ceil((bytes.length + 9) / 64) * 64
  const data = new Uint8Array(length)
  data.set(bytes)
  data[bytes.length] = 0x80
  const view = new DataView(data.buffer)
  view.setUint32(length - 8, Math.floor(bytes.length / 2 ** 29))
  view.setUint32(length - 4, (bytes.length * 8) >>> 0)
  const w = new Array<number>(64)
  const rotr = (x: number, n: number) => (x >>> n) | (x << (32 - n))
  for (let block = 0; block < length; block += 64) {
    for (let i = 0; i < 64; i++) {
      w[i] = i < 16 ? view.getUint32(block + i * 4) : (
        (rotr(w[i - 2]!, 17) ^ rotr(w[i - 2]!, 19) ^ (w[i - 2]! >>> 10)) + w[i - 7]! +
        (rotr(w[i - 15]!, 7) ^ rotr(w[i - 15]!, 18) ^ (w[i - 15]! >>> 3)) + w[i - 16]!
      ) >>> 0
    }
    let [a, b, c, d, e, f, g, k] = h as [number, number, number, number, number, number, number, number]
    for (let i = 0; i < 64; i++) {
      const t1 = (k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K256[i]! + w[i]!) >>> 0
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0
      ;[k, g, f, e, d, c, b, a] = [g, f, e, (d + t1) >>> 0, c, b, a, (t1 + t2) >>> 0]
    }
    ;[a, b, c, d, e, f, g, k].forEach((x, i) => (h[i] = (h[i]! + x) >>> 0))
  }
  return h.map((x) => x.toString(16).padStart(8, "0")).join("")
}

/** Extensions the fake implements (a subset of LXD 5.0.2's). @internal */
export const DEFAULT_EXTENSIONS: ReadonlyArray<string> = [
  "storage_zfs_remove_snapshots",
  "container_host_shutdown_timeout",
  "etag",
  "patch",
  "certificate_update",
  "container_exec_recording",
  "console",
  "console_vga_type",
  "file_delete",
  "file_append",
  "file_symlinks",
  "container_exec_signal_handling",
  "api_filtering",
  "instances",
  "instance_types",
  "projects",
  "event_lifecycle",
  "event_location",
  "event_project",
  "event_lifecycle_requestor",
  "instance_get_full",
  "instance_all_projects",
  "instance_bulk_state_change",
  "instance_pool_move",
  "instance_project_move",
  "certificate_token",
  "image_create_aliases",
  "images_push_relay",
  "image_source_project",
  "resources",
  "operation_description",
  "snapshot_expiry",
  "snapshot_expiry_creation",
  "container_exec_user_group_cwd",
  "instance_file_head",
  "project_usage",
  "warnings",
  "metrics",
  // networks (5.0.2 has them all but network_load_balancer, which a fake is given by its `extensions` option)
  "network",
  "network_leases",
  "network_state",
  "network_state_bond_bridge",
  "network_state_vlan",
  "network_counters_errors_dropped",
  "projects_networks",
  "network_acl",
  "network_acl_log",
  "network_forward",
  "network_peer",
  "network_dns",
  "network_dns_records",
  // storage
  "storage",
  "storage_api_volume_rename",
  "storage_api_local_volume_handling",
  "storage_api_volume_snapshots",
  "custom_volume_snapshot_expiry",
  "custom_volume_backup",
  "backup_compression_algorithm",
  "storage_volume_state",
  "custom_volume_refresh",
  "storage_volume_project_move",
  "storage_volume_api_filtering",
  "storage_volumes_all_projects",
  // clustering
  "clustering",
  "clustering_join_token",
  "clustering_evacuation",
  "clustering_config",
  "clustering_roles",
  "clustering_failure_domains",
  "clustering_groups"
]

/** @internal */
export interface FakeOptions {
  readonly extensions?: ReadonlyArray<string> | undefined
  readonly serverName?: string | undefined
  /** How long finished operations stay visible (LXD: 5 seconds). */
  readonly operationRetention?: number | undefined
  /** The members of a clustered fake (`fakeCluster.ts`); none: a standalone server. */
  readonly clusterMembers?: ReadonlyArray<string> | undefined
  /** `host:port` the fake says it listens on (`environment.addresses`), for copies from it. */
  readonly address?: string | undefined
  /** Other servers an image copy may pull from or push to, by URL (`https://host:port`): their transports. */
  readonly remotes?: Readonly<Record<string, LxdTransport.Service>> | undefined
  /** How an import from a URL downloads (default: the web's `fetch`). */
  readonly fetch?: Fetch | undefined
}

/** A fetch-like function: the web's `fetch`, or what a test gives the fake. @internal */
export type Fetch = (input: string, init?: RequestInit) => Promise<Response>

/**
 * The fake's state and its two engines: operations (run in fibers of the layer's scope) and events (a PubSub
 * the `/events` websockets subscribe to).
 *
 * @internal
 */
export interface FakeState {
  readonly options: FakeOptions
  readonly extensions: Array<string>
  readonly config: Record<string, string>
  readonly instances: Map<string, FakeInstance>
  readonly operations: Map<string, FakeOperation>
  /** The stores of the collections served from their specs: spec path → (project, parents, name) → object. */
  readonly collections: Map<string, FakeStore>
  /** This fake's counters (ids, generated instance names): no module-level state, each fake starts afresh. */
  readonly counters: { uuid: number; names: number }
  readonly events: PubSub.PubSub<{ readonly type: string; readonly project: string; readonly text: string }>
  readonly scope: Scope.Scope
}

/** @internal */
export const key = (project: string, name: string) => `${project}/${name}`

/** @internal */
export const makeState = (options: FakeOptions, scope: Scope.Scope): Effect.Effect<FakeState> =>
  Effect.map(
    PubSub.unbounded<{ readonly type: string; readonly project: string; readonly text: string }>(),
    (events) => {
      const state: FakeState = {
        options,
        extensions: [...(options.extensions ?? DEFAULT_EXTENSIONS)],
        config: { "core.https_address": "", "core.trust_password": "" },
        instances: new Map(),
        operations: new Map(),
        collections: new Map(),
        counters: { uuid: 0, names: 0 },
        events,
        scope
      }
      return state
    }
  )

/** Emits one event to every matching listener. @internal */
export const emit = (state: FakeState, type: string, project: string, metadata: unknown): Effect.Effect<void> =>
  Effect.asVoid(PubSub.publish(state.events, {
    type,
    project,
    text: JSON.stringify({ type, timestamp: now(), metadata, location: "none", project })
  }))

/** A lifecycle event as LXD emits it. @internal */
export const lifecycle = (
  state: FakeState,
  project: string,
  action: string,
  source: string,
  context: Json = {}
): Effect.Effect<void> =>
  emit(state, "lifecycle", project, {
    action,
    source,
    context,
    requestor: { username: "root", protocol: "unix", address: "@" }
  })

/** A failure inside an operation: LXD reports it as the operation's `err`. @internal */
export class OpFailure {
  constructor(readonly message: string, readonly metadata?: unknown) {}
}

/**
 * Starts an operation: answers `202` at once, runs `work` in a fiber, moves the operation to Success (with the
 * work's metadata) or Failure (`OpFailure`), emits operation events on each change, and forgets it
 * `operationRetention` ms after it ends. A `work` function is given an `update` that sets the running
 * operation's metadata (progress, as LXD reports it), with its event.
 *
 * @internal
 */
export const startOperation = (
  state: FakeState,
  project: string,
  options: {
    readonly description: string
    readonly resources?: Record<string, Array<string>>
    readonly class?: string
    readonly mayCancel?: boolean
    readonly metadata?: unknown
  },
  work:
    | Effect.Effect<unknown, OpFailure>
    | ((update: (metadata: Json) => Effect.Effect<void>) => Effect.Effect<unknown, OpFailure>)
): Effect.Effect<M.MockResponse> =>
  Effect.gen(function*() {
    const id = uuid(state)
    const created = now()
    const op: Json = {
      id,
      class: options.class ?? "task",
      description: options.description,
      created_at: created,
      updated_at: created,
      status: "Running",
      status_code: 103,
      resources: options.resources ?? null,
      metadata: options.metadata ?? null,
      may_cancel: options.mayCancel ?? false,
      err: "",
      location: "none"
    }
    const done = yield* Deferred.make<void>()
    const entry: FakeOperation = { op, project, done, fiber: undefined }
    state.operations.set(id, entry)
    yield* emit(state, "operation", project, { ...op })
    const finish = (status: string, code: number, fields: Json) =>
      Effect.gen(function*() {
        if ((op.status_code as number) >= 200) return
        Object.assign(op, { status, status_code: code, updated_at: now(), may_cancel: false }, fields)
        yield* emit(state, "operation", project, { ...op })
        yield* Deferred.succeed(done, undefined)
        // forked interruptible: this may run in an interruption's finaliser, and must not hold the scope open
        yield* Effect.sleep(state.options.operationRetention ?? 5000).pipe(
          Effect.zipRight(Effect.sync(() => state.operations.delete(id))),
          Effect.interruptible,
          Effect.forkIn(state.scope)
        )
      })
    entry.fiber = yield* Effect.yieldNow().pipe(
      Effect.zipRight(
        typeof work === "function"
          ? work((metadata) =>
            Effect.suspend(() => {
              if ((op.status_code as number) >= 200) return Effect.void
              Object.assign(op, { metadata, updated_at: now() })
              return emit(state, "operation", project, { ...op })
            })
          )
          : work
      ),
      // a defect in the fake's own work ends the operation as a failure, never leaves it running
      Effect.catchAllDefect((d) => Effect.fail(new OpFailure(String(d)))),
      Effect.matchEffect({
        onSuccess: (metadata) =>
          finish("Success", 200, metadata === undefined ? {} : { metadata: metadata ?? op.metadata }),
        onFailure: (failure) =>
          finish("Failure", 400, {
            err: failure.message,
            ...(failure.metadata === undefined ? {} : { metadata: failure.metadata })
          })
      }),
      Effect.onInterrupt(() => finish("Cancelled", 401, { err: "Operation cancelled" })),
      // server-side work: interruptible whatever region the request arrived from
      Effect.interruptible,
      Effect.forkIn(state.scope)
    )
    return M.async({ ...op })
  })

/** Cancels a running operation (`DELETE /1.0/operations/{id}`). @internal */
export const cancelOperation = (entry: FakeOperation): Effect.Effect<void> =>
  entry.fiber === undefined ? Effect.void : Effect.asVoid(Fiber.interrupt(entry.fiber))

/** A new instance: stopped, never used, without snapshots. @internal */
export const newInstance = (
  fields: Omit<FakeInstance, "status" | "created_at" | "last_used_at" | "snapshots">
): FakeInstance => ({ ...fields, status: "Stopped", created_at: now(), last_used_at: NEVER, snapshots: new Map() })

/** LXD 5.0.2's failure when an instance lands on a name that is taken (a create, an import, a move). @internal */
export const INSTANCE_EXISTS =
  "Failed creating instance record: Add instance info to the database: This \"instances\" entry already exists"

/**
 * The operation that adds a new instance (a create, a backup import): it fails as LXD's database does when the
 * name was taken meanwhile, or with what `check` fails with. @internal
 */
export const addInstance = (
  state: FakeState,
  instance: FakeInstance,
  description: string,
  check: Effect.Effect<void, OpFailure> = Effect.void
): Effect.Effect<M.MockResponse> => {
  const url = `/1.0/instances/${instance.name}`
  const k = key(instance.project, instance.name)
  return startOperation(
    state,
    instance.project,
    { description, resources: { instances: [url], containers: [url.replace("instances", "containers")] } },
    Effect.gen(function*() {
      if (state.instances.has(k)) return yield* Effect.fail(new OpFailure(INSTANCE_EXISTS))
      yield* check
      state.instances.set(k, instance)
      yield* lifecycle(state, instance.project, "instance-created", url)
    })
  )
}

/** Renames an entry of a map kept by name (snapshots, backups); returns its old name. @internal */
export const renameEntry = <T extends { name: string }>(map: Map<string, T>, entry: T, name: string): string => {
  const old = entry.name
  map.delete(old)
  entry.name = name
  map.set(name, entry)
  return old
}

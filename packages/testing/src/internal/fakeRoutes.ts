/**
 * The fake's REST surface: the routes it implements, answering as LXD 5.0.2 does (envelopes, operations,
 * error texts, lifecycle events). The collections on the shared shape (profiles, projects, warnings,
 * certificates, images and aliases, …) are generated from their specs (`fakeCollection.ts`, with each one's hooks
 * in `fake<Name>.ts`); server, operations, events, instances, files and exec are written here, an instance's backups, logs,
 * metadata, templates and console log in `fakeInstanceParts.ts`. Anything else is a defect
 * naming the endpoint.
 *
 * @internal
 */
import * as Projects from "@effect-lxd/core/Projects"
import * as StoragePools from "@effect-lxd/core/StoragePools"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as PubSub from "effect/PubSub"
import * as Stream from "effect/Stream"
import * as M from "../LxdMockTransport.js"
import { certificateRoutes } from "./fakeCertificates.js"
import { clusterRoutes, moveToMember, placement } from "./fakeCluster.js"
import { filterMatches, findEntry } from "./fakeCollection.js"
import {
  addInstance,
  cancelOperation,
  cloneFiles,
  type FakeFile,
  type FakeInstance,
  type FakeState,
  INSTANCE_EXISTS,
  type Json,
  key,
  lifecycle,
  NEVER,
  newInstance,
  now,
  OpFailure,
  renameEntry,
  rootFilesystem,
  startOperation,
  uuid
} from "./fakeCore.js"
import { execEndpoints, type ExecHandler } from "./fakeExec.js"
import { fileRoutes } from "./fakeFiles.js"
import { body, devMap, etagOf, fail, mergeConfig, ok, projectOf, type Route, staleEtag, strMap } from "./fakeHttp.js"
import { imageFor, imageRoutes } from "./fakeImages.js"
import { backupJson, importBackup, instancePartRoutes } from "./fakeInstanceParts.js"
import { networkRoutes } from "./fakeNetworks.js"
import { profileOf, profileRoutes } from "./fakeProfiles.js"
import { projectRoutes } from "./fakeProjects.js"
import { storageRoutes } from "./fakeStorage.js"
import { warningRoutes } from "./fakeWarnings.js"

// ------------------------------------------------------------------------------------------------------------
// server

const serverInfo = (state: FakeState) => ({
  api_extensions: state.extensions,
  api_status: "stable",
  api_version: "1.0",
  auth: "trusted",
  public: false,
  auth_methods: ["tls"],
  config: { ...state.config, ...(state.config["core.trust_password"] ? { "core.trust_password": true } : {}) },
  environment: {
    addresses: state.options.address === undefined ? [] : [state.options.address],
    architectures: ["x86_64", "i686"],
    certificate: state.options.address === undefined ? "" : `fake certificate of ${state.options.address}`,
    certificate_fingerprint: "",
    driver: "lxc",
    driver_version: "5.0.2",
    firewall: "nftables",
    kernel: "Linux",
    kernel_architecture: "x86_64",
    kernel_features: {},
    kernel_version: "6.1.0",
    lxc_features: {},
    os_name: "Debian GNU/Linux",
    os_version: "12",
    project: "default",
    server: "lxd",
    server_clustered: (state.options.clusterMembers ?? []).length > 0,
    server_event_mode: "full-mesh",
    server_name: state.options.serverName ?? "fake",
    server_pid: 1,
    server_version: "5.0.2",
    storage: "dir",
    storage_version: "1",
    storage_supported_drivers: [{ Name: "dir", Version: "1", Remote: false }]
  }
})

const serverRoutes = (state: FakeState): Array<Route> => {
  const writeConfig = (merge: boolean) => (r: M.MockRequest) => {
    const stale = staleEtag(r, state.config)
    if (stale) return stale
    if (!merge) { for (const k of Object.keys(state.config)) delete state.config[k] }
    mergeConfig(state.config, body(r).config)
    return ok({})
  }
  return [
    M.route("GET", "", () => ok(serverInfo(state), { etag: etagOf(state.config) })),
    M.route("PUT", "", writeConfig(false)),
    M.route("PATCH", "", writeConfig(true)),
    M.route("GET", "/resources", () =>
      ok({
        cpu: { architecture: "x86_64", total: 2, sockets: [{ name: "fake", vendor: "fake", socket: 0, cores: [] }] },
        memory: { used: 1 << 30, total: 24 << 30 }
      })),
    // OpenMetrics text as LXD writes it: a family's HELP and TYPE, series of running instances, `# EOF`
    M.route("GET", "/metrics", (r) => {
      const running = [...state.instances.values()].filter((i) =>
        i.status === "Running" && (r.query.project === undefined || i.project === r.query.project)
      )
      const series = (i: FakeInstance) => `name="${i.name}",project="${i.project}",type="${i.type}"`
      const lines = [
        "# HELP lxd_procs_total The number of running processes.",
        "# TYPE lxd_procs_total gauge",
        ...running.map((i) => `lxd_procs_total{${series(i)}} 2`),
        "# HELP lxd_memory_MemTotal_bytes The amount of used memory.",
        "# TYPE lxd_memory_MemTotal_bytes gauge",
        ...running.map((i) => `lxd_memory_MemTotal_bytes{${series(i)}} 25769803776`),
        "# HELP lxd_go_goroutines Number of goroutines that currently exist.",
        "# TYPE lxd_go_goroutines gauge",
        "lxd_go_goroutines 42",
        "# EOF",
        ""
      ]
      return Effect.succeed(M.raw(lines.join("\n"), { headers: { "content-type": "text/plain; version=0.0.4" } }))
    })
  ]
}

// ------------------------------------------------------------------------------------------------------------
// operations and events

const operationRoutes = (state: FakeState): Array<Route> => [
  M.route("GET", "/operations", (r) => {
    const byStatus: Record<string, Array<unknown>> = {}
    for (const entry of state.operations.values()) {
      if (r.query["all-projects"] !== "true" && entry.project !== projectOf(r)) continue
      const status = String(entry.op.status).toLowerCase()
      ;(byStatus[status] ??= []).push(r.query.recursion === "1" ? { ...entry.op } : `/1.0/operations/${entry.op.id}`)
    }
    return ok(byStatus)
  }),
  M.route("GET", "/operations/:id", (r) => {
    const entry = state.operations.get(r.params.id!)
    return entry ? ok({ ...entry.op }) : fail(404, "Operation not found")
  }),
  M.route("DELETE", "/operations/:id", (r) => {
    const entry = state.operations.get(r.params.id!)
    if (!entry) return fail(404, "Operation not found")
    if (entry.op.may_cancel !== true) return fail(400, "This operation can't be cancelled")
    return Effect.as(cancelOperation(entry), M.sync({}))
  }),
  M.route("GET", "/operations/:id/wait", (r) =>
    Effect.gen(function*() {
      const entry = state.operations.get(r.params.id!)
      if (!entry) return M.error(404, "Operation not found")
      const timeout = Number(r.query.timeout ?? "-1")
      const wait = Deferred.await(entry.done)
      yield* timeout < 0 ? wait : Effect.timeoutOption(wait, timeout * 1000)
      return M.sync({ ...entry.op })
    }))
]

const eventSockets = (state: FakeState): Array<M.Route<M.SocketHandler>> => [
  M.route("GET", "/events", (r) =>
    Effect.gen(function*() {
      const types = r.query.type ? r.query.type.split(",") : undefined
      const all = r.query["all-projects"] === "true"
      const project = projectOf(r)
      const subscription = yield* PubSub.subscribe(state.events)
      return M.socket(
        Stream.fromQueue(subscription).pipe(
          Stream.filter((e) => (types === undefined || types.includes(e.type)) && (all || e.project === project)),
          Stream.map((e) => e.text)
        )
      )
    }))
]

// ------------------------------------------------------------------------------------------------------------
// instances

const statusCode = { Running: 103, Stopped: 102, Frozen: 110 } as const

const expanded = (state: FakeState, i: FakeInstance) => {
  const config: Record<string, string> = {}
  const devices: Record<string, Record<string, string>> = {}
  for (const name of i.profiles) {
    const p = profileOf(state, i.project, name)?.value
    if (p) {
      Object.assign(config, p.config)
      Object.assign(devices, p.devices)
    }
  }
  return { config: { ...config, ...i.config }, devices: { ...devices, ...i.devices } }
}

const instanceWritable = (i: FakeInstance) => ({
  architecture: "x86_64",
  config: i.config,
  devices: i.devices,
  ephemeral: i.ephemeral,
  profiles: i.profiles,
  stateful: false,
  description: i.description
})

const instanceJson = (state: FakeState, i: FakeInstance) => {
  const x = expanded(state, i)
  return {
    ...instanceWritable(i),
    created_at: i.created_at,
    expanded_config: x.config,
    expanded_devices: x.devices,
    name: i.name,
    status: i.status,
    status_code: statusCode[i.status],
    last_used_at: i.last_used_at,
    location: i.location ?? "none",
    type: i.type,
    project: i.project
  }
}

const stateJson = (i: FakeInstance) => ({
  status: i.status,
  status_code: statusCode[i.status],
  disk: {},
  memory: { usage: i.status === "Stopped" ? 0 : 1_048_576, usage_peak: 0, swap_usage: 0, swap_usage_peak: 0 },
  network: i.status === "Stopped" ? null : {
    lo: {
      addresses: [{ family: "inet", address: "127.0.0.1", netmask: "8", scope: "local" }],
      counters: { bytes_received: 0, bytes_sent: 0, packets_received: 0, packets_sent: 0 },
      hwaddr: "",
      host_name: "",
      mtu: 65536,
      state: "up",
      type: "loopback"
    }
  },
  pid: i.status === "Stopped" ? 0 : 4242,
  processes: i.status === "Stopped" ? 0 : 1,
  cpu: { usage: 0 }
})

const snapshotJson = (i: FakeInstance, s: FakeInstance["snapshots"] extends Map<string, infer S> ? S : never) => ({
  architecture: "x86_64",
  config: s.config,
  created_at: s.created_at,
  description: s.description,
  devices: s.devices,
  ephemeral: s.ephemeral,
  expanded_config: s.config,
  expanded_devices: s.devices,
  expires_at: s.expires_at,
  last_used_at: NEVER,
  name: s.name,
  profiles: s.profiles,
  size: 0,
  stateful: s.stateful,
  instance: i.name
})

const adjectives = ["brave", "calm", "eager", "fair", "gentle", "happy", "jolly", "keen", "lively", "merry"]
const animals = ["otter", "lynx", "heron", "badger", "falcon", "marten", "osprey", "beaver", "ibex", "wren"]

const instanceRoutes = (state: FakeState): Array<Route> => {
  const find = (r: M.MockRequest) => state.instances.get(key(projectOf(r), r.params.name!))
  const source = (i: FakeInstance) => `/1.0/instances/${i.name}`

  const changeState = (i: FakeInstance, action: string, force: boolean): Effect.Effect<void, OpFailure> =>
    Effect.gen(function*() {
      const src = source(i)
      switch (action) {
        case "start":
          if (i.status === "Running") return yield* Effect.fail(new OpFailure("The instance is already running"))
          if (i.status === "Frozen") return yield* Effect.fail(new OpFailure("The instance is frozen"))
          i.status = "Running"
          i.last_used_at = now()
          i.config["volatile.last_state.power"] = "RUNNING"
          i.console = `${i.console ?? ""}[fake] ${i.name} started at ${i.last_used_at}\n`
          return yield* lifecycle(state, i.project, "instance-started", src)
        case "stop":
          if (i.status === "Stopped") return yield* Effect.fail(new OpFailure("The instance is already stopped"))
          i.status = "Stopped"
          i.config["volatile.last_state.power"] = "STOPPED"
          yield* lifecycle(state, i.project, force ? "instance-stopped" : "instance-shutdown", src)
          if (i.ephemeral) {
            state.instances.delete(key(i.project, i.name))
            yield* lifecycle(state, i.project, "instance-deleted", src)
          }
          return
        case "restart":
          if (i.status !== "Running") return yield* Effect.fail(new OpFailure("The instance isn't running"))
          i.last_used_at = now()
          return yield* lifecycle(state, i.project, "instance-restarted", src)
        case "freeze":
          if (i.status === "Frozen") return yield* Effect.fail(new OpFailure("The container is already frozen"))
          if (i.status !== "Running") return yield* Effect.fail(new OpFailure("The instance isn't running"))
          i.status = "Frozen"
          return yield* lifecycle(state, i.project, "instance-paused", src)
        case "unfreeze":
          if (i.status !== "Frozen") return yield* Effect.fail(new OpFailure("The container is already running"))
          i.status = "Running"
          return yield* lifecycle(state, i.project, "instance-resumed", src)
        default:
          return yield* Effect.fail(new OpFailure(`Unknown action ${action}`))
      }
    })

  const write = (merge: boolean) => (r: M.MockRequest) => {
    const i = find(r)
    if (!i) return fail(404, "Instance not found")
    const stale = staleEtag(r, instanceWritable(i))
    if (stale) return stale
    const b = body(r)
    if (!merge && typeof b.restore === "string" && b.restore !== "") {
      const snap = i.snapshots.get(b.restore)
      if (!snap) return fail(404, "Instance snapshot not found")
      return startOperation(
        state,
        i.project,
        { description: "Restoring snapshot", resources: { instances: [source(i)] } },
        Effect.gen(function*() {
          i.config = { ...snap.config }
          i.devices = { ...snap.devices }
          i.profiles = [...snap.profiles]
          i.files = cloneFiles(snap.files)
          yield* lifecycle(state, i.project, "instance-restored", source(i), { snapshot: snap.name })
        })
      )
    }
    const apply = Effect.gen(function*() {
      // 5.0.2 (lxd/instance_patch.go): a PATCH without description resets it
      i.description = typeof b.description === "string" ? b.description : ""
      if (merge) {
        mergeConfig(i.config, b.config)
        Object.assign(i.devices, devMap(b.devices))
        if (Array.isArray(b.profiles)) i.profiles = b.profiles.map(String)
        if (typeof b.ephemeral === "boolean") i.ephemeral = b.ephemeral
      } else {
        const volatile = Object.entries(i.config).filter(([k]) => k.startsWith("volatile.") || k.startsWith("image."))
        i.config = { ...Object.fromEntries(volatile), ...strMap(b.config) }
        i.devices = devMap(b.devices)
        i.profiles = Array.isArray(b.profiles) ? b.profiles.map(String) : []
        i.ephemeral = b.ephemeral === true
      }
      yield* lifecycle(state, i.project, "instance-updated", source(i))
    })
    // PUT is an operation, PATCH is sync (as in LXD)
    return merge ? Effect.zipRight(apply, ok({})) : startOperation(
      state,
      i.project,
      { description: "Updating instance", resources: { instances: [source(i)] } },
      apply
    )
  }

  /**
   * A move inside the server (`POST /instances/{name}` with `migration` and `pool` or `project`), as 5.0.2 does
   * it: a stopped instance only; the pool wins over the project when both are given; the root disk is pinned in
   * the instance's own devices; a pool move goes through a temporary name (its events say so).
   */
  const moveWithin = (i: FakeInstance, b: Json): Effect.Effect<M.MockResponse> | undefined => {
    const pool = typeof b.pool === "string" && b.pool !== "" ? b.pool : undefined
    const project = pool === undefined && typeof b.project === "string" && b.project !== "" ? b.project : undefined
    if (pool === undefined && project === undefined) return undefined
    const name = typeof b.name === "string" && b.name !== "" ? b.name : i.name
    const target = project ?? i.project
    const urlIn = (p: string, n: string) => `/1.0/instances/${n}${p === "default" ? "" : `?project=${p}`}`
    return startOperation(
      state,
      i.project,
      { description: "Migrating instance", resources: { instances: [source(i)] } },
      Effect.gen(function*() {
        if (i.status !== "Stopped") {
          return yield* Effect.fail(
            new OpFailure(
              pool !== undefined && b.live === false
                ? "Instance must be stopped to move between pools statelessly"
                : "Unable to perform container live migration. CRIU isn't installed"
            )
          )
        }
        if (pool !== undefined && findEntry(state, StoragePools.spec, "", [], pool) === undefined) {
          return yield* Effect.fail(
            new OpFailure(
              "Failed creating instance record: Failed initialising instance: Failed loading storage pool: Storage pool not found"
            )
          )
        }
        if (project !== undefined && findEntry(state, Projects.spec, "", [], project) === undefined) {
          return yield* Effect.fail(new OpFailure("Failed creating instance record: Project not found"))
        }
        // a pool move lands on a temporary name first, so only another instance takes its name
        const taken = state.instances.get(key(target, name))
        if (taken !== undefined && (taken !== i || pool === undefined)) {
          return yield* Effect.fail(new OpFailure(INSTANCE_EXISTS))
        }
        const root = Object.entries(expanded(state, i).devices).find(([, d]) => d.type === "disk" && d.path === "/")
        if (root !== undefined) i.devices[root[0]] = { ...root[1], ...(pool === undefined ? {} : { pool }) }
        const from = { project: i.project, name: i.name }
        const landing = pool === undefined ? name : `lxd-move-of-${uuid(state)}`
        state.instances.delete(key(from.project, from.name))
        i.project = target
        i.name = name
        state.instances.set(key(target, name), i)
        const storagePool = pool ?? root?.[1].pool ?? ""
        yield* lifecycle(state, target, "instance-created", urlIn(target, landing), {
          "storage-pool": storagePool,
          type: i.type
        })
        yield* lifecycle(state, from.project, "instance-deleted", urlIn(from.project, from.name))
        if (pool !== undefined) {
          yield* lifecycle(state, target, "instance-renamed", urlIn(target, name), { old_name: landing })
        }
      })
    )
  }

  const create = (r: M.MockRequest) =>
    Effect.gen(function*() {
      if ((r.headers["content-type"] ?? "").startsWith("application/octet-stream")) {
        return yield* importBackup(state, r)
      }
      const b = body(r)
      const project = projectOf(r)
      const location = placement(state, r.query.target)
      if (typeof location !== "string" && location !== undefined) return location
      const src = (typeof b.source === "object" && b.source !== null ? b.source : {}) as Json
      const type = String(src.type ?? "none")
      let name = typeof b.name === "string" ? b.name : ""
      if (name === "") {
        do {
          const n = ++state.counters.names
          name = `${adjectives[n % 10]}-${animals[Math.floor(n / 10) % 10]}${n > 99 ? n : ""}`
        } while (state.instances.has(key(project, name)))
      }
      const explicitProfiles = Array.isArray(b.profiles)
      let profiles = explicitProfiles ? (b.profiles as Array<unknown>).map(String) : ["default"]
      for (const p of profiles) {
        if (!profileOf(state, project, p)) return M.error(404, `Requested profile "${p}" doesn't exist`)
      }
      let config: Record<string, string> = strMap(b.config)
      let devices = devMap(b.devices)
      let description = typeof b.description === "string" ? b.description : ""
      let copiedFiles: Map<string, FakeFile> | undefined
      if (type === "image") {
        const image = imageFor(state, project, src)
        if (!image) return M.error(404, src.alias !== undefined ? "Image alias not found" : "Image not found")
        config = {
          "image.architecture": String(image.value.architecture),
          ...Object.fromEntries(Object.entries(strMap(image.value.properties)).map(([k, v]) => [`image.${k}`, v])),
          "volatile.base_image": image.name,
          "volatile.uuid": uuid(state),
          ...config
        }
      } else if (type === "copy") {
        const [srcName, snapName] = String(src.source ?? "").split("/")
        const from = state.instances.get(key(String(src.project ?? project), srcName ?? ""))
        if (!from) return M.error(404, "Instance not found")
        const snap = snapName === undefined ? undefined : from.snapshots.get(snapName)
        if (snapName !== undefined && !snap) return M.error(404, "Instance snapshot not found")
        const base = snap ?? from
        copiedFiles = cloneFiles(base.files)
        config = { ...base.config, "volatile.uuid": uuid(state), ...config }
        devices = { ...base.devices, ...devices }
        if (description === "" && snap === undefined) description = from.description
        // 5.0.2: a copy does not inherit profiles; without "profiles" there is no root disk
        profiles = explicitProfiles ? profiles : []
      } else if (type !== "none") {
        return M.error(400, `Unknown source type ${type}`)
      }
      const instance = newInstance({
        name,
        project,
        type: String(b.type ?? "container"),
        description,
        ephemeral: b.ephemeral === true,
        profiles,
        config,
        devices,
        files: copiedFiles ?? rootFilesystem()
      })
      if (location !== undefined) instance.location = location
      const rootDisk = Effect.suspend(() =>
        Object.values(expanded(state, instance).devices).some((d) => d.type === "disk" && d.path === "/")
          ? Effect.void
          : Effect.fail(
            new OpFailure(
              "Failed creating instance record: Failed initialising instance: Failed getting root disk: No root device could be found"
            )
          )
      )
      return yield* addInstance(state, instance, "Creating instance", rootDisk)
    })

  return [
    M.route("GET", "/instances", (r) => {
      const all = r.query["all-projects"] === "true"
      const list = [...state.instances.values()].filter((i) =>
        (all || i.project === projectOf(r)) && filterMatches(instanceJson(state, i), r.query.filter)
      )
      const recursion = r.query.recursion ?? "0"
      if (recursion === "0") {
        return ok(
          list.map((i) => `/1.0/instances/${i.name}${all && i.project !== "default" ? `?project=${i.project}` : ""}`)
        )
      }
      if (recursion === "1") return ok(list.map((i) => instanceJson(state, i)))
      return ok(list.map((i) => ({
        ...instanceJson(state, i),
        state: stateJson(i),
        snapshots: [...i.snapshots.values()].map((s) => snapshotJson(i, s)),
        backups: [...(i.backups?.values() ?? [])].map(backupJson)
      })))
    }),
    M.route("POST", "/instances", create),
    M.route("PUT", "/instances", (r) => {
      const st = (body(r).state ?? {}) as Json
      const targets = [...state.instances.values()].filter((i) => i.project === projectOf(r))
      return startOperation(
        state,
        projectOf(r),
        { description: "Updating instance states", resources: { instances: targets.map(source) } },
        Effect.forEach(targets, (i) => Effect.ignore(changeState(i, String(st.action), st.force === true)), {
          discard: true
        })
      )
    }),
    M.route("GET", "/instances/:name", (r) => {
      const i = find(r)
      if (!i) return fail(404, "Instance not found")
      const json = instanceJson(state, i)
      return ok(
        r.query.recursion === "1"
          ? {
            ...json,
            state: stateJson(i),
            snapshots: [...i.snapshots.values()].map((s) => snapshotJson(i, s)),
            backups: [...(i.backups?.values() ?? [])].map(backupJson)
          }
          : json,
        { etag: etagOf(instanceWritable(i)) }
      )
    }),
    M.route("PUT", "/instances/:name", write(false)),
    M.route("PATCH", "/instances/:name", write(true)),
    M.route("DELETE", "/instances/:name", (r) => {
      const i = find(r)
      if (!i) return fail(404, "Instance not found")
      if (i.status !== "Stopped") return fail(400, "Instance is running")
      return startOperation(
        state,
        i.project,
        { description: "Deleting instance", resources: { instances: [source(i)] } },
        Effect.gen(function*() {
          state.instances.delete(key(i.project, i.name))
          yield* lifecycle(state, i.project, "instance-deleted", source(i))
        })
      )
    }),
    M.route("POST", "/instances/:name", (r) => {
      const i = find(r)
      if (!i) return fail(404, "Instance not found")
      const b = body(r)
      if (b.migration === true) {
        return moveWithin(i, b) ??
          (r.query.target === undefined
            ? fail(501, "LxdFakeServer does not implement migration")
            : moveToMember(state, i, r.query.target, b))
      }
      const name = String(b.name ?? "")
      if (state.instances.has(key(i.project, name))) return fail(409, `Name "${name}" already in use`)
      return startOperation(
        state,
        i.project,
        { description: "Renaming instance", resources: { instances: [source(i)] } },
        Effect.gen(function*() {
          if (i.status === "Running") {
            return yield* Effect.fail(new OpFailure("Renaming of running container not allowed"))
          }
          const old = i.name
          state.instances.delete(key(i.project, old))
          i.name = name
          state.instances.set(key(i.project, name), i)
          yield* lifecycle(state, i.project, "instance-renamed", source(i), { old_name: old })
        })
      )
    }),
    M.route("GET", "/instances/:name/state", (r) => {
      const i = find(r)
      return i ? ok(stateJson(i)) : fail(404, "Instance not found")
    }),
    M.route("PUT", "/instances/:name/state", (r) => {
      const i = find(r)
      if (!i) return fail(404, "Instance not found")
      const b = body(r)
      const action = String(b.action ?? "")
      const description = {
        start: "Starting instance",
        stop: "Stopping instance",
        restart: "Restarting instance",
        freeze: "Freezing instance",
        unfreeze: "Unfreezing instance"
      }[action] ?? "Updating instance state"
      if (b.stateful === true) {
        return startOperation(
          state,
          i.project,
          { description },
          Effect.fail(new OpFailure("Unable to perform container live migration. CRIU isn't installed"))
        )
      }
      return startOperation(
        state,
        i.project,
        { description, resources: { instances: [source(i)] } },
        changeState(i, action, b.force === true)
      )
    }),
    ...snapshotRoutes(state, find),
    ...instancePartRoutes(state, find)
  ]
}

/** A time as LXD 5.0.2 answers it after storing it: UTC, RFC 3339 with no trailing zero in the fraction. */
const goTime = (time: string) => new Date(time).toISOString().replace(/\.?0+Z$/, "Z")

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/

/** LXD's 400 for an `expires_at` that is there (not `null`) but no RFC 3339 time (`""` too); `undefined`: fine. */
const badExpiry = (expiry: unknown): M.MockResponse | undefined =>
  expiry === undefined || expiry === null ||
    (typeof expiry === "string" && RFC3339.test(expiry) && !Number.isNaN(Date.parse(expiry)))
    ? undefined
    : M.error(400, `parsing time ${JSON.stringify(JSON.stringify(expiry))} as "\\"2006-01-02T15:04:05Z07:00\\""`)

const snapshotRoutes = (
  state: FakeState,
  find: (r: M.MockRequest) => FakeInstance | undefined
): Array<Route> => {
  const snapUrl = (i: FakeInstance, s: string) => `/1.0/instances/${i.name}/snapshots/${s}`
  const withSnap = (
    r: M.MockRequest,
    f: (i: FakeInstance, s: NonNullable<ReturnType<FakeInstance["snapshots"]["get"]>>) => Effect.Effect<M.MockResponse>
  ) => {
    const i = find(r)
    if (!i) return fail(404, "Instance not found")
    const s = i.snapshots.get(r.params.snap!)
    if (!s) return fail(404, "Instance snapshot not found")
    return f(i, s)
  }
  // 5.0.2: PUT and PATCH alike, an operation; both honour If-Match (the ETag covers `expires_at`), change the
  // expiry only when `expires_at` is a time (left out or `null`: kept), and refuse what is not RFC 3339 ("" too)
  const writeExpiry = (r: M.MockRequest) =>
    withSnap(r, (i, s) => {
      const stale = staleEtag(r, { expires_at: s.expires_at })
      if (stale) return stale
      const expiry = body(r).expires_at
      const bad = badExpiry(expiry)
      if (bad !== undefined) return Effect.succeed(bad)
      return startOperation(
        state,
        i.project,
        // 5.0.2 names the snapshot as if it were an instance
        { description: "Updating snapshot", resources: { instances: [`/1.0/instances/${s.name}`] } },
        Effect.suspend(() => {
          if (typeof expiry === "string") s.expires_at = goTime(expiry)
          return lifecycle(state, i.project, "instance-snapshot-updated", snapUrl(i, s.name))
        })
      )
    })
  return [
    M.route("GET", "/instances/:name/snapshots", (r) => {
      const i = find(r)
      if (!i) return fail(404, "Instance not found")
      const snaps = [...i.snapshots.values()]
      return ok(r.query.recursion === "1" ? snaps.map((s) => snapshotJson(i, s)) : snaps.map((s) => snapUrl(i, s.name)))
    }),
    M.route("POST", "/instances/:name/snapshots", (r) => {
      const i = find(r)
      if (!i) return fail(404, "Instance not found")
      const b = body(r)
      let name = typeof b.name === "string" && b.name !== "" ? b.name : ""
      if (name === "") { for (let n = 0; name === "" || i.snapshots.has(name); n++) name = `snap${n}` }
      if (i.snapshots.has(name)) return fail(409, `Snapshot "${name}" already exists`)
      const bad = badExpiry(b.expires_at)
      if (bad !== undefined) return Effect.succeed(bad)
      return startOperation(
        state,
        i.project,
        { description: "Snapshotting instance", resources: { instances: [`/1.0/instances/${i.name}`] } },
        Effect.gen(function*() {
          if (b.stateful === true) {
            return yield* Effect.fail(
              new OpFailure(
                i.status === "Running"
                  ? "Unable to create a stateful snapshot. CRIU isn't installed"
                  : "Unable to create a stateful snapshot. The instance isn't running"
              )
            )
          }
          i.snapshots.set(name, {
            name,
            created_at: now(),
            expires_at: typeof b.expires_at === "string" ? goTime(b.expires_at) : NEVER,
            stateful: false,
            description: "",
            config: { ...i.config },
            devices: { ...i.devices },
            profiles: [...i.profiles],
            ephemeral: i.ephemeral,
            files: cloneFiles(i.files)
          })
          yield* lifecycle(state, i.project, "instance-snapshot-created", snapUrl(i, name))
        })
      )
    }),
    M.route(
      "GET",
      "/instances/:name/snapshots/:snap",
      (r) => withSnap(r, (i, s) => ok(snapshotJson(i, s), { etag: etagOf({ expires_at: s.expires_at }) }))
    ),
    M.route("PATCH", "/instances/:name/snapshots/:snap", writeExpiry),
    M.route("PUT", "/instances/:name/snapshots/:snap", writeExpiry),
    M.route("POST", "/instances/:name/snapshots/:snap", (r) =>
      withSnap(r, (i, s) => {
        const name = String(body(r).name ?? "")
        if (i.snapshots.has(name)) return fail(409, `Name "${name}" already in use`)
        return startOperation(
          state,
          i.project,
          { description: "Renaming snapshot" },
          Effect.gen(function*() {
            const old = renameEntry(i.snapshots, s, name)
            yield* lifecycle(state, i.project, "instance-snapshot-renamed", snapUrl(i, name), { old_name: old })
          })
        )
      })),
    M.route("DELETE", "/instances/:name/snapshots/:snap", (r) =>
      withSnap(r, (i, s) =>
        startOperation(
          state,
          i.project,
          { description: "Deleting snapshot" },
          Effect.gen(function*() {
            i.snapshots.delete(s.name)
            yield* lifecycle(state, i.project, "instance-snapshot-deleted", snapUrl(i, s.name))
          })
        )))
  ]
}

/**
 * Every route of the fake.
 *
 * @internal
 */
export const routes = (
  state: FakeState,
  exec: ExecHandler | undefined
): { routes: Array<Route>; sockets: Array<M.Route<M.SocketHandler>> } => {
  const execs = execEndpoints(state, exec)
  return {
    routes: [
      ...serverRoutes(state),
      ...operationRoutes(state),
      ...profileRoutes(state),
      ...projectRoutes(state),
      ...networkRoutes(state),
      ...warningRoutes(state),
      ...clusterRoutes(state),
      ...certificateRoutes(state),
      ...instanceRoutes(state),
      ...fileRoutes(state),
      ...execs.routes,
      ...imageRoutes(state),
      ...storageRoutes(state)
    ],
    sockets: [...eventSockets(state), ...execs.sockets]
  }
}

/**
 * Moving instances and images between two servers: pull (the target dials the source), push (the source dials
 * the target) and relay (the client pipes the migration websockets between them).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { Instance, InstanceSnapshot } from "../InstanceSchema.js"
import type { LxdClient, OperationHandle } from "../LxdClient.js"
import { InvalidArgument, type LxdError, ProtocolError } from "../LxdError.js"
import type { Operation } from "../LxdSchema.js"
import type { CopyInstanceOptions, CopySnapshotOptions, CopyVolumeOptions, Mode } from "../Migration.js"
import * as Op from "./operation.js"
import * as Path from "./path.js"

const Secrets = Schema.Record({ key: Schema.String, value: Schema.String })
const decodeSecrets = Schema.decodeUnknownOption(Secrets)

/** Where a server can be reached over HTTPS, and its certificate (`GET /1.0` → environment). @internal */
export const connectionInfo = (client: LxdClient.Service, role: string) =>
  Effect.flatMap(client.server, (info) => {
    const address = info.environment?.addresses[0]
    const certificate = info.environment?.certificate
    if (address === undefined || certificate === undefined || certificate === "") {
      return Effect.fail(
        new InvalidArgument({
          argument: `${role} server`,
          value: client.endpoint,
          reason:
            "it is not listening on the network (core.https_address is unset), so the other server cannot reach it"
        })
      )
    }
    return Effect.succeed({ url: `https://${address}`, certificate })
  })

const secretsOf = (handle: OperationHandle, path: string): Effect.Effect<Record<string, string>, ProtocolError> =>
  Option.match(decodeSecrets(handle.initial.metadata), {
    onNone: () =>
      Effect.fail(
        new ProtocolError({ method: "POST", path, description: "migration operation without websocket secrets" })
      ),
    onSome: (secrets) => Effect.succeed({ ...secrets })
  })

/** Config keys LXD regenerates on the target (`volatile.*`, except the base image). */
const portableConfig = (config: Readonly<Record<string, string>>) =>
  Object.fromEntries(Object.entries(config).filter(([k]) => !k.startsWith("volatile.") || k === "volatile.base_image"))

/**
 * Pipes every migration websocket between the two servers (the Go client's `proxyMigration`).
 *
 * @internal
 */
const relay = (
  source: LxdClient.Service,
  sourceOp: OperationHandle,
  sourceSecrets: Record<string, string>,
  target: LxdClient.Service,
  targetOp: OperationHandle,
  targetSecrets: Record<string, string>,
  targetPath: string
): Effect.Effect<void, LxdError, Scope.Scope> =>
  Effect.gen(function*() {
    for (const name of Object.keys(targetSecrets)) {
      if (sourceSecrets[name] === undefined) {
        return yield* new ProtocolError({
          method: "POST",
          path: targetPath,
          description: `the target expects a "${name}" migration socket that the source does not offer`
        })
      }
    }
    const open = (client: LxdClient.Service, handle: OperationHandle, secret: string) =>
      Op.openWebsocket(client.websocket, handle.url, secret)
    // control first, then the others, as LXD expects
    const names = ["control", ...Object.keys(targetSecrets).filter((n) => n !== "control")]
    for (const name of names) {
      const a = yield* open(source, sourceOp, sourceSecrets[name]!)
      const b = yield* open(target, targetOp, targetSecrets[name]!)
      const pipe = (from: typeof a, to: typeof b) =>
        from.frames.pipe(Stream.runForEach((frame) => to.send(frame)), Effect.ensuring(to.close()), Effect.ignore)
      yield* Effect.forkScoped(Effect.all([pipe(a, b), pipe(b, a)], { concurrency: 2, discard: true }))
    }
  })

/**
 * How one kind of object (an instance, a custom volume) migrates between two servers: the request that opens the
 * source's migration operation and the create on the target, each handed the fields its mode needs.
 *
 * @internal
 */
export interface Migrator {
  readonly source: LxdClient.Service
  readonly target: LxdClient.Service
  readonly mode: Mode
  /** The source's path below `/1.0` and the target's create path, for messages. */
  readonly sourcePath: string
  readonly targetPath: string
  /** `POST {sourcePath}` with `migration: true` and `extra` (`target` in push mode). */
  readonly migrate: (extra: Record<string, unknown>) => Effect.Effect<OperationHandle, LxdError, Scope.Scope>
  /** The create on the target with `source` holding `type: "migration"` and the mode's fields. */
  readonly create: (sourceFields: Record<string, unknown>) => Effect.Effect<OperationHandle, LxdError, Scope.Scope>
  /** What push mode needs (an extension on the source). */
  readonly requirePush: Effect.Effect<void, LxdError>
  /** What relay mode needs (an extension on the target). */
  readonly requireRelay: Effect.Effect<void, LxdError>
}

/**
 * Starts a migration in the mode asked for: pull (the target dials the source with its secrets), push (the
 * target waits with secrets, the source dials it), relay (both wait; the client pipes their websockets). Returns
 * the operation whose outcome is the result (the target's) and the other side's, which must end too.
 *
 * @internal
 */
export const startMigration = (
  m: Migrator
): Effect.Effect<{ readonly primary: OperationHandle; readonly secondary: OperationHandle }, LxdError, Scope.Scope> =>
  Effect.gen(function*() {
    const { source, target } = m
    const create = (fields: Record<string, unknown>) => m.create({ type: "migration", ...fields })
    if (m.mode === "push") {
      yield* m.requirePush
      const targetInfo = yield* connectionInfo(target, "target")
      const targetOp = yield* create({ mode: "push" })
      const secrets = yield* secretsOf(targetOp, `/1.0${m.targetPath}`)
      const sourceOp = yield* m.migrate({
        target: {
          operation: `${targetInfo.url}/1.0/operations/${targetOp.id}`,
          secrets,
          certificate: targetInfo.certificate
        }
      })
      return { primary: targetOp, secondary: sourceOp }
    }
    if (m.mode === "relay") yield* m.requireRelay
    const sourceInfo = m.mode === "pull" ? yield* connectionInfo(source, "source") : undefined
    const sourceOp = yield* m.migrate({})
    const sourceSecrets = yield* secretsOf(sourceOp, `/1.0${m.sourcePath}`)
    if (sourceInfo === undefined) {
      const targetOp = yield* create({ mode: "push" })
      const targetSecrets = yield* secretsOf(targetOp, `/1.0${m.targetPath}`)
      yield* relay(source, sourceOp, sourceSecrets, target, targetOp, targetSecrets, `/1.0${m.targetPath}`)
      return { primary: targetOp, secondary: sourceOp }
    }
    const targetOp = yield* create({
      mode: "pull",
      operation: `${sourceInfo.url}/1.0/operations/${sourceOp.id}`,
      certificate: sourceInfo.certificate,
      secrets: sourceSecrets
    })
    return { primary: targetOp, secondary: sourceOp }
  })

/**
 * The source side's `migrate`: `POST {path}` with `body`, `migration: true` and the mode's fields. Never
 * cancelled: LXD 5.0.2 panics cancelling a migration source mid-transfer; drained instead.
 */
const migrationSource =
  (client: LxdClient.Service, path: string, body: Record<string, unknown>) => (extra: Record<string, unknown>) =>
    client.operation(
      { method: "POST", path, body: { ...body, migration: true, ...extra } },
      { uncancellableGrace: "30 seconds", cancelOnClose: false }
    )

/** The target side's `create`: `POST {path}` with `body` and a `source` of `fields` plus the mode's fields. */
const migrationTarget = (
  client: LxdClient.Service,
  path: string,
  body: Record<string, unknown>,
  fields: Record<string, unknown>
) =>
(sourceFields: Record<string, unknown>) =>
  client.operation(
    { method: "POST", path, body: { ...body, source: { ...fields, ...sourceFields } } },
    { progress: true, uncancellableGrace: "30 seconds" }
  )

/**
 * Starts an instance copy and returns the operation to wait on (the target's in pull and relay modes, the
 * source's in push mode), with `progress` subscribed.
 *
 * @internal
 */
export const copyInstanceOperation = (
  options: CopyInstanceOptions
): Effect.Effect<OperationHandle, LxdError, Scope.Scope> =>
  Effect.flatMap(getSource(options), (source) => Effect.map(startCopy(options, source), ({ primary }) => primary))

/**
 * Waits for both sides of a started migration: the primary's outcome is the result, the other side's must be
 * over (bounded) before the scope closes.
 */
const waitBoth = <R>(
  started: Effect.Effect<
    { readonly primary: OperationHandle; readonly secondary: OperationHandle },
    LxdError,
    R | Scope.Scope
  >
): Effect.Effect<Operation, LxdError, Exclude<R, Scope.Scope>> =>
  Effect.scoped(
    Effect.flatMap(
      started,
      ({ primary, secondary }) =>
        Effect.zipLeft(primary.wait(), Effect.ignore(secondary.wait({ timeout: "30 seconds" })))
    )
  )

/** The source instance, read once per copy. */
const getSource = (options: CopyInstanceOptions) =>
  Effect.flatMap(Path.build("/instances/", ["instance", options.name]), (path) =>
    Effect.map(
      options.source.sync(Instance, { method: "GET", path }),
      (r) => ({ path, instance: r.metadata })
    ))

/** Starts a copy: the operation to follow and the other side's, which must end too. */
const startCopy = (
  options: CopyInstanceOptions,
  { instance, path: sourcePath }: { readonly instance: Instance; readonly path: string }
): Effect.Effect<{ readonly primary: OperationHandle; readonly secondary: OperationHandle }, LxdError, Scope.Scope> =>
  Effect.gen(function*() {
    const { source, target } = options
    const targetName = options.targetName ?? options.name
    yield* Path.validate("instance", targetName)
    const live = options.live === true
    const instanceOnly = options.instanceOnly === true
    if (instanceOnly) yield* source.requireExtension("container_only_migration")
    const request = {
      name: targetName,
      type: instance.type,
      architecture: instance.architecture,
      description: instance.description,
      ephemeral: options.ephemeral ?? instance.ephemeral,
      profiles: options.profiles ?? instance.profiles,
      config: { ...portableConfig(instance.config), ...options.config },
      devices: instance.devices
    }
    const flags = { live, instance_only: instanceOnly, container_only: instanceOnly }
    return yield* startMigration({
      source,
      target,
      mode: options.mode ?? "pull",
      sourcePath,
      targetPath: "/instances",
      migrate: migrationSource(source, sourcePath, flags),
      create: migrationTarget(target, "/instances", request, flags),
      requirePush: source.requireExtension("container_push_target"),
      requireRelay: target.requireExtension("container_push")
    })
  })

/**
 * Copies (or moves) an instance and waits until it is done. A move of a running instance without `live` stops
 * it first (stateless), deletes the source once the copy succeeded, and starts the copy on the target.
 *
 * @internal
 */
export const copyInstance = (options: CopyInstanceOptions): Effect.Effect<Operation, LxdError> =>
  Effect.gen(function*() {
    const { source, target } = options
    const current = yield* getSource(options)
    const sourcePath = current.path
    const targetPath = yield* Path.build("/instances/", ["instance", options.targetName ?? options.name])
    const restart = options.move === true && options.live !== true && current.instance.status === "Running"
    if (restart) {
      yield* source.run({ method: "PUT", path: `${sourcePath}/state`, body: { action: "stop", force: true } })
    }
    const op = yield* waitBoth(startCopy(options, current))
    if (options.move === true) {
      yield* source.run({ method: "DELETE", path: sourcePath })
      if (restart) yield* target.run({ method: "PUT", path: `${targetPath}/state`, body: { action: "start" } })
    }
    return op
  })

const VolumeInfo = Schema.Struct({
  description: Schema.optionalWith(Schema.String, { default: () => "" }),
  config: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.String }), {
    nullable: true,
    default: () => ({})
  }),
  content_type: Schema.optionalWith(Schema.String, { default: () => "filesystem" })
})

/** The source volume (a custom one), read once per copy, and its path. */
const getVolume = (options: CopyVolumeOptions) =>
  Effect.gen(function*() {
    const path = yield* Path.build(
      "/storage-pools/",
      ["storage pool", options.pool],
      "/volumes/custom/",
      ["storage volume", options.name]
    )
    const volume = (yield* options.source.sync(VolumeInfo, { method: "GET", path })).metadata
    return { path, volume }
  })

/** Starts a volume copy: the same modes as an instance's, with the volume's requests. */
const startVolumeCopy = (
  options: CopyVolumeOptions,
  { path: sourcePath, volume }: Effect.Effect.Success<ReturnType<typeof getVolume>>
) =>
  Effect.gen(function*() {
    const { source, target } = options
    const targetPath = yield* Path.build(
      "/storage-pools/",
      ["storage pool", options.targetPool ?? options.pool],
      "/volumes/custom"
    )
    const targetName = options.targetName ?? options.name
    yield* Path.validate("storage volume", targetName)
    yield* target.requireExtension("storage_api_remote_volume_handling")
    if (options.refresh === true) yield* target.requireExtension("custom_volume_refresh")
    const volumeOnly = options.volumeOnly === true
    return yield* startMigration({
      source,
      target,
      mode: options.mode ?? "pull",
      sourcePath,
      targetPath,
      migrate: migrationSource(source, sourcePath, { name: options.name, volume_only: volumeOnly }),
      create: migrationTarget(target, targetPath, {
        name: targetName,
        type: "custom",
        description: volume.description,
        config: volume.config,
        content_type: volume.content_type
      }, {
        name: options.name,
        pool: options.pool,
        volume_only: volumeOnly,
        ...(options.refresh === true ? { refresh: true } : {})
      }),
      requirePush: source.requireExtension("storage_api_remote_volume_handling"),
      requireRelay: Effect.void
    })
  })

/**
 * Starts a custom volume copy to another server and returns the target's operation (`progress` subscribed).
 *
 * @internal
 */
export const copyVolumeOperation = (
  options: CopyVolumeOptions
): Effect.Effect<OperationHandle, LxdError, Scope.Scope> =>
  Effect.flatMap(getVolume(options), (v) => Effect.map(startVolumeCopy(options, v), ({ primary }) => primary))

/**
 * Copies (or moves: the source is deleted once the copy succeeded) a custom volume to another server and waits
 * for both sides.
 *
 * @internal
 */
export const copyVolume = (options: CopyVolumeOptions): Effect.Effect<Operation, LxdError> =>
  Effect.gen(function*() {
    const current = yield* getVolume(options)
    const op = yield* waitBoth(startVolumeCopy(options, current))
    if (options.move === true) yield* options.source.write({ method: "DELETE", path: current.path })
    return op
  })

/** The snapshot to copy and its instance (for the type), read once per copy, and the snapshot's path. */
const getSnapshot = (options: CopySnapshotOptions) =>
  Effect.gen(function*() {
    const path = yield* Path.build(
      "/instances/",
      ["instance", options.name],
      "/snapshots/",
      ["snapshot", options.snapshot]
    )
    yield* Path.validate("instance", options.targetName ?? options.name)
    const [parent, snapshot] = yield* Effect.all([
      getSource(options),
      options.source.sync(InstanceSnapshot, { method: "GET", path })
    ], { concurrency: 2 })
    return { path, type: parent.instance.type, snapshot: snapshot.metadata }
  })

/** Starts a snapshot copy: the snapshot's migration source, a new instance from it on the target. */
const startSnapshotCopy = (
  options: CopySnapshotOptions,
  { path: sourcePath, snapshot, type }: Effect.Effect.Success<ReturnType<typeof getSnapshot>>
) => {
  const targetName = options.targetName ?? options.name
  const baseImage = snapshot.config["volatile.base_image"]
  return startMigration({
    source: options.source,
    target: options.target,
    mode: options.mode ?? "pull",
    sourcePath,
    targetPath: "/instances",
    // 5.0.2 refuses a snapshot's migration without a name ("A new name for the container must be provided")
    migrate: migrationSource(options.source, sourcePath, { name: targetName, live: false }),
    create: migrationTarget(options.target, "/instances", {
      name: targetName,
      type,
      architecture: snapshot.architecture,
      ephemeral: options.ephemeral ?? snapshot.ephemeral,
      profiles: options.profiles ?? snapshot.profiles,
      config: { ...portableConfig(snapshot.config), ...options.config },
      devices: snapshot.devices
    }, { live: false, ...(baseImage === undefined ? {} : { "base-image": baseImage }) }),
    requirePush: options.source.requireExtension("container_push_target"),
    requireRelay: options.target.requireExtension("container_push")
  })
}

/**
 * Starts a snapshot copy and returns the target's operation (the source's in push mode), `progress` subscribed.
 *
 * @internal
 */
export const copySnapshotOperation = (
  options: CopySnapshotOptions
): Effect.Effect<OperationHandle, LxdError, Scope.Scope> =>
  Effect.flatMap(getSnapshot(options), (s) => Effect.map(startSnapshotCopy(options, s), ({ primary }) => primary))

/**
 * Copies a snapshot to another server as a new instance and waits for both sides.
 *
 * @internal
 */
export const copySnapshot = (options: CopySnapshotOptions): Effect.Effect<Operation, LxdError> =>
  Effect.flatMap(getSnapshot(options), (s) => waitBoth(startSnapshotCopy(options, s)))

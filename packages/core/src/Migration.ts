/**
 * Copying and moving instances, custom storage volumes and images between two LXD servers. Hold both servers at once with
 * `LxdClient.connect` (one engine per transport) and pass them in (see the example).
 *
 * Modes: `pull` (default: the target connects to the source, which must listen on the network), `push` (the
 * source connects to the target; `container_push_target`), `relay` (the client pipes the migration websockets
 * between servers that cannot reach each other; `container_push`). Interrupting a copy cancels (or drains) the
 * operations on both servers. Live migration needs CRIU on both servers; without it LXD fails the operation
 * ("Unable to perform container live migration. CRIU isn't installed") and that is the `OperationFailed` you get.
 *
 * @example
 * ```ts
 * import { LxdClient, Migration } from "@effect-lxd/core"
 * import { NodeLxdTransport } from "@effect-lxd/node"
 * import { Effect, Redacted } from "effect"
 *
 * // for NodeRuntime.runMain(move): both engines live until the scope closes
 * export const move = Effect.scoped(Effect.gen(function*() {
 *   const source = yield* LxdClient.connect(NodeLxdTransport.layerUnixSocket())
 *   const target = yield* LxdClient.connect(NodeLxdTransport.layerHttps({
 *     url: "https://lxd2.example.net:8443",
 *     clientCertificate: process.env["LXD_CLIENT_CERT"],
 *     clientKey: Redacted.make(process.env["LXD_CLIENT_KEY"] ?? ""),
 *     serverCertificate: process.env["LXD_SERVER_CERT"]
 *   }))
 *   // "pull": the target connects to the source, which must listen on the network (core.https_address)
 *   return yield* Migration.copyInstance({ source, target, name: "web1", mode: "pull", move: true })
 * }))
 * ```
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as imageImport from "./internal/imageImport.js"
import * as internal from "./internal/migration.js"
import type { LxdClient, OperationHandle } from "./LxdClient.js"
import type { LxdError } from "./LxdError.js"
import type { Operation } from "./LxdSchema.js"

/**
 * `"pull" | "push" | "relay"`: which side opens the migration connections (see the module's description).
 *
 * @since 0.1.0
 * @category models
 */
export type Mode = "pull" | "push" | "relay"

/**
 * `source`, `target` (engines from `LxdClient.connect`), the instance `name` (and `targetName`), `mode`,
 * `instanceOnly` (no snapshots), `live` (CRIU), `move` (delete the source after the copy; a running source is
 * stopped first and the copy started), and overrides for `profiles`, `config`, `ephemeral`.
 *
 * @since 0.1.0
 * @category models
 */
export interface CopyInstanceOptions {
  /** The engine of the server the instance is on (from `LxdClient.connect`). */
  readonly source: LxdClient.Service
  /** The engine of the server to copy it to. */
  readonly target: LxdClient.Service
  /** The instance on `source`. */
  readonly name: string
  /** Its name on `target` (default: `name`). */
  readonly targetName?: string | undefined
  /** Which side opens the migration connections. */
  readonly mode?: Mode | undefined
  /** Leave the snapshots out. */
  readonly instanceOnly?: boolean | undefined
  /** Copy a running instance with its state (CRIU). */
  readonly live?: boolean | undefined
  /** Delete the source after the copy (a running source is stopped first and the copy started). */
  readonly move?: boolean | undefined
  /** Profiles of the copy, instead of the source's. */
  readonly profiles?: ReadonlyArray<string> | undefined
  /** Config keys of the copy, over the source's. */
  readonly config?: Readonly<Record<string, string>> | undefined
  /** Whether the copy is ephemeral. */
  readonly ephemeral?: boolean | undefined
}

/**
 * `source`, `target` (engines from `LxdClient.connect`), the instance `name` and its `snapshot`, the new
 * instance's `targetName` (default: `name`), `mode`, and overrides for `profiles`, `config`, `ephemeral` (the
 * snapshot's otherwise), as {@link CopyInstanceOptions} without what a snapshot cannot do (`move`, `live`,
 * `instanceOnly`: the copy never has snapshots).
 *
 * @since 0.2.0
 * @category models
 */
export interface CopySnapshotOptions
  extends Omit<CopyInstanceOptions, "move" | "live" | "instanceOnly" | "targetName">
{
  /** The snapshot of `name` to copy. */
  readonly snapshot: string
  /** The new instance's name on `target` (default: `name`). */
  readonly targetName?: string | undefined
}

/**
 * `source`, `target` (engines from `LxdClient.connect`), the image's `fingerprint`, `mode` (`pull` by default),
 * and for the copy: `aliases`, `public`, `autoUpdate`.
 *
 * @since 0.1.0
 * @category models
 */
export interface CopyImageOptions {
  /** The engine of the server the image is on (from `LxdClient.connect`). */
  readonly source: LxdClient.Service
  /** The engine of the server to copy it to. */
  readonly target: LxdClient.Service
  /** The image on `source`. */
  readonly fingerprint: string
  /**
   * `pull` (default): the target downloads from the source; `push`: the source uploads to the target; `relay`:
   * the image streams through the client (neither server reaches the other).
   */
  readonly mode?: Mode | undefined
  /** Aliases to create on `target`. */
  readonly aliases?: ReadonlyArray<string> | undefined
  /** Whether the copy is public. */
  readonly public?: boolean | undefined
  /** Whether the copy follows its source's updates. */
  readonly autoUpdate?: boolean | undefined
}

/**
 * `source`, `target` (engines from `LxdClient.connect`), the custom volume (`pool`, `name`) and where it goes
 * (`targetPool`, default the same name; `targetName`), `mode`, `volumeOnly` (no snapshots), `refresh` (update an
 * existing copy), `move` (delete the source after the copy).
 *
 * @since 0.2.0
 * @category models
 */
export interface CopyVolumeOptions {
  /** The engine of the server the volume is on (from `LxdClient.connect`). */
  readonly source: LxdClient.Service
  /** The engine of the server to copy it to. */
  readonly target: LxdClient.Service
  /** The volume's pool on `source`. */
  readonly pool: string
  /** The custom volume on `source`. */
  readonly name: string
  /** Its pool on `target` (default: `pool`). */
  readonly targetPool?: string | undefined
  /** Its name on `target` (default: `name`). */
  readonly targetName?: string | undefined
  /** Which side opens the migration connections. */
  readonly mode?: Mode | undefined
  /** Leave the snapshots out. */
  readonly volumeOnly?: boolean | undefined
  /** Update an existing copy with what changed (`custom_volume_refresh`). */
  readonly refresh?: boolean | undefined
  /** Delete the source after the copy. */
  readonly move?: boolean | undefined
}

/**
 * Copies or moves an instance to another server and waits for it (`POST /1.0/instances/{name}` with
 * `migration: true` on the source, `POST /1.0/instances` with `source.type: migration` on the target). A
 * snapshot (`lxc copy c1/snap0 other:`) is {@link copySnapshot}'s.
 * Errors: `InvalidArgument` (names; a server that does not listen on the network), `NotFound`, `OperationFailed`
 * (e.g. the name exists on the target, CRIU missing for `live`), `APIExtensionNotAvailable`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const copyInstance: (options: CopyInstanceOptions) => Effect.Effect<Operation, LxdError> = internal.copyInstance

/**
 * Starts a copy in the caller's scope and returns the operation to follow (`progress` is subscribed): for
 * progress reporting or a custom wait. Closing the scope early cancels the copy.
 *
 * @since 0.1.0
 * @category constructors
 */
export const copyInstanceOperation: (
  options: CopyInstanceOptions
) => Effect.Effect<OperationHandle, LxdError, Scope.Scope> = internal.copyInstanceOperation

/**
 * Copies a snapshot to another server as a new instance and waits for both sides (`lxc copy c1/snap0 other:c2`:
 * `POST /1.0/instances/{name}/snapshots/{snapshot}` with `migration: true` on the source, `POST /1.0/instances`
 * with `source.type: migration` on the target), in the same pull, push and relay modes as {@link copyInstance},
 * with the same machinery. The new instance has the snapshot's filesystem, config (without `volatile.*`),
 * devices and profiles, and no snapshots. Errors: `InvalidArgument` (names, nothing sent; a server that does not
 * listen on the network), `NotFound` (instance or snapshot), `OperationFailed` (e.g. the name exists on the
 * target), `APIExtensionNotAvailable` (`container_push_target` for push, `container_push` for relay).
 *
 * @since 0.2.0
 * @category constructors
 */
export const copySnapshot: (options: CopySnapshotOptions) => Effect.Effect<Operation, LxdError> = internal.copySnapshot

/**
 * Starts a snapshot copy in the caller's scope and returns the operation to follow (`progress` is subscribed).
 * Closing the scope early ends the copy on both servers.
 *
 * @since 0.2.0
 * @category constructors
 */
export const copySnapshotOperation: (
  options: CopySnapshotOptions
) => Effect.Effect<OperationHandle, LxdError, Scope.Scope> = internal.copySnapshotOperation

/**
 * Copies or moves a custom volume to another server and waits for both sides (`POST
 * /1.0/storage-pools/{pool}/volumes/custom/{name}` with `migration: true` on the source, `POST
 * /1.0/storage-pools/{targetPool}/volumes/custom` with `source.type: migration` on the target;
 * `storage_api_remote_volume_handling`), in the same pull, push and relay modes as {@link copyInstance}, with
 * the same machinery. Interrupting it ends both operations (the target's cancelled or drained, the source's
 * drained) so none is left running. Errors: `InvalidArgument` (names; a server that does not listen on the
 * network), `NotFound`, `OperationFailed` (e.g. the name exists on the target), `APIExtensionNotAvailable`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const copyVolume: (options: CopyVolumeOptions) => Effect.Effect<Operation, LxdError> = internal.copyVolume

/**
 * Starts a volume copy in the caller's scope and returns the target's operation (`progress` is subscribed).
 * Closing the scope early ends the copy on both servers.
 *
 * @since 0.2.0
 * @category constructors
 */
export const copyVolumeOperation: (
  options: CopyVolumeOptions
) => Effect.Effect<OperationHandle, LxdError, Scope.Scope> = internal.copyVolumeOperation

/**
 * Copies an image to another server: the same as `Images.copyFrom` on the target (which returns the `Image` as it
 * landed, and has `copyFromOperation` for progress), returning the operation. `mode: "pull"` (default): the target
 * downloads it over HTTPS (`POST /1.0/images` on the target; a private image travels with a one-time secret from
 * `POST …/secret`). `mode: "push"`: the target waits with a one-time secret and the source uploads (`POST
 * /1.0/images/{fingerprint}/export`, extension `images_push_relay`). `mode: "relay"`: the export streams through
 * the client into the target's upload, for servers that cannot reach each other; memory stays bounded. Errors:
 * `NotFound`, `InvalidArgument`, `APIExtensionNotAvailable`, `ClientConnectionFailed`, `OperationFailed` (e.g.
 * "Image with same fingerprint already exists").
 *
 * @deprecated Use `Images.copyFrom` (or `copyFromOperation`) on the target's `Images` service.
 * @since 0.1.0
 * @category constructors
 */
export const copyImage = (options: CopyImageOptions): Effect.Effect<Operation, LxdError> =>
  imageImport.copy(options.target, options)

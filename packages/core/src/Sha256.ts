/**
 * The SHA-256 that image exports and uploads are checked with, as a `Context.Reference`: core is
 * platform-agnostic, so its default is a plain TypeScript implementation (tens of MB/s); `@effect-lxd/node`'s
 * transport layers (`NodeLxdTransport.layerUnixSocket`, `layerHttps`, `layerConfig`, `layerRemote`, …) provide
 * `node:crypto`'s native one beside the transport, so a Node user gets it without doing anything.
 *
 * The engine reads the reference once, when it is built (`LxdClient.layer`, `LxdClient.connect`), from what the
 * transport layer and the surrounding context provide; every hash the services compute goes through
 * `client.sha256`. To set one by hand, provide it where the engine is built:
 * `Lxd.layer.pipe(Layer.provide(transport), Layer.provide(Layer.succeed(Sha256.Sha256, mine)))`.
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import * as internal from "./internal/sha256.js"

/**
 * A running hash: feed it chunks with `update` (the chunk may be reused by the caller once `update` returns),
 * read the lowercase hex digest once with `digest`.
 *
 * @since 0.2.0
 * @category models
 */
export interface Hash {
  readonly update: (chunk: Uint8Array) => void
  readonly digest: () => string
}

/**
 * The plain TypeScript SHA-256 (FIPS 180-4), the reference's default; runs on every platform.
 *
 * @since 0.2.0
 * @category constructors
 */
export const plain: Sha256.Service = { make: internal.make }

/**
 * The SHA-256 the engine hashes with (default {@link plain}).
 *
 * @since 0.2.0
 * @category references
 */
export class Sha256 extends Context.Reference<Sha256>()("@effect-lxd/core/Sha256", {
  defaultValue: (): Sha256.Service => plain
}) {}

/**
 * @since 0.2.0
 */
export declare namespace Sha256 {
  /**
   * Makes running hashes.
   *
   * @since 0.2.0
   * @category models
   */
  export interface Service {
    readonly make: () => Hash
  }
}

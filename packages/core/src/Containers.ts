/**
 * LXD containers: the {@link Instances} service restricted to `type: "container"`. Lists send
 * `instance-type=container` (and drop any other type a server still returns), `get`, `getFull`, `exists` and
 * `modify` treat an instance of another type as not found, and `create` always asks for a container. Actions on
 * a name (`start`, `delete`, …) do not re-check the type.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Images from "./Images.js"
import type * as Instances from "./Instances.js"
import * as internal from "./internal/instances.js"
import type { LxdClient } from "./LxdClient.js"

/**
 * @since 0.1.0
 * @category tags
 */
export class Containers extends Context.Tag("@effect-lxd/core/Containers")<Containers, Containers.Service>() {}

/**
 * The `Service` interface of the `Containers` tag.
 *
 * @since 0.1.0
 * @category models
 */
export declare namespace Containers {
  /**
   * The same methods as {@link Instances.Instances.Service}, for containers only.
   *
   * @since 0.1.0
   * @category models
   */
  export interface Service extends Instances.Instances.Service {}
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Containers.Service, never, LxdClient> = internal.make({
  type: "container",
  span: "Containers",
  images: Images.make
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Containers, never, LxdClient> = Layer.effect(Containers, make)

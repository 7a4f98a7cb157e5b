/**
 * LXD background operations (`/1.0/operations`): list, get, wait with a timeout, cancel.
 *
 * The methods of other services that start an operation wait for it themselves; this module is for operations
 * known by id (started elsewhere, or handed over between fibers and processes).
 *
 * @example
 * ```ts
 * import { Instances, Lxd, Operations } from "@effect-lxd/core"
 * import { LxdFakeServer } from "@effect-lxd/testing"
 * import { Effect, Layer } from "effect"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const instances = yield* Instances.Instances
 *   const operations = yield* Operations.Operations
 *   const handle = yield* instances.createOperation({ name: "c1", source: { type: "image", alias: "busybox" } })
 *   // by id: long-polls GET /1.0/operations/{id}/wait; OperationTimeout after a minute (the operation goes on)
 *   const done = yield* operations.wait(handle.id, { timeout: "1 minute" })
 *   return done.status // "Success"
 * }))
 *
 * Effect.runPromise(program.pipe(Effect.provide(Lxd.layer.pipe(Layer.provide(LxdFakeServer.layer())))))
 *   .then(console.log)
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { namesFromUrls } from "./internal/collection.js"
import * as Path from "./internal/path.js"
import { LxdClient, type OperationHandle } from "./LxdClient.js"
import { InvalidArgument, type LxdError } from "./LxdError.js"
import type * as LxdResource from "./LxdResource.js"
import { Operation } from "./LxdSchema.js"

export {
  /**
   * @since 0.1.0
   * @category guards
   */
  isFinal,
  /**
   * @since 0.1.0
   * @category schemas
   */
  Operation,
  /**
   * @since 0.1.0
   * @category models
   */
  StatusCode
} from "./LxdSchema.js"

/**
 * The options of every list ({@link LxdResource.ListOptions}): `allProjects` lists every project's operations
 * (`all-projects=true`, extension `operations_get_query_all_projects`); operations take no `filter`
 * (`InvalidArgument`).
 *
 * @since 0.1.0
 * @category models
 */
export type ListOptions = LxdResource.ListOptions

/**
 * @since 0.1.0
 * @category tags
 */
export class Operations extends Context.Tag("@effect-lxd/core/Operations")<Operations, Operations.Service>() {}

/**
 * The `Service` interface of the `Operations` tag.
 *
 * @since 0.1.0
 * @category models
 */
export declare namespace Operations {
  /**
   * @since 0.1.0
   * @category models
   */
  export interface Service {
    /**
     * Every operation the server still knows, in all statuses (`GET /1.0/operations?recursion=1`). Finished
     * operations disappear about 5 seconds after they end.
     * Errors: `ClientConnectionFailed`, `ProtocolError`, `APIExtensionNotAvailable` (allProjects), status errors.
     */
    readonly list: (options?: ListOptions) => Effect.Effect<ReadonlyArray<Operation>, LxdError>
    /** Operation IDs grouped by lower-case status (`GET /1.0/operations`). */
    readonly listIds: (
      options?: ListOptions
    ) => Effect.Effect<Readonly<Record<string, ReadonlyArray<string>>>, LxdError>
    /** `GET /1.0/operations/{id}`. Errors: `NotFound` (unknown or already collected), `InvalidArgument`. */
    readonly get: (id: string) => Effect.Effect<Operation, LxdError>
    /**
     * Waits until the operation is final (`GET /1.0/operations/{id}/wait`, long-polled). Fails with
     * `OperationFailed`, `OperationCancelled`, `OperationTimeout` (when `timeout` passes; the operation goes
     * on), `NotFound`.
     */
    readonly wait: (
      id: string,
      options?: { readonly timeout?: Duration.DurationInput | undefined }
    ) => Effect.Effect<Operation, LxdError>
    /** Cancels the operation (`DELETE /1.0/operations/{id}`); `BadRequest` if LXD cannot cancel it. */
    readonly cancel: (id: string) => Effect.Effect<void, LxdError>
    /** A handle on an existing operation (no cancel when a scope closes). */
    readonly attach: (id: string) => Effect.Effect<OperationHandle, LxdError>
  }
}

const OperationsByStatus = Schema.NullOr(
  Schema.Record({ key: Schema.String, value: Schema.NullOr(Schema.Array(Operation)) })
)
const IdsByStatus = Schema.NullOr(
  Schema.Record({ key: Schema.String, value: Schema.NullOr(Schema.Array(Schema.String)) })
)

const path = (id: string) => Path.build("/operations/", ["operation id", id])

/**
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Operations.Service, never, LxdClient> = Effect.gen(function*() {
  const client = yield* LxdClient
  const listQuery = (recursion: string, options?: ListOptions) =>
    Effect.gen(function*() {
      if (options?.filter !== undefined) {
        return yield* new InvalidArgument({
          argument: "filter",
          value: options.filter,
          reason: "operations cannot be filtered"
        })
      }
      if (options?.allProjects === true) yield* client.requireExtension("operations_get_query_all_projects")
      return { recursion, ...(options?.allProjects === true ? { "all-projects": "true" } : {}) }
    })
  return Operations.of({
    list: (options) =>
      listQuery("1", options).pipe(
        Effect.flatMap((query) => client.sync(OperationsByStatus, { method: "GET", path: "/operations", query })),
        Effect.map((r) => Object.values(r.metadata ?? {}).flatMap((ops) => ops ?? [])),
        Effect.withSpan("Operations.list")
      ),
    listIds: (options) =>
      listQuery("0", options).pipe(
        Effect.flatMap((query) => client.sync(IdsByStatus, { method: "GET", path: "/operations", query })),
        Effect.flatMap((r) =>
          Effect.forEach(Object.entries(r.metadata ?? {}), ([status, urls]) =>
            Effect.map(
              namesFromUrls({ method: "GET", path: "/operations" }, urls ?? []),
              (ids) => [status, ids] as const
            )).pipe(Effect.map(Object.fromEntries<ReadonlyArray<string>>))
        ),
        Effect.withSpan("Operations.listIds")
      ),
    get: (id) =>
      path(id).pipe(
        Effect.flatMap((p) => client.sync(Operation, { method: "GET", path: p })),
        Effect.map((r) => r.metadata),
        Effect.withSpan("Operations.get")
      ),
    wait: (id, options) =>
      path(id).pipe(
        Effect.flatMap(() => client.waitFor(id, options)),
        Effect.withSpan("Operations.wait")
      ),
    cancel: (id) =>
      path(id).pipe(
        Effect.flatMap((p) => client.request({ method: "DELETE", path: p })),
        Effect.asVoid,
        Effect.withSpan("Operations.cancel")
      ),
    attach: (id) => Effect.flatMap(path(id), () => client.attach(id))
  })
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Operations, never, LxdClient> = Layer.effect(Operations, make)

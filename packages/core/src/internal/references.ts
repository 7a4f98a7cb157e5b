/**
 * The per-request references (`CurrentProject`, `CurrentTarget`), defined here so the engine can read them
 * without importing `LxdClient.ts` (which re-exports them).
 *
 * @internal
 */
import * as Context from "effect/Context"

/** @internal */
export class CurrentProject extends Context.Reference<CurrentProject>()("@effect-lxd/core/CurrentProject", {
  defaultValue: (): string | undefined => undefined
}) {}

/** @internal */
export class CurrentTarget extends Context.Reference<CurrentTarget>()("@effect-lxd/core/CurrentTarget", {
  defaultValue: (): string | undefined => undefined
}) {}

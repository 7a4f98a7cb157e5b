/**
 * The cluster's members as OpenStack Cinder's clusters API shows its services (`GET /v3/{project}/clusters`,
 * `…/clusters/detail`, `…/clusters/{name}`, `PUT …/clusters/disable|enable`; microversion 3.7): one entry per
 * member, `up`/`down` and `enabled`/`disabled`, disabled with a reason. Built on {@link ClusterMembers}
 * (`/1.0/cluster/members`, extensions `clustering`, `clustering_evacuation`): it reads `GET
 * /1.0/cluster/members?recursion=1`, disables by evacuating, enables by restoring.
 *
 * Where each Cinder field comes from:
 * - `name`: the member's `server_name`.
 * - `state` (`up`/`down`): `down` when the member's `status` is `Offline` (LXD stopped hearing its heartbeats),
 *   else `up` (`Online`, `Evacuated`, `Blocked`: the member answers).
 * - `status` (`enabled`/`disabled`): `disabled` when the member is `Evacuated` (an administrator took it out of
 *   service, as Cinder's disable does), else `enabled`.
 * - `disabled_reason`: the member's `config["user.disabled_reason"]`, which `disable` writes and `enable`
 *   removes. A `user.` key rather than the `description`: the description is the operator's own free text
 *   (`lxc cluster edit`), which a disable would overwrite and an enable could not give back; a `user.` key is
 *   LXD's namespace for such data, is accepted in member `config` (any other unknown key is refused), is shown
 *   by `lxc cluster show`, and goes away without touching anything else.
 * - `num_hosts`, `num_down_hosts`: the members in the member's `failure_domain` (every member has exactly one,
 *   `default` unless set; groups would be ambiguous, a member may be in several), and those of them `down`.
 *   Cinder counts the hosts of a cluster; here the failure domain is the group of hosts that fail together.
 * - `last_heartbeat`: **absent**: LXD 5.0.2 has no heartbeat field on members (the leader tracks it in its
 *   database only). Also absent, with no LXD source: `binary`, `replication_status`, `frozen`,
 *   `active_backend_id`, `created_at`, `updated_at`.
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ClusterMembers from "./ClusterMembers.js"
import type { LxdClient } from "./LxdClient.js"
import type { LxdError } from "./LxdError.js"

/**
 * The member `config` key that holds the reason a member was disabled (`user.disabled_reason`).
 *
 * @since 0.2.0
 * @category constants
 */
export const disabledReasonKey = "user.disabled_reason"

/**
 * A member as Cinder lists a cluster (`GET /v3/{project}/clusters`): `name` (`server_name`), `state` (`down`
 * when `Offline`), `status` (`disabled` when `Evacuated`).
 *
 * @since 0.2.0
 * @category models
 */
export interface ClusterService {
  readonly name: string
  readonly state: "up" | "down"
  readonly status: "enabled" | "disabled"
}

/**
 * A member as Cinder details a cluster (`…/clusters/detail`, `…/clusters/{name}`): plus `disabled_reason`
 * (`config["user.disabled_reason"]`, `undefined` when unset), `num_hosts` and `num_down_hosts` (of its
 * `failure_domain`, given too). No `last_heartbeat`: LXD 5.0.2 has no source for it.
 *
 * @since 0.2.0
 * @category models
 */
export interface ClusterServiceDetail extends ClusterService {
  readonly disabled_reason: string | undefined
  readonly failure_domain: string
  readonly num_hosts: number
  readonly num_down_hosts: number
}

/**
 * Cinder's list filters (`name`, `is_up`, `disabled`, `num_hosts`, `num_down_hosts`), applied to what LXD
 * answers (the members API has no filter): an entry is kept when it matches every filter given. `binary` and
 * `replication_status` have no LXD source and are not offered.
 *
 * @since 0.2.0
 * @category models
 */
export interface ClusterServiceFilters {
  readonly name?: string | undefined
  readonly is_up?: boolean | undefined
  readonly disabled?: boolean | undefined
  readonly num_hosts?: number | undefined
  readonly num_down_hosts?: number | undefined
}

/**
 * @since 0.2.0
 * @category tags
 */
export class ClusterServices
  extends Context.Tag("@effect-lxd/core/ClusterServices")<ClusterServices, ClusterServices.Service>()
{}

/**
 * @since 0.2.0
 */
export declare namespace ClusterServices {
  /**
   * Cinder's clusters API over the cluster's members. Every method reads `GET
   * /1.0/cluster/members?recursion=1` (extension `clustering`); on a standalone server every method fails
   * with `LxdApiError` (5.0.2: status 500, "Server is not clustered").
   *
   * @since 0.2.0
   * @category models
   */
  export interface Service {
    /** Cinder's `GET /v3/{project}/clusters`. Errors as `ClusterMembers.list`. */
    readonly list: (filters?: ClusterServiceFilters) => Effect.Effect<ReadonlyArray<ClusterService>, LxdError>
    /** Cinder's `GET /v3/{project}/clusters/detail`. Errors as `ClusterMembers.list`. */
    readonly listDetail: (filters?: ClusterServiceFilters) => Effect.Effect<
      ReadonlyArray<ClusterServiceDetail>,
      LxdError
    >
    /** Cinder's `GET /v3/{project}/clusters/{name}`. Errors: `NotFound`, `InvalidArgument`. */
    readonly show: (name: string) => Effect.Effect<ClusterServiceDetail, LxdError>
    /**
     * Cinder's `PUT …/clusters/disable {name, disabled_reason}`: writes `reason` to the member's
     * `config["user.disabled_reason"]` (merged `PUT` with its `ETag`), then evacuates it (`POST
     * /1.0/cluster/members/{name}/state {"action": "evacuate", mode}`, extension `clustering_evacuation`; LXD
     * cannot cancel it, so an interrupted `disable` waits for it, bounded). A member already disabled only gets
     * the new reason. When the evacuation fails, the reason is removed again. Answers the disabled member.
     * Errors: `NotFound`, `InvalidArgument`, `OperationFailed`, `PreconditionFailed` (changed meanwhile).
     */
    readonly disable: (
      name: string,
      reason?: string | undefined,
      options?: { readonly mode?: ClusterMembers.EvacuationMode | undefined }
    ) => Effect.Effect<ClusterServiceDetail, LxdError>
    /**
     * Cinder's `PUT …/clusters/enable {name}`: restores the member when it is evacuated (`POST …/state
     * {"action": "restore"}`), then removes `config["user.disabled_reason"]`. Answers the enabled member.
     * Errors as `disable`.
     */
    readonly enable: (name: string) => Effect.Effect<ClusterServiceDetail, LxdError>
  }
}

const stateOf = (m: ClusterMembers.ClusterMember): ClusterService["state"] => m.status === "Offline" ? "down" : "up"
const statusOf = (m: ClusterMembers.ClusterMember): ClusterService["status"] =>
  m.status === "Evacuated" ? "disabled" : "enabled"

/** A member as a detailed service, its failure domain's counts taken from `all` (which holds it). */
const detailOf = (
  m: ClusterMembers.ClusterMember,
  all: ReadonlyArray<ClusterMembers.ClusterMember>
): ClusterServiceDetail => {
  const domain = all.filter((o) => o.failure_domain === m.failure_domain)
  return {
    name: m.server_name,
    state: stateOf(m),
    status: statusOf(m),
    disabled_reason: m.config[disabledReasonKey],
    failure_domain: m.failure_domain,
    num_hosts: domain.length,
    num_down_hosts: domain.filter((o) => stateOf(o) === "down").length
  }
}

const matches = (s: ClusterServiceDetail, f: ClusterServiceFilters): boolean =>
  (f.name === undefined || s.name === f.name) &&
  (f.is_up === undefined || (s.state === "up") === f.is_up) &&
  (f.disabled === undefined || (s.status === "disabled") === f.disabled) &&
  (f.num_hosts === undefined || s.num_hosts === f.num_hosts) &&
  (f.num_down_hosts === undefined || s.num_down_hosts === f.num_down_hosts)

/**
 * @since 0.2.0
 * @category constructors
 */
export const make: Effect.Effect<ClusterServices.Service, never, LxdClient> = Effect.gen(function*() {
  const members = yield* ClusterMembers.make
  const listDetail = (filters: ClusterServiceFilters = {}) =>
    members.list().pipe(
      Effect.map((all) => all.map((m) => detailOf(m, all)).filter((s) => matches(s, filters)))
    )
  const show = (name: string) =>
    Effect.gen(function*() {
      const m = yield* members.get(name)
      const others = (yield* members.list()).filter((o) => o.server_name !== m.server_name)
      return detailOf(m, [m, ...others])
    })
  const setReason = (name: string, reason: string | undefined) =>
    members.modify(name, (m) => {
      const { [disabledReasonKey]: _, ...config } = m.config ?? {}
      return { ...m, config: reason === undefined ? config : { ...config, [disabledReasonKey]: reason } }
    })
  return {
    list: (filters) =>
      listDetail(filters).pipe(
        Effect.map((all) => all.map(({ name, state, status }): ClusterService => ({ name, state, status }))),
        Effect.withSpan("ClusterServices.list")
      ),
    listDetail: (filters) => Effect.withSpan(listDetail(filters), "ClusterServices.listDetail"),
    show: (name) => Effect.withSpan(show(name), "ClusterServices.show"),
    disable: (name, reason, options) =>
      Effect.gen(function*() {
        const before = yield* members.get(name)
        yield* setReason(name, reason ?? "")
        if (before.status !== "Evacuated") {
          yield* members.evacuate(name, options).pipe(
            Effect.tapError(() => Effect.ignore(setReason(name, undefined)))
          )
        }
        return yield* show(name)
      }).pipe(Effect.withSpan("ClusterServices.disable")),
    enable: (name) =>
      Effect.gen(function*() {
        const before = yield* members.get(name)
        if (before.status === "Evacuated") yield* members.restore(name)
        yield* setReason(name, undefined)
        return yield* show(name)
      }).pipe(Effect.withSpan("ClusterServices.enable"))
  }
})

/**
 * @since 0.2.0
 * @category layers
 */
export const layer: Layer.Layer<ClusterServices, never, LxdClient> = Layer.effect(ClusterServices, make)

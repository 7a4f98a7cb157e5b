/**
 * Network forwards (`/1.0/networks/{network}/forwards`, extension `network_forward`): a listen address on a
 * network whose traffic goes to instances' addresses, all of it (`config.target_address`) or port by port. A
 * nested collection on the shared shape: every method takes the network first
 * (`forwards.get("lxdbr0", "192.0.2.1")`); a forward is named by its listen address and has no rename. Beside the
 * collection, `addPort` and `removePort` change one port mapping by read-modify-write with the `ETag`, so a
 * concurrent change is refused (`PreconditionFailed`) instead of lost (on LXD 5.0.2, which ignores `If-Match`
 * on forwards, the client compares the `ETag` again right before writing: see {@link spec}).
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Collection from "./internal/collection.js"
import { LxdClient } from "./LxdClient.js"
import { InvalidArgument, type LxdError } from "./LxdError.js"
import * as LxdResource from "./LxdResource.js"
import { NullableArray, OpenEnum, StringMap } from "./LxdSchema.js"

/**
 * One port mapping of a forward: `listen_port` (a port, a range `8000-8010`, or a comma list of them) of
 * `protocol` to `target_port` (the same ports when empty) of `target_address`.
 *
 * @since 0.2.0
 * @category schemas
 */
export const NetworkForwardPort = Schema.Struct({
  description: Schema.optionalWith(Schema.String, { default: () => "" }),
  protocol: OpenEnum("tcp", "udp"),
  listen_port: Schema.String,
  target_address: Schema.String,
  target_port: Schema.optionalWith(Schema.String, { default: () => "" })
}).annotations({ identifier: "NetworkForwardPort" })

/**
 * @since 0.2.0
 * @category models
 */
export interface NetworkForwardPort extends Schema.Schema.Encoded<typeof NetworkForwardPort> {}

/**
 * The writable part of a forward (`PUT /1.0/networks/{network}/forwards/{listenAddress}`): `config`
 * (`target_address` for everything no port names, `user.*`), `description`, `ports`.
 *
 * @since 0.2.0
 * @category schemas
 */
export const NetworkForwardPut = Schema.Struct({
  description: Schema.optionalWith(Schema.String, { default: () => "" }),
  config: StringMap,
  ports: NullableArray(NetworkForwardPort)
}).annotations({ identifier: "NetworkForwardPut" })

/**
 * @since 0.2.0
 * @category models
 */
export interface NetworkForwardPut extends Schema.Schema.Encoded<typeof NetworkForwardPut> {}

/**
 * A forward (`GET /1.0/networks/{network}/forwards/{listenAddress}`).
 *
 * @since 0.2.0
 * @category schemas
 */
export const NetworkForward = Schema.Struct({
  ...NetworkForwardPut.fields,
  listen_address: Schema.String,
  /** The cluster member it lives on (`none` outside a cluster). */
  location: Schema.optional(Schema.String)
}).annotations({ identifier: "NetworkForward" })

/**
 * @since 0.2.0
 * @category models
 */
export interface NetworkForward extends Schema.Schema.Type<typeof NetworkForward> {}

/**
 * A new forward (`POST /1.0/networks/{network}/forwards`).
 *
 * @since 0.2.0
 * @category schemas
 */
export const NetworkForwardsPost = Schema.Struct({
  ...NetworkForwardPut.fields,
  listen_address: Schema.String
}).annotations({ identifier: "NetworkForwardsPost" })

/**
 * @since 0.2.0
 * @category models
 */
export interface NetworkForwardsPost extends Schema.Schema.Encoded<typeof NetworkForwardsPost> {}

/**
 * The forwards of a network, read by the client, the fake and the tests. Named by `listen_address`; no rename.
 * LXD 5.0.2 ignores `If-Match` on a forward's `PUT`/`PATCH` (`ifMatch: false`): `replace`/`update` with a
 * stale `etag` are not refused there; `modify`, `addPort` and `removePort` read the `ETag` again right before
 * writing and fail `PreconditionFailed` themselves.
 *
 * @since 0.2.0
 * @category descriptors
 */
export const spec = LxdResource.spec({
  name: "NetworkForwards",
  path: "/networks/{network}/forwards",
  parents: ["network"],
  kind: "listen address",
  nameField: "listen_address",
  item: NetworkForward,
  post: NetworkForwardsPost,
  put: NetworkForwardPut,
  verbs: LxdResource.verbsWithoutRename,
  // 5.0.2 sends an ETag with a forward but never checks If-Match on one
  ifMatch: false,
  extension: "network_forward",
  lifecycle: "network-forward"
})

/**
 * Which port mapping `removePort` removes: the one of this protocol with exactly this `listen_port`.
 *
 * @since 0.2.0
 * @category models
 */
export interface PortSelector {
  readonly protocol: string
  readonly listen_port: string
}

/**
 * @since 0.2.0
 * @category tags
 */
export class NetworkForwards
  extends Context.Tag("@effect-lxd/core/NetworkForwards")<NetworkForwards, NetworkForwards.Service>()
{}

/**
 * @since 0.2.0
 */
export declare namespace NetworkForwards {
  /**
   * `listNames`, `list`, `get`, `getWithEtag`, `exists`, `create`, `replace`, `update`, `modify`, `delete`, each
   * taking the network first, plus `addPort` and `removePort`. LXD refuses a listen address in use or outside
   * what the network allows, and target addresses outside its subnets (`BadRequest`).
   *
   * @since 0.2.0
   * @category models
   */
  export interface Service extends
    Pick<
      LxdResource.Collection<[network: string], NetworkForward, NetworkForwardsPost, NetworkForwardPut>,
      LxdResource.VerbWithoutRename
    >
  {
    /**
     * Adds one port mapping: `GET`, then `PUT` of the ports with it added, with the `ETag` of the `GET`. `false`
     * (nothing written) when the same mapping is there already; `InvalidArgument` (nothing written) when
     * another mapping of the protocol listens on one of its ports. Errors: `PreconditionFailed` (the forward
     * changed meanwhile), `NotFound`, `BadRequest`, `APIExtensionNotAvailable`.
     */
    readonly addPort: (
      network: string,
      listenAddress: string,
      port: NetworkForwardPort
    ) => Effect.Effect<boolean, LxdError>
    /**
     * Removes the port mapping of `port.protocol` listening on exactly `port.listen_port`, the same way. `false`
     * (nothing written) when there is none. Errors as `addPort`.
     */
    readonly removePort: (
      network: string,
      listenAddress: string,
      port: PortSelector
    ) => Effect.Effect<boolean, LxdError>
  }
}

/** The ports of a `listen_port` value (`80,8000-8002`), or `undefined` when it does not read as one. */
const portsOf = (value: string): ReadonlyArray<readonly [number, number]> | undefined => {
  const out: Array<readonly [number, number]> = []
  for (const piece of value.split(",")) {
    const m = /^\s*(\d+)(?:\s*-\s*(\d+))?\s*$/.exec(piece)
    if (m === null) return undefined
    const from = Number(m[1])
    const to = m[2] === undefined ? from : Number(m[2])
    if (to < from) return undefined
    out.push([from, to])
  }
  return out
}

const overlap = (a: string, b: string): boolean => {
  const x = portsOf(a)
  const y = portsOf(b)
  // a value that does not read as ports: only the same text is the same port
  if (x === undefined || y === undefined) return a.trim() === b.trim()
  return x.some(([f1, t1]) => y.some(([f2, t2]) => f1 <= t2 && f2 <= t1))
}

type Port = Schema.Schema.Type<typeof NetworkForwardPort>
const decodePort = Schema.decodeUnknown(NetworkForwardPort)

const same = (a: Port, b: Port) =>
  a.protocol === b.protocol && a.listen_port === b.listen_port && a.target_address === b.target_address &&
  a.target_port === b.target_port

/**
 * @since 0.2.0
 * @category constructors
 */
export const make: Effect.Effect<NetworkForwards.Service, never, LxdClient> = Effect.map(LxdClient, (client) => ({
  ...Collection.make(client, spec),
  addPort: (network, listenAddress, port) =>
    decodePort(port).pipe(
      Effect.mapError(() =>
        new InvalidArgument({ argument: "port", value: port, reason: "is not a NetworkForwardPort" })
      ),
      Effect.flatMap((added) =>
        Collection.modifyWith(client, spec, [network], listenAddress, (current) => {
          if (current.ports.some((p) => same(p, added))) return Effect.succeed(undefined)
          const clash = current.ports.find((p) =>
            p.protocol === added.protocol && overlap(p.listen_port, added.listen_port)
          )
          return clash === undefined
            ? Effect.succeed({ ...current, ports: [...current.ports, added] })
            : Effect.fail(
              new InvalidArgument({
                argument: "port",
                value: port,
                reason: `${clash.protocol} ${clash.listen_port} is forwarded already (to ${clash.target_address})`
              })
            )
        })
      ),
      Effect.withSpan("NetworkForwards.addPort")
    ),
  removePort: (network, listenAddress, port) =>
    Collection.modifyWith(client, spec, [network], listenAddress, (current) => {
      const ports = current.ports.filter((p) => !(p.protocol === port.protocol && p.listen_port === port.listen_port))
      return Effect.succeed(ports.length === current.ports.length ? undefined : { ...current, ports })
    }).pipe(Effect.withSpan("NetworkForwards.removePort"))
}))

/**
 * @since 0.2.0
 * @category layers
 */
export const layer: Layer.Layer<NetworkForwards, never, LxdClient> = Layer.effect(NetworkForwards, make)

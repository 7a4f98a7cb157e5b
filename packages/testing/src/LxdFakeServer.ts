/**
 * An in-memory fake LXD for tests: server info and extensions, operations (running, success, failure, cancel,
 * the ~5 s expiry), events as LXD emits them, profiles, projects, warnings, images and
 * aliases (a unified or split upload fingerprinted by its sha256, an export of its bytes, a split image as
 * `multipart/form-data`; image secrets, a pull from or a push to another fake, an import from a URL or a
 * simplestreams server), instances with their
 * state transitions, snapshots, backups (export and import), logs, image metadata, templates and console log.
 * It answers at the REST level, so every effect-lxd service runs on it
 * unchanged; its collections are served from the same specs the client is made from. An endpoint it does not
 * implement is a defect naming the endpoint: a gap is never mistaken for success.
 *
 * The same contract suite runs against it and against a real LXD (`test/` in the repository); where they
 * differ, LXD is right.
 *
 * @since 0.1.0
 */
import type { LxdTransport } from "@effect-lxd/core/LxdTransport"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Fake from "./internal/fakeCore.js"
import * as FakeExec from "./internal/fakeExec.js"
import { routes } from "./internal/fakeRoutes.js"
import * as FakeWarnings from "./internal/fakeWarnings.js"
import * as M from "./LxdMockTransport.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** API extensions to advertise (default: the subset of LXD 5.0.2's that the fake implements). */
  readonly extensions?: ReadonlyArray<string> | undefined
  /** `environment.server_name`. */
  readonly serverName?: string | undefined
  /** How long finished operations stay visible, in ms (LXD: 5000). */
  readonly operationRetention?: number | undefined
  /**
   * A clustered fake: the names of its members (the first is the one answering), all `Online` with the
   * `database` role; evacuate and restore change their `status`. Default: a standalone server.
   */
  readonly clusterMembers?: ReadonlyArray<string> | undefined
  /**
   * Answers commands run with exec: return the exit code, or `undefined` to fall back to the built-ins
   * (`echo`, `printf`, `cat`, `true`, `false`, `sleep`, `pwd`, `env`, `sh -c "exit N"`). An unknown command
   * fails like LXD's: exit 127, "Command not found".
   */
  readonly exec?: ExecHandler | undefined
  /**
   * `host:port` the fake says it listens on (`environment.addresses`, and a made-up `certificate`), so that a
   * copy may pull from it or push to it. Default: none, as a daemon without `core.https_address`.
   */
  readonly address?: string | undefined
  /**
   * Other servers this fake can pull images from (`POST /1.0/images` with `source.type: "image"`, protocol
   * `lxd`) or push images to (`POST /1.0/images/{fingerprint}/export`), by URL (`https://host:port`, the other
   * fake's `address`): their transports, e.g. the `transport` of `LxdClient.connect(LxdFakeServer.layer({ address
   * }))`. The record is read at each request, so two fakes that reach each other can share one record filled in
   * once both are built. What a fake asks of another is untrusted there, as between two LXD daemons: private
   * images need their secret (`POST /1.0/images/{fingerprint}/secret`, single use), uploads a push secret.
   */
  readonly remotes?: Readonly<Record<string, LxdTransport.Service>> | undefined
  /**
   * How an import from a URL (`source.type: "url"`: a `HEAD` of the URL, whose `LXD-Image-Hash` and
   * `LXD-Image-URL` headers name the image, then a `GET` of the image) or from a simplestreams server
   * (`streams/v1/index.json`, its products file, the image's files) downloads. Default: the web's `fetch`.
   */
  readonly fetch?: ((input: string, init?: RequestInit) => Promise<Response>) | undefined
}

/**
 * What an exec handler sees: `instance`, `command`, `environment` and `cwd` (`/root` unless the exec set one),
 * `stdin` (a stream of `Uint8Array`, ending at EOF), and the writers `stdout(chunk)` and `stderr(chunk)`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExecContext extends FakeExec.ExecContext {}

/**
 * `(context: ExecContext) => Effect<number | undefined, never, Scope> | undefined`: the exit code of a command;
 * `undefined` (or an effect of `undefined`) means "not mine", and the built-ins are tried next.
 *
 * @since 0.1.0
 * @category models
 */
export type ExecHandler = FakeExec.ExecHandler

/**
 * A problem for the fake to notice, as LXD notices one (warnings are LXD's: no request creates them).
 *
 * @since 0.2.0
 * @category models
 */
export interface WarningInput {
  /** What kind of problem (`AppArmor support has been disabled`): with `project` and `entityUrl`, its identity. */
  readonly type: string
  /** `last_message`. */
  readonly message: string
  /** Default `low`. */
  readonly severity?: "low" | "moderate" | "high" | undefined
  /** The project it is about (default: none, `""`). */
  readonly project?: string | undefined
  /** The object it is about (`/1.0/instances/c1`; default: none). */
  readonly entityUrl?: string | undefined
}

/**
 * What a test can do to the fake besides calling its REST API: make what only LXD makes.
 *
 * @since 0.2.0
 * @category tags
 */
export class Control extends Context.Tag("@effect-lxd/testing/Control")<Control, {
  /**
   * LXD noticed a problem: a new warning (`status: "new"`, `count: 1`), or, for the same type, project and
   * entity, the same warning counted again (`new` again if it was resolved). Returns its UUID.
   */
  readonly warn: (warning: WarningInput) => Effect.Effect<string>
}>() {}

/**
 * The extensions the fake advertises by default.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultExtensions: ReadonlyArray<string> = Fake.DEFAULT_EXTENSIONS

/**
 * A fresh fake LXD with a `default` project, a `default` profile with a root disk, and a `busybox` image alias.
 * It also provides the mock's `MockTransport` record of requests, and its {@link Control}.
 *
 * @example
 * ```ts
 * import { Exec, Instances, Lxd } from "@effect-lxd/core"
 * import { LxdFakeServer } from "@effect-lxd/testing"
 * import { Effect, Layer } from "effect"
 *
 * // a fresh LXD each time the layer is built; the exec handler answers the commands your code runs
 * // (`undefined`: not mine, the built-ins are tried next)
 * const TestLxd = Lxd.layer.pipe(Layer.provide(LxdFakeServer.layer({
 *   exec: (ctx) => ctx.command[0] === "hostname" ? Effect.as(ctx.stdout(`${ctx.instance}\n`), 0) : undefined
 * })))
 *
 * const program = Effect.gen(function*() {
 *   const instances = yield* Instances.Instances
 *   const exec = yield* Exec.Exec
 *   yield* instances.create({ name: "c1", source: { type: "image", alias: "busybox" } })
 *   yield* instances.start("c1")
 *   return yield* exec.runText("c1", ["hostname"])
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(TestLxd))).then((result) => console.log(result.stdout)) // "c1\n"
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<LxdTransport | M.MockTransport | Control> =>
  Layer.unwrapScoped(
    Effect.gen(function*() {
      const scope = yield* Effect.scope
      const state = yield* Fake.makeState(options, scope)
      const { routes: httpRoutes, sockets } = routes(state, options.exec)
      return Layer.merge(
        M.layer({
          routes: httpRoutes,
          sockets,
          fallback: (request) => Effect.dieMessage(`LxdFakeServer does not implement ${request.method} ${request.url}`)
        }),
        Layer.succeed(Control, { warn: (warning) => Effect.sync(() => FakeWarnings.warn(state, warning)) })
      )
    })
  )

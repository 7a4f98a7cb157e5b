/**
 * Running commands in instances (`POST /1.0/instances/{name}/exec` and its websockets).
 *
 * - `run` for the common case: exit code, stdout and stderr, returning as soon as the command ends;
 * - `start` for streams: stdout and stderr consumed while the command runs (with backpressure: a slow reader
 *   slows the command down instead of filling memory), stdin streamed in;
 * - `pty` for interactive sessions: one duplex stream, window resize and signals.
 *
 * Interrupting any of them sends SIGTERM, then closes the control socket (LXD then SIGKILLs the command) and
 * every websocket; the engine then waits for the exec operation to end, so none is left running.
 *
 * Options: `environment`, `cwd`, `user`, `group` (`CommonOptions`), `stdin` (`StartOptions`), `onStdout`,
 * `onStderr`, `lend` (`RunOptions`); `width`, `height`, `recordOutput` for `pty` (`PtyOptions`).
 *
 * @example
 * ```ts
 * import { Exec, Instances, Lxd } from "@effect-lxd/core"
 * import { LxdFakeServer } from "@effect-lxd/testing"
 * import { Effect, Layer } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const instances = yield* Instances.Instances
 *   const exec = yield* Exec.Exec
 *   yield* instances.create({ name: "c1", source: { type: "image", alias: "busybox" } })
 *   yield* instances.start("c1")
 *   // an argv array, no shell; a non-zero exit (127: command not found) is a result, not an error
 *   const pwd = yield* exec.runText("c1", ["pwd"], { cwd: "/tmp", user: 1000, group: 1000, environment: { A: "1" } })
 *   // stdin: a string, bytes or a Stream, closed (EOF) at its end; without it the command reads EOF at once
 *   const cat = yield* exec.runText("c1", ["cat"], { stdin: "fed to stdin\n" })
 *   // output handed over as it comes instead of collected
 *   yield* exec.run("c1", ["echo", "hi"], { onStdout: (chunk) => Effect.log(Exec.decode(chunk)) })
 *   return [pwd.exitCode, pwd.stdout, cat.stdout] // [0, "/tmp\n", "fed to stdin\n"]
 * })
 *
 * // against the in-memory fake; NodeLxdTransport.layerUnixSocket() for a real LXD
 * Effect.runPromise(program.pipe(Effect.provide(Lxd.layer.pipe(Layer.provide(LxdFakeServer.layer())))))
 *   .then(console.log)
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Bytes from "./internal/bytes.js"
import * as internal from "./internal/exec.js"
import * as ExecSession from "./internal/execSession.js"
import { LxdClient } from "./LxdClient.js"
import type { LxdError } from "./LxdError.js"
import type { LxdWebSocket } from "./LxdTransport.js"

/**
 * Options every form takes, all optional:
 *
 * - `environment`: variables for the command (`Record<string, string>`; `{}` when left out);
 * - `cwd`: its working directory;
 * - `user`, `group`: the uid and gid it runs as (numbers, as seen inside the instance).
 *
 * `cwd`, `user` and `group` are sent only when given; otherwise LXD's defaults apply.
 *
 * `user`, `group` and `cwd` need `container_exec_user_group_cwd` (`APIExtensionNotAvailable` otherwise).
 *
 * @since 0.1.0
 * @category models
 */
export interface CommonOptions {
  /** Variables for the command; `{}` when left out. */
  readonly environment?: Readonly<Record<string, string>> | undefined
  /** The uid it runs as, as seen inside the instance (`container_exec_user_group_cwd`). */
  readonly user?: number | undefined
  /** The gid it runs as, as seen inside the instance (`container_exec_user_group_cwd`). */
  readonly group?: number | undefined
  /** Its working directory (`container_exec_user_group_cwd`). */
  readonly cwd?: string | undefined
}

/**
 * `CommonOptions` plus `stdin`: a `string`, a `Uint8Array` or a `Stream<Uint8Array, LxdError>`, streamed
 * into the command and then closed (EOF). Without it the command reads EOF at once.
 *
 * @since 0.1.0
 * @category models
 */
export interface StartOptions extends CommonOptions {
  /** Input, streamed into the command and then closed (EOF). Without it the command reads EOF at once. */
  readonly stdin?: string | Uint8Array | Stream.Stream<Uint8Array, LxdError> | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface RunOptions extends StartOptions {
  /** Receives stdout as it comes; the result's `stdout` is then empty. */
  readonly onStdout?: ((chunk: Uint8Array) => Effect.Effect<void, LxdError>) | undefined
  /** Receives stderr as it comes; the result's `stderr` is then empty. */
  readonly onStderr?: ((chunk: Uint8Array) => Effect.Effect<void, LxdError>) | undefined
  /**
   * `onStdout` and `onStderr` get views into the transport's reused receive buffers instead of copies, valid
   * only until the handler's effect ends (copy what you keep). Output then streams through in constant memory,
   * with no allocation per chunk: the node unix-socket transport lends; others hand over copies all the same.
   */
  readonly lend?: boolean | undefined
}

/**
 * `CommonOptions` plus the terminal's `width` (default 80) and `height` (default 24), and `recordOutput`:
 * keep a copy of the output in the instance's log (`record-output`, extension `container_exec_recording`).
 *
 * @since 0.1.0
 * @category models
 */
export interface PtyOptions extends CommonOptions {
  /** Terminal width (default 80). */
  readonly width?: number | undefined
  /** Terminal height (default 24). */
  readonly height?: number | undefined
  /** Keep a copy of the output in the instance's log (`record-output`, extension `container_exec_recording`). */
  readonly recordOutput?: boolean | undefined
}

/**
 * How a command ended. A command that ran and failed, or could not be found (127) or executed (126), is an
 * exit, not an error: `error` then carries LXD's message ("Command not found").
 *
 * Fields: `exitCode: number`, `error: string | undefined`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExitStatus {
  /** The command's exit code (127: not found, 126: could not be executed). */
  readonly exitCode: number
  /** LXD's message when the operation failed although the command ran or could not start. */
  readonly error: string | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Result extends ExitStatus {
  readonly stdout: Uint8Array
  readonly stderr: Uint8Array
}

/**
 * @since 0.1.0
 * @category models
 */
export interface TextResult extends ExitStatus {
  readonly stdout: string
  readonly stderr: string
}

/**
 * A running non-interactive command: `operationId`; `stdout` and `stderr` (streams of `Uint8Array`, each to
 * run once); `write(chunk)` and `closeStdin` (without a `stdin` option stdin is closed at the start: give the
 * input as `stdin`); `signal(n)`; `exit`, which completes with the `ExitStatus`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Process {
  /** The id of the exec operation. */
  readonly operationId: string
  /** The command's stdout (run it once). */
  readonly stdout: Stream.Stream<Uint8Array, LxdError>
  /** The command's stderr (run it once). */
  readonly stderr: Stream.Stream<Uint8Array, LxdError>
  /** Sends bytes (a string as UTF-8) to the command's stdin. */
  readonly write: (chunk: Uint8Array | string) => Effect.Effect<void, LxdError>
  /** Closes the command's stdin (EOF). */
  readonly closeStdin: Effect.Effect<void>
  /** Sends a signal (a number: 15 is SIGTERM) to the command. */
  readonly signal: (signal: number) => Effect.Effect<void, LxdError>
  /** Completes with the exit status when the command has ended. */
  readonly exit: Effect.Effect<ExitStatus, LxdError>
}

/**
 * A running interactive command on a PTY: `operationId`; `output` (one stream for stdout and stderr);
 * `write(chunk)`; `resize(width, height)`; `signal(n)`; `exit`, which completes with the `ExitStatus`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Pty {
  /** The id of the exec operation. */
  readonly operationId: string
  /** The terminal's output (stdout and stderr in one stream). */
  readonly output: Stream.Stream<Uint8Array, LxdError>
  /** Sends bytes (a string as UTF-8) to the terminal. */
  readonly write: (chunk: Uint8Array | string) => Effect.Effect<void, LxdError>
  /** Resizes the terminal (`InvalidArgument` for a size that is not an integer from 1 to 65535). */
  readonly resize: (width: number, height: number) => Effect.Effect<void, LxdError>
  /** Sends a signal (a number) to the command. */
  readonly signal: (signal: number) => Effect.Effect<void, LxdError>
  /** Completes with the exit status when the command has ended. */
  readonly exit: Effect.Effect<ExitStatus, LxdError>
}

/**
 * `PtyOptions` plus `interactive` (default `true`: one PTY socket, fd `"0"`, plus `"control"`; `false`: fds
 * `"0"`, `"1"`, `"2"` and `"control"`) for {@link Exec.Service.session}.
 *
 * @since 0.2.0
 * @category models
 */
export interface SessionOptions extends PtyOptions {
  /** `true` (default): a PTY; `false`: stdin, stdout and stderr on their own sockets. */
  readonly interactive?: boolean | undefined
}

/**
 * One handed-out websocket of a {@link Session}: its `secret` and its `path` below the server
 * (`/1.0/operations/{id}/websocket?secret=…`), which needs no further authentication.
 *
 * @since 0.2.0
 * @category models
 */
export interface SessionFd {
  readonly secret: string
  readonly path: string
}

/**
 * An exec whose websockets the caller connects, as pylxd's `raw_interactive_execute` hands them out for a browser
 * terminal: `operationId`; `fds` (`"control"` and `"0"`, plus `"1"`, `"2"` when not interactive) with their
 * secrets and paths; `connect(fd)`, which opens one through this client's transport (for a proxy); `exit`, which
 * completes with the `ExitStatus`. The command starts once every fd is connected (LXD gives up after about 5
 * seconds). On a PTY, LXD drops `control` when the command exits and ends the operation when `"0"` closes.
 *
 * @since 0.2.0
 * @category models
 */
export interface Session {
  /** The id of the exec operation. */
  readonly operationId: string
  /** Whether the command runs on a PTY. */
  readonly interactive: boolean
  /** fd name (`"control"`, `"0"`, …) → its secret and websocket path. */
  readonly fds: Readonly<Record<string, SessionFd>>
  /** Opens fd's websocket through this client's transport, in the caller's scope. */
  readonly connect: (fd: string) => Effect.Effect<LxdWebSocket, LxdError, Scope.Scope>
  /** Completes with the exit status when the command has ended. */
  readonly exit: Effect.Effect<ExitStatus, LxdError>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Exec extends Context.Tag("@effect-lxd/core/Exec")<Exec, Exec.Service>() {}

/**
 * The `Service` interface of the `Exec` tag.
 *
 * @since 0.1.0
 * @category models
 */
export declare namespace Exec {
  /**
   * @since 0.1.0
   * @category models
   */
  export interface Service {
    /**
     * Runs `command` (an argv array, no shell) and collects its output as bytes. Needs a running instance.
     * Errors: `InvalidArgument` (name, empty command), `NotFound`, `BadRequest` (instance not running),
     * `ClientConnectionFailed`, `APIExtensionNotAvailable`.
     */
    readonly run: (
      instance: string,
      command: ReadonlyArray<string>,
      options?: RunOptions
    ) => Effect.Effect<Result, LxdError>
    /** {@link Exec.Service.run}, with output decoded (`utf-8` by default; `latin1`, …, as `TextDecoder` knows). */
    readonly runText: (
      instance: string,
      command: ReadonlyArray<string>,
      options?: RunOptions & { readonly encoding?: string | undefined }
    ) => Effect.Effect<TextResult, LxdError>
    /**
     * Starts `command` in the caller's scope; consume `stdout` and `stderr` (each once) while it runs.
     * `exit` completes when the command ended.
     */
    readonly start: (
      instance: string,
      command: ReadonlyArray<string>,
      options?: StartOptions
    ) => Effect.Effect<Process, LxdError, Scope.Scope>
    /** Starts `command` on a PTY in the caller's scope (`interactive: true`). */
    readonly pty: (
      instance: string,
      command: ReadonlyArray<string>,
      options?: PtyOptions
    ) => Effect.Effect<Pty, LxdError, Scope.Scope>
    /**
     * Starts `command` (`POST /1.0/instances/{name}/exec`, `wait-for-websocket`, async) and hands out its
     * websockets (a {@link Session}) for the caller to connect, as pylxd's `raw_interactive_execute`: for a web
     * app that proxies them to a browser terminal. When the scope closes before the command ended, the fds nobody
     * connected through `connect` are connected and closed, so LXD ends the command (it cannot cancel an exec)
     * and no operation is left. Sockets a proxy dialled itself from the handed-out paths are that proxy's to
     * close: LXD 5.0.2 accepts a second connection on a secret but keeps the command on the first, so the
     * command then outlives the scope (whose close waits, bounded, for it). Errors: as
     * {@link Exec.Service.run}; `recordOutput` needs `container_exec_recording`.
     */
    readonly session: (
      instance: string,
      command: ReadonlyArray<string>,
      options?: SessionOptions
    ) => Effect.Effect<Session, LxdError, Scope.Scope>
  }
}

/**
 * Decodes bytes (`utf-8` by default).
 *
 * @since 0.1.0
 * @category constructors
 */
export const decode = (bytes: Uint8Array, encoding = "utf-8"): string => new TextDecoder(encoding).decode(bytes)

/**
 * Collects a byte stream into one array.
 *
 * @since 0.1.0
 * @category constructors
 */
export const collect = <E, R>(stream: Stream.Stream<Uint8Array, E, R>): Effect.Effect<Uint8Array, E, R> =>
  Effect.map(Stream.runCollect(stream), Bytes.concat)

/**
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Exec.Service, never, LxdClient> = Effect.gen(function*() {
  const client = yield* LxdClient
  const run: Exec.Service["run"] = (instance, command, options = {}) =>
    internal.run(client, instance, command, options).pipe(Effect.withSpan("Exec.run"))
  return Exec.of({
    run,
    runText: (instance, command, options = {}) =>
      Effect.map(run(instance, command, options), (r) => ({
        exitCode: r.exitCode,
        error: r.error,
        stdout: decode(r.stdout, options.encoding),
        stderr: decode(r.stderr, options.encoding)
      })),
    start: (instance, command, options = {}) =>
      internal.start(client, instance, command, options).pipe(Effect.withSpan("Exec.start")),
    pty: (instance, command, options = {}) =>
      internal.pty(client, instance, command, options).pipe(Effect.withSpan("Exec.pty")),
    session: (instance, command, options = {}) =>
      ExecSession.session(client, instance, command, options).pipe(Effect.withSpan("Exec.session"))
  })
})

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Exec, never, LxdClient> = Layer.effect(Exec, make)

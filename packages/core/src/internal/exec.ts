/**
 * Exec over LXD's websockets: non-interactive (stdin, stdout, stderr, control) and interactive (one PTY socket
 * plus control), with the protocol's quirks handled in one place.
 *
 * @internal
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { LxdClient, OperationHandle } from "../LxdClient.js"
import { InvalidArgument, type LxdError, ProtocolError } from "../LxdError.js"
import type { Operation } from "../LxdSchema.js"
import type { LxdWebSocket } from "../LxdTransport.js"
import { concat } from "./bytes.js"
import * as Path from "./path.js"

/** @internal */
export interface CommonOptions {
  readonly environment?: Readonly<Record<string, string>> | undefined
  readonly user?: number | undefined
  readonly group?: number | undefined
  readonly cwd?: string | undefined
}

/** @internal */
export interface ProcessOptions extends CommonOptions {
  /** Input, streamed into the command and then closed (EOF). Without it the command reads EOF at once. */
  readonly stdin?: string | Uint8Array | Stream.Stream<Uint8Array, LxdError> | undefined
}

/** @internal */
export interface PtyOptions extends CommonOptions {
  readonly width?: number | undefined
  readonly height?: number | undefined
  /** Keep a copy of the output in the instance's log (`record-output`, extension `container_exec_recording`). */
  readonly recordOutput?: boolean | undefined
}

/** @internal */
export interface Exit {
  readonly exitCode: number
  /** LXD's message when the operation failed although the command ran or could not start. */
  readonly error: string | undefined
}

/** @internal */
export interface Process {
  readonly operationId: string
  readonly stdout: Stream.Stream<Uint8Array, LxdError>
  readonly stderr: Stream.Stream<Uint8Array, LxdError>
  readonly write: (chunk: Uint8Array | string) => Effect.Effect<void, LxdError>
  readonly closeStdin: Effect.Effect<void>
  readonly signal: (signal: number) => Effect.Effect<void, LxdError>
  readonly exit: Effect.Effect<Exit, LxdError>
}

/** @internal */
export interface Pty {
  readonly operationId: string
  readonly output: Stream.Stream<Uint8Array, LxdError>
  readonly write: (chunk: Uint8Array | string) => Effect.Effect<void, LxdError>
  readonly resize: (width: number, height: number) => Effect.Effect<void, LxdError>
  readonly signal: (signal: number) => Effect.Effect<void, LxdError>
  readonly exit: Effect.Effect<Exit, LxdError>
}

const Fds = Schema.Struct({ fds: Schema.Record({ key: Schema.String, value: Schema.String }) })
const Return = Schema.Struct({ return: Schema.Number })
const decodeFds = Schema.decodeUnknownEither(Fds)
const decodeReturn = Schema.decodeUnknownOption(Return)

const encoder = new TextEncoder()
const toBytes = (chunk: Uint8Array | string) => typeof chunk === "string" ? encoder.encode(chunk) : chunk

const validateCommand = (command: ReadonlyArray<string>) =>
  command.length === 0 || command.some((arg) => typeof arg !== "string")
    ? Effect.fail(
      new InvalidArgument({ argument: "command", value: command, reason: "must be a non-empty argv array" })
    )
    : Effect.void

const body = (command: ReadonlyArray<string>, options: CommonOptions, extra: Record<string, unknown>) => ({
  command,
  environment: options.environment ?? {},
  "wait-for-websocket": true,
  ...(options.user === undefined ? {} : { user: options.user }),
  ...(options.group === undefined ? {} : { group: options.group }),
  ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  ...extra
})

/** The exit status: `metadata.return` of the final operation, also when LXD marks it failed (127, 126). */
const exitOf = (wait: Effect.Effect<Operation, LxdError>): Effect.Effect<Exit, LxdError> =>
  wait.pipe(
    Effect.flatMap((op) =>
      Option.match(decodeReturn(op.metadata), {
        onNone: () =>
          Effect.fail(
            new ProtocolError({
              method: "GET",
              path: "/1.0/operations/" + op.id,
              description: "exec finished without a return code"
            })
          ),
        onSome: (r) => Effect.succeed<Exit>({ exitCode: r.return, error: undefined })
      })
    ),
    Effect.catchTag("OperationFailed", (e) =>
      Option.match(decodeReturn(e.metadata), {
        onNone: () => Effect.fail(e),
        onSome: (r) => Effect.succeed<Exit>({ exitCode: r.return, error: e.message })
      }))
  )

/**
 * Data frames until LXD's barrier (an empty text frame) or the close. LXD sometimes drops an output socket right
 * after the command ended without the barrier or a close frame (1006); like the Go client, that ends the stream
 * (the exit status comes from the operation, which reports a real failure).
 */
const dataUntilBarrier = (socket: LxdWebSocket): Stream.Stream<Uint8Array, LxdError> =>
  socket.frames.pipe(
    Stream.catchTag("ClientConnectionFailed", (e) => e.closeCode === 1006 ? Stream.empty : Stream.fail(e)),
    Stream.takeWhile((frame) => typeof frame !== "string"),
    Stream.map((frame) => frame as Uint8Array)
  )

const controlMessage = (control: LxdWebSocket, message: unknown) => control.send(JSON.stringify(message))

const prepare = (
  client: LxdClient.Service,
  instance: string,
  command: ReadonlyArray<string>,
  options: CommonOptions,
  extra: Record<string, unknown>
) =>
  Effect.gen(function*() {
    const path = yield* Path.build("/instances/", ["instance", instance], "/exec")
    yield* validateCommand(command)
    if (options.user !== undefined || options.group !== undefined || options.cwd !== undefined) {
      yield* client.requireExtension("container_exec_user_group_cwd")
    }
    // an exec operation cannot be cancelled; when the scope closes early the sockets are closed first (which
    // kills the command), then the engine waits for the operation to end
    const handle = yield* client.operation(
      { method: "POST", path, body: body(command, options, extra) },
      { uncancellableGrace: "15 seconds" }
    )
    const fds = decodeFds(handle.initial.metadata)
    if (fds._tag === "Left") {
      return yield* new ProtocolError({
        method: "POST",
        path: `/1.0${path}`,
        description: "exec operation without websocket secrets"
      })
    }
    const { path: opPath, query } = Path.splitUrl(handle.url)
    const open = (fd: string) => {
      const secret = fds.right.fds[fd]
      return secret === undefined
        ? Effect.fail(
          new ProtocolError({ method: "POST", path: `/1.0${path}`, description: `no websocket secret for fd ${fd}` })
        )
        : client.websocket(`${opPath}/websocket`, { ...query, secret })
    }
    return { handle, open }
  })

/**
 * The command's exit status, and a finaliser for a scope that closes before the command ended: SIGTERM, then
 * the control socket closes (LXD then SIGKILLs the command), then the other sockets.
 */
const killOnEarlyClose = (
  handle: OperationHandle,
  control: LxdWebSocket,
  others: ReadonlyArray<LxdWebSocket>
): Effect.Effect<Effect.Effect<Exit, LxdError>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const finished = yield* Deferred.make<Exit, LxdError>()
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        if (yield* Deferred.isDone(finished)) return
        yield* Effect.ignore(
          Effect.timeout(Effect.interruptible(controlMessage(control, { command: "signal", signal: 15 })), "1 second")
        )
        yield* control.close()
        for (const socket of others) yield* socket.close()
      })
    )
    return yield* Effect.cached(Effect.tap(exitOf(handle.wait()), (e) => Deferred.succeed(finished, e)))
  })

/**
 * Starts a non-interactive command with its four websockets, in the caller's scope. Closing the scope before
 * the command ended sends SIGTERM, then closes the control socket (LXD then SIGKILLs the command) and every
 * other socket.
 *
 * @internal
 */
export const start = (
  client: LxdClient.Service,
  instance: string,
  command: ReadonlyArray<string>,
  options: ProcessOptions
): Effect.Effect<Process, LxdError, Scope.Scope> =>
  Effect.gen(function*() {
    const { handle, open } = yield* prepare(client, instance, command, options, { interactive: false })
    // LXD gives every socket 5 seconds to connect: control first, then the data sockets together
    const control = yield* open("control")
    const [stdin, stdout, stderr] = yield* Effect.all([open("0"), open("1"), open("2")], { concurrency: "unbounded" })
    const exit = yield* killOnEarlyClose(handle, control, [])
    const closeStdin = stdin.close(1000)
    if (options.stdin !== undefined) {
      const input = options.stdin
      const source: Stream.Stream<Uint8Array, LxdError> = typeof input === "string" || input instanceof Uint8Array
        ? Stream.succeed(toBytes(input))
        : input
      yield* source.pipe(
        Stream.runForEach((chunk) => chunk.length === 0 ? Effect.void : stdin.send(chunk)),
        Effect.ensuring(closeStdin),
        Effect.forkScoped
      )
    } else {
      yield* closeStdin
    }
    return {
      operationId: handle.id,
      stdout: dataUntilBarrier(stdout),
      stderr: dataUntilBarrier(stderr),
      write: (chunk) => stdin.send(toBytes(chunk)),
      closeStdin,
      signal: (signal) => controlMessage(control, { command: "signal", signal }),
      exit
    } satisfies Process
  })

/**
 * Runs a command to completion and collects its output. `onStdout`/`onStderr` take the output as it comes
 * instead (the result then holds nothing for that stream).
 *
 * @internal
 */
export const run = (
  client: LxdClient.Service,
  instance: string,
  command: ReadonlyArray<string>,
  options: ProcessOptions & {
    readonly onStdout?: ((chunk: Uint8Array) => Effect.Effect<void, LxdError>) | undefined
    readonly onStderr?: ((chunk: Uint8Array) => Effect.Effect<void, LxdError>) | undefined
  }
): Effect.Effect<Exit & { readonly stdout: Uint8Array; readonly stderr: Uint8Array }, LxdError> =>
  Effect.scoped(Effect.gen(function*() {
    const p = yield* start(client, instance, command, options)
    const drain = (
      stream: Stream.Stream<Uint8Array, LxdError>,
      handler: ((c: Uint8Array) => Effect.Effect<void, LxdError>) | undefined
    ) =>
      handler === undefined
        ? Effect.map(Stream.runCollect(stream), concat)
        : Effect.as(Stream.runForEach(stream, handler), new Uint8Array(0))
    const [stdout, stderr, exit] = yield* Effect.all([
      drain(p.stdout, options.onStdout),
      drain(p.stderr, options.onStderr),
      p.exit
    ], { concurrency: "unbounded" })
    return { ...exit, stdout, stderr }
  }))

/**
 * Starts an interactive command on a PTY. When the command exits LXD drops the control socket (without a close
 * frame) and keeps the operation running until the PTY socket closes, so the PTY is closed then.
 *
 * @internal
 */
export const pty = (
  client: LxdClient.Service,
  instance: string,
  command: ReadonlyArray<string>,
  options: PtyOptions
): Effect.Effect<Pty, LxdError, Scope.Scope> =>
  Effect.gen(function*() {
    if (options.recordOutput === true) yield* client.requireExtension("container_exec_recording")
    const { handle, open } = yield* prepare(client, instance, command, options, {
      interactive: true,
      width: options.width ?? 80,
      height: options.height ?? 24,
      "record-output": options.recordOutput === true
    })
    const control = yield* open("control")
    const terminal = yield* open("0")
    const exit = yield* killOnEarlyClose(handle, control, [terminal])
    // the command ended when LXD drops control: then close the PTY so the operation can finish
    yield* control.frames.pipe(Stream.runDrain, Effect.ignore, Effect.zipRight(terminal.close()), Effect.forkScoped)
    return {
      operationId: handle.id,
      output: terminal.frames.pipe(
        Stream.catchTag("ClientConnectionFailed", () => Stream.empty),
        Stream.filter((frame): frame is Uint8Array => typeof frame !== "string")
      ),
      write: (chunk) => terminal.send(toBytes(chunk)),
      resize: (width, height) =>
        controlMessage(control, { command: "window-resize", args: { width: String(width), height: String(height) } }),
      signal: (signal) => controlMessage(control, { command: "signal", signal }),
      exit
    } satisfies Pty
  })

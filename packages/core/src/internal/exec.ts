/**
 * Exec over LXD's websockets: non-interactive (stdin, stdout, stderr, control) and interactive (one PTY socket
 * plus control), with the protocol's quirks handled in one place.
 *
 * @internal
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type {
  CommonOptions,
  ExitStatus as Exit,
  Process,
  Pty,
  PtyOptions,
  StartOptions as ProcessOptions
} from "../Exec.js"
import type { LxdClient, OperationHandle } from "../LxdClient.js"
import { InvalidArgument, type LxdError, ProtocolError } from "../LxdError.js"
import type { Operation } from "../LxdSchema.js"
import type { LxdWebSocket } from "../LxdTransport.js"
import { concat } from "./bytes.js"
import * as FastDecode from "./fastDecode.js"
import * as Op from "./operation.js"
import * as Path from "./path.js"
import * as WsOp from "./websocketOperation.js"

const { controlMessage, toBytes } = WsOp

const Return = Schema.Struct({ return: Schema.Number })
const decodeReturnEither = FastDecode.decodeUnknownEither(Return)
const decodeReturn = (u: unknown) => Either.getRight(decodeReturnEither(u))

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

/** The exit status: `metadata.return` of the final operation, also when LXD marks it failed (127, 126). @internal */
export const exitOf = (wait: Effect.Effect<Operation, LxdError>): Effect.Effect<Exit, LxdError> =>
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
 * Three effects at once (the first on the current fiber, two forked); a failure interrupts the others. The same
 * as `Effect.all` with concurrency for three, in a third of the runtime steps: exec does this twice per command.
 */
const all3 = <A, B, C, E, R>(
  a: Effect.Effect<A, E, R>,
  b: Effect.Effect<B, E, R>,
  c: Effect.Effect<C, E, R>
): Effect.Effect<readonly [A, B, C], E, R> =>
  Effect.flatMap(Effect.fork(b), (fb) =>
    Effect.flatMap(Effect.fork(c), (fc) =>
      Effect.onError(
        Effect.flatMap(
          a,
          (x) => Effect.flatMap(Fiber.join(fb), (y) => Effect.map(Fiber.join(fc), (z) => [x, y, z] as const))
        ),
        () => Effect.zipRight(Fiber.interrupt(fb), Fiber.interrupt(fc))
      )))

/** A pull of byte chunks: fails with `None` at the end. */
type Pull = Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<LxdError>>

/**
 * The data frames of an output socket until LXD's barrier (an empty text frame) or the close, as a pull (with
 * `lend`, views valid until the next pull, when the transport lends them: see `LxdWebSocket.readLent`): no
 * stream machinery on the hot path of a command that prints gigabytes, nor on the short path of `run`. At the
 * barrier our end drops the connection, as the Go client does (LXD then finishes the operation sooner).
 *
 * LXD sometimes drops an output socket right after the command ended without the barrier or a close frame
 * (1006), and a daemon that dies drops it the same way: the output may then be cut short. So a 1006 close ends
 * the output only once the command's outcome is known (`exit`, the operation's long-poll, already in flight):
 * the output ends when the command ended, and fails with `exit`'s error (`ClientConnectionFailed` when the
 * daemon went away) otherwise. The barrier path, the one normal commands take, waits for nothing.
 */
const outputPull = (socket: LxdWebSocket, lend: boolean, exit: Effect.Effect<Exit, LxdError>): Pull => {
  let ended = false
  const end: Pull = Effect.fail(Option.none())
  const settled: Pull = Effect.matchEffect(exit, {
    onFailure: (e) => Effect.fail(Option.some(e)),
    onSuccess: () => end
  })
  const read: Pull = Effect.matchEffect(lend && socket.readLent !== undefined ? socket.readLent : socket.read, {
    onFailure: (e) => {
      ended = true
      if (Option.isNone(e)) return end
      return e.value.closeCode === 1006 ? settled : Effect.fail(e as Option.Option<LxdError>)
    },
    onSuccess: (frames) => {
      const barrier = Chunk.findFirstIndex(frames, (frame) => typeof frame === "string")
      if (Option.isNone(barrier)) return Effect.succeed(frames as Chunk.Chunk<Uint8Array>)
      ended = true
      return Effect.as(socket.terminate, Chunk.take(frames, barrier.value) as Chunk.Chunk<Uint8Array>)
    }
  })
  return Effect.suspend(() => ended ? end : read)
}

/** Runs `f` on every chunk of a pull until its end. */
const forEachChunk = (pull: Pull, f: (chunk: Chunk.Chunk<Uint8Array>) => Effect.Effect<void, LxdError>) => {
  const loop: Effect.Effect<void, LxdError> = Effect.matchEffect(pull, {
    onFailure: (e) => Option.isSome(e) ? Effect.fail(e.value) : Effect.void,
    onSuccess: (chunk) => Effect.zipRight(f(chunk), loop)
  })
  return loop
}

/** Submits the exec and decodes its websocket secrets; `open(fd)` connects one. @internal */
export const prepare = (
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
    return yield* WsOp.submit(client, { method: "POST", path, body: body(command, options, extra) }, "exec")
  })

/**
 * The command's exit status, and a finaliser for a scope that closes before the command ended: SIGTERM, then
 * the control socket closes (LXD then SIGKILLs the command), then the other sockets. The status is awaited from
 * the start, in the scope (LXD's long-poll `/wait` is in flight while the command runs, as the Go client does).
 */
const killOnEarlyClose = (
  handle: OperationHandle,
  control: LxdWebSocket,
  others: ReadonlyArray<LxdWebSocket>
): Effect.Effect<Effect.Effect<Exit, LxdError>, never, Scope.Scope> =>
  WsOp.untilEnd(
    exitOf(handle.wait()),
    Effect.gen(function*() {
      yield* Effect.ignore(Op.bounded(controlMessage(control, { command: "signal", signal: 15 }), "1 second"))
      yield* control.close()
      for (const socket of others) yield* socket.close()
    })
  )

/** A started process with its output as pulls (for `run`, which needs no streams). */
interface Started extends Omit<Process, "stdout" | "stderr"> {
  readonly stdout: Pull
  readonly stderr: Pull
}

const startPulls = (
  client: LxdClient.Service,
  instance: string,
  command: ReadonlyArray<string>,
  options: ProcessOptions,
  lend: { readonly stdout: boolean; readonly stderr: boolean } = { stdout: false, stderr: false }
): Effect.Effect<Started, LxdError, Scope.Scope> =>
  Effect.gen(function*() {
    const { handle, open } = yield* prepare(client, instance, command, options, { interactive: false })
    // LXD gives every socket 5 seconds to connect: control first, then the data sockets together
    const control = yield* open("control")
    const [stdin, stdout, stderr] = yield* all3(open("0"), open("1"), open("2"))
    const closeStdin = stdin.close(1000)
    const input = options.stdin
    if (input === undefined) {
      yield* closeStdin
    } else {
      const send = typeof input === "string" || input instanceof Uint8Array
        ? stdin.send(toBytes(input))
        : Stream.runForEach(input, (chunk) => chunk.length === 0 ? Effect.void : stdin.send(chunk))
      yield* Effect.forkScoped(Effect.ensuring(send, closeStdin))
    }
    const exit = yield* killOnEarlyClose(handle, control, [])
    return {
      operationId: handle.id,
      stdout: outputPull(stdout, lend.stdout, exit),
      stderr: outputPull(stderr, lend.stderr, exit),
      write: (chunk) => stdin.send(toBytes(chunk)),
      closeStdin,
      signal: (signal) => controlMessage(control, { command: "signal", signal }),
      exit
    } satisfies Started
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
  Effect.map(startPulls(client, instance, command, options), (p) => ({
    ...p,
    stdout: Stream.repeatEffectChunkOption(p.stdout),
    stderr: Stream.repeatEffectChunkOption(p.stderr)
  }))

/**
 * Runs a command to completion and collects its output. `onStdout`/`onStderr` take the output as it comes
 * instead (the result then holds nothing for that stream); with `lend`, they get views valid until their effect
 * ends.
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
    readonly lend?: boolean | undefined
  }
): Effect.Effect<Exit & { readonly stdout: Uint8Array; readonly stderr: Uint8Array }, LxdError> =>
  Effect.scoped(Effect.gen(function*() {
    const lend = options.lend === true
    const p = yield* startPulls(client, instance, command, options, {
      stdout: lend && options.onStdout !== undefined,
      stderr: lend && options.onStderr !== undefined
    })
    const drain = (pull: Pull, handler: ((c: Uint8Array) => Effect.Effect<void, LxdError>) | undefined) =>
      handler === undefined
        ? Effect.suspend(() => {
          const chunks: Array<Uint8Array> = []
          return Effect.map(
            forEachChunk(pull, (chunk) => Effect.sync(() => chunks.push(...chunk))),
            () => concat(chunks)
          )
        })
        : Effect.as(forEachChunk(pull, (chunk) => Effect.forEach(chunk, handler, { discard: true })), new Uint8Array(0))
    const [stdout, stderr, exit] = yield* all3(
      drain(p.stdout, options.onStdout),
      drain(p.stderr, options.onStderr),
      p.exit
    )
    return { ...exit, stdout, stderr }
  }))

/** The PTY part of an exec body, after checking `record-output`'s extension. @internal */
export const ptyFields = (client: LxdClient.Service, options: PtyOptions) =>
  Effect.as(options.recordOutput === true ? client.requireExtension("container_exec_recording") : Effect.void, {
    interactive: true,
    width: options.width ?? 80,
    height: options.height ?? 24,
    "record-output": options.recordOutput === true
  })

/**
 * Starts an interactive command on a PTY. When the command exits LXD drops the control socket (without a close
 * frame) and keeps the operation running until the PTY socket closes, so the PTY is closed then. A PTY socket
 * lost before its close ends the output once the command ended, and fails it with `exit`'s error otherwise.
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
    const { handle, open } = yield* prepare(client, instance, command, options, yield* ptyFields(client, options))
    const control = yield* open("control")
    const terminal = yield* open("0")
    const exit = yield* killOnEarlyClose(handle, control, [terminal])
    // the command ended when LXD drops control: then close the PTY so the operation can finish
    yield* control.frames.pipe(Stream.runDrain, Effect.ignore, Effect.zipRight(terminal.close()), Effect.forkScoped)
    return {
      operationId: handle.id,
      // LXD drops the PTY socket after some commands; a dying daemon drops it too: the outcome tells them apart
      ...WsOp.terminal(control, terminal, exit),
      signal: (signal) => controlMessage(control, { command: "signal", signal }),
      exit
    } satisfies Pty
  })

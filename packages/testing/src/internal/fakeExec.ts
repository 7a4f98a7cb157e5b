/**
 * The fake's exec API: `POST /1.0/instances/{name}/exec` with `wait-for-websocket`, its websockets
 * (`/1.0/operations/{id}/websocket?secret=`), the barrier and close semantics of LXD 5.0.2, and commands
 * answered by user handlers or a few built-ins.
 *
 * @internal
 */
import { ClientConnectionFailed } from "@effect-lxd/core/LxdError"
import type { Frame } from "@effect-lxd/core/LxdTransport"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as M from "../LxdMockTransport.js"
import { type FakeInstance, type FakeState, key, OpFailure, startOperation, uuid } from "./fakeCore.js"

/** What a command handler gets. @internal */
export interface ExecContext {
  readonly instance: string
  readonly command: ReadonlyArray<string>
  readonly environment: Readonly<Record<string, string>>
  readonly cwd: string
  /** Bytes sent by the client; ends at EOF. */
  readonly stdin: Stream.Stream<Uint8Array>
  readonly stdout: (chunk: Uint8Array | string) => Effect.Effect<void>
  readonly stderr: (chunk: Uint8Array | string) => Effect.Effect<void>
}

/** A command: its exit code; `undefined` from a user handler means "not mine" (built-ins are tried next). @internal */
export type ExecHandler = (context: ExecContext) => Effect.Effect<number | undefined, never, Scope.Scope> | undefined

const encoder = new TextEncoder()
const bytes = (chunk: Uint8Array | string) => typeof chunk === "string" ? encoder.encode(chunk) : chunk

const unescape = (s: string) =>
  s.replace(/\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)/g, (_, e: string) => {
    if (e === "n") return "\n"
    if (e === "t") return "\t"
    if (e === "\\") return "\\"
    if (e.startsWith("x")) return String.fromCharCode(parseInt(e.slice(1), 16))
    if (/^[0-7]+$/.test(e)) return String.fromCharCode(parseInt(e, 8))
    return e
  })

/** Bytes of a string whose characters are all < 256 (printf's escapes make raw bytes). */
const latin1 = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff)

/** The built-in commands: echo, printf, cat, true, false, sleep, pwd, env, sh -c "exit N". @internal */
export const builtins: ExecHandler = (ctx) => {
  const [cmd, ...args] = ctx.command
  switch (cmd) {
    case "echo":
      return Effect.as(ctx.stdout(`${args.join(" ")}\n`), 0)
    case "printf":
      return Effect.as(ctx.stdout(latin1(unescape((args[0] ?? "").replace(/%s/g, () => args[1] ?? "")))), 0)
    case "cat":
      return Effect.as(Stream.runForEach(ctx.stdin, ctx.stdout), 0)
    case "true":
      return Effect.succeed(0)
    case "false":
      return Effect.succeed(1)
    case "sleep":
      return Effect.as(Effect.sleep(Number(args[0] ?? "0") * 1000), 0)
    case "pwd":
      return Effect.as(ctx.stdout(`${ctx.cwd}\n`), 0)
    case "env":
      return Effect.as(ctx.stdout(Object.entries(ctx.environment).map(([k, v]) => `${k}=${v}\n`).join("")), 0)
    case "sh": {
      const script = args[0] === "-c" ? args[1] ?? "" : ""
      const exit = /^\s*exit\s+(\d+)\s*$/.exec(script)
      return exit ? Effect.succeed(Number(exit[1])) : undefined
    }
    default:
      return undefined
  }
}

interface Channel {
  readonly secret: string
  readonly connected: Deferred.Deferred<void>
  /** server → client frames; `undefined` ends the stream */
  readonly out: Queue.Queue<Frame | undefined>
  /** client → server frames; `undefined` = the client closed */
  readonly in: Queue.Queue<Frame | undefined>
}

interface Session {
  readonly channels: Map<string, Channel>
}

/** The exec operations' websockets, by operation id: one map per fake, shared by its routes and its sockets. */
type Sessions = Map<string, Session>

const makeChannel = (state: FakeState) =>
  Effect.all({
    connected: Deferred.make<void>(),
    out: Queue.unbounded<Frame | undefined>(),
    in: Queue.unbounded<Frame | undefined>()
  }).pipe(Effect.map((c): Channel => ({ ...c, secret: uuid(state).replace(/-/g, "") })))

/** Frames the client sent, until it closed (or sent the stdin barrier, an empty text frame). */
const incoming = (channel: Channel): Stream.Stream<Frame> =>
  Stream.fromQueue(channel.in).pipe(Stream.takeWhile((f): f is Frame => f !== undefined && f !== ""))

const execRoutes = (
  state: FakeState,
  handler: ExecHandler | undefined,
  sessions: Sessions
): Array<M.Route<M.Handler>> => [
  M.route("POST", "/instances/:name/exec", (r) =>
    Effect.gen(function*() {
      const instance: FakeInstance | undefined = state.instances.get(key(r.query.project ?? "default", r.params.name!))
      if (!instance) return M.error(404, "Instance not found")
      if (instance.status !== "Running") return M.error(400, "Instance is not running")
      const b = (r.body ?? {}) as Record<string, unknown>
      if (b["wait-for-websocket"] !== true) {
        return yield* Effect.dieMessage("LxdFakeServer does not implement exec without wait-for-websocket")
      }
      const interactive = b.interactive === true
      const names = interactive ? ["0", "control"] : ["0", "1", "2", "control"]
      const channels = new Map<string, Channel>()
      for (const name of names) channels.set(name, yield* makeChannel(state))
      const fds = Object.fromEntries([...channels].map(([fd, c]) => [fd, c.secret]))
      const command = Array.isArray(b.command) ? b.command.map(String) : []
      const environment = (typeof b.environment === "object" && b.environment !== null ? b.environment : {}) as Record<
        string,
        string
      >
      const stdin = channels.get("0")!
      const stdout = channels.get(interactive ? "0" : "1")!
      const stderr = channels.get(interactive ? "0" : "2")!
      const control = channels.get("control")!
      const context: ExecContext = {
        instance: instance.name,
        command,
        environment: {
          PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
          HOME: "/root",
          USER: "root",
          LANG: "C.UTF-8",
          ...environment
        },
        cwd: typeof b.cwd === "string" ? b.cwd : "/root",
        stdin: Stream.map(incoming(stdin), bytes),
        stdout: (chunk) => Queue.offer(stdout.out, bytes(chunk)),
        stderr: (chunk) => Queue.offer(stderr.out, bytes(chunk))
      }
      const work = Effect.gen(function*() {
        // LXD waits 5 seconds for every socket to connect
        const all = Effect.forEach([...channels.values()], (c) => Deferred.await(c.connected), { discard: true })
        const ok = yield* Effect.timeoutOption(all, "5 seconds")
        if (Option.isNone(ok)) return yield* Effect.fail(new OpFailure("Timed out waiting for websockets to connect"))
        const run = (handler?.(context) ?? undefined) ?? builtins(context)
        if (run === undefined) {
          // as LXD: the operation fails, and still carries the exit status
          for (const c of new Set([stdout, stderr])) yield* Queue.offer(c.out, undefined)
          yield* Queue.offer(control.out, undefined)
          return yield* Effect.fail(new OpFailure("Command not found", { return: 127 }))
        }
        const fiber = yield* Effect.fork(Effect.interruptible(Effect.scoped(Effect.flatMap(run, (code) =>
          code === undefined
            ? Effect.flatMap(Effect.succeed(builtins(context)), (b) => b ? Effect.scoped(b) : Effect.succeed(127))
            : Effect.succeed(code)))))
        // control: signals interrupt the command with 128+N; a closed control socket kills it
        const signals = Stream.fromQueue(control.in).pipe(
          Stream.takeWhile((f) =>
            f !== undefined
          ),
          Stream.runForEach((f) => {
            const message = typeof f === "string" ? JSON.parse(f) as { command?: string; signal?: number } : {}
            return message.command === "signal" ? Effect.asVoid(Fiber.interrupt(fiber)) : Effect.void
          }),
          Effect.zipRight(Fiber.interrupt(fiber)),
          Effect.interruptible,
          Effect.fork
        )
        const controlFiber = yield* signals
        const exit = yield* Fiber.await(fiber)
        yield* Fiber.interrupt(controlFiber)
        const code = exit._tag === "Success" ? exit.value ?? 0 : 137
        // end each output stream with LXD's barrier, then close
        for (const c of new Set([stdout, stderr])) {
          yield* Queue.offer(c.out, "")
          yield* Queue.offer(c.out, undefined)
        }
        yield* Queue.offer(control.out, undefined)
        return { return: code }
      })
      const op = yield* startOperation(
        state,
        instance.project,
        {
          description: "Executing command",
          class: "websocket",
          metadata: { fds },
          resources: { instances: [`/1.0/instances/${instance.name}`] }
        },
        work
      )
      const id = JSON.parse(op.body as string).metadata.id as string
      sessions.set(id, { channels })
      return op
    }))
]

const decoder = new TextDecoder()

/**
 * The console (`POST /1.0/instances/{name}/console`) as LXD 5.0.2 runs a busybox container's: fds `0` and
 * `control`; the terminal echoes what is written, which also lands in the console log (`consoleLog` once
 * stopped); `window-resize` is accepted; closing `control` ends the operation (Success, after a last `"\n\r"`
 * on fd 0), closing only fd 0 leaves it running.
 */
const consoleRoutes = (state: FakeState, sessions: Sessions): Array<M.Route<M.Handler>> => [
  M.route("POST", "/instances/:name/console", (r) =>
    Effect.gen(function*() {
      const instance: FakeInstance | undefined = state.instances.get(key(r.query.project ?? "default", r.params.name!))
      if (!instance) return M.error(404, "Instance not found")
      const b = (r.body ?? {}) as Record<string, unknown>
      const type = b.type === undefined || b.type === "" ? "console" : b.type
      if (type !== "console" && type !== "vga") return M.error(400, `Unknown console type "${String(type)}"`)
      if (type === "vga" && instance.type !== "virtual-machine") {
        return M.error(400, "VGA console is only supported by virtual machines")
      }
      if (instance.status !== "Running") return M.error(400, "Instance is not running")
      const data = yield* makeChannel(state)
      const control = yield* makeChannel(state)
      const channels = new Map([["0", data], ["control", control]])
      const work = Effect.gen(function*() {
        yield* Deferred.await(control.connected)
        yield* Deferred.await(data.connected)
        const echo = yield* Stream.fromQueue(data.in).pipe(
          Stream.takeWhile((f): f is Frame => f !== undefined),
          Stream.filter((f): f is Uint8Array => typeof f !== "string"),
          Stream.runForEach((chunk) =>
            Effect.zipRight(
              Effect.sync(() => (instance.console = `${instance.console ?? ""}${decoder.decode(chunk)}`)),
              Queue.offer(data.out, chunk)
            )
          ),
          Effect.fork
        )
        // window-resize and anything else on control is read and accepted; its close ends the console
        yield* Stream.fromQueue(control.in).pipe(Stream.takeWhile((f) => f !== undefined), Stream.runDrain)
        yield* Fiber.interrupt(echo)
        yield* Queue.offer(data.out, encoder.encode("\n\r"))
        yield* Queue.offer(data.out, undefined)
        yield* Queue.offer(control.out, undefined)
        return {}
      })
      const op = yield* startOperation(
        state,
        instance.project,
        {
          description: "Showing console",
          class: "websocket",
          metadata: { fds: { "0": data.secret, control: control.secret } },
          resources: { instances: [`/1.0/instances/${instance.name}`] }
        },
        work
      )
      sessions.set(JSON.parse(op.body as string).metadata.id as string, { channels })
      return op
    }))
]

const execSockets = (sessions: Sessions): Array<M.Route<M.SocketHandler>> => [
  M.route("GET", "/operations/:id/websocket", (r) =>
    Effect.gen(function*() {
      const session = sessions.get(r.params.id!)
      const channel = session && [...session.channels.values()].find((c) => c.secret === r.query.secret)
      if (!channel || (yield* Deferred.isDone(channel.connected))) {
        return yield* new ClientConnectionFailed({
          method: "GET",
          path: r.url,
          endpoint: "fake",
          reason: "websocket handshake refused: HTTP 403 not authorized"
        })
      }
      yield* Deferred.succeed(channel.connected, undefined)
      return M.socket(
        Stream.fromQueue(channel.out).pipe(Stream.takeWhile((f): f is Frame => f !== undefined)),
        {
          onSend: (frame) => Effect.asVoid(Queue.offer(channel.in, frame)),
          onClose: Effect.asVoid(Queue.offer(channel.in, undefined))
        }
      )
    }))
]

/**
 * Exec (`POST /1.0/instances/{name}/exec`), the console (`POST /1.0/instances/{name}/console`) and their
 * operations' websockets.
 *
 * @internal
 */
export const execEndpoints = (
  state: FakeState,
  handler: ExecHandler | undefined
): { readonly routes: Array<M.Route<M.Handler>>; readonly sockets: Array<M.Route<M.SocketHandler>> } => {
  const sessions: Sessions = new Map()
  return {
    routes: [...execRoutes(state, handler, sessions), ...consoleRoutes(state, sessions)],
    sockets: execSockets(sessions)
  }
}

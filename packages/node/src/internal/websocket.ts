/**
 * `ws` sockets as `LxdWebSocket`s, with backpressure: the socket is paused while unread frames pile up.
 *
 * @internal
 */
import { ClientConnectionFailed } from "@effect-lxd/core/LxdError"
import {
  connectionFailureKind,
  describeConnectionError,
  type Frame,
  type LxdWebSocket
} from "@effect-lxd/core/LxdTransport"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as WS from "ws"
import * as Lazy from "./lazy.js"
import { type Limits, noAnswer, noPong } from "./limits.js"
import { closedAbnormally, pull, type Waiting } from "./wake.js"

/** Pause reading from the network once this many bytes wait for the consumer. */
const HIGH_WATER_BYTES = 1024 * 1024

/** Wake a waiting reader without delay once this many bytes are buffered (see `FrameBuffer.push`). */
const BATCH_BYTES = 64 * 1024

/** @internal */
export interface OpenOptions {
  readonly url: string
  readonly endpoint: string
  readonly pathAndQuery: string
  readonly wsOptions: WS.ClientOptions
  readonly limits: Limits
  /** Maps a low-level error to a clearer one (TLS pin failures). */
  readonly mapError?: ((error: unknown) => unknown) | undefined
}

/**
 * Opens a websocket in the current scope; succeeds once it is open.
 *
 * @internal
 */
export const open = (options: OpenOptions): Effect.Effect<LxdWebSocket, ClientConnectionFailed, Scope.Scope> => {
  const failed = (cause: unknown, reason?: string, closeCode?: number) =>
    new ClientConnectionFailed({
      method: "GET",
      path: options.pathAndQuery,
      endpoint: options.endpoint,
      reason: reason ?? describeConnectionError(options.mapError ? options.mapError(cause) : cause),
      kind: closeCode !== undefined
        ? "closed"
        : connectionFailureKind(options.mapError ? options.mapError(cause) : cause),
      ...(closeCode === undefined ? {} : { closeCode }),
      cause
    })
  return Effect.flatMap(
    Effect.acquireRelease(
      Effect.sync(() => {
        const { limits } = options
        const { WebSocket } = Lazy.ws()
        const ws = new WebSocket(options.url, { perMessageDeflate: false, ...options.wsOptions })
        const buffer = new FrameBuffer(ws, failed)
        // the open is bounded by the connect and the upgrade's answer together
        const openMs = limits.connectMs === 0 || limits.responseMs === 0 ? 0 : limits.connectMs + limits.responseMs
        const openTimer = openMs === 0 ? undefined : setTimeout(() => {
          const error = noAnswer(openMs)
          settle(Effect.fail(failed(error, `websocket open: ${error.message}`)))
          ws.terminate()
        }, openMs)
        openTimer?.unref()
        // the upgrade's outcome, kept until the handshake below asks for it
        const upgrade: {
          result: Effect.Effect<LxdWebSocket, ClientConnectionFailed> | undefined
          notify: (() => void) | undefined
        } = { result: undefined, notify: undefined }
        const settle = (result: Effect.Effect<LxdWebSocket, ClientConnectionFailed>) => {
          if (upgrade.result !== undefined) return
          if (openTimer !== undefined) clearTimeout(openTimer)
          upgrade.result = result
          upgrade.notify?.()
        }
        const onError = (error: Error) => {
          ws.off("open", onOpen)
          settle(Effect.fail(failed(error)))
        }
        const onOpen = () => {
          ws.off("error", onError)
          ws.on("error", (error) => buffer.fail(failed(error)))
          if (limits.pingIntervalMs > 0) buffer.keepAlive(limits)
          settle(Effect.succeed(buffer.socket))
        }
        ws.once("open", onOpen)
        ws.once("error", onError)
        ws.once("unexpected-response", (_req, res) => {
          ws.off("error", onError)
          ws.off("open", onOpen)
          const chunks: Array<Buffer> = []
          res.on("data", (c: Buffer) => chunks.push(c))
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8")
            let message = text.trim()
            try {
              const json = JSON.parse(text) as { error?: unknown }
              if (typeof json.error === "string") message = json.error
            } catch {
              // not JSON: keep the text
            }
            settle(Effect.fail(failed(undefined, `websocket handshake refused: HTTP ${res.statusCode} ${message}`)))
            ws.terminate()
          })
        })
        ws.on("message", (data, isBinary) => buffer.push(data, isBinary))
        ws.on("close", (code, reason) => {
          if (openTimer !== undefined) clearTimeout(openTimer)
          buffer.closed(code, reason.toString("utf8"))
        })
        return { ws, upgrade }
      }),
      ({ ws }) =>
        Effect.sync(() => {
          if (ws.readyState === ws.OPEN) ws.close(1000)
          else if (ws.readyState === ws.CONNECTING) ws.terminate()
          // if the peer never answers the close, do not keep the socket around
          const timer = setTimeout(() => ws.terminate(), 2000)
          timer.unref()
          ws.once("close", () => clearTimeout(timer))
        })
    ),
    // the handshake is awaited outside the acquisition, so a timeout or an interruption ends it
    ({ upgrade, ws }) =>
      Effect.async<LxdWebSocket, ClientConnectionFailed>((resume) => {
        if (upgrade.result !== undefined) return resume(upgrade.result)
        upgrade.notify = () => resume(upgrade.result!)
        return Effect.sync(() => {
          upgrade.notify = undefined
          ws.terminate()
        })
      })
  )
}

class FrameBuffer implements Waiting {
  private items: Array<Frame> = []
  private bytes = 0
  private paused = false
  private done: Option.Option<Option.Option<ClientConnectionFailed | { code: number; reason: string }>> = Option
    .none()
  waiter: (() => void) | undefined = undefined
  private wakeScheduled: "immediate" | "timer" | undefined = undefined
  private timer: ReturnType<typeof setTimeout> | undefined = undefined
  private readonly wake = () => {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.wakeScheduled = undefined
    this.waiter?.()
  }
  readonly socket: LxdWebSocket

  constructor(
    private readonly ws: WS.WebSocket,
    private readonly failed: (cause: unknown, reason?: string, closeCode?: number) => ClientConnectionFailed
  ) {
    const take = pull<Chunk.Chunk<Frame>, Option.Option<ClientConnectionFailed>>(this, (resume) => {
      if (this.items.length > 0) {
        const chunk = Chunk.unsafeFromArray(this.items)
        this.items = []
        this.bytes = 0
        if (this.paused) {
          this.paused = false
          this.ws.resume()
        }
        resume(Effect.succeed(chunk))
        return true
      }
      if (Option.isSome(this.done)) {
        resume(
          Effect.fail(
            Option.map(this.done.value, (e) => e instanceof ClientConnectionFailed ? e : this.closeError(e))
          )
        )
        return true
      }
      return false
    })
    this.socket = {
      frames: Stream.repeatEffectChunkOption(take),
      read: take,
      send: (frame) =>
        Effect.async<void, ClientConnectionFailed>((resume) => {
          if (this.ws.readyState !== this.ws.OPEN) {
            resume(Effect.fail(this.failed(undefined, "websocket is closed")))
            return
          }
          this.ws.send(frame, { binary: typeof frame !== "string" }, (error) => {
            resume(error ? Effect.fail(this.failed(error)) : Effect.void)
          })
        }),
      close: (code) =>
        Effect.sync(() => {
          if (this.ws.readyState === this.ws.OPEN) this.ws.close(code ?? 1000)
        }),
      terminate: Effect.sync(() => this.ws.terminate())
    }
  }

  push(data: WS.RawData, isBinary: boolean) {
    let frame: Frame
    if (!isBinary) frame = Array.isArray(data) ? Buffer.concat(data).toString("utf8") : data.toString("utf8")
    else if (Array.isArray(data)) frame = Buffer.concat(data)
    else if (data instanceof ArrayBuffer) frame = new Uint8Array(data)
    else frame = data
    this.items.push(frame)
    this.bytes += frame.length
    if (!this.paused && this.bytes >= HIGH_WATER_BYTES) {
      this.paused = true
      this.ws.pause()
    }
    if (this.waiter === undefined || this.wakeScheduled === "immediate") return
    // One pull should carry many of LXD's small frames (~14 KiB each): every stream step costs allocations,
    // and a step per frame is what made the young generation grow. A text frame, or a batch worth taking,
    // wakes the reader once this turn of the event loop is done; a few bytes wait at most a millisecond.
    if (typeof frame === "string" || this.bytes >= BATCH_BYTES) {
      this.wakeScheduled = "immediate"
      setImmediate(this.wake)
    } else if (this.wakeScheduled === undefined) {
      this.wakeScheduled = "timer"
      this.timer = setTimeout(this.wake, 1)
    }
  }

  closed(code: number, reason: string) {
    if (Option.isSome(this.done)) return
    // the error is built when a reader asks for it: LXD drops exec sockets (1006) routinely, and an error
    // captures a stack trace
    this.done = Option.some(
      code === 1000 || code === 1005 ? Option.none() : Option.some({ code, reason })
    )
    this.waiter?.()
  }

  private closeError({ code, reason }: { code: number; reason: string }) {
    return this.failed(undefined, closedAbnormally(code, reason), code)
  }

  fail(error: ClientConnectionFailed) {
    if (Option.isSome(this.done)) return
    this.done = Option.some(Option.some(error))
    this.waiter?.()
  }

  /**
   * Pings every interval; once `maxMissedPongs` pings in a row had no answer and nothing else came, the
   * connection is dropped with a `timeout`. A paused socket (the reader applies backpressure) counts no ping.
   */
  keepAlive(limits: Limits) {
    let unanswered = 0
    const alive = () => {
      unanswered = 0
    }
    this.ws.on("pong", alive)
    this.ws.on("message", alive)
    this.ws.on("ping", alive)
    const timer = setInterval(() => {
      if (Option.isSome(this.done) || this.ws.readyState !== this.ws.OPEN) return clearInterval(timer)
      if (this.paused) unanswered = 0
      else if (unanswered >= limits.maxMissedPongs) {
        clearInterval(timer)
        const error = noPong(unanswered, limits.pingIntervalMs)
        this.fail(this.failed(error, error.message))
        this.ws.terminate()
      } else {
        unanswered++
        this.ws.ping()
      }
    }, limits.pingIntervalMs)
    timer.unref()
    this.ws.once("close", () => clearInterval(timer))
  }
}

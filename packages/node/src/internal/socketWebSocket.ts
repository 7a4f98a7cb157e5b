/**
 * The unix socket's websocket client: RFC 6455 by hand over a `net` socket that reads with `onread` into two
 * reused receive buffers. Socket reads allocate nothing; a message is copied once into a buffer of its own size,
 * or, for a reader that asked with `readLent`, not at all: binary bytes are handed over as views into the receive
 * buffer, and the socket reads again only at the reader's next pull. A command printing a gigabyte then streams
 * through in constant memory, where any client that receives into fresh buffers peaks near V8's young-generation
 * limit for array buffers (2 × 16 MiB) of garbage.
 *
 * Only what LXD's websockets need: no extensions, no subprotocols, frames masked on the way out, pings answered.
 * HTTPS keeps `ws` (`./websocket.ts`): TLS sockets cannot read into a caller's buffer.
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
import { isUtf8 } from "node:buffer"
import * as Crypto from "node:crypto"
import * as Net from "node:net"
import { dechunk, readHead, requestHead } from "./http1.js"
import { connectTimedOut, type Limits, noAnswer, noPong, type TimeoutError } from "./limits.js"
import { closedAbnormally, pull, type Waiting } from "./wake.js"

/** Reads that are copied out at once (handshake, owned frames) share one buffer: JS runs one read at a time. */
const SHARED = Buffer.allocUnsafe(64 * 1024)
/** A lending reader's two arena buffers; a buffer with less free room than a read's minimum is swapped. */
const ARENA_BYTES = 256 * 1024
const MIN_READ_BYTES = 64 * 1024
/** A waiting reader is woken once this many bytes are in (or a text frame, or after a millisecond). */
const BATCH_BYTES = 64 * 1024
/** Stop reading from the network once this many owned bytes wait for the reader. */
const HIGH_WATER_BYTES = 1024 * 1024
const MAX_HEAD_BYTES = 64 * 1024
/** The largest message assembled in memory (as `ws`'s default `maxPayload`). */
const MAX_MESSAGE_BYTES = 100 * 1024 * 1024
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
const CLOSE_TIMEOUT_MS = 2000
const EMPTY = Buffer.alloc(0)

const OP_CONTINUATION = 0
const OP_TEXT = 1
const OP_BINARY = 2
const OP_CLOSE = 8
const OP_PING = 9
const OP_PONG = 10

/** A frame the protocol forbids: the close code to send and why. */
interface Violation {
  readonly code: number
  readonly reason: string
}
const violation = (reason: string, code = 1002): Violation => ({ code, reason })

/** Close codes a peer may send (RFC 6455 §7.4); anything else is a protocol error. */
const validCloseCode = (code: number) =>
  (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999)

/** A closed connection: a normal close (1000/1005) ends reads, anything else fails them. */
type Ended = ClientConnectionFailed | { readonly code: number; readonly reason: string }

/** @internal */
export interface OpenOptions {
  readonly socketPath: string
  readonly endpoint: string
  readonly pathAndQuery: string
  readonly limits: Limits
}

/**
 * Opens a websocket over the unix socket in the current scope; succeeds once the server accepted the upgrade.
 * Errors: `ClientConnectionFailed` (socket missing or refused, handshake refused with LXD's message).
 *
 * @internal
 */
export const open = (options: OpenOptions): Effect.Effect<LxdWebSocket, ClientConnectionFailed, Scope.Scope> =>
  Effect.flatMap(
    Effect.acquireRelease(
      Effect.sync(() => new Connection(options)),
      (connection) => Effect.sync(() => connection.close(1000))
    ),
    // the handshake is awaited outside the acquisition, so a timeout or an interruption ends it
    (connection) => Effect.as(connection.handshake, connection.api)
  )

/** Masking keys come from a pool of random bytes, refilled when used up. */
let maskPool = Buffer.allocUnsafe(0)
let maskAt = 0
const nextMask = (): Buffer => {
  if (maskAt + 4 > maskPool.length) {
    maskPool = Crypto.randomFillSync(Buffer.allocUnsafe(8192))
    maskAt = 0
  }
  const mask = maskPool.subarray(maskAt, maskAt + 4)
  maskAt += 4
  return mask
}

/** One client frame: FIN set, masked (a client must mask every frame). */
const encodeFrame = (opcode: number, payload: Uint8Array): Buffer => {
  const length = payload.length
  const lengthBytes = length < 126 ? 0 : length < 65536 ? 2 : 8
  const headerBytes = 2 + lengthBytes + 4
  const frame = Buffer.allocUnsafe(headerBytes + length)
  frame[0] = 0x80 | opcode
  if (lengthBytes === 0) frame[1] = 0x80 | length
  else if (lengthBytes === 2) {
    frame[1] = 0x80 | 126
    frame.writeUInt16BE(length, 2)
  } else {
    frame[1] = 0x80 | 127
    frame.writeBigUInt64BE(BigInt(length), 2)
  }
  const mask = nextMask()
  mask.copy(frame, 2 + lengthBytes)
  for (let i = 0; i < length; i++) frame[headerBytes + i] = payload[i]! ^ mask[i & 3]!
  return frame
}

const chunked = (headers: Readonly<Record<string, string>>) =>
  headers["transfer-encoding"]?.toLowerCase().includes("chunked") === true

const closePayload = (code: number) => {
  const payload = Buffer.allocUnsafe(2)
  payload.writeUInt16BE(code, 0)
  return payload
}

class Connection implements Waiting {
  readonly api: LxdWebSocket
  private readonly socket: Net.Socket
  private readonly key = Crypto.randomBytes(16).toString("base64")
  /** The answer's head until the upgrade is accepted; then `undefined`. */
  private head: Buffer | undefined = Buffer.alloc(0)
  /** A refused upgrade: its head while its body comes in. */
  private refused: { status: number; headers: Record<string, string>; body: Buffer } | undefined = undefined
  /** The upgrade: pending until the server's answer, then accepted or refused. */
  private upgrade: "pending" | "open" | ClientConnectionFailed = "pending"
  private onUpgrade: (() => void) | undefined = undefined

  // the frame being read
  private readonly header = Buffer.allocUnsafe(14)
  private headerLength = 0
  private headerNeed = 2
  private inPayload = false
  private opcode = 0
  private fin = false
  private remaining = 0
  // the message being assembled (owned): its opcode, finished fragments, the current fragment
  private messageOpcode = 0
  /** The message goes to the reader as views (decided at its first frame, for all its frames). */
  private messageLent = false
  private messageBytes = 0
  private parts: Array<Buffer> = []
  private fragment: Buffer | undefined = undefined
  private fragmentOffset = 0
  private readonly controlPayload = Buffer.allocUnsafe(125)
  private controlLength = 0

  // lending (after the reader's first `readLent`): reads go into the free end of one of two arena buffers, and
  // the binary bytes of consecutive reads gather, moved left over the frame headers, in `[runStart, runEnd)`
  private arena: readonly [Buffer, Buffer] | undefined = undefined
  private gathering = 0
  private fill = 0
  private runStart = -1
  private runEnd = 0
  /** Where the views of the gathering buffer that wait for the reader end. */
  private flushedEnd = 0
  /** The gathering buffer was swapped for one the reader may still hold views into: read only once it is free. */
  private switched = false
  /** Per arena buffer: views of it wait in `items` / the reader holds views of it (until its next pull). */
  private readonly ready = [false, false]
  private readonly held = [false, false]
  /** Whether the read under way goes into the arena (not into the shared buffer). */
  private readingArena = false

  // what the reader takes
  private items: Array<Frame> = []
  private bytes = 0
  /** `items` should go to the reader now: a text or control frame, a batch's worth, or the batch timer. */
  private due = false
  private batchTimer: ReturnType<typeof setTimeout> | undefined = undefined
  private paused = false
  waiter: (() => void) | undefined = undefined
  private ended: Option.Option<Option.Option<Ended>> = Option.none()
  private closeSent = false
  private closeTimer: ReturnType<typeof setTimeout> | undefined = undefined
  /** The connect, then the upgrade's answer, then the keep-alive pings. */
  private timer: ReturnType<typeof setTimeout> | undefined = undefined
  /** Pings sent since the server last sent anything. */
  private unanswered = 0

  /** Waits for the upgrade; interrupting it drops the connection. */
  readonly handshake: Effect.Effect<void, ClientConnectionFailed> = Effect.async((resume) => {
    const settled = () => {
      if (this.upgrade === "pending") return false
      resume(this.upgrade === "open" ? Effect.void : Effect.fail(this.upgrade))
      return true
    }
    if (settled()) return
    this.onUpgrade = settled
    return Effect.sync(() => {
      this.onUpgrade = undefined
      this.terminate()
    })
  })

  constructor(private readonly options: OpenOptions) {
    this.socket = Net.connect({
      path: options.socketPath,
      onread: {
        buffer: () => this.nextBuffer(),
        callback: (n) => this.onRead(n)
      }
    })
    const { limits } = options
    if (limits.connectMs > 0) this.arm(limits.connectMs, () => this.failOpen(connectTimedOut(limits.connectMs)))
    this.socket.once("connect", () => {
      this.disarm()
      if (limits.responseMs > 0) {
        this.arm(limits.responseMs, () => this.failOpen(noAnswer(limits.responseMs)))
      }
      this.socket.write(
        requestHead("GET", options.pathAndQuery, {
          Upgrade: "websocket",
          "Sec-WebSocket-Version": "13",
          "Sec-WebSocket-Key": this.key
        }, "Upgrade")
      )
    })
    this.socket.on("error", (error) => {
      if (this.upgrade === "pending") return this.failOpen(error)
      // as `ws` does: a connection lost after the upgrade is an abnormal close
      this.end({ code: 1006, reason: describeConnectionError(error) })
    })
    this.socket.once("close", () => {
      if (this.closeTimer !== undefined) clearTimeout(this.closeTimer)
      this.disarm()
      if (this.upgrade === "pending") {
        if (this.refused !== undefined) return this.refuse()
        return this.failOpen("the connection closed during the websocket handshake")
      }
      this.end({ code: 1006, reason: "" })
    })

    const take = (lend: boolean) =>
      Effect.suspend(() => {
        // the views of the last pull are given back
        this.held[0] = this.held[1] = false
        if (lend && this.arena === undefined) {
          this.arena = [Buffer.allocUnsafe(ARENA_BYTES), Buffer.allocUnsafe(ARENA_BYTES)]
        }
        return pull<Chunk.Chunk<Frame>, Option.Option<ClientConnectionFailed>>(this, (resume) => {
          if (this.due || (Option.isSome(this.ended) && (this.items.length > 0 || this.runStart >= 0))) {
            this.flushRun()
            const chunk = Chunk.unsafeFromArray(this.items)
            this.items = []
            this.bytes = 0
            this.due = false
            this.held[0] = this.ready[0]
            this.held[1] = this.ready[1]
            this.ready[0] = this.ready[1] = false
            this.resumeIfFree()
            resume(Effect.succeed(chunk))
            return true
          }
          this.resumeIfFree()
          if (Option.isSome(this.ended)) {
            resume(Effect.fail(Option.map(this.ended.value, (e) => this.toError(e))))
            return true
          }
          return false
        })
      })
    const read = take(false)
    this.api = {
      frames: Stream.repeatEffectChunkOption(read),
      read,
      readLent: take(true),
      send: (frame) =>
        Effect.async<void, ClientConnectionFailed>((resume) => {
          if (!this.writable()) {
            resume(Effect.fail(this.failed("websocket is closed")))
            return
          }
          const data = typeof frame === "string"
            ? encodeFrame(OP_TEXT, Buffer.from(frame, "utf8"))
            : encodeFrame(OP_BINARY, frame)
          this.socket.write(data, (error) => {
            resume(error ? Effect.fail(this.failed(describeConnectionError(error), error)) : Effect.void)
          })
        }),
      close: (code) => Effect.sync(() => this.close(code ?? 1000)),
      terminate: Effect.sync(() => this.terminate())
    }
  }

  /** Sends a close frame (once) and gives the peer a while to close the connection. */
  close(code: number) {
    if (this.upgrade === "pending") return this.terminate()
    this.sendClose(code)
  }

  /**
   * The close frame, once; the connection is then read to its end (nothing more reaches the reader) or dropped
   * after a while. Reading resumes unless the next read would land in views a reader still holds.
   */
  private sendClose(code: number) {
    if (!this.writable()) return
    this.closeSent = true
    this.socket.end(encodeFrame(OP_CLOSE, closePayload(code)))
    this.closeTimer = setTimeout(() => this.socket.destroy(), CLOSE_TIMEOUT_MS)
    this.closeTimer.unref()
    if (this.paused && !this.switched) {
      this.paused = false
      this.socket.resume()
    }
  }

  terminate() {
    this.socket.destroy()
    this.end({ code: 1006, reason: "" })
  }

  private arm(ms: number, f: () => void) {
    this.disarm()
    this.timer = setTimeout(f, ms)
    this.timer.unref()
  }

  private disarm() {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
  }

  /**
   * Every ping interval: nothing came since `maxMissedPongs` pings, so the connection is dropped; else another
   * ping. While the reader applies backpressure (reading paused) nothing could come: no ping is counted.
   */
  private readonly onPingTimer = () => {
    const { maxMissedPongs, pingIntervalMs } = this.options.limits
    this.timer = undefined
    if (Option.isSome(this.ended) || this.closeSent) return
    if (this.paused) this.unanswered = 0
    else if (this.unanswered >= maxMissedPongs) {
      this.socket.destroy()
      const error = noPong(this.unanswered, pingIntervalMs)
      return this.end(this.failed(error.message, error, undefined, "timeout"))
    } else if (this.writable()) {
      this.unanswered++
      this.socket.write(encodeFrame(OP_PING, EMPTY))
    }
    this.arm(pingIntervalMs, this.onPingTimer)
  }

  private writable() {
    return this.upgrade === "open" && !this.closeSent && !this.socket.destroyed && this.socket.writable
  }

  private failed(reason: string, cause?: unknown, closeCode?: number, kind = connectionFailureKind(cause)) {
    return new ClientConnectionFailed({
      method: "GET",
      path: this.options.pathAndQuery,
      endpoint: this.options.endpoint,
      reason,
      kind,
      ...(closeCode === undefined ? {} : { closeCode }),
      ...(cause === undefined ? {} : { cause })
    })
  }

  private toError(e: Ended): ClientConnectionFailed {
    return e instanceof ClientConnectionFailed
      ? e
      : this.failed(closedAbnormally(e.code, e.reason), undefined, e.code, "closed")
  }

  /** The open fails: with a reason, or an error (its description, and itself as the cause). */
  private failOpen(why: string | Error | TimeoutError) {
    if (this.upgrade !== "pending") return
    this.disarm()
    this.upgrade = typeof why === "string" ? this.failed(why) : this.failed(describeConnectionError(why), why)
    this.socket.destroy()
    this.onUpgrade?.()
  }

  /** The end of the connection; the first one counts. */
  private end(e: Ended) {
    if (Option.isSome(this.ended)) return
    // the error is built when a reader asks for it: LXD drops exec sockets (1006) routinely
    this.ended = Option.some(
      !(e instanceof ClientConnectionFailed) && (e.code === 1000 || e.code === 1005) ? Option.none() : Option.some(e)
    )
    this.waiter?.()
  }

  /**
   * The buffer the next read goes into: the shared one, or (lending) the free end of the gathering arena
   * buffer. Node asks after every read, also one after which reading pauses: the read after the pause goes
   * where this said, so reading resumes only once that buffer is free (`resumeIfFree`).
   */
  private nextBuffer(): Uint8Array {
    if (this.arena === undefined || this.head !== undefined || Option.isSome(this.ended)) {
      this.readingArena = false
      return SHARED
    }
    this.readingArena = true
    return this.arena[this.gathering].subarray(this.fill)
  }

  private onRead(n: number): boolean {
    // after the end, read on (and drop) until the server closes the connection
    if (Option.isSome(this.ended)) return true
    // anything from the server shows it is alive
    this.unanswered = 0
    const arena = this.readingArena ? this.arena![this.gathering] : SHARED
    let at = this.readingArena ? this.fill : 0
    const end = at + n
    if (this.head !== undefined) {
      at = this.onHead(arena, n)
      if (at < 0) return this.upgrade === "pending" // still in the handshake, or it failed
    }
    const error = this.parse(arena, at, end, this.readingArena)
    if (error !== undefined) {
      if (this.writable()) this.sendClose(error.code)
      else this.socket.destroy()
      this.end(this.failed(`invalid websocket frame from the server: ${error.reason}`, undefined, error.code))
      return true // read on (and drop) until the server closes
    }
    if (this.readingArena) {
      // every byte read was taken (copied, or gathered in the run): the next read lands after the run and
      // after the views waiting for the reader
      if (this.runStart >= 0) {
        this.fill = this.runEnd
        if (this.runEnd - this.runStart >= BATCH_BYTES) this.flushRun()
      } else {
        this.fill = Math.max(this.fill, this.flushedEnd)
      }
      if (ARENA_BYTES - this.fill < MIN_READ_BYTES) {
        // this buffer is full: the next read goes into the other one, once the reader gave its views back
        this.flushRun()
        this.gathering = 1 - this.gathering
        this.fill = 0
        this.flushedEnd = 0
        this.switched = true
      }
    }
    if (this.switched && this.isFree(this.gathering)) this.switched = false
    if (this.bytes >= BATCH_BYTES) this.due = true
    if (this.due) this.waiter?.()
    else if (this.batchTimer === undefined && (this.items.length > 0 || this.runStart >= 0)) {
      // a few bytes wait at most a millisecond: one pull should carry many of LXD's small frames
      this.batchTimer = setTimeout(this.onBatchTimer, 1)
    }
    if (this.bytes >= HIGH_WATER_BYTES || this.switched) {
      this.paused = true
      return false
    }
    return true
  }

  private readonly onBatchTimer = () => {
    this.batchTimer = undefined
    if (this.items.length === 0 && this.runStart < 0) return
    this.flushRun()
    this.due = true
    this.waiter?.()
  }

  private isFree(index: number) {
    return !this.ready[index] && !this.held[index]
  }

  /** Reads again once the reader took the owned bytes and the buffer the next read goes into is free. */
  private resumeIfFree() {
    if (!this.paused || this.bytes >= HIGH_WATER_BYTES) return
    if (this.switched) {
      if (!this.isFree(this.gathering)) return
      this.switched = false
    }
    this.paused = false
    this.socket.resume()
  }

  /** Reads the upgrade's answer; returns where frames start, or -1 while the head (or a refusal) is not in. */
  private onHead(buffer: Buffer, n: number): number {
    // the handshake reads into the shared buffer, from its start
    if (this.refused !== undefined) {
      this.refused.body = Buffer.concat([this.refused.body, buffer.subarray(0, n)])
      this.checkRefusal()
      return -1
    }
    const previous = this.head!.length
    const head = Buffer.concat([this.head!, buffer.subarray(0, n)])
    this.head = head
    const parsed = readHead(head)
    if (parsed === "incomplete") {
      if (head.length > MAX_HEAD_BYTES) this.failOpen("the websocket handshake's answer is too large")
      return -1
    }
    if (parsed === "invalid") {
      this.failOpen("the websocket handshake's answer is not HTTP/1.1")
      return -1
    }
    if (parsed.status !== 101) {
      this.refused = { status: parsed.status, headers: parsed.headers, body: head.subarray(parsed.bodyStart) }
      this.checkRefusal()
      return -1
    }
    const expected = Crypto.createHash("sha1").update(this.key + GUID).digest("base64")
    if (
      parsed.headers["upgrade"]?.toLowerCase() !== "websocket" || parsed.headers["sec-websocket-accept"] !== expected
    ) {
      this.failOpen("the server's websocket upgrade is invalid (Upgrade or Sec-WebSocket-Accept)")
      return -1
    }
    this.head = undefined
    this.upgrade = "open"
    this.disarm()
    if (this.options.limits.pingIntervalMs > 0) this.arm(this.options.limits.pingIntervalMs, this.onPingTimer)
    this.onUpgrade?.()
    return parsed.bodyStart - previous
  }

  /** A refused upgrade fails the open once its body is in (LXD's JSON error names the reason). */
  private checkRefusal() {
    const { body, headers } = this.refused!
    const length = headers["content-length"]
    if (length !== undefined && body.length >= Number(length)) return this.refuse()
    if (chunked(headers) && dechunk(body) !== undefined) return this.refuse()
    if (body.length > MAX_HEAD_BYTES) this.refuse()
  }

  private refuse() {
    const { body, headers, status } = this.refused!
    const text = ((chunked(headers) ? dechunk(body) : undefined) ?? body).toString("utf8")
    let message = text.trim()
    try {
      const json = JSON.parse(text) as { error?: unknown }
      if (typeof json.error === "string") message = json.error
    } catch {
      // not JSON: keep the text
    }
    this.failOpen(`websocket handshake refused: HTTP ${status} ${message}`)
  }

  /** Parses frames in `buffer[at, n)` (nothing after a close frame); returns a protocol violation. */
  private parse(buffer: Buffer, at: number, n: number, lend: boolean): Violation | undefined {
    while (at < n && Option.isNone(this.ended)) {
      if (!this.inPayload) {
        while (at < n && this.headerLength < this.headerNeed) {
          this.header[this.headerLength++] = buffer[at++]!
          if (this.headerLength === 2) {
            const length = this.header[1]! & 0x7f
            if ((this.header[1]! & 0x80) !== 0) return violation("masked frame")
            this.headerNeed = 2 + (length === 126 ? 2 : length === 127 ? 8 : 0)
          }
        }
        if (this.headerLength < this.headerNeed) return undefined
        const error = this.startFrame(lend, n - at)
        if (error !== undefined) return error
        if (this.whole) {
          // a whole text message in this read: decoded from the read buffer, with no copy of its own
          const error = this.text(buffer, at, at + this.remaining)
          if (error !== undefined) return error
          at += this.remaining
          this.remaining = 0
          this.inPayload = false
          this.messageOpcode = 0
          continue
        }
        if (this.remaining === 0) {
          const done = this.endFrame()
          if (done !== undefined) return done
        }
        continue
      }
      const take = Math.min(this.remaining, n - at)
      this.payload(buffer, at, take)
      at += take
      this.remaining -= take
      if (this.remaining === 0) {
        const error = this.endFrame()
        if (error !== undefined) return error
      }
    }
    return undefined
  }

  /**
   * `startFrame` found an unfragmented text frame whose payload is all in the current read (`available` bytes
   * left): `parse` decodes it from the read buffer instead of copying it into a buffer of its own.
   */
  private whole = false

  private startFrame(lend: boolean, available: number): Violation | undefined {
    this.whole = false
    const first = this.header[0]!
    this.fin = (first & 0x80) !== 0
    this.opcode = first & 0x0f
    if ((first & 0x70) !== 0) return violation("reserved bits set")
    const length7 = this.header[1]! & 0x7f
    const length = length7 === 126
      ? this.header.readUInt16BE(2)
      : length7 === 127
      ? Number(this.header.readBigUInt64BE(2))
      : length7
    if (!Number.isSafeInteger(length)) return violation("frame length out of range", 1009)
    this.headerLength = 0
    this.headerNeed = 2
    this.inPayload = true
    this.remaining = length
    if (this.opcode >= OP_CLOSE) {
      if (this.opcode > OP_PONG) return violation(`unknown opcode ${this.opcode}`)
      if (!this.fin || length > 125) return violation("fragmented or long control frame")
      this.controlLength = 0
      return undefined
    }
    if (this.opcode === OP_CONTINUATION) {
      if (this.messageOpcode === 0) return violation("continuation without a message")
    } else if (this.opcode === OP_TEXT || this.opcode === OP_BINARY) {
      if (this.messageOpcode !== 0) return violation("new message inside a fragmented one")
      this.messageOpcode = this.opcode
      this.messageLent = lend && this.opcode === OP_BINARY
      this.messageBytes = 0
    } else {
      return violation(`unknown opcode ${this.opcode}`)
    }
    this.messageBytes += length
    if (this.messageLent) return undefined
    if (this.messageBytes > MAX_MESSAGE_BYTES) return violation(`message larger than ${MAX_MESSAGE_BYTES} bytes`, 1009)
    if (this.opcode === OP_TEXT && this.fin && length <= available) {
      this.whole = true
      return undefined
    }
    this.fragment = Buffer.allocUnsafe(length)
    this.fragmentOffset = 0
    return undefined
  }

  private payload(buffer: Buffer, at: number, take: number) {
    if (this.opcode >= OP_CLOSE) {
      buffer.copy(this.controlPayload, this.controlLength, at, at + take)
      this.controlLength += take
    } else if (this.messageLent) {
      if (take === 0) return
      // the binary bytes of consecutive reads become one view: each piece moves left over the headers before it
      if (this.runStart < 0) {
        this.runStart = at
        this.runEnd = at
      }
      if (at !== this.runEnd) buffer.copyWithin(this.runEnd, at, at + take)
      this.runEnd += take
    } else {
      buffer.copy(this.fragment!, this.fragmentOffset, at, at + take)
      this.fragmentOffset += take
    }
  }

  private endFrame(): Violation | undefined {
    this.inPayload = false
    if (this.opcode >= OP_CLOSE) return this.onControl()
    if (this.messageLent) {
      // an empty binary message still arrives, as one empty view
      if (this.fin && this.messageBytes === 0) this.push(new Uint8Array(0), 0)
    } else {
      this.parts.push(this.fragment!)
      this.fragment = undefined
      if (this.fin) {
        const message = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts)
        this.parts = []
        if (this.messageOpcode === OP_TEXT) {
          const error = this.text(message, 0, message.length)
          if (error !== undefined) return error
        } else {
          this.push(message, message.length)
        }
      }
    }
    if (this.fin) this.messageOpcode = 0
    return undefined
  }

  private onControl(): Violation | undefined {
    const payload = this.controlPayload.subarray(0, this.controlLength)
    if (this.opcode === OP_PING) {
      if (this.writable()) this.socket.write(encodeFrame(OP_PONG, payload))
      return undefined
    }
    if (this.opcode === OP_PONG) return undefined
    // close: answer it (once), then let the server close the connection
    if (payload.length === 1) return violation("close frame with a 1-byte payload")
    const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005
    if (code !== 1005 && !validCloseCode(code)) return violation(`close code ${code}`)
    if (payload.length > 2 && !isUtf8(payload.subarray(2))) return violation("close reason that is not UTF-8", 1007)
    const reason = payload.length > 2 ? payload.toString("utf8", 2) : ""
    this.sendClose(code === 1005 ? 1000 : code)
    this.end({ code, reason })
    return undefined
  }

  /** A text message's bytes `buffer[start, end)`, checked to be UTF-8, as a string for the reader. */
  private text(buffer: Buffer, start: number, end: number): Violation | undefined {
    if (!isUtf8(start === 0 && end === buffer.length ? buffer : buffer.subarray(start, end))) {
      return violation("text frame that is not UTF-8", 1007)
    }
    this.push(buffer.toString("utf8", start, end), end - start)
    return undefined
  }

  private push(frame: Frame, bytes: number) {
    this.flushRun()
    this.items.push(frame)
    this.bytes += bytes
    if (typeof frame === "string") this.due = true
  }

  /** The gathered binary bytes, as one view that waits for the reader; a batch is due then. */
  private flushRun() {
    if (this.runStart < 0) return
    this.items.push(this.arena![this.gathering].subarray(this.runStart, this.runEnd))
    this.ready[this.gathering] = true
    this.flushedEnd = this.runEnd
    this.runStart = -1
    this.due = true
  }
}

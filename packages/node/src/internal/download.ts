/**
 * The unix-socket transport's download path: one connection per body, read with `onread` straight into two
 * reused 1 MiB buffers that take turns: one is handed to the caller's `write` while the other fills. A `write`
 * that completes synchronously gets the reads as soon as 128 KiB landed (the bytes are still in the cache of the
 * CPU that read them); an asynchronous one gets what gathered while it ran, up to a buffer.
 * No allocation per chunk, no HTTP library: the status line and headers are parsed here, and
 * only a plain `Content-Length` body is taken (anything else is refused before a byte is written, and the
 * engine asks again over `http`).
 *
 * @internal
 */
import { ClientConnectionFailed } from "@effect-lxd/core/LxdError"
import { connectionFailureKind, describeConnectionError } from "@effect-lxd/core/LxdTransport"
import type * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as Net from "node:net"
import { readFinalHead, requestHead } from "./http1.js"
import { connectTimedOut, type Limits, noAnswer } from "./limits.js"

/**
 * Socket reads land in the free end of a `BUFFER_BYTES` buffer, which goes to `write` once less than
 * `MIN_READ_BYTES` are free; the head, and a read while both buffers are taken, go to a `SPARE_BYTES` buffer.
 */
const BUFFER_BYTES = 1024 * 1024
const MIN_READ_BYTES = 128 * 1024
const SPARE_BYTES = 64 * 1024
/** A synchronous `write` gets the bytes once this many gathered (one fiber per ~128 KiB, still in cache). */
const EAGER_BYTES = 128 * 1024
const MAX_HEAD_BYTES = 64 * 1024

type Headers = Readonly<Record<string, string>>

/** @internal */
export const make = (socketPath: string, endpoint: string, limits: Limits) =>
<E>(
  pathAndQuery: string,
  accept: (status: number, headers: Headers) => boolean,
  write: (chunk: Uint8Array) => Effect.Effect<void, E>
): Effect.Effect<Option.Option<Headers>, ClientConnectionFailed | E> =>
  Effect.flatMap(
    Effect.runtime<never>(),
    (runtime) =>
      Effect.async<Option.Option<Headers>, ClientConnectionFailed | E>((resume) => {
        const spare = Buffer.allocUnsafe(SPARE_BYTES)
        let readingSpare = true
        const buffers = [Buffer.allocUnsafe(BUFFER_BYTES), Buffer.allocUnsafe(BUFFER_BYTES)] as const
        let current = 0 // the buffer that fills
        let offset = 0
        let head: Buffer | undefined = Buffer.alloc(0) // until the headers are in
        let headers: Headers | undefined = undefined
        let remaining = 0 // body bytes not yet taken
        let writing: Fiber.RuntimeFiber<void, E> | undefined = undefined
        /** A full buffer waiting for the one being written: reading pauses meanwhile. */
        let waiting: { readonly index: number; readonly length: number } | undefined = undefined
        /** Reads that arrived while paused (node may deliver one after the pause): copied, taken on resume. */
        const overflow: Array<Buffer> = []
        /** The last `write` ended before `runFork` returned: ship by `EAGER_BYTES`, not by buffer. */
        let eager = true
        /** The read callback returned `false`: the socket waits for `resume`. */
        let paused = false
        let finished = false
        let closed = false

        const finish = (result: Effect.Effect<Option.Option<Headers>, ClientConnectionFailed | E>) => {
          if (finished) return
          finished = true
          socket.destroy()
          // never return while `write` still has a buffer (the caller may close its file then)
          if (writing === undefined) resume(result)
          else writing.addObserver(() => resume(result))
        }
        const fail = (reason: string, cause?: unknown) =>
          finish(Effect.fail(
            new ClientConnectionFailed({
              method: "GET",
              path: pathAndQuery,
              endpoint,
              reason,
              kind: cause === undefined ? "closed" : connectionFailureKind(cause),
              ...(cause === undefined ? {} : { cause })
            })
          ))
        const early = () => fail("the connection closed before the whole body arrived")

        const startWrite = (index: number, length: number) => {
          const fiber = Runtime.runFork(runtime)(write(buffers[index]!.subarray(0, length)))
          writing = fiber
          fiber.addObserver((exit) => {
            writing = undefined
            if (finished) return
            if (exit._tag === "Failure") return finish(Effect.failCause(exit.cause as Cause.Cause<E>))
            if (waiting !== undefined) {
              const next = waiting
              waiting = undefined
              startWrite(next.index, next.length)
              for (const data of overflow.splice(0)) take(data)
            }
            if (remaining === 0 && offset === 0 && writing === undefined) {
              return finish(Effect.succeed(Option.some(headers!)))
            }
            if (waiting === undefined) {
              if (closed && remaining > 0) early()
              else if (paused) {
                paused = false
                socket.resume()
                // the silence bound counts again from here (the socket was paused for the writer)
                if (limits.responseMs > 0) socket.setTimeout(limits.responseMs)
              }
            }
          })
          eager = writing !== fiber
        }
        /** The filling buffer is ready: write it now, or after the one being written. */
        const ship = () => {
          const index = current
          const length = offset
          current = 1 - current
          offset = 0
          if (writing === undefined) startWrite(index, length)
          else waiting = { index, length }
        }
        /** `n` bytes are in the filling buffer, at `offset` (read straight there, or copied by `take`). */
        const taken = (n: number) => {
          if (remaining === 0) return // `Connection: close`: nothing follows the body
          const k = Math.min(n, remaining)
          offset += k
          remaining -= k
          // a `write` that ends at once (synchronous) gets the reads as they come, by `EAGER_BYTES`, while the
          // bytes are still in this CPU's cache; an asynchronous one gets them gathered; the last write's end
          // finishes the download
          if (
            remaining === 0 || (eager && writing === undefined && offset >= EAGER_BYTES) ||
            BUFFER_BYTES - offset < MIN_READ_BYTES
          ) ship()
        }
        /** Bytes read elsewhere (the spare buffer, the head): copied in, or kept while both buffers are taken. */
        const take = (data: Buffer) => {
          if (remaining === 0) return
          if (waiting !== undefined) return void overflow.push(Buffer.from(data))
          taken(data.copy(buffers[current]!, offset, 0, Math.min(data.length, remaining)))
        }
        const onHead = (data: Buffer) => {
          head = Buffer.concat([head!, data])
          const parsed = readFinalHead(head)
          if (parsed === "incomplete") {
            if (head.length > MAX_HEAD_BYTES) fail("the response headers are too large")
            return
          }
          if (parsed === "invalid") return fail("the answer is not HTTP/1.1")
          const length = parsed.headers["content-length"]
          if (
            length === undefined || !/^\d+$/.test(length) || parsed.headers["transfer-encoding"] !== undefined ||
            !accept(parsed.status, parsed.headers)
          ) {
            return finish(Effect.succeed(Option.none()))
          }
          headers = parsed.headers
          remaining = Number(length)
          const body = head.subarray(parsed.bodyStart)
          head = undefined
          if (remaining === 0) return finish(Effect.succeed(Option.some(headers)))
          if (body.length > 0) take(body)
        }

        // reads land straight in the filling buffer; while both buffers are taken (reading pauses then) the
        // next read is registered into the spare one, and copied from there
        const nextBuffer = () => {
          if (head !== undefined || waiting !== undefined || finished) {
            readingSpare = true
            return spare
          }
          readingSpare = false
          return buffers[current]!.subarray(offset)
        }
        const socket = Net.connect({
          path: socketPath,
          onread: {
            buffer: nextBuffer,
            callback: (n) => {
              if (finished) return false
              if (readingSpare) {
                const bytes = spare.subarray(0, n)
                if (head !== undefined) onHead(bytes)
                else take(bytes)
              } else {
                taken(n)
              }
              // `false` pauses reading while both buffers are taken
              paused = finished || waiting !== undefined
              return !paused
            }
          }
        })
        const connectTimer = limits.connectMs === 0 ? undefined : setTimeout(() => {
          const error = connectTimedOut(limits.connectMs)
          fail(error.message, error)
        }, limits.connectMs)
        socket.once("connect", () => {
          clearTimeout(connectTimer)
          // a silent server (the answer's head, or the body while it is read) fails the download
          if (limits.responseMs > 0) socket.setTimeout(limits.responseMs)
          socket.write(requestHead("GET", pathAndQuery))
        })
        socket.on("timeout", () => {
          if (paused || finished) return
          const error = noAnswer(limits.responseMs)
          fail(error.message, error)
        })
        socket.once("close", () => clearTimeout(connectTimer))
        socket.once("error", (error) => fail(describeConnectionError(error), error))
        const onClosed = () => {
          closed = true
          if (!finished && writing === undefined && (head !== undefined || remaining > 0)) early()
        }
        socket.once("end", onClosed)
        socket.once("close", onClosed)
        return Effect.suspend(() => {
          finished = true
          socket.destroy()
          // interrupting waits for a `write` under way to end
          return writing === undefined ? Effect.void : Effect.asVoid(Fiber.interrupt(writing))
        })
      })
  )

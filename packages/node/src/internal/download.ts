/**
 * The unix-socket transport's download path: one connection per body, read with `onread` into one reused
 * buffer that is handed to the caller's `write` whenever it is nearly full (or the body ended). No allocation
 * per chunk, no HTTP library: the status line and headers are parsed here, and only a plain `Content-Length`
 * body is taken (anything else is refused before a byte is written, and the engine asks again over `http`).
 *
 * @internal
 */
import { ClientConnectionFailed } from "@effect-lxd/core/LxdError"
import { describeConnectionError } from "@effect-lxd/core/LxdTransport"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as Net from "node:net"

/**
 * The reused buffer. Reads take at most `READ_BYTES` each; a chunk goes to `write` once less than `MIN_FREE`
 * bytes are left. Reading stops while `write` runs, but one more read can already be under way (node's `onread`
 * pauses after it): it lands after the chunk and is moved to the front afterwards.
 */
const BUFFER_BYTES = 1024 * 1024
const READ_BYTES = 64 * 1024
const MIN_FREE = 4 * READ_BYTES
const HEAD_END = Buffer.from("\r\n\r\n", "latin1")

type Headers = Readonly<Record<string, string>>

const parseHead = (text: string): { status: number; headers: Record<string, string> } | undefined => {
  const lines = text.split("\r\n")
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "")
  if (status === null) return undefined
  const headers: Record<string, string> = {}
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!
    const colon = line.indexOf(":")
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  return { status: Number(status[1]), headers }
}

/** @internal */
export const make = (socketPath: string, endpoint: string) =>
<E>(
  pathAndQuery: string,
  accept: (status: number, headers: Headers) => boolean,
  write: (chunk: Uint8Array) => Effect.Effect<void, E>
): Effect.Effect<Option.Option<Headers>, ClientConnectionFailed | E> =>
  Effect.flatMap(
    Effect.runtime<never>(),
    (runtime) =>
      Effect.async<Option.Option<Headers>, ClientConnectionFailed | E>((resume) => {
        const buffer = Buffer.allocUnsafe(BUFFER_BYTES)
        let offset = 0
        let headers: Headers | undefined = undefined
        let remaining = 0
        let writing: Fiber.RuntimeFiber<void, E> | undefined = undefined
        let finished = false
        let closed = false
        const finish = (result: Effect.Effect<Option.Option<Headers>, ClientConnectionFailed | E>) => {
          if (finished) return
          finished = true
          socket.destroy()
          resume(result)
        }
        const fail = (reason: string, cause?: unknown) =>
          finish(Effect.fail(
            new ClientConnectionFailed({
              method: "GET",
              path: pathAndQuery,
              endpoint,
              reason,
              ...(cause === undefined ? {} : { cause })
            })
          ))
        const early = () => fail("the connection closed before the whole body arrived")
        /** Hands the buffered bytes to `write`; reading waits until it is done. */
        const flush = (then: () => void) => {
          const length = offset
          remaining -= length
          const fiber = Runtime.runFork(runtime)(write(buffer.subarray(0, length)))
          writing = fiber
          fiber.addObserver((exit) => {
            writing = undefined
            if (finished) return
            if (exit._tag === "Failure") return finish(Effect.failCause(exit.cause as Cause.Cause<E>))
            buffer.copyWithin(0, length, offset)
            offset -= length
            then()
          })
        }
        const onBody = (): void => {
          if (writing !== undefined) return
          if (offset >= remaining) {
            offset = remaining // `Connection: close`: nothing follows the body
            flush(() => finish(Effect.succeed(Option.some(headers!))))
          } else if (buffer.length - offset < MIN_FREE) {
            flush(() => {
              onBody()
              if (!finished && writing === undefined) {
                if (closed) early()
                else socket.resume()
              }
            })
          }
        }
        const onHead = () => {
          const end = buffer.subarray(0, offset).indexOf(HEAD_END)
          if (end < 0) {
            if (buffer.length - offset < MIN_FREE) fail("the response headers are too large")
            return
          }
          const head = parseHead(buffer.toString("latin1", 0, end))
          if (head === undefined) return fail("the answer is not HTTP/1.1")
          const length = head.headers["content-length"]
          if (
            length === undefined || !/^\d+$/.test(length) || head.headers["transfer-encoding"] !== undefined ||
            !accept(head.status, head.headers)
          ) {
            return finish(Effect.succeed(Option.none()))
          }
          headers = head.headers
          remaining = Number(length)
          buffer.copyWithin(0, end + HEAD_END.length, offset)
          offset -= end + HEAD_END.length
          onBody()
        }
        const socket = Net.connect({
          path: socketPath,
          onread: {
            buffer: () => buffer.subarray(offset, offset + READ_BYTES),
            callback: (n, into) => {
              if (finished) return false
              // the next read's buffer is handed out right after each callback: after a flush moved the bytes, a read
              // may land further on than `offset`, and is moved down to it
              const at = into.byteOffset - buffer.byteOffset
              if (at !== offset) buffer.copyWithin(offset, at, at + n)
              offset += n
              if (headers === undefined) onHead()
              else onBody()
              // `false` pauses reading while `write` has the buffer (`pause()` alone may let one more read in)
              return !finished && writing === undefined
            }
          }
        })
        socket.once("connect", () => {
          socket.write(`GET ${pathAndQuery} HTTP/1.1\r\nHost: lxd\r\nConnection: close\r\n\r\n`)
        })
        socket.once("error", (error) => fail(describeConnectionError(error), error))
        const onClosed = () => {
          closed = true
          if (writing === undefined) early()
        }
        socket.once("end", onClosed)
        socket.once("close", onClosed)
        return Effect.sync(() => {
          finished = true
          socket.destroy()
          if (writing !== undefined) writing.unsafeInterruptAsFork(writing.id())
        })
      })
  )

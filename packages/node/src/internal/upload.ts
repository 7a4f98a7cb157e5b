/**
 * The unix-socket transport's upload path: one connection per body, sent from two reused 1 MiB buffers that take
 * turns (one is filled while the socket takes the other), so a file push allocates nothing per chunk. The answer
 * is read whole after the body (`Connection: close`); LXD may answer early and close, e.g. for a missing
 * instance, and that answer is what the caller gets.
 *
 * @internal
 */
import { ClientConnectionFailed } from "@effect-lxd/core/LxdError"
import {
  connectionFailureKind,
  describeConnectionError,
  type JsonRequest,
  type JsonResponse
} from "@effect-lxd/core/LxdTransport"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Net from "node:net"
import { dechunk, readFinalHead, readHead, requestHead } from "./http1.js"
import { connectTimedOut, type Limits, noAnswer } from "./limits.js"

const BUFFER_BYTES = 1024 * 1024

/** How long to wait for LXD's answer once it stopped taking the body. */
const EARLY_ANSWER_MS = 2000

/** How long to wait for `100 Continue` before sending the body anyway. */
const CONTINUE_WAIT_MS = 1000

/** The final answer in the bytes read (past any `100 Continue`), or `undefined` while it is not whole. */
const parseAnswer = (raw: Buffer): JsonResponse | undefined => {
  const head = readFinalHead(raw)
  if (typeof head === "string") return undefined
  const { headers } = head
  let body: Buffer | undefined = raw.subarray(head.bodyStart)
  if (headers["transfer-encoding"]?.toLowerCase() === "chunked") body = dechunk(body)
  else if (headers["content-length"] !== undefined) body = body.subarray(0, Number(headers["content-length"]))
  return body === undefined ? undefined : { status: head.status, headers, text: body.toString("utf8") }
}

/** @internal */
export const make = (socketPath: string, endpoint: string, limits: Limits) =>
<E>(
  request: JsonRequest & { readonly length: number },
  fill: (buffer: Uint8Array) => Effect.Effect<number, E>
): Effect.Effect<JsonResponse, ClientConnectionFailed | E> =>
  Effect.scoped(Effect.gen(function*() {
    const failed = (reason: string, cause?: unknown) =>
      new ClientConnectionFailed({
        method: request.method,
        path: request.path + request.query,
        endpoint,
        reason,
        kind: cause === undefined ? "closed" : connectionFailureKind(cause),
        ...(cause === undefined ? {} : { cause })
      })
    // the answer, collected from the start: LXD may answer before it took the whole body
    const answer: {
      chunks: Array<Buffer>
      ended: boolean
      error: unknown
      waiter: (() => void) | undefined
      onData: (() => void) | undefined
    } = { chunks: [], ended: false, error: undefined, waiter: undefined, onData: undefined }
    const socket = yield* Effect.acquireRelease(
      Effect.async<Net.Socket, ClientConnectionFailed>((resume) => {
        const s = Net.connect({ path: socketPath })
        const onError = (error: Error) => {
          clearTimeout(connectTimer)
          resume(Effect.fail(failed(describeConnectionError(error), error)))
        }
        const connectTimer = limits.connectMs === 0 ? undefined : setTimeout(() => {
          s.destroy()
          onError(connectTimedOut(limits.connectMs))
        }, limits.connectMs)
        s.once("error", onError)
        s.once("connect", () => {
          clearTimeout(connectTimer)
          s.off("error", onError)
          resume(Effect.succeed(s))
        })
        s.on("data", (chunk: Buffer) => {
          answer.chunks.push(chunk)
          answer.onData?.()
        })
        const ended = (error?: unknown) => {
          if (answer.ended) return
          answer.ended = true
          answer.error = error
          answer.onData?.()
          answer.waiter?.()
        }
        s.on("error", (error) => ended(error))
        s.once("end", () => ended())
        s.once("close", () => ended())
        return Effect.sync(() => s.destroy())
      }),
      (s) => Effect.sync(() => s.destroy())
    )
    /** The answer once the connection ended (at most `waitMs` when given). */
    const readAnswer = (waitMs?: number) =>
      Effect.async<JsonResponse | undefined>((resume) => {
        const done = () => {
          if (timer !== undefined) clearTimeout(timer)
          answer.waiter = undefined
          resume(Effect.succeed(parseAnswer(Buffer.concat(answer.chunks))))
        }
        const timer = waitMs === undefined ? undefined : setTimeout(done, waitMs)
        if (answer.ended) return done()
        answer.waiter = done
      })
    /**
     * After the head (`Expect: 100-continue`): LXD's `100 Continue` once its handler reads the body, or its final
     * answer when it refuses before reading (a missing instance): then no body is sent, and nothing is lost to a
     * connection LXD closes under the body. Without either within a second the body goes anyway.
     */
    const awaitContinue = Effect.async<"continue" | "answered">((resume) => {
      const check = () => {
        const head = readHead(Buffer.concat(answer.chunks))
        if (head === "incomplete" && !answer.ended) return false
        clearTimeout(timer)
        answer.onData = undefined
        // the `100 Continue` stays in what was read: the answer is read past it
        resume(Effect.succeed(typeof head !== "string" && head.status === 100 ? "continue" : "answered"))
        return true
      }
      const timer = setTimeout(() => {
        answer.onData = undefined
        resume(Effect.succeed("continue"))
      }, CONTINUE_WAIT_MS)
      if (!check()) answer.onData = check
      return Effect.sync(() => {
        clearTimeout(timer)
        answer.onData = undefined
      })
    })
    /** A silent server: a write it does not take, or an answer it does not send, within the bound. */
    const bounded = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E | ClientConnectionFailed> =>
      limits.responseMs === 0 ? effect : Effect.timeoutFail(effect, {
        duration: limits.responseMs,
        onTimeout: () => {
          const error = noAnswer(limits.responseMs)
          return failed(error.message, error)
        }
      })
    const send = (chunk: Uint8Array) =>
      bounded(Effect.async<void, ClientConnectionFailed>((resume) => {
        socket.write(
          chunk,
          (error) => resume(error ? Effect.fail(failed(describeConnectionError(error), error)) : Effect.void)
        )
      }))

    const buffers = [Buffer.allocUnsafe(BUFFER_BYTES), Buffer.allocUnsafe(BUFFER_BYTES)] as const
    const sending: [
      Fiber.RuntimeFiber<void, ClientConnectionFailed>?,
      Fiber.RuntimeFiber<void, ClientConnectionFailed>?
    ] = []
    /** The body from the two buffers; the bytes sent (fewer than `length` when `fill` ended early). */
    const sendBody = Effect.gen(function*() {
      let sent = 0
      for (let turn = 0; sent < request.length; turn = 1 - turn) {
        // a buffer is filled again only once the socket took what it held
        const previous = sending[turn]
        if (previous !== undefined) yield* Fiber.join(previous)
        const buffer = buffers[turn]!
        const n = yield* fill(buffer.subarray(0, Math.min(BUFFER_BYTES, request.length - sent)))
        if (n <= 0) return sent
        sending[turn] = yield* Effect.fork(send(buffer.subarray(0, n)))
        sent += n
      }
      for (const fiber of sending) if (fiber !== undefined) yield* Fiber.join(fiber)
      return sent
    })

    yield* send(requestHead(request.method, request.path + request.query, {
      ...request.headers,
      expect: "100-continue"
    }))
    let result: JsonResponse | undefined = undefined
    if ((yield* awaitContinue) === "continue") {
      // a refused write with an answer already there (LXD answered early and closed): the answer is the result
      const sent = yield* Effect.catchTag(sendBody, "ClientConnectionFailed", (error) =>
        Effect.flatMap(
          readAnswer(EARLY_ANSWER_MS),
          (early) => early === undefined ? Effect.fail(error) : Effect.succeed(early)
        ))
      if (typeof sent !== "number") result = sent
      else if (sent < request.length) return yield* failed(`the body ended after ${sent} of ${request.length} bytes`)
    }
    result ??= yield* bounded(readAnswer())
    if (result === undefined) {
      return yield* failed(
        answer.error === undefined
          ? "the connection closed without a complete answer"
          : describeConnectionError(answer.error),
        answer.error
      )
    }
    return result
  }))

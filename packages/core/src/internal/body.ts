/**
 * A caller's stream as a request body, shared by file pushes, backup imports and image relays.
 *
 * @internal
 */
import * as HttpBody from "@effect/platform/HttpBody"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import { InvalidArgument } from "../LxdError.js"

/**
 * Sends `stream` as the body of the request `send` makes. The stream runs inside the transport, which reports
 * its failure as its own (a failed request, a defect): the stream's own failure is re-raised as it was.
 *
 * @internal
 */
export const withStreamBody = <A, E, R, E2, R2>(
  stream: Stream.Stream<Uint8Array, E, R>,
  contentType: string,
  length: number | undefined,
  send: (body: HttpBody.HttpBody) => Effect.Effect<A, E2, R2>
): Effect.Effect<A, E | E2, R | R2> =>
  Effect.gen(function*() {
    const failure = yield* Ref.make(Option.none<Cause.Cause<E>>())
    const context = yield* Effect.context<R>()
    const body = stream.pipe(
      Stream.tapErrorCause((cause) =>
        Cause.isInterruptedOnly(cause) ? Effect.void : Ref.set(failure, Option.some(cause))
      ),
      Stream.provideContext(context)
    )
    return yield* send(HttpBody.stream(body, contentType, length)).pipe(
      Effect.catchAllCause((cause) =>
        Effect.flatMap(
          Ref.get(failure),
          Option.match({
            onNone: () => Effect.failCause<E | E2>(cause),
            onSome: (own) => Effect.failCause(own)
          })
        )
      )
    )
  })

/**
 * Ends a response whose body will not be read: taking one chunk and stopping aborts the request (bounded, in
 * case the server stalls).
 *
 * @internal
 */
export const discard = (response: HttpClientResponse.HttpClientResponse): Effect.Effect<void> =>
  Stream.runDrain(Stream.take(response.stream, 1)).pipe(Effect.timeout("5 seconds"), Effect.ignore)

/**
 * A body of `size` bytes that `fill` writes into fresh buffers of at most `chunkBytes`, for a transport without
 * a reused-buffer upload path; a `fill` that returns 0 before `size` bytes fails with `InvalidArgument`.
 *
 * @internal
 */
export const fillChunks = <E>(
  size: number,
  chunkBytes: number,
  fill: (buffer: Uint8Array) => Effect.Effect<number, E>
): Stream.Stream<Uint8Array, E | InvalidArgument> => {
  let left = size
  return Stream.repeatEffectOption(Effect.suspend(() => {
    if (left === 0) return Effect.fail(Option.none())
    const buffer = new Uint8Array(Math.min(chunkBytes, left))
    return Effect.flatMap(Effect.mapError(fill(buffer), Option.some), (n) => {
      if (n <= 0) {
        return Effect.fail(Option.some<E | InvalidArgument>(
          new InvalidArgument({ argument: "fill", value: size, reason: `the body ended after ${size - left} bytes` })
        ))
      }
      left -= n
      return Effect.succeed(buffer.subarray(0, n))
    })
  }))
}

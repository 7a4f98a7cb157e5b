/**
 * What both websocket clients share: a pull that waits for the socket to wake it, and the text of an abnormal
 * close.
 *
 * @internal
 */
import * as Effect from "effect/Effect"

/** Holds the reader's wake-up while it waits. @internal */
export interface Waiting {
  waiter: (() => void) | undefined
}

/**
 * A pull: `attempt` resumes and returns `true` when it can answer; otherwise it is tried again each time the
 * socket calls `slot.waiter`. Interrupting the pull forgets the wake-up.
 *
 * @internal
 */
export const pull = <A, E>(
  slot: Waiting,
  attempt: (resume: (effect: Effect.Effect<A, E>) => void) => boolean
): Effect.Effect<A, E> =>
  Effect.async<A, E>((resume) => {
    if (attempt(resume)) return
    slot.waiter = () => {
      if (attempt(resume)) slot.waiter = undefined
    }
    return Effect.sync(() => {
      slot.waiter = undefined
    })
  })

/** @internal */
export const closedAbnormally = (code: number, reason: string) =>
  `websocket closed abnormally (code ${code}${reason ? `: ${reason}` : ""})`

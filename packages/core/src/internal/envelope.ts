/**
 * The LXD response envelope (sync / async / error), read by hand on the hot path.
 *
 * @internal
 */

/** @internal */
export type Envelope =
  | { readonly type: "sync"; readonly status_code: number; readonly metadata: unknown }
  | { readonly type: "async"; readonly status_code: number; readonly operation: string; readonly metadata: unknown }
  | { readonly type: "error"; readonly error: string; readonly error_code: number; readonly metadata: unknown }

/**
 * Reads a decoded JSON body as an envelope, or returns why it is not one.
 *
 * @internal
 */
export const parse = (body: unknown): Envelope | { readonly invalid: string } => {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return { invalid: `expected an LXD response envelope (a JSON object), got ${describe(body)}` }
  }
  const b = body as Record<string, unknown>
  switch (b.type) {
    case "sync":
      return {
        type: "sync",
        status_code: typeof b.status_code === "number" ? b.status_code : 200,
        metadata: b.metadata ?? null
      }
    case "async":
      if (typeof b.operation !== "string" || b.operation.length === 0) {
        return { invalid: "async response without an operation URL" }
      }
      return {
        type: "async",
        status_code: typeof b.status_code === "number" ? b.status_code : 100,
        operation: b.operation,
        metadata: b.metadata ?? null
      }
    case "error":
      return {
        type: "error",
        error: typeof b.error === "string" ? b.error : "",
        error_code: typeof b.error_code === "number" ? b.error_code : 0,
        metadata: b.metadata ?? null
      }
    default:
      return { invalid: `expected "type" to be sync, async or error, got ${describe(b.type)}` }
  }
}

const describe = (u: unknown): string => {
  if (u === undefined) return "nothing"
  try {
    const s = JSON.stringify(u)
    return s.length > 80 ? `${s.slice(0, 77)}...` : s
  } catch {
    return typeof u
  }
}

/**
 * Bounds on what errors carry: server text cut to an excerpt, values previewed a few levels deep, and a
 * `ParseError` formatter that renders a bounded number of issues however deep or large the input was (Effect's
 * `TreeFormatter` renders the actual value in full, recursively: 3,000 nested arrays overflow the stack).
 *
 * @internal
 */
import * as ParseResult from "effect/ParseResult"

/**
 * The most characters of server text (an error envelope's `error`, an operation's `err`, a URL) an error keeps.
 *
 * @internal
 */
export const MAX_TEXT = 1024

/**
 * Linux's `PATH_MAX`: the longest symlink target (and path) LXD can report.
 *
 * @internal
 */
export const PATH_MAX = 4096

/**
 * `text` cut to `max` characters, the cut said with how much was left out.
 *
 * @internal
 */
export const excerpt = (text: string, max: number = MAX_TEXT): string =>
  text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters)`

const PREVIEW = 80
const ITEMS = 3

const render = (u: unknown, depth: number): string => {
  switch (typeof u) {
    case "string":
      return JSON.stringify(u.length > PREVIEW ? u.slice(0, PREVIEW) : u) + (u.length > PREVIEW ? "…" : "")
    case "number":
    case "boolean":
    case "bigint":
    case "undefined":
    case "symbol":
      return String(u)
    case "function":
      return "a function"
  }
  if (u === null) return "null"
  if (Array.isArray(u)) {
    if (u.length === 0) return "[]"
    if (depth === 0) return `[…${u.length} item${u.length === 1 ? "" : "s"}]`
    const shown = u.slice(0, ITEMS).map((x) => render(x, depth - 1))
    return `[${shown.join(",")}${u.length > ITEMS ? `,…${u.length - ITEMS} more` : ""}]`
  }
  if (u instanceof Date) return Number.isNaN(u.getTime()) ? "Invalid Date" : u.toISOString()
  const proto = Object.getPrototypeOf(u)
  if (proto !== Object.prototype && proto !== null) {
    const name = (proto as { constructor?: { name?: unknown } }).constructor?.name
    return typeof name === "string" && name !== "" ? `a ${name}` : "an object"
  }
  const keys = Object.keys(u as object)
  if (keys.length === 0) return "{}"
  if (depth === 0) return `{…${keys.length} key${keys.length === 1 ? "" : "s"}}`
  const shown = keys.slice(0, ITEMS).map((k) =>
    `${render(k, 0)}:${render((u as Record<string, unknown>)[k], depth - 1)}`
  )
  return `{${shown.join(",")}${keys.length > ITEMS ? `,…${keys.length - ITEMS} more` : ""}}`
}

/**
 * A short rendering of any value (two levels deep, three items or keys per level, strings cut): never throws,
 * never recurses further, whatever the value.
 *
 * @internal
 */
export const preview = (u: unknown): string => {
  try {
    return excerpt(render(u, 2), 2 * PREVIEW)
  } catch {
    return "an unprintable value"
  }
}

const MAX_ISSUES = 8
const MAX_NODES = 512
const MAX_PATH = 16

const key = (k: PropertyKey): string => typeof k === "number" ? `[${k}]` : `[${render(String(k), 0)}]`

const expected = (ast: { toString(): string }): string => {
  try {
    return excerpt(String(ast), 200)
  } catch {
    return "its schema"
  }
}

const leaf = (issue: ParseResult.ParseIssue): string | undefined => {
  switch (issue._tag) {
    case "Type":
      return issue.message !== undefined
        ? excerpt(issue.message, 200)
        : `Expected ${expected(issue.ast)}, actual ${preview(issue.actual)}`
    case "Missing":
      return "is missing"
    case "Unexpected":
      return issue.message !== undefined ? excerpt(issue.message, 200) : "is unexpected"
    case "Forbidden":
      return issue.message !== undefined ? excerpt(issue.message, 200) : "is forbidden"
    default:
      return undefined
  }
}

/**
 * A `ParseError` (or issue) as text: the first few failing paths (`["metadata"][0]["name"]`) with what was
 * expected and a {@link preview} of what came, in bounded time and space whatever the input. Walks the issue
 * tree without recursion, so an issue tree as deep as the input (a recursive schema) cannot overflow either.
 *
 * @internal
 */
export const formatParseError = (error: ParseResult.ParseError | ParseResult.ParseIssue): string => {
  try {
    const root = error._tag === "ParseError" ? error.issue : error
    const found: Array<string> = []
    let more = 0
    let nodes = 0
    const stack: Array<{ readonly issue: ParseResult.ParseIssue; readonly path: ReadonlyArray<PropertyKey> }> = [
      { issue: root, path: [] }
    ]
    while (stack.length > 0) {
      const { issue, path } = stack.pop()!
      if (++nodes > MAX_NODES) {
        more += stack.length + 1
        break
      }
      const message = leaf(issue)
      if (message !== undefined) {
        if (found.length >= MAX_ISSUES) {
          more++
          continue
        }
        const shown = path.length > MAX_PATH
          ? [...path.slice(0, MAX_PATH / 2), "…", ...path.slice(-MAX_PATH / 2)]
          : path
        const where = shown.map((k) => k === "…" ? "…" : key(k)).join("")
        found.push(where === "" ? message : `${where}: ${message}`)
        continue
      }
      switch (issue._tag) {
        case "Pointer": {
          const keys = Array.isArray(issue.path) ? issue.path : [issue.path as PropertyKey]
          stack.push({ issue: issue.issue, path: [...path, ...keys] })
          break
        }
        case "Refinement":
        case "Transformation":
          stack.push({ issue: issue.issue, path })
          break
        case "Composite": {
          const children = Array.isArray(issue.issues) ? issue.issues : [issue.issues as ParseResult.ParseIssue]
          // pushed in reverse so the first issue is reported first
          for (let i = children.length - 1; i >= 0; i--) stack.push({ issue: children[i]!, path })
          break
        }
      }
    }
    if (found.length === 0) return "does not match its schema"
    return found.join("; ") + (more > 0 ? ` (and ${more} more)` : "")
  } catch {
    return "does not match its schema"
  }
}

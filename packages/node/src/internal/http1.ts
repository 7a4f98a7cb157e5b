/**
 * The little HTTP/1.1 the unix socket's reused-buffer paths speak by hand: a request's head, an answer's head
 * (past `100 Continue`), and a chunked body.
 *
 * @internal
 */

const HEAD_END = "\r\n\r\n"

/** @internal */
export interface Head {
  readonly status: number
  /** Names in lower case. */
  readonly headers: Record<string, string>
  /** Where the body starts in the bytes read. */
  readonly bodyStart: number
}

/**
 * The head at `from` in the bytes read so far: `"incomplete"` until its blank line is in, `"invalid"` if it is
 * not HTTP/1.x.
 *
 * @internal
 */
export const readHead = (raw: Buffer, from = 0): Head | "incomplete" | "invalid" => {
  const end = raw.indexOf(HEAD_END, from, "latin1")
  if (end < 0) return "incomplete"
  const lines = raw.toString("latin1", from, end).split("\r\n")
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "")
  if (status === null) return "invalid"
  const headers: Record<string, string> = {}
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!
    const colon = line.indexOf(":")
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  return { status: Number(status[1]), headers, bodyStart: end + HEAD_END.length }
}

/**
 * The final head, past any informational (1xx) ones: a `100 Continue` may come at any time before it.
 *
 * @internal
 */
export const readFinalHead = (raw: Buffer): Head | "incomplete" | "invalid" => {
  let head = readHead(raw)
  while (typeof head !== "string" && head.status >= 100 && head.status < 200) head = readHead(raw, head.bodyStart)
  return head
}

/**
 * The request line and headers of a request, with its blank line; `Connection: close` unless `connection` says
 * otherwise (a websocket upgrade).
 *
 * @internal
 */
export const requestHead = (
  method: string,
  target: string,
  headers: Readonly<Record<string, string>> = {},
  connection = "close"
): Buffer => {
  let head = `${method} ${target} HTTP/1.1\r\nHost: lxd\r\nConnection: ${connection}\r\n`
  for (const name in headers) head += `${name}: ${headers[name]}\r\n`
  return Buffer.from(head + "\r\n", "latin1")
}

/** Decodes a `Transfer-Encoding: chunked` body (`size\r\ndata\r\n…0\r\n\r\n`); `undefined` if cut short. @internal */
export const dechunk = (body: Buffer): Buffer | undefined => {
  const parts: Array<Buffer> = []
  let at = 0
  for (;;) {
    const eol = body.indexOf("\r\n", at, "latin1")
    if (eol < 0) return undefined
    const size = Number.parseInt(body.toString("latin1", at, eol), 16)
    if (Number.isNaN(size)) return undefined
    if (size === 0) return Buffer.concat(parts)
    parts.push(body.subarray(eol + 2, eol + 2 + size))
    at = eol + 2 + size + 2
  }
}

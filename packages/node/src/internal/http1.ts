/**
 * The little HTTP/1.1 the unix socket's reused-buffer paths speak by hand: the end of a head, a head's status
 * and headers (names in lower case), and a chunked body.
 *
 * @internal
 */

/** The blank line that ends a head. @internal */
export const HEAD_END = "\r\n\r\n"

/** Status and headers of a head (without its blank line), or `undefined` if it is not HTTP/1.x. @internal */
export const parseHead = (text: string): { status: number; headers: Record<string, string> } | undefined => {
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

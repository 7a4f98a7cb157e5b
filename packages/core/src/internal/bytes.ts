/**
 * Byte helpers shared by exec and files.
 *
 * @internal
 */

/** Joins chunks into one array (the single chunk itself when there is only one). @internal */
export const concat = (chunks: Iterable<Uint8Array>): Uint8Array => {
  const list = Array.isArray(chunks) ? chunks as ReadonlyArray<Uint8Array> : [...chunks]
  if (list.length === 1) return list[0]!
  let size = 0
  for (const c of list) size += c.length
  const out = new Uint8Array(size)
  let offset = 0
  for (const c of list) {
    out.set(c, offset)
    offset += c.length
  }
  return out
}

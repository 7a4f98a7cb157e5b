/**
 * An incremental SHA-256 (FIPS 180-4) in plain TypeScript: core runs on every platform and WebCrypto's `digest`
 * takes the whole input at once, while image exports and uploads are hashed as their bytes flow.
 *
 * @internal
 */

const K = new Int32Array([
  0x428a2f98,
  0x71374491,
  0xb5c0fbcf,
  0xe9b5dba5,
  0x3956c25b,
  0x59f111f1,
  0x923f82a4,
  0xab1c5ed5,
  0xd807aa98,
  0x12835b01,
  0x243185be,
  0x550c7dc3,
  0x72be5d74,
  0x80deb1fe,
  0x9bdc06a7,
  0xc19bf174,
  0xe49b69c1,
  0xefbe4786,
  0x0fc19dc6,
  0x240ca1cc,
  0x2de92c6f,
  0x4a7484aa,
  0x5cb0a9dc,
  0x76f988da,
  0x983e5152,
  0xa831c66d,
  0xb00327c8,
  0xbf597fc7,
  0xc6e00bf3,
  0xd5a79147,
  0x06ca6351,
  0x14292967,
  0x27b70a85,
  0x2e1b2138,
  0x4d2c6dfc,
  0x53380d13,
  0x650a7354,
  0x766a0abb,
  0x81c2c92e,
  0x92722c85,
  0xa2bfe8a1,
  0xa81a664b,
  0xc24b8b70,
  0xc76c51a3,
  0xd192e819,
  0xd6990624,
  0xf40e3585,
  0x106aa070,
  0x19a4c116,
  0x1e376c08,
  0x2748774c,
  0x34b0bcb5,
  0x391c0cb3,
  0x4ed8aa4a,
  0x5b9cca4f,
  0x682e6ff3,
  0x748f82ee,
  0x78a5636f,
  0x84c87814,
  0x8cc70208,
  0x90befffa,
  0xa4506ceb,
  0xbef9a3f7,
  0xc67178f2
])

/** A running hash: feed it chunks with `update`, read the hex digest once with `digest`. @internal */
export interface Sha256 {
  readonly update: (chunk: Uint8Array) => void
  readonly digest: () => string
}

/** A new running SHA-256. @internal */
export const make = (): Sha256 => {
  const h = new Int32Array([
    0x6a09e667,
    0xbb67ae85,
    0x3c6ef372,
    0xa54ff53a,
    0x510e527f,
    0x9b05688c,
    0x1f83d9ab,
    0x5be0cd19
  ])
  const w = new Int32Array(64)
  const block = new Uint8Array(64)
  let filled = 0
  let total = 0

  /** Compresses the 64-byte blocks of `data` from `offset`, `count` blocks. */
  const compress = (data: Uint8Array, offset: number, count: number) => {
    let h0 = h[0]!, h1 = h[1]!, h2 = h[2]!, h3 = h[3]!, h4 = h[4]!, h5 = h[5]!, h6 = h[6]!, h7 = h[7]!
    for (let b = 0; b < count; b++) {
      const o = offset + b * 64
      for (let i = 0; i < 16; i++) {
        const j = o + i * 4
        w[i] = (data[j]! << 24) | (data[j + 1]! << 16) | (data[j + 2]! << 8) | data[j + 3]!
      }
      for (let i = 16; i < 64; i++) {
        const x = w[i - 15]!, y = w[i - 2]!
        const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)
        const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10)
        w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0
      }
      let a = h0, bb = h1, c = h2, d = h3, e = h4, f = h5, g = h6, hh = h7
      for (let i = 0; i < 64; i++) {
        const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))
        const t1 = (hh + S1 + ((e & f) ^ (~e & g)) + K[i]! + w[i]!) | 0
        const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))
        const t2 = (S0 + ((a & bb) ^ (a & c) ^ (bb & c))) | 0
        hh = g
        g = f
        f = e
        e = (d + t1) | 0
        d = c
        c = bb
        bb = a
        a = (t1 + t2) | 0
      }
      h0 = (h0 + a) | 0
      h1 = (h1 + bb) | 0
      h2 = (h2 + c) | 0
      h3 = (h3 + d) | 0
      h4 = (h4 + e) | 0
      h5 = (h5 + f) | 0
      h6 = (h6 + g) | 0
      h7 = (h7 + hh) | 0
    }
    h[0] = h0
    h[1] = h1
    h[2] = h2
    h[3] = h3
    h[4] = h4
    h[5] = h5
    h[6] = h6
    h[7] = h7
  }

  const update = (chunk: Uint8Array) => {
    total += chunk.length
    let offset = 0
    if (filled > 0) {
      const take = Math.min(64 - filled, chunk.length)
      block.set(chunk.subarray(0, take), filled)
      filled += take
      offset = take
      if (filled < 64) return
      compress(block, 0, 1)
      filled = 0
    }
    const blocks = Math.floor((chunk.length - offset) / 64)
    if (blocks > 0) compress(chunk, offset, blocks)
    offset += blocks * 64
    if (offset < chunk.length) {
      block.set(chunk.subarray(offset), 0)
      filled = chunk.length - offset
    }
  }

  const digest = () => {
    const bits = total * 8
    const tail = new Uint8Array(filled + 9 <= 64 ? 64 : 128)
    tail.set(block.subarray(0, filled))
    tail[filled] = 0x80
    const view = new DataView(tail.buffer)
    view.setUint32(tail.length - 8, Math.floor(bits / 0x100000000))
    view.setUint32(tail.length - 4, bits >>> 0)
    compress(tail, 0, tail.length / 64)
    let out = ""
    for (let i = 0; i < 8; i++) out += (h[i]! >>> 0).toString(16).padStart(8, "0")
    return out
  }

  return { update, digest }
}

/**
 * Small statistics and table helpers for the benchmarks.
 */

const sorted = (xs: ReadonlyArray<number>): Array<number> => [...xs].sort((a, b) => a - b)

/** Nearest-rank percentile, `p` in [0, 100]. */
export const percentile = (xs: ReadonlyArray<number>, p: number): number => {
  if (xs.length === 0) return Number.NaN
  const s = sorted(xs)
  const rank = Math.ceil((p / 100) * s.length)
  return s[Math.min(s.length - 1, Math.max(0, rank - 1))]!
}

export const median = (xs: ReadonlyArray<number>): number => {
  if (xs.length === 0) return Number.NaN
  const s = sorted(xs)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

export const sum = (xs: ReadonlyArray<number>): number => xs.reduce((a, b) => a + b, 0)

export interface Row {
  readonly bench: string
  readonly client: string
  readonly n: string
  readonly median: string
  readonly p95: string
  readonly throughput: string
  readonly ratio: string
  readonly target: string
  readonly verdict: string
}

const columns: ReadonlyArray<{ key: keyof Row; title: string; align: "l" | "r" }> = [
  { key: "bench", title: "bench", align: "l" },
  { key: "client", title: "client", align: "l" },
  { key: "n", title: "n", align: "r" },
  { key: "median", title: "median", align: "r" },
  { key: "p95", title: "p95", align: "r" },
  { key: "throughput", title: "req/s", align: "r" },
  { key: "ratio", title: "ratio", align: "r" },
  { key: "target", title: "target", align: "l" },
  { key: "verdict", title: "", align: "l" }
]

/** Renders rows as a fixed-width table; a row whose `bench` is `"-"` becomes a separator line. */
export const renderTable = (rows: ReadonlyArray<Row>): string => {
  const widths = columns.map((c) => Math.max(c.title.length, ...rows.map((r) => r[c.key].length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells
      .map((cell, i) => (columns[i]!.align === "l" ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join("  ")
      .trimEnd()
  const rule = widths.map((w) => "-".repeat(w)).join("  ")
  const out = [line(columns.map((c) => c.title)), rule]
  for (const r of rows) out.push(r.bench === "-" ? rule : line(columns.map((c) => r[c.key])))
  return out.join("\n")
}

export const separator: Row = {
  bench: "-",
  client: "",
  n: "",
  median: "",
  p95: "",
  throughput: "",
  ratio: "",
  target: "",
  verdict: ""
}

export const ms = (x: number, digits = 3): string => `${x.toFixed(digits)} ms`
export const ratio = (x: number): string => `${x.toFixed(2)}x`

/**
 * A parser of the OpenMetrics text LXD writes (`GET /1.0/metrics`): `# HELP`, `# TYPE`, `# UNIT` and `# EOF`
 * lines, samples `name{label="value",…} value [timestamp]`. Label values may carry the format's escapes (`\\`,
 * `\"`, `\n`), though LXD writes them unescaped. Anything else is an error naming the line.
 *
 * @internal
 */
import type { MetricSample } from "../Metrics.js"

/** @internal */
export interface Parsed {
  readonly samples: ReadonlyArray<MetricSample>
}

/** @internal */
export class MetricsSyntaxError {
  constructor(readonly line: number, readonly reason: string) {}
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*/

const number = (text: string): number | undefined => {
  switch (text) {
    case "+Inf":
    case "Inf":
      return Infinity
    case "-Inf":
      return -Infinity
    case "NaN":
      return NaN
  }
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) return undefined
  return Number(text)
}

/** Reads `{k="v",…}` from `line` at `start` (the `{`); returns the labels and the index after `}`. */
const readLabels = (line: string, start: number): { labels: Record<string, string>; end: number } | string => {
  const labels: Record<string, string> = {}
  let i = start + 1
  for (;;) {
    if (line[i] === "}") return { labels, end: i + 1 }
    const name = LABEL.exec(line.slice(i))
    if (name === null) return "a label name was expected"
    i += name[0].length
    if (line[i] !== "=" || line[i + 1] !== "\"") return `label ${name[0]} has no quoted value`
    i += 2
    let value = ""
    for (;;) {
      const c = line[i]
      if (c === undefined) return `the value of label ${name[0]} is not closed`
      if (c === "\"") break
      if (c === "\\") {
        const next = line[i + 1]
        value += next === "n" ? "\n" : next === undefined ? "\\" : next
        i += 2
        continue
      }
      value += c
      i++
    }
    i++
    if (Object.prototype.hasOwnProperty.call(labels, name[0])) return `label ${name[0]} is repeated`
    labels[name[0]] = value
    if (line[i] === ",") i++
    else if (line[i] !== "}") return "',' or '}' was expected after a label"
  }
}

const SUFFIXES = ["_total", "_created", "_count", "_sum", "_bucket", "_info"]

/**
 * Parses the text; samples carry their family's `# TYPE` and `# HELP` (a sample named `x_total` belongs to
 * family `x` when there is no family `x_total`).
 *
 * @internal
 */
export const parse = (text: string): Parsed | MetricsSyntaxError => {
  const types = new Map<string, string>()
  const helps = new Map<string, string>()
  const samples: Array<MetricSample> = []
  const lines = text.split("\n")
  let ended = false
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!.replace(/\r$/, "")
    if (line === "") continue
    if (ended) return new MetricsSyntaxError(n + 1, "text after # EOF")
    if (line.startsWith("#")) {
      if (line === "# EOF") {
        ended = true
        continue
      }
      const m = /^# (HELP|TYPE|UNIT) ([a-zA-Z_:][a-zA-Z0-9_:]*)(?: (.*))?$/.exec(line)
      if (m === null) continue // a comment
      if (m[1] === "HELP") helps.set(m[2]!, m[3] ?? "")
      else if (m[1] === "TYPE") types.set(m[2]!, m[3] ?? "unknown")
      continue
    }
    const name = NAME.exec(line)
    if (name === null) return new MetricsSyntaxError(n + 1, "a metric name was expected")
    let i = name[0].length
    let labels: Record<string, string> = {}
    if (line[i] === "{") {
      const read = readLabels(line, i)
      if (typeof read === "string") return new MetricsSyntaxError(n + 1, read)
      labels = read.labels
      i = read.end
    }
    if (line[i] !== " ") return new MetricsSyntaxError(n + 1, "a space was expected before the value")
    const rest = line.slice(i + 1).trim().split(/\s+/)
    if (rest.length > 2) return new MetricsSyntaxError(n + 1, "more than a value and a timestamp")
    const value = number(rest[0] ?? "")
    if (value === undefined) return new MetricsSyntaxError(n + 1, `"${rest[0]}" is not a number`)
    const timestamp = rest[1] === undefined ? undefined : number(rest[1])
    if (rest[1] !== undefined && timestamp === undefined) {
      return new MetricsSyntaxError(n + 1, `"${rest[1]}" is not a timestamp`)
    }
    const family = types.has(name[0]) || helps.has(name[0])
      ? name[0]
      : SUFFIXES.map((s) => name[0].endsWith(s) ? name[0].slice(0, -s.length) : undefined)
        .find((f) => f !== undefined && (types.has(f) || helps.has(f))) ?? name[0]
    samples.push({
      name: name[0],
      family,
      type: types.get(family) ?? "unknown",
      help: helps.get(family) ?? "",
      labels,
      value,
      ...(timestamp === undefined ? {} : { timestamp })
    })
  }
  return { samples }
}

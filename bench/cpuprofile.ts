/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`, or from bench/profile-get.ts): self time aggregated by
 * function (name + script), by package, and inclusive time of the heaviest functions.
 *
 *   node_modules/.bin/tsx bench/cpuprofile.ts FILE.cpuprofile [--top 25]
 */
import * as fs from "node:fs"
import { fileURLToPath } from "node:url"

interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber: number
  readonly columnNumber: number
}
interface ProfileNode {
  readonly id: number
  readonly callFrame: CallFrame
  readonly children?: ReadonlyArray<number>
}
export interface CpuProfile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly startTime: number
  readonly endTime: number
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

/** `node_modules/.pnpm/effect@3.22.4/node_modules/effect/dist/esm/internal/fiberRuntime.js` → `effect/internal/fiberRuntime.js`. */
export const shortUrl = (url: string): string => {
  if (url === "") return ""
  const nm = url.lastIndexOf("/node_modules/")
  if (nm >= 0) {
    return url.slice(nm + "/node_modules/".length).replace(/\/dist\/(esm|cjs)\//, "/").replace(/\/src\//, "/")
  }
  const pk = url.indexOf("/packages/")
  if (pk >= 0) return `@effect-lxd/${url.slice(pk + "/packages/".length).replace("/src/", "/")}`
  const b = url.indexOf("/bench/")
  if (b >= 0) return url.slice(b + 1)
  return url.replace(/^file:\/\//, "")
}

/** Which package a script belongs to: `effect`, `@effect/platform`, `undici`, `@effect-lxd/core`, `node:internal`, … */
export const packageOf = (frame: CallFrame): string => {
  const url = frame.url
  if (url === "") {
    const n = frame.functionName
    return n === "(garbage collector)" || n === "(idle)" || n === "(program)" || n === "(root)" ? n : "(native)"
  }
  if (url.startsWith("node:")) return "node (internal)"
  const nm = url.lastIndexOf("/node_modules/")
  if (nm >= 0) {
    const parts = url.slice(nm + "/node_modules/".length).split("/")
    return parts[0]!.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0]!
  }
  const pk = url.match(/\/packages\/([^/]+)\//)
  if (pk !== null) return `@effect-lxd/${pk[1]}`
  if (url.includes("/bench/")) return "bench"
  return url
}

const frameKey = (f: CallFrame): string =>
  // anonymous functions of one script would merge into one row: keep their line to tell them apart
  `${f.functionName === "" ? `(anonymous):${f.lineNumber + 1}` : f.functionName}  ${shortUrl(f.url)}`

/**
 * Components a sample is charged to: the first bucket (in this order) that matches any frame of the sample's
 * stack. Synchronous work (a schema decode, a URL parse) is on the JS stack under its entry point, so "any
 * frame" catches all of it; Effect's run loop flattens the logical call tree, so what is left over is the
 * fiber machinery itself.
 */
const BUCKETS: ReadonlyArray<{
  readonly name: string
  readonly match: (f: CallFrame) => boolean
  /** Match the sample's own (innermost) frame only. */
  readonly leaf?: boolean
}> = [
  { name: "(idle)", match: (f) => f.url === "" && f.functionName === "(idle)" },
  { name: "(garbage collector)", match: (f) => f.url === "" && f.functionName === "(garbage collector)" },
  { name: "(program)", match: (f) => f.url === "" && f.functionName === "(program)" },
  {
    name: "socket write syscall",
    match: (f) => f.url === "" && /^write(Latin1String|Utf8String|Buffer|v|Generic)$/.test(f.functionName)
  },
  {
    // V8 charges most of JSON.parse to the JS function calling it: the closure that parses the body
    name: "JSON.parse",
    match: (f) =>
      (f.url === "" && f.functionName === "parse") ||
      (f.functionName === "try" && f.url.endsWith("/platform-node/dist/esm/internal/httpClientUndici.js")) ||
      f.functionName === "parseJsonBody",
    leaf: true
  },
  {
    // the engine's compiled fast path: its module, and the struct decoders it generates (`new Function`)
    name: "effect-lxd fast decode (internal/fastDecode.ts)",
    match: (f) => f.url.endsWith("/internal/fastDecode.ts") || f.functionName === "decodeStruct"
  },
  {
    name: "Schema decode (effect/ParseResult, Schema)",
    match: (f) => /\/effect\/dist\/esm\/(ParseResult|Schema|SchemaAST)\.js$/.test(f.url)
  },
  {
    name: "URL parsing (new URL, UrlParams)",
    match: (f) => f.functionName === "URL" || f.url.endsWith("/UrlParams.js") || f.url === "node:internal/url"
  },
  {
    name: "tracing (spans, trace headers)",
    match: (f) =>
      /\/effect\/dist\/esm\/internal\/tracer\.js$/.test(f.url) && f.functionName !== "context" ||
      /^(unsafeMakeSpan|makeSpan|useSpan|withParentSpan|addSpanStackTrace|filterDisablePropagation)$/.test(
        f.functionName
      ) ||
      f.url.endsWith("/HttpTraceContext.js") ||
      (f.url.endsWith("/internal/httpClient.js") && /^ATTR_/.test(f.functionName))
  },
  {
    name: "AbortController / signals",
    match: (f) => /abort_controller|event_target/.test(f.url) || /^(AbortController|AbortSignal)$/.test(f.functionName)
  },
  { name: "Headers (@effect/platform)", match: (f) => f.url.endsWith("/@effect/platform/dist/esm/Headers.js") },
  { name: "FinalizationRegistry", match: (f) => f.url === "" && /^(register|unregister)$/.test(f.functionName) },
  { name: "undici", match: (f) => f.url.includes("/node_modules/undici/") || f.url.startsWith("wasm://") },
  { name: "node:http", match: (f) => /^node:_http_/.test(f.url) },
  {
    name: "node streams / net / events",
    match: (f) => /^node:(net|events|internal\/streams|internal\/stream_base)/.test(f.url)
  },
  {
    name: "Effect Scope / finalizers",
    match: (f) =>
      /\/effect\/dist\/esm\/internal\/(scope|fiberRuntime)\.js$/.test(f.url) &&
      /[Ss]cope|[Ff]inaliz|addFinalizer|close/.test(f.functionName)
  },
  { name: "@effect/platform (other)", match: (f) => f.url.includes("/@effect/platform") },
  { name: "@effect-lxd", match: (f) => /\/packages\/(core|node)\//.test(f.url) },
  { name: "Effect runtime (fibers, run loop, core)", match: (f) => f.url.includes("/node_modules/effect/") },
  { name: "bench harness", match: (f) => f.url.includes("/bench/") },
  { name: "node internals (other)", match: (f) => f.url.startsWith("node:") },
  { name: "other", match: () => true }
]

export interface Summary {
  readonly totalMs: number
  readonly bySelf: ReadonlyArray<{ key: string; ms: number }>
  readonly byPackage: ReadonlyArray<{ key: string; ms: number }>
  readonly byInclusive: ReadonlyArray<{ key: string; ms: number }>
  readonly byComponent: ReadonlyArray<{ key: string; ms: number }>
}

export const summarise = (profile: CpuProfile): Summary => {
  const byId = new Map<number, ProfileNode>()
  const parent = new Map<number, number>()
  for (const n of profile.nodes) {
    byId.set(n.id, n)
    for (const c of n.children ?? []) parent.set(c, n.id)
  }
  // sample i lasts until sample i+1 (as Chrome DevTools counts it); the last one gets the profile's end
  const selfUs = new Map<number, number>()
  let t = profile.startTime
  const stamps: Array<number> = []
  for (const d of profile.timeDeltas) stamps.push(t += d)
  for (let i = 0; i < profile.samples.length; i++) {
    const dur = (i + 1 < stamps.length ? stamps[i + 1]! : profile.endTime) - stamps[i]!
    const id = profile.samples[i]!
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, dur))
  }
  const self = new Map<string, number>()
  const pkg = new Map<string, number>()
  const incl = new Map<string, number>()
  const comp = new Map<string, number>()
  let total = 0
  for (const [id, us] of selfUs) {
    total += us
    const node = byId.get(id)!
    const key = frameKey(node.callFrame)
    self.set(key, (self.get(key) ?? 0) + us)
    const p = packageOf(node.callFrame)
    pkg.set(p, (pkg.get(p) ?? 0) + us)
    // inclusive: every distinct function on the stack, once
    const seen = new Set<string>()
    const stack: Array<CallFrame> = []
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const frame = byId.get(cur)!.callFrame
      stack.push(frame)
      const k = frameKey(frame)
      if (seen.has(k)) continue
      seen.add(k)
      incl.set(k, (incl.get(k) ?? 0) + us)
    }
    const bucket = BUCKETS.find((b) => (b.leaf === true ? b.match(stack[0]!) : stack.some(b.match)))!.name
    comp.set(bucket, (comp.get(bucket) ?? 0) + us)
  }
  const sortedMs = (m: Map<string, number>) =>
    [...m].map(([key, us]) => ({ key, ms: us / 1000 })).sort((a, b) => b.ms - a.ms)
  return {
    totalMs: total / 1000,
    bySelf: sortedMs(self),
    byPackage: sortedMs(pkg),
    byInclusive: sortedMs(incl),
    byComponent: sortedMs(comp)
  }
}

export const render = (s: Summary, top = 25, perUnit?: { readonly count: number; readonly unit: string }): string => {
  const busy = s.totalMs - (s.byPackage.find((p) => p.key === "(idle)")?.ms ?? 0)
  const per = (
    ms: number
  ) => (perUnit === undefined ? "" : `  ${((ms * 1000) / perUnit.count).toFixed(1).padStart(7)} us/${perUnit.unit}`)
  const line = (r: { key: string; ms: number }) =>
    `${r.ms.toFixed(1).padStart(9)} ms ${((100 * r.ms) / s.totalMs).toFixed(1).padStart(5)} %${per(r.ms)}  ${r.key}`
  const skip = (k: string) => k.startsWith("(root)") || k.startsWith("(program)") || k.startsWith("(idle)")
  return [
    `profile: ${s.totalMs.toFixed(0)} ms sampled, ${busy.toFixed(0)} ms not idle` +
    (perUnit === undefined ? "" : ` (${((busy * 1000) / perUnit.count).toFixed(1)} us busy per ${perUnit.unit})`),
    "",
    `time by component (a sample goes to the first component matching any frame of its stack):`,
    ...s.byComponent.map(line),
    "",
    `self time by package:`,
    ...s.byPackage.map(line),
    "",
    `top ${top} functions by self time:`,
    ...s.bySelf.slice(0, top).map(line),
    "",
    `top ${top} functions by inclusive time (excluding (root)/(program)/(idle)):`,
    ...s.byInclusive.filter((r) => !skip(r.key)).slice(0, top).map(line)
  ].join("\n")
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === fs.realpathSync(process.argv[1])) {
  const args = process.argv.slice(2)
  const file = args.find((a) => !a.startsWith("--"))
  const topIdx = args.indexOf("--top")
  const top = topIdx >= 0 ? Number(args[topIdx + 1]) : 25
  if (file === undefined) {
    process.stderr.write("usage: tsx bench/cpuprofile.ts FILE.cpuprofile [--top 25]\n")
    process.exit(2)
  }
  const profile = JSON.parse(fs.readFileSync(file, "utf8")) as CpuProfile
  process.stdout.write(`${render(summarise(profile), top)}\n`)
}

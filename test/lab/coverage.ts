/**
 * The spec-coverage figure: which operations of LXD 5.0.2's REST spec the integration tests exercised against
 * a real daemon. The lab daemons run with `--debug`, so LXD logs every request it handles ("Handling API
 * request" with method, URL and protocol); the global setup reads each lab's log from the point its `up`
 * finished (the lab's own setup is not counted) and matches every request to an operation of
 * `../shared/lxd-api/rest-api-5.0.2.yaml`, read at run time (the spec is not copied into the repository).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { parse as parseYaml } from "yaml"

/** One operation of the spec: a method and a path of its `paths` (which may carry `?recursion=1`, `?public`). */
export interface Operation {
  readonly method: string
  readonly path: string
}

/** A request as LXD logged it. */
export interface Logged {
  readonly method: string
  readonly url: string
  /** `unix`, `tls`, …; empty for an untrusted caller (the spec's `?public` operations). */
  readonly protocol: string
}

const METHODS = ["get", "post", "put", "patch", "delete"]

/** The operations of a spec file, or `undefined` when it is not there. */
export const readSpec = (file: string): ReadonlyArray<Operation> | undefined => {
  if (!fs.existsSync(file)) return undefined
  const doc = parseYaml(fs.readFileSync(file, "utf8")) as { paths?: Record<string, Record<string, unknown>> }
  const out: Array<Operation> = []
  for (const [p, item] of Object.entries(doc.paths ?? {})) {
    for (const method of Object.keys(item)) {
      if (METHODS.includes(method)) out.push({ method: method.toUpperCase(), path: p })
    }
  }
  return out
}

/** Lines `… msg="Handling API request" … method=GET … url=/1.0/… protocol=unix …` of a daemon's debug log. */
export const parseLog = (text: string): Array<Logged> => {
  const out: Array<Logged> = []
  for (const line of text.split("\n")) {
    if (!line.includes("Handling API request")) continue
    const field = (name: string) => {
      const m = new RegExp(`(?:^|\\s)${name}=("(?:[^"\\\\]|\\\\.)*"|\\S*)`).exec(line)
      if (m === null) return undefined
      const v = m[1]!
      return v.startsWith("\"") ? JSON.parse(v) as string : v
    }
    const method = field("method")
    const url = field("url")
    if (method === undefined || url === undefined) continue
    out.push({ method, url, protocol: field("protocol") ?? "" })
  }
  return out
}

interface Template {
  readonly op: Operation
  readonly segments: ReadonlyArray<string | null> // null: a {param}
  readonly query: ReadonlyArray<readonly [string, string | undefined]>
  readonly literals: number
}

const compile = (op: Operation): Template => {
  const [p, q] = op.path.split("?") as [string, string | undefined]
  const segments = p.split("/").filter((s) => s !== "").map((s) => (s.startsWith("{") ? null : s))
  const query = (q ?? "").split("&").filter((s) => s !== "").map((kv) => {
    const [k, v] = kv.split("=")
    return [k!, v] as const
  })
  return { op, segments, query, literals: segments.filter((s) => s !== null).length }
}

/** The spec operation a logged request exercised, if any: the most literal path, then the most query keys. */
export const match = (templates: ReadonlyArray<Template>, request: Logged): Operation | undefined => {
  const [p, q] = request.url.split("?") as [string, string | undefined]
  const segments = p.split("/").filter((s) => s !== "")
  const params = new URLSearchParams(q ?? "")
  const trusted = request.protocol !== ""
  let best: Template | undefined
  for (const t of templates) {
    if (t.op.method !== request.method || t.segments.length !== segments.length) continue
    if (!t.segments.every((s, i) => s === null || s === segments[i])) continue
    const isPublic = t.query.some(([k]) => k === "public")
    if (isPublic === trusted) continue
    const fits = t.query.every(([k, v]) =>
      k === "public" || (params.has(k) && (v === undefined || params.get(k) === v))
    )
    if (!fits) continue
    if (
      best === undefined || t.literals > best.literals ||
      (t.literals === best.literals && t.query.length > best.query.length)
    ) best = t
  }
  return best?.op
}

/** Why an operation is not exercised here, where it is known. */
const REASONS: ReadonlyArray<readonly [RegExp, string]> = [
  [/^\/1\.0\/cluster/, "needs a cluster (the cluster issue forms one)"],
  [/peers/, "network peers need OVN, which these machines lack (exercised only as LXD refuses them on a bridge)"],
  [/load-balancers/, "network load balancers are not in LXD 5.0.2"],
  [/^\/1\.0\/storage-pools/, "storage is not in the client yet (storage issue)"],
  [/^\/1\.0\/images/, "images are not in the client yet (images issue)"],
  [/\?public/, "an untrusted caller's view; not every one is exercised"]
]

export const reasonFor = (op: Operation): string | undefined => REASONS.find(([re]) => re.test(op.path))?.[1]

export interface Coverage {
  readonly exercised: ReadonlyArray<Operation>
  readonly missing: ReadonlyArray<Operation>
  readonly total: number
}

export const coverage = (spec: ReadonlyArray<Operation>, requests: ReadonlyArray<Logged>): Coverage => {
  const templates = spec.map(compile)
  const hit = new Set<Operation>()
  for (const r of requests) {
    const op = match(templates, r)
    if (op !== undefined) hit.add(op)
  }
  return {
    exercised: spec.filter((op) => hit.has(op)),
    missing: spec.filter((op) => !hit.has(op)),
    total: spec.length
  }
}

/** The figure's line, and the list of what was not exercised (written to `out`). */
export const report = (specFile: string, logs: ReadonlyArray<string>, out: string): string => {
  const spec = readSpec(specFile)
  if (spec === undefined) return `spec coverage: skipped (${specFile} is not on this machine)`
  const result = coverage(spec, logs.flatMap(parseLog))
  fs.mkdirSync(path.dirname(out), { recursive: true })
  fs.writeFileSync(
    out,
    [
      `# LXD 5.0.2 operations not exercised against LXD (${result.missing.length} of ${result.total})`,
      ...result.missing.map((op) => {
        const reason = reasonFor(op)
        return `${op.method} ${op.path}${reason === undefined ? "" : `  -- ${reason}`}`
      })
    ].join("\n") + "\n"
  )
  return `spec coverage: ${result.exercised.length}/${result.total} operations of LXD 5.0.2 exercised against LXD ` +
    `(not exercised: ${path.relative(process.cwd(), out)})`
}

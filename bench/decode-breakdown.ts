/**
 * Where the decode time of benchmark 3 (and of `GET /1.0`'s `ServerInfo`) goes: the shipped schemas against
 * variants with one aspect changed, all decoding the same parsed bodies. The variants are experiments defined
 * here, not library code.
 *
 *   node_modules/.bin/tsx bench/decode-breakdown.ts      (starts a lab, or uses LXD_SOCKET)
 */
import { Instance } from "@effect-lxd/core/Instances"
import { OpenEnum, ServerInfo, Timestamp } from "@effect-lxd/core/LxdSchema"
import { DateTime, Schema } from "effect"
import * as FastDecode from "../packages/core/src/internal/fastDecode.js"
import { fetchRealInstance, synthesizeList } from "./instance.js"
import { isExiting, startLab } from "./lab.js"
import { makeRawClient } from "./raw.js"
import { median } from "./stats.js"

const log = (line: string) => process.stderr.write(`${line}\n`)

// --- fast containers: one guard call instead of a parser per element -------------------------------------

type StringRecord = { readonly [k: string]: string }
const isStringRecord = (u: unknown): u is StringRecord => {
  if (typeof u !== "object" || u === null || Array.isArray(u)) return false
  for (const k in u) if (typeof (u as Record<string, unknown>)[k] !== "string") return false
  return true
}
const isDevices = (u: unknown): u is { readonly [k: string]: StringRecord } => {
  if (typeof u !== "object" || u === null || Array.isArray(u)) return false
  for (const k in u) if (!isStringRecord((u as Record<string, unknown>)[k])) return false
  return true
}
const isStringArray = (u: unknown): u is ReadonlyArray<string> => {
  if (!Array.isArray(u)) return false
  for (let i = 0; i < u.length; i++) if (typeof u[i] !== "string") return false
  return true
}
const FastRecord = Schema.declare(isStringRecord, { identifier: "{ readonly [x: string]: string }" })
const FastDevicesRecord = Schema.declare(isDevices, { identifier: "Devices" })
const FastStrings = Schema.declare(isStringArray, { identifier: "ReadonlyArray<string>" })
const FastStringMap = Schema.optionalWith(FastRecord, { nullable: true, default: () => ({}) })
const FastDevices = Schema.optionalWith(FastDevicesRecord, { nullable: true, default: () => ({}) })
const FastNullableStrings = Schema.optionalWith(FastStrings, { nullable: true, default: () => [] })

const F = Instance.fields

const unknownFields = Object.fromEntries(Object.keys(F).map((k) => [k, Schema.Unknown]))

/** The shipped field schemas, but no property has a default: the struct stays one TypeLiteral (one pass). */
const SinglePass = Schema.Struct({
  name: Schema.String,
  type: Schema.optional(OpenEnum("container", "virtual-machine")),
  architecture: Schema.optional(Schema.String),
  description: Schema.optional(Schema.String),
  status: OpenEnum("Running", "Stopped", "Frozen", "Error", "Starting", "Stopping", "Freezing", "Ready"),
  status_code: Schema.Number,
  created_at: Timestamp,
  last_used_at: Timestamp,
  location: Schema.optional(Schema.String),
  project: Schema.optional(Schema.String),
  ephemeral: Schema.optional(Schema.Boolean),
  stateful: Schema.optional(Schema.Boolean),
  profiles: Schema.optional(Schema.NullOr(Schema.Array(Schema.String))),
  config: Schema.optional(Schema.NullOr(Schema.Record({ key: Schema.String, value: Schema.String }))),
  devices: Schema.optional(
    Schema.NullOr(
      Schema.Record({ key: Schema.String, value: Schema.Record({ key: Schema.String, value: Schema.String }) })
    )
  ),
  expanded_config: Schema.optional(Schema.NullOr(Schema.Record({ key: Schema.String, value: Schema.String }))),
  expanded_devices: Schema.optional(
    Schema.NullOr(
      Schema.Record({ key: Schema.String, value: Schema.Record({ key: Schema.String, value: Schema.String }) })
    )
  )
})

const withFast = {
  ...F,
  config: FastStringMap,
  expanded_config: FastStringMap,
  devices: FastDevices,
  expanded_devices: FastDevices,
  profiles: FastNullableStrings
}

/**
 * Single pass with defaults kept: the wire struct has no defaults (`optional(NullOr(...))`, guards for the
 * string containers), and one transform fills the defaults in. Its type side is a `declare` that accepts what
 * the transform built, so the result is not validated a second time. Same decoded type as `Instance`.
 */
type InstanceType = Schema.Schema.Type<typeof Instance>
const Trusted = Schema.declare((_: unknown): _ is InstanceType => true, { identifier: "Instance" })
const Wire = Schema.Struct({
  ...SinglePass.fields,
  profiles: Schema.optional(Schema.NullOr(FastStrings)),
  config: Schema.optional(Schema.NullOr(FastRecord)),
  devices: Schema.optional(Schema.NullOr(FastDevicesRecord)),
  expanded_config: Schema.optional(Schema.NullOr(FastRecord)),
  expanded_devices: Schema.optional(Schema.NullOr(FastDevicesRecord))
})
const OnePass = Schema.transform(Wire, Trusted, {
  strict: false,
  decode: (x): InstanceType => ({
    ...x,
    type: x.type ?? "container",
    architecture: x.architecture ?? "",
    description: x.description ?? "",
    location: x.location ?? "",
    project: x.project ?? "default",
    ephemeral: x.ephemeral ?? false,
    stateful: x.stateful ?? false,
    profiles: x.profiles ?? [],
    config: x.config ?? {},
    devices: x.devices ?? {},
    expanded_config: x.expanded_config ?? {},
    expanded_devices: x.expanded_devices ?? {}
  }),
  encode: (x) => x
})

/** A hand-written decoder with the same checks, defaults and timestamp conversion: the floor for any schema. */
const handWritten = (u: unknown): unknown => {
  if (!Array.isArray(u)) throw new Error("expected an array")
  const out = new Array<unknown>(u.length)
  const str = (v: unknown, d: string) => (v === undefined ? d : typeof v === "string" ? v : bad())
  const bool = (v: unknown) => (v === undefined ? false : typeof v === "boolean" ? v : bad())
  const bad = (): never => {
    throw new Error("invalid instance")
  }
  const ts = (v: unknown) => (typeof v === "string" ? DateTime.unsafeMake(v) : bad())
  for (let i = 0; i < u.length; i++) {
    const x = u[i] as Record<string, unknown>
    if (typeof x !== "object" || x === null) bad()
    if (typeof x.name !== "string" || typeof x.status !== "string" || typeof x.status_code !== "number") bad()
    const config = x.config ?? {}
    const expanded = x.expanded_config ?? {}
    const devices = x.devices ?? {}
    const expandedDevices = x.expanded_devices ?? {}
    const profiles = x.profiles ?? []
    if (!isStringRecord(config) || !isStringRecord(expanded) || !isDevices(devices) || !isDevices(expandedDevices)) {
      bad()
    }
    if (!isStringArray(profiles)) bad()
    out[i] = {
      name: x.name,
      type: str(x.type, "container"),
      architecture: str(x.architecture, ""),
      description: str(x.description, ""),
      status: x.status,
      status_code: x.status_code,
      created_at: ts(x.created_at),
      last_used_at: ts(x.last_used_at),
      location: str(x.location, ""),
      project: str(x.project, "default"),
      ephemeral: bool(x.ephemeral),
      stateful: bool(x.stateful),
      profiles,
      config,
      devices,
      expanded_config: expanded,
      expanded_devices: expandedDevices
    }
  }
  return out
}

type Decoder = (u: unknown) => unknown
const either = <A, I>(schema: Schema.Schema<A, I, never>): Decoder => {
  const d = Schema.decodeUnknownEither(schema)
  return (u) => {
    const r = d(u)
    if (r._tag === "Left") throw new Error(r.left.message)
    return r.right
  }
}

/** The engine's fast path (what `LxdClient.sync` runs), with or without generated code. */
const fast = <A, I>(schema: Schema.Schema<A, I, never>, codegen = true): Decoder => {
  const d = FastDecode.compile(schema.ast, undefined, { codegen })
  return (u) => {
    const r = d(u)
    if (r === FastDecode.FAIL) throw new Error("the fast path rejected the input")
    return r
  }
}

const instanceVariants: ReadonlyArray<readonly [string, Decoder]> = [
  ["effect-lxd fast path (as LxdClient.sync decodes)", fast(Schema.Array(Instance))],
  ["  the same, interpreted (no new Function)", fast(Schema.Array(Instance), false)],
  ["Instance as shipped, Schema.decodeUnknownEither", either(Schema.Array(Instance))],
  ["  skeleton: every field Schema.Unknown", either(Schema.Array(Schema.Struct(unknownFields)))],
  [
    "  created_at/last_used_at -> Schema.String",
    either(Schema.Array(Schema.Struct({ ...F, created_at: Schema.String, last_used_at: Schema.String })))
  ],
  [
    "  config/expanded_config -> Schema.Unknown",
    either(Schema.Array(Schema.Struct({ ...F, config: Schema.Unknown, expanded_config: Schema.Unknown })))
  ],
  [
    "  devices/expanded_devices -> Schema.Unknown",
    either(Schema.Array(Schema.Struct({ ...F, devices: Schema.Unknown, expanded_devices: Schema.Unknown })))
  ],
  [
    "  status/type -> Schema.String (no OpenEnum union)",
    either(
      Schema.Array(
        Schema.Struct({
          ...F,
          status: Schema.String,
          type: Schema.optionalWith(Schema.String, { default: () => "container" })
        })
      )
    )
  ],
  ["  no defaults anywhere (single pass, same checks)", either(Schema.Array(SinglePass))],
  ["  maps/devices/profiles as declare() guards", either(Schema.Array(Schema.Struct(withFast)))],
  ["  guards + single pass, defaults by one transform", either(Schema.Array(OnePass))],
  [
    "  guards + timestamps as Schema.String",
    either(Schema.Array(Schema.Struct({ ...withFast, created_at: Schema.String, last_used_at: Schema.String })))
  ],
  ["  hand-written decoder (floor)", handWritten]
]

const serverVariants = (): ReadonlyArray<readonly [string, Decoder]> => {
  const S = ServerInfo.fields
  return [
    ["effect-lxd fast path (as LxdClient.sync decodes)", fast(ServerInfo)],
    ["ServerInfo as shipped, Schema.decodeUnknownEither", either(ServerInfo)],
    ["  api_extensions -> declare() guard", either(Schema.Struct({ ...S, api_extensions: FastNullableStrings }))],
    ["  api_extensions -> Schema.Unknown", either(Schema.Struct({ ...S, api_extensions: Schema.Unknown }))],
    ["  environment -> Schema.Unknown", either(Schema.Struct({ ...S, environment: Schema.Unknown }))],
    [
      "  api_extensions + environment -> Schema.Unknown",
      either(Schema.Struct({ ...S, api_extensions: Schema.Unknown, environment: Schema.Unknown }))
    ]
  ]
}

/** Median time per call of each decoder over `rounds` interleaved rounds of `inner` calls. */
const measure = (
  variants: ReadonlyArray<readonly [string, Decoder]>,
  input: unknown,
  rounds: number,
  inner: number
) => {
  for (const [, d] of variants) for (let i = 0; i < inner * 2; i++) d(input)
  const samples = variants.map(() => [] as Array<number>)
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < variants.length; k++) {
      const j = (k + r) % variants.length
      const d = variants[j]![1]
      const t0 = performance.now()
      for (let i = 0; i < inner; i++) d(input)
      samples[j]!.push((performance.now() - t0) / inner)
    }
  }
  return samples.map(median)
}

/** Counts element checks: a struct with one defaulted property validates its other properties twice. */
const passes = () => {
  let checks = 0
  const counted = Schema.String.pipe(Schema.filter(() => (checks++, true)))
  const input = { xs: ["a", "b", "c", "d"] }
  const count = <A, I>(s: Schema.Schema<A, I, never>) => {
    checks = 0
    Schema.decodeUnknownSync(s)(input)
    return checks
  }
  return {
    plain: count(Schema.Struct({ xs: Schema.Array(counted) })),
    defaulted: count(
      Schema.Struct({ xs: Schema.Array(counted), y: Schema.optionalWith(Schema.String, { default: () => "" }) })
    ),
    nested: (() => {
      const inner = Schema.Struct({
        xs: Schema.Array(counted),
        y: Schema.optionalWith(Schema.String, { default: () => "" })
      })
      checks = 0
      Schema.decodeUnknownSync(Schema.Struct({ inner, y: Schema.optionalWith(Schema.String, { default: () => "" }) }))({
        inner: input
      })
      return checks
    })()
  }
}

const main = async () => {
  const lab = await startLab(log)
  const raw = makeRawClient(lab.socket, 1)
  try {
    const server = ((await raw.get("/1.0")) as { metadata: unknown }).metadata
    const text = synthesizeList(await fetchRealInstance(raw, lab, log), 500)
    const list = (JSON.parse(text) as { metadata: unknown }).metadata
    const [parseMs] = measure([["JSON.parse", () => JSON.parse(text)]], null, 30, 3)
    const inst = measure(instanceVariants, list, 30, 3)
    const serverText = JSON.stringify({ type: "sync", metadata: server })
    const [serverParseMs] = measure([["JSON.parse", () => JSON.parse(serverText)]], null, 30, 100)
    const sv = serverVariants()
    const srv = measure(sv, server, 30, 100)
    const p = passes()

    const out: Array<string> = []
    out.push(`decode breakdown, ${new Date().toISOString()}, node ${process.version}`)
    out.push("")
    out.push(`500 instances (${(text.length / 1024).toFixed(0)} KiB): JSON.parse ${parseMs!.toFixed(2)} ms`)
    out.push(`${"variant".padEnd(52)} ${"decode ms".padStart(9)}  ${"us/inst".padStart(7)}  (parse+decode)/parse`)
    instanceVariants.forEach(([name], i) => {
      out.push(
        `${name.padEnd(52)} ${inst[i]!.toFixed(2).padStart(9)}  ${(inst[i]! * 2).toFixed(1).padStart(7)}  ${
          ((parseMs! + inst[i]!) / parseMs!).toFixed(2)
        }x`
      )
    })
    out.push("")
    out.push(
      `GET /1.0 metadata (${(serverText.length / 1024).toFixed(1)} KiB): JSON.parse ${
        (serverParseMs! * 1000).toFixed(1)
      } us`
    )
    sv.forEach(([name], i) => out.push(`${name.padEnd(52)} ${(srv[i]! * 1000).toFixed(1).padStart(7)} us`))
    out.push("")
    out.push(
      `validation passes over a 4-element string array: plain struct ${p.plain} checks, ` +
        `struct with one defaulted property ${p.defaulted}, nested in another defaulted struct ${p.nested}`
    )
    process.stdout.write(`${out.join("\n")}\n`)
  } finally {
    raw.close()
    await lab.stop()
  }
}

main().catch((e: unknown) => {
  if (isExiting()) return // torn down by a signal: the daemon is gone, failures are expected
  process.stderr.write(`decode-breakdown failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
  process.exitCode = 1
})

/**
 * The events' hand-checked fast path (`decodeKnownFast`) against the schemas it stands in front of: for the
 * frames LXD 5.0.2 sent (the bench fixture) it decides alone, and on arbitrary and hostile frames (every field
 * replaced, removed or added, `__proto__` keys, other types) it either gives exactly what the schema gives (same
 * value, same classes, same key order) or steps aside; it never accepts what the schema refuses.
 */
import { describe, expect, it } from "@effect/vitest"
import { Either, FastCheck as fc, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as E from "../src/internal/events.js"

const fixture = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  "../../../bench/fixtures/lxd-5.0.2-events.jsonl"
)
const texts = fs.readFileSync(fixture, "utf8").split("\n").filter((l) => l.trim() !== "")

const schemas: Record<string, Schema.Schema<unknown, unknown, never>> = {
  logging: E.LoggingEvent as never,
  operation: E.OperationEvent as never,
  lifecycle: E.LifecycleEvent as never
}

/**
 * Same value, same classes, same own keys in the same order, all the way down. (`toStrictEqual` compares the
 * `constructor` property by identity, so two equal records with an own `constructor: []` key would differ.)
 */
const same = (a: unknown, b: unknown): boolean => {
  if (typeof a !== "object" || a === null || typeof b !== "object" || b === null) return Object.is(a, b)
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false
  if (a instanceof Date) return Object.is(a.getTime(), (b as Date).getTime())
  const ka = Reflect.ownKeys(a)
  const kb = Reflect.ownKeys(b)
  return ka.length === kb.length &&
    ka.every((k, i) =>
      k === kb[i] && same((a as Record<PropertyKey, unknown>)[k], (b as Record<PropertyKey, unknown>)[k])
    )
}

/** The fast path and the schema of the frame's type agree; returns whether the fast path decided. */
const agree = (json: unknown): boolean => {
  if (typeof json !== "object" || json === null || Array.isArray(json)) return false
  const fast = E.decodeKnownFast(json as Record<string, unknown>)
  const type = (json as { type?: unknown }).type
  const schema = typeof type === "string" && Object.hasOwn(schemas, type) ? schemas[type] : undefined
  if (schema === undefined) {
    expect(fast, `not a known type: ${JSON.stringify(json)}`).toBeUndefined()
    return false
  }
  const slow = Schema.decodeUnknownEither(schema)(json)
  if (Either.isLeft(slow)) {
    expect(fast, `the schema refuses ${JSON.stringify(json)}`).toBeUndefined()
    return false
  }
  if (fast === undefined) return false
  expect(same(fast, slow.right), `fast ${JSON.stringify(fast)} vs schema ${JSON.stringify(slow.right)}`).toBe(true)
  // what decodeOrInvalid gives for the text is the fast path's value
  expect(same(E.decodeOrInvalid(JSON.stringify(json)), slow.right)).toBe(true)
  return true
}

const KEYS = [
  "type",
  "timestamp",
  "location",
  "project",
  "metadata",
  "message",
  "level",
  "context",
  "action",
  "source",
  "requestor",
  "username",
  "protocol",
  "address",
  "id",
  "class",
  "created_at",
  "updated_at",
  "status",
  "status_code",
  "resources",
  "may_cancel",
  "err",
  "description",
  "__proto__",
  "constructor",
  "toString"
]

/** Arbitrary JSON, and values picked to hit each check (fresh copies: the changes below mutate them). */
const hostile = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(
    "null",
    "\"\"",
    "\"2026-12-01T22:35:19Z\"",
    "\"2026-02-30T00:00:00Z\"",
    "\"0001-01-01T00:00:00Z\"",
    "\"yesterday\"",
    "0",
    "-1",
    "1e308",
    "true",
    "[]",
    "[\"a\"]",
    "{}",
    "{\"a\":1}",
    "{\"a\":\"b\"}",
    "{\"__proto__\":\"x\"}",
    "{\"__proto__\":{\"a\":\"b\"}}",
    "\"logging\"",
    "\"operation\"",
    "\"lifecycle\""
  ).map((text): unknown => JSON.parse(text))
)

/** Where a change lands: the envelope, its metadata, or an object inside the metadata. */
const mutation = fc.record({
  where: fc.constantFrom("envelope", "metadata", "inner"),
  key: fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 4 })),
  value: fc.option(hostile, { nil: undefined })
})

const isObject = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/** A frame with the changes applied, as text (so `JSON.parse` makes it, `__proto__` keys as own properties). */
const mutated = (text: string, changes: ReadonlyArray<typeof mutation extends fc.Arbitrary<infer A> ? A : never>) => {
  const frame = JSON.parse(text) as Record<string, unknown>
  for (const { key, value, where } of changes) {
    const m = frame.metadata
    const inner = isObject(m) ? [m.context, m.requestor, m.resources].find(isObject) : undefined
    const target = where === "envelope" ? frame : where === "metadata" ? m : inner
    if (!isObject(target)) continue
    if (value === undefined) delete target[key]
    else Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
  }
  return JSON.stringify(frame)
}

describe("events fast path", () => {
  it("decides every frame LXD 5.0.2 sent (203 logging, 55 operation, 12 lifecycle) as the schemas do", () => {
    expect(texts.length).toBe(270)
    for (const text of texts) expect(agree(JSON.parse(text)), text).toBe(true)
  })

  it("frames with fields replaced, removed or added: the schema's value, or it steps aside", () => {
    let decided = 0
    fc.assert(
      fc.property(fc.constantFrom(...texts), fc.array(mutation, { minLength: 1, maxLength: 3 }), (text, changes) => {
        if (agree(JSON.parse(mutated(text, changes)))) decided++
      }),
      { numRuns: 1500 }
    )
    // most changes leave a frame the fast path still decides (an unknown key, a changed string)
    expect(decided).toBeGreaterThan(150)
  }, 30_000)

  it("arbitrary JSON, and envelopes of a known type around arbitrary fields", () => {
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 4 }), (json) => void agree(json)), { numRuns: 500 })
    const envelope = fc.record({
      type: fc.constantFrom("logging", "operation", "lifecycle"),
      timestamp: hostile,
      location: hostile,
      project: hostile,
      metadata: hostile
    }, { requiredKeys: ["type"] })
    fc.assert(fc.property(envelope, (json) => void agree(JSON.parse(JSON.stringify(json)))), { numRuns: 1000 })
  }, 30_000)

  it("a __proto__ key in a record goes to the schemas (whose copy would drop it); in the envelope it is ignored", () => {
    const logging = texts.find((t) => t.includes("\"logging\""))!
    const lifecycle = texts.find((t) => t.includes("\"lifecycle\""))!
    for (
      const text of [
        logging.replace("\"context\":{", "\"context\":{\"__proto__\":\"x\","),
        lifecycle.replace("\"requestor\":{", "\"requestor\":{\"__proto__\":\"x\",")
      ]
    ) {
      const json = JSON.parse(text) as Record<string, unknown>
      expect(E.decodeKnownFast(json), text).toBeUndefined()
      expect(agree(json)).toBe(false)
    }
    // the envelope's own keys are read one by one and the output is built anew: an excess key changes nothing
    expect(agree(JSON.parse(logging.replace("{\"location\"", "{\"__proto__\":{\"x\":1},\"location\"")))).toBe(true)
  })
})

/**
 * Property tests (issue 13): for every public call that decodes an answer, arbitrary answers (bodies, statuses,
 * headers, URLs: truncated, wrong-typed, deeply nested, huge, random bytes, or shaped by the call's own schemas)
 * through the scripted mock give a success or a typed `LxdError` — never a defect, never a hang — and whatever
 * error comes renders in bounded space.
 *
 * Every collection in `support/collections.ts` is driven generically from its spec, so a collection added there
 * is covered too. The seed is fixed (`PROPERTY_SEED` overrides it) and printed on failure; `PROPERTY_RUNS` sets
 * the cases per call.
 */
import {
  Certificates,
  Exec,
  Files,
  Instances,
  LxdClient,
  LxdError,
  Metrics,
  Operations,
  Server
} from "@effect-lxd/core"
import { LxdMockTransport } from "@effect-lxd/testing"
import { describe, expect, it } from "@effect/vitest"
import { Arbitrary, Cause, Effect, Exit, FastCheck as fc, type Layer, ManagedRuntime, Schema } from "effect"
import * as Collection from "../src/internal/collection.js"
import { mockLayer, serverInfo } from "./helpers.js"
import { collections } from "./support/collections.js"
import { type AnyCall, everyExtension } from "./support/hostile.js"

const SEED = Number(process.env["PROPERTY_SEED"] ?? 20261201)
const RUNS = Number(process.env["PROPERTY_RUNS"] ?? 25)
/** A case that takes longer than this hangs (the mock answers at once; it is unreachable after its script). */
const BOUND_MS = 3_000

// --- answers ---------------------------------------------------------------------------------------------

const nest = (depth: number, leaf: unknown = []): unknown => {
  let v: unknown = leaf
  for (let i = 0; i < depth; i++) v = [v]
  return v
}

/** JSON.stringify that survives what it cannot render (too deep): the text is then built by hand. */
const stringify = (u: unknown): string => {
  try {
    return JSON.stringify(u) ?? "null"
  } catch {
    return "[".repeat(10_000) + "]".repeat(10_000)
  }
}

const url = fc.oneof(
  fc.constantFrom(
    "/1.0/operations/op1",
    "/1.0/operations/op1?project=p",
    "/1.0/instances/c1",
    "/1.0/operations/%zz",
    "/1.0/instances/%",
    "/1.0/certificates/%E0%A4%A",
    "/1.0/operations/op1?project=%zz",
    "",
    "/",
    "//",
    "?",
    "/1.0",
    "http://elsewhere/1.0/operations/op1",
    "/1.0/operations/op1/../../x"
  ),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.integer({ min: 1_000, max: 100_000 }).map((n) => "/1.0/operations/" + "a".repeat(n))
)

const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { depthSize: "small" },
  fc.jsonValue({ maxDepth: 3 }),
  fc.integer({ min: 1, max: 6_000 }).map((n) => nest(n)),
  fc.integer({ min: 1, max: 3_000 }).map((n) => nest(n, { name: 1 })),
  fc.integer({ min: 10_000, max: 300_000 }).map((n) => "x".repeat(n)),
  fc.array(url, { maxLength: 5 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.array(url, { maxLength: 3 }), fc.jsonValue({ maxDepth: 2 })), {
    maxKeys: 4
  }),
  fc.constantFrom(null, true, 0, -1, "", [], {}, [null], { metadata: null })
)

/** A schema's encoded side as an arbitrary (what a server that mostly follows the spec would send). */
const encodedOf = (schema: Schema.Schema.AnyNoContext): fc.Arbitrary<unknown> =>
  Arbitrary.make(Schema.encodedSchema(schema as Schema.Schema<unknown, unknown>)) as fc.Arbitrary<unknown>

const operationLike = (metadata: fc.Arbitrary<unknown>) =>
  fc.record({
    id: fc.oneof(fc.constant("op1"), fc.string({ maxLength: 10 })),
    class: fc.constantFrom("task", "websocket", "token", "?"),
    description: fc.string({ maxLength: 10 }),
    created_at: fc.constantFrom("2026-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "yesterday"),
    updated_at: fc.constant("2026-01-01T00:00:00.123456789Z"),
    status: fc.constantFrom("Running", "Success", "Failure", "Cancelled"),
    status_code: fc.constantFrom(103, 200, 400, 401, 100, 0, -5),
    resources: fc.oneof(
      fc.constant(null),
      fc.dictionary(fc.constantFrom("instances", "x"), fc.array(url, { maxLength: 2 }))
    ),
    metadata: fc.oneof(
      metadata,
      fc.record({ fds: fc.dictionary(fc.string(), fc.string()) }),
      fc.record({ return: fc.integer() })
    ),
    may_cancel: fc.boolean(),
    err: fc.oneof(fc.string({ maxLength: 10 }), fc.integer({ min: 10_000, max: 200_000 }).map((n) => "e".repeat(n))),
    location: fc.constant("none")
  }, { requiredKeys: [] })

/** An envelope (or something that is not one) around `metadata`. */
const envelope = (metadata: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> =>
  fc.oneof(
    fc.record({ type: fc.constant("sync"), status_code: fc.constantFrom(200, 201, 0), metadata }, {
      requiredKeys: ["type"]
    }),
    fc.record({
      type: fc.constant("async"),
      status_code: fc.constantFrom(100, 200),
      operation: url,
      metadata: fc.oneof(operationLike(metadata), metadata)
    }, { requiredKeys: ["type"] }),
    fc.record({
      type: fc.constant("error"),
      error: fc.oneof(
        fc.string({ maxLength: 20 }),
        fc.integer({ min: 10_000, max: 200_000 }).map((n) => "z".repeat(n))
      ),
      error_code: fc.constantFrom(0, 400, 403, 404, 409, 412, 500, 100, -1),
      metadata
    }, { requiredKeys: ["type"] }),
    hostileValue
  )

/** A header value as HTTP carries one: bytes (latin1), no CR, LF or NUL. */
const headerValue = (s: string) => s.replace(/[^\x20-\x7e\x80-\xff\t]/g, "?")

const headers = fc.record({
  location: url.map(headerValue),
  etag: fc.string({ maxLength: 10 }).map(headerValue),
  "x-lxd-type": fc.constantFrom("file", "directory", "symlink", "fifo", ""),
  "x-lxd-uid": fc.constantFrom("0", "-1", "x"),
  "x-lxd-gid": fc.constantFrom("0", "99999999999999999999"),
  "x-lxd-mode": fc.constantFrom("0644", "0777", "zz"),
  "x-lxd-modified": fc.constantFrom("2026-11-23 21:01:23 +0000 UTC", "never"),
  "content-length": fc.constantFrom("0", "5", "-1", "abc", "99999999999")
}, { requiredKeys: [] })

/** One answer: an envelope as JSON (maybe cut short), random bytes, or no answer at all. */
const answer = (metadata: fc.Arbitrary<unknown>): fc.Arbitrary<LxdMockTransport.MockResponse> =>
  fc.oneof(
    {
      weight: 6,
      arbitrary: fc.tuple(envelope(metadata), fc.integer({ min: 200, max: 599 }), headers).map(
        ([body, status, h]) => ({
          status,
          headers: { "content-type": "application/json", ...h },
          body: stringify(body)
        })
      )
    },
    {
      weight: 1,
      arbitrary: fc.tuple(envelope(metadata), fc.nat(), headers).map(([body, cut, h]) => {
        const text = stringify(body)
        return { status: 200, headers: h, body: text.slice(0, cut % (text.length + 1)) }
      })
    },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 200, max: 599 }), headers).map(
        ([body, status, h]) => ({ status, headers: h, body })
      )
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom("ECONNREFUSED", "ECONNRESET", "ENOENT").map((code) =>
        LxdMockTransport.unreachable(code)
      )
    }
  )

// --- the calls -------------------------------------------------------------------------------------------

interface Case {
  readonly name: string
  readonly call: AnyCall
  /** Schemas of the answers it reads, for answers shaped like them. */
  readonly schemas: ReadonlyArray<Schema.Schema.AnyNoContext>
  /** `GET /1.0` is scripted too (the call reads the server itself). */
  readonly hostileServer?: boolean
}

const PEM = "-----BEGIN CERTIFICATE-----\nQUJD\nREVG\n-----END CERTIFICATE-----\n"
const I = Instances.Instances

const calls: ReadonlyArray<Case> = [
  { name: "Server.info", call: Effect.flatMap(Server.Server, (s) => s.info), schemas: [], hostileServer: true },
  { name: "Server.resources", call: Effect.flatMap(Server.Server, (s) => s.resources), schemas: [Server.Resources] },
  { name: "Metrics.get", call: Effect.flatMap(Metrics.Metrics, (m) => m.get), schemas: [] },
  { name: "Instances.listNames", call: Effect.flatMap(I, (i) => i.listNames()), schemas: [] },
  { name: "Instances.listNamesAllProjects", call: Effect.flatMap(I, (i) => i.listNamesAllProjects()), schemas: [] },
  { name: "Instances.list", call: Effect.flatMap(I, (i) => i.list()), schemas: [Instances.Instance] },
  { name: "Instances.listFull", call: Effect.flatMap(I, (i) => i.listFull()), schemas: [] },
  { name: "Instances.get", call: Effect.flatMap(I, (i) => i.get("c1")), schemas: [Instances.Instance] },
  { name: "Instances.getFull", call: Effect.flatMap(I, (i) => i.getFull("c1")), schemas: [] },
  { name: "Instances.state", call: Effect.flatMap(I, (i) => i.state("c1")), schemas: [Instances.InstanceState] },
  {
    name: "Instances.modify",
    call: Effect.flatMap(I, (i) => i.modify("c1", (p) => p)),
    schemas: [Instances.InstancePut]
  },
  { name: "Instances.create", call: Effect.flatMap(I, (i) => i.create({ source: { type: "none" } })), schemas: [] },
  { name: "Instances.start", call: Effect.flatMap(I, (i) => i.start("c1")), schemas: [] },
  { name: "Instances.delete", call: Effect.flatMap(I, (i) => i.delete("c1")), schemas: [] },
  { name: "Instances.consoleLog", call: Effect.flatMap(I, (i) => i.consoleLog("c1")), schemas: [] },
  {
    name: "Instances.console",
    call: Effect.scoped(Effect.flatMap(I, (i) => Effect.asVoid(i.console("c1")))),
    schemas: []
  },
  { name: "Instances.snapshots.create", call: Effect.flatMap(I, (i) => i.snapshots.create("c1")), schemas: [] },
  { name: "Instances.snapshots.list", call: Effect.flatMap(I, (i) => i.snapshots.list("c1")), schemas: [] },
  { name: "Instances.backups.list", call: Effect.flatMap(I, (i) => i.backups.list("c1")), schemas: [] },
  { name: "Instances.logs.list", call: Effect.flatMap(I, (i) => i.logs.list("c1")), schemas: [] },
  {
    name: "Instances.metadata.get",
    call: Effect.flatMap(I, (i) => i.metadata.get("c1")),
    schemas: [Instances.ImageMetadata]
  },
  { name: "Instances.templates.list", call: Effect.flatMap(I, (i) => i.templates.list("c1")), schemas: [] },
  { name: "Operations.list", call: Effect.flatMap(Operations.Operations, (o) => o.list()), schemas: [] },
  { name: "Operations.listIds", call: Effect.flatMap(Operations.Operations, (o) => o.listIds()), schemas: [] },
  { name: "Operations.get", call: Effect.flatMap(Operations.Operations, (o) => o.get("op1")), schemas: [] },
  { name: "Operations.wait", call: Effect.flatMap(Operations.Operations, (o) => o.wait("op1")), schemas: [] },
  {
    name: "Certificates.create",
    call: Effect.flatMap(Certificates.Certificates, (c) => c.create({ certificate: PEM, name: "ci" })),
    schemas: []
  },
  {
    name: "Certificates.createToken",
    call: Effect.flatMap(Certificates.Certificates, (c) => c.createToken({ name: "x" })),
    schemas: []
  },
  { name: "Exec.run", call: Effect.flatMap(Exec.Exec, (e) => e.run("c1", ["ls"])), schemas: [] },
  {
    name: "Files.get",
    call: Effect.flatMap(Files.Files, (f) => Effect.flatMap(f.get("c1", "/a"), (c) => c.discard)),
    schemas: []
  },
  { name: "Files.readText", call: Effect.flatMap(Files.Files, (f) => f.readText("c1", "/a")), schemas: [] },
  { name: "Files.readlink", call: Effect.flatMap(Files.Files, (f) => f.readlink("c1", "/a")), schemas: [] },
  { name: "Files.list", call: Effect.flatMap(Files.Files, (f) => f.list("c1", "/")), schemas: [] },
  { name: "Files.stat", call: Effect.flatMap(Files.Files, (f) => f.stat("c1", "/a")), schemas: [] },
  {
    name: "LxdClient.run",
    call: Effect.flatMap(LxdClient.LxdClient, (c) => c.run({ method: "POST", path: "/x" })),
    schemas: []
  },
  // every collection, every verb it has, from its spec
  ...collections.flatMap((entry): ReadonlyArray<Case> => {
    const spec = entry.spec
    const parents = spec.parents.map(() => "p1")
    const name = typeof entry.item[spec.nameField] === "string" ? entry.item[spec.nameField] as string : "n1"
    const args: Record<string, ReadonlyArray<unknown>> = {
      listNames: [],
      list: [],
      get: [name],
      getWithEtag: [name],
      exists: [name],
      create: [entry.post],
      replace: [name, entry.post],
      update: [name, {}],
      modify: [name, (p: unknown) => p],
      rename: [name, "renamed"],
      delete: [name]
    }
    return spec.verbs.filter((verb) => args[verb] !== undefined).map((verb) => ({
      name: `${spec.name}.${verb}`,
      call: Effect.flatMap(LxdClient.LxdClient, (client) => {
        const service = Collection.make(client, spec) as unknown as Record<
          string,
          (...a: ReadonlyArray<unknown>) => AnyCall
        >
        return service[verb]!(...parents, ...args[verb]!)
      }),
      schemas: [spec.item, spec.put]
    }))
  })
]

// --- the property ----------------------------------------------------------------------------------------

type Outcome = { readonly ok: true } | { readonly ok: false; readonly why: string }

const judge = (exit: Exit.Exit<unknown, unknown> | undefined): Outcome => {
  if (exit === undefined) return { ok: false, why: `no outcome within ${BOUND_MS} ms (a hang)` }
  if (Exit.isSuccess(exit)) return { ok: true }
  let rendered: string
  try {
    rendered = Cause.pretty(exit.cause)
  } catch (e) {
    return { ok: false, why: `rendering the failure threw ${String(e).slice(0, 200)}` }
  }
  if (!Cause.isFailType(exit.cause) && Cause.failures(exit.cause).length === 0) {
    return { ok: false, why: `not a typed failure: ${rendered.slice(0, 600)}` }
  }
  if (Cause.isDie(exit.cause) || Cause.isInterrupted(exit.cause)) {
    return { ok: false, why: `a defect or an interruption: ${rendered.slice(0, 600)}` }
  }
  for (const error of Cause.failures(exit.cause)) {
    if (!LxdError.isLxdError(error)) return { ok: false, why: `not an LxdError: ${rendered.slice(0, 600)}` }
  }
  if (rendered.length > 20_000) return { ok: false, why: `the failure renders in ${rendered.length} characters` }
  return { ok: true }
}

/** The script the mock plays for the current case (then it is unreachable). */
const current = { script: [] as ReadonlyArray<LxdMockTransport.MockResponse>, next: 0 }

const layerFor = (c: Case) =>
  mockLayer({
    handle: (r) =>
      Effect.sync(() => {
        if (r.path === "" && r.method === "GET" && c.hostileServer !== true) {
          return LxdMockTransport.sync(serverInfo(everyExtension))
        }
        return current.next < current.script.length ? current.script[current.next++]! : LxdMockTransport.unreachable()
      })
  })

/**
 * Runs `call` against the mock playing `script`, bounded in real time. The services are built once per call
 * (a `ManagedRuntime`), except for a call that reads `GET /1.0` itself (the client caches a good answer).
 */
const runCase = (
  c: Case,
  runtime: ManagedRuntime.ManagedRuntime<Layer.Layer.Success<ReturnType<typeof layerFor>>, never>,
  script: ReadonlyArray<LxdMockTransport.MockResponse>
): Promise<Outcome> => {
  current.script = script
  current.next = 0
  const call = c.hostileServer === true ? Effect.provide(c.call, layerFor(c)) : c.call
  return runtime.runPromise(
    (call as Effect.Effect<unknown, unknown, Layer.Layer.Success<ReturnType<typeof layerFor>>>).pipe(
      Effect.exit,
      Effect.timeout(BOUND_MS),
      Effect.map((exit) => judge(exit as Exit.Exit<unknown, unknown>)),
      Effect.catchAllCause((cause) =>
        Effect.succeed<Outcome>(
          Cause.isTimeoutException(Cause.squash(cause))
            ? judge(undefined)
            : { ok: false, why: `outside the call: ${Cause.pretty(cause).slice(0, 400)}` }
        )
      )
    )
  )
}

const cases = { total: 0 }

describe(`hostile answers (seed ${SEED}, ${RUNS} cases per call; PROPERTY_SEED / PROPERTY_RUNS override)`, () => {
  for (const c of calls) {
    it(c.name, async () => {
      const metadata = fc.oneof(hostileValue, ...c.schemas.map(encodedOf))
      const runtime = ManagedRuntime.make(layerFor(c))
      await fc.assert(
        fc.asyncProperty(fc.array(answer(metadata), { minLength: 1, maxLength: 6 }), async (script) => {
          cases.total++
          const outcome = await runCase(c, runtime, script)
          if (!outcome.ok) throw new Error(`${c.name}: ${outcome.why}`)
        }),
        {
          seed: SEED,
          numRuns: RUNS,
          endOnFailure: true,
          reporter: (details) => {
            if (details.failed) {
              throw new Error(
                `${c.name} failed (seed ${details.seed}, path ${details.counterexamplePath}; rerun with ` +
                  `PROPERTY_SEED=${details.seed}): ${String(details.errorInstance).slice(0, 1_000)}`
              )
            }
          }
        }
      ).finally(() => runtime.dispose())
    }, 60_000)
  }

  it("ran thousands of cases in all", () => {
    // printed for the CI log (and the note): cases run here and the calls they covered
    console.log(`property suite: ${cases.total} cases over ${calls.length} calls, seed ${SEED}`)
    expect(cases.total).toBe(calls.length * RUNS)
  })
})

import { Events, Instances, LxdSchema, Server } from "@effect-lxd/core"
import { describe, expect, it } from "@effect/vitest"
import { Arbitrary, DateTime, Either, FastCheck, Schema } from "effect"
import type { ParseOptions } from "effect/SchemaAST"
import * as FD from "../src/internal/fastDecode.js"
import { collections } from "./support/collections.js"
import { goNulls, withUnknown } from "./support/collectionSuite.js"

/** A container as LXD 5.0.2 answers `GET /1.0/instances/b1` (captured from the lab). */
const instance = {
  architecture: "x86_64",
  config: {
    "image.architecture": "x86_64",
    "image.description": "busybox lab image",
    "image.os": "busybox",
    "image.release": "1.35.0",
    "volatile.apply_template": "create",
    "volatile.base_image": "934639b0a1f0bc2a9024bbf8a51df3d6a8420e99cf680c7c9d85b8f61291d9e8",
    "volatile.idmap.base": "0",
    "volatile.idmap.next": "[{\"Isuid\":true,\"Isgid\":false,\"Hostid\":100000,\"Nsid\":0,\"Maprange\":10000001}]",
    "volatile.last_state.idmap": "[]",
    "volatile.uuid": "fc9624ce-9776-4044-8343-47b2ac6a734c"
  },
  devices: {},
  ephemeral: false,
  profiles: ["default"],
  stateful: false,
  description: "",
  created_at: "2026-11-23T21:11:19.836774114Z",
  expanded_config: { "image.os": "busybox", "volatile.uuid": "fc9624ce-9776-4044-8343-47b2ac6a734c" },
  expanded_devices: { root: { path: "/", pool: "default", type: "disk" } },
  name: "b1",
  status: "Stopped",
  status_code: 102,
  last_used_at: "1970-01-01T00:00:00Z",
  location: "none",
  type: "container",
  project: "default"
}

const network = {
  addresses: [
    { family: "inet", address: "10.0.0.5", netmask: "24", scope: "global" },
    { family: "inet6", address: "fe80::1", netmask: "64", scope: "link" }
  ],
  counters: {
    bytes_received: 1024,
    bytes_sent: 2048,
    packets_received: 10,
    packets_sent: 20,
    errors_received: 0,
    errors_sent: 0,
    packets_dropped_outbound: 0,
    packets_dropped_inbound: 0
  },
  hwaddr: "00:16:3e:00:00:01",
  host_name: "veth1234",
  mtu: 1500,
  state: "up",
  type: "broadcast"
}

const full = {
  ...instance,
  status: "Running",
  status_code: 103,
  state: {
    status: "Running",
    status_code: 103,
    disk: { root: { usage: 4096 } },
    memory: { usage: 1000, usage_peak: 2000, swap_usage: 0, swap_usage_peak: 0 },
    network: { eth0: network, lo: { ...network, addresses: null, counters: null, type: "loopback" } },
    pid: 1234,
    processes: 3,
    cpu: { usage: 123456 }
  },
  snapshots: [{
    name: "snap0",
    created_at: "2026-11-23T21:12:00.5Z",
    last_used_at: "0001-01-01T00:00:00Z",
    expires_at: "0001-01-01T00:00:00Z",
    ephemeral: false,
    stateful: false,
    profiles: ["default"],
    config: { "volatile.uuid": "x" },
    devices: null,
    expanded_config: null,
    expanded_devices: { root: { path: "/", pool: "default", type: "disk" } },
    size: -1
  }],
  backups: null
}

const serverInfo = {
  config: { "core.https_address": "127.0.0.1:8443", "core.trust_password": true },
  api_extensions: ["storage_zfs_remove_snapshots", "etag", "patch"],
  api_status: "stable",
  api_version: "1.0",
  auth: "trusted",
  public: false,
  auth_methods: ["tls"],
  environment: {
    addresses: ["127.0.0.1:8443"],
    architectures: ["x86_64", "i686"],
    certificate: "-----BEGIN CERTIFICATE-----\n...",
    certificate_fingerprint: "abc",
    driver: "lxc",
    driver_version: "5.0.2",
    firewall: "nftables",
    kernel: "Linux",
    kernel_architecture: "x86_64",
    kernel_features: { netnsid_getifaddrs: "true" },
    kernel_version: "6.1.0",
    lxc_features: null,
    os_name: "Debian GNU/Linux",
    os_version: "12",
    project: "default",
    server: "lxd",
    server_clustered: false,
    server_event_mode: "full-mesh",
    server_name: "lab",
    server_pid: 42,
    server_version: "5.0.2",
    storage: "dir",
    storage_version: "1",
    storage_supported_drivers: [{ Name: "dir", Version: "1", Remote: false }, { Name: "ceph" }],
    a_field_from_the_future: { x: 1 }
  },
  another_field_from_the_future: [1, 2]
}

const operation = {
  id: "0f8b2f3e-1a2b-4c5d-8e9f-001122334455",
  class: "task",
  description: "Creating instance",
  created_at: "2026-11-23T21:11:19.836774114Z",
  updated_at: "2026-11-23T21:11:19.9Z",
  status: "Running",
  status_code: 103,
  resources: { instances: ["/1.0/instances/b1"] },
  metadata: { progress: { percent: "40" } },
  may_cancel: true,
  err: "",
  location: "none"
}

const modes: ReadonlyArray<boolean> = [true, false]

type AnySchema = Schema.Schema<unknown, unknown, never>

/**
 * The fast path agrees with Schema: when Schema succeeds, the fast decoder gives an equal value (same keys in the
 * same order, same classes) or steps aside; when Schema fails, the fast decoder fails too. Checked with and
 * without generated code. Returns whether the fast path decided on its own (for both modes).
 */
const agree = <A, I>(schema: Schema.Schema<A, I, never>, input: unknown, options?: ParseOptions): boolean => {
  const slow = Schema.decodeUnknownEither(schema, options)(input)
  let decided = true
  for (const codegen of modes) {
    const fast = FD.compile(schema.ast, options, { codegen })(input)
    if (Either.isLeft(slow)) {
      expect(fast, `codegen ${codegen}: Schema rejects ${JSON.stringify(input)}`).toBe(FD.FAIL)
      continue
    }
    if (fast === FD.FAIL) {
      decided = false
      continue
    }
    expect(fast, `codegen ${codegen}`).toStrictEqual(slow.right)
    expect(JSON.stringify(fast), `codegen ${codegen}: key order`).toBe(JSON.stringify(slow.right))
  }
  // the wrapper: the same Either, errors included
  const wrapped = FD.decodeUnknownEither(schema, options)(input)
  if (Either.isLeft(slow)) {
    expect(Either.isLeft(wrapped)).toBe(true)
    if (Either.isLeft(wrapped)) expect(wrapped.left.message).toBe(slow.left.message)
  } else {
    expect(wrapped).toStrictEqual(Either.right(slow.right))
  }
  return decided
}

/** Agreement, and the fast path must have handled it alone. */
const fast = <A, I>(schema: Schema.Schema<A, I, never>, input: unknown, options?: ParseOptions) => {
  expect(Either.isRight(Schema.decodeUnknownEither(schema, options)(input)), "Schema accepts the input").toBe(true)
  expect(agree(schema, input, options), "decided by the fast path").toBe(true)
}

/** Agreement, and Schema (so the fast path too) must reject it. */
const rejected = <A, I>(schema: Schema.Schema<A, I, never>, input: unknown, options?: ParseOptions) => {
  expect(Either.isLeft(Schema.decodeUnknownEither(schema, options)(input)), "Schema rejects the input").toBe(true)
  agree(schema, input, options)
}

const without = (o: Record<string, unknown>, ...keys: ReadonlyArray<string>) =>
  Object.fromEntries(Object.entries(o).filter(([k]) => !keys.includes(k)))

/** Agreement on generated inputs: any encoded-side value, and valid values encoded (timestamps that parse). */
const agreesOnGenerated = (schema: AnySchema) => {
  for (const input of FastCheck.sample(Arbitrary.make(Schema.encodedSchema(schema)), 40)) agree(schema, input)
  for (const value of FastCheck.sample(Arbitrary.make(schema), 40)) agree(schema, Schema.encodeSync(schema)(value))
}

describe("fast decoder: every collection's spec", () => {
  for (const { item, spec } of collections) {
    it(`${spec.name}: item, post and put agree with Schema on generated inputs`, () => {
      for (const schema of [spec.item, spec.post, spec.put]) agreesOnGenerated(schema as unknown as AnySchema)
    })
    it(`${spec.name}: its sample as LXD sends it, with Go nulls and fields from newer servers`, () => {
      const nulled = goNulls(spec.item, item).value
      for (const input of [item, nulled, withUnknown(item), withUnknown(nulled)]) {
        fast(spec.item, input)
        fast(Schema.Array(spec.item), [input, input])
        // what modify and a merging update decode: the writable part, unknown fields kept
        const writable = Object.fromEntries(Object.entries(input).filter(([k]) => !spec.readOnly.includes(k)))
        fast(spec.put, writable, { onExcessProperty: "preserve" })
      }
    })
  }
})

describe("fast decoder: LXD resources", () => {
  it("an instance as LXD answers it, and lists of them", () => {
    fast(Instances.Instance, instance)
    fast(Schema.Array(Instances.Instance), [instance, { ...instance, name: "b2" }])
    fast(Schema.Array(Instances.Instance), [])
  })

  it("Go nil slices and maps (null) decode to [] and {}", () => {
    fast(Instances.Instance, {
      ...instance,
      profiles: null,
      config: null,
      devices: null,
      expanded_config: null,
      expanded_devices: null
    })
    fast(Instances.InstanceFull, { ...full, snapshots: null, backups: null, state: null })
    fast(LxdSchema.Operation, { ...operation, resources: null, metadata: null })
  })

  it("missing optional fields take their defaults; fields from newer servers are dropped", () => {
    fast(Instances.Instance, without(instance, "type", "architecture", "description", "location", "project"))
    fast(Instances.Instance, without(instance, "ephemeral", "stateful", "profiles", "config", "devices"))
    fast(Instances.Instance, { ...instance, a_field_from_the_future: { x: [1] }, "z.y": null })
    fast(LxdSchema.ServerInfo, serverInfo)
    fast(LxdSchema.ServerInfo, { api_extensions: null, auth: "untrusted", api_status: "stable" })
    fast(LxdSchema.Operation, without(operation, "description", "resources", "metadata", "may_cancel", "err"))
  })

  it("open enums take values a newer server may send", () => {
    fast(Instances.Instance, { ...instance, status: "Hibernating", type: "microvm" })
    fast(LxdSchema.Operation, { ...operation, class: "something-new" })
  })

  it("an instance with state, snapshots and backups", () => {
    fast(Instances.InstanceFull, full)
    fast(Instances.InstanceFull, {
      ...full,
      backups: [{ name: "b0", created_at: "2026-01-01T00:00:00Z", expires_at: "2026-02-01T00:00:00.000000001Z" }]
    })
    fast(Instances.InstanceState, { status: "Stopped", status_code: 102 })
    fast(Instances.InstanceState, { ...full.state, disk: null, memory: null, network: null, cpu: null })
  })

  it("timestamps: nanoseconds, LXD's 'never', the epoch, offsets and no fraction", () => {
    for (
      const t of [
        "0001-01-01T00:00:00Z",
        "1970-01-01T00:00:00Z",
        "2026-11-23T21:11:19.836774114Z",
        "2026-11-23T21:11:19.8Z",
        "2026-11-23T21:11:19.83Z",
        "2026-11-23T21:11:19.836Z",
        "2026-11-23T21:11:19.8369Z",
        "2024-02-29T23:59:59.999999999Z",
        "2000-02-29T00:00:00Z",
        "0000-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999Z",
        "2026-11-23T22:11:19.836774114+01:00",
        "2026-11-23T21:11:19",
        "2024-02-30T00:00:00Z"
      ]
    ) {
      fast(Instances.Instance, { ...instance, created_at: t, last_used_at: t })
    }
    const decoded = FD.compile(Instances.Instance.ast)(instance) as Instances.Instance
    expect(DateTime.formatIso(decoded.created_at)).toBe("2026-11-23T21:11:19.836Z")
    expect(DateTime.isUtc(decoded.created_at)).toBe(true)
  })

  it("the timestamp parser agrees with Date.parse", () => {
    const pad = (n: number, w: number) => String(n).padStart(w, "0")
    FastCheck.assert(
      FastCheck.property(
        FastCheck.record({
          y: FastCheck.integer({ min: 0, max: 9999 }),
          m: FastCheck.integer({ min: 0, max: 13 }),
          d: FastCheck.integer({ min: 0, max: 32 }),
          h: FastCheck.integer({ min: 0, max: 24 }),
          mi: FastCheck.integer({ min: 0, max: 60 }),
          s: FastCheck.integer({ min: 0, max: 60 }),
          f: FastCheck.stringMatching(/^[0-9]{0,10}$/)
        }),
        ({ d, f, h, m, mi, s, y }) => {
          const text = `${pad(y, 4)}-${pad(m, 2)}-${pad(d, 2)}T${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}${
            f === "" ? "" : `.${f}`
          }Z`
          const ours = FD.parseUtcMillis(text)
          // ours is either Date's answer, or undefined (then Date decides)
          if (ours !== undefined) expect(ours, text).toBe(Date.parse(text))
          if (m >= 1 && m <= 12 && d >= 1 && d <= 28 && h <= 23 && mi <= 59 && s <= 59 && f.length <= 9) {
            expect(ours, text).toBeDefined()
          }
        }
      ),
      { numRuns: 3000 }
    )
    for (const odd of ["", "Z", "2026-11-23 21:11:19Z", "2026-11-23T21:11:19.Z", "2026-11-23T21:11:19.12a4Z", "x"]) {
      expect(FD.parseUtcMillis(odd), odd).toBeUndefined()
    }
  })

  it("every resource schema agrees with Schema on generated inputs", () => {
    // the collections' schemas come from their specs; these are the others
    const schemas = [
      Instances.Instance,
      Instances.InstanceFull,
      Instances.InstanceState,
      Instances.InstancePut,
      Instances.ImageMetadata,
      LxdSchema.Operation,
      LxdSchema.ServerInfo,
      Server.Resources
    ] as unknown as ReadonlyArray<AnySchema>
    for (const schema of schemas) agreesOnGenerated(schema)
  })

  it("events decode like Schema", () => {
    const schemas = [Events.LifecycleEvent, Events.OperationEvent, Events.LoggingEvent] as unknown as ReadonlyArray<
      AnySchema
    >
    for (const schema of schemas) {
      for (const input of FastCheck.sample(Arbitrary.make(Schema.encodedSchema(schema)), 40)) agree(schema, input)
    }
  })
})

describe("fast decoder: falls back to Schema", () => {
  it("invalid input: the fast path fails and the error is Schema's", () => {
    rejected(Instances.Instance, { ...instance, status_code: "102" })
    rejected(Instances.Instance, { ...instance, config: { "limits.cpu": 2 } })
    rejected(Instances.Instance, { ...instance, expanded_devices: { root: { size: 1 } } })
    rejected(Instances.Instance, { ...instance, profiles: ["default", null] })
    rejected(Instances.Instance, { ...instance, created_at: "yesterday" })
    rejected(Instances.Instance, without(instance, "name"))
    rejected(Instances.Instance, null)
    rejected(Instances.Instance, [instance])
    rejected(Schema.Array(Instances.Instance), [instance, { ...instance, ephemeral: "no" }])
    rejected(LxdSchema.ServerInfo, { ...serverInfo, environment: { ...serverInfo.environment, server_pid: "1" } })
    const left = FD.decodeUnknownEither(Instances.Instance)({ ...instance, status_code: "102" })
    expect(Either.isLeft(left) && left.left.message).toMatch(/Expected number/)
  })

  it("inputs the fast path is unsure about are decided by Schema", () => {
    // a JSON "__proto__" key: Schema assigns it, with its own semantics
    agree(LxdSchema.ConfigMap, JSON.parse("{\"__proto__\":\"x\",\"a\":\"b\"}"))
    // a schema with a throwing default
    const Throws = Schema.Struct({
      a: Schema.optionalWith(Schema.String, {
        default: () => {
          throw new Error("boom")
        }
      })
    })
    expect(FD.compile(Throws.ast)({})).toBe(FD.FAIL)
  })

  it("decoders kept in module constants compile on their first call, once", () => {
    let built = 0
    const decode = FD.onFirstUse(() => {
      built++
      return FD.decodeUnknownEither(LxdSchema.ServerInfo)
    })
    expect(built).toBe(0)
    expect(Either.isRight(decode(serverInfo))).toBe(true)
    expect(Either.isLeft(decode({ ...serverInfo, api_version: 1 }))).toBe(true)
    expect(built).toBe(1)
    const timestamp = FD.compileOnFirstUse(LxdSchema.Timestamp.ast)
    expect(timestamp("2026-11-23T21:11:19.836774114Z")).not.toBe(FD.FAIL)
    expect(timestamp("yesterday")).toBe(FD.FAIL)
  })
})

describe("fast decoder: Schema semantics", () => {
  it("onExcessProperty: preserve keeps unknown fields (first, as Schema does), error rejects them", () => {
    const put = { ...without(instance, "name"), a_field_from_the_future: 1, nested: { x: 1 } }
    fast(Instances.InstancePut, put, { onExcessProperty: "preserve" })
    fast(Instances.Instance, { ...instance, extra: [1] }, { onExcessProperty: "preserve" })
    fast(LxdSchema.ServerInfo, serverInfo, { onExcessProperty: "preserve" })
    rejected(Instances.InstancePut, put, { onExcessProperty: "error" })
    fast(
      Instances.InstancePut,
      without(
        instance,
        "name",
        "status",
        "status_code",
        "created_at",
        "last_used_at",
        "expanded_config",
        "expanded_devices",
        "location",
        "type",
        "project"
      ),
      { onExcessProperty: "error" }
    )
    const Annotated = Schema.Struct({ a: Schema.String }).annotations({
      parseOptions: { onExcessProperty: "preserve" }
    })
    fast(Schema.Struct({ inner: Annotated, b: Schema.Number }), { inner: { a: "x", y: 1 }, b: 1, z: 2 })
  })

  it("exact: a missing required key is an error even for Unknown", () => {
    const S = Schema.Struct({ a: Schema.Unknown, b: Schema.optionalWith(Schema.Unknown, { default: () => 1 }) })
    fast(S, {})
    rejected(S, {}, { exact: true })
    fast(S, { a: undefined }, { exact: true })
    fast(Schema.Struct({ a: Schema.UndefinedOr(Schema.String) }), {})
  })

  it("property names that are also on Object.prototype", () => {
    const fields = {
      constructor: Schema.optional(Schema.String),
      toString: Schema.UndefinedOr(Schema.String),
      valueOf: Schema.Unknown
    }
    // a plain struct, and one with a default (a transformation)
    const structs = [
      Schema.Struct(fields),
      Schema.Struct({ ...fields, d: Schema.optionalWith(Schema.Number, { default: () => 1 }) })
    ] as unknown as ReadonlyArray<AnySchema>
    for (const S of structs) {
      // a missing required key reads what Object.prototype has there: toString is a function, so Schema rejects
      rejected(S, {})
      fast(S, { toString: "t" })
      fast(S, { constructor: "c", toString: "t", valueOf: 1 })
      rejected(S, { constructor: 1, toString: "t" })
      rejected(S, { toString: "t" }, { exact: true })
    }
  })

  it("odd property names: __proto__ (left to Schema), line separators, quotes", () => {
    const Odd = Schema.Struct({
      "a\u2028b": Schema.String,
      "q\"'`\\": Schema.optionalWith(Schema.Number, { default: () => 1 })
    })
    fast(Odd, { "a\u2028b": "x" })
    fast(Odd, { "a\u2028b": "x", "q\"'`\\": 2 })
    const Proto = Schema.Struct({ ["__proto__"]: Schema.optional(Schema.String), a: Schema.String })
    agree(Proto, JSON.parse("{\"__proto__\":\"x\",\"a\":\"b\"}"))
    agree(Proto, { a: "b" })
  })

  it("unions: first member that succeeds, discriminated unions, nullable structs", () => {
    const A = Schema.Struct({ a: Schema.String })
    const B = Schema.Struct({ a: Schema.String, b: Schema.Number })
    fast(Schema.Union(A, B), { a: "x", b: 1 })
    fast(Schema.Union(B, A), { a: "x", b: 1 })
    fast(Schema.Union(B, A), { a: "x" })
    fast(Schema.NullOr(B), null)
    fast(Schema.Union(Schema.String, Schema.NumberFromString), "1")
    fast(Schema.Union(Schema.NumberFromString, Schema.String), "1")
    fast(Schema.Union(Schema.NumberFromString, Schema.String), "x")
    const Tagged = Schema.Union(
      Schema.Struct({ type: Schema.Literal("a"), x: Schema.Number }),
      Schema.Struct({ type: Schema.Literal("b"), x: Schema.String })
    )
    agree(Tagged, { type: "b", x: "1" })
    rejected(Tagged, { type: "c", x: "1" })
  })

  it("refinements, transformations, records with struct values, recursion, classes", () => {
    fast(Schema.Struct({ n: Schema.Int, s: Schema.String.pipe(Schema.minLength(2)) }), { n: 1, s: "ab" })
    rejected(Schema.Struct({ n: Schema.Int }), { n: 1.5 })
    fast(Schema.Struct({ n: Schema.NumberFromString, d: Schema.Date }), { n: "12", d: "2026-01-01" })
    fast(Schema.compose(Schema.NumberFromString, Schema.Int), "3")
    fast(
      Schema.Record({
        key: Schema.String,
        value: Schema.Struct({ n: Schema.optionalWith(Schema.Number, { default: () => 0 }) })
      }),
      { a: {}, b: { n: 2 } }
    )
    interface Tree {
      readonly name: string
      readonly children: ReadonlyArray<Tree>
    }
    const Tree: Schema.Schema<Tree> = Schema.Struct({
      name: Schema.String,
      children: Schema.Array(Schema.suspend(() => Tree))
    })
    fast(Tree, { name: "a", children: [{ name: "b", children: [] }] })
    class Point extends Schema.Class<Point>("Point")({
      x: Schema.Number,
      y: Schema.optionalWith(Schema.Number, { default: () => 0 })
    }) {}
    fast(Point, { x: 1 })
    fast(Schema.Option(Schema.String), { _tag: "Some", value: "x" })
    fast(Schema.Tuple(Schema.String, Schema.Number), ["a", 1])
    fast(Schema.Struct({ a: Schema.optionalWith(Schema.String, { exact: true }) }), {})
    fast(Schema.Struct({ a: Schema.optionalWith(Schema.String, { nullable: true }) }), { a: null })
    fast(Schema.Struct({ a: Schema.optionalWith(Schema.String, { as: "Option" }) }), { a: "x" })
    fast(Schema.Struct({ a: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("A")) }), { A: "x" })
  })
})

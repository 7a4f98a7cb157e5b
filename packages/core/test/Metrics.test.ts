import { Metrics } from "@effect-lxd/core"
import { LxdMockTransport } from "@effect-lxd/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect, FastCheck as fc } from "effect"
import { mockLayer, serverInfo } from "./helpers.js"

// as LXD 5.0.2 writes it (lxd/metrics): HELP and TYPE per family, unescaped label values, `# EOF`
const LXD_TEXT = `# HELP lxd_cpu_seconds_total The total number of CPU time used in seconds.
# TYPE lxd_cpu_seconds_total counter
lxd_cpu_seconds_total{cpu="0",mode="system",name="c1",project="default",type="container"} 0.05
lxd_cpu_seconds_total{cpu="0",mode="user",name="c1",project="default",type="container"} 0.12
# HELP lxd_memory_MemAvailable_bytes The amount of available memory.
# TYPE lxd_memory_MemAvailable_bytes gauge
lxd_memory_MemAvailable_bytes{name="c1",project="default",type="container"} 2.5769803776e+10
lxd_memory_MemAvailable_bytes{name="w2",project="dev",type="container"} 1024
# HELP lxd_go_goroutines Number of goroutines that currently exist.
# TYPE lxd_go_goroutines gauge
lxd_go_goroutines 212
# EOF
`

const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runSync(Effect.either(effect))

describe("Metrics.parse", () => {
  it("reads LXD's text into typed samples", () => {
    const r = run(Metrics.parse(LXD_TEXT))
    if (r._tag === "Left") throw new Error(String(r.left))
    expect(r.right.samples).toHaveLength(5)
    expect(r.right.samples[0]).toEqual({
      name: "lxd_cpu_seconds_total",
      family: "lxd_cpu_seconds_total",
      type: "counter",
      help: "The total number of CPU time used in seconds.",
      labels: { cpu: "0", mode: "system", name: "c1", project: "default", type: "container" },
      value: 0.05
    })
    expect(Metrics.samplesOf(r.right, "lxd_memory_MemAvailable_bytes").map((s) => s.value)).toEqual([25769803776, 1024])
    expect(Metrics.instances(r.right)).toEqual(["default/c1", "dev/w2"])
    expect(r.right.text).toBe(LXD_TEXT)
  })

  it("a sample named x_total belongs to family x; Inf, NaN, timestamps and escapes are read", () => {
    const r = run(Metrics.parse(
      `# TYPE requests counter\nrequests_total{path="a\\"b\\\\c\\nd"} +Inf 1700000000\nx NaN\ny -Inf\n# EOF\n`
    ))
    if (r._tag === "Left") throw new Error(String(r.left))
    expect(r.right.samples[0]).toMatchObject({
      family: "requests",
      type: "counter",
      labels: { path: "a\"b\\c\nd" },
      value: Infinity,
      timestamp: 1700000000
    })
    expect(Number.isNaN(r.right.samples[1]!.value)).toBe(true)
    expect(r.right.samples[2]!.value).toBe(-Infinity)
  })

  it("malformed text is a ProtocolError naming the line, never a throw", () => {
    for (const bad of ["x{a=\"1\" 2", "x{a=1} 2", "x abc", "1x 2", "x{a=\"1\",a=\"2\"} 1", "# EOF\nx 1", "x 1 2 3"]) {
      const r = run(Metrics.parse(bad))
      expect(r._tag).toBe("Left")
      if (r._tag === "Left") expect(r.left.message).toMatch(/metrics line \d+/)
    }
  })

  it("property: rendered samples parse back to themselves; any text gives samples or a ProtocolError", () => {
    const labelName = fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,8}$/)
    const family = fc.record({
      name: fc.stringMatching(/^lxd_[a-z_]{1,12}$/),
      type: fc.constantFrom("counter", "gauge"),
      help: fc.stringMatching(/^[ -~]{0,30}$/),
      samples: fc.array(
        fc.record({
          labels: fc.dictionary(labelName, fc.string({ maxLength: 10 }), { maxKeys: 4 }),
          value: fc.double({ noNaN: true })
        }),
        { maxLength: 4 }
      )
    })
    const escape = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, "\\\"").replace(/\n/g, "\\n")
    const render = (n: number) => (n === Infinity ? "+Inf" : n === -Infinity ? "-Inf" : String(n))
    fc.assert(fc.property(fc.uniqueArray(family, { selector: (f) => f.name, maxLength: 5 }), (families) => {
      const text = families.map((f) =>
        [
          `# HELP ${f.name} ${f.help}`,
          `# TYPE ${f.name} ${f.type}`,
          ...f.samples.map((s) =>
            `${f.name}{${Object.entries(s.labels).map(([k, v]) => `${k}="${escape(v)}"`).join(",")}} ${render(s.value)}`
          )
        ].join("\n")
      ).join("\n") + "\n# EOF\n"
      const r = run(Metrics.parse(text))
      if (r._tag === "Left") throw new Error(`${r.left.message}\n${text}`)
      const expected = families.flatMap((f) =>
        f.samples.map((s) => ({
          name: f.name,
          family: f.name,
          type: f.type,
          help: f.help,
          labels: s.labels,
          value: s.value === 0 ? 0 : s.value // String(-0) is "0"
        }))
      )
      expect(r.right.samples).toEqual(expected)
    }))
    fc.assert(fc.property(fc.string({ maxLength: 200 }), (text) => {
      const r = run(Metrics.parse(text))
      if (r._tag === "Left") expect(r.left._tag).toBe("ProtocolError")
    }))
  })
})

describe("Metrics service", () => {
  it.effect("GET /1.0/metrics, gated on the metrics extension", () =>
    Effect.gen(function*() {
      const m = yield* Metrics.Metrics
      const set = yield* m.get
      expect(set.samples).toHaveLength(5)
    }).pipe(Effect.provide(mockLayer({
      routes: [
        LxdMockTransport.route("GET", "", () => Effect.succeed(LxdMockTransport.sync(serverInfo(["metrics"])))),
        LxdMockTransport.route("GET", "/metrics", () =>
          Effect.succeed(LxdMockTransport.raw(LXD_TEXT, { headers: { "content-type": "text/plain" } })))
      ]
    }))))

  it.effect("without the extension: APIExtensionNotAvailable, no request for /metrics", () =>
    Effect.gen(function*() {
      const m = yield* Metrics.Metrics
      expect((yield* Effect.flip(m.get))._tag).toBe("APIExtensionNotAvailable")
    }).pipe(Effect.provide(mockLayer({
      routes: [LxdMockTransport.route("GET", "", () => Effect.succeed(LxdMockTransport.sync(serverInfo([]))))]
    }))))
})

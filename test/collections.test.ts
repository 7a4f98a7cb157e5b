/**
 * Collections against the lab's real LXD 5.0.2, for what only LXD can show: the project PATCH quirk the client
 * works around, names 5.0.2 encodes twice in list URLs, warnings as the daemon raises them, metrics as `lxc query`
 * sees them, certificate replacement.
 */
import { Certificates, Lxd, LxdClient, Metrics, Profiles, Projects, Warnings } from "@effect-lxd/core"
import { NodeLxdTransport } from "@effect-lxd/node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { execFileSync } from "node:child_process"
import * as path from "node:path"
import { withInstance } from "./contract/scenarios.js"
import { lab } from "./lab/lab.js"
import { makeCertificate } from "./support/certs.js"

const info = lab()
const unix = Lxd.layer.pipe(Layer.provide(NodeLxdTransport.layerUnixSocket({ socketPath: info.socket })))

/** `lxc query PATH` on the lab daemon. */
const lxcQuery = (urlPath: string): string =>
  execFileSync("lxc", ["query", urlPath], {
    encoding: "utf8",
    env: { ...process.env, LXD_DIR: info.lxdDir, LXD_CONF: path.join(info.dir, "lxc-client") }
  })

describe("projects on 5.0.2", () => {
  it.live("a naive PATCH drops the keys it is not sent; Projects.update keeps them", () =>
    Effect.gen(function*() {
      const client = yield* LxdClient.LxdClient
      const projects = yield* Projects.Projects
      const config = { "features.images": "false", "features.profiles": "false", "limits.instances": "5" }
      yield* projects.create({ name: "patch-quirk", config })
      yield* Effect.ensuring(
        Effect.gen(function*() {
          yield* client.request({
            method: "PATCH",
            path: "/projects/patch-quirk",
            body: { config: { "user.added": "x", "features.images": "false", "features.profiles": "false" } }
          })
          const afterPatch = (yield* projects.get("patch-quirk")).config
          expect(afterPatch["user.added"]).toBe("x")
          expect(afterPatch["limits.instances"]).toBeUndefined() // what a client that trusts PATCH loses
          yield* projects.update("patch-quirk", { config: { "limits.instances": "9" } })
          const afterUpdate = (yield* projects.get("patch-quirk")).config
          expect(afterUpdate).toMatchObject({ "user.added": "x", "limits.instances": "9" })
        }),
        Effect.ignore(projects.delete("patch-quirk"))
      )
    }).pipe(Effect.provide(unix)))
})

describe("names that need encoding", () => {
  it.live("5.0.2 encodes them twice in list URLs; listNames still gives the names", () =>
    Effect.gen(function*() {
      const profiles = yield* Profiles.Profiles
      const name = "café-ü"
      yield* profiles.create({ name })
      yield* Effect.gen(function*() {
        const urls = JSON.parse(lxcQuery("/1.0/profiles")) as ReadonlyArray<string>
        expect(urls).toContain("/1.0/profiles/caf%25C3%25A9-%25C3%25BC")
        expect(yield* profiles.listNames()).toContain(name)
        expect((yield* profiles.get(name)).name).toBe(name)
      }).pipe(Effect.ensuring(Effect.orDie(profiles.delete(name))))
    }).pipe(Effect.provide(unix)))
})

describe("warnings", () => {
  it.live("the daemon's warnings decode; one can be acknowledged and read back", () =>
    Effect.gen(function*() {
      const warnings = yield* Warnings.Warnings
      const all = yield* warnings.list()
      expect((yield* warnings.listNames()).length).toBe(all.length)
      for (const w of all) {
        expect(w.uuid).toMatch(/^[0-9a-f-]{36}$/)
        expect(w.count).toBeGreaterThan(0)
      }
      if (all.length > 0) {
        const first = all[0]!
        const { value, etag } = yield* warnings.getWithEtag(first.uuid)
        expect(value.uuid).toBe(first.uuid)
        yield* warnings.acknowledge(first.uuid)
        expect((yield* warnings.get(first.uuid)).status).toBe("acknowledged")
        yield* warnings.replace(first.uuid, { status: first.status }, { etag: undefined })
        expect(typeof etag === "string" || etag === undefined).toBe(true)
        // a throwaway daemon: its warnings may go
        yield* warnings.delete(first.uuid)
        expect(yield* warnings.exists(first.uuid)).toBe(false)
      }
      expect((yield* Effect.flip(warnings.get("00000000-0000-4000-8000-000000000000")))._tag).toBe("NotFound")
    }).pipe(Effect.provide(unix)))
})

describe("metrics", () => {
  it.live("parse into samples that match `lxc query /1.0/metrics`, with the running instance in them", () =>
    withInstance(
      "metrics-c1",
      info.image,
      Effect.gen(function*() {
        const client = yield* LxdClient.LxdClient
        yield* client.run({ method: "PUT", path: "/instances/metrics-c1/state", body: { action: "start" } })
        const metrics = yield* Metrics.Metrics
        // LXD caches the text for ~8 s: read ours and lxc's within the same window, retrying on a refresh
        const both = Effect.gen(function*() {
          const ours = yield* metrics.get
          const theirs = yield* Metrics.parse(lxcQuery("/1.0/metrics"))
          return { ours, theirs }
        })
        let { ours, theirs } = yield* both
        if (ours.text !== theirs.text) ({ ours, theirs } = yield* both)
        const keys = (m: Metrics.MetricSet) => m.samples.map((s) => `${s.name}${JSON.stringify(s.labels)}`).sort()
        expect(keys(ours)).toEqual(keys(theirs))
        expect(Metrics.instances(ours)).toContain("default/metrics-c1")
        expect(Metrics.samplesOf(ours, "lxd_cpu_seconds_total").length).toBeGreaterThan(0)
        for (const s of ours.samples) expect(["counter", "gauge", "unknown"]).toContain(s.type)
      })
    ).pipe(Effect.provide(unix)))
})

describe("certificates", () => {
  it.live("replace with a new PEM swaps the certificate itself (and so its fingerprint)", () =>
    Effect.gen(function*() {
      const certificates = yield* Certificates.Certificates
      const a = makeCertificate("effect-lxd-swap-a")
      const b = makeCertificate("effect-lxd-swap-b")
      const fpA = yield* certificates.create({ certificate: a.cert, name: "swap" })
      const { value } = yield* certificates.getWithEtag(fpA)
      yield* Effect.ensuring(
        Effect.gen(function*() {
          yield* certificates.replace(fpA, { ...value, certificate: b.cert })
          const swapped = (yield* certificates.list()).find((c) => c.name === "swap")
          expect(swapped).toBeDefined()
          expect(swapped!.fingerprint).not.toBe(fpA)
          expect(swapped!.certificate.replace(/\s/g, "")).toBe(b.cert.replace(/\s/g, ""))
          yield* certificates.delete(swapped!.fingerprint)
        }),
        Effect.ignore(certificates.delete(fpA))
      )
    }).pipe(Effect.provide(unix)))
})

/**
 * Hostile answers (issue 13, defects 1 and 2, and the bounds on what errors carry): each test fails on the code
 * before the fix (a `URIError` or `RangeError` defect, or an unbounded error).
 */
import { Certificates, Exec, Instances, LxdClient, Operations, Server } from "@effect-lxd/core"
import { LxdMockTransport } from "@effect-lxd/testing"
import { describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as Collection from "../src/internal/collection.js"
import { mockLayer } from "./helpers.js"
import { collections } from "./support/collections.js"
import { type AnyCall, exitOf, expectProtocolError } from "./support/hostile.js"

const { json, sync } = LxdMockTransport

type Any = AnyCall

/** A collection's service made from its spec (the one implementation every collection shares). */
const serviceOf = (spec: (typeof collections)[number]["spec"]) =>
  Effect.map(
    LxdClient.LxdClient,
    (client) => Collection.make(client, spec) as unknown as Record<string, (...args: ReadonlyArray<unknown>) => Any>
  )

const BAD = "/1.0/instances/%zz"

describe("defect 1: a URL that is not properly percent-encoded is a ProtocolError naming it", () => {
  const lists: ReadonlyArray<readonly [string, Any, unknown]> = [
    ["Instances.listNames", Effect.flatMap(Instances.Instances, (i) => i.listNames()), [BAD]],
    [
      "Instances.listNamesAllProjects",
      Effect.flatMap(Instances.Instances, (i) => i.listNamesAllProjects()),
      [`${BAD}?project=p`]
    ],
    ["Instances.snapshots.listNames", Effect.flatMap(Instances.Instances, (i) => i.snapshots.listNames("c1")), [
      "/1.0/instances/c1/snapshots/%zz"
    ]],
    ["Instances.logs.list", Effect.flatMap(Instances.Instances, (i) => i.logs.list("c1")), [
      "/1.0/instances/c1/logs/%zz"
    ]],
    ["Instances.templates.list", Effect.flatMap(Instances.Instances, (i) => i.templates.list("c1")), [
      "/1.0/instances/c1/metadata/templates/%zz"
    ]],
    ["Operations.listIds", Effect.flatMap(Operations.Operations, (o) => o.listIds()), {
      running: ["/1.0/operations/%zz"]
    }]
  ]
  for (const [name, call, metadata] of lists) {
    it.effect(name, () => Effect.map(exitOf(call, () => sync(metadata)), (exit) => expectProtocolError(exit, "%zz")))
  }

  for (const entry of collections) {
    it.effect(`${entry.spec.name}.listNames (every collection)`, () =>
      Effect.gen(function*() {
        const parents = entry.spec.parents.map(() => "p1")
        const exit = yield* exitOf(
          Effect.flatMap(serviceOf(entry.spec), (service) => service.listNames!(...parents)),
          (r) => sync([`/1.0${r.path}/%zz`])
        )
        expectProtocolError(exit, "%zz")
      }))
  }

  it.effect("Certificates.create with a Location that is not percent-encoded", () =>
    Effect.map(
      exitOf(
        Effect.flatMap(Certificates.Certificates, (c) =>
          c.create({
            certificate: "-----BEGIN CERTIFICATE-----\nQUJD\nREVG\n-----END CERTIFICATE-----\n",
            name: "ci"
          })),
        () => sync(null, { location: "/1.0/certificates/%zz" })
      ),
      (exit) => expectProtocolError(exit, "/1.0/certificates/%zz")
    ))

  it.effect("a collection create without a name in its body, answered with a bad Location", () =>
    Effect.map(
      exitOf(
        Effect.flatMap(serviceOf(collections[0]!.spec), (service) => service.create!({})),
        () => sync(null, { location: "/1.0/profiles/%zz" })
      ),
      (exit) => expectProtocolError(exit, "/1.0/profiles/%zz")
    ))
})

/** 3,000 nested arrays (~6 KB of JSON) where an object is expected. */
const deep = (n = 3_000): unknown => {
  let v: unknown = []
  for (let i = 0; i < n; i++) v = [v]
  return v
}

describe("defect 2: deeply nested wrong-typed metadata is a ProtocolError, rendered in bounded space", () => {
  const calls: ReadonlyArray<readonly [string, Any, boolean]> = [
    ["Certificates.list", Effect.flatMap(Certificates.Certificates, (c) => c.list()), false],
    ["Instances.list", Effect.flatMap(Instances.Instances, (i) => i.list()), false],
    ["Instances.get", Effect.flatMap(Instances.Instances, (i) => i.get("c1")), false],
    ["Instances.modify", Effect.flatMap(Instances.Instances, (i) => i.modify("c1", (p) => p)), false],
    ["Operations.list", Effect.flatMap(Operations.Operations, (o) => o.list()), false],
    ["Operations.get", Effect.flatMap(Operations.Operations, (o) => o.get("op1")), false],
    ["Certificates.createToken", Effect.flatMap(Certificates.Certificates, (c) => c.createToken({ name: "x" })), true],
    ["Exec.run", Effect.flatMap(Exec.Exec, (e) => e.run("c1", ["ls"])), true]
  ]
  for (const [name, call, async] of calls) {
    it.effect(name, () =>
      Effect.map(
        exitOf(call, (r) =>
          async && r.method === "POST"
            ? json({ type: "async", status_code: 100, operation: "/1.0/operations/op1", metadata: deep() }, 202)
            : sync(deep())),
        (exit) => expectProtocolError(exit)
      ))
  }

  it.effect("Server.info", () =>
    Effect.map(
      Effect.exit(Effect.flatMap(Server.Server, (s) => s.info).pipe(
        Effect.provide(mockLayer({ handle: () => Effect.succeed(sync(deep())) }))
      )),
      (exit) => expectProtocolError(exit)
    ))

  it.effect("LxdClient.sync with any schema, 100,000 levels deep", () =>
    Effect.map(
      exitOf(
        Effect.flatMap(LxdClient.LxdClient, (c) =>
          c.sync(Schema.Struct({ a: Schema.Array(Schema.Struct({ b: Schema.String })) }), {
            method: "GET",
            path: "/x"
          })),
        // built as text: JSON.stringify itself overflows at this depth (JSON.parse does not)
        () => ({
          ...sync(null),
          body: `{"type":"sync","metadata":{"a":[{"b":${"[".repeat(100_000)}${"]".repeat(100_000)}}]}}`
        })
      ),
      (exit) => expectProtocolError(exit, "[\"a\"][0][\"b\"]")
    ))
})

import {
  Certificates,
  Events,
  Instances,
  Lxd,
  LxdClient,
  LxdResource,
  Operations,
  Profiles,
  Projects,
  Warnings
} from "@effect-lxd/core"
import { StringMap } from "@effect-lxd/core/LxdSchema"
import { LxdFakeServer, LxdMockTransport } from "@effect-lxd/testing"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Layer, Schema, Stream } from "effect"
import { createHash } from "node:crypto"
import { fakeCollection } from "../src/internal/fakeCollection.js"
import { makeState } from "../src/internal/fakeCore.js"
import { routes } from "../src/internal/fakeRoutes.js"

const Fake = Lxd.layer.pipe(Layer.provideMerge(LxdFakeServer.layer()))
const client = LxdClient.LxdClient
const requests = Effect.flatMap(LxdMockTransport.MockTransport, (m) => m.requests)

/** The lifecycle events (action and source) seen while `effect` runs, once `n` of them arrived. */
const lifecycleDuring = <A, E, R>(n: number, effect: Effect.Effect<A, E, R>, project?: string) =>
  Effect.scoped(Effect.gen(function*() {
    const events = yield* Events.Events
    const subscribe = events.subscribe({ types: ["lifecycle"] })
    const stream = yield* (project === undefined ? subscribe : LxdClient.withProject(subscribe, project))
    const fiber = yield* Effect.fork(Stream.runCollect(Stream.take(Events.lifecycle(stream), n)))
    yield* effect
    const got = Chunk.toReadonlyArray(yield* Fiber.join(fiber))
    return got.map((e) => `${e.metadata.action} ${e.metadata.source}`)
  }))

describe("generated routes: Profiles on the fake", () => {
  it.effect("create, get, list (names and recursion=1), update, replace, delete", () =>
    Effect.gen(function*() {
      const profiles = yield* Profiles.Profiles
      expect(yield* profiles.create({ name: "p1", description: "one", config: { "limits.cpu": "1" } })).toBe("p1")
      expect(yield* profiles.get("p1")).toEqual({
        name: "p1",
        description: "one",
        config: { "limits.cpu": "1" },
        devices: {},
        used_by: []
      })
      expect(yield* profiles.listNames()).toEqual(["default", "p1"])
      const list = yield* profiles.list()
      expect(list.map((p) => p.name)).toEqual(["default", "p1"])
      expect(list[0]!.devices).toEqual({ root: { path: "/", pool: "default", type: "disk" } })
      // PATCH merges config key by key, "" unsets; devices merge by device
      yield* profiles.update("p1", {
        config: { "limits.memory": "1GiB", "limits.cpu": "" },
        devices: { d: { type: "none" } }
      })
      expect(yield* profiles.get("p1")).toMatchObject({
        description: "one",
        config: { "limits.memory": "1GiB" },
        devices: { d: { type: "none" } }
      })
      // PUT replaces every writable field
      yield* profiles.replace("p1", { config: { "user.x": "y" } })
      expect(yield* profiles.get("p1")).toMatchObject({ description: "", config: { "user.x": "y" }, devices: {} })
      yield* profiles.delete("p1")
      expect(yield* profiles.exists("p1")).toBe(false)
      expect((yield* Effect.flip(profiles.get("p1"))).message).toBe("Profile not found")
    }).pipe(Effect.provide(Fake)))

  it.effect("a duplicate is LXD 5.0.2's 500; a rename onto a name in use is 409; default is protected (403)", () =>
    Effect.gen(function*() {
      const profiles = yield* Profiles.Profiles
      yield* profiles.create({ name: "p1" })
      yield* profiles.create({ name: "p2" })
      const dup = yield* Effect.flip(profiles.create({ name: "p1" }))
      expect(dup._tag).toBe("LxdApiError")
      expect(dup.message).toBe("Error inserting \"p1\" into database: The profile already exists")
      const taken = yield* Effect.flip(profiles.rename("p1", "p2"))
      expect(taken._tag).toBe("Conflict")
      expect(taken.message).toBe("Name \"p2\" already in use")
      expect((yield* Effect.flip(profiles.rename("default", "x")))._tag).toBe("Forbidden")
      expect((yield* Effect.flip(profiles.delete("default")))._tag).toBe("Forbidden")
      yield* profiles.rename("p1", "p3")
      expect(yield* profiles.listNames()).toEqual(["default", "p2", "p3"])
    }).pipe(Effect.provide(Fake)))

  it.effect("a bad body is 400 with Go's decoder message; no name is 400 No name provided", () =>
    Effect.gen(function*() {
      const c = yield* client
      const post = (body: unknown) => Effect.flip(c.request({ method: "POST", path: "/profiles", body }))
      const bad = yield* post({ name: "p1", config: { "limits.cpu": 2 } })
      expect(bad._tag).toBe("BadRequest")
      expect(bad.message).toContain("json: cannot unmarshal number into Go struct field ProfilesPost.config")
      expect((yield* post([1])).message).toBe("json: cannot unmarshal array into Go value of type api.ProfilesPost")
      expect((yield* post({ description: "x" })).message).toBe("No name provided")
      expect((yield* post({ name: "a/b" })).message).toBe("Profile names may not contain slashes")
      // a null field is Go's zero value, not an error
      yield* c.request({ method: "POST", path: "/profiles", body: { name: "p2", config: null, description: null } })
      const put = yield* Effect.flip(c.request({ method: "PUT", path: "/profiles/p2", body: { devices: [] } }))
      expect(put._tag).toBe("BadRequest")
    }).pipe(Effect.provide(Fake)))

  it.effect("the ETag covers the writable fields only; a stale one is 412 on PUT and PATCH", () =>
    Effect.gen(function*() {
      const profiles = yield* Profiles.Profiles
      yield* profiles.create({ name: "p1" })
      const first = yield* profiles.getWithEtag("p1")
      // an instance applying it changes used_by, not the ETag
      const instances = yield* Instances.Instances
      yield* instances.create({ name: "c1", profiles: ["default", "p1"], source: { type: "none" } })
      const second = yield* profiles.getWithEtag("p1")
      expect(second.value.used_by.map((u) => u.name)).toEqual(["c1"])
      expect(second.etag).toBe(first.etag)
      yield* profiles.update("p1", { description: "changed" }, { etag: first.etag })
      expect((yield* Effect.flip(profiles.update("p1", { description: "x" }, { etag: first.etag })))._tag).toBe(
        "PreconditionFailed"
      )
      expect((yield* Effect.flip(profiles.replace("p1", { description: "x" }, { etag: first.etag })))._tag).toBe(
        "PreconditionFailed"
      )
      // in use: 400; instances see its config through expanded_config
      yield* profiles.update("p1", { config: { "user.from": "p1" } })
      expect((yield* instances.get("c1")).expanded_config["user.from"]).toBe("p1")
      const inUse = yield* Effect.flip(profiles.delete("p1"))
      expect(inUse._tag).toBe("BadRequest")
      expect(inUse.message).toBe("Profile is currently in use")
    }).pipe(Effect.provide(Fake)))

  it.effect("per project: a project with features.profiles has its own; one without uses default's", () =>
    Effect.gen(function*() {
      const profiles = yield* Profiles.Profiles
      const projects = yield* Projects.Projects
      expect((yield* Effect.flip(LxdClient.withProject(profiles.listNames(), "dev")))._tag).toBe("NotFound")
      yield* projects.create({ name: "dev" })
      yield* projects.create({ name: "shared", config: { "features.profiles": "false" } })
      const inDev = yield* LxdClient.withProject(profiles.get("default"), "dev")
      expect(inDev).toMatchObject({ description: "Default LXD profile for project dev", devices: {} })
      yield* LxdClient.withProject(profiles.create({ name: "mine" }), "dev")
      expect(yield* LxdClient.withProject(profiles.listNames(), "dev")).toEqual(["default", "mine"])
      expect(yield* profiles.listNames()).toEqual(["default"])
      expect(yield* LxdClient.withProject(profiles.listNames(), "shared")).toEqual(["default"])
      expect((yield* LxdClient.withProject(profiles.get("default"), "shared")).devices).toHaveProperty("root")
      const rs = yield* requests
      expect(rs.filter((r) => r.path.startsWith("/profiles")).map((r) => r.query.project)).toContain("dev")
    }).pipe(Effect.provide(Fake)))

  it.effect("lifecycle events: created, updated, renamed (old_name), deleted, with the object's URL", () =>
    Effect.gen(function*() {
      const profiles = yield* Profiles.Profiles
      const projects = yield* Projects.Projects
      yield* projects.create({ name: "dev" })
      const got = yield* lifecycleDuring(
        4,
        Effect.gen(function*() {
          yield* profiles.create({ name: "p1" })
          yield* profiles.update("p1", { description: "x" })
          yield* profiles.rename("p1", "p2")
          yield* profiles.delete("p2")
        }).pipe(LxdClient.withProject("dev")),
        "dev"
      )
      expect(got).toEqual([
        "profile-created /1.0/profiles/p1?project=dev",
        "profile-updated /1.0/profiles/p1?project=dev",
        "profile-renamed /1.0/profiles/p2?project=dev",
        "profile-deleted /1.0/profiles/p2?project=dev"
      ])
    }).pipe(Effect.provide(Fake)))
})

describe("generated routes: Projects and Warnings on the fake", () => {
  it.effect("rename is answered by an operation (spec.async); a project that is not empty fails in it", () =>
    Effect.gen(function*() {
      const projects = yield* Projects.Projects
      yield* projects.create({ name: "p1" })
      yield* projects.rename("p1", "p2")
      expect(yield* projects.listNames()).toEqual(["default", "p2"])
      const rs = yield* requests
      expect(rs.map((r) => `${r.method} ${r.path}`)).toContain("POST /projects/p1")
      expect(rs.some((r) => /^\/operations\/[^/]+\/wait$/.test(r.path))).toBe(true)
      // the default profile followed the project
      const profiles = yield* Profiles.Profiles
      expect(yield* LxdClient.withProject(profiles.listNames(), "p2")).toEqual(["default"])
      yield* LxdClient.withProject(profiles.create({ name: "x" }), "p2")
      const failed = yield* Effect.flip(projects.rename("p2", "p3"))
      expect(failed._tag).toBe("OperationFailed")
      expect(failed.message).toContain("Only empty projects can be renamed")
      expect((yield* Effect.flip(projects.rename("default", "x")))._tag).toBe("Forbidden")
      expect((yield* Effect.flip(projects.delete("default")))._tag).toBe("Forbidden")
      expect((yield* Effect.flip(projects.delete("p2")))._tag).toBe("BadRequest")
    }).pipe(Effect.provide(Fake)))

  it.effect("LXD 5.0.2's PATCH drops the config keys it is not sent; the client's update keeps them", () =>
    Effect.gen(function*() {
      const c = yield* client
      const projects = yield* Projects.Projects
      yield* projects.create({ name: "p1", config: { "limits.instances": "5" } })
      expect((yield* projects.get("p1")).config).toEqual({
        "features.images": "true",
        "features.profiles": "true",
        "features.storage.volumes": "true",
        "limits.instances": "5"
      })
      yield* projects.update("p1", { config: { "limits.containers": "2" } })
      expect(Object.keys((yield* projects.get("p1")).config)).toContain("limits.instances")
      // the raw PATCH: config replaced whole, so the features it left out turn off (the default profile goes)
      yield* c.request({ method: "PATCH", path: "/projects/p1", body: { config: { "limits.instances": "7" } } })
      expect((yield* projects.get("p1")).config).toEqual({ "limits.instances": "7" })
      const profiles = yield* Profiles.Profiles
      expect(yield* LxdClient.withProject(profiles.listNames(), "p1")).toEqual(["default"]) // default's, now
      // a features.profiles "false" left out changes too: LXD deletes a default profile the project does not have
      yield* projects.create({ name: "p2", config: { "features.profiles": "false" } })
      const gone = yield* Effect.flip(
        c.request({ method: "PATCH", path: "/projects/p2", body: { config: { "features.images": "true" } } })
      )
      expect(gone.message).toBe("Delete project default profile: Profile not found")
      expect((yield* projects.state("p1")).resources["instances"]).toEqual({ Limit: 7, Usage: 0 })
      const d = yield* projects.get("default")
      expect(d.used_by.map((u) => u.collection)).toEqual(expect.arrayContaining(["images", "profiles"]))
    }).pipe(Effect.provide(Fake)))

  it.effect("warnings come from the fake only (Control.warn); acknowledge, list per project, delete", () =>
    Effect.gen(function*() {
      const control = yield* LxdFakeServer.Control
      const warnings = yield* Warnings.Warnings
      const a = yield* control.warn({ type: "AppArmor support has been disabled", message: "no apparmor" })
      const b = yield* control.warn({ type: "Instance type not operational", message: "vm", project: "dev" })
      expect(yield* control.warn({ type: "AppArmor support has been disabled", message: "again" })).toBe(a)
      expect(yield* warnings.get(a)).toMatchObject({ count: 2, last_message: "again", status: "new" })
      expect(yield* warnings.listNames()).toEqual([a, b])
      expect(yield* LxdClient.withProject(warnings.listNames(), "dev")).toEqual([b])
      const got = yield* lifecycleDuring(2, Effect.zipRight(warnings.acknowledge(a), warnings.delete(b)))
      expect(got).toEqual([`warning-acknowledged /1.0/warnings/${a}`, `warning-deleted /1.0/warnings/${b}`])
      expect((yield* warnings.get(a)).status).toBe("acknowledged")
      expect((yield* Effect.flip(warnings.update(a, { status: "resolved" })))._tag).toBe("Forbidden")
      const c = yield* client
      const post = yield* Effect.exit(c.request({ method: "POST", path: "/warnings", body: {} }))
      expect(String(post)).toContain("LxdFakeServer does not implement POST /1.0/warnings")
    }).pipe(Effect.provide(Fake)))
})

describe("generated routes: Certificates on the fake", () => {
  const pem = (der: ReadonlyArray<number>) =>
    `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString("base64")}\n-----END CERTIFICATE-----`
  const sha256 = (der: ReadonlyArray<number>) => createHash("sha256").update(Buffer.from(der)).digest("hex")

  it.effect("named by the SHA-256 of their DER; PEM when read; a new PEM changes the fingerprint; tokens", () =>
    Effect.gen(function*() {
      const certificates = yield* Certificates.Certificates
      const a = [0x30, 0x03, 1, 2, 3]
      const b = [0x30, 0x03, 4, 5, 6]
      const fingerprint = yield* certificates.create({ certificate: pem(a), name: "a" })
      expect(fingerprint).toBe(sha256(a))
      expect(yield* certificates.get(fingerprint)).toMatchObject({
        name: "a",
        type: "client",
        certificate: pem(a),
        restricted: false
      })
      const dup = yield* Effect.flip(certificates.create({ certificate: pem(a) }))
      expect([dup._tag, dup.message]).toEqual(["BadRequest", "Certificate already in trust store"])
      yield* certificates.modify(fingerprint, (c) => ({ ...c, certificate: pem(b) }))
      expect(yield* certificates.listNames()).toEqual([sha256(b)])
      yield* certificates.update(sha256(b), { name: "renamed", certificate: "" })
      expect((yield* certificates.get(sha256(b))).name).toBe("renamed")
      const token = yield* certificates.createToken({ name: "newcomer" })
      const operations = yield* Operations.Operations
      expect(yield* operations.get(token.operationId)).toMatchObject({ class: "token", status: "Running" })
      yield* certificates.delete(sha256(b))
      expect(yield* certificates.list()).toEqual([])
    }).pipe(Effect.provide(Fake)))
})

// a nested collection, defined here only: the fake serves it from its spec with no code of its own
const WidgetPut = Schema.Struct({
  description: Schema.optionalWith(Schema.String, { default: () => "" }),
  config: StringMap
})
  .annotations({ identifier: "WidgetPut" })
const widgets = LxdResource.spec({
  name: "Widgets",
  path: "/widgets",
  kind: "name",
  item: Schema.Struct({ ...WidgetPut.fields, name: Schema.String }),
  post: Schema.Struct({ ...WidgetPut.fields, name: Schema.String }).annotations({ identifier: "WidgetsPost" }),
  put: WidgetPut,
  lifecycle: "widget"
})
const PartPut = Schema.Struct({ config: StringMap }).annotations({ identifier: "PartPut" })
const parts = LxdResource.spec({
  name: "Parts",
  path: "/widgets/{widget}/parts",
  parents: ["name"],
  kind: "name",
  item: Schema.Struct({ ...PartPut.fields, name: Schema.String, size: Schema.Number }),
  post: Schema.Struct({ ...PartPut.fields, name: Schema.String, size: Schema.Number }).annotations({
    identifier: "PartsPost"
  }),
  put: PartPut,
  async: ["create", "delete"],
  lifecycle: "widget-part"
})

const WithWidgets = Lxd.layer.pipe(Layer.provideMerge(Layer.unwrapScoped(Effect.gen(function*() {
  const state = yield* makeState({}, yield* Effect.scope)
  const fake = routes(state, undefined)
  return LxdMockTransport.layer({
    routes: [
      ...fake.routes,
      ...fakeCollection(state, parts),
      ...fakeCollection(state, widgets, { label: "Widget" })
    ],
    sockets: fake.sockets
  })
}))))

describe("generated routes: a nested collection from a spec defined in the test", () => {
  it.effect("its parent must exist; a duplicate is 409; async verbs answer with operations", () =>
    Effect.gen(function*() {
      const c = yield* client
      const missing = yield* Effect.flip(c.request({ method: "GET", path: "/widgets/w1/parts" }))
      expect([missing._tag, missing.message]).toEqual(["NotFound", "Widget not found"])
      const created = yield* c.write({ method: "POST", path: "/widgets", body: { name: "w1" } })
      expect(created.location).toBe("/1.0/widgets/w1")
      const dup = yield* Effect.flip(c.request({ method: "POST", path: "/widgets", body: { name: "w1" } }))
      expect([dup._tag, dup.message]).toEqual(["Conflict", "This \"widgets\" entry already exists"])
      // create is async for parts: an operation naming the new part
      const started = yield* c.request({ method: "POST", path: "/widgets/w1/parts", body: { name: "p1", size: 3 } })
      expect(started.type).toBe("async")
      yield* c.write({ method: "POST", path: "/widgets/w1/parts", body: { name: "p2", size: 4 } })
      const op =
        (yield* c.write({ method: "POST", path: "/widgets/w1/parts", body: { name: "p3", size: 5 } })).operation
      expect(op?.resources).toEqual({ parts: ["/1.0/widgets/w1/parts/p3"] })
      const part = yield* c.request({ method: "GET", path: "/widgets/w1/parts/p1" })
      expect(part.metadata).toEqual({ name: "p1", size: 3, config: {} }) // size: set by POST, read-only after
      expect(part.etag).toBeDefined()
      const names = yield* c.request({ method: "GET", path: "/widgets/w1/parts" })
      expect(names.metadata).toEqual([
        "/1.0/widgets/w1/parts/p1",
        "/1.0/widgets/w1/parts/p2",
        "/1.0/widgets/w1/parts/p3"
      ])
      const bad = yield* Effect.flip(c.request({ method: "POST", path: "/widgets/w1/parts", body: { name: "p9" } }))
      expect(bad._tag).toBe("BadRequest")
      yield* c.write({ method: "DELETE", path: "/widgets/w1/parts/p3" })
    }).pipe(Effect.provide(WithWidgets)))

  it.effect("its objects follow their parent: renamed with it, deleted with it", () =>
    Effect.gen(function*() {
      const c = yield* client
      yield* c.write({ method: "POST", path: "/widgets", body: { name: "w1" } })
      yield* c.write({ method: "POST", path: "/widgets/w1/parts", body: { name: "p1", size: 1 } })
      yield* c.write({ method: "PATCH", path: "/widgets/w1/parts/p1", body: { config: { a: "b" } } })
      const got = yield* lifecycleDuring(
        2,
        c.write({ method: "POST", path: "/widgets/w1", body: { name: "w2" } }).pipe(
          Effect.zipRight(c.write({ method: "POST", path: "/widgets/w2/parts/p1", body: { name: "p2" } }))
        )
      )
      expect(got).toEqual([
        "widget-renamed /1.0/widgets/w2",
        "widget-part-renamed /1.0/widgets/w2/parts/p2"
      ])
      expect((yield* c.request({ method: "GET", path: "/widgets/w2/parts/p2" })).metadata).toMatchObject({
        config: { a: "b" }
      })
      yield* c.write({ method: "DELETE", path: "/widgets/w2" })
      yield* c.write({ method: "POST", path: "/widgets", body: { name: "w2" } })
      expect((yield* c.request({ method: "GET", path: "/widgets/w2/parts" })).metadata).toEqual([])
    }).pipe(Effect.provide(WithWidgets)))

  it.effect("only the spec's verbs are served: another endpoint is a defect naming it", () =>
    Effect.gen(function*() {
      const c = yield* client
      const exit = yield* Effect.exit(c.request({ method: "PUT", path: "/widgets" }))
      expect(String(exit)).toContain("no route for PUT /1.0/widgets")
    }).pipe(Effect.provide(WithWidgets)))
})

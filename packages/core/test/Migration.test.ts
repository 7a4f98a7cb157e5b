/**
 * `Migration.copySnapshot` against two mocks: the requests each server sees in pull mode, the extension checks
 * of push and relay, and typed errors before any request.
 */
import { LxdClient, Migration } from "@effect-lxd/core"
import { LxdMockTransport } from "@effect-lxd/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { serverInfo } from "./helpers.js"

const { async, error, operation, route, socket, sync } = LxdMockTransport

const server = (extensions: ReadonlyArray<string>, address: string) => {
  const info = serverInfo(extensions)
  return { ...info, environment: { ...info.environment, addresses: [address], certificate: `PEM of ${address}` } }
}

const snapshot = {
  name: "snap0",
  architecture: "x86_64",
  created_at: "2026-12-02T00:00:00Z",
  ephemeral: false,
  stateful: false,
  profiles: ["default"],
  config: { "image.os": "busybox", "volatile.base_image": "abc", "volatile.eth0.hwaddr": "00:16:3e:00:00:01" },
  devices: { root: { type: "disk", path: "/", pool: "default" } },
  expanded_config: {},
  expanded_devices: {},
  a_field_from_the_future: true
}

const instance = {
  name: "c1",
  type: "container",
  status: "Stopped",
  status_code: 102,
  architecture: "x86_64",
  created_at: "2026-12-02T00:00:00Z",
  last_used_at: "2026-12-02T00:00:00Z",
  profiles: ["default"],
  config: {},
  devices: {},
  expanded_config: {},
  expanded_devices: {},
  ephemeral: false,
  stateful: false,
  description: "",
  location: "none",
  project: "default"
}

const done = (id: string) => sync(operation(id, { status: "Success", status_code: 200 }))

/** The source's and the target's engines over mocks, and what each was sent. */
const servers = (options: {
  readonly sourceExtensions?: ReadonlyArray<string>
  readonly targetExtensions?: ReadonlyArray<string>
  readonly snapshot?: LxdMockTransport.MockResponse
} = {}) =>
  Effect.gen(function*() {
    const seen = {
      source: [] as Array<LxdMockTransport.MockRequest>,
      target: [] as Array<LxdMockTransport.MockRequest>
    }
    const source = yield* LxdClient.connect(LxdMockTransport.layer({
      routes: [
        route("GET", "", () => Effect.succeed(sync(server(options.sourceExtensions ?? [], "10.0.0.1:8443")))),
        route("GET", "/instances/c1", () => Effect.succeed(sync(instance))),
        route("GET", "/instances/c1/snapshots/snap0", () => Effect.succeed(options.snapshot ?? sync(snapshot))),
        route("POST", "/instances/c1/snapshots/snap0", (r) =>
          Effect.sync(() => seen.source.push(r)).pipe(
            Effect.as(async(operation("src1", { class: "websocket", metadata: { control: "c", fs: "f" } })))
          )),
        route("GET", "/operations/src1/wait", () => Effect.succeed(done("src1"))),
        route("GET", "/operations/src1", () => Effect.succeed(done("src1")))
      ]
    }))
    const target = yield* LxdClient.connect(LxdMockTransport.layer({
      routes: [
        route("GET", "", () => Effect.succeed(sync(server(options.targetExtensions ?? [], "10.0.0.2:8443")))),
        route("POST", "/instances", (r) =>
          Effect.sync(() => seen.target.push(r)).pipe(
            Effect.as(async(operation("dst1", { class: "task", metadata: {} })))
          )),
        route("GET", "/operations/dst1/wait", () => Effect.succeed(done("dst1"))),
        route("GET", "/operations/dst1", () => Effect.succeed(done("dst1")))
      ],
      // the copy follows the target operation's progress
      sockets: [route("GET", "/events", () => Effect.succeed(socket(Stream.never)))]
    }))
    return { source, target, seen }
  })

describe("Migration.copySnapshot", () => {
  it.scoped("pull: the snapshot's migration source, then the target creates the instance from it", () =>
    Effect.gen(function*() {
      const { seen, source, target } = yield* servers()
      const op = yield* Migration.copySnapshot({ source, target, name: "c1", snapshot: "snap0", targetName: "c2" })
      expect(op.id).toBe("dst1")
      expect(seen.source.map((r) => [r.url, r.body])).toEqual([
        ["/1.0/instances/c1/snapshots/snap0", { name: "c2", live: false, migration: true }]
      ])
      expect(seen.target.map((r) => r.body)).toEqual([{
        name: "c2",
        type: "container",
        architecture: "x86_64",
        ephemeral: false,
        profiles: ["default"],
        // volatile keys are the source's own, except the base image
        config: { "image.os": "busybox", "volatile.base_image": "abc" },
        devices: { root: { type: "disk", path: "/", pool: "default" } },
        source: {
          type: "migration",
          live: false,
          "base-image": "abc",
          mode: "pull",
          operation: "https://10.0.0.1:8443/1.0/operations/src1",
          certificate: "PEM of 10.0.0.1:8443",
          secrets: { control: "c", fs: "f" }
        }
      }])
    }))

  it.scoped("overrides of profiles, config and ephemeral; the target name defaults to the instance's", () =>
    Effect.gen(function*() {
      const { seen, source, target } = yield* servers()
      yield* Migration.copySnapshot({
        source,
        target,
        name: "c1",
        snapshot: "snap0",
        profiles: [],
        config: { "limits.cpu": "1" },
        ephemeral: true
      })
      expect(seen.source[0]?.body).toEqual({ name: "c1", live: false, migration: true })
      expect(seen.target[0]?.body).toMatchObject({
        name: "c1",
        profiles: [],
        ephemeral: true,
        config: { "image.os": "busybox", "volatile.base_image": "abc", "limits.cpu": "1" }
      })
    }))

  it.scoped("bad instance, snapshot or target names: InvalidArgument before any request", () =>
    Effect.gen(function*() {
      const { seen, source, target } = yield* servers()
      const copy = (o: Partial<Migration.CopySnapshotOptions>) =>
        Effect.flip(Migration.copySnapshot({ source, target, name: "c1", snapshot: "snap0", ...o }))
      for (
        const bad of [{ name: "../x" }, { name: "c1/snap0" }, { snapshot: "a/b" }, { snapshot: "" }, {
          targetName: "x/y"
        }]
      ) {
        const e = yield* copy(bad)
        expect(e._tag).toBe("InvalidArgument")
      }
      expect(seen).toEqual({ source: [], target: [] })
    }))

  it.scoped("a missing snapshot is NotFound; push and relay check their extensions before any migration", () =>
    Effect.gen(function*() {
      const missing = yield* servers({ snapshot: error(404, "Instance snapshot not found") })
      const e = yield* Effect.flip(Migration.copySnapshot({ ...missing, name: "c1", snapshot: "snap0" }))
      expect(e._tag).toBe("NotFound")
      const { seen, source, target } = yield* servers()
      const push = yield* Effect.flip(
        Migration.copySnapshot({ source, target, name: "c1", snapshot: "snap0", mode: "push" })
      )
      expect(push._tag === "APIExtensionNotAvailable" && push.extension).toBe("container_push_target")
      const relay = yield* Effect.flip(
        Migration.copySnapshot({ source, target, name: "c1", snapshot: "snap0", mode: "relay" })
      )
      expect(relay._tag === "APIExtensionNotAvailable" && relay.extension).toBe("container_push")
      expect(seen).toEqual({ source: [], target: [] })
    }))
})

/**
 * `Cluster.join` on the mock: the `PUT /1.0/cluster` body `lxd init` would send (the token as
 * `cluster_password` on 5.0.2, as `cluster_token` with `explicit_trust_token`; server name and cluster address
 * from the token unless given), waited on as an operation; a token that is not one, a certificate whose SHA-256
 * is not the token's fingerprint, or a bad name are `InvalidArgument` before any request.
 */
import { Cluster } from "@effect-lxd/core"
import { LxdMockTransport } from "@effect-lxd/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { mockLayer, serverInfo } from "./helpers.js"

const { async: asyncAnswer, operation, route, sync } = LxdMockTransport
const requests = Effect.flatMap(LxdMockTransport.MockTransport, (m) => m.requests)

// "QUJDREVG" is base64 of the bytes "ABCDEF"; their SHA-256:
const PEM = "-----BEGIN CERTIFICATE-----\nQUJD\nREVG\n-----END CERTIFICATE-----\n"
const FINGERPRINT = "e9c0f8b575cbfcb42ab3b78ecc87efa3b011d9a5d10b09fa4e96f240bf6a82f5"
const token = (fields: Record<string, unknown> = {}) =>
  btoa(JSON.stringify({
    server_name: "m4",
    fingerprint: FINGERPRINT,
    addresses: ["10.0.0.1:8443", "10.0.0.2:8443"],
    secret: "s3cret",
    expires_at: "2030-01-01T00:00:00Z",
    ...fields
  }))

const tagOf = <A, E>(exit: Exit.Exit<A, E>): string | undefined =>
  Exit.isFailure(exit) && exit.cause._tag === "Fail" ? (exit.cause.error as { _tag: string })._tag : undefined

const layer = (extensions: ReadonlyArray<string>) =>
  mockLayer({
    routes: [
      route("GET", "", () => Effect.succeed(sync(serverInfo(extensions)))),
      route(
        "PUT",
        "/cluster",
        () => Effect.succeed(asyncAnswer(operation("join1", { description: "Joining cluster" })))
      ),
      route(
        "GET",
        "/operations/join1/wait",
        () => Effect.succeed(sync(operation("join1", { status: "Success", status_code: 200 })))
      )
    ]
  })

const puts = requests.pipe(Effect.map((rs) => rs.filter((r) => r.method === "PUT").map((r) => r.body)))

/** Joins with the token and the PEM (plus `options`) and answers the one `PUT /1.0/cluster` body sent. */
const joinSent = (options: Partial<Cluster.ClusterJoin>) =>
  Effect.gen(function*() {
    const t = token()
    yield* Effect.flatMap(Cluster.Cluster, (c) =>
      c.join({ token: t, clusterCertificate: PEM, serverAddress: "10.0.0.4:8443", ...options }))
    return { sent: yield* puts, token: t }
  })

const base = { enabled: true, server_address: "10.0.0.4:8443", cluster_certificate: PEM }

describe("Cluster.join on the mock", () => {
  it.effect("sends what lxd init sends (token as cluster_password on 5.0.2) and waits for the operation", () =>
    Effect.gen(function*() {
      const memberConfig = [{ entity: "storage-pool", name: "default", key: "source", value: "" }]
      const { sent, token: t } = yield* joinSent({ memberConfig })
      expect(sent).toEqual([{
        ...base,
        server_name: "m4",
        cluster_address: "10.0.0.1:8443",
        member_config: memberConfig,
        cluster_password: t
      }])
      expect((yield* requests).some((r) => r.path === "/operations/join1/wait")).toBe(true)
    }).pipe(Effect.provide(layer(["clustering"]))))

  it.effect("with explicit_trust_token the token goes in cluster_token; serverName and clusterAddress override", () =>
    Effect.gen(function*() {
      const { sent, token: t } = yield* joinSent({ serverName: "other", clusterAddress: "10.0.0.2:8443" })
      expect(sent).toEqual([{
        ...base,
        server_name: "other",
        cluster_address: "10.0.0.2:8443",
        member_config: [],
        cluster_token: t
      }])
    }).pipe(Effect.provide(layer(["clustering", "explicit_trust_token"]))))

  it.effect("not a token, a certificate that is not the token's, a bad name, no address: InvalidArgument, no PUT", () =>
    Effect.gen(function*() {
      const cluster = yield* Cluster.Cluster
      const join = (t: string, clusterCertificate = PEM) =>
        Effect.exit(cluster.join({ token: t, clusterCertificate, serverAddress: "10.0.0.4:8443" }))
      expect(tagOf(yield* join("not a token"))).toBe("InvalidArgument")
      expect(tagOf(yield* join(btoa("{\"server_name\": 1}")))).toBe("InvalidArgument")
      expect(tagOf(yield* join(token({ fingerprint: "00".repeat(32) })))).toBe("InvalidArgument")
      expect(tagOf(yield* join(token(), "not a PEM"))).toBe("InvalidArgument")
      expect(tagOf(yield* join(token({ server_name: "a/b" })))).toBe("InvalidArgument")
      expect(tagOf(yield* join(token({ addresses: [] })))).toBe("InvalidArgument")
      expect(yield* puts).toEqual([])
    }).pipe(Effect.provide(layer(["clustering"]))))
})

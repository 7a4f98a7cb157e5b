import { Certificates, Operations } from "@effect-lxd/core"
import { LxdMockTransport } from "@effect-lxd/testing"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Path from "../src/internal/path.js"
import { mockLayer, serverInfo } from "./helpers.js"

const validate = (kind: Path.NameKind, value: unknown) => Effect.runSync(Effect.either(Path.validate(kind, value)))

describe("name validation", () => {
  it("instance names follow LXD's hostname rules", () => {
    for (const ok of ["c1", "web-1", "A", "a".repeat(63)]) expect(validate("instance", ok)._tag).toBe("Right")
    for (const bad of ["", "../x", "a/b", "a b", "1abc", "-a", "a-", "a".repeat(64), "é", "a.b", 7, null]) {
      const r = validate("instance", bad)
      expect(r._tag, JSON.stringify(bad)).toBe("Left")
      if (r._tag === "Left") expect(r.left._tag).toBe("InvalidArgument")
    }
  })

  it("generic names refuse '/', '.', '..', control characters", () => {
    for (const bad of ["", "/", "..", ".", "a/b", "a\nb", "x\u0000"]) expect(validate("profile", bad)._tag).toBe("Left")
    expect(validate("profile", "my profile")._tag).toBe("Left")
    expect(validate("image alias", "ubuntu/22.04")._tag).toBe("Left")
    expect(validate("image alias", "busybox 1")._tag).toBe("Right")
  })

  it("network names and the names below them follow LXD's rules", () => {
    const cases: ReadonlyArray<readonly [Path.NameKind, ReadonlyArray<string>, ReadonlyArray<string>]> = [
      ["network", ["lxdbr0", "br+0", "a".repeat(15)], ["a".repeat(16), "br 0", "br:0"]],
      // LXD's acl.ValidName: ACL names stand beside addresses in rules
      ["network acl", ["web-ssh", "web+ssh", "A_1"], ["has.dot", "a:b", "a,b", "a b", "@internal", "%x"]],
      ["network zone", ["example.net", "net-213.example"], ["under_score.example", "a b", "é.example"]],
      ["network zone record", ["www", "w+w", "@"], ["two words"]],
      ["network peer", ["to-ovn2"], ["two words"]],
      ["listen address", ["10.213.0.200", "fd42:213::10", "::1"], ["not an address", "10.0.0.1%eth0", "host.example"]]
    ]
    for (const [kind, good, bad] of cases) {
      for (const ok of good) expect(validate(kind, ok)._tag, `${kind} ${ok}`).toBe("Right")
      for (const no of bad) expect(validate(kind, no)._tag, `${kind} ${no}`).toBe("Left")
    }
  })

  it("the error says which rule broke", () => {
    const r = validate("instance", "1abc")
    if (r._tag === "Left") {
      expect(r.left.message).toBe("Invalid instance name \"1abc\": must not start with a digit or a dash")
    }
  })

  it("segments are percent-encoded", () => {
    const p = Effect.runSync(Path.build("/images/aliases/", ["image alias", "a b?c#d%"]))
    expect(p).toBe("/images/aliases/a%20b%3Fc%23d%25")
  })

  it("URLs decode to names; sub-paths go before the query", () => {
    expect(Path.lastSegment("/1.0/instances/web%201?project=p")).toBe("web 1")
    expect(Path.lastSegment("/1.0/instances/%zz")).toBeUndefined()
    expect(Path.splitUrl("/1.0/operations/abc?project=p&x=1")).toEqual({
      path: "/operations/abc",
      query: { project: "p", x: "1" }
    })
    expect(Path.splitUrl("/1.0")).toEqual({ path: "", query: {} })
  })
})

const requests = Effect.flatMap(LxdMockTransport.MockTransport, (m) => m.requests)

describe("bad input never reaches the server", () => {
  const refusing = mockLayer({ handle: () => Effect.die("no request expected") })

  it.effect("invalid fingerprints and operation ids fail with InvalidArgument", () =>
    Effect.gen(function*() {
      const certs = yield* Certificates.Certificates
      const ops = yield* Operations.Operations
      expect((yield* Effect.flip(certs.get("../../etc")))._tag).toBe("InvalidArgument")
      expect((yield* Effect.flip(certs.delete("zz")))._tag).toBe("InvalidArgument")
      expect((yield* Effect.flip(ops.cancel("a/b")))._tag).toBe("InvalidArgument")
      expect((yield* Effect.flip(certs.create({ certificate: "not a cert!" })))._tag).toBe("InvalidArgument")
      expect(yield* requests).toEqual([])
    }).pipe(Effect.provide(refusing)))
})

describe("certificates", () => {
  const pem = "-----BEGIN CERTIFICATE-----\nQUJD\nREVG\n-----END CERTIFICATE-----\n"

  it.effect("PEM becomes base64 DER without headers or newlines", () =>
    Effect.gen(function*() {
      expect(yield* Certificates.pemToBase64Der(pem)).toBe("QUJDREVG")
      // not base64 in whole quads: refused (LXD would answer 400)
      for (const bad of ["x", "QUJDREV", "-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----"]) {
        expect((yield* Effect.flip(Certificates.pemToBase64Der(bad)))._tag).toBe("InvalidArgument")
      }
    }))

  it.effect("create sends base64 DER and returns the fingerprint from Location", () =>
    Effect.gen(function*() {
      const certs = yield* Certificates.Certificates
      const fp = yield* certs.create({ certificate: pem, name: "ci", restricted: true, projects: ["p1"] })
      expect(fp).toBe("abcdef")
      const [r] = yield* requests
      expect(r!.body).toEqual({
        type: "client",
        certificate: "QUJDREVG",
        name: "ci",
        restricted: true,
        projects: ["p1"]
      })
    }).pipe(Effect.provide(mockLayer({
      handle: () => Effect.succeed(LxdMockTransport.sync(null, { location: "/1.0/certificates/abcdef" }))
    }))))

  it.effect("createToken builds the token lxc prints from the token operation", () =>
    Effect.gen(function*() {
      const certs = yield* Certificates.Certificates
      const token = yield* certs.createToken({ name: "laptop" })
      expect(token.secret).toBe("s3cret")
      expect(token.operationId).toBe("tok1")
      expect(JSON.parse(atob(token.token))).toEqual({
        client_name: "laptop",
        fingerprint: "ff",
        addresses: ["127.0.0.1:8443"],
        secret: "s3cret",
        expires_at: "2026-12-01T00:00:00Z"
      })
    }).pipe(Effect.provide(mockLayer({
      routes: [
        LxdMockTransport.route("GET", "", () => Effect.succeed(LxdMockTransport.sync(serverInfo()))),
        LxdMockTransport.route("POST", "/certificates", () =>
          Effect.succeed(LxdMockTransport.async(LxdMockTransport.operation("tok1", {
            class: "token",
            metadata: {
              request: { name: "laptop", type: "client", token: true },
              fingerprint: "ff",
              addresses: ["127.0.0.1:8443"],
              secret: "s3cret",
              expiresAt: "2026-12-01T00:00:00Z"
            }
          }))))
      ]
    }))))
})

/**
 * The lazily loaded dependencies are the ones an import gives: undici's `Agent` and `buildConnector` from their own
 * files are the index's (one module cache), so the request API `@effect/platform-node` adds to undici's
 * `Dispatcher.prototype` reaches the transport's agent; and each loader loads once.
 */
import { describe, expect, it } from "@effect/vitest"
import { createRequire } from "node:module"
import * as Lazy from "../src/internal/lazy.js"

const require = createRequire(import.meta.url)

describe("internal/lazy", () => {
  it("undici's Agent and buildConnector are the index's", () => {
    const undici = require("undici") as typeof import("undici")
    expect(Lazy.undiciAgent()).toBe(undici.Agent)
    expect(Lazy.undiciBuildConnector()).toBe(undici.buildConnector)
    // the request API of undici's index is on the agent the transport builds
    expect(typeof new (Lazy.undiciAgent())().request).toBe("function")
  })

  it("ws, yaml and @peculiar/asn1-* are the packages, loaded once", () => {
    expect(Lazy.ws()).toBe(require("ws"))
    expect(Lazy.ws().WebSocket).toBe(require("ws").WebSocket)
    expect(Lazy.yaml()).toBe(require("yaml"))
    expect(Lazy.yaml().parse("a: 1")).toEqual({ a: 1 })
    expect(Lazy.asn1Schema()).toBe(require("@peculiar/asn1-schema"))
    expect(Lazy.asn1X509()).toBe(require("@peculiar/asn1-x509"))
    expect(Lazy.asn1X509()).toBe(Lazy.asn1X509())
  })
})

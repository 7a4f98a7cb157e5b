/**
 * The package's CommonJS dependencies, each loaded on its first use instead of when `@effect-lxd/node` is
 * imported: a script that talks to the unix socket never loads `ws`, `yaml` or `@peculiar/asn1-*`, and loads of
 * undici only its `Agent` (undici's index loads fetch, cookies, caches, mocks and websockets: ~150 ms of a cold
 * start). `require` keeps every caller synchronous; the modules are the ones an `import` would give (Node's
 * `import` of a CommonJS package is its `require`).
 *
 * @internal
 */
import type * as Asn1Schema from "@peculiar/asn1-schema"
import type * as Asn1X509 from "@peculiar/asn1-x509"
import { createRequire } from "node:module"
import type * as Undici from "undici"
import type * as WS from "ws"
import type * as Yaml from "yaml"

const once = <A>(f: () => A): () => A => {
  let value: A | undefined
  return () => (value ??= f())
}

/** `require` relative to this module, made on first use (nothing runs at import). */
const requireHere = once(() => createRequire(import.meta.url))
const load = (id: string): unknown => requireHere()(id)

/**
 * A part of undici from its own file when that is where undici keeps it (undici 6 and 7), else from its index: the
 * same value either way (one module cache), so `Dispatcher.prototype`'s request API is on the `Agent` once
 * anything loads undici's index (`@effect/platform-node`'s client does).
 */
const undiciPart = <K extends "Agent" | "buildConnector">(file: string, name: K): () => typeof Undici[K] =>
  once(() => {
    try {
      const part = load(`undici/${file}`) as unknown
      if (typeof part === "function") return part as typeof Undici[K]
    } catch {
      // another layout: the index has it
    }
    return undici()[name]
  })

/**
 * undici's `Agent` (both transports' HTTP).
 *
 * @internal
 */
export const undiciAgent: () => typeof Undici.Agent = undiciPart("lib/dispatcher/agent.js", "Agent")

/**
 * undici's `buildConnector` (the HTTPS transport's TLS connector).
 *
 * @internal
 */
export const undiciBuildConnector: () => typeof Undici.buildConnector = undiciPart(
  "lib/core/connect.js",
  "buildConnector"
)

/**
 * undici's index: loaded before `@effect/platform-node`'s client is made on an `Agent` of ours, so that this copy
 * of undici has its request API on `Dispatcher.prototype` even where the client resolves another copy.
 *
 * @internal
 */
export const undici: () => typeof Undici = once(() => load("undici") as typeof Undici)

/** @internal */
export const ws: () => typeof WS = once(() => load("ws") as typeof WS)

/** @internal */
export const yaml: () => typeof Yaml = once(() => load("yaml") as typeof Yaml)

/** @internal */
export const asn1Schema: () => typeof Asn1Schema = once(() => load("@peculiar/asn1-schema") as typeof Asn1Schema)

/** @internal */
export const asn1X509: () => typeof Asn1X509 = once(() => load("@peculiar/asn1-x509") as typeof Asn1X509)

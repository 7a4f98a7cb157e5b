/**
 * What every route of the fake answers with: envelopes, the request's project and body, config maps, ETags.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as M from "../LxdMockTransport.js"
import { hash, type Json } from "./fakeCore.js"

/** @internal */
export type Route = M.Route<M.Handler>

/** A sync answer. @internal */
export const ok = (metadata: unknown, options?: { readonly etag?: string; readonly location?: string }) =>
  Effect.succeed(M.sync(metadata, options))

/** An error answer. @internal */
export const fail = (status: number, message: string) => Effect.succeed(M.error(status, message))

/** The project a request names (`default` when it names none). @internal */
export const projectOf = (r: M.MockRequest): string => r.query.project ?? "default"

/** Whether a value is a JSON object (not an array, not `null`). @internal */
export const isObject = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)

/** The request's JSON object body (`{}` when it is none). @internal */
export const body = (r: M.MockRequest): Json => isObject(r.body) ? r.body : {}

/** A map of strings. @internal */
export const strMap = (u: unknown): Record<string, string> => {
  const out: Record<string, string> = {}
  if (typeof u === "object" && u !== null) { for (const [k, v] of Object.entries(u)) out[k] = String(v) }
  return out
}

/** Devices: a map of string maps. @internal */
export const devMap = (u: unknown): Record<string, Record<string, string>> => {
  const out: Record<string, Record<string, string>> = {}
  if (typeof u === "object" && u !== null) { for (const [k, v] of Object.entries(u)) out[k] = strMap(v) }
  return out
}

/** PATCH semantics for config maps: keys merge, `""` unsets. @internal */
export const mergeConfig = (target: Record<string, string>, patch: unknown) => {
  for (const [k, v] of Object.entries(strMap(patch))) {
    if (v === "") delete target[k]
    else target[k] = v
  }
}

/** The ETag of an object: a hash of its writable part. @internal */
export const etagOf = (writable: unknown) => `"${hash(JSON.stringify(writable))}"`

/** LXD's 412 when `If-Match` names another version of `writable`, else `undefined`. @internal */
export const staleEtag = (r: M.MockRequest, writable: unknown) => {
  const ifMatch = r.headers["if-match"]
  if (ifMatch === undefined || ifMatch === "") return undefined
  const strip = (s: string) => s.replace(/^"|"$/g, "")
  const current = strip(etagOf(writable))
  return strip(ifMatch) === current ? undefined : fail(412, `ETag doesn't match: ${current} vs ${strip(ifMatch)}`)
}

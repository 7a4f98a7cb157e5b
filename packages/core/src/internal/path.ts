/**
 * Name validation and path building. Every name that goes into a URL path is checked against LXD's rules and
 * percent-encoded, so a bad name fails with `InvalidArgument` before any request is sent.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import { InvalidArgument, ProtocolError } from "../LxdError.js"
import type * as LxdResource from "../LxdResource.js"
import { excerpt } from "./bounded.js"

/** @internal */
export type NameKind = LxdResource.NameKind

const invalid = (argument: string, value: unknown, reason: string) =>
  Effect.fail(new InvalidArgument({ argument, value, reason }))

// eslint-disable-next-line no-control-regex
const controlChars = /[\u0000-\u001f\u007f]/

/**
 * Rules shared by every name: a string, not empty, no `/`, not `.` or `..`, no control characters.
 *
 * @internal
 */
export const checkSegment = (kind: NameKind, value: unknown): string | undefined => {
  if (typeof value !== "string") return "must be a string"
  if (value.length === 0) return "must not be empty"
  if (value.includes("/")) return "must not contain '/'"
  if (value === "." || value === "..") return "must not be '.' or '..'"
  if (controlChars.test(value)) return "must not contain control characters"
  if (kind !== "name" && value.length > 255) return "must be at most 255 characters"
  return undefined
}

const hostname = /^[a-zA-Z0-9-]+$/

/**
 * LXD's instance name rules (`instance.ValidName`): 1 to 63 letters, digits and dashes, not starting with a digit
 * or dash, not ending with a dash.
 *
 * @internal
 */
export const checkInstanceName = (value: unknown): string | undefined => {
  const base = checkSegment("instance", value)
  if (base !== undefined) return base
  const name = value as string
  if (name.length > 63) return "must be at most 63 characters"
  if (!hostname.test(name)) return "may contain only letters, digits and dashes"
  if (/^[0-9-]/.test(name)) return "must not start with a digit or a dash"
  if (name.endsWith("-")) return "must not end with a dash"
  return undefined
}

const hex = /^[a-fA-F0-9]+$/

const checks: Record<NameKind, (value: unknown) => string | undefined> = {
  instance: checkInstanceName,
  snapshot: (v) => checkSegment("snapshot", v) ?? (/\s/.test(v as string) ? "must not contain spaces" : undefined),
  project: (v) =>
    checkSegment("project", v) ??
      (/[\s*]/.test(v as string) ? "must not contain spaces or '*'" : undefined),
  profile: (v) => checkSegment("profile", v) ?? (/\s/.test(v as string) ? "must not contain spaces" : undefined),
  network: (v) =>
    checkSegment("network", v) ??
      ((v as string).length > 15 ? "must be at most 15 characters (an interface name)" : undefined) ??
      (/[\s:]/.test(v as string) ? "must not contain spaces or ':'" : undefined),
  // LXD's `acl.ValidName`: no ':' ',' '.' or spaces (rules name ACLs beside addresses), no '@'/'%' first
  "network acl": (v) =>
    checkSegment("network acl", v) ??
      (/[\s:,.]/.test(v as string) ? "must not contain spaces, ':', ',' or '.'" : undefined) ??
      (/^[@%]/.test(v as string) ? "must not start with '@' or '%'" : undefined),
  // a DNS domain name
  "network zone": (v) =>
    checkSegment("network zone", v) ??
      (/^[a-zA-Z0-9.-]+$/.test(v as string) ? undefined : "may contain only letters, digits, '.' and '-'"),
  "network zone record": (v) =>
    checkSegment("network zone record", v) ?? (/\s/.test(v as string) ? "must not contain spaces" : undefined),
  "network peer": (v) =>
    checkSegment("network peer", v) ?? (/\s/.test(v as string) ? "must not contain spaces" : undefined),
  // the IPv4 or IPv6 address a forward or a load balancer listens on
  "listen address": (v) =>
    checkSegment("listen address", v) ??
      (/^[0-9a-fA-F:.]+$/.test(v as string) ? undefined : "must be an IPv4 or IPv6 address"),
  "storage pool": (v) =>
    checkSegment("storage pool", v) ?? (/\s/.test(v as string) ? "must not contain spaces" : undefined),
  "storage volume": (v) =>
    checkSegment("storage volume", v) ?? (/\s/.test(v as string) ? "must not contain spaces" : undefined),
  "storage volume type": (v) =>
    checkSegment("storage volume type", v) ??
      (/^[a-z-]+$/.test(v as string) ? undefined : "must be a volume type (custom, container, virtual-machine, image)"),
  "image alias": (v) => checkSegment("image alias", v),
  fingerprint: (v) =>
    checkSegment("fingerprint", v) ?? (hex.test(v as string) ? undefined : "must be a hexadecimal fingerprint"),
  "certificate fingerprint": (v) =>
    checkSegment("certificate fingerprint", v) ??
      (hex.test(v as string) ? undefined : "must be a hexadecimal fingerprint"),
  backup: (v) => checkSegment("backup", v) ?? (/\s/.test(v as string) ? "must not contain spaces" : undefined),
  "cluster member": (v) => checkSegment("cluster member", v),
  // LXD: "Cluster group names may not contain spaces" (nor slashes)
  "cluster group": (v) =>
    checkSegment("cluster group", v) ?? (/\s/.test(v as string) ? "must not contain spaces" : undefined),
  "warning id": (v) =>
    checkSegment("warning id", v) ??
      (/^[a-zA-Z0-9-]+$/.test(v as string) ? undefined : "must be a warning UUID"),
  "operation id": (v) =>
    checkSegment("operation id", v) ??
      (/^[a-zA-Z0-9-]+$/.test(v as string) ? undefined : "must be an operation UUID"),
  name: (v) => checkSegment("name", v)
}

/**
 * Validates a name of the given kind; fails with `InvalidArgument` naming the rule it broke.
 *
 * @internal
 */
export const validate = (kind: NameKind, value: unknown): Effect.Effect<string, InvalidArgument> => {
  const reason = checks[kind](value)
  return reason === undefined ? Effect.succeed(value as string) : invalid(`${kind} name`, value, reason)
}

/**
 * Percent-encodes one path segment.
 *
 * @internal
 */
export const encode = (segment: string): string => encodeURIComponent(segment)

/**
 * Validates and encodes names into a path: `path("/instances/", ["instance", name], "/snapshots/", ["snapshot", s])`.
 *
 * @internal
 */
export const build = (
  ...parts: ReadonlyArray<string | readonly [NameKind, unknown]>
): Effect.Effect<string, InvalidArgument> => {
  let out = ""
  for (const part of parts) {
    if (typeof part === "string") {
      out += part
      continue
    }
    const reason = checks[part[0]](part[1])
    if (reason !== undefined) return invalid(`${part[0]} name`, part[1], reason)
    out += encode(part[1] as string)
  }
  return Effect.succeed(out)
}

/**
 * The last path segment of an LXD URL (`/1.0/instances/web1?project=p` → `web1`), decoded; `undefined` when it
 * is not properly percent-encoded (`%zz`), as `decodeURIComponent` would throw.
 *
 * @internal
 */
export const lastSegment = (url: string): string | undefined => {
  const q = url.indexOf("?")
  const p = q === -1 ? url : url.slice(0, q)
  const slash = p.lastIndexOf("/")
  try {
    return decodeURIComponent(slash === -1 ? p : p.slice(slash + 1))
  } catch {
    return undefined
  }
}

/**
 * The `ProtocolError` for a URL in an answer that is not properly percent-encoded, naming the URL (an excerpt).
 *
 * @internal
 */
export const badUrl = (request: { readonly method: string; readonly path: string }, url: string): ProtocolError =>
  new ProtocolError({
    method: request.method,
    path: "/1.0" + request.path,
    description: `a URL in the answer is not properly percent-encoded: ${JSON.stringify(excerpt(url, 256))}`
  })

/**
 * The name in an LXD URL ({@link lastSegment}), or {@link badUrl}'s `ProtocolError`.
 *
 * @internal
 */
export const nameFromUrl = (
  request: { readonly method: string; readonly path: string },
  url: string
): Effect.Effect<string, ProtocolError> => {
  const name = lastSegment(url)
  return name === undefined ? Effect.fail(badUrl(request, url)) : Effect.succeed(name)
}

/**
 * The names in LXD URLs (`/1.0/profiles/p1?project=x` → `p1`), or {@link badUrl}'s `ProtocolError` for the first
 * one that is not properly percent-encoded.
 *
 * @internal
 */
export const namesFromUrls = (
  request: { readonly method: string; readonly path: string },
  urls: ReadonlyArray<string>
): Effect.Effect<ReadonlyArray<string>, ProtocolError> => {
  const out: Array<string> = []
  for (const url of urls) {
    const name = lastSegment(url)
    if (name === undefined) return Effect.fail(badUrl(request, url))
    out.push(name)
  }
  return Effect.succeed(out)
}

/**
 * Splits an LXD URL into its path below `/1.0` and its query, so sub-paths go before the `?`
 * (`/1.0/operations/x?project=p` + `/wait` → `/operations/x/wait`, `{ project: "p" }`).
 *
 * @internal
 */
export const splitUrl = (url: string): { readonly path: string; readonly query: Record<string, string> } => {
  const q = url.indexOf("?")
  let p = q === -1 ? url : url.slice(0, q)
  if (p.startsWith("/1.0/")) p = p.slice(4)
  else if (p === "/1.0") p = ""
  const query: Record<string, string> = {}
  if (q !== -1) {
    for (const [k, v] of new URLSearchParams(url.slice(q + 1))) query[k] = v
  }
  return { path: p, query }
}

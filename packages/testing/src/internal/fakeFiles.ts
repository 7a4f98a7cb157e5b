/**
 * The fake's file API (`/1.0/instances/{name}/files?path=…`) on each instance's in-memory filesystem, answering
 * as LXD 5.0.2 does (checked against the lab daemon):
 *
 * - `GET`: a file's bytes (`application/octet-stream`), a directory's entry names in a sync envelope, or a
 *   symlink's target made absolute and cleaned; `X-LXD-type/uid/gid/mode/modified` headers on all three. `HEAD`
 *   gives the headers only. The last path component is not followed unless the path ends with `/`.
 * - `POST` `X-LXD-type: file` writes through a symlink; `X-LXD-write: append` needs an existing file;
 *   `directory` succeeds on any existing path; `symlink` fails on an existing one. uid/gid/mode (Go
 *   `ParseInt(s, 0, 0)`: `0644` is octal, `644` decimal) apply only on creation, special bits are dropped.
 *   Without `Content-Type: application/octet-stream` the body is lost (LXD parses it as a form): an empty file,
 *   and a symlink create answers 404.
 * - `DELETE` removes a file, a symlink or an empty directory.
 * - Errors: a missing instance → 404 `Instance not found`; a missing path or parent → 404 `Not Found`; no
 *   `path` → 400 `Missing path argument`; what the container's SFTP server refuses → 500
 *   `sftp: "<op> <path>: <reason>" (SSH_FX_FAILURE)`.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as M from "../LxdMockTransport.js"
import { type FakeFile, type FakeInstance, type FakeState, key, now } from "./fakeCore.js"

type Route = M.Route<M.Handler>

const fail = (status: number, message: string) => Effect.succeed(M.error(status, message))
const sftp = (op: string, path: string, reason: string) =>
  fail(500, `sftp: "${op} ${path}: ${reason}" (SSH_FX_FAILURE)`)
const notFound = () => fail(404, "Not Found")

const segments = (p: string) => p.split("/").filter((s) => s !== "" && s !== ".")

/** Lexical clean, like Go's `filepath.Clean` on an absolute path. */
const clean = (p: string): string => {
  const out: Array<string> = []
  for (const s of segments(p)) {
    if (s === "..") out.pop()
    else out.push(s)
  }
  return "/" + out.join("/")
}

const dirname = (p: string): string => {
  const i = p.lastIndexOf("/")
  return i <= 0 ? "/" : p.slice(0, i)
}

type Lookup =
  | { readonly status: "ok"; readonly path: string; readonly entry: FakeFile | undefined }
  | { readonly status: "missing" }
  | { readonly status: "notdir" }

/** Resolves a path, following symlinks in the middle (and at the end when `followLast`). */
const lookup = (files: Map<string, FakeFile>, path: string, followLast: boolean): Lookup => {
  let todo = segments(path)
  let current: Array<string> = []
  let hops = 0
  while (todo.length > 0) {
    const name = todo.shift()!
    if (name === "..") {
      current.pop()
      continue
    }
    const next = "/" + [...current, name].join("/")
    const entry = files.get(next)
    const last = todo.length === 0
    if (entry === undefined) return last ? { status: "ok", path: next, entry: undefined } : { status: "missing" }
    if (entry.type === "symlink" && (!last || followLast)) {
      if (++hops > 40) return { status: "missing" }
      if (entry.target.startsWith("/")) current = []
      todo = [...segments(entry.target), ...todo]
      continue
    }
    if (!last && entry.type !== "directory") return { status: "notdir" }
    current.push(name)
  }
  const p = "/" + current.join("/")
  return { status: "ok", path: p, entry: files.get(p) }
}

/** Go's `strconv.ParseInt(s, 0, 0)`: `0x` hex, `0o`/leading-0 octal, else decimal; -1 when unreadable. */
const parseGoInt = (s: string | undefined): number => {
  if (s === undefined || s.trim() === "") return -1
  const m = /^([+-]?)(0[xX][0-9a-fA-F]+|0[oO]?[0-7]+|0[bB][01]+|[1-9][0-9]*|0)$/.exec(s.trim())
  if (m === null) return -1
  const sign = m[1] === "-" ? -1 : 1
  const d = m[2]!
  const n = /^0[xX]/.test(d)
    ? Number.parseInt(d.slice(2), 16)
    : /^0[bB]/.test(d)
    ? Number.parseInt(d.slice(2), 2)
    : /^0[oO]/.test(d)
    ? Number.parseInt(d.slice(2), 8)
    : d.length > 1 && d.startsWith("0")
    ? Number.parseInt(d.slice(1), 8)
    : Number.parseInt(d, 10)
  return sign * n
}

/** `2026-11-23T21:01:23.123000000Z` → Go's `2026-11-23 21:01:23 +0000 UTC` (SFTP mtimes are whole seconds). */
const goTime = (iso: string): string => {
  const d = new Date(iso.replace(/(\.\d{3})\d*Z$/, "$1Z"))
  const t = Number.isNaN(d.getTime()) ? new Date() : d
  return `${t.toISOString().slice(0, 10)} ${t.toISOString().slice(11, 19)} +0000 UTC`
}

const headersOf = (entry: FakeFile): Record<string, string> => ({
  "x-lxd-type": entry.type,
  "x-lxd-uid": String(entry.uid),
  "x-lxd-gid": String(entry.gid),
  "x-lxd-mode": "0" + (entry.mode & 0o777).toString(8).padStart(3, "0"),
  "x-lxd-modified": goTime(entry.modified)
})

const childrenOf = (files: Map<string, FakeFile>, dir: string): Array<string> => {
  const out: Array<string> = []
  for (const p of files.keys()) {
    if (p !== "/" && dirname(p) === dir) out.push(p.slice(dir === "/" ? 1 : dir.length + 1))
  }
  return out
}

const touch = (files: Map<string, FakeFile>, dir: string) => {
  const parent = files.get(dir)
  if (parent !== undefined) parent.modified = now()
}

const decoder = new TextDecoder()

/** @internal */
export const fileRoutes = (state: FakeState): Array<Route> => {
  const withTarget = (
    r: M.MockRequest,
    use: (instance: FakeInstance, path: string) => Effect.Effect<M.MockResponse>
  ): Effect.Effect<M.MockResponse> => {
    const instance = state.instances.get(key(r.query.project ?? "default", r.params.name!))
    if (instance === undefined) return fail(404, "Instance not found")
    const path = r.query.path
    if (path === undefined || path === "") return fail(400, "Missing path argument")
    return use(instance, path)
  }

  const read = (head: boolean) => (r: M.MockRequest) =>
    withTarget(r, (instance, path) => {
      const found = lookup(instance.files, path, path.endsWith("/"))
      if (found.status !== "ok" || found.entry === undefined) {
        return head
          ? Effect.succeed({ status: 404, headers: { "content-type": "application/json" }, body: "" })
          : notFound()
      }
      const entry = found.entry
      const headers = headersOf(entry)
      if (head) {
        return Effect.succeed({ status: 200, headers: { "content-type": "application/json", ...headers }, body: "" })
      }
      switch (entry.type) {
        case "directory":
          return Effect.succeed(M.sync(childrenOf(instance.files, found.path), { headers }))
        case "symlink": {
          const target = clean(entry.target.startsWith("/") ? entry.target : `${dirname(found.path)}/${entry.target}`)
          return Effect.succeed(M.raw(target, { headers: { ...headers, "content-length": String(target.length) } }))
        }
        case "file":
          return Effect.succeed(M.raw(entry.content.slice(), {
            headers: { ...headers, "content-length": String(entry.content.length) }
          }))
      }
    })

  const write = (r: M.MockRequest) =>
    withTarget(r, (instance, path) => {
      const files = instance.files
      // LXD parses any other content type as a form, which eats the body
      const octet = (r.headers["content-type"] ?? "").startsWith("application/octet-stream")
      const bytes = octet ? (r.bytes ?? new Uint8Array(0)) : new Uint8Array(0)
      const type = r.headers["x-lxd-type"] ?? "file"
      const uid = parseGoInt(r.headers["x-lxd-uid"])
      const gid = parseGoInt(r.headers["x-lxd-gid"])
      const mode = parseGoInt(r.headers["x-lxd-mode"])
      const owner = { uid: uid >= 0 ? uid : 0, gid: gid >= 0 ? gid : 0 }
      switch (type) {
        case "directory": {
          const found = lookup(files, path, false)
          if (found.status === "missing") return notFound()
          if (found.status === "notdir") return sftp("mkdir", path, "not a directory")
          if (found.entry === undefined) {
            files.set(found.path, {
              type: "directory",
              ...owner,
              mode: (mode >= 0 ? mode : 0o750) & 0o777,
              modified: now()
            })
            touch(files, dirname(found.path))
          }
          return Effect.succeed(M.sync({}))
        }
        case "symlink": {
          if (!octet) return notFound()
          const target = decoder.decode(bytes)
          const found = lookup(files, path, false)
          if (found.status === "missing") return notFound()
          if (found.status === "notdir") return sftp("symlink", `${target} ${path}`, "not a directory")
          if (found.entry !== undefined) return sftp("symlink", `${target} ${path}`, "file exists")
          files.set(found.path, { type: "symlink", target, uid: 0, gid: 0, mode: 0o777, modified: now() })
          touch(files, dirname(found.path))
          return Effect.succeed(M.sync({}))
        }
        case "file": {
          const append = r.headers["x-lxd-write"] === "append"
          const found = lookup(files, path, true)
          if (found.status === "missing") return notFound()
          if (found.status === "notdir") return sftp("open", path, "not a directory")
          const entry = found.entry
          if (entry?.type === "directory") return sftp("open", path, "is a directory")
          if (entry === undefined) {
            if (append) return notFound()
            files.set(found.path, {
              type: "file",
              content: bytes.slice(),
              ...owner,
              mode: (mode >= 0 ? mode : 0o644) & 0o777,
              modified: now()
            })
            touch(files, dirname(found.path))
          } else if (entry.type === "file") {
            if (append) {
              const out = new Uint8Array(entry.content.length + bytes.length)
              out.set(entry.content)
              out.set(bytes, entry.content.length)
              entry.content = out
            } else {
              entry.content = bytes.slice()
            }
            entry.modified = now()
          }
          return Effect.succeed(M.sync({}))
        }
        default:
          return fail(400, `Bad file type: ${type}`)
      }
    })

  const remove = (r: M.MockRequest) =>
    withTarget(r, (instance, path) => {
      const files = instance.files
      const found = lookup(files, path, false)
      if (found.status !== "ok" || found.entry === undefined) return notFound()
      if (found.entry.type === "directory" && childrenOf(files, found.path).length > 0) {
        return sftp("remove", path, "directory not empty")
      }
      files.delete(found.path)
      touch(files, dirname(found.path))
      return Effect.succeed(M.sync({}))
    })

  return [
    M.route("GET", "/instances/:name/files", read(false)),
    M.route("HEAD", "/instances/:name/files", read(true)),
    M.route("POST", "/instances/:name/files", write),
    M.route("DELETE", "/instances/:name/files", remove)
  ]
}

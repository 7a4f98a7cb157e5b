import { Files, LxdClient } from "@effect-lxd/core"
import { LxdMockTransport } from "@effect-lxd/testing"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, DateTime, Effect, Stream } from "effect"
import { mockLayer, serverInfo } from "./helpers.js"

const { sync, error, route, raw, json } = LxdMockTransport

const FILE_EXTENSIONS = ["file_delete", "file_append", "file_symlinks", "file_get_symlink", "instance_file_head"]

const recorded = Effect.flatMap(LxdMockTransport.MockTransport, (m) => m.requests)
/** Requests other than `GET /1.0` (the cached extension check). */
const fileRequests = Effect.map(recorded, (rs) => rs.filter((r) => r.path !== ""))
const urls = Effect.map(fileRequests, (rs) => rs.map((r) => `${r.method} ${r.url}`))

const lxdHeaders = (type: string, extra: Record<string, string> = {}) => ({
  "x-lxd-type": type,
  "x-lxd-uid": "5",
  "x-lxd-gid": "6",
  "x-lxd-mode": "0640",
  "x-lxd-modified": "2026-11-23 21:01:23 +0000 UTC",
  ...extra
})

const dirAnswer = (names: unknown, headers = lxdHeaders("directory", { "x-lxd-mode": "0755" })) =>
  json(
    { type: "sync", status: "Success", status_code: 200, operation: "", error_code: 0, error: "", metadata: names },
    200,
    headers
  )

const layer = (
  routes: ReadonlyArray<LxdMockTransport.Route<LxdMockTransport.Handler>>,
  extensions: ReadonlyArray<string> = FILE_EXTENSIONS
) => mockLayer({ routes: [route("GET", "", () => Effect.succeed(sync(serverInfo(extensions)))), ...routes] })

const ok = () => Effect.succeed(sync({}))
const files = Files.Files

describe("put", () => {
  it.effect("sends the content as application/octet-stream with type, write mode, octal mode, uid and gid", () =>
    Effect.gen(function*() {
      const f = yield* files
      yield* f.put("c1", "/tmp/a b&c%d.txt", "hello", { mode: 0o644, uid: 1000, gid: 100 })
      const [r] = yield* fileRequests
      expect(r!.method).toBe("POST")
      expect(r!.path).toBe("/instances/c1/files")
      expect(r!.url).toBe("/1.0/instances/c1/files?path=%2Ftmp%2Fa%20b%26c%25d.txt")
      expect(r!.query.path).toBe("/tmp/a b&c%d.txt")
      expect(r!.headers["content-type"]).toBe("application/octet-stream")
      expect(r!.headers["x-lxd-type"]).toBe("file")
      expect(r!.headers["x-lxd-write"]).toBe("overwrite")
      expect(r!.headers["x-lxd-mode"]).toBe("0644")
      expect(r!.headers["x-lxd-uid"]).toBe("1000")
      expect(r!.headers["x-lxd-gid"]).toBe("100")
      expect(new TextDecoder().decode(r!.bytes)).toBe("hello")
    }).pipe(Effect.provide(layer([route("POST", "/instances/:name/files", ok)]))))

  it.effect("upload without a transport upload path: fill's bytes go as put sends a stream", () =>
    Effect.gen(function*() {
      const f = yield* files
      const source = new TextEncoder().encode("0123456789")
      let at = 0
      const fill = (buffer: Uint8Array) =>
        Effect.sync(() => {
          const n = Math.min(3, buffer.length, source.length - at) // short reads, as a file may give
          buffer.set(source.subarray(at, at + n))
          at += n
          return n
        })
      yield* f.upload("c1", "/tmp/a", source.length, fill, { mode: 0o600 })
      const [r] = yield* fileRequests
      expect(r!.headers["x-lxd-mode"]).toBe("0600")
      expect(r!.headers["content-type"]).toBe("application/octet-stream")
      expect(new TextDecoder().decode(r!.bytes)).toBe("0123456789")
      const short = yield* Effect.flip(f.upload("c1", "/tmp/a", 20, () => Effect.succeed(0)))
      expect(short._tag).toBe("InvalidArgument")
      const bad = yield* Effect.flip(f.upload("c1", "/tmp/a", -1, () => Effect.succeed(0)))
      expect(bad._tag).toBe("InvalidArgument")
    }).pipe(Effect.provide(layer([route("POST", "/instances/:name/files", ok)]))))

  it.effect("leaves out the headers of options not given", () =>
    Effect.gen(function*() {
      yield* (yield* files).put("c1", "/tmp/a", new Uint8Array([1, 2, 3]))
      const [r] = yield* fileRequests
      expect(r!.headers["x-lxd-mode"]).toBeUndefined()
      expect(r!.headers["x-lxd-uid"]).toBeUndefined()
      expect(r!.headers["x-lxd-gid"]).toBeUndefined()
      expect(r!.headers["content-type"]).toBe("application/octet-stream")
      expect([...r!.bytes!]).toEqual([1, 2, 3])
    }).pipe(Effect.provide(layer([route("POST", "/instances/:name/files", ok)]))))

  it("formats modes as octal with a leading 0", () => {
    expect(Files.formatMode(0o644)).toBe("0644")
    expect(Files.formatMode(0o755)).toBe("0755")
    expect(Files.formatMode(0o1777)).toBe("01777")
    expect(Files.formatMode(0o7)).toBe("0007")
    expect(Files.formatMode(0)).toBe("0000")
  })

  it.effect("refuses a bad mode, uid or gid before sending anything", () =>
    Effect.gen(function*() {
      const f = yield* files
      for (const options of [{ mode: 0o10000 }, { mode: -1 }, { mode: 1.5 }, { uid: -1 }, { gid: 2 ** 32 }]) {
        const e = yield* Effect.flip(f.put("c1", "/tmp/a", "x", options))
        expect(e._tag).toBe("InvalidArgument")
      }
      const w = yield* Effect.flip(f.put("c1", "/tmp/a", "x", { writeMode: "truncate" as "append" }))
      expect(w._tag).toBe("InvalidArgument")
      expect(yield* recorded).toEqual([])
    }).pipe(Effect.provide(layer([]))))

  it.effect("streams a Stream body (chunked, or with Content-Length when the size is given)", () =>
    Effect.gen(function*() {
      const f = yield* files
      const enc = new TextEncoder()
      yield* f.put("c1", "/tmp/s", Stream.make(enc.encode("ab"), enc.encode("cd")), { writeMode: "append" })
      yield* f.put("c1", "/tmp/t", Stream.make(enc.encode("xyz")), { size: 3 })
      const [a, b] = yield* fileRequests
      expect(new TextDecoder().decode(a!.bytes)).toBe("abcd")
      expect(a!.headers["x-lxd-write"]).toBe("append")
      expect(a!.headers["content-type"]).toBe("application/octet-stream")
      expect(a!.headers["content-length"]).toBeUndefined()
      expect(b!.headers["content-length"]).toBe("3")
    }).pipe(Effect.provide(layer([route("POST", "/instances/:name/files", ok)]))))

  it.effect("a failure of the caller's stream comes back as it was", () =>
    Effect.gen(function*() {
      const f = yield* files
      class Boom {
        readonly _tag = "Boom"
      }
      const content = Stream.concat(Stream.make(new Uint8Array([1])), Stream.fail(new Boom()))
      const e = yield* Effect.flip(f.put("c1", "/tmp/s", content))
      expect(e._tag).toBe("Boom")
    }).pipe(Effect.provide(layer([route("POST", "/instances/:name/files", ok)]))))

  it.effect("append needs file_append: refused before the write is sent", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip((yield* files).put("c1", "/tmp/a", "x", { writeMode: "append" }))
      expect(e._tag).toBe("APIExtensionNotAvailable")
      expect(e.message).toContain("file_append")
      expect(yield* fileRequests).toEqual([])
    }).pipe(Effect.provide(layer([route("POST", "/instances/:name/files", ok)], ["instance_file_head"]))))

  it.effect("LXD's errors keep their tag and text", () =>
    Effect.gen(function*() {
      const f = yield* files
      const missing = yield* Effect.flip(f.put("c1", "/tmp/no/x", "x"))
      expect(missing._tag).toBe("NotFound")
      expect(missing.message).toBe("Not Found")
      const dir = yield* Effect.flip(f.put("c1", "/tmp", "x"))
      expect(dir._tag).toBe("LxdApiError")
      expect(dir.message).toBe("sftp: \"open /tmp: is a directory\" (SSH_FX_FAILURE)")
    }).pipe(Effect.provide(layer([
      route("POST", "/instances/:name/files", (r) =>
        Effect.succeed(
          r.query.path === "/tmp"
            ? error(500, "sftp: \"open /tmp: is a directory\" (SSH_FX_FAILURE)")
            : error(404, "Not Found")
        ))
    ]))))
})

describe("paths", () => {
  it.effect("relative paths, NUL bytes, '..' segments and bad instance names are refused with no request", () =>
    Effect.gen(function*() {
      const f = yield* files
      for (const p of ["tmp/a", "", "/tmp/../etc/passwd", "/..", "/tmp/a\u0000b", "./a"]) {
        for (
          const attempt of [f.stat("c1", p), f.get("c1", p), f.put("c1", p, "x"), f.delete("c1", p), f.mkdir("c1", p)]
        ) {
          const e = yield* Effect.flip(attempt)
          expect(e._tag).toBe("InvalidArgument")
          if (e._tag === "InvalidArgument") expect(e.argument).toBe("path")
        }
      }
      for (const name of ["../c1", "c 1", "-c1", ""]) {
        const e = yield* Effect.flip(f.readText(name, "/etc/hostname"))
        expect(e._tag).toBe("InvalidArgument")
      }
      const link = yield* Effect.flip(f.symlink("c1", "/tmp/l", ""))
      expect(link._tag).toBe("InvalidArgument")
      expect(yield* recorded).toEqual([])
    }).pipe(Effect.provide(layer([]))))

  it.effect("'..' inside a name is not a '..' segment; the project goes in the query", () =>
    Effect.gen(function*() {
      const f = yield* files
      yield* f.put("c1", "/tmp/a..b", "x").pipe(LxdClient.withProject("p1"))
      expect(yield* urls).toEqual(["POST /1.0/instances/c1/files?path=%2Ftmp%2Fa..b&project=p1"])
    }).pipe(Effect.provide(layer([route("POST", "/instances/:name/files", ok)]))))
})

describe("stat", () => {
  it.effect("HEAD, with the X-LXD headers parsed (mode octal, modified as a date)", () =>
    Effect.gen(function*() {
      const s = yield* (yield* files).stat("c1", "/tmp/a")
      expect(s.type).toBe("file")
      expect(s.uid).toBe(5)
      expect(s.gid).toBe(6)
      expect(s.mode).toBe(0o640)
      expect(s.modified && DateTime.formatIso(s.modified)).toBe("2026-11-23T21:01:23.000Z")
      expect(yield* urls).toEqual(["HEAD /1.0/instances/c1/files?path=%2Ftmp%2Fa"])
    }).pipe(Effect.provide(layer([
      route("HEAD", "/instances/:name/files", () => Effect.succeed(raw("", { headers: lxdHeaders("file") })))
    ]))))

  it.effect("a fractional modification time and an unknown type are read", () =>
    Effect.gen(function*() {
      const s = yield* (yield* files).stat("c1", "/dev/x")
      expect(s.type).toBe("fifo")
      expect(s.modified && DateTime.formatIso(s.modified)).toBe("2026-11-23T21:01:23.123Z")
    }).pipe(Effect.provide(layer([
      route("HEAD", "/instances/:name/files", () =>
        Effect.succeed(raw("", {
          headers: lxdHeaders("fifo", { "x-lxd-modified": "2026-11-23 22:01:23.123456789 +0100 CET" })
        })))
    ]))))

  it.effect("a 404 to HEAD is NotFound; missing headers are a ProtocolError", () =>
    Effect.gen(function*() {
      const f = yield* files
      const e = yield* Effect.flip(f.stat("c1", "/nope"))
      expect(e._tag).toBe("NotFound")
      const p = yield* Effect.flip(f.stat("c1", "/bare"))
      expect(p._tag).toBe("ProtocolError")
      expect(p.message).toContain("X-LXD-type")
    }).pipe(Effect.provide(layer([
      route("HEAD", "/instances/:name/files", (r) =>
        Effect.succeed(
          r.query.path === "/bare"
            ? raw("")
            : { status: 404, headers: { "content-type": "application/json" }, body: "" }
        ))
    ]))))

  it.effect("without instance_file_head, a GET gives the headers and its body is dropped", () =>
    Effect.gen(function*() {
      const s = yield* (yield* files).stat("c1", "/tmp/a")
      expect(s.mode).toBe(0o640)
      expect(yield* urls).toEqual(["GET /1.0/instances/c1/files?path=%2Ftmp%2Fa"])
    }).pipe(Effect.provide(layer(
      [route("GET", "/instances/:name/files", () => Effect.succeed(raw("content", { headers: lxdHeaders("file") })))],
      ["file_delete"]
    ))))

  it.effect("exists: true, false for a missing path, and a missing instance fails", () =>
    Effect.gen(function*() {
      const f = yield* files
      expect(yield* f.exists("c1", "/tmp/a")).toBe(true)
      expect(yield* f.exists("c1", "/tmp/none")).toBe(false)
      const e = yield* Effect.flip(f.exists("gone", "/tmp/a"))
      expect(e._tag).toBe("NotFound")
      expect(e.message).toBe("Instance not found")
    }).pipe(Effect.provide(layer([
      route("HEAD", "/instances/:name/files", (r) =>
        Effect.succeed(
          r.params.name === "c1" && r.query.path === "/tmp/a"
            ? raw("", { headers: lxdHeaders("file") })
            : { status: 404, headers: {}, body: "" }
        )),
      route("GET", "/instances/:name/files", (r) =>
        Effect.succeed(r.params.name === "c1" ? error(404, "Not Found") : error(404, "Instance not found")))
    ]))))

  it.effect("exists without instance_file_head: one GET answers it (its 404 says what is missing)", () =>
    Effect.gen(function*() {
      const f = yield* files
      expect(yield* f.exists("c1", "/tmp/none")).toBe(false)
      expect(yield* urls).toEqual(["GET /1.0/instances/c1/files?path=%2Ftmp%2Fnone"])
      expect((yield* Effect.flip(f.exists("gone", "/tmp/a"))).message).toBe("Instance not found")
    }).pipe(Effect.provide(layer(
      [route(
        "GET",
        "/instances/:name/files",
        (r) => Effect.succeed(r.params.name === "c1" ? error(404, "Not Found") : error(404, "Instance not found"))
      )],
      ["file_delete"]
    ))))
})

describe("reading", () => {
  const routes = [
    route("GET", "/instances/:name/files", (r) => {
      switch (r.query.path) {
        case "/tmp/a":
          return Effect.succeed(raw("hello world", { headers: lxdHeaders("file", { "content-length": "11" }) }))
        case "/tmp":
          return Effect.succeed(dirAnswer(["a", "l"]))
        case "/empty":
          return Effect.succeed(dirAnswer(null))
        case "/tmp/l":
          return Effect.succeed(raw("/tmp/a", { headers: lxdHeaders("symlink", { "x-lxd-mode": "0777" }) }))
        default:
          return Effect.succeed(error(404, "Not Found"))
      }
    })
  ]

  it.effect("get: stat, size and the content as a stream that can run once", () =>
    Effect.gen(function*() {
      const content = yield* (yield* files).get("c1", "/tmp/a")
      expect(content.stat.mode).toBe(0o640)
      expect(content.size).toBe(11)
      const bytes = Chunk.toArray(yield* Stream.runCollect(content.stream))
      expect(new TextDecoder().decode(Buffer.concat(bytes))).toBe("hello world")
      const again = yield* Effect.flip(Stream.runDrain(content.stream))
      expect(again._tag).toBe("InvalidArgument")
      yield* content.discard // a no-op once read
    }).pipe(Effect.provide(layer(routes))))

  it.effect("download without a transport download path: the body as get reads it, and get's refusals", () =>
    Effect.gen(function*() {
      const f = yield* files
      const chunks: Array<Uint8Array> = []
      const stat = yield* f.download("c1", "/tmp/a", (chunk) => Effect.sync(() => chunks.push(chunk.slice())))
      expect(stat).toMatchObject({ type: "file", mode: 0o640 })
      expect(new TextDecoder().decode(Buffer.concat(chunks))).toBe("hello world")
      const write = () => Effect.die("nothing may be written")
      expect((yield* Effect.flip(f.download("c1", "/tmp", write))).message).toContain("is a directory")
      expect((yield* Effect.flip(f.download("c1", "/tmp/nope", write)))._tag).toBe("NotFound")
      const writeFailed = yield* Effect.flip(f.download("c1", "/tmp/a", () => Effect.fail("disk full" as const)))
      expect(writeFailed).toBe("disk full")
    }).pipe(Effect.provide(layer(routes))))

  it.effect("get on a symlink or a directory is refused, saying what it is", () =>
    Effect.gen(function*() {
      const f = yield* files
      const l = yield* Effect.flip(f.get("c1", "/tmp/l"))
      expect(l._tag).toBe("InvalidArgument")
      expect(l.message).toContain("is a symlink to /tmp/a")
      const d = yield* Effect.flip(f.get("c1", "/tmp"))
      expect(d.message).toContain("is a directory")
    }).pipe(Effect.provide(layer(routes))))

  it.effect("getEntry tells files, directories and symlinks apart; readlink and list", () =>
    Effect.gen(function*() {
      const f = yield* files
      const file = yield* f.getEntry("c1", "/tmp/a")
      expect(file.type).toBe("file")
      if (file.type === "file") yield* file.discard
      const dir = yield* f.getEntry("c1", "/tmp")
      expect(dir).toMatchObject({ type: "directory", entries: ["a", "l"] })
      expect(dir.stat.mode).toBe(0o755)
      expect(yield* f.getEntry("c1", "/tmp/l")).toMatchObject({ type: "symlink", target: "/tmp/a" })
      expect(yield* f.readlink("c1", "/tmp/l")).toBe("/tmp/a")
      expect(yield* f.list("c1", "/tmp")).toEqual(["a", "l"])
      expect(yield* f.list("c1", "/empty")).toEqual([])
      expect((yield* Effect.flip(f.readlink("c1", "/tmp/a")))._tag).toBe("InvalidArgument")
      expect((yield* Effect.flip(f.list("c1", "/tmp/l")))._tag).toBe("InvalidArgument")
    }).pipe(Effect.provide(layer(routes))))

  it.effect("listWithStats: one HEAD per entry", () =>
    Effect.gen(function*() {
      const entries = yield* (yield* files).listWithStats("c1", "/tmp")
      expect(entries.map((e) => [e.name, e.path, e.stat.type])).toEqual([
        ["a", "/tmp/a", "file"],
        ["l", "/tmp/l", "symlink"]
      ])
      expect((yield* urls).filter((u) => u.startsWith("HEAD"))).toHaveLength(2)
    }).pipe(Effect.provide(layer([
      ...routes,
      route("HEAD", "/instances/:name/files", (r) =>
        Effect.succeed(raw("", { headers: lxdHeaders(r.query.path === "/tmp/l" ? "symlink" : "file") })))
    ]))))

  it.effect("readText and readBytes, with maxBytes checked against Content-Length and while reading", () =>
    Effect.gen(function*() {
      const f = yield* files
      expect(yield* f.readText("c1", "/tmp/a")).toBe("hello world")
      expect((yield* f.readBytes("c1", "/tmp/a")).length).toBe(11)
      const e = yield* Effect.flip(f.readText("c1", "/tmp/a", { maxBytes: 5 }))
      expect(e._tag).toBe("InvalidArgument")
      expect(e.message).toContain("11 bytes")
      const chunked = yield* Effect.flip(f.readText("c1", "/chunked", { maxBytes: 5 }))
      expect(chunked._tag).toBe("InvalidArgument")
    }).pipe(Effect.provide(layer([
      route("GET", "/instances/:name/files", (r) =>
        Effect.succeed(raw("hello world", {
          headers: lxdHeaders("file", r.query.path === "/chunked" ? {} : { "content-length": "11" })
        })))
    ]))))

  it.effect("stream: the request is sent when the stream runs", () =>
    Effect.gen(function*() {
      const f = yield* files
      const s = f.stream("c1", "/tmp/a")
      expect(yield* fileRequests).toEqual([])
      const bytes = Chunk.toArray(yield* Stream.runCollect(s))
      expect(new TextDecoder().decode(Buffer.concat(bytes))).toBe("hello world")
      const e = yield* Effect.flip(Stream.runDrain(f.stream("c1", "/tmp/l")))
      expect(e._tag).toBe("InvalidArgument")
    }).pipe(Effect.provide(layer(routes))))

  it.effect("a missing instance and a missing file are both NotFound, with LXD's texts", () =>
    Effect.gen(function*() {
      const f = yield* files
      expect((yield* Effect.flip(f.get("c1", "/nope"))).message).toBe("Not Found")
      expect((yield* Effect.flip(f.get("gone", "/tmp/a"))).message).toBe("Instance not found")
    }).pipe(Effect.provide(layer([
      route("GET", "/instances/:name/files", (r) =>
        Effect.succeed(error(404, r.params.name === "gone" ? "Instance not found" : "Not Found")))
    ]))))
})

describe("mkdir, symlink, delete", () => {
  it.effect("mkdir sends X-LXD-type: directory with mode and owner", () =>
    Effect.gen(function*() {
      yield* (yield* files).mkdir("c1", "/tmp/d", { mode: 0o700, uid: 1, gid: 2 })
      const [r] = yield* fileRequests
      expect(r!.method).toBe("POST")
      expect(r!.headers["x-lxd-type"]).toBe("directory")
      expect(r!.headers["x-lxd-mode"]).toBe("0700")
      expect(r!.headers["x-lxd-uid"]).toBe("1")
      expect(r!.headers["x-lxd-gid"]).toBe("2")
      expect(r!.headers["content-type"]).toBe("application/octet-stream")
    }).pipe(Effect.provide(layer([route("POST", "/instances/:name/files", ok)]))))

  it.effect("mkdir with parents creates the missing ones, top down", () => {
    const existing = new Set(["/", "/tmp"])
    return Effect.gen(function*() {
      yield* (yield* files).mkdir("c1", "/tmp/a/b/c/", { parents: true })
      expect(yield* urls).toEqual([
        "POST /1.0/instances/c1/files?path=%2Ftmp%2Fa%2Fb%2Fc",
        "POST /1.0/instances/c1/files?path=%2Ftmp%2Fa%2Fb",
        "POST /1.0/instances/c1/files?path=%2Ftmp%2Fa",
        "POST /1.0/instances/c1/files?path=%2Ftmp%2Fa%2Fb",
        "POST /1.0/instances/c1/files?path=%2Ftmp%2Fa%2Fb%2Fc"
      ])
      expect([...existing].sort()).toEqual(["/", "/tmp", "/tmp/a", "/tmp/a/b", "/tmp/a/b/c"])
    }).pipe(Effect.provide(layer([
      route("POST", "/instances/:name/files", (r) =>
        Effect.sync(() => {
          const p = r.query.path!
          if (!existing.has(p.slice(0, p.lastIndexOf("/")) || "/")) return error(404, "Not Found")
          existing.add(p)
          return sync({})
        }))
    ])))
  })

  it.effect("mkdir with parents does not recurse when the instance is missing", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip((yield* files).mkdir("gone", "/tmp/a/b", { parents: true }))
      expect(e.message).toBe("Instance not found")
      expect(yield* urls).toHaveLength(1)
    }).pipe(Effect.provide(layer([
      route("POST", "/instances/:name/files", () => Effect.succeed(error(404, "Instance not found")))
    ]))))

  it.effect("symlink sends the target as the body; needs file_symlinks", () =>
    Effect.gen(function*() {
      yield* (yield* files).symlink("c1", "/tmp/l", "../a")
      const [r] = yield* fileRequests
      expect(r!.headers["x-lxd-type"]).toBe("symlink")
      expect(r!.headers["content-type"]).toBe("application/octet-stream")
      expect(new TextDecoder().decode(r!.bytes)).toBe("../a")
    }).pipe(Effect.provide(layer([route("POST", "/instances/:name/files", ok)]))))

  it.effect("symlink without file_symlinks is refused before the request", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip((yield* files).symlink("c1", "/tmp/l", "/a"))
      expect(e._tag).toBe("APIExtensionNotAvailable")
      expect(yield* fileRequests).toEqual([])
    }).pipe(Effect.provide(layer([], []))))

  it.effect("delete sends DELETE; needs file_delete", () =>
    Effect.gen(function*() {
      yield* (yield* files).delete("c1", "/tmp/a")
      expect(yield* urls).toEqual(["DELETE /1.0/instances/c1/files?path=%2Ftmp%2Fa"])
    }).pipe(Effect.provide(layer([route("DELETE", "/instances/:name/files", ok)]))))

  it.effect("delete without file_delete is refused before the request", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip((yield* files).delete("c1", "/tmp/a"))
      expect(e._tag).toBe("APIExtensionNotAvailable")
      expect(e.message).toContain("file_delete")
      expect(yield* fileRequests).toEqual([])
    }).pipe(Effect.provide(layer([route("DELETE", "/instances/:name/files", ok)], ["file_append"]))))
})

/**
 * Contract scenarios for the file API (`Files`), run against the lab's LXD 5.0.2 and the in-memory fake. Each
 * scenario creates its own (stopped) instance through the raw engine and deletes it afterwards: the file API
 * works on stopped instances.
 */
import { Files, type Lxd, LxdClient } from "@effect-lxd/core"
import { Chunk, Effect, Stream } from "effect"
import { expect } from "vitest"
import type { Scenario } from "./scenarios.js"

const withInstance = <A, E, R>(name: string, image: string, use: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.flatMap(LxdClient.LxdClient, (c) =>
      c.run({ method: "POST", path: "/instances", body: { name, source: { type: "image", alias: image } } })),
    () =>
      use,
    () =>
      Effect.flatMap(LxdClient.LxdClient, (c) => Effect.ignore(c.run({ method: "DELETE", path: `/instances/${name}` })))
  )

const scenario = (
  name: string,
  instance: string,
  body: (files: Files.Files.Service, instance: string) => Effect.Effect<void, unknown, Lxd.Services>
): Scenario => ({
  name,
  run: ({ image }) => withInstance(instance, image, Effect.flatMap(Files.Files, (files) => body(files, instance)))
})

const text = (s: string) => new TextEncoder().encode(s)

export const fileScenarios: ReadonlyArray<Scenario> = [
  scenario(
    "files: put then get round-trips content, mode, uid and gid",
    "ct-files-rt",
    (files, i) =>
      Effect.gen(function*() {
        yield* files.put(i, "/tmp/a.txt", "hello, files\n", { mode: 0o640, uid: 5, gid: 6 })
        const content = yield* files.get(i, "/tmp/a.txt")
        expect(content.stat).toMatchObject({ type: "file", uid: 5, gid: 6, mode: 0o640 })
        expect(content.size).toBe(13)
        expect(content.stat.modified).toBeDefined()
        const chunks = yield* Stream.runCollect(content.stream)
        expect(new TextDecoder().decode(Buffer.concat(Chunk.toArray(chunks)))).toBe("hello, files\n")
        // bytes and a stream, the empty-file pitfall (a push without application/octet-stream) cannot happen
        yield* files.put(i, "/tmp/b.bin", new Uint8Array([0, 1, 2, 255]))
        expect([...(yield* files.readBytes(i, "/tmp/b.bin"))]).toEqual([0, 1, 2, 255])
        yield* files.put(i, "/tmp/c.txt", Stream.make(text("one "), text("two "), text("three")))
        expect(yield* files.readText(i, "/tmp/c.txt")).toBe("one two three")
        // 5.0.2: an existing file keeps its mode and owner when overwritten
        yield* files.put(i, "/tmp/a.txt", "bye", { mode: 0o600, uid: 7 })
        const after = yield* files.stat(i, "/tmp/a.txt")
        expect(after).toMatchObject({ uid: 5, gid: 6, mode: 0o640 })
        expect(yield* files.readText(i, "/tmp/a.txt")).toBe("bye")
        // a file larger than maxBytes is refused
        const big = yield* Effect.flip(files.readBytes(i, "/tmp/c.txt", { maxBytes: 4 }))
        expect(big._tag).toBe("InvalidArgument")
        // a missing parent is NotFound, as is a missing file
        expect((yield* Effect.flip(files.put(i, "/tmp/no/such/x", "x")))._tag).toBe("NotFound")
        const missing = yield* Effect.flip(files.get(i, "/tmp/nope"))
        expect(missing._tag).toBe("NotFound")
        expect(missing.message).toBe("Not Found")
        // writing over a directory is LXD's SFTP error
        const overDir = yield* Effect.flip(files.put(i, "/tmp", "x"))
        expect(overDir._tag).toBe("LxdApiError")
        expect(overDir.message).toBe("sftp: \"open /tmp: is a directory\" (SSH_FX_FAILURE)")
      })
  ),
  scenario(
    "files: append adds to an existing file; 5.0.2 refuses to append to a missing one",
    "ct-files-app",
    (files, i) =>
      Effect.gen(function*() {
        yield* files.put(i, "/root/log", "one\n")
        yield* files.put(i, "/root/log", "two\n", { writeMode: "append" })
        yield* files.put(i, "/root/log", Stream.make(text("thr"), text("ee\n")), { writeMode: "append" })
        expect(yield* files.readText(i, "/root/log")).toBe("one\ntwo\nthree\n")
        const e = yield* Effect.flip(files.put(i, "/root/new", "x", { writeMode: "append" }))
        expect(e._tag).toBe("NotFound")
      })
  ),
  scenario("files: mkdir (mode, existing, parents) and list", "ct-files-dir", (files, i) =>
    Effect.gen(function*() {
      yield* files.mkdir(i, "/tmp/d", { mode: 0o700 })
      expect(yield* files.stat(i, "/tmp/d")).toMatchObject({ type: "directory", mode: 0o700, uid: 0 })
      // an existing directory is fine, and keeps its mode
      yield* files.mkdir(i, "/tmp/d", { mode: 0o755 })
      expect((yield* files.stat(i, "/tmp/d")).mode).toBe(0o700)
      // LXD's default directory mode
      yield* files.mkdir(i, "/tmp/e")
      expect((yield* files.stat(i, "/tmp/e")).mode).toBe(0o750)
      expect((yield* Effect.flip(files.mkdir(i, "/tmp/x/y/z")))._tag).toBe("NotFound")
      yield* files.mkdir(i, "/tmp/x/y/z", { parents: true, mode: 0o711 })
      expect((yield* files.stat(i, "/tmp/x/y/z")).mode).toBe(0o711)
      expect((yield* files.stat(i, "/tmp/x/y")).mode).toBe(0o750)
      yield* files.put(i, "/tmp/d/f1", "1")
      yield* files.put(i, "/tmp/d/f2", "2")
      yield* files.mkdir(i, "/tmp/d/sub")
      expect([...(yield* files.list(i, "/tmp/d"))].sort()).toEqual(["f1", "f2", "sub"])
      const stats = yield* files.listWithStats(i, "/tmp/d")
      expect(stats.map((e) => `${e.path}:${e.stat.type}`).sort()).toEqual([
        "/tmp/d/f1:file",
        "/tmp/d/f2:file",
        "/tmp/d/sub:directory"
      ])
      expect([...(yield* files.list(i, "/tmp/x"))]).toEqual(["y"])
      // a file is not a directory
      expect((yield* Effect.flip(files.list(i, "/tmp/d/f1")))._tag).toBe("InvalidArgument")
      // get on a directory is refused, not a JSON body pretending to be content
      const e = yield* Effect.flip(files.get(i, "/tmp/d"))
      expect(e._tag).toBe("InvalidArgument")
      expect(e.message).toContain("a directory")
    })),
  scenario(
    "files: symlink then readlink; LXD reports the target absolute and does not follow it",
    "ct-files-ln",
    (files, i) =>
      Effect.gen(function*() {
        yield* files.put(i, "/tmp/target.txt", "pointed at")
        yield* files.mkdir(i, "/tmp/d")
        yield* files.symlink(i, "/tmp/abs", "/tmp/target.txt")
        yield* files.symlink(i, "/tmp/d/rel", "../target.txt")
        yield* files.symlink(i, "/tmp/dangling", "nowhere")
        expect(yield* files.readlink(i, "/tmp/abs")).toBe("/tmp/target.txt")
        expect(yield* files.readlink(i, "/tmp/d/rel")).toBe("/tmp/target.txt")
        expect(yield* files.readlink(i, "/tmp/dangling")).toBe("/tmp/nowhere")
        expect(yield* files.stat(i, "/tmp/abs")).toMatchObject({ type: "symlink", mode: 0o777 })
        const entry = yield* files.getEntry(i, "/tmp/d/rel")
        expect(entry.type).toBe("symlink")
        const e = yield* Effect.flip(files.get(i, "/tmp/abs"))
        expect(e._tag).toBe("InvalidArgument")
        expect(e.message).toContain("a symlink to /tmp/target.txt")
        expect([...(yield* files.list(i, "/tmp/d"))]).toEqual(["rel"])
        // an existing path cannot become a symlink
        const exists = yield* Effect.flip(files.symlink(i, "/tmp/abs", "/etc"))
        expect(exists._tag).toBe("LxdApiError")
        expect(exists.message).toBe("sftp: \"symlink /etc /tmp/abs: file exists\" (SSH_FX_FAILURE)")
        // a write to a symlink goes through to its target
        yield* files.put(i, "/tmp/abs", "through the link")
        expect(yield* files.readText(i, "/tmp/target.txt")).toBe("through the link")
        expect((yield* files.stat(i, "/tmp/abs")).type).toBe("symlink")
      })
  ),
  scenario(
    "files: delete a file, a symlink and an empty directory; a full directory is refused",
    "ct-files-rm",
    (files, i) =>
      Effect.gen(function*() {
        yield* files.mkdir(i, "/tmp/d")
        yield* files.put(i, "/tmp/d/f", "x")
        yield* files.symlink(i, "/tmp/l", "/tmp/d/f")
        const full = yield* Effect.flip(files.delete(i, "/tmp/d"))
        expect(full._tag).toBe("LxdApiError")
        expect(full.message).toBe("sftp: \"remove /tmp/d: directory not empty\" (SSH_FX_FAILURE)")
        yield* files.delete(i, "/tmp/l")
        expect(yield* files.exists(i, "/tmp/l")).toBe(false)
        expect(yield* files.exists(i, "/tmp/d/f")).toBe(true)
        yield* files.delete(i, "/tmp/d/f")
        yield* files.delete(i, "/tmp/d")
        expect(yield* files.exists(i, "/tmp/d")).toBe(false)
        const missing = yield* Effect.flip(files.delete(i, "/tmp/d"))
        expect(missing._tag).toBe("NotFound")
      })
  ),
  scenario(
    "files: stat of files, directories, symlinks; missing paths and instances",
    "ct-files-stat",
    (files, i) =>
      Effect.gen(function*() {
        expect(yield* files.stat(i, "/")).toMatchObject({ type: "directory", uid: 0, gid: 0, mode: 0o755 })
        expect(yield* files.stat(i, "/tmp")).toMatchObject({ type: "directory", mode: 0o777 })
        yield* files.put(i, "/tmp/s", "abc", { mode: 0o604, uid: 1000, gid: 100 })
        const s = yield* files.stat(i, "/tmp/s")
        expect(s).toMatchObject({ type: "file", mode: 0o604, uid: 1000, gid: 100 })
        expect(s.modified).toBeDefined()
        expect((yield* Effect.flip(files.stat(i, "/tmp/none")))._tag).toBe("NotFound")
        expect(yield* files.exists(i, "/tmp/none")).toBe(false)
        // a missing instance is not "the file is missing"
        const gone = yield* Effect.flip(files.exists("ct-files-none", "/tmp"))
        expect(gone._tag).toBe("NotFound")
        expect(gone.message).toBe("Instance not found")
        expect((yield* Effect.flip(files.get("ct-files-none", "/tmp/s"))).message).toBe("Instance not found")
        // refused before anything is sent
        for (const bad of ["tmp/s", "/tmp/../etc/passwd", "/tmp/a\u0000b"]) {
          expect((yield* Effect.flip(files.stat(i, bad)))._tag).toBe("InvalidArgument")
        }
      })
  )
]

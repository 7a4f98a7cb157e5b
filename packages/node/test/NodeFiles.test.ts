import { Files, Lxd, LxdClient } from "@effect-lxd/core"
import { ClientConnectionFailed } from "@effect-lxd/core/LxdError"
import { NodeFiles } from "@effect-lxd/node"
import { LxdFakeServer } from "@effect-lxd/testing"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describeTree } from "../../../test/support/tree.js"

/** Permission bits only: the fake keeps no set-id or sticky bits. */
const describeTreeMasked = (root: string) => describeTree(root, 0o777)

/** Every service over the in-memory fake, with one (stopped) instance `c1`. */
const fake = Layer.effectDiscard(
  Effect.flatMap(
    LxdClient.LxdClient,
    (c) =>
      c.run({ method: "POST", path: "/instances", body: { name: "c1", source: { type: "image", alias: "busybox" } } })
  )
).pipe(Layer.provideMerge(Lxd.layer), Layer.provide(LxdFakeServer.layer()))

const made: Array<string> = []
const tmp = (tag: string) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `nodefiles-${tag}-`))
  made.push(dir)
  return dir
}
afterAll(() => {
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true })
})

/** A tree with nested directories, modes, a relative and an absolute-inside symlink. */
const makeTree = (root: string) => {
  fs.mkdirSync(path.join(root, "private", "deeper"), { recursive: true })
  fs.mkdirSync(path.join(root, "bin"))
  fs.writeFileSync(path.join(root, "readme.txt"), "hello\n")
  fs.writeFileSync(path.join(root, "private", "key"), "secret")
  fs.writeFileSync(path.join(root, "private", "deeper", "empty"), "")
  fs.writeFileSync(path.join(root, "bin", "run.sh"), "#!/bin/sh\necho hi\n")
  fs.writeFileSync(path.join(root, "big.bin"), Buffer.alloc(3 * 1024 * 1024 + 17, 7))
  fs.symlinkSync("../readme.txt", path.join(root, "bin", "readme"))
  fs.chmodSync(path.join(root, "private"), 0o700)
  fs.chmodSync(path.join(root, "private", "key"), 0o600)
  fs.chmodSync(path.join(root, "bin", "run.sh"), 0o755)
  fs.chmodSync(path.join(root, "readme.txt"), 0o644)
  fs.chmodSync(path.join(root, "bin"), 0o755)
}

describe("pushTree and pullTree (on the fake)", () => {
  it.effect("a tree round-trips: nested directories, modes, content and symlinks", () =>
    Effect.gen(function*() {
      const src = tmp("src")
      const dst = tmp("dst")
      makeTree(src)
      const pushed = yield* NodeFiles.pushTree("c1", src, "/srv/app")
      expect(pushed).toMatchObject({ files: 5, directories: 3, symlinks: 1, bytes: 3 * 1024 * 1024 + 17 + 6 + 6 + 18 })
      const files = yield* Files.Files
      expect((yield* files.stat("c1", "/srv/app/private")).mode).toBe(0o700)
      expect((yield* files.stat("c1", "/srv/app/bin/run.sh")).mode).toBe(0o755)
      expect(yield* files.readlink("c1", "/srv/app/bin/readme")).toBe("/srv/app/readme.txt")
      const pulled = yield* NodeFiles.pullTree("c1", "/srv/app", path.join(dst, "copy"))
      expect(pulled).toMatchObject({ files: 5, directories: 3, symlinks: 1 })
      expect(describeTreeMasked(path.join(dst, "copy"))).toEqual(describeTreeMasked(src))
      expect(fs.readFileSync(path.join(dst, "copy", "bin", "readme"), "utf8")).toBe("hello\n")
      expect(fs.readFileSync(path.join(dst, "copy", "big.bin")).equals(fs.readFileSync(path.join(src, "big.bin"))))
        .toBe(true)
    }).pipe(Effect.provide(fake)))

  it.effect("owners are sent when asked", () =>
    Effect.gen(function*() {
      const src = tmp("own")
      fs.writeFileSync(path.join(src, "f"), "x")
      yield* NodeFiles.pushTree("c1", src, "/srv/own", { owner: { uid: 1000, gid: 100 } })
      expect(yield* (yield* Files.Files).stat("c1", "/srv/own/f")).toMatchObject({ uid: 1000, gid: 100 })
    }).pipe(Effect.provide(fake)))

  it.effect("owner \"preserve\" gives pulled files and directories the remote owners, small and large files alike", () =>
    Effect.gen(function*() {
      if (process.getuid?.() !== 0) return // chown needs root (the lab and CI run as root)
      const src = tmp("own-src")
      fs.mkdirSync(path.join(src, "d"))
      fs.writeFileSync(path.join(src, "d", "small"), "x")
      fs.writeFileSync(path.join(src, "large"), Buffer.alloc(2 * 1024 * 1024, 1))
      yield* NodeFiles.pushTree("c1", src, "/srv/owned", { owner: { uid: 1000, gid: 100 } })
      const dst = path.join(tmp("own-dst"), "copy")
      yield* NodeFiles.pullTree("c1", "/srv/owned", dst, { owner: "preserve" })
      for (const p of ["d", "d/small", "large"]) {
        const st = fs.statSync(path.join(dst, p))
        expect([p, st.uid, st.gid]).toEqual([p, 1000, 100])
      }
      expect(fs.statSync(path.join(dst, "large")).size).toBe(2 * 1024 * 1024)
    }).pipe(Effect.provide(fake)))

  it.effect("a pulled symlink pointing outside the tree is refused, naming it", () =>
    Effect.gen(function*() {
      const files = yield* Files.Files
      yield* files.mkdir("c1", "/srv/t/sub", { parents: true })
      yield* files.put("c1", "/srv/t/sub/f", "x")
      yield* files.symlink("c1", "/srv/t/sub/ok", "../sub/f")
      yield* files.symlink("c1", "/srv/t/up", "../../etc/passwd")
      const e = yield* Effect.flip(NodeFiles.pullTree("c1", "/srv/t", tmp("out")))
      expect(e._tag).toBe("InvalidArgument")
      expect(e.message).toContain("/srv/t/up")
      expect(e.message).toContain("outside /srv/t")
      yield* files.delete("c1", "/srv/t/up")
      yield* files.symlink("c1", "/srv/t/abs", "/etc/hostname")
      const abs = yield* Effect.flip(NodeFiles.pullTree("c1", "/srv/t", tmp("out")))
      expect(abs.message).toContain("/srv/t/abs")
      yield* files.delete("c1", "/srv/t/abs")
      // an absolute target inside the tree is fine, and written relative
      yield* files.symlink("c1", "/srv/t/inside", "/srv/t/sub/f")
      const out = tmp("out")
      yield* NodeFiles.pullTree("c1", "/srv/t", out)
      expect(fs.readlinkSync(path.join(out, "inside"))).toBe("sub/f")
      expect(fs.readlinkSync(path.join(out, "sub", "ok"))).toBe("f")
    }).pipe(Effect.provide(fake)))

  it.effect("a pull never writes through a local symlink in the way", () =>
    Effect.gen(function*() {
      const files = yield* Files.Files
      yield* files.mkdir("c1", "/srv/w/d", { parents: true })
      yield* files.put("c1", "/srv/w/f", "remote")
      yield* files.put("c1", "/srv/w/d/g", "remote g")
      const outside = tmp("victim")
      fs.writeFileSync(path.join(outside, "target"), "precious")
      const out = tmp("out")
      fs.symlinkSync(path.join(outside, "target"), path.join(out, "f"))
      fs.symlinkSync(outside, path.join(out, "d"))
      yield* NodeFiles.pullTree("c1", "/srv/w", out)
      expect(fs.readFileSync(path.join(outside, "target"), "utf8")).toBe("precious")
      expect(fs.readdirSync(outside)).toEqual(["target"])
      expect(fs.lstatSync(path.join(out, "f")).isFile()).toBe(true)
      expect(fs.lstatSync(path.join(out, "d")).isDirectory()).toBe(true)
      expect(fs.readFileSync(path.join(out, "d", "g"), "utf8")).toBe("remote g")
    }).pipe(Effect.provide(fake)))

  it.effect("a push refuses a remote symlink where a file or directory would go", () =>
    Effect.gen(function*() {
      const files = yield* Files.Files
      yield* files.mkdir("c1", "/srv/p", { parents: true })
      yield* files.symlink("c1", "/srv/p/f", "/etc/hostname")
      const src = tmp("push")
      fs.writeFileSync(path.join(src, "f"), "would overwrite /etc/hostname")
      const e = yield* Effect.flip(NodeFiles.pushTree("c1", src, "/srv/p"))
      expect(e._tag).toBe("InvalidArgument")
      expect(e.message).toContain("/srv/p/f")
      expect(yield* files.readText("c1", "/etc/hostname")).toBe("fake\n")
      yield* files.delete("c1", "/srv/p/f")
      yield* files.symlink("c1", "/srv/p/d", "/etc")
      fs.rmSync(path.join(src, "f"))
      fs.mkdirSync(path.join(src, "d"))
      fs.writeFileSync(path.join(src, "d", "hostname"), "x")
      const d = yield* Effect.flip(NodeFiles.pushTree("c1", src, "/srv/p"))
      expect(d.message).toContain("/srv/p/d")
      // into an existing directory, existing files are overwritten and symlinks replaced
      yield* files.delete("c1", "/srv/p/d")
      yield* files.symlink("c1", "/srv/p/l", "/old")
      fs.symlinkSync("d/hostname", path.join(src, "l"))
      yield* NodeFiles.pushTree("c1", src, "/srv/p")
      yield* NodeFiles.pushTree("c1", src, "/srv/p")
      expect(yield* files.readlink("c1", "/srv/p/l")).toBe("/srv/p/d/hostname")
      // a destination that is a file or a symlink is refused, and left as it was
      yield* files.put("c1", "/srv/file", "keep")
      const onFile = yield* Effect.flip(NodeFiles.pushTree("c1", src, "/srv/file"))
      expect(onFile.message).toContain("the destination is a file")
      expect(yield* files.readText("c1", "/srv/file")).toBe("keep")
      yield* files.symlink("c1", "/srv/link", "/srv/p")
      const onLink = yield* Effect.flip(NodeFiles.pushTree("c1", src, "/srv/link"))
      expect(onLink.message).toContain("the destination is a symlink")
    }).pipe(Effect.provide(fake)))

  it.effect("many entries go through a few workers; a destination that is a symlink to a directory is followed", () =>
    Effect.gen(function*() {
      const src = tmp("many")
      for (let d = 0; d < 5; d++) {
        fs.mkdirSync(path.join(src, `d${d}`, "sub"), { recursive: true })
        for (let f = 0; f < 20; f++) fs.writeFileSync(path.join(src, `d${d}`, f % 2 ? "sub" : "", `f${f}`), `${d}/${f}`)
      }
      const pushed = yield* NodeFiles.pushTree("c1", src, "/srv/many", { concurrency: 3 })
      expect(pushed).toMatchObject({ files: 100, directories: 10 })
      const real = tmp("real")
      const link = path.join(tmp("link"), "to-real")
      fs.symlinkSync(real, link)
      const pulled = yield* NodeFiles.pullTree("c1", "/srv/many", link, { concurrency: 3 })
      expect(pulled).toMatchObject({ files: 100, directories: 10 })
      expect(fs.lstatSync(link).isSymbolicLink()).toBe(true)
      expect(describeTreeMasked(real)).toEqual(describeTreeMasked(src))
      // an empty directory, and a remote path that is not a directory
      const files = yield* Files.Files
      yield* files.mkdir("c1", "/srv/empty")
      expect(yield* NodeFiles.pullTree("c1", "/srv/empty", tmp("e"))).toMatchObject({ files: 0, directories: 0 })
      const notDir = yield* Effect.flip(NodeFiles.pullTree("c1", "/srv/many/d0/f0", tmp("e")))
      expect(notDir._tag).toBe("InvalidArgument")
    }).pipe(Effect.provide(fake)))

  it.effect("remote paths with '..' are refused before anything is sent", () =>
    Effect.gen(function*() {
      const src = tmp("dots")
      for (const bad of ["/srv/../etc", "srv", "/srv/a\u0000"]) {
        expect((yield* Effect.flip(NodeFiles.pushTree("c1", src, bad)))._tag).toBe("InvalidArgument")
        expect((yield* Effect.flip(NodeFiles.pullTree("c1", bad, src)))._tag).toBe("InvalidArgument")
      }
      const e = yield* Effect.flip(NodeFiles.pushFile("c1", path.join(src, "nope"), "/tmp/x"))
      expect(e._tag).toBe("SystemError")
    }).pipe(Effect.provide(fake)))

  it.effect("pushFile and pullFile stream single files with their modes", () =>
    Effect.gen(function*() {
      const dir = tmp("single")
      const local = path.join(dir, "data")
      fs.writeFileSync(local, Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251)))
      fs.chmodSync(local, 0o640)
      yield* NodeFiles.pushFile("c1", local, "/root/data", { chunkSize: 1000 })
      const files = yield* Files.Files
      expect((yield* files.stat("c1", "/root/data")).mode).toBe(0o640)
      const stat = yield* NodeFiles.pullFile("c1", "/root/data", path.join(dir, "back"))
      expect(stat.mode).toBe(0o640)
      expect(fs.readFileSync(path.join(dir, "back")).equals(fs.readFileSync(local))).toBe(true)
      expect(fs.statSync(path.join(dir, "back")).mode & 0o777).toBe(0o640)
      const chunks = yield* Stream.runCollect(NodeFiles.readLocalFile(local, { chunkSize: 1000 }))
      expect([...chunks].map((c) => c.length)).toEqual([1000, 1000, 1000, 1000, 1000])
    }).pipe(Effect.provide(fake)))

  it.effect("a pull that fails before the first byte leaves the local file as it was", () =>
    Effect.gen(function*() {
      const dir = tmp("keep")
      const local = path.join(dir, "keep.txt")
      fs.writeFileSync(local, "precious")
      const e = yield* Effect.flip(NodeFiles.pullFile("c1", "/root/missing", local))
      expect(e._tag).toBe("NotFound")
      expect(fs.readFileSync(local, "utf8")).toBe("precious")
      yield* Effect.flip(NodeFiles.pullFile("c1", "/root/missing", path.join(dir, "new.txt")))
      expect(fs.existsSync(path.join(dir, "new.txt"))).toBe(false)
    }).pipe(Effect.provide(fake)))

  it.effect("a directory that is not a string is InvalidArgument, as Files answers it, never a TypeError", () =>
    Effect.gen(function*() {
      const dir = tmp("types")
      const files = yield* Files.Files
      for (const bad of [42, undefined, null, { path: "/srv" }] as ReadonlyArray<unknown> as ReadonlyArray<string>) {
        const viaFiles = yield* Effect.flip(files.list("c1", bad))
        const push = yield* Effect.flip(NodeFiles.pushTree("c1", dir, bad))
        const pull = yield* Effect.flip(NodeFiles.pullTree("c1", bad, dir))
        for (const e of [viaFiles, push, pull]) {
          expect(e._tag).toBe("InvalidArgument")
          expect(e.message).toContain("must be a string")
        }
        const pushLocal = yield* Effect.flip(NodeFiles.pushTree("c1", bad, "/srv"))
        const pullLocal = yield* Effect.flip(NodeFiles.pullTree("c1", "/srv", bad))
        const fileLocal = yield* Effect.flip(NodeFiles.pullFile("c1", "/srv/x", bad))
        for (const e of [pushLocal, pullLocal, fileLocal]) {
          expect(e._tag).toBe("InvalidArgument")
          expect(e.message).toContain("must be a string")
        }
      }
    }).pipe(Effect.provide(fake)))
})

/** The fake's `Files`, with `getEntry` failing for paths ending in `/broken` (a connection lost mid-pull). */
const failingAt = Layer.effect(
  Files.Files,
  Effect.map(Files.make, (files): Files.Files.Service => ({
    ...files,
    getEntry: (instance, p) =>
      p.endsWith("/broken")
        ? Effect.fail(
          new ClientConnectionFailed({ method: "GET", path: p, endpoint: "fake", reason: "injected", kind: "closed" })
        )
        : files.getEntry(instance, p)
  }))
)

describe("pullTree is all or nothing (staged beside the destination)", () => {
  const remote = Effect.gen(function*() {
    const files = yield* Files.Files
    yield* files.mkdir("c1", "/srv/stage/sub", { parents: true })
    for (let i = 0; i < 6; i++) yield* files.put("c1", `/srv/stage/f${i}`, `file ${i}`)
    yield* files.put("c1", "/srv/stage/sub/g", "g")
  })
  const leftovers = (parent: string) => fs.readdirSync(parent).filter((n) => n.includes(".pull-"))

  it.effect("a pull that fails midway leaves no new localDir, an existing one as it was, and no staging dir", () =>
    Effect.gen(function*() {
      yield* remote
      const files = yield* Files.Files
      yield* files.put("c1", "/srv/stage/sub/broken", "x")
      const parent = tmp("stage-fail")
      const fresh = path.join(parent, "fresh")
      // one worker: the six files are written before the broken entry is reached
      const e = yield* Effect.flip(NodeFiles.pullTree("c1", "/srv/stage", fresh, { concurrency: 1 }))
      expect(e._tag).toBe("ClientConnectionFailed")
      expect(fs.existsSync(fresh)).toBe(false)
      expect(leftovers(parent)).toEqual([])

      const existing = path.join(parent, "existing")
      fs.mkdirSync(existing)
      fs.writeFileSync(path.join(existing, "f0"), "mine")
      yield* Effect.flip(NodeFiles.pullTree("c1", "/srv/stage", existing, { concurrency: 1 }))
      expect(fs.readdirSync(existing)).toEqual(["f0"])
      expect(fs.readFileSync(path.join(existing, "f0"), "utf8")).toBe("mine")
      expect(leftovers(parent)).toEqual([])
    }).pipe(Effect.provide(Layer.provide(failingAt, fake))))

  it.effect("a pull that succeeds is renamed into place, or merged into an existing directory", () =>
    Effect.gen(function*() {
      yield* remote
      const parent = tmp("stage-ok")
      const fresh = path.join(parent, "fresh")
      const summary = yield* NodeFiles.pullTree("c1", "/srv/stage", fresh)
      expect(summary).toMatchObject({ files: 7, directories: 1 })
      expect(fs.readFileSync(path.join(fresh, "sub", "g"), "utf8")).toBe("g")
      expect(leftovers(parent)).toEqual([])

      const existing = path.join(parent, "existing")
      fs.mkdirSync(path.join(existing, "sub"), { recursive: true })
      fs.writeFileSync(path.join(existing, "mine"), "kept")
      fs.writeFileSync(path.join(existing, "sub", "mine"), "kept too")
      fs.writeFileSync(path.join(existing, "f1"), "replaced")
      yield* NodeFiles.pullTree("c1", "/srv/stage", existing)
      expect(fs.readFileSync(path.join(existing, "mine"), "utf8")).toBe("kept")
      expect(fs.readFileSync(path.join(existing, "sub", "mine"), "utf8")).toBe("kept too")
      expect(fs.readFileSync(path.join(existing, "f1"), "utf8")).toBe("file 1")
      expect(fs.readFileSync(path.join(existing, "sub", "g"), "utf8")).toBe("g")
      expect(leftovers(parent)).toEqual([])
    }).pipe(Effect.provide(fake)))
})

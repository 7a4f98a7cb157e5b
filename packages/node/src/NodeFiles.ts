/**
 * Copying between the local filesystem and an instance, on top of the core `Files` service: single files
 * (`pushFile`, `pullFile`) and whole trees (`pushTree`, `pullTree`), streamed with bounded memory, modes and
 * symlinks preserved (owners on request), a few files in flight at once.
 *
 * Nothing is written outside the destination: remote paths with `..` segments are refused, a symlink is never
 * followed while writing (locally, a symlink in the way is replaced; remotely, where LXD would write through it,
 * the push is refused), and a pulled symlink is written only if its target resolves inside the pulled tree.
 * Local failures are `PlatformError`s (`SystemError` with the path), LXD's are `LxdError`s.
 *
 * @example
 * ```ts
 * import { Lxd } from "@effect-lxd/core"
 * import { NodeFiles, NodeLxdTransport } from "@effect-lxd/node"
 * import { Effect, Layer } from "effect"
 *
 * const backup = Effect.gen(function*() {
 *   yield* NodeFiles.pushFile("web1", "./site.conf", "/etc/nginx/conf.d/site.conf", { mode: 0o644 })
 *   // nothing is written outside ./etc-copy: escaping paths and symlinks are refused
 *   const summary = yield* NodeFiles.pullTree("web1", "/etc", "./etc-copy", { concurrency: 8 })
 *   yield* Effect.log(`${summary.files} files, ${summary.bytes} bytes`)
 * })
 *
 * // for NodeRuntime.runMain(main)
 * export const main = backup.pipe(Effect.provide(Lxd.layer.pipe(Layer.provide(NodeLxdTransport.layerUnixSocket()))))
 * ```
 *
 * @since 0.1.0
 */
import * as Files from "@effect-lxd/core/Files"
import { InvalidArgument, type LxdError } from "@effect-lxd/core/LxdError"
import type { PlatformError } from "@effect/platform/Error"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import type * as Stream from "effect/Stream"
import * as FsP from "node:fs/promises"
import * as Path from "node:path"
import * as Tree from "./internal/tree.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface TreeSummary {
  readonly files: number
  readonly directories: number
  readonly symlinks: number
  /** Bytes of file content transferred. */
  readonly bytes: number
  /** Local entries that are neither files, directories nor symlinks (sockets, FIFOs, devices): not pushed. */
  readonly skipped: ReadonlyArray<string>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface PushTreeOptions {
  /**
   * Owners of what is created: `"preserve"` sends each local uid/gid, `{ uid, gid }` sends those for all;
   * by default none is sent (LXD makes them root's). LXD 5.0.2 applies owners and modes only on creation.
   */
  readonly owner?: "preserve" | { readonly uid: number; readonly gid: number } | undefined
  /** Files uploaded at once (default 4). */
  readonly concurrency?: number | undefined
  /** Size of each read from a local file (default 1 MiB). */
  readonly chunkSize?: number | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface PullTreeOptions {
  /** `"preserve"` sets each remote uid/gid on the local copy (needs root); by default the local user owns it. */
  readonly owner?: "preserve" | undefined
  /** Entries fetched at once, by a fixed pool of workers over a queue (default 4). */
  readonly concurrency?: number | undefined
}

/** A remote directory, checked as every `Files` method checks a path, then normalized. */
const remoteDirOf = (argument: string, value: unknown): Effect.Effect<string, InvalidArgument> =>
  Effect.map(Files.validatePath(value, argument), Tree.normalizeRemote)

const remoteJoin = (dir: string, name: string) => (dir === "/" ? "/" : dir + "/") + name

/**
 * A local file as a stream, read in chunks of `chunkSize` bytes (1 MiB), for `Files.put`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const readLocalFile = (
  path: string,
  options: { readonly chunkSize?: number | undefined } = {}
): Stream.Stream<Uint8Array, PlatformError> => Tree.readFile(path, options.chunkSize)

/**
 * One local file to a remote path: through `Files.upload` (over the unix socket, two reused buffers), or as a
 * stream of `chunkSize` chunks with `Files.put` when a chunk size is asked for or the write appends.
 */
const pushOne = (
  files: Files.Files.Service,
  instance: string,
  localPath: string,
  remotePath: string,
  size: number,
  options: Files.PutOptions & { readonly chunkSize?: number | undefined }
): Effect.Effect<void, LxdError | PlatformError> =>
  options.chunkSize === undefined && options.writeMode !== "append"
    ? Tree.withFileReader(localPath, (read) => files.upload(instance, remotePath, size, read, options))
    : files.put(instance, remotePath, Tree.readFile(localPath, options.chunkSize), {
      ...options,
      size: options.writeMode === "append" ? undefined : size
    })

/**
 * Uploads one local file (`POST /1.0/instances/{name}/files?path=`). The mode defaults to the local file's. Over
 * the unix socket it goes through `Files.upload`: two reused buffers, no allocation per chunk; `append` or a
 * `chunkSize` streams it with `Files.put`. Errors: `NotFound`, `InvalidArgument`, `APIExtensionNotAvailable`
 * (append), `ClientConnectionFailed`, `SystemError` (local).
 *
 * @since 0.1.0
 * @category constructors
 */
export const pushFile = (
  instance: string,
  localPath: string,
  remotePath: string,
  options: Files.PutOptions & { readonly chunkSize?: number | undefined } = {}
): Effect.Effect<void, LxdError | PlatformError, Files.Files> =>
  Effect.gen(function*() {
    const files = yield* Files.Files
    yield* Tree.checkLocalPath("localPath", localPath)
    const st = yield* Tree.fs("stat", localPath, () => FsP.stat(localPath))
    yield* pushOne(files, instance, localPath, remotePath, st.size, { mode: st.mode & 0o777, ...options })
  }).pipe(Effect.withSpan("NodeFiles.pushFile"))

/**
 * Downloads one remote file into a local file (`Files.download`: over the unix socket through reused buffers,
 * no allocation per chunk, each read written at once, synchronously, while a write takes under 10 ms, then
 * through the thread pool), with the remote mode (or `mode`). A symlink at the local path is replaced, never
 * written through. Returns the remote stat. `GET /1.0/instances/{name}/files?path=`. Errors: `NotFound`,
 * `InvalidArgument` (a directory or a symlink remotely), `ClientConnectionFailed`, `SystemError` (local).
 *
 * @since 0.1.0
 * @category constructors
 */
export const pullFile = (
  instance: string,
  remotePath: string,
  localPath: string,
  options: { readonly mode?: number | undefined } = {}
): Effect.Effect<Files.FileStat, LxdError | PlatformError, Files.Files> =>
  Effect.zipRight(
    Tree.checkLocalPath("localPath", localPath),
    Effect.flatMap(Files.Files, (files) => downloadTo(files, instance, remotePath, localPath, options))
  ).pipe(
    Effect.map(({ stat }) => stat),
    Effect.withSpan("NodeFiles.pullFile")
  )

/** Files at least this large in a pulled tree go through `Files.download` (reused buffers). */
const DOWNLOAD_BYTES = 1024 * 1024

/**
 * `Files.download` into a local file: over the unix socket the body goes from reused buffers straight to the
 * file, which then gets `mode` (the remote mode by default) and `owner`. Returns the remote stat and the bytes
 * written.
 */
const downloadTo = (
  files: Files.Files.Service,
  instance: string,
  remotePath: string,
  localPath: string,
  options: {
    readonly mode?: number | undefined
    readonly owner?: { readonly uid: number; readonly gid: number } | undefined
  }
) =>
  Effect.suspend(() => {
    let bytes = 0
    return Tree.withFileWriter(localPath, (write, settle) =>
      Effect.flatMap(
        files.download(instance, remotePath, (chunk) => {
          bytes += chunk.length
          return write(chunk)
        }),
        (stat) => Effect.as(settle(options.mode ?? stat.mode, options.owner), { stat, bytes })
      ))
  })

/**
 * Copies a local directory tree into an instance at `remoteDir` (created with its parents if missing):
 * directories first, then files (streamed, `concurrency` at once) and symlinks (their targets as they are).
 * Modes are preserved; owners when `owner` says so.
 *
 * Into an existing remote directory, what is already there is checked first (a listing per existing directory,
 * a `HEAD` per name that collides): a remote symlink where a file or directory would go is refused with
 * `InvalidArgument` (LXD would write through it), as is a remote file where a directory would go; a remote
 * file or symlink where a symlink goes is replaced.
 *
 * @since 0.1.0
 * @category constructors
 */
export const pushTree = (
  instance: string,
  localDir: string,
  remoteDir: string,
  options: PushTreeOptions = {}
): Effect.Effect<TreeSummary, LxdError | PlatformError, Files.Files> =>
  Effect.gen(function*() {
    const files = yield* Files.Files
    const root = yield* remoteDirOf("remoteDir", remoteDir)
    yield* Tree.checkLocalPath("localDir", localDir)
    const entries = yield* Tree.walk(localDir)
    const ownerOf = (e: Tree.LocalEntry) =>
      options.owner === "preserve"
        ? { uid: e.uid, gid: e.gid }
        : options.owner === undefined
        ? {}
        : { uid: options.owner.uid, gid: options.owner.gid }
    const refuse = (path: string, what: string) =>
      Effect.fail(
        new InvalidArgument({ argument: "remote path", value: path, reason: `${what}; refusing to write there` })
      )

    // names already in each remote directory that existed before this push (undefined: created by us)
    const existing = new Map<string, ReadonlySet<string>>()
    const remoteType = (dir: string, name: string) =>
      existing.get(dir)?.has(name) === true
        ? Effect.map(files.stat(instance, remoteJoin(dir, name)), (s) => s.type)
        : Effect.succeed(undefined)

    // one GET tells what the destination is: missing, a directory (with its names) or something else
    const rootEntry = entries[0]!
    const there = yield* Effect.catchTag(files.getEntry(instance, root), "NotFound", () => Effect.succeed(undefined))
    if (there === undefined) {
      yield* files.mkdir(instance, root, { parents: true, mode: rootEntry.mode, ...ownerOf(rootEntry) })
    } else if (there.type === "directory") {
      existing.set(root, new Set(there.entries))
    } else {
      if (there.type === "file") yield* there.discard
      return yield* refuse(root, `the destination is a ${there.type}`)
    }

    let directories = 0
    const work: Array<{ readonly entry: Tree.LocalEntry; readonly remote: string; readonly replace: boolean }> = []
    const skipped: Array<string> = []
    for (const entry of entries.slice(1)) {
      const slash = entry.relative.lastIndexOf("/")
      const dir = slash === -1 ? root : remoteJoin(root, entry.relative.slice(0, slash))
      const name = yield* Tree.checkName(dir, entry.relative.slice(slash + 1))
      const remote = remoteJoin(dir, name)
      if (entry.kind === "other") {
        skipped.push(entry.absolute)
        continue
      }
      const there = yield* remoteType(dir, name)
      switch (entry.kind) {
        case "directory":
          if (there === undefined) {
            yield* files.mkdir(instance, remote, { mode: entry.mode, ...ownerOf(entry) })
          } else if (there === "directory") {
            existing.set(remote, new Set(yield* files.list(instance, remote)))
          } else {
            return yield* refuse(remote, `it is a ${there} on the instance, not a directory`)
          }
          directories++
          break
        case "file":
          if (there !== undefined && there !== "file") {
            return yield* refuse(
              remote,
              `it is a ${there} on the instance${there === "symlink" ? " (LXD would write through it)" : ""}`
            )
          }
          work.push({ entry, remote, replace: false })
          break
        case "symlink":
          if (there === "directory") return yield* refuse(remote, "it is a directory on the instance")
          work.push({ entry, remote, replace: there !== undefined })
          break
      }
    }

    let bytes = 0
    let fileCount = 0
    let symlinks = 0
    yield* Effect.forEach(work, ({ entry, remote, replace }) =>
      entry.kind === "symlink"
        ? Effect.gen(function*() {
          if (replace) yield* files.delete(instance, remote)
          yield* files.symlink(instance, remote, entry.target!)
          symlinks++
        })
        : Effect.gen(function*() {
          yield* pushOne(files, instance, entry.absolute, remote, entry.size, {
            mode: entry.mode,
            chunkSize: options.chunkSize,
            ...ownerOf(entry)
          })
          bytes += entry.size
          fileCount++
        }), { concurrency: options.concurrency ?? 4, discard: true })

    return { files: fileCount, directories, symlinks, bytes, skipped } satisfies TreeSummary
  }).pipe(Effect.withSpan("NodeFiles.pushTree"))

/**
 * Copies a directory tree out of an instance into `localDir` (created if missing; if it is a symlink to a
 * directory, it is followed): each entry is one `GET` (a file streams straight to disk, `concurrency` at
 * once), modes preserved (directories get theirs once filled, `localDir` included), owners when `owner` is
 * `"preserve"`.
 *
 * A remote symlink is written as a symlink (made relative) only if its target resolves inside `remoteDir`;
 * otherwise the pull fails with `InvalidArgument` naming it. Nothing local is followed: a symlink in the way of
 * a file or directory is replaced.
 *
 * All or nothing: the tree is pulled into a staging directory beside the destination (`.<name>.pull-…`, on the
 * same filesystem), which on success is renamed into place (a new `localDir`) or has its entries moved into
 * the existing one (directories merged, a file or symlink in the way replaced; a directory where a file goes,
 * or the reverse, is refused before anything moves). A failed or interrupted pull removes the staging
 * directory and leaves `localDir` as it was (only missing parents of a new `localDir` stay). Modes and owners
 * of directories are set once they are in place.
 *
 * `InvalidArgument` (before anything is sent) for a `remoteDir` or `localDir` that is not a usable path.
 *
 * @since 0.1.0
 * @category constructors
 */
export const pullTree = (
  instance: string,
  remoteDir: string,
  localDir: string,
  options: PullTreeOptions = {}
): Effect.Effect<TreeSummary, LxdError | PlatformError, Files.Files> =>
  Effect.gen(function*() {
    const files = yield* Files.Files
    const root = yield* remoteDirOf("remoteDir", remoteDir)
    yield* Tree.checkLocalPath("localDir", localDir)
    const top = yield* files.getEntry(instance, root)
    if (top.type !== "directory") {
      if (top.type === "file") yield* top.discard
      return yield* new InvalidArgument({
        argument: "remoteDir",
        value: remoteDir,
        reason: `is a ${top.type}, not a directory`
      })
    }
    const owner = (
      stat: Files.FileStat
    ) => (options.owner === "preserve" ? { uid: stat.uid, gid: stat.gid } : undefined)
    /** Directories by their path relative to the root (`""`), to get their modes once in place. */
    const dirModes: Array<readonly [string, Files.FileStat]> = []
    let fileCount = 0
    let directories = 0
    let symlinks = 0
    let bytes = 0

    // the destination itself is the caller's: it may be a symlink to a directory, and is followed
    const dest = yield* Tree.destination(localDir)
    const stage = yield* Tree.staging(dest)
    dirModes.push(["", top.stat])

    /** One entry: a file streams to disk, a symlink is checked and written, a directory yields its entries. */
    const pullOne = (remote: string, local: string, raw: string) =>
      Effect.gen(function*() {
        const name = yield* Tree.checkName(remote, raw)
        const remotePath = remoteJoin(remote, name)
        const localPath = Path.join(local, name)
        const entry = yield* files.getEntry(instance, remotePath)
        switch (entry.type) {
          case "file": {
            // a large file is asked again through the download path: reused buffers instead of a buffer per chunk
            const written = entry.size !== undefined && entry.size >= DOWNLOAD_BYTES
              ? yield* Effect.zipRight(
                entry.discard,
                Effect.map(
                  downloadTo(files, instance, remotePath, localPath, { owner: owner(entry.stat) }),
                  (done) => done.bytes
                )
              )
              : yield* Effect.onError(
                Tree.writeFile(localPath, entry.stream, { mode: entry.stat.mode, owner: owner(entry.stat) }),
                () => entry.discard
              )
            bytes += written
            fileCount++
            return []
          }
          case "symlink": {
            const where = Tree.localSymlinkTarget(root, remotePath, entry.target)
            if ("outside" in where) {
              return yield* new InvalidArgument({
                argument: "symlink",
                value: remotePath,
                reason: `points to ${where.outside}, outside ${root}`
              })
            }
            yield* Tree.writeSymlink(localPath, where.relative)
            const o = owner(entry.stat)
            if (o !== undefined) yield* Tree.fs("lchown", localPath, () => FsP.lchown(localPath, o.uid, o.gid))
            symlinks++
            return []
          }
          case "directory":
            yield* Tree.ensureDirectory(localPath, 0o700)
            dirModes.push([Path.relative(stage, localPath), entry.stat])
            directories++
            return entry.entries.map((child) => [remotePath, localPath, child] as const)
        }
      })

    // a fixed pool of workers over a queue of entries: memory stays small whatever the size of the tree
    type Task = readonly [remote: string, local: string, name: string]
    const queue = yield* Queue.unbounded<Task>()
    const finished = yield* Deferred.make<void>()
    let pending = 0
    const enqueue = (tasks: ReadonlyArray<Task>) =>
      Effect.suspend(() => {
        pending += tasks.length
        return Queue.offerAll(queue, tasks)
      })
    const worker = Effect.forever(
      Effect.flatMap(Queue.take(queue), (task) =>
        pullOne(...task).pipe(
          Effect.flatMap(enqueue),
          Effect.zipRight(Effect.suspend(() => --pending === 0 ? Deferred.succeed(finished, undefined) : Effect.void))
        ))
    )
    yield* enqueue(top.entries.map((name) => [root, stage, name] as const))
    if (pending > 0) {
      const workers = Math.max(1, options.concurrency ?? 4)
      yield* Effect.raceFirst(
        Deferred.await(finished),
        Effect.forEach(Array.from({ length: workers }, () => worker), (w) => w, {
          concurrency: "unbounded",
          discard: true
        })
      )
    }
    yield* Queue.shutdown(queue)
    yield* Tree.commit(stage, dest)

    // directories get their modes (and owners) last, in place, deepest first, so a read-only one could be filled
    for (const [relative, stat] of [...dirModes].sort((a, b) => b[0].length - a[0].length)) {
      const path = Path.join(dest.path, relative)
      const o = owner(stat)
      if (o !== undefined) yield* Tree.fs("chown", path, () => FsP.chown(path, o.uid, o.gid))
      yield* Tree.fs("chmod", path, () => FsP.chmod(path, stat.mode))
    }
    return { files: fileCount, directories, symlinks, bytes, skipped: [] } satisfies TreeSummary
  }).pipe(Effect.scoped, Effect.withSpan("NodeFiles.pullTree"))

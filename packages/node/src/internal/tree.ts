/**
 * Local filesystem helpers for `NodeFiles`: errors as `PlatformError`, streamed reads, writes that never follow a
 * symlink, a tree walk that never follows one either, and the path rules that keep a pull inside its tree.
 *
 * @internal
 */
import { InvalidArgument } from "@effect-lxd/core/LxdError"
import { SystemError, type SystemErrorReason } from "@effect/platform/Error"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import * as FsP from "node:fs/promises"
import * as Path from "node:path"
import { promisify } from "node:util"

/** Chunk size of local reads (and so of streamed uploads). */
const DEFAULT_CHUNK_SIZE = 1024 * 1024

/** How much a local file write may queue before the stream waits. */
const WRITE_HIGH_WATER_MARK = 1024 * 1024

const reasonOf = (code: unknown): SystemErrorReason => {
  switch (code) {
    case "ENOENT":
      return "NotFound"
    case "EEXIST":
    case "ENOTEMPTY":
      return "AlreadyExists"
    case "EACCES":
    case "EPERM":
      return "PermissionDenied"
    case "EBUSY":
      return "Busy"
    case "EAGAIN":
      return "WouldBlock"
    case "ELOOP":
    case "ENOTDIR":
    case "EISDIR":
    case "EBADF":
      return "BadResource"
    case "ETIMEDOUT":
      return "TimedOut"
    default:
      return "Unknown"
  }
}

/** A Node fs error as `SystemError` (module `FileSystem`). */
const systemError = (method: string, path: string) => (cause: unknown): SystemError => {
  const e = cause as { code?: unknown; message?: unknown; syscall?: unknown }
  return new SystemError({
    reason: reasonOf(e?.code),
    module: "FileSystem",
    method,
    pathOrDescriptor: path,
    description: typeof e?.message === "string" ? e.message : String(cause),
    ...(typeof e?.syscall === "string" ? { syscall: e.syscall } : {}),
    cause
  })
}

/** @internal */
export const fs = <A>(method: string, path: string, f: () => Promise<A>): Effect.Effect<A, SystemError> =>
  Effect.tryPromise({ try: f, catch: systemError(method, path) })

const codeOf = (e: SystemError): unknown => (e.cause as { code?: unknown } | undefined)?.code

// ---------------------------------------------------------------------------------------------------------------
// streams

/**
 * A local file as a stream of chunks of `chunkSize` bytes (one `read` each, into a fresh buffer), the file
 * closed when the stream ends, fails or is interrupted.
 *
 * @internal
 */
export const readFile = (path: string, chunkSize = DEFAULT_CHUNK_SIZE): Stream.Stream<Uint8Array, SystemError> =>
  Stream.flatMap(
    Stream.acquireRelease(
      fs("open", path, () => FsP.open(path, "r")),
      (handle) => Effect.promise(() => handle.close().catch(() => undefined))
    ),
    (handle) =>
      Stream.repeatEffectOption(
        Effect.flatMap(
          Effect.mapError(
            fs("read", path, () => handle.read(Buffer.allocUnsafe(chunkSize), 0, chunkSize, null)),
            Option.some
          ),
          ({ buffer, bytesRead }) =>
            bytesRead === 0
              ? Effect.fail(Option.none())
              : Effect.succeed(bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead))
        )
      )
  )

/**
 * Opens a local file for reading, runs `use` with a reader that fills a buffer from its start (returning the
 * bytes read, 0 at the end), then closes the file.
 *
 * @internal
 */
export const withFileReader = <A, E>(
  path: string,
  use: (read: (buffer: Uint8Array) => Effect.Effect<number, SystemError>) => Effect.Effect<A, E>
): Effect.Effect<A, E | SystemError> =>
  Effect.acquireUseRelease(
    fs("open", path, () => FsP.open(path, "r")),
    (handle) =>
      use((buffer) =>
        Effect.map(fs("read", path, () => handle.read(buffer, 0, buffer.length, null)), (r) => r.bytesRead)
      ),
    (handle) => Effect.promise(() => handle.close().catch(() => undefined))
  )

const openFd = promisify(Fs.open)
const fchmod = promisify(Fs.fchmod)
const fchown = promisify(Fs.fchown)

/**
 * Opens a local file for writing without following a symlink at its place (`O_NOFOLLOW`): a symlink there is
 * removed (not followed) and a regular file is created; an existing regular file is truncated.
 */
const openNoFollow = (path: string): Effect.Effect<number, SystemError> => {
  const flags = Fs.constants.O_WRONLY | Fs.constants.O_CREAT | Fs.constants.O_TRUNC | Fs.constants.O_NOFOLLOW
  const open = fs("open", path, () => openFd(path, flags, 0o600))
  return Effect.catchIf(
    open,
    (e) => codeOf(e) === "ELOOP",
    () => Effect.zipRight(fs("unlink", path, () => FsP.unlink(path)), open)
  )
}

/** Destroys a write stream and waits until its file is closed (after any write in flight: the fd is never
 * closed under a pending write). */
const closeWritable = (writable: Fs.WriteStream): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    if (writable.closed) return resume(Effect.void)
    writable.once("close", () => resume(Effect.void))
    writable.destroy()
  })

/**
 * Writes a stream into a Node writable and ends it: chunks are written as they come, the stream waits only when
 * `write` asks for it (`drain`), so memory stays bounded by the writable's high-water mark.
 */
const writeAll = <E, E2>(
  writable: Fs.WriteStream,
  stream: Stream.Stream<Uint8Array, E>,
  onError: (error: unknown) => E2
): Effect.Effect<void, E | E2> =>
  Effect.suspend(() => {
    let failure: unknown = undefined
    const onFailure = (e: unknown) => (failure ??= e)
    writable.on("error", onFailure)
    const wait = (event: "drain" | "finish") =>
      Effect.async<void, E2>((resume) => {
        if (failure !== undefined) return resume(Effect.fail(onError(failure)))
        const done = () => {
          writable.off("error", failed)
          resume(Effect.void)
        }
        const failed = (e: unknown) => {
          writable.off(event, done)
          resume(Effect.fail(onError(e)))
        }
        writable.once(event, done)
        writable.once("error", failed)
        if (event === "finish") writable.end()
        return Effect.sync(() => {
          writable.off(event, done)
          writable.off("error", failed)
        })
      })
    return Stream.runForEachChunk(stream, (chunk) => {
      if (failure !== undefined) return Effect.fail(onError(failure))
      let ok = true
      for (const bytes of chunk) ok = writable.write(bytes)
      return ok ? Effect.void : wait("drain")
    }).pipe(
      Effect.zipRight(wait("finish")),
      Effect.ensuring(Effect.sync(() => writable.off("error", onFailure)))
    )
  })

/**
 * Writes a stream into a local file (never through a symlink), with the given mode (and owner) set on the open
 * file before any byte is written. The chunks go through a Node `WriteStream` that owns the file (it batches
 * queued chunks into one `writev`), with backpressure: memory stays bounded by its high-water mark. Failure or
 * interruption closes the file once the write in flight is done. Returns the number of bytes written.
 *
 * (`NodeSink.fromWritable` does the same with an `Effect.async` per chunk; writing directly and waiting only on
 * `drain` cost about 20 % less CPU on a 256 MiB pull, and kept the peak RSS steady.)
 *
 * @internal
 */
export const writeFile = <E>(
  path: string,
  stream: Stream.Stream<Uint8Array, E>,
  options: { readonly mode: number; readonly owner?: { readonly uid: number; readonly gid: number } | undefined }
): Effect.Effect<number, E | SystemError> =>
  Effect.acquireUseRelease(
    Effect.map(openNoFollow(path), (fd) => {
      const writable = Fs.createWriteStream(path, { fd, highWaterMark: WRITE_HIGH_WATER_MARK })
      // the sink reports errors while it runs; one after it stopped (an interrupted write) has nobody to tell
      writable.on("error", () => {})
      return { fd, writable }
    }),
    ({ fd, writable }) =>
      Effect.gen(function*() {
        yield* fs("chmod", path, () => fchmod(fd, options.mode))
        const owner = options.owner
        if (owner !== undefined) yield* fs("chown", path, () => fchown(fd, owner.uid, owner.gid))
        yield* writeAll(writable, stream, systemError("write", path))
        return writable.bytesWritten
      }),
    ({ writable }) => closeWritable(writable)
  )

/** Writes a whole chunk at the file's position (looping over short writes); an interruption waits for it. */
const writeChunk = (fd: number, path: string) => (chunk: Uint8Array): Effect.Effect<void, SystemError> =>
  Effect.async<void, SystemError>((resume) => {
    const step = (offset: number) =>
      Fs.write(fd, chunk, offset, chunk.length - offset, null, (error, written) => {
        if (error) resume(Effect.fail(systemError("write", path)(error)))
        else if (offset + written < chunk.length) step(offset + written)
        else resume(Effect.void)
      })
    step(0)
  }).pipe(Effect.uninterruptible)

/** A synchronous write slower than this (the kernel throttling a slow disk) sends the rest to the thread pool. */
const SLOW_SYNC_WRITE_MS = 10

/**
 * Writes chunks synchronously while that is quick, then through the thread pool. A download hands over each read
 * as it lands; written at once on the thread that read it, the bytes are still in that CPU's cache, and the copy
 * into the page cache costs a fraction of the same copy from a pool thread (bench/README.md, session 4). A write
 * to the page cache normally takes microseconds; once one takes longer than `SLOW_SYNC_WRITE_MS`, the disk is
 * throttling writers, and the event loop must not wait on it.
 */
const syncFirstWriter = (fd: number, path: string) => {
  let sync = true
  const async = writeChunk(fd, path)
  return (chunk: Uint8Array): Effect.Effect<void, SystemError> =>
    sync
      ? Effect.try({
        try: () => {
          const t0 = performance.now()
          for (let offset = 0; offset < chunk.length;) {
            offset += Fs.writeSync(fd, chunk, offset, chunk.length - offset)
          }
          if (performance.now() - t0 > SLOW_SYNC_WRITE_MS) sync = false
        },
        catch: systemError("write", path)
      })
      : async(chunk)
}

/**
 * Runs `use` with a writer to a local file that writes each chunk in full before it returns (so the chunk may be
 * reused afterwards; synchronously while the disk keeps up, see `syncFirstWriter`) and a `settle` that sets the
 * file's mode (and owner). The file is opened (never through a symlink: see `openNoFollow`) on the first write or
 * `settle`, so a `use` that fails before leaves what was there untouched; it is closed at the end.
 *
 * @internal
 */
export const withFileWriter = <A, E>(
  path: string,
  use: (
    write: (chunk: Uint8Array) => Effect.Effect<void, SystemError>,
    settle: (
      mode: number,
      owner?: { readonly uid: number; readonly gid: number } | undefined
    ) => Effect.Effect<void, SystemError>
  ) => Effect.Effect<A, E>
): Effect.Effect<A, E | SystemError> =>
  Effect.suspend(() => {
    let fd: number | undefined = undefined
    let writer: ((chunk: Uint8Array) => Effect.Effect<void, SystemError>) | undefined = undefined
    const opened = Effect.suspend(() =>
      fd === undefined ? Effect.uninterruptible(Effect.map(openNoFollow(path), (n) => (fd = n))) : Effect.succeed(fd)
    )
    return use(
      (chunk) =>
        writer === undefined
          ? Effect.flatMap(opened, (fd) => (writer ??= syncFirstWriter(fd, path))(chunk))
          : writer(chunk),
      (mode, owner) =>
        Effect.flatMap(opened, (fd) =>
          Effect.zipRight(
            fs("chmod", path, () => fchmod(fd, mode)),
            owner === undefined ? Effect.void : fs("chown", path, () => fchown(fd, owner.uid, owner.gid))
          ))
    ).pipe(
      Effect.ensuring(Effect.suspend(() =>
        fd === undefined ? Effect.void : Effect.async<void>((resume) => Fs.close(fd!, () => resume(Effect.void)))
      ))
    )
  })

/**
 * Creates a local directory if it is missing; an existing one must be a real directory, and a symlink in its
 * place is replaced (never followed).
 *
 * @internal
 */
export const ensureDirectory = (path: string, mode: number): Effect.Effect<void, SystemError> =>
  Effect.gen(function*() {
    const existing = yield* Effect.catchIf(
      fs("lstat", path, () => FsP.lstat(path)),
      (e) => codeOf(e) === "ENOENT",
      () => Effect.succeed(undefined)
    )
    if (existing?.isDirectory()) return
    if (existing?.isSymbolicLink()) yield* fs("unlink", path, () => FsP.unlink(path))
    else if (existing !== undefined) {
      return yield* systemError("mkdir", path)(Object.assign(new Error(`EEXIST: not a directory, mkdir '${path}'`), {
        code: "EEXIST",
        syscall: "mkdir"
      }))
    }
    yield* fs("mkdir", path, () => FsP.mkdir(path, { mode }))
  })

/**
 * Creates (or replaces) a local symlink. The old entry, if any, is unlinked, never followed.
 *
 * @internal
 */
export const writeSymlink = (path: string, target: string): Effect.Effect<void, SystemError> =>
  Effect.gen(function*() {
    const existing = yield* Effect.catchIf(
      fs("lstat", path, () => FsP.lstat(path)),
      (e) => codeOf(e) === "ENOENT",
      () => Effect.succeed(undefined)
    )
    if (existing !== undefined && !existing.isDirectory()) yield* fs("unlink", path, () => FsP.unlink(path))
    yield* fs("symlink", path, () => FsP.symlink(target, path))
  })

// ---------------------------------------------------------------------------------------------------------------
// walking a local tree

/** @internal */
export interface LocalEntry {
  /** Path relative to the root, `/`-separated; `""` for the root. */
  readonly relative: string
  readonly absolute: string
  readonly kind: "directory" | "file" | "symlink" | "other"
  readonly mode: number
  readonly uid: number
  readonly gid: number
  readonly size: number
  readonly target: string | undefined
}

/**
 * Every entry under a local directory, parents before children, by `lstat` (symlinks are reported, never
 * followed; only the root itself may be a symlink to a directory).
 *
 * @internal
 */
export const walk = (root: string): Effect.Effect<ReadonlyArray<LocalEntry>, SystemError> =>
  Effect.gen(function*() {
    const rootStat = yield* fs("stat", root, () => FsP.stat(root))
    if (!rootStat.isDirectory()) {
      return yield* systemError("scandir", root)(Object.assign(new Error(`ENOTDIR: not a directory, '${root}'`), {
        code: "ENOTDIR",
        syscall: "scandir"
      }))
    }
    const out: Array<LocalEntry> = [{
      relative: "",
      absolute: root,
      kind: "directory",
      mode: rootStat.mode & 0o7777,
      uid: rootStat.uid,
      gid: rootStat.gid,
      size: 0,
      target: undefined
    }]
    const visit = (dir: string, relative: string): Effect.Effect<void, SystemError> =>
      Effect.gen(function*() {
        const names = (yield* fs("readdir", dir, () => FsP.readdir(dir))).sort()
        const subdirs: Array<[string, string]> = []
        for (const name of names) {
          const absolute = Path.join(dir, name)
          const rel = relative === "" ? name : `${relative}/${name}`
          const st = yield* fs("lstat", absolute, () => FsP.lstat(absolute))
          const kind = st.isDirectory() ? "directory" : st.isFile() ? "file" : st.isSymbolicLink() ? "symlink" : "other"
          const target = kind === "symlink" ? yield* fs("readlink", absolute, () => FsP.readlink(absolute)) : undefined
          out.push({
            relative: rel,
            absolute,
            kind,
            mode: st.mode & 0o7777,
            uid: st.uid,
            gid: st.gid,
            size: st.size,
            target
          })
          if (kind === "directory") subdirs.push([absolute, rel])
        }
        for (const [absolute, rel] of subdirs) yield* visit(absolute, rel)
      })
    yield* visit(root, "")
    return out
  })

// ---------------------------------------------------------------------------------------------------------------
// remote path rules

/**
 * Refuses a local path that is not a non-empty string without NUL bytes (Node would throw a `TypeError`).
 *
 * @internal
 */
export const checkLocalPath = (argument: string, value: unknown): Effect.Effect<string, InvalidArgument> => {
  const reason = typeof value !== "string"
    ? "must be a string"
    : value === ""
    ? "must not be empty"
    : value.includes("\u0000")
    ? "must not contain NUL bytes"
    : undefined
  return reason === undefined
    ? Effect.succeed(value as string)
    : Effect.fail(new InvalidArgument({ argument, value, reason }))
}

/** `/a//b/./` → `/a/b`. @internal */
export const normalizeRemote = (p: string): string => Path.posix.normalize(p).replace(/(.)\/+$/, "$1")

/** Refuses an entry name that is not a single path segment. @internal */
export const checkName = (dir: string, name: string): Effect.Effect<string, InvalidArgument> =>
  name === "" || name === "." || name === ".." || name.includes("/") || name.includes("\u0000")
    ? Effect.fail(
      new InvalidArgument({
        argument: "entry name",
        value: name,
        reason: `listed in ${dir}: not a single path segment (it would escape the destination)`
      })
    )
    : Effect.succeed(name)

/**
 * Where a remote symlink may point, for a pull into a local tree: the target (LXD reports it absolute and
 * cleaned; a relative one is resolved against the link's directory) must lie inside `root`. Returns the target
 * relative to the link's directory, to write locally.
 *
 * @internal
 */
export const localSymlinkTarget = (
  root: string,
  linkPath: string,
  target: string
): { readonly relative: string } | { readonly outside: string } => {
  const dir = Path.posix.dirname(linkPath)
  const resolved = Path.posix.normalize(target.startsWith("/") ? target : Path.posix.join(dir, target))
  const inside = root === "/" || resolved === root || resolved.startsWith(root + "/")
  if (!inside || target.includes("\u0000")) return { outside: resolved }
  return { relative: Path.posix.relative(dir, resolved) || "." }
}

// ---------------------------------------------------------------------------------------------------------------
// staging a pull

/** Where a pull lands: the directory (a symlink to one resolved), and whether it was there before. @internal */
export interface Destination {
  readonly path: string
  readonly exists: boolean
}

/**
 * The destination of a pull: an existing directory (or a symlink to one, resolved), or a path that does not
 * exist yet (its parents are created). `InvalidArgument` if something else is there.
 *
 * @internal
 */
export const destination = (localDir: string): Effect.Effect<Destination, InvalidArgument | SystemError> =>
  Effect.gen(function*() {
    const st = yield* Effect.catchIf(
      fs("stat", localDir, () => FsP.stat(localDir)),
      (e) => codeOf(e) === "ENOENT",
      () => Effect.succeed(undefined)
    )
    if (st === undefined) {
      const path = Path.resolve(localDir)
      yield* fs("mkdir", Path.dirname(path), () => FsP.mkdir(Path.dirname(path), { recursive: true }))
      return { path, exists: false }
    }
    if (!st.isDirectory()) {
      return yield* new InvalidArgument({ argument: "localDir", value: localDir, reason: "is not a directory" })
    }
    return { path: yield* fs("realpath", localDir, () => FsP.realpath(localDir)), exists: true }
  })

/**
 * A staging directory beside `dest` (same parent, so on the same filesystem: moving it is a rename), removed
 * when the scope closes unless it was moved into place.
 *
 * @internal
 */
export const staging = (dest: Destination) =>
  Effect.acquireRelease(
    fs(
      "mkdtemp",
      dest.path,
      () => FsP.mkdtemp(Path.join(Path.dirname(dest.path), `.${Path.basename(dest.path)}.pull-`))
    ),
    (dir) => Effect.promise(() => FsP.rm(dir, { recursive: true, force: true }).catch(() => undefined))
  )

/**
 * Refuses a non-directory of `src` whose place in `dst` is a directory, or a directory whose place is a file
 * (checked before anything moves); a symlink in the way is never a conflict (it is replaced, not followed).
 */
const conflicts = (src: string, dst: string): Effect.Effect<void, SystemError> =>
  Effect.gen(function*() {
    for (const entry of yield* fs("readdir", src, () => FsP.readdir(src, { withFileTypes: true }))) {
      const target = Path.join(dst, entry.name)
      const there = yield* Effect.catchIf(
        fs("lstat", target, () => FsP.lstat(target)),
        (e) => codeOf(e) === "ENOENT",
        () => Effect.succeed(undefined)
      )
      if (there === undefined || there.isSymbolicLink()) continue
      if (entry.isDirectory() && there.isDirectory()) yield* conflicts(Path.join(src, entry.name), target)
      else if (entry.isDirectory() || there.isDirectory()) {
        const code = there.isDirectory() ? "EISDIR" : "EEXIST"
        return yield* systemError("rename", target)(
          Object.assign(
            new Error(`${code}: ${there.isDirectory() ? "a directory" : "not a directory"} is in the way, '${target}'`),
            {
              code,
              syscall: "rename"
            }
          )
        )
      }
    }
  })

/** Moves what `src` holds into `dst`: renames, directories merged, a file or a symlink in the way replaced. */
const moveInto = (src: string, dst: string): Effect.Effect<void, SystemError> =>
  Effect.gen(function*() {
    for (const entry of yield* fs("readdir", src, () => FsP.readdir(src, { withFileTypes: true }))) {
      const from = Path.join(src, entry.name)
      const to = Path.join(dst, entry.name)
      const there = entry.isDirectory()
        ? yield* Effect.catchIf(
          fs("lstat", to, () => FsP.lstat(to)),
          (e) => codeOf(e) === "ENOENT",
          () => Effect.succeed(undefined)
        )
        : undefined
      if (there?.isDirectory()) yield* moveInto(from, to)
      else {
        // a directory cannot be renamed over a symlink: the link goes first (it is never followed)
        if (there?.isSymbolicLink()) yield* fs("unlink", to, () => FsP.unlink(to))
        yield* fs("rename", to, () => FsP.rename(from, to))
      }
    }
  })

/**
 * Puts a finished staging directory in place: renamed to the destination when it did not exist, else its
 * entries moved into it (merged; conflicts between a directory and a non-directory are refused before
 * anything moves).
 *
 * @internal
 */
export const commit = (dir: string, dest: Destination): Effect.Effect<void, SystemError> =>
  dest.exists
    ? Effect.zipRight(conflicts(dir, dest.path), moveInto(dir, dest.path))
    : fs("rename", dest.path, () => FsP.rename(dir, dest.path))

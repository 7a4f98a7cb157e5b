/**
 * Files inside instances (`/1.0/instances/{name}/files?path=…`): read, write, list, stat, symlinks, directories
 * and deletion. Contents are streamed both ways and never held whole in memory (except by the explicit
 * `readBytes` / `readText` conveniences, which have a size limit). Works on running and stopped instances.
 *
 * Paths are absolute paths inside the instance. A relative path, a NUL byte or a `..` segment is refused with
 * `InvalidArgument` before any request is sent. The `path` query is percent-encoded.
 *
 * LXD 5.0.2 specifics worth knowing: uid, gid and mode apply only when a file or directory is **created**
 * (an existing one keeps its own); the setuid, setgid and sticky bits are dropped; a write to a path that is a
 * symlink writes through it to its target; creating a directory that already exists (even as a file) succeeds.
 *
 * @example
 * ```ts
 * import { Files, Instances, Lxd } from "@effect-lxd/core"
 * import { LxdFakeServer } from "@effect-lxd/testing"
 * import { Effect, Layer, Stream } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const instances = yield* Instances.Instances
 *   const files = yield* Files.Files
 *   yield* instances.create({ name: "c1", source: { type: "image", alias: "busybox" } })
 *   yield* files.put("c1", "/etc/motd", "hello\n", { mode: 0o644 })
 *   // whole files up to maxBytes (32 MiB by default; InvalidArgument beyond it)...
 *   const motd = yield* files.readBytes("c1", "/etc/motd")
 *   // ...larger ones as a stream (or files.download, or NodeFiles.pullFile to disk)
 *   const size = yield* Stream.runFold(files.stream("c1", "/etc/motd"), 0, (n, chunk) => n + chunk.length)
 *   return [new TextDecoder().decode(motd), size] // ["hello\n", 6]
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(Lxd.layer.pipe(Layer.provide(LxdFakeServer.layer())))))
 *   .then(console.log)
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Stream from "effect/Stream"
import * as internal from "./internal/files.js"
import { LxdClient } from "./LxdClient.js"
import type { InvalidArgument, LxdError } from "./LxdError.js"

/**
 * What a path is: `file`, `directory` or `symlink` (open: LXD may report another type).
 *
 * @since 0.1.0
 * @category models
 */
export type FileType = "file" | "directory" | "symlink" | (string & {})

/**
 * Owner, mode and type of a path, from LXD's `X-LXD-*` headers. uid and gid are as seen inside the instance.
 *
 * @since 0.1.0
 * @category models
 */
export interface FileStat {
  readonly type: FileType
  readonly uid: number
  readonly gid: number
  /** Permission bits (`0o644`); LXD 5.0.2 reports `0777` for symlinks and no setuid/setgid/sticky bits. */
  readonly mode: number
  /** Last modification (`X-LXD-modified`), when the server sent a readable one. */
  readonly modified: DateTime.Utc | undefined
}

/**
 * A regular file being read. `stream` owns the HTTP response: running it to the end, failing or interrupting it
 * releases the connection. It can be run once. If you decide not to read it, run `discard` (a no-op once the
 * stream has run), e.g. `Effect.acquireRelease(files.get(i, p), (c) => c.discard)`.
 *
 * @since 0.1.0
 * @category models
 */
export interface FileContent {
  readonly type: "file"
  readonly stat: FileStat
  /** `Content-Length`, when the server sent it. */
  readonly size: number | undefined
  /** The content, chunk by chunk as it arrives. A connection that breaks fails with `ClientConnectionFailed`. */
  readonly stream: Stream.Stream<Uint8Array, LxdError>
  /** Releases the response without reading it. */
  readonly discard: Effect.Effect<void>
}

/**
 * A directory: its entry names (LXD gives names only, in directory order, without `.` and `..`).
 *
 * @since 0.1.0
 * @category models
 */
export interface DirectoryContent {
  readonly type: "directory"
  readonly stat: FileStat
  readonly entries: ReadonlyArray<string>
}

/**
 * A symbolic link. LXD does not follow it: it reports the target, made absolute and cleaned
 * (`../a.txt` in `/tmp/d` reads as `/tmp/a.txt`).
 *
 * @since 0.1.0
 * @category models
 */
export interface SymlinkContent {
  readonly type: "symlink"
  readonly stat: FileStat
  readonly target: string
}

/**
 * Whatever a `GET` on a path gives.
 *
 * @since 0.1.0
 * @category models
 */
export type Entry = FileContent | DirectoryContent | SymlinkContent

/**
 * A directory entry with its stat (`listWithStats`).
 *
 * @since 0.1.0
 * @category models
 */
export interface DirEntry {
  readonly name: string
  /** Absolute path of the entry. */
  readonly path: string
  readonly stat: FileStat
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ReadOptions {
  /** Refuse (with `InvalidArgument`) a file larger than this. Default 32 MiB. */
  readonly maxBytes?: number | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface PutOptions {
  /** Permission bits, e.g. `0o644` (sent as `X-LXD-mode: 0644`). Applied only if the file is created. */
  readonly mode?: number | undefined
  /** Owner inside the instance. Applied only if the file is created. */
  readonly uid?: number | undefined
  /** Group inside the instance. Applied only if the file is created. */
  readonly gid?: number | undefined
  /**
   * `"overwrite"` (default) replaces the content; `"append"` adds to it (extension `file_append`; on LXD 5.0.2
   * the file must already exist, or the answer is `NotFound`).
   */
  readonly writeMode?: "overwrite" | "append" | undefined
  /**
   * The exact length of a streamed content, sent as `Content-Length` instead of chunked encoding. The upload
   * fails with `ClientConnectionFailed` if the stream yields a different number of bytes.
   */
  readonly size?: number | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface MkdirOptions {
  /** Create missing parent directories too (like `mkdir -p -m`): they get LXD's defaults, the options go to `path`. */
  readonly parents?: boolean | undefined
  /** Permission bits, e.g. `0o755` (LXD 5.0.2's default is `0750`). */
  readonly mode?: number | undefined
  readonly uid?: number | undefined
  readonly gid?: number | undefined
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Files extends Context.Tag("@effect-lxd/core/Files")<Files, Files.Service>() {}

/**
 * The `Service` interface of the `Files` tag.
 *
 * @since 0.1.0
 * @category models
 */
export declare namespace Files {
  /**
   * Every method fails with `InvalidArgument` (bad instance name, relative path, NUL byte, `..` segment, bad
   * mode/uid/gid) before sending anything, with `NotFound` when the instance ("Instance not found") or the path
   * ("Not Found") does not exist, with `ClientConnectionFailed` or `ProtocolError` as every request can, and
   * with `LxdApiError` for what LXD's file server refuses (texts such as
   * `sftp: "remove /tmp/d: directory not empty" (SSH_FX_FAILURE)`).
   *
   * @since 0.1.0
   * @category models
   */
  export interface Service {
    /**
     * Type, owner and mode of a path, without reading it (`HEAD /1.0/instances/{name}/files?path=`, extension
     * `instance_file_head`; without it a `GET` whose body is dropped). A HEAD answer has no error text, so a
     * missing instance or path are both `NotFound` with the message `HTTP 404 …`.
     */
    readonly stat: (instance: string, path: string) => Effect.Effect<FileStat, LxdError>
    /** Whether a path exists (`HEAD`, then `GET` to tell a missing path from a missing instance, which fails). */
    readonly exists: (instance: string, path: string) => Effect.Effect<boolean, LxdError>
    /**
     * Whatever is at a path (`GET /1.0/instances/{name}/files?path=`): a file with its content stream, a
     * directory with its entry names, or a symlink with its target. For a file, run or `discard` the stream.
     */
    readonly getEntry: (instance: string, path: string) => Effect.Effect<Entry, LxdError>
    /**
     * A regular file with its stat and a stream of its content (`GET …/files?path=`). A directory or a symlink
     * is refused with `InvalidArgument` saying which (LXD would answer a listing or the link's target, not
     * content). The stream owns the response: see {@link FileContent}.
     */
    readonly get: (instance: string, path: string) => Effect.Effect<FileContent, LxdError>
    /**
     * Reads a regular file into `write`, chunk by chunk, and returns its stat (`GET …/files?path=`). Where the
     * transport has a download path (the node unix socket) the body comes through reused buffers, with no
     * allocation per chunk: the leanest way to save a file. A chunk is therefore valid only until its `write`
     * ends (copy it to keep it), and nothing more is read while `write` runs. Otherwise it reads as `get` does,
     * with the same errors (`NotFound`, `InvalidArgument` for a directory or a symlink, …).
     */
    readonly download: <E>(
      instance: string,
      path: string,
      write: (chunk: Uint8Array) => Effect.Effect<void, E>
    ) => Effect.Effect<FileStat, LxdError | E>
    /**
     * Writes a file of `size` bytes whose content `fill` provides (`POST …/files?path=`, as `put`): `fill`
     * writes into the buffer it is given, from its start, and returns how many bytes it wrote. Where the
     * transport has an upload path (the node unix socket) the buffers are reused, with no allocation per chunk;
     * a buffer is filled again only once the connection took the bytes before. Otherwise fresh chunks go as
     * `put` sends a stream. A `fill` that returns 0 before `size` bytes fails the push. Errors: as `put`.
     */
    readonly upload: <E>(
      instance: string,
      path: string,
      size: number,
      fill: (buffer: Uint8Array) => Effect.Effect<number, E>,
      options?: PutOptions
    ) => Effect.Effect<void, LxdError | E>
    /** The content of a regular file, requested when the stream runs (`get`, then its stream). */
    readonly stream: (instance: string, path: string) => Stream.Stream<Uint8Array, LxdError>
    /** The whole content of a regular file; `InvalidArgument` if it is larger than `maxBytes` (32 MiB). */
    readonly readBytes: (instance: string, path: string, options?: ReadOptions) => Effect.Effect<Uint8Array, LxdError>
    /** The whole content of a regular file as UTF-8 text; `InvalidArgument` beyond `maxBytes` (32 MiB). */
    readonly readText: (instance: string, path: string, options?: ReadOptions) => Effect.Effect<string, LxdError>
    /** Entry names of a directory (`GET …/files?path=`); `InvalidArgument` if the path is not a directory. */
    readonly list: (instance: string, path: string) => Effect.Effect<ReadonlyArray<string>, LxdError>
    /**
     * Entries of a directory with their stats: one `GET` plus one `HEAD` per entry, `concurrency` (8) at a time.
     */
    readonly listWithStats: (
      instance: string,
      path: string,
      options?: { readonly concurrency?: number | undefined }
    ) => Effect.Effect<ReadonlyArray<DirEntry>, LxdError>
    /**
     * The target of a symlink, absolute as LXD reports it (`GET …/files?path=`; a server without extension
     * `file_get_symlink` follows the link instead and reports the target); `InvalidArgument` if the path is not
     * a symlink.
     */
    readonly readlink: (instance: string, path: string) => Effect.Effect<string, LxdError>
    /**
     * Writes a file (`POST /1.0/instances/{name}/files?path=`, `Content-Type: application/octet-stream`,
     * `X-LXD-type: file`, `X-LXD-write`, `X-LXD-mode` as octal with a leading 0, `X-LXD-uid`, `X-LXD-gid`).
     * A stream is uploaded as it is produced (bounded memory); its own failure is re-raised as it was. `append`
     * needs extension `file_append`. The parent directory must exist (`NotFound`).
     */
    readonly put: <E = never, R = never>(
      instance: string,
      path: string,
      content: string | Uint8Array | Stream.Stream<Uint8Array, E, R>,
      options?: PutOptions
    ) => Effect.Effect<void, LxdError | E, R>
    /**
     * Creates a directory (`POST …/files?path=`, `X-LXD-type: directory`). An existing path is left as it is
     * and is not an error; a missing parent is `NotFound` unless `parents` is set.
     */
    readonly mkdir: (instance: string, path: string, options?: MkdirOptions) => Effect.Effect<void, LxdError>
    /**
     * Creates a symlink at `path` pointing to `target` (`POST …/files?path=`, `X-LXD-type: symlink`, extension
     * `file_symlinks`). An existing path is an `LxdApiError` (`… file exists`).
     */
    readonly symlink: (instance: string, path: string, target: string) => Effect.Effect<void, LxdError>
    /**
     * Removes a file, a symlink (not its target) or an empty directory (`DELETE …/files?path=`, extension
     * `file_delete`). A non-empty directory is an `LxdApiError` (`… directory not empty`).
     */
    readonly delete: (instance: string, path: string) => Effect.Effect<void, LxdError>
  }
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Files.Service, never, LxdClient> = Effect.map(LxdClient, internal.make)

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Files, never, LxdClient> = Layer.effect(Files, make)

/**
 * Formats a permission mode the way LXD reads `X-LXD-mode`: octal with a leading 0 (`0o644` → `"0644"`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const formatMode: (mode: number) => string = internal.formatMode

/**
 * The check every {@link Files.Service} method makes of a path inside an instance, for helpers that take such
 * paths themselves (`NodeFiles.pushTree`/`pullTree`): a string, absolute, without NUL bytes or `..` segments.
 * Succeeds with the path as given; fails with `InvalidArgument` naming `argument` (default `"path"`).
 *
 * @since 0.2.0
 * @category validation
 */
export const validatePath: (value: unknown, argument?: string) => Effect.Effect<string, InvalidArgument> =
  internal.validatePath

/**
 * The instance file API (`/1.0/instances/{name}/files?path=…`): path checks, `X-LXD-*` header parsing and
 * writing, and response bodies that are streamed, never buffered whole.
 *
 * @internal
 */
import * as Headers from "@effect/platform/Headers"
import * as HttpBody from "@effect/platform/HttpBody"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type * as F from "../Files.js"
import type { LxdClient, Request } from "../LxdClient.js"
import { InvalidArgument, type LxdError } from "../LxdError.js"
import { discard, fillChunks, withStreamBody } from "./body.js"
import { excerpt, PATH_MAX } from "./bounded.js"
import * as Bytes from "./bytes.js"
import { protocolError } from "./client.js"
import * as Envelope from "./envelope.js"
import * as Path from "./path.js"

const OCTET = "application/octet-stream"

/** Chunk size of `upload` when the transport has no upload path. */
const UPLOAD_CHUNK_BYTES = 1024 * 1024

/** Default limit of `readBytes` / `readText`. @internal */
export const DEFAULT_MAX_BYTES = 32 * 1024 * 1024

// ---------------------------------------------------------------------------------------------------------------
// arguments

/**
 * Why a path inside an instance is refused, or `undefined`: it must be a string, absolute, without NUL bytes
 * and without `..` segments (LXD would resolve them, so a checked prefix could be escaped).
 *
 * @internal
 */
export const checkPath = (value: unknown): string | undefined => {
  if (typeof value !== "string") return "must be a string"
  if (value.includes("\u0000")) return "must not contain NUL bytes"
  if (!value.startsWith("/")) return "must be an absolute path (start with '/')"
  if (value.split("/").includes("..")) return "must not contain '..' segments"
  return undefined
}

/** @internal */
export const validatePath = (value: unknown, argument = "path"): Effect.Effect<string, InvalidArgument> => {
  const reason = checkPath(value)
  return reason === undefined
    ? Effect.succeed(value as string)
    : Effect.fail(new InvalidArgument({ argument, value, reason }))
}

/** `/a//b/` → `/a/b` (and `/` stays `/`). @internal */
export const normalize = (path: string): string => {
  const parts = path.split("/").filter((s) => s !== "" && s !== ".")
  return "/" + parts.join("/")
}

/** The parent directory of a normalized path (`/` for `/a` and `/`). @internal */
export const parentOf = (path: string): string => {
  const i = path.lastIndexOf("/")
  return i <= 0 ? "/" : path.slice(0, i)
}

/** `join("/tmp", "a")` → `/tmp/a`, `join("/", "a")` → `/a`. @internal */
export const join = (dir: string, name: string): string => (dir.endsWith("/") ? dir : dir + "/") + name

/**
 * A permission mode as LXD reads `X-LXD-mode` (Go `strconv.ParseInt(s, 0, 0)`): octal with a leading `0`, so
 * `0o644` → `"0644"` (`"644"` would be read as decimal 644 = `0o1204`).
 *
 * @internal
 */
export const formatMode = (mode: number): string => "0" + mode.toString(8).padStart(3, "0")

const checkId = (argument: string, value: unknown): Effect.Effect<string | undefined, InvalidArgument> => {
  if (value === undefined) return Effect.succeed(undefined)
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    return Effect.fail(new InvalidArgument({ argument, value, reason: "must be an integer from 0 to 2^32-1" }))
  }
  return Effect.succeed(String(value))
}

/** The `X-LXD-uid/gid/mode` headers for optional ownership and mode, validated. @internal */
export const ownershipHeaders = (
  options: { readonly mode?: number | undefined; readonly uid?: number | undefined; readonly gid?: number | undefined }
): Effect.Effect<Record<string, string>, InvalidArgument> =>
  Effect.gen(function*() {
    const out: Record<string, string> = {}
    const mode = options.mode
    if (mode !== undefined) {
      if (typeof mode !== "number" || !Number.isInteger(mode) || mode < 0 || mode > 0o7777) {
        return yield* new InvalidArgument({
          argument: "mode",
          value: mode,
          reason: "must be an integer from 0 to 0o7777 (write it in octal: 0o644)"
        })
      }
      out["X-LXD-mode"] = formatMode(mode)
    }
    const uid = yield* checkId("uid", options.uid)
    if (uid !== undefined) out["X-LXD-uid"] = uid
    const gid = yield* checkId("gid", options.gid)
    if (gid !== undefined) out["X-LXD-gid"] = gid
    return out
  })

// ---------------------------------------------------------------------------------------------------------------
// headers

// Go's time.Time.String(): "2026-11-23 21:01:23.123456789 +0000 UTC"; RFC 3339 is accepted too.
const goTime = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(\.\d+)?\s*(Z|[+-]\d{2}:?\d{2})?/

/** Reads `X-LXD-modified`; `undefined` when absent or unreadable. @internal */
export const parseModified = (value: string | undefined): DateTime.Utc | undefined => {
  if (value === undefined) return undefined
  const m = goTime.exec(value.trim())
  if (m === null) return undefined
  const fraction = m[3] === undefined ? "" : m[3].slice(0, 4)
  let zone = m[4] ?? "Z"
  if (zone !== "Z" && !zone.includes(":")) zone = `${zone.slice(0, 3)}:${zone.slice(3)}`
  return Option.getOrUndefined(DateTime.make(`${m[1]}T${m[2]}${fraction}${zone}`))
}

const integer = (value: string | undefined, radix: number): number | undefined => {
  if (value === undefined || value.trim() === "") return undefined
  const n = Number.parseInt(value.trim(), radix)
  return Number.isNaN(n) ? undefined : n
}

/**
 * Reads a stat from the `X-LXD-type`, `-uid`, `-gid`, `-mode` (octal) and `-modified` headers, or says which
 * one is missing.
 *
 * @internal
 */
export const parseStat = (headers: Headers.Headers): F.FileStat | { readonly missing: string } => {
  const type = headers["x-lxd-type"]
  if (type === undefined || type === "") return { missing: "X-LXD-type" }
  const uid = integer(headers["x-lxd-uid"], 10)
  if (uid === undefined) return { missing: "X-LXD-uid" }
  const gid = integer(headers["x-lxd-gid"], 10)
  if (gid === undefined) return { missing: "X-LXD-gid" }
  const mode = integer(headers["x-lxd-mode"], 8)
  if (mode === undefined) return { missing: "X-LXD-mode" }
  return { type, uid, gid, mode, modified: parseModified(headers["x-lxd-modified"]) }
}

// ---------------------------------------------------------------------------------------------------------------
// the service

/** LXD words a missing instance "Instance not found" and a missing path "Not Found". @internal */
export const isInstanceMissing = (e: { readonly message: string }): boolean => /^instance\b.*not found/i.test(e.message)

/** @internal */
export const make = (client: LxdClient.Service): F.Files.Service => {
  const connectionFailed = client.connectionFailed

  /** Builds the request for one path of one instance; fails with `InvalidArgument` before anything is sent. */
  const fileRequest = (
    instance: string,
    path: string,
    method: Request["method"],
    extra: Partial<Pick<Request, "headers" | "rawBody">> = {}
  ): Effect.Effect<Request, InvalidArgument> =>
    Effect.zipWith(
      Path.build("/instances/", ["instance", instance], "/files"),
      validatePath(path),
      (p, filePath): Request => ({ method, path: p, query: { path: filePath }, ...extra })
    )

  const statOf = (request: Request, response: HttpClientResponse.HttpClientResponse) => {
    const stat = parseStat(response.headers)
    return "missing" in stat
      ? Effect.fail(protocolError(request, `HTTP ${response.status}: the ${stat.missing} header is missing`))
      : Effect.succeed(stat)
  }

  const fileContent = (
    request: Request,
    response: HttpClientResponse.HttpClientResponse,
    stat: F.FileStat
  ): F.FileContent => {
    let state: "unread" | "reading" | "done" = "unread"
    const length = integer(response.headers["content-length"], 10)
    const stream = Stream.suspend((): Stream.Stream<Uint8Array, LxdError> => {
      if (state !== "unread") {
        return Stream.fail(
          new InvalidArgument({
            argument: "stream",
            value: request.query?.path,
            reason: "a file body can be read only once: call get again"
          })
        )
      }
      state = "reading"
      // the response's stream aborts the request when it ends, fails or is interrupted: the run owns the body
      return response.stream.pipe(
        Stream.mapError(connectionFailed(request)),
        Stream.ensuring(Effect.sync(() => (state = "done")))
      )
    })
    return {
      type: "file",
      stat,
      size: length,
      stream,
      discard: Effect.suspend(() => {
        if (state !== "unread") return Effect.void
        state = "done"
        return discard(response)
      })
    }
  }

  /**
   * A symlink's target, the body of its answer: at most `PATH_MAX` bytes (no more is read); a longer one is a
   * `ProtocolError` with an excerpt.
   */
  const symlinkTarget = (request: Request, response: HttpClientResponse.HttpClientResponse) =>
    Effect.flatMap(
      response.stream.pipe(
        Stream.mapError(connectionFailed(request)),
        Stream.runFoldWhile(
          { chunks: [] as Array<Uint8Array>, length: 0 },
          (s) => s.length <= PATH_MAX,
          (s, chunk) => ({ chunks: [...s.chunks, chunk], length: s.length + chunk.length })
        )
      ),
      ({ chunks, length }) => {
        const target = new TextDecoder().decode(Bytes.concat(chunks))
        return length <= PATH_MAX ? Effect.succeed(target) : Effect.fail(
          protocolError(
            request,
            `the symlink target is longer than PATH_MAX (${PATH_MAX} bytes): ${JSON.stringify(excerpt(target, 256))}`
          )
        )
      }
    )

  const getEntry = (instance: string, path: string): Effect.Effect<F.Entry, LxdError> =>
    Effect.gen(function*() {
      const request = yield* fileRequest(instance, path, "GET")
      const response = yield* client.requestRaw(request)
      const stat = yield* Effect.tapError(statOf(request, response), () => discard(response))
      if (stat.type === "directory") {
        const json = yield* Effect.mapError(
          response.json,
          (cause) => protocolError(request, "the directory listing is not JSON", cause)
        )
        const envelope = Envelope.parse(json)
        if ("invalid" in envelope) return yield* protocolError(request, envelope.invalid)
        const names = envelope.metadata
        if (names !== null && (!Array.isArray(names) || names.some((n) => typeof n !== "string"))) {
          return yield* protocolError(request, "the directory listing is not a list of names")
        }
        return { type: "directory", stat, entries: (names ?? []) as ReadonlyArray<string> } satisfies F.Entry
      }
      if (stat.type === "symlink") {
        const target = yield* symlinkTarget(request, response)
        return { type: "symlink", stat, target } satisfies F.Entry
      }
      return fileContent(request, response, stat)
    })

  const notA = (path: string, entry: F.Entry, wanted: string, hint: string) =>
    Effect.zipRight(
      entry.type === "file" ? entry.discard : Effect.void,
      Effect.fail(
        new InvalidArgument({
          argument: "path",
          value: path,
          reason: `is ${
            entry.type === "symlink"
              ? `a symlink to ${entry.target}`
              : entry.type === "directory"
              ? "a directory"
              : `a ${entry.type}`
          }, not ${wanted}${hint}`
        })
      )
    )

  const get = (instance: string, path: string): Effect.Effect<F.FileContent, LxdError> =>
    Effect.flatMap(getEntry(instance, path), (entry) =>
      entry.type === "file"
        ? Effect.succeed(entry)
        : notA(
          path,
          entry,
          "a regular file",
          entry.type === "symlink"
            ? " (LXD does not follow it: use readlink, or get the target)"
            : entry.type === "directory"
            ? " (use list)"
            : ""
        ))

  const download = <E>(
    instance: string,
    path: string,
    write: (chunk: Uint8Array) => Effect.Effect<void, E>
  ): Effect.Effect<F.FileStat, LxdError | E> =>
    Effect.gen(function*() {
      const request = yield* fileRequest(instance, path, "GET")
      // the transport's reused-buffer path takes a regular file's 200 only; anything else goes as `get` goes
      let stat: F.FileStat | undefined
      const done = yield* client.download(request, (status, headers) => {
        const parsed = status === 200 ? parseStat(Headers.fromInput(headers)) : undefined
        if (parsed === undefined || "missing" in parsed || parsed.type !== "file") return false
        stat = parsed
        return true
      }, write)
      if (Option.isSome(done) && stat !== undefined) return stat
      const content = yield* get(instance, path)
      yield* Stream.runForEach(content.stream, write)
      return content.stat
    })

  const put = <E = never, R = never>(
    instance: string,
    path: string,
    content: string | Uint8Array | Stream.Stream<Uint8Array, E, R>,
    options: F.PutOptions = {}
  ): Effect.Effect<void, LxdError | E, R> =>
    Effect.gen(function*() {
      const request = yield* putRequest(instance, path, options)
      if (typeof content === "string" || content instanceof Uint8Array) {
        const rawBody = typeof content === "string"
          ? HttpBody.text(content, OCTET)
          : HttpBody.uint8Array(content, OCTET)
        return yield* post({ ...request, rawBody })
      }
      // the caller's stream runs inside the transport: its own failure is re-raised as it was
      return yield* withStreamBody(content, OCTET, options.size, (rawBody) => post({ ...request, rawBody }))
    }).pipe(Effect.withSpan("Files.put"))

  /** The request of a file push (without its body), after checking the options and the path. */
  const putRequest = (instance: string, path: string, options: F.PutOptions) =>
    Effect.gen(function*() {
      const writeMode = options.writeMode ?? "overwrite"
      if (writeMode !== "overwrite" && writeMode !== "append") {
        return yield* new InvalidArgument({
          argument: "writeMode",
          value: writeMode,
          reason: "must be \"overwrite\" or \"append\""
        })
      }
      const ownership = yield* ownershipHeaders(options)
      // validate before the extension check, which may cost a request
      const request = yield* fileRequest(instance, path, "POST", {
        headers: { "X-LXD-type": "file", "X-LXD-write": writeMode, ...ownership }
      })
      if (writeMode === "append") yield* client.requireExtension("file_append")
      return request
    })

  const upload = <E>(
    instance: string,
    path: string,
    size: number,
    fill: (buffer: Uint8Array) => Effect.Effect<number, E>,
    options: F.PutOptions
  ): Effect.Effect<void, LxdError | E> =>
    Effect.gen(function*() {
      if (!Number.isSafeInteger(size) || size < 0) {
        return yield* new InvalidArgument({ argument: "size", value: size, reason: "must be a byte count" })
      }
      const request = yield* putRequest(instance, path, options)
      if (Option.isSome(yield* client.upload(request, size, fill))) return
      // no upload path in the transport: the same bytes as a stream of fresh chunks
      const chunks = fillChunks(size, UPLOAD_CHUNK_BYTES, fill)
      yield* put(instance, path, chunks, { ...options, size })
    })

  const readBytes = (instance: string, path: string, options?: F.ReadOptions) =>
    Effect.gen(function*() {
      const max = options?.maxBytes ?? DEFAULT_MAX_BYTES
      const content = yield* get(instance, path)
      const tooLarge = (size: number | string) =>
        new InvalidArgument({
          argument: "maxBytes",
          value: max,
          reason: `${path} is larger (${size} bytes); stream it with get instead`
        })
      if (content.size !== undefined && content.size > max) {
        yield* content.discard
        return yield* tooLarge(content.size)
      }
      const chunks: Array<Uint8Array> = []
      let total = 0
      yield* Stream.runForEach(content.stream, (chunk) => {
        total += chunk.length
        if (total > max) return Effect.fail(tooLarge(`more than ${max}`))
        chunks.push(chunk)
        return Effect.void
      })
      return Bytes.concat(chunks)
    })

  const listNames = (instance: string, path: string) =>
    Effect.flatMap(
      getEntry(instance, path),
      (entry) => entry.type === "directory" ? Effect.succeed(entry.entries) : notA(path, entry, "a directory", "")
    )

  const statWithHead = (instance: string, path: string) =>
    Effect.gen(function*() {
      const request = yield* fileRequest(instance, path, "HEAD")
      if (!(yield* client.hasExtension("instance_file_head"))) {
        // older servers: a GET gives the same headers; the body is dropped
        const entry = yield* getEntry(instance, path)
        if (entry.type === "file") yield* entry.discard
        return entry.stat
      }
      const response = yield* client.requestRaw(request)
      return yield* statOf(request, response)
    })

  const post = (request: Request) => Effect.asVoid(client.request(request))

  const mkdirOnce = (instance: string, path: string, headers: Record<string, string>) =>
    Effect.flatMap(
      fileRequest(instance, path, "POST", {
        headers: { "X-LXD-type": "directory", ...headers },
        rawBody: HttpBody.uint8Array(new Uint8Array(0), OCTET)
      }),
      post
    )

  /** `mkdir -p`: missing parents get LXD's defaults, `headers` (mode, owner) go to `path` itself. */
  const mkdirParents = (
    instance: string,
    path: string,
    headers: Record<string, string>
  ): Effect.Effect<void, LxdError> =>
    path === "/" ? Effect.void : mkdirOnce(instance, path, headers).pipe(
      Effect.catchTag("NotFound", (e) =>
        // a missing instance is also NotFound ("Instance not found"; a missing parent is "Not Found")
        parentOf(path) === "/" || isInstanceMissing(e) ? Effect.fail(e) : Effect.zipRight(
          mkdirParents(instance, parentOf(path), {}),
          mkdirOnce(instance, path, headers)
        ))
    )

  return {
    stat: (instance, path) => statWithHead(instance, path).pipe(Effect.withSpan("Files.stat")),
    exists: (instance, path) => {
      /** A missing path is `false`; a missing instance stays an error. */
      const absent = (e: LxdError) =>
        e._tag === "NotFound" && !isInstanceMissing(e) ? Effect.succeed(false) : Effect.fail(e)
      return statWithHead(instance, path).pipe(
        Effect.as(true),
        Effect.catchAll((e) =>
          // a HEAD 404 has no text: ask with GET whether the path or the instance is missing (a GET's says)
          e._tag === "NotFound" && e.method === "HEAD"
            ? getEntry(instance, path).pipe(
              Effect.flatMap((entry) => Effect.as(entry.type === "file" ? entry.discard : Effect.void, true)),
              Effect.catchAll(absent)
            )
            : absent(e)
        ),
        Effect.withSpan("Files.exists")
      )
    },
    getEntry: (instance, path) => getEntry(instance, path).pipe(Effect.withSpan("Files.getEntry")),
    get: (instance, path) => get(instance, path).pipe(Effect.withSpan("Files.get")),
    download: (instance, path, write) => download(instance, path, write).pipe(Effect.withSpan("Files.download")),
    stream: (instance, path) =>
      Stream.unwrapScoped(
        Effect.map(
          Effect.acquireRelease(get(instance, path), (content) => content.discard),
          (content) => content.stream
        )
      ).pipe(Stream.withSpan("Files.stream")),
    readBytes: (instance, path, options) => readBytes(instance, path, options).pipe(Effect.withSpan("Files.readBytes")),
    readText: (instance, path, options) =>
      readBytes(instance, path, options).pipe(
        Effect.map((bytes) => new TextDecoder().decode(bytes)),
        Effect.withSpan("Files.readText")
      ),
    list: (instance, path) => listNames(instance, path).pipe(Effect.withSpan("Files.list")),
    listWithStats: (instance, path, options) =>
      listNames(instance, path).pipe(
        Effect.flatMap((names) =>
          Effect.forEach(names, (name) => {
            const child = join(path, name)
            return Effect.map(statWithHead(instance, child), (stat): F.DirEntry => ({ name, path: child, stat }))
          }, { concurrency: options?.concurrency ?? 8 })
        ),
        Effect.withSpan("Files.listWithStats")
      ),
    readlink: (instance, path) =>
      getEntry(instance, path).pipe(
        Effect.flatMap((entry) =>
          entry.type === "symlink" ? Effect.succeed(entry.target) : notA(path, entry, "a symlink", "")
        ),
        Effect.withSpan("Files.readlink")
      ),
    put,
    upload: (instance, path, size, fill, options = {}) =>
      upload(instance, path, size, fill, options).pipe(Effect.withSpan("Files.upload")),
    mkdir: (instance, path, options = {}) =>
      Effect.gen(function*() {
        const headers = yield* ownershipHeaders(options)
        yield* fileRequest(instance, path, "POST")
        if (options.parents === true) return yield* mkdirParents(instance, normalize(path), headers)
        return yield* mkdirOnce(instance, path, headers)
      }).pipe(Effect.withSpan("Files.mkdir")),
    symlink: (instance, path, target) =>
      Effect.gen(function*() {
        if (typeof target !== "string" || target === "" || target.includes("\u0000")) {
          return yield* new InvalidArgument({
            argument: "target",
            value: target,
            reason: "must be a non-empty string without NUL bytes"
          })
        }
        const request = yield* fileRequest(instance, path, "POST", {
          headers: { "X-LXD-type": "symlink" },
          rawBody: HttpBody.text(target, OCTET)
        })
        yield* client.requireExtension("file_symlinks")
        return yield* post(request)
      }).pipe(Effect.withSpan("Files.symlink")),
    delete: (instance, path) =>
      Effect.gen(function*() {
        const request = yield* fileRequest(instance, path, "DELETE")
        yield* client.requireExtension("file_delete")
        return yield* Effect.asVoid(client.request(request))
      }).pipe(Effect.withSpan("Files.delete"))
  }
}

/**
 * The node transports' lean JSON path (`LxdTransport.Service.json`), which the engine uses for envelope requests.
 */
import { LxdClient } from "@effect-lxd/core"
import { LxdTransport } from "@effect-lxd/core/LxdTransport"
import { NodeLxdTransport } from "@effect-lxd/node"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Schema } from "effect"
import * as fs from "node:fs"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"

interface Seen {
  /** Whether the connection that carried the request is closed. */
  readonly closed: () => boolean
  readonly method: string
  readonly url: string
  readonly headers: http.IncomingHttpHeaders
  readonly body: string
}

/** An HTTP server on a unix socket; `answer` writes the response (or never does). */
const daemon = (answer: (req: Seen, res: http.ServerResponse) => void) =>
  Effect.acquireRelease(
    Effect.async<{ socketPath: string; seen: Array<Seen>; server: http.Server }>((resume) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-lxd-json-"))
      const socketPath = path.join(dir, "unix.socket")
      const seen: Array<Seen> = []
      const server = http.createServer((req, res) => {
        let body = ""
        let closed = false
        req.socket.on("close", () => (closed = true))
        req.setEncoding("utf8").on("data", (s: string) => (body += s)).on("end", () => {
          const s = { closed: () => closed, method: req.method ?? "", url: req.url ?? "", headers: req.headers, body }
          seen.push(s)
          answer(s, res)
        })
      })
      server.listen(socketPath, () => resume(Effect.succeed({ socketPath, seen, server })))
    }),
    ({ server, socketPath }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => {
          fs.rmSync(path.dirname(socketPath), { recursive: true, force: true })
          resume(Effect.void)
        })
      })
  )

const envelope = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { "content-type": "application/json", ...headers })
  res.end(JSON.stringify(body))
}

const client = (socketPath: string, options: Partial<NodeLxdTransport.UnixSocketOptions> = {}) =>
  LxdClient.layer.pipe(Layer.provideMerge(NodeLxdTransport.layerUnixSocket({ socketPath, ...options })))

describe("the lean JSON path", () => {
  it.live("is what the engine uses: request line, headers, body, project; etag and location come back", () =>
    Effect.scoped(Effect.gen(function*() {
      const d = yield* daemon((req, res) =>
        req.method === "GET"
          ? envelope(res, 200, { type: "sync", status_code: 200, metadata: { n: 1, extra: true } }, { etag: "\"e1\"" })
          : envelope(res, 201, { type: "sync", status_code: 200, metadata: null }, { location: "/1.0/profiles/p" })
      )
      yield* Effect.gen(function*() {
        const transport = yield* LxdTransport
        expect(transport.json).toBeDefined()
        const lxd = yield* LxdClient.LxdClient
        const got = yield* lxd.sync(Schema.Struct({ n: Schema.Number }), { method: "GET", path: "/x/y%20z" }).pipe(
          LxdClient.withProject("p1")
        )
        expect(got).toStrictEqual({ metadata: { n: 1 }, etag: "\"e1\"", location: undefined })
        const posted = yield* lxd.request({
          method: "POST",
          path: "/profiles",
          query: { a: "1 2", b: undefined },
          body: { name: "p" },
          headers: { "X-Extra": "yes" },
          etag: "\"e1\""
        })
        expect(posted.status).toBe(201)
        expect(posted.location).toBe("/1.0/profiles/p")
      }).pipe(Effect.provide(client(d.socketPath)))
      expect(d.seen.map((s) => `${s.method} ${s.url}`)).toStrictEqual([
        "GET /1.0/x/y%20z?project=p1",
        "POST /1.0/profiles?a=1%202"
      ])
      expect(d.seen[0]!.headers.accept).toBe("application/json")
      expect(d.seen[0]!.headers.traceparent).toBeUndefined()
      expect(d.seen[1]!.headers["content-type"]).toBe("application/json")
      expect(d.seen[1]!.headers["if-match"]).toBe("\"e1\"")
      expect(d.seen[1]!.headers["x-extra"]).toBe("yes")
      expect(d.seen[1]!.body).toBe("{\"name\":\"p\"}")
    })))

  it.live("error envelopes, bodies that are not JSON, large bodies", () =>
    Effect.scoped(Effect.gen(function*() {
      const big = Array.from({ length: 20000 }, (_, i) => `item-${i}`)
      const d = yield* daemon((req, res) => {
        if (req.url.startsWith("/1.0/missing")) {
          envelope(res, 404, { type: "error", error: "Instance not found", error_code: 404 })
        } else if (req.url.startsWith("/1.0/html")) {
          res.writeHead(502, { "content-type": "text/html" })
          res.end("<html>bad gateway</html>")
        } else {
          envelope(res, 200, { type: "sync", status_code: 200, metadata: big })
        }
      })
      yield* Effect.gen(function*() {
        const lxd = yield* LxdClient.LxdClient
        const missing = yield* Effect.flip(lxd.request({ method: "GET", path: "/missing" }))
        expect(missing._tag).toBe("NotFound")
        const html = yield* Effect.flip(lxd.request({ method: "GET", path: "/html" }))
        expect(html._tag).toBe("ProtocolError")
        expect(html.message).toContain("HTTP 502: the body is not JSON")
        const list = yield* lxd.sync(Schema.Array(Schema.String), { method: "GET", path: "/big" })
        expect(list.metadata).toStrictEqual(big)
      }).pipe(Effect.provide(client(d.socketPath)))
    })))

  it.live("interrupting a request that is never answered aborts it and frees its connection", () =>
    Effect.scoped(Effect.gen(function*() {
      const arrived = yield* Deferred.make<void>()
      const d = yield* daemon((req, res) => {
        if (req.url.startsWith("/1.0/hang")) Deferred.unsafeDone(arrived, Effect.void) // and never answer
        else envelope(res, 200, { type: "sync", status_code: 200, metadata: "ok" })
      })
      yield* Effect.gen(function*() {
        const lxd = yield* LxdClient.LxdClient
        const fiber = yield* Effect.fork(lxd.request({ method: "GET", path: "/hang" }))
        yield* Deferred.await(arrived)
        const hanging = d.seen[0]!
        expect(hanging.closed()).toBe(false)
        yield* Fiber.interrupt(fiber)
        // the server sees that connection closed: the request was aborted, not left hanging
        yield* Effect.promise(() => waitFor(hanging.closed))
        // and the next request gets a connection and its answer
        const ok = yield* lxd.sync(Schema.String, { method: "GET", path: "/ok" })
        expect(ok.metadata).toBe("ok")
      }).pipe(Effect.provide(client(d.socketPath)))
    })))

  it.live("a missing socket is ClientConnectionFailed naming the socket and ENOENT", () =>
    Effect.gen(function*() {
      const lxd = yield* LxdClient.LxdClient
      const e = yield* Effect.flip(lxd.request({ method: "GET", path: "" }))
      expect(e._tag).toBe("ClientConnectionFailed")
      expect(e.message).toContain("/nonexistent/effect-lxd.socket")
      expect(e.message).toContain("ENOENT")
      expect(e.message).toContain("GET /1.0")
    }).pipe(Effect.provide(client("/nonexistent/effect-lxd.socket"))))

  it.live("with transformClient there is no lean path: every request goes through the user's client", () =>
    Effect.scoped(Effect.gen(function*() {
      const d = yield* daemon((_req, res) => envelope(res, 200, { type: "sync", status_code: 200, metadata: 1 }))
      let wrapped = 0
      const transformClient = (c: HttpClient.HttpClient) =>
        c.pipe(HttpClient.mapRequest((r) => {
          wrapped++
          return HttpClientRequest.setHeader(r, "x-wrapped", "1")
        }))
      yield* Effect.gen(function*() {
        const transport = yield* LxdTransport
        expect(transport.json).toBeUndefined()
        const lxd = yield* LxdClient.LxdClient
        yield* lxd.sync(Schema.Number, { method: "GET", path: "/a" })
      }).pipe(Effect.provide(client(d.socketPath, { transformClient })))
      expect(wrapped).toBe(1)
      expect(d.seen[0]!.headers["x-wrapped"]).toBe("1")
    })))
})

const waitFor = async (condition: () => boolean, timeoutMs = 5000) => {
  const started = Date.now()
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error("timed out")
    await new Promise((r) => setTimeout(r, 10))
  }
}

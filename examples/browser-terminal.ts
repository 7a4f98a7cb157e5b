/**
 * One container's shell in a web page: `Exec.session` hands out the exec's websockets (as pylxd's
 * `raw_interactive_execute` does) and a local websocket proxy pipes them to the page. Listens on 127.0.0.1 only,
 * and refuses websockets from other origins (a page elsewhere cannot open your shell).
 *
 *   npx tsx examples/browser-terminal.ts c1     # an existing, running container
 *   npx tsx examples/browser-terminal.ts        # a throwaway busybox container, deleted on exit
 *   LXD_REMOTE=lab2 npx tsx examples/browser-terminal.ts c1   # a remote of lxc's config.yml
 *
 * Then open the printed http://127.0.0.1:PORT/ (`BROWSER_TERMINAL_PORT`, default: any free port). The page is a
 * bare terminal; for a real one, plug in xterm.js: `term.onData((d) => ws.send(encoder.encode(d)))` and
 * `ws.onmessage = (e) => term.write(new Uint8Array(e.data))`. `BROWSER_TERMINAL_ONCE=1` stops after the first
 * session (the examples test uses it).
 */
import { Exec, Lxd } from "@effect-lxd/core"
import { NodeLxdTransport } from "@effect-lxd/node"
import { NodeRuntime } from "@effect/platform-node"
import { Console, Deferred, Effect, Exit, Layer, Option, Queue, Runtime, Stream } from "effect"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { type WebSocket, WebSocketServer } from "ws"
import { containerFor } from "./backend.js"

const given = process.argv[2]
const once = process.env["BROWSER_TERMINAL_ONCE"] === "1"
const port = Number(process.env["BROWSER_TERMINAL_PORT"] ?? 0)

const page = `<!doctype html>
<meta charset="utf-8"><title>effect-lxd terminal</title>
<style>body{background:#111;color:#ddd;font:14px monospace}pre{white-space:pre-wrap}</style>
<pre id="out" tabindex="0">connecting…\n</pre>
<script>
const out = document.getElementById("out"), enc = new TextEncoder(), dec = new TextDecoder()
const ws = new WebSocket("ws://" + location.host + "/terminal")
ws.binaryType = "arraybuffer"
ws.onopen = () => { out.textContent = ""; out.focus(); ws.send(JSON.stringify({ resize: [100, 30] })) }
ws.onmessage = (e) => { out.textContent += dec.decode(new Uint8Array(e.data), { stream: true }); scrollTo(0, 1e9) }
ws.onclose = () => { out.textContent += "\\n[session ended]" }
out.onkeydown = (e) => {
  const keys = { Enter: "\\r", Backspace: "\\x7f", Tab: "\\t", Escape: "\\x1b", ArrowUp: "\\x1b[A", ArrowDown: "\\x1b[B" }
  const data = keys[e.key] ?? (e.ctrlKey && e.key.length === 1 ? String.fromCharCode(e.key.toUpperCase().charCodeAt(0) - 64) : e.key.length === 1 ? e.key : "")
  if (data) { ws.send(enc.encode(data)); e.preventDefault() }
}
</script>
`

const container = containerFor(given, "browser-term")

/** One page: one exec session on a PTY, piped both ways; it ends when the shell exits or the page goes. */
const terminal = (name: string, browser: WebSocket) =>
  Effect.scoped(Effect.gen(function*() {
    // what the page sends before LXD's sockets are open waits here (the listeners are on before any await)
    const fromPage = yield* Queue.unbounded<Buffer | { readonly resize: [number, number] }>()
    const pageClosed = yield* Deferred.make<void>()
    browser.on("message", (data: Buffer, isBinary: boolean) => {
      const message = isBinary ? data : JSON.parse(data.toString("utf8")) as { resize?: [number, number] }
      if ("resize" in message && message.resize !== undefined) Queue.unsafeOffer(fromPage, { resize: message.resize })
      else if (isBinary) Queue.unsafeOffer(fromPage, data)
    })
    browser.on("close", () => Deferred.unsafeDone(pageClosed, Exit.void))
    const session = yield* Effect.flatMap(Exec.Exec, (exec) =>
      exec.session(name, ["sh"], { width: 80, height: 24, environment: { TERM: "xterm-256color" } }))
    // a proxy that does not hold the client's certificate would dial the handed-out paths itself:
    // session.fds["0"].path, session.fds["control"].path (they need no further authentication)
    const control = yield* session.connect("control")
    const pty = yield* session.connect("0")
    yield* Queue.take(fromPage).pipe(
      Effect.flatMap((m) =>
        Buffer.isBuffer(m) ? pty.send(new Uint8Array(m)) : control.send(JSON.stringify({
          command: "window-resize",
          args: { width: String(m.resize[0]), height: String(m.resize[1]) }
        }))
      ),
      Effect.forever,
      Effect.ignore,
      Effect.forkScoped
    )
    yield* pty.frames.pipe(
      Stream.runForEach((frame) =>
        Effect.sync(() => typeof frame !== "string" && browser.send(frame))
      ),
      Effect.ignore,
      Effect.forkScoped
    )
    // LXD drops control when the shell exits; the page may also go first
    yield* Effect.raceFirst(Effect.ignore(Stream.runDrain(control.frames)), Deferred.await(pageClosed))
    yield* control.close()
    yield* pty.close()
    const exit = yield* Effect.option(Effect.timeout(session.exit, "10 seconds"))
    yield* Console.log(`session ${session.operationId} ended (exit ${
      Option.match(exit, {
        onNone: () => "unknown",
        onSome: (e) => String(e.exitCode)
      })
    })`)
    browser.close()
  }))

const program = Effect.gen(function*() {
  const name = yield* container
  const run = Runtime.runFork(yield* Effect.runtime<Exec.Exec>())
  const finished = yield* Deferred.make<void>()
  const server = yield* Effect.acquireRelease(
    Effect.async<http.Server>((resume) => {
      const server = http.createServer((req, res) => {
        if (req.url !== "/") return void res.writeHead(404).end()
        res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(page)
      })
      server.listen(port, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
  )
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const wss = new WebSocketServer({ noServer: true })
  server.on("upgrade", (req, socket, head) => {
    const from = req.headers.origin
    // tools send no Origin; browsers must come from our own page
    if (req.url !== "/terminal" || (from !== undefined && from !== origin)) return void socket.destroy()
    wss.handleUpgrade(req, socket, head, (browser) =>
      run(
        terminal(name, browser).pipe(
          Effect.catchAll((e) => Effect.sync(() => browser.close(1011, e.message.slice(0, 100)))),
          Effect.ensuring(once ? Deferred.succeed(finished, undefined) : Effect.void)
        )
      ))
  })
  yield* Console.log(`Browser terminal for ${name}: ${origin}/`)
  yield* Deferred.await(finished)
})

const Connection = process.env["LXD_REMOTE"] === undefined
  ? NodeLxdTransport.layerUnixSocket()
  : NodeLxdTransport.layerRemote(process.env["LXD_REMOTE"])

program.pipe(
  Effect.scoped,
  Effect.provide(Lxd.layer.pipe(Layer.provide(Connection))),
  NodeRuntime.runMain
)

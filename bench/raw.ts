/**
 * The baseline client: plain `node:http` over the unix socket, reading the whole body and `JSON.parse`-ing it.
 */
import * as http from "node:http"
import { createRequire } from "node:module"

export interface RawClient {
  readonly request: (method: string, path: string, body?: unknown) => Promise<{ status: number; json: unknown }>
  readonly get: (path: string) => Promise<unknown>
  readonly close: () => void
}

/** Named so profiles can tell the body parse apart (V8 charges JSON.parse to its caller). */
export function parseJsonBody(text: string): unknown {
  return JSON.parse(text)
}

export const makeRawClient = (socketPath: string, maxSockets: number): RawClient => {
  const agent = new http.Agent({ keepAlive: true, maxSockets })
  const request = (method: string, path: string, body?: unknown) =>
    new Promise<{ status: number; json: unknown }>((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body)
      const headers: Record<string, string> = { accept: "application/json" }
      if (payload !== undefined) {
        headers["content-type"] = "application/json"
        headers["content-length"] = String(Buffer.byteLength(payload))
      }
      const req = http.request({ socketPath, path, method, agent, headers }, (res) => {
        const chunks: Array<Buffer> = []
        res.on("data", (c: Buffer) => chunks.push(c))
        res.on("error", reject)
        res.on("end", () => {
          try {
            const text = chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks).toString("utf8")
            resolve({ status: res.statusCode ?? 0, json: parseJsonBody(text) })
          } catch (e) {
            reject(e)
          }
        })
      })
      req.on("error", reject)
      req.end(payload)
    })
  return {
    request,
    get: async (path) => {
      const r = await request("GET", path)
      if (r.status !== 200) throw new Error(`GET ${path}: HTTP ${r.status} ${JSON.stringify(r.json)}`)
      return r.json
    },
    close: () => agent.destroy()
  }
}

/** The subset of undici's `Agent` the benchmarks use (undici is a dependency of @effect-lxd/node only). */
export interface UndiciAgent {
  request(options: {
    origin: string
    path: string
    method: string
    headers: Record<string, string>
    signal?: AbortSignal
  }): Promise<
    {
      statusCode: number
      headers: Record<string, string | Array<string> | undefined>
      body: { text(): Promise<string> }
    }
  >
  close(): Promise<void>
}

/** An undici `Agent` with the options effect-lxd's unix-socket transport uses (`pipelining: 1`). */
export const makeUndiciAgent = (socketPath: string): UndiciAgent => {
  const require = createRequire(new URL("../packages/node/package.json", import.meta.url))
  const Undici = require("undici") as {
    Agent: new(options: { connect: { socketPath: string }; pipelining: number }) => UndiciAgent
  }
  return new Undici.Agent({ connect: { socketPath }, pipelining: 1 })
}

/**
 * A second baseline: undici, the HTTP client effect-lxd's Node transport uses, called directly with the same
 * `Agent` options, reading the body and `JSON.parse`-ing it. It tells the transport's own cost apart from the
 * layers above it.
 */
export const makeUndiciClient = (socketPath: string): Pick<RawClient, "get" | "close"> => {
  const agent = makeUndiciAgent(socketPath)
  return {
    get: async (path) => {
      const r = await agent.request({
        origin: "http://lxd",
        path,
        method: "GET",
        headers: { accept: "application/json" }
      })
      const json = parseJsonBody(await r.body.text())
      if (r.statusCode !== 200) throw new Error(`GET ${path}: HTTP ${r.statusCode} ${JSON.stringify(json)}`)
      return json
    },
    close: () => void agent.close().catch(() => {})
  }
}

import * as http from "node:http"
import { describe, expect, it } from "vitest"
import { lab, lab2, lab2Available } from "./lab.js"

const get = (socketPath: string, path: string): Promise<{ status: number; body: unknown }> =>
  new Promise((resolve, reject) => {
    const req = http.request({ socketPath, path, method: "GET" }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (c: Buffer) => chunks.push(c))
      res.on(
        "end",
        () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) })
      )
      res.on("error", reject)
    })
    req.on("error", reject)
    req.end()
  })

describe("lab daemon", () => {
  it("answers GET /1.0 on its unix socket and has the busybox image", async () => {
    const info = lab()
    const server = await get(info.socket, "/1.0")
    expect(server.status).toBe(200)
    expect(server.body).toMatchObject({ metadata: { auth: "trusted", config: { "core.https_address": info.https } } })
    const alias = await get(info.socket, `/1.0/images/aliases/${info.image}`)
    expect(alias.body).toMatchObject({ metadata: { target: info.fingerprint } })
  })

  it.runIf(lab2Available)("second daemon is a different daemon", async () => {
    const a = lab()
    const b = lab2()
    expect(b.socket).not.toBe(a.socket)
    expect(b.https).not.toBe(a.https)
    expect((await get(b.socket, "/1.0")).status).toBe(200)
  })
})

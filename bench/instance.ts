/**
 * A real instance body for the decode benchmarks: a busybox container created (not started) through the raw
 * socket, read with `GET /1.0/instances/{name}`, and deleted again.
 */
import type { Lab } from "./lab.js"
import type { RawClient } from "./raw.js"

export const fetchRealInstance = async (
  raw: RawClient,
  lab: Lab,
  log: (line: string) => void = () => {}
): Promise<Record<string, unknown>> => {
  // in a daemon we did not start, do not collide with the owner's instances
  const name = lab.own ? "b1" : `bench-b1-${process.pid}`
  const waitFor = async (what: string, r: { status: number; json: unknown }) => {
    const env = r.json as { type?: string; operation?: string }
    if (env.type !== "async" || typeof env.operation !== "string") {
      throw new Error(`${what} ${name}: expected an operation, got HTTP ${r.status} ${JSON.stringify(r.json)}`)
    }
    const done = (await raw.get(`${env.operation}/wait?timeout=60`)) as {
      metadata: { status_code: number; err: string }
    }
    if (done.metadata.status_code !== 200) throw new Error(`${what} ${name}: operation failed: ${done.metadata.err}`)
  }
  const t0 = performance.now()
  await waitFor(
    "create",
    await raw.request("POST", "/1.0/instances", { name, source: { type: "image", alias: "busybox" } })
  )
  try {
    const env = (await raw.get(`/1.0/instances/${name}`)) as { metadata: Record<string, unknown> }
    log(`instance ${name} created and read in ${(performance.now() - t0).toFixed(0)} ms`)
    return env.metadata
  } finally {
    await waitFor("delete", await raw.request("DELETE", `/1.0/instances/${name}`))
  }
}

/** `GET /1.0/instances?recursion=1` as LXD would answer it: `count` copies of `instance`, renamed, in a sync envelope. */
export const synthesizeList = (instance: Record<string, unknown>, count: number): string => {
  const metadata = Array.from({ length: count }, (_, i) => ({ ...instance, name: `b${i + 1}` }))
  return JSON.stringify({
    type: "sync",
    status: "Success",
    status_code: 200,
    operation: "",
    error_code: 0,
    error: "",
    metadata
  })
}

/**
 * What the benchmarks that measure in child processes share: running a command to its end, curl's download as the
 * baseline, and the entry point that runs either the parent or (with `--child`) one measured child.
 */
import { type Effect, type Layer, ManagedRuntime } from "effect"
import { spawn } from "node:child_process"

/** Runs `cmd` to its end, collecting its output. */
export const run = (cmd: string, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = process.env) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env })
    let stdout = ""
    let stderr = ""
    p.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s))
    p.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s))
    p.on("error", reject)
    p.on("close", (code) => resolve({ code, stdout, stderr }))
  })

/** One transfer's figures: wall time, peak RSS growth (`NaN` where not measured), bytes moved. */
export interface Measure {
  readonly ms: number
  readonly rssMiB: number
  readonly bytes: number
}

/** `curl --unix-socket S http://lxd/1.0{path} -o /dev/null`: the baseline download, its time and size. */
export const curlDownload = async (socket: string, path: string): Promise<Measure> => {
  const t0 = performance.now()
  const r = await run("curl", [
    "-sS",
    "--fail",
    "--unix-socket",
    socket,
    "-o",
    "/dev/null",
    "-w",
    "%{size_download}",
    `http://lxd/1.0${path}`
  ])
  if (r.code !== 0) throw new Error(`curl failed: ${r.stderr}`)
  return { ms: performance.now() - t0, rssMiB: Number.NaN, bytes: Number(r.stdout) }
}

const report = (e: unknown) => process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)

/** `child(args)` when the process was started with `--child args…`, else `main()`; errors go to stderr. */
export const entry = (
  child: (args: ReadonlyArray<string>) => Promise<void>,
  main: () => Promise<void>
): void => {
  if (process.argv[2] === "--child") {
    child(process.argv.slice(3)).catch((e: unknown) => {
      report(e)
      process.exit(1)
    })
  } else {
    main().catch((e: unknown) => {
      report(e)
      process.exitCode = 1
    })
  }
}

/**
 * One measured transfer in a child process (`node --expose-gc`): builds the runtime, runs `warmUp`, collects
 * garbage, takes the RSS baseline, samples `process.memoryUsage.rss()` every 10 ms while `work` runs (it returns
 * the bytes moved), then prints `{ ms, rssMiB, bytes }` as one JSON line.
 */
export const measureInChild = async <R, E>(
  layer: Layer.Layer<R, E>,
  warmUp: Effect.Effect<unknown, unknown, R>,
  work: Effect.Effect<number, unknown, R>
): Promise<void> => {
  const runtime = ManagedRuntime.make(layer)
  await runtime.runPromise(warmUp)
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
  gc?.()
  const baseline = process.memoryUsage.rss()
  let peak = baseline
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 10)
  const t0 = performance.now()
  const bytes = await runtime.runPromise(work)
  const ms = performance.now() - t0
  clearInterval(timer)
  peak = Math.max(peak, process.memoryUsage.rss())
  await runtime.dispose()
  process.stdout.write(JSON.stringify({ ms, rssMiB: (peak - baseline) / (1024 * 1024), bytes }) + "\n")
}

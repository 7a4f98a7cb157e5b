/**
 * The packages as a user gets them: each is packed (`pnpm pack` of what `pnpm build` left in `build/`), the
 * tarballs are installed with plain npm into a new project beside `effect`, `@effect/platform` and
 * `@effect/platform-node` from the registry, then a plain-node ESM program runs on them and a strict `tsc`
 * (`exactOptionalPropertyTypes`, `NodeNext`, `skipLibCheck: false`) checks a user's file against their `.d.ts`.
 * The programs are `fixture/main.js` and `fixture/user.ts`. Every failure is one line: the step that failed and
 * the tail of its output.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, it } from "vitest"

const root = fileURLToPath(new URL("../../", import.meta.url))
const fixture = fileURLToPath(new URL("./fixture/", import.meta.url))
const packages = ["core", "node", "testing"] as const

/** What the new project installs from the registry: the peers (Effect 3: npm's `latest` is 4.x) and the tools. */
const registry = {
  "effect": ">=3.22 <4",
  "@effect/platform": "^0.97",
  "@effect/platform-node": "^0.108",
  "typescript": "~5.9",
  "@types/node": "^20"
}

/**
 * The user's compiler settings: strict, exact optional properties, NodeNext, every `.d.ts` checked. `lib` has DOM
 * (as tsc's default does): the `.d.ts` of `@effect/platform` and `@effect/rpc` name `Storage` and
 * `Transferable`.
 */
const tsconfig = {
  compilerOptions: {
    strict: true,
    exactOptionalPropertyTypes: true,
    module: "NodeNext",
    moduleResolution: "NodeNext",
    target: "ES2022",
    lib: ["ES2022", "DOM"],
    skipLibCheck: false,
    noEmit: true
  },
  files: ["user.ts"]
}

/** A failure as one line: the step, why, and the last lines of its output. */
class StepFailed extends Error {
  constructor(step: string, reason: string, output = "") {
    const tail = output.split("\n").map((l) => l.trim()).filter((l) => l !== "").slice(-6).join(" | ")
    super(`consumer: ${step} failed (${reason})${tail === "" ? "" : `: ${tail.slice(-1000)}`}`)
    this.name = "StepFailed"
    this.stack = this.message
  }
}

/**
 * The children see no pnpm or npm settings of this workspace (pnpm's `npm_config_*` would confuse npm), only those
 * that reach the registry, and no `NODE_OPTIONS`: node and npm run as a user's would.
 */
const keep = /^npm_config_(registry|cache|cafile|ca|proxy|https_proxy|noproxy|strict_ssl|userconfig)$/i
const env: Record<string, string> = {}
for (const [k, v] of Object.entries(process.env)) {
  if (v === undefined || k === "NODE_OPTIONS" || (/^(npm_|pnpm_)/i.test(k) && !keep.test(k))) continue
  env[k] = v
}

/** Runs a command with no stdin; resolves its stdout, or rejects with the step's one line. */
const run = (step: string, command: string, args: ReadonlyArray<string>, cwd: string, timeout = 240_000) =>
  new Promise<string>((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"], timeout })
    let stdout = ""
    let output = ""
    child.stdout.on("data", (d: Buffer) => {
      stdout += d
      output += d
    })
    child.stderr.on("data", (d: Buffer) => (output += d))
    child.on("error", (e) => reject(new StepFailed(step, e.message)))
    child.on("close", (code, signal) =>
      code === 0
        ? resolve(stdout)
        : reject(new StepFailed(step, signal === null ? `exit ${code}` : `${signal} after ${timeout} ms`, output)))
  })

const packageDir = (name: string) => path.join(root, "packages", name)

/** The public modules of a package: its `src/*.ts`. */
const modules = (name: string) =>
  fs.readdirSync(path.join(packageDir(name), "src")).filter((f) => f.endsWith(".ts")).map((f) => f.slice(0, -3))

/** What is wrong with a tarball's files (`tar -t` lists them below `package/`) and with its installed `exports`. */
const contentProblems = (name: string, listing: string): Array<string> => {
  const files = listing.split("\n").filter((f) => f !== "").map((f) => f.replace(/^package\//, ""))
  const problems: Array<string> = []
  const src = path.join(packageDir(name), "src")
  for (const f of files) {
    if (f.endsWith(".ts") && !f.endsWith(".d.ts")) problems.push(`source ${f}`)
    if (/(^|\/)(test|src)\//.test(f) || /\.test\.(d\.ts|js)/.test(f)) problems.push(`not shipped: ${f}`)
    if (f.endsWith(".tsbuildinfo")) problems.push(`build info ${f}`)
    const js = /^build\/esm\/(.+)\.js$/.exec(f)
    if (js !== null && !fs.existsSync(path.join(src, `${js[1]}.ts`))) {
      problems.push(`stale ${f}: pnpm clean, pnpm build`)
    }
  }
  const expected = ["./package.json", ".", "./internal/*"]
  for (const m of modules(name)) {
    if (!files.includes(`build/esm/${m}.js`)) problems.push(`missing build/esm/${m}.js`)
    if (!files.includes(`build/dts/${m}.d.ts`)) problems.push(`missing build/dts/${m}.d.ts`)
    if (m !== "index") expected.push(`./${m}`)
  }
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, "node_modules/@effect-lxd", name, "package.json"), "utf8"))
  const exported = Object.keys(pkg.exports).sort().join(" ")
  if (exported !== expected.sort().join(" ")) problems.push(`exports ${exported} instead of ${expected.join(" ")}`)
  return problems
}

let dir = ""
const tarballs: Record<string, string> = {}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-lxd-consumer-"))
  for (const name of packages) {
    if (!fs.existsSync(path.join(packageDir(name), "build/esm/index.js"))) {
      throw new StepFailed(`pnpm pack @effect-lxd/${name}`, "no build: run `pnpm build` first")
    }
  }
  const pack = ["-y", "pnpm@10", "pack", "--pack-destination", dir]
  await Promise.all(packages.map((name) => run(`pnpm pack @effect-lxd/${name}`, "npx", pack, packageDir(name))))
  for (const name of packages) {
    const file = fs.readdirSync(dir).find((f) => f.startsWith(`effect-lxd-${name}-`) && f.endsWith(".tgz"))
    if (file === undefined) throw new StepFailed(`pnpm pack @effect-lxd/${name}`, `no tarball in ${dir}`)
    tarballs[name] = file
  }
  const dependencies: Record<string, string> = { ...registry }
  for (const name of packages) dependencies[`@effect-lxd/${name}`] = `file:./${tarballs[name]}`
  fs.writeFileSync(
    path.join(dir, "package.json"),
    JSON.stringify({ name: "consumer", private: true, type: "module", dependencies }, null, 2)
  )
  fs.writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify(tsconfig, null, 2))
  for (const file of ["main.js", "user.ts"]) fs.copyFileSync(path.join(fixture, file), path.join(dir, file))
  const install = ["install", "--no-audit", "--no-fund", "--no-update-notifier", "--loglevel=error"]
  await run("npm install", "npm", install, dir)
}, 300_000)

afterAll(() => {
  if (dir !== "") fs.rmSync(dir, { recursive: true, force: true })
})

describe("the packed packages, installed with npm into a new project", () => {
  it.each(packages)(
    "@effect-lxd/%s ships .js and .d.ts of each public module, no sources, tests or build info",
    async (name) => {
      const listing = await run(`list the @effect-lxd/${name} tarball`, "tar", ["-tzf", tarballs[name]!], dir)
      const problems = contentProblems(name, listing)
      if (problems.length > 0) throw new StepFailed(`the @effect-lxd/${name} tarball`, problems.join("; "))
    }
  )

  // the two programs run side by side
  it.concurrent("plain node runs a program on them: the embedded fake, the node transport, no ./internal/*", async () => {
    const stdout = await run("node main.js", process.execPath, ["main.js"], dir, 60_000)
    const seen = stdout.trim().split("\n").at(-1)
    const expected = JSON.stringify({
      fake: { serverName: "fake", status: "Running", exec: [0, "hello\n"] },
      unreachable: ["ClientConnectionFailed", true],
      unreachableWrapped: ["ClientConnectionFailed", "notFound", true],
      internal: "ERR_PACKAGE_PATH_NOT_EXPORTED"
    })
    if (seen !== expected) throw new StepFailed("node main.js", `printed ${seen} instead of ${expected}`)
  })

  it.concurrent("a strict tsc (exactOptionalPropertyTypes, NodeNext, skipLibCheck: false) accepts a user's file", async () => {
    const tsc = path.join(dir, "node_modules/typescript/bin/tsc")
    await run("tsc --noEmit user.ts", process.execPath, [tsc, "-p", "."], dir)
  })
})

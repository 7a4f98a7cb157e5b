// `pnpm run docs` (plain `pnpm docs` is pnpm's own command): the API reference, generated from the JSDoc.
// @effect/docgen runs in each package (its docgen.json: a page for every module outside internal/, and every
// @example type-checked with tsc, then run with tsx) and writes to packages/<package>/docs/: docgen rewrites a
// package's imports of itself to `../../src`, which resolves only from there. The pages then move to
// docs/<package>/, and docs/index.md links them all. docs/ is generated output (not committed).
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "..")
const packages = ["core", "node", "testing"]
// docgen spawns `tsc` and `tsx` by name
const bin = Path.join(root, "node_modules", ".bin")
const env = { ...process.env, PATH: `${bin}${Path.delimiter}${process.env.PATH ?? ""}` }

const started = Date.now()
Fs.rmSync(Path.join(root, "docs"), { recursive: true, force: true })
Fs.mkdirSync(Path.join(root, "docs"))
for (const name of packages) {
  console.log(`docs: @effect-lxd/${name}`)
  const cwd = Path.join(root, "packages", name)
  Fs.rmSync(Path.join(cwd, "docs"), { recursive: true, force: true })
  // one after the other: on two busy cores, three at once took longer (258 s against 176 s) and more CPU
  const result = spawnSync(Path.join(bin, "docgen"), [], { cwd, env, stdio: "inherit" })
  if (result.status !== 0) process.exit(result.status ?? 1)
  Fs.renameSync(Path.join(cwd, "docs"), Path.join(root, "docs", name))
}

// The first sentence of a page's overview (the module comment), for the index.
const summary = (page) => {
  const text = Fs.readFileSync(page, "utf8")
  const overview = /^## .* overview\n\n([\s\S]*?)\n\n/m.exec(text)
  if (overview === null || overview[1].startsWith("Added in")) return ""
  const paragraph = overview[1].replace(/\s*\n\s*/g, " ")
  const colon = paragraph.search(/:(\s|$)/)
  const stop = paragraph.search(/\.(\s|$)/)
  if (colon !== -1 && (stop === -1 || colon < stop)) return paragraph.slice(0, colon)
  return stop === -1 ? paragraph : paragraph.slice(0, stop + 1)
}

const lines = [
  "# effect-lxd API reference",
  "",
  "Generated from the JSDoc by `npx -y pnpm@10 run docs`; do not edit. One page per public module.",
  ""
]
for (const name of packages) {
  const pkg = JSON.parse(Fs.readFileSync(Path.join(root, "packages", name, "package.json"), "utf8"))
  lines.push(`## ${pkg.name}`, "", pkg.description, "")
  const dir = Path.join(root, "docs", name, "modules")
  const pages = Fs.readdirSync(dir).filter((f) => f.endsWith(".ts.md")).sort()
  for (const page of pages) {
    const about = summary(Path.join(dir, page))
    lines.push(`- [${page.slice(0, -".ts.md".length)}](${name}/modules/${page})${about === "" ? "" : `: ${about}`}`)
  }
  lines.push("")
}
Fs.writeFileSync(Path.join(root, "docs", "index.md"), lines.join("\n"))
console.log(`docs: docs/index.md and ${packages.length} packages in ${((Date.now() - started) / 1000).toFixed(0)} s`)

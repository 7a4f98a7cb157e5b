/**
 * No value import cycles in any package's sources: a module's value imports (type-only imports and re-exports
 * left out) never lead back to it. A cycle makes a module read another's exports before they exist, which shows
 * up as an `undefined` layer or schema depending on which module a user imports first.
 *
 * And no module of `@effect-lxd/node` imports a dependency that only some calls need (`ws`, `yaml`,
 * `@peculiar/asn1-*`, undici's index, `@effect/platform-node`) at its top: they load on first use
 * (`internal/lazy.ts`, a dynamic `import()`), so a cold start does not pay for them (bench/coldstart.ts).
 */
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import ts from "typescript"

const root = fileURLToPath(new URL("../../../", import.meta.url))

const sourceFiles = (dir: string): Array<string> =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(path.join(dir, e.name)) : e.name.endsWith(".ts") ? [path.join(dir, e.name)] : []
  )

/** The specifiers `file` imports or re-exports as values, as written. */
const valueSpecifiers = (file: string): Array<string> => {
  const source = ts.createSourceFile(file, fs.readFileSync(file, "utf8"), ts.ScriptTarget.ES2022, false)
  const out: Array<string> = []
  for (const statement of source.statements) {
    let specifier: ts.Expression | undefined
    if (ts.isImportDeclaration(statement)) {
      const clause = statement.importClause
      if (clause?.isTypeOnly) continue
      const bindings = clause?.namedBindings
      const onlyTypes = clause !== undefined && clause.name === undefined && bindings !== undefined &&
        ts.isNamedImports(bindings) && bindings.elements.length > 0 && bindings.elements.every((e) => e.isTypeOnly)
      if (onlyTypes) continue
      specifier = statement.moduleSpecifier
    } else if (ts.isExportDeclaration(statement) && !statement.isTypeOnly) {
      specifier = statement.moduleSpecifier
    }
    if (specifier !== undefined && ts.isStringLiteral(specifier)) out.push(specifier.text)
  }
  return out
}

/** The relative modules `file` imports or re-exports as values. */
const valueImports = (file: string): Array<string> =>
  valueSpecifiers(file).filter((s) => s.startsWith(".")).map((s) =>
    path.resolve(path.dirname(file), s.replace(/\.js$/, ".ts"))
  )

const cycles = (files: ReadonlyArray<string>): Array<string> => {
  const graph = new Map(files.map((f) => [f, valueImports(f)]))
  const found: Array<string> = []
  const state = new Map<string, "visiting" | "done">()
  const stack: Array<string> = []
  const visit = (file: string) => {
    if (state.get(file) === "done") return
    if (state.get(file) === "visiting") {
      const cycle = [...stack.slice(stack.indexOf(file)), file].map((f) => path.relative(root, f))
      found.push(cycle.join(" → "))
      return
    }
    state.set(file, "visiting")
    stack.push(file)
    for (const next of graph.get(file) ?? []) visit(next)
    stack.pop()
    state.set(file, "done")
  }
  for (const file of files) visit(file)
  return found
}

describe("module graph", () => {
  for (const pkg of ["core", "node", "testing"]) {
    it(`packages/${pkg}/src has no value import cycle`, () => {
      expect(cycles(sourceFiles(path.join(root, "packages", pkg, "src")))).toEqual([])
    })
  }
})

describe("lazy dependencies", () => {
  const lazy = /^(undici|ws|yaml|@peculiar\/.*|@effect\/platform-node(\/.*)?)$/
  it("packages/node/src imports ws, yaml, @peculiar/asn1-*, undici and @effect/platform-node on first use only", () => {
    const eager = sourceFiles(path.join(root, "packages", "node", "src")).flatMap((file) =>
      valueSpecifiers(file).filter((s) => lazy.test(s)).map((s) => `${path.relative(root, file)}: ${s}`)
    )
    expect(eager).toEqual([])
  })
})

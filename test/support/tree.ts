import * as fs from "node:fs"
import * as path from "node:path"

/**
 * Type, permission bits (`mask`), size and link target of everything under a local directory, sorted: a tree
 * round trip is exact when two of these are equal.
 */
export const describeTree = (root: string, mask = 0o7777): Array<string> => {
  const out: Array<string> = []
  const visit = (dir: string, rel: string) => {
    for (const name of fs.readdirSync(dir).sort()) {
      const p = path.join(dir, name)
      const r = rel === "" ? name : `${rel}/${name}`
      const st = fs.lstatSync(p)
      if (st.isSymbolicLink()) out.push(`${r} -> ${fs.readlinkSync(p)}`)
      else if (st.isDirectory()) {
        out.push(`${r}/ ${(st.mode & mask).toString(8)}`)
        visit(p, r)
      } else out.push(`${r} ${(st.mode & mask).toString(8)} ${st.size}`)
    }
  }
  visit(root, "")
  return out
}

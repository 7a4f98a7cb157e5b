import { inject } from "vitest"
import type { LabInfo } from "./types.js"

export type { LabInfo } from "./types.js"

const missing = (key: "lab" | "lab2"): Error => {
  const why = inject("labError") as string | null | undefined
  if (why != null) return new Error(`LXD lab daemon "${key}" is not available: ${why}`)
  const hint = key === "lab2"
    ? "the second daemon starts only with LXD_LAB_DAEMONS=2"
    : "is test/lab/globalSetup.ts in the vitest config's globalSetup?"
  return new Error(`LXD lab daemon "${key}" is not available (${hint})`)
}

/** The lab daemon started by `test/lab/globalSetup.ts`; throws a clear Error when there is none. */
export const lab = (): LabInfo => {
  // `undefined` when the global setup never ran (wrong config), `null` when the daemon could not start.
  const info = inject("lab") as LabInfo | null | undefined
  if (info == null) throw missing("lab")
  return info
}

/** The second lab daemon (`LXD_LAB_DAEMONS=2`); throws a clear Error when there is none. */
export const lab2 = (): LabInfo => {
  const info = inject("lab2") as LabInfo | null | undefined
  if (info == null) throw missing("lab2")
  return info
}

/** True when the first lab daemon is up (for `describe.runIf(labAvailable)` outside CI). */
export const labAvailable: boolean = (inject("lab") as LabInfo | null | undefined) != null

/** True when the second lab daemon is up. */
export const lab2Available: boolean = (inject("lab2") as LabInfo | null | undefined) != null

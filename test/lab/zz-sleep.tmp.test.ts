import { it } from "vitest"
it("sleeps", async () => { await new Promise((r) => setTimeout(r, 60_000)) }, 120_000)

import { defineConfig } from "vitest/config"

// the migration tests need a second daemon
process.env["LXD_LAB_DAEMONS"] ??= "2"

export default defineConfig({
  test: {
    // one shared daemon: files run one after another
    fileParallelism: false,
    reporters: ["default", "./test/support/summary-reporter.ts"],
    projects: [
      {
        test: {
          name: "unit",
          include: ["packages/*/test/**/*.test.ts", "examples/**/*.test.ts"],
          testTimeout: 10_000
        }
      },
      {
        test: {
          name: "integration",
          include: ["test/**/*.test.ts"],
          globalSetup: ["./test/lab/globalSetup.ts"],
          testTimeout: 60_000,
          hookTimeout: 120_000
        }
      }
    ]
  }
})

import { defineConfig } from "vitest/config"

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

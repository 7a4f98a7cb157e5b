import { fileURLToPath } from "node:url"
import { configDefaults, defineConfig } from "vitest/config"

// the migration tests need a second daemon
process.env["LXD_LAB_DAEMONS"] ??= "2"

const packages = fileURLToPath(new URL("./packages/", import.meta.url))

export default defineConfig({
  resolve: {
    // the workspace runs on the sources, as tsconfig.json's paths say (package.json exports name the build)
    alias: [
      { find: /^@effect-lxd\/(core|node|testing)$/, replacement: `${packages}$1/src/index.ts` },
      { find: /^@effect-lxd\/(core|node|testing)\/(?!internal\/)(.+)$/, replacement: `${packages}$1/src/$2.ts` }
    ]
  },
  test: {
    // one shared daemon: files run one after another
    fileParallelism: false,
    reporters: ["default", "./test/support/summary-reporter.ts"],
    // fast-check runs with a fixed seed everywhere (PROPERTY_SEED overrides)
    setupFiles: ["./test/support/seed.ts"],
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["packages/*/test/**/*.test.ts", "examples/**/*.test.ts"],
          testTimeout: 10_000
        }
      },
      {
        extends: true,
        test: {
          name: "integration",
          include: ["test/**/*.test.ts"],
          exclude: [...configDefaults.exclude, "test/consumer/**"],
          globalSetup: ["./test/lab/globalSetup.ts"],
          testTimeout: 60_000,
          hookTimeout: 120_000
        }
      },
      {
        extends: true,
        test: {
          // the packed packages in a new npm project (needs `pnpm build` first)
          name: "consumer",
          include: ["test/consumer/**/*.test.ts"],
          testTimeout: 300_000,
          hookTimeout: 300_000
        }
      }
    ]
  }
})

import type { Reporter, TestModule } from "vitest/node"

/**
 * Prints one plain closing line, `tests: N passed, N failed, N skipped`, after vitest's own summary, so any
 * CI can read the outcome.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>) {
    let passed = 0
    let failed = 0
    let skipped = 0
    for (const module of testModules) {
      const before = failed
      for (const test of module.children.allTests()) {
        const state = test.result().state
        if (state === "passed") passed++
        else if (state === "failed") failed++
        else skipped++
      }
      // a file that failed with no failed test (it did not load, or a hook failed and its tests were skipped)
      if (module.state() === "failed" && failed === before) failed++
    }
    // after vitest's own summary: the very last line of the run (stdout to a pipe or file is synchronous here)
    process.once(
      "exit",
      () => process.stdout.write(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`)
    )
  }
}

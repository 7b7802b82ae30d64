import { defineProject } from "vitest/config"

export default defineProject({
  test: {
    name: "executor",
    include: ["test/**/*.test.ts"],
    // a guard against a hang, not a budget: the fast-check properties run hundreds of programs, and
    // the suite runs them beside the cluster tests on 2 cores (one took over 5 s there)
    testTimeout: 30_000
  }
})

import { defineProject } from "vitest/config"

export default defineProject({
  test: {
    name: "node",
    include: ["test/**/*.test.ts"],
    // real threads on real time: a guard against a hang, not a budget (the suite runs these beside
    // the cluster tests on 2 cores, where starting a thread can take 300 ms)
    testTimeout: 30_000
  }
})

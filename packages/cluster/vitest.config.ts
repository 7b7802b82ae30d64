import { defineProject } from "vitest/config"

export default defineProject({
  test: {
    name: "cluster",
    include: ["test/**/*.test.ts"],
    // each file starts its own PostgreSQL and runner processes: one file at a time on 2 cores
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000
  }
})

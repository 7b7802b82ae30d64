import { defineProject } from "vitest/config"

export default defineProject({
  test: {
    name: "cluster",
    include: ["test/**/*.test.ts"],
    // each file starts its own PostgreSQL and runner processes: one file at a time on 2 cores (the
    // suite runs this project beside the others). The files share one worker process: no fork and
    // module reload per file, and one initdb template (test/fixtures/postgres.ts) for all of them
    fileParallelism: false,
    isolate: false,
    testTimeout: 60_000,
    hookTimeout: 60_000
  }
})

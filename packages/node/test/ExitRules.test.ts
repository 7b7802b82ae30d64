/**
 * The exit-rule suite of @taskscope/executor, run against WorkerExecutor: the
 * same tests, on worker threads, in real time. One pool of two threads serves
 * every test (threads are slow to start); each test opens its own executor on
 * it, as a program would per job.
 */
import { it } from "@effect/vitest"
import { Effect } from "effect"
import { exitRuleSuite, type SuiteExecutor } from "../../executor/test/ExitRules.suite.ts"
import { WorkerExecutor } from "../src/index.ts"
import { sharedPool } from "./fixtures/threads.ts"

const { pool } = sharedPool()

exitRuleSuite({
  name: "WorkerExecutor",
  test: it.live,
  scoped: (body, options) =>
    Effect.andThen(
      // threads terminated by an earlier test are replaced before the clock starts
      pool.prestart,
      WorkerExecutor.scoped(pool, (executor) =>
        body({
          submit: (work, submitOptions) => executor.submit("work", work, submitOptions),
          stats: executor.stats,
          join: executor.join
        } satisfies SuiteExecutor), { maxConcurrency: options?.maxConcurrency, bubbleUp: options?.bubbleUp })
    ),
  elapse: (ms) => Effect.sleep(ms),
  messageOf: (error) => (error instanceof Error ? error.message : String(error))
})

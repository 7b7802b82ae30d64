/**
 * The exit-rule suite of @taskscope/executor, run against WorkerExecutor: the
 * same tests, on worker threads, in real time. One pool of two threads serves
 * every test (threads are slow to start); each test opens its own executor on
 * it, as a program would per job.
 */
import { afterAll, expect, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import { exitRuleSuite, type SuiteExecutor } from "../../executor/test/ExitRules.suite.ts"
import { WorkerExecutor, WorkerPool } from "../src/index.ts"
import { tasks } from "./fixtures/tasks.ts"
import { makeCounter, spawner } from "./fixtures/threads.ts"

const threads = makeCounter()
const scope = Effect.runSync(Scope.make())
const pool = Effect.runSync(Scope.provide(WorkerPool.make(tasks, { spawn: spawner(threads), maxConcurrency: 2 }), scope))

afterAll(async () => {
  await Effect.runPromise(Scope.close(scope, Exit.void))
  expect(threads.alive()).toBe(0)
})

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

/**
 * A runner with `maxAttempts` counts each start in PostgreSQL before the
 * task's function begins. That statement is part of the task's wait to
 * start, not of its run: a slow database uses up `startTimeout`, not
 * `timeout`. The statement is made slow here by a lock on its table held
 * from another connection.
 */
import { assert, describe, it } from "@effect/vitest"
import { ExecutorError, Task } from "@taskscope/executor"
import { Cause, Effect, Exit, Fiber } from "effect"
import { ClusterExecutor } from "../src/index.ts"
import { submitter } from "./fixtures/cluster.ts"
import { eventually, logFile, readLog } from "./fixtures/log.ts"
import { type Postgres, postgres } from "./fixtures/postgres.ts"
import { countedStarts, startRunner, waitForShards } from "./fixtures/runners.ts"
import { tasks } from "./fixtures/tasks.ts"

/** Whether `taskscope_attempts` holds `n` rows. */
const startRows = (pg: Postgres, n: number) => Effect.map(countedStarts(pg), (rows) => rows === n)

/** How a task ended, in short. */
const outcomeOf = (exit: Exit.Exit<unknown, unknown>): string => {
  if (Exit.isSuccess(exit)) return "succeeded"
  const error = Cause.squash(exit.cause)
  return error instanceof ExecutorError.TaskTimeoutError ? `timed out (${error.phase})` : String(error)
}

describe("the start count of maxAttempts and the deadlines", () => {
  it.live("a slow start count uses up startTimeout, not timeout: the run deadline counts from the function's start",
    () =>
      Effect.gen(function*() {
        const pg = yield* postgres("attempts_deadlines")
        const log = yield* logFile
        yield* startRunner(pg, "r1", { env: { MAX_ATTEMPTS: "3" } })
        yield* waitForShards(pg, 1)
        const outcome = yield* ClusterExecutor.scoped(tasks, (executor) =>
          Effect.gen(function*() {
            // the first counted start makes the table
            yield* Effect.flatMap(executor.submit("visit", { key: "first", ms: 0, log }, { key: "first" }), Task.join)
            // and its row goes once its answer is stored: a statement that waited for the lock would
            // hold up the runner's others on its connection (they are pipelined), the tasks' delivery too
            yield* eventually("its start forgotten", startRows(pg, 0))
            // every start statement waits for this lock, for 2 s
            const lock = yield* Effect.forkChild(pg.query(
              "begin; lock table taskscope_attempts in access exclusive mode; select pg_sleep(2); commit"
            ))
            yield* eventually(
              "the table is locked",
              Effect.map(
                pg.query<{ n: string }>(
                  `select count(*) as n from pg_locks l join pg_class c on c.oid = l.relation
                    where c.relname = 'taskscope_attempts' and l.mode = 'AccessExclusiveLock' and l.granted`
                ),
                ([row]) => Number(row!.n) === 1
              )
            )
            const timed = yield* executor.submit("visit", { key: "timed", ms: 0, log }, {
              key: "timed",
              timeout: "1 second",
              reraiseOnExit: false
            })
            const late = yield* executor.submit("visit", { key: "late", ms: 0, log }, {
              key: "late",
              startTimeout: "1 second",
              reraiseOnExit: false
            })
            const exits = { timed: yield* Task.await(timed), late: yield* Task.await(late) }
            yield* Fiber.join(lock)
            return exits
          })).pipe(Effect.provide(submitter(pg.url)), Effect.timeout("60 seconds"))
        const ran = (yield* readLog(log)).filter((e) => e.event === "start").map((e) => e.key)
        // before: { timed: "timed out (run)", late: "succeeded", ran: ["first", "late"] } — the timed
        // task failed after 1 s without its function run, the late one ran once the lock was gone
        assert.deepStrictEqual(
          { timed: outcomeOf(outcome.timed), late: outcomeOf(outcome.late), ran },
          { timed: "succeeded", late: "timed out (queue)", ran: ["first", "timed"] }
        )
        // a timeout is an answer: its start row goes with it, as every answered task's
        yield* eventually("every start forgotten", startRows(pg, 0))
      }), 90_000)
})

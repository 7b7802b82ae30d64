/**
 * PostgreSQL stopped and started again mid-run: the runners and the
 * submitter lose their database for a while, and the work resumes with
 * nothing lost — every task completes, is stored once and has one result.
 */
import { assert, describe, it } from "@effect/vitest"
import { Task } from "@taskscope/executor"
import { Effect, Fiber } from "effect"
import * as fs from "node:fs"
import { ClusterExecutor } from "../src/index.ts"
import { submitter } from "./fixtures/cluster.ts"
import { eventually, logFile, readLog } from "./fixtures/log.ts"
import { type Postgres, postgres } from "./fixtures/postgres.ts"
import {
  reportRows,
  runnerLogs,
  type RunnerProcess,
  sessionReport,
  startRunner,
  waitForShards
} from "./fixtures/runners.ts"
import { tasks } from "./fixtures/tasks.ts"

/** The run takes about 10 s: after this long, a task is stuck. */
const STUCK_AFTER = "60 seconds"

/** Where the test is, for the report. */
interface Progress {
  step: string
  joined: number
}

/** What a stuck run left: the tasks that never ended, their rows in storage, the runners' output. */
const stuckReport = (
  pg: Postgres,
  log: string,
  keys: ReadonlyArray<string>,
  runners: ReadonlyArray<RunnerProcess>,
  progress: Progress
) =>
  Effect.gen(function*() {
    const ended = new Set((yield* readLog(log)).filter((e) => e.event === "end").map((e) => e.key))
    const rows = yield* reportRows(
      pg,
      `select m.request_id, m.processed, m.last_reply_id
         from cluster_messages m left join cluster_replies r on r.request_id = m.request_id and r.kind = 0
        where m.kind = 0 and r.id is null`
    )
    console.error(
      [
        `PostgreSQL restart: still running after ${STUCK_AFTER}, at: ${progress.step} (${progress.joined} tasks joined)`,
        `tasks that never ended: ${keys.filter((key) => !ended.has(key)).join(", ") || "none"}`,
        `stored requests without a result:\n${rows}`,
        `database sessions and their shard locks:\n${yield* sessionReport(pg)}`,
        ...runnerLogs(runners)
      ].join("\n")
    )
  })

describe("PostgreSQL restart", () => {
  it.live("stopped and restarted mid-run, the work resumes with nothing lost", () =>
    Effect.gen(function*() {
      const pg = yield* postgres("restart")
      const log = yield* logFile
      const runners = yield* Effect.forEach(["r1", "r2"], (name) => startRunner(pg, name))
      yield* waitForShards(pg, 2, undefined, runners)
      const keys = Array.from({ length: 20 }, (_, i) => `restart-${i}`)
      // a stuck task holds the executor's close for good (rule 3), past the
      // test's timeout: say what is missing while the run can still be read
      const progress: Progress = { step: "submitting", joined: 0 }
      yield* Effect.forkScoped(Effect.delay(stuckReport(pg, log, keys, runners, progress), STUCK_AFTER))
      const results = yield* ClusterExecutor.scoped(tasks, (executor) =>
        Effect.gen(function*() {
          const handles = yield* Effect.forEach(keys,
            (key) => executor.submit("visit", { key, ms: 1500, log }, { key }))
          yield* eventually("tasks run", Effect.map(readLog(log), (entries) => entries.length >= 5))
          progress.step = "restarting PostgreSQL"
          yield* pg.stop
          // attach looks the task up in storage: it rides out the outage as submit does (before: failed at once)
          const attached = yield* Effect.forkChild(Effect.flatMap(executor.attach(keys[0]!), Task.join))
          yield* Effect.sleep("2 seconds")
          yield* pg.start
          progress.step = "joining the tasks"
          const joined = yield* Effect.forEach(handles, (handle) =>
            Effect.tap(Task.join(handle), () =>
              Effect.sync(() => {
                progress.joined++
              })))
          progress.step = "joining the attached task"
          assert.deepStrictEqual(yield* Fiber.join(attached), joined[0])
          progress.step = "closing the executor"
          return joined
        })).pipe(
          Effect.ensuring(Effect.sync(() => (progress.step = "closing the submitter's cluster layer"))),
          Effect.provide(submitter(pg.url)),
          Effect.ensuring(Effect.sync(() => (progress.step = "checking the results")))
        )
      assert.deepStrictEqual(results.map((r) => r.key), keys)
      const [row] = yield* pg.query<{ requests: string; results: string }>(
        `select count(*) as requests, count(r.id) as results
           from cluster_messages m left join cluster_replies r on r.request_id = m.request_id and r.kind = 0
          where m.kind = 0`
      )
      assert.deepStrictEqual({ requests: Number(row!.requests), results: Number(row!.results) }, {
        requests: 20,
        results: 20
      })
      const ended = new Set((yield* readLog(log)).filter((e) => e.event === "end").map((e) => e.key))
      assert.deepStrictEqual([...ended].sort(), [...keys].sort())
    }), 180_000)

  it.live("a task its runner stops while PostgreSQL is away is not charged for it: with maxAttempts 1 it runs again",
    () =>
      Effect.gen(function*() {
        const pg = yield* postgres("giveback")
        const log = yield* logFile
        const gate = `${log}.gate`
        const runner = yield* startRunner(pg, "r1", { env: { MAX_ATTEMPTS: "1" } })
        yield* waitForShards(pg, 1, undefined, [runner])
        const result = yield* ClusterExecutor.scoped(tasks, (executor) =>
          Effect.gen(function*() {
            const task = yield* executor.submit("visit", { key: "held", ms: 0, log, until: gate, logStop: true }, {
              key: "held"
            })
            yield* eventually("the task runs", Effect.map(readLog(log), (entries) => entries.length === 1))
            yield* pg.stop
            // the runner's shard locks went with the server: it lets its shards go, and so stops the
            // task, while the database is away (its start's give-back fails then)
            yield* eventually("the task is stopped", Effect.map(readLog(log), (entries) => entries.length === 2))
            yield* Effect.sleep("1 second")
            fs.writeFileSync(gate, "")
            yield* pg.start
            return yield* Task.join(task)
          })).pipe(Effect.provide(submitter(pg.url)))
        assert.deepStrictEqual(result, { key: "held", runner: "r1" })
        // it ran twice: stopped by the outage, then again once the database was back
        assert.deepStrictEqual((yield* readLog(log)).map((e) => `${e.event} ${e.key}`), [
          "start held",
          "stopped held",
          "start held",
          "end held"
        ])
      }), 120_000)
})

/**
 * PostgreSQL stopped and started again mid-run: the runners and the
 * submitter lose their database for a while, and the work resumes with
 * nothing lost — every task completes, is stored once and has one result.
 */
import { assert, describe, it } from "@effect/vitest"
import { Task } from "@taskscope/executor"
import { Effect } from "effect"
import { ClusterExecutor } from "../src/index.ts"
import { submitter } from "./fixtures/cluster.ts"
import { eventually, logFile, readLog } from "./fixtures/log.ts"
import { type Postgres, postgres } from "./fixtures/postgres.ts"
import { type RunnerProcess, startRunner, waitForShards } from "./fixtures/runners.ts"
import { tasks } from "./fixtures/tasks.ts"

/** The run takes about 10 s: after this long, a task is stuck. */
const STUCK_AFTER = "60 seconds"

/** What a stuck run left: the tasks that never ended, their rows in storage, the runners' output. */
const stuckReport = (pg: Postgres, log: string, keys: ReadonlyArray<string>, runners: ReadonlyArray<RunnerProcess>) =>
  Effect.gen(function*() {
    const ended = new Set((yield* readLog(log)).filter((e) => e.event === "end").map((e) => e.key))
    const rows = yield* pg.query(
      `select m.request_id, m.processed, m.last_reply_id
         from cluster_messages m left join cluster_replies r on r.request_id = m.request_id and r.kind = 0
        where m.kind = 0 and r.id is null`
    ).pipe(Effect.catchCause((cause) => Effect.succeed([{ queryFailed: String(cause) }])))
    console.error(
      [
        `PostgreSQL restart: still running after ${STUCK_AFTER}`,
        `tasks that never ended: ${keys.filter((key) => !ended.has(key)).join(", ") || "none"}`,
        `stored requests without a result: ${JSON.stringify(rows)}`,
        ...runners.map((runner) => `--- runner ${runner.name}, its last output ---\n${runner.output().slice(-6000)}`)
      ].join("\n")
    )
  })

describe("PostgreSQL restart", () => {
  it.live("stopped and restarted mid-run, the work resumes with nothing lost", () =>
    Effect.gen(function*() {
      const pg = yield* postgres("restart")
      const log = yield* logFile
      const runners = yield* Effect.forEach(["r1", "r2"], (name) => startRunner(pg, name))
      yield* waitForShards(pg, 2)
      const keys = Array.from({ length: 20 }, (_, i) => `restart-${i}`)
      // a stuck task holds the executor's close for good (rule 3), past the
      // test's timeout: say what is missing while the run can still be read
      yield* Effect.forkScoped(Effect.delay(stuckReport(pg, log, keys, runners), STUCK_AFTER))
      const results = yield* ClusterExecutor.scoped(tasks, (executor) =>
        Effect.gen(function*() {
          const handles = yield* Effect.forEach(keys,
            (key) => executor.submit("visit", { key, ms: 1500, log }, { key }))
          yield* eventually("tasks run", Effect.map(readLog(log), (entries) => entries.length >= 5))
          yield* pg.stop
          yield* Effect.sleep("2 seconds")
          yield* pg.start
          return yield* Effect.forEach(handles, Task.join)
        })).pipe(Effect.provide(submitter(pg.url)))
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
})

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
import { postgres } from "./fixtures/postgres.ts"
import { startRunner, waitForShards } from "./fixtures/runners.ts"
import { tasks } from "./fixtures/tasks.ts"

describe("PostgreSQL restart", () => {
  it.live("stopped and restarted mid-run, the work resumes with nothing lost", () =>
    Effect.gen(function*() {
      const pg = yield* postgres("restart")
      const log = yield* logFile
      yield* Effect.forEach(["r1", "r2"], (name) => startRunner(pg, name))
      yield* waitForShards(pg, 2)
      const keys = Array.from({ length: 20 }, (_, i) => `restart-${i}`)
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

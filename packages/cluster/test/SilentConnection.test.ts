/**
 * A database connection that goes silent — open, but never answering again —
 * must not hold the work for good: its statements fail at `statementTimeout`
 * and are retried, `connectionTTL` retires it, and the server ends a silent
 * session (and frees a runner's shard locks) after `idleSessionTimeout`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Task } from "@taskscope/executor"
import { Effect } from "effect"
import { Cluster, ClusterExecutor } from "../src/index.ts"
import { submitter } from "./fixtures/cluster.ts"
import { testShardingConfig } from "./fixtures/config.ts"
import { logFile } from "./fixtures/log.ts"
import { postgres } from "./fixtures/postgres.ts"
import { proxy } from "./fixtures/proxy.ts"
import { startRunner, waitForShards } from "./fixtures/runners.ts"
import { tasks } from "./fixtures/tasks.ts"

describe("a silent database connection", () => {
  it.live("the submitter's connections go silent mid-run: its tasks are still stored, run and joined",
    () =>
      Effect.gen(function*() {
        const pg = yield* postgres("silent")
        const log = yield* logFile
        yield* startRunner(pg, "r1")
        yield* waitForShards(pg, 1)
        const front = yield* proxy(pg.url)
        const submitter = Cluster.layerPostgres({
          url: front.url,
          shardingConfig: testShardingConfig,
          statementTimeout: "1 second",
          connectionTTL: "2 seconds"
        })
        const { results, silenced } = yield* ClusterExecutor.scoped(tasks, (executor) =>
          Effect.gen(function*() {
            // the first task opens the submitter's connections
            yield* Effect.flatMap(executor.submit("visit", { key: "before", ms: 10, log }, { key: "before" }),
              Task.join)
            const silenced = yield* front.silence
            const keys = Array.from({ length: 5 }, (_, i) => `silent-${i}`)
            const handles = yield* Effect.forEach(keys,
              (key) => executor.submit("visit", { key, ms: 10, log }, { key }))
            return { results: yield* Effect.forEach(handles, Task.join), silenced }
          })).pipe(Effect.provide(submitter))
        assert.isAbove(silenced, 0, "no connection of the submitter was open to silence")
        assert.deepStrictEqual(results.map((r) => r.key), Array.from({ length: 5 }, (_, i) => `silent-${i}`))
      }), 60_000)

  it.live("a runner's connections go silent mid-run: every task still ends with its result",
    () =>
      Effect.gen(function*() {
        const pg = yield* postgres("silent-runner")
        const log = yield* logFile
        const front = yield* proxy(pg.url)
        yield* startRunner(pg, "r1")
        // r2 through the proxy, with a short idleSessionTimeout: its silent sessions
        // hold its shard locks until the server ends them
        yield* startRunner(front, "r2", { env: { SHORT_IDLE_SESSIONS: "1" } })
        yield* waitForShards(pg, 2)
        const keys = Array.from({ length: 20 }, (_, i) => `silent-runner-${i}`)
        const { results, silenced } = yield* ClusterExecutor.scoped(tasks, (executor) =>
          Effect.gen(function*() {
            const handles = yield* Effect.forEach(keys,
              (key) => executor.submit("visit", { key, ms: 500, log }, { key }))
            yield* Effect.sleep("200 millis")
            const silenced = yield* front.silence
            return { results: yield* Effect.forEach(handles, Task.join), silenced }
          })).pipe(Effect.provide(submitter(pg.url)))
        assert.isAbove(silenced, 0, "no connection of runner r2 was open to silence")
        assert.deepStrictEqual(results.map((r) => r.key), keys)
      }), 60_000)
})

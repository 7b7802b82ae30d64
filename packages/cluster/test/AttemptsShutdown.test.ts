/**
 * A runner with `maxAttempts` forgets an answered task's starts in the
 * background, about 50 ms after the task's handler ends and every half second
 * while its answer is not stored yet. A graceful shutdown stops that poll
 * first: the starts of the tasks it had not forgotten yet must still go, once
 * their answers are stored, instead of waiting for the purge of week-old rows.
 *
 * The runner runs in the test process, so that its shutdown starts at a point
 * the test chooses: its store of starts is PostgreSQL's, with one change, a
 * gate on the poll's statement (`answered`) that the test opens or keeps shut.
 */
import { assert, describe, it } from "@effect/vitest"
import { Task } from "@taskscope/executor"
import { Effect, Exit, Fiber, Latch, Layer, Scope } from "effect"
import { Cluster, ClusterExecutor, ClusterRunner } from "../src/index.ts"
import * as Attempts from "../src/internal/attempts.ts"
import { submitter } from "./fixtures/cluster.ts"
import { testShardingConfig } from "./fixtures/config.ts"
import { freePort, type Postgres, postgres } from "./fixtures/postgres.ts"
import { waitForShards } from "./fixtures/runners.ts"
import { RunnerName, tasks } from "./fixtures/tasks.ts"

/** How many rows `taskscope_attempts` holds for `key`. */
const rowsOf = (pg: Postgres, key: string) =>
  Effect.map(
    pg.query<{ n: string }>(`select count(*) as n from taskscope_attempts where key = '${key}'`),
    ([row]) => Number(row!.n)
  )

/**
 * Runs one task, with key `key`, on a runner in this process, and shuts the runner down gracefully
 * while the poll that would forget the task's start waits at the gate: the shutdown stops it. With
 * `open`, the gate opens then, for the statements the shutdown makes itself. How many rows the task
 * left, and how long the shutdown took.
 */
const answeredThenShutDown = (pg: Postgres, key: string, open: boolean) =>
  Effect.gen(function*() {
    const port = yield* Effect.promise(freePort)
    // opened when the poll has asked, when the shutdown has stopped it, and by the test to let `answered` through
    const asked = yield* Latch.make()
    const stopped = yield* Latch.make()
    const gate = yield* Latch.make()
    const gated = Layer.effect(
      Attempts.CurrentAttempts,
      Effect.map(Attempts.CurrentAttempts, (store): Attempts.Attempts | undefined =>
        store && {
          ...store,
          answered: (id, requestId) =>
            Effect.andThen(
              Effect.andThen(asked.open, Effect.onInterrupt(gate.await, () => stopped.open)),
              store.answered(id, requestId)
            )
        })
    )
    const runnerScope = yield* Scope.make()
    yield* Effect.addFinalizer(() => Scope.close(runnerScope, Exit.void))
    yield* Layer.buildWithScope(
      ClusterRunner.layer(tasks, { maxAttempts: 3 }).pipe(
        Layer.provide(Layer.succeed(RunnerName, "in-process")),
        Layer.provide(gated),
        Layer.provideMerge(Cluster.layerPostgres({
          url: pg.url,
          runner: { host: "127.0.0.1", port },
          shardingConfig: testShardingConfig
        }))
      ),
      runnerScope
    )
    yield* waitForShards(pg, 1)
    const squared = yield* ClusterExecutor.scoped(tasks,
      (executor) => Effect.flatMap(executor.submit("square", 7, { key }), Task.join)).pipe(
        Effect.provide(submitter(pg.url)),
        Effect.timeout("60 seconds")
      )
    assert.strictEqual(squared, 49)
    // its answer is stored (the submitter read it), and the poll that would forget its start waits at the gate
    yield* asked.await
    assert.strictEqual(yield* rowsOf(pg, key), 1, "its start is still counted")
    // a graceful shutdown, which stops the poll first of all
    const started = Date.now()
    const shutdown = yield* Effect.forkChild(Scope.close(runnerScope, Exit.void))
    yield* stopped.await
    if (open) yield* gate.open
    const ended = yield* Effect.timeout(Fiber.await(shutdown), "30 seconds")
    assert.isTrue(Exit.isSuccess(ended))
    return { rows: yield* rowsOf(pg, key), shutdownMillis: Date.now() - started }
  }).pipe(Effect.scoped)

describe("the start count of maxAttempts and a graceful shutdown", () => {
  it.live("the starts of a task answered just before the shutdown are forgotten by the shutdown",
    () =>
      Effect.gen(function*() {
        const server = yield* postgres("attempts_shutdown")
        const { rows } = yield* answeredThenShutDown(yield* server.database("forgotten"), "answered", true)
        // before: 1, the row left for the purge of week-old rows
        assert.strictEqual(rows, 0, "its start is forgotten")
      }), 120_000)

  it.live("a database that does not answer holds the shutdown for 2 s at most; the row is left to the purge",
    () =>
      Effect.gen(function*() {
        const server = yield* postgres("attempts_shutdown")
        const { rows, shutdownMillis } = yield* answeredThenShutDown(yield* server.database("held"), "held", false)
        assert.strictEqual(rows, 1, "its start is left")
        // the 2 s, and the rest of the shutdown (well under a second here)
        assert.isBelow(shutdownMillis, 10_000)
      }), 120_000)
})

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
import { PersistenceError } from "effect/cluster/ClusterError"
import * as fs from "node:fs"
import { Cluster, ClusterExecutor, ClusterRunner } from "../src/index.ts"
import * as Attempts from "../src/internal/attempts.ts"
import { submitter } from "./fixtures/cluster.ts"
import { testShardingConfig } from "./fixtures/config.ts"
import { eventually, logFile, readLog } from "./fixtures/log.ts"
import { freePort, type Postgres, postgres } from "./fixtures/postgres.ts"
import { countedStarts, startRunner, waitForShards } from "./fixtures/runners.ts"
import { RunnerName, tasks } from "./fixtures/tasks.ts"

/** How many rows `taskscope_attempts` holds for `key`. */
const rowsOf = (pg: Postgres, key: string) => countedStarts(pg, `key = '${key}'`)

/**
 * Starts a runner in this process (in a scope of its own, which the test closes to shut it down
 * gracefully), its store of starts PostgreSQL's as `wrap` changes it; once it holds the shards.
 */
const inProcessRunner = (
  pg: Postgres,
  maxAttempts: number,
  wrap: (store: Attempts.Attempts) => Attempts.Attempts
) =>
  Effect.gen(function*() {
    const port = yield* Effect.promise(freePort)
    const wrapped = Layer.effect(
      Attempts.CurrentAttempts,
      Effect.map(Attempts.CurrentAttempts, (store) => store && wrap(store))
    )
    const runnerScope = yield* Scope.make()
    yield* Effect.addFinalizer(() => Scope.close(runnerScope, Exit.void))
    yield* Layer.buildWithScope(
      ClusterRunner.layer(tasks, { maxAttempts }).pipe(
        Layer.provide(Layer.succeed(RunnerName, "in-process")),
        Layer.provide(wrapped),
        Layer.provideMerge(Cluster.layerPostgres({
          url: pg.url,
          runner: { host: "127.0.0.1", port },
          shardingConfig: testShardingConfig
        }))
      ),
      runnerScope
    )
    yield* waitForShards(pg, 1)
    return runnerScope
  })

/**
 * Runs one task, with key `key`, on a runner in this process, and shuts the runner down gracefully
 * while the poll that would forget the task's start waits at the gate: the shutdown stops it. With
 * `open`, the gate opens then, for the statements the shutdown makes itself. How many rows the task
 * left, and how long the shutdown took.
 */
const answeredThenShutDown = (pg: Postgres, key: string, open: boolean) =>
  Effect.gen(function*() {
    // opened when the poll has asked, when the shutdown has stopped it, and by the test to let `answered` through
    const asked = yield* Latch.make()
    const stopped = yield* Latch.make()
    const gate = yield* Latch.make()
    const runnerScope = yield* inProcessRunner(pg, 3, (store) => ({
      ...store,
      answered: (id, requestId) =>
        Effect.andThen(
          Effect.andThen(asked.open, Effect.onInterrupt(gate.await, () => stopped.open)),
          store.answered(id, requestId)
        )
    }))
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

  it.live(
    "a start the shutdown gives back while the database does not answer is given back again before the shutdown ends",
    () =>
      Effect.gen(function*() {
        const server = yield* postgres("attempts_shutdown")
        const pg = yield* server.database("giveback")
        const log = yield* logFile
        const gate = `${log}.gate`
        // the first two tries of a give-back fail as against a database that is away; the next go through
        let givenBack = 0
        const runnerScope = yield* inProcessRunner(pg, 1, (store) => ({
          ...store,
          givenBack: (attempt) =>
            Effect.suspend(() =>
              ++givenBack <= 2
                ? Effect.fail(new PersistenceError({ cause: "the database is away" }))
                : store.givenBack(attempt)
            )
        }))
        const result = yield* ClusterExecutor.scoped(tasks, (executor) =>
          Effect.gen(function*() {
            const task = yield* executor.submit("visit", { key: "stopped", ms: 0, log, until: gate }, {
              key: "stopped"
            })
            yield* Effect.gen(function*() {
              yield* eventually("the task runs", Effect.map(readLog(log), (entries) => entries.length === 1))
              assert.strictEqual(yield* rowsOf(pg, "stopped"), 1, "its start is counted")
              // a graceful shutdown stops the task: its start is given back, the first two tries
              // failing (at once, and in the background), the third 500 ms later
              const shutdown = yield* Effect.timeout(Scope.close(runnerScope, Exit.void), "30 seconds")
              assert.isUndefined(shutdown)
              assert.strictEqual(givenBack, 3, "tried again in the background, until it went through")
              // before: 1 (the try made once), and the task's next owner failed it with AttemptsExhaustedError
              assert.strictEqual(yield* rowsOf(pg, "stopped"), 0, "its start is given back")
            }).pipe(
              // whatever the checks found, the task can end (on another runner), and so the executor's close
              Effect.ensuring(Effect.andThen(
                Effect.sync(() => fs.writeFileSync(gate, "")),
                startRunner(pg, "r2", { env: { MAX_ATTEMPTS: "1" } })
              ))
            )
            return yield* Task.join(task)
          })).pipe(Effect.provide(submitter(pg.url)))
        assert.deepStrictEqual(result, { key: "stopped", runner: "r2" })
      }),
    120_000
  )
})

/**
 * An executor that runs ahead while its calls are tiny (WorkerExecutor.ts,
 * `fromParts`): it starts up to 16 calls per thread so that they reach the
 * threads in batches, yet no more calls run at once than there are threads,
 * never more than a `maxConcurrency` below the threads, and one call per
 * thread again once calls take longer. Real threads, real time; every
 * assertion is about counts, order or outcome, never a duration.
 */
import { assert, describe, it } from "@effect/vitest"
import { Task } from "@taskscope/executor"
import { Effect, Exit } from "effect"
import type { Scope } from "effect"
import { WorkerExecutor, WorkerPool } from "../src/index.ts"
import * as Pool from "../src/internal/pool.ts"
import { eventually } from "./fixtures/expect.ts"
import { tasks } from "./fixtures/tasks.ts"
import { type Counter, makeCounter, spawner } from "./fixtures/threads.ts"

/**
 * A started pool of `threads` whose calls have been measured as tiny: tiny
 * calls until the pool says so (a call stalled by a loaded machine can keep
 * the moving average up for a while).
 */
const tinyPool = (counter: Counter, threads: number) =>
  Effect.gen(function*() {
    const pool = yield* WorkerPool.make(tasks, { spawn: spawner(counter), maxConcurrency: threads })
    yield* pool.prestart
    const internal = Pool.internals.get(pool)!
    for (let n = 0; n < 2_000 && !internal.tiny(); n++) yield* Effect.orDie(pool.call("square", n))
    assert.isTrue(internal.tiny(), "2,000 calls of `square`, and the pool never measured them as tiny")
    return pool
  })

/** The most intervals that overlap at any instant. */
const maxOverlap = (intervals: ReadonlyArray<{ readonly start: number; readonly end: number }>): number => {
  const edges = intervals.flatMap(({ end, start }) => [[start, 1], [end, -1]] as const)
  // an interval that ends where another starts does not overlap it
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1])
  let open = 0
  let most = 0
  for (const [, step] of edges) {
    open += step
    most = Math.max(most, open)
  }
  return most
}

/** Shared counters that the `touch` task bumps: how often each call ran. */
const makeCells = (n: number) => {
  const cells = new SharedArrayBuffer(4 * n)
  const view = new Int32Array(cells)
  return { touch: (index: number) => ({ cells, index }), runs: () => Array.from(view) }
}

/** Submits `n` calls of 0.2 ms and returns their handles. */
const submitSpins = (executor: WorkerExecutor.WorkerExecutor<typeof tasks>, n: number) =>
  Effect.forEach(Array.from({ length: n }), () => executor.submit("spin", 0.2))

/** Polls the executor's stats until no call is queued; the most calls seen running meanwhile. */
const mostRunning = (executor: WorkerExecutor.WorkerExecutor<typeof tasks>) =>
  Effect.gen(function*() {
    let most = 0
    yield* eventually(
      Effect.map(executor.stats, (stats) => {
        most = Math.max(most, stats.running)
        return stats.queued === 0
      }),
      "every call has started"
    )
    return most
  })

const withPool = <A, E>(
  threads: number,
  body: (pool: WorkerPool.WorkerPool<typeof tasks>) => Effect.Effect<A, E, Scope.Scope>
) =>
  Effect.gen(function*() {
    const counter = makeCounter()
    const result = yield* Effect.scoped(Effect.flatMap(tinyPool(counter, threads), body))
    assert.strictEqual(counter.alive(), 0, "no thread is left once the pool's scope has closed")
    return result
  })

describe("WorkerExecutor running ahead", () => {
  it.live("with tiny calls it starts up to 16 per thread, yet no more run at once than there are threads", () =>
    withPool(2, (pool) =>
      WorkerExecutor.scoped(pool, (executor) =>
        Effect.gen(function*() {
          const handles = yield* submitSpins(executor, 400)
          const most = yield* mostRunning(executor)
          const intervals = yield* Effect.forEach(handles, Task.join)
          assert.isAbove(most, 2, "more calls started than threads")
          assert.isAtMost(most, 2 * Pool.AHEAD)
          assert.isAtMost(maxOverlap(intervals), 2, "each thread ran one call at a time")
          assert.strictEqual(intervals.length, 400)
        }))))

  it.live("with maxConcurrency below the threads it never runs ahead", () =>
    withPool(2, (pool) =>
      WorkerExecutor.scoped(pool, (executor) =>
        Effect.gen(function*() {
          const handles = yield* submitSpins(executor, 100)
          const most = yield* mostRunning(executor)
          const intervals = yield* Effect.forEach(handles, Task.join)
          assert.strictEqual(most, 1)
          assert.strictEqual(maxOverlap(intervals), 1, "one call at a time, on either thread")
        }), { maxConcurrency: 1 })))

  it.live("resize below the threads stops running ahead, and back up resumes it", () =>
    withPool(2, (pool) =>
      WorkerExecutor.scoped(pool, (executor) =>
        Effect.gen(function*() {
          yield* executor.pause
          const handles = yield* Effect.forEach(Array.from({ length: 300 }, (_, i) => i), (n) =>
            executor.submit("square", n))
          // no answer is read between these steps (the event loop does not turn), so the pool's measure holds
          yield* executor.resize(1)
          yield* executor.resume
          assert.include(yield* executor.stats, { running: 1, queued: 299 })
          yield* executor.resize(2)
          assert.include(yield* executor.stats, { running: 2 * Pool.AHEAD, queued: 300 - 2 * Pool.AHEAD })
          const squares = yield* Effect.forEach(handles, Task.join)
          assert.deepStrictEqual(squares, Array.from({ length: 300 }, (_, i) => i * i))
        }))))

  it.live("once calls take longer than tiny ones, it starts one per thread again", () =>
    withPool(2, (pool) =>
      WorkerExecutor.scoped(pool, (executor) =>
        Effect.gen(function*() {
          // measured as tiny: the first 32 start at once; their 10 ms tell the pool otherwise
          const handles = yield* Effect.forEach(
            Array.from({ length: 40 }),
            () => executor.submit("work", { _tag: "Succeed", ms: 10, value: 1 })
          )
          assert.strictEqual((yield* executor.stats).running, 2 * Pool.AHEAD)
          yield* eventually(
            Effect.map(executor.stats, (stats) => stats.running <= 2 && stats.queued > 0),
            "no more than one call per thread started while calls still wait"
          )
          const results = yield* Effect.forEach(handles, Task.join)
          assert.deepStrictEqual(results, Array.from({ length: 40 }, () => 1))
        }))))

  it.live("a task interrupted while it waits in its thread's batch is never run, and no thread is stopped", () =>
    withPool(1, (pool) =>
      WorkerExecutor.scoped(pool, (executor) =>
        Effect.gen(function*() {
          const cells = makeCells(3)
          const blocker = yield* executor.submit("work", { _tag: "Succeed", ms: 300, value: 7 })
          const touches = yield* Effect.forEach([0, 1, 2], (i) => executor.submit("touch", cells.touch(i)))
          // all four started (the thread holds them), one runs
          assert.include(yield* executor.stats, { running: 4, queued: 0 })
          yield* eventually(Effect.map(pool.stats, (stats) => stats.busy === 1), "the blocker runs")
          yield* Task.interrupt(touches[1]!)
          assert.isTrue(Exit.hasInterrupts(yield* Task.await(touches[1]!)))
          assert.deepStrictEqual(
            yield* Effect.all([Task.join(blocker), Task.join(touches[0]!), Task.join(touches[2]!)]),
            [7, 1, 1]
          )
          assert.deepStrictEqual(cells.runs(), [1, 0, 1], "the interrupted call never ran")
          assert.include(yield* pool.stats, { terminated: 0, crashed: 0, threads: 1 })
        }))))

  it.live("tiny tasks by the thousand through an executor each get their own answer", () =>
    withPool(2, (pool) =>
      WorkerExecutor.scoped(pool, (executor) =>
        Effect.gen(function*() {
          const handles = yield* Effect.forEach(Array.from({ length: 5_000 }, (_, i) => i), (n) =>
            executor.submit("square", n))
          const squares = yield* Effect.forEach(handles, Task.join)
          assert.deepStrictEqual(squares, Array.from({ length: 5_000 }, (_, i) => i * i))
          assert.include(yield* executor.stats, { succeeded: 5_000, running: 0, queued: 0 })
        }))))
})

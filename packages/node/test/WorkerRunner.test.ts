/**
 * The worker side: tasks that need services get them from the layer the
 * worker entry gave `WorkerRunner.serve` (test/fixtures/services-worker.ts).
 */
import { assert, describe, it } from "@effect/vitest"
import { Task } from "@taskscope/executor"
import { Effect } from "effect"
import { WorkerError, WorkerExecutor } from "../src/index.ts"
import { errorOf } from "./fixtures/expect.ts"
import { serviceTasks } from "./fixtures/services.ts"
import { tasks } from "./fixtures/tasks.ts"
import { makeCounter, spawner } from "./fixtures/threads.ts"

describe("WorkerRunner", () => {
  it.live("a task that needs a service runs with the one the worker's layer provides", () => {
    const threads = makeCounter()
    return Effect.gen(function*() {
      const greeting = yield* WorkerExecutor.scoped(
        serviceTasks,
        (executor) => Effect.flatMap(executor.submit("greet", "Ada"), Task.join),
        { spawn: spawner(threads, "services-worker.ts") }
      )
      assert.strictEqual(greeting, "hello, Ada")
      assert.strictEqual(threads.spawned, 1)
    })
  })

  it.live("the layer is built once per thread, not per call", () =>
    Effect.gen(function*() {
      const builds = yield* WorkerExecutor.scoped(
        serviceTasks,
        (executor) => Effect.forEach([1, 2, 3], () => Effect.flatMap(executor.submit("thread", undefined), Task.join)),
        { spawn: spawner(makeCounter(), "services-worker.ts"), maxConcurrency: 1 }
      )
      assert.deepStrictEqual(builds, [1, 1, 1])
    }))

  it.live("a layer that fails to build fails the call that started the thread, with the layer's error", () => {
    const threads = makeCounter()
    return Effect.gen(function*() {
      const exit = yield* WorkerExecutor.scoped(
        serviceTasks,
        (executor) => Effect.flatMap(executor.submit("greet", "Ada", { reraiseOnExit: false }), Task.await),
        { spawn: spawner(threads, "failing-services-worker.ts"), maxConcurrency: 1 }
      )
      const error = errorOf(exit)
      assert.instanceOf(error, WorkerError.WorkerCrashedError)
      assert.include(error.message, "failed to start")
      assert.include(error.message, "MissingSetting")
      assert.include(error.message, "GREETING")
      assert.strictEqual(threads.alive(), 0)
    })
  })

  it.live("a layer whose build is interrupted fails the call that started the thread, saying so", () => {
    const threads = makeCounter()
    return Effect.gen(function*() {
      const exit = yield* WorkerExecutor.scoped(
        serviceTasks,
        (executor) => Effect.flatMap(executor.submit("greet", "Ada", { reraiseOnExit: false }), Task.await),
        { spawn: spawner(threads, "interrupted-services-worker.ts"), maxConcurrency: 1 }
      )
      const error = errorOf(exit)
      assert.instanceOf(error, WorkerError.WorkerCrashedError)
      assert.include(error.message, "failed to start")
      // before: the thread exited with code 0, no reason given
      assert.include(error.message, "WorkerRunner.serve failed")
      assert.include(error.message, "interrupted")
      assert.deepStrictEqual(threads.exitCodes, [1])
    })
  })

  it.live("an idle thread with a timer pending waits in its event loop: it burns no CPU while it waits", () =>
    Effect.gen(function*() {
      const used = yield* WorkerExecutor.scoped(
        tasks,
        (executor) =>
          Effect.gen(function*() {
            const call = (keep: boolean) => Effect.flatMap(executor.submit("keepTimer", keep), Task.join)
            yield* call(true) // the thread started and its code warmed up
            const before = yield* call(true)
            yield* Effect.sleep("3 seconds") // real time: the thread idles with its timer pending
            const after = yield* call(false)
            return after - before
          }),
        { spawn: spawner(makeCounter()), maxConcurrency: 1 }
      )
      // before: it waited in slices of 2 ms, turning its event loop in between: 11-16 ms of CPU per
      // 600 ms (2-4% of a core, for as long as the timer lived), so 55-80 ms here; now one wake-up,
      // for the call, whose cost does not grow with the wait (2-10 ms on a loaded 2-core machine,
      // 18 ms once with the cluster tests running beside it: a 1.5 s wait and a 15 ms bound failed
      // 1 suite run in 4 there)
      assert.isBelow(used, 30_000, `the idle thread used ${used} µs of CPU in 3 s`)
    }))

  it.live("a task that interrupts its own fiber is answered (a defect), and the thread serves on", () =>
    Effect.gen(function*() {
      const [interrupted, next] = yield* WorkerExecutor.scoped(
        tasks,
        (executor) =>
          Effect.gen(function*() {
            const interrupted = yield* Effect.flatMap(
              executor.submit("selfInterrupt", undefined, { reraiseOnExit: false }),
              Task.await
            )
            return [interrupted, yield* Effect.flatMap(executor.submit("square", 5), Task.join)] as const
          }),
        { spawn: spawner(makeCounter()), maxConcurrency: 1 }
      ).pipe(Effect.timeout("10 seconds"))
      assert.instanceOf(errorOf(interrupted), WorkerError.WorkerCrashedError)
      assert.strictEqual(next, 25)
    }))
})

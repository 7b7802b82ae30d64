/**
 * The worker side: tasks that need services get them from the layer the
 * worker entry gave `WorkerRunner.serve` (test/fixtures/services-worker.ts).
 */
import { assert, describe, it } from "@effect/vitest"
import { Task } from "@taskscope/executor"
import { Effect } from "effect"
import { WorkerExecutor } from "../src/index.ts"
import { serviceTasks } from "./fixtures/services.ts"
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
})

/**
 * The workload profiled for issue 11: tiny tasks through a WorkerExecutor on
 * two threads, all in flight at once, a few rounds. Run it under the CPU
 * profiler (the worker threads inherit the flag and write profiles of their
 * own), then summarize:
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof bench/profile.ts [tasks] [rounds]
 *   node bench/profile-summary.ts /tmp/prof
 *
 * `--pool` runs the same calls through `WorkerPool.call`, with no executor.
 */
import { Task } from "@taskscope/executor"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { Worker } from "node:worker_threads"
import * as WorkerExecutor from "../src/WorkerExecutor.ts"
import * as WorkerPool from "../src/WorkerPool.ts"
import { tasks } from "./fixtures/tasks.ts"

const [count = 20_000, rounds = 5] = process.argv.slice(2).filter((arg) => !arg.startsWith("--")).map(Number)
const viaPool = process.argv.includes("--pool")
const scope = Effect.runSync(Scope.make())
const pool = Effect.runSync(Scope.provide(
  WorkerPool.make(tasks, {
    spawn: () => new Worker(new URL("./fixtures/worker.ts", import.meta.url)),
    maxConcurrency: 2
  }),
  scope
))
await Effect.runPromise(pool.prestart)
const payloads = Array.from({ length: count }, (_, i) => i)
const once = viaPool
  ? Effect.forEach(payloads, (n) => pool.call("noop", n), { concurrency: "unbounded", discard: true })
  : WorkerExecutor.scoped(pool, (executor) =>
    Effect.gen(function*() {
      const handles = []
      for (const n of payloads) handles.push(yield* executor.submit("noop", n))
      for (const handle of handles) yield* Task.join(handle)
    }))
for (let round = 0; round < rounds; round++) {
  const start = performance.now()
  await Effect.runPromise(once)
  console.log(`${((performance.now() - start) * 1000 / count).toFixed(1)} µs/task`)
}
await Effect.runPromise(Scope.close(scope, Exit.void))

/**
 * The workload profiled for issue 11: tiny tasks on two threads, all in
 * flight at once, several rounds, through one contender. Run it under the CPU
 * profiler (worker threads inherit the flag and write profiles of their own),
 * then summarize:
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof bench/profile.ts [tasks] [rounds] [--pool|--piscina]
 *   node bench/profile-summary.ts /tmp/prof
 *
 * Default: `WorkerExecutor.submit` then `Task.join` for each call (as in
 * `bench/main.ts`); `--pool` runs the same calls through `WorkerPool.call`,
 * with no executor; `--piscina` through piscina on the same functions. Each
 * round prints its wall time and the main thread's CPU time per task.
 */
import { Task } from "@taskscope/executor"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { Worker } from "node:worker_threads"
import { Piscina } from "piscina"
import * as WorkerExecutor from "../src/WorkerExecutor.ts"
import * as WorkerPool from "../src/WorkerPool.ts"
import { tasks } from "./fixtures/tasks.ts"

const [count = 2_000, rounds = 20] = process.argv.slice(2).filter((arg) => !arg.startsWith("--")).map(Number)
const mode = process.argv.includes("--pool") ? "pool" : process.argv.includes("--piscina") ? "piscina" : "executor"
const maxConcurrency = process.argv.find((arg) => arg.startsWith("--max="))?.slice("--max=".length)
const payloads = Array.from({ length: count }, (_, i) => i)

const setup = async (): Promise<{ readonly once: () => Promise<unknown>; readonly close: () => Promise<void> }> => {
  if (mode === "piscina") {
    const filename = new URL("./fixtures/plain-worker.ts", import.meta.url).href
    const piscina = new Piscina({ filename, minThreads: 2, maxThreads: 2, idleTimeout: 60_000 })
    await Promise.all([0, 1, 2, 3].map((i) => piscina.run(i, { name: "noop" })))
    return {
      once: () => Promise.all(payloads.map((n) => piscina.run(n, { name: "noop" }))),
      close: () => piscina.destroy()
    }
  }
  const scope = Effect.runSync(Scope.make())
  const pool = Effect.runSync(Scope.provide(
    WorkerPool.make(tasks, {
      spawn: () => new Worker(new URL("./fixtures/worker.ts", import.meta.url)),
      maxConcurrency: 2
    }),
    scope
  ))
  await Effect.runPromise(pool.prestart)
  const effect = mode === "pool"
    ? Effect.forEach(payloads, (n) => pool.call("noop", n), { concurrency: "unbounded", discard: true })
    : WorkerExecutor.scoped(pool, (executor) =>
      Effect.gen(function*() {
        const handles = []
        for (const n of payloads) handles.push(yield* executor.submit("noop", n))
        for (const handle of handles) yield* Task.join(handle)
      }), { maxConcurrency: maxConcurrency === undefined ? undefined : Number(maxConcurrency) })
  return { once: () => Effect.runPromise(effect), close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

const { close, once } = await setup()
for (let round = 0; round < rounds; round++) {
  const cpu = process.threadCpuUsage()
  const start = performance.now()
  await once()
  const took = performance.now() - start
  const used = process.threadCpuUsage(cpu)
  console.log(
    `${mode}: ${(took * 1000 / count).toFixed(1)} µs/task, main-thread CPU ${
      ((used.user + used.system) / count).toFixed(1)
    } µs/task`
  )
}
await close()

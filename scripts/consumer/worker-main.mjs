// (c) A WorkerExecutor program whose threads run ./worker.js.
import { Task } from "@taskscope/executor"
import { WorkerExecutor } from "@taskscope/node"
import { Effect } from "effect"
import { Worker } from "node:worker_threads"
import { tasks } from "./tasks.js"

const program = WorkerExecutor.scoped(
  tasks,
  (executor) =>
    Effect.gen(function*() {
      const calls = yield* Effect.forEach([10, 20, 30], (n) => executor.submit("fib", n))
      return yield* Effect.forEach(calls, Task.join)
    }),
  { spawn: () => new Worker(new URL("./worker.js", import.meta.url)), maxConcurrency: 2 }
)

console.log(JSON.stringify(await Effect.runPromise(program)))

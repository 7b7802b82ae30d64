// (b) A library built on taskscope: it exports values whose types tsc infers, and its declarations
// (emitted by the type check) must name taskscope's types through the packages' exports alone. It
// imports only what it uses: a type that lived in a module with no subpath (Task, ExecutorError,
// WorkerError, WorkerPool) made its declaration "not portable" (TS2883).
import { BackgroundExecutor } from "@taskscope/executor"
import * as TaskSet from "@taskscope/executor/TaskSet"
import { WorkerExecutor, WorkerPool } from "@taskscope/node"
import { Effect, Schema } from "effect"
import { Worker } from "node:worker_threads"

export const tasks = TaskSet.make("consumer/library", {
  square: TaskSet.task({ payload: Schema.Number, success: Schema.Number, run: (n) => n * n })
})

const spawn = () => new Worker(new URL("./worker.js", import.meta.url))

export const submitSquare = (n: number) => WorkerExecutor.submit(tasks, "square", n, { timeout: "1 second" })
export const squareOf = (executor: WorkerExecutor.WorkerExecutor<typeof tasks>, n: number) =>
  executor.submit("square", n)
export const submitFiber = (n: number) => BackgroundExecutor.submit(Effect.succeed(n), { name: "fiber" })
export const follow = (executor: BackgroundExecutor.Executor) => executor.changes
export const closing = BackgroundExecutor.scoped(Effect.void, { closeTimeout: "1 second" })
export const poolOf = () => WorkerPool.make(tasks, { spawn, maxConcurrency: 1 })

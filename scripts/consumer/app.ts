// (b) A strict TypeScript consumer of both packages, type-checked with skipLibCheck off.
import { NodeRuntime } from "@effect/platform-node"
import { BackgroundExecutor, ExecutorError, Task } from "@taskscope/executor"
import * as TaskSetError from "@taskscope/executor/TaskSetError"
import { TaskSet, WorkerError, WorkerExecutor, WorkerPool } from "@taskscope/node"
import * as TaskSetModule from "@taskscope/node/TaskSet"
import * as WorkerExecutorModule from "@taskscope/node/WorkerExecutor"
import * as WorkerRunner from "@taskscope/node/WorkerRunner"
import { Effect, Schema } from "effect"
import { Worker } from "node:worker_threads"

export class TooBig extends Schema.TaggedError<TooBig>()("TooBig", { n: Schema.Number }) {}

export const tasks = TaskSetModule.make("consumer/app", {
  double: TaskSet.task({ payload: Schema.Number, success: Schema.Number, error: TooBig, run: (n) => n * 2 })
})

declare module "@taskscope/node/WorkerExecutor" {
  interface Register {
    readonly taskSet: typeof tasks
  }
}

export const serveTasks = (): void => WorkerRunner.serve(tasks)

// the task set's errors are one set of classes, whichever package names them
export const unknownTask: TaskSetError.UnknownTaskError = new WorkerError.UnknownTaskError({ task: "x", known: [] })

const spawn = () => new Worker(new URL("./worker.js", import.meta.url))

const fibers: Effect.Effect<ReadonlyArray<number>, ExecutorError.TaskFailedError | ExecutorError.ExecutorClosedError> =
  BackgroundExecutor.scoped(
    Effect.gen(function*() {
      const handles = yield* Effect.forEach([1, 2, 3], (n) => BackgroundExecutor.submit(Effect.succeed(n)))
      return yield* Effect.forEach(handles, Task.join)
    }),
    { maxConcurrency: 2 }
  )

const threads: Effect.Effect<
  number,
  TooBig | WorkerError.WorkerTaskError | ExecutorError.TaskFailedError | ExecutorError.ExecutorClosedError
> = WorkerExecutor.scoped(tasks, (executor) => Effect.flatMap(executor.submit("double", 21), Task.join), { spawn })

const registered = Effect.gen(function*() {
  const task = yield* WorkerExecutorModule.submit("double", 4)
  return yield* Task.join(task)
}).pipe(Effect.provide(WorkerExecutor.layer(tasks, { spawn })))

// the program's executor is typed by the registered task set in the published declarations (they
// had resolved it to TaskSet.Unknown, with no task set registered in the package itself)
export const viaCurrent: Effect.Effect<number, unknown, WorkerExecutor.Current> = Effect.flatMap(
  Effect.flatMap(WorkerExecutor.Current, (executor) => executor.submit("double", 2)),
  Task.join
)
// the shape behind the key, as a service class's `Service` names it
export const statsOf = (executor: WorkerExecutor.Current["Service"]) => executor.stats
export const wrongName = Effect.flatMap(WorkerExecutor.Current, (executor) =>
  // @ts-expect-error: the registered task set has no task "triple"
  executor.submit("triple", 2))

const pooled = Effect.scoped(Effect.gen(function*() {
  const pool = yield* WorkerPool.make(tasks, { spawn, maxConcurrency: 1 })
  return yield* WorkerExecutor.scoped(pool, (executor) => Effect.flatMap(executor.submit("double", 1), Task.join))
}))

NodeRuntime.runMain(
  Effect.all([fibers, threads, registered, pooled]).pipe(
    Effect.catchTag("TaskFailedError", (error) => Effect.succeed(error.taskName)),
    Effect.flatMap((result) => Effect.log(result))
  )
)

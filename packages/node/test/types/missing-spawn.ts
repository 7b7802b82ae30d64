// Compiled by test/TypeErrors.test.ts, not by the workspace's type check: each line marked
// `// error:` must fail to compile with an error that names what the marker says.
import { BackgroundExecutor, Task } from "@taskscope/executor"
import { WorkerExecutor, WorkerPool, WorkerRunner } from "@taskscope/node"
import { Effect } from "effect"
import { Worker } from "node:worker_threads"
import { GreetingLive, serviceTasks } from "../fixtures/services.ts"
import { tasks } from "../fixtures/tasks.ts"

const spawn = () => new Worker(new URL("../fixtures/worker.ts", import.meta.url))

export const noOptions = [
  WorkerExecutor.make(tasks), // error: spawn
  WorkerExecutor.layer(tasks), // error: spawn
  WorkerExecutor.scoped(tasks, () => Effect.void) // error: spawn
]

export const optionsWithoutSpawn = [
  WorkerExecutor.make(tasks, { maxConcurrency: 2 }), // error: spawn
  WorkerExecutor.layer(tasks, { maxConcurrency: 2 }), // error: spawn
  WorkerExecutor.scoped(tasks, () => Effect.void, { maxConcurrency: 2 }), // error: spawn
  WorkerPool.make(tasks, { maxConcurrency: 2 }) // error: spawn
]

export const fine = [
  WorkerExecutor.make(tasks, { spawn }),
  WorkerExecutor.layer(tasks, { spawn, maxConcurrency: 2 }),
  WorkerExecutor.scoped(tasks, (executor) => executor.submit("square", 3), { spawn }),
  Effect.scoped(Effect.flatMap(WorkerPool.make(tasks, { spawn }), (pool) => WorkerExecutor.make(pool)))
]

// a pool or a task set, as a `Source`: make and layer take one as scoped does (before: no overload matched)
declare const source: WorkerExecutor.Source<typeof tasks>
export const fromSource = [
  WorkerExecutor.make(source, { spawn }),
  WorkerExecutor.layer(source, { spawn }),
  WorkerExecutor.scoped(source, () => Effect.void, { spawn })
]

// the guard narrows a `Source` to its own task set's pool (before: `Source<T> & WorkerPool<TaskSet.Any>`,
// whose calls were `Effect<any, any>`), and its `false` branch to the task set
export const narrowed = WorkerPool.isWorkerPool(source)
  ? source.call("square", 3).pipe(Effect.map((n): number => n))
  : Effect.succeed(source.key)
// @ts-expect-error the narrowed pool's calls are typed: a string is not square's payload
export const narrowedWrongPayload = WorkerPool.isWorkerPool(source) ? source.call("square", "3") : Effect.void

export const wrongTask = WorkerExecutor.scoped(tasks, (executor) => executor.submit("sqare", 3), { spawn }) // error: sqare

// a worker serving tasks that need a service must be given the layer that provides it
export const servesWithoutLayer = () => WorkerRunner.serve(serviceTasks) // error: layer
export const servesWithLayer = () => WorkerRunner.serve(serviceTasks, GreetingLive)
export const servesTasksWithoutServices = () => WorkerRunner.serve(tasks)

// a misspelled option next to valid ones is refused, naming the option meant
export const misspelled = [
  WorkerExecutor.scoped(tasks, () => Effect.void, { spawn, maxConcurency: 2 }), // error: maxConcurrency
  WorkerExecutor.scoped(tasks, (executor) => executor.submit("square", 3, { name: "x", cancelOnExt: true }), { spawn }), // error: cancelOnExit
  WorkerExecutor.submit(tasks, "square", 3, { name: "x", timout: 5 }), // error: timeout
  Effect.scoped(Effect.flatMap(WorkerPool.make(tasks, { spawn }), (pool) => poolScoped(pool)))
]

const poolScoped = (pool: WorkerPool.WorkerPool<typeof tasks>) =>
  WorkerExecutor.scoped(pool, Effect.void, { maxQueue: 9, closeTimout: 5 }) // error: closeTimeout

// data-last, the same: one error, on the option
export const misspelledDataLast = [
  Effect.void.pipe(BackgroundExecutor.scoped({ maxQueue: 9, closeTimout: 5 })), // error: closeTimeout
  BackgroundExecutor.scoped({ maxQueue: 9, maxConcurency: 2 })((executor) => executor.submit(Effect.void)), // error: maxConcurrency
  Effect.void.pipe(BackgroundExecutor.submit({ name: "x", cancelOnExt: true })) // error: cancelOnExit
]

// no task set is registered in this program: a name-first call knows nothing of its task, and its
// result and errors are `unknown` (they were `any`: anything compiled, a wrong type or tag included)
export const unregistered = Effect.gen(function*() {
  const joined = Task.join(yield* WorkerExecutor.submit("square", 3))
  const value: unknown = yield* Effect.orElseSucceed(joined, () => 0)
  const square: number = yield* Effect.orElseSucceed(joined, () => 0) // error: unknown
  const error: Error = yield* Effect.flip(joined) // error: unknown
  return [value, square, error]
})

/**
 * `WorkerExecutor` runs the tasks of a {@link TaskSet} on a pool of
 * `node:worker_threads`, so that CPU-bound functions run in parallel, with
 * the same submit options, exit rules, `join`, `awaitIdle`, `stats` and
 * `scoped` as `BackgroundExecutor` from `@taskscope/executor` — because it
 * *is* one: every call is an effect submitted to a `BackgroundExecutor` with
 * `maxConcurrency` equal to the number of threads, which checks out a thread,
 * posts the request, and waits for the reply.
 *
 * Where threads differ from fibers:
 *
 * - Interrupting a running task (`Task.interrupt`, `cancelOnExit`) terminates
 *   its thread (`onInterruptRunning: "terminate"`, the default) — synchronous
 *   code cannot be stopped any other way — and a fresh thread is started when
 *   one is next needed. With `"wait"` the call runs to its end and its result
 *   is discarded (the behaviour of the original, which can only cancel tasks
 *   that have not started). A queued task is dropped at once either way.
 * - A thread that exits, throws an uncaught error or runs out of memory fails
 *   only the task it was running, with {@link WorkerCrashedError}; the pool
 *   replaces the thread and every other task goes on.
 * - An unknown task name, a payload that fails its Schema or cannot be
 *   cloned, and a result that fails its Schema or cannot be cloned each fail
 *   that task only, with a typed error naming the task and the value.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Worker } from "node:worker_threads"
 * import { Task } from "@taskscope/executor"
 * import { WorkerExecutor } from "@taskscope/node"
 * import { tasks } from "./tasks.ts" // TaskSet.make("app/Tasks", { fib: ... })
 *
 * const program = WorkerExecutor.scoped(tasks, (pool) =>
 *   Effect.gen(function*() {
 *     const a = yield* pool.submit("fib", 35)
 *     const b = yield* pool.submit("fib", 36)
 *     return (yield* Task.join(a)) + (yield* Task.join(b))
 *   }), { spawn: () => new Worker(new URL("./worker.ts", import.meta.url)) })
 * ```
 *
 * @since 0.1.0
 */
import { BackgroundExecutor, type ExecutorError, type Task } from "@taskscope/executor"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Transferable from "effect/workers/Transferable"
import type * as WorkerThreads from "node:worker_threads"
import { describeValue } from "./internal/describe.ts"
import * as Options_ from "./internal/options.ts"
import * as Pool from "./internal/pool.ts"
import { Reply } from "./internal/protocol.ts"
import * as TaskSet from "./TaskSet.ts"

// -----------------------------------------------------------------------------
// errors
// -----------------------------------------------------------------------------

/**
 * The thread running a task crashed — it exited (`process.exit`), threw an
 * uncaught error, ran out of memory (`resourceLimits`), or failed to start —
 * or the task's function threw something that is not its typed error. Only
 * this task fails; the pool replaces a dead thread.
 *
 * @category errors
 * @since 0.1.0
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Task } from "@taskscope/executor"
 * import type { WorkerExecutor } from "@taskscope/node"
 *
 * declare const task: Task.Task<number, WorkerExecutor.WorkerTaskError>
 * const recovered = Task.join(task).pipe(
 *   Effect.catchTag("WorkerCrashedError", (error) => Effect.succeed(`${error.task}: ${error.reason}`))
 * )
 * ```
 */
export class WorkerCrashedError extends Data.TaggedError("WorkerCrashedError")<{
  /** The task (its name in the task set). */
  readonly task: string
  /** What happened, in words: "threw", "exited with code 1", ... */
  readonly reason: string
  /** What the thread or the function threw, or the platform's error. */
  readonly cause: unknown
}> {
  override get message(): string {
    return `Task "${this.task}" crashed its worker: ${this.reason}`
  }
}

/**
 * No task of that name in the task set (possible from untyped code only).
 *
 * @category errors
 * @since 0.1.0
 * @example
 * ```ts
 * import { WorkerExecutor } from "@taskscope/node"
 *
 * const error = new WorkerExecutor.UnknownTaskError({ task: "fibb", known: ["fib"] })
 * error.message // 'Unknown task "fibb"; the task set has: "fib"'
 * ```
 */
export class UnknownTaskError extends Data.TaggedError("UnknownTaskError")<{
  readonly task: string
  readonly known: ReadonlyArray<string>
}> {
  override get message(): string {
    return `Unknown task ${describeValue(this.task)}; the task set has: ${this.known.map((name) => JSON.stringify(name)).join(", ")}`
  }
}

/**
 * The payload does not match the task's payload Schema, or cannot be cloned
 * to a worker thread.
 *
 * @category errors
 * @since 0.1.0
 * @example
 * ```ts
 * import { WorkerExecutor } from "@taskscope/node"
 *
 * const error = new WorkerExecutor.InvalidPayloadError({ task: "fib", payload: "ten", issue: "Expected number" })
 * error.message // 'Invalid payload for task "fib": "ten": Expected number'
 * ```
 */
export class InvalidPayloadError extends Data.TaggedError("InvalidPayloadError")<{
  readonly task: string
  readonly payload: unknown
  readonly issue: string
}> {
  override get message(): string {
    return `Invalid payload for task "${this.task}": ${describeValue(this.payload)}: ${this.issue}`
  }
}

/**
 * What the task's function returned (or failed with) does not match its
 * success (or error) Schema, or cannot be cloned back to the parent thread.
 *
 * @category errors
 * @since 0.1.0
 * @example
 * ```ts
 * import { WorkerExecutor } from "@taskscope/node"
 *
 * const error = new WorkerExecutor.InvalidResultError({ task: "f", part: "success value", issue: "could not be cloned" })
 * error.message // 'Invalid success value from task "f": could not be cloned'
 * ```
 */
export class InvalidResultError extends Data.TaggedError("InvalidResultError")<{
  readonly task: string
  readonly part: "success value" | "error"
  readonly issue: string
}> {
  override get message(): string {
    return `Invalid ${this.part} from task "${this.task}": ${this.issue}`
  }
}

/**
 * Every way a call can fail besides the task's own typed error.
 *
 * @category errors
 * @since 0.1.0
 * @example
 * ```ts
 * import type { WorkerExecutor } from "@taskscope/node"
 *
 * const describe = (error: WorkerExecutor.WorkerTaskError): string => `${error._tag}: ${error.message}`
 * ```
 */
export type WorkerTaskError = WorkerCrashedError | UnknownTaskError | InvalidPayloadError | InvalidResultError

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * Options of a `WorkerExecutor`.
 *
 * @category models
 * @since 0.1.0
 * @example
 * ```ts
 * import { Worker } from "node:worker_threads"
 * import type { WorkerExecutor } from "@taskscope/node"
 *
 * const options: WorkerExecutor.Options = {
 *   spawn: () => new Worker(new URL("./worker.ts", import.meta.url), { resourceLimits: { maxOldGenerationSizeMb: 256 } }),
 *   maxConcurrency: 4,
 *   idleTimeout: "30 seconds"
 * }
 * ```
 */
export interface Options {
  /** Starts one thread: a `new Worker(...)` whose entry module calls `WorkerRunner.serve`. */
  readonly spawn: (id: number) => WorkerThreads.Worker
  /** Number of threads, and of tasks running at once. Default `os.availableParallelism()`. */
  readonly maxConcurrency?: number | undefined
  /** Retire a thread idle this long (milliseconds or a `Duration`). Default: keep it until the executor closes. */
  readonly idleTimeout?: Duration.Input | undefined
  /** What interrupting a running task does. Default `"terminate"`. */
  readonly onInterruptRunning?: "terminate" | "wait" | undefined
  /** Passed to `BackgroundExecutor`: how many tasks may wait; `submit` suspends beyond. */
  readonly maxQueue?: number | undefined
  /** Passed to `BackgroundExecutor`: failures that are control signals, never re-raised. */
  readonly bubbleUp?: ((error: unknown) => boolean) | undefined
}

/**
 * Counters of the thread pool (the task counters are in `stats`).
 *
 * @category models
 * @since 0.1.0
 * @example
 * ```ts
 * import type { WorkerExecutor } from "@taskscope/node"
 *
 * const leaked = (stats: WorkerExecutor.ThreadStats) => stats.threads > 0
 * ```
 */
export interface ThreadStats extends Pool.Stats {}

/**
 * A thread-pool executor for the tasks of `T`.
 *
 * @category models
 * @since 0.1.0
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Task } from "@taskscope/executor"
 * import type { WorkerExecutor } from "@taskscope/node"
 * import type { tasks } from "./tasks.ts"
 *
 * const twice = (pool: WorkerExecutor.WorkerExecutor<typeof tasks>) =>
 *   Effect.flatMap(pool.submit("fib", 30), Task.join)
 * ```
 */
export interface WorkerExecutor<T extends TaskSet.Any> {
  readonly taskSet: T
  /**
   * Submits a call of task `task` with `payload` and returns its handle at
   * once. The `name` option defaults to the task's name.
   */
  readonly submit: <K extends TaskSet.Names<T>>(
    task: K,
    payload: TaskSet.Payload<T, K>,
    options?: BackgroundExecutor.SubmitOptions
  ) => Effect.Effect<
    Task.Task<TaskSet.Success<T, K>, TaskSet.Error<T, K> | WorkerTaskError>,
    ExecutorError.ExecutorClosedError
  >
  /** Waits until no submitted task is unfinished. */
  readonly awaitIdle: Effect.Effect<void>
  /** Waits like `awaitIdle`, then fails with the re-raisable failures not reported yet. */
  readonly join: Effect.Effect<void, ExecutorError.TaskFailedError>
  /** Task counters, as `BackgroundExecutor` keeps them. */
  readonly stats: Effect.Effect<BackgroundExecutor.Stats>
  /** Thread counters. */
  readonly threads: Effect.Effect<ThreadStats>
  /** Starts every thread now instead of on first use, and waits until they are ready. */
  readonly prestart: Effect.Effect<void>
}

/**
 * The identifier of the service that holds the executor of task set `T`.
 *
 * @category models
 * @since 0.1.0
 * @example
 * ```ts
 * import type { Effect } from "effect"
 * import type { WorkerExecutor } from "@taskscope/node"
 * import type { tasks } from "./tasks.ts"
 *
 * type NeedsPool = Effect.Effect<void, never, WorkerExecutor.Identifier<typeof tasks>>
 * ```
 */
export interface Identifier<T extends TaskSet.Any> {
  readonly "~@taskscope/node/WorkerExecutor": T
}

// -----------------------------------------------------------------------------
// service
// -----------------------------------------------------------------------------

const services = new WeakMap<TaskSet.Any, Context.Service<any, any>>()

/**
 * The service key of the executor for `taskSet` (one per task set, named
 * after its key), provided by {@link layer} and {@link scoped}.
 *
 * @category services
 * @since 0.1.0
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { WorkerExecutor } from "@taskscope/node"
 * import { tasks } from "./tasks.ts"
 *
 * const program = Effect.gen(function*() {
 *   const pool = yield* WorkerExecutor.service(tasks)
 *   return yield* pool.threads
 * })
 * ```
 */
export const service = <T extends TaskSet.Any>(taskSet: T): Context.Service<Identifier<T>, WorkerExecutor<T>> => {
  let tag = services.get(taskSet)
  if (tag === undefined) {
    tag = Context.Service<Identifier<T>, WorkerExecutor<T>>(`@taskscope/node/WorkerExecutor/${taskSet.key}`)
    services.set(taskSet, tag)
  }
  return tag
}

// -----------------------------------------------------------------------------
// constructors
// -----------------------------------------------------------------------------

interface Codec {
  readonly encodePayload: (payload: unknown) => Effect.Effect<unknown, Schema.SchemaError>
  readonly decodeSuccess: (value: unknown) => Exit.Exit<unknown, Schema.SchemaError>
  readonly decodeError: (value: unknown) => Exit.Exit<unknown, Schema.SchemaError>
}

const issueOf = (exit: Exit.Failure<unknown, Schema.SchemaError>): string => {
  const reason = exit.cause.reasons[0]
  return reason !== undefined && reason._tag === "Fail" ? reason.error.message : "does not match its Schema"
}

/** The effect that runs one call on the pool, as submitted to the executor. */
const makeCall = (taskSet: TaskSet.Any, pool: Pool.Pool) => {
  const codecs = new Map<string, Codec>()
  for (const name of taskSet.names) {
    const definition = taskSet.tasks[name]!
    codecs.set(name, {
      encodePayload: Schema.encodeUnknownEffect(definition.payload),
      decodeSuccess: Schema.decodeUnknownExit(definition.success),
      decodeError: Schema.decodeUnknownExit(definition.error)
    })
  }

  const interpret = (task: string, payload: unknown, codec: Codec, outcome: Pool.Outcome) => {
    if (!Array.isArray(outcome)) {
      const o = outcome as Pool.Crash | Pool.NotSent
      if (o._tag === "NotSent") {
        return Effect.fail(new InvalidPayloadError({
          task,
          payload,
          issue: `could not be cloned to a worker thread (${describeValue(o.cause)})`
        }))
      }
      const reason = o.phase === "start" ? `the worker thread failed to start: ${o.reason}` : o.reason
      return Effect.fail(new WorkerCrashedError({ task, reason, cause: o.cause }))
    }
    const [, kind, value] = outcome as Pool.Outcome & ReadonlyArray<unknown>
    switch (kind) {
      case Reply.Success: {
        const decoded = codec.decodeSuccess(value)
        return Exit.isSuccess(decoded)
          ? decoded
          : Effect.fail(new InvalidResultError({ task, part: "success value", issue: issueOf(decoded) }))
      }
      case Reply.Failure: {
        const decoded = codec.decodeError(value)
        return Exit.isSuccess(decoded)
          ? Effect.fail(decoded.value)
          : Effect.fail(new InvalidResultError({ task, part: "error", issue: issueOf(decoded) }))
      }
      case Reply.Defect:
        return Effect.fail(new WorkerCrashedError({ task, reason: `threw ${describeValue(value)}`, cause: value }))
      case Reply.UnknownTask:
        return Effect.fail(new UnknownTaskError({ task, known: value as ReadonlyArray<string> }))
      case Reply.InvalidPayload:
        return Effect.fail(new InvalidPayloadError({ task, payload, issue: String(value) }))
      case Reply.InvalidResult: {
        const [part, issue] = value as readonly ["success value" | "error", string]
        return Effect.fail(new InvalidResultError({ task, part, issue }))
      }
      default:
        return Effect.die(new Error(`WorkerExecutor: unexpected reply ${describeValue(outcome)}`))
    }
  }

  return (task: string, payload: unknown): Effect.Effect<unknown, unknown> =>
    Effect.suspend(() => {
      const codec = typeof task === "string" ? codecs.get(task) : undefined
      if (codec === undefined) return Effect.fail(new UnknownTaskError({ task, known: taskSet.names }))
      const collector = Transferable.makeCollectorUnsafe()
      return codec.encodePayload(payload).pipe(
        Effect.provideService(Transferable.Collector, collector),
        Effect.matchEffect({
          onFailure: (error) => Effect.fail(new InvalidPayloadError({ task, payload, issue: error.message })),
          onSuccess: (encoded) =>
            Effect.flatMap(
              pool.execute(task, encoded, collector.clearUnsafe()),
              (outcome) => interpret(task, payload, codec, outcome)
            )
        })
      )
    })
}

const fromParts = <T extends TaskSet.Any>(
  taskSet: T,
  executor: BackgroundExecutor.Executor,
  pool: Pool.Pool
): WorkerExecutor<T> => {
  const call = makeCall(taskSet, pool)
  return {
    taskSet,
    submit: (task, payload, options) =>
      executor.submit(
        call(task, payload),
        options?.name === undefined ? { ...options, name: String(task) } : options
      ) as Effect.Effect<Task.Task<any, any>, ExecutorError.ExecutorClosedError>,
    awaitIdle: executor.awaitIdle,
    join: executor.join,
    stats: executor.stats,
    threads: pool.stats,
    prestart: pool.prestart
  }
}

const checkTaskSet = (taskSet: unknown): void => {
  if (!TaskSet.isTaskSet(taskSet)) {
    throw new Options_.InvalidOptionError({ option: "taskSet", value: taskSet, expected: "a TaskSet (TaskSet.make)" })
  }
}

const executorOptions = (options: Options): BackgroundExecutor.Options => ({
  maxQueue: options.maxQueue,
  bubbleUp: options.bubbleUp
})

/**
 * Creates an executor that lives as long as the current scope. When the
 * scope closes, the exit rules apply (see `BackgroundExecutor.make`), then
 * every thread is stopped. Bad options die at once with an error naming the
 * option and its value.
 *
 * @category constructors
 * @since 0.1.0
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Worker } from "node:worker_threads"
 * import { Task } from "@taskscope/executor"
 * import { WorkerExecutor } from "@taskscope/node"
 * import { tasks } from "./tasks.ts"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const pool = yield* WorkerExecutor.make(tasks, {
 *     spawn: () => new Worker(new URL("./worker.ts", import.meta.url)),
 *     maxConcurrency: 2
 *   })
 *   const task = yield* pool.submit("fib", 30)
 *   return yield* Task.join(task)
 * }))
 * ```
 */
export const make = <T extends TaskSet.Any>(
  taskSet: T,
  options: Options
): Effect.Effect<WorkerExecutor<T>, never, Scope.Scope> =>
  Effect.suspend(() => {
    checkTaskSet(taskSet)
    const config = Options_.makeConfig(options)
    return Effect.gen(function*() {
      // finalizers run in reverse: the executor's exit rules first, then the pool
      const pool = yield* Pool.make(config)
      const executor = yield* BackgroundExecutor.make({
        ...executorOptions(options),
        maxConcurrency: config.maxConcurrency
      })
      return fromParts(taskSet, executor, pool)
    })
  })

/**
 * A layer that provides the executor of `taskSet` (see {@link service}),
 * closed with the exit rules and its threads stopped when the layer is
 * released.
 *
 * @category layers
 * @since 0.1.0
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Worker } from "node:worker_threads"
 * import { Task } from "@taskscope/executor"
 * import { WorkerExecutor } from "@taskscope/node"
 * import { tasks } from "./tasks.ts"
 *
 * const Pool = WorkerExecutor.layer(tasks, { spawn: () => new Worker(new URL("./worker.ts", import.meta.url)) })
 * const program = WorkerExecutor.submit(tasks, "fib", 30).pipe(
 *   Effect.flatMap(Task.join),
 *   Effect.provide(Pool)
 * )
 * ```
 */
export const layer = <T extends TaskSet.Any>(taskSet: T, options: Options): Layer.Layer<Identifier<T>> =>
  Layer.effect(service(taskSet), make(taskSet, options))

/**
 * Runs `body` with a fresh executor for `taskSet` and applies the exit rules
 * when it ends, as `BackgroundExecutor.scoped` does (the rules *are* its
 * rules); then stops every thread. `body` is an effect that may use the
 * executor's service, or a function of the executor.
 *
 * @category constructors
 * @since 0.1.0
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Worker } from "node:worker_threads"
 * import { Task } from "@taskscope/executor"
 * import { WorkerExecutor } from "@taskscope/node"
 * import { tasks } from "./tasks.ts"
 *
 * const program = WorkerExecutor.scoped(
 *   tasks,
 *   (pool) => Effect.flatMap(pool.submit("fib", 30), Task.join),
 *   { spawn: () => new Worker(new URL("./worker.ts", import.meta.url)) }
 * )
 * ```
 */
export const scoped = <T extends TaskSet.Any, A, E, R>(
  taskSet: T,
  body: Effect.Effect<A, E, R> | ((executor: WorkerExecutor<T>) => Effect.Effect<A, E, R>),
  options: Options
): Effect.Effect<A, E | ExecutorError.TaskFailedError, Exclude<R, Identifier<T>>> =>
  Effect.suspend(() => {
    checkTaskSet(taskSet)
    const config = Options_.makeConfig(options)
    return Effect.scopedWith((scope) =>
      Effect.flatMap(Scope.provide(Pool.make(config), scope), (pool) =>
        BackgroundExecutor.scoped(
          (executor) => {
            const self = fromParts(taskSet, executor, pool)
            const effect = typeof body === "function" ? body(self) : body
            return Effect.provideService(effect, service(taskSet), self)
          },
          { ...executorOptions(options), maxConcurrency: config.maxConcurrency }
        ))
    ) as Effect.Effect<A, E | ExecutorError.TaskFailedError, Exclude<R, Identifier<T>>>
  })

// -----------------------------------------------------------------------------
// accessors
// -----------------------------------------------------------------------------

/**
 * Submits a call of `task` to the executor of `taskSet` in context.
 *
 * @category accessors
 * @since 0.1.0
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Task } from "@taskscope/executor"
 * import { WorkerExecutor } from "@taskscope/node"
 * import { tasks } from "./tasks.ts"
 *
 * const program = Effect.gen(function*() {
 *   const task = yield* WorkerExecutor.submit(tasks, "fib", 30, { name: "fib(30)" })
 *   return yield* Task.join(task)
 * })
 * ```
 */
export const submit = <T extends TaskSet.Any, K extends TaskSet.Names<T>>(
  taskSet: T,
  task: K,
  payload: TaskSet.Payload<T, K>,
  options?: BackgroundExecutor.SubmitOptions
): Effect.Effect<
  Task.Task<TaskSet.Success<T, K>, TaskSet.Error<T, K> | WorkerTaskError>,
  ExecutorError.ExecutorClosedError,
  Identifier<T>
> => Effect.flatMap(service(taskSet), (executor) => executor.submit(task, payload, options))

/**
 * `WorkerExecutor` runs the tasks of a {@link TaskSet} on a pool of
 * `node:worker_threads`, so that CPU-bound functions run in parallel, with
 * the same submit options, exit rules, `join`, `awaitIdle`, `stats` and
 * `scoped` as `BackgroundExecutor` from `@taskscope/executor` — because it
 * *is* one: every call is an effect submitted to a `BackgroundExecutor` with
 * `maxConcurrency` equal to the number of threads, which checks out a thread
 * of a `WorkerPool`, posts the request, and waits for the reply.
 *
 * Give it a task set and `spawn` to let it own a private pool, or an existing
 * `WorkerPool` to share threads between many short-lived executors.
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
 *   only the task it was running, with `WorkerError.WorkerCrashedError`; the pool
 *   replaces the thread and every other task goes on.
 * - An unknown task name, a payload that fails its Schema or cannot be
 *   cloned, and a result that fails its Schema or cannot be cloned each fail
 *   that task only, with a typed error naming the task and the value.
 * - A `timeout` (or the run part of a `deadline`) stops a call on a thread
 *   as an interruption does: by terminating the thread by default, which the
 *   pool replaces; the task fails with `TaskTimeoutError` once the thread is
 *   gone. With `onInterruptRunning: "wait"` the call runs to its end first.
 *   A call with a deadline goes only to a thread that holds no other call,
 *   which starts it at once: its run deadline counts from then. Its wait for
 *   such a thread (one still starting, calls ahead on a shared pool) is
 *   bounded by the start deadline (`startTimeout`, `deadline`), which fails
 *   the call with `phase: "queue"`, never sent.
 * - `resize` bounds how many of this executor's calls hold or wait for a
 *   thread; it does not change the pool's number of threads.
 * - While calls are tiny (under a millisecond each on a thread, as the pool
 *   measures them) and `maxConcurrency` is at least the pool's number of
 *   threads (the default), the executor runs ahead: up to 16 calls per
 *   thread count as running (in `stats`, `tasks` and `changes`) while they
 *   wait in their thread's batch (calls with a deadline excepted: they go
 *   only to an idle thread), so that a stream of tiny calls costs one
 *   wake-up of a thread per batch instead of one per call. Each thread still runs one call at a time. A task of higher
 *   priority submitted meanwhile starts after those already started; one
 *   interrupted before its thread reaches it is dropped without stopping the
 *   thread. Once calls take longer, or `resize` goes below the number of
 *   threads, calls start one per thread again.
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
import { BackgroundExecutor, type ExecutorError, type Task, type TaskEvent } from "@taskscope/executor"
import { print } from "@taskscope/executor/internal/describe"
import * as KnownOptions from "@taskscope/executor/internal/knownOptions"
import * as LateStart from "@taskscope/executor/internal/lateStart"
import * as Scoped from "@taskscope/executor/internal/scoped"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import * as Config from "./internal/options.ts"
import * as Pool from "./internal/pool.ts"
import * as TaskSet from "./TaskSet.ts"
import type { WorkerTaskError } from "./WorkerError.ts"
import * as WorkerPool from "./WorkerPool.ts"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * Options of an executor that starts its own pool: the pool's options (its
 * `maxConcurrency` is the number of threads and of tasks running at once) and
 * the executor's.
 *
 * @category models
 * @since 0.1.0
 * @example
 * ```ts
 * import { Worker } from "node:worker_threads"
 * import type { WorkerExecutor } from "@taskscope/node"
 *
 * const options: WorkerExecutor.Options = {
 *   spawn: () => new Worker(new URL("./worker.ts", import.meta.url)),
 *   maxConcurrency: 4,
 *   onInterruptRunning: "terminate"
 * }
 * ```
 */
export interface Options extends WorkerPool.Options, ExecutorOptions {}

/**
 * Options of the executor itself, as `BackgroundExecutor` takes them. With a
 * shared pool, `maxConcurrency` defaults to the pool's number of threads.
 *
 * @category models
 * @since 0.1.0
 * @example
 * ```ts
 * import type { WorkerExecutor } from "@taskscope/node"
 *
 * const options: WorkerExecutor.ExecutorOptions = { maxQueue: 1000, bubbleUp: (e) => e === "stop" }
 * ```
 */
export interface ExecutorOptions {
  /**
   * How many of this executor's tasks may run (hold a thread) at once. While
   * calls are tiny, an executor whose bound is at least its pool's threads
   * starts more (up to 16 per thread), which wait in their threads' batches:
   * no more of them run at once than there are threads.
   */
  readonly maxConcurrency?: number | undefined
  /** How many tasks may wait; beyond, `submit` suspends (backpressure). Default `Infinity`. */
  readonly maxQueue?: number | undefined
  /** Failures that are control signals, not errors: never re-raised on exit. */
  readonly bubbleUp?: ((error: unknown) => boolean) | undefined
  /** How many calls with the same `key` may run at once (see `BackgroundExecutor.Options`). */
  readonly maxConcurrencyPerKey?: number | undefined
  /** The grace period of the close; then unfinished calls are interrupted (see `BackgroundExecutor.Options`). */
  readonly closeTimeout?: Duration.Input | undefined
  /**
   * The `executor` attribute of its series and spans (default `"default"`);
   * a pool the executor makes for itself takes the same name.
   */
  readonly name?: string | undefined
  /** Keep the `taskscope_*` series (and the private pool's). Default `true`. */
  readonly metrics?: boolean | undefined
  /**
   * A span for every call (`true`), or none (`false`, the default here: a
   * span per call cost as much as a tiny call — 1.69x piscina's overhead per
   * task with spans against 0.86x without, in one run of the node bench).
   * With `true`, each call's worker side runs in a span child of its own.
   */
  readonly tracing?: boolean | undefined
}

/**
 * A thread-pool executor for the tasks of `T`. It is invariant in `T`: it
 * takes the names and payloads of `T`'s tasks only, so it is not an executor
 * of another task set, nor a `WorkerExecutor<TaskSet.Any>` (whose calls take
 * any name). A helper for the executor of any task set is generic in it:
 * `<T extends TaskSet.Any>(executor: WorkerExecutor<T>) => executor.stats`.
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
 * const fib30 = (executor: WorkerExecutor.WorkerExecutor<typeof tasks>) =>
 *   Effect.flatMap(executor.submit("fib", 30), Task.join)
 * ```
 */
export interface WorkerExecutor<T extends TaskSet.Any> {
  readonly taskSet: T
  /** The pool it runs on. */
  readonly pool: WorkerPool.WorkerPool<T>
  /**
   * Submits a call of `task` with `payload` and returns its handle at once.
   * The `name` option defaults to the task's name.
   */
  readonly submit: {
    <K extends TaskSet.Names<T>, const O extends BackgroundExecutor.SubmitOptions | undefined = undefined>(
      task: K,
      payload: TaskSet.Payload<T, K>,
      options?: O & BackgroundExecutor.OnlyKnown<O, BackgroundExecutor.SubmitOptions>
    ): Effect.Effect<
      Task.Task<TaskSet.Success<T, K>, TaskSet.Error<T, K> | WorkerTaskError | BackgroundExecutor.TimeoutOf<O>>,
      ExecutorError.ExecutorClosedError
    >
    <K extends TaskSet.Names<T>>(
      task: K,
      payload: TaskSet.Payload<T, K>,
      options?: BackgroundExecutor.SubmitOptions
    ): Effect.Effect<
      Task.Task<TaskSet.Success<T, K>, TaskSet.Error<T, K> | WorkerTaskError | ExecutorError.TaskTimeoutError>,
      ExecutorError.ExecutorClosedError
    >
  }
  /** Waits until no submitted task is unfinished, `cancelOnExit` ones left out (as `BackgroundExecutor`'s). */
  readonly awaitIdle: Effect.Effect<void>
  /** Waits like `awaitIdle`, then fails with the re-raisable failures not reported yet. */
  readonly join: Effect.Effect<void, ExecutorError.TaskFailedError>
  /** Task counters, as `BackgroundExecutor` keeps them. */
  readonly stats: Effect.Effect<BackgroundExecutor.Stats>
  /** Changes how many calls may run at once (see `BackgroundExecutor.Executor.resize`); the pool keeps its threads. */
  readonly resize: (maxConcurrency: number) => Effect.Effect<void>
  /** Stops starting calls; `submit` still queues (see `BackgroundExecutor.Executor.pause`). */
  readonly pause: Effect.Effect<void>
  /** Starts queued calls again. */
  readonly resume: Effect.Effect<void>
  /** The unfinished tasks, as `BackgroundExecutor` lists them. */
  readonly tasks: Effect.Effect<ReadonlyArray<TaskEvent.TaskInfo>>
  /** Every task's steps, as `BackgroundExecutor` streams them. */
  readonly changes: Stream.Stream<TaskEvent.TaskEvent>
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
 * type NeedsExecutor = Effect.Effect<void, never, WorkerExecutor.Identifier<typeof tasks>>
 * ```
 */
export interface Identifier<T extends TaskSet.Any> {
  // invariant: the executor of a set is not the executor of a set with more (or other) tasks
  readonly "~@taskscope/node/WorkerExecutor": (taskSet: T) => T
}

/**
 * What an executor runs on: a task set (it starts a private pool) or a pool.
 *
 * @category models
 * @since 0.1.0
 * @example
 * ```ts
 * import type { WorkerExecutor } from "@taskscope/node"
 * import type { tasks } from "./tasks.ts"
 *
 * type Source = WorkerExecutor.Source<typeof tasks>
 * ```
 */
export type Source<T extends TaskSet.Any> = T | WorkerPool.WorkerPool<T>

/**
 * What a task set given without options is checked against, so that leaving
 * out `spawn` is a compile error that names it (rather than one about the
 * `WorkerPool` a lone argument could also be).
 */
interface SpawnIsRequired {
  readonly "`spawn` is required: pass options with `spawn`, e.g. { spawn: () => new Worker(url) }": never
}

/**
 * Registers the program's task set, so that the name-first accessor
 * `WorkerExecutor.submit(task, payload, options?)` type-checks task names
 * and payloads against it. Augment it once:
 *
 * ```ts
 * declare module "@taskscope/node/WorkerExecutor" {
 *   interface Register {
 *     readonly taskSet: typeof tasks
 *   }
 * }
 * ```
 *
 * Without it the name-first accessor accepts any name and payload (they are
 * still checked at run time); `submit(taskSet, task, payload)` needs no
 * registration.
 *
 * @category models
 * @since 0.1.0
 * @example
 * ```ts
 * import type { WorkerExecutor } from "@taskscope/node"
 *
 * type App = WorkerExecutor.Registered // the registered task set
 * ```
 */
export interface Register {}

/**
 * The task set registered in {@link Register}; without one, `TaskSet.Unknown`
 * (any task name, `unknown` payloads, results and errors).
 *
 * @category models
 * @since 0.1.0
 * @example
 * ```ts
 * import type { WorkerExecutor } from "@taskscope/node"
 *
 * type Names = keyof WorkerExecutor.Registered["tasks"]
 * ```
 */
export type Registered = Register extends { readonly taskSet: infer T extends TaskSet.Any } ? T : TaskSet.Unknown

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
 *   const executor = yield* WorkerExecutor.service(tasks)
 *   return yield* executor.stats
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

/**
 * The service key of the program's executor, whatever its task set: every
 * {@link layer} provides it too, and the name-first accessor
 * `submit(task, payload, options?)` submits to it. A program with several
 * task sets uses `service(taskSet)` and `submit(taskSet, ...)` instead.
 *
 * @category services
 * @since 0.1.0
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { WorkerExecutor } from "@taskscope/node"
 *
 * const stats = Effect.flatMap(WorkerExecutor.Current, (executor) => executor.stats)
 * ```
 */
export interface Current {
  readonly "~@taskscope/node/WorkerExecutor/Current": "@taskscope/node/WorkerExecutor/Current"
  /** The executor this key finds (as a service class's `Service`). */
  readonly Service: WorkerExecutor<Registered>
}

// An interface and a constant, not a class: a class's base type is resolved
// when declarations are emitted, and `Registered` with it (to
// `TaskSet.Unknown`, as this package registers nothing); an annotation keeps
// `Registered`, which the program's `Register` then decides.
/**
 * The service key of the program's executor (see the {@link Current}
 * interface).
 *
 * @category services
 * @since 0.1.0
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { WorkerExecutor } from "@taskscope/node"
 *
 * const stats = Effect.flatMap(WorkerExecutor.Current, (executor) => executor.stats)
 * ```
 */
export const Current: Context.Service<Current, WorkerExecutor<Registered>> = Context.Service<
  Current,
  WorkerExecutor<Registered>
>(
  "@taskscope/node/WorkerExecutor/Current"
)

/**
 * {@link Current} when an executor of `T` may be the program's executor: `T`
 * is the registered task set (see {@link Register}), or none is registered;
 * otherwise `never`. What a layer of `T` provides besides its own service, so
 * that a name-first call typed by the registered set is never satisfied by
 * the executor of another set (it would fail at run time with
 * `UnknownTaskError`).
 *
 * @category services
 * @since 0.2.0
 * @example
 * ```ts
 * import type { WorkerExecutor } from "@taskscope/node"
 * import type { tasks } from "./tasks.ts"
 *
 * type Provided = WorkerExecutor.CurrentOf<typeof tasks> // Current, with tasks registered or none
 * ```
 */
export type CurrentOf<T extends TaskSet.Any> = Register extends { readonly taskSet: infer S }
  ? [T] extends [S] ? [S] extends [T] ? Current : never : never
  : Current

// -----------------------------------------------------------------------------
// constructors
// -----------------------------------------------------------------------------

/** Whether submit options set a deadline (bad values are the executor's to refuse). */
const isTimed = (options: BackgroundExecutor.SubmitOptions | undefined): boolean =>
  typeof options === "object" && options !== null &&
  (options.timeout !== undefined || options.startTimeout !== undefined || options.deadline !== undefined)

/**
 * An executor on `pool` whose own bound is `maxConcurrency`. While the pool
 * measures its calls as tiny, and the bound lets every thread be used
 * (`maxConcurrency` at least the pool's threads), the executor runs ahead:
 * it starts up to `Pool.AHEAD` calls per thread, which the pool hands to the
 * threads in batches. A thread still runs one call at a time, so no more
 * calls run at once than before; what changes is that a thread finds its
 * next call waiting instead of sleeping until the main thread wakes it, and
 * that one wake-up of either thread serves many calls. Once calls are no
 * longer tiny, or `resize` goes below the threads, it starts one call per
 * thread again.
 */
const fromParts = <T extends TaskSet.Any>(
  pool: WorkerPool.WorkerPool<T>,
  executor: BackgroundExecutor.Executor,
  options: BackgroundExecutor.Options
): WorkerExecutor<T> => {
  const maxConcurrency = options.maxConcurrency!
  const threads = pool.maxConcurrency
  // undefined for a pool made by another copy of this package: its calls never say when they
  // reach a thread (a `timeout` then counts from the permit) and it never runs ahead
  const poolCalls = Pool.calls.get(pool)
  // without tracing a call carries no trace to its thread, which then opens no span of its own
  const callOf: Pool.TaskCall = poolCalls === undefined
    ? pool.call
    : options.tracing === true
    ? poolCalls.traced
    : poolCalls.untraced
  const calls = Pool.internals.get(pool)
  let bound = maxConcurrency
  let ahead = false
  /**
   * Sets the permits that `bound` and `ahead` call for when it runs, not
   * when it was made: a `resize` that runs between a task's `steer` and this
   * effect (its fiber may yield in between) is not undone by a stale value.
   */
  const apply = Effect.suspend(() => executor.resize(ahead ? Math.max(bound, threads * Pool.AHEAD) : bound))
  /** The permits to change to, when the executor starts or stops running ahead; else undefined. */
  const steer = (): Effect.Effect<void> | undefined => {
    const want = bound >= threads && calls !== undefined && calls.tiny()
    if (want === ahead) return undefined
    ahead = want
    return apply
  }
  return {
    taskSet: pool.taskSet,
    pool,
    submit: (<K extends TaskSet.Names<T>>(
      task: K,
      payload: TaskSet.Payload<T, K>,
      options?: BackgroundExecutor.SubmitOptions
    ) => {
      // decided as each call starts: the pool's measure moves with every answer
      const run = (call: Effect.Effect<any, any>) =>
        Effect.suspend(() => {
          const change = steer()
          return change === undefined ? call : Effect.andThen(change, call)
        })
      return executor.submit(
        // with a deadline, the call says when it is sent to a thread (an idle one): its wait for
        // one counts against its start deadline, not its run's
        isTimed(options) && poolCalls !== undefined
          ? LateStart.make((started) => run(callOf(task, payload, started)))
          : run(callOf(task, payload)),
        // a bad `options` (null, a string) goes through as it is, for the executor to refuse
        (options === undefined || (typeof options === "object" && options !== null)) && options?.name === undefined
          ? { ...options, name: print(task) }
          : options
      ) as any
    }) as WorkerExecutor<T>["submit"],
    awaitIdle: executor.awaitIdle,
    join: executor.join,
    stats: executor.stats,
    resize: (n) =>
      Effect.andThen(
        executor.resize(n),
        Effect.suspend(() => {
          bound = n
          ahead = false
          return steer() ?? Effect.void
        })
      ),
    pause: executor.pause,
    resume: executor.resume,
    tasks: executor.tasks,
    changes: executor.changes
  }
}

interface Plan<T extends TaskSet.Any> {
  /** The pool: borrowed, or made in the given scope. */
  readonly pool: (scope: Scope.Scope) => Effect.Effect<WorkerPool.WorkerPool<T>>
  readonly executor: BackgroundExecutor.Options
}

/** The executor's own options but `maxConcurrency`, checked by `BackgroundExecutor` like its others. */
const executorOptions = (o: Record<string, unknown>): BackgroundExecutor.Options => ({
  maxQueue: o.maxQueue as number | undefined,
  bubbleUp: o.bubbleUp as BackgroundExecutor.Options["bubbleUp"],
  maxConcurrencyPerKey: o.maxConcurrencyPerKey as number | undefined,
  closeTimeout: o.closeTimeout as Duration.Input | undefined,
  name: o.name as string | undefined,
  metrics: o.metrics as boolean | undefined,
  // off unless asked for: a span per call cost as much as the call itself (1.69x piscina's overhead
  // per tiny task with spans, 0.86x without, bench/main.ts quick, same run)
  tracing: (o.tracing as boolean | undefined) ?? false
})

/** Checks the arguments at once (throwing, inside a suspend) and says what to build. */
const plan = <T extends TaskSet.Any>(source: Source<T>, options: unknown): Plan<T> => {
  if (options !== undefined && (typeof options !== "object" || options === null || Array.isArray(options))) {
    Config.invalid("options", options, "an object of options")
  }
  const o = (options ?? {}) as Record<string, unknown>
  if (WorkerPool.isWorkerPool(source)) {
    for (const key of ["spawn", "idleTimeout", "readyTimeout", "onInterruptRunning"]) {
      if (o[key] !== undefined) {
        Config.invalid(key, o[key], "left out when the executor runs on an existing WorkerPool (set it on the pool)")
      }
    }
    KnownOptions.check(o, Config.executorOnlyOptions, "WorkerExecutor on an existing WorkerPool")
    const pool = source as WorkerPool.WorkerPool<T>
    return {
      pool: () => Effect.succeed(pool),
      executor: {
        // checked by BackgroundExecutor, like the other executor options
        ...executorOptions(o),
        maxConcurrency: (o.maxConcurrency ?? pool.maxConcurrency) as number
      }
    }
  }
  Config.checkTaskSet(source)
  KnownOptions.check(o, Config.executorOptions, "WorkerExecutor")
  const poolOptions = Config.poolPart(o)
  const poolConfig = Config.makePoolConfig(poolOptions)
  return {
    pool: (scope) => Scope.provide(WorkerPool.make(source as T, poolOptions), scope),
    executor: { ...executorOptions(o), maxConcurrency: poolConfig.maxConcurrency }
  }
}

/**
 * Creates an executor that lives as long as the current scope. When the
 * scope closes, the exit rules apply (see `BackgroundExecutor.make`); then,
 * if the executor made its own pool, every thread is terminated. Bad options
 * die at once with an error naming the option and its value.
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
 *   const executor = yield* WorkerExecutor.make(tasks, {
 *     spawn: () => new Worker(new URL("./worker.ts", import.meta.url)),
 *     maxConcurrency: 2
 *   })
 *   const task = yield* executor.submit("fib", 30)
 *   return yield* Task.join(task)
 * }))
 * ```
 */
export const make: {
  <T extends TaskSet.Any>(pool: WorkerPool.WorkerPool<T>, options?: ExecutorOptions): Effect.Effect<
    WorkerExecutor<T>,
    never,
    Scope.Scope
  >
  (taskSet: SpawnIsRequired): Effect.Effect<unknown, never, Scope.Scope>
  <T extends TaskSet.Any>(taskSet: T, options: Options): Effect.Effect<WorkerExecutor<T>, never, Scope.Scope>
  // a `Source` (a pool or a task set, as `scoped` takes): options as its kind needs them
  <S extends WorkerPool.WorkerPool<any> | TaskSet.Any>(
    source: S,
    ...options: S extends WorkerPool.WorkerPool<any> ? [options?: ExecutorOptions] : [options: Options]
  ): Effect.Effect<WorkerExecutor<SetOf<S>>, never, Scope.Scope>
} = <T extends TaskSet.Any>(source: Source<T>, options?: Options | ExecutorOptions) =>
  Effect.suspend(() => {
    const { executor, pool } = plan(source, options)
    return Effect.gen(function*() {
      // finalizers run in reverse order: the exit rules first, then the pool
      const threads = yield* pool(yield* Effect.scope)
      return fromParts(threads, yield* BackgroundExecutor.make(executor), executor)
    })
  })

/**
 * A layer that provides the executor of a task set (see {@link service}),
 * closed with the exit rules — and its private pool's threads terminated —
 * when the layer is released.
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
 * const Executor = WorkerExecutor.layer(tasks, { spawn: () => new Worker(new URL("./worker.ts", import.meta.url)) })
 * const program = WorkerExecutor.submit(tasks, "fib", 30).pipe(
 *   Effect.flatMap(Task.join),
 *   Effect.provide(Executor)
 * )
 * ```
 */
export const layer: {
  <T extends TaskSet.Any>(
    pool: WorkerPool.WorkerPool<T>,
    options?: ExecutorOptions
  ): Layer.Layer<Identifier<T> | CurrentOf<T>>
  (taskSet: SpawnIsRequired): Layer.Layer<never>
  <T extends TaskSet.Any>(taskSet: T, options: Options): Layer.Layer<Identifier<T> | CurrentOf<T>>
  // a `Source` (a pool or a task set, as `scoped` takes): options as its kind needs them
  <S extends WorkerPool.WorkerPool<any> | TaskSet.Any>(
    source: S,
    ...options: S extends WorkerPool.WorkerPool<any> ? [options?: ExecutorOptions] : [options: Options]
  ): Layer.Layer<Identifier<SetOf<S>> | CurrentOf<SetOf<S>>>
} = <T extends TaskSet.Any>(
  source: Source<T>,
  options?: Options | ExecutorOptions
): Layer.Layer<Identifier<T> | CurrentOf<T>> =>
  Layer.effectContext(
    Effect.map(make(source as T, options as Options), (executor) =>
      Context.make(service(executor.taskSet), executor).pipe(
        Context.add(Current, executor as unknown as WorkerExecutor<Registered>)
      ))
  )

/**
 * The body of {@link scoped}: an effect that may use the executor's service,
 * or a function of the executor.
 *
 * @category models
 * @since 0.1.0
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type { WorkerExecutor } from "@taskscope/node"
 * import type { tasks } from "./tasks.ts"
 *
 * const body: WorkerExecutor.Body<typeof tasks, number, never, never> = () => Effect.succeed(1)
 * ```
 */
export type Body<T extends TaskSet.Any, A, E, R> =
  | Effect.Effect<A, E, R>
  | ((executor: WorkerExecutor<T>) => Effect.Effect<A, E, R>)

/** The task set of a pool, or the task set itself. */
type SetOf<S> = S extends WorkerPool.WorkerPool<infer T> ? T : S

/**
 * Runs `body` with a fresh executor and applies the exit rules when it ends,
 * exactly as `BackgroundExecutor.scoped` does (they *are* its rules):
 * cancel-on-exit tasks are interrupted (running ones by terminating their
 * threads), the others awaited — even if the caller is interrupted — and, if
 * `body` succeeded, the first re-raisable failure fails the result with a
 * `TaskFailedError`. Then a private pool's threads are terminated.
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
 *   (executor) => Effect.flatMap(executor.submit("fib", 30), Task.join),
 *   { spawn: () => new Worker(new URL("./worker.ts", import.meta.url)) }
 * )
 * ```
 */
export const scoped: {
  <T extends TaskSet.Any, A, E, R, const O extends ExecutorOptions | undefined = undefined>(
    pool: WorkerPool.WorkerPool<T>,
    body: Body<T, A, E, R>,
    options?: O & BackgroundExecutor.OnlyKnown<O, ExecutorOptions>
  ): Effect.Effect<
    A,
    E | ExecutorError.TaskFailedError | BackgroundExecutor.CloseTimeoutOf<O>,
    Exclude<R, Identifier<T>>
  >
  <T extends TaskSet.Any, A, E, R, const O extends Options = Options>(
    taskSet: T,
    body: Body<T, A, E, R>,
    options: O & BackgroundExecutor.OnlyKnown<O, Options>
  ): Effect.Effect<
    A,
    E | ExecutorError.TaskFailedError | BackgroundExecutor.CloseTimeoutOf<O>,
    Exclude<R, Identifier<T>>
  >
  // one signature for both sources, so that the error TypeScript reports for a misspelled option is this one's
  <S extends WorkerPool.WorkerPool<any> | TaskSet.Any, A, E, R>(
    source: S,
    body: Body<SetOf<S>, A, E, R>,
    ...options: S extends WorkerPool.WorkerPool<any> ? [options?: ExecutorOptions] : [options: Options]
  ): Effect.Effect<
    A,
    E | ExecutorError.TaskFailedError | ExecutorError.CloseTimeoutError,
    Exclude<R, Identifier<SetOf<S>>>
  >
  // last: the error TypeScript reports for a call without options is this one's, which names `spawn`
  (taskSet: SpawnIsRequired, body: Body<any, any, any, any>): Effect.Effect<unknown, unknown, unknown>
} = <T extends TaskSet.Any, A, E, R>(
  source: Source<T>,
  body: Body<T, A, E, R>,
  options?: Options | ExecutorOptions
): Effect.Effect<A, E | ExecutorError.TaskFailedError | ExecutorError.CloseTimeoutError, Exclude<R, Identifier<T>>> =>
  Effect.suspend(() => {
    const { executor, pool } = plan(source, options)
    return Effect.scopedWith((scope) =>
      Effect.flatMap(pool(scope), (threads) =>
        // the body sees its caller's BackgroundExecutor, not the one this executor keeps
        Scoped.scoped((background) => {
          const self = fromParts(threads, background, executor)
          // an Effect first: a service key is an Effect and a class at once
          const effect = Effect.isEffect(body) ? body : typeof body === "function" ? body(self) : body
          return Effect.provideService(effect, service(threads.taskSet), self)
        }, executor))
    ) as Effect.Effect<
      A,
      E | ExecutorError.TaskFailedError | ExecutorError.CloseTimeoutError,
      Exclude<R, Identifier<T>>
    >
  })

// -----------------------------------------------------------------------------
// accessors
// -----------------------------------------------------------------------------

/**
 * Submits a call of `task` to an executor in context: `submit(task, payload,
 * options?)` submits to the program's executor ({@link Current}, typed by the
 * task set in {@link Register}); `submit(taskSet, task, payload, options?)`
 * submits to the executor of `taskSet` and needs no registration.
 *
 * @category accessors
 * @since 0.1.0
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Worker } from "node:worker_threads"
 * import { Task } from "@taskscope/executor"
 * import { WorkerExecutor } from "@taskscope/node"
 * import { tasks } from "./tasks.ts" // which registers `tasks` (see Register)
 *
 * const spawn = () => new Worker(new URL("./worker.ts", import.meta.url))
 *
 * const program = Effect.gen(function*() {
 *   const a = yield* WorkerExecutor.submit("fib", 30, { name: "fib(30)" })
 *   const b = yield* WorkerExecutor.submit(tasks, "fib", 31)
 *   return (yield* Task.join(a)) + (yield* Task.join(b))
 * }).pipe(Effect.provide(WorkerExecutor.layer(tasks, { spawn })))
 * ```
 */
export const submit: {
  <K extends TaskSet.Names<Registered>, const O extends BackgroundExecutor.SubmitOptions | undefined = undefined>(
    task: K,
    payload: TaskSet.Payload<Registered, K>,
    options?: O & BackgroundExecutor.OnlyKnown<O, BackgroundExecutor.SubmitOptions>
  ): Effect.Effect<
    Task.Task<
      TaskSet.Success<Registered, K>,
      TaskSet.Error<Registered, K> | WorkerTaskError | BackgroundExecutor.TimeoutOf<O>
    >,
    ExecutorError.ExecutorClosedError,
    Current
  >
  <
    T extends TaskSet.Any,
    K extends TaskSet.Names<T>,
    const O extends BackgroundExecutor.SubmitOptions | undefined = undefined
  >(
    taskSet: T,
    task: K,
    payload: TaskSet.Payload<T, K>,
    options?: O & BackgroundExecutor.OnlyKnown<O, BackgroundExecutor.SubmitOptions>
  ): Effect.Effect<
    Task.Task<TaskSet.Success<T, K>, TaskSet.Error<T, K> | WorkerTaskError | BackgroundExecutor.TimeoutOf<O>>,
    ExecutorError.ExecutorClosedError,
    Identifier<T>
  >
  <T extends TaskSet.Any, K extends TaskSet.Names<T>>(
    taskSet: T,
    task: K,
    payload: TaskSet.Payload<T, K>,
    options?: BackgroundExecutor.SubmitOptions
  ): Effect.Effect<
    Task.Task<TaskSet.Success<T, K>, TaskSet.Error<T, K> | WorkerTaskError | ExecutorError.TaskTimeoutError>,
    ExecutorError.ExecutorClosedError,
    Identifier<T>
  >
  <K extends TaskSet.Names<Registered>>(
    task: K,
    payload: TaskSet.Payload<Registered, K>,
    options?: BackgroundExecutor.SubmitOptions
  ): Effect.Effect<
    Task.Task<
      TaskSet.Success<Registered, K>,
      TaskSet.Error<Registered, K> | WorkerTaskError | ExecutorError.TaskTimeoutError
    >,
    ExecutorError.ExecutorClosedError,
    Current
  >
} = ((...args: ReadonlyArray<any>) =>
  TaskSet.isTaskSet(args[0])
    ? Effect.flatMap(service(args[0]), (executor) => executor.submit(args[1], args[2], args[3]))
    : Effect.flatMap(Current, (executor) => executor.submit(args[0], args[1], args[2]))) as any

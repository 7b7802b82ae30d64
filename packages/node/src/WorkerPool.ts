/**
 * A pool of `node:worker_threads` that runs the tasks of one {@link TaskSet}:
 * the long-lived resource behind a `WorkerExecutor`.
 *
 * Threads are expensive to start (a worker loads its modules, Effect
 * included: hundreds of milliseconds), executors are cheap (one per job, as
 * the original opens one per `with` block). So a pool may outlive many
 * executors: make it once (in a layer, or at the top of the program) and pass
 * it to `WorkerExecutor.make(pool)` / `WorkerExecutor.scoped(pool, ...)`.
 * Or let `WorkerExecutor.make(taskSet, { spawn })` make a private one.
 *
 * Each thread runs one call at a time. The pool starts threads lazily (up to
 * `maxConcurrency`), retires those idle for `idleTimeout`, replaces a thread
 * that crashed, and — when a running call is interrupted — terminates its
 * thread (`onInterruptRunning: "terminate"`, the default) or lets the call
 * finish and discards its result (`"wait"`). While calls are tiny, a thread
 * is handed several at once; one of those interrupted before the thread
 * reaches it is dropped without stopping the thread, those a dying thread
 * had not started run on another, and once calls are no longer tiny those a
 * thread holds unstarted are taken back and handed out one per thread. Each thread is started and watched as an
 * Effect worker (`effect/workers` `Worker`) on `@effect/platform-node`'s
 * `NodeWorker` platform; calls go over a channel of the pool's own. When the
 * pool's scope closes every thread is terminated.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Worker } from "node:worker_threads"
 * import { Task } from "@taskscope/executor"
 * import { WorkerExecutor, WorkerPool } from "@taskscope/node"
 * import { tasks } from "./tasks.ts"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const pool = yield* WorkerPool.make(tasks, {
 *     spawn: () => new Worker(new URL("./worker.ts", import.meta.url)),
 *     idleTimeout: "1 minute"
 *   })
 *   for (const n of [30, 31, 32]) {
 *     // one executor per job, the same threads for all of them
 *     yield* WorkerExecutor.scoped(pool, (executor) => Effect.flatMap(executor.submit("fib", n), Task.join))
 *   }
 * }))
 * ```
 *
 * @since 0.1.0
 */
import { quote } from "@taskscope/executor/internal/describe"
import * as KnownOptions from "@taskscope/executor/internal/knownOptions"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Tracer from "effect/Tracer"
import * as Transferable from "effect/workers/Transferable"
import type * as WorkerThreads from "node:worker_threads"
import * as Codecs from "./internal/codec.ts"
import * as Config from "./internal/options.ts"
import * as Pool from "./internal/pool.ts"
import { Reply, type Trace, transferList } from "./internal/protocol.ts"
import type * as TaskSet from "./TaskSet.ts"
import { InvalidPayloadError, InvalidResultError, UnknownTaskError, WorkerCrashedError } from "./WorkerError.ts"
import type { WorkerTaskError } from "./WorkerError.ts"

const TypeId = "~@taskscope/node/WorkerPool" as const

/**
 * Options of a pool.
 *
 * @category models
 * @since 0.1.0
 * @example
 * ```ts
 * import { Worker } from "node:worker_threads"
 * import type { WorkerPool } from "@taskscope/node"
 *
 * const options: WorkerPool.Options = {
 *   spawn: () => new Worker(new URL("./worker.ts", import.meta.url), { resourceLimits: { maxOldGenerationSizeMb: 256 } }),
 *   maxConcurrency: 4,
 *   idleTimeout: "30 seconds"
 * }
 * ```
 */
export interface Options {
  /** Starts one thread: a `new Worker(...)` whose entry module calls `WorkerRunner.serve`. */
  readonly spawn: (id: number) => WorkerThreads.Worker
  /** Number of threads. Default `os.availableParallelism()`. */
  readonly maxConcurrency?: number | undefined
  /** Retire a thread idle this long (milliseconds or a `Duration`). Default: keep it until the pool closes. */
  readonly idleTimeout?: Duration.Input | undefined
  /**
   * How long a new thread may take to become ready (its entry module loaded
   * and `WorkerRunner.serve` answering, services built). A thread not ready
   * by then is terminated and counted as crashed; if no other thread is
   * ready, the calls made before it was started fail with
   * `WorkerCrashedError` ("failed to start: it was not ready within …").
   * Default 1 minute; `Infinity` waits for ever.
   */
  readonly readyTimeout?: Duration.Input | undefined
  /** What interrupting a running call does. Default `"terminate"`. */
  readonly onInterruptRunning?: "terminate" | "wait" | undefined
  /**
   * The `executor` attribute of the pool's series (`taskscope_worker_threads`,
   * `taskscope_worker_restarts`). Default `"default"`; an executor that makes
   * its own pool gives it its own `name`.
   */
  readonly name?: string | undefined
  /** Keep the pool's series. Default `true`. */
  readonly metrics?: boolean | undefined
}

/**
 * Counters of a pool's threads.
 *
 * @category models
 * @since 0.1.0
 * @example
 * ```ts
 * import type { WorkerPool } from "@taskscope/node"
 *
 * const leaked = (stats: WorkerPool.Stats) => stats.threads > 0
 * ```
 */
export interface Stats {
  /** Live threads: starting, idle or busy. */
  readonly threads: number
  /** Ready threads holding no call. */
  readonly idle: number
  /** Threads running a call. */
  readonly busy: number
  /** Calls waiting in the pool's queue for a thread (not those a thread holds). */
  readonly queued: number
  /** Threads started since the pool was made. */
  readonly started: number
  /** Threads that died on their own: exit, uncaught error, out of memory, failed start. */
  readonly crashed: number
  /** Threads terminated because the call they ran was interrupted. */
  readonly terminated: number
  /** Threads retired after `idleTimeout`, or when the pool closed. */
  readonly retired: number
}

/**
 * A pool of worker threads for the tasks of `T`.
 *
 * @category models
 * @since 0.1.0
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type { WorkerPool } from "@taskscope/node"
 * import type { tasks } from "./tasks.ts"
 *
 * const busy = (pool: WorkerPool.WorkerPool<typeof tasks>) => Effect.map(pool.stats, (stats) => stats.busy)
 * ```
 */
export interface WorkerPool<T extends TaskSet.Any> {
  readonly [TypeId]: typeof TypeId
  readonly taskSet: T
  /** The number of threads it may run. */
  readonly maxConcurrency: number
  readonly stats: Effect.Effect<Stats>
  /**
   * Starts every thread now instead of on first use, and waits until they are
   * ready. A thread on its way out (retired after `idleTimeout`, terminated)
   * is waited for, and replaced once it has ended.
   */
  readonly prestart: Effect.Effect<void>
  /**
   * Runs one call on a thread, outside any executor: no exit rules, no
   * permits; the thread pool's own FIFO orders the calls. Executors use it.
   */
  readonly call: <K extends TaskSet.Names<T>>(
    task: K,
    payload: TaskSet.Payload<T, K>
  ) => Effect.Effect<TaskSet.Success<T, K>, TaskSet.Error<T, K> | WorkerTaskError>
}

/**
 * Returns `true` when a value is a pool. Given a pool or a task set (a
 * `WorkerExecutor.Source<T>`), it narrows to the pool of that task set, and
 * its `false` branch to the task set.
 *
 * @category guards
 * @since 0.1.0
 * @example
 * ```ts
 * import { WorkerPool } from "@taskscope/node"
 *
 * WorkerPool.isWorkerPool({}) // false
 * ```
 */
export const isWorkerPool: {
  <T extends TaskSet.Any>(u: WorkerPool<T> | T): u is WorkerPool<T>
  (u: unknown): u is WorkerPool<TaskSet.Any>
} = (u: unknown): u is WorkerPool<TaskSet.Any> =>
  typeof u === "object" && u !== null && (u as Record<string, unknown>)[TypeId] === TypeId

/** The span a call runs in, for the worker's span to be its child. */
const traceOf = (fiber: Fiber.Fiber<unknown, unknown>): Trace | undefined => {
  const span = Context.getOrUndefined(fiber.context, Tracer.ParentSpan)
  return span === undefined ? undefined : [span.traceId, span.spanId, span.sampled]
}

interface Codec {
  readonly encodePayload: (payload: unknown) => Effect.Effect<unknown, Schema.SchemaError>
  readonly decodeSuccess: (value: unknown) => Effect.Effect<unknown, Schema.SchemaError>
  readonly decodeError: (value: unknown) => Effect.Effect<unknown, Schema.SchemaError>
  /** the steps whose Schema allows running them without effects */
  readonly sync: Codecs.SyncSteps
}

const none: ReadonlyArray<unknown> = []

/**
 * A Schema step of the parent side whose failure — a `SchemaError`, or a
 * defect of the Schema's own code (a transformation or a filter that threw)
 * — becomes the typed error `make` builds from the problem, as the worker
 * side reports its own steps. An interruption stays one.
 */
const schemaStep = <A, X>(
  step: Effect.Effect<A, Schema.SchemaError>,
  make: (issue: string) => X
): Effect.Effect<A, X> =>
  Effect.catchCause(
    step,
    (cause) =>
      Cause.hasInterrupts(cause)
        ? Effect.failCause(cause as Cause.Cause<never>)
        : Effect.fail(make(Codecs.schemaProblem(cause)))
  )

/**
 * The effect of one call: encode, run on a thread, decode, type the failures.
 * Made once per pool, in two forms sharing the codecs: `traced` carries the
 * span the call runs in to the thread, `untraced` does not.
 */
const makeCalls = (taskSet: TaskSet.Any, pool: Pool.Pool) => {
  const codecs = new Map<string, Codec>()
  for (const name of taskSet.names) {
    const definition = taskSet.tasks[name]!
    codecs.set(name, {
      encodePayload: Schema.encodeUnknownEffect(definition.payload),
      // decoded in the calling fiber: the Exit variants would run a fiber each
      decodeSuccess: Schema.decodeUnknownEffect(definition.success),
      decodeError: Schema.decodeUnknownEffect(definition.error),
      sync: Codecs.syncSteps(definition)
    })
  }

  const interpret = (task: string, payload: unknown, codec: Codec, outcome: Pool.Outcome) => {
    if (!Array.isArray(outcome)) {
      const o = outcome as Pool.Crash | Pool.NotSent | Pool.Unreadable
      if (o._tag === "Unreadable") {
        const issue = `could not be read on the parent thread (${quote(o.cause)})`
        return o.kind === Reply.Defect
          ? Effect.fail(new WorkerCrashedError({ task, reason: `threw a value that ${issue}`, cause: o.cause }))
          : Effect.fail(
            new InvalidResultError({ task, part: o.kind === Reply.Failure ? "error" : "success value", issue })
          )
      }
      if (o._tag === "NotSent") {
        return Effect.fail(
          new InvalidPayloadError({
            task,
            payload,
            issue: `could not be cloned to a worker thread (${quote(o.cause)})`
          })
        )
      }
      const reason = o.phase === "start" ? `the worker thread failed to start: ${o.reason}` : o.reason
      // phase "closed": the pool's scope has ended; "run": the thread died or was stopped mid-call
      return Effect.fail(new WorkerCrashedError({ task, reason, cause: o.cause }))
    }
    const [, kind, value] = outcome as Pool.Outcome & ReadonlyArray<unknown>
    switch (kind) {
      case Reply.Success: {
        const decode = codec.sync.decodeSuccess
        if (decode !== undefined) {
          const decoded = decode(value)
          return Exit.isSuccess(decoded)
            ? decoded
            : Effect.fail(
              new InvalidResultError({ task, part: "success value", issue: Codecs.schemaProblem(decoded.cause) })
            )
        }
        return schemaStep(
          codec.decodeSuccess(value),
          (issue) => new InvalidResultError({ task, part: "success value", issue })
        )
      }
      case Reply.Failure:
        return Effect.flatMap(
          schemaStep(codec.decodeError(value), (issue) => new InvalidResultError({ task, part: "error", issue })),
          Effect.fail
        )
      case Reply.Defect:
        return Effect.fail(new WorkerCrashedError({ task, reason: `threw ${quote(value)}`, cause: value }))
      case Reply.UnknownTask:
        return Effect.fail(new UnknownTaskError({ task, known: value as ReadonlyArray<string> }))
      case Reply.InvalidPayload:
        return Effect.fail(new InvalidPayloadError({ task, payload, issue: String(value) }))
      case Reply.InvalidResult: {
        const [part, issue] = value as readonly ["success value" | "error", string]
        return Effect.fail(new InvalidResultError({ task, part, issue }))
      }
      default:
        return Effect.die(new Error(`WorkerPool: unexpected reply ${quote(outcome)}`))
    }
  }

  const call =
    (traced: boolean) => (task: string, payload: unknown, starting?: () => boolean): Effect.Effect<any, any> =>
      Effect.withFiber((fiber) => {
        const codec = typeof task === "string" ? codecs.get(task) : undefined
        if (codec === undefined) return Effect.fail(new UnknownTaskError({ task, known: taskSet.names }))
        const encode = codec.sync.encodePayload
        if (encode !== undefined) {
          // a plain Schema: checked here, no collector (it has no Transferable), no fiber step
          const encoded = encode(payload)
          if (Exit.isFailure(encoded)) {
            return Effect.fail(new InvalidPayloadError({ task, payload, issue: Codecs.schemaProblem(encoded.cause) }))
          }
          return Effect.flatMap(
            pool.execute(task, encoded.value, none, traced ? traceOf(fiber) : undefined, starting),
            (outcome) => interpret(task, payload, codec, outcome)
          )
        }
        const collector = Transferable.makeCollectorUnsafe()
        return schemaStep(
          Effect.provideService(codec.encodePayload(payload), Transferable.Collector, collector),
          (issue) => new InvalidPayloadError({ task, payload, issue })
        ).pipe(
          Effect.flatMap((encoded) =>
            Effect.flatMap(
              pool.execute(
                task,
                encoded,
                transferList(collector.clearUnsafe()),
                traced ? traceOf(fiber) : undefined,
                starting
              ),
              (outcome) => interpret(task, payload, codec, outcome)
            )
          )
        )
      })
  return { traced: call(true), untraced: call(false) }
}

/**
 * Makes a pool that lives as long as the current scope; when the scope
 * closes, every thread is terminated. Bad options die at once with an error
 * naming the option and its value.
 *
 * @category constructors
 * @since 0.1.0
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Worker } from "node:worker_threads"
 * import { WorkerPool } from "@taskscope/node"
 * import { tasks } from "./tasks.ts"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const pool = yield* WorkerPool.make(tasks, {
 *     spawn: () => new Worker(new URL("./worker.ts", import.meta.url)),
 *     maxConcurrency: 2
 *   })
 *   return yield* pool.call("fib", 30)
 * }))
 * ```
 */
export const make = <T extends TaskSet.Any>(
  taskSet: T,
  options: Options
): Effect.Effect<WorkerPool<T>, never, Scope.Scope> =>
  Effect.suspend(() => {
    Config.checkTaskSet(taskSet)
    // names first: a misspelt `spawn` is named as such, not reported as a missing one
    KnownOptions.check(options, Config.poolOptions, "WorkerPool.make")
    const config = Config.makePoolConfig(options)
    return Effect.map(Pool.make(config), (pool): WorkerPool<T> => {
      const calls = makeCalls(taskSet, pool)
      const self: WorkerPool<T> = {
        [TypeId]: TypeId,
        taskSet,
        maxConcurrency: config.maxConcurrency,
        stats: pool.stats,
        prestart: pool.prestart,
        call: calls.traced
      }
      Pool.internals.set(self, pool)
      Pool.calls.set(self, calls)
      return self
    })
  })

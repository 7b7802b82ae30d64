/**
 * `ClusterExecutor` runs the tasks of a `TaskSet` on the runner processes of
 * a cluster (`effect/cluster`), with the same submit options, exit rules,
 * `join`, `awaitIdle`, `stats` and `scoped` as `BackgroundExecutor` of
 * `@taskscope/executor` — because it *is* one: every task is an effect
 * submitted to a `BackgroundExecutor`, which stores the task in the cluster
 * (PostgreSQL with `Cluster.layerPostgres`), lets a runner run it
 * (`ClusterRunner.layer`) and waits for its stored result.
 *
 * What it adds:
 *
 * - **Durable.** `submit` returns once the task is stored (unless a finite
 *   `maxConcurrency` keeps it in this process's queue: it is stored when it
 *   leaves the queue). A runner that dies mid-task loses nothing: the task
 *   runs again on another runner. A submitter that dies loses nothing
 *   either: its tasks still run, and any process can {@link ClusterExecutor.attach}
 *   to a task by its key to get its handle and its stored result.
 * - **Keys.** Every task has a key (the `key` submit option, or a random
 *   UUID). The key is the task's identity in storage: a task is stored once
 *   per key (and task name), so submitting a key again — from any process,
 *   at any time — does not run it again but answers with the same, stored
 *   result.
 * - **At-least-once.** A task whose runner dies is run again from the start,
 *   so its function may run more than once; its submitter gets one result,
 *   the first one stored. Tasks should be idempotent: running one twice must
 *   leave the world as running it once (write with upserts keyed by the
 *   task's key, not appends; charge a card with an idempotency key).
 * - **Cancel.** `Task.interrupt` and `cancelOnExit` interrupt the task's
 *   function on the runner where it runs; the interruption is its result.
 * - **Deadlines on the runner.** `startTimeout` and `deadline` bound the
 *   task's wait in the runner's queue as well as in this process's, and
 *   `timeout` and `deadline` bound its run where it runs; `priority` orders
 *   both queues. A timeout is the task's stored result.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Task } from "@taskscope/executor"
 * import { Cluster, ClusterExecutor } from "@taskscope/cluster"
 * import { tasks } from "./tasks.ts"
 *
 * const program = ClusterExecutor.scoped(tasks, (executor) =>
 *   Effect.gen(function*() {
 *     const a = yield* executor.submit("fib", 35, { key: "fib-35" })
 *     const b = yield* executor.submit("fib", 36, { key: "fib-36" })
 *     return (yield* Task.join(a)) + (yield* Task.join(b))
 *   })
 * ).pipe(Effect.provide(Cluster.layerPostgres({ url: "postgres://localhost/app" })))
 * ```
 *
 * @since 0.2.0
 */
import { BackgroundExecutor, ExecutorError, Task } from "@taskscope/executor"
import { errorText } from "@taskscope/executor/internal/describe"
import * as Durations from "@taskscope/executor/internal/duration"
import * as KnownOptions from "@taskscope/executor/internal/knownOptions"
import * as Scoped from "@taskscope/executor/internal/scoped"
import * as Timeouts from "@taskscope/executor/internal/timeouts"
import * as TaskSet from "@taskscope/executor/TaskSet"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as EntityAddress from "effect/cluster/EntityAddress"
import * as EntityId from "effect/cluster/EntityId"
import * as Sharding from "effect/cluster/Sharding"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Latch from "effect/Latch"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as crypto from "node:crypto"
import { Cluster } from "./Cluster.ts"
import {
  AttemptsExhaustedError,
  type ClusterTaskError,
  DeliveryError,
  InvalidPayloadError,
  InvalidResultError,
  TaskDefectError,
  TaskNotFoundError,
  UnknownTaskError
} from "./ClusterError.ts"
import {
  attachProbe,
  CallHook,
  isStorable,
  laneOf,
  type Protocol,
  protocolOf,
  storable,
  type WireError,
  WirePayload
} from "./internal/protocol.ts"
import { rideOutStorage } from "./internal/storage.ts"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * Options of an executor, as `BackgroundExecutor` takes them.
 *
 * @category models
 * @since 0.2.0
 * @example
 * ```ts
 * import type { ClusterExecutor } from "@taskscope/cluster"
 *
 * const options: ClusterExecutor.Options = { name: "billing", maxQueue: 1000, bubbleUp: (e) => e === "stop" }
 * ```
 */
export interface Options {
  /**
   * How many of this executor's tasks may be in the cluster (stored and not
   * answered) at once. Default `Infinity`: the runners' `concurrency` bounds
   * how many run. Tasks beyond it wait in this process, not yet stored.
   */
  readonly maxConcurrency?: number | undefined
  /** How many tasks may wait in this process; beyond, `submit` suspends. Default `Infinity`. */
  readonly maxQueue?: number | undefined
  /** Failures that are control signals, not errors: never re-raised on exit. */
  readonly bubbleUp?: ((error: unknown) => boolean) | undefined
  /**
   * The `executor` attribute of this executor's metric series and spans, as
   * `BackgroundExecutor`'s `name` (default `"default"`). The series count
   * the tasks of this process's handles, as `stats` does; a runner's queue
   * has series of its own (see `ClusterRunner.Options.name`).
   */
  readonly name?: string | undefined
  /** Whether to keep this executor's metric series (default `true`), as `BackgroundExecutor`'s `metrics`. */
  readonly metrics?: boolean | undefined
  /**
   * A span for every task in this process (`true`), or none (`false`, the
   * default here, unlike `BackgroundExecutor`: a task's span and its stack
   * trace cost the submitter about a sixth of its CPU time per tiny task).
   */
  readonly tracing?: boolean | undefined
}

/**
 * Options of one submission: `BackgroundExecutor`'s, and the task's `key`.
 *
 * Where the task waits, they mean what they mean for `BackgroundExecutor`:
 * this process's queue (a finite `maxConcurrency`) and the queue of the
 * runner that runs the task (its `concurrency`) both order by `priority`,
 * and the task must have left both by its start deadline (`startTimeout`
 * from `submit`, or `deadline`), or it fails with `TaskTimeoutError
 * { phase: "queue" }` without running. Its run, on the runner, is bounded
 * by `timeout` from its start there and by `deadline`: past them the
 * function is interrupted and the task fails with `TaskTimeoutError
 * { phase: "run" }`, its stored result. `deadline` and the start deadline
 * are instants, compared with the runner's clock: the machines' clocks must
 * agree.
 *
 * @category models
 * @since 0.2.0
 * @example
 * ```ts
 * import type { ClusterExecutor } from "@taskscope/cluster"
 *
 * const options: ClusterExecutor.SubmitOptions = { key: "invoice-2026-0042", name: "render invoice" }
 * ```
 */
export interface SubmitOptions extends BackgroundExecutor.SubmitOptions {
  /**
   * The task's identity in storage: a non-empty string, unique per task
   * (and task name) for as long as the stored results are kept. Submitting a
   * key again returns the stored result instead of running the task again;
   * `attach` finds a task by it. Default: a random UUID.
   */
  readonly key?: string | undefined
}

/**
 * What a submit with options `O` may time out with: its own `timeout`,
 * `startTimeout` or `deadline`, or — with a `key` — those of another submit
 * of the same key, whose stored result it gets.
 *
 * @category models
 * @since 0.2.0
 * @example
 * ```ts
 * import type { ClusterExecutor } from "@taskscope/cluster"
 *
 * type Keyed = ClusterExecutor.SubmitTimeoutOf<{ key: "invoice-42" }> // TaskTimeoutError
 * type Plain = ClusterExecutor.SubmitTimeoutOf<{ name: "render" }> // never
 * ```
 */
export type SubmitTimeoutOf<O> =
  | BackgroundExecutor.TimeoutOf<O>
  | (0 extends 1 & O ? ExecutorError.TaskTimeoutError // options of unknown shape may set a key
    : O extends undefined ? never
    : [O[keyof O & "key"]] extends [undefined] ? never
    : ExecutorError.TaskTimeoutError)

/**
 * Options of `attach`: `BackgroundExecutor`'s submit options but `key` (the
 * task's key is `attach`'s own argument). They apply to the handle in this
 * process, which is the task's own: its `timeout`, `deadline` and
 * `cancelOnExit` cancel the task itself, for every process (the interruption
 * becomes its stored result). To stop waiting only, wrap `Task.join` in
 * `Effect.timeout`.
 *
 * @category models
 * @since 0.2.0
 * @example
 * ```ts
 * import type { ClusterExecutor } from "@taskscope/cluster"
 *
 * const options: ClusterExecutor.AttachOptions = { name: "invoice", reraiseOnExit: false }
 * ```
 */
export interface AttachOptions extends Omit<BackgroundExecutor.SubmitOptions, "key"> {}

/**
 * The handle of a cluster task: a `Task` with its key.
 *
 * @category models
 * @since 0.2.0
 * @example
 * ```ts
 * import type { ClusterExecutor } from "@taskscope/cluster"
 *
 * const keyOf = (task: ClusterExecutor.ClusterTask<number, never>) => task.key
 * ```
 */
export interface ClusterTask<A, E> extends Task.Task<A, E> {
  /** The task's key, for `attach`. */
  readonly key: string
}

/**
 * Any success of the tasks of `T`, and any of their typed errors: what an
 * attached task, whose name is known only from storage, may end with.
 *
 * @category type-level
 * @since 0.2.0
 * @example
 * ```ts
 * import type { ClusterExecutor } from "@taskscope/cluster"
 * import type { tasks } from "./tasks.ts"
 *
 * type Any = ClusterExecutor.AnySuccess<typeof tasks>
 * ```
 */
export type AnySuccess<T extends TaskSet.Any> = { [K in TaskSet.Names<T>]: TaskSet.Success<T, K> }[TaskSet.Names<T>]

/**
 * Any typed error of the tasks of `T`.
 *
 * @category type-level
 * @since 0.2.0
 * @example
 * ```ts
 * import type { ClusterExecutor } from "@taskscope/cluster"
 * import type { tasks } from "./tasks.ts"
 *
 * type Any = ClusterExecutor.AnyError<typeof tasks>
 * ```
 */
export type AnyError<T extends TaskSet.Any> = { [K in TaskSet.Names<T>]: TaskSet.Error<T, K> }[TaskSet.Names<T>]

/**
 * An executor of the tasks of `T` on a cluster. It is invariant in `T`: it
 * takes the names and payloads of `T`'s tasks only, so it is not an executor
 * of another task set, nor a `ClusterExecutor<TaskSet.Any>` (whose calls take
 * any name). A helper for the executor of any task set is generic in it:
 * `<T extends TaskSet.Any>(executor: ClusterExecutor<T>) => executor.stats`.
 *
 * @category models
 * @since 0.2.0
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Task } from "@taskscope/executor"
 * import type { ClusterExecutor } from "@taskscope/cluster"
 * import type { tasks } from "./tasks.ts"
 *
 * const fib30 = (executor: ClusterExecutor.ClusterExecutor<typeof tasks>) =>
 *   Effect.flatMap(executor.submit("fib", 30), Task.join)
 * ```
 */
export interface ClusterExecutor<T extends TaskSet.Any> {
  readonly taskSet: T
  /**
   * Stores a task of `task` with `payload` in the cluster and returns its
   * handle. The `name` option defaults to the task's name.
   */
  readonly submit: {
    <K extends TaskSet.Names<T>, const O extends SubmitOptions | undefined = undefined>(
      task: K,
      payload: TaskSet.Payload<T, K>,
      options?: O & BackgroundExecutor.OnlyKnown<O, SubmitOptions>
    ): Effect.Effect<
      ClusterTask<TaskSet.Success<T, K>, TaskSet.Error<T, K> | ClusterTaskError | SubmitTimeoutOf<O>>,
      ExecutorError.ExecutorClosedError
    >
    <K extends TaskSet.Names<T>>(
      task: K,
      payload: TaskSet.Payload<T, K>,
      options?: SubmitOptions
    ): Effect.Effect<
      ClusterTask<TaskSet.Success<T, K>, TaskSet.Error<T, K> | ClusterTaskError | ExecutorError.TaskTimeoutError>,
      ExecutorError.ExecutorClosedError
    >
  }
  /**
   * The handle of the task stored under `key` (submitted by any process, maybe
   * one that died): it ends with the task's stored result, or waits for it.
   * The handle counts as one of this executor's tasks (exit rules, `join`,
   * `stats`); it fails with `TaskNotFoundError` when no task has this key,
   * and with `TaskTimeoutError` when the task was submitted with a deadline
   * that it passed on its runner (whatever `attach`'s options).
   *
   * The handle is the task's, not a watcher's: its `Task.interrupt`,
   * `cancelOnExit` and `timeout` (or `deadline`) cancel the task itself, for
   * every process. To stop waiting only, bound the wait:
   * `Effect.timeout(Task.join(handle), "1 second")`.
   */
  readonly attach: {
    <const O extends AttachOptions | undefined = undefined>(
      key: string,
      options?: O & BackgroundExecutor.OnlyKnown<O, AttachOptions>
    ): Effect.Effect<
      ClusterTask<AnySuccess<T>, AnyError<T> | ClusterTaskError | TaskNotFoundError | ExecutorError.TaskTimeoutError>,
      ExecutorError.ExecutorClosedError
    >
    (
      key: string,
      options?: AttachOptions
    ): Effect.Effect<
      ClusterTask<AnySuccess<T>, AnyError<T> | ClusterTaskError | TaskNotFoundError | ExecutorError.TaskTimeoutError>,
      ExecutorError.ExecutorClosedError
    >
  }
  /** Waits until no submitted task is unfinished. */
  readonly awaitIdle: Effect.Effect<void>
  /** Waits like `awaitIdle`, then fails with the re-raisable failures not reported yet. */
  readonly join: Effect.Effect<void, ExecutorError.TaskFailedError>
  /**
   * Task counters, as `BackgroundExecutor` keeps them. `timedOut` counts the
   * tasks their own deadlines ended, here (a start deadline passed while the
   * task waited in this process's queue) or on their runner; its metric
   * series and spans give those tasks the outcome `timeout` too.
   */
  readonly stats: Effect.Effect<BackgroundExecutor.Stats>
}

/**
 * The identifier of the service that holds the executor of task set `T`.
 *
 * @category models
 * @since 0.2.0
 * @example
 * ```ts
 * import type { Effect } from "effect"
 * import type { ClusterExecutor } from "@taskscope/cluster"
 * import type { tasks } from "./tasks.ts"
 *
 * type NeedsExecutor = Effect.Effect<void, never, ClusterExecutor.Identifier<typeof tasks>>
 * ```
 */
export interface Identifier<T extends TaskSet.Any> {
  // invariant: the executor of a set is not the executor of a set with more (or other) tasks
  readonly "~@taskscope/cluster/ClusterExecutor": (taskSet: T) => T
}

// -----------------------------------------------------------------------------
// service
// -----------------------------------------------------------------------------

const services = new WeakMap<TaskSet.Any, Context.Service<any, any>>()

/**
 * The service key of the executor for `taskSet`, provided by {@link layer}
 * and {@link scoped}.
 *
 * @category services
 * @since 0.2.0
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ClusterExecutor } from "@taskscope/cluster"
 * import { tasks } from "./tasks.ts"
 *
 * const stats = Effect.flatMap(ClusterExecutor.service(tasks), (executor) => executor.stats)
 * ```
 */
export const service = <T extends TaskSet.Any>(taskSet: T): Context.Service<Identifier<T>, ClusterExecutor<T>> => {
  let tag = services.get(taskSet)
  if (tag === undefined) {
    tag = Context.Service<Identifier<T>, ClusterExecutor<T>>(`@taskscope/cluster/ClusterExecutor/${taskSet.key}`)
    services.set(taskSet, tag)
  }
  return tag
}

/**
 * Registers the program's task set, so that the name-first accessors
 * (`submit(task, payload)`, `attach(key)`) are typed by it: augment it once
 * with the task set's type. Without it they accept any name and payload
 * (still checked at run time); the task-set-first forms need no
 * registration.
 *
 * ```ts
 * declare module "@taskscope/cluster/ClusterExecutor" {
 *   interface Register {
 *     readonly taskSet: typeof tasks
 *   }
 * }
 * ```
 *
 * @category models
 * @since 0.2.0
 * @example
 * ```ts
 * import type { ClusterExecutor } from "@taskscope/cluster"
 *
 * type App = ClusterExecutor.Registered // the registered task set
 * ```
 */
export interface Register {}

/**
 * The task set registered in {@link Register}; without one, `TaskSet.Unknown`
 * (any task name, `unknown` payloads, results and errors).
 *
 * @category models
 * @since 0.2.0
 * @example
 * ```ts
 * import type { ClusterExecutor } from "@taskscope/cluster"
 *
 * type Names = keyof ClusterExecutor.Registered["tasks"]
 * ```
 */
export type Registered = Register extends { readonly taskSet: infer T extends TaskSet.Any } ? T : TaskSet.Unknown

/**
 * The service key of the program's executor, whatever its task set: every
 * {@link layer} and {@link scoped} provides it too, and the name-first
 * accessors submit to it. A program with several task sets uses
 * `service(taskSet)` and the task-set-first accessors instead.
 *
 * @category services
 * @since 0.2.0
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ClusterExecutor } from "@taskscope/cluster"
 *
 * const stats = Effect.flatMap(ClusterExecutor.Current, (executor) => executor.stats)
 * ```
 */
export interface Current {
  readonly "~@taskscope/cluster/ClusterExecutor/Current": "@taskscope/cluster/ClusterExecutor/Current"
  /** The executor this key finds (as a service class's `Service`). */
  readonly Service: ClusterExecutor<Registered>
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
 * @since 0.2.0
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ClusterExecutor } from "@taskscope/cluster"
 *
 * const stats = Effect.flatMap(ClusterExecutor.Current, (executor) => executor.stats)
 * ```
 */
export const Current: Context.Service<Current, ClusterExecutor<Registered>> = Context.Service<
  Current,
  ClusterExecutor<Registered>
>(
  "@taskscope/cluster/ClusterExecutor/Current"
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
 * import type { ClusterExecutor } from "@taskscope/cluster"
 * import type { tasks } from "./tasks.ts"
 *
 * type Provided = ClusterExecutor.CurrentOf<typeof tasks> // Current, with tasks registered or none
 * ```
 */
export type CurrentOf<T extends TaskSet.Any> = Register extends { readonly taskSet: infer S }
  ? [T] extends [S] ? [S] extends [T] ? Current : never : never
  : Current

/** The executor's two services: its task set's and {@link Current}. */
const servicesOf = <T extends TaskSet.Any>(
  executor: ClusterExecutor<T>
): Context.Context<Identifier<T> | CurrentOf<T>> =>
  Context.make(service(executor.taskSet), executor).pipe(
    Context.add(Current, executor as unknown as ClusterExecutor<Registered>)
  )

// -----------------------------------------------------------------------------
// the remote call
// -----------------------------------------------------------------------------

type Client = (entityId: string) => Record<string, (payload: WirePayload) => Effect.Effect<unknown, unknown>>

const issueOf = (error: unknown): string => error instanceof Error ? error.message : String(error)

/** Options left out, or an object of them (not an array). */
const isOptions = (options: unknown): boolean =>
  options === undefined || (typeof options === "object" && options !== null && !Array.isArray(options))

/** A key storage keeps as given: a non-empty string it can store (see `isStorable`). */
const isStorableKey = (key: unknown): key is string => typeof key === "string" && key.length > 0 && isStorable(key)

const storableKey = `a non-empty string of ${storable}`

/**
 * The `TaskTimeoutError`s made of a runner's `WireTimeout`: a task that fails
 * with one was ended by its own deadline, on its runner, and counts as timed
 * out (`stats.timedOut`, outcome `timeout` in the series and its span) as
 * one timed out here does: the executor's options are marked with
 * {@link timedOutOnRunner} (see `checkOptions`).
 */
const runnerTimeouts = new WeakSet<object>()

/** Whether a task of this executor failed with a runner's `TaskTimeoutError` (see {@link runnerTimeouts}). */
const timedOutOnRunner = (cause: Cause.Cause<unknown>): boolean => {
  for (const reason of cause.reasons) {
    if (
      Cause.isFailReason(reason) && typeof reason.error === "object" && reason.error !== null &&
      runnerTimeouts.has(reason.error)
    ) return true
  }
  return false
}

/**
 * Maps what the wire failed with to the task's errors. `name`: the name of
 * the task's handle in this process, which its `TaskTimeoutError` names (as
 * the executor's own would).
 */
const fromWire =
  (protocol: Protocol, task: string, key: string, payload: unknown, name: string) => (error: unknown) => {
    const wire = error as WireError | { readonly _tag: string }
    switch (wire._tag) {
      case "WireTaskError": {
        const codec = protocol.codecs.get(task)!
        try {
          return Effect.fail(codec.decodeError((wire as { error: unknown }).error))
        } catch (decodeError) {
          return Effect.fail(new InvalidResultError({ task, part: "error", issue: issueOf(decodeError) }))
        }
      }
      case "WireInvalidPayload":
        return Effect.fail(new InvalidPayloadError({ task, payload, issue: (wire as { issue: string }).issue }))
      case "WireInvalidResult": {
        const { issue, part } = wire as { part: "success value" | "error"; issue: string }
        return Effect.fail(new InvalidResultError({ task, part, issue }))
      }
      case "WireDefect": {
        const { message, runner } = wire as { runner: string; message: string }
        return Effect.fail(new TaskDefectError({ task, runner, defect: message }))
      }
      case "WireNotSubmitted":
        return Effect.fail(new TaskNotFoundError({ taskSet: protocol.taskSet.key, key }))
      case "WireAttempts": {
        const { attempts, maxAttempts } = wire as { attempts: number; maxAttempts: number }
        return Effect.fail(new AttemptsExhaustedError({ task, key, attempts, maxAttempts }))
      }
      case "WireTimeout": {
        const { phase, timeoutMillis } = wire as { phase: "queue" | "run"; timeoutMillis: number }
        const timedOut = new ExecutorError.TaskTimeoutError({
          taskName: name,
          phase,
          timeout: Duration.millis(timeoutMillis)
        })
        runnerTimeouts.add(timedOut)
        return Effect.fail(timedOut)
      }
      default:
        return Effect.fail(new DeliveryError({ task, key, reason: String(wire._tag), cause: error }))
    }
  }

/**
 * Calls the task's Rpc: one call stores the task (`onStored` runs once it is
 * saved, through the storage's {@link CallHook}), hands it to the runner
 * of its shard and waits for its result, which the runner sends back once it
 * has stored it. If the runner cannot answer — it died, or shut down and
 * left the task stored for the next owner — the call asks again under the
 * same key: a duplicate, answered from storage once a runner has stored the
 * result.
 *
 * Each ask runs in a fiber of its own, so that the call tells an interruption
 * by its caller (a cancel) from an ask that ended interrupted (the runner let
 * go of the task): the storage stores the task's Interrupt only for a cancel.
 *
 * Interrupted, the call waits until its ask has stored the task (or until
 * the storing call fails), then interrupts the ask: Effect's client then
 * stores an interruption for the task and tells its runner, so that the
 * task is stopped where it runs, not left to run unwatched.
 *
 * `timing` goes with the payload: the bounds the runner puts on the task
 * (see {@link timingOf}). `taskName`: the name of the task's handle here.
 */
const call = (
  protocol: Protocol,
  client: Client,
  shutdown: Shutdown,
  task: string,
  tag: string,
  key: string,
  wirePayload: unknown,
  payload: unknown,
  onStored: () => void,
  taskName: string,
  timing: Timing
): Effect.Effect<unknown, unknown> =>
  Effect.suspend(() => {
    const message = new WirePayload({ ...timing, key, payload: wirePayload as WirePayload["payload"] })
    const entity = client(laneOf(key))[tag]! as (payload: WirePayload) => Effect.Effect<unknown, unknown>
    let stored = false
    // whether the last save found the task answered: its stored result is final
    let answered = false
    // whether this call's caller interrupted it
    let cancelled = false
    /** Starts one ask in a fiber of its own; `saved` opens once its request is saved. */
    const start = Effect.suspend(() => {
      const saved = Latch.makeUnsafe(false)
      const hook: CallHook["Service"] = {
        stored: (found) => {
          answered = found
          // Opened once the ask has gone on from the save: for a key stored
          // before (a second submit, an attach), Effect's client maps this
          // call to the stored request right after the save, and a cancel
          // that interrupted the ask before that would go to a request that
          // does not exist (the task would never hear it).
          queueMicrotask(() => saved.openUnsafe())
          if (stored) return
          stored = true
          onStored()
        },
        cancelled: () => cancelled
      }
      // safe to repeat: the key is stored once
      const ask = rideOutStorage(Effect.provideService(entity(message), CallHook, hook))
      return Effect.map(Effect.forkDetach(Effect.interruptible(ask)), (fiber) => ({ fiber, saved }))
    })
    type Asking = { readonly fiber: Fiber.Fiber<unknown, unknown>; readonly saved: Latch.Latch }
    /**
     * Whether an ask ended interrupted with no result stored for the task:
     * not by a cancel of ours nor with the task's stored interruption — the
     * runner let go of the task (it shut down, or its shard moved) and left
     * it stored, so the call asks again.
     */
    const letGo = (exit: Exit.Exit<unknown, unknown>): boolean =>
      Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause) && !answered
    /** Interrupts an ask once its request is saved (or it ended unsaved): with `cancelled` set, that stores the Interrupt. */
    const interruptAsk = ({ fiber, saved }: Asking) =>
      Effect.andThen(Effect.raceFirst(saved.await, Fiber.await(fiber)), Fiber.interrupt(fiber))
    /**
     * The caller's cancel: interrupts the ask, then waits until the task has
     * ended on its runner (see {@link ended}) — if its request was ever
     * saved: an ask that failed before that stored nothing, and an ask made
     * now would store the task and run it.
     */
    const cancel = (asking: Asking) => {
      cancelled = true
      return Effect.andThen(interruptAsk(asking), Effect.suspend(() => stored ? ended : Effect.void))
    }
    /**
     * After a cancel: the interrupted ask has stored the Interrupt and ends
     * at once, while the runner still stops the task (its finalizers run).
     * Asks again under the same key until the task's stored result comes
     * back, so that a cancel — `Task.interrupt`, `cancelOnExit` — returns,
     * and frees the task's permit, only once the task has ended where it ran.
     * Effect's client may lose an Interrupt (it ignores a failure to store
     * one), so an ask that has no answer {@link resendCancelAfter} after its
     * save is interrupted in turn, which stores the Interrupt again. An ask
     * the runner let go of ({@link letGo}) asks again, as `send` does; one
     * that fails (storage away for good) or a process that shuts down gives up.
     */
    const ended: Effect.Effect<void> = Effect.suspend(() =>
      Effect.flatMap(start, (asking) =>
        Effect.flatMap(
          // counted from the save: an ask still riding out a storage outage ends (and gives up) first
          Effect.raceFirst(
            Fiber.await(asking.fiber),
            Effect.raceFirst(
              Effect.andThen(asking.saved.await, Effect.as(Effect.sleep(resendCancelAfter), undefined)),
              Effect.as(shutdown.begun, "shutdown" as const)
            )
          ),
          (exit) =>
            exit === "shutdown"
              // waiting for the runner ends here. (Effect's client stores no Interrupt once the
              // process has begun to shut down: the next owner of the task's shard may run it.)
              ? interruptAsk(asking)
              : exit === undefined
              ? Effect.andThen(interruptAsk(asking), ended)
              : letGo(exit)
              ? Effect.flatMap(shutdown.isShutdown,
                (down) => down ? Effect.void : Effect.andThen(Effect.sleep(retrySpacing), ended))
              : Effect.void
        ))
    )
    /**
     * The ask's end; or, once this process has begun to shut down, the ask
     * interrupted — not as a cancel: nothing is stored, the task stays for
     * the next owner of its shard — and so ended as one its runner let go of
     * ({@link letGo}). Without it a call could wait for ever at a runner's
     * shutdown: a task that waits for another task whose shard is the
     * runner's own (its shards are handed off only once the runner's tasks
     * have ended, and that task was stopped and left stored).
     */
    const awaitAsk = (asking: Asking) =>
      Effect.raceFirst(
        Fiber.await(asking.fiber),
        Effect.andThen(shutdown.begun, Effect.andThen(Fiber.interrupt(asking.fiber), Fiber.await(asking.fiber)))
      )
    const send: Effect.Effect<unknown, unknown> = Effect.uninterruptibleMask((restore) => {
      // one mask for every ask: an interruption between two asks reaches the cancel below, never a gap
      const ask: Effect.Effect<unknown, unknown> = Effect.suspend(() =>
        Effect.flatMap(start, (asking) =>
          restore(awaitAsk(asking)).pipe(
            Effect.onInterrupt(() => cancel(asking)),
            Effect.flatMap((exit): Effect.Effect<unknown, unknown> =>
              // ask again, under the same key, until a runner answers, the
              // storage has a result for it, or this process shuts down
              letGo(exit)
                ? Effect.flatMap(shutdown.isShutdown, (down) =>
                  down
                    ? exit
                    : Effect.andThen(
                      restore(Effect.sleep(retrySpacing)).pipe(
                        // cancelled between two asks: one more ask carries the cancel
                        Effect.onInterrupt(() => Effect.flatMap(start, cancel))
                      ),
                      ask
                    ))
                : exit
            )
          ))
      )
      return ask
    })
    return Effect.matchCauseEffect(send, {
      onFailure: (cause) => {
        const failure = Cause.findErrorOption(cause)
        if (failure._tag === "Some") return fromWire(protocol, task, key, payload, taskName)(failure.value)
        if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
        // A defect of the cluster's own machinery, not of the task (the
        // runner reports those as WireDefect).
        const defect = Cause.squash(cause)
        return Effect.fail(
          new DeliveryError({ task, key, reason: undeliverable(protocol, task, defect), cause: defect })
        )
      },
      onSuccess: (json) => {
        try {
          return Effect.succeed(protocol.codecs.get(task)!.decodeSuccess(json))
        } catch (error) {
          return Effect.fail(new InvalidResultError({ task, part: "success value", issue: issueOf(error) }))
        }
      }
    })
  })

/** The whole of a defect as text, its causes too: what {@link undeliverable} searches. */
const defectDump = (defect: unknown): string => {
  try {
    return `${errorText(defect)} ${JSON.stringify(defect)}`
  } catch {
    return errorText(defect)
  }
}

/**
 * The reason of the `DeliveryError` of a task that the cluster's machinery
 * failed with a defect. Two such defects come from runners that do not
 * serve the task, and are told plainly (each is the task's stored result):
 *
 * - No runner registered the task set's entity: a runner took the task's
 *   shard, but serves other task sets only (runners of different task sets
 *   on one database share its shards). Effect's storage loop stores
 *   "Entity type '<type>' not registered" once `entityRegistrationTimeout`
 *   has passed.
 * - The runner's entity lacks the task's Rpc tag: a runner of an older task
 *   set (a rolling deploy). Effect answers a request of an unknown tag with
 *   `MalformedMessage` ("Expected a known entity RPC tag"), and in 4.1
 *   fails to encode that answer for want of the tag's Rpc: the defect is a
 *   `TypeError` reading `errorSchema` of undefined. Both are recognised.
 */
const undeliverable = (protocol: Protocol, task: string, defect: unknown): string => {
  const text = defectDump(defect)
  if (text.includes(`Entity type '${protocol.entity.type}' not registered`)) {
    return `no runner that took its shard serves task set "${protocol.taskSet.key}" (every runner that shares a database must serve every task set used with it)`
  }
  if (text.includes("Expected a known entity RPC tag") || text.includes("reading 'errorSchema'")) {
    return `the runner that took it does not know task "${task}" (a rolling deploy, with runners of an older task set?)`
  }
  return `the cluster could not serve it: ${errorText(defect)}`
}

/** What a task's payload carries of its submit options: the bounds its runner puts on it. */
type Timing = Pick<WirePayload, "priority" | "startBy" | "startBudget" | "deadline" | "timeout">

/**
 * Splits the submit options of a task submitted at `now` (epoch
 * milliseconds, this process's clock) between this process's queue and the
 * runner's.
 *
 * - This process's queue (a finite `maxConcurrency` keeps tasks in it) gets
 *   `priority` and, as `startTimeout`, what is left of the start budget: the
 *   task must leave it by `startBy`, the earlier of `startTimeout` after
 *   submit and `deadline`. A `deadline` already past goes to it as it is: the
 *   task fails at once without being stored, as `BackgroundExecutor`'s does.
 *   It gets no run deadline: the local task is the call that stores the
 *   task and waits for its result, and a run deadline here would interrupt
 *   that call, which cancels the task and stores the interruption as its
 *   result, counting the time it waited in the runner's queue.
 * - The runner's queue gets `priority`, `startBy`, `deadline` and `timeout`
 *   in the payload ({@link Timing}): the task must start there by `startBy`,
 *   and its run is bounded by `timeout` from its start and by `deadline`.
 *
 * Options that are not valid go to this process's executor as they are: it
 * refuses them with the `InvalidArgumentError` naming the option, as before.
 */
const timingOf = (
  options: Omit<SubmitOptions, "key">,
  now: number
): { readonly local: BackgroundExecutor.SubmitOptions; readonly timing: Timing } => {
  const { deadline, startTimeout, timeout, ...local } = options
  const timeoutMillis = Durations.limitMillis(timeout)
  const startMillis = Durations.limitMillis(startTimeout)
  const deadlineAt = Durations.instantMillis(deadline)
  if (timeoutMillis === null || startMillis === null || deadlineAt === null) return { local: options, timing: {} }
  let startBy = startMillis === undefined ? undefined : now + startMillis
  if (deadlineAt !== undefined && (startBy === undefined || deadlineAt < startBy)) startBy = deadlineAt
  const timing: { -readonly [K in keyof Timing]: Timing[K] } = {}
  const priority = options.priority
  if (typeof priority === "number" && Number.isFinite(priority) && priority !== 0) timing.priority = priority
  if (startBy !== undefined) {
    timing.startBy = startBy
    timing.startBudget = Math.max(0, startBy - now)
  }
  if (deadlineAt !== undefined) timing.deadline = deadlineAt
  if (timeoutMillis !== undefined) timing.timeout = timeoutMillis
  return {
    local: startBy === undefined ? local : startBy < now ? { ...local, deadline: startBy } : {
      ...local,
      startTimeout: startBy - now
    },
    timing
  }
}

/** How long a cancelled call waits for the task's end before it sends the cancel again (see `call`). */
const resendCancelAfter = "5 seconds"

/** How long a call waits before it asks again for a task its runner let go of. */
const retrySpacing = "100 millis"

/** This process's sharding shutting down, as a call sees it (see {@link watchShutdown}). */
interface Shutdown {
  /** Whether it has begun. */
  readonly isShutdown: Effect.Effect<boolean>
  /** Waits until it has begun (seen within {@link shutdownPoll}). */
  readonly begun: Effect.Effect<void>
}

/** How often an executor looks whether its process's sharding has begun to shut down. */
const shutdownPoll = "200 millis"

/** The watch of one sharding, shared by the executors that use it (see {@link watchShutdown}). */
interface Watch {
  readonly begun: Latch.Latch
  readonly poller: Fiber.Fiber<unknown>
  users: number
}

const watches = new WeakMap<Sharding.Sharding["Service"], Watch>()

/**
 * Watches `sharding` for the start of its shutdown (Effect's `Sharding` has
 * no signal for it: it is polled), for as long as the current scope lives.
 * One poller per sharding, shared by all its executors and stopped with the
 * last of them: a process may keep thousands alive. Made before the
 * executor in that scope, the watch outlives the executor's close, which is
 * when a runner's shutdown matters: calls waiting then for a task no runner
 * will run before this one has ended end at once (see `call`).
 */
const watchShutdown = (sharding: Sharding.Sharding["Service"]): Effect.Effect<Shutdown, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => {
        let watch = watches.get(sharding)
        if (watch === undefined) {
          const begun = Latch.makeUnsafe(false)
          const seen = Effect.repeat(Effect.andThen(Effect.sleep(shutdownPoll), sharding.isShutdown), {
            until: (down) => down
          })
          // on Effect's default services, not the first executor's: the others share it, and that
          // executor's clock (a TestClock), span or annotations are none of theirs
          const poller = Effect.runFork(Effect.andThen(seen, begun.open))
          watch = { begun, poller, users: 0 }
          watches.set(sharding, watch)
        }
        watch.users++
        return watch
      }),
      (watch) =>
        Effect.suspend(() => {
          if (--watch.users > 0) return Effect.void
          if (watches.get(sharding) === watch) watches.delete(sharding)
          return Fiber.interrupt(watch.poller)
        })
    ),
    (watch) => ({ isShutdown: sharding.isShutdown, begun: watch.begun.await })
  )

const wrap = <A, E>(task: Task.Task<A, E>, key: string): ClusterTask<A, E> => ({
  [Task.TypeId]: Task.TypeId,
  id: task.id,
  name: task.name,
  key,
  get join() {
    return task.join
  },
  get await() {
    return task.await
  },
  get interrupt() {
    return task.interrupt
  },
  get poll() {
    return task.poll
  }
})

const invalid = (argument: string, value: unknown, expected: string) =>
  Effect.die(new ExecutorError.InvalidArgumentError({ argument, value, expected }))

/** The names of `submit`'s and `attach`'s options (see `KnownOptions`). */
const submitOptions = KnownOptions.of<SubmitOptions>()(...KnownOptions.submitNames)
const attachOptions = KnownOptions.of<AttachOptions>()(
  ...KnownOptions.submitNames.filter((name): name is Exclude<typeof name, "key"> => name !== "key")
)

const fromParts = <T extends TaskSet.Any>(
  taskSet: T,
  executor: BackgroundExecutor.Executor,
  cluster: Cluster["Service"],
  sharding: Sharding.Sharding["Service"],
  client: Client,
  shutdown: Shutdown
): ClusterExecutor<T> => {
  const protocol = protocolOf(taskSet)

  /**
   * Submits `remote` and, when it started at once, waits until its task is
   * stored (or has ended without being stored: a bad payload, say).
   */
  const submitStored = <A, E>(
    key: string,
    remote: (onStored: () => void) => Effect.Effect<A, E>,
    options: BackgroundExecutor.SubmitOptions
  ) =>
    Effect.suspend(() => {
      let started = false
      let stored = false
      let wake: (() => void) | undefined
      const onStored = () => {
        stored = true
        wake?.()
      }
      const work = Effect.suspend(() => {
        started = true
        return remote(onStored)
      })
      return Effect.flatMap(executor.submit(work, options), (task) =>
        Effect.gen(function*() {
          // a `nextTick` task with a free permit starts once the submitter yields
          if (!started) yield* Effect.yieldNow
          if (started && !stored) {
            const storedSignal = Effect.callback<void>((resume) => {
              if (stored) return resume(Effect.void)
              wake = () => resume(Effect.void)
            })
            yield* Effect.raceFirst(storedSignal, Effect.asVoid(task.await))
          }
          return wrap(task, key)
        }))
    })

  const submit = (task: string, payload: unknown, options?: SubmitOptions) =>
    Effect.suspend(() => {
      if (!isOptions(options)) return invalid("options", options, "an object of submit options")
      KnownOptions.check(options, submitOptions, "ClusterExecutor.submit") // (a throw here is a defect)
      const key = options?.key === undefined ? crypto.randomUUID() : options.key
      if (!isStorableKey(key)) {
        return invalid("key", key, `${storableKey} (the task's identity in storage)`)
      }
      const { key: _, ...rest } = options ?? {}
      // the start budget counts from now, on this program's clock
      return rest.startTimeout === undefined && rest.deadline === undefined
        ? submitAt(task, payload, key, rest, 0)
        : Clock.clockWith((clock) => submitAt(task, payload, key, rest, clock.currentTimeMillisUnsafe()))
    })

  /** `submit`, its options checked but those of `BackgroundExecutor`, submitted at `now`. */
  const submitAt = (
    task: string,
    payload: unknown,
    key: string,
    options: Omit<SubmitOptions, "key">,
    now: number
  ) => {
    const name = options.name ?? (typeof task === "string" ? task : String(task))
    const { local, timing } = timingOf(options, now)
    const submitOptions: BackgroundExecutor.SubmitOptions = { ...local, name }
    const codec = typeof task === "string" ? protocol.codecs.get(task) : undefined
    if (codec === undefined) {
      return submitStored(key, () => Effect.fail(new UnknownTaskError({ task, known: taskSet.names })), submitOptions)
    }
    let json: unknown
    try {
      json = codec.encodePayload(payload)
    } catch (error) {
      return submitStored(
        key,
        () => Effect.fail(new InvalidPayloadError({ task, payload, issue: issueOf(error) })),
        submitOptions
      )
    }
    const tag = protocol.tags.get(task)!
    return submitStored(key,
      (onStored) => call(protocol, client, shutdown, task, tag, key, json, payload, onStored, name, timing),
      submitOptions)
  }

  /**
   * Finds the task stored under `key`, in declaration order: its name and its
   * Rpc tag. Not under the tag an earlier version gave a name with "/" (see
   * `tagOf`): a request stored under such a tag may be another task's.
   */
  const findTask = (key: string) =>
    Effect.suspend(() => {
      const entityId = EntityId.make(laneOf(key))
      const address = EntityAddress.make({
        entityType: protocol.entity.type,
        entityId,
        shardId: sharding.getShardId(entityId, protocol.entity.getShardGroup(entityId))
      })
      return rideOutStorage(Effect.findFirst(
        protocol.tags,
        ([, tag]) =>
          Effect.map(
            cluster.storage.requestIdForPrimaryKey({ address, tag, id: key }),
            Option.isSome
          )
      ))
    })

  const attach = (key: string, options?: AttachOptions) =>
    Effect.suspend(() => {
      if (!isStorableKey(key)) {
        return invalid("key", key, `${storableKey} (the key the task was submitted with)`)
      }
      if (!isOptions(options)) return invalid("options", options, "an object of submit options")
      const keyOption = (options as { readonly key?: unknown } | undefined)?.key
      if (keyOption !== undefined) {
        return invalid("key", keyOption, "left out of attach's options (the key is its first argument)")
      }
      KnownOptions.check(options, attachOptions, "ClusterExecutor.attach")
      const name = options?.name ?? key
      // The task's name is looked up before the handle exists: a cancel of
      // the handle must reach the call, which carries it to the task's runner
      // (a cancel that ended the lookup instead reached nothing).
      return Effect.flatMap(Effect.exit(findTask(key)), (found) => {
        const remote = Exit.isFailure(found)
          ? Effect.failCause(
            Cause.map(found.cause, (error) => new DeliveryError({ task: name, key, reason: error._tag, cause: error }))
          )
          : Option.isNone(found.value)
          ? Effect.fail(new TaskNotFoundError({ taskSet: taskSet.key, key }))
          : call(protocol, client, shutdown, found.value.value[0], found.value.value[1], key, attachProbe, undefined,
            () => {}, name, {})
        return Effect.map(
          executor.submit(remote, { ...options, name }),
          (task) => wrap(task, key)
        )
      })
    })

  return {
    taskSet,
    submit: submit as ClusterExecutor<T>["submit"],
    attach: attach as ClusterExecutor<T>["attach"],
    awaitIdle: executor.awaitIdle,
    join: executor.join,
    stats: executor.stats
  }
}

/** The names of a `ClusterExecutor`'s options (see `KnownOptions`). */
const executorOptions = KnownOptions.of<Options>()(
  "maxConcurrency",
  "maxQueue",
  "bubbleUp",
  "name",
  "metrics",
  "tracing"
)

const checkOptions = (taskSet: unknown, options: unknown): BackgroundExecutor.Options => {
  protocolOf(taskSet as TaskSet.Any)
  if (options !== undefined && (typeof options !== "object" || options === null || Array.isArray(options))) {
    throw new ExecutorError.InvalidArgumentError({
      argument: "options",
      value: options,
      expected: "an object of options"
    })
  }
  const o = (options ?? {}) as Options
  KnownOptions.check(o, executorOptions, "ClusterExecutor")
  // checked by BackgroundExecutor, like its own options; a runner's TaskTimeoutError counts as a timeout
  return Timeouts.withTimeouts({
    maxConcurrency: o.maxConcurrency,
    maxQueue: o.maxQueue,
    bubbleUp: o.bubbleUp,
    name: o.name,
    metrics: o.metrics,
    tracing: o.tracing ?? false
  }, timedOutOnRunner)
}

const parts = Effect.gen(function*() {
  const cluster = yield* Cluster
  const sharding = yield* Sharding.Sharding
  return { cluster, sharding }
})

// -----------------------------------------------------------------------------
// constructors
// -----------------------------------------------------------------------------

/**
 * Creates an executor that lives as long as the current scope; when the
 * scope closes the exit rules apply (see `BackgroundExecutor.make`):
 * cancel-on-exit tasks are interrupted where they run, the others awaited.
 * Needs a cluster connection (`Cluster.layerPostgres` or `Cluster.layerMemory`).
 * Bad options die at once with an error naming the option and its value.
 *
 * @category constructors
 * @since 0.2.0
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Task } from "@taskscope/executor"
 * import { Cluster, ClusterExecutor } from "@taskscope/cluster"
 * import { tasks } from "./tasks.ts"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const executor = yield* ClusterExecutor.make(tasks, { maxQueue: 100 })
 *   return yield* Task.join(yield* executor.submit("fib", 30))
 * })).pipe(Effect.provide(Cluster.layerPostgres({ url: "postgres://localhost/app" })))
 * ```
 */
export const make = <T extends TaskSet.Any>(
  taskSet: T,
  options?: Options
): Effect.Effect<ClusterExecutor<T>, never, Scope.Scope | Cluster | Sharding.Sharding> =>
  Effect.suspend(() => {
    const executorOptions = checkOptions(taskSet, options)
    return Effect.gen(function*() {
      const { cluster, sharding } = yield* parts
      const client = (yield* protocolOf(taskSet).entity.client) as unknown as Client
      const shutdown = yield* watchShutdown(sharding) // before the executor: it outlives the close
      return fromParts(taskSet, yield* BackgroundExecutor.make(executorOptions), cluster, sharding, client, shutdown)
    })
  })

/**
 * A layer that provides the executor of a task set (see {@link service}, and
 * {@link Current}), closed with the exit rules when the layer is released.
 *
 * @category layers
 * @since 0.2.0
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Task } from "@taskscope/executor"
 * import { Cluster, ClusterExecutor } from "@taskscope/cluster"
 * import { tasks } from "./tasks.ts"
 *
 * const Executor = ClusterExecutor.layer(tasks).pipe(
 *   Layer.provide(Cluster.layerPostgres({ url: "postgres://localhost/app" }))
 * )
 * const program = ClusterExecutor.submit(tasks, "fib", 30).pipe(Effect.flatMap(Task.join), Effect.provide(Executor))
 * ```
 */
export const layer = <T extends TaskSet.Any>(
  taskSet: T,
  options?: Options
): Layer.Layer<Identifier<T> | CurrentOf<T>, never, Cluster | Sharding.Sharding> =>
  Layer.effectContext(Effect.map(make(taskSet, options), servicesOf))

/**
 * The body of {@link scoped}: an effect that may use the executor's service,
 * or a function of the executor.
 *
 * @category models
 * @since 0.2.0
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type { ClusterExecutor } from "@taskscope/cluster"
 * import type { tasks } from "./tasks.ts"
 *
 * const body: ClusterExecutor.Body<typeof tasks, number, never, never> = () => Effect.succeed(1)
 * ```
 */
export type Body<T extends TaskSet.Any, A, E, R> =
  | Effect.Effect<A, E, R>
  | ((executor: ClusterExecutor<T>) => Effect.Effect<A, E, R>)

/**
 * Runs `body` with a fresh executor and applies the exit rules when it ends,
 * exactly as `BackgroundExecutor.scoped` does (they are its rules):
 * cancel-on-exit tasks are interrupted on their runners, the others awaited
 * — even if the caller is interrupted — and, if `body` succeeded, the first
 * re-raisable failure fails the result with a `TaskFailedError`.
 *
 * @category constructors
 * @since 0.2.0
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Task } from "@taskscope/executor"
 * import { Cluster, ClusterExecutor } from "@taskscope/cluster"
 * import { tasks } from "./tasks.ts"
 *
 * const program = ClusterExecutor.scoped(tasks, (executor) =>
 *   Effect.flatMap(executor.submit("fib", 30), Task.join)
 * ).pipe(Effect.provide(Cluster.layerPostgres({ url: "postgres://localhost/app" })))
 * ```
 */
export const scoped = <T extends TaskSet.Any, A, E, R>(
  taskSet: T,
  body: Body<T, A, E, R>,
  options?: Options
): Effect.Effect<
  A,
  E | ExecutorError.TaskFailedError,
  Exclude<R, Identifier<T> | CurrentOf<T>> | Cluster | Sharding.Sharding
> =>
  Effect.suspend(() => {
    const executorOptions = checkOptions(taskSet, options)
    return Effect.flatMap(parts, ({ cluster, sharding }) =>
      Effect.flatMap(protocolOf(taskSet).entity.client, (client) =>
        // the watch's scope holds the executor's, so that it outlives the close, and is not the
        // body's: the body's own scoped resources stay its caller's
        Effect.acquireUseRelease(
          Scope.make(),
          (watchScope) =>
            Effect.flatMap(Scope.provide(watchShutdown(sharding), watchScope), (shutdown) =>
              // the body sees its caller's BackgroundExecutor, not the one this executor keeps
              Scoped.scoped((background) => {
                const self = fromParts(taskSet, background, cluster, sharding, client as unknown as Client, shutdown)
                // an Effect first: a service key is an Effect and a class at once
                const effect = Effect.isEffect(body) ? body : typeof body === "function" ? body(self) : body
                return Effect.provideContext(effect, servicesOf(self))
              }, executorOptions)),
          (watchScope, exit) => Scope.close(watchScope, exit)
        )))
  }) as any

// -----------------------------------------------------------------------------
// accessors
// -----------------------------------------------------------------------------

/**
 * Runs `use` on the executor the accessor's arguments name: the executor of
 * the task set given first (taken off the arguments), or {@link Current}.
 */
const onExecutor = (
  args: ReadonlyArray<any>,
  use: (executor: ClusterExecutor<any>, rest: ReadonlyArray<any>) => Effect.Effect<unknown, unknown>
): Effect.Effect<unknown, unknown, any> =>
  TaskSet.isTaskSet(args[0])
    ? Effect.flatMap(service(args[0]), (executor) => use(executor, args.slice(1)))
    : Effect.flatMap(Current, (executor) => use(executor, args))

/**
 * Submits a task to the executor in context: `submit(taskSet, task, payload,
 * options?)` to the executor of `taskSet`, or `submit(task, payload,
 * options?)` to the program's executor ({@link Current}, typed by the task
 * set in {@link Register}).
 *
 * @category accessors
 * @since 0.2.0
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Task } from "@taskscope/executor"
 * import { ClusterExecutor } from "@taskscope/cluster"
 * import { tasks } from "./tasks.ts"
 *
 * const a = ClusterExecutor.submit(tasks, "fib", 30, { key: "fib-30" }).pipe(Effect.flatMap(Task.join))
 * const b = ClusterExecutor.submit("fib", 31).pipe(Effect.flatMap(Task.join)) // the registered task set
 * ```
 */
export const submit: {
  <K extends TaskSet.Names<Registered>, const O extends SubmitOptions | undefined = undefined>(
    task: K,
    payload: TaskSet.Payload<Registered, K>,
    options?: O & BackgroundExecutor.OnlyKnown<O, SubmitOptions>
  ): Effect.Effect<
    ClusterTask<
      TaskSet.Success<Registered, K>,
      TaskSet.Error<Registered, K> | ClusterTaskError | SubmitTimeoutOf<O>
    >,
    ExecutorError.ExecutorClosedError,
    Current
  >
  <T extends TaskSet.Any, K extends TaskSet.Names<T>, const O extends SubmitOptions | undefined = undefined>(
    taskSet: T,
    task: K,
    payload: TaskSet.Payload<T, K>,
    options?: O & BackgroundExecutor.OnlyKnown<O, SubmitOptions>
  ): Effect.Effect<
    ClusterTask<TaskSet.Success<T, K>, TaskSet.Error<T, K> | ClusterTaskError | SubmitTimeoutOf<O>>,
    ExecutorError.ExecutorClosedError,
    Identifier<T>
  >
  <T extends TaskSet.Any, K extends TaskSet.Names<T>>(
    taskSet: T,
    task: K,
    payload: TaskSet.Payload<T, K>,
    options?: SubmitOptions
  ): Effect.Effect<
    ClusterTask<TaskSet.Success<T, K>, TaskSet.Error<T, K> | ClusterTaskError | ExecutorError.TaskTimeoutError>,
    ExecutorError.ExecutorClosedError,
    Identifier<T>
  >
  <K extends TaskSet.Names<Registered>>(
    task: K,
    payload: TaskSet.Payload<Registered, K>,
    options?: SubmitOptions
  ): Effect.Effect<
    ClusterTask<
      TaskSet.Success<Registered, K>,
      TaskSet.Error<Registered, K> | ClusterTaskError | ExecutorError.TaskTimeoutError
    >,
    ExecutorError.ExecutorClosedError,
    Current
  >
} =
  ((...args: ReadonlyArray<any>) =>
    onExecutor(args, (executor, [task, payload, options]) => executor.submit(task, payload, options))) as any

/**
 * The handle of the task stored under `key`, through the executor in
 * context — `attach(taskSet, key, options?)` through the executor of
 * `taskSet`, `attach(key, options?)` through the program's ({@link Current}):
 * it ends with the task's stored result, or waits for it; it fails with
 * `TaskNotFoundError` when no task has this key. Its options, its
 * `Task.interrupt` and `cancelOnExit` act on the task itself (see
 * `ClusterExecutor.attach`).
 *
 * @category accessors
 * @since 0.2.0
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Task } from "@taskscope/executor"
 * import { ClusterExecutor } from "@taskscope/cluster"
 * import { tasks } from "./tasks.ts"
 *
 * // in a process started after the submitter died
 * const result = ClusterExecutor.attach(tasks, "fib-30").pipe(Effect.flatMap(Task.join))
 * ```
 */
export const attach: {
  <const O extends AttachOptions | undefined = undefined>(
    key: string,
    options?: O & BackgroundExecutor.OnlyKnown<O, AttachOptions>
  ): Effect.Effect<
    ClusterTask<
      AnySuccess<Registered>,
      AnyError<Registered> | ClusterTaskError | TaskNotFoundError | ExecutorError.TaskTimeoutError
    >,
    ExecutorError.ExecutorClosedError,
    Current
  >
  <T extends TaskSet.Any, const O extends AttachOptions | undefined = undefined>(
    taskSet: T,
    key: string,
    options?: O & BackgroundExecutor.OnlyKnown<O, AttachOptions>
  ): Effect.Effect<
    ClusterTask<AnySuccess<T>, AnyError<T> | ClusterTaskError | TaskNotFoundError | ExecutorError.TaskTimeoutError>,
    ExecutorError.ExecutorClosedError,
    Identifier<T>
  >
  <T extends TaskSet.Any>(
    taskSet: T,
    key: string,
    options?: AttachOptions
  ): Effect.Effect<
    ClusterTask<AnySuccess<T>, AnyError<T> | ClusterTaskError | TaskNotFoundError | ExecutorError.TaskTimeoutError>,
    ExecutorError.ExecutorClosedError,
    Identifier<T>
  >
  (
    key: string,
    options?: AttachOptions
  ): Effect.Effect<
    ClusterTask<
      AnySuccess<Registered>,
      AnyError<Registered> | ClusterTaskError | TaskNotFoundError | ExecutorError.TaskTimeoutError
    >,
    ExecutorError.ExecutorClosedError,
    Current
  >
} =
  ((...args: ReadonlyArray<any>) =>
    onExecutor(args, (executor, [key, options]) => executor.attach(key, options))) as any

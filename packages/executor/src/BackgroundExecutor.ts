/**
 * `BackgroundExecutor` starts effects in the background as fibers, at most
 * `maxConcurrency` at a time, inside a scope. When the scope ends it applies
 * the exit rules: tasks submitted with `cancelOnExit` are interrupted, every
 * other task is awaited, and failures of tasks submitted with
 * `reraiseOnExit` are raised as a typed {@link TaskFailedError}.
 *
 * It is the Effect port of LangGraph's `AsyncBackgroundExecutor`: `scoped`
 * plays the part of `async with`, `submit` the part of the submit function,
 * and a `Layer` gives a whole program one executor.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { BackgroundExecutor, Task } from "@taskscope/executor"
 *
 * const fetchPage = (url: string) => Effect.succeed(`<html>${url}</html>`)
 *
 * const program = BackgroundExecutor.scoped(
 *   Effect.gen(function*() {
 *     const pages = yield* Effect.forEach(["/a", "/b"], (url) =>
 *       BackgroundExecutor.submit(fetchPage(url), { name: url }))
 *     return yield* Effect.forEach(pages, Task.join)
 *   }),
 *   { maxConcurrency: 4 }
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import {
  type CloseTimeoutError,
  type ExecutorClosedError,
  InvalidArgumentError,
  TaskFailedError,
  type TaskTimeoutError
} from "./ExecutorError.ts"
import * as core from "./internal/executor.ts"
import * as Check from "./internal/options.ts"
import { makeSettings } from "./internal/telemetry.ts"
import type * as Task from "./Task.ts"
import type { TaskEvent, TaskInfo } from "./TaskEvent.ts"

export {
  /**
   * Raised by the exit when the executor's `closeTimeout` passed while it closed.
   *
   * @category errors
   * @since 0.2.0
   */
  CloseTimeoutError,
  /**
   * Raised by `submit` once the executor has closed.
   *
   * @category errors
   * @since 0.1.0
   */
  ExecutorClosedError,
  /**
   * What an executor dies with when given a bad option or argument.
   *
   * @category errors
   * @since 0.2.0
   */
  InvalidArgumentError,
  /**
   * Raised when tasks flagged `reraiseOnExit` failed.
   *
   * @category errors
   * @since 0.1.0
   */
  TaskFailedError,
  /**
   * What a task fails with when its `timeout`, `startTimeout` or `deadline` passes.
   *
   * @category errors
   * @since 0.2.0
   */
  TaskTimeoutError
} from "./ExecutorError.ts"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * What an executor does: take tasks, and tell when they are done.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { BackgroundExecutor } from "@taskscope/executor"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const executor = yield* BackgroundExecutor.make({ maxConcurrency: 2 })
 *   yield* executor.submit(Effect.log("hello"))
 *   yield* executor.awaitIdle
 *   return yield* executor.stats
 * }))
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Executor {
  /**
   * Hands `task` to the executor and returns its handle at once. The task
   * runs with the submitter's context (services, references, log
   * annotations, span parent), except for `Scope`: every task gets a scope
   * of its own, closed when the task ends, so that what it acquires lives
   * exactly as long as it runs.
   */
  readonly submit: {
    <A, E, R, const O extends SubmitOptions | undefined = undefined>(
      task: Effect.Effect<A, E, R>,
      options?: O & OnlyKnown<O, SubmitOptions>
    ): Effect.Effect<Task.Task<A, E | TimeoutOf<O>>, ExecutorClosedError, Exclude<R, Scope.Scope>>
    <A, E, R>(
      task: Effect.Effect<A, E, R>,
      options?: SubmitOptions
    ): Effect.Effect<Task.Task<A, E | TaskTimeoutError>, ExecutorClosedError, Exclude<R, Scope.Scope>>
  }
  /**
   * Waits until every task that the exit would wait for has ended: tasks
   * submitted with `cancelOnExit` are not waited for (the exit interrupts
   * them instead), so a program with a cancel-on-exit heartbeat can still
   * `join`. Not from inside one of the executor's own tasks: the executor is
   * not idle while that task runs, so it would wait for ever.
   */
  readonly awaitIdle: Effect.Effect<void>
  /**
   * Waits like `awaitIdle`, then fails with the failures of `reraiseOnExit`
   * tasks that have not been reported yet; reported ones are not raised again
   * when the scope ends. Failures taken by a `join` that is interrupted
   * before it can fail are kept for the next `join` or the exit. Like
   * `awaitIdle`, not from inside one of the executor's own tasks.
   */
  readonly join: Effect.Effect<void, TaskFailedError>
  /** A snapshot of the executor's counters. */
  readonly stats: Effect.Effect<Stats>
  /**
   * Changes how many tasks may run at once (an integer from 1 up, or
   * `Infinity`). Growing starts queued tasks at once; shrinking interrupts
   * nothing: running tasks finish, and none starts until fewer than the new
   * bound run. A bad value dies with `InvalidArgumentError`.
   */
  readonly resize: (maxConcurrency: number) => Effect.Effect<void>
  /**
   * Stops starting tasks: `submit` still queues them (and `maxQueue` still
   * applies), running tasks go on, and start deadlines keep running. Closing
   * a paused executor resumes it first, and `pause` does nothing once the
   * close has begun: the exit waits for the queued tasks, so they must be
   * able to start.
   */
  readonly pause: Effect.Effect<void>
  /** Starts queued tasks again after {@link pause}, as many as permits allow. */
  readonly resume: Effect.Effect<void>
  /**
   * A snapshot of the unfinished tasks: those holding a permit (in id
   * order), then the queued ones in the order they would start (with
   * priorities: highest first, then by submission), each with its parent — the
   * task that submitted it, in this executor or another. Built when it runs;
   * keeping the data it reads costs each task three fields and no clock read
   * (times are known for the timed tasks, see `TaskInfo`).
   */
  readonly tasks: Effect.Effect<ReadonlyArray<TaskInfo>>
  /**
   * Every task's steps (submitted, started, ended with its outcome) from the
   * moment the stream starts, in order; the stream ends once the executor
   * has closed. Events are made only while someone consumes it, and are
   * published in batches, one per synchronous run of the executor. Each
   * subscriber's buffer is bounded (16 batches of at most 4,096 events) with
   * the dropping strategy: a subscriber that falls that far behind misses
   * the newest events — the executor and the other subscribers never wait
   * for it — and sees the gap in `sequence`; `tasks` resynchronises.
   */
  readonly changes: Stream.Stream<TaskEvent>
}

/**
 * `TaskTimeoutError` when submit options `O` may carry a `timeout`,
 * `startTimeout` or `deadline`, otherwise `never`: the error a task's `join`
 * can fail with besides its own.
 *
 * @example
 * ```ts
 * import type { BackgroundExecutor } from "@taskscope/executor"
 *
 * type Timed = BackgroundExecutor.TimeoutOf<{ timeout: "1 second" }> // TaskTimeoutError
 * type Plain = BackgroundExecutor.TimeoutOf<{ name: "x" }> // never
 * ```
 *
 * @category models
 * @since 0.2.0
 */
export type TimeoutOf<O> = IsAny<O> extends true ? TaskTimeoutError // options of unknown shape may set any
  : O extends undefined ? never
  : [O[keyof O & ("timeout" | "startTimeout" | "deadline")]] extends [undefined] ? never
  : TaskTimeoutError

/** `true` for `any` (which a conditional type would otherwise distribute to `never` here). */
type IsAny<T> = 0 extends 1 & T ? true : false

/**
 * The constraint on an options argument whose type is inferred (`const O`,
 * read by {@link TimeoutOf} and {@link CloseTimeoutOf}): every property of
 * `O` that `Known` lacks is typed `never`, so that a misspelled option is a
 * compile error, as it is for an options argument typed `Known`. Each
 * signature that takes it is followed by one typed `Known`, with the wider
 * error type, which takes what cannot be checked this way: options of a
 * generic type, and a variable with properties of its own.
 *
 * @example
 * ```ts
 * import type { BackgroundExecutor } from "@taskscope/executor"
 *
 * type Known = BackgroundExecutor.SubmitOptions
 * declare const configure: <const O extends Known>(options: O & BackgroundExecutor.OnlyKnown<O, Known>) => void
 * configure({ name: "a", cancelOnExit: true })
 * // configure({ name: "a", cancelOnExt: true }) does not compile: `cancelOnExt` is `never`
 * ```
 *
 * @category models
 * @since 0.2.0
 */
export type OnlyKnown<O, Known> = O extends undefined ? unknown
  : { readonly [K in Exclude<keyof O, keyof Known>]: never }

/**
 * `CloseTimeoutError` when executor options `O` may carry a `closeTimeout`,
 * otherwise `never`: what `scoped` can fail with besides `TaskFailedError`.
 *
 * @example
 * ```ts
 * import type { BackgroundExecutor } from "@taskscope/executor"
 *
 * type Graceful = BackgroundExecutor.CloseTimeoutOf<{ closeTimeout: 5000 }> // CloseTimeoutError
 * ```
 *
 * @category models
 * @since 0.2.0
 */
export type CloseTimeoutOf<O> = IsAny<O> extends true ? CloseTimeoutError
  : O extends undefined ? never
  : [O[keyof O & "closeTimeout"]] extends [undefined] ? never
  : CloseTimeoutError

/**
 * Options of an executor.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** How many tasks may run at once: an integer from 1 up, or `Infinity` (the default). */
  readonly maxConcurrency?: number | undefined
  /**
   * How many tasks may wait for a permit: an integer from 1 up, or `Infinity`
   * (the default). When the queue is full, `submit` suspends (backpressure)
   * until the queue has drained to half its bound, so a producer holds at
   * most `maxConcurrency + maxQueue` tasks in memory and is woken once per
   * `maxQueue / 2` tasks rather than once per task. Suspended submitters are
   * let in first come, first served, ahead of new ones. Submissions from the
   * executor's own tasks (and fibers they fork) are never suspended: the
   * queue can drain only through the permits those tasks hold, so waiting
   * there could deadlock; children of running tasks may exceed `maxQueue`.
   */
  readonly maxQueue?: number | undefined
  /**
   * How many tasks of one `key` (a submit option) may run at once: an
   * integer from 1 up, or `Infinity`. A key at its bound never holds up
   * tasks of other keys queued behind it, and each key's tasks start in
   * their own (priority, submission) order. Tasks without a key are not
   * limited by it. Without this option, submitting a `key` is an error.
   */
  readonly maxConcurrencyPerKey?: number | undefined
  /**
   * The grace period of the close (rule 2): when it passes, every task still
   * unfinished — queued or running — is interrupted, the close waits until
   * each has really ended, and the exit raises a `CloseTimeoutError` listing
   * them (and carrying any failures not reported). Interrupting the owner
   * never shortens the wait; only this does. Default: none (wait for ever).
   */
  readonly closeTimeout?: Duration.Input | undefined
  /**
   * Marks failures that are control signals, not errors (LangGraph's
   * `GraphBubbleUp`). It receives each error or defect of a failed task; a
   * failure made only of such signals is never re-raised on exit.
   */
  readonly bubbleUp?: ((error: unknown) => boolean) | undefined
  /**
   * Names the executor: the `executor` attribute of its metric series and
   * spans, and the executor of its `TaskInfo`s. Default `"default"`.
   * Executors of one name share their series (their counts add up).
   */
  readonly name?: string | undefined
  /**
   * Keep the `taskscope_*` metric series (see the README). Default `true`;
   * `false` leaves a task nothing to pay for metrics.
   */
  readonly metrics?: boolean | undefined
  /**
   * Spans: by default only named tasks run in a span of their own (a span
   * costs more than a trivial task); `true` gives every task one, unnamed
   * ones called `task-<id>`; `false` none.
   */
  readonly tracing?: boolean | undefined
}

/**
 * Options of one submission.
 *
 * @category models
 * @since 0.1.0
 */
export interface SubmitOptions {
  /**
   * Names the task: a named task runs in a span of that name (a child of
   * the submitter's span) and with a `task` log annotation; the name appears
   * in errors. An unnamed task is called `task-<id>` in errors, on its
   * handle and in `tasks`; it runs in its submitter's span with no
   * annotation, unless the executor has `tracing: true` (spans cost time).
   */
  readonly name?: string | undefined
  /** Interrupt the task, queued or running, when the executor's scope ends. Default `false`. */
  readonly cancelOnExit?: boolean | undefined
  /** Raise the task's failure when the executor's scope ends. Default `true`. */
  readonly reraiseOnExit?: boolean | undefined
  /** Start the task only once the submitter yields, not before `submit` returns. Default `false`. */
  readonly nextTick?: boolean | undefined
  /**
   * A run deadline, counted from the task's start: when it passes the task
   * is interrupted and fails with `TaskTimeoutError { phase: "run" }` once it
   * has really ended; its permit is held until then.
   */
  readonly timeout?: Duration.Input | undefined
  /**
   * A deadline to start, counted from `submit`: a task still queued then is
   * removed without running and fails with `TaskTimeoutError { phase: "queue" }`.
   * A task that can take a permit at `submit` starts even at its deadline's
   * instant (`0`: start now or never); a queued one whose permit frees exactly
   * then does not.
   */
  readonly startTimeout?: Duration.Input | undefined
  /**
   * One absolute budget for both phases (a `Date` or epoch milliseconds):
   * time spent queued uses it up, the run gets what is left. Already past at
   * `submit`: the task fails at once with `phase: "queue"`.
   */
  readonly deadline?: Date | number | undefined
  /** Higher starts first among queued tasks; equal priorities keep submission order. Default `0`. */
  readonly priority?: number | undefined
  /** The task's key, limited by the executor's `maxConcurrencyPerKey`. */
  readonly key?: string | undefined
}

/**
 * Counters of an executor. `queued + running` tasks are unfinished;
 * `succeeded + failed + interrupted` have ended; `timedOut` of the failed
 * ones failed with their own `TaskTimeoutError`.
 *
 * @category models
 * @since 0.1.0
 */
export interface Stats {
  readonly submitted: number
  readonly queued: number
  readonly running: number
  readonly succeeded: number
  readonly failed: number
  readonly interrupted: number
  /** Failed tasks that passed their `timeout`, `startTimeout` or `deadline` (counted in `failed` too). */
  readonly timedOut: number
}

/**
 * The body of {@link scoped}: an effect that may use the
 * `BackgroundExecutor` service, or a function of the executor.
 *
 * @category models
 * @since 0.1.0
 */
export type Body<A, E, R> = Effect.Effect<A, E, R> | ((executor: Executor) => Effect.Effect<A, E, R>)

// -----------------------------------------------------------------------------
// service
// -----------------------------------------------------------------------------

/**
 * The service key of an {@link Executor}, provided by {@link layer} and
 * {@link scoped}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { BackgroundExecutor } from "@taskscope/executor"
 *
 * const program = Effect.gen(function*() {
 *   const executor = yield* BackgroundExecutor.BackgroundExecutor
 *   yield* executor.submit(Effect.log("in the background"))
 * }).pipe(Effect.provide(BackgroundExecutor.layer()))
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export class BackgroundExecutor extends Context.Service<BackgroundExecutor, Executor>()(
  "@taskscope/executor/BackgroundExecutor"
) {}

// -----------------------------------------------------------------------------
// constructors
// -----------------------------------------------------------------------------

/**
 * `Effect.isEffect`, without its `dual` wrapper: the check runs on every
 * submit, and the wrapper's argument juggling cost a trivial task 5% of its
 * time (CPU profile of bench (a)).
 */
const isEffect = (u: unknown): u is Effect.Effect<unknown, unknown, unknown> =>
  (typeof u === "object" || typeof u === "function") && u !== null && Effect.TypeId in u

/** Wraps the machinery in the public interface; checks `submit`'s arguments. */
const fromCore = (executor: core.ExecutorCore): Executor => ({
  submit: <A, E, R>(task: Effect.Effect<A, E, R>, options?: SubmitOptions) =>
    Effect.withFiber<Task.Task<A, E>, ExecutorClosedError, Exclude<R, Scope.Scope>>((fiber) => {
      if (!isEffect(task)) {
        return Effect.die(new InvalidArgumentError({ argument: "task", value: task, expected: "an Effect" }))
      }
      return executor.submit(task, core.makeSubmission(options, executor.keyed), fiber)
    }) as any,
  awaitIdle: executor.awaitIdle,
  join: executor.join,
  stats: executor.stats,
  resize: (maxConcurrency) =>
    Effect.sync(() => {
      // the option's checker reads undefined as "left out"; here a value is required
      if (maxConcurrency === undefined) {
        throw new InvalidArgumentError({
          argument: "maxConcurrency",
          value: undefined,
          expected: "an integer from 1 and up, or Infinity"
        })
      }
      executor.resize(Check.positiveIntegerOrInfinity("maxConcurrency", maxConcurrency, 0))
    }),
  pause: Effect.sync(() => executor.pause()),
  resume: Effect.sync(() => executor.resume()),
  tasks: executor.tasks,
  changes: executor.changes
})

/** Makes the machinery in the context of the fiber making the executor (its clock, its metric registry). */
const makeCore = (options: Options | undefined): Effect.Effect<core.ExecutorCore> =>
  Effect.withFiber((fiber) =>
    Effect.succeed(new core.ExecutorCore(core.makeConfig(options), makeSettings(options), fiber.context))
  )

/**
 * Creates an executor that lives as long as the current scope. When the
 * scope closes, the exit rules apply; failures not surfaced by `join` become
 * a defect carrying the {@link TaskFailedError} (a finalizer cannot fail with
 * a typed error), unless the scope itself failed, whose error then wins.
 *
 * Bad options die at once with an error naming the option and its value.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { BackgroundExecutor } from "@taskscope/executor"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const executor = yield* BackgroundExecutor.make({ maxConcurrency: 8 })
 *   yield* executor.submit(Effect.log("tick"), { name: "tick" })
 *   yield* executor.join
 * }))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options?: Options): Effect.Effect<Executor, never, Scope.Scope> =>
  // uninterruptible: an interruption between the two steps would leave an executor made (its
  // series registered, its pools kept) that no finalizer ever closes
  Effect.uninterruptible(Effect.flatMap(
    makeCore(options),
    (executor) => Effect.as(Effect.addFinalizer((exit) => core.finalize(executor, exit)), fromCore(executor))
  ))

/**
 * A layer that provides one {@link BackgroundExecutor} to a program, closed
 * with the exit rules when the layer is released.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { BackgroundExecutor } from "@taskscope/executor"
 *
 * const program = BackgroundExecutor.submit(Effect.log("hi")).pipe(
 *   Effect.provide(BackgroundExecutor.layer({ maxConcurrency: 16 }))
 * )
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options?: Options): Layer.Layer<BackgroundExecutor> =>
  Layer.effect(BackgroundExecutor, make(options))

/**
 * Runs `body` with a fresh executor and applies the exit rules when it ends
 * (the `async with` of the original): cancel-on-exit tasks are interrupted,
 * the others awaited — even if the caller is interrupted meanwhile — and,
 * if `body` succeeded, the first re-raisable task failure fails the result
 * with a {@link TaskFailedError}. If `body` failed, its error wins and
 * the task failures are logged as a warning (as `make` and `layer` do).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { BackgroundExecutor } from "@taskscope/executor"
 *
 * const program = BackgroundExecutor.scoped(
 *   (executor) => executor.submit(Effect.log("in the background")),
 *   { maxConcurrency: 2 }
 * )
 * // or: body.pipe(BackgroundExecutor.scoped({ maxConcurrency: 2 }))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const scoped: {
  <const O extends Options | undefined = undefined>(
    options?: O & OnlyKnown<O, Options>
  ): <A, E, R>(
    body: Body<A, E, R>
  ) => Effect.Effect<A, E | TaskFailedError | CloseTimeoutOf<O>, Exclude<R, BackgroundExecutor>>
  <A, E, R, const O extends Options | undefined = undefined>(
    body: Body<A, E, R>,
    options?: O & OnlyKnown<O, Options>
  ): Effect.Effect<A, E | TaskFailedError | CloseTimeoutOf<O>, Exclude<R, BackgroundExecutor>>
  <A, E, R>(
    body: Body<A, E, R>,
    options?: Options
  ): Effect.Effect<A, E | TaskFailedError | CloseTimeoutError, Exclude<R, BackgroundExecutor>>
  (
    options?: Options
  ): <A, E, R>(
    body: Body<A, E, R>
  ) => Effect.Effect<A, E | TaskFailedError | CloseTimeoutError, Exclude<R, BackgroundExecutor>>
} = dual(
  // an Effect, a function or a promise (an `async` body given directly, refused) is the body;
  // anything else, options (a bad value is refused naming `options`)
  (args) => args.length >= 2 || isBodyArgument(args[0]),
  <A, E, R>(body: Body<A, E, R>, options?: Options) =>
    Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(makeCore(options), (executor) => {
        const service = fromCore(executor)
        // inside the exit: a body that throws or gives no Effect still closes the executor
        const effect = Effect.suspend(() => {
          // an Effect first: a service key (`Context.Service`) is an Effect and a class at once
          const given: unknown = isEffect(body) ? body : typeof body === "function" ? body(service) : body
          return isEffect(given) ? given as Effect.Effect<A, E, R> : Effect.die(
            new InvalidArgumentError({
              argument: "body",
              value: given,
              expected: "an Effect, or a function of the executor that returns one"
            })
          )
        })
        return Effect.flatMap(
          Effect.exit(restore(Effect.provideService(effect, BackgroundExecutor, service))),
          (exit) =>
            Effect.flatMap(
              Effect.andThen(executor.close, executor.finalFailure),
              (failure) => core.resolveExit(exit, failure)
            )
        )
      })
    )
)

// -----------------------------------------------------------------------------
// accessors
// -----------------------------------------------------------------------------

/** A promise, or anything with a `then` method: a common slip for an Effect. */
const isThenable = (u: unknown): boolean =>
  typeof u === "object" && u !== null && typeof (u as { readonly then?: unknown }).then === "function"

/** Whether the one argument of `scoped` is its body (data-first): an Effect, a function, or a promise. */
const isBodyArgument = (u: unknown): boolean => Effect.isEffect(u) || typeof u === "function" || isThenable(u)

/**
 * Whether the one argument of `submit` is its options (data-last): left out,
 * or any object that is neither an `Effect` nor a promise (a common slip for
 * a task) — a class instance or an object made with `Object.create(defaults)`
 * as well as a literal. Anything else is taken for the task, which then
 * fails naming `task`.
 */
const isOptionsArgument = (u: unknown): boolean =>
  u === undefined || (typeof u === "object" && u !== null && !Effect.isEffect(u) && !isThenable(u))

/**
 * Submits `task` to the {@link BackgroundExecutor} in context. Data-first
 * `submit(task, options)` or data-last `task.pipe(submit(options))`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { BackgroundExecutor } from "@taskscope/executor"
 *
 * const program = BackgroundExecutor.scoped(Effect.gen(function*() {
 *   yield* BackgroundExecutor.submit(Effect.log("a"), { name: "a" })
 *   yield* Effect.log("b").pipe(BackgroundExecutor.submit({ name: "b", cancelOnExit: true }))
 * }))
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const submit: {
  <const O extends SubmitOptions | undefined = undefined>(
    options?: O & OnlyKnown<O, SubmitOptions>
  ): <A, E, R>(
    task: Effect.Effect<A, E, R>
  ) => Effect.Effect<Task.Task<A, E | TimeoutOf<O>>, ExecutorClosedError, Exclude<R, Scope.Scope> | BackgroundExecutor>
  <A, E, R, const O extends SubmitOptions | undefined = undefined>(
    task: Effect.Effect<A, E, R>,
    options?: O & OnlyKnown<O, SubmitOptions>
  ): Effect.Effect<Task.Task<A, E | TimeoutOf<O>>, ExecutorClosedError, Exclude<R, Scope.Scope> | BackgroundExecutor>
  <A, E, R>(
    task: Effect.Effect<A, E, R>,
    options?: SubmitOptions
  ): Effect.Effect<
    Task.Task<A, E | TaskTimeoutError>,
    ExecutorClosedError,
    Exclude<R, Scope.Scope> | BackgroundExecutor
  >
  (
    options?: SubmitOptions
  ): <A, E, R>(
    task: Effect.Effect<A, E, R>
  ) => Effect.Effect<
    Task.Task<A, E | TaskTimeoutError>,
    ExecutorClosedError,
    Exclude<R, Scope.Scope> | BackgroundExecutor
  >
} = dual(
  (args) => args.length >= 2 || !isOptionsArgument(args[0]),
  <A, E, R>(task: Effect.Effect<A, E, R>, options?: SubmitOptions) =>
    Effect.flatMap(BackgroundExecutor, (executor) => executor.submit(task, options))
)

/**
 * Waits until the {@link BackgroundExecutor} in context has no unfinished
 * task but `cancelOnExit` ones. Never from inside one of its own tasks: that
 * task keeps it busy, so the wait would never end.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { BackgroundExecutor } from "@taskscope/executor"
 *
 * const program = BackgroundExecutor.scoped(Effect.gen(function*() {
 *   yield* BackgroundExecutor.submit(Effect.sleep("1 second"))
 *   yield* BackgroundExecutor.awaitIdle
 * }))
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const awaitIdle: Effect.Effect<void, never, BackgroundExecutor> = Effect.flatMap(
  BackgroundExecutor,
  (executor) => executor.awaitIdle
)

/**
 * Waits until the {@link BackgroundExecutor} in context is idle, then fails
 * with the task failures not reported yet. Never from inside one of its own
 * tasks (see {@link awaitIdle}).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { BackgroundExecutor } from "@taskscope/executor"
 *
 * const program = Effect.gen(function*() {
 *   yield* BackgroundExecutor.submit(Effect.fail("boom"))
 *   yield* BackgroundExecutor.join // fails with TaskFailedError
 * }).pipe(Effect.provide(BackgroundExecutor.layer()))
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const join: Effect.Effect<void, TaskFailedError, BackgroundExecutor> = Effect.flatMap(
  BackgroundExecutor,
  (executor) => executor.join
)

/**
 * The counters of the {@link BackgroundExecutor} in context.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { BackgroundExecutor } from "@taskscope/executor"
 *
 * const program = BackgroundExecutor.scoped(Effect.gen(function*() {
 *   yield* BackgroundExecutor.submit(Effect.void)
 *   return yield* BackgroundExecutor.stats // { submitted: 1, succeeded: 1, ... }
 * }))
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const stats: Effect.Effect<Stats, never, BackgroundExecutor> = Effect.flatMap(
  BackgroundExecutor,
  (executor) => executor.stats
)

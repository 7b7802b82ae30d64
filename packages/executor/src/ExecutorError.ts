/**
 * The typed errors of every taskscope executor.
 *
 * - {@link TaskFailedError}: tasks flagged `reraiseOnExit` failed, and the
 *   scope that owned them is ending (or `join` was asked).
 * - {@link TaskTimeoutError}: a task passed its `timeout`, `startTimeout` or
 *   `deadline` (what its `join` fails with).
 * - {@link CloseTimeoutError}: the executor's `closeTimeout` passed while it
 *   closed, and the tasks still unfinished were interrupted.
 * - {@link ExecutorClosedError}: `submit` was called on a closed executor.
 * - {@link InvalidArgumentError}: a bad option or argument; executors die
 *   with it (a defect: it is a programming error, not a runtime condition).
 *
 * @since 0.1.0
 */
import type * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import { attempt, describe, messageOf, otherReasons, print, squash } from "./internal/describe.ts"

/**
 * One failed task, as {@link TaskFailedError} reports it.
 *
 * @category models
 * @since 0.1.0
 */
export interface TaskFailure {
  readonly taskId: number
  readonly taskName: string
  readonly cause: Cause.Cause<unknown>
}

/**
 * Raised when an executor's scope ends (or `join` is called) and tasks
 * submitted with `reraiseOnExit: true` failed. It names the first of them in
 * submission order and carries its cause; `failures` lists every re-raisable
 * failure in submission order, so none is lost. Interruptions and failures
 * marked by the executor's `bubbleUp` predicate never count.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { BackgroundExecutor } from "@taskscope/executor"
 *
 * const program = BackgroundExecutor.scoped(
 *   BackgroundExecutor.submit(Effect.fail("boom"), { name: "fetch" })
 * ).pipe(
 *   Effect.catchTag("TaskFailedError", (error) => Effect.succeed(`${error.taskName} failed`))
 * )
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class TaskFailedError extends Data.TaggedError("TaskFailedError")<{
  /** The id of the first failed task (submission order). */
  readonly taskId: number
  /** The name of the first failed task. */
  readonly taskName: string
  /** How the first failed task failed. */
  readonly cause: Cause.Cause<unknown>
  /** Every re-raisable failure, in submission order; the first is the one above. */
  readonly failures: ReadonlyArray<TaskFailure>
}> {
  /**
   * Builds the error from a non-empty list of failures in submission order.
   *
   * @since 0.1.0
   */
  static fromFailures(failures: readonly [TaskFailure, ...Array<TaskFailure>]): TaskFailedError {
    const [first] = failures
    return new TaskFailedError({ taskId: first.taskId, taskName: first.taskName, cause: first.cause, failures })
  }

  /**
   * The first failure's reason and how many more there are. Built to never
   * throw, whatever `cause` and `failures` hold: a test runner may have
   * replaced `cause` with a plain copy by the time the message is read.
   */
  override get message(): string {
    const failures: unknown = this.failures
    const others = attempt(() => Array.isArray(failures) ? failures.length - 1 : 0, 0)
    // a cause with several reasons (a failure and a defect, parallel failures) says so: the one named
    // may not be the one that matters (a bubble-up signal next to a defect is re-raised for the defect)
    const reasons = otherReasons(this.cause)
    const also = reasons.length === 0 ? "" : ` (also in its cause: ${messageOf(reasons[0])}` +
      (reasons.length > 1 ? `, and ${reasons.length - 1} more)` : ")")
    return `Task ${quoted(this.taskName)} (#${print(this.taskId)}) failed: ${messageOf(squash(this.cause))}${also}` +
      (others > 0 ? ` (and ${others} more failed task${others === 1 ? "" : "s"})` : "")
  }
}

/** A name in quotes; anything that is not a string, printed. */
const quoted = (name: unknown): string => typeof name === "string" ? `"${name}"` : print(name)

/** The first five of a list of tasks, by name and id ("" for none, or for anything that is no list). */
const taskNames = (tasks: unknown): string =>
  attempt(
    () =>
      Array.isArray(tasks)
        ? tasks.slice(0, 5).map((task) => `${quoted(task?.taskName)} (#${print(task?.taskId)})`).join(", ") +
          (tasks.length > 5 ? ` and ${tasks.length - 5} more` : "")
        : "",
    ""
  )

/**
 * Raised by `submit` once the executor has closed: its scope has ended and
 * every task it held has finished. While it is closing it still accepts
 * submissions (a running task may spawn children).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { BackgroundExecutor } from "@taskscope/executor"
 *
 * const program = Effect.gen(function*() {
 *   const executor = yield* Effect.scoped(BackgroundExecutor.make())
 *   return yield* executor.submit(Effect.void)
 * }) // fails with ExecutorClosedError
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class ExecutorClosedError extends Data.TaggedError("ExecutorClosedError")<{
  /** The name the rejected task would have had, if one was given. */
  readonly taskName: string | undefined
}> {
  override get message(): string {
    return `Cannot submit ${
      this.taskName === undefined ? "a task" : `task ${quoted(this.taskName)}`
    }: the executor is closed`
  }
}

/**
 * A bad option or argument, such as `maxConcurrency: 0` or a `submit` of
 * something that is not an effect. Executors die with it at once, with a
 * message that names the option and the value it got, in the manner of
 * p-queue: ``Expected `maxConcurrency` to be an integer from 1 and up, or
 * Infinity, got 0 (number)``.
 *
 * @example
 * ```ts
 * import { Cause, Effect } from "effect"
 * import { BackgroundExecutor, ExecutorError } from "@taskscope/executor"
 *
 * const program = BackgroundExecutor.scoped(Effect.void, { maxConcurrency: 0 }).pipe(
 *   Effect.catchDefect((defect) =>
 *     defect instanceof ExecutorError.InvalidArgumentError ? Effect.succeed(defect.argument) : Effect.die(defect))
 * ) // succeeds with "maxConcurrency"
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidArgumentError extends Data.TaggedError("InvalidArgumentError")<{
  /** The option or argument, e.g. `maxConcurrency`. */
  readonly argument: string
  /** The value it got. */
  readonly value: unknown
  /** What it should have been, e.g. `a boolean`. */
  readonly expected: string
}> {
  override get message(): string {
    return `Expected \`${print(this.argument)}\` to be ${print(this.expected)}, got ${describe(this.value)}`
  }
}

/** A duration as people read it; anything else, printed. */
const span = (duration: unknown): string =>
  attempt(() => Duration.isDuration(duration) ? Duration.format(duration) : print(duration), "an unknown time")

/**
 * A task passed its deadline. `phase: "queue"`: it was still waiting for a
 * permit when its `startTimeout` (or `deadline`) passed, and was removed
 * without running. `phase: "run"`: it was running when its `timeout` (or
 * what was left of its `deadline`) passed; it was interrupted, and its
 * permit was held until it had really ended (its finalizers ran).
 * `timeout` is the time it was given: the option's value, or for a
 * `deadline` the time from submission (queue) or from its start (run) to it.
 *
 * A timeout is a failure like any other: the task's `join` fails with it,
 * and it is re-raised on exit (inside a {@link TaskFailedError}) unless the
 * task was submitted with `reraiseOnExit: false`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { BackgroundExecutor, Task } from "@taskscope/executor"
 *
 * const program = BackgroundExecutor.scoped(Effect.gen(function*() {
 *   const task = yield* BackgroundExecutor.submit(Effect.never, { timeout: "1 second", reraiseOnExit: false })
 *   return yield* Task.join(task).pipe(
 *     Effect.catchTag("TaskTimeoutError", (error) => Effect.succeed(error.phase)) // "run"
 *   )
 * }))
 * ```
 *
 * @category errors
 * @since 0.2.0
 */
export class TaskTimeoutError extends Data.TaggedError("TaskTimeoutError")<{
  /** The task's name (`task-<id>` when it has none). */
  readonly taskName: string
  /** Whether it timed out waiting to start (`"queue"`) or running (`"run"`). */
  readonly phase: "run" | "queue"
  /** The time it was given for that phase. */
  readonly timeout: Duration.Duration
}> {
  override get message(): string {
    return `Task ${quoted(this.taskName)} timed out ${
      this.phase === "queue" ? "waiting to start" : this.phase === "run" ? "running" : `in phase ${print(this.phase)}`
    } after ${span(this.timeout)}`
  }
}

/**
 * A task that a close interrupted when its grace period ran out, as
 * {@link CloseTimeoutError} lists it.
 *
 * @example
 * ```ts
 * import type { ExecutorError } from "@taskscope/executor"
 *
 * const task: ExecutorError.InterruptedTask = { taskId: 3, taskName: "crawl", state: "running" }
 * ```
 *
 * @category models
 * @since 0.2.0
 */
export interface InterruptedTask {
  readonly taskId: number
  readonly taskName: string
  /** Whether it was still waiting for a permit or already running. */
  readonly state: "queued" | "running"
}

/**
 * The executor's `closeTimeout` passed before the tasks the close waits for
 * had ended: they were interrupted (Java's `shutdownNow`) and count as
 * interrupted in `stats`; `interrupted` lists them in submission order, and
 * `endedOtherwise` those that ended otherwise all the same (an
 * uninterruptible part, finalizers already running). The close still
 * waited until each had really ended. Failures of re-raisable
 * tasks not reported yet are carried in `failures`, so none is lost.
 *
 * `scoped` fails with it (the body's own error wins, as for
 * {@link TaskFailedError}); `make` and `layer` die with it.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { BackgroundExecutor } from "@taskscope/executor"
 *
 * const program = BackgroundExecutor.scoped(
 *   BackgroundExecutor.submit(Effect.never, { name: "stuck" }),
 *   { closeTimeout: "5 seconds" }
 * ).pipe(
 *   Effect.catchTag("CloseTimeoutError", (error) => Effect.succeed(error.interrupted.map((t) => t.taskName)))
 * ) // succeeds with ["stuck"] after 5 seconds
 * ```
 *
 * @category errors
 * @since 0.2.0
 */
export class CloseTimeoutError extends Data.TaggedError("CloseTimeoutError")<{
  /** The grace period that passed. */
  readonly timeout: Duration.Duration
  /** The tasks it interrupted, in submission order. */
  readonly interrupted: ReadonlyArray<InterruptedTask>
  /**
   * The tasks unfinished when it passed that ended otherwise — succeeded or
   * failed all the same (an uninterruptible part, finalizers already
   * running) — in submission order (possibly none).
   */
  readonly endedOtherwise?: ReadonlyArray<InterruptedTask> | undefined
  /** Re-raisable task failures not reported yet, in submission order (possibly none). */
  readonly failures: ReadonlyArray<TaskFailure>
}> {
  override get message(): string {
    const names = taskNames(this.interrupted)
    const others = taskNames(this.endedOtherwise)
    const failures: unknown = this.failures
    const failed = attempt(() => Array.isArray(failures) ? failures.length : 0, 0)
    const parts = [
      names !== "" ? `interrupted ${names}` : others === "" ? "interrupted no task" : "",
      others !== "" ? `${others} ended otherwise` : ""
    ].filter((part) => part !== "")
    return `The executor did not close within ${span(this.timeout)}: ${parts.join("; ")}` +
      (failed > 0 ? ` (and ${failed} task${failed === 1 ? "" : "s"} had failed)` : "")
  }
}

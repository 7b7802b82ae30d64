/**
 * The typed errors of every taskscope executor.
 *
 * - {@link TaskFailedError}: tasks flagged `reraiseOnExit` failed, and the
 *   scope that owned them is ending (or `join` was asked).
 * - {@link ExecutorClosedError}: `submit` was called on a closed executor.
 * - {@link InvalidArgumentError}: a bad option or argument; executors die
 *   with it (a defect: it is a programming error, not a runtime condition).
 *
 * @since 0.1.0
 */
import type * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import { attempt, describe, messageOf, print, squash } from "./internal/describe.ts"

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
    return `Task ${quoted(this.taskName)} (#${print(this.taskId)}) failed: ${messageOf(squash(this.cause))}` +
      (others > 0 ? ` (and ${others} more failed task${others === 1 ? "" : "s"})` : "")
  }
}

/** A name in quotes; anything that is not a string, printed. */
const quoted = (name: unknown): string => typeof name === "string" ? `"${name}"` : print(name)

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

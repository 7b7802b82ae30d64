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
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"

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

  override get message(): string {
    const others = this.failures.length - 1
    const reason = Cause.squash(this.cause)
    const text = reason instanceof globalThis.Error ? reason.message : String(reason)
    return `Task "${this.taskName}" (#${this.taskId}) failed: ${text}` +
      (others > 0 ? ` (and ${others} more failed task${others === 1 ? "" : "s"})` : "")
  }
}

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
    return `Cannot submit ${this.taskName === undefined ? "a task" : `task "${this.taskName}"`}: the executor is closed`
  }
}

/** Renders a value the way an error message should show it: `0 (number)`. */
const describe = (value: unknown): string => {
  if (typeof value === "string") return `${JSON.stringify(value)} (string)`
  if (typeof value === "function") return `a function${value.name ? ` (${value.name})` : ""}`
  if (value === null || value === undefined) return String(value)
  if (typeof value === "object") {
    const constructorName = (value as object).constructor?.name
    return constructorName && constructorName !== "Object" ? `an instance of ${constructorName}` : "an object"
  }
  return `${String(value)} (${typeof value})`
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
    return `Expected \`${this.argument}\` to be ${this.expected}, got ${describe(this.value)}`
  }
}

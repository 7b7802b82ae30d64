/**
 * The typed errors of a `WorkerExecutor` call, besides the task's own typed
 * error. Each fails only the call it belongs to, and its message names the
 * task and, where there is one, the bad value.
 *
 * - {@link WorkerCrashedError}: the thread died (exit, uncaught error, out of
 *   memory, failed start) or the task's function threw a defect.
 * - {@link UnknownTaskError}: no task of that name (from untyped code).
 * - {@link InvalidPayloadError}: the payload fails its Schema or cannot be cloned.
 * - {@link InvalidResultError}: the result fails its Schema or cannot be cloned.
 *
 * The last three are the classes of `@taskscope/executor/TaskSetError`,
 * which a `ClusterExecutor` raises too.
 *
 * A message never throws, whatever the fields hold: values are described
 * (never converted with `String`), so an error whose fields a test runner has
 * replaced with plain copies still reads.
 *
 * @since 0.1.0
 */
import { print } from "@taskscope/executor/internal/describe"
import type { InvalidPayloadError, InvalidResultError, UnknownTaskError } from "@taskscope/executor/TaskSetError"
import * as Data from "effect/Data"

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
 * import type { WorkerError } from "@taskscope/node"
 *
 * declare const task: Task.Task<number, WorkerError.WorkerTaskError>
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
    return `Task "${print(this.task)}" crashed its worker: ${print(this.reason)}`
  }
}

// The task set's errors: the classes of `@taskscope/executor/TaskSetError`,
// shared by the executors of task sets.
export {
  /**
   * The payload does not fit the task's payload Schema, or cannot be cloned to a worker thread.
   *
   * @category errors
   * @since 0.1.0
   * @example
   * ```ts
   * import { WorkerError } from "@taskscope/node"
   *
   * new WorkerError.InvalidPayloadError({ task: "fib", payload: "ten", issue: "Expected number" }).message
   * // 'Invalid payload for task "fib": "ten": Expected number'
   * ```
   */
  InvalidPayloadError,
  /**
   * What the task returned (or failed with) does not fit its success (or error) Schema.
   *
   * @category errors
   * @since 0.1.0
   * @example
   * ```ts
   * import { WorkerError } from "@taskscope/node"
   *
   * new WorkerError.InvalidResultError({ task: "f", part: "error", issue: "Expected string" }).message
   * // 'Invalid error from task "f": Expected string'
   * ```
   */
  InvalidResultError,
  /**
   * No task of that name in the task set (possible from untyped code only).
   *
   * @category errors
   * @since 0.1.0
   * @example
   * ```ts
   * import { WorkerError } from "@taskscope/node"
   *
   * new WorkerError.UnknownTaskError({ task: "fibb", known: ["fib"] }).message
   * // 'Unknown task "fibb"; the task set has: "fib"'
   * ```
   */
  UnknownTaskError
} from "@taskscope/executor/TaskSetError"

/**
 * Every way a call can fail besides the task's own typed error.
 *
 * @category errors
 * @since 0.1.0
 * @example
 * ```ts
 * import type { WorkerError } from "@taskscope/node"
 *
 * const describe = (error: WorkerError.WorkerTaskError): string => `${error._tag}: ${error.message}`
 * ```
 */
export type WorkerTaskError = WorkerCrashedError | UnknownTaskError | InvalidPayloadError | InvalidResultError

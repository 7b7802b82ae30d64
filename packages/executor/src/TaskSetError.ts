/**
 * The errors of running a task of a `TaskSet` somewhere else — on a worker
 * thread (`WorkerExecutor`, `@taskscope/node`) or on a runner of a cluster
 * (`ClusterExecutor`, `@taskscope/cluster`): a name the task set does not
 * have, a payload or a result that does not fit the task's Schemas. Each
 * fails only the task it belongs to, and its message names the task and,
 * where there is one, the bad value. Both executors' error modules
 * (`WorkerError`, `ClusterError`) export these same classes.
 *
 * - {@link UnknownTaskError}: no task of that name (from untyped code).
 * - {@link InvalidPayloadError}: the payload does not fit its Schema (or
 *   cannot be sent).
 * - {@link InvalidResultError}: the result does not fit its Schema (or
 *   cannot be sent back).
 *
 * A message never throws, whatever the fields hold: values are described
 * (never converted with `String`), so an error whose fields a test runner has
 * replaced with plain copies still reads.
 *
 * @module @taskscope/executor/TaskSetError
 * @since 0.2.0
 */
import * as Data from "effect/Data"
import { print, quote, quoteList } from "./internal/describe.ts"

/**
 * No task of that name in the task set (possible from untyped code only).
 *
 * @category errors
 * @since 0.2.0
 * @example
 * ```ts
 * import * as TaskSetError from "@taskscope/executor/TaskSetError"
 *
 * new TaskSetError.UnknownTaskError({ task: "fibb", known: ["fib"] }).message
 * // 'Unknown task "fibb"; the task set has: "fib"'
 * ```
 */
export class UnknownTaskError extends Data.TaggedError("UnknownTaskError")<{
  /** The name asked for, as given. */
  readonly task: string
  /** The names the task set has. */
  readonly known: ReadonlyArray<string>
}> {
  override get message(): string {
    return `Unknown task ${quote(this.task)}; the task set has: ${quoteList(this.known)}`
  }
}

/**
 * The payload does not fit the task's payload Schema, or cannot be sent to
 * where the task runs.
 *
 * @category errors
 * @since 0.2.0
 * @example
 * ```ts
 * import * as TaskSetError from "@taskscope/executor/TaskSetError"
 *
 * new TaskSetError.InvalidPayloadError({ task: "fib", payload: "ten", issue: "Expected number" }).message
 * // 'Invalid payload for task "fib": "ten": Expected number'
 * ```
 */
export class InvalidPayloadError extends Data.TaggedError("InvalidPayloadError")<{
  readonly task: string
  readonly payload: unknown
  /** What is wrong with it, in words. */
  readonly issue: string
}> {
  override get message(): string {
    return `Invalid payload for task "${print(this.task)}": ${quote(this.payload)}: ${print(this.issue)}`
  }
}

/**
 * What the task returned (or failed with) does not fit its success (or
 * error) Schema, or cannot be sent back.
 *
 * @category errors
 * @since 0.2.0
 * @example
 * ```ts
 * import * as TaskSetError from "@taskscope/executor/TaskSetError"
 *
 * new TaskSetError.InvalidResultError({ task: "f", part: "success value", issue: "Expected number" }).message
 * // 'Invalid success value from task "f": Expected number'
 * ```
 */
export class InvalidResultError extends Data.TaggedError("InvalidResultError")<{
  readonly task: string
  readonly part: "success value" | "error"
  /** What is wrong with it, in words. */
  readonly issue: string
}> {
  override get message(): string {
    return `Invalid ${print(this.part)} from task "${print(this.task)}": ${print(this.issue)}`
  }
}

/**
 * Every way running a task of a task set elsewhere can fail for the task set's
 * sake, besides the task's own typed error.
 *
 * @category errors
 * @since 0.2.0
 * @example
 * ```ts
 * import type * as TaskSetError from "@taskscope/executor/TaskSetError"
 *
 * const describe = (error: TaskSetError.TaskSetError): string => `${error._tag}: ${error.message}`
 * ```
 */
export type TaskSetError = UnknownTaskError | InvalidPayloadError | InvalidResultError

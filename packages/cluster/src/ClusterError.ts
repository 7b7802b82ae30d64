/**
 * The typed errors of a `ClusterExecutor` task, besides the task's own typed
 * error. Each fails only the task it belongs to, and its message names the
 * task (and its key or the bad value, where there is one).
 *
 * - {@link UnknownTaskError}: no task of that name (from untyped code).
 * - {@link InvalidPayloadError}: the payload does not fit its Schema.
 * - {@link InvalidResultError}: the result does not fit its Schema.
 * - {@link TaskDefectError}: the task's function threw or died on its runner
 *   with something that is not its typed error.
 * - {@link AttemptsExhaustedError}: the task started as many times as its
 *   runners' `maxAttempts` allows, each time without finishing (its runner
 *   died, or lost the task's shard, with it running), and was not started again.
 * - {@link DeliveryError}: the cluster could not store or route the task.
 * - {@link TaskNotFoundError}: `attach` found no task of that key.
 *
 * The first three are the classes of `@taskscope/executor/TaskSetError`,
 * which a `WorkerExecutor` raises too.
 *
 * @since 0.2.0
 */
import type { InvalidPayloadError, InvalidResultError, UnknownTaskError } from "@taskscope/executor/TaskSetError"
import * as Data from "effect/Data"

/** A value in a message: never throws, at most about 80 characters. */
const show = (u: unknown): string => {
  try {
    const text = typeof u === "string"
      ? JSON.stringify(u)
      : u instanceof Error
      ? `${u.name}: ${u.message}`
      : JSON.stringify(u) ?? String(u)
    return text.length > 80 ? `${text.slice(0, 77)}...` : text
  } catch {
    return Object.prototype.toString.call(u)
  }
}

// The task set's errors: the classes of `@taskscope/executor/TaskSetError`,
// shared by the executors of task sets.
export {
  /**
   * The payload does not fit the task's payload Schema, or cannot be stored.
   *
   * @category errors
   * @since 0.2.0
   * @example
   * ```ts
   * import { ClusterError } from "@taskscope/cluster"
   *
   * new ClusterError.InvalidPayloadError({ task: "fib", payload: "ten", issue: "Expected number" }).message
   * // 'Invalid payload for task "fib": "ten": Expected number'
   * ```
   */
  InvalidPayloadError,
  /**
   * What the task returned (or failed with) does not fit its success (or error) Schema.
   *
   * @category errors
   * @since 0.2.0
   * @example
   * ```ts
   * import { ClusterError } from "@taskscope/cluster"
   *
   * new ClusterError.InvalidResultError({ task: "f", part: "error", issue: "Expected string" }).message
   * // 'Invalid error from task "f": Expected string'
   * ```
   */
  InvalidResultError,
  /**
   * No task of that name in the task set (possible from untyped code only).
   *
   * @category errors
   * @since 0.2.0
   * @example
   * ```ts
   * import { ClusterError } from "@taskscope/cluster"
   *
   * new ClusterError.UnknownTaskError({ task: "fibb", known: ["fib"] }).message
   * // 'Unknown task "fibb"; the task set has: "fib"'
   * ```
   */
  UnknownTaskError
} from "@taskscope/executor/TaskSetError"

/**
 * The task's function threw, rejected or died on its runner with something
 * that is not its typed error.
 *
 * @category errors
 * @since 0.2.0
 * @example
 * ```ts
 * import { ClusterError } from "@taskscope/cluster"
 *
 * new ClusterError.TaskDefectError({ task: "f", runner: "localhost:34431", defect: "Error: boom" }).message
 * // 'Task "f" died on runner localhost:34431: Error: boom'
 * ```
 */
export class TaskDefectError extends Data.TaggedError("TaskDefectError")<{
  readonly task: string
  /** The runner it ran on (`host:port`). */
  readonly runner: string
  /** What it threw, as text. */
  readonly defect: string
}> {
  override get message(): string {
    return `Task "${this.task}" died on runner ${this.runner}: ${this.defect}`
  }
}

/**
 * The cluster could not store the task or route it (the database was
 * unreachable for over a minute, say), or could not serve it (the runners'
 * version of the task set lacks it: that failure is then the key's stored
 * result). The task may or may not have been stored: submitting
 * it again with the same key runs it at most once more.
 *
 * @category errors
 * @since 0.2.0
 * @example
 * ```ts
 * import { ClusterError } from "@taskscope/cluster"
 *
 * new ClusterError.DeliveryError({ task: "f", key: "k1", reason: "PersistenceError" }).message
 * // 'Task "f" (key "k1") could not be delivered: PersistenceError'
 * ```
 */
export class DeliveryError extends Data.TaggedError("DeliveryError")<{
  readonly task: string
  readonly key: string
  readonly reason: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `Task "${this.task}" (key ${show(this.key)}) could not be delivered: ${this.reason}`
  }
}

/**
 * `attach` found no task of that key in the task set.
 *
 * @category errors
 * @since 0.2.0
 * @example
 * ```ts
 * import { ClusterError } from "@taskscope/cluster"
 *
 * new ClusterError.TaskNotFoundError({ taskSet: "app/Tasks", key: "k9" }).message
 * // 'No task of key "k9" was submitted to task set "app/Tasks"'
 * ```
 */
export class TaskNotFoundError extends Data.TaggedError("TaskNotFoundError")<{
  readonly taskSet: string
  readonly key: string
}> {
  override get message(): string {
    return `No task of key ${show(this.key)} was submitted to task set ${show(this.taskSet)}`
  }
}

/**
 * A task started on the cluster's runners as many times as their
 * `maxAttempts` allows (see `ClusterRunner.layer`), and never finished: each
 * time its runner died with it running (killed, out of memory, ended by the
 * task itself) or lost the task's shard (its event loop blocked for longer
 * than `shardLockExpiration`, by the task or anything else), so that the
 * result was dropped. The runner that found it so did not start it again;
 * this failure is the key's stored result.
 *
 * @category errors
 * @since 0.2.0
 * @example
 * ```ts
 * import { ClusterError } from "@taskscope/cluster"
 *
 * new ClusterError.AttemptsExhaustedError({ task: "f", key: "k1", attempts: 3, maxAttempts: 3 }).message
 * // 'Task "f" (key "k1") started 3 times and never finished (maxAttempts: 3): each time its runner died or lost its shard with it running'
 * ```
 */
export class AttemptsExhaustedError extends Data.TaggedError("AttemptsExhaustedError")<{
  readonly task: string
  readonly key: string
  /** How many times it started. */
  readonly attempts: number
  /** The bound of the runner that refused to start it again. */
  readonly maxAttempts: number
}> {
  override get message(): string {
    const times = this.attempts === 1 ? "once" : `${this.attempts} times`
    return `Task "${this.task}" (key ${show(this.key)}) started ${times} and never finished ` +
      `(maxAttempts: ${this.maxAttempts}): each time its runner died or lost its shard with it running`
  }
}

/**
 * Every way a cluster task can fail besides its own typed error.
 *
 * @category errors
 * @since 0.2.0
 * @example
 * ```ts
 * import type { ClusterError } from "@taskscope/cluster"
 *
 * const describe = (error: ClusterError.ClusterTaskError): string => `${error._tag}: ${error.message}`
 * ```
 */
export type ClusterTaskError =
  | UnknownTaskError
  | InvalidPayloadError
  | InvalidResultError
  | TaskDefectError
  | AttemptsExhaustedError
  | DeliveryError

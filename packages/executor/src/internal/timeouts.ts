/**
 * Timeouts decided elsewhere: an executor built on a `BackgroundExecutor`
 * whose tasks relay work that runs, under the task's deadlines, somewhere
 * else (a `ClusterExecutor`'s task runs on a runner, and fails here with the
 * runner's `TaskTimeoutError`) makes its `BackgroundExecutor` with options
 * marked by {@link withTimeouts}. A task of that executor that fails with
 * what the mark's predicate calls a timeout counts as one ended by its own
 * deadline: in `stats.timedOut`, as outcome `timeout` in the metric series,
 * its span and `changes` — as a task that timed out in the executor itself.
 * The predicate is asked only when a task fails (an interruption counts as
 * one whatever it says). `@taskscope/cluster` imports it by the
 * `@taskscope/executor/internal/timeouts` subpath; it is not part of the
 * public API and may change in any release.
 *
 * @internal
 * @since 0.2.0
 */
import type * as Cause from "effect/Cause"
import type { Options } from "../BackgroundExecutor.ts"

/**
 * Whether a task that failed with `cause` was ended by its own deadline
 * where its work ran. It should only look: it runs in the executor's
 * bookkeeping, once per failed task (one that throws answers "no").
 *
 * @category models
 * @since 0.2.0
 * @example
 * ```ts
 * import type * as Timeouts from "@taskscope/executor/internal/timeouts"
 *
 * const never: Timeouts.IsTimeout = () => false
 * ```
 */
export type IsTimeout = (cause: Cause.Cause<unknown>) => boolean

/** The options marked by `withTimeouts` (a `WeakMap`: the options keep the shape of any other). */
const marks = new WeakMap<object, IsTimeout>()

/**
 * Marks `options` (the object given to `BackgroundExecutor.make` or
 * `scoped`, not a copy of it) so that the executor made with them counts as
 * timeouts the failures `isTimeout` says are, and returns them.
 *
 * @category constructors
 * @since 0.2.0
 * @example
 * ```ts
 * import { Cause, Effect } from "effect"
 * import { BackgroundExecutor, ExecutorError } from "@taskscope/executor"
 * import * as Timeouts from "@taskscope/executor/internal/timeouts"
 *
 * // a relay whose work ran elsewhere and timed out there
 * const options = Timeouts.withTimeouts({ maxConcurrency: 4 }, (cause) =>
 *   cause.reasons.some((reason) =>
 *     Cause.isFailReason(reason) && reason.error instanceof ExecutorError.TaskTimeoutError
 *   )
 * )
 * const program = BackgroundExecutor.scoped((executor) => executor.stats, options)
 * ```
 */
export const withTimeouts = <O extends Options>(options: O, isTimeout: IsTimeout): O => {
  marks.set(options, isTimeout)
  return options
}

/**
 * The predicate `options` were marked with by {@link withTimeouts}, or
 * `undefined` for any other options (or none). The executor reads it once,
 * when it is made.
 *
 * @category getters
 * @since 0.2.0
 * @example
 * ```ts
 * import * as Timeouts from "@taskscope/executor/internal/timeouts"
 *
 * Timeouts.isTimeoutOf({ maxConcurrency: 4 }) // undefined
 * ```
 */
export const isTimeoutOf = (options: unknown): IsTimeout | undefined =>
  typeof options === "object" && options !== null ? marks.get(options) : undefined

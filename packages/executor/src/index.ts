/**
 * `@taskscope/executor`: background executors for Effect programs.
 *
 * `TaskSet` (tasks declared with Schemas, for the executors that run them in
 * other threads or processes) is an entry point of its own,
 * `@taskscope/executor/TaskSet`: it loads `effect/Schema`, and a program that
 * only runs fibers need not.
 *
 * @module @taskscope/executor
 * @since 0.1.0
 */

/**
 * Start effects in the background as fibers with bounded concurrency, inside
 * a scope, with per-task exit policies and typed failures.
 *
 * @category modules
 * @since 0.1.0
 */
export * as BackgroundExecutor from "./BackgroundExecutor.ts"

/**
 * The typed errors shared by every taskscope executor.
 *
 * @category modules
 * @since 0.1.0
 */
export * as ExecutorError from "./ExecutorError.ts"

/**
 * The handle of a submitted task: `join`, `await`, `interrupt`, `poll`.
 *
 * @category modules
 * @since 0.1.0
 */
export * as Task from "./Task.ts"

/**
 * What executors tell about their tasks: `TaskInfo` snapshots and the
 * `TaskEvent`s of `changes`.
 *
 * @category modules
 * @since 0.2.0
 */
export * as TaskEvent from "./TaskEvent.ts"

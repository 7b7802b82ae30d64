/**
 * `@taskscope/node`: a thread-pool executor for CPU-bound functions on Node
 * worker threads, with the exit rules of `@taskscope/executor`.
 *
 * @module @taskscope/node
 * @since 0.1.0
 */

/**
 * Declare the tasks a pool runs: name, Schemas and function, shared by the
 * parent and the worker side.
 *
 * @category modules
 * @since 0.1.0
 */
export * as TaskSet from "./TaskSet.ts"

/**
 * Run the tasks of a task set on a pool of worker threads, with
 * `BackgroundExecutor`'s submit options and exit rules.
 *
 * @category modules
 * @since 0.1.0
 */
export * as WorkerExecutor from "./WorkerExecutor.ts"

/**
 * A pool of worker threads for one task set, shared by executors.
 *
 * @category modules
 * @since 0.1.0
 */
export * as WorkerPool from "./WorkerPool.ts"

/**
 * The typed errors of a call: crashed worker, unknown task, invalid payload,
 * invalid result.
 *
 * @category modules
 * @since 0.1.0
 */
export * as WorkerError from "./WorkerError.ts"

/**
 * Serve a task set inside a worker thread: the one line of a worker entry module.
 *
 * @category modules
 * @since 0.1.0
 */
export * as WorkerRunner from "./WorkerRunner.ts"

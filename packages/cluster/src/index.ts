/**
 * `@taskscope/cluster`: the executor of `@taskscope/executor` across
 * processes and machines, on `effect/cluster`, durable in PostgreSQL.
 *
 * @module @taskscope/cluster
 * @since 0.2.0
 */

/**
 * Connect a process to a cluster: PostgreSQL (durable) or in memory (one process).
 *
 * @category modules
 * @since 0.2.0
 */
export * as Cluster from "./Cluster.ts"

/**
 * Submit the tasks of a task set to the cluster, with `BackgroundExecutor`'s
 * submit options and exit rules; attach to stored tasks by key.
 *
 * @category modules
 * @since 0.2.0
 */
export * as ClusterExecutor from "./ClusterExecutor.ts"

/**
 * Serve a task set in a runner process.
 *
 * @category modules
 * @since 0.2.0
 */
export * as ClusterRunner from "./ClusterRunner.ts"

/**
 * The typed errors of a cluster task: unknown task, invalid payload or
 * result, defect on the runner, delivery, task not found.
 *
 * @category modules
 * @since 0.2.0
 */
export * as ClusterError from "./ClusterError.ts"

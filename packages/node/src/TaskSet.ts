/**
 * The task set of a `WorkerExecutor`: the `TaskSet` module of
 * `@taskscope/executor`, re-exported so that `@taskscope/node/TaskSet` keeps
 * working. One declaration serves every executor that runs tasks elsewhere —
 * worker threads here, runner processes in `@taskscope/cluster`.
 *
 * @since 0.1.0
 */
export * from "@taskscope/executor/TaskSet"

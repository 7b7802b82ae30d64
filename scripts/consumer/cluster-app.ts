// (e) A strict TypeScript consumer of @taskscope/cluster, type-checked with the others (its
// declarations, with skipLibCheck off, under each module resolution): a registered task set, the
// name-first submit, an attach, the errors module and a library-style export whose type must be nameable.
import { Cluster, ClusterError, ClusterExecutor, ClusterRunner } from "@taskscope/cluster"
import * as ClusterExecutorModule from "@taskscope/cluster/ClusterExecutor"
import { Task } from "@taskscope/executor"
import * as TaskSet from "@taskscope/executor/TaskSet"
import { Effect, Layer, Schema } from "effect"

export const clusterTasks = TaskSet.make("consumer/cluster-app", {
  double: TaskSet.task({ payload: Schema.Number, success: Schema.Number, run: (n) => n * 2 })
})

declare module "@taskscope/cluster/ClusterExecutor" {
  interface Register {
    readonly taskSet: typeof clusterTasks
  }
}

export const Local = ClusterRunner.layer(clusterTasks, { concurrency: 4 }).pipe(
  Layer.provideMerge(Cluster.layerMemory())
)

export const doubled = ClusterExecutor.scoped(clusterTasks, (executor) =>
  Effect.gen(function*() {
    const first = yield* executor.submit("double", 21, { key: "double-21", timeout: "1 minute" })
    const found = yield* executor.attach("double-21")
    return [yield* Task.join(first), yield* Task.join(found)] as const
  })).pipe(Effect.provide(Local))

// the name-first form, typed by the registered task set
export const nameFirst = ClusterExecutorModule.submit("double", 4)

export const describeError = (error: ClusterError.AttemptsExhaustedError): string => error.message

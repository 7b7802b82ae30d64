// (d) A plain-JS ClusterExecutor program, as a user writes it after `npm i @taskscope/cluster
// @taskscope/executor @effect/platform-node @effect/sql-pg effect`: one process, the in-memory
// cluster (no database), a runner and an executor, run with `node cluster.mjs`.
import { Cluster, ClusterExecutor, ClusterRunner } from "@taskscope/cluster"
import { Task } from "@taskscope/executor"
import * as TaskSet from "@taskscope/executor/TaskSet"
import { Effect, Layer } from "effect"
import * as Schema from "effect/Schema"

const tasks = TaskSet.make("consumer/cluster", {
  double: TaskSet.task({ payload: Schema.Number, success: Schema.Number, run: (n) => n * 2 })
})

const Local = ClusterRunner.layer(tasks, { concurrency: 4 }).pipe(Layer.provideMerge(Cluster.layerMemory()))

const program = ClusterExecutor.scoped(tasks, (executor) =>
  Effect.gen(function*() {
    const handles = yield* Effect.forEach([1, 2, 21], (n) => executor.submit("double", n, { key: `double-${n}` }))
    return yield* Effect.forEach(handles, Task.join)
  })).pipe(Effect.provide(Local))

console.log(JSON.stringify(await Effect.runPromise(program)))

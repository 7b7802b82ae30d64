import { assert, describe, it } from "@effect/vitest"
import { Task } from "@taskscope/executor"
import { Effect, Exit, Layer } from "effect"
import { Cluster, ClusterExecutor, ClusterRunner } from "../src/index.ts"
import { RunnerName, tasks } from "./fixtures/tasks.ts"

const Local = ClusterRunner.layer(tasks, { concurrency: 4 }).pipe(
  Layer.provide(Layer.succeed(RunnerName, "memory")),
  Layer.provideMerge(Cluster.layerMemory())
)

describe("Cluster.layerMemory", () => {
  it.live("runs tasks in this process: typed results and typed failures", () =>
    ClusterExecutor.scoped(tasks, (executor) =>
      Effect.gen(function*() {
        const a = yield* executor.submit("square", 12)
        const b = yield* executor.submit("square", 2000, { reraiseOnExit: false })
        assert.strictEqual(yield* Task.join(a), 144)
        const exit = yield* Task.await(b)
        assert.isTrue(Exit.isFailure(exit))
      })).pipe(Effect.provide(Local)))
})

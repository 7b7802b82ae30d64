/**
 * The embedded default: a cluster inside the test process, on Effect's
 * in-memory storages, with no database. Also the type-level promise of
 * ClusterRunner.layer: the services the tasks need are required.
 */
import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import { ExecutorError, Task } from "@taskscope/executor"
import * as TaskSet from "@taskscope/executor/TaskSet"
import { Cause, Effect, Exit, Layer, Schema, Tracer } from "effect"
import { Cluster, ClusterExecutor, ClusterRunner } from "../src/index.ts"
import { RunnerName, tasks, TooBig } from "./fixtures/tasks.ts"

const Local = ClusterRunner.layer(tasks, { concurrency: 4 }).pipe(
  Layer.provide(Layer.succeed(RunnerName, "memory")),
  Layer.provideMerge(Cluster.layerMemory())
)

/** A tracer that keeps the name of every span it makes. */
const recording = () => {
  const names: Array<string> = []
  const tracer = Tracer.make({
    span(options) {
      names.push(options.name)
      return new Tracer.NativeSpan(options)
    }
  })
  return { names, tracer }
}

describe("Cluster.layerMemory", () => {
  it.live("runs tasks in this process, with typed results and typed failures, and says it is not durable", () =>
    ClusterExecutor.scoped(tasks, (executor) =>
      Effect.gen(function*() {
        const a = yield* executor.submit("square", 12)
        const b = yield* executor.submit("square", 2000, { reraiseOnExit: false })
        assert.strictEqual(yield* Task.join(a), 144)
        const exit = yield* Task.await(b)
        assert.isTrue(Exit.isFailure(exit))
        assert.instanceOf(Cause.squash((exit as Exit.Failure<unknown, unknown>).cause), TooBig)
        const visit = yield* executor.submit("visit", { key: "v", ms: 0, log: "/dev/null" })
        assert.strictEqual((yield* Task.join(visit)).runner, "memory")
        assert.isFalse((yield* Cluster.Cluster).durable)
      })).pipe(Effect.provide(Local)))

  it.live("a ClusterExecutor opens no span per task unless asked to (tracing: true)", () =>
    Effect.gen(function*() {
      const spansOf = (options: ClusterExecutor.Options) =>
        Effect.gen(function*() {
          const { names, tracer } = recording()
          yield* ClusterExecutor.scoped(tasks,
            (executor) => Effect.flatMap(executor.submit("square", 3, { name: "three squared" }), Task.join), options)
            .pipe(
              Effect.withSpan("request"),
              Effect.withTracer(tracer)
            )
          return names
        })
      const quiet = yield* spansOf({})
      assert.include(quiet, "request")
      assert.notInclude(quiet, "three squared")
      assert.include(yield* spansOf({ tracing: true }), "three squared")
    }).pipe(Effect.provide(Local)))

  it.live("a task set the cluster cannot store dies with an InvalidArgumentError naming what is too long", () =>
    Effect.gen(function*() {
      const longKey = TaskSet.make("k".repeat(141), {
        echo: TaskSet.task({ payload: Schema.Number, success: Schema.Number, run: (n) => n })
      })
      const longName = TaskSet.make("test/long-name", {
        ["n".repeat(51)]: TaskSet.task({ payload: Schema.Number, success: Schema.Number, run: (n) => n })
      })
      for (const [taskSet, argument] of [[longKey, "taskSet.key"], [longName, "task name"]] as const) {
        const exit = yield* Effect.exit(ClusterExecutor.scoped(taskSet, () => Effect.void).pipe(Effect.provide(Local)))
        const defect = Cause.squash((exit as Exit.Failure<unknown, unknown>).cause)
        assert.instanceOf(defect, ExecutorError.InvalidArgumentError)
        assert.strictEqual((defect as ExecutorError.InvalidArgumentError).argument, argument)
      }
    }))

  it("a runner layer asks for the services its tasks need", () => {
    const withoutName = ClusterRunner.layer(tasks).pipe(Layer.provide(Cluster.layerMemory()))
    expectTypeOf(withoutName).toEqualTypeOf<Layer.Layer<never, never, RunnerName>>()
    // @ts-expect-error: launching a runner whose tasks need RunnerName without providing it does not compile
    const launch: Effect.Effect<never, never, never> = Layer.launch(withoutName)
    void launch
    assert.strictEqual(tasks.names.length, 4)
  })
})

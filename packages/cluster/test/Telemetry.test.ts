/**
 * The metric series and spans of a cluster, in memory: which executor name
 * each side counts under (the submitter's `ClusterExecutor`, the runner's
 * queue), in a process that is both.
 */
import { assert, describe, it } from "@effect/vitest"
import { ExecutorError, Task } from "@taskscope/executor"
import { Cause, Effect, Exit, Layer, Metric, Option, Tracer } from "effect"
import { Cluster, ClusterExecutor, ClusterRunner } from "../src/index.ts"
import { RunnerName, tasks } from "./fixtures/tasks.ts"

/** A runner of the test task set in this process, with `options`, on an in-memory cluster. */
const runner = (options?: ClusterRunner.Options) =>
  ClusterRunner.layer(tasks, { concurrency: 4, ...options }).pipe(
    Layer.provide(Layer.succeed(RunnerName, "memory")),
    Layer.provideMerge(Cluster.layerMemory())
  )

/**
 * Runs `effect` on a runner made with `options`, the runner and `effect`
 * under a metric registry of their own: series of other tests do not show.
 */
const isolated = <A, E>(
  effect: Effect.Effect<A, E, Layer.Success<ReturnType<typeof runner>>>,
  options?: ClusterRunner.Options
): Effect.Effect<A, E> =>
  effect.pipe(Effect.provide(runner(options)), Effect.provideService(Metric.MetricRegistry, new Map()))

/** The `executor` attributes of the series `taskscope_tasks_submitted`: one per executor name. */
const executors = Effect.map(
  Metric.snapshot,
  (snapshots) => snapshots.filter((s) => s.id === "taskscope_tasks_submitted").map((s) => s.attributes?.executor).sort()
)

/** The count of series `id` whose attributes include `attributes` (exactly one must). */
const count = (id: string, attributes: Record<string, string>) =>
  Effect.map(Metric.snapshot, (snapshots) => {
    const found = snapshots.filter((s) =>
      s.id === id && Object.entries(attributes).every(([k, v]) => s.attributes?.[k] === v)
    )
    assert.strictEqual(found.length, 1, `one series ${id} ${JSON.stringify(attributes)}, found ${found.length}`)
    const state = found[0]!.state as { readonly count?: number; readonly value?: number }
    return state.count ?? state.value
  })

/** The counts of `taskscope_tasks_submitted` and of `taskscope_tasks_completed` by outcome, of `executor`. */
const counts = (executor: string) =>
  Effect.all({
    submitted: count("taskscope_tasks_submitted", { executor }),
    success: count("taskscope_tasks_completed", { executor, outcome: "success" }),
    failure: count("taskscope_tasks_completed", { executor, outcome: "failure" }),
    interrupted: count("taskscope_tasks_completed", { executor, outcome: "interrupted" }),
    timeout: count("taskscope_tasks_completed", { executor, outcome: "timeout" })
  })

/** A tracer that keeps every span it makes. */
const recording = () => {
  const spans: Array<Tracer.NativeSpan> = []
  const tracer = Tracer.make({
    span(options) {
      const span = new Tracer.NativeSpan(options)
      spans.push(span)
      return span
    }
  })
  return { spans, tracer }
}

/** The typed error a task's exit failed with, if any. */
const errorOf = (exit: Exit.Exit<unknown, unknown>): unknown =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.findErrorOption(exit.cause)) : undefined

/** Submits a task that succeeds and one that fails (`TooBig`), and waits for both. */
const oneOfEach = (executor: ClusterExecutor.ClusterExecutor<typeof tasks>) =>
  Effect.gen(function*() {
    const ok = yield* executor.submit("square", 3)
    const failed = yield* executor.submit("square", 2000, { reraiseOnExit: false })
    assert.strictEqual(yield* Task.join(ok), 9)
    assert.isTrue(Exit.isFailure(yield* Task.await(failed)))
    return yield* executor.stats
  })

describe("metric series of a cluster", () => {
  // Before, a ClusterExecutor refused `name` and `metrics`: its series were always "default".
  it.live("a ClusterExecutor's name is the executor attribute of its series and spans", () =>
    isolated(Effect.gen(function*() {
      const { spans, tracer } = recording()
      yield* ClusterExecutor.scoped(tasks, oneOfEach, { name: "billing", tracing: true }).pipe(
        Effect.withTracer(tracer)
      )
      assert.deepStrictEqual(yield* counts("billing"), {
        submitted: 2,
        success: 1,
        failure: 1,
        interrupted: 0,
        timeout: 0
      })
      assert.notInclude(yield* executors, "default")
      assert.deepStrictEqual(
        spans.filter((s) => s.name === "square").map((s) => s.attributes.get("taskscope.executor")),
        ["billing", "billing"]
      )
    })))

  // Before, the runner's queue counted under "default" too: every task twice in one series.
  it.live("a process that submits and runs has two series: the ClusterExecutor's and the runner's \"<key>/runner\"", () =>
    isolated(Effect.gen(function*() {
      const stats = yield* ClusterExecutor.scoped(tasks, oneOfEach)
      assert.deepStrictEqual(yield* executors, ["default", `${tasks.key}/runner`])
      const each = { submitted: 2, success: 1, failure: 1, interrupted: 0, timeout: 0 }
      assert.deepStrictEqual(yield* counts("default"), each)
      assert.deepStrictEqual(yield* counts("test/cluster/runner"), each)
      assert.include(stats, { submitted: 2, succeeded: 1, failed: 1 })
    })))

  it.live("a runner takes a name for its series, and metrics: false leaves an executor's out", () =>
    isolated(
      Effect.gen(function*() {
        yield* ClusterExecutor.scoped(tasks, oneOfEach, { metrics: false })
        assert.deepStrictEqual(yield* executors, ["squares"])
        assert.deepStrictEqual(yield* counts("squares"), {
          submitted: 2,
          success: 1,
          failure: 1,
          interrupted: 0,
          timeout: 0
        })
      }),
      { name: "squares" }
    ))

  // Before, such a task counted as timed out in `stats` (patched by the ClusterExecutor) but as a
  // failure in its series and its span: the executor's core knew only its own deadlines.
  it.live("a task its runner's deadline ended is a timeout in stats, in the series and in its span; so is an attached handle", () =>
    isolated(Effect.gen(function*() {
      const { spans, tracer } = recording()
      const stats = yield* ClusterExecutor.scoped(tasks, (executor) =>
        Effect.gen(function*() {
          const hang = yield* executor.submit("hang", { key: "H", log: "/dev/null" }, {
            key: "H",
            timeout: "200 millis",
            reraiseOnExit: false
          })
          assert.instanceOf(errorOf(yield* Task.await(hang)), ExecutorError.TaskTimeoutError)
          const attached = yield* executor.attach("H", { reraiseOnExit: false })
          assert.instanceOf(errorOf(yield* Task.await(attached)), ExecutorError.TaskTimeoutError)
          return yield* oneOfEach(executor)
        }), { name: "deadlines", tracing: true }).pipe(Effect.withTracer(tracer))
      assert.include(stats, { submitted: 4, succeeded: 1, failed: 3, timedOut: 2 })
      assert.deepStrictEqual(yield* counts("deadlines"), {
        submitted: 4,
        success: 1,
        failure: 1,
        interrupted: 0,
        timeout: 2
      })
      const outcome = (name: string) =>
        spans.filter((s) => s.name === name).map((s) => s.attributes.get("taskscope.outcome"))
      assert.deepStrictEqual(outcome("hang"), ["timeout"])
      assert.deepStrictEqual(outcome("H"), ["timeout"]) // attach names the handle by its key
      assert.deepStrictEqual(outcome("square"), ["success", "failure"])
      // the runner's queue timed the task out itself
      assert.strictEqual(
        yield* count("taskscope_tasks_completed", { executor: "test/cluster/runner", outcome: "timeout" }),
        1
      )
    })))

  it.live("bad values of name and metrics die naming the option", () =>
    Effect.gen(function*() {
      const refused = (exit: Exit.Exit<unknown, unknown>, option: string) => {
        const defect = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
        assert.instanceOf(defect, ExecutorError.InvalidArgumentError, String(exit))
        assert.strictEqual((defect as ExecutorError.InvalidArgumentError).argument, option)
      }
      for (const [option, value] of [["name", ""], ["metrics", "yes"]] as const) {
        refused(
          yield* Effect.exit(
            ClusterExecutor.scoped(tasks, Effect.void, { [option]: value } as ClusterExecutor.Options).pipe(
              Effect.provide(runner())
            )
          ),
          option
        )
        refused(
          yield* Effect.exit(Effect.scoped(Layer.build(runner({ [option]: value } as ClusterRunner.Options)))),
          option
        )
      }
    }))
})

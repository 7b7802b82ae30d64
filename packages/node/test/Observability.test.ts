/**
 * What a WorkerExecutor adds to the executor's telemetry: the pool's thread
 * series, and the worker-side span of a call as a child of its task's span.
 * Real time (`it.live`); assertions are about counts and links, never durations.
 */
import { assert, describe, it } from "@effect/vitest"
import { Task } from "@taskscope/executor"
import { Effect, Metric, Option, Tracer } from "effect"
import { WorkerExecutor } from "../src/index.ts"
import { eventually } from "./fixtures/expect.ts"
import { tasks } from "./fixtures/tasks.ts"
import { makeCounter, spawner } from "./fixtures/threads.ts"

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

/** The value of series `id` with exactly these attributes besides the executor's. */
const value = (id: string, attributes: Record<string, string>) =>
  Effect.map(Metric.snapshot, (snapshots) => {
    const found = snapshots.filter((s) =>
      s.id === id && Object.entries(attributes).every(([k, v]) => s.attributes?.[k] === v)
    )
    assert.strictEqual(found.length, 1, `one series ${id} ${JSON.stringify(attributes)}`)
    const state = found[0]!.state as { count?: number; value?: number }
    return state.count ?? state.value!
  })

describe("WorkerExecutor telemetry", () => {
  it.live("taskscope_worker_threads follows the live threads; restarts count crash, terminate and idle", () =>
    Effect.gen(function*() {
      const counter = makeCounter()
      const named = { executor: "threads" }
      yield* WorkerExecutor.scoped(tasks, (executor) =>
        Effect.gen(function*() {
          yield* executor.pool.prestart
          // (a thread that was ready first may already have been retired idle: compare with the pool)
          const live = yield* value("taskscope_worker_threads", named)
          assert.strictEqual(live, (yield* executor.pool.stats).threads)
          assert.isAtLeast(live, 1)
          // crash: the task ends its thread
          const crashed = yield* executor.submit("exit", 3, { reraiseOnExit: false })
          yield* Task.await(crashed)
          // terminate: interrupting a running call terminates its thread
          const stuck = yield* executor.submit("work", { _tag: "Forever" })
          yield* eventually(Effect.map(executor.pool.stats, (s) => s.busy === 1), "the call is on a thread")
          yield* Task.interrupt(stuck)
          // idle: a thread started for one more call is retired after idleTimeout
          assert.strictEqual(yield* Effect.flatMap(executor.submit("square", 5), Task.join), 25)
          yield* eventually(Effect.map(executor.pool.stats, (s) => s.threads === 0), "the threads are retired")
          assert.strictEqual(yield* value("taskscope_worker_threads", named), 0)
          assert.strictEqual(yield* value("taskscope_worker_restarts", { ...named, reason: "crash" }), 1)
          assert.strictEqual(yield* value("taskscope_worker_restarts", { ...named, reason: "terminate" }), 1)
          const idle = yield* value("taskscope_worker_restarts", { ...named, reason: "idle" })
          const { started } = yield* executor.pool.stats
          assert.strictEqual(idle, started - 2, "every thread that did not crash or get terminated retired idle")
          assert.strictEqual(yield* value("taskscope_worker_threads", named), 0)
          assert.isAtLeast(idle, 1)
          // the executor's own series carry the same name
          assert.strictEqual(yield* value("taskscope_tasks_submitted", named), 3)
          assert.strictEqual(yield* value("taskscope_tasks_completed", { ...named, outcome: "interrupted" }), 1)
        }), { spawn: spawner(counter), maxConcurrency: 2, idleTimeout: 300, name: "threads" }).pipe(
          Effect.provideService(Metric.MetricRegistry, new Map())
        )
      assert.strictEqual(counter.alive(), 0)
    }))

  it.live("the worker-side span of a call is a child of its task's span, across the thread", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recording()
      const inside = yield* WorkerExecutor.scoped(
        tasks,
        (executor) => Effect.flatMap(executor.submit("spanContext", undefined), Task.join),
        { spawn: spawner(makeCounter()), maxConcurrency: 1, tracing: true }
      ).pipe(Effect.withSpan("request"), Effect.withTracer(tracer))
      const request = spans.find((s) => s.name === "request")!
      const task = spans.find((s) => s.name === "spanContext")!
      assert.strictEqual(Option.getOrUndefined(task.parent)?.spanId, request.spanId)
      assert.deepStrictEqual(inside, {
        name: "spanContext (worker)",
        traceId: request.traceId,
        parentSpanId: task.spanId
      })
    }))

  it.live("the worker-side span of a call ends with its outcome: a typed failure or a defect fails it", () =>
    Effect.gen(function*() {
      const ended = yield* WorkerExecutor.scoped(tasks, (executor) =>
        Effect.gen(function*() {
          const quiet = { reraiseOnExit: false } as const
          yield* Effect.flatMap(executor.submit("square", 3), Task.await)
          yield* Effect.flatMap(executor.submit("effectFail", "no", quiet), Task.await)
          yield* Effect.flatMap(executor.submit("throws", "boom", quiet), Task.await)
          yield* Effect.flatMap(executor.submit("uncloneable", undefined, quiet), Task.await)
          const ended = yield* Effect.flatMap(executor.submit("endedSpans", undefined), Task.join)
          // each call got one reply (before: a defect in a span was answered twice)
          assert.deepStrictEqual(yield* Effect.flatMap(executor.submit("repliedTwice", undefined), Task.join), [])
          return ended
        }), { spawn: spawner(makeCounter(), "traced-worker.ts"), maxConcurrency: 1, tracing: true })
      // before: every worker-side span ended as a success, whatever the call's outcome
      assert.deepStrictEqual(ended, [
        ["square (worker)", "Success"],
        ["effectFail (worker)", "Failure"],
        ["throws (worker)", "Failure"],
        ["uncloneable (worker)", "Failure"]
      ])
    }))

  it.live("by default a WorkerExecutor opens no span per call (they cost as much as a tiny call), here or on the thread", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recording()
      const inside = yield* WorkerExecutor.scoped(
        tasks,
        (executor) => Effect.flatMap(executor.submit("spanContext", undefined), Task.join),
        { spawn: spawner(makeCounter()), maxConcurrency: 1 }
      ).pipe(Effect.withSpan("request"), Effect.withTracer(tracer))
      const names = spans.map((span) => span.name)
      assert.include(names, "request")
      assert.notInclude(names, "spanContext")
      // no trace context went to the thread: its call ran in no span there either
      assert.deepStrictEqual(inside, { name: "none", traceId: "none", parentSpanId: "none" })
    }))
})

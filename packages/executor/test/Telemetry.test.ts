import { assert, describe, it } from "@effect/vitest"
import { Cause, Duration, Effect, Exit, Fiber, Logger, Metric, Option, Stream, Tracer } from "effect"
import { TestClock } from "effect/testing"
import { BackgroundExecutor, ExecutorError, Task, type TaskEvent } from "../src/index.ts"
import * as Timeouts from "../src/internal/timeouts.ts"

/** Runs `effect` with a registry of its own, so that series of other tests do not show. */
const isolated = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, Metric.MetricRegistry, new Map())

/** The state of series `id` whose attributes include `attributes`. */
const series = (id: string, attributes: Record<string, string>) =>
  Effect.map(Metric.snapshot, (snapshots) => {
    const found = snapshots.filter((s) =>
      s.id === id && Object.entries(attributes).every(([k, v]) => s.attributes?.[k] === v)
    )
    assert.strictEqual(found.length, 1, `one series ${id} ${JSON.stringify(attributes)}, found ${found.length}`)
    return found[0]!.state as any
  })

const count = (id: string, attributes: Record<string, string>) =>
  Effect.map(series(id, attributes), (state) => (state.count ?? state.value) as number)

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

describe("metrics", () => {
  it.effect("counters and gauges count every task under the executor's name, by outcome", () =>
    isolated(Effect.gen(function*() {
      const { ok, fail, stop } = yield* BackgroundExecutor.scoped(
        (executor) =>
          Effect.gen(function*() {
            const ok = yield* executor.submit(Effect.void)
            const fail = yield* executor.submit(Effect.fail("boom"), { reraiseOnExit: false })
            const stop = yield* executor.submit(Effect.never)
            const queued = yield* executor.submit(Effect.never)
            // one runs (the permit is held by `stop`), one is queued
            assert.strictEqual(yield* count("taskscope_tasks_running", { executor: "jobs" }), 1)
            assert.strictEqual(yield* count("taskscope_tasks_queued", { executor: "jobs" }), 1)
            yield* Task.interrupt(stop)
            yield* Task.interrupt(queued)
            return { ok, fail, stop }
          }),
        { name: "jobs", maxConcurrency: 1 }
      )
      assert.isDefined(yield* Task.poll(ok))
      assert.isDefined(yield* Task.poll(fail))
      assert.isDefined(yield* Task.poll(stop))
      const jobs = { executor: "jobs" }
      assert.strictEqual(yield* count("taskscope_tasks_submitted", jobs), 4)
      assert.strictEqual(yield* count("taskscope_tasks_completed", { ...jobs, outcome: "success" }), 1)
      assert.strictEqual(yield* count("taskscope_tasks_completed", { ...jobs, outcome: "failure" }), 1)
      assert.strictEqual(yield* count("taskscope_tasks_completed", { ...jobs, outcome: "interrupted" }), 2)
      assert.strictEqual(yield* count("taskscope_tasks_running", jobs), 0)
      assert.strictEqual(yield* count("taskscope_tasks_queued", jobs), 0)
    })))

  it.effect("executors of one name add up, and a closed executor's counts stay", () =>
    isolated(Effect.gen(function*() {
      yield* BackgroundExecutor.scoped((executor) => executor.submit(Effect.void), { name: "a" })
      yield* BackgroundExecutor.scoped((executor) => Effect.repeat(executor.submit(Effect.void), { times: 2 }), {
        name: "a"
      })
      yield* BackgroundExecutor.scoped((executor) => executor.submit(Effect.void), { name: "b" })
      assert.strictEqual(yield* count("taskscope_tasks_submitted", { executor: "a" }), 4)
      assert.strictEqual(yield* count("taskscope_tasks_completed", { executor: "a", outcome: "success" }), 4)
      assert.strictEqual(yield* count("taskscope_tasks_submitted", { executor: "b" }), 1)
    })))

  it.effect("executors of one name under different contextual attributes keep series of their own", () =>
    isolated(Effect.gen(function*() {
      const run = (pool: string, n: number) =>
        BackgroundExecutor.scoped(
          (executor) => Effect.repeat(executor.submit(Effect.void), { times: n - 1 }),
          { name: "shared" }
        ).pipe(Effect.provideService(Metric.CurrentMetricAttributes, { pool }))
      yield* run("a", 1)
      yield* run("b", 3)
      assert.strictEqual(yield* count("taskscope_tasks_submitted", { executor: "shared", pool: "a" }), 1)
      assert.strictEqual(yield* count("taskscope_tasks_submitted", { executor: "shared", pool: "b" }), 3)
      assert.strictEqual(
        yield* count("taskscope_tasks_completed", { executor: "shared", pool: "b", outcome: "success" }),
        3
      )
    })))

  it.effect("the default name is \"default\"", () =>
    isolated(Effect.gen(function*() {
      yield* BackgroundExecutor.scoped((executor) => executor.submit(Effect.void))
      assert.strictEqual(yield* count("taskscope_tasks_submitted", { executor: "default" }), 1)
    })))

  it.effect("a submission after the close counts as rejected, reason closed", () =>
    isolated(Effect.gen(function*() {
      const executor = yield* BackgroundExecutor.scoped((executor) => Effect.succeed(executor), { name: "late" })
      const error = yield* Effect.flip(executor.submit(Effect.void))
      assert.instanceOf(error, ExecutorError.ExecutorClosedError)
      assert.strictEqual(yield* count("taskscope_tasks_rejected", { executor: "late", reason: "closed" }), 1)
      assert.strictEqual(yield* count("taskscope_tasks_rejected", { executor: "late", reason: "queue_full" }), 0)
    })))

  it.effect("a submission made to wait by maxQueue counts as rejected, reason queue_full", () =>
    isolated(Effect.gen(function*() {
      yield* BackgroundExecutor.scoped(
        (executor) =>
          Effect.gen(function*() {
            yield* executor.submit(Effect.sleep(10))
            yield* executor.submit(Effect.sleep(10)) // queued: the queue is full
            yield* Effect.forkChild(executor.submit(Effect.void)) // waits
            yield* TestClock.adjust(30)
          }),
        { name: "bp", maxConcurrency: 1, maxQueue: 1 }
      )
      assert.strictEqual(yield* count("taskscope_tasks_rejected", { executor: "bp", reason: "queue_full" }), 1)
      assert.strictEqual(yield* count("taskscope_tasks_submitted", { executor: "bp" }), 3)
    })))

  it.effect("the timers observe the sampled tasks' queue wait and run time, in milliseconds", () =>
    isolated(Effect.gen(function*() {
      yield* BackgroundExecutor.scoped(
        (executor) =>
          Effect.gen(function*() {
            // task 1 is sampled: it runs 50 ms; task 257 is sampled too: it waits for 256 tasks of 50 ms
            for (let i = 0; i < 257; i++) yield* executor.submit(Effect.sleep(50))
            yield* TestClock.adjust(257 * 50)
          }),
        { name: "timed", maxConcurrency: 1 }
      )
      const wait = yield* series("taskscope_task_queue_wait", { executor: "timed" })
      const run = yield* series("taskscope_task_duration", { executor: "timed" })
      assert.strictEqual(wait.count, 2)
      assert.strictEqual(wait.min, 0)
      assert.strictEqual(wait.max, 256 * 50)
      assert.strictEqual(run.count, 2)
      assert.strictEqual(run.min, 50)
      assert.strictEqual(run.max, 50)
    })))

  it.effect("the timers' sample is uniform: named tasks, and tasks timed while changes is followed, are not added", () =>
    isolated(Effect.gen(function*() {
      yield* BackgroundExecutor.scoped(
        (executor) =>
          Effect.gen(function*() {
            yield* executor.submit(Effect.sleep(100)) // task 1: sampled
            // named (so in a span, so timed), short: before, each was observed, and the mean fell to ~10 ms
            for (let i = 0; i < 10; i++) yield* executor.submit(Effect.sleep(1), { name: `named-${i}` })
            // followed: every task is timed for its events, none of these is sampled
            const events = yield* Effect.forkChild(Stream.runDrain(executor.changes))
            yield* Effect.yieldNow
            for (let i = 0; i < 10; i++) yield* executor.submit(Effect.sleep(1))
            yield* TestClock.adjust(200)
            yield* Fiber.interrupt(events)
          }),
        { name: "uniform" }
      )
      const run = yield* series("taskscope_task_duration", { executor: "uniform" })
      const wait = yield* series("taskscope_task_queue_wait", { executor: "uniform" })
      assert.deepStrictEqual([run.count, run.min, run.max, wait.count], [1, 100, 100, 1])
    })))

  it.effect("metrics: false leaves no series", () =>
    isolated(Effect.gen(function*() {
      yield* BackgroundExecutor.scoped((executor) => executor.submit(Effect.void), { name: "quiet", metrics: false })
      const snapshots = yield* Metric.snapshot
      assert.deepStrictEqual(snapshots.filter((s) => s.attributes?.executor === "quiet").map((s) => s.id), [])
    })))

  it.effect("bad telemetry options die naming the option and the value", () =>
    Effect.gen(function*() {
      for (
        const [options, option] of [
          [{ name: "" }, "name"],
          [{ name: 3 }, "name"],
          [{ metrics: "yes" }, "metrics"],
          [{ tracing: 1 }, "tracing"]
        ] as const
      ) {
        const exit = yield* Effect.exit(BackgroundExecutor.scoped(Effect.void, options as any))
        const message = String(exit)
        assert.include(message, option)
        assert.include(message, "InvalidArgumentError")
      }
    }))
})

describe("spans", () => {
  it.effect("a named task runs in a span of its name, child of the submitter's span, with its attributes", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recording()
      yield* BackgroundExecutor.scoped(
        (executor) =>
          Effect.gen(function*() {
            yield* executor.submit(Effect.sleep(20), { name: "first" })
            yield* executor.submit(Effect.fail("boom"), { name: "second", reraiseOnExit: false })
            yield* TestClock.adjust(20)
          }),
        { name: "spanned", maxConcurrency: 1 }
      ).pipe(Effect.withSpan("submitter"), Effect.withTracer(tracer))
      const submitter = spans.find((s) => s.name === "submitter")!
      const first = spans.find((s) => s.name === "first")!
      const second = spans.find((s) => s.name === "second")!
      assert.strictEqual(Option.getOrUndefined(first.parent)?.spanId, submitter.spanId)
      assert.strictEqual(Option.getOrUndefined(second.parent)?.spanId, submitter.spanId)
      assert.strictEqual(first.attributes.get("taskscope.task.id"), 1)
      assert.strictEqual(first.attributes.get("taskscope.task.name"), "first")
      assert.strictEqual(first.attributes.get("taskscope.executor"), "spanned")
      assert.strictEqual(first.attributes.get("taskscope.queue_wait_ms"), 0)
      assert.strictEqual(first.attributes.get("taskscope.outcome"), "success")
      assert.strictEqual(second.attributes.get("taskscope.queue_wait_ms"), 20)
      assert.strictEqual(second.attributes.get("taskscope.outcome"), "failure")
      assert.strictEqual(first.status._tag, "Ended")
    }))

  it.effect("a task submitted by a task is a child of its span: the trace shows what spawned what", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recording()
      yield* BackgroundExecutor.scoped((executor) =>
        executor.submit(Effect.asVoid(executor.submit(Effect.void, { name: "child" })), { name: "parent" })
      ).pipe(Effect.withTracer(tracer))
      const parent = spans.find((s) => s.name === "parent")!
      const child = spans.find((s) => s.name === "child")!
      assert.strictEqual(Option.getOrUndefined(child.parent)?.spanId, parent.spanId)
      assert.strictEqual(child.traceId, parent.traceId)
    }))

  it.effect("a task failing with another task's TaskTimeoutError counts as a failure, its own deadline as a timeout", () =>
    isolated(Effect.gen(function*() {
      const { spans, tracer } = recording()
      let follower: Fiber.Fiber<Array<TaskEvent.TaskEvent>> | undefined
      const stats = yield* BackgroundExecutor.scoped(
        (executor) =>
          Effect.gen(function*() {
            follower = yield* Effect.forkChild(Stream.runCollect(executor.changes), { startImmediately: true })
            const slow = yield* executor.submit(Effect.never, { name: "slow", timeout: 10, reraiseOnExit: false })
            yield* executor.submit(Task.join(slow), { name: "waiter", reraiseOnExit: false })
            yield* TestClock.adjust(20)
            return yield* executor.stats
          }),
        { name: "outcomes" }
      ).pipe(Effect.withTracer(tracer))
      const ended = (yield* Fiber.join(follower!)).flatMap((e) => e._tag === "Ended" ? [e.outcome] : [])
      assert.strictEqual(stats.timedOut, 1)
      assert.strictEqual(stats.failed, 2)
      assert.deepStrictEqual(ended, ["timeout", "failure"])
      const outcome = (name: string) => spans.find((s) => s.name === name)!.attributes.get("taskscope.outcome")
      assert.strictEqual(outcome("slow"), "timeout")
      assert.strictEqual(outcome("waiter"), "failure")
      assert.strictEqual(yield* count("taskscope_tasks_completed", { executor: "outcomes", outcome: "timeout" }), 1)
    })))

  // Before, the core knew only its own deadlines: a ClusterExecutor's task that its runner's deadline
  // ended was a failure in the series, its span and `changes` (its `stats` patched apart).
  it.effect("a failure the executor's options call a timeout (internal/timeouts) is one in stats, series, span and changes", () =>
    isolated(Effect.gen(function*() {
      const { spans, tracer } = recording()
      const remote = new ExecutorError.TaskTimeoutError({
        taskName: "remote",
        phase: "run",
        timeout: Duration.millis(5)
      })
      let asked = 0
      const options = Timeouts.withTimeouts({ name: "relay" }, (cause) => {
        asked++
        if (cause.reasons.some((r) => Cause.isFailReason(r) && r.error === "throws")) throw new Error("no answer")
        return cause.reasons.some((r) => Cause.isFailReason(r) && r.error === remote)
      })
      let follower: Fiber.Fiber<Array<TaskEvent.TaskEvent>> | undefined
      const stats = yield* BackgroundExecutor.scoped(
        (executor) =>
          Effect.gen(function*() {
            follower = yield* Effect.forkChild(Stream.runCollect(executor.changes), { startImmediately: true })
            yield* executor.submit(Effect.void, { name: "ok" })
            yield* executor.submit(Effect.fail(remote), { name: "remote", reraiseOnExit: false })
            yield* executor.submit(Effect.fail("boom"), { name: "plain", reraiseOnExit: false })
            yield* executor.submit(Effect.fail("throws"), { name: "throws", reraiseOnExit: false })
            yield* executor.awaitIdle
            return yield* executor.stats
          }),
        options
      ).pipe(Effect.withTracer(tracer))
      assert.include(stats, { succeeded: 1, failed: 3, timedOut: 1 })
      const ended = (yield* Fiber.join(follower!)).flatMap((e) => e._tag === "Ended" ? [e.outcome] : [])
      assert.deepStrictEqual(ended, ["success", "timeout", "failure", "failure"])
      const outcome = (name: string) => spans.find((s) => s.name === name)!.attributes.get("taskscope.outcome")
      assert.deepStrictEqual(["ok", "remote", "plain", "throws"].map(outcome), [
        "success",
        "timeout",
        "failure",
        "failure"
      ])
      const relay = { executor: "relay" }
      assert.strictEqual(yield* count("taskscope_tasks_completed", { ...relay, outcome: "timeout" }), 1)
      assert.strictEqual(yield* count("taskscope_tasks_completed", { ...relay, outcome: "failure" }), 2)
      assert.strictEqual(asked, 3, "asked for the failures only, once each")
      // the same failure in an executor whose options are not marked is a failure
      yield* BackgroundExecutor.scoped((executor) => executor.submit(Effect.fail(remote), { reraiseOnExit: false }), {
        name: "unmarked"
      })
      assert.strictEqual(yield* count("taskscope_tasks_completed", { executor: "unmarked", outcome: "failure" }), 1)
      assert.strictEqual(yield* count("taskscope_tasks_completed", { executor: "unmarked", outcome: "timeout" }), 0)
    })))

  it.effect("a span ends after the task's finalizers, with their outcome", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recording()
      const stats = yield* BackgroundExecutor.scoped((executor) =>
        Effect.gen(function*() {
          yield* executor.submit(Effect.addFinalizer(() => Effect.die("finalizer failed")), {
            name: "closing",
            reraiseOnExit: false
          })
          yield* executor.awaitIdle
          return yield* executor.stats
        })
      ).pipe(Effect.withTracer(tracer))
      assert.strictEqual(stats.failed, 1)
      const span = spans.find((s) => s.name === "closing")!
      assert.strictEqual(span.attributes.get("taskscope.outcome"), "failure")
      assert.strictEqual(span.status._tag, "Ended")
      assert.isTrue(span.status._tag === "Ended" && span.status.exit._tag === "Failure")
    }))

  it.effect("a span changes nothing about the task: interrupted while its finalizers run, named or not, it keeps its success", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recording()
      const exits = yield* BackgroundExecutor.scoped((executor) =>
        Effect.forEach([{ name: "named" }, {}], (options) =>
          Effect.gen(function*() {
            const task = yield* executor.submit(
              Effect.andThen(Effect.addFinalizer(() => Effect.sleep(20)), Effect.succeed(42)),
              options
            )
            yield* Effect.yieldNow
            const interrupting = yield* Effect.forkChild(Task.interrupt(task), { startImmediately: true })
            yield* TestClock.adjust(20)
            yield* Fiber.join(interrupting)
            return yield* Task.await(task)
          }))
      ).pipe(Effect.withTracer(tracer))
      assert.deepStrictEqual(exits.map(String), [String(Exit.succeed(42)), String(Exit.succeed(42))])
      const span = spans.find((s) => s.name === "named")!
      assert.strictEqual(span.attributes.get("taskscope.outcome"), "success")
      assert.isTrue(span.status._tag === "Ended" && span.status.endTime - span.status.startTime >= 20_000_000n)
    }))

  it.effect("a tracer whose span end throws is logged once, and the executor's bookkeeping still completes", () =>
    Effect.gen(function*() {
      const tracer = Tracer.make({
        span(options) {
          const span = new Tracer.NativeSpan(options)
          span.end = () => {
            throw new Error("a broken tracer")
          }
          return span
        }
      })
      const logged: Array<{ level: string; message: ReadonlyArray<unknown> }> = []
      const collector = Logger.make((options) => {
        logged.push({
          level: options.logLevel,
          message: Array.isArray(options.message) ? options.message : [options.message]
        })
      })
      // before: rethrown from a microtask, an uncaught exception that ended the process
      const result = yield* BackgroundExecutor.scoped((executor) =>
        Effect.gen(function*() {
          const first = yield* executor.submit(Effect.succeed(1), { name: "traced" })
          const second = yield* executor.submit(Effect.succeed(2), { name: "traced too" })
          const values = [yield* Task.join(first), yield* Task.join(second)]
          yield* executor.awaitIdle
          return { values, stats: yield* executor.stats }
        }), { name: "broken-tracer" }).pipe(Effect.withTracer(tracer), Effect.provide(Logger.layer([collector])))
      assert.deepStrictEqual(result.values, [1, 2])
      assert.include(result.stats, { succeeded: 2, running: 0 })
      const errors = logged.filter((entry) => entry.level === "Error")
      assert.strictEqual(errors.length, 1, "logged once, not once per task")
      assert.include(String(errors[0]!.message[0]), "executor \"broken-tracer\"")
      assert.strictEqual((errors[0]!.message.find((part) => part instanceof Error) as Error)?.message,
        "a broken tracer")
    }))

  it.effect("unnamed tasks get no span by default, task-<id> spans with tracing: true, none with false", () =>
    Effect.gen(function*() {
      const run = (tracing: boolean | undefined) => {
        const { spans, tracer } = recording()
        return BackgroundExecutor.scoped(
          (executor) =>
            Effect.gen(function*() {
              yield* executor.submit(Effect.void)
              yield* executor.submit(Effect.interrupt, { name: "named" })
            }),
          tracing === undefined ? {} : { tracing }
        ).pipe(Effect.withTracer(tracer), Effect.as(spans))
      }
      assert.deepStrictEqual((yield* run(undefined)).map((s) => s.name), ["named"])
      const all = yield* run(true)
      assert.deepStrictEqual(all.map((s) => s.name), ["task-1", "named"])
      assert.strictEqual(all[1]!.attributes.get("taskscope.outcome"), "interrupted")
      assert.deepStrictEqual((yield* run(false)).map((s) => s.name), [])
    }))
})

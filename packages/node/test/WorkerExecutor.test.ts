/**
 * What threads add to the exit rules: parallelism, terminate-on-interrupt,
 * crash isolation, typed errors for bad input, no leaked threads. Real time
 * (`it.live`); every assertion is about order or outcome, never a duration.
 */
import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import { BackgroundExecutor, ExecutorError, Task } from "@taskscope/executor"
import { Cause, Context, Duration, Effect, Exit, Fiber, Schema, type Scope } from "effect"
import { TestClock } from "effect/testing"
import { TaskSet, WorkerError, WorkerExecutor, WorkerPool } from "../src/index.ts"
import { now, tasks, wasmPage, WorkFailed } from "./fixtures/tasks.ts"

// The program's task set, for the name-first `WorkerExecutor.submit(task, payload)`.
declare module "../src/WorkerExecutor.ts" {
  interface Register {
    readonly taskSet: typeof tasks
  }
}
import { errorOf, eventually } from "./fixtures/expect.ts"
import { makeCounter, sharedPool, spawner } from "./fixtures/threads.ts"

// One pool of two threads for the tests that do not need a pool of their own.
const { pool } = sharedPool()

/**
 * Runs `body` with an executor on the shared pool. Threads start lazily (and
 * a test that needs one takes an idle one), so that the threads killed by one
 * test are replaced only when a later one needs two at once.
 */
const onPool = <A, E>(
  body: (executor: WorkerExecutor.WorkerExecutor<typeof tasks>) => Effect.Effect<A, E>,
  options?: WorkerExecutor.ExecutorOptions
) => WorkerExecutor.scoped(pool, body, options)

/** For tasks whose failure the test inspects: not re-raised when the scope ends. */
const quiet = { reraiseOnExit: false } as const

/** `square` of each of `ns` on `pool`, all at once: the exit of each. */
const squaresAtOnce = (pool: WorkerPool.WorkerPool<typeof tasks>, ns: ReadonlyArray<number>) =>
  Effect.forEach(ns, (n) => Effect.exit(pool.call("square", n)), { concurrency: "unbounded" })

/**
 * Runs `body` with an executor on a pool of one thread of its own, started
 * first; once the pool has closed, no thread may be left.
 */
const onOneThread = <A, E>(
  body: (executor: WorkerExecutor.WorkerExecutor<typeof tasks>) => Effect.Effect<A, E>,
  options?: WorkerExecutor.ExecutorOptions
) =>
  Effect.gen(function*() {
    const counter = makeCounter()
    const result = yield* Effect.scoped(Effect.gen(function*() {
      const pool = yield* WorkerPool.make(tasks, { spawn: spawner(counter), maxConcurrency: 1 })
      yield* pool.prestart
      return yield* WorkerExecutor.scoped(pool, body, options)
    }))
    assert.strictEqual(counter.alive(), 0, "a thread outlived its pool")
    return result
  })

describe("WorkerExecutor", () => {
  it.live("scoped runs a body that is an Effect and a function at once (a service key) as the Effect", () =>
    Effect.gen(function*() {
      class Greeting extends Context.Service<Greeting, string>()("test/Greeting") {}
      // before: it was called as a function (`Class constructor Greeting cannot be invoked without 'new'`)
      const greeting = yield* WorkerExecutor.scoped(pool, Greeting).pipe(Effect.provideService(Greeting, "hello"))
      assert.strictEqual(greeting, "hello")
    }))

  it.live("scoped's body sees its caller's BackgroundExecutor (or none), not the one inside the worker executor", () =>
    Effect.gen(function*() {
      const [sameExecutor, stats] = yield* BackgroundExecutor.scoped(Effect.gen(function*() {
        const callers = yield* BackgroundExecutor.BackgroundExecutor
        const seen = yield* WorkerExecutor.scoped(
          pool,
          Effect.gen(function*() {
            yield* Task.join(yield* BackgroundExecutor.submit(Effect.void, { name: "callers-task" }))
            return yield* BackgroundExecutor.BackgroundExecutor
          })
        )
        return [seen === callers, yield* callers.stats] as const
      }))
      // before: the worker executor's own executor, which counted the task (and gave it a thread's permit)
      assert.isTrue(sameExecutor)
      assert.strictEqual(stats.submitted, 1)
      // with no executor around it, none is there (a body that asks for one did not compile)
      const found = yield* WorkerExecutor.scoped(
        pool,
        Effect.serviceOption(BackgroundExecutor.BackgroundExecutor)
      )
      assert.strictEqual(found._tag, "None")
    }))

  it.live("runs a task on a thread and returns its Schema-decoded result", () =>
    Effect.gen(function*() {
      const [square, later] = yield* onPool((executor) =>
        Effect.all([
          Effect.flatMap(executor.submit("square", 12), Task.join),
          Effect.flatMap(executor.submit("later", 41), Task.join)
        ])
      )
      assert.strictEqual(square, 144)
      assert.strictEqual(later, 42)
      // the other forms: a body that uses the executor's service, and make on a shared pool
      const viaService = yield* WorkerExecutor.scoped(
        pool,
        Effect.flatMap(WorkerExecutor.submit(tasks, "square", 3), Task.join)
      )
      const viaMake = yield* Effect.scoped(
        Effect.flatMap(WorkerExecutor.make(pool), (executor) => Effect.flatMap(executor.submit("square", 4), Task.join))
      )
      assert.deepStrictEqual([viaService, viaMake], [9, 16])
    }))

  it.live("the name-first accessor submits to the layer's executor, typed by the registered task set", () =>
    Effect.gen(function*() {
      const task = yield* WorkerExecutor.submit("square", 7, { name: "seven" })
      assert.strictEqual(task.name, "seven")
      assert.strictEqual(yield* Task.join(task), 49)
      const viaCurrent = yield* Effect.flatMap(WorkerExecutor.Current, (executor) => executor.stats)
      assert.strictEqual(viaCurrent.submitted, 1)
      // types only: the registered task set checks names and payloads
      // @ts-expect-error: no such task
      void WorkerExecutor.submit("nope", 1)
      // @ts-expect-error: square takes a number
      void WorkerExecutor.submit("square", "7")
    }).pipe(Effect.provide(WorkerExecutor.layer(pool))))

  it.live("two busy tasks run at the same time on two threads", () =>
    Effect.gen(function*() {
      yield* pool.prestart
      const [a, b] = yield* onPool((executor) =>
        Effect.gen(function*() {
          const a = yield* executor.submit("spin", 150)
          const b = yield* executor.submit("spin", 150)
          return [yield* Task.join(a), yield* Task.join(b)] as const
        })
      )
      // the intervals overlap: each started before the other ended
      assert.isTrue(a.start < b.end && b.start < a.end, `no overlap: ${JSON.stringify([a, b])}`)
    }))

  it.live("interrupting a running task terminates its thread; a fresh one takes the next task", () =>
    Effect.gen(function*() {
      const before = yield* pool.stats
      let running = before
      const [exit, next, after] = yield* onPool((executor) =>
        Effect.gen(function*() {
          const busy = yield* executor.submit("spin", 60_000)
          yield* eventually(Effect.map(pool.stats, (s) => s.busy === 1), "the spin is on a thread")
          running = yield* pool.stats
          yield* Task.interrupt(busy)
          const exit = yield* Task.await(busy)
          const after = yield* pool.stats
          const next = yield* Effect.flatMap(executor.submit("square", 3), Task.join)
          return [exit, next, after] as const
        })
      )
      assert.isTrue(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause))
      assert.strictEqual(after.terminated, before.terminated + 1)
      assert.strictEqual(after.threads, running.threads - 1, "the terminated thread is gone at once")
      assert.strictEqual(next, 9)
    }))

  it.live("cancelOnExit stops a running CPU-bound task when the scope ends", () =>
    Effect.gen(function*() {
      const before = yield* pool.stats
      const task = yield* onPool((executor) =>
        Effect.gen(function*() {
          const task = yield* executor.submit("spin", 60_000, { cancelOnExit: true })
          yield* eventually(Effect.map(pool.stats, (s) => s.busy === 1), "the spin is on a thread")
          return task
        })
      )
      const exit = yield* Task.await(task)
      assert.isTrue(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause))
      assert.strictEqual((yield* pool.stats).terminated, before.terminated + 1)
    }))

  describe("deadlines, keys and runtime control (the shared machinery)", () => {
    it.live("a task in an endless loop with a timeout is stopped: its thread is terminated and replaced", () =>
      Effect.gen(function*() {
        // threads ready first: the timeout must find the loop on a thread, not a thread still starting
        yield* pool.prestart
        const before = yield* pool.stats
        const [exit, next] = yield* onPool((executor) =>
          Effect.gen(function*() {
            const looping = yield* executor.submit("work", { _tag: "Forever" }, { timeout: "300 millis", ...quiet })
            const exit = yield* Task.await(looping)
            const next = yield* Effect.flatMap(executor.submit("square", 4), Task.join)
            return [exit, next] as const
          })
        )
        const error = errorOf(exit)
        assert.instanceOf(error, ExecutorError.TaskTimeoutError)
        assert.deepStrictEqual([error.taskName, error.phase], ["work", "run"])
        const after = yield* pool.stats
        assert.strictEqual(after.terminated, before.terminated + 1, "the looping thread was not terminated")
        assert.strictEqual(next, 16, "no thread took the next task")
      }))

    it.live("a task whose answer never finishes cloning is stopped by its timeout: its thread is terminated", () =>
      Effect.gen(function*() {
        const counter = makeCounter()
        // the answer's getter blocks its thread (for 10 s at most) until cell 0 is set: never, here
        const gate = new Int32Array(new SharedArrayBuffer(8))
        yield* Effect.scoped(Effect.gen(function*() {
          const pool = yield* WorkerPool.make(tasks, { spawn: spawner(counter), maxConcurrency: 1 })
          yield* pool.prestart
          const exit = yield* WorkerExecutor.scoped(pool, (executor) =>
            Effect.flatMap(
              executor.submit("postsSlowly", { cells: gate.buffer }, { timeout: "300 millis", ...quiet }),
              Task.await
            )).pipe(
              // before: the timeout found the call's slot free, and waited for the answer
              Effect.timeout("3 seconds"),
              Effect.catchTag("TimeoutError", () => Effect.sync(() => assert.fail("the timeout waited for the answer")))
            )
          assert.strictEqual(Atomics.load(gate, 1), 1, "the answer was not being cloned")
          const error = errorOf(exit)
          assert.instanceOf(error, ExecutorError.TaskTimeoutError)
          assert.deepStrictEqual([error.taskName, error.phase], ["postsSlowly", "run"])
          assert.include(yield* pool.stats, { terminated: 1, crashed: 0 })
        }))
        assert.strictEqual(counter.alive(), 0)
      }))

    it.live("a call's timeout counts from when it reaches a thread; its startTimeout bounds its wait for one", () =>
      Effect.gen(function*() {
        // three permits for one thread: the last two calls hold a permit while they wait for it
        const [square, late] = yield* onOneThread((executor) =>
          Effect.gen(function*() {
            yield* executor.submit("work", { _tag: "Succeed", ms: 600, value: 1 })
            const square = yield* executor.submit("square", 3, { timeout: "300 millis" })
            const late = yield* executor.submit("square", 4, { name: "late", startTimeout: "300 millis", ...quiet })
            return [yield* Task.join(square), yield* Task.await(late)] as const
          }), { maxConcurrency: 3 })
        // before: it failed with `phase: "run"` at 300 ms, waiting behind the 600 ms call, never run
        assert.strictEqual(square, 9)
        // before: it waited for the thread and ran
        const error = errorOf(late)
        assert.instanceOf(error, ExecutorError.TaskTimeoutError)
        assert.deepStrictEqual([error.taskName, error.phase, Duration.toMillis(error.timeout)], ["late", "queue", 300])
      }))

    it.live("a call with a deadline is not batched behind others: a long call ahead does not use up its timeout", () =>
      Effect.gen(function*() {
        const square = yield* onOneThread((executor) =>
          Effect.gen(function*() {
            // tiny calls: the executor runs ahead, and calls reach the thread in batches
            for (let round = 0; round < 5; round++) {
              const warm = yield* Effect.forEach(Array.from({ length: 50 }, (_, i) => i), (n) =>
                executor.submit("square", n))
              yield* Effect.forEach(warm, Task.join)
            }
            yield* executor.submit("nap", 400)
            return yield* Effect.flatMap(executor.submit("square", 7, { timeout: "150 millis" }), Task.join)
          })
        )
        // before: it went out in the long call's batch, its timeout running, and failed `phase: "run"`, never run
        assert.strictEqual(square, 49)
      }))

    it.live("a call whose start deadline passed while the event loop was busy is not sent when its thread frees", () =>
      Effect.gen(function*() {
        const late = yield* onOneThread((executor) =>
          Effect.gen(function*() {
            yield* executor.submit("nap", 100)
            const late = yield* executor.submit("nap", 50, { startTimeout: "150 millis", ...quiet })
            yield* Effect.sleep(20)
            // the thread frees at ~100 ms and the start deadline passes at 150 while this loop is busy:
            // the thread's answer may be read before the deadline's timer fires
            const until = Date.now() + 300
            while (Date.now() < until) {
              // busy
            }
            return yield* Task.await(late)
          }), { maxConcurrency: 2 })
        // before: sent at once and run, ~175 ms past its start deadline
        const error = errorOf(late)
        assert.instanceOf(error, ExecutorError.TaskTimeoutError)
        assert.strictEqual(error.phase, "queue")
      }))

    it.live("on a pool this copy of the package did not make, a call's timeout counts from its permit", () =>
      Effect.gen(function*() {
        // a wrapper (as a pool made by another copy of the package is, to this one): its calls cannot
        // say when they reach a thread
        const wrapped: WorkerPool.WorkerPool<typeof tasks> = {
          ...pool,
          call: (task, payload) => pool.call(task, payload)
        }
        const exit = yield* WorkerExecutor.scoped(
          wrapped,
          (executor) => Effect.flatMap(executor.submit("nap", 500, { timeout: "100 millis", ...quiet }), Task.await)
        )
        // before: marked as starting late, it never said it started, and ran to its end (no timeout at all)
        const error = errorOf(exit)
        assert.instanceOf(error, ExecutorError.TaskTimeoutError)
        assert.strictEqual(error.phase, "run")
      }))

    it.live("closeTimeout terminates a thread still busy when the grace period passes, and reports it", () =>
      Effect.gen(function*() {
        yield* pool.prestart
        const before = yield* pool.stats
        const error = yield* Effect.flip(WorkerExecutor.scoped(
          pool,
          (executor) => executor.submit("work", { _tag: "Forever" }, { name: "endless" }),
          { closeTimeout: "100 millis" }
        ))
        assert.instanceOf(error, ExecutorError.CloseTimeoutError)
        assert.deepStrictEqual(
          (error as ExecutorError.CloseTimeoutError).interrupted.map((t) => [t.taskName, t.state]),
          [["endless", "running"]]
        )
        assert.strictEqual((yield* pool.stats).terminated, before.terminated + 1)
      }))

    it.live("maxConcurrencyPerKey, priority, pause/resume and resize reach the thread pool's executor", () =>
      Effect.gen(function*() {
        const order = yield* onPool((executor) =>
          Effect.gen(function*() {
            yield* executor.pause
            const low = yield* executor.submit("square", 1, { key: "k", priority: 0 })
            const high = yield* executor.submit("square", 2, { key: "k", priority: 1 })
            assert.include(yield* executor.stats, { queued: 2, running: 0 })
            yield* executor.resize(1)
            yield* executor.resume
            const done: Array<number> = []
            yield* Effect.all([
              Effect.map(Task.join(low), (n) => done.push(n)),
              Effect.map(Task.join(high), (n) => done.push(n))
            ], { concurrency: "unbounded" })
            return done
          }), { maxConcurrencyPerKey: 1 })
        assert.deepStrictEqual(order, [4, 1])
      }))
  })

  describe("crash isolation", () => {
    it.live("process.exit in a worker fails only its task, with WorkerCrashedError", () =>
      Effect.gen(function*() {
        const before = yield* pool.stats
        const [crash, other, after] = yield* onPool((executor) =>
          Effect.gen(function*() {
            const other = yield* executor.submit("spin", 100)
            const crash = yield* executor.submit("exit", 7, quiet)
            return [
              yield* Task.await(crash),
              yield* Task.join(other),
              yield* Effect.flatMap(executor.submit("square", 5), Task.join)
            ] as const
          })
        )
        const error = errorOf(crash)
        assert.instanceOf(error, WorkerError.WorkerCrashedError)
        assert.strictEqual(error._tag === "WorkerCrashedError" && error.task, "exit")
        assert.include(error.message, "exit")
        assert.include(error.message, "code: 7")
        assert.isTrue(other.end > other.start, "the other task finished")
        assert.strictEqual(after, 25, "the pool goes on")
        assert.strictEqual((yield* pool.stats).crashed, before.crashed + 1)
      }))

    it.live("stray messages a task posts on parentPort (null, undefined, others) are ignored: the process and the task go on", () =>
      Effect.gen(function*() {
        const before = yield* pool.stats
        // before: `null` made Effect's worker platform throw in the parent's message listener,
        // an uncaught exception that ended the whole process
        const [stray, after] = yield* onPool((executor) =>
          Effect.all([
            Effect.flatMap(executor.submit("postsStray", 3), Task.join),
            Effect.flatMap(executor.submit("square", 4), Task.join)
          ])
        )
        assert.deepStrictEqual([stray, after], [3, 16])
        assert.strictEqual((yield* pool.stats).crashed, before.crashed)
      }))

    it.live("an uncaught error in a worker fails only its task", () =>
      Effect.gen(function*() {
        const exit = yield* onPool((executor) =>
          Effect.flatMap(executor.submit("throwsLater", "kaboom", quiet), Task.await)
        )
        const error = errorOf(exit)
        assert.instanceOf(error, WorkerError.WorkerCrashedError)
        assert.include(error.message, "throwsLater")
        assert.include(error.message, "kaboom")
      }))

    it.live("a function that throws fails its task; the thread survives", () =>
      Effect.gen(function*() {
        yield* pool.prestart
        const before = yield* pool.stats
        const exit = yield* onPool((executor) =>
          Effect.flatMap(executor.submit("throws", "bad input", quiet), Task.await)
        )
        const error = errorOf(exit) as WorkerError.WorkerCrashedError
        assert.instanceOf(error, WorkerError.WorkerCrashedError)
        assert.include(error.message, "throws")
        assert.include(error.message, "RangeError: bad input")
        assert.instanceOf(error.cause, Error)
        const after = yield* pool.stats
        assert.strictEqual(after.crashed, before.crashed)
        assert.strictEqual(after.started, before.started)
      }))

    it.live("running out of memory (resourceLimits) fails only its task", () =>
      Effect.gen(function*() {
        const counter = makeCounter()
        const [oom, stats] = yield* WorkerExecutor.scoped(tasks, (executor) =>
          Effect.gen(function*() {
            const oom = yield* Effect.flatMap(executor.submit("oom", 100_000, quiet), Task.await)
            return [oom, yield* executor.pool.stats] as const
          }), {
          spawn: spawner(counter, "worker.ts", { maxOldGenerationSizeMb: 48 }),
          maxConcurrency: 1
        })
        const error = errorOf(oom) as WorkerError.WorkerCrashedError
        assert.instanceOf(error, WorkerError.WorkerCrashedError)
        assert.include(error.message, "oom")
        assert.match(error.message, /memory/i)
        assert.include(stats, { crashed: 1, threads: 0 }, "the thread is gone, the executor went on")
        assert.strictEqual(counter.alive(), 0)
      }))

    /** A linked list nested deeper than a worker stack of 0.5 MB can rebuild. */
    const deepList = (): unknown => {
      let list: unknown = null
      for (let i = 0; i < 3_000; i++) list = { value: i, next: list }
      return list
    }
    /** Submits each payload (a number to "square", anything else to "anything"), then awaits them all. */
    const awaitAll = (executor: WorkerExecutor.WorkerExecutor<typeof tasks>, payloads: ReadonlyArray<unknown>) =>
      Effect.gen(function*() {
        const submitted = yield* Effect.forEach(payloads, (payload) =>
          typeof payload === "number"
            ? executor.submit("square", payload)
            : executor.submit("anything", payload, quiet))
        const outcomes = yield* Effect.forEach(submitted, Task.await)
        return [outcomes, yield* executor.pool.stats] as const
      })

    it.live("a payload the worker cannot read fails its call after two threads died of it; calls sent with it run", () =>
      Effect.gen(function*() {
        const counter = makeCounter()
        const [outcomes, stats] = yield* WorkerExecutor.scoped(tasks, (executor) =>
          Effect.gen(function*() {
            // tiny calls first: the next ones go out in one message, the deep payload among them
            for (let i = 0; i < 20; i++) yield* Effect.flatMap(executor.submit("square", i), Task.join)
            return yield* awaitAll(executor, [2, deepList(), 3, 4])
          }), {
          // a worker stack too small to rebuild the list (before: threads died one after another, for ever)
          spawn: spawner(counter, "worker.ts", { stackSizeMb: 0.5 }),
          maxConcurrency: 1
        })
        const values = outcomes.map((exit) => (Exit.isSuccess(exit) ? exit.value : "failed"))
        assert.deepStrictEqual(values, [4, "failed", 9, 16])
        const error = errorOf(outcomes[1]!)
        assert.instanceOf(error, WorkerError.WorkerCrashedError)
        assert.include(error.message, "the worker could not read its payload")
        assert.strictEqual(stats.crashed, 2)
        assert.strictEqual(counter.alive(), 0)
      }))

    it.live("a thread that survives a payload it cannot read (uncaught errors swallowed) is ended, as one that died of it", () =>
      Effect.gen(function*() {
        const counter = makeCounter()
        // its read of the payload throws and is swallowed: the thread lives on, without its loop
        // (before: it passed for a live thread; its calls waited for their timeouts, or for ever)
        const [outcomes, stats] = yield* WorkerExecutor.scoped(tasks, (executor) =>
          awaitAll(executor, [deepList(), 1, 2]), {
          spawn: spawner(counter, "forgiving-worker.ts", { stackSizeMb: 0.5 }),
          maxConcurrency: 1
        })
        const values = outcomes.map((exit) => (Exit.isSuccess(exit) ? exit.value : "failed"))
        assert.deepStrictEqual(values, ["failed", 1, 4])
        const error = errorOf(outcomes[0]!)
        assert.instanceOf(error, WorkerError.WorkerCrashedError)
        assert.include(error.message, "the worker could not read its payload")
        assert.include(error.message, "RangeError", "names what the read threw")
        assert.include(stats, { crashed: 2, terminated: 0 })
        assert.strictEqual(counter.alive(), 0)
      }))

    it.live("calls held by threads that die of timers their tasks left behind run elsewhere, not blamed", () =>
      Effect.gen(function*() {
        const counter = makeCounter()
        const [squared, stats] = yield* WorkerExecutor.scoped(tasks, (executor) =>
          Effect.gen(function*() {
            yield* executor.pool.prestart
            // each thread gets a bomb: it is busy in a timer from 20 ms on, then dies
            const bombs = yield* Effect.forEach([300, 500], (busyMs) => executor.submit("bomb", { delay: 20, busyMs }))
            yield* Effect.forEach(bombs, Task.join)
            yield* Effect.sleep("50 millis")
            // sent to a thread that dies before it can start it, maybe twice (before: blamed on its payload)
            const squared = yield* Effect.flatMap(executor.submit("square", 7), Task.join)
            return [squared, yield* executor.pool.stats] as const
          }), { spawn: spawner(counter), maxConcurrency: 2 })
        assert.strictEqual(squared, 49)
        assert.strictEqual(stats.crashed, 2)
        assert.strictEqual(counter.alive(), 0)
      }))

    it.live("a thread stuck in a callback its task left behind is replaced once two calls in a row give up on it", () =>
      Effect.gen(function*() {
        const counter = makeCounter()
        const [stuck, next, stats] = yield* WorkerExecutor.scoped(tasks, (executor) =>
          Effect.gen(function*() {
            assert.strictEqual(yield* Effect.flatMap(executor.submit("wedge", 1), Task.join), 1)
            yield* Effect.sleep("50 millis") // the thread turns its event loop and meets the timer
            // sent to the stuck thread, never started: they time out (before: so did every later call);
            // a second one in a row tells a stuck thread from one that is only slow to come back
            const stuck = yield* Effect.forEach([2, 3], (n) =>
              Effect.flatMap(
                executor.submit("square", n, { timeout: "300 millis", reraiseOnExit: false }),
                Task.await
              ))
            const next = yield* Effect.flatMap(executor.submit("square", 4), Task.join)
            return [stuck, next, yield* executor.pool.stats] as const
          }), { spawn: spawner(counter), maxConcurrency: 1 })
        for (const exit of stuck) assert.instanceOf(errorOf(exit), ExecutorError.TaskTimeoutError)
        assert.strictEqual(next, 16)
        assert.include(stats, { started: 2, terminated: 1 })
        assert.strictEqual(counter.alive(), 0)
      }))

    it.live("a worker that cannot start fails the task with WorkerCrashedError", () =>
      Effect.gen(function*() {
        const counter = makeCounter()
        const [exit, stats] = yield* WorkerExecutor.scoped(tasks, (executor) =>
          Effect.gen(function*() {
            const exit = yield* Effect.flatMap(executor.submit("square", 2, quiet), Task.await)
            return [exit, yield* executor.pool.stats] as const
          }), { spawn: spawner(counter, "broken-worker.ts"), maxConcurrency: 1 })
        const error = errorOf(exit)
        assert.instanceOf(error, WorkerError.WorkerCrashedError)
        assert.include(error.message, "failed to start")
        assert.include(error.message, "broken worker entry")
        assert.include(stats, { threads: 0, crashed: 1 })
        assert.strictEqual(counter.alive(), 0)
      }))

    it.live("a thread not ready within readyTimeout is terminated and its task fails; each task waits one readyTimeout", () =>
      Effect.gen(function*() {
        const counter = makeCounter()
        const [exits, stats] = yield* WorkerExecutor.scoped(tasks, (executor) =>
          Effect.gen(function*() {
            const submitted = yield* Effect.forEach([1, 2, 3], (n) => executor.submit("square", n, quiet))
            const exits = yield* Effect.forEach(submitted, Task.await)
            return [exits, yield* executor.pool.stats] as const
          }), { spawn: spawner(counter, "silent-worker.ts"), maxConcurrency: 1, readyTimeout: 100 })
        for (const exit of exits) {
          const error = errorOf(exit)
          assert.instanceOf(error, WorkerError.WorkerCrashedError)
          assert.include(error.message, "failed to start")
          assert.include(error.message, "not ready within 100 ms (readyTimeout)")
        }
        // the executor hands the pool one task at a time (one thread): a thread started for each
        assert.include(stats, { threads: 0, queued: 0, crashed: 3, started: 3 })
        assert.strictEqual(counter.alive(), 0, "the silent threads were terminated")
      }))

    it.live("when a thread is not ready within readyTimeout and none is, every call made before it started fails", () =>
      Effect.gen(function*() {
        const counter = makeCounter()
        const [exits, stats] = yield* Effect.scoped(Effect.gen(function*() {
          const pool = yield* WorkerPool.make(tasks, {
            spawn: spawner(counter, "silent-worker.ts"),
            maxConcurrency: 1,
            readyTimeout: 100
          })
          const exits = yield* squaresAtOnce(pool, [1, 2, 3])
          return [exits, yield* pool.stats] as const
        }))
        for (const exit of exits) assert.include(errorOf(exit).message, "not ready within 100 ms (readyTimeout)")
        // the first thread, started for call 1, fails it; the second, started for calls 2 and 3, fails both
        assert.include(stats, { threads: 0, queued: 0, crashed: 2, started: 2 })
        assert.strictEqual(counter.alive(), 0)
      }))

    it.effect("readyTimeout counts real time: a TestClock moved past it while a thread starts does not stop it", () =>
      Effect.gen(function*() {
        const counter = makeCounter()
        const [result, stats] = yield* WorkerExecutor.scoped(tasks, (executor) =>
          Effect.gen(function*() {
            const task = yield* executor.submit("square", 7) // its thread starts now
            yield* TestClock.adjust("2 minutes") // past the deadline, on the program's clock only
            const result = yield* Task.join(task)
            return [result, yield* executor.pool.stats] as const
          }), { spawn: spawner(counter), maxConcurrency: 1, readyTimeout: "30 seconds" })
        assert.strictEqual(result, 49)
        assert.include(stats, { crashed: 0, terminated: 0, started: 1 })
      }))
  })

  describe("typed failures and bad input", () => {
    it.live("a task's own error arrives typed, thrown or from an Effect", () =>
      Effect.gen(function*() {
        const [thrown, failed] = yield* onPool((executor) =>
          Effect.all([
            Effect.flatMap(executor.submit("work", { _tag: "Fail", ms: 0, message: "no" }, quiet), Task.await),
            Effect.flatMap(executor.submit("effectFail", "nope", quiet), Task.await)
          ])
        )
        assert.deepStrictEqual(errorOf(thrown), new WorkFailed({ message: "no" }))
        assert.instanceOf(errorOf(failed), WorkFailed)
      }))

    it.live("a payload that fails its Schema fails that task only, naming task and value", () =>
      Effect.gen(function*() {
        const [bad, good] = yield* onPool((executor) =>
          Effect.all([
            Effect.flatMap(executor.submit("square", "seven" as unknown as number, quiet), Task.await),
            Effect.flatMap(executor.submit("square", 7), Task.join)
          ])
        )
        const error = errorOf(bad)
        assert.instanceOf(error, WorkerError.InvalidPayloadError)
        assert.include(error.message, "\"square\"")
        assert.include(error.message, "\"seven\"")
        assert.strictEqual(good, 49)
      }))

    it.live("an unknown task name from untyped code is a typed error", () =>
      Effect.gen(function*() {
        const exit = yield* onPool((executor) => {
          const untyped = executor.submit as (
            task: string,
            payload: unknown,
            options?: typeof quiet
          ) => ReturnType<typeof executor.submit>
          return Effect.flatMap(untyped("cube", 3, quiet), Task.await)
        })
        const error = errorOf(exit)
        assert.instanceOf(error, WorkerError.UnknownTaskError)
        assert.include(error.message, "\"cube\"")
        assert.include(error.message, "\"square\"")
      }))

    it.live("a task name that is not even printable is a typed error, not a TypeError", () =>
      Effect.gen(function*() {
        const exit = yield* onPool((executor) => {
          const untyped = executor.submit as (
            task: unknown,
            payload: unknown,
            options?: typeof quiet
          ) => ReturnType<typeof executor.submit>
          return Effect.flatMap(untyped(Object.create(null), 3, quiet), Task.await)
        })
        assert.instanceOf(errorOf(exit), WorkerError.UnknownTaskError)
      }))

    it.live("a worker serving another task set answers UnknownTaskError for tasks it lacks", () =>
      Effect.gen(function*() {
        const counter = makeCounter()
        const [missing, known] = yield* WorkerExecutor.scoped(tasks, (executor) =>
          Effect.all([
            Effect.flatMap(executor.submit("later", 1, quiet), Task.await),
            Effect.flatMap(executor.submit("square", 6), Task.join)
          ], { concurrency: 1 }), { spawn: spawner(counter, "stale-worker.ts"), maxConcurrency: 1 })
        const error = errorOf(missing)
        assert.instanceOf(error, WorkerError.UnknownTaskError)
        assert.include(error.message, "\"later\"")
        assert.strictEqual(known, 36)
      }))

    it.live("results that cannot be cloned or fail their Schema are typed errors; payloads too", () =>
      Effect.gen(function*() {
        const before = yield* pool.stats
        const [uncloneable, wrong, payload] = yield* onPool((executor) =>
          Effect.all([
            Effect.flatMap(executor.submit("uncloneable", undefined, quiet), Task.await),
            Effect.flatMap(executor.submit("wrongResult", undefined, quiet), Task.await),
            Effect.flatMap(executor.submit("anything", { f: () => 1 }, quiet), Task.await)
          ])
        )
        const e1 = errorOf(uncloneable)
        assert.instanceOf(e1, WorkerError.InvalidResultError)
        assert.include(e1.message, "\"uncloneable\"")
        assert.include(e1.message, "could not be cloned")
        const e2 = errorOf(wrong)
        assert.instanceOf(e2, WorkerError.InvalidResultError)
        assert.include(e2.message, "\"not a number\"")
        const e3 = errorOf(payload)
        assert.instanceOf(e3, WorkerError.InvalidPayloadError)
        assert.include(e3.message, "could not be cloned")
        assert.strictEqual((yield* pool.stats).crashed, before.crashed, "none of these killed a thread")
      }))

    it.live("a thrown Error that cannot be cloned is told by its name and message, as one that can", () =>
      Effect.gen(function*() {
        const exit = yield* onPool((executor) =>
          Effect.flatMap(executor.submit("throwUncloneableError", undefined, quiet), Task.await)
        )
        const error = errorOf(exit)
        assert.instanceOf(error, WorkerError.WorkerCrashedError)
        assert.strictEqual(
          error.message,
          "Task \"throwUncloneableError\" crashed its worker: threw RangeError: out of range"
        )
      }))

    it.live("a thrown Error whose fields cannot be copied either is still answered; its timeout and the close work", () =>
      Effect.gen(function*() {
        const [exit, next] = yield* onPool((executor) =>
          Effect.gen(function*() {
            const exit = yield* Effect.flatMap(
              executor.submit("throwUndescribableError", undefined, { timeout: "5 seconds", ...quiet }),
              Task.await
            )
            return [exit, yield* Effect.flatMap(executor.submit("square", 5), Task.join)] as const
          })
        )
        // before: the copy threw too, the call was never answered, and its timeout and the close waited for ever
        const error = errorOf(exit)
        assert.instanceOf(error, WorkerError.WorkerCrashedError)
        assert.include(error.message, "Symbol(odd)")
        assert.strictEqual(next, 25)
      }))

    it.live("an unref'd timer a task left behind runs on an idle thread, not only once the next call comes", () =>
      Effect.gen(function*() {
        const cells = new SharedArrayBuffer(4)
        const view = new Int32Array(cells)
        const fired = yield* onOneThread((executor) =>
          Effect.gen(function*() {
            yield* Effect.flatMap(executor.submit("leaveUnrefTimer", { cells, index: 0, ms: 50 }), Task.join)
            yield* Effect.sleep("1 second") // no call meanwhile: the thread sleeps
            return Atomics.load(view, 0)
          })
        )
        // before: the thread slept in Atomics.wait with nothing counted as pending, and the timer waited
        assert.strictEqual(fired, 1)
      }))

    it.live("an answer the parent thread cannot read fails its task, typed; the thread and the next calls go on", () =>
      Effect.gen(function*() {
        const counter = makeCounter()
        // the worker's stack is far larger than this thread's: it clones a
        // list this thread cannot rebuild (on the main thread an uncaught
        // RangeError in the pool's port listener killed the process, else
        // the call, its timeout and the close waited for ever)
        const [result, thrown, next, stats] = yield* WorkerExecutor.scoped(tasks, (executor) =>
          Effect.gen(function*() {
            const result = yield* Effect.flatMap(executor.submit("deep", 100_000, quiet), Task.await)
            const thrown = yield* Effect.flatMap(executor.submit("deepThrow", 100_000, quiet), Task.await)
            const next = yield* Effect.flatMap(executor.submit("square", 7), Task.join)
            return [result, thrown, next, yield* executor.pool.stats] as const
          }), {
          spawn: spawner(counter, "worker.ts", { stackSizeMb: 256 }),
          maxConcurrency: 1
        })
        const e1 = errorOf(result)
        assert.instanceOf(e1, WorkerError.InvalidResultError)
        assert.strictEqual((e1 as WorkerError.InvalidResultError).part, "success value")
        assert.include(e1.message, "could not be read on the parent thread")
        const e2 = errorOf(thrown)
        assert.instanceOf(e2, WorkerError.WorkerCrashedError)
        assert.include(e2.message, "threw a value that could not be read on the parent thread")
        assert.strictEqual(next, 49)
        assert.include(stats, { crashed: 0, started: 1 }, "one thread served all three")
        assert.strictEqual(counter.alive(), 0)
      }))

    it.live("a task whose value is an error instance returns it: it is not run as an effect, nor failed with", () =>
      Effect.gen(function*() {
        const [now, later] = yield* onPool((executor) =>
          Effect.all([
            Effect.flatMap(executor.submit("errorAsValue", "verdict"), Task.join),
            Effect.flatMap(executor.submit("errorAsValueLater", "later"), Task.join)
          ])
        )
        // before: the instance was run as an effect, and the call died
        assert.instanceOf(now, WorkFailed)
        assert.strictEqual(now.message, "verdict")
        assert.instanceOf(later, WorkFailed)
        assert.strictEqual(later.message, "later")
        // an Exit (`Effect.fail`, `Effect.succeed`) is always run, whatever the success Schema accepts
        const [failed, succeeded] = yield* onPool((executor) =>
          Effect.all([
            Effect.flatMap(executor.submit("voidFails", "no", { reraiseOnExit: false }), Task.await),
            Effect.flatMap(executor.submit("anySucceeds", 1), Task.join)
          ])
        )
        assert.deepStrictEqual(errorOf(failed), new WorkFailed({ message: "no" }))
        assert.strictEqual(succeeded, 2)
      }))

    it.live("a Schema that throws while encoding, or a thenable whose then throws, fails its task: no call hangs", () =>
      Effect.gen(function*() {
        const [encoded, thenable] = yield* onPool((executor) =>
          Effect.all([
            Effect.flatMap(executor.submit("throwingSchema", 1.5, quiet), Task.await),
            Effect.flatMap(executor.submit("throwingThen", 1, quiet), Task.await)
          ])
        )
        const e1 = errorOf(encoded)
        assert.instanceOf(e1, WorkerError.InvalidResultError)
        assert.include(e1.message, "threw RangeError")
        const e2 = errorOf(thenable)
        assert.instanceOf(e2, WorkerError.WorkerCrashedError)
        assert.include(e2.message, "then threw")
        assert.strictEqual((yield* pool.stats).busy, 0, "the thread was handed back")
      }))

    it.live("a Schema whose own code throws on the parent side is a typed error of its task", () =>
      Effect.gen(function*() {
        const before = yield* pool.stats
        const exits = yield* onPool((executor) =>
          Effect.all([
            Effect.flatMap(executor.submit("throwingPayload", 1.5, quiet), Task.await),
            Effect.flatMap(executor.submit("throwingCheck", 13, quiet), Task.await),
            Effect.flatMap(executor.submit("throwingDecode", "boom", quiet), Task.await),
            Effect.flatMap(executor.submit("throwingErrorDecode", "boom", quiet), Task.await)
          ])
        )
        const [payload, check, result, error] = exits.map((exit) => errorOf(exit as Exit.Exit<unknown, unknown>))
        assert.instanceOf(payload, WorkerError.InvalidPayloadError)
        assert.include(payload.message, "its transformation threw RangeError")
        assert.instanceOf(check, WorkerError.InvalidPayloadError)
        assert.include(check.message, "the check met 13")
        assert.instanceOf(result, WorkerError.InvalidResultError)
        assert.include(result.message, "decode met boom")
        assert.instanceOf(error, WorkerError.InvalidResultError)
        assert.include(error.message, "decode met boom")
        assert.include(error.message, "error")
        assert.strictEqual((yield* pool.stats).crashed, before.crashed, "none of these killed a thread")
      }))

    it.live("a task that needs a Scope runs in one of its own, closed when its call ends", () =>
      Effect.gen(function*() {
        const seen = yield* onPool((executor) =>
          Effect.gen(function*() {
            const seen: Array<number> = []
            // one at a time, on the pool's threads: each call finds no resource of an earlier call open
            for (let i = 0; i < 3; i++) seen.push(yield* Task.join(yield* executor.submit("withResource", undefined)))
            seen.push(yield* Task.join(yield* executor.submit("openResources", undefined)))
            return seen
          }), { maxConcurrency: 1 })
        // before: the call died ("Service not found: Scope") in a thread served without one
        assert.deepStrictEqual(seen, [1, 1, 1, 0])
      }))

    it.live("ArrayBuffers marked Transferable move instead of being copied", () =>
      Effect.gen(function*() {
        const bytes = new Uint8Array([9, 8, 7, 6])
        const result = yield* onPool((executor) => Effect.flatMap(executor.submit("bytes", bytes), Task.join))
        assert.deepStrictEqual(result, { length: 4, first: 9 })
        assert.strictEqual(bytes.byteLength, 0, "the buffer was transferred, not cloned")
      }))

    it.live("buffers that cannot move, or come twice, are sent all the same: shared, pooled, WebAssembly's, two views of one", () =>
      Effect.gen(function*() {
        const shared = new Uint8Array(new SharedArrayBuffer(4)).fill(5)
        const pooled = Buffer.from("hi") // a slice of Node's pool, which cannot be transferred
        const wasm = new Uint8Array(wasmPage(), 0, 3).fill(6) // cannot be detached
        const whole = new Uint8Array([1, 2, 3, 4])
        const [fromShared, fromPool, fromWasm, wasmResult, views] = yield* onPool((executor) =>
          Effect.all([
            Effect.flatMap(executor.submit("bytes", shared as unknown as Uint8Array<ArrayBuffer>), Task.join),
            Effect.flatMap(executor.submit("bytes", pooled), Task.join),
            Effect.flatMap(executor.submit("bytes", wasm), Task.join),
            Effect.flatMap(executor.submit("wasmBytes", 5), Task.join),
            Effect.flatMap(executor.submit("twoViews", { head: whole.subarray(0, 1), tail: whole.subarray(1) }),
              Task.join)
          ])
        )
        // before: DataCloneError, as InvalidPayloadError or InvalidResultError
        assert.deepStrictEqual(fromShared, { length: 4, first: 5 })
        assert.deepStrictEqual(fromPool, { length: 2, first: "h".charCodeAt(0) })
        assert.deepStrictEqual(fromWasm, { length: 3, first: 6 })
        assert.deepStrictEqual(Array.from(wasmResult), [7, 7, 7, 7, 7])
        assert.deepStrictEqual([Array.from(views.head), Array.from(views.tail)], [[1], [2, 3, 4]])
        assert.strictEqual(pooled.toString(), "hi", "a pooled buffer is copied, not moved")
        assert.strictEqual(wasm.byteLength, 3, "WebAssembly's memory is copied, not moved")
      }))

    it("only a layer of the registered task set provides the program's executor (Current) to name-first calls", () => {
      const spawn = spawner(makeCounter())
      const other = TaskSet.make("@taskscope/node/test/other", {
        upper: TaskSet.task({ payload: Schema.String, success: Schema.String, run: (s) => s.toUpperCase() })
      })
      const byName = Effect.flatMap(WorkerExecutor.submit("square", 3), Task.join)
      const programs = () => [
        Effect.runPromise(byName.pipe(Effect.provide(WorkerExecutor.layer(tasks, { spawn })))),
        // @ts-expect-error: the executor of another task set would fail this call with UnknownTaskError
        Effect.runPromise(byName.pipe(Effect.provide(WorkerExecutor.layer(other, { spawn }))))
      ]
      expectTypeOf<WorkerExecutor.CurrentOf<typeof tasks>>().toEqualTypeOf<WorkerExecutor.Current>()
      expectTypeOf<WorkerExecutor.CurrentOf<typeof other>>().toEqualTypeOf<never>()
      assert.isFunction(programs)
    })

    it("one task set's executor is not another's, whatever their tasks: the layer of one does not compile for the other", () => {
      const spawn = spawner(makeCounter())
      const square = TaskSet.task({ payload: Schema.Number, success: Schema.Number, run: (n) => n * n })
      const cube = TaskSet.task({ payload: Schema.Number, success: Schema.Number, run: (n) => n * n * n })
      const light = TaskSet.make("@taskscope/node/test/light", { square })
      const heavy = TaskSet.make("@taskscope/node/test/heavy", { square })
      const more = TaskSet.make("@taskscope/node/test/more", { square, cube })
      const programs = () => [
        Effect.runPromise(WorkerExecutor.submit(light, "square", 3).pipe(
          Effect.provide(WorkerExecutor.layer(light, { spawn }))
        )),
        // @ts-expect-error: the same tasks under another key are another service (it died: Service not found)
        Effect.runPromise(WorkerExecutor.submit(heavy, "square", 3).pipe(
          Effect.provide(WorkerExecutor.layer(light, { spawn }))
        )),
        // @ts-expect-error: nor does a set with fewer tasks serve one with more
        Effect.runPromise(WorkerExecutor.submit(more, "cube", 3).pipe(
          Effect.provide(WorkerExecutor.layer(light, { spawn }))
        ))
      ]
      expectTypeOf(light.key).toEqualTypeOf<"@taskscope/node/test/light">()
      assert.isFunction(programs)
    })

    it("a misspelled option does not compile, nor an option of the pool next to a shared pool", () => {
      const spawn = spawner(makeCounter())
      const mistakes = (executor: WorkerExecutor.WorkerExecutor<typeof tasks>) => [
        // @ts-expect-error: `idleTimout` is not an option
        WorkerExecutor.scoped(tasks, () => Effect.void, { spawn, idleTimout: 1000 }),
        // @ts-expect-error: `spawn` belongs to the shared pool
        WorkerExecutor.scoped(pool, () => Effect.void, { maxConcurrency: 2, spawn }),
        // @ts-expect-error: `onInterruptRunning` belongs to the shared pool
        WorkerExecutor.scoped(pool, () => Effect.void, { maxQueue: 4, onInterruptRunning: "wait" }),
        // @ts-expect-error: `cancelOnExt` is not a submit option
        executor.submit("square", 1, { name: "x", cancelOnExt: true }),
        // @ts-expect-error: `cancelOnExt` is not a submit option (accessor)
        WorkerExecutor.submit(tasks, "square", 1, { name: "x", cancelOnExt: true })
      ]
      assert.isFunction(mistakes)
    })

    it("options the compiler cannot check key by key compile, with the wider error type", () => {
      const spawn = spawner(makeCounter())
      const forms = (executor: WorkerExecutor.WorkerExecutor<typeof tasks>) =>
        Effect.gen(function*() {
          const helper = <O extends BackgroundExecutor.SubmitOptions>(options: O) =>
            executor.submit("square", 1, options)
          expectTypeOf(yield* helper({ name: "x" })).toEqualTypeOf<
            Task.Task<number, WorkerError.WorkerTaskError | ExecutorError.TaskTimeoutError>
          >()
          const config = { name: "x", retries: 3 }
          expectTypeOf(yield* WorkerExecutor.submit(tasks, "square", 1, config)).toEqualTypeOf<
            Task.Task<number, WorkerError.WorkerTaskError | ExecutorError.TaskTimeoutError>
          >()
          expectTypeOf(yield* executor.submit("square", 1, { name: "x" })).toEqualTypeOf<
            Task.Task<number, WorkerError.WorkerTaskError>
          >()
          const poolConfig = { maxQueue: 4, retries: 3 }
          expectTypeOf(WorkerExecutor.scoped(pool, (e) => e.submit("square", 1), poolConfig)).toEqualTypeOf<
            Effect.Effect<
              Task.Task<number, WorkerError.WorkerTaskError>,
              ExecutorError.ExecutorClosedError | ExecutorError.TaskFailedError | ExecutorError.CloseTimeoutError
            >
          >()
          const ownConfig = { spawn, retries: 3 }
          expectTypeOf(WorkerExecutor.scoped(tasks, Effect.void, ownConfig)).toEqualTypeOf<
            Effect.Effect<void, ExecutorError.TaskFailedError | ExecutorError.CloseTimeoutError>
          >()
        })
      assert.isFunction(forms)
    })

    it.live("submit options that are not an object die as BackgroundExecutor's do (they were taken for none)", () =>
      Effect.gen(function*() {
        for (const options of [null, "square-3", 5]) {
          const exit = yield* Effect.exit(
            onPool((executor) => executor.submit("square", 3, options as unknown as BackgroundExecutor.SubmitOptions))
          )
          assert.isTrue(Exit.isFailure(exit), `${String(options)} was accepted`)
          const defect = Cause.squash((exit as Exit.Failure<unknown, unknown>).cause)
          assert.instanceOf(defect, ExecutorError.InvalidArgumentError)
          assert.include((defect as Error).message, "`submit options` to be an object of options")
        }
      }))

    it("bad options fail at once, naming the option and the value", () => {
      const spawn = spawner(makeCounter())
      const cases: ReadonlyArray<[unknown, string]> = [
        [{ spawn, maxConcurrency: 0 }, "`maxConcurrency` to be an integer from 1 up (the number of threads), got 0"],
        [{ spawn, maxConcurrency: 1.5 }, "`maxConcurrency`"],
        [{ spawn, idleTimeout: -1 }, "`idleTimeout` to be a non-negative duration"],
        [{ spawn, idleTimeout: Number.NaN }, "`idleTimeout` to be a non-negative duration"],
        // what Duration reads as zero, retiring every idle thread at once
        [{ spawn, idleTimeout: { millis: 30_000 } }, "`idleTimeout` to be a non-negative duration"],
        [{ spawn, idleTimeout: new Date() }, "`idleTimeout` to be a non-negative duration"],
        [
          { spawn, readyTimeout: 0 },
          "`readyTimeout` to be a positive duration (milliseconds, or e.g. \"1 minute\"), or Infinity, got 0"
        ],
        [{ spawn, readyTimeout: Number.NaN }, "`readyTimeout` to be a positive duration"],
        [{ spawn, readyTimeout: "soon" }, "`readyTimeout` to be a positive duration"],
        [{ spawn, onInterruptRunning: "kill" }, "`onInterruptRunning` to be \"terminate\" or \"wait\", got \"kill\""],
        [{ maxConcurrency: 2 }, "`spawn`"],
        [{ spawn, closeTimeout: -1 }, "`closeTimeout` to be a non-negative duration"],
        [
          { spawn, maxConcurrencyPerKey: 0 },
          "`maxConcurrencyPerKey` to be an integer from 1 and up, or Infinity, got 0"
        ]
      ]
      for (const [options, message] of cases) {
        const exit = Effect.runSyncExit(
          Effect.scoped(WorkerExecutor.make(tasks, options as WorkerExecutor.Options))
        )
        assert.isTrue(Exit.isFailure(exit) && Cause.hasDies(exit.cause),
          `expected a defect for ${JSON.stringify(options)}`)
        assert.include(String(Cause.squash((exit as Exit.Failure<unknown, unknown>).cause)), message)
      }
      const withPool = Effect.runSyncExit(Effect.scoped(
        WorkerExecutor.make(pool, { spawn } as WorkerExecutor.ExecutorOptions)
      ))
      assert.include(String(Cause.squash((withPool as Exit.Failure<unknown, unknown>).cause)), "`spawn`")
      const readyTimeoutOnPool = Effect.runSyncExit(Effect.scoped(
        WorkerExecutor.make(pool, { readyTimeout: 10 } as WorkerExecutor.ExecutorOptions)
      ))
      assert.include(String(Cause.squash((readyTimeoutOnPool as Exit.Failure<unknown, unknown>).cause)),
        "`readyTimeout`")
      const badTimeout = Effect.runSyncExit(Effect.scoped(Effect.flatMap(
        WorkerExecutor.make(pool),
        (executor) => executor.submit("square", 2, { timeout: Number.NaN })
      )))
      assert.include(String(Cause.squash((badTimeout as Exit.Failure<unknown, unknown>).cause)), "`timeout`")
      assert.throws(() => TaskSet.make("bad", { f: { run: () => 1 } } as never), /task "f" must be declared/)
    })

    it("an option no one knows fails at once, naming it and the option meant (it was read as no option)", () => {
      const spawn = spawner(makeCounter())
      const defectOf = (program: Effect.Effect<unknown, unknown, Scope.Scope>): string => {
        const exit = Effect.runSyncExit(Effect.scoped(program))
        assert.isTrue(Exit.isFailure(exit) && Cause.hasDies(exit.cause), "expected a defect")
        const defect = Cause.squash((exit as Exit.Failure<unknown, unknown>).cause)
        assert.instanceOf(defect, ExecutorError.InvalidArgumentError)
        return String((defect as Error).message)
      }
      // the executor's options and the pool's, together
      assert.strictEqual(
        defectOf(WorkerExecutor.make(tasks, { spawn, idleTimout: 1000 } as WorkerExecutor.Options)),
        "Expected `idleTimout` to be an option of WorkerExecutor (did you mean `idleTimeout`?), got 1000 (number)"
      )
      assert.include(
        defectOf(WorkerExecutor.make(tasks, { spawn, maxQueu: 10 } as WorkerExecutor.Options)),
        "`maxQueu` to be an option of WorkerExecutor (did you mean `maxQueue`?)"
      )
      // a pool's own; a misspelt spawn is named as such (not reported as a missing spawn)
      assert.include(
        defectOf(WorkerPool.make(tasks, { spawn, maxQueue: 10 } as WorkerPool.Options)),
        "`maxQueue` to be an option of WorkerPool.make (one of `spawn`, `maxConcurrency`"
      )
      assert.include(
        defectOf(WorkerPool.make(tasks, { spwan: spawn } as unknown as WorkerPool.Options)),
        "`spwan` to be an option of WorkerPool.make (did you mean `spawn`?)"
      )
      // an executor on an existing pool
      assert.include(
        defectOf(WorkerExecutor.make(pool, { maxConcurency: 2 } as WorkerExecutor.ExecutorOptions)),
        "`maxConcurency` to be an option of WorkerExecutor on an existing WorkerPool (did you mean `maxConcurrency`?)"
      )
      // a call's, through the executor's submit
      assert.include(
        defectOf(Effect.flatMap(
          WorkerExecutor.make(pool),
          (executor) => executor.submit("square", 2, { timeOut: 10 } as BackgroundExecutor.SubmitOptions)
        )),
        "`timeOut` to be an option of submit (did you mean `timeout`?)"
      )
      // a pool option left undefined on an existing pool is left out, as before
      assert.strictEqual(
        Effect.runSync(Effect.scoped(Effect.flatMap(
          WorkerExecutor.make(pool, { idleTimeout: undefined, spawn: undefined } as WorkerExecutor.ExecutorOptions),
          (executor) => executor.stats
        ))).submitted,
        0
      )
      // options the pool and the executor both have still work as before
      const stats = Effect.runSync(Effect.scoped(Effect.flatMap(
        WorkerExecutor.make(tasks, { spawn, maxConcurrency: 1, name: "known", idleTimeout: 1000, maxQueue: 5 }),
        (executor) => executor.stats
      )))
      assert.strictEqual(stats.submitted, 0)
    })

    it("a wrong task name or payload type does not compile", () => {
      const check = (executor: WorkerExecutor.WorkerExecutor<typeof tasks>) => {
        // @ts-expect-error: no such task
        executor.submit("cube", 3)
        // @ts-expect-error: square takes a number
        executor.submit("square", "3")
        // the result type flows from the task's success Schema, the error type from its error Schema (none here)
        expectTypeOf(executor.submit("square", 3)).toEqualTypeOf<
          Effect.Effect<Task.Task<number, WorkerError.WorkerTaskError>, ExecutorError.ExecutorClosedError>
        >()
        expectTypeOf(executor.pool.call("square", 3)).toEqualTypeOf<
          Effect.Effect<number, WorkerError.WorkerTaskError>
        >()
      }
      void check // checked by the type check only: never run
    })

    it.live("a task's typed error is exact through every submit form and catchable by its tag; a task without one has none", () =>
      Effect.gen(function*() {
        type WorkTask = Task.Task<number, WorkFailed | WorkerError.WorkerTaskError>
        type SquareTask = Task.Task<number, WorkerError.WorkerTaskError>
        const fail = { _tag: "Fail", ms: 0, message: "no" } as const
        const executor = yield* WorkerExecutor.service(tasks)
        // name-first, typed by the Register augmentation above
        const registered = WorkerExecutor.submit("work", fail, quiet)
        expectTypeOf(registered).toEqualTypeOf<
          Effect.Effect<WorkTask, ExecutorError.ExecutorClosedError, WorkerExecutor.Current>
        >()
        const bySet = WorkerExecutor.submit(tasks, "work", fail, quiet)
        expectTypeOf(bySet).toEqualTypeOf<
          Effect.Effect<WorkTask, ExecutorError.ExecutorClosedError, WorkerExecutor.Identifier<typeof tasks>>
        >()
        const handles = [yield* registered, yield* bySet, yield* executor.submit("work", fail, quiet)] as const
        expectTypeOf(handles).toEqualTypeOf<readonly [WorkTask, WorkTask, WorkTask]>()
        const recover = (task: WorkTask) =>
          Task.join(task).pipe(Effect.catchTag("WorkFailed", (error) => Effect.succeed(error.message)))
        expectTypeOf(recover).returns.toEqualTypeOf<Effect.Effect<number | string, WorkerError.WorkerTaskError>>()
        assert.deepStrictEqual(yield* Effect.forEach(handles, recover), ["no", "no", "no"])

        const square = yield* WorkerExecutor.submit("square", 3)
        const squareBySet = yield* WorkerExecutor.submit(tasks, "square", 4)
        expectTypeOf(square).toEqualTypeOf<SquareTask>()
        expectTypeOf(squareBySet).toEqualTypeOf<SquareTask>()
        // @ts-expect-error: square declares no error, so none is tagged "WorkFailed"
        const wrong = Effect.catchTag(Task.join(square), "WorkFailed", () => Effect.succeed(0))
        void wrong // never run
        assert.deepStrictEqual([yield* Task.join(square), yield* Task.join(squareBySet)], [9, 16])
      }).pipe(Effect.provide(WorkerExecutor.layer(pool))))
  })

  describe("thread lifecycle", () => {
    it.live("interrupting prestart leaves the starting threads to the pool: the next call runs", () =>
      Effect.scoped(Effect.gen(function*() {
        const pool = yield* WorkerPool.make(tasks, { spawn: spawner(makeCounter()), maxConcurrency: 2 })
        yield* pool.prestart.pipe(Effect.timeout("1 millis"), Effect.ignore)
        yield* eventually(Effect.map(pool.stats, (stats) => stats.idle === 2), "both threads are idle")
        assert.strictEqual(yield* pool.call("square", 3).pipe(Effect.timeout("5 seconds")), 9)
      })))

    it.live("prestart right after a retirement replaces the retired thread: the pool is back to its size", () =>
      Effect.gen(function*() {
        const counter = makeCounter()
        // real threads whose terminate() waits for `release`: a retired one stays on its way out
        const release = Promise.withResolvers<void>()
        const retiring = Promise.withResolvers<void>()
        const spawn = spawner(counter)
        yield* Effect.scoped(Effect.gen(function*() {
          const pool = yield* WorkerPool.make(tasks, {
            spawn: () => {
              const worker = spawn()
              const terminate = worker.terminate.bind(worker)
              worker.terminate = () => {
                retiring.resolve()
                return release.promise.then(terminate)
              }
              return worker
            },
            maxConcurrency: 1,
            idleTimeout: 200
          })
          yield* pool.prestart
          yield* Effect.promise(() => retiring.promise)
          assert.include(yield* pool.stats, { threads: 1, retired: 1 })
          const prestarting = yield* Effect.forkChild(pool.prestart, { startImmediately: true })
          release.resolve()
          yield* Fiber.join(prestarting)
          // before: prestart counted the retiring thread as one of the pool's, and started none
          assert.include(yield* pool.stats, { threads: 1, idle: 1, started: 2, retired: 1 })
        }))
        assert.strictEqual(counter.alive(), 0)
      }))

    it.live("prestart waits for the threads already starting, and returns with the calls waiting for them handed out", () =>
      Effect.gen(function*() {
        const counter = makeCounter()
        yield* Effect.scoped(Effect.gen(function*() {
          const pool = yield* WorkerPool.make(tasks, { spawn: spawner(counter), maxConcurrency: 2 })
          // each call starts a thread on demand
          const calls = yield* Effect.forkChild(
            Effect.all([pool.call("nap", 300), pool.call("nap", 300)], { concurrency: "unbounded" }),
            { startImmediately: true }
          )
          yield* Effect.sleep(10)
          assert.include(yield* pool.stats, { threads: 2, idle: 0, queued: 2 })
          yield* pool.prestart
          // before: prestart returned at once, both threads still starting (queued: 2); then, ready
          // was told before the call waiting for the thread went out (queued: 1)
          assert.include(yield* pool.stats, { threads: 2, idle: 0, queued: 0 })
          assert.lengthOf(yield* Fiber.join(calls), 2)
        }))
        assert.strictEqual(counter.alive(), 0)
      }))

    it.live("a call that cannot be sent hands its thread on cleanly; a thread that then dies is never handed out", () =>
      Effect.scoped(Effect.gen(function*() {
        const counter = makeCounter()
        const pool = yield* WorkerPool.make(tasks, { spawn: spawner(counter), maxConcurrency: 1 })
        yield* pool.prestart
        const first = yield* Effect.forkChild(pool.call("blockThenThrow", { ms: 100, later: 100 }))
        yield* Effect.sleep(20)
        // waits for the only thread, then fails to send: its payload cannot be cloned
        const second = yield* Effect.forkChild(Effect.exit(pool.call("anything", { f: () => 1 })))
        assert.strictEqual(yield* Fiber.join(first), 1)
        assert.instanceOf(errorOf(yield* Fiber.join(second)), WorkerError.InvalidPayloadError)
        assert.include(yield* pool.stats, { threads: 1, idle: 1, busy: 0 })
        yield* eventually(Effect.map(pool.stats, (stats) => stats.threads === 0), "the thread has died")
        assert.include(yield* pool.stats, { idle: 0, crashed: 1 })
        assert.strictEqual(yield* pool.call("square", 3).pipe(Effect.timeout("5 seconds")), 9)
      })))

    it.live("a spawn that throws fails the call that needed the thread; prestart returns", () =>
      Effect.scoped(Effect.gen(function*() {
        const pool = yield* WorkerPool.make(tasks, {
          spawn: () => {
            throw new Error("no worker for you")
          },
          maxConcurrency: 2
        })
        const exit = yield* Effect.exit(pool.call("square", 3))
        assert.instanceOf(errorOf(exit), WorkerError.WorkerCrashedError)
        yield* pool.prestart
        assert.include(yield* pool.stats, { threads: 0, idle: 0 })
      })))

    it.live("a start that fails while the other thread is busy fails no call: the call runs once that thread is free", () =>
      Effect.gen(function*() {
        const counter = makeCounter()
        const good = spawner(counter)
        let spawns = 0
        // the first thread starts; every later start throws, as new Worker does when no thread can be made
        const spawn = () => {
          spawns++
          if (spawns === 1 || spawns > 50) return good() // (past 50: a loop, ended so that the test can fail)
          throw new Error("no thread just now")
        }
        const [spawnsThen, stats] = yield* Effect.scoped(Effect.gen(function*() {
          const pool = yield* WorkerPool.make(tasks, { spawn, maxConcurrency: 2 })
          // no call measured yet: calls go one per thread, none waits in another's batch
          const first = yield* Effect.forkChild(pool.call("nap", 300), { startImmediately: true })
          yield* eventually(Effect.map(pool.stats, (s) => s.busy === 1), "the first call runs on the one thread")
          // needs a second thread, whose start throws; before: it failed at once ("failed to start")
          const second = yield* Effect.exit(pool.call("nap", 1))
          const spawnsThen = spawns
          const napped = yield* Fiber.join(first)
          assert.isAtLeast(spawnsThen, 2, "a second thread was asked for")
          if (Exit.isFailure(second)) return assert.fail(`the call failed: ${Cause.pretty(second.cause)}`)
          // it ran on the one thread, once the first call was done there
          assert.isAtLeast(second.value.start, napped.end)
          return [spawnsThen, yield* pool.stats] as const
        }))
        // one failed start may be tried again START_RETRY_MS later, not once per dispatch
        assert.isAtMost(spawnsThen, 3, `${spawnsThen} starts: the failed one was tried again in a loop`)
        assert.include(stats, { threads: 1, crashed: spawnsThen - 1, started: spawnsThen })
        assert.strictEqual(counter.alive(), 0)
      }))

    it.live("a start that fails while another thread is starting fails no call: both calls run on that thread", () =>
      Effect.gen(function*() {
        const counter = makeCounter()
        const good = spawner(counter)
        let spawns = 0
        const spawn = () => {
          spawns++
          if (spawns === 1 || spawns > 50) return good() // (past 50: a loop, ended so that the test can fail)
          throw new Error("no thread just now")
        }
        const squares = yield* Effect.scoped(Effect.gen(function*() {
          const pool = yield* WorkerPool.make(tasks, { spawn, maxConcurrency: 2 })
          // the first call starts a thread; the second asks for another, whose start throws at once
          return yield* Effect.all([pool.call("square", 2), pool.call("square", 3)], { concurrency: "unbounded" })
        }))
        assert.deepStrictEqual(squares, [4, 9])
        assert.isAtMost(spawns, 4, `${spawns} starts: the failed one was tried again in a loop`)
        assert.strictEqual(counter.alive(), 0)
      }))

    it.live("while calls are tiny, a start that failed is tried again later: a call held behind a long one gets a thread", () =>
      Effect.gen(function*() {
        const counter = makeCounter()
        const good = spawner(counter)
        let spawns = 0
        // the second start throws once (no thread just then); every other start works
        const spawn = () => {
          if (++spawns === 2) throw new Error("no thread just now")
          return good()
        }
        const [held, longEnd, t0] = yield* Effect.scoped(Effect.gen(function*() {
          const pool = yield* WorkerPool.make(tasks, { spawn, maxConcurrency: 2 })
          for (let i = 0; i < 20; i++) yield* pool.call("square", i) // calls are now measured tiny: batched
          const t0 = now()
          // both go to the one thread in one batch; the second thread its batch asks for fails to start
          const [long, held] = yield* Effect.all([pool.call("nap", 3000), pool.call("nap", 1)], {
            concurrency: "unbounded"
          })
          return [held, long.end, t0] as const
        }))
        // before: nothing asked for a thread again, and the short call waited the whole 3 s, until
        // the long one was done (now: a new thread about START_RETRY_MS after the failed start)
        assert.isBelow(held.start, longEnd, `the held call waited for the long one (${held.start - t0} ms)`)
        assert.strictEqual(spawns, 3)
        assert.strictEqual(counter.alive(), 0)
      }))

    it.live("a worker that cannot start fails one call per start, with starts in parallel and none held back", () =>
      Effect.gen(function*() {
        const counter = makeCounter()
        const [exits, stats] = yield* Effect.scoped(Effect.gen(function*() {
          const pool = yield* WorkerPool.make(tasks, { spawn: spawner(counter, "broken-worker.ts"), maxConcurrency: 4 })
          const exits = yield* squaresAtOnce(pool, Array.from({ length: 12 }, (_, i) => i)).pipe(
            Effect.timeout("8 seconds")
          )
          return [exits, yield* pool.stats] as const
        }))
        for (const exit of exits) assert.include(errorOf(exit).message, "failed to start")
        // each failed start fails a call: a start that failed while the others still started is
        // owed one when they fail too (before: such failures failed none, and held the next start)
        assert.include(stats, { started: 12, crashed: 12, threads: 0, queued: 0 })
        assert.strictEqual(counter.alive(), 0)
      }))

    it.live("a caller that calls again when its call fails for a failed start gets a thread: one failed call per failed start", () =>
      Effect.gen(function*() {
        const counter = makeCounter()
        const broken = spawner(counter, "broken-worker.ts")
        const good = spawner(counter)
        let spawns = 0
        // the first thread dies while it loads, the next two starts throw, every later one works
        const spawn = () => {
          spawns++
          if (spawns === 1) return broken()
          if (spawns <= 3) throw new Error("no thread just now")
          return good()
        }
        const [outcomes, stats] = yield* Effect.scoped(Effect.gen(function*() {
          const pool = yield* WorkerPool.make(tasks, { spawn, maxConcurrency: 3 })
          const outcomes = yield* Effect.forEach([1, 2, 3], (n) =>
            Effect.gen(function*() {
              const first = yield* Effect.exit(pool.call("square", n))
              if (Exit.isSuccess(first)) return "ran"
              // called again at once, from inside the failure's delivery
              const again = yield* Effect.exit(pool.call("square", n))
              return Exit.isSuccess(again) ? "failed, then ran" : "failed twice"
            }), { concurrency: "unbounded" }).pipe(Effect.timeout("8 seconds"))
          return [outcomes, yield* pool.stats] as const
        }))
        // three failed starts fail three calls; before, the failure that paid the owed call ran the
        // first caller's new call and failed it too, though its thread was starting
        assert.strictEqual(stats.crashed, 3)
        assert.strictEqual(outcomes.filter((o) => o === "failed twice").length, 0, outcomes.join(", "))
        assert.strictEqual(outcomes.filter((o) => o !== "ran").length, 3)
        assert.strictEqual(counter.alive(), 0)
      }))

    it.live("with a worker that cannot start and two threads, every call fails with the start's error, none hangs", () =>
      Effect.gen(function*() {
        const counter = makeCounter()
        const [exits, stats] = yield* Effect.scoped(Effect.gen(function*() {
          const pool = yield* WorkerPool.make(tasks, { spawn: spawner(counter, "broken-worker.ts"), maxConcurrency: 2 })
          const exits = yield* squaresAtOnce(pool, [1, 2, 3]).pipe(Effect.timeout("4 seconds")) // (before the test's own limit: a loop fails here)
          return [exits, yield* pool.stats] as const
        }))
        for (const exit of exits) {
          const error = errorOf(exit)
          assert.instanceOf(error, WorkerError.WorkerCrashedError)
          assert.include(error.message, "failed to start")
          assert.include(error.message, "broken worker entry")
        }
        // a thread that fails while the other still starts fails no call; the last of them does
        assert.include(stats, { threads: 0, queued: 0 })
        assert.isAtMost(stats.started, 6, "at most two starts per call")
        assert.strictEqual(counter.alive(), 0)
      }))

    it.live("calls a failed start fails together are counted out once, when the first one's caller interrupts the next", () =>
      Effect.gen(function*() {
        const counter = makeCounter()
        const [first, next, stats] = yield* Effect.scoped(Effect.gen(function*() {
          const pool = yield* WorkerPool.make(tasks, { spawn: spawner(counter, "broken-worker.ts"), maxConcurrency: 2 })
          // failing the first makes Effect.all interrupt the second at once, while both are being failed
          const first = yield* Effect.exit(
            Effect.all([pool.call("square", 1), pool.call("square", 2)], { concurrency: "unbounded" })
          )
          yield* eventually(Effect.map(pool.stats, (s) => s.threads === 0), "the failed threads are gone")
          const stats = yield* pool.stats
          // before: queued -1, and this call waited for ever (no thread was started for it)
          const next = yield* Effect.exit(pool.call("square", 3).pipe(Effect.timeout("4 seconds")))
          return [first, next, stats] as const
        }))
        assert.instanceOf(errorOf(first), WorkerError.WorkerCrashedError)
        assert.include(stats, { queued: 0 })
        assert.instanceOf(errorOf(next), WorkerError.WorkerCrashedError, "the next call fails with the start's error")
        assert.strictEqual(counter.alive(), 0)
      }))

    it.live("threads start lazily; \"wait\" lets an interrupted call finish on its thread; idleTimeout retires it", () =>
      Effect.gen(function*() {
        const counter = makeCounter()
        let orphan: Fiber.Fiber<unknown, unknown> | undefined
        yield* Effect.scoped(Effect.gen(function*() {
          const waiting = yield* WorkerPool.make(tasks, {
            spawn: spawner(counter),
            maxConcurrency: 1,
            onInterruptRunning: "wait",
            idleTimeout: 40
          })
          assert.strictEqual((yield* waiting.stats).threads, 0, "no thread before the first task")
          const [exit, stats] = yield* WorkerExecutor.scoped(waiting, (executor) =>
            Effect.gen(function*() {
              const task = yield* executor.submit("spin", 100)
              yield* eventually(Effect.map(waiting.stats, (s) => s.busy === 1), "the spin is on a thread")
              yield* Task.interrupt(task)
              // interrupt returned once the call had finished on its thread
              return [yield* Task.await(task), yield* waiting.stats] as const
            }))
          assert.isTrue(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause))
          assert.include(stats, { threads: 1, busy: 0, terminated: 0, started: 1 })
          yield* eventually(Effect.map(waiting.stats, (s) => s.threads === 0), "the idle thread is retired")
          assert.include(yield* waiting.stats, { retired: 1, crashed: 0, started: 1 })
          assert.strictEqual(counter.alive(), 0)
          // a call still running when the pool's own scope closes fails, it does not hang
          orphan = yield* Effect.forkDetach(waiting.call("spin", 60_000), { startImmediately: true })
          yield* eventually(Effect.map(waiting.stats, (s) => s.busy === 1), "the spin is on a thread")
        }))
        const exit = yield* Fiber.await(orphan!)
        const error = errorOf(exit)
        assert.instanceOf(error, WorkerError.WorkerCrashedError)
        assert.include(error.message, "the pool closed while the task ran")
        assert.strictEqual(counter.alive(), 0)
      }))

    it.live("no thread outlives its layer", () =>
      Effect.gen(function*() {
        const counter = makeCounter()
        const Executor = WorkerExecutor.layer(tasks, { spawn: spawner(counter), maxConcurrency: 1 })
        const result = yield* Effect.gen(function*() {
          const a = yield* WorkerExecutor.submit(tasks, "square", 2)
          const b = yield* WorkerExecutor.submit(tasks, "later", 2)
          // left running on its thread when the layer closes: terminated
          yield* WorkerExecutor.submit(tasks, "spin", 60_000, { cancelOnExit: true })
          return (yield* Task.join(a)) + (yield* Task.join(b))
        }).pipe(Effect.provide(Executor))
        assert.strictEqual(result, 7)
        assert.strictEqual(counter.spawned, 1)
        assert.strictEqual(counter.alive(), 0)
      }))
  })
})

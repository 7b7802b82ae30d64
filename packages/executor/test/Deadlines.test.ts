/**
 * `timeout`, `startTimeout` and `deadline`: deadlines that stop the work,
 * driven by `TestClock`.
 */
import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import { Cause, Clock, Deferred, Duration, Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { BackgroundExecutor, ExecutorError, Task } from "../src/index.ts"
import * as LateStart from "../src/internal/lateStart.ts"

/** Lets every fiber that is ready run until it suspends again. */
const settle = Effect.yieldNow.pipe(Effect.repeat({ times: 5 }))

/** The `TaskTimeoutError` a task failed with, or fails the test. */
const timeoutOf = (exit: Exit.Exit<unknown, unknown>): ExecutorError.TaskTimeoutError => {
  assert.isTrue(Exit.isFailure(exit), `expected a failure, got ${String(exit)}`)
  const error = Cause.squash((exit as Exit.Failure<unknown, unknown>).cause)
  assert.instanceOf(error, ExecutorError.TaskTimeoutError)
  return error as ExecutorError.TaskTimeoutError
}

describe("deadlines", () => {
  describe("timeout (run deadline)", () => {
    it.effect("interrupts a running task when it passes, and the task fails with TaskTimeoutError", () =>
      BackgroundExecutor.scoped(Effect.gen(function*() {
        const log: Array<string> = []
        const task = yield* BackgroundExecutor.submit(
          Effect.sleep("1 second").pipe(
            Effect.andThen(Effect.sync(() => log.push("finished"))),
            Effect.onInterrupt(() => Effect.sync(() => log.push("interrupted")))
          ),
          { name: "slow", timeout: "100 millis", reraiseOnExit: false }
        )
        yield* TestClock.adjust(99)
        assert.isUndefined(yield* Task.poll(task), "timed out early")
        yield* TestClock.adjust(1)
        const error = timeoutOf(yield* Task.await(task))
        assert.deepStrictEqual([error.taskName, error.phase, Duration.toMillis(error.timeout)], ["slow", "run", 100])
        assert.match(error.message, /"slow".*running.*100/)
        assert.deepStrictEqual(log, ["interrupted"])
        assert.include(yield* BackgroundExecutor.stats, { failed: 1, timedOut: 1, interrupted: 0 })
      })))

    it.effect("is counted from the start, not from submit", () =>
      BackgroundExecutor.scoped(Effect.gen(function*() {
        yield* BackgroundExecutor.submit(Effect.sleep(300))
        const task = yield* BackgroundExecutor.submit(Effect.as(Effect.sleep(150), "done"), { timeout: 200 })
        yield* TestClock.adjust(300) // queued all that time: no timeout
        assert.isUndefined(yield* Task.poll(task))
        yield* TestClock.adjust(150)
        assert.strictEqual(yield* Task.join(task), "done")
      }), { maxConcurrency: 1 }))

    it.effect("a timed-out task holds its permit until its finalizer has run", () =>
      BackgroundExecutor.scoped(Effect.gen(function*() {
        const log: Array<string> = []
        const slowCleanup = Effect.acquireRelease(
          Effect.void,
          () => Effect.andThen(Effect.sleep(50), Effect.sync(() => log.push("released")))
        )
        const timed = yield* BackgroundExecutor.submit(
          Effect.andThen(slowCleanup, Effect.never),
          { timeout: 100, reraiseOnExit: false }
        )
        const next = yield* BackgroundExecutor.submit(Effect.sync(() => log.push("next started")))
        yield* TestClock.adjust(100)
        assert.deepStrictEqual(log, [], "the permit was freed before the finalizer ended")
        assert.include(yield* BackgroundExecutor.stats, { running: 1, queued: 1 })
        yield* TestClock.adjust(50)
        yield* Task.join(next)
        assert.deepStrictEqual(log, ["released", "next started"])
        assert.strictEqual(timeoutOf(yield* Task.await(timed)).phase, "run")
      }), { maxConcurrency: 1 }))

    it.effect("firing while the task is finishing (in its finalizer) still times it out, after the finalizer", () =>
      BackgroundExecutor.scoped(Effect.gen(function*() {
        let released = false
        const task = yield* BackgroundExecutor.submit(
          Effect.acquireRelease(Effect.void, () => Effect.andThen(Effect.sleep(50), Effect.sync(() => released = true)))
            .pipe(Effect.andThen(Effect.sleep(80)), Effect.as("value")),
          { timeout: 100, reraiseOnExit: false }
        )
        yield* TestClock.adjust(100) // the body ended at 80; the finalizer runs until 130
        assert.isUndefined(yield* Task.poll(task), "ended before its finalizer")
        yield* TestClock.adjust(30)
        assert.isTrue(released)
        assert.strictEqual(timeoutOf(yield* Task.await(task)).phase, "run")
      })))

    it.effect("a task that ends in time is not timed out later", () =>
      BackgroundExecutor.scoped(Effect.gen(function*() {
        const task = yield* BackgroundExecutor.submit(Effect.as(Effect.sleep(10), 1), { timeout: 100 })
        yield* TestClock.adjust(200)
        assert.strictEqual(yield* Task.join(task), 1)
        assert.include(yield* BackgroundExecutor.stats, { succeeded: 1, timedOut: 0 })
      })))

    it.effect("is re-raised on exit as a TaskFailedError carrying the TaskTimeoutError", () =>
      Effect.gen(function*() {
        const owner = yield* Effect.forkChild(
          BackgroundExecutor.scoped(BackgroundExecutor.submit(Effect.never, { name: "stuck", timeout: 10 })),
          { startImmediately: true }
        )
        yield* TestClock.adjust(10)
        const error = yield* Effect.flip(Fiber.join(owner))
        assert.instanceOf(error, ExecutorError.TaskFailedError)
        assert.strictEqual((error as ExecutorError.TaskFailedError).taskName, "stuck")
        assert.instanceOf(Cause.squash((error as ExecutorError.TaskFailedError).cause), ExecutorError.TaskTimeoutError)
      }))

    it.effect("keeps what else the task failed with past the deadline: a dying finalizer, an uninterruptible failure", () =>
      Effect.gen(function*() {
        const failures = (exit: Exit.Exit<unknown, unknown>) =>
          Exit.isFailure(exit)
            ? exit.cause.reasons.map((reason) =>
              Cause.isFailReason(reason)
                ? String((reason.error as { _tag?: string })._tag)
                : Cause.isDieReason(reason)
                ? `die ${(reason.defect as Error).message}`
                : "interrupt"
            )
            : []
        const owner = yield* Effect.forkChild(
          BackgroundExecutor.scoped(Effect.gen(function*() {
            const finalizer = yield* BackgroundExecutor.submit(
              Effect.andThen(Effect.addFinalizer(() => Effect.die(new Error("finalizer"))), Effect.never),
              { name: "finalizer", timeout: 10 }
            )
            const late = yield* BackgroundExecutor.submit(
              Effect.uninterruptible(Effect.andThen(Effect.sleep(20), Effect.die(new Error("late")))),
              { name: "late", timeout: 10 }
            )
            yield* TestClock.adjust(20)
            assert.deepStrictEqual(failures(yield* Task.await(finalizer)), ["TaskTimeoutError", "die finalizer"])
            assert.deepStrictEqual(failures(yield* Task.await(late)), ["TaskTimeoutError", "die late"])
            assert.include(yield* BackgroundExecutor.stats, { failed: 2, timedOut: 2 })
          })),
          { startImmediately: true }
        )
        // and the exit re-raises them whole
        const error = yield* Effect.flip(Fiber.join(owner))
        assert.instanceOf(error, ExecutorError.TaskFailedError)
        const raised = (error as ExecutorError.TaskFailedError).failures.map((f) => failures(Exit.failCause(f.cause)))
        assert.deepStrictEqual(raised, [["TaskTimeoutError", "die finalizer"], ["TaskTimeoutError", "die late"]])
      }))

    it.effect("is catchable by tag on the task's join", () =>
      BackgroundExecutor.scoped(Effect.gen(function*() {
        const task = yield* BackgroundExecutor.submit(Effect.never, { timeout: 5, reraiseOnExit: false })
        const joined = yield* Effect.forkChild(
          Task.join(task).pipe(Effect.catchTag("TaskTimeoutError", (error) => Effect.succeed(error.phase))),
          { startImmediately: true }
        )
        yield* TestClock.adjust(5)
        assert.strictEqual(yield* Fiber.join(joined), "run")
      })))
  })

  describe("startTimeout (queue deadline)", () => {
    it.effect("a task still queued when it passes is removed without running", () =>
      BackgroundExecutor.scoped(Effect.gen(function*() {
        let ran = false
        yield* BackgroundExecutor.submit(Effect.sleep(100))
        const task = yield* BackgroundExecutor.submit(Effect.sync(() => ran = true), {
          name: "late",
          startTimeout: 50,
          reraiseOnExit: false
        })
        yield* TestClock.adjust(50)
        const error = timeoutOf(yield* Task.await(task))
        assert.deepStrictEqual([error.taskName, error.phase, Duration.toMillis(error.timeout)], ["late", "queue", 50])
        assert.match(error.message, /"late".*waiting to start.*50/)
        assert.include(yield* BackgroundExecutor.stats, { queued: 0, running: 1, failed: 1, timedOut: 1 })
        yield* TestClock.adjust(100)
        assert.isFalse(ran)
      }), { maxConcurrency: 1 }))

    it.effect("shorter than the queue ahead of it: it times out, the tasks ahead run on", () =>
      BackgroundExecutor.scoped(Effect.gen(function*() {
        const done: Array<number> = []
        for (const i of [1, 2, 3]) {
          yield* BackgroundExecutor.submit(Effect.andThen(Effect.sleep(100), Effect.sync(() => done.push(i))))
        }
        const late = yield* BackgroundExecutor.submit(Effect.sync(() => done.push(4)), {
          startTimeout: 150,
          reraiseOnExit: false
        })
        const after = yield* BackgroundExecutor.submit(Effect.sync(() => done.push(5)))
        yield* TestClock.adjust(150)
        assert.strictEqual(timeoutOf(yield* Task.await(late)).phase, "queue")
        yield* TestClock.adjust(150)
        yield* Task.join(after)
        assert.deepStrictEqual(done, [1, 2, 3, 5])
      }), { maxConcurrency: 1 }))

    it.effect("counts from submit, also while maxQueue keeps the submit waiting for a place", () =>
      BackgroundExecutor.scoped(Effect.gen(function*() {
        yield* BackgroundExecutor.submit(Effect.sleep(100)) // the permit
        yield* BackgroundExecutor.submit(Effect.sleep(5)) // the queue's one place
        let ran = false
        const submitter = yield* Effect.forkChild(
          BackgroundExecutor.submit(Effect.sync(() => ran = true), { startTimeout: 10, reraiseOnExit: false }),
          { startImmediately: true }
        )
        yield* settle
        assert.isUndefined(submitter.pollUnsafe(), "submit waits for a place")
        yield* TestClock.adjust(200)
        const task = yield* Fiber.join(submitter)
        const error = timeoutOf(yield* Task.await(task))
        assert.strictEqual(error.phase, "queue")
        assert.isTrue(Duration.equals(error.timeout, Duration.millis(10)))
        assert.isFalse(ran)
      }), { maxConcurrency: 1, maxQueue: 1 }))

    it.effect("a submit that maxQueue keeps waiting returns when the start deadline passes, its task failed", () =>
      BackgroundExecutor.scoped(Effect.gen(function*() {
        yield* BackgroundExecutor.submit(Effect.sleep(100)) // the permit
        yield* BackgroundExecutor.submit(Effect.sleep(5)) // the queue's one place
        let ran = 0
        const submit = (options: BackgroundExecutor.SubmitOptions) =>
          Effect.forkChild(
            BackgroundExecutor.submit(Effect.sync(() => ran++), { ...options, reraiseOnExit: false }),
            { startImmediately: true }
          )
        const [byTimeout, byDeadline, patient] = [
          yield* submit({ startTimeout: 10 }),
          yield* submit({ deadline: 20 }), // the TestClock starts at 0: 20 ms from now
          yield* submit({})
        ]
        yield* settle
        assert.isUndefined(byTimeout.pollUnsafe(), "submit waits for a place")
        yield* TestClock.adjust(10)
        // before: it waited until the place freed at 100 ms, and only then failed its task
        const first = yield* Fiber.join(byTimeout)
        assert.strictEqual(timeoutOf(yield* Task.await(first)).phase, "queue")
        assert.isTrue(Duration.equals(timeoutOf(yield* Task.await(first)).timeout, Duration.millis(10)))
        assert.isUndefined(byDeadline.pollUnsafe(), "the deadline has 10 ms left")
        yield* TestClock.adjust(10)
        assert.strictEqual(timeoutOf(yield* Task.await(yield* Fiber.join(byDeadline))).phase, "queue")
        assert.isUndefined(patient.pollUnsafe(), "a submit without a deadline still waits for its place")
        assert.include(yield* BackgroundExecutor.stats, { submitted: 4, queued: 1, timedOut: 2 })
        yield* TestClock.adjust(200)
        yield* Task.join(yield* Fiber.join(patient))
        assert.strictEqual(ran, 1, "only the patient task ran")
      }), { maxConcurrency: 1, maxQueue: 1 }))

    it.effect("a task that starts in time keeps running past it", () =>
      BackgroundExecutor.scoped(Effect.gen(function*() {
        yield* BackgroundExecutor.submit(Effect.sleep(10))
        const task = yield* BackgroundExecutor.submit(Effect.as(Effect.sleep(100), "ok"), { startTimeout: 50 })
        yield* TestClock.adjust(200)
        assert.strictEqual(yield* Task.join(task), "ok")
      }), { maxConcurrency: 1 }))

    describe("at the instant of the deadline", () => {
      it.effect("startTimeout: 0 starts a task a free permit can take at submit, and fails one that would queue", () =>
        BackgroundExecutor.scoped(Effect.gen(function*() {
          const ran: Array<string> = []
          const now = yield* BackgroundExecutor.submit(Effect.sync(() => ran.push("now")), { startTimeout: 0 })
          yield* Task.join(now)
          yield* BackgroundExecutor.submit(Effect.sleep(10)) // takes the permit
          const never = yield* BackgroundExecutor.submit(Effect.sync(() => ran.push("never")), {
            startTimeout: 0,
            reraiseOnExit: false
          })
          yield* TestClock.adjust(20)
          assert.strictEqual(timeoutOf(yield* Task.await(never)).phase, "queue")
          assert.deepStrictEqual(ran, ["now"])
        }), { maxConcurrency: 1 }))

      it.effect("a deadline equal to now at submit starts a task a free permit can take", () =>
        BackgroundExecutor.scoped(Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const task = yield* BackgroundExecutor.submit(Effect.succeed("ran"), { deadline: now })
          assert.strictEqual(yield* Task.join(task), "ran")
        })))

      it.effect("a queued task whose permit frees exactly at its start deadline does not start", () =>
        BackgroundExecutor.scoped(Effect.gen(function*() {
          let ran = false
          yield* BackgroundExecutor.submit(Effect.sleep(50)) // frees its permit at 50
          const task = yield* BackgroundExecutor.submit(Effect.sync(() => ran = true), {
            startTimeout: 50,
            reraiseOnExit: false
          })
          yield* TestClock.adjust(49)
          assert.isUndefined(yield* Task.poll(task), "still queued before its deadline")
          yield* TestClock.adjust(1)
          assert.strictEqual(timeoutOf(yield* Task.await(task)).phase, "queue")
          assert.isFalse(ran)
        }), { maxConcurrency: 1 }))

      it.effect("a queued task whose permit frees just before its start deadline starts", () =>
        BackgroundExecutor.scoped(Effect.gen(function*() {
          yield* BackgroundExecutor.submit(Effect.sleep(49))
          const task = yield* BackgroundExecutor.submit(Effect.succeed("ran"), { startTimeout: 50 })
          yield* TestClock.adjust(49)
          assert.strictEqual(yield* Task.join(task), "ran")
        }), { maxConcurrency: 1 }))
    })

    it.effect("a task interrupted while queued is not timed out later", () =>
      BackgroundExecutor.scoped(Effect.gen(function*() {
        yield* BackgroundExecutor.submit(Effect.sleep(100))
        const task = yield* BackgroundExecutor.submit(Effect.void, { startTimeout: 50 })
        yield* Task.interrupt(task)
        yield* TestClock.adjust(100)
        const exit = yield* Task.await(task)
        assert.isTrue(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause))
        assert.include(yield* BackgroundExecutor.stats, { interrupted: 1, failed: 0, timedOut: 0 })
      }), { maxConcurrency: 1 }))
  })

  describe("a start deadline that passed before its timer fired", () => {
    /**
     * A clock whose time moves only when told, and whose timers never fire:
     * what a task sees when the event loop was busy past its start deadline
     * and a permit freed before the deadline's timer could run.
     */
    const stalledClock = () => {
      let now = 1_000_000
      const clock: Clock.Clock = {
        currentTimeMillisUnsafe: () => now,
        currentTimeMillis: Effect.sync(() => now),
        currentTimeNanosUnsafe: () => BigInt(now) * 1_000_000n,
        currentTimeNanos: Effect.sync(() => BigInt(now) * 1_000_000n),
        monotonicTimeNanosUnsafe: () => BigInt(now) * 1_000_000n,
        monotonicTimeNanos: Effect.sync(() => BigInt(now) * 1_000_000n),
        sleep: () => Effect.never
      }
      return { clock, now: () => now, pass: (millis: number) => void (now += millis) }
    }

    for (
      const [label, options] of [
        ["startTimeout", (_now: number) => ({ startTimeout: 50 })],
        ["deadline", (now: number) => ({ deadline: now + 50 })],
        ["startTimeout, with priorities and keys", (_now: number) => ({ startTimeout: 50, priority: 1, key: "k" })]
      ] as const
    ) {
      it.effect(`${label}: the task ends without running when a permit frees after it`, () =>
        Effect.gen(function*() {
          const time = stalledClock()
          const ran: Array<string> = []
          const stats = yield* BackgroundExecutor.scoped(
            (executor) =>
              Effect.gen(function*() {
                const release = yield* Deferred.make<void>()
                yield* executor.submit(Deferred.await(release), { key: "k" }) // holds the one permit
                const late = yield* executor.submit(Effect.sync(() => ran.push("late")), {
                  ...options(time.now()),
                  name: "late",
                  reraiseOnExit: false
                })
                const next = yield* executor.submit(Effect.sync(() => ran.push("next")), { key: "k" })
                time.pass(51) // busy past the deadline: its timer has not fired
                yield* Deferred.succeed(release, undefined)
                const error = timeoutOf(yield* Task.await(late))
                assert.deepStrictEqual([error.taskName, error.phase], ["late", "queue"])
                yield* Task.join(next) // the key's count is right: the next task of the key starts
                return yield* executor.stats
              }),
            { maxConcurrency: 1, maxConcurrencyPerKey: 1 }
          ).pipe(Effect.provideService(Clock.Clock, time.clock))
          assert.deepStrictEqual(ran, ["next"])
          assert.include(stats, { succeeded: 2, failed: 1, timedOut: 1, running: 0, queued: 0 })
        }))
    }
  })

  describe("deadline (one budget for both)", () => {
    it.effect("expires during the queue wait: phase queue, never runs", () =>
      BackgroundExecutor.scoped(Effect.gen(function*() {
        let ran = false
        yield* BackgroundExecutor.submit(Effect.sleep(200))
        const now = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
        const task = yield* BackgroundExecutor.submit(Effect.sync(() => ran = true), {
          deadline: new Date(now + 80),
          reraiseOnExit: false
        })
        yield* TestClock.adjust(80)
        const error = timeoutOf(yield* Task.await(task))
        assert.deepStrictEqual([error.phase, Duration.toMillis(error.timeout)], ["queue", 80])
        yield* TestClock.adjust(200)
        assert.isFalse(ran)
      }), { maxConcurrency: 1 }))

    it.effect("the run gets what the queue left of it", () =>
      BackgroundExecutor.scoped(Effect.gen(function*() {
        yield* BackgroundExecutor.submit(Effect.sleep(60))
        const now = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
        const task = yield* BackgroundExecutor.submit(Effect.never, { deadline: now + 100, reraiseOnExit: false })
        yield* TestClock.adjust(60) // started at 60: 40 left
        assert.isUndefined(yield* Task.poll(task))
        yield* TestClock.adjust(39)
        assert.isUndefined(yield* Task.poll(task))
        yield* TestClock.adjust(1)
        const error = timeoutOf(yield* Task.await(task))
        assert.deepStrictEqual([error.phase, Duration.toMillis(error.timeout)], ["run", 40])
      }), { maxConcurrency: 1 }))

    it.effect("already past at submit: the task fails at once without running", () =>
      BackgroundExecutor.scoped(Effect.gen(function*() {
        let ran = false
        const now = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
        const task = yield* BackgroundExecutor.submit(Effect.sync(() => ran = true), {
          deadline: now - 1,
          reraiseOnExit: false
        })
        assert.strictEqual(timeoutOf(yield* Task.await(task)).phase, "queue")
        assert.isFalse(ran)
        assert.include(yield* BackgroundExecutor.stats, { submitted: 1, failed: 1, timedOut: 1, queued: 0, running: 0 })
      })))

    it.effect("with a shorter timeout, the timeout wins the run", () =>
      BackgroundExecutor.scoped(Effect.gen(function*() {
        const now = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
        const task = yield* BackgroundExecutor.submit(Effect.never, {
          deadline: now + 1000,
          timeout: 30,
          reraiseOnExit: false
        })
        yield* TestClock.adjust(30)
        assert.strictEqual(Duration.toMillis(timeoutOf(yield* Task.await(task)).timeout), 30)
      })))
  })

  // (a `WorkerExecutor` call that holds a permit while it waits for a thread)
  describe("a task that starts late (it says when its work begins)", () => {
    /** Waits `waitMs` after its permit, then says it starts and runs `work` (if it still may). */
    const late = <A>(waitMs: number, work: Effect.Effect<A>, log: Array<string>) =>
      LateStart.make((started) =>
        Effect.andThen(
          waitMs === 0 ? Effect.void : Effect.sleep(waitMs),
          Effect.suspend(() => {
            if (!started()) return Effect.never // its start deadline passed: its timer ends it
            log.push("started")
            return work
          })
        )
      )

    it.effect("its timeout counts from when its work begins, not from its permit", () =>
      BackgroundExecutor.scoped(Effect.gen(function*() {
        const log: Array<string> = []
        const inTime = yield* BackgroundExecutor.submit(late(300, Effect.as(Effect.sleep(150), "done"), log), {
          timeout: 200
        })
        const tooLong = yield* BackgroundExecutor.submit(late(300, Effect.never, log), {
          name: "long",
          timeout: 200,
          reraiseOnExit: false
        })
        yield* TestClock.adjust(300) // waited 300 with a permit: no timeout
        assert.deepStrictEqual(log, ["started", "started"])
        yield* TestClock.adjust(150)
        assert.strictEqual(yield* Task.join(inTime), "done")
        yield* TestClock.adjust(49)
        assert.isUndefined(yield* Task.poll(tooLong))
        yield* TestClock.adjust(1)
        const error = timeoutOf(yield* Task.await(tooLong))
        assert.deepStrictEqual([error.taskName, error.phase, Duration.toMillis(error.timeout)], ["long", "run", 200])
      })))

    it.effect("its startTimeout goes on after its permit: phase queue, its work never begins", () =>
      BackgroundExecutor.scoped(Effect.gen(function*() {
        const log: Array<string> = []
        const started = yield* BackgroundExecutor.submit(late(300, Effect.void, log), {
          name: "at once",
          startTimeout: 100,
          reraiseOnExit: false
        })
        // one that takes its permit from the queue: the deadline counts from submit
        const queued = yield* BackgroundExecutor.submit(late(300, Effect.void, log), {
          name: "queued",
          startTimeout: 250,
          reraiseOnExit: false
        })
        yield* TestClock.adjust(100)
        const first = timeoutOf(yield* Task.await(started))
        assert.deepStrictEqual([first.taskName, first.phase, Duration.toMillis(first.timeout)], [
          "at once",
          "queue",
          100
        ])
        assert.include(yield* BackgroundExecutor.stats, { running: 1, queued: 0 }) // the second has the permit now
        yield* TestClock.adjust(149)
        assert.isUndefined(yield* Task.poll(queued))
        yield* TestClock.adjust(1)
        const second = timeoutOf(yield* Task.await(queued))
        assert.deepStrictEqual([second.phase, Duration.toMillis(second.timeout)], ["queue", 250])
        yield* TestClock.adjust(1000)
        assert.deepStrictEqual(log, [], "a task's work began after its start deadline")
        assert.include(yield* BackgroundExecutor.stats, { failed: 2, timedOut: 2, running: 0 })
      }), { maxConcurrency: 1 }))

    it.effect("with a deadline, the run gets what the wait left of it", () =>
      BackgroundExecutor.scoped(Effect.gen(function*() {
        const log: Array<string> = []
        const now = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
        const task = yield* BackgroundExecutor.submit(late(60, Effect.never, log), {
          deadline: now + 100,
          reraiseOnExit: false
        })
        yield* TestClock.adjust(60) // began at 60: 40 left
        assert.deepStrictEqual(log, ["started"])
        yield* TestClock.adjust(39)
        assert.isUndefined(yield* Task.poll(task))
        yield* TestClock.adjust(1)
        const error = timeoutOf(yield* Task.await(task))
        assert.deepStrictEqual([error.phase, Duration.toMillis(error.timeout)], ["run", 40])
      })))

    it.effect("with startTimeout: 0 it begins when it can begin at once, as a task that is not late does", () =>
      BackgroundExecutor.scoped(Effect.gen(function*() {
        const log: Array<string> = []
        const atOnce = yield* BackgroundExecutor.submit(late(0, Effect.succeed("ran"), log), { startTimeout: 0 })
        // before: `started` said no in the instant it took its permit, and it failed `phase: "queue"`
        assert.strictEqual(yield* Task.join(atOnce), "ran")
        // one that must wait after its permit still cannot begin
        const waits = yield* BackgroundExecutor.submit(late(10, Effect.succeed("ran"), log), {
          startTimeout: 0,
          reraiseOnExit: false
        })
        yield* TestClock.adjust(10)
        assert.strictEqual(timeoutOf(yield* Task.await(waits)).phase, "queue")
        assert.deepStrictEqual(log, ["started"])
      })))

    it.effect("without a deadline it runs as any task, and run elsewhere `started` does nothing", () =>
      Effect.gen(function*() {
        const log: Array<string> = []
        assert.strictEqual(
          yield* late(10, Effect.succeed(1), log).pipe(Effect.forkChild, Effect.tap(() => TestClock.adjust(10)),
            Effect.flatMap(Fiber.join)),
          1
        )
        const joined = yield* BackgroundExecutor.scoped(Effect.gen(function*() {
          const task = yield* BackgroundExecutor.submit(late(10, Effect.succeed(2), log))
          yield* TestClock.adjust(10)
          return yield* Task.join(task)
        }))
        assert.strictEqual(joined, 2)
        assert.deepStrictEqual(log, ["started", "started"])
      }))
  })

  describe("types", () => {
    it("a task's error type gains TaskTimeoutError exactly when a deadline option may be set", () => {
      const check = (executor: BackgroundExecutor.Executor, options: BackgroundExecutor.SubmitOptions) =>
        Effect.gen(function*() {
          const plain = yield* executor.submit(Effect.fail("e" as const), { name: "plain", priority: 1 })
          expectTypeOf(plain).toEqualTypeOf<Task.Task<never, "e">>()
          const timed = yield* executor.submit(Effect.fail("e" as const), { timeout: 10 })
          expectTypeOf(timed).toEqualTypeOf<Task.Task<never, "e" | ExecutorError.TaskTimeoutError>>()
          const dated = yield* BackgroundExecutor.submit(Effect.succeed(1), { deadline: 0 })
          expectTypeOf(dated).toEqualTypeOf<Task.Task<number, ExecutorError.TaskTimeoutError>>()
          const unknown = yield* executor.submit(Effect.succeed(1), options)
          expectTypeOf(unknown).toEqualTypeOf<Task.Task<number, ExecutorError.TaskTimeoutError>>()
          // options typed `any` (parsed from a file, say) may set a deadline too: before, the error was lost
          const parsed: any = JSON.parse("{}")
          const fromAny = yield* executor.submit(Effect.succeed(1), parsed)
          expectTypeOf(fromAny).toEqualTypeOf<Task.Task<number, ExecutorError.TaskTimeoutError>>()
          expectTypeOf(BackgroundExecutor.scoped(Effect.void, parsed)).toEqualTypeOf<
            Effect.Effect<void, ExecutorError.TaskFailedError | ExecutorError.CloseTimeoutError>
          >()
          const scopedPlain = BackgroundExecutor.scoped(Effect.void, { maxConcurrency: 1 })
          expectTypeOf(scopedPlain).toEqualTypeOf<Effect.Effect<void, ExecutorError.TaskFailedError>>()
          const scopedGrace = BackgroundExecutor.scoped(Effect.void, { closeTimeout: 5 })
          expectTypeOf(scopedGrace).toEqualTypeOf<
            Effect.Effect<void, ExecutorError.TaskFailedError | ExecutorError.CloseTimeoutError>
          >()
        })
      assert.isFunction(check)
    })
  })

  describe("interactions", () => {
    it.effect("a cancel-on-exit task with a timeout is interrupted by the close, not timed out", () =>
      Effect.gen(function*() {
        const task = yield* BackgroundExecutor.scoped(
          BackgroundExecutor.submit(Effect.never, { cancelOnExit: true, timeout: 100 })
        )
        const exit = yield* Task.await(task)
        assert.isTrue(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause))
      }))

    it.effect("a timed task interrupted by hand keeps a finalizer's defect, as an untimed one does", () =>
      BackgroundExecutor.scoped(Effect.gen(function*() {
        const body = Effect.andThen(Effect.addFinalizer(() => Effect.die(new Error("finalizer"))), Effect.never)
        const timed = yield* BackgroundExecutor.submit(body, { timeout: 100, reraiseOnExit: false })
        const plain = yield* BackgroundExecutor.submit(body, { reraiseOnExit: false })
        yield* settle
        yield* Task.interrupt(timed)
        yield* Task.interrupt(plain)
        for (const task of [timed, plain]) {
          const exit = yield* Task.await(task)
          assert.isTrue(Exit.isFailure(exit) && Cause.hasInterrupts(exit.cause))
          assert.isTrue(Exit.isFailure(exit) && Cause.hasDies(exit.cause),
            `the finalizer's defect was dropped: ${exit}`)
        }
        assert.include(yield* BackgroundExecutor.stats, { failed: 2, timedOut: 0 })
      })))

    it.effect("a task with a timeout interrupted by hand ends interrupted, not timed out", () =>
      BackgroundExecutor.scoped(Effect.gen(function*() {
        const task = yield* BackgroundExecutor.submit(Effect.never, { timeout: 100 })
        yield* settle
        yield* Task.interrupt(task)
        const exit = yield* Task.await(task)
        assert.isTrue(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause))
        yield* TestClock.adjust(200)
        assert.include(yield* BackgroundExecutor.stats, { interrupted: 1, timedOut: 0 })
      })))

    it.effect("the close waits for a timed task until its timeout stops it", () =>
      Effect.gen(function*() {
        const owner = yield* Effect.forkChild(
          BackgroundExecutor.scoped(BackgroundExecutor.submit(Effect.never, { timeout: 500, reraiseOnExit: false })),
          { startImmediately: true }
        )
        yield* TestClock.adjust(499)
        assert.isUndefined(owner.pollUnsafe())
        yield* TestClock.adjust(1)
        yield* Fiber.join(owner)
      }))
  })
})

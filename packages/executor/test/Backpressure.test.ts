/**
 * `maxQueue`: when that many tasks wait for a permit, `submit` suspends until
 * a place frees, so a producer holds at most `maxConcurrency + maxQueue`
 * tasks in memory.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { BackgroundExecutor, Task } from "../src/index.ts"

/** Lets every fiber that is ready run until it suspends again. */
const settle = Effect.yieldNow.pipe(Effect.repeat({ times: 5 }))

describe("backpressure (maxQueue)", () => {
  it.effect("submit suspends while the queue is full and resumes when a place frees", () =>
    BackgroundExecutor.scoped(Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const producer = yield* Effect.forkChild(
        Effect.forEach([1, 2, 3, 4, 5], (i) => BackgroundExecutor.submit(Effect.as(Deferred.await(gate), i))),
        { startImmediately: true }
      )
      yield* settle
      assert.include(yield* BackgroundExecutor.stats, { submitted: 3, running: 1, queued: 2 })
      assert.isUndefined(producer.pollUnsafe(), "the producer went on past a full queue")
      yield* Deferred.succeed(gate, undefined)
      const tasks = yield* Fiber.join(producer)
      assert.deepStrictEqual(yield* Effect.forEach(tasks, Task.join), [1, 2, 3, 4, 5])
    }), { maxConcurrency: 1, maxQueue: 2 }))

  it.effect("suspended submitters are let in first come, first served, ahead of newcomers", () =>
    BackgroundExecutor.scoped(Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const order: Array<string> = []
      const job = (label: string) => Effect.andThen(Deferred.await(gate), Effect.sync(() => order.push(label)))
      yield* BackgroundExecutor.submit(job("running"))
      yield* BackgroundExecutor.submit(job("queued"))
      const first = yield* Effect.forkChild(BackgroundExecutor.submit(job("first")), { startImmediately: true })
      const second = yield* Effect.forkChild(BackgroundExecutor.submit(job("second")), { startImmediately: true })
      yield* settle
      assert.isUndefined(first.pollUnsafe())
      assert.isUndefined(second.pollUnsafe())
      yield* Deferred.succeed(gate, undefined)
      const newcomer = yield* BackgroundExecutor.submit(job("newcomer"))
      const [a, b] = [yield* Fiber.join(first), yield* Fiber.join(second)]
      assert.isTrue(a.id < b.id && b.id < newcomer.id)
      yield* BackgroundExecutor.awaitIdle
      assert.deepStrictEqual(order, ["running", "queued", "first", "second", "newcomer"])
    }), { maxConcurrency: 1, maxQueue: 1 }))

  it.effect("interrupting a suspended submit leaves nothing behind", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      let ran = 0
      const job = Effect.andThen(Deferred.await(gate), Effect.sync(() => ran++))
      const stats = yield* BackgroundExecutor.scoped(Effect.gen(function*() {
        yield* BackgroundExecutor.submit(job)
        yield* BackgroundExecutor.submit(job)
        const blocked = yield* Effect.forkChild(BackgroundExecutor.submit(job), { startImmediately: true })
        yield* settle
        yield* Fiber.interrupt(blocked)
        yield* Deferred.succeed(gate, undefined)
        yield* BackgroundExecutor.awaitIdle
        return yield* BackgroundExecutor.stats
      }), { maxConcurrency: 1, maxQueue: 1 })
      assert.include(stats, { submitted: 2, succeeded: 2, queued: 0 })
      assert.strictEqual(ran, 2)
    }))

  it.effect("a producer of many tasks never holds more than maxConcurrency + maxQueue of them", () =>
    Effect.gen(function*() {
      let peakUnfinished = 0
      const stats = yield* BackgroundExecutor.scoped(Effect.gen(function*() {
        for (let i = 0; i < 2_000; i++) {
          yield* BackgroundExecutor.submit(Effect.yieldNow)
          const { queued, running } = yield* BackgroundExecutor.stats
          peakUnfinished = Math.max(peakUnfinished, queued + running)
        }
        yield* BackgroundExecutor.awaitIdle
        return yield* BackgroundExecutor.stats
      }), { maxConcurrency: 4, maxQueue: 8 })
      assert.strictEqual(peakUnfinished, 12)
      assert.strictEqual(stats.succeeded, 2_000)
    }))

  it.effect.each([
    ["its task's scope is left idle", false],
    ["a later task runs in its task's reused scope", true]
  ] as const)("a daemon fiber of a task that has ended waits for a queue place like any outside submitter: %s", ([
    _,
    reused
  ]) =>
    BackgroundExecutor.scoped(Effect.gen(function*() {
      const executor = yield* BackgroundExecutor.BackgroundExecutor
      // a few tasks from this context first: it gets a pool of scopes, reused from then on
      if (reused) { for (let i = 0; i < 5; i++) yield* Task.join(yield* executor.submit(Effect.void)) }
      const go = yield* Deferred.make<void>()
      let admitted = 0
      // the task forks a fiber that outlives it, then ends; the fiber submits later
      const daemon = Effect.andThen(
        Deferred.await(go),
        Effect.forEach([1, 2, 3, 4, 5], () =>
          Effect.tap(executor.submit(Effect.never, { cancelOnExit: true }), () =>
            Effect.sync(() => {
              admitted++
            })))
      )
      yield* Task.await(yield* executor.submit(Effect.asVoid(Effect.forkDetach(daemon))))
      // one task holds the permit (with a pool: in the scope the daemon's task released), one fills the queue
      yield* executor.submit(Effect.never, { cancelOnExit: true })
      yield* executor.submit(Effect.never, { cancelOnExit: true })
      yield* Deferred.succeed(go, undefined)
      yield* settle
      assert.strictEqual(admitted, 0, "the daemon was let past the full queue")
      assert.include(yield* executor.stats, { running: 1, queued: 1 })
    }), { maxConcurrency: 1, maxQueue: 1 }))

  it.effect("a fiber the running task forks is still let past a full queue", () =>
    BackgroundExecutor.scoped(Effect.gen(function*() {
      const executor = yield* BackgroundExecutor.BackgroundExecutor
      for (let i = 0; i < 5; i++) yield* Task.join(yield* executor.submit(Effect.void))
      const submitted = yield* Deferred.make<number>()
      // the task holds the only permit, the queue is full: its forked fiber's submissions must not wait
      yield* executor.submit(Effect.gen(function*() {
        yield* executor.submit(Effect.never, { cancelOnExit: true })
        const child = yield* Effect.forkChild(
          Effect.forEach([1, 2, 3], () => executor.submit(Effect.never, { cancelOnExit: true }))
        )
        yield* Deferred.succeed(submitted, (yield* Fiber.join(child)).length)
        yield* Effect.never
      }), { cancelOnExit: true })
      assert.strictEqual(yield* Deferred.await(submitted), 3)
      assert.include(yield* executor.stats, { running: 1, queued: 4 })
    }), { maxConcurrency: 1, maxQueue: 1 }))

  describe("a submitter waiting for a place while the executor closes is let in, not refused", () => {
    // Rule 2: while closing, the executor accepts submissions and waits for them. The close decided
    // "idle, so closed" from inside the step that freed the place, before the waiter was let in.
    it.effect.each([
      ["a queued task that ends as soon as it starts", false],
      ["queued tasks the close cancels (paused executor, cancelOnExit)", true]
    ] as const)("%s", ([, cancelled]) =>
      Effect.gen(function*() {
        let ran = false
        let waiter: Fiber.Fiber<Task.Task<void>, unknown> | undefined
        const waiting = yield* Deferred.make<void>()
        const closing = yield* BackgroundExecutor.scoped((executor) =>
          Effect.gen(function*() {
            if (cancelled) {
              yield* executor.pause
              yield* executor.submit(Effect.never, { cancelOnExit: true })
              yield* executor.submit(Effect.never, { cancelOnExit: true })
            } else {
              yield* executor.submit(Effect.sleep("20 millis"))
              yield* executor.submit(Effect.void)
            }
            // not one of the executor's own fibers: it waits for a place
            waiter = yield* Effect.forkDetach(executor.submit(Effect.sync(() => {
              ran = true
            })))
            yield* settle
            assert.isUndefined(waiter.pollUnsafe(), "the submitter did not wait")
            yield* Deferred.succeed(waiting, undefined)
          }), { maxConcurrency: 1, maxQueue: cancelled ? 2 : 1 }).pipe(Effect.forkChild)
        yield* Deferred.await(waiting)
        yield* TestClock.adjust("20 millis") // the running task ends, the queued one starts and ends at once
        yield* Fiber.join(closing)
        const submitted = yield* Fiber.await(waiter!)
        assert.isTrue(Exit.isSuccess(submitted),
          `refused: ${Exit.isFailure(submitted) ? Cause.pretty(submitted.cause) : ""}`)
        assert.isTrue(ran, "the task the close let in did not run before the close returned")
      }))
  })

  it.effect("awaitIdle does not return while a submitter is being let into a place a synchronous task end freed", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      yield* BackgroundExecutor.scoped((executor) =>
        Effect.gen(function*() {
          yield* executor.submit(Effect.sleep("20 millis"))
          yield* executor.submit(Effect.void)
          const waiter = yield* Effect.forkDetach(executor.submit(Deferred.await(gate)))
          yield* settle
          assert.isUndefined(waiter.pollUnsafe(), "the submitter did not wait")
          const idle = yield* Effect.forkChild(executor.awaitIdle, { startImmediately: true })
          yield* TestClock.adjust("20 millis")
          yield* settle
          assert.isTrue(waiter.pollUnsafe() !== undefined, "the submitter was not let in")
          assert.isUndefined(idle.pollUnsafe(), "awaitIdle returned with the submitter's task about to run")
          yield* Deferred.succeed(gate, undefined)
          yield* Fiber.join(idle)
          // (a failed check must not leave the close waiting for that task)
        }).pipe(Effect.ensuring(Deferred.succeed(gate, undefined))), { maxConcurrency: 1, maxQueue: 1 })
    }))

  it.effect.each(["awaitIdle", "join"] as const)(
    "%s asked from inside the step that frees a place waits for the submitter it lets in",
    (wait) =>
      Effect.gen(function*() {
        const gate = yield* Deferred.make<void>()
        const release = yield* Deferred.make<void>()
        yield* BackgroundExecutor.scoped((executor) =>
          Effect.gen(function*() {
            yield* executor.submit(Deferred.await(gate))
            const last = yield* executor.submit(Effect.void) // ends as soon as it starts
            const waiter = yield* Effect.forkDetach(executor.submit(Deferred.await(release)))
            // resumed by the queued task's end, inside the step that lets the waiter in
            const observer = yield* Effect.forkDetach(Effect.gen(function*() {
              yield* Task.await(last)
              yield* (wait === "join" ? executor.join : executor.awaitIdle)
            }))
            yield* settle
            assert.isUndefined(waiter.pollUnsafe(), "the submitter did not wait")
            yield* Deferred.succeed(gate, undefined)
            yield* settle
            assert.isTrue(waiter.pollUnsafe() !== undefined, "the submitter was not let in")
            assert.isUndefined(observer.pollUnsafe(), `${wait} returned with the submitter's task about to run`)
            yield* Deferred.succeed(release, undefined)
            yield* Fiber.join(observer)
          }).pipe(Effect.ensuring(Deferred.succeed(release, undefined))), { maxConcurrency: 1, maxQueue: 1 })
      })
  )
})

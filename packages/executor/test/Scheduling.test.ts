/**
 * Which queued task starts next and when: `priority`, `key` with
 * `maxConcurrencyPerKey`, `resize`, `pause`/`resume`.
 */
import { assert, describe, it, vi } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { BackgroundExecutor, ExecutorError, Task } from "../src/index.ts"
import { QUEUED, TaskQueue } from "../src/internal/queue.ts"

/** Lets every fiber that is ready run until it suspends again. */
const settle = Effect.yieldNow.pipe(Effect.repeat({ times: 5 }))

describe("scheduling", () => {
  describe("priority", () => {
    it.effect("higher priorities start first; equal priorities keep submission order", () =>
      BackgroundExecutor.scoped(Effect.gen(function*() {
        const order: Array<string> = []
        const job = (label: string) => Effect.sync(() => order.push(label))
        yield* BackgroundExecutor.submit(Effect.sleep(10)) // holds the permit
        yield* BackgroundExecutor.submit(job("low"), { priority: -1 })
        yield* BackgroundExecutor.submit(job("default-1"))
        yield* BackgroundExecutor.submit(job("high-1"), { priority: 5 })
        yield* BackgroundExecutor.submit(job("default-2"), { priority: 0 })
        yield* BackgroundExecutor.submit(job("high-2"), { priority: 5 })
        yield* BackgroundExecutor.submit(job("higher"), { priority: 5.5 })
        yield* TestClock.adjust(10)
        yield* BackgroundExecutor.awaitIdle
        assert.deepStrictEqual(order, ["higher", "high-1", "high-2", "default-1", "default-2", "low"])
      }), { maxConcurrency: 1 }))

    it.effect("any number of distinct priorities, fractional and negative ones too, start in (priority, submission) order", () =>
      BackgroundExecutor.scoped(Effect.gen(function*() {
        // more distinct priorities than the executor shares submissions for, with repeats
        const priorities = Array.from({ length: 300 }, (_, i) => ((i * 37) % 150) / 2 - 30)
        const order: Array<number> = []
        yield* BackgroundExecutor.submit(Effect.sleep(10))
        for (let i = 0; i < priorities.length; i++) {
          yield* BackgroundExecutor.submit(Effect.sync(() => order.push(i)), { priority: priorities[i] })
        }
        yield* TestClock.adjust(10)
        yield* BackgroundExecutor.awaitIdle
        const expected = priorities.map((_, i) => i).sort((a, b) => priorities[b]! - priorities[a]! || a - b)
        assert.deepStrictEqual(order, expected)
      }), { maxConcurrency: 1 }))

    it.effect("tasks queued before the first priority keep their order among the defaults", () =>
      BackgroundExecutor.scoped(Effect.gen(function*() {
        const order: Array<number> = []
        yield* BackgroundExecutor.submit(Effect.sleep(10))
        for (const i of [1, 2, 3]) yield* BackgroundExecutor.submit(Effect.sync(() => order.push(i)))
        yield* BackgroundExecutor.submit(Effect.sync(() => order.push(0)), { priority: 1 })
        yield* BackgroundExecutor.submit(Effect.sync(() => order.push(4)))
        yield* TestClock.adjust(10)
        yield* BackgroundExecutor.awaitIdle
        assert.deepStrictEqual(order, [0, 1, 2, 3, 4])
      }), { maxConcurrency: 1 }))

    it.effect("with nextTick: a task that got a free permit keeps it; priority orders only the waiting ones", () =>
      Effect.gen(function*() {
        const order: Array<string> = []
        yield* BackgroundExecutor.scoped(Effect.gen(function*() {
          yield* BackgroundExecutor.submit(Effect.sync(() => order.push("first (nextTick)")), {
            nextTick: true,
            priority: -5
          })
          order.push("submitter ran on")
          yield* BackgroundExecutor.submit(Effect.sync(() => order.push("low")), { priority: 1 })
          yield* BackgroundExecutor.submit(Effect.sync(() => order.push("high")), { priority: 9, nextTick: true })
        }), { maxConcurrency: 1 })
        assert.deepStrictEqual(order, ["submitter ran on", "first (nextTick)", "high", "low"])
      }))

    it.effect("nextTick on an ordered queue: the task that gets a permit at submit starts once the submitter yields", () =>
      Effect.gen(function*() {
        const order: Array<string> = []
        yield* BackgroundExecutor.scoped(Effect.gen(function*() {
          yield* BackgroundExecutor.submit(Effect.sync(() => order.push("task")), { priority: 3, nextTick: true })
          order.push("submitter ran on")
        }), { maxConcurrency: 2 })
        assert.deepStrictEqual(order, ["submitter ran on", "task"])
      }))

    it.effect("nextTick on an ordered queue that held a task which ended while queued: the task still starts once the submitter yields", () =>
      Effect.gen(function*() {
        const order: Array<string> = []
        yield* BackgroundExecutor.scoped((executor) =>
          Effect.gen(function*() {
            const first = yield* executor.submit(Effect.sleep(5))
            const behind = yield* executor.submit(Effect.void, { priority: 1 }) // queued behind it
            yield* Task.interrupt(behind) // ends while queued: its entry stays in the queue, stale
            yield* TestClock.adjust(5)
            yield* Task.await(first)
            yield* executor.awaitIdle
            yield* executor.submit(Effect.sync(() => order.push("task")), { nextTick: true })
            order.push("submitter ran on")
          }), { maxConcurrency: 1 })
        assert.deepStrictEqual(order, ["submitter ran on", "task"])
      }))
  })

  describe("keys (maxConcurrencyPerKey)", () => {
    it("keeps an idle key's lane for its next task, and drops idle lanes in bulk past a bound", () => {
      const queue = new TaskQueue(1)
      queue.becomeOrdered()
      let id = 0
      const entry = (key: string) => ({ id: ++id, state: QUEUED, next: undefined, nextId: 0, priority: 0, key })
      // one task at a time per key, each ending before the next comes: the lane stays
      for (let round = 0; round < 3; round++) {
        const e = entry("only")
        assert.isTrue(queue.startNow(e))
        queue.ended(e)
      }
      assert.strictEqual(queue.laneCount, 1)
      // 10,000 keys, each used once: idle lanes are dropped in sweeps, never more than 1,024 held
      let most = 0
      for (let k = 0; k < 10_000; k++) {
        const e = entry(`key-${k}`)
        assert.isTrue(queue.startNow(e))
        queue.ended(e)
        most = Math.max(most, queue.laneCount)
      }
      assert.isAtMost(most, 1025)
      assert.isAbove(most, 512) // they were kept between sweeps
      // a burst: 5,000 keys queued at once, then drained with no new key coming: their lanes go
      const burst = Array.from({ length: 5_000 }, (_, k) => entry(`burst-${k}`))
      for (const e of burst) queue.push(e)
      const started: Array<ReturnType<typeof entry>> = []
      for (let e = queue.pop(); e !== undefined; e = queue.pop()) started.push(e as ReturnType<typeof entry>)
      assert.strictEqual(started.length, 5_000)
      for (const e of started) queue.ended(e)
      assert.isAtMost(queue.laneCount, 1024)
      // a live lane is never dropped: a key at its bound still refuses a second task after sweeps
      const held = entry("held")
      assert.isTrue(queue.startNow(held))
      for (let k = 0; k < 3_000; k++) {
        const e = entry(`other-${k}`)
        queue.startNow(e)
        queue.ended(e)
      }
      assert.isFalse(queue.startNow(entry("held")))
    })

    it.effect("nextTick after a queued task of the key timed out at its head: the next one starts once the submitter yields", () =>
      Effect.gen(function*() {
        const order: Array<string> = []
        yield* BackgroundExecutor.scoped((executor) =>
          Effect.gen(function*() {
            const holder = yield* executor.submit(Effect.sleep(10), { key: "k" })
            const late = yield* executor.submit(Effect.void, { key: "k", startTimeout: 5, reraiseOnExit: false })
            yield* TestClock.adjust(10) // "late" times out at the head of "k", then "holder" ends
            assert.strictEqual((yield* Effect.flip(Task.join(late)))._tag, "TaskTimeoutError")
            yield* Task.join(holder)
            yield* executor.submit(Effect.sync(() => order.push("task")), { key: "k", nextTick: true })
            order.push("submitter ran on")
          }), { maxConcurrency: 1, maxConcurrencyPerKey: 1 })
        assert.deepStrictEqual(order, ["submitter ran on", "task"])
      }))

    it.effect("at most maxConcurrencyPerKey tasks of one key run at once, in their order", () =>
      BackgroundExecutor.scoped(Effect.gen(function*() {
        let active = 0
        let peak = 0
        const order: Array<number> = []
        for (let i = 0; i < 6; i++) {
          yield* BackgroundExecutor.submit(
            Effect.acquireUseRelease(
              Effect.sync(() => {
                order.push(i)
                peak = Math.max(peak, ++active)
              }),
              () => Effect.sleep(10),
              () => Effect.sync(() => active--)
            ),
            { key: "host-a" }
          )
        }
        yield* settle
        assert.include(yield* BackgroundExecutor.stats, { running: 2, queued: 4 })
        yield* TestClock.adjust(30)
        yield* BackgroundExecutor.awaitIdle
        assert.strictEqual(peak, 2)
        assert.deepStrictEqual(order, [0, 1, 2, 3, 4, 5])
      }), { maxConcurrency: 10, maxConcurrencyPerKey: 2 }))

    it.effect("a saturated key never holds up other keys queued behind it (no head-of-line blocking)", () =>
      BackgroundExecutor.scoped(Effect.gen(function*() {
        const gate = yield* Deferred.make<void>()
        for (let i = 0; i < 5; i++) yield* BackgroundExecutor.submit(Deferred.await(gate), { key: "busy" })
        const other = yield* BackgroundExecutor.submit(Effect.succeed("ran"), { key: "idle" })
        const unkeyed = yield* BackgroundExecutor.submit(Effect.succeed("ran too"))
        assert.strictEqual(yield* Task.join(other), "ran")
        assert.strictEqual(yield* Task.join(unkeyed), "ran too")
        assert.include(yield* BackgroundExecutor.stats, { running: 1, queued: 4 })
        yield* Deferred.succeed(gate, undefined)
      }), { maxConcurrency: 3, maxConcurrencyPerKey: 1 }))

    it.effect("with maxQueue, a full queue of tasks held back by their own key never holds up a task that can start", () =>
      BackgroundExecutor.scoped((executor) =>
        Effect.gen(function*() {
          const gate = yield* Deferred.make<void>()
          // key a: one runs until the gate opens, two wait for it: the queue (maxQueue 2) is full
          yield* executor.submit(Deferred.await(gate), { key: "a" })
          yield* executor.submit(Effect.void, { key: "a" })
          yield* executor.submit(Effect.void, { key: "a" })
          assert.include(yield* executor.stats, { running: 1, queued: 2 })
          // permits are free and key b has room: it starts at once instead of waiting for a place
          const opener = yield* Effect.forkChild(executor.submit(Deferred.succeed(gate, undefined), { key: "b" }), {
            startImmediately: true
          })
          yield* settle
          assert.isDefined(opener.pollUnsafe(), "the submit of key b was made to wait for a queue place")
          yield* executor.awaitIdle
          assert.include(yield* executor.stats, { succeeded: 4, queued: 0 })
        }), { maxConcurrency: 4, maxConcurrencyPerKey: 1, maxQueue: 2 }))

    it.effect("with maxQueue, a submitter already waiting is let in once its own key has room and a permit is free", () =>
      BackgroundExecutor.scoped((executor) =>
        Effect.gen(function*() {
          const gates = { a: yield* Deferred.make<void>(), b: yield* Deferred.make<void>() }
          yield* executor.submit(Deferred.await(gates.a), { key: "a" })
          yield* executor.submit(Effect.void, { key: "a" })
          yield* executor.submit(Deferred.await(gates.b), { key: "b" })
          // key b is full too: this one must wait for a place
          const waiting = yield* Effect.forkChild(executor.submit(Deferred.succeed(gates.a, undefined), { key: "b" }), {
            startImmediately: true
          })
          yield* settle
          assert.isUndefined(waiting.pollUnsafe())
          // b's running task ends: the waiter's key has room, a permit is free, the queue is still full
          yield* Deferred.succeed(gates.b, undefined)
          yield* settle
          assert.isDefined(waiting.pollUnsafe(), "the waiter could start but was left waiting for the queue")
          yield* executor.awaitIdle
          assert.include(yield* executor.stats, { succeeded: 4, queued: 0 })
        }), { maxConcurrency: 4, maxConcurrencyPerKey: 1, maxQueue: 1 }))

    it.effect("with maxQueue, waiters of several keys that gain room together are all let in, each key's in submission order", () =>
      BackgroundExecutor.scoped((executor) =>
        Effect.gen(function*() {
          const gate = yield* Deferred.make<void>()
          const order: Array<string> = []
          // keys a and b each run one task until the gate opens and queue one more behind it: the queue is full
          for (const key of ["a", "b"]) {
            yield* executor.submit(Deferred.await(gate), { key })
            yield* executor.submit(Effect.void, { key })
          }
          // waiting, oldest first: b1, a1, b2 (each key may take one task at a time)
          const waiters = yield* Effect.forEach([["b", "b1"], ["a", "a1"], ["b", "b2"]], ([key, label]) =>
            Effect.forkChild(executor.submit(Effect.sync(() => order.push(label!)), { key }), {
              startImmediately: true
            }))
          yield* settle
          assert.isTrue(waiters.every((waiter) => waiter.pollUnsafe() === undefined))
          yield* Deferred.succeed(gate, undefined)
          yield* executor.awaitIdle
          yield* Effect.forEach(waiters, Fiber.join)
          assert.deepStrictEqual(order.filter((label) => label.startsWith("a")), ["a1"])
          assert.deepStrictEqual(order.filter((label) => label.startsWith("b")), ["b1", "b2"])
          assert.include(yield* executor.stats, { succeeded: 7, queued: 0, running: 0 })
        }), { maxConcurrency: 3, maxConcurrencyPerKey: 1, maxQueue: 2 }))

    it.effect("with maxQueue, a waiter whose key gains room while a younger one is let in goes before the next younger one", () =>
      Effect.gen(function*() {
        const gate = yield* Deferred.make<void>()
        const order: Array<string> = []
        yield* BackgroundExecutor.scoped((executor) =>
          Effect.gen(function*() {
            yield* executor.submit(Deferred.await(gate), { key: "a" }) // a at its bound
            yield* executor.submit(Effect.void, { key: "a" }) // the queue's one place
            const holdsJ = yield* executor.submit(Deferred.await(gate), { key: "j" }) // j at its bound
            const holdsPermit = yield* executor.submit(Deferred.await(gate), { key: "g" }) // the last permit
            const waitFor = (key: string, body: Effect.Effect<void> = Deferred.await(gate)) =>
              Effect.forkChild(
                executor.submit(Effect.andThen(Effect.sync(() => order.push(key)), body), { key }),
                { startImmediately: true }
              )
            // suspended, oldest first: a, k1, j, k2; k1's task frees key j as it starts
            const waiting = [
              yield* waitFor("a"),
              yield* waitFor("k1", Effect.andThen(Task.interrupt(holdsJ), Deferred.await(gate))),
              yield* waitFor("j"),
              yield* waitFor("k2")
            ]
            yield* settle
            assert.deepStrictEqual(order, [])
            yield* Task.interrupt(holdsPermit) // one permit frees
            yield* settle
            // k1 took the permit and freed j's key (and j's permit): j, older than k2, goes next
            assert.deepStrictEqual(order, ["k1", "j"])
            yield* Deferred.succeed(gate, undefined)
            yield* Effect.forEach(waiting, Fiber.join)
          }).pipe(Effect.ensuring(Deferred.succeed(gate, undefined))), {
          maxConcurrency: 3,
          maxConcurrencyPerKey: 1,
          maxQueue: 1
        })
      }))

    it.effect("with maxQueue, a task end looks only at the waiters of keys that may have gained room (linear, not quadratic)", () =>
      Effect.gen(function*() {
        // one key, one task at a time, a free permit, a full queue: every other submitter waits.
        // Before, each task end asked every waiter whether its task could start: ~0.6 n² checks
        const n = 2_000
        const checks = [
          vi.spyOn(TaskQueue.prototype, "couldStartNow"),
          vi.spyOn(TaskQueue.prototype, "hasRoom")
        ]
        try {
          yield* BackgroundExecutor.scoped(
            (executor) =>
              Effect.forEach(
                Array.from({ length: n }, (_, i) => i),
                () => executor.submit(Effect.yieldNow, { key: "host" }),
                { concurrency: "unbounded", discard: true }
              ),
            { maxConcurrency: 2, maxConcurrencyPerKey: 1, maxQueue: 10 }
          )
          const calls = checks.reduce((sum, spy) => sum + spy.mock.calls.length, 0)
          assert.isAbove(calls, 0, "the checks were not counted")
          assert.isBelow(calls, 10 * n, `${calls} room checks for ${n} tasks`)
        } finally {
          checks.forEach((spy) => spy.mockRestore())
        }
      }))

    it.effect("many keys, each with more priorities than the executor shares submissions for: each key's tasks start in its own (priority, submission) order", () =>
      BackgroundExecutor.scoped(Effect.gen(function*() {
        const keys = ["a", "b", "c", "d"]
        // per key, -2 to 9 (8 and 9 beyond the shared range), each twice, and one fractional
        const priorities = Array.from({ length: 24 }, (_, i) => ((i * 5) % 12) - 2 + (i === 1 ? 0.5 : 0))
        const started = new Map<string, Array<number>>(keys.map((key) => [key, []]))
        for (const key of keys) yield* BackgroundExecutor.submit(Effect.sleep(10), { key })
        for (let i = 0; i < priorities.length; i++) {
          for (const key of keys) {
            yield* BackgroundExecutor.submit(Effect.sync(() => started.get(key)!.push(i)), {
              key,
              priority: priorities[i]
            })
          }
        }
        yield* TestClock.adjust(10)
        yield* BackgroundExecutor.awaitIdle
        const expected = priorities.map((_, i) => i).sort((a, b) => priorities[b]! - priorities[a]! || a - b)
        for (const key of keys) assert.deepStrictEqual(started.get(key), expected, `key ${key}`)
      }), { maxConcurrency: 4, maxConcurrencyPerKey: 1 }))

    it.effect("within a key, priority then submission order", () =>
      BackgroundExecutor.scoped(Effect.gen(function*() {
        const order: Array<string> = []
        const gate = yield* Deferred.make<void>()
        yield* BackgroundExecutor.submit(Deferred.await(gate), { key: "k" })
        yield* BackgroundExecutor.submit(Effect.sync(() => order.push("a")), { key: "k" })
        yield* BackgroundExecutor.submit(Effect.sync(() => order.push("b")), { key: "k", priority: 2 })
        yield* BackgroundExecutor.submit(Effect.sync(() => order.push("c")), { key: "k", priority: 2 })
        yield* Deferred.succeed(gate, undefined)
        yield* BackgroundExecutor.awaitIdle
        assert.deepStrictEqual(order, ["b", "c", "a"])
      }), { maxConcurrencyPerKey: 1 }))

    it.effect("with cancelOnExit: the close removes a key's queued cancel-on-exit tasks, the others of that key still run", () =>
      Effect.gen(function*() {
        const ran: Array<string> = []
        const job = (label: string) => Effect.andThen(Effect.sleep(10), Effect.sync(() => ran.push(label)))
        const owner = yield* Effect.forkChild(
          BackgroundExecutor.scoped(Effect.gen(function*() {
            return [
              yield* BackgroundExecutor.submit(job("k-running"), { key: "k", cancelOnExit: true }),
              yield* BackgroundExecutor.submit(job("k-cancel"), { key: "k", cancelOnExit: true }),
              yield* BackgroundExecutor.submit(job("k-kept"), { key: "k" }),
              yield* BackgroundExecutor.submit(job("j-kept"), { key: "j" })
            ]
          }), { maxConcurrencyPerKey: 1 }),
          { startImmediately: true }
        )
        yield* TestClock.adjust(100)
        const tasks = yield* Fiber.join(owner)
        const interrupted = (t: Task.Task<unknown, unknown>) =>
          Effect.map(Task.await(t), (exit) => Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause))
        assert.deepStrictEqual(yield* Effect.forEach(tasks, interrupted), [true, true, false, false])
        assert.deepStrictEqual(ran.sort(), ["j-kept", "k-kept"])
      }))

    it.effect("a key's permits come back when its tasks fail, time out or are interrupted", () =>
      BackgroundExecutor.scoped(Effect.gen(function*() {
        yield* BackgroundExecutor.submit(Effect.fail("x"), { key: "k", reraiseOnExit: false })
        yield* BackgroundExecutor.submit(Effect.never, { key: "k", timeout: 5, reraiseOnExit: false })
        const stuck = yield* BackgroundExecutor.submit(Effect.never, { key: "k" })
        const last = yield* BackgroundExecutor.submit(Effect.succeed("last"), { key: "k" })
        yield* TestClock.adjust(5)
        yield* Task.interrupt(stuck)
        assert.strictEqual(yield* Task.join(last), "last")
      }), { maxConcurrencyPerKey: 1 }))
  })

  describe("resize", () => {
    it.effect("down to 1 while tasks run lets them finish and starts none until below; back up starts at once", () =>
      BackgroundExecutor.scoped((executor) =>
        Effect.gen(function*() {
          let active = 0
          let peak = 0
          const job = Effect.acquireUseRelease(
            Effect.sync(() => peak = Math.max(peak, ++active)),
            () => Effect.sleep(10),
            () => Effect.sync(() => active--)
          )
          for (let i = 0; i < 12; i++) yield* executor.submit(job)
          yield* settle
          assert.strictEqual(active, 4)
          yield* executor.resize(1)
          peak = active = 4
          yield* TestClock.adjust(10) // the four end; one starts
          assert.include(yield* executor.stats, { running: 1, queued: 7 })
          peak = 1
          yield* TestClock.adjust(10)
          assert.include(yield* executor.stats, { running: 1, queued: 6 })
          assert.strictEqual(peak, 1)
          yield* executor.resize(3)
          assert.include(yield* executor.stats, { running: 3, queued: 4 })
          yield* executor.resize(Infinity)
          assert.include(yield* executor.stats, { running: 7, queued: 0 })
          yield* TestClock.adjust(10)
          yield* executor.awaitIdle
          assert.include(yield* executor.stats, { succeeded: 12 })
        }), { maxConcurrency: 4 }))

    it.effect("a bad size dies with InvalidArgumentError naming maxConcurrency and the value", () =>
      BackgroundExecutor.scoped((executor) =>
        Effect.gen(function*() {
          for (const bad of [0, -1, 1.5, Number.NaN, "2", undefined]) {
            const exit = yield* Effect.exit(executor.resize(bad as number))
            assert.isTrue(Exit.isFailure(exit))
            const defect = Cause.squash(
              (exit as Exit.Failure<unknown, unknown>).cause
            ) as ExecutorError.InvalidArgumentError
            assert.match(defect.message, /`maxConcurrency`/)
            assert.isTrue(Object.is(defect.value, bad), `the value it got, as it got it: ${String(defect.value)}`)
          }
          assert.include(yield* executor.stats, { submitted: 0 })
        })
      ))
  })

  describe("pause and resume", () => {
    it.effect("while paused, submit queues but nothing starts; resume starts as many as permits allow", () =>
      BackgroundExecutor.scoped((executor) =>
        Effect.gen(function*() {
          let ran = 0
          yield* executor.pause
          for (let i = 0; i < 3; i++) yield* executor.submit(Effect.sync(() => ran++))
          yield* settle
          assert.strictEqual(ran, 0)
          assert.include(yield* executor.stats, { queued: 3, running: 0 })
          yield* executor.resume
          yield* executor.awaitIdle
          assert.strictEqual(ran, 3)
        }), { maxConcurrency: 2 }))

    it.effect("while paused, maxQueue still applies to submit", () =>
      BackgroundExecutor.scoped((executor) =>
        Effect.gen(function*() {
          yield* executor.pause
          yield* executor.submit(Effect.void)
          yield* executor.submit(Effect.void)
          const third = yield* Effect.forkChild(executor.submit(Effect.void), { startImmediately: true })
          yield* settle
          assert.isUndefined(third.pollUnsafe(), "a third task entered a full queue while paused")
          yield* executor.resume
          yield* Fiber.join(third)
          yield* executor.awaitIdle
          assert.include(yield* executor.stats, { succeeded: 3 })
        }), { maxConcurrency: 4, maxQueue: 2 }))

    it.effect("running tasks go on while paused, and start deadlines keep running", () =>
      BackgroundExecutor.scoped((executor) =>
        Effect.gen(function*() {
          const running = yield* executor.submit(Effect.as(Effect.sleep(10), "done"))
          yield* executor.pause
          const waiting = yield* executor.submit(Effect.void, { startTimeout: 20, reraiseOnExit: false })
          yield* TestClock.adjust(10)
          assert.strictEqual(yield* Task.join(running), "done")
          yield* TestClock.adjust(10)
          const exit = yield* Task.await(waiting)
          assert.isTrue(Exit.isFailure(exit))
          assert.include(yield* executor.stats, { timedOut: 1 })
        })
      ))

    it.effect("closing a paused executor resumes it first: its queued tasks run", () =>
      Effect.gen(function*() {
        let ran = 0
        yield* BackgroundExecutor.scoped((executor) =>
          Effect.gen(function*() {
            yield* executor.pause
            for (let i = 0; i < 3; i++) yield* executor.submit(Effect.sync(() => ran++))
          }), { maxConcurrency: 1 })
        assert.strictEqual(ran, 3)
      }))

    it.effect("pause during close does not stall it", () =>
      Effect.gen(function*() {
        let ran = 0
        yield* BackgroundExecutor.scoped((executor) =>
          Effect.gen(function*() {
            // a running task pauses its executor while the close waits for it
            yield* executor.submit(Effect.andThen(Effect.sleep(10), executor.pause))
            for (let i = 0; i < 3; i++) yield* executor.submit(Effect.sync(() => ran++))
          }), { maxConcurrency: 1 }).pipe(
            Effect.forkChild({ startImmediately: true }),
            Effect.tap(() => TestClock.adjust(10)),
            Effect.flatMap(Fiber.join)
          )
        assert.strictEqual(ran, 3)
      }))
  })
})

import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { BackgroundExecutor, Task } from "../src/index.ts"

const isInterrupted = (exit: Exit.Exit<unknown, unknown> | undefined) =>
  exit !== undefined && Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)

describe("Task", () => {
  it.effect("isTask tells handles from other values", () =>
    BackgroundExecutor.scoped(Effect.gen(function*() {
      const task = yield* BackgroundExecutor.submit(Effect.void)
      assert.isTrue(Task.isTask(task))
      assert.isFalse(Task.isTask({ id: 1, name: "x" }))
      assert.isFalse(Task.isTask(null))
    })))

  it.effect("ids increase in submission order and names default to task-<id>", () =>
    BackgroundExecutor.scoped(Effect.gen(function*() {
      const a = yield* BackgroundExecutor.submit(Effect.void)
      const b = yield* BackgroundExecutor.submit(Effect.void, { name: "b" })
      assert.isTrue(b.id > a.id)
      assert.strictEqual(a.name, `task-${a.id}`)
      assert.strictEqual(b.name, "b")
    })))

  it.effect("poll is undefined until the task ends, then its exit", () =>
    BackgroundExecutor.scoped(Effect.gen(function*() {
      const task = yield* BackgroundExecutor.submit(Effect.as(Effect.sleep(10), "done"))
      assert.isUndefined(yield* Task.poll(task))
      yield* TestClock.adjust(10)
      assert.deepStrictEqual(yield* Task.await(task), Exit.succeed("done"))
      assert.deepStrictEqual(yield* Task.poll(task), Exit.succeed("done"))
    })))

  it.effect("await never fails; join fails as the task did", () =>
    BackgroundExecutor.scoped(Effect.gen(function*() {
      const task = yield* BackgroundExecutor.submit(Effect.fail("no"), { reraiseOnExit: false })
      assert.deepStrictEqual(yield* Task.await(task), Exit.fail("no"))
      assert.strictEqual(yield* Effect.flip(Task.join(task)), "no")
    })))

  it.effect("interrupting a running task waits until its finalizers have run", () =>
    BackgroundExecutor.scoped(Effect.gen(function*() {
      const events: Array<string> = []
      // the finalizer suspends twice before it records anything
      const finalizer = Effect.yieldNow.pipe(Effect.repeat({ times: 1 }), Effect.andThen(Effect.sync(() =>
        events.push("finalizer")
      )))
      const task = yield* BackgroundExecutor.submit(Effect.never.pipe(Effect.onInterrupt(() => finalizer)))
      yield* Task.interrupt(task)
      events.push("interrupt returned")
      assert.deepStrictEqual(events, ["finalizer", "interrupt returned"])
    })))

  it.effect("interrupting a queued task removes it at once: it never runs", () =>
    BackgroundExecutor.scoped(Effect.gen(function*() {
      let ran = false
      const blocker = yield* BackgroundExecutor.submit(Effect.never)
      const queued = yield* BackgroundExecutor.submit(Effect.sync(() => (ran = true)))
      assert.strictEqual((yield* BackgroundExecutor.stats).queued, 1)
      yield* Task.interrupt(queued)
      assert.strictEqual((yield* BackgroundExecutor.stats).queued, 0)
      yield* Task.interrupt(blocker)
      yield* BackgroundExecutor.awaitIdle
      assert.isFalse(ran)
      assert.isTrue(isInterrupted(yield* Task.poll(queued)))
    }), { maxConcurrency: 1 }))

  it.effect("join of an interrupted task fails with the interruption", () =>
    BackgroundExecutor.scoped(Effect.gen(function*() {
      const task = yield* BackgroundExecutor.submit(Effect.never)
      yield* Task.interrupt(task)
      const exit = yield* Effect.exit(Task.join(task))
      assert.isTrue(isInterrupted(exit))
    })))

  it.effect("interrupting a task that has ended does nothing", () =>
    BackgroundExecutor.scoped(Effect.gen(function*() {
      const task = yield* BackgroundExecutor.submit(Effect.succeed(1))
      yield* Task.interrupt(task)
      assert.deepStrictEqual(yield* Task.poll(task), Exit.succeed(1))
    })))

  it.effect("a waiter that is interrupted stops waiting; the task goes on", () =>
    BackgroundExecutor.scoped(Effect.gen(function*() {
      const task = yield* BackgroundExecutor.submit(Effect.as(Effect.sleep(10), "late"))
      const waiter = yield* Effect.forkChild(Task.join(task), { startImmediately: true })
      yield* Fiber.interrupt(waiter)
      assert.isTrue(isInterrupted(waiter.pollUnsafe()))
      yield* TestClock.adjust(10)
      assert.deepStrictEqual(yield* Task.await(task), Exit.succeed("late"))
    })))

  it.effect("waiters that give up are not woken; the others hear the end in the order they came", () =>
    BackgroundExecutor.scoped(Effect.gen(function*() {
      const task = yield* BackgroundExecutor.submit(Effect.as(Effect.sleep(10), "late"))
      const heard: Array<number> = []
      const waiters = yield* Effect.forEach(Array.from({ length: 8 }, (_, i) => i), (i) =>
        Effect.forkChild(
          Effect.flatMap(Task.join(task), (value) => Effect.sync(() => heard.push(i * 10 + value.length))),
          { startImmediately: true }
        ))
      // the first, the last and two in between give up, in another order than they came
      for (const i of [7, 0, 4, 2]) yield* Fiber.interrupt(waiters[i]!)
      // and one that gives up while the task ends: a race lost to another join of the same task
      const raced = yield* Effect.forkChild(Effect.race(Task.join(task), Effect.as(Task.join(task), "other")), {
        startImmediately: true
      })
      yield* TestClock.adjust(10)
      assert.deepStrictEqual(heard, [14, 34, 54, 64])
      for (const i of [7, 0, 4, 2]) assert.isTrue(isInterrupted(waiters[i]!.pollUnsafe()))
      assert.deepStrictEqual(yield* Fiber.join(raced), "late")
    })))
})

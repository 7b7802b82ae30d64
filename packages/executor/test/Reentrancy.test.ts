/**
 * Effect 4 resumes a waiting fiber synchronously, so every observer, idle
 * waiter and suspended submitter that the executor wakes runs user code at
 * once, in the middle of the executor's own bookkeeping. These tests put
 * such code in each of those places.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { BackgroundExecutor, ExecutorError, Task } from "../src/index.ts"

describe("re-entrancy", () => {
  it.effect("a permit freed while closing cancels the queue goes to the next queued task", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      yield* BackgroundExecutor.scoped((executor) =>
        Effect.gen(function*() {
          let doomed: Task.Task<never> | undefined
          // holds the only permit until the doomed task ends
          yield* executor.submit(Effect.suspend(() => Task.await(doomed!)), { nextTick: true })
          doomed = yield* executor.submit(Effect.never, { cancelOnExit: true })
          yield* executor.submit(Effect.sync(() => log.push("kept task ran")))
          yield* Effect.yieldNow
        }), { maxConcurrency: 1 })
      assert.deepStrictEqual(log, ["kept task ran"])
    }))

  it.effect("a cancel-on-exit task submitted while closing leaves the counters right; the next one starts at once", () =>
    Effect.gen(function*() {
      const parent = yield* BackgroundExecutor.scoped((executor) =>
        executor.submit(Effect.gen(function*() {
          yield* Effect.yieldNow // the body has ended: the executor is closing
          yield* executor.submit(Effect.never, { cancelOnExit: true })
          const child = yield* executor.submit(Effect.succeed(1))
          return { child: yield* Task.poll(child), stats: yield* executor.stats }
        }))
      )
      const seen = yield* Task.join(parent)
      assert.deepStrictEqual(seen.child, Exit.succeed(1))
      assert.include(seen.stats, { queued: 0, interrupted: 1 })
    }))

  it.effect("a submitter let in by maxQueue that frees a permit has it passed on", () =>
    Effect.gen(function*() {
      const value = yield* BackgroundExecutor.scoped((executor) =>
        Effect.gen(function*() {
          yield* executor.submit(Effect.sleep(20))
          const blocker = yield* executor.submit(Effect.never)
          const producer = yield* Effect.forkChild(
            Effect.gen(function*() {
              const task = yield* executor.submit(Effect.succeed("ran")) // suspends: the queue is full
              yield* Task.interrupt(blocker) // frees the only permit, from inside the wake-up
              return task
            }),
            { startImmediately: true }
          )
          yield* TestClock.adjust(20)
          return yield* Task.join(yield* Fiber.join(producer))
        }), { maxConcurrency: 1, maxQueue: 1 })
      assert.strictEqual(value, "ran")
    }))

  it.effect("closing waits for a task submitted by an idle waiter woken just before the closer", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(BackgroundExecutor.scoped((executor) =>
        Effect.gen(function*() {
          yield* executor.submit(Effect.sleep(10))
          yield* Effect.forkDetach(
            Effect.andThen(
              executor.awaitIdle,
              executor.submit(Effect.andThen(Effect.sleep(50), Effect.fail("late failure")), { name: "late" })
            ),
            { startImmediately: true }
          )
          yield* Effect.forkDetach(TestClock.adjust(100))
        })
      ))
      assert.isTrue(Exit.isFailure(exit), "the late task was not awaited")
      const error = Exit.isFailure(exit) ? exit.cause.reasons[0] : undefined
      assert.isTrue(error?._tag === "Fail" && error.error instanceof ExecutorError.TaskFailedError)
      assert.strictEqual((error as { error: ExecutorError.TaskFailedError }).error.taskName, "late")
    }))

  it.effect("with maxQueue, a task's own submissions (and its fibers') are never suspended: no deadlock", () =>
    Effect.gen(function*() {
      const values = yield* BackgroundExecutor.scoped((executor) =>
        Effect.gen(function*() {
          const parent = yield* executor.submit(Effect.gen(function*() {
            // the parent holds the only permit; a suspended submit here could never resume
            const a = yield* executor.submit(Effect.succeed(1))
            const b = yield* executor.submit(Effect.succeed(2))
            const c = yield* Effect.flatMap(Effect.forkChild(executor.submit(Effect.succeed(3))), Fiber.join)
            return [a, b, c]
          }))
          const children = yield* Task.join(parent)
          return yield* Effect.forEach(children, Task.join)
        }), { maxConcurrency: 1, maxQueue: 1 })
      assert.deepStrictEqual(values, [1, 2, 3])
    }))

  it.effect("a bubbleUp predicate that throws keeps the failure, which is re-raised; nothing hangs", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(BackgroundExecutor.scoped(
        Effect.andThen(
          BackgroundExecutor.submit(Effect.andThen(Effect.sleep(5), Effect.fail("boom")), { name: "failing" }),
          TestClock.adjust(5)
        ),
        {
          bubbleUp: () => {
            throw new Error("a broken predicate")
          }
        }
      ))
      assert.instanceOf(error, ExecutorError.TaskFailedError)
      assert.strictEqual(error.taskName, "failing")
    }))

  it.effect("a long chain of tasks, each joining the one before, across two executors, does not nest", () =>
    Effect.gen(function*() {
      const last = yield* BackgroundExecutor.scoped((left) =>
        BackgroundExecutor.scoped((right) =>
          Effect.gen(function*() {
            let previous: Task.Task<number> = yield* left.submit(Effect.as(Effect.sleep(10), 0))
            for (let i = 1; i < 20_000; i++) {
              const before = previous
              const executor = i % 2 === 0 ? left : right
              previous = yield* executor.submit(Effect.map(Task.join(before), (n) => n + 1))
            }
            yield* TestClock.adjust(10)
            return yield* Task.join(previous)
          })
        )
      )
      assert.strictEqual(last, 19_999)
    }))

  it.effect("a nested executor with its own maxQueue keeps the outer executor's exemption for its tasks", () =>
    Effect.gen(function*() {
      const values = yield* BackgroundExecutor.scoped((outer) =>
        Effect.gen(function*() {
          const parent = yield* outer.submit(BackgroundExecutor.scoped((inner) =>
            Effect.flatMap(
              inner.submit(Effect.gen(function*() {
                // descends from outer's only running task: waiting for outer's queue would deadlock
                const a = yield* outer.submit(Effect.succeed(1))
                const b = yield* outer.submit(Effect.succeed(2))
                return [a, b]
              })),
              Task.join
            ), { maxQueue: 10 }))
          return yield* Effect.forEach(yield* Task.join(parent), Task.join)
        }), { maxConcurrency: 1, maxQueue: 1 })
      assert.deepStrictEqual(values, [1, 2])
    }))

  it.effect("joiners hear that a task ended before the executor moves on, as Effect would tell them", () =>
    Effect.gen(function*() {
      const outcome: Array<string> = []
      yield* BackgroundExecutor.scoped((executor) =>
        Effect.gen(function*() {
          const first = yield* executor.submit(Effect.sleep(10))
          const second = yield* executor.submit(Task.join(first))
          // outside the executor: when `second` ends, submit a follow-up
          yield* Effect.forkDetach(
            Effect.andThen(
              Task.await(second),
              Effect.matchEffect(executor.submit(Effect.sync(() => outcome.push("follow-up ran"))), {
                onFailure: (error) => Effect.sync(() => outcome.push(error._tag)),
                onSuccess: () => Effect.void
              })
            ),
            { startImmediately: true }
          )
          yield* Effect.forkDetach(TestClock.adjust(10))
        })
      )
      assert.deepStrictEqual(outcome, ["follow-up ran"])
    }))

  it.effect("an observer that throws is reported, and the executor's bookkeeping still completes", () =>
    Effect.gen(function*() {
      const reported: Array<unknown> = []
      const stats = yield* BackgroundExecutor.scoped((executor) =>
        Effect.gen(function*() {
          const blocker = yield* executor.submit(Effect.never)
          const queued = yield* executor.submit(Effect.succeed("ran"))
          const watcher = Effect.runFork(Task.await(blocker))
          watcher.addObserver(() => {
            throw new Error("a broken observer")
          })
          const original = globalThis.queueMicrotask
          globalThis.queueMicrotask = (report) => {
            try {
              report()
            } catch (error) {
              reported.push(error)
            }
          }
          try {
            yield* Task.interrupt(blocker)
          } finally {
            globalThis.queueMicrotask = original
          }
          assert.strictEqual(yield* Task.join(queued), "ran")
          return yield* executor.stats
        }), { maxConcurrency: 1 })
      assert.strictEqual((reported[0] as Error | undefined)?.message, "a broken observer")
      assert.include(stats, { queued: 0, running: 0, succeeded: 1, interrupted: 1 })
    }))
})

/**
 * Cross-cutting behaviour of the fiber executor: the concurrency bound under
 * many tasks (property-based), no fiber outliving its executor, and a deep
 * queue that stays linear.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit } from "effect"
import * as fc from "fast-check"
import { BackgroundExecutor, Task } from "../src/index.ts"

/** Suspends like an I/O call: resumes on the next turn of the event loop. */
const ioLike = Effect.callback<void>((resume) => {
  const handle = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(handle))
})

describe("concurrency", () => {
  it.effect("never more than maxConcurrency tasks run at once, and all of them finish (property)", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 8 }),
          fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 60 }),
          fc.array(fc.boolean(), { maxLength: 60 }),
          async (maxConcurrency, suspensions, failures) => {
            let active = 0
            let peak = 0
            let finished = 0
            const task = (yields: number, fails: boolean) =>
              Effect.gen(function*() {
                active++
                peak = Math.max(peak, active)
                for (let i = 0; i < yields; i++) yield* Effect.yieldNow
                if (fails) return yield* Effect.fail("planned")
              }).pipe(Effect.ensuring(Effect.sync(() => {
                active--
                finished++
              })))
            const stats = await Effect.runPromise(BackgroundExecutor.scoped(Effect.gen(function*() {
              for (let i = 0; i < suspensions.length; i++) {
                yield* BackgroundExecutor.submit(task(suspensions[i]!, failures[i] ?? false), { reraiseOnExit: false })
              }
              yield* BackgroundExecutor.awaitIdle
              return yield* BackgroundExecutor.stats
            }), { maxConcurrency }))
            assert.isAtMost(peak, maxConcurrency)
            // the bound is reached when there is work for it: tasks that suspend at least once overlap
            if (suspensions.filter((n) => n > 0).length >= maxConcurrency && suspensions[0]! > 0) {
              assert.isAtLeast(peak, Math.min(maxConcurrency, suspensions.length))
            }
            assert.strictEqual(finished, suspensions.length)
            assert.strictEqual(stats.succeeded + stats.failed, suspensions.length)
          }
        ),
        { numRuns: 60 }
      )
    ))

  it.effect("no fiber outlives its executor: every started task has ended when the scope closes", () =>
    Effect.gen(function*() {
      let started = 0
      let ended = 0
      const tracked = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
        Effect.suspend(() => {
          started++
          return effect
        }).pipe(Effect.ensuring(Effect.sync(() => ended++)))
      const tasks = yield* BackgroundExecutor.scoped(Effect.gen(function*() {
        const tasks: Array<Task.Task<unknown, unknown>> = []
        for (let i = 0; i < 20; i++) {
          tasks.push(yield* BackgroundExecutor.submit(tracked(Effect.never), { cancelOnExit: true }))
          tasks.push(yield* BackgroundExecutor.submit(tracked(Effect.andThen(ioLike, Effect.void))))
          // a task that spawns a child fiber of its own and returns: the child dies with it
          tasks.push(yield* BackgroundExecutor.submit(tracked(Effect.forkChild(tracked(Effect.never)))))
        }
        return tasks
      }), { maxConcurrency: 7 })
      assert.isAbove(started, 0)
      assert.strictEqual(ended, started)
      for (const task of tasks) assert.isDefined(yield* Task.poll(task))
    }))

  it.effect("50,000 queued I/O-like tasks drain in FIFO order without going quadratic", () =>
    Effect.gen(function*() {
      const order: Array<number> = []
      const gate = yield* Deferred.make<void>()
      const stats = yield* BackgroundExecutor.scoped(Effect.gen(function*() {
        for (let i = 0; i < 50_000; i++) {
          const io = Effect.andThen(ioLike, Effect.sync(() => order.push(i)))
          yield* BackgroundExecutor.submit(Effect.andThen(Deferred.await(gate), io))
        }
        const full = yield* BackgroundExecutor.stats
        assert.include(full, { running: 100, queued: 49_900 })
        yield* Deferred.succeed(gate, undefined)
        yield* BackgroundExecutor.awaitIdle
        return yield* BackgroundExecutor.stats
      }), { maxConcurrency: 100 })
      assert.include(stats, { submitted: 50_000, succeeded: 50_000, queued: 0, running: 0 })
      // tasks start in submission order; each suspends once, so they finish in it too
      assert.isTrue(order.every((value, index) => value === index))
    }), { timeout: 20_000 })

  it.effect("closing with 10,000 queued cancel-on-exit tasks interrupts them all; the queued ones never run", () =>
    Effect.gen(function*() {
      let ran = 0
      const stats = yield* BackgroundExecutor.scoped(Effect.gen(function*() {
        for (let i = 0; i < 10_000; i++) {
          yield* BackgroundExecutor.submit(Effect.andThen(Effect.sync(() => ran++), Effect.never), {
            cancelOnExit: true
          })
        }
        return yield* BackgroundExecutor.stats
      }), { maxConcurrency: 10 })
      assert.include(stats, { running: 10, queued: 9_990 })
      assert.strictEqual(ran, 10)
    }))

  it.effect("a task that submits to its own executor from inside is fine at maxConcurrency 1", () =>
    Effect.gen(function*() {
      const value = yield* BackgroundExecutor.scoped(Effect.gen(function*() {
        const outer = yield* BackgroundExecutor.submit(Effect.gen(function*() {
          // the child queues behind its parent; the parent does not wait for it
          return yield* BackgroundExecutor.submit(Effect.succeed("child"))
        }))
        const inner = yield* Task.join(outer)
        return yield* Task.await(inner)
      }), { maxConcurrency: 1 })
      assert.deepStrictEqual(value, Exit.succeed("child"))
    }))
})

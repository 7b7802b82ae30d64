/**
 * A property over random task sets with priorities, keys, run and start
 * timeouts and interruptions, on `TestClock` time: the bounds hold, each key
 * starts its tasks in (priority, submission) order — and no task starts while
 * one that comes before it waits in a key with room — and every task ends
 * exactly once, the way its options say it must.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import { BackgroundExecutor, ExecutorError, Task } from "../src/index.ts"

interface Spec {
  readonly priority: number
  readonly key: string | undefined
  /** How long it runs, in ms of TestClock time. */
  readonly work: number
  readonly timeout: number | undefined
  readonly startTimeout: number | undefined
  /** When a fiber outside interrupts it, if ever. */
  readonly interruptAt: number | undefined
}

const spec = (priorities: number, keys: ReadonlyArray<string>): fc.Arbitrary<Spec> =>
  fc.record({
    priority: fc.integer({ min: -priorities, max: priorities }),
    key: fc.option(fc.constantFrom(...keys), { nil: undefined }),
    work: fc.integer({ min: 1, max: 6 }),
    timeout: fc.option(fc.integer({ min: 1, max: 8 }), { nil: undefined }),
    startTimeout: fc.option(fc.integer({ min: 0, max: 12 }), { nil: undefined }),
    interruptAt: fc.option(fc.integer({ min: 0, max: 15 }), { nil: undefined })
  })

/** Whether task `a` (submitted as number `i`) must start before task `b` (number `j`). */
const before = (a: Spec, i: number, b: Spec, j: number): boolean =>
  a.priority > b.priority || (a.priority === b.priority && i < j)

const run = (
  maxConcurrency: number,
  maxConcurrencyPerKey: number,
  specs: ReadonlyArray<Spec>,
  maxQueue: number = Number.POSITIVE_INFINITY
) =>
  Effect.gen(function*() {
    let active = 0
    const activeByKey = new Map<string | undefined, number>()
    const starts = specs.map(() => 0)
    const ends = specs.map(() => 0)
    const violations: Array<string> = []
    const tasks: Array<Task.Task<void, ExecutorError.TaskTimeoutError>> = []
    const body = (i: number) => {
      const s = specs[i]!
      return Effect.acquireUseRelease(
        Effect.suspend(() => {
          starts[i]!++
          active++
          const byKey = (activeByKey.get(s.key) ?? 0) + 1
          activeByKey.set(s.key, byKey)
          if (active > maxConcurrency) violations.push(`${active} running > maxConcurrency ${maxConcurrency}`)
          if (s.key !== undefined && byKey > maxConcurrencyPerKey) {
            violations.push(`${byKey} of key ${s.key} running > ${maxConcurrencyPerKey}`)
          }
          // no task still waiting may come before this one: none of the same key, and none of
          // a key with room (it could have started instead)
          return Effect.forEach(tasks, (other, j) =>
            Effect.map(Task.poll(other), (exit) => {
              const o = specs[j]!
              if (j === i || exit !== undefined || starts[j] !== 0 || !before(o, j, s, i)) return
              if (o.key === s.key) violations.push(`task ${i} started while task ${j} of key ${String(s.key)} waited`)
              else if (o.key === undefined || (activeByKey.get(o.key) ?? 0) < maxConcurrencyPerKey) {
                violations.push(`task ${i} started while task ${j} (key ${String(o.key)}, with room) waited`)
              }
            }), { discard: true })
        }),
        () => Effect.sleep(s.work),
        () =>
          Effect.sync(() => {
            ends[i]!++
            active--
            activeByKey.set(s.key, activeByKey.get(s.key)! - 1)
          })
      )
    }
    const owner = yield* Effect.forkChild(
      BackgroundExecutor.scoped((executor) =>
        Effect.gen(function*() {
          for (let i = 0; i < specs.length; i++) {
            const s = specs[i]!
            tasks.push(
              yield* executor.submit(body(i), {
                priority: s.priority,
                key: s.key,
                timeout: s.timeout,
                startTimeout: s.startTimeout,
                reraiseOnExit: false
              })
            )
            if (s.interruptAt !== undefined) {
              yield* Effect.forkDetach(Effect.andThen(Effect.sleep(s.interruptAt), Task.interrupt(tasks[i]!)))
            }
          }
          return executor
        }), { maxConcurrency, maxConcurrencyPerKey, maxQueue }),
      { startImmediately: true }
    )
    // (with a maxQueue the owner waits for places: every task ends on its own, so the queue drains)
    for (let t = 0; t < 400 && owner.pollUnsafe() === undefined; t++) yield* TestClock.adjust(1)
    const executor = yield* Fiber.join(owner)
    assert.deepStrictEqual(violations, [])
    const exits = yield* Effect.forEach(tasks, Task.await)
    let timedOut = 0
    for (let i = 0; i < specs.length; i++) {
      const s = specs[i]!
      const exit = exits[i]!
      assert.isAtMost(starts[i]!, 1, `task ${i} started twice`)
      assert.strictEqual(ends[i], starts[i], `task ${i} started without ending`)
      if (Exit.isSuccess(exit)) {
        assert.strictEqual(starts[i], 1, `task ${i} succeeded without running`)
        if (s.timeout !== undefined) assert.isAtMost(s.work, s.timeout, `task ${i} outlived its timeout`)
        continue
      }
      if (Cause.hasInterruptsOnly(exit.cause)) {
        assert.isDefined(s.interruptAt, `task ${i} interrupted by no one`)
        continue
      }
      const error = Cause.squash(exit.cause)
      assert.instanceOf(error, ExecutorError.TaskTimeoutError, `task ${i}: ${String(exit)}`)
      timedOut++
      const timeout = error as ExecutorError.TaskTimeoutError
      if (timeout.phase === "run") {
        assert.strictEqual(starts[i], 1, `task ${i} timed out running without running`)
        assert.isDefined(s.timeout)
        assert.isAtLeast(s.work, s.timeout!, `task ${i} timed out before its timeout`)
      } else {
        assert.strictEqual(starts[i], 0, `task ${i} timed out queued but ran`)
        assert.isDefined(s.startTimeout)
      }
    }
    const stats = yield* executor.stats
    assert.strictEqual(stats.submitted, specs.length)
    assert.strictEqual(stats.succeeded + stats.failed + stats.interrupted, specs.length)
    assert.strictEqual(stats.timedOut, timedOut)
    assert.strictEqual(stats.queued + stats.running, 0)
  }).pipe(Effect.provide(TestClock.layer()))

describe("scheduling model", () => {
  it.effect("bounds, per-key order and one outcome per task, for random priorities, keys, timeouts and interruptions", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 4 }),
          fc.integer({ min: 1, max: 3 }),
          fc.array(spec(2, ["a", "b", "c"]), { minLength: 1, maxLength: 30 }),
          (maxConcurrency, maxConcurrencyPerKey, specs) =>
            Effect.runPromise(run(maxConcurrency, maxConcurrencyPerKey, specs))
        ),
        { numRuns: 300 }
      )
    ))

  it.effect("the same under maxQueue: the submitter waits for places, and nothing else changes", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 4 }),
          fc.integer({ min: 1, max: 3 }),
          fc.array(spec(2, ["a", "b", "c"]), { minLength: 1, maxLength: 30 }),
          fc.integer({ min: 1, max: 4 }),
          (maxConcurrency, maxConcurrencyPerKey, specs, maxQueue) =>
            Effect.runPromise(run(maxConcurrency, maxConcurrencyPerKey, specs, maxQueue))
        ),
        { numRuns: 150 }
      )
    ))

  it.effect("the same with many distinct priorities in one key (past the lane's scan of its levels)", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 3 }),
          fc.array(spec(40, ["a"]), { minLength: 20, maxLength: 60 }),
          (maxConcurrency, specs) => Effect.runPromise(run(maxConcurrency, 1, specs))
        ),
        { numRuns: 100 }
      )
    ))
})

/**
 * The exit rules, written once against a small harness so that every
 * executor (fibers here, worker threads in @taskscope/node) runs the same
 * suite. A harness says how to open an executor of its kind and how to
 * submit the three kinds of work the rules need: succeed after a while, fail
 * after a while, or run until stopped.
 */
import { assert, describe } from "@effect/vitest"
import type { Vitest } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber } from "effect"
import type { Scope } from "effect"
import type { BackgroundExecutor } from "../src/index.ts"
import { ExecutorError, Task } from "../src/index.ts"

/** What a task of the suite does. `ms` is task time: the harness's clock. */
export type Work =
  | { readonly _tag: "Succeed"; readonly ms: number; readonly value: number }
  | { readonly _tag: "Fail"; readonly ms: number; readonly message: string }
  | { readonly _tag: "Forever" }

/** Work constructors. */
export const work = {
  succeed: (value: number, ms = 0): Work => ({ _tag: "Succeed", ms, value }),
  fail: (message: string, ms = 0): Work => ({ _tag: "Fail", ms, message }),
  forever: { _tag: "Forever" } as Work
}

/** An executor as the suite sees it. */
export interface SuiteExecutor {
  readonly submit: (
    work: Work,
    options?: BackgroundExecutor.SubmitOptions
  ) => Effect.Effect<Task.Task<number, unknown>, ExecutorError.ExecutorClosedError>
  readonly stats: Effect.Effect<BackgroundExecutor.Stats>
  readonly join: Effect.Effect<void, ExecutorError.TaskFailedError>
}

/** How to run the suite against one kind of executor. */
export interface Harness {
  readonly name: string
  /** `it.effect` (TestClock) or `it.live` (real time), as the executor needs. */
  readonly test: Vitest.Tester<Scope.Scope>
  /** Opens an executor for `body` and applies the exit rules when it ends. */
  readonly scoped: <A, E>(
    body: (executor: SuiteExecutor) => Effect.Effect<A, E>,
    options?: { readonly maxConcurrency?: number; readonly bubbleUp?: (error: unknown) => boolean }
  ) => Effect.Effect<A, E | ExecutorError.TaskFailedError>
  /** Lets `ms` of task time pass (TestClock.adjust, or a real sleep). */
  readonly elapse: (ms: number) => Effect.Effect<void>
  /** The text a failed task's error carries, to check which task failed. */
  readonly messageOf: (error: unknown) => string
}

const isInterrupted = (exit: Exit.Exit<unknown, unknown> | undefined): boolean =>
  exit !== undefined && Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)

/** Declares the exit-rule tests for `harness`. */
export const exitRuleSuite = (harness: Harness): void => {
  const { elapse, scoped, test } = harness
  const failureOf = (exit: Exit.Exit<unknown, unknown>): ExecutorError.TaskFailedError => {
    assert.isTrue(Exit.isFailure(exit), "expected a failure")
    const error = Cause.findErrorOption((exit as Exit.Failure<unknown, unknown>).cause)
    assert.isTrue(error._tag === "Some", "expected a typed error")
    const value = (error as { value: unknown }).value
    assert.instanceOf(value, ExecutorError.TaskFailedError)
    return value as ExecutorError.TaskFailedError
  }

  describe(`exit rules (${harness.name})`, () => {
    test("rule 1: cancel-on-exit tasks are interrupted on exit, running or queued", () =>
      Effect.gen(function*() {
        const [running, queued, stats] = yield* scoped((executor) =>
          Effect.gen(function*() {
            const running = yield* executor.submit(work.forever, { cancelOnExit: true })
            const queued = yield* executor.submit(work.forever, { cancelOnExit: true })
            return [running, queued, yield* executor.stats] as const
          }), { maxConcurrency: 1 })
        assert.strictEqual(stats.running, 1)
        assert.strictEqual(stats.queued, 1)
        assert.isTrue(isInterrupted(yield* Task.poll(running)))
        assert.isTrue(isInterrupted(yield* Task.poll(queued)))
      }))

    test("rule 2: tasks not flagged cancel-on-exit are awaited on exit", () =>
      Effect.gen(function*() {
        const owner = yield* Effect.forkChild(
          scoped((executor) => executor.submit(work.succeed(7, 100))),
          { startImmediately: true }
        )
        yield* elapse(50)
        assert.isUndefined(owner.pollUnsafe(), "the scope ended before its task")
        yield* elapse(100)
        const task = yield* Fiber.join(owner)
        assert.deepStrictEqual(yield* Task.poll(task), Exit.succeed(7))
      }))

    test("rule 2: once closed, submit fails with ExecutorClosedError", () =>
      Effect.gen(function*() {
        const executor = yield* scoped((executor) => Effect.succeed(executor))
        const result = yield* Effect.flip(executor.submit(work.succeed(1), { name: "late" }))
        assert.instanceOf(result, ExecutorError.ExecutorClosedError)
        assert.include(result.message, "late")
      }))

    test("rule 3: interrupting the owner does not cut the wait short", () =>
      Effect.gen(function*() {
        let task: Task.Task<number, unknown> | undefined
        const owner = yield* Effect.forkChild(
          scoped((executor) =>
            Effect.gen(function*() {
              task = yield* executor.submit(work.succeed(1, 100))
              yield* Effect.never
            })
          ),
          { startImmediately: true }
        )
        yield* elapse(10)
        const interrupter = yield* Effect.forkChild(Fiber.interrupt(owner), { startImmediately: true })
        yield* elapse(10)
        assert.isUndefined(interrupter.pollUnsafe(), "the interruption finished before the task")
        yield* elapse(100)
        yield* Fiber.join(interrupter)
        assert.deepStrictEqual(yield* Task.poll(task!), Exit.succeed(1))
        assert.isTrue(isInterrupted(owner.pollUnsafe()))
      }))

    test("rule 4: the first failed task in submission order is raised, with every failure listed", () =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(scoped((executor) =>
          Effect.gen(function*() {
            yield* executor.submit(work.fail("first", 50), { name: "first" })
            yield* executor.submit(work.fail("second", 0), { name: "second" })
            yield* executor.submit(work.succeed(1, 0))
            yield* elapse(60)
          })
        ))
        const error = failureOf(exit)
        assert.strictEqual(error.taskName, "first")
        assert.include(harness.messageOf(Cause.squash(error.cause)), "first")
        assert.deepStrictEqual(error.failures.map((failure) => failure.taskName), ["first", "second"])
        assert.include(error.message, "first")
      }))

    test("rule 4: interruptions, reraiseOnExit: false and bubble-up failures are not raised", () =>
      Effect.gen(function*() {
        const result = yield* scoped((executor) =>
          Effect.gen(function*() {
            yield* executor.submit(work.fail("quiet"), { reraiseOnExit: false })
            yield* executor.submit(work.fail("BUBBLE-UP signal"))
            yield* executor.submit(work.forever, { cancelOnExit: true })
            const stopped = yield* executor.submit(work.forever)
            yield* elapse(1)
            yield* Task.interrupt(stopped)
            return "ok"
          }), { bubbleUp: (error) => harness.messageOf(error).includes("BUBBLE-UP") })
        assert.strictEqual(result, "ok")
      }))

    test("rule 4: when the body fails, its own error wins", () =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(scoped((executor) =>
          Effect.gen(function*() {
            yield* executor.submit(work.fail("task error"))
            yield* elapse(1)
            return yield* Effect.fail("body error")
          })
        ))
        assert.deepStrictEqual(exit, Exit.fail("body error"))
      }))

    test("rule 4: join surfaces failures early, and they are not raised again on exit", () =>
      Effect.gen(function*() {
        const joined = yield* scoped((executor) =>
          Effect.gen(function*() {
            yield* executor.submit(work.fail("early", 5), { name: "early" })
            yield* elapse(5)
            return yield* Effect.flip(executor.join)
          })
        )
        assert.strictEqual(joined.taskName, "early")
      }))

    test("rule 7: at most maxConcurrency run, queued tasks start in submission order", () =>
      Effect.gen(function*() {
        const [tasks, before, midway] = yield* scoped((executor) =>
          Effect.gen(function*() {
            const tasks = yield* Effect.forEach([1, 2, 3, 4, 5], (value) => executor.submit(work.succeed(value, 100)))
            const before = yield* executor.stats
            yield* elapse(150)
            const midway = {
              stats: yield* executor.stats,
              done: yield* Effect.forEach(tasks, (task) => Effect.map(Task.poll(task), (exit) => exit !== undefined))
            }
            yield* elapse(200)
            return [tasks, before, midway] as const
          }), { maxConcurrency: 2 })
        assert.include(before, { running: 2, queued: 3 })
        assert.include(midway.stats, { running: 2, queued: 1, succeeded: 2 })
        assert.deepStrictEqual(midway.done, [true, true, false, false, false])
        const values = yield* Effect.forEach(tasks, Task.join)
        assert.deepStrictEqual(values, [1, 2, 3, 4, 5])
      }))

    test("rule 7: an interrupted queued task never runs; interrupted and failed tasks free their permit", () =>
      Effect.gen(function*() {
        const [queued, last, stats] = yield* scoped((executor) =>
          Effect.gen(function*() {
            const blocker = yield* executor.submit(work.forever)
            yield* executor.submit(work.fail("frees its permit"), { reraiseOnExit: false })
            const queued = yield* executor.submit(work.succeed(2, 0))
            const last = yield* executor.submit(work.succeed(3, 0))
            yield* Task.interrupt(queued)
            yield* Task.interrupt(blocker)
            yield* elapse(10)
            yield* Task.join(last)
            return [queued, last, yield* executor.stats] as const
          }), { maxConcurrency: 1 })
        assert.isTrue(isInterrupted(yield* Task.poll(queued)))
        assert.deepStrictEqual(yield* Task.poll(last), Exit.succeed(3))
        assert.include(stats, { submitted: 4, succeeded: 1, failed: 1, interrupted: 2 })
      }))
  })
}

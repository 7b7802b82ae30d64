/**
 * `closeTimeout`: the grace period of the close. When it passes, the tasks
 * still unfinished are interrupted, the close waits until they have really
 * ended, and the exit reports them with a `CloseTimeoutError`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Duration, Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { BackgroundExecutor, ExecutorError, Task } from "../src/index.ts"

/** The defect of a died exit, or fails the test. */
const defectOf = (exit: Exit.Exit<unknown, unknown>): unknown => {
  assert.isTrue(Exit.isFailure(exit), "expected the effect to die")
  const defect = Cause.findDefect((exit as Exit.Failure<unknown, unknown>).cause)
  assert.strictEqual(defect._tag, "Success", `expected a defect in ${String(exit)}`)
  return (defect as { success: unknown }).success
}

describe("closeTimeout", () => {
  it.effect("scoped: unfinished tasks are interrupted when it passes and listed in a CloseTimeoutError", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const owner = yield* Effect.forkChild(
        BackgroundExecutor.scoped(Effect.gen(function*() {
          yield* BackgroundExecutor.submit(Effect.as(Effect.sleep(50), "quick"), { name: "quick" })
          yield* BackgroundExecutor.submit(
            Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => log.push("stuck interrupted")))),
            { name: "stuck" }
          )
          yield* BackgroundExecutor.submit(Effect.sync(() => log.push("queued ran")), { name: "waiting" })
        }), { maxConcurrency: 2, closeTimeout: "1 second" }),
        { startImmediately: true }
      )
      yield* TestClock.adjust(999)
      assert.isUndefined(owner.pollUnsafe(), "closed before the grace period passed")
      assert.deepStrictEqual(log, ["queued ran"]) // it got the quick task's permit at 50
      yield* TestClock.adjust(1)
      const exit = yield* Fiber.await(owner)
      assert.isTrue(Exit.isFailure(exit))
      const error = Cause.squash((exit as Exit.Failure<unknown, unknown>).cause)
      assert.instanceOf(error, ExecutorError.CloseTimeoutError)
      const report = error as ExecutorError.CloseTimeoutError
      assert.strictEqual(Duration.toMillis(report.timeout), 1000)
      assert.deepStrictEqual(report.interrupted, [{ taskId: 2, taskName: "stuck", state: "running" }])
      assert.deepStrictEqual(report.failures, [])
      assert.match(report.message, /within 1s: interrupted "stuck" \(#2\)/)
      assert.deepStrictEqual(log, ["queued ran", "stuck interrupted"])
    }))

  it.effect("a close that begins while idle still bounds a task submitted while closing (by an observer the close runs after)", () =>
    Effect.gen(function*() {
      // a chain of joins deeper than the executor's notify depth: the owner hears the last task end
      // among deferred notifications, the executor idle; an outside watcher of the last task then
      // submits a task that never ends, accepted while closing (before: no grace timer was armed,
      // as the close had begun idle, and the close waited for ever)
      const owner = yield* Effect.forkChild(
        BackgroundExecutor.scoped((executor) =>
          Effect.gen(function*() {
            let previous = yield* executor.submit(Effect.sleep(10), { name: "t0" })
            for (let i = 1; i < 200; i++) {
              const before = previous
              previous = yield* executor.submit(Task.join(before), { name: `t${i}` })
            }
            const last = previous
            yield* Effect.forkDetach(
              Effect.andThen(Task.await(last), Effect.exit(executor.submit(Effect.never, { name: "late" })))
            )
            yield* Task.join(last)
          }), { closeTimeout: 100 }),
        { startImmediately: true }
      )
      yield* TestClock.adjust(10)
      yield* TestClock.adjust(100)
      const exit = yield* Fiber.await(owner)
      const error = Cause.squash((exit as Exit.Failure<unknown, unknown>).cause)
      assert.instanceOf(error, ExecutorError.CloseTimeoutError)
      assert.deepStrictEqual((error as ExecutorError.CloseTimeoutError).interrupted.map((task) => task.taskName), [
        "late"
      ])
    }))

  it.effect("a timed task already running its finalizers when the grace period passes ends as an untimed one would", () =>
    Effect.gen(function*() {
      const ended: Array<string> = []
      for (const timeout of [undefined, "10 seconds"] as const) {
        let task: Task.Task<string, unknown> | undefined
        const owner = yield* Effect.forkChild(
          BackgroundExecutor.scoped((executor) =>
            Effect.gen(function*() {
              task = yield* executor.submit(
                Effect.gen(function*() {
                  yield* Effect.addFinalizer(() => Effect.sleep(200))
                  yield* Effect.sleep(10)
                  return "value"
                }),
                timeout === undefined ? { name: "untimed" } : { name: "timed", timeout }
              )
            }), { closeTimeout: 50 }),
          { startImmediately: true }
        )
        yield* TestClock.adjust(300)
        const exit = yield* Fiber.await(owner)
        const error = Cause.squash((exit as Exit.Failure<unknown, unknown>).cause) as ExecutorError.CloseTimeoutError
        assert.instanceOf(error, ExecutorError.CloseTimeoutError)
        // its body had ended: the interrupt had nothing left to stop, and the close waited for its finalizer
        assert.deepStrictEqual(error.interrupted, [])
        assert.deepStrictEqual(error.endedOtherwise?.map((task) => task.taskName), [
          timeout === undefined ? "untimed" : "timed"
        ])
        assert.match(error.message, /within 50ms: "(un)?timed" \(#1\) ended otherwise$/)
        // before: the timed task's value was lost to the interrupt, and it counted as interrupted
        const own = yield* Task.await(task!)
        ended.push(Exit.isSuccess(own) ? own.value : "interrupted")
      }
      assert.deepStrictEqual(ended, ["value", "value"])
    }))

  it.effect("queued tasks are listed as queued and never run; they count as interrupted", () =>
    Effect.gen(function*() {
      let ran = 0
      const owner = yield* Effect.forkChild(
        BackgroundExecutor.scoped((executor) =>
          Effect.gen(function*() {
            yield* executor.submit(Effect.never, { name: "holder" })
            yield* executor.submit(Effect.sync(() => ran++), { name: "never-started" })
            return executor
          }), { maxConcurrency: 1, closeTimeout: 100 }),
        { startImmediately: true }
      )
      yield* TestClock.adjust(100)
      const error = yield* Effect.flip(Fiber.join(owner))
      assert.strictEqual(error._tag, "CloseTimeoutError")
      assert.deepStrictEqual((error as ExecutorError.CloseTimeoutError).interrupted.map((t) => [t.taskName, t.state]), [
        ["holder", "running"],
        ["never-started", "queued"]
      ])
      assert.strictEqual(ran, 0)
    }))

  it.effect("a permit freed while the queued tasks are cut off starts none of them", () =>
    Effect.gen(function*() {
      // "B" ends as the cut-off interrupts it; its observer frees the only
      // permit (interrupting "A"): the queued tasks being cut off must not
      // take it and run on past the close
      let running = 0
      let peak = 0
      const started: Array<string> = []
      const work = (name: string) =>
        Effect.acquireUseRelease(
          Effect.sync(() => {
            started.push(name)
            peak = Math.max(peak, ++running)
          }),
          () => Effect.sleep(100),
          () => Effect.sync(() => running--)
        )
      const owner = yield* Effect.forkChild(
        BackgroundExecutor.scoped((executor) =>
          Effect.gen(function*() {
            const a = yield* executor.submit(Effect.sleep(1000), { name: "A" })
            const b = yield* executor.submit(Effect.sleep(1000), { name: "B" })
            for (const name of ["C", "D", "E"]) yield* executor.submit(work(name), { name })
            yield* Effect.forkDetach(Effect.andThen(Task.await(b), Task.interrupt(a)), { startImmediately: true })
          }), { maxConcurrency: 1, closeTimeout: 20 }),
        { startImmediately: true }
      )
      yield* TestClock.adjust(20)
      const error = (yield* Effect.flip(Fiber.join(owner))) as ExecutorError.CloseTimeoutError
      assert.strictEqual(error._tag, "CloseTimeoutError")
      assert.deepStrictEqual(started, [], "a queued task started after the grace period")
      assert.strictEqual(running, 0, "a task fiber outlived the close")
      assert.strictEqual(peak, 0)
      assert.deepStrictEqual(error.interrupted.map((t) => [t.taskName, t.state]), [
        ["B", "queued"],
        ["C", "queued"],
        ["D", "queued"],
        ["E", "queued"]
      ]) // "A" is not listed: the observer's interrupt ended it before the cut-off reached the running tasks
    }))

  it.effect("the close still waits for an interrupted task's finalizer to end", () =>
    Effect.gen(function*() {
      let released = false
      const owner = yield* Effect.forkChild(
        BackgroundExecutor.scoped(
          BackgroundExecutor.submit(Effect.andThen(
            Effect.acquireRelease(Effect.void,
              () => Effect.andThen(Effect.sleep(30), Effect.sync(() => released = true))),
            Effect.never
          )),
          { closeTimeout: 100 }
        ),
        { startImmediately: true }
      )
      yield* TestClock.adjust(100)
      assert.isUndefined(owner.pollUnsafe(), "the close returned before the finalizer ended")
      yield* TestClock.adjust(30)
      assert.isTrue(released)
      assert.strictEqual((yield* Effect.flip(Fiber.join(owner)))._tag, "CloseTimeoutError")
    }))

  it.effect("rule 3: interrupting the owner never cuts the wait short; only the grace period does", () =>
    Effect.gen(function*() {
      let ended = false
      const owner = yield* Effect.forkChild(
        BackgroundExecutor.scoped(
          BackgroundExecutor.submit(Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => ended = true)))),
          { closeTimeout: 500 }
        ),
        { startImmediately: true }
      )
      yield* TestClock.adjust(10)
      const interrupter = yield* Effect.forkChild(Fiber.interrupt(owner), { startImmediately: true })
      yield* TestClock.adjust(489)
      assert.isUndefined(owner.pollUnsafe(), "interrupting the owner cut the wait short")
      assert.isFalse(ended)
      yield* TestClock.adjust(1)
      yield* Fiber.join(interrupter)
      assert.isTrue(ended)
      const exit = yield* Fiber.await(owner)
      assert.isTrue(Exit.isFailure(exit) && Cause.hasInterrupts(exit.cause))
      // the report rides along with the interruption
      assert.isTrue(
        (exit as Exit.Failure<unknown, unknown>).cause.reasons.some((r) =>
          Cause.isFailReason(r) && r.error instanceof ExecutorError.CloseTimeoutError
        )
      )
    }))

  it.effect("a close that ends in time raises nothing and cancels its timer", () =>
    Effect.gen(function*() {
      const result = yield* BackgroundExecutor.scoped(
        Effect.as(BackgroundExecutor.submit(Effect.sleep(50)), "ok"),
        { closeTimeout: 100 }
      ).pipe(Effect.forkChild({ startImmediately: true }), Effect.tap(() => TestClock.adjust(50)),
        Effect.flatMap(Fiber.join))
      assert.strictEqual(result, "ok")
      yield* TestClock.adjust(1000) // a timer left behind would fire into a closed executor
    }))

  it.effect("failures not reported are carried in the CloseTimeoutError, none lost", () =>
    Effect.gen(function*() {
      const owner = yield* Effect.forkChild(
        BackgroundExecutor.scoped(Effect.gen(function*() {
          yield* BackgroundExecutor.submit(Effect.fail("boom"), { name: "failing" })
          yield* BackgroundExecutor.submit(Effect.never, { name: "stuck" })
        }), { closeTimeout: 10 }),
        { startImmediately: true }
      )
      yield* TestClock.adjust(10)
      const error = (yield* Effect.flip(Fiber.join(owner))) as ExecutorError.CloseTimeoutError
      assert.strictEqual(error._tag, "CloseTimeoutError")
      assert.deepStrictEqual(error.failures.map((f) => f.taskName), ["failing"])
      assert.match(error.message, /1 task had failed/)
    }))

  it.effect("a task submitted while closing after the grace period is interrupted at once and listed", () =>
    Effect.gen(function*() {
      let child: Task.Task<void> | undefined
      const owner = yield* Effect.forkChild(
        BackgroundExecutor.scoped(
          (executor) =>
            executor.submit(
              Effect.never.pipe(Effect.onInterrupt(() =>
                Effect.map(executor.submit(Effect.void, { name: "late child" }), (task) => {
                  child = task
                })
              ))
            ),
          { closeTimeout: 10 }
        ),
        { startImmediately: true }
      )
      yield* TestClock.adjust(10)
      const error = (yield* Effect.flip(Fiber.join(owner))) as ExecutorError.CloseTimeoutError
      assert.deepStrictEqual(error.interrupted.map((t) => [t.taskName, t.state]), [
        ["task-1", "running"],
        ["late child", "queued"]
      ])
      const exit = yield* Task.await(child!)
      assert.isTrue(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause))
    }))

  it.effect("make: the scope's finalizer dies with the CloseTimeoutError", () =>
    Effect.gen(function*() {
      const owner = yield* Effect.forkChild(
        Effect.exit(Effect.scoped(Effect.gen(function*() {
          const executor = yield* BackgroundExecutor.make({ closeTimeout: "20 millis" })
          yield* executor.submit(Effect.never, { name: "stuck" })
        }))),
        { startImmediately: true }
      )
      yield* TestClock.adjust(20)
      const defect = defectOf(yield* Fiber.join(owner))
      assert.instanceOf(defect, ExecutorError.CloseTimeoutError)
    }))

  it.effect("layer: the same, when the layer is released", () =>
    Effect.gen(function*() {
      const owner = yield* Effect.forkChild(
        Effect.exit(Effect.provide(
          BackgroundExecutor.submit(Effect.never),
          BackgroundExecutor.layer({ closeTimeout: 20 })
        )),
        { startImmediately: true }
      )
      yield* TestClock.adjust(20)
      assert.instanceOf(defectOf(yield* Fiber.join(owner)), ExecutorError.CloseTimeoutError)
    }))

  it.effect("cancel-on-exit tasks that will not stop are cut off too", () =>
    Effect.gen(function*() {
      const owner = yield* Effect.forkChild(
        BackgroundExecutor.scoped(
          BackgroundExecutor.submit(Effect.uninterruptible(Effect.sleep(100)), {
            cancelOnExit: true,
            name: "stubborn"
          }),
          { closeTimeout: 10 }
        ),
        { startImmediately: true }
      )
      yield* TestClock.adjust(10)
      assert.isUndefined(owner.pollUnsafe(), "an uninterruptible task is still waited for")
      yield* TestClock.adjust(90)
      const error = (yield* Effect.flip(Fiber.join(owner))) as ExecutorError.CloseTimeoutError
      assert.deepStrictEqual(error.interrupted, [{ taskId: 1, taskName: "stubborn", state: "running" }])
    }))
})

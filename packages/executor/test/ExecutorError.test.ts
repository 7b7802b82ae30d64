/**
 * The executors' errors and their messages. A message is read wherever the
 * error ends up — a log line, a test runner's report — often after its
 * fields have been copied or replaced, so it must never throw, whatever they
 * hold, and it should still say what failed.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Data, Duration } from "effect"
import * as fc from "fast-check"
import { BackgroundExecutor, ExecutorError } from "../src/index.ts"
import { fieldValue, hostile, replace, runnerCopy } from "./HostileValues.ts"

const failure = (cause: Cause.Cause<unknown>, taskId = 1, taskName = "fetch"): ExecutorError.TaskFailure => ({
  taskId,
  taskName,
  cause
})

describe("ExecutorError", () => {
  it("every error is also exported by BackgroundExecutor, as the same class", () => {
    // InvalidArgumentError was missing there (undefined), though the README listed it
    assert.strictEqual(BackgroundExecutor.InvalidArgumentError, ExecutorError.InvalidArgumentError)
    assert.strictEqual(BackgroundExecutor.TaskFailedError, ExecutorError.TaskFailedError)
    assert.strictEqual(BackgroundExecutor.ExecutorClosedError, ExecutorError.ExecutorClosedError)
    assert.strictEqual(BackgroundExecutor.TaskTimeoutError, ExecutorError.TaskTimeoutError)
    assert.strictEqual(BackgroundExecutor.CloseTimeoutError, ExecutorError.CloseTimeoutError)
  })

  describe("TaskFailedError", () => {
    it("names the first failed task and its reason, and counts the others", () => {
      const error = ExecutorError.TaskFailedError.fromFailures([
        failure(Cause.fail(new Error("the real failure")), 3, "fetch"),
        failure(Cause.fail("second"), 4, "parse"),
        failure(Cause.die("third"), 5, "store")
      ])
      assert.strictEqual(error.message, "Task \"fetch\" (#3) failed: the real failure (and 2 more failed tasks)")
      const one = ExecutorError.TaskFailedError.fromFailures([failure(Cause.die({ code: 7 }))])
      assert.strictEqual(one.message, "Task \"fetch\" (#1) failed: {\"code\":7}")
      // an Effect tagged error has no message: its tag and fields say what happened
      class Quota extends Data.TaggedError("Quota")<{ readonly left: number }> {}
      const tagged = ExecutorError.TaskFailedError.fromFailures([failure(Cause.fail(new Quota({ left: 0 })))])
      assert.strictEqual(tagged.message, "Task \"fetch\" (#1) failed: Quota {\"left\":0,\"_tag\":\"Quota\"}")
    })

    it("names a second reason of the first task's cause, so that a defect next to a failure is not hidden", () => {
      const signal = new Error("GraphInterrupt")
      const mixed = Cause.combine(Cause.fail(signal), Cause.die(new TypeError("boom")))
      const error = ExecutorError.TaskFailedError.fromFailures([failure(mixed)])
      assert.strictEqual(error.message, "Task \"fetch\" (#1) failed: GraphInterrupt (also in its cause: boom)")
      // as read after the runner replaced the cause with a plain copy
      assert.strictEqual(replace(error, "cause", runnerCopy(mixed)).message, error.message)
      const many = Cause.combine(mixed, Cause.combine(Cause.die("third"), Cause.interrupt(1)))
      assert.strictEqual(
        ExecutorError.TaskFailedError.fromFailures([failure(many)]).message,
        "Task \"fetch\" (#1) failed: GraphInterrupt (also in its cause: boom, and 1 more)"
      )
      // two defects and no failure: the first is named, the second after it
      const defects = Cause.combine(Cause.die("first"), Cause.die("second"))
      assert.strictEqual(
        ExecutorError.TaskFailedError.fromFailures([failure(defects)]).message,
        "Task \"fetch\" (#1) failed: first (also in its cause: second)"
      )
    })

    it("still names the reason after its cause is replaced by a plain copy, as vitest does when a test fails with it", () => {
      const cause = Cause.fail(new Error("the real failure"))
      const error = ExecutorError.TaskFailedError.fromFailures([failure(cause)])
      const copy = runnerCopy(cause)
      assert.strictEqual(Object.getPrototypeOf(copy), null)
      replace(error, "cause", copy)
      assert.strictEqual(error.message, "Task \"fetch\" (#1) failed: the real failure")
      // structuredClone's copy of a cause, and copies of a defect and of an interruption
      assert.strictEqual(replace(error, "cause", structuredClone(cause)).message,
        "Task \"fetch\" (#1) failed: the real failure")
      assert.strictEqual(replace(error, "cause", runnerCopy(Cause.die("gone"))).message,
        "Task \"fetch\" (#1) failed: gone")
      assert.strictEqual(
        replace(error, "cause", runnerCopy(Cause.interrupt(1))).message,
        "Task \"fetch\" (#1) failed: interrupted"
      )
    })

    it("gives a message when its cause, failures, name or id is a hostile value", () => {
      const base = () => ExecutorError.TaskFailedError.fromFailures([failure(Cause.fail("x"))])
      for (const [name, make] of hostile) {
        for (const field of ["cause", "failures", "taskName", "taskId"]) {
          assert.match(replace(base(), field, make()).message, /^Task .* failed: /s, `${field} = ${name}`)
        }
      }
    })

    it("message never throws, whatever its fields hold (fast-check)", () => {
      fc.assert(
        fc.property(fieldValue, fieldValue, fieldValue, fieldValue, (cause, failures, taskName, taskId) => {
          const error = ExecutorError.TaskFailedError.fromFailures([failure(Cause.fail("x"))])
          replace(error, "cause", cause.make())
          replace(error, "failures", failures.make())
          replace(error, "taskName", taskName.make())
          replace(error, "taskId", taskId.make())
          return /^Task .* failed: /s.test(error.message)
        }),
        { numRuns: 500 }
      )
    })
  })

  describe("TaskTimeoutError", () => {
    it("names the task, the phase and the time it was given", () => {
      const run = new ExecutorError.TaskTimeoutError({ taskName: "fetch", phase: "run", timeout: Duration.seconds(5) })
      assert.strictEqual(run.message, "Task \"fetch\" timed out running after 5s")
      const queue = new ExecutorError.TaskTimeoutError({
        taskName: "task-3",
        phase: "queue",
        timeout: Duration.millis(250)
      })
      assert.strictEqual(queue.message, "Task \"task-3\" timed out waiting to start after 250ms")
    })

    it("message never throws, whatever its fields hold (fast-check)", () => {
      fc.assert(
        fc.property(fieldValue, fieldValue, fieldValue, (taskName, phase, timeout) => {
          const error = new ExecutorError.TaskTimeoutError({ taskName: "x", phase: "run", timeout: Duration.millis(1) })
          replace(error, "taskName", taskName.make())
          replace(error, "phase", phase.make())
          replace(error, "timeout", timeout.make())
          return /^Task .* timed out .* after /s.test(error.message)
        }),
        { numRuns: 300 }
      )
    })
  })

  describe("CloseTimeoutError", () => {
    it("names the grace period, the tasks it interrupted and how many had failed", () => {
      const error = new ExecutorError.CloseTimeoutError({
        timeout: Duration.seconds(10),
        interrupted: [{ taskId: 2, taskName: "crawl", state: "running" }, {
          taskId: 5,
          taskName: "index",
          state: "queued"
        }],
        failures: [failure(Cause.fail("x"))]
      })
      assert.strictEqual(
        error.message,
        "The executor did not close within 10s: interrupted \"crawl\" (#2), \"index\" (#5) (and 1 task had failed)"
      )
      const many = new ExecutorError.CloseTimeoutError({
        timeout: Duration.millis(1),
        interrupted: Array.from({ length: 7 }, (_, i) => ({ taskId: i, taskName: `t${i}`, state: "running" as const })),
        failures: []
      })
      assert.match(many.message, /"t4" \(#4\) and 2 more$/)
    })

    it("message never throws, whatever its fields hold (fast-check)", () => {
      fc.assert(
        fc.property(fieldValue, fieldValue, fieldValue, (timeout, interrupted, failures) => {
          const error = new ExecutorError.CloseTimeoutError({
            timeout: Duration.millis(1),
            interrupted: [],
            failures: []
          })
          replace(error, "timeout", timeout.make())
          replace(error, "interrupted", interrupted.make())
          replace(error, "failures", failures.make())
          return error.message.startsWith("The executor did not close within ")
        }),
        { numRuns: 300 }
      )
    })
  })

  describe("ExecutorClosedError", () => {
    it("names the rejected task, if it had a name", () => {
      assert.strictEqual(
        new ExecutorError.ExecutorClosedError({ taskName: "late" }).message,
        "Cannot submit task \"late\": the executor is closed"
      )
      assert.strictEqual(
        new ExecutorError.ExecutorClosedError({ taskName: undefined }).message,
        "Cannot submit a task: the executor is closed"
      )
    })

    it("message never throws, whatever taskName holds (fast-check)", () => {
      fc.assert(
        fc.property(fieldValue, (taskName) => {
          const message = new ExecutorError.ExecutorClosedError({ taskName: taskName.make() as string }).message
          return message.startsWith("Cannot submit ")
        }),
        { numRuns: 300 }
      )
    })
  })

  describe("InvalidArgumentError", () => {
    it("names the argument, what it expected and the bad value", () => {
      const message = (value: unknown) =>
        new ExecutorError.InvalidArgumentError({ argument: "maxConcurrency", value, expected: "an integer" }).message
      assert.strictEqual(message(0), "Expected `maxConcurrency` to be an integer, got 0 (number)")
      assert.strictEqual(message(""), "Expected `maxConcurrency` to be an integer, got \"\" (string)")
      assert.strictEqual(message(Promise.resolve(1)),
        "Expected `maxConcurrency` to be an integer, got an instance of Promise")
      assert.strictEqual(message(function named() {}),
        "Expected `maxConcurrency` to be an integer, got a function (named)")
      assert.strictEqual(message(Object.create(null)), "Expected `maxConcurrency` to be an integer, got an object")
      // a plain object shows its fields (before: "got an object", whatever it held)
      assert.strictEqual(
        message({ millis: 5000 }),
        "Expected `maxConcurrency` to be an integer, got an object {\"millis\":5000}"
      )
    })

    it("gives a message when the bad value is a hostile value", () => {
      for (const [name, make] of hostile) {
        const message =
          new ExecutorError.InvalidArgumentError({ argument: "option", value: make(), expected: "a boolean" })
            .message
        assert.match(message, /^Expected `option` to be a boolean, got ./, name)
      }
    })

    it("message never throws, whatever its fields hold (fast-check)", () => {
      fc.assert(
        fc.property(fieldValue, fieldValue, fieldValue, (argument, value, expected) => {
          const error = new ExecutorError.InvalidArgumentError({
            argument: argument.make() as string,
            value: value.make(),
            expected: expected.make() as string
          })
          return error.message.startsWith("Expected `")
        }),
        { numRuns: 300 }
      )
    })
  })
})

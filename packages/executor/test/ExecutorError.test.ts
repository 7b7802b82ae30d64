/**
 * The executors' errors and their messages. A message is read wherever the
 * error ends up — a log line, a test runner's report — often after its
 * fields have been copied or replaced, so it must never throw, whatever they
 * hold, and it should still say what failed.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Data } from "effect"
import * as fc from "fast-check"
import { ExecutorError } from "../src/index.ts"
import { fieldValue, hostile, replace, runnerCopy } from "./HostileValues.ts"

const failure = (cause: Cause.Cause<unknown>, taskId = 1, taskName = "fetch"): ExecutorError.TaskFailure => ({
  taskId,
  taskName,
  cause
})

describe("ExecutorError", () => {
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

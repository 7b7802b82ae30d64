/**
 * The messages of a call's errors: they name the task and the bad value, and
 * never throw, whatever the fields hold — a test runner replaces fields with
 * plain copies before it reads the message. The task set's errors are
 * `@taskscope/executor/TaskSetError`'s (tested there); `WorkerError` exports
 * the same classes.
 */
import { assert, describe, it } from "@effect/vitest"
import * as TaskSetError from "@taskscope/executor/TaskSetError"
import { Cause } from "effect"
import { type MessageCase, messageTests, replace, runnerCopy } from "../../executor/test/HostileValues.ts"
import { WorkerError } from "../src/index.ts"

const cases: ReadonlyArray<MessageCase> = [
  {
    name: "WorkerCrashedError",
    make: () => new WorkerError.WorkerCrashedError({ task: "fib", reason: "exited with code 1", cause: 1 }),
    fields: ["task", "reason", "cause"],
    start: /^Task ".*" crashed its worker: /s
  }
]

describe("WorkerError", () => {
  it("messages name the task", () => {
    assert.deepStrictEqual(cases.map((c) => c.make().message), ["Task \"fib\" crashed its worker: exited with code 1"])
  })

  it("the task set's errors are the classes of @taskscope/executor/TaskSetError", () => {
    assert.strictEqual(WorkerError.UnknownTaskError, TaskSetError.UnknownTaskError)
    assert.strictEqual(WorkerError.InvalidPayloadError, TaskSetError.InvalidPayloadError)
    assert.strictEqual(WorkerError.InvalidResultError, TaskSetError.InvalidResultError)
    const error: WorkerError.WorkerTaskError = new WorkerError.UnknownTaskError({ task: "fibb", known: ["fib"] })
    assert.instanceOf(error, TaskSetError.UnknownTaskError)
  })

  it("a cause that is a plain copy of an error or a cause still leaves a message", () => {
    const payload = runnerCopy(Cause.fail(new Error("inner")))
    const crashed = replace(new WorkerError.WorkerCrashedError({ task: "fib", reason: "threw", cause: 1 }), "cause",
      payload)
    assert.strictEqual(crashed.message, "Task \"fib\" crashed its worker: threw")
  })

  for (const c of cases) messageTests(c)
})

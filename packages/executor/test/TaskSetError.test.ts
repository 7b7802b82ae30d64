/**
 * The messages of a task set's errors: they name the task and the bad value,
 * and never throw, whatever the fields hold — a payload or a task name from
 * untyped code can be anything, and a test runner replaces fields with plain
 * copies before it reads the message.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause } from "effect"
import * as TaskSetError from "../src/TaskSetError.ts"
import { type MessageCase, messageTests, runnerCopy } from "./HostileValues.ts"

const cases: ReadonlyArray<MessageCase> = [
  {
    name: "UnknownTaskError",
    make: () => new TaskSetError.UnknownTaskError({ task: "fibb", known: ["fib"] }),
    fields: ["task", "known"],
    start: /^Unknown task .*; the task set has: /s
  },
  {
    name: "InvalidPayloadError",
    make: () => new TaskSetError.InvalidPayloadError({ task: "fib", payload: "ten", issue: "Expected number" }),
    fields: ["task", "payload", "issue"],
    start: /^Invalid payload for task ".*": /s
  },
  {
    name: "InvalidResultError",
    make: () => new TaskSetError.InvalidResultError({ task: "f", part: "success value", issue: "could not be cloned" }),
    fields: ["task", "part", "issue"],
    start: /^Invalid .* from task ".*": /s
  }
]

describe("TaskSetError", () => {
  it("messages name the task and, where there is one, the bad value", () => {
    assert.deepStrictEqual(cases.map((c) => c.make().message), [
      "Unknown task \"fibb\"; the task set has: \"fib\"",
      "Invalid payload for task \"fib\": \"ten\": Expected number",
      "Invalid success value from task \"f\": could not be cloned"
    ])
    // a name from untyped code that is not a string
    const unknown = new TaskSetError.UnknownTaskError({ task: Object.create(null), known: ["a", "b"] })
    assert.strictEqual(unknown.message, "Unknown task {}; the task set has: \"a\", \"b\"")
    const long = new TaskSetError.InvalidPayloadError({ task: "f", payload: "x".repeat(500), issue: "too long" })
    assert.strictEqual(long.message, `Invalid payload for task "f": "${"x".repeat(77)}...": too long`)
  })

  it("a payload that is a plain copy of an error or a cause is still described", () => {
    const payload = runnerCopy(Cause.fail(new Error("inner")))
    const error = new TaskSetError.InvalidPayloadError({ task: "fib", payload, issue: "Expected number" })
    assert.match(error.message, /^Invalid payload for task "fib": \{.*\.\.\.: Expected number$/)
  })

  it("a payload that is what cloning leaves of an error reads as the error; an object that only has a message stays JSON", () => {
    const message = (payload: unknown) =>
      new TaskSetError.InvalidPayloadError({ task: "f", payload, issue: "no" }).message
    const error = new RangeError("out of range")
    assert.strictEqual(message(error), "Invalid payload for task \"f\": RangeError: out of range: no")
    const copy = { name: error.name, message: error.message, stack: error.stack }
    assert.strictEqual(message(copy), message(error))
    assert.strictEqual(message(Object.assign(Object.create(null), copy)), message(error))
    // user data with a `message` field is not an error
    assert.strictEqual(
      message({ message: "hi", to: "bob" }),
      "Invalid payload for task \"f\": {\"message\":\"hi\",\"to\":\"bob\"}: no"
    )
    assert.strictEqual(message({ message: "hi" }), "Invalid payload for task \"f\": {\"message\":\"hi\"}: no")
    assert.strictEqual(
      message({ name: "alice", message: "hi" }),
      "Invalid payload for task \"f\": {\"name\":\"alice\",\"message\":\"hi\"}: no"
    )
  })

  for (const c of cases) messageTests(c)
})

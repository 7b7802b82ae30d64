/**
 * The messages of a call's errors: they name the task and the bad value, and
 * never throw, whatever the fields hold — a payload or a task name from
 * untyped code can be anything, and a test runner replaces fields with plain
 * copies before it reads the message.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause } from "effect"
import * as fc from "fast-check"
import { fieldValue, hostile, replace, runnerCopy } from "../../executor/test/HostileValues.ts"
import { WorkerError } from "../src/index.ts"

interface Case {
  readonly name: string
  readonly make: () => WorkerError.WorkerTaskError
  readonly fields: ReadonlyArray<string>
  /** What every message of this error starts with. */
  readonly start: RegExp
}

const cases: ReadonlyArray<Case> = [
  {
    name: "WorkerCrashedError",
    make: () => new WorkerError.WorkerCrashedError({ task: "fib", reason: "exited with code 1", cause: 1 }),
    fields: ["task", "reason", "cause"],
    start: /^Task ".*" crashed its worker: /s
  },
  {
    name: "UnknownTaskError",
    make: () => new WorkerError.UnknownTaskError({ task: "fibb", known: ["fib"] }),
    fields: ["task", "known"],
    start: /^Unknown task .*; the task set has: /s
  },
  {
    name: "InvalidPayloadError",
    make: () => new WorkerError.InvalidPayloadError({ task: "fib", payload: "ten", issue: "Expected number" }),
    fields: ["task", "payload", "issue"],
    start: /^Invalid payload for task ".*": /s
  },
  {
    name: "InvalidResultError",
    make: () => new WorkerError.InvalidResultError({ task: "f", part: "success value", issue: "could not be cloned" }),
    fields: ["task", "part", "issue"],
    start: /^Invalid .* from task ".*": /s
  }
]

describe("WorkerError", () => {
  it("messages name the task and, where there is one, the bad value", () => {
    assert.deepStrictEqual(cases.map((c) => c.make().message), [
      "Task \"fib\" crashed its worker: exited with code 1",
      "Unknown task \"fibb\"; the task set has: \"fib\"",
      "Invalid payload for task \"fib\": \"ten\": Expected number",
      "Invalid success value from task \"f\": could not be cloned"
    ])
    const unknown = new WorkerError.UnknownTaskError({ task: Object.create(null), known: ["a", "b"] })
    assert.strictEqual(unknown.message, "Unknown task {}; the task set has: \"a\", \"b\"")
  })

  it("a payload that is a plain copy of an error or a cause is still described", () => {
    const payload = runnerCopy(Cause.fail(new Error("inner")))
    const error = new WorkerError.InvalidPayloadError({ task: "fib", payload, issue: "Expected number" })
    assert.match(error.message, /^Invalid payload for task "fib": \{.*\.\.\.: Expected number$/)
    const crashed = replace(new WorkerError.WorkerCrashedError({ task: "fib", reason: "threw", cause: 1 }), "cause",
      payload)
    assert.strictEqual(crashed.message, "Task \"fib\" crashed its worker: threw")
  })

  for (const { fields, make, name, start } of cases) {
    it(`${name}: a message when any field holds a hostile value`, () => {
      for (const [valueName, value] of hostile) {
        for (const field of fields) {
          assert.match(replace(make(), field, value()).message, start, `${field} = ${valueName}`)
        }
      }
    })

    it(`${name}: the message never throws, whatever the fields hold (fast-check)`, () => {
      fc.assert(
        fc.property(fc.array(fieldValue, { minLength: fields.length, maxLength: fields.length }), (values) => {
          const error = make()
          fields.forEach((field, i) => replace(error, field, values[i]!.make()))
          return start.test(error.message)
        }),
        { numRuns: 200 }
      )
    })
  }
})

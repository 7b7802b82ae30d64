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

/**
 * A plain copy of a value, the way vitest copies an error's `cause` when a test
 * fails with it: objects become null-prototype objects holding their own and
 * inherited properties, functions become strings, `toJSON` is followed.
 */
const runnerCopy = (value: unknown, seen = new Map<object, unknown>()): unknown => {
  if (typeof value === "function") return `Function<${value.name || "anonymous"}>`
  if (typeof value !== "object" || value === null) return value
  if (seen.has(value)) return seen.get(value)
  const json = (value as { toJSON?: unknown }).toJSON
  if (typeof json === "function") return runnerCopy(json.call(value), seen)
  if (Array.isArray(value)) {
    const array: Array<unknown> = []
    seen.set(value, array)
    for (const item of value) array.push(runnerCopy(item, seen))
    return array
  }
  const copy: Record<string, unknown> = Object.create(null)
  seen.set(value, copy)
  for (let o: object | null = value; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const key of Object.getOwnPropertyNames(o)) {
      if (!(key in copy)) copy[key] = runnerCopy((value as Record<string, unknown>)[key], seen)
    }
  }
  return copy
}

/** Sets a field of an error after the fact, as a test runner or a careless caller may. */
const replace = <E extends object>(error: E, field: string, value: unknown): E => {
  Object.defineProperty(error, field, { value, writable: true, configurable: true, enumerable: true })
  return error
}

/** Values built to break naive message code. */
const hostile: ReadonlyArray<readonly [string, () => unknown]> = [
  ["an object with a null prototype", () => Object.create(null)],
  ["an object whose toString throws", () => ({ toString: () => { throw new Error("toString") } })],
  ["an object whose getters throw", () => ({ get message() { throw new Error("getter") }, get reasons() { throw new Error("getter") } })],
  ["a cycle", () => {
    const o: Record<string, unknown> = { name: "cycle" }
    o.self = o
    return o
  }],
  ["a revoked proxy", () => {
    const { proxy, revoke } = Proxy.revocable({}, {})
    revoke()
    return proxy
  }],
  ["a proxy whose every trap throws", () =>
    new Proxy({}, {
      get: () => { throw new Error("get") },
      has: () => { throw new Error("has") },
      getPrototypeOf: () => { throw new Error("getPrototypeOf") },
      ownKeys: () => { throw new Error("ownKeys") }
    })],
  ["an error whose message getter throws", () => Object.defineProperty(new Error(), "message", { get: () => { throw new Error("message") } })],
  ["a bigint inside an object", () => ({ n: 1n })],
  ["a symbol", () => Symbol("s")],
  ["a copy of a cause whose reasons are odd", () => ({ reasons: [null, 1, { _tag: "Fail", error: Object.create(null) }] })],
  ["a copy of a cause whose reasons are not a list", () => ({ reasons: Object.create(null) })],
  ["a cause failing with a null-prototype object", () => Cause.fail(Object.create(null))],
  ["a cause dying with a revoked proxy", () => {
    const { proxy, revoke } = Proxy.revocable({}, {})
    revoke()
    return Cause.die(proxy)
  }]
]

const anything = fc.anything({
  withNullPrototype: true,
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withObjectString: true,
  withSparseArray: true,
  withTypedArray: true
})

/** A value for a field, made when the property runs; it shows as `label` in a counterexample. */
interface Recipe {
  readonly make: () => unknown
  readonly [fc.toStringMethod]: () => string
}

const recipe = (label: string, make: () => unknown): Recipe => ({ make, [fc.toStringMethod]: () => label })

/**
 * Anything a field may hold: arbitrary values, the hostile ones, causes of
 * either, and runner copies of those. Hostile values are made inside the
 * property (fast-check itself would trip over them).
 */
const fieldValue: fc.Arbitrary<Recipe> = fc.oneof(
  anything.map((value) => recipe(fc.stringify(value), () => value)),
  fc.constantFrom(...hostile).map(([name, make]) => recipe(name, make)),
  fc.constantFrom(...hostile).map(([name, make]) => recipe(`Cause.fail(${name})`, () => Cause.fail(make()))),
  anything.map((error) => recipe(`Cause.fail(${fc.stringify(error)})`, () => Cause.fail(error))),
  anything.map((defect) => recipe(`copy of Cause.die(${fc.stringify(defect)})`, () => runnerCopy(Cause.die(defect))))
)

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
      assert.strictEqual(replace(error, "cause", structuredClone(cause)).message, "Task \"fetch\" (#1) failed: the real failure")
      assert.strictEqual(replace(error, "cause", runnerCopy(Cause.die("gone"))).message, "Task \"fetch\" (#1) failed: gone")
      assert.strictEqual(
        replace(error, "cause", runnerCopy(Cause.interrupt(1))).message,
        "Task \"fetch\" (#1) failed: interrupted"
      )
    })

    for (const [name, make] of hostile) {
      it(`gives a message when its cause is ${name}, or its failures or name are`, () => {
        const base = () => ExecutorError.TaskFailedError.fromFailures([failure(Cause.fail("x"))])
        for (const field of ["cause", "failures", "taskName", "taskId"]) {
          const message = replace(base(), field, make()).message
          assert.isString(message, `${field} = ${name}`)
          assert.match(message, /^(Task .* failed: |A task failed)/, `${field} = ${name}`)
        }
      })
    }

    it("message never throws, whatever its fields hold (fast-check)", () => {
      fc.assert(
        fc.property(fieldValue, fieldValue, fieldValue, fieldValue, (cause, failures, taskName, taskId) => {
          const error = ExecutorError.TaskFailedError.fromFailures([failure(Cause.fail("x"))])
          replace(error, "cause", cause.make())
          replace(error, "failures", failures.make())
          replace(error, "taskName", taskName.make())
          replace(error, "taskId", taskId.make())
          const message = error.message
          return typeof message === "string" && message.length > 0
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
      assert.strictEqual(message(Promise.resolve(1)), "Expected `maxConcurrency` to be an integer, got an instance of Promise")
      assert.strictEqual(message(function named() {}), "Expected `maxConcurrency` to be an integer, got a function (named)")
      assert.strictEqual(message(Object.create(null)), "Expected `maxConcurrency` to be an integer, got an object")
    })

    for (const [name, make] of hostile) {
      it(`gives a message when the bad value is ${name}`, () => {
        const message = new ExecutorError.InvalidArgumentError({ argument: "option", value: make(), expected: "a boolean" })
          .message
        assert.match(message, /^Expected `option` to be a boolean, got ./)
      })
    }

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

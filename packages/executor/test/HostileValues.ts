/**
 * Values built to break the code that turns an error into a message: the
 * hostile ones (null prototypes, throwing getters and toString, cycles,
 * revoked proxies), the copies a test runner makes of an error's fields, and
 * a fast-check arbitrary over all of them. Shared by the error tests of every
 * package.
 */
import { assert, it } from "@effect/vitest"
import { Cause } from "effect"
import * as fc from "fast-check"

/**
 * A plain copy of a value, the way vitest copies an error's `cause` when a test
 * fails with it: objects become null-prototype objects holding their own and
 * inherited properties, functions become strings, `toJSON` is followed.
 */
export const runnerCopy = (value: unknown, seen = new Map<object, unknown>()): unknown => {
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
export const replace = <E extends object>(error: E, field: string, value: unknown): E => {
  Object.defineProperty(error, field, { value, writable: true, configurable: true, enumerable: true })
  return error
}

/** Values built to break naive message code. */
export const hostile: ReadonlyArray<readonly [string, () => unknown]> = [
  ["an object with a null prototype", () => Object.create(null)],
  ["an object whose toString throws", () => ({
    toString: () => {
      throw new Error("toString")
    }
  })],
  ["an object whose getters throw", () => ({
    get message() {
      throw new Error("getter")
    },
    get reasons() {
      throw new Error("getter")
    }
  })],
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
      get: () => {
        throw new Error("get")
      },
      has: () => {
        throw new Error("has")
      },
      getPrototypeOf: () => {
        throw new Error("getPrototypeOf")
      },
      ownKeys: () => {
        throw new Error("ownKeys")
      }
    })],
  ["an error whose message getter throws", () =>
    Object.defineProperty(new Error(), "message", {
      get: () => {
        throw new Error("message")
      }
    })],
  ["a bigint inside an object", () => ({ n: 1n })],
  ["a symbol", () => Symbol("s")],
  [
    "a copy of a cause whose reasons are odd",
    () => ({ reasons: [null, 1, { _tag: "Fail", error: Object.create(null) }] })
  ],
  ["a copy of a cause whose reasons are not a list", () => ({ reasons: Object.create(null) })],
  ["a cause failing with a null-prototype object", () => Cause.fail(Object.create(null))],
  ["a cause dying with a revoked proxy", () => {
    const { proxy, revoke } = Proxy.revocable({}, {})
    revoke()
    return Cause.die(proxy)
  }]
]

export const anything = fc.anything({
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
export interface Recipe {
  readonly make: () => unknown
  readonly [fc.toStringMethod]: () => string
}

export const recipe = (label: string, make: () => unknown): Recipe => ({ make, [fc.toStringMethod]: () => label })

/**
 * Anything a field may hold: arbitrary values, the hostile ones, causes of
 * either, and runner copies of those. Hostile values are made inside the
 * property (fast-check itself would trip over them).
 */
export const fieldValue: fc.Arbitrary<Recipe> = fc.oneof(
  anything.map((value) => recipe(fc.stringify(value), () => value)),
  fc.constantFrom(...hostile).map(([name, make]) => recipe(name, make)),
  fc.constantFrom(...hostile).map(([name, make]) => recipe(`Cause.fail(${name})`, () => Cause.fail(make()))),
  anything.map((error) => recipe(`Cause.fail(${fc.stringify(error)})`, () => Cause.fail(error))),
  anything.map((defect) => recipe(`copy of Cause.die(${fc.stringify(defect)})`, () => runnerCopy(Cause.die(defect))))
)

/** An error to check: how to make one, the fields to fill with bad values, how its message starts. */
export interface MessageCase {
  readonly name: string
  readonly make: () => Error
  readonly fields: ReadonlyArray<string>
  readonly start: RegExp
}

/**
 * Two tests for an error class: its message keeps its start with each hostile
 * value in each field, and never throws with random values in all of them
 * (fast-check).
 */
export const messageTests = ({ fields, make, name, start }: MessageCase): void => {
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

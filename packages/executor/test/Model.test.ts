/**
 * A model-based fuzzer of the executor's promises (issue 7). Each scenario
 * is a random set of tasks, submitted by the executor's owner and by fibers
 * outside it, with outside fibers that interrupt tasks, join the executor
 * and interrupt those joiners — all under a random scheduler budget
 * (`Scheduler.MaxOpsBeforeYield` from 4 to 64), so that Effect yields at
 * every step of the executor's code in turn. For every scenario it checks:
 *
 * - no hang: the scope, and every outside fiber, returns;
 * - the concurrency bound: never more than `maxConcurrency` task bodies at once;
 * - the stats identity at rest: `submitted = succeeded + failed + interrupted`,
 *   nothing queued or running;
 * - every re-raisable failure reported exactly once, by a `join` or the exit;
 * - no task running after its scope returned.
 *
 * On the code before issue 7 it finds the lost wake-ups (D0) and the
 * submission that slipped between "idle" and "closed" (D2) within its
 * default run. `TASKSCOPE_SOAK=<runs>` runs it longer.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fc from "fast-check"
import { check, type Scenario, scenario } from "./Model.ts"

// -----------------------------------------------------------------------------
// the property
// -----------------------------------------------------------------------------

const soak = Number(process.env.TASKSCOPE_SOAK ?? 0)

/**
 * Scenarios the fuzzer found, kept as regression tests (each failed before
 * its fix): the counterexample, as fast-check printed it.
 */
const found: ReadonlyArray<readonly [string, Scenario]> = [
  [
    "a join that took a failure and was interrupted after the close put it back too late for the exit",
    {
      budget: 51,
      maxConcurrency: Number.POSITIVE_INFINITY,
      maxQueue: Number.POSITIVE_INFINITY,
      owned: [
        {
          pad: 15,
          task: { outcome: "fail", yields: 0, pad: 0, cancelOnExit: false, reraiseOnExit: true, nextTick: false }
        },
        {
          pad: 4,
          task: { outcome: "succeed", yields: 0, pad: 0, cancelOnExit: false, reraiseOnExit: true, nextTick: false }
        }
      ],
      outside: [
        { _tag: "AwaitTask", pad: 0, target: 0 },
        { _tag: "AwaitTask", pad: 0, target: 0 },
        { _tag: "AwaitTask", pad: 0, target: 0 },
        { _tag: "InterruptJoiner", pad: 46, target: 0 },
        { _tag: "Join", pad: 43 }
      ],
      tail: 0
    }
  ],
  [
    "the same, with the joiner interrupted while a nextTick task is about to start",
    {
      budget: 4,
      maxConcurrency: 1,
      maxQueue: Number.POSITIVE_INFINITY,
      owned: [],
      outside: [
        { _tag: "Join", pad: 43 },
        { _tag: "InterruptJoiner", pad: 55, target: 0 },
        {
          _tag: "Submit",
          pad: 0,
          task: { outcome: "fail", yields: 0, pad: 0, cancelOnExit: false, reraiseOnExit: true, nextTick: false }
        },
        {
          _tag: "Submit",
          pad: 35,
          task: { outcome: "succeed", yields: 0, pad: 1, cancelOnExit: false, reraiseOnExit: true, nextTick: true }
        }
      ],
      tail: 29
    }
  ]
]

describe("model", () => {
  for (const [name, s] of found) {
    it.effect(`found by the fuzzer: ${name}`, () =>
      Effect.gen(function*() {
        const broken = yield* Effect.promise(() => Effect.runPromise(check(s)))
        assert.isUndefined(broken, broken)
      }))
  }

  it.effect(
    "random tasks, outside submitters, interrupters and joiners under random scheduler budgets keep every promise",
    () =>
      Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(scenario, async (s) => {
            const broken = await Effect.runPromise(check(s))
            assert.isUndefined(broken, broken)
          }),
          { numRuns: soak > 0 ? soak : 3000 }
        )
      ),
    soak > 0 ? 0 : 30_000
  )
})

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
import { check, scenario } from "./Model.ts"

// -----------------------------------------------------------------------------
// the property
// -----------------------------------------------------------------------------

const soak = Number(process.env.TASKSCOPE_SOAK ?? 0)

describe("model", () => {
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

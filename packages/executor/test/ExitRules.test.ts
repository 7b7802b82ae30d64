import { it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { BackgroundExecutor } from "../src/index.ts"
import { exitRuleSuite, type SuiteExecutor, type Work } from "./ExitRules.suite.ts"

const toEffect = (work: Work): Effect.Effect<number, Error> => {
  switch (work._tag) {
    case "Succeed":
      return work.ms === 0 ? Effect.succeed(work.value) : Effect.as(Effect.sleep(work.ms), work.value)
    case "Fail":
      return work.ms === 0
        ? Effect.fail(new Error(work.message))
        : Effect.andThen(Effect.sleep(work.ms), Effect.fail(new Error(work.message)))
    case "Forever":
      return Effect.never
  }
}

exitRuleSuite({
  name: "BackgroundExecutor",
  test: it.effect,
  scoped: (body, options) =>
    BackgroundExecutor.scoped((executor) =>
      body({
        submit: (work, submitOptions) => executor.submit(toEffect(work), submitOptions),
        stats: executor.stats,
        join: executor.join
      } satisfies SuiteExecutor), options),
  elapse: (ms) => TestClock.adjust(ms),
  messageOf: (error) => (error instanceof Error ? error.message : String(error))
})

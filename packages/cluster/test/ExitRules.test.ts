/**
 * The exit-rule suite of @taskscope/executor, run unchanged against
 * ClusterExecutor: a runner process on a real PostgreSQL runs the tasks, the
 * test process submits them. Real time, stretched: every duration of the
 * suite is multiplied by SCALE on both sides (task time and elapsed time),
 * so that the network and database round trips stay small beside them.
 */
import { it } from "@effect/vitest"
import { Effect } from "effect"
import { exitRuleSuite, type SuiteExecutor, type Work } from "../../executor/test/ExitRules.suite.ts"
import { ClusterExecutor } from "../src/index.ts"
import { sharedCluster } from "./fixtures/cluster.ts"
import { tasks } from "./fixtures/tasks.ts"

const SCALE = 10

const stretch = (work: Work): Work => (work._tag === "Forever" ? work : { ...work, ms: work.ms * SCALE })

const shared = sharedCluster("exit_rules", 1)

exitRuleSuite({
  name: "ClusterExecutor",
  test: it.live,
  scoped: (body, options) =>
    ClusterExecutor.scoped(tasks, (executor) =>
      body({
        submit: (work, submitOptions) => executor.submit("work", stretch(work), submitOptions),
        stats: executor.stats,
        join: executor.join
      } satisfies SuiteExecutor), { maxConcurrency: options?.maxConcurrency, bubbleUp: options?.bubbleUp }).pipe(
        Effect.provide(shared.get().cluster)
      ),
  elapse: (ms) => Effect.sleep(ms * SCALE),
  messageOf: (error) => (error instanceof Error ? error.message : String(error))
})

/**
 * PostgreSQL 13 has no `idle_session_timeout`, and refuses every connection
 * that asks for it. The cluster layer tries it first: refused, the default is
 * dropped with a warning, a value the user gave is an error naming the
 * option, and `false` tries nothing. (On PostgreSQL 14 and later the setting
 * is applied: SilentConnection.test.ts hangs without it.)
 */
import { assert, describe, it } from "@effect/vitest"
import { ExecutorError, Task } from "@taskscope/executor"
import { Cause, Effect, Exit, Logger } from "effect"
import { Cluster, ClusterExecutor } from "../src/index.ts"
import { testShardingConfig } from "./fixtures/config.ts"
import { postgres } from "./fixtures/postgres.ts"
import { startRunner, waitForShards } from "./fixtures/runners.ts"
import { tasks } from "./fixtures/tasks.ts"

/** Squares 7 on the cluster at `url` through a submitter with `options`; the warnings it logged. */
const squareSeven = (url: string, options: Partial<Cluster.PostgresOptions> = {}) =>
  Effect.gen(function*() {
    const warnings: Array<string> = []
    const collector = Logger.make((entry) => {
      if (entry.logLevel === "Warn") warnings.push(String(entry.message))
    })
    const result = yield* ClusterExecutor.scoped(tasks,
      (executor) => Effect.flatMap(executor.submit("square", 7), Task.join)).pipe(
        Effect.provide(Cluster.layerPostgres({ url, shardingConfig: testShardingConfig, ...options })),
        Effect.provide(Logger.layer([collector]))
      )
    return { result, warnings }
  })

describe("PostgreSQL 13 (no idle_session_timeout)", () => {
  it.live("the default is dropped with a warning quoting the server's refusal, and tasks run",
    () =>
      Effect.gen(function*() {
        const pg = yield* postgres("pg13", [], 13)
        const version =
          (yield* pg.query<{ version: string }>("select current_setting('server_version') as version"))[0]!
            .version
        assert.match(version, /^13\./)
        // the runner process uses the defaults too: it would not start if its sessions asked for the setting
        yield* startRunner(pg, "r1")
        yield* waitForShards(pg, 1)
        const { result, warnings } = yield* squareSeven(pg.url)
        assert.strictEqual(result, 49)
        assert.strictEqual(warnings.length, 1, `warnings: ${JSON.stringify(warnings)}`)
        assert.include(warnings[0], `refused idle_session_timeout ("unrecognized configuration parameter`)
        assert.include(warnings[0], "idleSessionTimeout: false")

        // `false`: nothing asked, nothing to warn about
        const quiet = yield* squareSeven(pg.url, { idleSessionTimeout: false })
        assert.strictEqual(quiet.result, 49)
        assert.deepStrictEqual(quiet.warnings, [])

        // a value given on purpose is an error naming the option, its value and the refusal
        const exit = yield* Effect.exit(squareSeven(pg.url, { idleSessionTimeout: "30 seconds" }))
        assert.isTrue(Exit.isFailure(exit), "expected the layer to die")
        const defect = Cause.squash((exit as Exit.Failure<unknown, unknown>).cause)
        assert.instanceOf(defect, ExecutorError.InvalidArgumentError)
        const error = defect as ExecutorError.InvalidArgumentError
        assert.strictEqual(error.argument, "idleSessionTimeout")
        assert.include(error.message, "30 seconds")
        assert.include(error.message, `refused idle_session_timeout ("unrecognized configuration parameter`)
      }), 120_000)
})

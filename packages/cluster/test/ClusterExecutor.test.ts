/**
 * ClusterExecutor against three real runner processes on a real PostgreSQL:
 * where tasks run, what their handles end with, keys, cancellation where the
 * task runs, and bad input.
 */
import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import { ExecutorError, Task } from "@taskscope/executor"
import { Cause, Duration, Effect, Exit, Layer, Option } from "effect"
import * as RunnerAddress from "effect/cluster/RunnerAddress"
import { Cluster, ClusterError, ClusterExecutor, ClusterRunner } from "../src/index.ts"
import { MAX_VALUE_BYTES } from "../src/internal/protocol.ts"
import { sharedCluster } from "./fixtures/cluster.ts"
import { eventually, logFile, readLog } from "./fixtures/log.ts"
import { RunnerName, tasks, TooBig } from "./fixtures/tasks.ts"

const shared = sharedCluster("executor", 3)

const scoped = <A, E>(
  body: (executor: ClusterExecutor.ClusterExecutor<typeof tasks>) => Effect.Effect<A, E>,
  options?: ClusterExecutor.Options
) => ClusterExecutor.scoped(tasks, body, options).pipe(Effect.provide(shared.get().cluster))

const defectOf = (exit: Exit.Exit<unknown, unknown>): unknown => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  return Cause.squash((exit as Exit.Failure<unknown, unknown>).cause)
}

/** The `InvalidArgumentError` an exit died with. */
const invalidOf = (exit: Exit.Exit<unknown, unknown>): ExecutorError.InvalidArgumentError => {
  const defect = defectOf(exit)
  assert.instanceOf(defect, ExecutorError.InvalidArgumentError)
  return defect as ExecutorError.InvalidArgumentError
}

/** Builds `layer` in a scope of its own and closes it: the exit of building it. */
const build = <A>(layer: Layer.Layer<A>) => Effect.exit(Effect.scoped(Layer.build(layer)))

/** The error type of a task handle. */
type ErrorOf<T> = T extends Task.Task<unknown, infer E> ? E : never

const isInterrupted = (exit: Exit.Exit<unknown, unknown> | undefined): boolean =>
  exit !== undefined && Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)

describe("ClusterExecutor", () => {
  it("a misspelled option, or attach's key among its options, does not compile", () => {
    const mistakes = (executor: ClusterExecutor.ClusterExecutor<typeof tasks>) => [
      // @ts-expect-error: `cancelOnExt` is not a submit option
      executor.submit("square", 1, { key: "k", cancelOnExt: true }),
      // @ts-expect-error: `reraiseOnExt` is not an option of attach
      executor.attach("k", { name: "x", reraiseOnExt: false }),
      // @ts-expect-error: the key is attach's first argument
      executor.attach("k", { name: "x", key: "other" }),
      // @ts-expect-error: `cancelOnExt` is not a submit option (accessor)
      ClusterExecutor.submit(tasks, "square", 1, { name: "x", cancelOnExt: true }),
      // @ts-expect-error: `timout` is not an option of attach (accessor)
      ClusterExecutor.attach(tasks, "k", { name: "x", timout: 5 })
    ]
    assert.isFunction(mistakes)
  })

  // before: `name: "square" | "echo"` took the union of their payloads, so a string compiled for `square`
  it("a submit whose name is a union of tasks takes only a payload every one of them takes", () => {
    const calls = (executor: ClusterExecutor.ClusterExecutor<typeof tasks>, name: "square" | "echo") => [
      // @ts-expect-error: a string is echo's payload, not square's
      executor.submit(name, "x"),
      // @ts-expect-error: the accessor's alike
      ClusterExecutor.submit(tasks, name, 1)
    ]
    assert.isFunction(calls)
  })

  it("options the compiler cannot check key by key compile, with the wider error type", () => {
    const forms = (executor: ClusterExecutor.ClusterExecutor<typeof tasks>) =>
      Effect.gen(function*() {
        const config = { key: "k", retries: 3 }
        const wide = yield* executor.submit("square", 1, config)
        expectTypeOf<ErrorOf<typeof wide>>().toEqualTypeOf<
          TooBig | ClusterError.ClusterTaskError | ExecutorError.TaskTimeoutError
        >()
        // a key may have been submitted before with a deadline: its stored result can be a timeout
        const keyed = yield* ClusterExecutor.submit(tasks, "square", 1, { key: "k" })
        expectTypeOf<ErrorOf<typeof keyed>>().toEqualTypeOf<
          TooBig | ClusterError.ClusterTaskError | ExecutorError.TaskTimeoutError
        >()
        const exact = yield* ClusterExecutor.submit(tasks, "square", 1, { name: "n" })
        expectTypeOf<ErrorOf<typeof exact>>().toEqualTypeOf<TooBig | ClusterError.ClusterTaskError>()
        const helper = <O extends ClusterExecutor.AttachOptions>(options: O) => executor.attach("k", options)
        const attached = yield* helper({ name: "x" })
        expectTypeOf<ExecutorError.TaskTimeoutError>().toExtend<ErrorOf<typeof attached>>()
      })
    assert.isFunction(forms)
  })

  it.live("tasks spread across the runners", () =>
    Effect.gen(function*() {
      const log = yield* logFile
      const results = yield* scoped((executor) =>
        Effect.flatMap(
          Effect.forEach(Array.from({ length: 30 }, (_, i) => `spread-${i}`),
            (key) => executor.submit("visit", { key, ms: 20, log }, { key })),
          (handles) => Effect.forEach(handles, Task.join)
        )
      )
      assert.deepStrictEqual(results.map((r) => r.key), Array.from({ length: 30 }, (_, i) => `spread-${i}`))
      assert.deepStrictEqual(new Set(results.map((r) => r.runner)), new Set(["r1", "r2", "r3"]))
    }))

  it.live("typed results and typed failures; on exit a failure is raised as TaskFailedError naming the task", () =>
    Effect.gen(function*() {
      const [value, caught] = yield* scoped((executor) =>
        Effect.gen(function*() {
          const ok = yield* executor.submit("square", 12)
          const bad = yield* executor.submit("square", 2000, { reraiseOnExit: false })
          const caught = yield* Task.join(bad).pipe(
            Effect.catchTag("TooBig", (error) => Effect.succeed(error))
          )
          return [yield* Task.join(ok), caught] as const
        })
      )
      assert.strictEqual(value, 144)
      assert.instanceOf(caught, TooBig)
      assert.strictEqual((caught as TooBig).n, 2000)

      const exit = yield* Effect.exit(scoped((executor) => executor.submit("square", 3000, { name: "too big" })))
      const error = Cause.findErrorOption((exit as Exit.Failure<unknown, unknown>).cause)
      assert.isTrue(error._tag === "Some")
      const failed = (error as { value: unknown }).value as ExecutorError.TaskFailedError
      assert.instanceOf(failed, ExecutorError.TaskFailedError)
      assert.strictEqual(failed.taskName, "too big")
      assert.instanceOf(Cause.squash(failed.cause), TooBig)
    }))

  it.live("a function that throws something else fails its task with TaskDefectError naming the task and the runner", () =>
    Effect.gen(function*() {
      const exit = yield* scoped((executor) =>
        Effect.flatMap(executor.submit("square", -1, { reraiseOnExit: false }), Task.await)
      )
      const error = Cause.findErrorOption((exit as Exit.Failure<unknown, unknown>).cause)
      assert.isTrue(error._tag === "Some")
      const defect = (error as { value: ClusterError.TaskDefectError }).value
      assert.instanceOf(defect, ClusterError.TaskDefectError)
      assert.strictEqual(defect.task, "square")
      assert.include(defect.defect, "negative: -1")
      assert.match(defect.runner, /^127\.0\.0\.1:\d+$/)
    }))

  it.live("a payload that fails its Schema fails that task only, with InvalidPayloadError, and is never stored", () =>
    Effect.gen(function*() {
      const [bad, good] = yield* scoped((executor) =>
        Effect.gen(function*() {
          const bad = yield* executor.submit("square", "ten" as unknown as number, {
            key: "bad-payload",
            reraiseOnExit: false
          })
          const good = yield* executor.submit("square", 5)
          return [yield* Task.await(bad), yield* Task.join(good)] as const
        })
      )
      assert.strictEqual(good, 25)
      const error = Cause.findErrorOption((bad as Exit.Failure<unknown, unknown>).cause)
      const invalid = (error as { value: ClusterError.InvalidPayloadError }).value
      assert.instanceOf(invalid, ClusterError.InvalidPayloadError)
      assert.strictEqual(invalid.task, "square")
      assert.include(invalid.message, "\"ten\"")
      const stored = yield* shared.get().pg.query("select 1 from cluster_messages where payload like '%bad-payload%'")
      assert.strictEqual(stored.length, 0)
    }))

  it.live("a value of up to 16 MiB as JSON crosses; a larger payload or result fails its task, typed, and stops nothing else", () =>
    scoped((executor) =>
      Effect.gen(function*() {
        const quiet = { reraiseOnExit: false } as const
        // 16 MiB of JSON text exactly: its row is larger than PostgreSQL's client read by default (16 MiB),
        // and such a row stopped the storage's read loop for every task behind it
        const largest = "y".repeat(MAX_VALUE_BYTES - 2)
        const [echoed, tooLarge, grownTooLarge, after] = yield* Effect.all([
          Effect.flatMap(executor.submit("echo", largest), Task.join),
          Effect.flatMap(executor.submit("echo", `${largest}y`, quiet), Task.await),
          Effect.flatMap(executor.submit("grow", MAX_VALUE_BYTES - 1, quiet), Task.await),
          Effect.flatMap(executor.submit("square", 7), Task.join)
        ], { concurrency: "unbounded" }).pipe(Effect.timeout("40 seconds"))
        assert.strictEqual(echoed.length, largest.length)
        assert.strictEqual(after, 49)
        const errorOf = (exit: Exit.Exit<unknown, unknown>) => defectOf(exit) as { _tag: string; message: string }
        assert.strictEqual(errorOf(tooLarge)._tag, "InvalidPayloadError")
        assert.include(errorOf(tooLarge).message, `its JSON form is ${MAX_VALUE_BYTES + 1} bytes, more than the`)
        assert.strictEqual(errorOf(grownTooLarge)._tag, "InvalidResultError")
        assert.include(errorOf(grownTooLarge).message, `its JSON form is ${MAX_VALUE_BYTES + 1} bytes`)
      })
    ))

  it.live("an unknown task name from untyped code fails that task with UnknownTaskError naming it", () =>
    Effect.gen(function*() {
      const exit = yield* scoped((executor) =>
        Effect.flatMap(
          (executor.submit as unknown as (
            task: string,
            payload: unknown,
            options: object
          ) => Effect.Effect<Task.Task<unknown, unknown>>)(
            "cube",
            3,
            { reraiseOnExit: false }
          ),
          Task.await
        )
      )
      const error = (Cause.findErrorOption((exit as Exit.Failure<unknown, unknown>).cause) as { value: unknown }).value
      assert.instanceOf(error, ClusterError.UnknownTaskError)
      assert.include((error as Error).message, "\"cube\"")
      assert.include((error as Error).message, "\"square\"")
    }))

  it.live("a key runs once: submitting it again, from another executor, returns the stored result", () =>
    Effect.gen(function*() {
      const log = yield* logFile
      const first = yield* scoped((executor) =>
        Effect.flatMap(executor.submit("visit", { key: "once", ms: 10, log }, { key: "once" }), Task.join)
      )
      const again = yield* scoped((executor) =>
        Effect.flatMap(executor.submit("visit", { key: "once", ms: 10, log }, { key: "once" }), Task.join)
      )
      assert.deepStrictEqual(again, first)
      const starts = (yield* readLog(log)).filter((e) => e.event === "start")
      assert.strictEqual(starts.length, 1)
    }))

  it.live("cancelOnExit interrupts the task's function on its runner; the scope ends once it has ended there", () =>
    Effect.gen(function*() {
      const log = yield* logFile
      const task = yield* scoped((executor) =>
        Effect.gen(function*() {
          const task = yield* executor.submit("slowRelease", { key: "cancel-on-exit", log, ms: 500 }, {
            cancelOnExit: true
          })
          yield* eventually("the task runs", Effect.map(readLog(log), (entries) =>
            entries.some((e) => e.event === "start")))
          return task
        })
      )
      assert.isTrue(isInterrupted(yield* Task.poll(task)))
      // before: the scope ended as soon as the Interrupt was stored, the finalizer still running
      const entries = yield* readLog(log)
      assert.isTrue(entries.some((e) => e.event === "released" && e.key === "cancel-on-exit"), "released first")
    }))

  it.live("Task.interrupt interrupts the task's function on its runner, returns once it has ended there, and the interruption is its stored result", () =>
    Effect.gen(function*() {
      const log = yield* logFile
      const exit = yield* scoped((executor) =>
        Effect.gen(function*() {
          const task = yield* executor.submit("slowRelease", { key: "interrupt", log, ms: 500 }, { key: "interrupt" })
          yield* eventually("the task runs", Effect.map(readLog(log), (entries) =>
            entries.some((e) => e.event === "start")))
          yield* Task.interrupt(task)
          // it returns once the task has ended on its runner, its finalizer run (before: at once)
          const entries = yield* readLog(log)
          assert.isTrue(entries.some((e) => e.event === "released" && e.key === "interrupt"), "released first")
          return yield* Task.await(task)
        })
      )
      assert.isTrue(isInterrupted(exit))
      // attaching later finds the stored interruption
      const attached = yield* scoped((executor) => Effect.flatMap(executor.attach("interrupt"), Task.await))
      assert.isTrue(Exit.isFailure(attached) && Cause.hasInterrupts(attached.cause))
    }))

  it.live("cancelOnExit stops the task on its runner when it lands while the task is being stored",
    () =>
      Effect.gen(function*() {
        const log = yield* logFile
        const { pg } = shared.get()
        const key = "cancel-while-storing"
        // Storing this task takes half a second, and the INSERT commits even if
        // its caller gives up and cancels the statement meanwhile: the race of a
        // cancel that reaches PostgreSQL after the commit, made wide and certain.
        yield* pg.query(`
        create or replace function slow_store() returns trigger language plpgsql as $$
        begin
          begin
            perform pg_sleep(0.5);
          exception when query_canceled then
            perform pg_sleep(0.5);
          end;
          return new;
        end $$;
        create trigger slow_store before insert on cluster_messages
          for each row when (new.payload like '%${key}%') execute function slow_store();
      `)
        yield* Effect.addFinalizer(() => Effect.asVoid(pg.query("drop trigger slow_store on cluster_messages")))
        const storing = Effect.map(
          pg.query(
            "select 1 from pg_stat_activity where wait_event = 'PgSleep' and query ilike '%insert into%cluster_messages%'"
              + " and pid <> pg_backend_pid()"
          ),
          (rows) => rows.length > 0
        )
        yield* scoped((executor) =>
          Effect.gen(function*() {
            yield* Effect.forkChild(executor.submit("hang", { key, log }, { key, cancelOnExit: true }))
            yield* eventually("the task is being stored", storing)
            // leaving the scope cancels the task (cancelOnExit) while its INSERT runs
          })
        )
        // its stored result is the interruption: it was stopped where it ran, or never started there
        const attached = yield* scoped((executor) =>
          Effect.flatMap(
            executor.attach(key, { cancelOnExit: true }),
            (task) => Effect.timeoutOption(Task.await(task), "30 seconds")
          )
        )
        assert.isTrue(attached._tag === "Some" && isInterrupted(attached.value), "the task was left running")
        const entries = (yield* readLog(log)).filter((e) => e.key === key)
        const starts = entries.filter((e) => e.event === "start").length
        assert.strictEqual(entries.filter((e) => e.event === "interrupted").length, starts)
      }), 120_000)

  it.live("attach to a key nobody submitted fails with TaskNotFoundError naming the key", () =>
    Effect.gen(function*() {
      const exit = yield* scoped((executor) =>
        Effect.flatMap(executor.attach("never-submitted", { reraiseOnExit: false }), Task.await)
      )
      const error = (Cause.findErrorOption((exit as Exit.Failure<unknown, unknown>).cause) as { value: unknown }).value
      assert.instanceOf(error, ClusterError.TaskNotFoundError)
      assert.include((error as Error).message, "never-submitted")
    }))

  it.live("the shard locks are held on the runner storage's own pool, apart from the tasks' multiplexed statements", () =>
    Effect.gen(function*() {
      // (a lock session on the multiplexed pool, killed by a server restart, could leave a
      // statement waiting for a new connection unwoken: the process stalled for minutes)
      const holders = yield* shared.get().pg.query<{ application_name: string; locks: string }>(
        `select a.application_name, count(*) as locks
           from pg_locks l join pg_stat_activity a on a.pid = l.pid
          where l.locktype = 'advisory' and l.granted group by 1 order by 1`
      )
      // one lock session per runner: "taskscope runner locks <pid> <host:port>"
      assert.strictEqual(holders.length, 3)
      for (const holder of holders) {
        assert.match(holder.application_name, /^taskscope runner locks \d+ 127\.0\.0\.1:\d+$/)
      }
      // the tasks' statements run on sessions of the other pool
      const [tasksSessions] = yield* shared.get().pg.query<{ n: string }>(
        `select count(*) as n from pg_stat_activity
          where application_name like 'taskscope runner %' and application_name not like 'taskscope runner locks %'`
      )
      assert.isAbove(Number(tasksSessions!.n), 0)
    }))

  it.live("bad options die with an InvalidArgumentError naming the option and its value", () =>
    Effect.gen(function*() {
      const argumentOf = invalidOf

      const noUrl = argumentOf(yield* build(Cluster.layerPostgres({} as Cluster.PostgresOptions)))
      assert.strictEqual(noUrl.argument, "url")
      assert.include(noUrl.message, "undefined")
      const notPostgres = argumentOf(yield* build(Cluster.layerPostgres({ url: "mysql://localhost/app" })))
      assert.strictEqual(notPostgres.argument, "url")
      assert.include(notPostgres.message, "mysql://localhost/app")
      const port = argumentOf(yield* build(Cluster.layerPostgres({ url: shared.get().pg.url, runner: { port: 0 } })))
      assert.strictEqual(port.argument, "runner.port")
      const url = shared.get().pg.url
      // two connections are the runner storage's own: a process needs a third for its tasks
      const twoConnections = argumentOf(yield* build(Cluster.layerPostgres({ url, maxConnections: 2 })))
      assert.strictEqual(twoConnections.argument, "maxConnections")
      assert.include(twoConnections.message, "from 3 up")
      assert.include(twoConnections.message, "got 2")
      for (
        const [option, value] of [
          ["statementTimeout", 0],
          ["statementTimeout", "soon"],
          ["connectionTTL", -1],
          ["idleSessionTimeout", true]
        ] as const
      ) {
        const bad = argumentOf(yield* build(Cluster.layerPostgres({ url, [option]: value })))
        assert.strictEqual(bad.argument, option)
        assert.include(bad.message, String(value))
      }
      const forever = argumentOf(yield* build(Cluster.layerPostgres({ url, connectionTTL: "Infinity" })))
      assert.strictEqual(forever.argument, "connectionTTL")
      // the server would end a runner's lock session between two refreshes
      const idleLocks = argumentOf(yield* build(Cluster.layerPostgres({ url, idleSessionTimeout: "2 seconds" })))
      assert.strictEqual(idleLocks.argument, "idleSessionTimeout")
      assert.include(idleLocks.message, "longer than shardLockRefreshInterval (2s)")
      const slowRefresh = argumentOf(yield* build(Cluster.layerPostgres({
        url,
        idleSessionTimeout: "10 seconds",
        shardingConfig: { shardLockRefreshInterval: Duration.seconds(10) }
      })))
      assert.include(slowRefresh.message, "10 seconds")
      assert.include(slowRefresh.message, "(10s)")
      // more than the server's int of milliseconds: refused here, not read as "not supported"
      for (const tooLong of ["25 days", 2 ** 31] as const) {
        const refused = argumentOf(yield* build(Cluster.layerPostgres({ url, idleSessionTimeout: tooLong })))
        assert.strictEqual(refused.argument, "idleSessionTimeout")
        assert.include(refused.message, "at most 2147483647 ms")
      }

      // a runner layer in a process that only submits
      const runnerless = argumentOf(yield* build(
        ClusterRunner.layer(tasks).pipe(
          Layer.provide(Layer.succeed(RunnerName, "r")),
          Layer.provide(Layer.succeedContext(shared.get().cluster))
        )
      ))
      assert.strictEqual(runnerless.argument, "runner")
      const concurrency = argumentOf(yield* build(
        ClusterRunner.layer(tasks, { concurrency: 0 }).pipe(
          Layer.provide(Layer.succeed(RunnerName, "r")),
          Layer.provide(Cluster.layerMemory())
        )
      ))
      assert.strictEqual(concurrency.argument, "concurrency")
      for (const maxAttempts of [0, 1.5, -1, Number.NaN, "3"]) {
        const attempts = argumentOf(yield* build(
          ClusterRunner.layer(tasks, { maxAttempts: maxAttempts as number }).pipe(
            Layer.provide(Layer.succeed(RunnerName, "r")),
            Layer.provide(Cluster.layerMemory())
          )
        ))
        assert.strictEqual(attempts.argument, "maxAttempts")
        assert.isTrue(Object.is(attempts.value, maxAttempts), `the value: ${String(attempts.value)}`)
      }

      const maxConcurrency = argumentOf(yield* Effect.exit(scoped(() => Effect.void, { maxConcurrency: 0 })))
      assert.strictEqual(maxConcurrency.argument, "maxConcurrency")
      const key = argumentOf(yield* Effect.exit(scoped((executor) => executor.submit("square", 1, { key: "" }))))
      assert.strictEqual(key.argument, "key")
      // attach takes its key as its first argument; a key among its options is refused, naming it
      const attachKey = argumentOf(
        yield* Effect.exit(
          scoped((executor) => executor.attach("k", { key: "other" } as ClusterExecutor.AttachOptions))
        )
      )
      assert.include(attachKey, { argument: "key", value: "other" })
      assert.include(attachKey.message, "left out of attach's options")
    }))

  // TypeScript refuses them; from plain JavaScript they were read as no option at all (a silent default)
  it.live("an option no one knows dies at once, naming it and the option meant", () =>
    Effect.gen(function*() {
      const messageOf = (exit: Exit.Exit<unknown, unknown>) => invalidOf(exit).message
      const url = shared.get().pg.url
      assert.strictEqual(
        messageOf(yield* build(Cluster.layerPostgres({ url, maxConections: 4 } as Cluster.PostgresOptions))),
        "Expected `maxConections` to be an option of Cluster.layerPostgres (did you mean `maxConnections`?), got 4 (number)"
      )
      assert.include(
        messageOf(yield* build(Cluster.layerPostgres({ url, runner: { prot: 5432 } } as never))),
        "`prot` to be an option of Cluster.layerPostgres's `runner` (did you mean `port`?)"
      )
      assert.include(
        messageOf(yield* build(Cluster.layerMemory({ shardConfig: {} } as never))),
        "`shardConfig` to be an option of Cluster.layerMemory (did you mean `shardingConfig`?)"
      )
      assert.include(
        messageOf(yield* build(
          ClusterRunner.layer(tasks, { concurency: 4 } as ClusterRunner.Options).pipe(
            Layer.provide(Layer.succeed(RunnerName, "r")),
            Layer.provide(Cluster.layerMemory())
          )
        )),
        "`concurency` to be an option of ClusterRunner (did you mean `concurrency`?)"
      )
      assert.include(
        messageOf(yield* Effect.exit(scoped(() => Effect.void, { maxQeue: 1 } as ClusterExecutor.Options))),
        "`maxQeue` to be an option of ClusterExecutor (did you mean `maxQueue`?)"
      )
      assert.include(
        messageOf(yield* Effect.exit(scoped((executor) => executor.submit("square", 1, { priorty: 1 } as never)))),
        "`priorty` to be an option of ClusterExecutor.submit (did you mean `priority`?)"
      )
      assert.include(
        messageOf(yield* Effect.exit(scoped((executor) => executor.attach("k", { nmae: "x" } as never)))),
        "`nmae` to be an option of ClusterExecutor.attach (did you mean `name`?)"
      )
      // attach takes no `key` among its options: it is not suggested
      const kye = messageOf(yield* Effect.exit(scoped((executor) => executor.attach("k", { kye: "a" } as never))))
      assert.include(kye, "`kye` to be an option of ClusterExecutor.attach (one of `name`")
      assert.notInclude(kye, "`key`")
      // a misspelt url holds the password: the message does not show it
      const uri = messageOf(
        yield* build(Cluster.layerPostgres({ uri: "postgres://admin:hunter2@db:5432/app" } as never))
      )
      assert.include(uri, "`uri` to be an option of Cluster.layerPostgres (did you mean `url`?)")
      assert.notInclude(uri, "hunter2")
    }))

  it.live("bad values inside the options die at once, naming the field: a malformed url, shardingConfig, keys storage would alter", () =>
    Effect.gen(function*() {
      const argumentOf = (exit: Exit.Exit<unknown, unknown>) => invalidOf(exit).argument
      // the URL parser's refusals: before, the client died with a bare SqlError
      for (const url of ["postgres:// not a url", "postgres://localhost:99999/app"]) {
        assert.strictEqual(argumentOf(yield* build(Cluster.layerPostgres({ url }))), "url")
      }
      const url = shared.get().pg.url
      for (
        const [shardingConfig, field] of [
          [{ shardLockRefreshInterval: "soon" }, "shardingConfig.shardLockRefreshInterval"],
          [{ shardsPerGroup: -1 }, "shardingConfig.shardsPerGroup"],
          [{ shardsPerGroup: "x" }, "shardingConfig.shardsPerGroup"],
          [{ preemptiveShutdown: "yes" }, "shardingConfig.preemptiveShutdown"],
          [{ shardsPerGrup: 60 }, "shardingConfig.shardsPerGrup"],
          [{ runnerShardWeight: 0 }, "shardingConfig.runnerShardWeight"],
          [[], "shardingConfig"]
        ] as const
      ) {
        const options = { url, shardingConfig: shardingConfig as never }
        assert.strictEqual(argumentOf(yield* build(Cluster.layerPostgres(options))), field)
        assert.strictEqual(argumentOf(yield* build(Cluster.layerMemory({ shardingConfig: shardingConfig as never }))),
          field)
      }
      // the package's defaults, spread and amended, compile (they did not while their type allowed runnerAddress)
      const amended = () =>
        Cluster.layerPostgres({ url, shardingConfig: { ...Cluster.defaultShardingConfig, shardsPerGroup: 60 } })
      assert.isFunction(amended)
      // set by layerPostgres from `runner`: given in shardingConfig it was dropped without a word
      const address = { runnerAddress: Option.some(RunnerAddress.make("10.0.0.1", 34431)) }
      assert.strictEqual(
        // @ts-expect-error: `runner` sets it; the type says so too
        argumentOf(yield* build(Cluster.layerPostgres({ url, shardingConfig: address }))),
        "shardingConfig.runnerAddress"
      )
      const concurrency = argumentOf(yield* build(
        ClusterRunner.layer(tasks, { concurrency: null as unknown as number }).pipe(
          Layer.provide(Layer.succeed(RunnerName, "r")),
          Layer.provide(Cluster.layerMemory())
        )
      ))
      assert.strictEqual(concurrency, "concurrency")
      // a lone surrogate is stored as U+FFFD (two such keys would be one task); PostgreSQL's text holds no NUL
      for (const key of [null, "k\uD800", "\uDC00k", "a\u0000b"]) {
        const submitted = yield* Effect.exit(scoped((executor) => executor.submit("square", 1, { key: key as string })))
        assert.strictEqual(argumentOf(submitted), "key")
        const attached = yield* Effect.exit(scoped((executor) => executor.attach(key as string)))
        assert.strictEqual(argumentOf(attached), "key")
      }
      // a key with a well-formed pair is kept
      assert.strictEqual(
        yield* scoped((executor) =>
          Effect.flatMap(executor.submit("square", 3, { key: "pair-\uD83D\uDE00" }), Task.join)
        ),
        9
      )
      for (const options of [[], "x"]) {
        const submitted = yield* Effect.exit(scoped((executor) => executor.submit("square", 1, options as never)))
        assert.strictEqual(argumentOf(submitted), "options")
        const attached = yield* Effect.exit(scoped((executor) => executor.attach("some-key", options as never)))
        assert.strictEqual(argumentOf(attached), "options")
      }
    }))
})

/**
 * Runners that die or leave mid-run: real runner processes on a real
 * PostgreSQL, killed with SIGKILL or stopped with SIGTERM while they run
 * tasks. Every task completes, and completes once for its caller: each task
 * is stored once and has exactly one stored result, whatever ran twice.
 */
import { assert, describe, it } from "@effect/vitest"
import { Task } from "@taskscope/executor"
import { Cause, Effect, Exit, Fiber } from "effect"
import * as fs from "node:fs"
import { type ClusterError, ClusterExecutor } from "../src/index.ts"
import { submitter } from "./fixtures/cluster.ts"
import { eventually, logFile, readLog } from "./fixtures/log.ts"
import { type Postgres, postgres } from "./fixtures/postgres.ts"
import { countedStarts, type RunnerProcess, startRunner, waitForShards } from "./fixtures/runners.ts"
import { tasks } from "./fixtures/tasks.ts"

/** Stored requests of the test task set, and how many of them have a stored result. */
const storedCounts = (pg: Postgres) =>
  Effect.map(
    pg.query<{ requests: string; results: string; keys: string }>(
      `select count(*) as requests,
              count(distinct m.message_id) as keys,
              count(r.id) as results
         from cluster_messages m left join cluster_replies r on r.request_id = m.request_id and r.kind = 0
        where m.kind = 0 and m.entity_type = 'taskscope/${tasks.key}'`
    ),
    ([row]) => ({ requests: Number(row!.requests), keys: Number(row!.keys), results: Number(row!.results) })
  )

/** Starts runners named `names` and waits until they share the shards. */
const runners = (pg: Postgres, names: ReadonlyArray<string>, options?: Parameters<typeof startRunner>[2]) =>
  Effect.tap(
    Effect.forEach(names, (name) => startRunner(pg, name, options)),
    (started) => waitForShards(pg, names.length, undefined, started)
  )

/** Submits `count` visits of `ms` each, keyed `prefix-i`; kills `victim` with `signal` once it runs some. */
const runAndLose = (signal: NodeJS.Signals) =>
  Effect.gen(function*() {
    const server = yield* postgres("durability")
    const pg = yield* server.database(`lose_${signal.toLowerCase()}`)
    const log = yield* logFile
    const [victim] = (yield* runners(pg, ["r1", "r2", "r3"])) as ReadonlyArray<RunnerProcess>
    const results = yield* ClusterExecutor.scoped(tasks, (executor) =>
      Effect.gen(function*() {
        const handles = yield* Effect.forEach(Array.from({ length: 30 }, (_, i) => `t${i}`),
          (key) => executor.submit("visit", { key, ms: 4000, log }, { key }))
        // the victim is mid-run: it has started some tasks and finished none
        yield* eventually(
          "the victim runs some tasks",
          Effect.map(readLog(log),
            (entries) => entries.filter((e) => e.event === "start" && e.runner === victim!.name).length >= 3)
        )
        yield* victim!.kill(signal)
        return yield* Effect.forEach(handles, Task.join)
      })).pipe(Effect.provide(submitter(pg.url)))
    const entries = yield* readLog(log)
    const lost = new Set(entries.filter((e) => e.event === "start" && e.runner === victim!.name).map((e) => e.key))
    return { pg, victim: victim!, results, entries, lost }
  })

describe("durability", () => {
  it.live(
    "SIGKILL of a runner mid-task: its tasks run again on the others and every task completes once for the caller",
    () =>
      Effect.gen(function*() {
        const { entries, lost, pg, results, victim } = yield* runAndLose("SIGKILL")
        assert.isAbove(lost.size, 0)
        assert.deepStrictEqual(results.map((r) => r.key), Array.from({ length: 30 }, (_, i) => `t${i}`))
        for (const result of results) {
          if (lost.has(result.key)) {
            assert.notStrictEqual(result.runner, victim.name, `${result.key} answered by the dead runner`)
          }
        }
        // at-least-once: each lost task started twice, once on the victim
        for (const key of lost) {
          const starts = entries.filter((e) => e.event === "start" && e.key === key)
          assert.isAtLeast(starts.length, 2, `${key} ran again`)
          assert.isFalse(entries.some((e) => e.event === "end" && e.key === key && e.runner === victim.name))
        }
        assert.deepStrictEqual(yield* storedCounts(pg), { requests: 30, keys: 30, results: 30 })
      }),
    180_000
  )

  it.live("graceful shutdown of a runner (SIGTERM) hands its running tasks over to the others",
    () =>
      Effect.gen(function*() {
        const { entries, lost, pg, results, victim } = yield* runAndLose("SIGTERM")
        assert.isAbove(lost.size, 0)
        assert.strictEqual(results.length, 30)
        for (const result of results) {
          if (lost.has(result.key)) assert.notStrictEqual(result.runner, victim.name)
        }
        for (const key of lost) {
          assert.isTrue(entries.some((e) => e.event === "end" && e.key === key && e.runner !== victim.name),
            `${key} finished elsewhere`)
        }
        assert.deepStrictEqual(yield* storedCounts(pg), { requests: 30, keys: 30, results: 30 })
      }), 180_000)

  it.live("a task cancelled as its runner shuts down (SIGTERM) is not started by the next owner of its shard",
    () =>
      Effect.gen(function*() {
        const server = yield* postgres("durability")
        const pg = yield* server.database("cancel_handover")
        const log = yield* logFile
        const started = yield* runners(pg, ["r1", "r2"])
        const keys = Array.from({ length: 8 }, (_, i) => `c${i}`)
        const victim = yield* ClusterExecutor.scoped(tasks, (executor) =>
          Effect.gen(function*() {
            const handles = yield* Effect.forEach(keys,
              (key) => executor.submit("visit", { key, ms: 15_000, log }, { key, reraiseOnExit: false }))
            yield* eventually("every task runs",
              Effect.map(readLog(log), (entries) => entries.filter((e) => e.event === "start").length === keys.length))
            const runner = (yield* readLog(log))[0]!.runner
            const victim = started.find((r) => r.name === runner)!
            // the runner leaves its tasks stored for the next owner, and the cancel follows at once
            const stopping = yield* Effect.forkChild(victim.kill("SIGTERM"), { startImmediately: true })
            yield* Effect.forEach(handles, Task.interrupt, { concurrency: "unbounded" })
            yield* Fiber.join(stopping)
            return victim
          })).pipe(Effect.provide(submitter(pg.url)))
        // the other runner now owns every shard, and has read back what the victim left
        yield* waitForShards(pg, 1)
        yield* Effect.sleep("1 second")
        // before: the next owner started most of the victim's cancelled tasks, for a few milliseconds
        const entries = yield* readLog(log)
        for (const key of keys) {
          const starts = entries.filter((e) => e.event === "start" && e.key === key)
          assert.strictEqual(starts.length, 1, `${key} started ${starts.length} times (victim ${victim.name})`)
        }
      }), 180_000)

  it.live("1,000 tasks while runners are killed at random: none lost, none reported twice",
    () =>
      Effect.gen(function*() {
        const server = yield* postgres("durability")
        const pg = yield* server.database("thousand")
        const log = yield* logFile
        // a fixed seed: the kills are random but the same on every run
        let seed = 12
        const random = (n: number) => {
          seed = (seed * 1103515245 + 12345) % 2147483648
          return seed % n
        }
        const alive: Array<RunnerProcess> = [...(yield* runners(pg, ["r1", "r2", "r3"]))]
        const keys = Array.from({ length: 1000 }, (_, i) => `many-${i}`)
        const results = yield* ClusterExecutor.scoped(tasks, (executor) =>
          Effect.gen(function*() {
            const handles = yield* Effect.forEach(
              keys,
              (key) => executor.submit("visit", { key, ms: 5 + random(20), log }, { key }),
              { concurrency: 20 }
            )
            for (const [round, threshold] of [[1, 150], [2, 450]] as const) {
              yield* eventually(
                `${threshold} tasks ended`,
                Effect.map(readLog(log), (entries) => entries.filter((e) => e.event === "end").length >= threshold)
              )
              const [victim] = alive.splice(random(alive.length), 1)
              yield* victim!.kill("SIGKILL")
              alive.push(yield* startRunner(pg, `n${round}`))
            }
            return yield* Effect.forEach(handles, Task.join)
          })).pipe(Effect.provide(submitter(pg.url)))
        assert.deepStrictEqual(results.map((r) => r.key), keys)
        assert.deepStrictEqual(yield* storedCounts(pg), { requests: 1000, keys: 1000, results: 1000 })
        const ended = new Set((yield* readLog(log)).filter((e) => e.event === "end").map((e) => e.key))
        assert.strictEqual(ended.size, 1000)
      }), 180_000)

  it.live("a runner that leaves gracefully starts none of the tasks waiting in its queue: the others run them, once",
    () =>
      Effect.gen(function*() {
        const server = yield* postgres("durability")
        const pg = yield* server.database("leave_queued")
        const log = yield* logFile
        const leaving = yield* startRunner(pg, "leaving", { concurrency: 1 })
        yield* waitForShards(pg, 1, undefined, [leaving])
        const keys = Array.from({ length: 5 }, (_, i) => `queued-${i}`)
        const results = yield* ClusterExecutor.scoped(tasks, (executor) =>
          Effect.gen(function*() {
            const handles = yield* Effect.forEach(keys,
              (key) => executor.submit("visit", { key, ms: 3000, log }, { key }))
            // one runs (concurrency 1), four wait in the runner's queue
            yield* eventually("one task runs", Effect.map(readLog(log), (entries) => entries.length > 0))
            yield* leaving.kill("SIGTERM")
            yield* startRunner(pg, "staying")
            return yield* Effect.forEach(handles, Task.join)
          })).pipe(Effect.provide(submitter(pg.url)))
        assert.deepStrictEqual(results.map((r) => r.runner), keys.map(() => "staying"))
        const startedThere = (yield* readLog(log)).filter((e) => e.event === "start" && e.runner === "leaving")
        assert.strictEqual(startedThere.length, 1, `started on the leaving runner: ${startedThere.map((e) => e.key)}`)
      }), 120_000)

  // On the code before the fix this failed in about half the runs (4 of 6):
  // a waiting task started on the old owner only when a running task of its
  // shard was stopped before the waiting one's own handler.
  it.live("a runner that hands shards to one that joins starts none of their waiting tasks itself",
    () =>
      Effect.gen(function*() {
        const server = yield* postgres("durability")
        const pg = yield* server.database("join_queued")
        const log = yield* logFile
        // with maxAttempts 1, counting on: moving shards must not get a task refused by its next owner
        // (running tasks that move are tested below)
        const env = { MAX_ATTEMPTS: "1" }
        const first = yield* startRunner(pg, "first", { concurrency: 3, env })
        yield* waitForShards(pg, 1, undefined, [first])
        // enough keys that some of the waiting tasks are on shards that move (with 12, none did in about
        // 1 run in 8, and the test checked nothing)
        const keys = Array.from({ length: 36 }, (_, i) => `moved-${i}`)
        // the tasks run until the joining runner holds its shards (a gate, not a time: it took from 2 s
        // to over 5 s under load, and a task the first runner started while it still owned the shard
        // was no fault)
        const gate = `${log}.gate`
        const { results, startedBefore } = yield* ClusterExecutor.scoped(tasks, (executor) =>
          Effect.gen(function*() {
            const handles = yield* Effect.forEach(keys,
              (key) => executor.submit("visit", { key, ms: 200, log, until: gate }, { key }))
            yield* eventually("three run", Effect.map(readLog(log), (entries) => entries.length >= 3))
            const startedBefore = new Set((yield* readLog(log)).map((e) => e.key))
            const joining = yield* startRunner(pg, "joining", { concurrency: 3, env })
            yield* waitForShards(pg, 2, undefined, [first, joining])
            fs.writeFileSync(gate, "")
            return { results: yield* Effect.forEach(handles, Task.join), startedBefore }
          })).pipe(Effect.provide(submitter(pg.url)))
        assert.deepStrictEqual(results.map((r) => r.key), keys)
        // the tasks that waited on the first runner and moved with their shards
        const moved = results.filter((r) => r.runner === "joining" && !startedBefore.has(r.key)).map((r) => r.key)
        assert.isAbove(moved.length, 0, "no waiting task moved with its shard: the check below would be vacuous")
        const entries = yield* readLog(log)
        const alsoThere = moved.filter((key) =>
          entries.some((e) => e.event === "start" && e.key === key && e.runner === "first")
        )
        assert.deepStrictEqual(alsoThere, [], "waiting tasks of moved shards started on their old owner first")
      }), 120_000)

  it.live(
    "a task that kills its runners starts maxAttempts times, then fails with AttemptsExhaustedError; the last runner lives",
    () =>
      Effect.gen(function*() {
        const server = yield* postgres("durability")
        const pg = yield* server.database("poison")
        const log = yield* logFile
        yield* runners(pg, ["a", "b", "c"], { env: { MAX_ATTEMPTS: "2" } })
        const [poison, after] = yield* ClusterExecutor.scoped(tasks, (executor) =>
          Effect.gen(function*() {
            // before: it killed a, then b, then c, then any runner started after them
            const poison = yield* Task.await(
              yield* executor.submit("crash", { key: "poison", log }, { key: "poison", reraiseOnExit: false })
            )
            return [poison, yield* Effect.flatMap(executor.submit("square", 7), Task.join)] as const
          })).pipe(Effect.provide(submitter(pg.url)), Effect.timeout("90 seconds"))
        assert.isTrue(Exit.isFailure(poison))
        const error = Cause.squash(
          (poison as Exit.Failure<unknown, unknown>).cause
        ) as ClusterError.AttemptsExhaustedError
        assert.strictEqual(error._tag, "AttemptsExhaustedError")
        assert.include(error, { task: "crash", key: "poison", attempts: 2, maxAttempts: 2 })
        const starts = (yield* readLog(log)).filter((e) => e.event === "start" && e.key === "poison")
        assert.strictEqual(starts.length, 2, `started on ${starts.map((e) => e.runner)}`)
        assert.strictEqual(after, 49, "the runner left serves on")
        // its count is dropped with its answer
        yield* eventually(
          "its starts forgotten",
          Effect.map(countedStarts(pg), (n) => n === 0)
        )
      }),
    150_000
  )

  it.live("a graceful shutdown gives its task's start back: with maxAttempts 1 the next owner still runs it",
    () =>
      Effect.gen(function*() {
        const server = yield* postgres("durability")
        const pg = yield* server.database("give_back")
        const log = yield* logFile
        const gate = `${log}.gate`
        const started = yield* runners(pg, ["a", "b"], { env: { MAX_ATTEMPTS: "1" } })
        const result = yield* ClusterExecutor.scoped(tasks, (executor) =>
          Effect.gen(function*() {
            // a cancel is the task's answer: its starts are forgotten
            const hangLog = yield* logFile
            const hanging = yield* executor.submit("hang", { key: "h", log: hangLog }, { key: "h" })
            yield* eventually("it hangs", Effect.map(readLog(hangLog), (entries) => entries.length > 0))
            assert.strictEqual(yield* countedStarts(pg, "task = 'hang'"), 1, "its start is counted while it runs")
            yield* Task.interrupt(hanging)
            yield* eventually(
              "the cancelled task's starts forgotten",
              Effect.map(countedStarts(pg, "task = 'hang'"), (n) => n === 0)
            )
            const task = yield* executor.submit("visit", { key: "moved", ms: 0, log, until: gate }, { key: "moved" })
            yield* eventually("it runs", Effect.map(readLog(log), (entries) => entries.length > 0))
            const first = (yield* readLog(log))[0]!.runner
            // another task under the same key is another task: its starts are its own (before: refused,
            // the running task's start counted against it)
            const sameKey = yield* Effect.flatMap(executor.submit("square", 7, { key: "moved" }), Task.join)
            yield* started.find((runner) => runner.name === first)!.kill("SIGTERM")
            fs.writeFileSync(gate, "")
            return { ...(yield* Task.join(task)), sameKey }
          })).pipe(Effect.provide(submitter(pg.url)), Effect.timeout("90 seconds"))
        assert.strictEqual(result.sameKey, 49)
        const starts = (yield* readLog(log)).filter((e) => e.event === "start")
        // before the give-back, the second start was over the bound: AttemptsExhaustedError
        assert.strictEqual(starts.length, 2)
        assert.notStrictEqual(result.runner, starts[0]!.runner)
      }), 150_000)

  it.live("a graceful shutdown that stops a task after its function ended, its scope closing, gives its start back",
    () =>
      Effect.gen(function*() {
        const server = yield* postgres("durability")
        const pg = yield* server.database("closing")
        const log = yield* logFile
        const started = yield* runners(pg, ["a", "b"], { env: { MAX_ATTEMPTS: "1" } })
        const ranOn = yield* ClusterExecutor.scoped(tasks, (executor) =>
          Effect.gen(function*() {
            const task = yield* executor.submit("slowFinalizer", { key: "closing", log, ms: 2_000 }, {
              key: "closing"
            })
            // its function has returned: its scope is closing when the shutdown stops it
            yield* eventually("its scope closes", Effect.map(readLog(log), (entries) => entries.length > 0))
            const first = (yield* readLog(log))[0]!.runner
            yield* started.find((runner) => runner.name === first)!.kill("SIGTERM")
            // with maxAttempts 1 the next owner runs it only if the first start was given back (before:
            // the next owner failed it with AttemptsExhaustedError). The count is not read here: the next
            // owner may have taken the shard and counted its own start before the first runner exits
            return { first, ranOn: yield* Task.join(task) }
          })).pipe(Effect.provide(submitter(pg.url)), Effect.timeout("90 seconds"))
        assert.notStrictEqual(ranOn.ranOn, ranOn.first, "the next owner runs it again")
        yield* eventually(
          "the answered task's starts are forgotten",
          Effect.map(countedStarts(pg, "key = 'closing'"), (n) => n === 0)
        )
      }), 150_000)

  // Measured before the fix: the runner whose loop was blocked ended the task's run once it woke
  // and dropped every start of the task, though Effect then dropped its result (it had lost the
  // shard): the count fell back to 0 at each round and the task started every 3-4 s, for ever
  // (13 starts in 40 s, no answer). Now: refused at its 4th start, 12 s after the submit.
  // A second form of it: the task's scope still closing (a slow finalizer) when the runner wakes
  // and finds its shard lock lost. Measured at 554e57c, which gave back the start of a task that a
  // shutdown stopped while its scope closed, and could not tell a lock lost from a shutdown: never
  // refused, 9 starts in 50 s.
  it.live.each([
    ["with nothing to close after its loop", false],
    ["with its scope still closing when the runner wakes", true]
  ] as const)(
    "a task that blocks its runner's event loop past shardLockExpiration starts maxAttempts times, then fails with AttemptsExhaustedError: %s",
    ([, closing]) =>
      Effect.gen(function*() {
        const server = yield* postgres("durability")
        const pg = yield* server.database(closing ? "blocking_closing" : "blocking")
        const log = yield* logFile
        // 3 s locks (6 s by default): the blocked runner loses its shards 3 s into the task's 6 s loop
        yield* runners(pg, ["a", "b", "c"], { env: { MAX_ATTEMPTS: "3", TEST_LOCK_EXPIRATION_MS: "3000" } })
        const submitted = Date.now()
        const options = { key: "blocking", reraiseOnExit: false, cancelOnExit: true }
        const exit = yield* ClusterExecutor.scoped(tasks, (executor) =>
          Effect.flatMap(
            closing
              ? executor.submit("blockThenRelease", { key: "blocking", log, ms: 6000, releaseMs: 5000 }, options)
              : executor.submit("block", { key: "blocking", log, ms: 6000 }, options),
            (task) => Effect.timeout(Task.await(task), "30 seconds")
          )).pipe(Effect.provide(submitter(pg.url)))
        const elapsed = Date.now() - submitted
        assert.isTrue(Exit.isFailure(exit), `the task ended with ${String(exit)}`)
        const error = Cause.squash(
          (exit as Exit.Failure<unknown, unknown>).cause
        ) as ClusterError.AttemptsExhaustedError
        assert.strictEqual(error._tag, "AttemptsExhaustedError")
        assert.include(error, { task: closing ? "blockThenRelease" : "block", key: "blocking", maxAttempts: 3 })
        // 3; 4 when two runners started it at the same moment in a handover, each counting only
        // itself (a limit attempts.ts states): a runner that wakes may take the shard back at once
        assert.oneOf(error.attempts, [3, 4])
        const starts = (yield* readLog(log)).filter((e) => e.event === "start")
        // every counted start ran (a start stopped by its shard moving away is given back, not counted)
        assert.isAtLeast(starts.length, error.attempts, `started on ${starts.map((e) => e.runner)}`)
        assert.isAtMost(starts.length, 6, `started on ${starts.map((e) => e.runner)}`)
        // each round takes about shardLockExpiration (3 s) and a little: 12 s measured
        assert.isBelow(elapsed, 25_000)
        yield* eventually(
          "its starts forgotten",
          Effect.map(countedStarts(pg), (n) => n === 0)
        )
      }),
    120_000
  )

  it.live("with maxAttempts 1, running tasks whose shards move to a runner that joins run there, not refused",
    () =>
      Effect.gen(function*() {
        const server = yield* postgres("durability")
        const pg = yield* server.database("move_running")
        const log = yield* logFile
        const gate = `${log}.gate`
        const env = { MAX_ATTEMPTS: "1" }
        const started = yield* runners(pg, ["first"], { concurrency: 64, env })
        const keys = Array.from({ length: 24 }, (_, i) => `running-${i}`)
        const results = yield* ClusterExecutor.scoped(tasks, (executor) =>
          Effect.gen(function*() {
            const handles = yield* Effect.forEach(keys,
              (key) => executor.submit("visit", { key, ms: 0, log, until: gate }, { key, reraiseOnExit: false }))
            yield* eventually("all run", Effect.map(readLog(log), (entries) => entries.length >= keys.length))
            const joining = yield* startRunner(pg, "joining", { concurrency: 64, env })
            yield* waitForShards(pg, 2, undefined, [...started, joining])
            fs.writeFileSync(gate, "")
            return yield* Effect.forEach(handles, Task.await)
          })).pipe(Effect.provide(submitter(pg.url)), Effect.timeout("90 seconds"))
        const failed = results.filter(Exit.isFailure).map((exit) => String(Cause.squash(exit.cause)))
        // before the give-back, each moved task was refused: its first start still counted
        assert.deepStrictEqual(failed, [])
        const movedThere = (yield* readLog(log)).filter((e) => e.event === "start" && e.runner === "joining")
        assert.isAbove(movedThere.length, 0)
      }), 150_000)
})

/**
 * Where a task's time goes (`node bench/profile.ts [N]`): N tiny tasks
 * (default 2,000) through three runner processes, as the benchmark's burst
 * sends them, on an embedded PostgreSQL with `pg_stat_statements`. Prints
 * the statements per task (calls and execution time of each kind), the
 * transactions per task, and the CPU time per task of each process: the
 * submitter (this process), the runners, and PostgreSQL's backends.
 *
 * A diagnostic for the README's account of the benchmark, not a benchmark:
 * the statement statistics slow PostgreSQL down a little.
 */
import { Task } from "@taskscope/executor"
import { Effect, Fiber } from "effect"
import { makeWorkerUtils, runMigrations } from "graphile-worker"
import * as child_process from "node:child_process"
import * as fs from "node:fs"
import { Cluster, ClusterExecutor } from "../src/index.ts"
import { freePort, postgres } from "../test/fixtures/postgres.ts"
import { waitForShards } from "../test/fixtures/runners.ts"
import { type Event, now } from "./ipc.ts"
import { tasks } from "./tasks.ts"

const N = Number(process.argv[2] ?? "2000")
/** `taskscope` (default) or `graphile-worker`, for the same figures of the peer. */
const system = process.argv[3] ?? "taskscope"
const IN_FLIGHT = 64
const script = new URL("./worker.ts", import.meta.url).pathname

/** CPU milliseconds (user + system) a process has used so far, from /proc. */
const cpuOf = (pid: number): number => {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100
  } catch {
    return 0
  }
}

/** The CPU milliseconds of PostgreSQL's processes (the server's children included). */
const postgresCpu = (): number => {
  let total = 0
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const cmd = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8")
      if (cmd.includes("postgres") && !cmd.includes("node")) total += cpuOf(Number(entry))
    } catch {
      // gone meanwhile
    }
  }
  return total
}

const percentile = (values: ReadonlyArray<number>, p: number): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

/** LATENCY=1: N tasks at 50 per second; submit to stored (submit returns) and stored to result, p50 / p99. */
const latency = (executor: ClusterExecutor.ClusterExecutor<typeof tasks>) =>
  Effect.gen(function*() {
    // warm up: every lane's entity started on its runner
    yield* Effect.forEach(Array.from({ length: 1000 }, (_, i) => i),
      (i) => Effect.flatMap(Effect.orDie(executor.submit("echo", i)), (task) => Effect.orDie(Task.join(task))), {
      concurrency: 64,
      discard: true
    })
    const stored: Array<number> = []
    const answered: Array<number> = []
    const fibers: Array<Fiber.Fiber<void>> = []
    for (let i = 0; i < N; i++) {
      const t0 = now()
      const task = yield* Effect.orDie(executor.submit("echo", i))
      const t1 = now()
      stored.push(t1 - t0)
      fibers.push(yield* Effect.forkChild(Effect.map(Effect.orDie(Task.join(task)), () => {
        answered[i] = now() - t1
      })))
      yield* Effect.sleep(Math.max(0, 20 - (now() - t0)))
    }
    yield* Fiber.joinAll(fibers)
    const line = (name: string, values: Array<number>) =>
      `${name}: p50 ${percentile(values, 50).toFixed(1)} ms, p90 ${percentile(values, 90).toFixed(1)} ms, p99 ${
        percentile(values, 99).toFixed(1)
      } ms`
    console.log(line("submit to stored", stored))
    console.log(line("stored to result", answered))
    console.log(line("submit to result", stored.map((s, i) => s + answered[i]!)))
  })

const program = Effect.gen(function*() {
  const server = yield* postgres("profile", ["-c", "shared_preload_libraries=pg_stat_statements"])
  const pg = yield* server.database("taskscope")
  yield* pg.query("create extension if not exists pg_stat_statements")
  const runners = yield* Effect.acquireRelease(
    Effect.promise(async () => {
      const children: Array<child_process.ChildProcess> = []
      for (let i = 0; i < 3; i++) {
        children.push(child_process.fork(script, [system], {
          env: {
            ...process.env,
            DATABASE_URL: pg.url,
            WORKER_NAME: `w${i + 1}`,
            CONCURRENCY: "10",
            RUNNER_PORT: String(await freePort())
          },
          stdio: ["ignore", "ignore", "inherit", "ipc"],
          ...(process.env.RUNNER_CPU_PROF
            ? {
              execArgv: [
                ...process.execArgv.filter((a) => !a.startsWith("--cpu-prof")),
                "--cpu-prof",
                `--cpu-prof-dir=${process.env.RUNNER_CPU_PROF}`
              ]
            }
            : {})
        }))
      }
      return children
    }),
    (children) =>
      Effect.promise(() =>
        Promise.all(children.map((child) =>
          new Promise<void>((resolve) => {
            child.once("exit", () => resolve())
            // SIGINT lets a runner write its CPU profile
            child.kill(process.env.RUNNER_CPU_PROF ? "SIGINT" : "SIGKILL")
          })
        )).then(() => undefined)
      )
  )
  const measure = (submit: (i: number) => Effect.Effect<Effect.Effect<unknown>>) =>
    Effect.gen(function*() {
      // warm up: connections, prepared statements, entities
      yield* Effect.forEach(Array.from({ length: 200 }, (_, i) => i), (i) => Effect.flatten(submit(i)), {
        concurrency: IN_FLIGHT,
        discard: true
      })
      yield* pg.query("select pg_stat_statements_reset()")
      const [before] = yield* pg.query<{ xact_commit: string }>(
        "select xact_commit from pg_stat_database where datname = current_database()"
      )
      const cpu0 = { submitter: process.cpuUsage(), runners: runners.map((r) => cpuOf(r.pid!)), pg: postgresCpu() }
      const start = now()
      const waits: Array<Fiber.Fiber<unknown, unknown>> = []
      yield* Effect.forEach(Array.from({ length: N }, (_, i) => i), (i) =>
        Effect.flatMap(submit(i), (result) =>
          Effect.map(Effect.forkDetach(result), (fiber) => {
            waits.push(fiber)
          })), { concurrency: IN_FLIGHT, discard: true })
      yield* Fiber.joinAll(waits)
      const elapsed = now() - start
      const submitterCpu = process.cpuUsage(cpu0.submitter)
      const cpu = {
        submitter: (submitterCpu.user + submitterCpu.system) / 1000,
        runners: runners.map((r, i) => cpuOf(r.pid!) - cpu0.runners[i]!).reduce((a, b) => a + b, 0),
        postgres: postgresCpu() - cpu0.pg
      }
      const [after] = yield* pg.query<{ xact_commit: string }>(
        "select xact_commit from pg_stat_database where datname = current_database()"
      )
      const statements = yield* pg.query<{ query: string; calls: string; total: number }>(
        `select regexp_replace(query, '\\s+', ' ', 'g') as query, calls, total_exec_time as total
           from pg_stat_statements where dbid = (select oid from pg_database where datname = current_database())
          order by calls desc`
      )
      const lines = [
        `${N} tasks in ${elapsed.toFixed(0)} ms: ${(N / (elapsed / 1000)).toFixed(0)} tasks/s`,
        `transactions per task: ${((Number(after!.xact_commit) - Number(before!.xact_commit)) / N).toFixed(2)}`,
        `CPU per task: submitter ${(cpu.submitter / N).toFixed(3)} ms, runners ${(cpu.runners / N).toFixed(3)} ms, ` +
        `PostgreSQL ${(cpu.postgres / N).toFixed(3)} ms; total ${
          ((cpu.submitter + cpu.runners + cpu.postgres) / N).toFixed(3)
        } ms`,
        "statements per task (calls, execution ms per task):",
        ...statements.filter((s) => Number(s.calls) >= N / 100).map((s) =>
          `  ${(Number(s.calls) / N).toFixed(3)}  ${(s.total / N).toFixed(3)} ms  ${s.query.slice(0, 150)}`
        ),
        `statements per task in all: ${(statements.reduce((n, s) => n + Number(s.calls), 0) / N).toFixed(2)}`
      ]
      console.log(lines.join("\n"))
    })
  if (system === "taskscope") {
    yield* waitForShards(pg, 3)
    return yield* ClusterExecutor.scoped(tasks, (executor) =>
      process.env.LATENCY
        ? latency(executor)
        : measure((i) => Effect.map(Effect.orDie(executor.submit("echo", i)), (task) => Effect.orDie(Task.join(task)))))
      .pipe(Effect.provide(Cluster.layerPostgres({ url: pg.url, maxConnections: 20 })))
  }
  yield* Effect.promise(() => runMigrations({ connectionString: pg.url }))
  const waiting = new Map<string, () => void>()
  let ready = 0
  for (const runner of runners) {
    runner.on("message", (message) => {
      const event = message as Event
      if (event.event === "ready") ready++
      if (event.event === "done") waiting.get(event.key)?.()
    })
  }
  while (ready < runners.length) yield* Effect.sleep("50 millis")
  const utils = yield* Effect.acquireRelease(
    Effect.promise(() => makeWorkerUtils({ connectionString: pg.url })),
    (utils) =>
      Effect.promise(async () => {
        await utils.release()
      })
  )
  let seq = 0
  return yield* measure(() =>
    Effect.promise(async () => {
      const key = String(seq++)
      const done = new Promise<void>((resolve) => waiting.set(key, resolve))
      await utils.addJob("job", { key })
      return Effect.promise(() => done)
    })
  )
})

Effect.runPromise(Effect.scoped(program)).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)

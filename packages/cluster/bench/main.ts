/**
 * `pnpm bench` (this package's part): ClusterExecutor against the Postgres
 * job queues a Node user would pick instead, graphile-worker and pg-boss, on
 * the same embedded PostgreSQL, in one run, with three worker processes
 * each (10 jobs at once per worker). Prints the table and writes
 * bench/RESULTS.md.
 *
 * - Throughput: N tiny tasks submitted as fast as the producer can (64 submits
 *   in flight), from the first submit to the last result.
 * - Latency at a steady rate: 300 tiny tasks at 50 per second, submit to
 *   result, p50 and p99.
 * - Recovery: 60 tasks of 3 s; once the victim worker runs some, it is
 *   SIGKILLed; the time from the kill until its tasks start again elsewhere
 *   (the first and the last of them), or "none within 30 s".
 *
 * "Result" for taskscope is the caller's `Task.join` returning, through the
 * cluster's storage; for the peers, which return nothing to the producer,
 * it is the worker's report (over IPC, the fastest path there is) that the
 * job ended — a head start for them.
 *
 * Three rounds (BENCH_ROUNDS), the systems taking turns in each, so that
 * the load of this shared machine falls on all of them; the table gives the
 * median of the rounds and their range.
 *
 * BENCH_QUICK=1 (or --quick): N = 2,000 instead of 10,000, one round.
 */
import { Task } from "@taskscope/executor"
import { Effect, Fiber } from "effect"
import { makeWorkerUtils, runMigrations } from "graphile-worker"
import * as child_process from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import { PgBoss } from "pg-boss"
import { Cluster, ClusterExecutor } from "../src/index.ts"
import { freePort, type Postgres, postgres } from "../test/fixtures/postgres.ts"
import { waitForShards } from "../test/fixtures/runners.ts"
import { type Event, now } from "./ipc.ts"
import { tasks } from "./tasks.ts"

const quick = process.env.BENCH_QUICK === "1" || process.argv.includes("--quick")
const N = quick ? 2_000 : 10_000
/** Rounds of the three systems in turn (BENCH_ROUNDS; 3, or 1 in quick mode). */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (quick ? "1" : "3"))
const WORKERS = 3
const CONCURRENCY = 10
const IN_FLIGHT = 64
const RATE = 50
const STEADY = 300
const RECOVERY_TASKS = 60
const RECOVERY_MS = 3_000
const RECOVERY_CAP = 30_000

type System = "taskscope" | "graphile-worker" | "pg-boss"

interface Worker {
  readonly name: string
  readonly child: child_process.ChildProcess
  readonly events: Array<Event>
}

const script = new URL("./worker.ts", import.meta.url).pathname

const startWorkers = (system: System, pg: Postgres) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const workers: Array<Worker> = []
      for (let i = 0; i < WORKERS; i++) {
        const name = `w${i + 1}`
        const child = child_process.fork(script, [system], {
          env: {
            ...process.env,
            DATABASE_URL: pg.url,
            WORKER_NAME: name,
            CONCURRENCY: String(CONCURRENCY),
            RUNNER_PORT: String(await freePort())
          },
          stdio: ["ignore", "ignore", "inherit", "ipc"]
        })
        const worker: Worker = { name, child, events: [] }
        child.on("message", (message) => worker.events.push(message as Event))
        workers.push(worker)
      }
      return workers
    }),
    (workers) =>
      Effect.promise(() =>
        Promise.all(workers.map((w) =>
          new Promise<void>((resolve) => {
            if (w.child.exitCode !== null || w.child.signalCode !== null) return resolve()
            w.child.once("exit", () => resolve())
            w.child.kill("SIGKILL")
          })
        )).then(() => undefined)
      )
  )

const waitFor = (what: string, check: () => boolean, capMs = 60_000) =>
  Effect.gen(function*() {
    const start = now()
    while (!check()) {
      if (now() - start > capMs) return yield* Effect.die(new Error(`bench: ${what} did not happen within ${capMs} ms`))
      yield* Effect.sleep("50 millis")
    }
  })

const percentile = (values: ReadonlyArray<number>, p: number): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

interface Figures {
  readonly throughput: number
  readonly burstP50: number
  readonly burstP99: number
  readonly p50: number
  readonly p99: number
  readonly recoveryFirst: number | undefined
  readonly recoveryAll: number | undefined
  readonly lost: number
}

/** How a system takes jobs from the producer and says when each is done. */
interface Driver {
  /** Submits job `key` (with `ms`, a long one) and resolves when its result is known, with that time. */
  readonly submit: (key: string, ms?: number) => Effect.Effect<Effect.Effect<number>>
}

/** Runs the three measurements against a driver and its workers. */
const measure = (driver: Driver, workers: ReadonlyArray<Worker>) =>
  Effect.gen(function*() {
    // throughput: a burst of N
    const submitted = new Array<number>(N)
    const done = new Array<number>(N)
    const waits: Array<Fiber.Fiber<void>> = []
    yield* Effect.forEach(Array.from({ length: N }, (_, i) => i), (i) =>
      Effect.gen(function*() {
        submitted[i] = now()
        const result = yield* driver.submit(`burst-${i}`)
        // detached from this element's fiber, which ends at once; joined below
        waits.push(yield* Effect.forkDetach(Effect.map(result, (t) => {
          done[i] = t
        })))
      }), { concurrency: IN_FLIGHT, discard: true })
    yield* Fiber.joinAll(waits)
    const burstLatencies = done.map((t, i) => t - submitted[i]!)
    const throughput = N / ((Math.max(...done) - Math.min(...submitted)) / 1000)

    // latency at a steady rate
    const latencies: Array<number> = []
    const steady: Array<Fiber.Fiber<void>> = []
    for (let i = 0; i < STEADY; i++) {
      const t0 = now()
      const result = yield* driver.submit(`steady-${i}`)
      steady.push(yield* Effect.forkChild(Effect.map(result, (t) => {
        latencies.push(t - t0)
      })))
      yield* Effect.sleep(Math.max(0, 1000 / RATE - (now() - t0)))
    }
    yield* Fiber.joinAll(steady)

    // recovery after a SIGKILL
    const keys = Array.from({ length: RECOVERY_TASKS }, (_, i) => `long-${i}`)
    const pending = yield* Effect.forEach(keys, (key) => driver.submit(key, RECOVERY_MS))
    const victim = workers[0]!
    const starts = (worker: Worker) => worker.events.filter((e) => e.event === "start" && e.key.startsWith("long-"))
    yield* waitFor("the victim runs long tasks", () => starts(victim).length >= 3)
    const lostKeys = new Set(starts(victim).map((e) => e.key))
    const killedAt = now()
    victim.child.kill("SIGKILL")
    const restarts = () =>
      workers.slice(1).flatMap((w) => w.events).filter((e) =>
        e.event === "start" && lostKeys.has(e.key) && e.t > killedAt
      )
    const restartedKeys = () => new Set(restarts().map((e) => e.key))
    yield* waitFor("restarts", () => restartedKeys().size === lostKeys.size, RECOVERY_CAP).pipe(Effect.ignoreCause)
    const times = restarts().map((e) => e.t - killedAt)
    const recoveryFirst = times.length > 0 ? Math.min(...times) : undefined
    const recoveryAll = restartedKeys().size === lostKeys.size ? Math.max(...times) : undefined
    // let the survivors' results in (taskscope waits on them; the peers may never finish the lost ones)
    if (recoveryAll !== undefined) {
      yield* Effect.forEach(pending, (wait) => wait, {
        concurrency: "unbounded",
        discard: true
      })
    }
    return {
      throughput,
      burstP50: percentile(burstLatencies, 50),
      burstP99: percentile(burstLatencies, 99),
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      recoveryFirst,
      recoveryAll,
      lost: lostKeys.size
    } satisfies Figures
  })

/** Waits until a peer's workers report job ends; resolves the job's end time. */
const peerDriver = (workers: ReadonlyArray<Worker>, send: (key: string, ms?: number) => Promise<unknown>): Driver => {
  const waiting = new Map<string, (t: number) => void>()
  for (const worker of workers) {
    worker.child.on("message", (message) => {
      const event = message as Event
      if (event.event === "done") waiting.get(event.key)?.(event.t)
    })
  }
  return {
    submit: (key, ms) =>
      Effect.map(
        Effect.promise(async () => {
          const result = new Promise<number>((resolve) => waiting.set(key, resolve))
          await send(key, ms)
          return { result }
        }),
        ({ result }) => Effect.promise(() => result)
      )
  }
}

const runTaskscope = (server: Postgres, round: number) =>
  Effect.scoped(Effect.gen(function*() {
    const pg = yield* server.database(`taskscope_${round}`)
    const workers = yield* startWorkers("taskscope", pg)
    yield* waitForShards(pg, WORKERS)
    return yield* ClusterExecutor.scoped(tasks, (executor) =>
      measure({
        submit: (key, ms) =>
          Effect.map(
            ms === undefined
              ? executor.submit("echo", 0, { key })
              : executor.submit("long", { key, ms }, { key }),
            (task: Task.Task<unknown, unknown>) => Effect.map(Effect.orDie(Task.join(task)), () => now())
          ).pipe(Effect.orDie)
      }, workers)).pipe(Effect.provide(Cluster.layerPostgres({
        url: pg.url,
        maxConnections: 20,
        ...(process.env.REPLY_POLL_MS
          ? { shardingConfig: { entityReplyPollInterval: Number(process.env.REPLY_POLL_MS) } }
          : {})
      })))
  }))

const runGraphileWorker = (server: Postgres, round: number) =>
  Effect.scoped(Effect.gen(function*() {
    const pg = yield* server.database(`graphile_${round}`)
    yield* Effect.promise(() => runMigrations({ connectionString: pg.url }))
    const workers = yield* startWorkers("graphile-worker", pg)
    yield* waitFor("graphile workers ready", () => workers.every((w) => w.events.some((e) => e.event === "ready")))
    const utils = yield* Effect.acquireRelease(
      Effect.promise(() => makeWorkerUtils({ connectionString: pg.url })),
      (utils) =>
        Effect.promise(async () => {
          await utils.release()
        })
    )
    return yield* measure(peerDriver(workers, (key, ms) => utils.addJob("job", { key, ms })), workers)
  }))

const runPgBoss = (server: Postgres, round: number) =>
  Effect.scoped(Effect.gen(function*() {
    const pg = yield* server.database(`pgboss_${round}`)
    const boss = yield* Effect.acquireRelease(
      Effect.promise(async () => {
        const boss = new PgBoss({ connectionString: pg.url, useListenNotify: true })
        boss.on("error", () => {})
        await boss.start()
        await boss.createQueue("job", { notify: true })
        return boss
      }),
      (boss) => Effect.promise(() => boss.stop({ graceful: false }))
    )
    const workers = yield* startWorkers("pg-boss", pg)
    yield* waitFor("pg-boss workers ready", () => workers.every((w) => w.events.some((e) => e.event === "ready")))
    return yield* measure(peerDriver(workers, (key, ms) => boss.send("job", { key, ms })), workers)
  }))

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** The median of the rounds, and their range when there are several. */
const spread = (values: ReadonlyArray<number>, digits: number, unit = ""): string =>
  values.length === 1
    ? `${values[0]!.toFixed(digits)}${unit}`
    : `${median(values).toFixed(digits)}${unit} (${Math.min(...values).toFixed(digits)}-${
      Math.max(...values).toFixed(digits)
    })`

const recoverySpread = (figures: ReadonlyArray<Figures>, pick: (f: Figures) => number | undefined): string => {
  const times = figures.map(pick)
  if (times.some((t) => t === undefined)) {
    const recovered = times.filter((t) => t !== undefined).length
    return recovered === 0
      ? `none within ${RECOVERY_CAP / 1000} s`
      : `${recovered} of ${times.length} rounds within ${RECOVERY_CAP / 1000} s`
  }
  return spread(times.map((t) => t! / 1000), 1, " s")
}

const program = Effect.gen(function*() {
  const load = os.loadavg()[0]!
  const server = yield* postgres("bench")
  const results = new Map<System, Array<Figures>>()
  const only = process.env.BENCH_ONLY?.split(",")
  const systems =
    ([["taskscope", runTaskscope], ["graphile-worker", runGraphileWorker], ["pg-boss", runPgBoss]] as const)
      .filter(([system]) => only === undefined || only.includes(system))
  // the systems take turns, round after round, so that the load of the machine falls on all of them
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [system, run] of systems) {
      console.error(`bench: round ${round} of ${ROUNDS}: ${system} ...`)
      const figures = yield* run(server, round)
      results.set(system, [...(results.get(system) ?? []), figures])
    }
  }
  const graphile = results.get("graphile-worker") ?? results.get(systems[0]![0])!
  const lines = [
    "# @taskscope/cluster benchmark results",
    "",
    `Written by \`bench/main.ts\` (\`pnpm bench\`)${
      quick ? " in quick mode (BENCH_QUICK=1)" : ""
    }, one run on one embedded PostgreSQL 18: ${ROUNDS} round${
      ROUNDS === 1 ? "" : "s"
    }, the systems taking turns in each;`,
    `${ROUNDS === 1 ? "one figure each" : "the median of the rounds, and their range in brackets"}.`,
    `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? "CPU"}, Node ${process.version}; load average ${
      load.toFixed(2)
    } at start,`,
    `${
      os.loadavg()[0]!.toFixed(2)
    } at the end (the machine is shared). PostgreSQL, the producer and ${WORKERS} worker processes (${CONCURRENCY} jobs at once each) share the cores.`,
    "",
    `| system | throughput, ${
      N.toLocaleString("en")
    } tiny tasks (tasks/s) | vs graphile-worker (same round) | burst p50 / p99 (ms) | p50 at ${RATE}/s (ms) | p99 at ${RATE}/s (ms) | recovery after SIGKILL: first / all lost tasks running again |`,
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...[...results].map(([system, figures]) =>
      `| ${system} | ${spread(figures.map((f) => f.throughput), 0)} | ${
        spread(figures.map((f, i) => f.throughput / graphile[i]!.throughput), 2, "x")
      } | ${median(figures.map((f) => f.burstP50)).toFixed(0)} / ${
        median(figures.map((f) => f.burstP99)).toFixed(0)
      } | ${spread(figures.map((f) => f.p50), 1)} | ${spread(figures.map((f) => f.p99), 1)} | ${
        recoverySpread(figures, (f) => f.recoveryFirst)
      } / ${recoverySpread(figures, (f) => f.recoveryAll)} |`
    ),
    "",
    "Settings: taskscope `ClusterRunner.layer(tasks, { concurrency: 10 })`, `Cluster.layerPostgres` defaults;",
    "graphile-worker `run({ concurrency: 10 })`; pg-boss `work({ batchSize: 10, burstWhenBatchFull: true,",
    "pollingIntervalSeconds: 0.5 })` on a queue with `notify: true` and `useListenNotify: true`.",
    "taskscope's latency is submit to the caller's `Task.join`; the peers' is enqueue to the worker's IPC report of the job's end."
  ]
  const text = lines.join("\n") + "\n"
  console.log(text)
  if (!process.argv.includes("--no-write")) fs.writeFileSync(new URL("./RESULTS.md", import.meta.url), text)
})

Effect.runPromise(Effect.scoped(program)).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)

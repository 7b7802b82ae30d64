/**
 * WorkerExecutor against piscina and tinypool, on the same functions, in one
 * run: per-task overhead (many tiny tasks in flight) and CPU-bound throughput
 * (speedup of two threads over one). Prints a table and writes RESULTS.md.
 *
 *   pnpm --filter @taskscope/node bench          (or `pnpm bench` at the root)
 *   BENCH_QUICK=1 ... (or --quick)               fewer rounds, for a smoke run
 *   --no-write                                   print only; leave RESULTS.md as it is
 */
import { Task } from "@taskscope/executor"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { writeFileSync } from "node:fs"
import * as os from "node:os"
import { Worker } from "node:worker_threads"
import { Piscina } from "piscina"
import { Tinypool } from "tinypool"
import * as WorkerExecutor from "../src/WorkerExecutor.ts"
import * as WorkerPool from "../src/WorkerPool.ts"
import { tasks } from "./fixtures/tasks.ts"
import { burn } from "./fixtures/work.ts"

const quick = process.env.BENCH_QUICK === "1" || process.argv.includes("--quick")
const TINY_TASKS = quick ? 2_000 : 20_000
const CPU_TASKS = quick ? 8 : 32
const REPEATS = quick ? 2 : 5
const workerUrl = new URL("./fixtures/worker.ts", import.meta.url)
const plainWorker = new URL("./fixtures/plain-worker.ts", import.meta.url).href

/** Calibrates `burn` to about `ms` of CPU on this machine. */
const calibrate = (ms: number): number => {
  let rounds = 100_000
  for (;;) {
    const start = performance.now()
    burn(rounds)
    const took = performance.now() - start
    if (took > 20) return Math.round(rounds * ms / took)
    rounds *= 2
  }
}
const BURN_ROUNDS = calibrate(25)

/** One pool under test: run `count` calls of `name`, all in flight at once. */
interface Runner {
  readonly run: (name: "noop" | "burn", payloads: ReadonlyArray<number>) => Promise<void>
  readonly close: () => Promise<void>
}

/** A started pool of `threads`, and how to close it. */
const startPool = async (threads: number) => {
  const scope = Effect.runSync(Scope.make())
  const pool = Effect.runSync(Scope.provide(
    WorkerPool.make(tasks, { spawn: () => new Worker(workerUrl), maxConcurrency: threads }),
    scope
  ))
  await Effect.runPromise(pool.prestart)
  return { pool, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

const taskscope = async (threads: number): Promise<Runner> => {
  const { close, pool } = await startPool(threads)
  return {
    run: (name, payloads) =>
      Effect.runPromise(WorkerExecutor.scoped(pool, (executor) =>
        Effect.gen(function*() {
          const handles = []
          for (const n of payloads) handles.push(yield* executor.submit(name, n))
          for (const handle of handles) yield* Task.join(handle)
        }))),
    close
  }
}

const taskscopeBare = async (threads: number): Promise<Runner> => {
  const { close, pool } = await startPool(threads)
  return {
    run: (name, payloads) =>
      Effect.runPromise(
        Effect.forEach(payloads, (n) => pool.call(name, n), { concurrency: "unbounded", discard: true })
      ),
    close
  }
}

/** piscina and tinypool share one API: a pool of `threads`, warmed up, then `run(payload, { name })`. */
const libraryPool = (Pool: typeof Piscina | typeof Tinypool) => async (threads: number): Promise<Runner> => {
  const pool = new Pool({ filename: plainWorker, minThreads: threads, maxThreads: threads, idleTimeout: 60_000 })
  await Promise.all(Array.from({ length: threads * 2 }, (_, i) => pool.run(i, { name: "noop" })))
  return {
    run: async (name, payloads) => {
      await Promise.all(payloads.map((n) => pool.run(n, { name })))
    },
    close: () => pool.destroy()
  }
}

const piscina = libraryPool(Piscina)

const tinypool = libraryPool(Tinypool)

/**
 * Bare threads, no library: one message in flight per thread, the next sent
 * when a reply comes back. It shows what the machine allows at the moment of
 * the run (how much two threads can speed up, what a round trip costs).
 */
const bare = async (threads: number): Promise<Runner> => {
  const workers = Array.from({ length: threads },
    () => new Worker(new URL("./fixtures/raw-worker.ts", import.meta.url)))
  await Promise.all(workers.map((worker) => new Promise((resolve) => worker.once("online", resolve))))
  return {
    run: (name, payloads) =>
      new Promise<void>((resolve) => {
        let next = 0
        let done = 0
        if (payloads.length === 0) return resolve()
        for (const worker of workers) {
          worker.removeAllListeners("message")
          const send = () => {
            if (next < payloads.length) worker.postMessage([next, name, payloads[next++]])
          }
          worker.on("message", () => {
            if (++done === payloads.length) resolve()
            else send()
          })
          send()
        }
      }),
    close: async () => {
      await Promise.all(workers.map((worker) => worker.terminate()))
    }
  }
}

const median = (xs: ReadonlyArray<number>): number => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

const time = async (runner: Runner, name: "noop" | "burn", payloads: ReadonlyArray<number>): Promise<number> => {
  const start = performance.now()
  await runner.run(name, payloads)
  return performance.now() - start
}

const contenders = [
  ["taskscope WorkerExecutor", taskscope],
  ["taskscope WorkerPool.call (no executor)", taskscopeBare],
  ["piscina", piscina],
  ["tinypool", tinypool],
  ["bare worker_threads (no library, the floor)", bare]
] as const

interface Row {
  readonly name: string
  readonly overheadUs: number
  readonly cpu1: number
  readonly cpu2: number
}

const tiny = Array.from({ length: TINY_TASKS }, (_, i) => i)
const cpu = Array.from({ length: CPU_TASKS }, () => BURN_ROUNDS)
const startLoad = os.loadavg()[0]!

// Every pool is started first; then the rounds interleave the contenders
// (in a rotating order), so that a burst of other work on the machine hits
// them all alike instead of skewing whichever ran at that moment.
const pools = []
for (const [name, make] of contenders) {
  pools.push({
    name,
    two: await make(2),
    one: await make(1),
    overhead: [] as Array<number>,
    cpu1: [] as Array<number>,
    cpu2: [] as Array<number>
  })
}
for (const pool of pools) {
  // warm-up
  await pool.two.run("noop", tiny)
  await pool.two.run("burn", cpu.slice(0, 4))
  await pool.one.run("burn", cpu.slice(0, 2))
}
for (let round = 0; round < REPEATS; round++) {
  for (let k = 0; k < pools.length; k++) {
    const pool = pools[(round + k) % pools.length]!
    pool.overhead.push(await time(pool.two, "noop", tiny))
    pool.cpu2.push(await time(pool.two, "burn", cpu))
    pool.cpu1.push(await time(pool.one, "burn", cpu))
  }
}
const rows: Array<Row> = []
for (const pool of pools) {
  await pool.two.close()
  await pool.one.close()
  const row = {
    name: pool.name,
    overheadUs: median(pool.overhead) * 1000 / TINY_TASKS,
    cpu1: median(pool.cpu1),
    cpu2: median(pool.cpu2)
  }
  rows.push(row)
  console.log(
    `${row.name}: ${row.overheadUs.toFixed(1)} µs/task, CPU ${row.cpu1.toFixed(0)} ms on 1 thread, ${
      row.cpu2.toFixed(0)
    } ms on 2`
  )
}
const endLoad = os.loadavg()[0]!

const piscinaRow = rows.find((row) => row.name === "piscina")!
const ours = rows[0]!
const overheadRatio = ours.overheadUs / piscinaRow.overheadUs
const speedup = ours.cpu1 / ours.cpu2

const fmt = (n: number, digits = 1) => n.toFixed(digits)
const bareRow = rows.find((row) => row.name.startsWith("bare"))!
const bareSpeedup = bareRow.cpu1 / bareRow.cpu2
const table = [
  "| pool | overhead per tiny task (2 threads) | vs piscina | CPU-bound, 1 thread | CPU-bound, 2 threads | speedup 2 vs 1 |",
  "| --- | ---: | ---: | ---: | ---: | ---: |",
  ...rows.map((row) =>
    `| ${row.name} | ${fmt(row.overheadUs)} µs | ${fmt(row.overheadUs / piscinaRow.overheadUs, 2)}x | ${
      fmt(row.cpu1, 0)
    } ms | ${fmt(row.cpu2, 0)} ms | ${fmt(row.cpu1 / row.cpu2, 2)}x |`
  )
].join("\n")

const report = `# @taskscope/node benchmark results

Written by \`bench/main.ts\` (\`pnpm bench\`)${quick ? " in quick mode (BENCH_QUICK=1: fewer tasks and rounds)" : ""}.
Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? "unknown CPU"}, Node ${process.version},
load average ${fmt(startLoad, 2)} at start and ${
  fmt(endLoad, 2)
} at the end (other work on the machine skews every row alike).

- Per-task overhead: ${TINY_TASKS} calls of a function that returns its input, all in flight at
  once on 2 threads; wall time / calls. WorkerExecutor submits each to an executor (exit rules,
  stats, a fiber per task), encodes and decodes payload and result with their Schemas.
- CPU-bound: ${CPU_TASKS} calls of a fixed hash loop (about 25 ms each, calibrated at start), on a
  pool of 1 thread and of 2 threads.
- The last row is no library at all: bare threads, one message in flight each. Its speedup is
  what two threads could reach on this machine during this run (other processes take their share
  of the two cores); its overhead is the bare cost of a round trip between threads.
- Each figure is the median of ${REPEATS} rounds, after a warm-up, threads started beforehand; the
  rounds interleave the pools so that other load on the machine falls on all of them alike.

${table}

Goals: per-task overhead within 1.5x of piscina — **${fmt(overheadRatio, 2)}x** (${
  overheadRatio <= 1.5 ? "met" : "not met"
});
CPU-bound speedup on 2 cores at least 1.8x over one thread — **${fmt(speedup, 2)}x** (${
  speedup >= 1.8 ? "met" : "not met"
});
bare threads reached ${fmt(bareSpeedup, 2)}x in the same run${
  bareSpeedup < 1.8 ? ", so the machine did not offer two free cores: the goal could not be judged in this run" : ""
}.
`
if (!process.argv.includes("--no-write")) writeFileSync(new URL("./RESULTS.md", import.meta.url), report)
console.log("\n" + table + "\n")
console.log(
  `overhead vs piscina: ${fmt(overheadRatio, 2)}x (goal <= 1.5x); speedup 2 vs 1 thread: ${
    fmt(speedup, 2)
  }x (goal >= 1.8x; bare threads: ${fmt(bareSpeedup, 2)}x)`
)

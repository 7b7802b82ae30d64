/**
 * WorkerExecutor against piscina and tinypool, on the same functions, in one
 * run: per-task overhead (many tiny tasks in flight) and CPU-bound throughput
 * (speedup of two threads over one). Prints a table and writes RESULTS.md.
 *
 *   pnpm --filter @taskscope/node bench          (or `pnpm bench` at the root)
 *   BENCH_QUICK=1 ...                            fewer rounds, for a smoke run
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

const quick = process.env.BENCH_QUICK === "1"
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

const taskscope = async (threads: number): Promise<Runner> => {
  const scope = Effect.runSync(Scope.make())
  const pool = Effect.runSync(Scope.provide(
    WorkerPool.make(tasks, { spawn: () => new Worker(workerUrl), maxConcurrency: threads }),
    scope
  ))
  await Effect.runPromise(pool.prestart)
  return {
    run: (name, payloads) =>
      Effect.runPromise(WorkerExecutor.scoped(pool, (executor) =>
        Effect.gen(function*() {
          const handles = []
          for (const n of payloads) handles.push(yield* executor.submit(name, n))
          for (const handle of handles) yield* Task.join(handle)
        }))),
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

const taskscopeBare = async (threads: number): Promise<Runner> => {
  const scope = Effect.runSync(Scope.make())
  const pool = Effect.runSync(Scope.provide(
    WorkerPool.make(tasks, { spawn: () => new Worker(workerUrl), maxConcurrency: threads }),
    scope
  ))
  await Effect.runPromise(pool.prestart)
  return {
    run: (name, payloads) =>
      Effect.runPromise(Effect.forEach(payloads, (n) => pool.call(name, n), { concurrency: "unbounded", discard: true })),
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

const piscina = async (threads: number): Promise<Runner> => {
  const pool = new Piscina({ filename: plainWorker, minThreads: threads, maxThreads: threads, idleTimeout: 60_000 })
  await Promise.all(Array.from({ length: threads * 2 }, (_, i) => pool.run(i, { name: "noop" })))
  return {
    run: async (name, payloads) => {
      await Promise.all(payloads.map((n) => pool.run(n, { name })))
    },
    close: () => pool.destroy()
  }
}

const tinypool = async (threads: number): Promise<Runner> => {
  const pool = new Tinypool({ filename: plainWorker, minThreads: threads, maxThreads: threads, idleTimeout: 60_000 })
  await Promise.all(Array.from({ length: threads * 2 }, (_, i) => pool.run(i, { name: "noop" })))
  return {
    run: async (name, payloads) => {
      await Promise.all(payloads.map((n) => pool.run(n, { name })))
    },
    close: () => pool.destroy()
  }
}

const median = (xs: ReadonlyArray<number>): number => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

/** Median wall time of `REPEATS` runs, after one warm-up run. */
const time = async (runner: Runner, name: "noop" | "burn", payloads: ReadonlyArray<number>): Promise<number> => {
  await runner.run(name, payloads)
  const samples: Array<number> = []
  for (let i = 0; i < REPEATS; i++) {
    const start = performance.now()
    await runner.run(name, payloads)
    samples.push(performance.now() - start)
  }
  return median(samples)
}

const contenders = [
  ["taskscope WorkerExecutor", taskscope],
  ["taskscope WorkerPool.call (no executor)", taskscopeBare],
  ["piscina", piscina],
  ["tinypool", tinypool]
] as const

interface Row {
  readonly name: string
  readonly overheadUs: number
  readonly cpu1: number
  readonly cpu2: number
}

const rows: Array<Row> = []
const tiny = Array.from({ length: TINY_TASKS }, (_, i) => i)
const cpu = Array.from({ length: CPU_TASKS }, () => BURN_ROUNDS)
const startLoad = os.loadavg()[0]!
for (const [name, make] of contenders) {
  const two = await make(2)
  const overhead = await time(two, "noop", tiny)
  const cpu2 = await time(two, "burn", cpu)
  await two.close()
  const one = await make(1)
  const cpu1 = await time(one, "burn", cpu)
  await one.close()
  rows.push({ name, overheadUs: overhead * 1000 / TINY_TASKS, cpu1, cpu2 })
  console.log(`${name}: ${(overhead * 1000 / TINY_TASKS).toFixed(1)} µs/task, CPU ${cpu1.toFixed(0)} ms on 1 thread, ${cpu2.toFixed(0)} ms on 2`)
}
const endLoad = os.loadavg()[0]!

const piscinaRow = rows.find((row) => row.name === "piscina")!
const ours = rows[0]!
const overheadRatio = ours.overheadUs / piscinaRow.overheadUs
const speedup = ours.cpu1 / ours.cpu2

const fmt = (n: number, digits = 1) => n.toFixed(digits)
const table = [
  "| pool | overhead per tiny task (2 threads) | vs piscina | CPU-bound, 1 thread | CPU-bound, 2 threads | speedup 2 vs 1 |",
  "| --- | ---: | ---: | ---: | ---: | ---: |",
  ...rows.map((row) =>
    `| ${row.name} | ${fmt(row.overheadUs)} µs | ${fmt(row.overheadUs / piscinaRow.overheadUs, 2)}x | ${fmt(row.cpu1, 0)} ms | ${fmt(row.cpu2, 0)} ms | ${fmt(row.cpu1 / row.cpu2, 2)}x |`
  )
].join("\n")

const report = `# @taskscope/node benchmark results

Written by \`bench/main.ts\` (\`pnpm bench\`)${quick ? " in quick mode (BENCH_QUICK=1: fewer tasks and rounds)" : ""}.
Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? "unknown CPU"}, Node ${process.version},
load average ${fmt(startLoad, 2)} at start and ${fmt(endLoad, 2)} at the end (other work on the machine skews every row alike).

- Per-task overhead: ${TINY_TASKS} calls of a function that returns its input, all in flight at
  once on 2 threads; wall time / calls. WorkerExecutor submits each to an executor (exit rules,
  stats, a fiber per task), encodes and decodes payload and result with their Schemas.
- CPU-bound: ${CPU_TASKS} calls of a fixed hash loop (about 25 ms each, calibrated at start), on a
  pool of 1 thread and of 2 threads.
- Each figure is the median of ${REPEATS} runs after one warm-up run, threads started beforehand.

${table}

Goals: per-task overhead within 1.5x of piscina — **${fmt(overheadRatio, 2)}x** (${overheadRatio <= 1.5 ? "met" : "not met"});
CPU-bound speedup on 2 cores at least 1.8x over one thread — **${fmt(speedup, 2)}x** (${speedup >= 1.8 ? "met" : "not met"}).
`
writeFileSync(new URL("./RESULTS.md", import.meta.url), report)
console.log("\n" + table + "\n")
console.log(`overhead vs piscina: ${fmt(overheadRatio, 2)}x (goal <= 1.5x); speedup 2 vs 1 thread: ${fmt(speedup, 2)}x (goal >= 1.8x)`)

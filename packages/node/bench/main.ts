/**
 * WorkerExecutor against piscina and tinypool, on the same functions, in one
 * run: per-task overhead (2,000 and 20,000 tiny tasks in flight), throughput
 * of 100,000 tiny tasks, and CPU-bound throughput (speedup of two threads
 * over one). Every figure is taken in rounds that interleave the pools; each
 * is reported as the median over the rounds with its range, and the ratio to
 * piscina as the median of the same-round ratios. Prints the tables and
 * writes RESULTS.md.
 *
 *   pnpm --filter @taskscope/node bench          (or `pnpm bench` at the root)
 *   BENCH_QUICK=1 ... (or --quick)               fewer rounds, for a smoke run
 *   --no-write                                   print only; leave RESULTS.md as it is
 */
import { Task } from "@taskscope/executor"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import { readFileSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import { Worker } from "node:worker_threads"
import { Piscina } from "piscina"
import { Tinypool } from "tinypool"
import * as WorkerExecutor from "../src/WorkerExecutor.ts"
import * as WorkerPool from "../src/WorkerPool.ts"
import { tasks } from "./fixtures/tasks.ts"
import { burn } from "./fixtures/work.ts"

const quick = process.env.BENCH_QUICK === "1" || process.argv.includes("--quick")
const SIZES = quick ? [2_000] : [2_000, 20_000]
const THROUGHPUT_TASKS = quick ? 10_000 : 100_000
const CPU_TASKS = quick ? 8 : 32
const REPEATS = Number(process.env.BENCH_ROUNDS ?? (quick ? 2 : 5))
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

/** WorkerExecutor on a pool of `threads`; `maxConcurrency` defaults to the number of threads. */
const taskscope = (maxConcurrency?: number) => async (threads: number): Promise<Runner> => {
  const { close, pool } = await startPool(threads)
  return {
    run: (name, payloads) =>
      Effect.runPromise(WorkerExecutor.scoped(pool, (executor) =>
        Effect.gen(function*() {
          const handles = []
          for (const n of payloads) handles.push(yield* executor.submit(name, n))
          for (const handle of handles) yield* Task.join(handle)
        }), { maxConcurrency })),
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
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** Main-thread CPU (µs) of the last `time` call: what the pool costs the thread that submits. */
let lastCpu = 0

// Every pool runs in this one process, so the garbage one leaves behind is
// collected during whichever run next fills the heap (most often the one that
// allocates most). A full collection before each timed run makes every run
// start from a clean heap and pay for its own garbage only.
setFlagsFromString("--expose-gc")
const collectGarbage = runInNewContext("gc") as () => void

const time = async (runner: Runner, name: "noop" | "burn", payloads: ReadonlyArray<number>): Promise<number> => {
  collectGarbage()
  const cpuBefore = process.threadCpuUsage()
  const start = performance.now()
  await runner.run(name, payloads)
  const took = performance.now() - start
  const cpuUsed = process.threadCpuUsage(cpuBefore)
  lastCpu = cpuUsed.user + cpuUsed.system
  return took
}

const contenders = [
  ["taskscope WorkerExecutor", taskscope()],
  ["taskscope WorkerExecutor, maxConcurrency 64 on the shared pool", taskscope(64)],
  ["taskscope WorkerPool.call (no executor)", taskscopeBare],
  ["piscina", piscina],
  ["tinypool", tinypool],
  ["bare worker_threads (no library, the floor)", bare]
] as const

const tinyOf = (n: number) => Array.from({ length: n }, (_, i) => i)
const cpu = Array.from({ length: CPU_TASKS }, () => BURN_ROUNDS)
const startLoad = os.loadavg()[0]!

/** Per pool, per measure: one figure per round. */
interface Samples {
  readonly name: string
  readonly two: Runner
  readonly one: Runner
  /** µs per task, by size */
  readonly overhead: Array<Array<number>>
  /** main-thread CPU µs per task, by size */
  readonly mainCpu: Array<Array<number>>
  /** tasks per second */
  readonly throughput: Array<number>
  readonly cpu1: Array<number>
  readonly cpu2: Array<number>
}

// Every pool is started first; then the rounds interleave the contenders
// (in a rotating order), so that a burst of other work on the machine hits
// them all alike instead of skewing whichever ran at that moment.
const pools: Array<Samples> = []
for (const [name, make] of contenders) {
  pools.push({
    name,
    two: await make(2),
    one: await make(1),
    overhead: SIZES.map(() => []),
    mainCpu: SIZES.map(() => []),
    throughput: [],
    cpu1: [],
    cpu2: []
  })
}
const throughputTasks = tinyOf(THROUGHPUT_TASKS)
/** One pass of every measure over `pool`, recorded or (warm-up) not. */
const measure = async (pool: Samples, record: boolean): Promise<void> => {
  const overhead = []
  const mainCpu: Array<number> = []
  for (const size of SIZES) {
    overhead.push(await time(pool.two, "noop", tinyOf(size)) * 1000 / size)
    mainCpu.push(lastCpu / size)
  }
  const throughput = THROUGHPUT_TASKS / (await time(pool.two, "noop", throughputTasks) / 1000)
  const cpu2 = await time(pool.two, "burn", cpu)
  const cpu1 = await time(pool.one, "burn", cpu)
  if (!record) return
  overhead.forEach((x, i) => pool.overhead[i]!.push(x))
  mainCpu.forEach((x, i) => pool.mainCpu[i]!.push(x))
  pool.throughput.push(throughput)
  pool.cpu2.push(cpu2)
  pool.cpu1.push(cpu1)
}
// warm-up: one unmeasured round, so that every pool's code (and the JIT's
// view of it) is settled before the rounds that count
for (const pool of pools) await measure(pool, false)
for (let round = 0; round < REPEATS; round++) {
  const loads = os.loadavg()[0]!
  for (let k = 0; k < pools.length; k++) await measure(pools[(round + k) % pools.length]!, true)
  console.log(`round ${round + 1}/${REPEATS} done (load average ${loads.toFixed(2)} at its start)`)
}
for (const pool of pools) {
  await pool.two.close()
  await pool.one.close()
}
const endLoad = os.loadavg()[0]!

const fmt = (n: number, digits = 1) => n.toFixed(digits)
const ours = pools[0]!
const piscinaPool = pools.find((pool) => pool.name === "piscina")!
const barePool = pools.find((pool) => pool.name.startsWith("bare"))!
/** The same-round ratios of `of` to `to`, by `pick`. */
const ratios = (of: Samples, to: Samples, pick: (s: Samples) => ReadonlyArray<number>) =>
  pick(of).map((x, i) => x / pick(to)[i]!)
const range = (xs: ReadonlyArray<number>, digits = 1) =>
  `${fmt(Math.min(...xs), digits)}–${fmt(Math.max(...xs), digits)}`
const speedups = (pool: Samples) => pool.cpu1.map((one, i) => one / pool.cpu2[i]!)

const overheadTable = [
  `| pool | ${SIZES.map((n) => `${n.toLocaleString("en")} in flight: µs/task (range)`).join(" | ")} | ${
    SIZES.map((n) => `vs piscina at ${n.toLocaleString("en")} (range)`).join(" | ")
  } | ${THROUGHPUT_TASKS.toLocaleString("en")} tiny tasks: tasks/s (range) |`,
  `| --- | ${SIZES.map(() => "---:").join(" | ")} | ${SIZES.map(() => "---:").join(" | ")} | ---: |`,
  ...pools.map((pool) => {
    const cells = SIZES.map((_, i) => `${fmt(median(pool.overhead[i]!))} (${range(pool.overhead[i]!)})`)
    const vs = SIZES.map((_, i) => {
      const r = ratios(pool, piscinaPool, (s) => s.overhead[i]!)
      return `${fmt(median(r), 2)}x (${range(r, 2)})`
    })
    return `| ${pool.name} | ${cells.join(" | ")} | ${vs.join(" | ")} | ${fmt(median(pool.throughput), 0)} (${
      range(pool.throughput, 0)
    }) |`
  })
].join("\n")

const mainCpuTable = [
  `| pool | ${SIZES.map((n) => `main-thread CPU per task, ${n.toLocaleString("en")} in flight (range)`).join(" | ")} |`,
  `| --- | ${SIZES.map(() => "---:").join(" | ")} |`,
  ...pools.map((pool) =>
    `| ${pool.name} | ${
      SIZES.map((_, i) => `${fmt(median(pool.mainCpu[i]!))} µs (${range(pool.mainCpu[i]!)})`).join(" | ")
    } |`
  )
].join("\n")

const cpuTable = [
  "| pool | CPU-bound, 1 thread | CPU-bound, 2 threads | speedup 2 vs 1 (range) | speedup vs bare threads' in the same round (range) |",
  "| --- | ---: | ---: | ---: | ---: |",
  ...pools.map((pool) => {
    const s = speedups(pool)
    const vsBare = s.map((x, i) => x / speedups(barePool)[i]!)
    return `| ${pool.name} | ${fmt(median(pool.cpu1), 0)} ms | ${fmt(median(pool.cpu2), 0)} ms | ${
      fmt(median(s), 2)
    }x (${range(s, 2)}) | ${fmt(median(vsBare), 2)} (${range(vsBare, 2)}) |`
  })
].join("\n")

const overheadGoal = SIZES.map((n, i) => {
  const r = ratios(ours, piscinaPool, (s) => s.overhead[i]!)
  const worst = Math.max(...r)
  return `at ${n.toLocaleString("en")} in flight **${fmt(median(r), 2)}x** (rounds ${range(r, 2)}): ${
    median(r) <= 1 ? (worst <= 1 ? "met in every round" : "met by the median, not in every round") : "not met"
  }`
}).join("; ")
const speedVsBare = speedups(ours).map((x, i) => x / speedups(barePool)[i]!)
const bareSpeedup = median(speedups(barePool))

const report = `# @taskscope/node benchmark results

Written by \`bench/main.ts\` (\`pnpm bench\`)${quick ? " in quick mode (BENCH_QUICK=1: fewer tasks and rounds)" : ""}.
Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? "unknown CPU"}, Node ${process.version},
load average ${fmt(startLoad, 2)} at start and ${
  fmt(endLoad, 2)
} at the end (other work on the machine skews every row alike).

- Per-task overhead: ${SIZES.map((n) => n.toLocaleString("en")).join(" and ")} calls of a function that returns its
  input, all in flight at once on 2 threads; wall time / calls. WorkerExecutor submits each to an
  executor (exit rules, stats, a fiber and a span per task; at most 2 running, as many as threads),
  encodes and decodes payload and result with their Schemas. The second row gives the executor a
  \`maxConcurrency\` of 64 on the same 2-thread pool: its running tasks then wait on the threads,
  which take them in batches (not the configuration the goal is judged on).
- Throughput: ${THROUGHPUT_TASKS.toLocaleString("en")} such calls, all in flight at once on 2 threads; calls per second.
- CPU-bound: ${CPU_TASKS} calls of a fixed hash loop (about 25 ms each, calibrated at start), on a
  pool of 1 thread and of 2 threads.
- The last row is no library at all: bare threads, one message in flight each. Its speedup is
  what two threads could reach on this machine during this run (other processes take their share
  of the two cores); its overhead is the bare cost of a round trip between threads.
- A full garbage collection before every timed run: all pools share this process, and each run
  should pay for its own garbage, not for what the pool before it left.
- ${REPEATS} rounds after a warm-up round that is not counted, threads started beforehand; each round runs every pool in turn
  (rotating the order), so that other load on the machine falls on all of them alike. A figure is
  the median over the rounds, with the range in brackets; a ratio is the median (and range) of the
  ratios taken within each round.

${overheadTable}

What each pool costs the main thread (its CPU time, \`process.threadCpuUsage\`, over the same runs,
per task): less sensitive to other load than wall time, which also waits for the threads to be
scheduled.

${mainCpuTable}

${cpuTable}

Goals (issue 11): per-task overhead at or below piscina's in the same run — ${overheadGoal}.
CPU-bound speedup within 5% of bare threads' in the same run — **${
  fmt(median(speedVsBare), 2)
}** of bare threads' (rounds ${range(speedVsBare, 2)}): ${median(speedVsBare) >= 0.95 ? "met" : "not met"}${
  bareSpeedup < 1.8
    ? `; bare threads reached only ${fmt(bareSpeedup, 2)}x, so the machine did not offer two free cores during this run`
    : ""
}.
`
// the profile's notes (bench/PROFILE.md, written by hand from bench/profile.ts runs) close the report
const notes = readFileSync(new URL("./PROFILE.md", import.meta.url), "utf8")
if (!process.argv.includes("--no-write")) writeFileSync(new URL("./RESULTS.md", import.meta.url), `${report}\n${notes}`)
console.log("\n" + overheadTable + "\n\n" + mainCpuTable + "\n\n" + cpuTable + "\n")
console.log(report.slice(report.indexOf("Goals")))

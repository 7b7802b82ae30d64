/**
 * WorkerExecutor against piscina, tinypool and bare threads, on the same
 * functions, in one run: per-task overhead (2,000 and 20,000 tiny tasks in
 * flight), throughput of 100,000 tiny tasks, and CPU-bound throughput
 * (speedup of two threads over one).
 *
 * Each pool is measured in fresh Node processes of its own (one per pool per
 * round and part: the per-task overhead, then throughput and CPU-bound work),
 * so that no pool runs on a heap, a JIT state or idle threads another pool
 * left behind; the rounds interleave the pools in a rotating order, so that a
 * burst of other load on the machine falls on all of them alike, and a
 * round's overhead processes last a few seconds each, so that the pools it
 * compares ran close together. Within its process a pool is warmed up, then
 * each overhead measure is repeated and its median kept. Every figure is reported as the median over the rounds
 * with its range, and a ratio to piscina as the median of the same-round
 * ratios. Wall time, the main thread's CPU time and the whole process's CPU
 * time (its threads included) are all recorded: CPU time is much less
 * sensitive than wall time to what else runs on the machine. Prints the
 * tables and writes RESULTS.md.
 *
 *   pnpm --filter @taskscope/node bench          (or `pnpm bench` at the root)
 *   BENCH_QUICK=1 ... (or --quick)               fewer tasks and rounds, for a smoke run
 *   BENCH_ROUNDS=n                               overhead rounds (default 5; 3 in quick mode)
 *   BENCH_LOAD_ROUNDS=n                          throughput and CPU-bound rounds (default 3; 2 in quick mode)
 *   BENCH_ONLY=taskscope,piscina                 only the pools whose names start so
 *   BENCH_BASELINE=/path/to/packages/node        adds that checkout's WorkerExecutor as a pool
 *   --no-write                                   print only; leave RESULTS.md as it is
 */
import { execFile, execFileSync } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import { fileURLToPath, pathToFileURL } from "node:url"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import { Worker } from "node:worker_threads"
import { Piscina } from "piscina"
import { Tinypool } from "tinypool"
import { burn } from "./fixtures/work.ts"

const quick = process.env.BENCH_QUICK === "1" || process.argv.includes("--quick")
const SIZES = quick ? [2_000] : [2_000, 20_000]
/** Timed repetitions (median kept) of each size within one process. */
const REPEATS_OF_SIZE = [5, 3]
const THROUGHPUT_TASKS = quick ? 10_000 : 100_000
const CPU_TASKS = quick ? 8 : 16
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (quick ? 3 : 5))
const LOAD_ROUNDS = Number(process.env.BENCH_LOAD_ROUNDS ?? (quick ? 2 : 3))
const here = new URL(".", import.meta.url)

// -----------------------------------------------------------------------------
// the pools
// -----------------------------------------------------------------------------

/** One pool under test: run calls of `name`, all in flight at once. */
interface Runner {
  readonly run: (name: "noop" | "burn", payloads: ReadonlyArray<number>) => Promise<void>
  readonly close: () => Promise<void>
}

type Make = (threads: number) => Promise<Runner>

/**
 * The taskscope modules of a checkout's `packages/node` (this one, or a
 * baseline's), each with the Effect and executor modules that checkout
 * resolves, so that a baseline runs entirely on its own code.
 */
const taskscopeOf = async (dir: URL) => {
  const resolve = createRequire(new URL("package.json", dir)).resolve
  const load = <M>(specifier: string): Promise<M> => import(pathToFileURL(resolve(specifier)).href) as Promise<M>
  const Effect = await load<typeof import("effect/Effect")>("effect/Effect")
  const Exit = await load<typeof import("effect/Exit")>("effect/Exit")
  const Scope = await load<typeof import("effect/Scope")>("effect/Scope")
  const { Task } = await load<typeof import("@taskscope/executor")>("@taskscope/executor")
  const WorkerExecutor = await import(
    new URL("src/WorkerExecutor.ts", dir).href
  ) as typeof import("../src/WorkerExecutor.ts")
  const WorkerPool = await import(new URL("src/WorkerPool.ts", dir).href) as typeof import("../src/WorkerPool.ts")
  const { tasks } = await import(new URL("bench/fixtures/tasks.ts", dir).href) as typeof import("./fixtures/tasks.ts")
  const workerUrl = new URL("bench/fixtures/worker.ts", dir)
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
  const executor = (maxConcurrency?: number): Make => async (threads) => {
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
  const call: Make = async (threads) => {
    const { close, pool } = await startPool(threads)
    return {
      run: (name, payloads) =>
        Effect.runPromise(
          Effect.forEach(payloads, (n) => pool.call(name, n), { concurrency: "unbounded", discard: true })
        ),
      close
    }
  }
  return { executor, call }
}

/** piscina and tinypool share one API: a pool of `threads`, warmed up, then `run(payload, { name })`. */
const libraryPool = (Pool: typeof Piscina | typeof Tinypool): Make => async (threads) => {
  const filename = new URL("fixtures/plain-worker.ts", here).href
  const pool = new Pool({ filename, minThreads: threads, maxThreads: threads, idleTimeout: 60_000 })
  await Promise.all(Array.from({ length: threads * 2 }, (_, i) => pool.run(i, { name: "noop" })))
  return {
    run: async (name, payloads) => {
      await Promise.all(payloads.map((n) => pool.run(n, { name })))
    },
    close: () => pool.destroy()
  }
}

/**
 * Bare threads, no library: one message in flight per thread, the next sent
 * when a reply comes back. It shows what the machine allows at the moment of
 * the run (how much two threads can speed up, what a round trip costs).
 */
const bare: Make = async (threads) => {
  const workers = Array.from({ length: threads }, () => new Worker(new URL("fixtures/raw-worker.ts", here)))
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

const baseline = process.env.BENCH_BASELINE
/** The baseline's commit, for the report. */
const baselineRevision = (): string => {
  try {
    return execFileSync("git", ["-C", baseline!, "log", "-1", "--format=%h (%cs)"], { encoding: "utf8" }).trim()
  } catch {
    return "not a git checkout"
  }
}
const contenders: ReadonlyArray<readonly [string, () => Promise<Make>]> = [
  ["taskscope WorkerExecutor", async () => (await taskscopeOf(new URL("..", here))).executor()],
  ...(baseline === undefined ? [] : [
    [
      "taskscope WorkerExecutor, baseline (BENCH_BASELINE)",
      async () => (await taskscopeOf(pathToFileURL(baseline.endsWith("/") ? baseline : `${baseline}/`))).executor()
    ] as const
  ]),
  ["taskscope WorkerPool.call (no executor)", async () => (await taskscopeOf(new URL("..", here))).call],
  ["piscina", async () => libraryPool(Piscina)],
  ["tinypool", async () => libraryPool(Tinypool)],
  ["bare worker_threads (no library, the floor)", async () => bare]
]

// -----------------------------------------------------------------------------
// one pool, in a process of its own
// -----------------------------------------------------------------------------

/** Wall time, main-thread CPU and whole-process CPU of one run, per task (µs). */
interface Cost {
  readonly wall: number
  readonly main: number
  readonly process: number
}

/** What one process measured of one pool's per-task overhead, by size. */
type OverheadSample = ReadonlyArray<Cost>

/** What one process measured of one pool under load. */
interface LoadSample {
  /** tasks per second */
  readonly throughput: number
  /** ms */
  readonly cpu1: number
  readonly cpu2: number
}

const median = (xs: ReadonlyArray<number>): number => {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

const tinyOf = (n: number) => Array.from({ length: n }, (_, i) => i)

/** Times one run; a full collection first, so that each run pays for its own garbage only. */
const timer = () => {
  setFlagsFromString("--expose-gc")
  const collectGarbage = runInNewContext("gc") as () => void
  return async (runner: Runner, name: "noop" | "burn", payloads: ReadonlyArray<number>): Promise<Cost> => {
    collectGarbage()
    const main = process.threadCpuUsage()
    const whole = process.cpuUsage()
    const start = performance.now()
    await runner.run(name, payloads)
    const wall = (performance.now() - start) * 1000
    const usedMain = process.threadCpuUsage(main)
    const usedWhole = process.cpuUsage(whole)
    const n = payloads.length
    return {
      wall: wall / n,
      main: (usedMain.user + usedMain.system) / n,
      process: (usedWhole.user + usedWhole.system) / n
    }
  }
}

const measureOverhead = async (make: Make): Promise<OverheadSample> => {
  const time = timer()
  const two = await make(2)
  // warm-up, not counted: every code path (and the JIT's view of it) settled first
  for (const size of SIZES) await time(two, "noop", tinyOf(size))
  const overhead: Array<Cost> = []
  for (let i = 0; i < SIZES.length; i++) {
    const runs: Array<Cost> = []
    for (let k = 0; k < REPEATS_OF_SIZE[i]!; k++) runs.push(await time(two, "noop", tinyOf(SIZES[i]!)))
    overhead.push({
      wall: median(runs.map((c) => c.wall)),
      main: median(runs.map((c) => c.main)),
      process: median(runs.map((c) => c.process))
    })
  }
  await two.close()
  return overhead
}

const measureLoad = async (make: Make, burnRounds: number): Promise<LoadSample> => {
  const time = timer()
  const two = await make(2)
  const one = await make(1)
  const cpu = Array.from({ length: CPU_TASKS }, () => burnRounds)
  await time(two, "noop", tinyOf(THROUGHPUT_TASKS / 10))
  await time(two, "burn", cpu.slice(0, 4))
  await time(one, "burn", cpu.slice(0, 2))
  const throughput = 1e6 / (await time(two, "noop", tinyOf(THROUGHPUT_TASKS))).wall
  const cpu2 = (await time(two, "burn", cpu)).wall * CPU_TASKS / 1000
  const cpu1 = (await time(one, "burn", cpu)).wall * CPU_TASKS / 1000
  await two.close()
  await one.close()
  return { throughput, cpu1, cpu2 }
}

const argument = (name: string) => process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3)
const childIndex = argument("child")
if (childIndex !== undefined) {
  const make = await contenders[Number(childIndex)]![1]()
  const sample = argument("part") === "overhead"
    ? await measureOverhead(make)
    : await measureLoad(make, Number(argument("burn")))
  process.stdout.write(JSON.stringify(sample) + "\n")
  process.exit(0)
}

// -----------------------------------------------------------------------------
// the run: rounds of one process per pool
// -----------------------------------------------------------------------------

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
// every process runs the very same CPU-bound calls
const BURN_ROUNDS = calibrate(25)

const runAlone = <A>(index: number, part: "overhead" | "load"): Promise<A> =>
  new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [
        ...process.execArgv,
        fileURLToPath(import.meta.url),
        `--child=${index}`,
        `--part=${part}`,
        `--burn=${BURN_ROUNDS}`,
        ...(quick ? ["--quick"] : [])
      ],
      { maxBuffer: 1 << 20 },
      (error, stdout, stderr) => {
        if (error !== null) return reject(new Error(`${contenders[index]![0]}: ${error.message}\n${stderr}`))
        resolve(JSON.parse(stdout.trim().split("\n").pop()!) as A)
      }
    )
  })

const only = process.env.BENCH_ONLY?.split(",")
const chosen = contenders.map((_, i) => i).filter((i) =>
  only === undefined || only.some((prefix) => contenders[i]![0].startsWith(prefix))
)
if (!chosen.some((i) => contenders[i]![0] === "piscina")) {
  throw new Error("BENCH_ONLY must keep piscina: every ratio is taken against it")
}
const overheads = new Map<number, Array<OverheadSample>>(chosen.map((i) => [i, []]))
const loadSamples = new Map<number, Array<LoadSample>>(chosen.map((i) => [i, []]))
const startLoad = os.loadavg()
const loads: Array<number> = []
/** Runs every chosen pool once in `part`, in an order rotated by `round`. */
const round = async (part: "overhead" | "load", r: number, rounds: number): Promise<void> => {
  loads.push(os.loadavg()[0]!)
  for (let k = 0; k < chosen.length; k++) {
    const index = chosen[(r + k) % chosen.length]!
    if (part === "overhead") overheads.get(index)!.push(await runAlone(index, part))
    else loadSamples.get(index)!.push(await runAlone(index, part))
  }
  console.log(`${part} round ${r + 1}/${rounds} done (load average ${loads.at(-1)!.toFixed(2)} at its start)`)
}
for (let r = 0; r < ROUNDS; r++) await round("overhead", r, ROUNDS)
for (let r = 0; r < LOAD_ROUNDS; r++) await round("load", r, LOAD_ROUNDS)
const endLoad = os.loadavg()

// -----------------------------------------------------------------------------
// the report
// -----------------------------------------------------------------------------

interface Pool {
  readonly name: string
  readonly overhead: ReadonlyArray<OverheadSample>
  readonly load: ReadonlyArray<LoadSample>
}
const pools: ReadonlyArray<Pool> = chosen.map((i) => ({
  name: contenders[i]![0],
  overhead: overheads.get(i)!,
  load: loadSamples.get(i)!
}))
const fmt = (n: number, digits = 1) => n.toFixed(digits)
const ours = pools[0]!
const piscinaPool = pools.find((pool) => pool.name === "piscina")!
const barePool = pools.find((pool) => pool.name.startsWith("bare"))
const range = (xs: ReadonlyArray<number>, digits = 1) =>
  `${fmt(Math.min(...xs), digits)}–${fmt(Math.max(...xs), digits)}`
const cell = (xs: ReadonlyArray<number>, digits = 1) => `${fmt(median(xs), digits)} (${range(xs, digits)})`
/** The same-round ratios of `of` to `to`, by `pick`. */
const ratios = (of: Pool, to: Pool, pick: (s: OverheadSample) => number) =>
  of.overhead.map((s, i) => pick(s) / pick(to.overhead[i]!))
const ratioCell = (xs: ReadonlyArray<number>) => `${fmt(median(xs), 2)}x (${range(xs, 2)})`
const speedups = (pool: Pool) => pool.load.map((s) => s.cpu1 / s.cpu2)
const sizeName = (n: number) => n.toLocaleString("en")
const costOf = (key: keyof Cost, i: number) => (s: OverheadSample) => s[i]![key]

const overheadTable = [
  `| pool | ${SIZES.map((n) => `${sizeName(n)} in flight: µs/task`).join(" | ")} | ${
    SIZES.map((n) => `vs piscina at ${sizeName(n)}`).join(" | ")
  } | ${sizeName(THROUGHPUT_TASKS)} tiny tasks: tasks/s |`,
  `| --- | ${SIZES.map(() => "---:").join(" | ")} | ${SIZES.map(() => "---:").join(" | ")} | ---: |`,
  ...pools.map((pool) =>
    `| ${pool.name} | ${SIZES.map((_, i) => cell(pool.overhead.map(costOf("wall", i)))).join(" | ")} | ${
      SIZES.map((_, i) => ratioCell(ratios(pool, piscinaPool, costOf("wall", i)))).join(" | ")
    } | ${cell(pool.load.map((s) => s.throughput), 0)} |`
  )
].join("\n")

const cpuCostTable = [
  `| pool | ${
    SIZES.map((n) => `${sizeName(n)}: main thread µs/task | vs piscina | whole process µs/task | vs piscina`).join(
      " | "
    )
  } |`,
  `| --- | ${SIZES.map(() => "---: | ---: | ---: | ---:").join(" | ")} |`,
  ...pools.map((pool) =>
    `| ${pool.name} | ${
      SIZES.map((_, i) =>
        [
          cell(pool.overhead.map(costOf("main", i))),
          ratioCell(ratios(pool, piscinaPool, costOf("main", i))),
          cell(pool.overhead.map(costOf("process", i))),
          ratioCell(ratios(pool, piscinaPool, costOf("process", i)))
        ].join(" | ")
      ).join(" | ")
    } |`
  )
].join("\n")

const cpuBoundTable = [
  `| pool | CPU-bound, 1 thread: ms | CPU-bound, 2 threads: ms | speedup 2 vs 1 | ${
    barePool === undefined ? "" : "speedup / bare threads' in the same round |"
  }`,
  `| --- | ---: | ---: | ---: |${barePool === undefined ? "" : " ---: |"}`,
  ...pools.map((pool) => {
    const s = speedups(pool)
    const vsBare = barePool === undefined ? [] : s.map((x, i) => x / speedups(barePool)[i]!)
    return `| ${pool.name} | ${cell(pool.load.map((r) => r.cpu1), 0)} | ${cell(pool.load.map((r) => r.cpu2), 0)} | ${
      cell(s, 2)
    } |${barePool === undefined ? "" : ` ${cell(vsBare, 2)} |`}`
  })
].join("\n")

const goalOf = (label: string, r: ReadonlyArray<number>) => {
  const worst = Math.max(...r)
  return `${label} **${fmt(median(r), 2)}x** (rounds ${range(r, 2)}): ${
    median(r) <= 1 ? (worst <= 1 ? "met in every round" : "met by the median, not in every round") : "not met"
  }`
}
const overheadGoal = SIZES.map((n, i) =>
  goalOf(`at ${sizeName(n)} in flight, wall time`, ratios(ours, piscinaPool, costOf("wall", i))) + "; " +
  goalOf("main-thread CPU", ratios(ours, piscinaPool, costOf("main", i)))
).join("; ")
const speedGoal = (() => {
  if (barePool === undefined) return "not measured (bare threads left out)"
  const vsBare = speedups(ours).map((x, i) => x / speedups(barePool)[i]!)
  const bareSpeedup = median(speedups(barePool))
  return `**${fmt(median(vsBare), 2)}** of bare threads' (rounds ${range(vsBare, 2)}): ${
    median(vsBare) >= 0.95 ? "met" : "not met"
  }${
    bareSpeedup < 1.8
      ? `; but bare threads reached only ${
        fmt(bareSpeedup, 2)
      }x, so the machine did not offer two free cores during this run and the goal cannot be judged from it`
      : ""
  }`
})()

const report = `# @taskscope/node benchmark results

Written by \`bench/main.ts\` (\`pnpm bench\`)${quick ? " in quick mode (BENCH_QUICK=1: fewer tasks and rounds)" : ""}.
Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? "unknown CPU"}, Node ${process.version}; load average
(1, 5, 15 min) ${startLoad.map((x) => fmt(x, 2)).join(", ")} at the start and ${
  endLoad.map((x) => fmt(x, 2)).join(", ")
} at the end, ${range(loads, 2)} at the start of the rounds (other work on the machine).

- Per-task overhead: ${SIZES.map(sizeName).join(" and ")} calls of a function that returns its input, all in
  flight at once on 2 threads; wall time / calls. WorkerExecutor submits each to an executor (exit
  rules, stats, a fiber per task; \`maxConcurrency\` 2, as many as threads, under which it runs up to
  16 calls per thread ahead while calls are tiny) and joins them all; payload and result go through
  their Schemas.${
  baseline === undefined ? "" : `
- The baseline row is the WorkerExecutor of another checkout (\`BENCH_BASELINE=${baseline}\`, at
  ${baselineRevision()}), with its own worker module, Effect and executor, measured the same way.`
}
- Throughput: ${sizeName(THROUGHPUT_TASKS)} such calls, all in flight at once on 2 threads; calls per second.
- CPU-bound: ${CPU_TASKS} calls of a fixed hash loop (about 25 ms each, calibrated once for the whole run), on a
  pool of 1 thread and of 2 threads.
- The last row is no library at all: bare threads, one message in flight each. Its speedup is what
  two threads could reach on this machine during this run (other processes take their share of the
  two cores); its overhead is the bare cost of a round trip between threads.
- ${ROUNDS} rounds of the overhead, then ${LOAD_ROUNDS} of throughput and CPU-bound work; in each, every pool runs in a
  fresh Node process of its own, one after the other in a rotating order. A process starts its
  threads, warms its measures up once (not counted), then times ${
  SIZES.map((n, i) => `${sizeName(n)} in flight ${REPEATS_OF_SIZE[i]} times`).join(" and ")
}
  (keeping the median), or the throughput and the CPU-bound runs once each, with a full garbage
  collection before every timed run. A figure is the median over the rounds, with the range in
  brackets; a ratio is the median (and range) of the ratios taken within each round.

${overheadTable}

CPU time per task over the same runs: the main thread's (\`process.threadCpuUsage\`: what the pool costs
the thread that submits) and the whole process's (\`process.cpuUsage\`: the worker threads included).
Much less sensitive than wall time to other load, which delays every wake-up of a thread.

${cpuCostTable}

${cpuBoundTable}

Goals (issue 11): per-task overhead at or below piscina's in the same run — ${overheadGoal}.
CPU-bound speedup within 5% of bare threads' in the same run — ${speedGoal}.
`
// the profile's notes (bench/PROFILE.md, written by hand from bench/profile.ts runs) close the report
const notes = readFileSync(new URL("./PROFILE.md", import.meta.url), "utf8")
if (!process.argv.includes("--no-write")) writeFileSync(new URL("./RESULTS.md", import.meta.url), `${report}\n${notes}`)
console.log("\n" + overheadTable + "\n\n" + cpuCostTable + "\n\n" + cpuBoundTable + "\n")
console.log(report.slice(report.indexOf("Goals")))

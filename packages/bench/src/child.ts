/**
 * One measurement in a fresh process: `node --expose-gc child.ts PEER WORKLOAD N`.
 * Prints one line `RESULT {json}` (a {@link Measurement}) and exits; fails
 * when not every task ran (or, in "close", when a held task ended normally).
 *
 * Time workloads first warm up ({@link WARMUP_ROUNDS} runs of
 * {@link WARMUP_TASKS} tasks), so that small sizes measure the code and not
 * the JIT compiler, and repeat small sizes {@link SMALL_REPS} times, reporting
 * the median (a 1e4 run lasts milliseconds). "memory" neither warms up nor
 * repeats: it measures the heap once all tasks are submitted, then exits.
 */
import { performance } from "node:perf_hooks"
import { getHeapStatistics } from "node:v8"
import { loadRunner, type RunWorkload } from "./peers.ts"
import type { WorkloadId } from "./workloads.ts"

/** What one child run reports. Times in ms, memory in bytes. */
export interface Measurement {
  /** From the first submission to the end of the workload. */
  readonly ms: number
  /** From the first submission until the last submission returned (absent for pull-based peers). */
  readonly submitMs?: number
  /** "close": from the start of closing until closed. */
  readonly closeMs?: number
  /** CPU time (user + system) of the process over `ms`: steadier than `ms` on a busy machine. */
  readonly cpuMs?: number
  /** "memory": heap growth after gc, once all tasks are submitted, per task. */
  readonly heapPerTask?: number
  /** Largest heapUsed seen (sampled every 10 ms and once all tasks are submitted). */
  readonly peakHeap: number
  /** The process's peak resident set size (`resourceUsage().maxRSS`). */
  readonly peakRss: number
}

type Times = Pick<Measurement, "ms" | "submitMs" | "closeMs" | "cpuMs">

const WARMUP_TASKS = 5000
const WARMUP_ROUNDS = 4
const SMALL = 1e4
const SMALL_REPS = 3

const gc = (): void => {
  const collect = (globalThis as { gc?: () => void }).gc
  if (collect === undefined) throw new Error("run the child with --expose-gc")
  collect()
}

let peakHeap = 0
const sample = (): void => {
  // cheaper than process.memoryUsage(), which also reads /proc for the RSS
  peakHeap = Math.max(peakHeap, getHeapStatistics().used_heap_size)
}

const report = (m: Times & Pick<Measurement, "heapPerTask">): void => {
  sample()
  const result: Measurement = { ...m, peakHeap, peakRss: process.resourceUsage().maxRSS * 1024 }
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`)
}

/** Runs a time workload once and checks that every task ran. */
const timeOnce = async (run: RunWorkload, w: WorkloadId, n: number): Promise<Times> => {
  let submittedAt = 0
  const counter = { done: 0 }
  const cpu = process.cpuUsage()
  const start = performance.now()
  await run(w, n, counter, { submitted: () => (submittedAt = performance.now()) })
  const end = performance.now()
  const used = process.cpuUsage(cpu)
  const cpuMs = (used.user + used.system) / 1000
  const expected = w === "close" ? 0 : n
  if (counter.done !== expected) throw new Error(`${counter.done} tasks ended, expected ${expected}`)
  const submitted = submittedAt === 0 ? {} : { submitMs: submittedAt - start }
  return w === "close"
    ? { ms: end - start, ...submitted, closeMs: end - submittedAt, cpuMs }
    : { ms: end - start, ...submitted, cpuMs }
}

/** Submits n held tasks, then reports heap growth per task and exits (the tasks never end). */
const memory = (run: RunWorkload, n: number): Promise<void> => {
  const base = process.memoryUsage().heapUsed
  const start = performance.now()
  return run("memory", n, { done: 0 }, {
    submitted: () => {
      const ms = performance.now() - start
      sample()
      gc()
      report({ ms, submitMs: ms, heapPerTask: (process.memoryUsage().heapUsed - base) / n })
      process.exit(0)
    }
  })
}

const median = <A>(items: ReadonlyArray<A>, by: (a: A) => number): A =>
  [...items].sort((a, b) => by(a) - by(b))[items.length >> 1]!

const main = async (): Promise<void> => {
  const [peerId = "", w = "", size = ""] = process.argv.slice(2)
  const run = await loadRunner(peerId)
  const workload = w as WorkloadId
  const n = Number(size)

  if (workload !== "memory") {
    for (let i = 0; i < WARMUP_ROUNDS; i++) {
      await run(workload, Math.min(WARMUP_TASKS, n), { done: 0 }, { submitted: () => {} })
    }
  }
  gc()
  peakHeap = process.memoryUsage().heapUsed
  const sampler = setInterval(sample, 10)
  sampler.unref()
  if (workload === "memory") return memory(run, n)

  const windowStart = process.hrtime.bigint() / 1000n
  const reps: Array<Times> = []
  for (let i = 0; i < (n <= SMALL ? SMALL_REPS : 1); i++) reps.push(await timeOnce(run, workload, n))
  // the measured window on the profiler's clock (µs of hrtime), for --profile
  process.stderr.write(`WINDOW ${windowStart} ${process.hrtime.bigint() / 1000n}\n`)
  clearInterval(sampler)
  report(median(reps, (t) => t.closeMs ?? t.ms))
  process.exit(0)
}

await main()

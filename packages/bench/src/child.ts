/**
 * One measurement in a fresh process: `node --expose-gc child.ts PEER WORKLOAD N`.
 * Prints one line `RESULT {json}` (a {@link Measurement}) and exits; fails
 * when not every task ran (or, in "close", when a held task ended normally).
 *
 * Time workloads first warm up with a small run of the same workload, so the
 * smallest sizes are not dominated by cold code; "memory" does not warm up.
 */
import { performance } from "node:perf_hooks"
import { getHeapStatistics } from "node:v8"
import { loadRunner } from "./peers.ts"
import type { WorkloadId } from "./workloads.ts"

/** What one child run reports. Times in ms, memory in bytes. */
export interface Measurement {
  /** From the first submission to the end of the workload. */
  readonly ms: number
  /** From the first submission until the last submission returned (absent for pull-based peers). */
  readonly submitMs?: number
  /** "close": from the start of closing until closed. */
  readonly closeMs?: number
  /** "memory": heap growth after gc, once all tasks are submitted, per task. */
  readonly heapPerTask?: number
  /** Largest heapUsed seen (sampled every 10 ms and once all tasks are submitted). */
  readonly peakHeap: number
  /** The process's peak resident set size (`resourceUsage().maxRSS`). */
  readonly peakRss: number
}

const WARMUP = 5000

const gc = (): void => {
  const collect = (globalThis as { gc?: () => void }).gc
  if (collect === undefined) throw new Error("run the child with --expose-gc")
  collect()
}

const main = async (): Promise<void> => {
  const [peerId = "", w = "", size = ""] = process.argv.slice(2)
  const run = await loadRunner(peerId)
  const workload = w as WorkloadId
  const n = Number(size)
  const noop = { submitted: () => {} }

  if (workload !== "memory") await run(workload, Math.min(WARMUP, n), { done: 0 }, noop)
  gc()
  const base = process.memoryUsage().heapUsed
  let peakHeap = base
  const sample = (): void => {
    // cheaper than process.memoryUsage(), which also reads /proc for the RSS
    peakHeap = Math.max(peakHeap, getHeapStatistics().used_heap_size)
  }
  const sampler = setInterval(sample, 10)
  sampler.unref()

  const report = (m: Omit<Measurement, "peakHeap" | "peakRss">): void => {
    sample()
    const result: Measurement = { ...m, peakHeap, peakRss: process.resourceUsage().maxRSS * 1024 }
    process.stdout.write(`RESULT ${JSON.stringify(result)}\n`)
  }

  let submittedAt = 0
  const windowStart = process.hrtime.bigint() / 1000n
  const start = performance.now()
  const counter = { done: 0 }
  const promise = run(workload, n, counter, {
    submitted: () => {
      submittedAt = performance.now()
      if (workload !== "memory") return
      sample()
      gc()
      const heapPerTask = (process.memoryUsage().heapUsed - base) / n
      report({ ms: submittedAt - start, submitMs: submittedAt - start, heapPerTask })
      process.exit(0)
    }
  })
  await promise
  const end = performance.now()
  clearInterval(sampler)
  // the measured window on the profiler's clock (µs of hrtime), for --profile
  process.stderr.write(`WINDOW ${windowStart} ${process.hrtime.bigint() / 1000n}\n`)
  const expected = workload === "close" ? 0 : n
  if (counter.done !== expected) throw new Error(`${counter.done} tasks ended, expected ${expected}`)
  const submitted = submittedAt === 0 ? {} : { submitMs: submittedAt - start }
  report(workload === "close" ? { ms: end - start, ...submitted, closeMs: end - submittedAt } : { ms: end - start, ...submitted })
  process.exit(0)
}

await main()

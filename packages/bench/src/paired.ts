/**
 * The executor's default path against earlier commits, measured in pairs
 * inside one process: a sharper tool than `baseline.ts` for differences of a
 * few per cent.
 *
 * Fresh processes differ from one another by more than that (where V8 puts
 * and how it compiles the same code, what else the machine runs at that
 * moment), so `baseline.ts`'s medians of separate processes move by up to
 * 10% between identical builds here. This script loads every variant into
 * one process — each commit's copy of the executor's sources from
 * `packages/bench/.baseline/<commit>/` (separate modules, so separate
 * compiled code), today's, and today's with `metrics: false` — and times
 * them in turn, the order rotating, `--runs` times each; the process reports
 * the median time per task of each, and the ratio to the first variant is
 * taken *within* the process. Over `--procs` processes it prints the median
 * of those ratios and their range. Two copies of one commit come out within
 * 1% of each other this way (ranges of ±5% per process).
 *
 *   node packages/bench/src/paired.ts [--commit <sha>]... [--procs 21] [--runs 15] [--fifo]
 *
 * (a) is trivial tasks, 5e4 per run; (b) I/O-like ones (each waits for
 * `setImmediate`), 2e4 per run; concurrency 100, as in `baseline.ts`.
 */
import { spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { copySource, extractCopies, todaySource, workload } from "./copies.ts"

const here = fileURLToPath(new URL(".", import.meta.url))

/** A variant: where its executor comes from, and its executor options. */
interface Variant {
  readonly label: string
  readonly source: string
  readonly metrics: boolean
}

const SIZES = { trivial: 50_000, suspend: 20_000 } as const
type Workload = keyof typeof SIZES

const median = (xs: ReadonlyArray<number>): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

/** One process: every variant, `runs` times each, in rotating order; prints the medians (ns per task). */
const child = async (variants: ReadonlyArray<Variant>, kind: Workload, runs: number): Promise<void> => {
  const runners = await Promise.all(variants.map(({ metrics, source }) => workload(source, kind, metrics)))
  const n = SIZES[kind]
  for (let warm = 0; warm < 3; warm++) for (const { run } of runners) await run(n / 2)
  const times = runners.map((): Array<number> => [])
  for (let round = 0; round < runs; round++) {
    for (let j = 0; j < runners.length; j++) {
      const i = (j + round) % runners.length
      const { done, reset, run } = runners[i]!
      reset()
      const start = performance.now()
      await run(n)
      times[i]!.push(((performance.now() - start) * 1e6) / n)
      if (done() !== n) throw new Error(`${variants[i]!.label}: ${done()} of ${n} tasks ran`)
    }
  }
  console.log(JSON.stringify(times.map(median)))
}

const { values } = parseArgs({
  options: {
    commit: { type: "string", multiple: true, default: ["7df51b6"] },
    procs: { type: "string", default: "21" },
    runs: { type: "string", default: "15" },
    fifo: { type: "boolean", default: false },
    child: { type: "string" },
    workload: { type: "string", default: "trivial" }
  }
})

if (values.child !== undefined) {
  await child(JSON.parse(values.child) as Array<Variant>, values.workload as Workload, Number(values.runs))
} else {
  extractCopies(values.commit)
  const variants: Array<Variant> = values.commit.map((commit) => ({
    label: `before:${commit}`,
    source: copySource(commit),
    metrics: true
  }))
  variants.push({ label: "metrics-off", source: todaySource, metrics: false }, {
    label: "default",
    source: todaySource,
    metrics: true
  })
  console.log(
    `executor at ${values.commit.join(", ")} vs today, paired in one process: ${values.procs} processes, ` +
      `${values.runs} runs of each variant per process` + (values.fifo ? ", SCHED_FIFO" : "")
  )
  for (const workload of Object.keys(SIZES) as Array<Workload>) {
    const ratios = variants.map((): Array<number> => [])
    const perTask = variants.map((): Array<number> => [])
    for (let p = 0; p < Number(values.procs); p++) {
      // each process loads the variants in another order
      const order = variants.map((_, i) => (i + p) % variants.length)
      const command = [
        process.execPath,
        `${here}paired.ts`,
        "--child",
        JSON.stringify(order.map((i) => variants[i]!)),
        "--workload",
        workload,
        "--runs",
        values.runs
      ]
      const out = values.fifo
        ? spawnSync("chrt", ["-f", "10", ...command], { encoding: "utf8" })
        : spawnSync(command[0]!, command.slice(1), { encoding: "utf8" })
      if (out.status !== 0) throw new Error(`${workload}: ${out.stderr}`)
      const medians = JSON.parse(out.stdout) as Array<number>
      const byVariant = variants.map((_, i) => medians[order.indexOf(i)]!)
      byVariant.forEach((ns, i) => {
        perTask[i]!.push(ns)
        ratios[i]!.push(ns / byVariant[0]!)
      })
    }
    variants.forEach(({ label }, i) => {
      const r = ratios[i]!
      console.log(
        `${workload.padEnd(8)} ${label.padEnd(20)} ${median(perTask[i]!).toFixed(0).padStart(5)} ns/task  ` +
          `${median(r).toFixed(3)}x the first (${Math.min(...r).toFixed(2)}-${Math.max(...r).toFixed(2)})`
      )
    })
  }
}

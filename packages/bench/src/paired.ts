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
 *   node packages/bench/src/paired.ts [--commit <sha>]... [--procs 21] [--runs 15] [--fifo] [--contexts]
 *   node packages/bench/src/paired.ts --ordered [--procs 21] [--runs 15]
 *
 * `--ordered` measures issue 9's other cost instead, as `pnpm bench` does:
 * today's executor with priorities (8 levels) and keys (1,000) against plain
 * submissions, 1e5 tasks per run.
 *
 * `--contexts` submits each task from a context of its own, as a server's
 * requests submit theirs (see `workload` in `copies.ts`).
 *
 * (a) is trivial tasks, 5e4 per run; (b) I/O-like ones (each waits for
 * `setImmediate`), 2e4 per run; concurrency 100, as in `baseline.ts`.
 */
import { parseArgs } from "node:util"
import { BEFORE_ISSUES, copySource, extractCopies, todaySource } from "./copies.ts"
import { childMain, measurePairs, median, PAIR_SIZES, type PairWorkload, type Variant } from "./pairs.ts"

const { values } = parseArgs({
  options: {
    commit: { type: "string", multiple: true, default: [BEFORE_ISSUES] },
    procs: { type: "string", default: "21" },
    runs: { type: "string", default: "15" },
    fifo: { type: "boolean", default: false },
    contexts: { type: "boolean", default: false },
    ordered: { type: "boolean", default: false },
    child: { type: "string" },
    workload: { type: "string", default: "trivial" },
    n: { type: "string" }
  }
})

if (values.child !== undefined) {
  await childMain(values.child, values.workload, values.runs, values.n)
} else if (values.ordered) {
  const variants: Array<Variant> = [
    { label: "plain", source: todaySource, metrics: true },
    { label: "ordered", source: todaySource, metrics: true, ordered: true }
  ]
  console.log(`priority(8)+keys(1000) against plain, paired: ${values.procs} processes, ${values.runs} runs each`)
  for (const workload of Object.keys(PAIR_SIZES) as Array<PairWorkload>) {
    const { perTask, ratios } = measurePairs(variants, workload, {
      procs: Number(values.procs),
      runs: Number(values.runs),
      fifo: values.fifo,
      n: 1e5
    })
    variants.forEach(({ label }, i) => {
      const r = ratios[i]!
      console.log(
        `${workload.padEnd(8)} ${label.padEnd(8)} ${median(perTask[i]!).toFixed(0).padStart(5)} ns/task  ` +
          `${median(r).toFixed(3)}x plain (${Math.min(...r).toFixed(2)}-${Math.max(...r).toFixed(2)})`
      )
    })
  }
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
  if (values.contexts) variants.forEach((variant, i) => variants[i] = { ...variant, contexts: true })
  console.log(
    `executor at ${values.commit.join(", ")} vs today, paired in one process: ${values.procs} processes, ` +
      `${values.runs} runs of each variant per process` + (values.fifo ? ", SCHED_FIFO" : "") +
      (values.contexts ? ", a context per submission" : "")
  )
  for (const workload of Object.keys(PAIR_SIZES) as Array<PairWorkload>) {
    const { perTask, ratios } = measurePairs(variants, workload, {
      procs: Number(values.procs),
      runs: Number(values.runs),
      fifo: values.fifo
    })
    variants.forEach(({ label }, i) => {
      const r = ratios[i]!
      console.log(
        `${workload.padEnd(8)} ${label.padEnd(20)} ${median(perTask[i]!).toFixed(0).padStart(5)} ns/task  ` +
          `${median(r).toFixed(3)}x the first (${Math.min(...r).toFixed(2)}-${Math.max(...r).toFixed(2)})`
      )
    })
  }
}

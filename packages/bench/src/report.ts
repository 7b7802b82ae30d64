/**
 * Turns results into the report: markdown tables (one per workload), the
 * target checks of issue 4, and a hand-written SVG bar chart.
 *
 * Ratios read "how many times faster (or leaner) taskscope is than the peer":
 * peer time / taskscope time, so above 1.00× taskscope is ahead.
 */
import type { Measurement } from "./child.ts"
import { PAIR_SIZES } from "./pairs.ts"
import { FOLLOWED, METRICS_OFF, type Peer, peer, TASKSCOPE, TRACING } from "./peers.ts"
import { key, LONG_RUNS, peersOf, type Plan, type Results, sizesOf } from "./runner.ts"
import { type Workload, workload, type WorkloadId } from "./workloads.ts"

/** Where and with what the suite ran. */
export interface Machine {
  readonly cpu: string
  readonly cores: number
  readonly memory: string
  readonly os: string
  readonly node: string
  readonly python: string | undefined
  readonly packages: Readonly<Record<string, string>>
  readonly date: string
  /** 1-minute load average when the run started and when it ended: other work on the machine adds noise. */
  readonly load: string
}

/** Everything the report is made from. */
export interface Report {
  readonly plan: Plan
  readonly machine: Machine
  readonly results: Results
  /** Metrics on ÷ off, paired in one process (absent from reports written before it existed). */
  readonly metricsCost?: Readonly<Record<"trivial" | "suspend", PairedCost>> | undefined
  /** The default path ÷ the executor at `commit`, paired (absent from reports written before it existed). */
  readonly defaultCost?:
    | (Readonly<Record<"trivial" | "suspend", PairedCost>> & {
      readonly commit: string
      /** The same with each task submitted from a context of its own (absent from earlier reports). */
      readonly contexts?: Readonly<Record<"trivial" | "suspend", PairedCost>> | undefined
    })
    | undefined
  /**
   * Priority(8)+keys(1000) ÷ plain taskscope at 1e5 tasks, paired (absent from
   * reports written before it existed).
   */
  readonly orderedCost?: Readonly<Record<"trivial" | "suspend", PairedCost>> | undefined
  /** Wall time of the whole run, in seconds. */
  readonly seconds: number
}

/** A cost ratio measured in pairs (see `pairs.ts`): the median over processes, and their range. */
export interface PairedCost {
  readonly median: number
  readonly min: number
  readonly max: number
  readonly procs: number
  readonly runs: number
  /** Tasks per timed run, when not the workload's usual `PAIR_SIZES`. */
  readonly n?: number | undefined
}

/** One target of issue 4 and whether it is met. */
export interface Target {
  readonly workload: string
  readonly target: string
  readonly measured: string
  readonly met: boolean | undefined
}

const MAXQUEUE = "taskscope-maxqueue"
const ORDERED = "taskscope-ordered"

// ---- formatting -------------------------------------------------------------

const sizeLabel = (n: number): string => {
  const exp = Math.log10(n)
  return Number.isInteger(exp) ? `1e${exp}` : n.toExponential(0).replace("+", "")
}
const ms = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2))
const int = (v: number): string => Math.round(v).toLocaleString("en-US")
const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MB`
const ratio = (v: number): string => `${v >= 10 ? v.toFixed(1) : v.toFixed(2)}×`
const row = (cells: ReadonlyArray<string>): string => `| ${cells.join(" | ")} |`
const table = (head: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string =>
  [row(head), row(head.map(() => "---")), ...rows.map(row)].join("\n")

// ---- lookups ----------------------------------------------------------------

const measured = (r: Report, peerId: string, w: WorkloadId, n: number): Measurement | undefined => {
  const cell = r.results.get(key(peerId, w, n))
  return cell?.status === "ok" ? cell.median : undefined
}

/** The cell text when there is no measurement: the reason, shortened. */
const missing = (r: Report, peerId: string, w: WorkloadId, n: number): string => {
  const cell = r.results.get(key(peerId, w, n))
  if (cell === undefined) return "–"
  if (cell.status === "ok") return ""
  return cell.status === "failed" ? "failed" : cell.why.startsWith("capped") ? "capped" : "n/a"
}

/** The time one workload is judged by: the close itself for "close", the whole run otherwise. */
const timeOf = (w: WorkloadId, m: Measurement): number => (w === "close" ? (m.closeMs ?? m.ms) : m.ms)
const nsPerTask = (w: WorkloadId, m: Measurement, n: number): number => (timeOf(w, m) * 1e6) / n

const speedRatio = (r: Report, peerId: string, w: WorkloadId, n: number): number | undefined => {
  const ours = measured(r, TASKSCOPE, w, n)
  const theirs = measured(r, peerId, w, n)
  return ours === undefined || theirs === undefined ? undefined : timeOf(w, theirs) / timeOf(w, ours)
}

// ---- tables -----------------------------------------------------------------

const timeTable = (r: Report, w: Workload, peers: ReadonlyArray<Peer>): string => {
  const sizes = sizesOf(w, r.plan)
  const what = w.id === "close" ? "close time" : "time"
  const head = [
    "peer",
    ...sizes.map((n) => `${what} @${sizeLabel(n)} (ns/task)`),
    ...sizes.map((n) => `taskscope × @${sizeLabel(n)}`)
  ]
  const rows = peers.map((p) => [
    p.id === TASKSCOPE ? `**${p.label}**` : p.label,
    ...sizes.map((n) => {
      const m = measured(r, p.id, w.id, n)
      return m === undefined ? missing(r, p.id, w.id, n) : `${ms(timeOf(w.id, m))} ms (${int(nsPerTask(w.id, m, n))})`
    }),
    ...sizes.map((n) => {
      if (p.id === TASKSCOPE) return "1.00×"
      const v = speedRatio(r, p.id, w.id, n)
      return v === undefined ? missing(r, p.id, w.id, n) || "–" : ratio(v)
    })
  ])
  return table(head, rows)
}

const memoryTable = (r: Report, w: Workload, peers: ReadonlyArray<Peer>): string => {
  const sizes = sizesOf(w, r.plan)
  const head = [
    "peer",
    ...sizes.map((n) => `heap bytes / task @${sizeLabel(n)}`),
    ...sizes.map((n) => `peak RSS @${sizeLabel(n)}`),
    ...sizes.map((n) => `peer bytes ÷ taskscope @${sizeLabel(n)}`)
  ]
  const rows = peers.map((p) => {
    const get = (n: number) => measured(r, p.id, w.id, n)
    return [
      p.id === TASKSCOPE ? `**${p.label}**` : p.label,
      ...sizes.map((n) => {
        const m = get(n)
        return m?.heapPerTask === undefined ? missing(r, p.id, w.id, n) : int(m.heapPerTask)
      }),
      ...sizes.map((n) => {
        const m = get(n)
        return m === undefined ? missing(r, p.id, w.id, n) : mb(m.peakRss)
      }),
      ...sizes.map((n) => {
        const ours = measured(r, TASKSCOPE, w.id, n)?.heapPerTask
        const theirs = get(n)?.heapPerTask
        if (ours === undefined || theirs === undefined) return missing(r, p.id, w.id, n) || "–"
        return p.id === TASKSCOPE ? "1.00×" : ratio(theirs / ours)
      })
    ]
  })
  return table(head, rows)
}

const backpressureTable = (r: Report, peers: ReadonlyArray<Peer>): string => {
  const sizes = sizesOf(workload("suspend"), r.plan)
  const head = [
    "peer",
    ...sizes.map((n) => `peak RSS @${sizeLabel(n)}`),
    ...sizes.map((n) => `peak heap @${sizeLabel(n)}`)
  ]
  const rows = peers
    .filter((p) => p.runtime === "node")
    .map((p) => [
      p.id === MAXQUEUE ? `**${p.label}**` : p.label,
      ...sizes.map((n) => {
        const m = measured(r, p.id, "suspend", n)
        return m === undefined ? missing(r, p.id, "suspend", n) : mb(m.peakRss)
      }),
      ...sizes.map((n) => {
        const m = measured(r, p.id, "suspend", n)
        return m === undefined ? missing(r, p.id, "suspend", n) : mb(m.peakHeap)
      })
    ])
  return table(head, rows)
}

// ---- targets ----------------------------------------------------------------

const fmtList = (pairs: ReadonlyArray<readonly [number, number]>, f: (v: number) => string): string =>
  pairs.map(([n, v]) => `${f(v)} @${sizeLabel(n)}`).join(", ")

/** A speed-ratio target over every size both peers ran at. */
/** A target that compares two measured numbers, or "not measured" when either is missing. */
const pairTarget = (
  w: WorkloadId,
  label: string,
  pair: readonly [number, number] | undefined,
  describe: (pair: readonly [number, number]) => string,
  check: (pair: readonly [number, number]) => boolean
): Target =>
  pair === undefined
    ? { workload: workload(w).label, target: label, measured: "not measured", met: undefined }
    : { workload: workload(w).label, target: label, measured: describe(pair), met: check(pair) }

const ratioTarget = (r: Report, w: WorkloadId, peerId: string, at: number, label: string): Target => {
  const pairs = sizesOf(workload(w), r.plan)
    .map((n) => [n, speedRatio(r, peerId, w, n)] as const)
    .filter((pair): pair is readonly [number, number] => pair[1] !== undefined)
  return {
    workload: workload(w).label,
    target: label,
    measured: pairs.length === 0 ? "not measured" : fmtList(pairs, ratio),
    met: pairs.length === 0 ? undefined : pairs.every(([, v]) => v >= at)
  }
}

/** A "per-task cost at `big` within `factor` of `small`" target for taskscope (or another of its peers). */
const linearTarget = (
  r: Report,
  w: WorkloadId,
  small: number,
  big: number,
  factor: number,
  label: string,
  peerId = TASKSCOPE
): Target => {
  const a = measured(r, peerId, w, small)
  const b = measured(r, peerId, w, big)
  if (a === undefined || b === undefined) {
    return { workload: workload(w).label, target: label, measured: "not measured", met: undefined }
  }
  const x = nsPerTask(w, a, small)
  const y = nsPerTask(w, b, big)
  return {
    workload: workload(w).label,
    target: label,
    measured: `${int(x)} ns/task @${sizeLabel(small)}, ${int(y)} @${sizeLabel(big)} (${ratio(y / x)})`,
    met: y <= factor * x
  }
}

/** The targets of issue 4, each checked against this run. */
export const targets = (r: Report): ReadonlyArray<Target> => {
  const list: Array<Target> = [
    ratioTarget(r, "trivial", "p-limit", 3, "≥ 3× p-limit"),
    ratioTarget(r, "trivial", "naive", 1, "≥ 1.0× naive Effect"),
    ratioTarget(r, "suspend", "p-limit", 1, "≥ 1.0× p-limit"),
    linearTarget(r, "suspend", 1e4, 1e6, 1.5, "ns/task @1e6 ≤ 1.5× ns/task @1e4")
  ]
  list.push(linearTarget(r, "close", 1e4, 1e5, 1.5, "linear: close ns/task @1e5 ≤ 1.5× @1e4"))
  // issue 9: priorities and keys cost at most 2x the plain FIFO on 1e5 queued
  // tasks (judged paired when measured so; the cells of fresh processes are
  // then reported beside it), and stay linear
  for (const w of ["trivial", "suspend"] as const) {
    const pairs = sizesOf(workload(w), r.plan)
      .map((n) => [n, speedRatio(r, ORDERED, w, n)] as const)
      .filter((pair): pair is readonly [number, number] => pair[1] !== undefined)
    const label = "priority(8)+keys(1000): time ≤ 2× plain taskscope"
    const cells: Target = {
      workload: workload(w).label,
      target: label,
      measured: pairs.length === 0 ? "not measured" : fmtList(pairs, (v) => `${v.toFixed(2)}×`),
      met: pairs.length === 0 ? undefined : pairs.every(([, v]) => v <= 2)
    }
    const cost = r.orderedCost?.[w]
    if (cost === undefined) list.push(cells)
    else {
      list.push(
        pairedRow(w, cost, `${label} @1e5`, 2),
        { ...cells, target: "(reported) the same, per size, separate processes", met: undefined }
      )
    }
  }
  list.push(linearTarget(r, "suspend", 1e4, 1e6, 1.5, "priority(8)+keys(1000): ns/task @1e6 ≤ 1.5× @1e4", ORDERED))
  const close = measured(r, TASKSCOPE, "close", 1e5)
  const trivial = measured(r, TASKSCOPE, "trivial", 1e5)
  list.push(pairTarget(
    "close",
    "close ns/task ≤ (a) ns/task @1e5",
    close && trivial && [nsPerTask("close", close, 1e5), nsPerTask("trivial", trivial, 1e5)],
    ([c, t]) => `close ${int(c)} ns/task, (a) ${int(t)} ns/task`,
    ([c, t]) => c <= t
  ))
  const memorySizes = sizesOf(workload("memory"), r.plan)
  const shared = memorySizes.filter((n) =>
    measured(r, TASKSCOPE, "memory", n)?.heapPerTask !== undefined &&
    measured(r, "naive", "memory", n)?.heapPerTask !== undefined
  )
  list.push({
    workload: workload("memory").label,
    target: "bytes / queued task ≤ naive Effect",
    measured: shared.length === 0
      ? "not measured"
      : shared.map((n) =>
        `${int(measured(r, TASKSCOPE, "memory", n)!.heapPerTask!)} vs ${
          int(measured(r, "naive", "memory", n)!.heapPerTask!)
        } @${sizeLabel(n)}`
      ).join(", "),
    met: shared.length === 0
      ? undefined
      : shared.every((n) =>
        measured(r, TASKSCOPE, "memory", n)!.heapPerTask! <= measured(r, "naive", "memory", n)!.heapPerTask!
      )
  })
  const q5 = measured(r, MAXQUEUE, "suspend", 1e5)
  const q6 = measured(r, MAXQUEUE, "suspend", 1e6)
  list.push(pairTarget(
    "memory",
    "maxQueue: peak RSS @1e6 ≤ 1.1× @1e5 (I/O-like)",
    q5 && q6 && [q5.peakRss, q6.peakRss],
    ([a, b]) => `${mb(a)} @1e5, ${mb(b)} @1e6 (${ratio(b / a)})`,
    ([a, b]) => b <= 1.1 * a
  ))
  return list
}

/** A "taskscope costs at most `factor` × `peerId`" target on workload `w`, at every size both ran. */
const costTarget = (r: Report, w: WorkloadId, peerId: string, factor: number, label: string): Target => {
  const pairs = sizesOf(workload(w), r.plan)
    .map((n) => [n, measured(r, TASKSCOPE, w, n), measured(r, peerId, w, n)] as const)
    .filter((t): t is readonly [number, Measurement, Measurement] => t[1] !== undefined && t[2] !== undefined)
    .map(([n, a, b]) => [n, nsPerTask(w, a, n) / nsPerTask(w, b, n)] as const)
  return {
    workload: workload(w).label,
    target: label,
    measured: pairs.length === 0 ? "not measured" : fmtList(pairs, ratio),
    met: pairs.length === 0 ? undefined : pairs.every(([, v]) => v <= factor)
  }
}

/** A target judged on a paired measurement: its median at most `factor`. */
const pairedRow = (w: "trivial" | "suspend", cost: PairedCost, label: string, factor: number): Target => ({
  workload: workload(w).label,
  target: label,
  measured: `${ratio(cost.median)} (${ratio(cost.min)}-${ratio(cost.max)}), paired: ${cost.procs} processes ` +
    `× ${cost.runs} runs of ${(cost.n ?? PAIR_SIZES[w]).toLocaleString("en-US")} tasks`,
  met: cost.median <= factor
})

/** The metrics target on the paired measurement, when the report has one. */
const pairedTarget = (r: Report, w: "trivial" | "suspend"): Target | undefined => {
  const cost = r.metricsCost?.[w]
  return cost === undefined ? undefined : pairedRow(w, cost, "metrics on ≤ 1.15× metrics: false", 1.15)
}

/** Issues 7 and 9: the default path within 5% of the executor before them, when the report measured it. */
export const defaultPathTargets = (r: Report): ReadonlyArray<Target> => {
  const cost = r.defaultCost
  if (cost === undefined) return []
  return (["trivial", "suspend"] as const).flatMap((w) => [
    pairedRow(w, cost[w], `default ≤ 1.05× the executor at ${cost.commit}`, 1.05),
    ...(cost.contexts === undefined ? [] : [{
      ...pairedRow(w, cost.contexts[w], "", 1.05),
      target: "(reported) the same, each task submitted from a context of its own",
      met: undefined
    }])
  ])
}

/**
 * Issue 10: what observability costs. The metrics target is judged on the
 * paired measurement when there is one (the per-size cells, from separate
 * processes, are then reported beside it); the others are reported.
 */
export const observabilityTargets = (r: Report): ReadonlyArray<Target> => [
  ...(["trivial", "suspend"] as const).flatMap((w) => {
    const paired = pairedTarget(r, w)
    const cells = costTarget(r, w, METRICS_OFF, 1.15, "metrics on ≤ 1.15× metrics: false")
    return paired === undefined
      ? [cells]
      : [paired, { ...cells, target: "(reported) the same, per size, separate processes", met: undefined }]
  }),
  ...(["trivial", "suspend"] as const).flatMap((w) =>
    [TRACING, FOLLOWED].map((peerId) => {
      const t = costTarget(r, w, peerId, Number.POSITIVE_INFINITY, `(reported) default ÷ ${peer(peerId).label}`)
      return { ...t, met: undefined }
    })
  )
]

const status = (t: Target): string => t.met === undefined ? "not measured" : t.met ? "met" : "**not met**"

const targetTable = (list: ReadonlyArray<Target>): string =>
  table(["workload", "target", "measured", "status"], list.map((t) => [t.workload, t.target, t.measured, status(t)]))

// ---- markdown ---------------------------------------------------------------

/** The whole report as markdown. */
export const markdown = (r: Report): string => {
  const peers = peersOf(r.plan)
  const m = r.machine
  const notes = peers.filter((p) => p.note !== undefined).map((p) => `- **${p.label}**: ${p.note}`)
  // one line per (peer, workload, status, reason), listing the sizes it applies to
  const grouped = new Map<string, Array<string>>()
  for (const [k, cell] of r.results) {
    if (cell.status === "ok") continue
    const [peerId = "", w = "", n = ""] = k.split("|")
    const line = `${peerId} ${cell.status === "failed" ? "FAILED" : "skipped"} in ${w} @SIZES: ${cell.why}`
    grouped.set(line, [...(grouped.get(line) ?? []), sizeLabel(Number(n))])
  }
  const skipNotes = [...grouped].map(([line, sizes]) => `- ${line.replace("SIZES", sizes.join(", "))}`)
  /** Peers that take part in workload `w` at some size (the others are left out of its table). */
  const takingPart = (w: Workload): ReadonlyArray<Peer> =>
    peers.filter((p) =>
      p.skips?.[w.id] === undefined || sizesOf(w, r.plan).some((n) => measured(r, p.id, w.id, n) !== undefined)
    )
  const sections = [
    "# taskscope benchmarks",
    "",
    "Generated by `pnpm bench` (packages/bench); do not edit by hand.",
    "",
    table(["", ""], [
      ["machine", `${m.cpu}, ${m.cores} cores, ${m.memory}, ${m.os}`],
      ["runtimes", `Node ${m.node}${m.python === undefined ? "" : `, ${m.python}`}`],
      ["packages", Object.entries(m.packages).map(([name, v]) => `${name} ${v}`).join(", ")],
      ["date", m.date],
      ["load average (1 min)", m.load],
      [
        "run",
        `${
          r.plan.quick ? "quick" : "full"
        }: median of ${r.plan.runs} run(s) per cell (at most ${LONG_RUNS} for 1e6 cells and python), every cell in a fresh process, peers interleaved; ${
          r.seconds.toFixed(0)
        } s in all`
      ],
      ...(r.plan.baseline === undefined ? [] : [[
        "baseline",
        `taskscope (baseline) is the executor at ${r.plan.baseline.ref} (${r.plan.baseline.commit.slice(0, 10)})`
      ] as [string, string]])
    ]),
    "",
    "Every peer runs at concurrency 100 with the same tasks. In each child a time workload first warms up",
    "(4 runs of 5,000 tasks; python: one), and sizes up to 1e4 run 3 times in the child (its median counts).",
    "`taskscope ×` is peer time ÷ taskscope time: above 1.00× taskscope is faster.",
    "",
    "## Targets (issue 4)",
    "",
    targetTable(targets(r)),
    "",
    ...(r.orderedCost === undefined ? [] : [
      "Priority(8)+keys(1000) against plain tasks is judged as issue 9 states it, on 1e5 queued tasks, and in",
      "pairs: both timed in turn inside one process, the ratio taken per process, the median over the processes",
      "(range in brackets). A 1e5 cell of a fresh process is one run, and such cells ranged from 1.6× to 2.7×",
      "between full runs of an unchanged tree: they are reported beside it.",
      ""
    ]),
    ...(r.defaultCost === undefined ? [] : [
      "## The default path (issues 7 and 9)",
      "",
      `Today's default executor ÷ a copy of the executor at ${r.defaultCost.commit} (before issues 7, 9 and 10), timed`,
      "in turn inside one process as below, the ratio taken per process; the median over the processes, their",
      "range in brackets. Above 1.00× today is slower. `node packages/bench/src/paired.ts` and",
      "`instructions.ts` measure the same with more processes, and in machine instructions.",
      "",
      targetTable(defaultPathTargets(r)),
      ""
    ]),
    "## Observability (issue 10)",
    "",
    "taskscope ÷ a variant, time per task at each size: the default (metrics on, spans for named tasks only,",
    "nobody following `changes`) against `metrics: false`, against `tracing: true` (a span for every task,",
    "with Effect's default tracer: no exporter), and against a fiber that consumes every event of `changes`.",
    "Below 1.00× the default is cheaper. The machine is shared: compare the spread of runs in results.json.",
    "The metrics target is judged on a paired measurement: the default and `metrics: false` timed in turn",
    "inside one process (15 runs each of 5e4 trivial or 2e4 I/O-like tasks, concurrency 100), the ratio taken",
    "per process; the median over the processes, their range in brackets. Separate processes per cell, as",
    "in the rows marked (reported), differ from one another by more than the 15% the target allows.",
    "",
    targetTable(observabilityTargets(r))
  ]
  for (const w of [workload("trivial"), workload("suspend"), workload("close")]) {
    sections.push("", `## ${w.label}`, "", `${w.description}.`, "", timeTable(r, w, takingPart(w)))
  }
  const mem = workload("memory")
  sections.push(
    "",
    `## ${mem.label}`,
    "",
    `${mem.description}. Heap bytes per task: heapUsed growth after gc over the baseline, ÷ n (python: RSS growth ÷ n).`,
    "",
    memoryTable(r, mem, takingPart(mem)),
    "",
    "### Backpressure: peak memory in (b)",
    "",
    "Peak RSS (`resourceUsage().maxRSS`) and peak heapUsed (sampled every 10 ms) while running (b); with",
    "`maxQueue` the producer holds at most maxConcurrency + maxQueue tasks. Peaks include garbage not yet",
    "collected: V8 grows its young generation during a long run that allocates fast, so peaks rise with n",
    "even when nothing is retained. What a producer retains after gc is in (d) (the maxQueue row).",
    "",
    backpressureTable(r, peers),
    "",
    "## Notes",
    "",
    ...notes,
    ...skipNotes,
    ""
  )
  return sections.join("\n")
}

// ---- chart ------------------------------------------------------------------

const escape = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")

interface Panel {
  readonly title: string
  readonly unit: string
  readonly bars: ReadonlyArray<
    { readonly label: string; readonly value: number | undefined; readonly note: string; readonly ours: boolean }
  >
}

/**
 * The chart: one panel per workload at 1e5 (memory: the smallest size), a bar
 * per peer on a log scale (values span three orders of magnitude), the value
 * printed at the end of each bar. Peers that do not take part are left out;
 * capped ones are listed with the word "capped".
 */
export const svg = (r: Report): string => {
  const peers = peersOf(r.plan)
  const panel = (
    w: WorkloadId,
    n: number,
    title: string,
    unit: string,
    value: (m: Measurement) => number | undefined
  ): Panel => ({
    title: `${title} @${sizeLabel(n)}`,
    unit,
    bars: peers
      .map((p) => {
        const m = measured(r, p.id, w, n)
        return {
          label: p.label,
          value: m === undefined ? undefined : value(m),
          note: missing(r, p.id, w, n) || "–",
          ours: p.id.startsWith(TASKSCOPE)
        }
      })
      .filter((b) => b.value !== undefined || b.note === "capped" || b.note === "failed")
  })
  const memN = sizesOf(workload("memory"), r.plan)[0] ?? 2e4
  const panels: ReadonlyArray<Panel> = [
    panel("trivial", 1e5, "(a) trivial tasks", "ns/task", (m) => nsPerTask("trivial", m, 1e5)),
    panel("suspend", 1e5, "(b) I/O-like tasks", "ns/task", (m) => nsPerTask("suspend", m, 1e5)),
    panel("close", 1e5, "(c) close with queued tasks", "ns/task", (m) => nsPerTask("close", m, 1e5)),
    panel("memory", memN, "(d) heap per queued task", "bytes", (m) => m.heapPerTask)
  ]
  const width = 760
  const labelW = 230
  const barMax = width - labelW - 80
  const rowH = 20
  const out: Array<string> = []
  let y = 40
  for (const p of panels) {
    const values = p.bars.map((b) => b.value).filter((v): v is number => v !== undefined && v > 0)
    const lo = Math.floor(Math.log10(Math.max(1, Math.min(...values, 1e9))))
    const hi = Math.max(lo + 1, Math.ceil(Math.log10(Math.max(10, ...values))))
    const x = (v: number): number => labelW + (barMax * (Math.log10(Math.max(v, 10 ** lo)) - lo)) / (hi - lo)
    out.push(`<text x="10" y="${y}" class="title">${escape(p.title)} (${p.unit}, log scale, lower is better)</text>`)
    y += 10
    const top = y
    y += p.bars.length * rowH
    for (let e = lo; e <= hi; e++) {
      const gx = x(10 ** e).toFixed(1)
      out.push(`<line x1="${gx}" y1="${top}" x2="${gx}" y2="${y}" class="grid"/>`)
      out.push(`<text x="${gx}" y="${y + 12}" text-anchor="middle" class="tick">${int(10 ** e)}</text>`)
    }
    p.bars.forEach((b, i) => {
      const by = top + i * rowH
      const end = b.value === undefined ? labelW : Math.max(labelW + 1, x(b.value))
      out.push(`<text x="${labelW - 8}" y="${by + 14}" text-anchor="end">${escape(b.label)}</text>`)
      out.push(
        `<rect x="${labelW}" y="${by + 3}" width="${(end - labelW).toFixed(1)}" height="${rowH - 6}" class="${
          b.ours ? "ours" : "peer"
        }"/>`
      )
      out.push(
        `<text x="${(end + 6).toFixed(1)}" y="${by + 14}">${
          b.value === undefined ? escape(b.note) : int(b.value)
        }</text>`
      )
    })
    y += 45
  }
  const m = r.machine
  const caption = `${m.cpu}, ${m.cores} cores, Node ${m.node}, ${
    m.date.slice(0, 10)
  }, medians of up to ${r.plan.runs} runs, concurrency 100`
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}" font-family="sans-serif" font-size="12">`,
    `<style>.title{font-weight:bold;font-size:13px}.ours{fill:#2b7bb9}.peer{fill:#a0a0a0}.grid{stroke:#ddd}.tick{font-size:10px;fill:#777}</style>`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="18" font-size="11" fill="#555">${escape(caption)}</text>`,
    ...out,
    `</svg>`,
    ""
  ].join("\n")
}

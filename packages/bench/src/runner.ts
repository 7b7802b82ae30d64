/**
 * Runs the plan: every (peer, workload, size) in a fresh child process,
 * peers interleaved (their order rotates from one run to the next), several
 * runs, and medians of each metric.
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import type { Measurement } from "./child.ts"
import { type Peer, PEERS, TASKSCOPE_BASELINE } from "./peers.ts"
import { type Workload, WORKLOADS } from "./workloads.ts"

/** What to run. */
export interface Plan {
  readonly runs: number
  readonly quick: boolean
  /** Peer ids to run (all when empty). */
  readonly peers: ReadonlyArray<string>
  /** Give up on one child after this many ms. */
  readonly timeoutMs: number
  /** Whether python3 is on the machine. */
  readonly python: boolean
  /**
   * `--baseline REF`: the git revision whose executor sources run as the peer
   * `taskscope-baseline`, and the folder they were extracted to.
   */
  readonly baseline?: { readonly ref: string; readonly commit: string; readonly dir: string } | undefined
}

/** The outcome of one (peer, workload, size) across all runs. */
export type Cell =
  | { readonly status: "ok"; readonly median: Measurement; readonly samples: ReadonlyArray<Measurement> }
  | { readonly status: "skipped" | "failed"; readonly why: string }

/** Results by {@link key}. */
export type Results = ReadonlyMap<string, Cell>

/** The key of a (peer, workload, size) cell. */
export const key = (peerId: string, workloadId: string, n: number): string => `${peerId}|${workloadId}|${n}`

/** The sizes a workload runs at in this plan. */
export const sizesOf = (w: Workload, plan: Plan): ReadonlyArray<number> => (plan.quick ? w.quickSizes : w.sizes)

/** The peers of this plan. */
export const peersOf = (plan: Plan): ReadonlyArray<Peer> =>
  PEERS.filter((p) =>
    (p.id !== TASKSCOPE_BASELINE || plan.baseline !== undefined) &&
    (plan.peers.length === 0 || plan.peers.includes(p.id) || p.id === TASKSCOPE_BASELINE)
  )

const childScript = fileURLToPath(new URL("./child.ts", import.meta.url))
const pythonScript = fileURLToPath(new URL("./asyncio_peer.py", import.meta.url))

/**
 * How many runs a cell gets: the plan's runs, but at most {@link LONG_RUNS}
 * for the slow cells (1e6 tasks, and python, whose times are far from the
 * rest) so that a full pass stays near ten minutes on two cores.
 */
export const runsFor = (p: Peer, n: number, plan: Plan): number =>
  n >= 1e6 || p.runtime === "python" ? Math.min(plan.runs, LONG_RUNS) : plan.runs

/** The cap on runs of slow cells. */
export const LONG_RUNS = 3

/** Why a peer does not run a cell, or undefined when it does. */
export const skipReason = (p: Peer, w: Workload, n: number, plan: Plan): string | undefined => {
  const skip = p.skips?.[w.id]
  if (skip !== undefined) return skip
  const cap = p.caps?.[w.id]
  if (cap !== undefined && n > cap.max) return `capped at ${cap.max.toExponential(0)}: ${cap.why}`
  if (p.runtime === "python" && !plan.python) return "python3 not found"
  return undefined
}

/** Runs one child process and parses its RESULT line. */
export const runChild = (p: Peer, w: Workload, n: number, timeoutMs: number): Promise<Measurement> =>
  new Promise((resolve, reject) => {
    const [command, args] = p.runtime === "python"
      ? ["python3", [pythonScript, w.id, String(n)]]
      : [process.execPath, ["--expose-gc", "--max-old-space-size=8192", childScript, p.id, w.id, String(n)]]
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    let err = ""
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()))
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
    child.on("error", reject)
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      const line = out.split("\n").find((l) => l.startsWith("RESULT "))
      if (line !== undefined) return resolve(JSON.parse(line.slice("RESULT ".length)) as Measurement)
      const why = signal === "SIGKILL"
        ? `timed out after ${timeoutMs / 1000} s`
        : `exit ${code}: ${err.trim().slice(-300)}`
      reject(new Error(why))
    })
  })

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** The per-field median of several measurements. */
export const medianOf = (samples: ReadonlyArray<Measurement>): Measurement => {
  const field = (f: keyof Measurement): number | undefined => {
    const values = samples.map((s) => s[f]).filter((v): v is number => v !== undefined)
    return values.length === 0 ? undefined : median(values)
  }
  const optional = (f: "submitMs" | "closeMs" | "heapPerTask") => {
    const v = field(f)
    return v === undefined ? {} : { [f]: v }
  }
  return {
    ms: field("ms")!,
    peakHeap: field("peakHeap")!,
    peakRss: field("peakRss")!,
    ...optional("submitMs"),
    ...optional("closeMs"),
    ...optional("heapPerTask")
  }
}

/** Runs the whole plan; `log` gets one line per child. */
export const runPlan = async (plan: Plan, log: (line: string) => void): Promise<Results> => {
  const peers = peersOf(plan)
  const samples = new Map<string, Array<Measurement>>()
  const results = new Map<string, Cell>()
  for (let run = 0; run < plan.runs; run++) {
    for (const w of WORKLOADS) {
      for (const n of sizesOf(w, plan)) {
        const order = peers.map((_, i) => peers[(i + run) % peers.length]!)
        for (const p of order) {
          const k = key(p.id, w.id, n)
          if (results.get(k)?.status === "failed" || run >= runsFor(p, n, plan)) continue
          const skip = skipReason(p, w, n, plan)
          if (skip !== undefined) {
            results.set(k, { status: "skipped", why: skip })
            continue
          }
          const started = Date.now()
          try {
            const m = await runChild(p, w, n, plan.timeoutMs)
            const list = samples.get(k) ?? []
            list.push(m)
            samples.set(k, list)
            results.set(k, { status: "ok", median: medianOf(list), samples: list })
            log(
              `run ${run + 1}/${plan.runs} ${w.id} n=${n} ${p.id}: ${m.ms.toFixed(1)} ms (wall ${
                Date.now() - started
              } ms)`
            )
          } catch (error) {
            results.set(k, { status: "failed", why: (error as Error).message })
            log(`run ${run + 1}/${plan.runs} ${w.id} n=${n} ${p.id}: FAILED ${(error as Error).message}`)
          }
        }
      }
    }
  }
  return results
}

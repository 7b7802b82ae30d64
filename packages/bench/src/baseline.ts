/**
 * What the executor's later features cost its default path, step by step.
 * The suite cannot run two versions of one package side by side, so this
 * script extracts the executor's sources at each git commit given (default:
 * the last one before issue 10) into `packages/bench/.baseline/<commit>/`
 * (git-ignored) and runs (a) and (b) in fresh processes, interleaving, the
 * order rotating from round to round: each commit's copy, today's with
 * `metrics: false`, and today's default. It reports, per variant, the median
 * and the spread of the per-task CPU time (user + system of the process) and
 * of the wall time, and each median against the first commit's.
 *
 * `--fifo` runs each child under `chrt -f 10` (real-time FIFO scheduling,
 * Linux, root): on a machine shared with other work, a child is then not
 * preempted by it, which narrows the spread of wall times considerably.
 *
 *   node packages/bench/src/baseline.ts [--commit <sha>]... [--rounds 7] [--n 200000] [--fifo]
 */
import { spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { copySource, extractCopies, todaySource, workload } from "./copies.ts"

const BEFORE_ISSUE_10 = "6d67087"

const here = fileURLToPath(new URL(".", import.meta.url))

/** A commit's copy (`before:<commit>`), today with `metrics: false`, or today's default. */
type Variant = `before:${string}` | "metrics-off" | "default"

/** One measurement in this process: the child side. */
const child = async (variant: Variant, kind: string, n: number): Promise<void> => {
  const source = variant.startsWith("before:") ? copySource(variant.slice("before:".length)) : todaySource
  const { done, reset, run } = await workload(source, kind, variant !== "metrics-off")
  for (let i = 0; i < 4; i++) await run(5000)
  reset()
  const cpu = process.cpuUsage()
  const wall = performance.now()
  await run(n)
  const used = process.cpuUsage(cpu)
  if (done() !== n) throw new Error(`${done()} of ${n} tasks ran`)
  console.log(JSON.stringify({
    cpu: ((used.user + used.system) * 1000) / n,
    wall: ((performance.now() - wall) * 1e6) / n
  }))
}

const { values } = parseArgs({
  options: {
    commit: { type: "string", multiple: true, default: [BEFORE_ISSUE_10] },
    fifo: { type: "boolean", default: false },
    rounds: { type: "string", default: "7" },
    n: { type: "string", default: "200000" },
    child: { type: "string" },
    workload: { type: "string", default: "trivial" }
  }
})

if (values.child !== undefined) {
  await child(values.child as Variant, values.workload, Number(values.n))
} else {
  const commits = values.commit
  extractCopies(commits)
  const variants: ReadonlyArray<Variant> = [...commits.map((c) => `before:${c}` as const), "metrics-off", "default"]
  const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  console.log(
    `executor at ${commits.join(", ")} vs today, n = ${values.n}, ${values.rounds} rounds, interleaved` +
      (values.fifo ? ", SCHED_FIFO" : "")
  )
  for (const workload of ["trivial", "suspend"]) {
    const samples = new Map(variants.map((v) => [v, { cpu: [] as Array<number>, wall: [] as Array<number> }]))
    for (let round = 0; round < Number(values.rounds); round++) {
      // the order rotates from round to round
      for (let i = 0; i < variants.length; i++) {
        const variant = variants[(i + round) % variants.length]!
        const command = [
          process.execPath,
          `${here}baseline.ts`,
          "--child",
          variant,
          "--workload",
          workload,
          "--n",
          values.n
        ]
        const out = values.fifo
          ? spawnSync("chrt", ["-f", "10", ...command], { encoding: "utf8" })
          : spawnSync(command[0]!, command.slice(1), { encoding: "utf8" })
        if (out.status !== 0) throw new Error(`${variant} ${workload}: ${out.stderr}`)
        const { cpu, wall } = JSON.parse(out.stdout) as { cpu: number; wall: number }
        samples.get(variant)!.cpu.push(cpu)
        samples.get(variant)!.wall.push(wall)
      }
    }
    const before = samples.get(variants[0]!)!
    for (const variant of variants) {
      const { cpu, wall } = samples.get(variant)!
      const spread = (xs: Array<number>) => `${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)}`
      console.log(
        `${workload.padEnd(8)} ${variant.padEnd(20)} cpu ${median(cpu).toFixed(0)} ns/task (${spread(cpu)}, ` +
          `${(median(cpu) / median(before.cpu)).toFixed(2)}x before)  wall ${median(wall).toFixed(0)} ns/task ` +
          `(${spread(wall)}, ${(median(wall) / median(before.wall)).toFixed(2)}x before)`
      )
    }
  }
}

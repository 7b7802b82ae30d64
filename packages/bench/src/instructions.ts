/**
 * Machine instructions per task, counted by valgrind (callgrind) instead of
 * timed: a gauge of the executor's default path that the machine's load
 * does not move. Timings on this shared machine wander by 10% between
 * identical builds (see `paired.ts`); these counts agree within about 1%.
 *
 * Each variant — the executor at each `--commit` (copied out of git, as
 * `paired.ts` does) and today's — runs in a child process under
 * `valgrind --tool=callgrind`, twice: after the same warm-up, once with
 * `LOW` and once with `HIGH` rounds of `PER_ROUND` tasks. The difference of
 * the two totals, divided by the tasks it adds, is what one task costs once
 * the code is compiled (start-up, compilation and warm-up cancel out). Node
 * runs with `--predictable --single-threaded` and fixed seeds, so that
 * compilation and garbage collection happen on the main thread at the same
 * points in both runs.
 *
 * Instructions are not time: the same count can take longer when it reaches
 * more code or more memory (cache misses; callgrind's `--cache-sim` shows
 * them). Use it to see where a change adds or removes work; judge speed on
 * `paired.ts` and `pnpm bench`.
 *
 *   node packages/bench/src/instructions.ts [--commit <sha>]... [--workload trivial|suspend]
 *
 * Needs valgrind (`apt-get install valgrind`); one variant takes about a
 * minute, two run at once.
 */
import { execFile } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs, promisify } from "node:util"
import { BEFORE_ISSUES, copySource, extractCopies, todaySource, workload } from "./copies.ts"

const PER_ROUND = 20_000
const WARM_UP = 20
const LOW = 10
const HIGH = 30
const NODE_FLAGS = ["--predictable", "--single-threaded", "--random-seed=1", "--hash-seed=1"]

const { values } = parseArgs({
  options: {
    commit: { type: "string", multiple: true, default: [BEFORE_ISSUES] },
    workload: { type: "string", default: "trivial" },
    child: { type: "string" },
    rounds: { type: "string" }
  }
})

const entry = fileURLToPath(import.meta.url)
const run = promisify(execFile)

/** Total instructions of one child run with `rounds` rounds after the warm-up. */
const countOnce = async (source: string, kind: string, rounds: number): Promise<number> => {
  const dir = mkdtempSync(join(tmpdir(), "taskscope-instructions-"))
  const out = join(dir, "callgrind.out")
  try {
    await run("valgrind", [
      "--tool=callgrind",
      `--callgrind-out-file=${out}`,
      process.execPath,
      ...NODE_FLAGS,
      entry,
      "--child",
      source,
      "--workload",
      kind,
      "--rounds",
      String(rounds)
    ], { maxBuffer: 1 << 26 })
    const summary = /^summary: (\d+)/m.exec(readFileSync(out, "utf8"))
    if (summary === null) throw new Error(`no summary in ${out}`)
    return Number(summary[1])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Instructions per task of one variant. */
const perTask = async (source: string, kind: string): Promise<number> => {
  const [low, high] = await Promise.all([countOnce(source, kind, LOW), countOnce(source, kind, HIGH)])
  return (high - low) / ((HIGH - LOW) * PER_ROUND)
}

if (values.child !== undefined) {
  const { done, reset, run: runTasks } = await workload(values.child, values.workload, true)
  for (let round = 0; round < WARM_UP + Number(values.rounds); round++) {
    reset()
    await runTasks(PER_ROUND)
    if (done() !== PER_ROUND) throw new Error(`${done()} of ${PER_ROUND} tasks ran`)
  }
} else {
  if (!["trivial", "suspend"].includes(values.workload)) throw new Error("--workload must be trivial or suspend")
  try {
    await run("valgrind", ["--version"])
  } catch {
    console.error("instructions.ts needs valgrind on PATH (Debian: apt-get install valgrind)")
    process.exit(1)
  }
  extractCopies(values.commit)
  const variants = [
    ...values.commit.map((commit) => ({ label: `before:${commit}`, source: copySource(commit) })),
    { label: "today", source: todaySource }
  ]
  console.log(
    `instructions per task, ${values.workload} tasks, concurrency 100 (callgrind, ${HIGH - LOW} rounds of ` +
      `${PER_ROUND} tasks)`
  )
  let first: number | undefined
  for (const { label, source } of variants) {
    const count = await perTask(source, values.workload)
    first ??= count
    console.log(`${label.padEnd(20)} ${count.toFixed(0).padStart(6)}  ${(count / first).toFixed(3)}x the first`)
  }
}

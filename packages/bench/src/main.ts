/**
 * `pnpm bench [--quick] [--runs N] [--peers a,b] [--baseline REF] [--timeout S] [--out DIR] [--no-write]`
 * runs the suite and writes RESULTS.md, chart.svg and the raw results.json
 * (default: docs/bench at the workspace root). `--from FILE` renders the
 * report again from a results.json without running anything;
 * `--profile PEER:WORKLOAD:N` profiles one child instead. `--baseline REF`
 * adds the executor as it is at git revision REF as one more peer, so that a
 * change is compared with what it changes in the same run.
 */
import { spawnSync } from "node:child_process"
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { cpus, loadavg, release, totalmem, type } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { BEFORE_ISSUES, copySource, extractCopies, todaySource } from "./copies.ts"
import { measurePairs, median, type PairWorkload, type Variant } from "./pairs.ts"
import { PEERS } from "./peers.ts"
import { profile } from "./profile.ts"
import { type Machine, markdown, type PairedCost, type Report, svg } from "./report.ts"
import { type Cell, type Plan, runPlan } from "./runner.ts"

// `pnpm bench` at the root passes its flags to every package's bench: ignore the ones meant for others
const options = {
  quick: { type: "boolean", default: false },
  runs: { type: "string" },
  peers: { type: "string", default: "" },
  baseline: { type: "string" },
  timeout: { type: "string", default: "120" },
  out: { type: "string", default: fileURLToPath(new URL("../../../docs/bench", import.meta.url)) },
  "no-write": { type: "boolean", default: false },
  profile: { type: "string" },
  from: { type: "string" }
} as const
const known = process.argv.slice(2).filter((arg, i, all) => {
  const name = (arg.startsWith("--") ? arg : all[i - 1] ?? "").slice(2).split("=")[0]!
  return name in options
})
const ignored = process.argv.slice(2).filter((arg) => !known.includes(arg))
if (ignored.length > 0) console.error(`bench: ignoring ${ignored.join(" ")}`)
const { values } = parseArgs({ args: known, options, allowPositionals: true })

if (values.profile !== undefined) {
  console.log(profile(values.profile).join("\n"))
  process.exit(0)
}

const write = (report: Report): void => {
  const text = markdown(report)
  console.log(text)
  if (values["no-write"]) return
  mkdirSync(values.out, { recursive: true })
  writeFileSync(join(values.out, "RESULTS.md"), text)
  writeFileSync(join(values.out, "chart.svg"), svg(report))
  const raw = { ...report, results: [...report.results] }
  writeFileSync(join(values.out, "results.json"), `${JSON.stringify(raw, null, 1)}\n`)
  console.error(`wrote RESULTS.md, chart.svg and results.json to ${values.out}`)
}

if (values.from !== undefined) {
  const raw = JSON.parse(readFileSync(values.from, "utf8")) as Omit<Report, "results"> & {
    results: Array<[string, Cell]>
  }
  write({ ...raw, results: new Map(raw.results) })
  process.exit(0)
}

const python = spawnSync("python3", ["--version"], { encoding: "utf8" })
const hasPython = python.status === 0

const packageVersion = (name: string): string => {
  const file = new URL(`../node_modules/${name}/package.json`, import.meta.url)
  return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version
}

const loadAtStart = loadavg()[0]!.toFixed(2)
const machine = {
  cpu: cpus()[0]?.model.trim() ?? "unknown CPU",
  cores: cpus().length,
  memory: `${(totalmem() / 2 ** 30).toFixed(0)} GiB`,
  os: `${type()} ${release()}`,
  node: process.version,
  python: hasPython ? python.stdout.trim() : undefined,
  packages: Object.fromEntries(["effect", "p-limit", "p-queue"].map((name) => [name, packageVersion(name)])),
  date: new Date().toISOString()
}

const runs = Number(values.runs ?? (values.quick ? 1 : 5))
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got ${values.runs}`)
const peers = values.peers.split(",").filter((p) => p.length > 0)
const unknown = peers.filter((p) => !PEERS.some((known) => known.id === p))
if (unknown.length > 0) {
  throw new Error(`unknown peers: ${unknown.join(", ")}; known: ${PEERS.map((p) => p.id).join(", ")}`)
}

/**
 * Extracts `packages/executor/src` at git revision `ref` into a folder of this
 * package (so that it resolves the same `effect`), for the baseline peer.
 */
const extractBaseline = (ref: string): NonNullable<Plan["baseline"]> => {
  const git = (args: ReadonlyArray<string>) => {
    const result = spawnSync("git", args, { cwd: fileURLToPath(new URL("../../..", import.meta.url)) })
    if (result.status !== 0) throw new Error(`--baseline ${ref}: git ${args.join(" ")} failed: ${result.stderr}`)
    return result.stdout
  }
  const commit = git(["rev-parse", "--verify", `${ref}^{commit}`]).toString().trim()
  const dir = fileURLToPath(new URL(`../.baseline/${commit}`, import.meta.url))
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const tar = spawnSync("tar", ["-x", "-C", dir, "--strip-components=3"], {
    input: git(["archive", commit, "packages/executor/src"])
  })
  if (tar.status !== 0) throw new Error(`--baseline ${ref}: could not extract the sources: ${tar.stderr}`)
  process.env.TASKSCOPE_BASELINE_DIR = dir // the children inherit it
  return { ref, commit, dir }
}

const plan: Plan = {
  runs,
  quick: values.quick,
  peers,
  timeoutMs: Number(values.timeout) * 1000,
  python: hasPython,
  baseline: values.baseline === undefined ? undefined : extractBaseline(values.baseline)
}
const started = Date.now()
const results = await runPlan(plan, (line) => console.error(line))

/**
 * Costs measured in pairs: two variants timed in turn in one process, the
 * ratio taken per process (fresh processes per cell differ by more than the
 * margins these targets allow). Each is the second variant's time ÷ the
 * first's, for (a) and for (b).
 */
const pairing = { procs: values.quick ? 3 : 11, runs: values.quick ? 5 : 15, fifo: false }
const pairedCosts = (
  first: Variant,
  second: Variant,
  what: string,
  n?: number
): Record<PairWorkload, PairedCost> => {
  const cost = (w: PairWorkload): PairedCost => {
    console.error(`bench: ${what}, paired (${pairing.procs} processes): ${w}`)
    const r = measurePairs([first, second], w, { ...pairing, n }).ratios[1]!
    return { median: median(r), min: Math.min(...r), max: Math.max(...r), procs: pairing.procs, runs: pairing.runs, n }
  }
  return { trivial: cost("trivial"), suspend: cost("suspend") }
}
const today: Variant = { label: "default", source: todaySource, metrics: true }

/** What metrics cost (issue 10's target: at most 1.15x): the default against `metrics: false`. */
const metricsCost = pairedCosts(
  { label: "metrics-off", source: todaySource, metrics: false },
  today,
  "metrics on against off"
)

/**
 * What priorities and keys cost (issue 9's target: at most 2x on 1e5 queued
 * tasks): the bench's priority(8)+keys(1000) workload against plain tasks.
 */
const orderedCost = pairedCosts(
  today,
  { label: "ordered", source: todaySource, metrics: true, ordered: true },
  "priority(8)+keys(1000) against plain",
  1e5
)

/**
 * What the default path costs against the executor before issues 7 and 9
 * (their target: within 5%): a copy of that executor's sources against
 * today's. Needs the commit in the clone's history.
 */
const defaultCost = (() => {
  try {
    extractCopies([BEFORE_ISSUES])
  } catch (error) {
    console.error(`bench: no copy of the executor at ${BEFORE_ISSUES} (${String(error).split("\n")[0]}); not measured`)
    return undefined
  }
  const before: Variant = { label: `before:${BEFORE_ISSUES}`, source: copySource(BEFORE_ISSUES), metrics: true }
  return {
    commit: BEFORE_ISSUES,
    ...pairedCosts(before, today, `the default path against ${BEFORE_ISSUES}`),
    // the same, each task submitted from a context of its own, as a server's requests submit theirs
    contexts: pairedCosts(
      { ...before, contexts: true },
      { ...today, contexts: true },
      `a context per submission against ${BEFORE_ISSUES}`
    )
  }
})()

const finished: Machine = {
  ...machine,
  load: `${loadAtStart} at start, ${loadavg()[0]!.toFixed(2)} at end (${machine.cores} cores)`
}
write({
  plan,
  machine: finished,
  results,
  metricsCost,
  orderedCost,
  defaultCost,
  seconds: (Date.now() - started) / 1000
})

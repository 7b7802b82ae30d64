#!/usr/bin/env node
// The whole suite, as CI and `npm test` / `pnpm test` run it. Each line below
// is counted like a test in the closing line:
//   1. the type check of the workspace (tsc, strict): one check;
//   2. the lint (`pnpm lint`: oxlint and dprint check): one check;
//   3. the docs (scripts/check-docs.mjs): one check per README with
//      TypeScript blocks, one for the JSDoc examples, one for the JSDoc tags;
//   4. every vitest test (the default reporter for people, the JSON reporter
//      for this script); a test file that fails to load counts as a failure.
//      The cluster project runs in a vitest process of its own, last;
//   5. the consumer test (scripts/consumer.mjs): one check per step.
// Then it prints what the count is made of, and last, alone on its line,
// `N passed, N failed`; it exits non-zero when anything failed.
// Arguments go to vitest (e.g. a file filter; a filter that runs no test fails
// the run). With `--project` among them, vitest runs once, as they say.
import { spawn } from "node:child_process"
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, rmSync } from "node:fs"
import { join } from "node:path"
import { runDocsChecks } from "./check-docs.mjs"
import { runConsumer } from "./consumer.mjs"
import { bin, check, exec, pnpmBinary, root, succeed, useColour } from "./lib/checks.mjs"

// vitest colours a pipe unless told not to; the other children follow NO_COLOR too
if (!useColour) {
  process.env.NO_COLOR = "1"
  delete process.env.FORCE_COLOR
}

const heading = (text) => console.log(`\n> ${text}`)

/**
 * Starts a command with its output going to the file `log` (kept for
 * reading after the run; a pipe this process left unread while it ran other
 * checks synchronously would fill and block the command's writes). `follow()` prints the log so far, then what
 * comes, and resolves once the command has ended to `{ status, output }`, as
 * exec does (output: what the hang guard or a signal did to it).
 */
function startInBackground(command, commandArgs, log, guardMs) {
  const fd = openSync(log, "w")
  const child = spawn(command, commandArgs, { cwd: root, stdio: ["ignore", fd, fd] })
  closeSync(fd)
  // this script stopped early (an uncaught error, process.exit, a signal) leaves nothing running;
  // a signal then ends this script as it would have without the handler
  const stop = () => child.kill("SIGTERM")
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"]
  const onSignal = (signal) => {
    stop()
    for (const s of signals) process.off(s, onSignal)
    process.kill(process.pid, signal)
  }
  process.on("exit", stop)
  for (const s of signals) process.on(s, onSignal)
  let output = ""
  // the timer can fire late, after a long synchronous step of this script: the poll phase that
  // comes before setImmediate's callback takes in an exit that happened meanwhile
  const guard = setTimeout(() =>
    setImmediate(() => {
      if (child.exitCode !== null || child.signalCode !== null) return
      output = "ETIMEDOUT"
      child.kill("SIGTERM")
    }), guardMs)
  const ended = new Promise((resolve) => {
    const end = (status) => {
      clearTimeout(guard)
      process.off("exit", stop)
      for (const s of signals) process.off(s, onSignal)
      resolve(status)
    }
    // a command that could not start (no such file): "close" may not follow
    child.on("error", (error) => {
      output ||= `could not start ${command}: ${error.message}`
      end(1)
    })
    child.on("close", (status, signal) => {
      if (signal !== null && output === "") output = `killed by ${signal}`
      end(status ?? 1)
    })
  })
  const follow = async () => {
    const reader = openSync(log, "r")
    const buffer = Buffer.alloc(1 << 16)
    let offset = 0
    const print = () => {
      for (let n; (n = readSync(reader, buffer, 0, buffer.length, offset)) > 0; offset += n) {
        // a copy: where stdout is asynchronous (macOS, Windows) the write may outlive the next read
        process.stdout.write(Buffer.from(buffer.subarray(0, n)))
      }
    }
    const timer = setInterval(print, 250)
    const status = await ended
    clearInterval(timer)
    print()
    closeSync(reader)
    return { status, output }
  }
  return { follow }
}

/** A vitest run's passed and failed tests, from its JSON report; a file that fails to load counts as a failure. */
function countVitest(run, report) {
  // the run was cut short (the hang guard's timeout, or a signal): say so, or only "no report" shows
  if (/ETIMEDOUT/.test(run.output)) {
    console.log(`vitest was stopped after ${VITEST_GUARD_MS / 1000} s by the hang guard: a test hangs`)
  } else if (/killed by|could not start/.test(run.output)) {
    console.log(`vitest was stopped: ${run.output.trim().split("\n").at(-1)}`)
  }
  let passed = 0
  let failed = 0
  if (existsSync(report)) {
    const json = JSON.parse(readFileSync(report, "utf8"))
    passed = json.numPassedTests
    failed = json.numFailedTests
    // a test file that fails to load has no test results but still failed
    failed += json.testResults.filter((file) => file.status === "failed" && file.assertionResults.length === 0).length
  } else {
    console.log(`vitest wrote no report (${report})`)
    failed += 1
  }
  if (run.status !== 0 && failed === 0) failed += 1
  return { passed, failed }
}

const args = process.argv.slice(2)
// arguments that choose projects (`--project node`) get one vitest run as they are, without lanes
const picksProjects = args.some((arg) => arg === "--project" || arg.startsWith("--project="))
// a guard against a hang, not a budget: the cluster tests take about 4 minutes on 2 cores
const VITEST_GUARD_MS = 600_000
const vitestArgs = (report) => [
  "run",
  // a focused test (`it.only`) left in fails the run instead of skipping the rest of its file
  "--allowOnly=false",
  "--reporter=default",
  "--reporter=json",
  `--outputFile.json=${report}`,
  // a file filter may match the files of one lane only (a filter that matches none fails below)
  ...(args.length > 0 && !picksProjects ? ["--passWithNoTests"] : []),
  ...args
]
const reports = join(root, ".vitest")
mkdirSync(reports, { recursive: true })
const clusterReport = join(reports, "report-cluster.json")
const clusterLog = join(reports, "cluster.log")
const otherReport = join(reports, "report.json")
for (const file of [clusterReport, clusterLog, otherReport]) rmSync(file, { force: true })

heading("type check, lint, docs")
const typecheck = await check(
  "type check: tsc -p tsconfig.json",
  () => succeed(exec(bin("tsc"), ["-p", "tsconfig.json", "--pretty", "false"]), "tsc -p tsconfig.json", 60)
)
const lint = await check(
  "lint: pnpm lint (oxlint, dprint check)",
  () => succeed(exec(pnpmBinary(), ["run", "lint"]), "pnpm lint", 60)
)
const docs = await runDocsChecks()

heading(picksProjects ? "vitest run" : "vitest run: every project but cluster")
const other = exec(bin("vitest"), [...vitestArgs(otherReport), ...(picksProjects ? [] : ["--project", "!cluster"])], {
  stdio: "inherit",
  timeout: VITEST_GUARD_MS
})
const otherCount = countVitest(other, otherReport)

heading("consumer test: the packages as a user installs them")
const consumer = await runConsumer()

// The cluster tests run one file at a time (each starts its own PostgreSQL and
// runner processes), in a vitest process of their own, after the rest: run
// beside it on 2 cores, tests that measure real time failed in 5 of 17 runs
// (a different one each time), though the suite took 4 minutes instead of 5.5.
let clusterCount = { passed: 0, failed: 0 }
if (!picksProjects) {
  heading("vitest run: project cluster")
  const clusterLane = startInBackground(
    bin("vitest"),
    [...vitestArgs(clusterReport), "--project", "cluster"],
    clusterLog,
    VITEST_GUARD_MS
  )
  clusterCount = countVitest(await clusterLane.follow(), clusterReport)
}

const vitestPassed = otherCount.passed + clusterCount.passed
let vitestFailed = otherCount.failed + clusterCount.failed
// each lane passes when a filter matches none of its files; together they must have run something
if (vitestPassed + vitestFailed === 0) {
  console.log(`no vitest test ran${args.length > 0 ? ` for ${args.join(" ")}` : ""}`)
  vitestFailed = 1
}
const checks = [typecheck, lint, ...docs, ...consumer]
const failedChecks = checks.filter((result) => !result.ok)
const passed = vitestPassed + checks.length - failedChecks.length
const failed = vitestFailed + failedChecks.length

console.log("")
if (failedChecks.length > 0) console.log(`failed checks: ${failedChecks.map((result) => result.name).join("; ")}`)
console.log(
  `counted: ${
    vitestPassed + vitestFailed
  } vitest tests + type check + lint + ${docs.length} docs checks + ${consumer.length} consumer checks`
)
console.log(`${passed} passed, ${failed} failed`)
process.exit(failed === 0 && passed > 0 ? 0 : 1)

#!/usr/bin/env node
// The whole suite, as CI and `npm test` / `pnpm test` run it. Each line below
// is counted like a test in the closing line:
//   1. the type check of the workspace (tsc, strict): one check;
//   2. the lint (`pnpm lint`: oxlint and dprint check): one check;
//   3. the docs (scripts/check-docs.mjs): one check per README with
//      TypeScript blocks, one for the JSDoc examples, one for the JSDoc tags;
//   4. every vitest test (the default reporter for people, the JSON reporter
//      for this script); a test file that fails to load counts as a failure.
//      The cluster project runs in a vitest run of its own, last;
//   5. the consumer test (scripts/consumer.mjs): one check per step.
// Then it prints what the count is made of, and last, alone on its line,
// `N passed, N failed`; it exits non-zero when anything failed.
// Arguments go to vitest (e.g. a file filter; a filter that runs no test fails
// the run). With `--project` among them, vitest runs once, as they say.
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs"
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

/** A vitest run's passed and failed tests, from its JSON report; a file that fails to load counts as a failure. */
function countVitest(run, report) {
  // the run was cut short (the hang guard's timeout, or a signal): say so, or only "no report" shows
  if (/ETIMEDOUT/.test(run.output)) {
    console.log(`vitest was stopped after ${VITEST_GUARD_MS / 1000} s by the hang guard: a test hangs`)
  } else if (/killed by/.test(run.output)) {
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
const otherReport = join(reports, "report.json")
for (const file of [clusterReport, otherReport]) rmSync(file, { force: true })

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
// runner processes), in a vitest run of their own, after the rest: run
// beside it on 2 cores, tests that measure real time failed in 5 of 17 runs
// (a different one each time), though the suite took 4 minutes instead of 5.5.
let clusterCount = { passed: 0, failed: 0 }
if (!picksProjects) {
  heading("vitest run: project cluster")
  const cluster = exec(bin("vitest"), [...vitestArgs(clusterReport), "--project", "cluster"], {
    stdio: "inherit",
    timeout: VITEST_GUARD_MS
  })
  clusterCount = countVitest(cluster, clusterReport)
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

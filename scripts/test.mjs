#!/usr/bin/env node
// The whole suite, as CI and `npm test` / `pnpm test` run it. Each line below
// is counted like a test in the closing line:
//   1. the type check of the workspace (tsc, strict): one check;
//   2. the lint (`pnpm lint`: oxlint and dprint check): one check;
//   3. the docs (scripts/check-docs.mjs): one check per README with
//      TypeScript blocks, one for the JSDoc examples, one for the JSDoc tags;
//   4. every vitest test (the default reporter for people, the JSON reporter
//      for this script); a test file that fails to load counts as a failure;
//   5. the consumer test (scripts/consumer.mjs): one check per step.
// Then it prints what the count is made of, and last, alone on its line,
// `N passed, N failed`; it exits non-zero when anything failed.
// Arguments go to vitest (e.g. a file filter).
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs"
import { dirname, join } from "node:path"
import { runDocsChecks } from "./check-docs.mjs"
import { runConsumer } from "./consumer.mjs"
import { bin, check, exec, pnpmBinary, root, succeed, useColour } from "./lib/checks.mjs"

// vitest colours a pipe unless told not to; the other children follow NO_COLOR too
if (!useColour) {
  process.env.NO_COLOR = "1"
  delete process.env.FORCE_COLOR
}

const heading = (text) => console.log(`\n> ${text}`)

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

heading("vitest run")
// a guard against a hang, not a budget: the suite takes about 3 minutes on 2 cores
const VITEST_GUARD_MS = 600_000
const report = join(root, ".vitest", "report.json")
mkdirSync(dirname(report), { recursive: true })
rmSync(report, { force: true })
const vitest = exec(
  bin("vitest"),
  [
    "run",
    // a focused test (`it.only`) left in fails the run instead of skipping the rest of its file
    "--allowOnly=false",
    "--reporter=default",
    "--reporter=json",
    `--outputFile.json=${report}`,
    ...process.argv.slice(2)
  ],
  { stdio: "inherit", timeout: VITEST_GUARD_MS }
)
let vitestPassed = 0
let vitestFailed = 0
// the run was cut short (the hang guard's timeout, or a signal): say so, or only "no report" shows
if (/ETIMEDOUT/.test(vitest.output)) {
  console.log(`vitest was stopped after ${VITEST_GUARD_MS / 1000} s by the hang guard: a test hangs`)
} else if (/killed by/.test(vitest.output)) {
  console.log(`vitest was stopped: ${vitest.output.trim().split("\n").at(-1)}`)
}
if (existsSync(report)) {
  const json = JSON.parse(readFileSync(report, "utf8"))
  vitestPassed = json.numPassedTests
  vitestFailed = json.numFailedTests
  // a test file that fails to load has no test results but still failed
  vitestFailed += json.testResults.filter((file) => file.status === "failed" && file.assertionResults.length === 0)
    .length
} else {
  console.log("vitest wrote no report")
  vitestFailed += 1
}
if (vitest.status !== 0 && vitestFailed === 0) vitestFailed += 1

heading("consumer test: the packages as a user installs them")
const consumer = await runConsumer()

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

#!/usr/bin/env node
// The whole suite, as CI and `pnpm test` run it:
//   1. type-check the workspace (tsc, strict), counted as one check;
//   2. run every vitest project with the default reporter for people and the
//      JSON reporter for this script;
//   3. print one closing line `N passed, N failed` and exit non-zero when
//      anything failed, type errors included.
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const bin = (name) => join(root, "node_modules", ".bin", name)
const run = (command, args) => {
  const result = spawnSync(command, args, { stdio: "inherit", cwd: root })
  if (result.error) throw result.error
  return result.status ?? 1
}

console.log("> tsc -p tsconfig.json")
const typecheckOk = run(bin("tsc"), ["-p", "tsconfig.json"]) === 0
console.log(typecheckOk ? "typecheck: ok" : "typecheck: FAILED")

const report = join(root, ".vitest", "report.json")
mkdirSync(dirname(report), { recursive: true })
rmSync(report, { force: true })
console.log("> vitest run")
const vitestStatus = run(bin("vitest"), [
  "run",
  "--reporter=default",
  "--reporter=json",
  `--outputFile.json=${report}`,
  ...process.argv.slice(2)
])

let passed = 0
let failed = 0
if (existsSync(report)) {
  const json = JSON.parse(readFileSync(report, "utf8"))
  passed = json.numPassedTests
  failed = json.numFailedTests
  // a test file that fails to load has no test results but still failed
  failed += json.testResults.filter((file) => file.status === "failed" && file.assertionResults.length === 0).length
} else {
  console.log("vitest wrote no report")
  failed += 1
}
if (vitestStatus !== 0 && failed === 0) failed += 1
if (typecheckOk) passed += 1
else failed += 1

console.log(`${passed} passed, ${failed} failed`)
process.exit(failed === 0 && passed > 0 ? 0 : 1)

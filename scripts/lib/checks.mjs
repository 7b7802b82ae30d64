// What the suite's scripts share: colours that follow NO_COLOR and the
// terminal, running a command with its output kept for the failure report,
// and named checks that print one line each and are counted in the closing
// line like tests.
import { spawn, spawnSync } from "node:child_process"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { stripVTControlCharacters } from "node:util"

export const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..")

/** Colour only on a terminal, never with NO_COLOR; FORCE_COLOR forces it (as Node and vitest read them). */
export const useColour = !("NO_COLOR" in process.env) &&
  ("FORCE_COLOR" in process.env ? process.env.FORCE_COLOR !== "0" : process.stdout.isTTY === true)

const paint = (open, close) => (text) => useColour ? `\u001b[${open}m${text}\u001b[${close}m` : text
export const green = paint(32, 39)
export const red = paint(31, 39)
export const dim = paint(2, 22)

export const readJson = (file) => JSON.parse(readFileSync(file, "utf8"))

/** The packages a user installs: every package under packages/ that is not private, with its manifest. */
export const publishedPackages = () =>
  readdirSync(join(root, "packages"))
    .map((dir) => join(root, "packages", dir))
    .filter((dir) => existsSync(join(dir, "package.json")) && readJson(join(dir, "package.json")).private !== true)
    .map((dir) => ({ dir, manifest: readJson(join(dir, "package.json")) }))

/** A binary of the workspace's node_modules/.bin. */
export const bin = (name) => join(root, "node_modules", ".bin", process.platform === "win32" ? `${name}.cmd` : name)

/** pnpm: the one bootstrap put on PATH, or the one in .toolchain/. */
export const pnpmBinary = () => {
  const local = join(root, ".toolchain", "node_modules", ".bin", process.platform === "win32" ? "pnpm.cmd" : "pnpm")
  return existsSync(local) ? local : "pnpm"
}

/** Runs a command to its end and keeps what it printed. */
export const exec = (command, args, options = {}) => {
  const result = spawnSync(command, args, {
    cwd: root,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    timeout: 120_000,
    ...options
  })
  // some tools (dprint) colour a pipe all the same
  const plain = (text) => useColour ? text ?? "" : stripVTControlCharacters(text ?? "")
  const output = `${plain(result.stdout)}${plain(result.stderr)}`
  if (result.error) return { status: 1, stdout: result.stdout ?? "", output: `${output}\n${result.error.message}` }
  if (result.signal) return { status: 1, stdout: result.stdout ?? "", output: `${output}\nkilled by ${result.signal}` }
  return { status: result.status ?? 1, stdout: result.stdout ?? "", output }
}

/** Like exec, without waiting: a promise of `{ status, stdout, output }`. */
export const execAsync = (command, args, options = {}) =>
  new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, ...options })
    let stdout = ""
    let output = ""
    child.stdout.on("data", (chunk) => {
      stdout += chunk
      output += chunk
    })
    child.stderr.on("data", (chunk) => (output += chunk))
    child.on("error", (error) => resolve({ status: 1, stdout, output: `${output}\n${error.message}` }))
    child.on("close", (status, signal) =>
      resolve({ status: status ?? 1, stdout, output: signal ? `${output}\nkilled by ${signal}` : output }))
  })

/** A failed check: its message is what the user would see. */
export class CheckFailed extends Error {}

/** Throws a CheckFailed carrying the command line and the last lines it printed, unless it exited 0. */
export const succeed = (result, what, lines = 40) => {
  if (result.status === 0) return result
  const tail = result.output.trimEnd().split("\n").slice(-lines).join("\n")
  throw new CheckFailed(`${what} exited with ${result.status}:\n${tail}`)
}

const indent = (text) => text.split("\n").map((line) => `    ${line}`).join("\n")

/**
 * Runs one named check and prints `✓ name (time)`, or `✗ name (time)` and
 * why. Returns `{ name, ok }`.
 */
export const check = async (name, body) => {
  const start = performance.now()
  let error
  try {
    await body()
  } catch (cause) {
    error = cause
  }
  const seconds = `${((performance.now() - start) / 1000).toFixed(1)} s`
  if (error === undefined) {
    console.log(`${green("✓")} ${name} ${dim(`(${seconds})`)}`)
    return { name, ok: true }
  }
  console.log(`${red("✗")} ${name} ${dim(`(${seconds})`)}`)
  console.log(indent(error instanceof CheckFailed ? error.message : (error?.stack ?? String(error))))
  return { name, ok: false }
}

/** The closing line of a script run on its own: `N passed, N failed`. */
export const summarize = (results) => {
  const failed = results.filter((result) => !result.ok).length
  console.log(`${results.length - failed} passed, ${failed} failed`)
  return failed === 0 && results.length > 0 ? 0 : 1
}

/** True when this module is the script node was started with. */
export const isMain = (meta) => process.argv[1] !== undefined && fileURLToPath(meta.url) === process.argv[1]

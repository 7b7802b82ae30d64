#!/usr/bin/env node
// The workspace's wrapper, in the spirit of gradlew/mvnw: `npm start` and
// `npm test` on a machine with any Node >= 18 and npm, nothing else.
//
// 1. Finds a Node >= 22.19. When the running one is older, it installs the
//    pinned `node` package (24.x) from the npm registry into .toolchain/.
// 2. Installs the pinned pnpm from the npm registry into .toolchain/.
// 3. Runs `pnpm install --frozen-lockfile` (when the lockfile or a manifest
//    changed since the last install) and then the target (`demo`, `test`, or
//    `ts <file>`) with that Node first on PATH, so every child process uses it.
//
// It prints one line per step, to stderr as it happens (also when piped):
// what it fetches or runs, then how long that took. Colours follow NO_COLOR
// and whether stdout is a terminal; the children are told the same.
//
// Users who already have Node >= 22.19 and pnpm run `pnpm install`, then
// `pnpm demo` / `pnpm test`: those land here too, see that pnpm and a recent
// Node are already in charge, and run the target directly.
import { spawn, spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync, writeSync } from "node:fs"
import { delimiter, dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const NODE_VERSION = "24.21.0"
const PNPM_VERSION = "12.4.2"
const MIN_NODE = [22, 19]

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const toolchain = join(root, ".toolchain")
const bin = join(toolchain, "node_modules", ".bin")

// What each target runs, under the chosen Node; `ts` runs the file it is given.
const TARGETS = {
  demo: ["packages/demo/src/main.ts"],
  "demo:cluster": ["packages/cluster/demo/main.ts"],
  test: ["scripts/test.mjs"],
  ts: []
}

const target = process.argv[2]
const targetArgs = process.argv.slice(3)
if (!Object.hasOwn(TARGETS, target ?? "") || (target === "ts" && targetArgs.length === 0)) {
  console.error(
    `usage: node scripts/bootstrap.mjs <${Object.keys(TARGETS).join("|")}> [args...] (got ${
      JSON.stringify(process.argv.slice(2))
    }); ts needs the file to run, e.g. npm run ts -- try.ts`
  )
  process.exit(2)
}

// Colours: never with NO_COLOR, forced by FORCE_COLOR, else only on a terminal. Children print to the
// same stdout, but some (vitest) colour a pipe unless told: tell them.
const colour = !("NO_COLOR" in process.env) &&
  ("FORCE_COLOR" in process.env ? process.env.FORCE_COLOR !== "0" : process.stdout.isTTY === true)
const colourEnv = colour ? {} : { NO_COLOR: "1", NODE_DISABLE_COLORS: "1" }
const dim = (text) => colour ? `\u001b[2m${text}\u001b[22m` : text

// Straight to the file descriptor: no buffering, whatever stderr is.
const log = (message) => writeSync(2, `${dim("[bootstrap]")} ${message}\n`)
const seconds = (start) => `${((performance.now() - start) / 1000).toFixed(1)} s`

const run = (command, args, options = {}) => {
  const result = spawnSync(command, args, { stdio: "inherit", cwd: root, ...options })
  if (result.error) throw result.error
  return result.status ?? 1
}

// The parent (npm, pnpm, a shell) as this process starts: see `runTarget`.
const parentAtStart = process.ppid

/**
 * Runs the target and exits as it does. Unlike `run`, it waits without
 * blocking, so that a signal sent to this process (a CI runner stopping the
 * job, a `kill` of `npm test`) is passed on to the target and what it started
 * (vitest and its workers, PostgreSQL, the cluster runners) instead of
 * leaving them running, orphaned; so is the end of the parent (npm does not
 * pass a SIGTERM on: when it dies, this process is left to init).
 *
 * On a terminal the target stays in the terminal's process group, so that
 * Ctrl-C (each press) and Ctrl-Z reach it and the shell's job control holds;
 * a SIGINT here is the terminal's, which the target got too, and this process
 * waits for it to end. Elsewhere (CI, pipes) the target runs in a process
 * group of its own, which gets every SIGINT, SIGTERM and SIGHUP sent here
 * (a copy arriving within 200 ms of the same signal is dropped: npm passes on
 * the SIGINT this process got already). A target ended by a signal ends this
 * process with the same signal.
 */
const runTarget = (command, args, options) => {
  if (process.ppid !== parentAtStart) {
    log("the process that started this one has ended: not running the target")
    process.exit(1)
  }
  const terminal = process.stdin.isTTY === true || process.stdout.isTTY === true
  const group = !terminal && process.platform !== "win32"
  const child = spawn(command, args, { stdio: "inherit", cwd: root, detached: group, ...options })
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"]
  const lastSent = new Map()
  const forward = (signal) => {
    if (child.exitCode !== null || child.signalCode !== null) return
    if (terminal && signal === "SIGINT") return // the terminal's, already the target's too
    const now = Date.now()
    if (now - (lastSent.get(signal) ?? Number.NEGATIVE_INFINITY) < 200) return
    lastSent.set(signal, now)
    try {
      if (group) process.kill(-child.pid, signal)
      else child.kill(signal)
    } catch {
      // it has ended meanwhile
    }
  }
  for (const signal of signals) process.on(signal, forward)
  const orphaned = setInterval(() => {
    if (process.ppid !== parentAtStart) forward("SIGTERM")
  }, 500)
  child.on("error", (error) => {
    log(`could not run ${command}: ${error.message}`)
    process.exit(1)
  })
  child.on("exit", (code, signal) => {
    clearInterval(orphaned)
    for (const s of signals) process.off(s, forward)
    if (signal !== null) process.kill(process.pid, signal)
    else process.exit(code ?? 1)
  })
}

const nodeIsRecentEnough = (version) => {
  const [major, minor] = version.replace(/^v/, "").split(".").map(Number)
  return major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1])
}

const installedVersion = (name) => {
  const manifest = join(toolchain, "node_modules", name, "package.json")
  return existsSync(manifest) ? JSON.parse(readFileSync(manifest, "utf8")).version : undefined
}

const childEnv = (extra = {}) => {
  const env = { ...process.env, ...colourEnv, ...extra }
  if (!colour) delete env.FORCE_COLOR // Node warns when both NO_COLOR and FORCE_COLOR are set
  return env
}

// Already under pnpm with a recent Node: nothing to set up.
if (nodeIsRecentEnough(process.version) && (process.env.npm_config_user_agent ?? "").startsWith("pnpm/")) {
  runTarget(process.execPath, [...TARGETS[target], ...targetArgs], { env: childEnv() })
  await new Promise(() => {}) // runTarget ends this process when the target ends
}

// --- 1 and 2: the toolchain -------------------------------------------------
const needNode = !nodeIsRecentEnough(process.version)
const wanted = [...(needNode ? [["node", NODE_VERSION]] : []), ["pnpm", PNPM_VERSION]]
const missing = wanted.filter(([name, version]) =>
  installedVersion(name) !== version || (name === "node" && !existsSync(join(bin, "node")))
)
log(
  needNode
    ? `Node ${process.version} is older than ${MIN_NODE.join(".")}: using Node ${NODE_VERSION} from .toolchain/`
    : `using this Node, ${process.version}`
)
if (missing.length === 0) {
  log(`toolchain: ${wanted.map(([name, version]) => `${name} ${version}`).join(" and ")} already in .toolchain/`)
} else {
  mkdirSync(toolchain, { recursive: true })
  // the `node` package sets up its binary in an install script: allowed by
  // name here, and on the command line below against `ignore-scripts=true`
  writeFileSync(
    join(toolchain, "package.json"),
    JSON.stringify({ private: true, name: "taskscope-toolchain", allowScripts: { node: true, pnpm: true } }, null, 2)
  )
  const npm = process.platform === "win32" ? "npm.cmd" : "npm"
  for (const [name, version] of missing) {
    const start = performance.now()
    log(`fetching ${name}@${version} from the npm registry into .toolchain/ ...`)
    // what is already there is named too (npm fetches nothing for it), so that npm does not prune it
    const present = wanted.filter(([other, v]) => other !== name && installedVersion(other) === v)
    const status = run(
      npm,
      [
        "install",
        "--prefix",
        toolchain,
        "--no-audit",
        "--no-fund",
        "--no-update-notifier",
        "--save-exact",
        "--ignore-scripts=false",
        "--loglevel=error",
        `${name}@${version}`,
        ...present.map(([other, v]) => `${other}@${v}`)
      ],
      { shell: process.platform === "win32", env: childEnv() }
    )
    if (status !== 0) {
      log(`npm could not install ${name}@${version} (exit ${status})`)
      process.exit(status)
    }
    if (name === "node" && spawnSync(join(bin, "node"), ["--version"]).status !== 0) {
      log(
        `npm installed node@${version} but .toolchain/node_modules/.bin/node does not run: the package's ` +
          "install script, which fetches the binary, did not run or failed (is ignore-scripts or " +
          "strict-allow-scripts set for npm?); remove .toolchain/ and try again, or use Node >= " +
          `${MIN_NODE.join(".")} yourself`
      )
      process.exit(1)
    }
    log(`fetched ${name}@${version} in ${seconds(start)}`)
  }
}

const nodeBinary = needNode ? join(bin, "node") : process.execPath
const env = childEnv({
  PATH: [dirname(nodeBinary), bin, process.env.PATH ?? ""].join(delimiter),
  // npm sets these for `npm start`; they would make pnpm think npm runs it
  npm_config_user_agent: `pnpm/${PNPM_VERSION}`,
  // the machine's own Node, which the consumer test runs a program on too
  TASKSCOPE_MACHINE_NODE: process.env.TASKSCOPE_MACHINE_NODE ?? process.execPath
})
// pnpm 12 installs as a native executable; it runs scripts with the `node` first on PATH
const pnpm = (args) => run(join(bin, process.platform === "win32" ? "pnpm.cmd" : "pnpm"), args, { env })

// --- 3: dependencies, then the script ----------------------------------------
const fingerprint = () => {
  const hash = createHash("sha256")
  hash.update(readFileSync(join(root, "pnpm-lock.yaml")))
  hash.update(readFileSync(join(root, "package.json")))
  for (const dir of readdirSync(join(root, "packages"))) {
    const manifest = join(root, "packages", dir, "package.json")
    if (existsSync(manifest)) hash.update(readFileSync(manifest))
  }
  hash.update(nodeBinary)
  return hash.digest("hex")
}
const stamp = join(toolchain, "installed.sha256")
const current = fingerprint()
const firstInstall = !existsSync(join(root, "node_modules")) || !existsSync(stamp)
if (firstInstall || readFileSync(stamp, "utf8") !== current) {
  const start = performance.now()
  const why = firstInstall ? "no install yet" : "the lockfile or a manifest changed since the last install"
  log(`pnpm install --frozen-lockfile (${why}) ...`)
  const status = pnpm(["install", "--frozen-lockfile", "--reporter=append-only"])
  if (status !== 0) process.exit(status)
  writeFileSync(stamp, current)
  log(`installed the workspace's dependencies in ${seconds(start)}`)
} else {
  log("dependencies: up to date with the lockfile")
}

const command = [...TARGETS[target], ...targetArgs]
log(`running node ${command.join(" ")} (Node ${needNode ? NODE_VERSION : process.version.slice(1)})`)
runTarget(nodeBinary, command, { env })

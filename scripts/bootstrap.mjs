#!/usr/bin/env node
// The workspace's wrapper, in the spirit of gradlew/mvnw: `npm start` and
// `npm test` on a machine with any Node >= 18 and npm, nothing else.
//
// 1. Finds a Node >= 22.19. When the running one is older, it installs the
//    pinned `node` package (24.x) from the npm registry into .toolchain/.
// 2. Installs the pinned pnpm from the npm registry into .toolchain/.
// 3. Runs `pnpm install --frozen-lockfile` (when the lockfile or a manifest
//    changed since the last install) and then the target (`demo` or `test`)
//    with that Node first on PATH, so every child process uses it too.
//
// Users who already have Node >= 22.19 and pnpm run `pnpm install`, then
// `pnpm demo` / `pnpm test`: those land here too, see that pnpm and a recent
// Node are already in charge, and run the target directly.
import { spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs"
import { delimiter, dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const NODE_VERSION = "24.21.0"
const PNPM_VERSION = "12.4.2"
const MIN_NODE = [22, 19]

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const toolchain = join(root, ".toolchain")
const bin = join(toolchain, "node_modules", ".bin")

// What each target runs, under the chosen Node.
const TARGETS = {
  demo: ["packages/demo/src/main.ts"],
  "demo:cluster": ["packages/cluster/demo/main.ts"],
  test: ["scripts/test.mjs"]
}

const target = process.argv[2]
const targetArgs = process.argv.slice(3)
if (!Object.hasOwn(TARGETS, target ?? "")) {
  console.error(`usage: node scripts/bootstrap.mjs <${Object.keys(TARGETS).join("|")}> [args...] (got ${JSON.stringify(target)})`)
  process.exit(2)
}

const log = (message) => console.error(`[bootstrap] ${message}`)

const run = (command, args, options = {}) => {
  const result = spawnSync(command, args, { stdio: "inherit", cwd: root, ...options })
  if (result.error) throw result.error
  return result.status ?? 1
}

const nodeIsRecentEnough = (version) => {
  const [major, minor] = version.replace(/^v/, "").split(".").map(Number)
  return major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1])
}

const installedVersion = (name) => {
  const manifest = join(toolchain, "node_modules", name, "package.json")
  return existsSync(manifest) ? JSON.parse(readFileSync(manifest, "utf8")).version : undefined
}

// Already under pnpm with a recent Node: nothing to set up.
if (nodeIsRecentEnough(process.version) && (process.env.npm_config_user_agent ?? "").startsWith("pnpm/")) {
  process.exit(run(process.execPath, [...TARGETS[target], ...targetArgs]))
}

// --- 1 and 2: the toolchain -------------------------------------------------
const needNode = !nodeIsRecentEnough(process.version)
const wanted = [`pnpm@${PNPM_VERSION}`]
if (needNode) wanted.push(`node@${NODE_VERSION}`)
const missing = wanted.filter((spec) => {
  const [name, version] = spec.split("@")
  return installedVersion(name) !== version || (name === "node" && !existsSync(join(bin, "node")))
})
if (missing.length > 0) {
  log(`Node ${process.version}${needNode ? ` is older than ${MIN_NODE.join(".")}` : ""}; fetching ${missing.join(", ")} into .toolchain/`)
  mkdirSync(toolchain, { recursive: true })
  if (!existsSync(join(toolchain, "package.json"))) {
    writeFileSync(join(toolchain, "package.json"), JSON.stringify({ private: true, name: "taskscope-toolchain" }, null, 2))
  }
  const npm = process.platform === "win32" ? "npm.cmd" : "npm"
  const status = run(npm, ["install", "--prefix", toolchain, "--no-audit", "--no-fund", "--no-save", "--loglevel=error", ...wanted])
  if (status !== 0) {
    log(`npm could not install ${wanted.join(", ")} (exit ${status})`)
    process.exit(status)
  }
}

const nodeBinary = needNode ? join(bin, "node") : process.execPath
const env = {
  ...process.env,
  PATH: [dirname(nodeBinary), bin, process.env.PATH ?? ""].join(delimiter),
  // npm sets these for `npm start`; they would make pnpm think npm runs it
  npm_config_user_agent: `pnpm/${PNPM_VERSION}`
}
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
if (!existsSync(join(root, "node_modules")) || !existsSync(stamp) || readFileSync(stamp, "utf8") !== current) {
  const status = pnpm(["install", "--frozen-lockfile", "--reporter=append-only"])
  if (status !== 0) process.exit(status)
  writeFileSync(stamp, current)
}

process.exit(run(nodeBinary, [...TARGETS[target], ...targetArgs], { env }))

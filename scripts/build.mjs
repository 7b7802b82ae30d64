#!/usr/bin/env node
// Builds the package in the current directory (or the ones named) for the
// registry: an empty dist/, then tsc with the package's tsconfig.build.json
// (ESM .js, .d.ts, declaration and source maps). The workspace itself runs on
// src/ and never needs this; `pnpm pack` and `pnpm publish` run it (prepack).
import { spawnSync } from "node:child_process"
import { rmSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const tsc = join(root, "node_modules", ".bin", process.platform === "win32" ? "tsc.cmd" : "tsc")
const dirs = process.argv.length > 2 ? process.argv.slice(2).map((dir) => resolve(dir)) : [process.cwd()]

for (const dir of dirs) {
  rmSync(join(dir, "dist"), { recursive: true, force: true })
  const result = spawnSync(tsc, ["-p", join(dir, "tsconfig.build.json")], { stdio: "inherit", cwd: dir })
  if (result.error) throw result.error
  if (result.status !== 0) {
    console.error(`build: tsc failed in ${dir} (exit ${result.status})`)
    process.exit(result.status ?? 1)
  }
}

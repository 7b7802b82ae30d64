#!/usr/bin/env node
// The consumer test: taskscope as a user gets it from the registry.
//
// It builds and packs every published package with pnpm (as `pnpm publish`
// would), installs the tarballs with npm into a fresh project in the system's
// temporary folder (outside the workspace: nothing of it can leak in),
// checks the installed manifests (real version ranges, `exports` into dist/),
// and there:
//   (a) runs a plain-JS ESM program using BackgroundExecutor.scoped with the
//       machine's own Node and with the toolchain's Node 24;
//   (b) type-checks a strict TypeScript consumer (skipLibCheck off) with
//       moduleResolution nodenext and with bundler;
//   (c) runs a WorkerExecutor program whose worker entry is a plain .js file
//       importing @taskscope/node/WorkerRunner from the installed package.
// Each step is one counted check that fails with what the user would see.
// The programs live in scripts/consumer/. npm reuses its cache, so only a
// first run downloads effect & co. from the npm registry.
//
// `node scripts/consumer.mjs` runs it alone; `npm test` runs it with the rest.
// TASKSCOPE_KEEP_CONSUMER=1 keeps the temporary project to look at.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, relative } from "node:path"
import {
  bin,
  check,
  CheckFailed,
  exec,
  execAsync,
  isMain,
  pnpmBinary,
  publishedPackages,
  readJson,
  root,
  succeed,
  summarize
} from "./lib/checks.mjs"

/** What a tarball may hold: the manifest, README, LICENSE, dist/ and src/ (for the source maps). */
const allowedInTarball = (path) =>
  path === "package.json" || path === "README.md" || path === "LICENSE" || path === "CHANGELOG.md" ||
  path.startsWith("dist/") || path.startsWith("src/")

/** Every file an `exports` map points at, with the condition that leads there. */
const exportTargets = (exports, trail = []) => {
  if (typeof exports === "string") return [{ trail: trail.join(" > "), target: exports }]
  if (exports === null || typeof exports !== "object") return []
  return Object.entries(exports).flatMap(([key, value]) => exportTargets(value, [...trail, key]))
}

/** The Nodes to run on: the machine's own (bootstrap passes it on) and the toolchain's. */
const nodes = () => {
  const toolchainNode = join(root, ".toolchain", "node_modules", ".bin", "node")
  const candidates = [
    { role: "the machine's Node", path: process.env.TASKSCOPE_MACHINE_NODE ?? process.execPath },
    { role: "the toolchain's Node", path: existsSync(toolchainNode) ? toolchainNode : process.execPath }
  ]
  const seen = new Set()
  return candidates.flatMap((node) => {
    const real = realpathSync(node.path)
    if (seen.has(real)) return []
    seen.add(real)
    const version = exec(node.path, ["--version"]).stdout.trim()
    return [{ ...node, version, major: Number(version.replace(/^v/, "").split(".")[0]) }]
  })
}

const expectOutput = (result, expected, what) => {
  succeed(result, what)
  const last = result.stdout.trim().split("\n").at(-1)
  if (last !== expected) {
    throw new CheckFailed(
      `${what} printed ${JSON.stringify(last)}, expected ${JSON.stringify(expected)}:\n${result.output}`
    )
  }
}

const RESOLUTIONS = ["nodenext", "bundler"]

/**
 * The declarations are checked with the workspace's TypeScript (7) and with
 * this older one, which many users are still on: a `.d.ts` that only a newer
 * compiler reads would break them.
 */
const OLDEST_TYPESCRIPT = "5.9.3"

/**
 * Starts tsc (the workspace's, or the consumer project's own when `tsc` is
 * given) on app.ts, library.ts and cluster-app.ts, strict and with skipLibCheck off, with `moduleResolution`
 * `resolution`.
 */
const typeCheck = (project, resolution, tsc = bin("tsc")) => {
  const config = `tsconfig.${resolution}.json`
  writeFileSync(
    join(project, config),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        exactOptionalPropertyTypes: true,
        noUncheckedIndexedAccess: true,
        skipLibCheck: false,
        // the declarations a library built on taskscope would publish: their types must be nameable
        declaration: true,
        emitDeclarationOnly: true,
        outDir: `declarations.${resolution}`,
        // no `lib`: the default for the target includes DOM, which effect's own declarations need
        target: "ES2023",
        module: resolution === "nodenext" ? "NodeNext" : "ESNext",
        moduleResolution: resolution,
        types: ["node"]
      },
      files: ["app.ts", "library.ts", "cluster-app.ts"]
    })
  )
  return execAsync(tsc, ["-p", config], { cwd: project })
}

export const runConsumer = async () => {
  const project = mkdtempSync(join(tmpdir(), "taskscope-consumer-"))
  // a run stopped by a signal (Ctrl-C, a CI job cancelled) removes the project too (about 110 MB)
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"]
  const onSignal = (signal) => {
    rmSync(project, { recursive: true, force: true })
    for (const s of signals) process.off(s, onSignal)
    process.kill(process.pid, signal)
  }
  for (const s of signals) process.on(s, onSignal)
  const tarballs = join(project, "tarballs")
  const packages = publishedPackages()
  const failedSteps = new Set()
  const results = []
  // a step that needs an earlier one fails at once, naming it
  const step = async (name, needs, body) => {
    // a turn of the event loop first: the steps run their commands synchronously, and a signal's
    // handler (above) runs only between them
    await new Promise((resolve) => setTimeout(resolve, 1))
    const missing = needs.filter((need) => failedSteps.has(need))
    const result = await check(name, () => {
      if (missing.length > 0) throw new CheckFailed(`not run: ${missing.join(", ")} failed`)
      return body()
    })
    if (!result.ok) failedSteps.add(name)
    results.push(result)
  }

  const PACK = "consumer: build and pack " + packages.map((pkg) => pkg.manifest.name).join(", ")
  const INSTALL = "consumer: npm install the tarballs into a fresh project"
  try {
    await step(PACK, [], () => {
      mkdirSync(tarballs)
      for (const { dir, manifest } of packages) {
        // prepack builds dist/ first; --json lists what the tarball holds
        const packed = succeed(
          exec(pnpmBinary(), ["pack", "--json", "--pack-destination", tarballs], { cwd: dir }),
          `pnpm pack in ${relative(root, dir)}`
        )
        const listing = JSON.parse(packed.stdout.slice(packed.stdout.indexOf("{")))
        const files = listing.files.map((file) => file.path)
        const stray = files.filter((path) => !allowedInTarball(path))
        if (stray.length > 0) {
          throw new CheckFailed(`${manifest.name}'s tarball holds more than it should: ${stray.join(", ")}`)
        }
        for (const needed of ["README.md", "LICENSE", "package.json"]) {
          if (!files.includes(needed)) throw new CheckFailed(`${manifest.name}'s tarball has no ${needed}`)
        }
      }
    })

    await step(INSTALL, [PACK], () => {
      const devVersion = (name) => {
        for (const { manifest } of packages) if (manifest.devDependencies?.[name]) return manifest.devDependencies[name]
        throw new CheckFailed(`no package of the workspace has ${name} as a dev dependency`)
      }
      const dependencies = Object.fromEntries(
        readdirSync(tarballs).map((file) => {
          const pkg = packages.find(({ manifest }) =>
            file.startsWith(`${manifest.name.replace("@", "").replace("/", "-")}-${manifest.version}`)
          )
          return [pkg.manifest.name, `file:${join(tarballs, file)}`]
        })
      )
      const typesNode = readJson(join(root, "node_modules", "@types", "node", "package.json")).version
      writeFileSync(
        join(project, "package.json"),
        JSON.stringify(
          {
            name: "taskscope-consumer",
            private: true,
            type: "module",
            dependencies: {
              ...dependencies,
              effect: devVersion("effect"),
              "@effect/platform-node": devVersion("@effect/platform-node"),
              "@effect/sql-pg": devVersion("@effect/sql-pg"),
              "@types/node": typesNode,
              typescript: OLDEST_TYPESCRIPT
            }
          },
          null,
          2
        )
      )
      succeed(
        exec(
          process.platform === "win32" ? "npm.cmd" : "npm",
          ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error", "--no-update-notifier"],
          { cwd: project, shell: process.platform === "win32" }
        ),
        `npm install in ${project}`
      )
      cpSync(join(root, "scripts", "consumer"), project, { recursive: true })
    })

    // what npm installed is what the registry would serve: check the manifests (the programs below
    // run all the same, to show what a user of a wrong manifest would see)
    await step("consumer: the installed manifests carry real ranges and export dist/", [INSTALL], () => {
      const problems = []
      for (const { manifest } of packages) {
        const installedDir = join(project, "node_modules", ...manifest.name.split("/"))
        const installed = readJson(join(installedDir, "package.json"))
        if (JSON.stringify(installed).includes("workspace:")) {
          problems.push(`${manifest.name}'s packed manifest still says workspace:`)
        }
        for (const { target, trail } of exportTargets(installed.exports)) {
          if (target === "./package.json") continue
          if (!target.startsWith("./dist/")) {
            problems.push(`${manifest.name}'s exports ${trail} points at ${target}, not at dist/`)
          } else if (!existsSync(join(installedDir, target))) {
            problems.push(`${manifest.name}'s exports ${trail} points at ${target}, which the tarball lacks`)
          }
        }
      }
      if (problems.length > 0) throw new CheckFailed(problems.join("\n"))
    })

    for (const node of nodes()) {
      await step(
        `consumer: plain-JS BackgroundExecutor program on ${node.role} (${node.version})`,
        [INSTALL],
        () =>
          expectOutput(
            exec(node.path, ["executor.mjs"], { cwd: project }),
            JSON.stringify({ pages: ["<html>/a</html>", "<html>/b</html>", "<html>/c</html>"], submitted: 4 }),
            `node ${node.version} executor.mjs`
          )
      )
    }

    // the programs of the packages that need Node >= 22.19 run on the newest Node at hand
    const recentNode = nodes().findLast((node) => node.major >= 22)
    const onRecentNode = (what, pkg, file, expected) =>
      step(`consumer: ${what} (${recentNode?.version ?? "no Node >= 22"})`, [INSTALL], () => {
        if (recentNode === undefined) throw new CheckFailed(`no Node >= 22.19 to run ${pkg} on`)
        expectOutput(
          exec(recentNode.path, [file], { cwd: project }),
          JSON.stringify(expected),
          `node ${recentNode.version} ${file}`
        )
      })
    // every subpath each package exports, internal ones included, loads under plain Node
    await step(`consumer: every exported subpath imports (${recentNode?.version ?? "no Node >= 22"})`, [INSTALL],
      () => {
        if (recentNode === undefined) throw new CheckFailed("no Node >= 22.19 to import @taskscope/node on")
        const specifiers = packages.flatMap(({ manifest }) =>
          Object.keys(readJson(join(project, "node_modules", ...manifest.name.split("/"), "package.json")).exports)
            .filter((subpath) => subpath !== "./package.json")
            .map((subpath) => subpath === "." ? manifest.name : `${manifest.name}${subpath.slice(1)}`)
        )
        const program = specifiers.map((specifier) => `await import(${JSON.stringify(specifier)})`).join("\n") +
          `\nconsole.log(${JSON.stringify(JSON.stringify(specifiers.length))})`
        writeFileSync(join(project, "subpaths.mjs"), program)
        expectOutput(
          exec(recentNode.path, ["subpaths.mjs"], { cwd: project }),
          JSON.stringify(specifiers.length),
          `node ${recentNode.version} subpaths.mjs`
        )
      })
    await onRecentNode(
      "plain-JS ClusterExecutor program on the in-memory cluster",
      "@taskscope/cluster",
      "cluster.mjs",
      [2, 4, 42]
    )

    // both type checks at once: they are independent
    const oldestTsc = join(project, "node_modules", ".bin", process.platform === "win32" ? "tsc.cmd" : "tsc")
    const typeChecks = new Map(
      failedSteps.has(INSTALL) ? [] : [
        ...RESOLUTIONS.map((resolution) => [resolution, typeCheck(project, resolution)]),
        ["oldest", typeCheck(project, "nodenext", oldestTsc)]
      ]
    )
    for (const resolution of RESOLUTIONS) {
      await step(`consumer: strict TypeScript type check, moduleResolution ${resolution}`, [INSTALL], async () => {
        succeed(await typeChecks.get(resolution), `tsc -p tsconfig.${resolution}.json`)
      })
    }
    await step(
      `consumer: strict TypeScript ${OLDEST_TYPESCRIPT} type check, moduleResolution nodenext`,
      [INSTALL],
      async () => {
        succeed(await typeChecks.get("oldest"), `TypeScript ${OLDEST_TYPESCRIPT}: tsc -p tsconfig.nodenext.json`)
      }
    )

    await onRecentNode(
      "WorkerExecutor program with a plain .js worker entry",
      "@taskscope/node",
      "worker-main.mjs",
      [55, 6765, 832040]
    )
  } finally {
    for (const s of signals) process.off(s, onSignal)
    if (process.env.TASKSCOPE_KEEP_CONSUMER) console.log(`consumer project kept in ${project}`)
    else rmSync(project, { recursive: true, force: true })
  }
  return results
}

if (isMain(import.meta)) {
  process.exit(summarize(await runConsumer()))
}

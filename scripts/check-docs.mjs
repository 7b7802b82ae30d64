#!/usr/bin/env node
// Docs that compile. Counted checks:
//   - for each README: every ```ts block, type-checked (one program per README,
//     so that blocks of one README may import each other: a block whose first
//     line is `// name.ts` is written as that file, the others as line-N.ts);
//   - every ```ts block under an @example tag in the JSDoc of the published
//     packages, each its own module, beside scripts/examples/ (the task set
//     and worker entry that the @taskscope/node examples import);
//   - every public export of the published packages has JSDoc with @since and
//     @category, and every public module a module doc with @since;
//   - every README's code fences pair up: each block opens with a language
//     (```ts, ```sh, ```text) and is closed, so that a stray fence cannot turn
//     the rest of the page into one code block.
// Errors are reported at the README or source line the example came from.
// The examples are written to .examples/ (git-ignored) and checked with the
// workspace's tsc and tsconfig.base.json, minus the unused-name rules.
//
// `node scripts/check-docs.mjs` runs it alone; `npm test` runs it with the rest.
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { dirname, join, relative } from "node:path"
import { bin, check, CheckFailed, execAsync, isMain, publishedPackages, root, summarize } from "./lib/checks.mjs"

const out = join(root, ".examples")
/** Every README of the repository: the root's and each package's. */
const readmes = () =>
  [
    join(root, "README.md"),
    ...readdirSync(join(root, "packages")).map((dir) => join(root, "packages", dir, "README.md"))
  ].filter((file) => existsSync(file))

// `ts` or `typescript`, with or without more after it (```ts title="x.ts"), in any case
const isTsFence = (line) => /^\s*```(ts|typescript)(\s.*)?$/i.test(line)
const isFenceEnd = (line) => /^\s*```\s*$/.test(line)

/** The ```ts blocks of a markdown text: `{ line, code }`, line being the 1-based line of the first code line. */
const markdownBlocks = (text) => {
  const lines = text.split("\n")
  const blocks = []
  for (let i = 0; i < lines.length; i++) {
    if (!isTsFence(lines[i])) continue
    const start = i + 1
    let end = start
    while (end < lines.length && !isFenceEnd(lines[end])) end++
    blocks.push({ line: start + 1, code: lines.slice(start, end).join("\n") })
    i = end
  }
  return blocks
}

/** The ```ts blocks under @example tags of the JSDoc comments of a source text. */
const jsdocExamples = (text) => {
  const examples = []
  for (const comment of text.matchAll(/\/\*\*[\s\S]*?\*\//g)) {
    const firstLine = text.slice(0, comment.index).split("\n").length
    const raw = comment[0].split("\n")
    const lines = raw.map((line) => line.replace(/^\s*\/?\*\*?\/?\s?/, "").replace(/\*\/\s*$/, ""))
    let inExample = false
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]
      if (/^\s*@\w+/.test(line)) inExample = /^\s*@example\b/.test(line)
      if (!inExample || !isTsFence(line)) continue
      const start = i + 1
      let end = start
      while (end < lines.length && !isFenceEnd(lines[end])) end++
      const margin = (raw[start] ?? "").length - (lines[start] ?? "").length // the " * " before the code
      examples.push({ line: firstLine + start, margin, code: lines.slice(start, end).join("\n") })
      i = end
    }
  }
  return examples
}

const tsconfig = JSON.stringify(
  {
    extends: relative(join(out, "x"), join(root, "tsconfig.base.json")).replaceAll("\\", "/"),
    compilerOptions: { noUnusedLocals: false, noUnusedParameters: false },
    include: ["*.ts"]
  },
  null,
  2
)

/**
 * Writes one program: `files` maps a file name to `{ code, source, line }`
 * (where its errors are reported; `margin`: columns before the code there). Returns a promise of the tsc run.
 */
const typeCheck = (name, files, extra = []) => {
  const dir = join(out, name)
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, "tsconfig.json"), tsconfig)
  for (const [file, { code }] of files) writeFileSync(join(dir, file), `${code}\n`)
  for (const file of extra) cpSync(file, join(dir, file.split(/[\\/]/).at(-1)))
  return execAsync(bin("tsc"), ["-p", "tsconfig.json", "--pretty", "false"], { cwd: dir }).then(
    ({ output, status }) => {
      // file.ts(3,5): error ... → README.md:12:5: error ...
      const located = output.replace(/^(\S+?\.ts)\((\d+),(\d+)\): /gm, (whole, file, line, column) => {
        const origin = files.get(file)
        if (origin === undefined) return `${relative(root, join(dir, file))}:${line}:${column}: `
        return `${origin.source}:${origin.line + Number(line) - 1}:${(origin.margin ?? 0) + Number(column)}: `
      })
      return { status, output: located }
    }
  )
}

const failOn = async (run, what) => {
  const { output, status } = await run
  if (status !== 0) throw new CheckFailed(`${what}:\n${output.trimEnd()}`)
}

/**
 * What is wrong with the code fences of a markdown text, one line per
 * problem: an opening fence without a language (in these READMEs, the sign
 * of a stray fence), a closing fence with one, a block never closed.
 */
const fenceProblems = (text, source) => {
  const problems = []
  let open
  text.split("\n").forEach((line, i) => {
    const fence = /^\s*```(.*)$/.exec(line)
    if (fence === null) return
    const info = fence[1].trim()
    if (open === undefined) {
      if (info === "") problems.push(`${source}:${i + 1}: a code block opens without a language (a stray fence?)`)
      open = i + 1
    } else {
      if (info !== "") {
        problems.push(`${source}:${i + 1}: a fence with a language inside the block opened at line ${open}`)
      }
      open = undefined
    }
  })
  if (open !== undefined) problems.push(`${source}:${open}: this code block is never closed`)
  return problems
}

// --- JSDoc tags -------------------------------------------------------------

/** The JSDoc comment that ends right before `index` in `text`, if any. */
const docBefore = (text, index) => {
  const before = text.slice(0, index).trimEnd()
  if (!before.endsWith("*/")) return undefined
  const start = before.lastIndexOf("/**")
  return start === -1 ? undefined : before.slice(start)
}

const hasTags = (doc) => doc !== undefined && /@since\s+\S/.test(doc) && /@category\s+\S/.test(doc)

/** The files of a package that users can import: its exports, and the modules its barrels re-export. */
const publicModules = ({ dir, manifest }) => {
  const entries = Object.values(manifest.exports)
    .filter((target) => typeof target === "string" && target.endsWith(".ts"))
    .map((target) => join(dir, target))
  const seen = new Set()
  const queue = [...entries]
  while (queue.length > 0) {
    const file = queue.shift()
    if (seen.has(file)) continue
    seen.add(file)
    for (const match of readFileSync(file, "utf8").matchAll(/^export \*(?: as \w+)? from "(\.[^"]+)"/gm)) {
      queue.push(join(dirname(file), match[1]))
    }
  }
  return [...seen]
}

/** What is wrong with the docs of one public module, one line per problem. */
const tagProblems = (file) => {
  const text = readFileSync(file, "utf8")
  const where = (index) => `${relative(root, file)}:${text.slice(0, index).split("\n").length}`
  const problems = []
  if (!/^\/\*\*[\s\S]*?@since\s+\S[\s\S]*?\*\//.test(text)) {
    problems.push(`${relative(root, file)}:1: the module has no module doc with @since`)
  }
  const documented = new Map()
  const note = (name, index, doc) => {
    if (hasTags(doc)) documented.set(name, true)
    else if (!documented.get(name)) documented.set(name, where(index))
  }
  for (
    const match of text.matchAll(
      /^export (?:declare )?(?:abstract )?(?:const|let|function\*?|class|interface|type|enum|namespace) (\w+)/gm
    )
  ) {
    note(match[1], match.index, docBefore(text, match.index))
  }
  for (const match of text.matchAll(/^export \* as (\w+) from/gm)) {
    note(match[1], match.index, docBefore(text, match.index))
  }
  for (const match of text.matchAll(/^export default /gm)) note("default", match.index, docBefore(text, match.index))
  // export { a, /** doc */ b } [from "..."]: each name needs its own doc inside the braces
  // (the braces' body: JSDoc comments, which may hold braces of their own, or anything but a brace)
  for (const match of text.matchAll(/^export (?:type )?\{((?:\/\*\*[\s\S]*?\*\/|[^}])*)\}/gm)) {
    const body = match[1]
    const bodyStart = match.index + match[0].indexOf("{") + 1
    for (const name of body.matchAll(/(?:^|,)\s*(?:\/\*\*[\s\S]*?\*\/\s*)?(?:type\s+)?(\w+)(?:\s+as\s+(\w+))?/g)) {
      const exported = name[2] ?? name[1]
      const nameIndex = bodyStart + name.index + name[0].lastIndexOf(name[1])
      // `const await_ = ...; export { await_ as await }`: the doc may sit on the local declaration
      const local = new RegExp(`^(?:const|let|function\\*?|class) ${name[1]}\\b`, "m").exec(text)
      note(exported, nameIndex, docBefore(text, nameIndex) ?? (local ? docBefore(text, local.index) : undefined))
    }
  }
  for (const [name, state] of documented) {
    if (state !== true) problems.push(`${state}: export ${name} has no JSDoc with @since and @category`)
  }
  return problems
}

// --- the checks -------------------------------------------------------------

export const runDocsChecks = async () => {
  rmSync(out, { recursive: true, force: true })
  const results = []
  // start every tsc run at once (they are independent), report them in order
  const runs = readmes().map((readme) => {
    const source = relative(root, readme).replaceAll("\\", "/")
    const files = new Map()
    for (const block of markdownBlocks(readFileSync(readme, "utf8"))) {
      const named = /^\/\/ ([\w.-]+\.ts)\b/.exec(block.code)
      // a second block of the same name (a variant of a file shown before) is compiled too, as a file of its own
      const name = named && !files.has(named[1]) ? named[1] : `line-${block.line}${named ? `-${named[1]}` : ".ts"}`
      files.set(name, { code: block.code, source, line: block.line })
    }
    return { source, count: files.size, run: typeCheck(source.replace(/[\\/.]/g, "-"), files) }
  })
  const examples = new Map()
  for (const pkg of publishedPackages()) {
    for (const file of readdirSync(join(pkg.dir, "src"), { recursive: true })) {
      if (!String(file).endsWith(".ts")) continue
      const path = join(pkg.dir, "src", String(file))
      const source = relative(root, path).replaceAll("\\", "/")
      for (const example of jsdocExamples(readFileSync(path, "utf8"))) {
        const name = `${source.replace(/^packages\//, "").replace(/[\\/.]/g, "-")}-line-${example.line}.ts`
        examples.set(name, { ...example, source })
      }
    }
  }
  const fixtures = ["tasks.ts", "worker.ts"].map((file) => join(root, "scripts", "examples", file))
  const jsdocRun = typeCheck("jsdoc", examples, fixtures)

  for (const { count, run, source } of runs.filter((readme) => readme.count > 0)) {
    results.push(
      await check(`docs: the ${count} TypeScript blocks of ${source} compile`, async () => {
        await failOn(run, `tsc found errors in the examples of ${source}`)
      })
    )
  }
  results.push(
    await check(`docs: the ${examples.size} JSDoc @example blocks compile`, async () => {
      if (examples.size === 0) throw new CheckFailed("found no @example block: the extraction is broken")
      await failOn(jsdocRun, "tsc found errors in the JSDoc examples")
    })
  )
  results.push(
    await check(`docs: the code fences of the ${readmes().length} READMEs pair up`, () => {
      const problems = readmes().flatMap((readme) =>
        fenceProblems(readFileSync(readme, "utf8"), relative(root, readme).replaceAll("\\", "/"))
      )
      if (problems.length > 0) throw new CheckFailed(problems.join("\n"))
    })
  )
  results.push(
    await check("docs: every public export has JSDoc with @since and @category", () => {
      const problems = publishedPackages().flatMap((pkg) => publicModules(pkg).flatMap(tagProblems))
      if (problems.length > 0) throw new CheckFailed(problems.join("\n"))
    })
  )
  return results
}

if (isMain(import.meta)) {
  process.exit(summarize(await runDocsChecks()))
}

/**
 * The compile errors a user meets: leaving out `spawn` names `spawn`, a wrong
 * task name names the task, serving tasks that need services without the
 * layer that provides them names `layer`, and a name-first call in a program that registers
 * no task set has `unknown` results and errors. Compiles test/types/missing-spawn.ts with the
 * workspace's tsc (outside the workspace's own type check, since it must fail)
 * and matches every error to a line marked `// error: <word>`, one error per
 * marked line.
 */
import { assert, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

const dir = fileURLToPath(new URL("./types/", import.meta.url))
const tsc = fileURLToPath(new URL("../../../node_modules/.bin/tsc", import.meta.url))

describe("compile errors", () => {
  it(
    "leaving out spawn names spawn, a missing layer names layer; every error is on a marked line and says what the marker says",
    () => {
      const result = spawnSync(tsc, ["-p", "tsconfig.json", "--pretty", "false"], { cwd: dir, encoding: "utf8" })
      assert.isUndefined(result.error)
      // an error's message runs from its `file(line,col): error` line up to the next one
      const errors = new Map<number, string>()
      const counts = new Map<number, number>()
      let current = 0
      for (const line of result.stdout.split("\n")) {
        const start = /^missing-spawn\.ts\((\d+),\d+\): error /.exec(line)
        if (start) {
          current = Number(start[1])
          counts.set(current, (counts.get(current) ?? 0) + 1)
        }
        if (current > 0) errors.set(current, `${errors.get(current) ?? ""}${line}\n`)
      }
      const marked = readFileSync(`${dir}missing-spawn.ts`, "utf8").split("\n").flatMap((text, index) => {
        const marker = /\/\/ error: (\S+)$/.exec(text)
        return marker ? [{ line: index + 1, word: marker[1]! }] : []
      })
      assert.isAbove(marked.length, 0)
      assert.notStrictEqual(result.status, 0, "tsc accepted every line")
      for (const { line, word } of marked) {
        const message = errors.get(line)
        assert.isDefined(message, `line ${line} compiled, expected an error naming ${word}`)
        assert.match(message!, new RegExp(`['"\`]${word}['"\`]`), `line ${line} does not name ${word}: ${message}`)
        // one error: a follow-on error (a wrong overload's return type) would bury the one that matters
        assert.strictEqual(counts.get(line), 1, `line ${line} has more than one error: ${message}`)
      }
      const unmarked = [...errors.keys()].filter((line) => !marked.some((mark) => mark.line === line))
      assert.deepStrictEqual(unmarked.map((line) => errors.get(line)), [], "errors on lines that should compile")
    },
    30_000
  ) // tsc runs synchronously: 0.7 s on a quiet machine, 3.6 s measured under load
})

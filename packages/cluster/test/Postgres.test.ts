/**
 * The PostgreSQL of the tests, the demo and the benchmark leaves nothing
 * behind, even when the process that started it dies without closing its
 * scope: its watchdog stops the server and removes its directory.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { eventually } from "./fixtures/log.ts"

const child = fileURLToPath(new URL("./fixtures/postgres-child.ts", import.meta.url))

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe("embedded PostgreSQL", () => {
  it.live("a process killed with SIGKILL leaves no server running and no directory behind, initdb's template included", () =>
    Effect.gen(function*() {
      const proc = spawn(process.execPath, [child], { stdio: ["ignore", "pipe", "inherit"] })
      const { dir, templates } = yield* Effect.callback<{ dir: string; templates: Array<string> }>((resume) => {
        let out = ""
        proc.stdout.on("data", (chunk: Buffer) => {
          out += chunk.toString()
          const line = out.split("\n").find((l) => l.startsWith("{"))
          if (line !== undefined) resume(Effect.succeed(JSON.parse(line)))
        })
      })
      const pid = Number(fs.readFileSync(path.join(dir, "data", "postmaster.pid"), "utf8").split("\n")[0])
      assert.isTrue(alive(pid), "the server runs")
      proc.kill("SIGKILL")
      yield* eventually("the server stops", Effect.sync(() => !alive(pid)))
      yield* eventually("its directory is removed", Effect.sync(() => !fs.existsSync(dir)))
      assert.lengthOf(templates, 1)
      yield* eventually("the initdb template is removed", Effect.sync(() => templates.every((t) => !fs.existsSync(t))))
    }))
})

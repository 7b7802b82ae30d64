/**
 * A submitter that dies loses nothing: a real submitting process stores
 * tasks and is killed (SIGKILL) before any result; the tasks still run, and
 * this process — a later one — attaches to them by key and gets their
 * results, then gets the same stored results again.
 */
import { assert, describe, it } from "@effect/vitest"
import { Task } from "@taskscope/executor"
import { Effect } from "effect"
import * as child_process from "node:child_process"
import { ClusterExecutor } from "../src/index.ts"
import { sharedCluster } from "./fixtures/cluster.ts"
import { eventually, logFile, readLog } from "./fixtures/log.ts"
import { tasks } from "./fixtures/tasks.ts"

const shared = sharedCluster("attach", 2)

const script = new URL("./fixtures/submitter.ts", import.meta.url).pathname

/** Runs the submitter process until it has stored its tasks, then SIGKILLs it. */
const submitAndDie = (keys: ReadonlyArray<string>, log: string, ms: number) =>
  Effect.acquireUseRelease(
    Effect.sync(() =>
      child_process.spawn(process.execPath, [script], {
        env: { ...process.env, DATABASE_URL: shared.get().pg.url, KEYS: keys.join(","), LOG: log, MS: String(ms) },
        stdio: ["ignore", "pipe", "pipe"]
      })
    ),
    (child) =>
      Effect.callback<void, string>((resume) => {
        let output = ""
        child.stdout.on("data", (chunk) => {
          output += chunk
          if (output.includes("stored")) resume(Effect.void)
        })
        child.stderr.on("data", (chunk) => (output += chunk))
        child.once("exit", (code) => resume(Effect.fail(`the submitter exited (${code}) before storing: ${output}`)))
      }),
    (child) =>
      Effect.promise(() =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve()
          child.once("exit", () => resolve())
          child.kill("SIGKILL")
        })
      )
  )

describe("attach", () => {
  it.live("a submitter killed after storing its tasks: they still run, and a new process attaches and gets their results", () =>
    Effect.gen(function*() {
      const log = yield* logFile
      const keys = Array.from({ length: 10 }, (_, i) => `orphan-${i}`)
      yield* submitAndDie(keys, log, 1500)
      const before = yield* readLog(log)
      assert.isFalse(before.some((e) => e.event === "end"), "no task had ended when the submitter died")

      const results = yield* ClusterExecutor.scoped(tasks, (executor) =>
        Effect.flatMap(Effect.forEach(keys, (key) =>
          executor.attach(key)), (handles) =>
          Effect.forEach(handles, (handle) => {
            assert.strictEqual(handle.key, keys[handles.indexOf(handle)])
            return Task.join(handle)
          }))).pipe(Effect.provide(shared.get().cluster))
      assert.deepStrictEqual(results.map((r) => (r as { key: string }).key), keys)

      // the results are stored: attaching again returns them, and nothing runs again
      const again = yield* ClusterExecutor.scoped(tasks, (executor) =>
        Effect.flatMap(Effect.forEach(keys, (key) =>
          executor.attach(key)), (handles) =>
          Effect.forEach(handles, Task.join))).pipe(Effect.provide(shared.get().cluster))
      assert.deepStrictEqual(again, results)
      const starts = (yield* readLog(log)).filter((e) => e.event === "start")
      assert.strictEqual(starts.length, keys.length)
    }))

  it.live("a cancel of an attached handle made at once still stops the task on its runner", () =>
    Effect.gen(function*() {
      const log = yield* logFile
      const ran = (key: string, event: string) =>
        Effect.map(readLog(log), (entries) => entries.some((e) => e.event === event && e.key === key))
      // submitted and kept running by one executor, as another process would
      yield* ClusterExecutor.scoped(tasks, (owner) =>
        Effect.gen(function*() {
          for (const key of ["attach-cancel-0", "attach-cancel-1"]) {
            yield* owner.submit("hang", { key, log }, { key, cancelOnExit: true })
            yield* eventually(`${key} runs`, ran(key, "start"))
          }
          // another executor attaches and cancels at once: by Task.interrupt, and by cancelOnExit
          const exit = yield* ClusterExecutor.scoped(tasks, (attacher) =>
            Effect.gen(function*() {
              const handle = yield* attacher.attach("attach-cancel-0")
              yield* Task.interrupt(handle)
              yield* attacher.attach("attach-cancel-1", { cancelOnExit: true })
              return yield* Task.await(handle)
            })).pipe(Effect.exit)
          assert.isTrue(exit._tag === "Success" && exit.value._tag === "Failure", String(exit))
          for (const key of ["attach-cancel-0", "attach-cancel-1"]) {
            yield* eventually(`${key} is interrupted on its runner`, ran(key, "interrupted"))
          }
        })).pipe(Effect.provide(shared.get().cluster))
    }))
})

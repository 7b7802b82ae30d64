/**
 * What `baseline.ts` and `paired.ts` share: copies of the executor's sources
 * at earlier commits, and the workload both time — (a) trivial tasks or
 * (b) I/O-like ones (each waits for `setImmediate`) submitted in a loop to
 * an executor with concurrency 100, then `awaitIdle`.
 */
import { execFileSync } from "node:child_process"
import { mkdirSync, rmSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { orderedOptions } from "./workloads.ts"

const root = fileURLToPath(new URL("../../..", import.meta.url))
const copies = fileURLToPath(new URL("../.baseline/", import.meta.url))

/**
 * The last commit before issues 7 and 9 (then 10) changed the executor's
 * default path: what their "within 5%" compares with.
 */
export const BEFORE_ISSUES = "7df51b6"

/** Today's executor (the working tree). */
export const todaySource = `${root}packages/executor/src/index.ts`

/** Where the copy of the executor at `commit` is. */
export const copySource = (commit: string): string => `${copies}${commit}/packages/executor/src/index.ts`

/**
 * Extracts the executor's sources at each commit into
 * `packages/bench/.baseline/<commit>/` (git-ignored), afresh; copies of other
 * commits are left alone. Needs the commits in the clone's history.
 */
export const extractCopies = (commits: ReadonlyArray<string>): void => {
  for (const commit of commits) {
    rmSync(`${copies}${commit}`, { recursive: true, force: true })
    mkdirSync(`${copies}${commit}`, { recursive: true })
    const archive = execFileSync("git", ["archive", commit, "packages/executor/src"], { cwd: root })
    execFileSync("tar", ["-x", "-C", `${copies}${commit}`], { input: archive })
  }
}

/**
 * A runner of the workload on the executor at `source`: each call submits
 * `n` tasks to a new executor and waits for them; `done()` counts the tasks
 * that ran since the last `reset()`. `ordered`: as the bench's
 * priority(8)+keys(1000) peer, task i gets priority i % 8 and key
 * (i / 8) % 1000, at most one running per key. `contexts`: each task is
 * submitted from a context of its own (a service provided for that submit
 * only), as the requests of a server submit theirs.
 */
export const workload = async (source: string, kind: string, metrics: boolean, ordered = false, contexts = false) => {
  const Effect = await import("effect/Effect")
  const { Service } = await import("effect/Context")
  class Request extends Service<Request, number>()("bench/Request") {}
  const { BackgroundExecutor } = (await import(source)) as typeof import("@taskscope/executor")
  const options = {
    maxConcurrency: 100,
    ...(metrics ? {} : { metrics: false }),
    ...(ordered ? { maxConcurrencyPerKey: 1 } : {})
  }
  const submitOptions = ordered
    ? orderedOptions()
    : undefined
  let done = 0
  const count = Effect.sync(() => {
    done++
  })
  const task = kind === "trivial"
    ? count
    : Effect.callback<void>((resume) => {
      setImmediate(() => resume(count))
    })
  return {
    run: (n: number) =>
      Effect.runPromise(Effect.scoped(Effect.gen(function*() {
        const executor = yield* BackgroundExecutor.make(options)
        if (contexts) { for (let i = 0; i < n; i++) yield* Effect.provideService(executor.submit(task), Request, i) }
        else if (submitOptions === undefined) { for (let i = 0; i < n; i++) yield* executor.submit(task) }
        else for (let i = 0; i < n; i++) yield* executor.submit(task, submitOptions[i % submitOptions.length])
        yield* executor.awaitIdle
      }))),
    done: () => done,
    reset: () => {
      done = 0
    }
  }
}

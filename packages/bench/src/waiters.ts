/**
 * What it costs to give up waiting: `n` fibers wait — each joins one task
 * that never ends, or each waits in `awaitIdle` — and are then interrupted
 * all at once, as a `timeout` around each wait would. Time per waiter should
 * not grow with `n`; each removal searching and shifting a list of the
 * others made it quadratic (80,000 joiners took 7 s before 2026-11-27).
 *
 * And what it costs to be let in: `keyed` submits `n` tasks of one key at
 * once (`maxConcurrencyPerKey: 1`, `maxQueue: 10`, two permits, so one sits
 * free while the queue is full of the key's tasks) and times the whole run,
 * per task. Every task end asking every suspended submitter whether its
 * task could start made it quadratic (20,000 took 11 s before 2026-11-28).
 * `keys` does the same with `n` keys, one task each, all waiting behind a
 * submitter that its own key holds back, so that each permit that frees
 * lets in one of them past it: looking at every waiting key again on each
 * task end made that quadratic (10,000 took 7.5 s in the first fix).
 *
 * Each (variant, size) runs in a fresh process: today's executor and, with
 * `--commit`, the copy of an earlier commit's (see `copies.ts`). A process
 * warms up on 5,000 waiters, then reports the median of 3 runs. The verdict
 * line checks that ns per waiter at the largest size is at most 1.5x that
 * at the smallest.
 *
 *   node packages/bench/src/waiters.ts [--commit <sha>]...
 */
import type * as Fiber from "effect/Fiber"
import { spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { copySource, extractCopies, todaySource } from "./copies.ts"

const KINDS = ["join", "awaitIdle", "keyed", "keys"] as const
type Kind = typeof KINDS[number]
/** Sizes per kind (`keyed` smaller: before its fix, 20,000 took 11 s). */
const SIZES: Record<Kind, ReadonlyArray<number>> = {
  join: [10_000, 40_000, 80_000],
  awaitIdle: [10_000, 40_000, 80_000],
  keyed: [5_000, 10_000, 20_000],
  keys: [5_000, 10_000, 20_000]
}

const { values } = parseArgs({
  options: {
    commit: { type: "string", multiple: true, default: [] },
    child: { type: "string" },
    kind: { type: "string" },
    n: { type: "string" }
  }
})

/** ms to interrupt `n` waiters of kind `kind`, on the executor at `source`. */
const measure = async (source: string, kind: Kind, n: number): Promise<number> => {
  const { Effect, Fiber } = await import("effect")
  const { BackgroundExecutor, Task } = (await import(source)) as typeof import("@taskscope/executor")
  let ms = 0
  if (kind === "keys") {
    const { Deferred } = await import("effect")
    const start = performance.now()
    await Effect.runPromise(BackgroundExecutor.scoped(
      (executor) =>
        Effect.gen(function*() {
          const gate = yield* Deferred.make<void>()
          yield* executor.submit(Deferred.await(gate), { key: "held" }) // key "held" at its bound
          yield* executor.submit(Effect.void, { key: "held" }) // the queue's one place
          yield* executor.submit(Effect.yieldNow, { key: "filler" }) // the other permit, for a moment
          // waiting, oldest first: one of "held" (held back by its key), then one per key
          const first = yield* Effect.forkChild(executor.submit(Effect.void, { key: "held" }), {
            startImmediately: true
          })
          yield* Effect.forEach(
            Array.from({ length: n }, (_, i) => i),
            (i) => executor.submit(Effect.yieldNow, { key: `key-${i}` }),
            { concurrency: "unbounded", discard: true }
          )
          yield* Deferred.succeed(gate, undefined)
          yield* Fiber.join(first)
        }),
      { maxConcurrency: 2, maxConcurrencyPerKey: 1, maxQueue: 1 }
    ))
    return performance.now() - start
  }
  if (kind === "keyed") {
    const start = performance.now()
    await Effect.runPromise(BackgroundExecutor.scoped(
      (executor) =>
        Effect.forEach(
          Array.from({ length: n }, (_, i) => i),
          () => executor.submit(Effect.yieldNow, { key: "host" }),
          { concurrency: "unbounded", discard: true }
        ),
      { maxConcurrency: 2, maxConcurrencyPerKey: 1, maxQueue: 10 }
    ))
    return performance.now() - start
  }
  await Effect.runPromise(BackgroundExecutor.scoped((executor) =>
    Effect.gen(function*() {
      const task = yield* executor.submit(Effect.never)
      const wait = kind === "join" ? Effect.ignore(Task.join(task)) : executor.awaitIdle
      const fibers: Array<Fiber.Fiber<void>> = []
      for (let i = 0; i < n; i++) fibers.push(yield* Effect.forkChild(wait))
      yield* Effect.yieldNow // every waiter registers
      const start = performance.now()
      yield* Fiber.interruptAll(fibers)
      ms = performance.now() - start
      yield* task.interrupt
    })
  ))
  return ms
}

if (values.child !== undefined) {
  const kind = values.kind as Kind
  const n = Number(values.n)
  await measure(values.child, kind, 5000)
  const runs: Array<number> = []
  for (let i = 0; i < 3; i++) runs.push(await measure(values.child, kind, n))
  console.log(JSON.stringify(runs.sort((a, b) => a - b)[1]))
} else {
  extractCopies(values.commit)
  const variants = [
    ...values.commit.map((commit) => ({ label: `at ${commit}`, source: copySource(commit) })),
    { label: "today", source: todaySource }
  ]
  const entry = fileURLToPath(import.meta.url)
  for (const kind of KINDS) {
    for (const { label, source } of variants) {
      const sizes = SIZES[kind]
      const perWaiter = sizes.map((n) => {
        const out = spawnSync(
          process.execPath,
          [entry, "--child", source, "--kind", kind, "--n", String(n)],
          { encoding: "utf8" }
        )
        if (out.status !== 0) throw new Error(`waiters ${kind} ${label} ${n}: ${out.stderr}`)
        return (Number(out.stdout.trim()) * 1e6) / n
      })
      const cells = sizes.map((n, i) => `${n.toLocaleString("en-US")}: ${Math.round(perWaiter[i]!)} ns`).join(", ")
      const ratio = perWaiter.at(-1)! / perWaiter[0]!
      console.log(
        `${kind.padEnd(9)} ${label.padEnd(14)} ns per ${
          kind === "keyed" || kind === "keys" ? "task" : "waiter"
        } ${cells} — ` +
          `${ratio.toFixed(2)}x from the smallest to the largest size: ${ratio <= 1.5 ? "linear" : "NOT linear"}`
      )
    }
  }
}

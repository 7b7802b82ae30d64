/**
 * The Effect peers: taskscope's BackgroundExecutor, Effect.forEach and the
 * naive FiberSet + Semaphore composition. Loaded only by the children that
 * run them (loading effect takes a few hundred ms).
 */
import { BackgroundExecutor } from "@taskscope/executor"
// subpath imports: the "effect" barrel alone takes 0.7 s to load
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FiberSet from "effect/FiberSet"
import * as Semaphore from "effect/Semaphore"
import * as Stream from "effect/Stream"
import type { RunWorkload } from "./peers.ts"
import { CONCURRENCY, type Counter, orderedOptions, type WorkloadId } from "./workloads.ts"

/**
 * The task of workload `w` as an effect: trivial counts, I/O-like suspends
 * once on `setImmediate` then counts, held waits until interrupted.
 */
const effectTask = (w: WorkloadId, counter: Counter): Effect.Effect<void> => {
  const count = Effect.sync(() => {
    counter.done++
  })
  if (w === "trivial") return count
  if (w === "suspend") {
    return Effect.callback<void>((resume) => {
      setImmediate(() => resume(count))
    })
  }
  return Effect.never
}

/** What the observability peers change: executor options, or a subscriber following `changes`. */
export interface Variant {
  readonly maxQueue?: number
  readonly metrics?: boolean
  readonly tracing?: boolean
  /** a fiber consumes every event of `changes` */
  readonly followed?: boolean
}

/** taskscope, optionally with `maxQueue`, metrics off, spans for every task, or `changes` followed;
 * or another revision's `BackgroundExecutor` module (`--baseline`). */
export const taskscope = (
  variant: Variant = {},
  Executor: typeof BackgroundExecutor = BackgroundExecutor
): RunWorkload =>
(w, n, counter, hooks) => {
  const { maxQueue } = variant
  // with maxQueue, held tasks would suspend submit forever: in "memory" its tasks are I/O-like
  const task = effectTask(maxQueue !== undefined && w === "memory" ? "suspend" : w, counter)
  // options only where the workload needs them, as a user would write it
  const submitOptions = w === "close" ? { cancelOnExit: true } : undefined
  const options: BackgroundExecutor.Options = {
    maxConcurrency: CONCURRENCY,
    ...(maxQueue === undefined ? {} : { maxQueue }),
    ...(variant.metrics === undefined ? {} : { metrics: variant.metrics }),
    ...(variant.tracing === undefined ? {} : { tracing: variant.tracing })
  }
  return Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const executor = yield* Executor.make(options)
    if (variant.followed) {
      yield* Effect.forkScoped(Stream.runDrain(executor.changes), { startImmediately: true })
    }
    for (let i = 0; i < n; i++) yield* executor.submit(task, submitOptions)
    hooks.submitted()
    if (w !== "close") yield* executor.awaitIdle
    // closing the scope interrupts the cancel-on-exit tasks in "close"
  })))
}

/**
 * taskscope with every task given one of 8 priorities and one of 1,000 keys
 * ({@link orderedOptions}; at most 1 running per key): the ordered queue instead
 * of the FIFO fast path. The options objects are made before the clock
 * starts, as a program would keep them.
 */
export const taskscopeOrdered: RunWorkload = (w, n, counter, hooks) => {
  const task = effectTask(w, counter)
  const options = orderedOptions(w === "close")
  return Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const executor = yield* BackgroundExecutor.make({ maxConcurrency: CONCURRENCY, maxConcurrencyPerKey: 1 })
    for (let i = 0; i < n; i++) yield* executor.submit(task, options[i % options.length])
    hooks.submitted()
    if (w !== "close") yield* executor.awaitIdle
  })))
}

/** `Effect.forEach` with `concurrency`; "close" interrupts the forked forEach. */
export const forEach: RunWorkload = (w, n, counter, hooks) => {
  const task = effectTask(w, counter)
  const items = new Array<number>(n).fill(0)
  const all = Effect.forEach(items, () => task, { concurrency: CONCURRENCY, discard: true })
  if (w === "trivial" || w === "suspend") return Effect.runPromise(all)
  return Effect.runPromise(Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(all, { startImmediately: true })
    hooks.submitted()
    yield* Fiber.interrupt(fiber)
  }))
}

/** A fiber per task in a FiberSet, each behind `Semaphore.withPermits(1)`. */
export const naive: RunWorkload = (w, n, counter, hooks) => {
  const task = effectTask(w, counter)
  return Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const set = yield* FiberSet.make<void>()
    const semaphore = yield* Semaphore.make(CONCURRENCY)
    const guarded = Semaphore.withPermits(semaphore, 1)(task)
    for (let i = 0; i < n; i++) yield* FiberSet.run(set, guarded)
    hooks.submitted()
    if (w !== "close") yield* FiberSet.awaitEmpty(set)
    // closing the scope interrupts every fiber of the set in "close"
  })))
}

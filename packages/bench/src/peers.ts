/**
 * The peers: each one runs a workload of n tasks at {@link CONCURRENCY} in the
 * current process. They all use the same task bodies (see workloads.ts) and
 * the idiomatic way of their API to submit, wait and cancel.
 */
import { BackgroundExecutor } from "@taskscope/executor"
// subpath imports: the "effect" barrel alone takes 0.7 s to load, paid by every child process
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FiberSet from "effect/FiberSet"
import * as Semaphore from "effect/Semaphore"
import pLimit from "p-limit"
import PQueue from "p-queue"
import { CONCURRENCY, type Counter, effectTask, makeSignal, promiseTask, type WorkloadId } from "./workloads.ts"

/** Callbacks from a running workload to the measuring process. */
export interface Hooks {
  /** Called once, synchronously, right after the last submission returned. */
  readonly submitted: () => void
}

/**
 * Runs workload `w` with `n` tasks, each counting itself in `counter` when it
 * ends; resolves when the workload is done ("memory": never, the process exits).
 */
export type RunWorkload = (w: WorkloadId, n: number, counter: Counter, hooks: Hooks) => Promise<void>

/** A peer as the runner and the report see it. */
export interface Peer {
  /** Stable id, used on the command line of child processes. */
  readonly id: string
  /** Name in tables and charts. */
  readonly label: string
  /** Runs in-process (node) or as a python3 subprocess. */
  readonly runtime: "node" | "python"
  /** Largest size this peer runs per workload, with the reason; larger runs are skipped. */
  readonly caps?: Partial<Record<WorkloadId, { readonly max: number; readonly why: string }>>
  /** Workloads this peer does not take part in, with the reason. */
  readonly skips?: Partial<Record<WorkloadId, string>>
  /** What the peer does in workloads where its mechanism differs from taskscope's. */
  readonly note?: string
}

/** The id of taskscope's default configuration, which all ratios compare against. */
export const TASKSCOPE = "taskscope"

const QUADRATIC = "Effect 4.1's Semaphore scans its whole waiter set on every take and copies it on every " +
  "release: quadratic once tasks queue"

/** Every peer, in report order. */
export const PEERS: ReadonlyArray<Peer> = [
  { id: TASKSCOPE, label: "taskscope", runtime: "node" },
  {
    id: "taskscope-maxqueue",
    label: "taskscope maxQueue=1000",
    runtime: "node",
    skips: {
      trivial: "backpressure is shown on I/O-like tasks",
      close: "submit suspends at maxQueue, so 1e5 held tasks cannot be queued",
      memory: "submit suspends at maxQueue, so held tasks cannot be queued; see (b) peak RSS"
    }
  },
  {
    id: "forEach",
    label: "Effect.forEach",
    runtime: "node",
    note: "pull-based over an array: not a background executor, holds no queued tasks; (c) interrupts the forked forEach"
  },
  {
    id: "naive",
    label: "naive Effect (FiberSet+Semaphore)",
    runtime: "node",
    caps: {
      suspend: { max: 2e4, why: QUADRATIC },
      close: { max: 2e4, why: QUADRATIC },
      memory: { max: 2e4, why: QUADRATIC }
    },
    note: "a fiber per task, parked on Effect 4.1's Semaphore while queued"
  },
  { id: "p-limit", label: "p-limit", runtime: "node", note: "(c) uses clearQueue() and cancels the running tasks" },
  { id: "p-queue", label: "p-queue", runtime: "node", note: "(c) uses clear() and cancels the running tasks" },
  {
    id: "pool",
    label: "promise-worker pool",
    runtime: "node",
    note: "100 async workers pulling from a shared index: the plain-JS floor; holds no queued tasks; (c) sets a stop flag"
  },
  {
    id: "asyncio",
    label: "python asyncio (original design)",
    runtime: "python",
    caps: {
      trivial: { max: 1e5, why: "about 10 µs/task: 1e6 would take most of the time budget" },
      suspend: { max: 1e5, why: "about 10 µs/task: 1e6 would take most of the time budget" },
      memory: { max: 1e5, why: "1e6 asyncio tasks take about 1 GB and 15 s per run" }
    },
    note: "asyncio.Semaphore around each coroutine, a task per submission; its own timing, in its own process"
  }
]

/** Looks up a peer by id. */
export const peer = (id: string): Peer => {
  const found = PEERS.find((p) => p.id === id)
  if (found === undefined) throw new Error(`unknown peer: ${id}`)
  return found
}

const taskscope = (maxQueue?: number): RunWorkload => (w, n, counter, hooks) => {
  const task = effectTask(w, counter)
  const submitOptions = { cancelOnExit: w === "close" }
  const options = maxQueue === undefined
    ? { maxConcurrency: CONCURRENCY }
    : { maxConcurrency: CONCURRENCY, maxQueue }
  return Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const executor = yield* BackgroundExecutor.make(options)
    for (let i = 0; i < n; i++) yield* executor.submit(task, submitOptions)
    hooks.submitted()
    if (w !== "close") yield* executor.awaitIdle
    // closing the scope interrupts the cancel-on-exit tasks in "close"
  })))
}

const forEach: RunWorkload = (w, n, counter, hooks) => {
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

const naive: RunWorkload = (w, n, counter, hooks) => {
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

const limit: RunWorkload = async (w, n, counter, hooks) => {
  const cancel = makeSignal()
  const task = promiseTask(w, counter, cancel.promise)
  const run = pLimit(CONCURRENCY)
  const results = new Array<Promise<unknown>>(n)
  for (let i = 0; i < n; i++) results[i] = run(task)
  hooks.submitted()
  if (w !== "close") {
    await Promise.all(results)
    return
  }
  run.clearQueue()
  cancel.fire()
  // the queue is FIFO and no held task ends before the cancel: the running ones are the first CONCURRENCY
  await Promise.all(results.slice(0, CONCURRENCY))
}

const queue: RunWorkload = async (w, n, counter, hooks) => {
  const cancel = makeSignal()
  const task = promiseTask(w, counter, cancel.promise)
  const q = new PQueue({ concurrency: CONCURRENCY })
  for (let i = 0; i < n; i++) void q.add(task)
  hooks.submitted()
  if (w === "close") {
    q.clear()
    cancel.fire()
  }
  await q.onIdle()
}

const pool: RunWorkload = async (w, n, counter, hooks) => {
  const cancel = makeSignal()
  const task = promiseTask(w, counter, cancel.promise)
  let next = 0
  let stopped = false
  const worker = async (): Promise<void> => {
    while (!stopped && next < n) {
      next++
      await task()
    }
  }
  const workers = new Array<Promise<void>>(CONCURRENCY)
  for (let i = 0; i < CONCURRENCY; i++) workers[i] = worker()
  hooks.submitted()
  if (w === "close") {
    stopped = true
    cancel.fire()
  }
  await Promise.all(workers)
}

/** The in-process implementation of each node peer, by id. */
export const RUNNERS: Readonly<Record<string, RunWorkload>> = {
  [TASKSCOPE]: taskscope(),
  "taskscope-maxqueue": taskscope(1000),
  forEach,
  naive,
  "p-limit": limit,
  "p-queue": queue,
  pool
}

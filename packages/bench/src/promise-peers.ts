/**
 * The promise peers: p-limit, p-queue and a hand-written pool of promise
 * workers, the plain-JS floor. They do not load effect.
 */
import pLimit from "p-limit"
import PQueue from "p-queue"
import type { RunWorkload } from "./peers.ts"
import { CONCURRENCY, makeSignal, promiseTask } from "./workloads.ts"

/** p-limit; "close" clears its queue and cancels the running tasks. */
export const limit: RunWorkload = async (w, n, counter, hooks) => {
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

/** p-queue; "close" clears its queue and cancels the running tasks. */
export const queue: RunWorkload = async (w, n, counter, hooks) => {
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

/** 100 async workers pulling from a shared index; "close" sets a stop flag and cancels. */
export const pool: RunWorkload = async (w, n, counter, hooks) => {
  const cancel = makeSignal()
  const task = promiseTask(w, counter, cancel.promise)
  let next = 0
  let stopped = false
  const worker = async (): Promise<void> => {
    // oxlint-disable-next-line eslint/no-unmodified-loop-condition -- "close" sets it while workers await
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

/**
 * The series of a worker pool, from `effect/Metric`: `taskscope_worker_threads`
 * (live threads) and `taskscope_worker_restarts` by `reason` — a thread that
 * crashed, was terminated under an interrupted call, or was retired after
 * `idleTimeout`; the pool starts another when one is next needed. Threads
 * start and end rarely, so the series are updated as it happens.
 *
 * @internal
 */
import type * as Context from "effect/Context"
import * as Metric from "effect/Metric"

/** Why a thread ended before its pool closed. */
export type RestartReason = "crash" | "terminate" | "idle"

export interface PoolMetrics {
  readonly threadStarted: () => void
  readonly threadEnded: () => void
  readonly restarted: (reason: RestartReason) => void
}

/** The series of pool `name`, updated in `context`'s registry; `undefined` when metrics are off. */
export const make = (context: Context.Context<never>, name: string, enabled: boolean): PoolMetrics | undefined => {
  if (!enabled) return undefined
  const threads = Metric.gauge("taskscope_worker_threads", {
    description: "Live worker threads: starting, idle or busy",
    attributes: { executor: name }
  })
  const restarts = (reason: RestartReason) =>
    Metric.counter("taskscope_worker_restarts", {
      description: "Worker threads that ended before their pool closed, by reason",
      attributes: { executor: name, reason },
      incremental: true
    })
  const byReason = { crash: restarts("crash"), terminate: restarts("terminate"), idle: restarts("idle") }
  // listed from the start, at zero
  threads.modifyUnsafe(0, context)
  for (const counter of Object.values(byReason)) counter.updateUnsafe(0, context)
  return {
    threadStarted: () => threads.modifyUnsafe(1, context),
    threadEnded: () => threads.modifyUnsafe(-1, context),
    restarted: (reason) => byReason[reason].updateUnsafe(1, context)
  }
}

/**
 * Checks of `WorkerExecutor` options. A bad option throws at once (inside
 * the constructor's `Effect.suspend`, so the effect dies) with a message that
 * names the option and the value, as `@taskscope/executor` does for its own.
 *
 * @internal
 */
import { ExecutorError } from "@taskscope/executor"
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import * as os from "node:os"
import type * as WorkerThreads from "node:worker_threads"
import { isTaskSet } from "../TaskSet.ts"

/** Resolved pool options. */
export interface Config {
  readonly spawn: (id: number) => WorkerThreads.Worker
  readonly maxConcurrency: number
  readonly idleTimeout: number | undefined
  readonly onInterruptRunning: "terminate" | "wait"
  readonly name: string
  readonly metrics: boolean
}

export const makePoolConfig = (options: unknown): Config => {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new ExecutorError.InvalidArgumentError({
      argument: "options",
      value: options,
      expected: "an object with at least `spawn`"
    })
  }
  const o = options as Record<string, unknown>
  if (typeof o.spawn !== "function") {
    throw new ExecutorError.InvalidArgumentError({
      argument: "spawn",
      value: o.spawn,
      expected: "a function that returns a new worker_threads Worker"
    })
  }
  let maxConcurrency = os.availableParallelism()
  if (o.maxConcurrency !== undefined) {
    const n = o.maxConcurrency
    if (typeof n !== "number" || !Number.isInteger(n) || n < 1) {
      throw new ExecutorError.InvalidArgumentError({
        argument: "maxConcurrency",
        value: n,
        expected: "an integer from 1 up (the number of threads)"
      })
    }
    maxConcurrency = n
  }
  let idleTimeout: number | undefined
  if (o.idleTimeout !== undefined) {
    // Duration reads NaN as zero: every idle thread would be retired at once
    const decoded = typeof o.idleTimeout === "number" && Number.isNaN(o.idleTimeout)
      ? undefined
      : Option.getOrUndefined(Duration.fromInput(o.idleTimeout as Duration.Input))
    const millis = decoded === undefined ? Number.NaN : Duration.toMillis(decoded)
    if (!(millis >= 0)) {
      throw new ExecutorError.InvalidArgumentError({
        argument: "idleTimeout",
        value: o.idleTimeout,
        expected: "a non-negative duration (milliseconds, or e.g. \"30 seconds\")"
      })
    }
    idleTimeout = Number.isFinite(millis) ? millis : undefined
  }
  const mode = o.onInterruptRunning ?? "terminate"
  if (mode !== "terminate" && mode !== "wait") {
    throw new ExecutorError.InvalidArgumentError({
      argument: "onInterruptRunning",
      value: mode,
      expected: "\"terminate\" or \"wait\""
    })
  }
  if (o.name !== undefined && (typeof o.name !== "string" || o.name.length === 0)) {
    invalid("name", o.name, "a non-empty string")
  }
  if (o.metrics !== undefined && typeof o.metrics !== "boolean") invalid("metrics", o.metrics, "a boolean")
  return {
    spawn: o.spawn as Config["spawn"],
    maxConcurrency,
    idleTimeout,
    onInterruptRunning: mode,
    name: (o.name as string | undefined) ?? "default",
    metrics: (o.metrics as boolean | undefined) ?? true
  }
}

/** Throws an `InvalidArgumentError` for an executor option. */
export const invalid = (argument: string, value: unknown, expected: string): never => {
  throw new ExecutorError.InvalidArgumentError({ argument, value, expected })
}

/** Checks that `taskSet` is a task set. */
export const checkTaskSet = (taskSet: unknown): void => {
  if (!isTaskSet(taskSet)) {
    throw new ExecutorError.InvalidArgumentError({
      argument: "taskSet",
      value: taskSet,
      expected: "a TaskSet (TaskSet.make)"
    })
  }
}

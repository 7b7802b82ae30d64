/**
 * Checks of `WorkerExecutor` options. A bad option throws at once (inside
 * the constructor's `Effect.suspend`, so the effect dies) with a message that
 * names the option and the value, as `@taskscope/executor` does for its own.
 *
 * @internal
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import * as os from "node:os"
import type * as WorkerThreads from "node:worker_threads"
import { isTaskSet } from "../TaskSet.ts"
import { describeValue } from "./describe.ts"

/** A bad option or argument. */
export class InvalidOptionError extends Data.TaggedError("InvalidOptionError")<{
  readonly owner: "WorkerPool" | "WorkerExecutor"
  readonly option: string
  readonly value: unknown
  readonly expected: string
}> {
  override get message(): string {
    return `${this.owner}: expected \`${this.option}\` to be ${this.expected}, got ${describeValue(this.value)}`
  }
}

/** Resolved pool options. */
export interface Config {
  readonly spawn: (id: number) => WorkerThreads.Worker
  readonly maxConcurrency: number
  readonly idleTimeout: number | undefined
  readonly onInterruptRunning: "terminate" | "wait"
}

export const makePoolConfig = (options: unknown): Config => {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new InvalidOptionError({ owner: "WorkerPool", option: "options", value: options, expected: "an object with at least `spawn`" })
  }
  const o = options as Record<string, unknown>
  if (typeof o.spawn !== "function") {
    throw new InvalidOptionError({ owner: "WorkerPool",
      option: "spawn",
      value: o.spawn,
      expected: "a function that returns a new worker_threads Worker"
    })
  }
  let maxConcurrency = os.availableParallelism()
  if (o.maxConcurrency !== undefined) {
    const n = o.maxConcurrency
    if (typeof n !== "number" || !Number.isInteger(n) || n < 1) {
      throw new InvalidOptionError({ owner: "WorkerPool",
        option: "maxConcurrency",
        value: n,
        expected: "an integer from 1 up (the number of threads)"
      })
    }
    maxConcurrency = n
  }
  let idleTimeout: number | undefined
  if (o.idleTimeout !== undefined) {
    const decoded = Option.getOrUndefined(Duration.fromInput(o.idleTimeout as Duration.Input))
    const millis = decoded === undefined ? Number.NaN : Duration.toMillis(decoded)
    if (!(millis >= 0)) {
      throw new InvalidOptionError({ owner: "WorkerPool",
        option: "idleTimeout",
        value: o.idleTimeout,
        expected: "a non-negative duration (milliseconds, or e.g. \"30 seconds\")"
      })
    }
    idleTimeout = Number.isFinite(millis) ? millis : undefined
  }
  const mode = o.onInterruptRunning ?? "terminate"
  if (mode !== "terminate" && mode !== "wait") {
    throw new InvalidOptionError({ owner: "WorkerPool",
      option: "onInterruptRunning",
      value: mode,
      expected: "\"terminate\" or \"wait\""
    })
  }
  return { spawn: o.spawn as Config["spawn"], maxConcurrency, idleTimeout, onInterruptRunning: mode }
}

/** Checks the `maxConcurrency` of an executor that borrows a pool. */
export const executorConcurrency = (value: unknown, fallback: number): number => {
  if (value === undefined) return fallback
  if (value === Number.POSITIVE_INFINITY || (typeof value === "number" && Number.isInteger(value) && value > 0)) {
    return value
  }
  throw new InvalidOptionError({
    owner: "WorkerExecutor",
    option: "maxConcurrency",
    value,
    expected: "an integer from 1 up, or Infinity"
  })
}

/** Throws an `InvalidOptionError` of the executor. */
export const invalid = (option: string, value: unknown, expected: string): never => {
  throw new InvalidOptionError({ owner: "WorkerExecutor", option, value, expected })
}

/** Checks that `taskSet` is a task set. */
export const checkTaskSet = (taskSet: unknown, owner: "WorkerPool" | "WorkerExecutor"): void => {
  if (!isTaskSet(taskSet)) {
    throw new InvalidOptionError({ owner, option: "taskSet", value: taskSet, expected: "a TaskSet (TaskSet.make)" })
  }
}

/**
 * Checks of `WorkerExecutor` options. A bad option throws at once (inside
 * the constructor's `Effect.suspend`, so the effect dies) with a message that
 * names the option and the value, as `@taskscope/executor` does for its own.
 *
 * @internal
 */
import { ExecutorError } from "@taskscope/executor"
import * as Durations from "@taskscope/executor/internal/duration"
import * as KnownOptions from "@taskscope/executor/internal/knownOptions"
import * as os from "node:os"
import type * as WorkerThreads from "node:worker_threads"
import { isTaskSet } from "../TaskSet.ts"
import type * as WorkerExecutor from "../WorkerExecutor.ts"
import type * as WorkerPool from "../WorkerPool.ts"

/** The names of a pool's options (see `KnownOptions`). */
export const poolOptions = KnownOptions.of<WorkerPool.Options>()(
  "spawn",
  "maxConcurrency",
  "idleTimeout",
  "readyTimeout",
  "onInterruptRunning",
  "name",
  "metrics"
)

/** The names of a `WorkerExecutor`'s own options, on an existing pool. */
export const executorOnlyOptions = KnownOptions.of<WorkerExecutor.ExecutorOptions>()(...KnownOptions.executorNames)

/** The names of a `WorkerExecutor`'s options with a pool of its own: the pool's and its own. */
export const executorOptions: ReadonlySet<string> = new Set([...poolOptions, ...executorOnlyOptions])

/**
 * The pool's options of `o`, each read once: a `WorkerExecutor` with a pool
 * of its own checks them and hands them to the pool as one snapshot.
 */
export const poolPart = (o: Record<string, unknown>): WorkerPool.Options => {
  const part: Record<string, unknown> = {}
  for (const name of poolOptions) {
    const value = o[name]
    if (value !== undefined) part[name] = value
  }
  return part as unknown as WorkerPool.Options
}

/** Resolved pool options. */
export interface Config {
  readonly spawn: (id: number) => WorkerThreads.Worker
  readonly maxConcurrency: number
  readonly idleTimeout: number | undefined
  /** milliseconds; `undefined`: a thread may take as long as it likes to become ready */
  readonly readyTimeout: number | undefined
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
  const idleTimeout = o.idleTimeout === undefined
    ? undefined
    : duration("idleTimeout", o.idleTimeout, "a non-negative duration (milliseconds, or e.g. \"30 seconds\")", false)
  const readyTimeout = o.readyTimeout === undefined
    ? DEFAULT_READY_TIMEOUT_MS
    : duration("readyTimeout", o.readyTimeout, "a positive duration (milliseconds, or e.g. \"1 minute\"), or Infinity",
      true)
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
    readyTimeout,
    onInterruptRunning: mode,
    name: (o.name as string | undefined) ?? "default",
    metrics: (o.metrics as boolean | undefined) ?? true
  }
}

/** How long a thread may take to become ready by default (see `WorkerPool.Options.readyTimeout`). */
export const DEFAULT_READY_TIMEOUT_MS = 60_000

/**
 * A duration option in milliseconds, above zero if `positive` (otherwise
 * zero or more); `undefined` for an infinite one. Read strictly (see
 * `@taskscope/executor/internal/duration`): NaN, `{ millis: 30000 }` or a
 * `Date` would otherwise read as zero (an `idleTimeout` of zero retires
 * every idle thread at once).
 */
const duration = (argument: string, value: unknown, expected: string, positive: boolean): number | undefined => {
  const millis = Durations.toMillis(value)
  if (!(positive ? millis > 0 : millis >= 0)) invalid(argument, value, expected)
  return Number.isFinite(millis) ? millis : undefined
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

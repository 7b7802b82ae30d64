/**
 * What an executor tells about its tasks while they run: a {@link TaskInfo}
 * per unfinished task (`executor.tasks`) and a {@link TaskEvent} per step
 * (`executor.changes`): submitted, started, ended with an {@link Outcome}.
 *
 * Both are built only when someone asks: `tasks` walks the executor's queue
 * and its running tasks when it runs, and events are made only while a
 * stream of `changes` is being consumed.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { BackgroundExecutor, TaskEvent } from "@taskscope/executor"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const executor = yield* BackgroundExecutor.make({ name: "jobs" })
 *   yield* executor.changes.pipe(
 *     Stream.filter(TaskEvent.isEnded),
 *     Stream.runForEach((event) => Effect.log(`${event.task.name}: ${event.outcome}`)),
 *     Effect.forkScoped
 *   )
 *   yield* executor.submit(Effect.void, { name: "first" })
 * }))
 * ```
 *
 * @since 0.2.0
 */

/**
 * How a task ended: it succeeded, failed (with an error or a defect), was
 * interrupted (and nothing else went wrong), or passed its own deadline
 * (`timeout`, `startTimeout`, `deadline`: it failed with `TaskTimeoutError`).
 *
 * @example
 * ```ts
 * import type { TaskEvent } from "@taskscope/executor"
 *
 * const bad = (outcome: TaskEvent.Outcome) => outcome === "failure"
 * ```
 *
 * @category models
 * @since 0.2.0
 */
export type Outcome = "success" | "failure" | "interrupted" | "timeout"

/**
 * A task named across executors: the executor's `name` and the task's id in it.
 *
 * @example
 * ```ts
 * import type { TaskEvent } from "@taskscope/executor"
 *
 * const ref: TaskEvent.TaskRef = { executor: "default", id: 1 }
 * ```
 *
 * @category models
 * @since 0.2.0
 */
export interface TaskRef {
  readonly executor: string
  readonly id: number
}

/**
 * One task as the executor sees it at a moment. Times are epoch
 * milliseconds from the `Clock` of the fiber that made the executor,
 * recorded for the tasks the executor times: every task while someone
 * follows `changes`, otherwise the tasks that run in a span (named tasks,
 * by default) and the tasks its timers sample (1 in 256, with metrics on) —
 * reading a clock costs more than a trivial task's bookkeeping. A task
 * submitted before the first follower came has no `submittedAt`.
 *
 * @example
 * ```ts
 * import type { TaskEvent } from "@taskscope/executor"
 *
 * const waited = (info: TaskEvent.TaskInfo) => (info.startedAt ?? Date.now()) - (info.submittedAt ?? Date.now())
 * ```
 *
 * @category models
 * @since 0.2.0
 */
export interface TaskInfo {
  /** The `name` of the executor that runs it. */
  readonly executor: string
  /** Unique within its executor, increasing in submission order. */
  readonly id: number
  /** The `name` given at submission, or `task-<id>`. */
  readonly name: string
  /** `queued`: waiting for a permit; `running`: holding one; `done`: ended (in `Ended` events only). */
  readonly state: "queued" | "running" | "done"
  /** When it was submitted, if it is timed. */
  readonly submittedAt: number | undefined
  /** When it took a permit, if it is timed; `undefined` while queued or if it never started. */
  readonly startedAt: number | undefined
  /** The task that submitted it (or a fiber it forked), in this executor or another; `undefined` from outside any task. */
  readonly parent: TaskRef | undefined
}

/**
 * A task was submitted (accepted by `submit`).
 *
 * @example
 * ```ts
 * import type { TaskEvent } from "@taskscope/executor"
 *
 * const label = (event: TaskEvent.Submitted) => `+ ${event.task.name}`
 * ```
 *
 * @category models
 * @since 0.2.0
 */
export interface Submitted {
  readonly _tag: "Submitted"
  /** Increasing by one per event of this executor: a gap means events were dropped (see `changes`). */
  readonly sequence: number
  readonly task: TaskInfo
}

/**
 * A task took a permit and starts.
 *
 * @example
 * ```ts
 * import type { TaskEvent } from "@taskscope/executor"
 *
 * const label = (event: TaskEvent.Started) => `> ${event.task.name}`
 * ```
 *
 * @category models
 * @since 0.2.0
 */
export interface Started {
  readonly _tag: "Started"
  readonly sequence: number
  readonly task: TaskInfo
}

/**
 * A task ended, queued or running, with its outcome.
 *
 * @example
 * ```ts
 * import type { TaskEvent } from "@taskscope/executor"
 *
 * const label = (event: TaskEvent.Ended) => `${event.task.name}: ${event.outcome}`
 * ```
 *
 * @category models
 * @since 0.2.0
 */
export interface Ended {
  readonly _tag: "Ended"
  readonly sequence: number
  readonly task: TaskInfo
  readonly outcome: Outcome
  /** When it ended (epoch milliseconds). */
  readonly endedAt: number
}

/**
 * One step of one task, as `executor.changes` delivers it.
 *
 * @example
 * ```ts
 * import type { TaskEvent } from "@taskscope/executor"
 *
 * const line = (event: TaskEvent.TaskEvent) => `${event._tag} ${event.task.name}`
 * ```
 *
 * @category models
 * @since 0.2.0
 */
export type TaskEvent = Submitted | Started | Ended

/**
 * Tells whether an event is an {@link Ended} one.
 *
 * @example
 * ```ts
 * import { Stream } from "effect"
 * import { TaskEvent } from "@taskscope/executor"
 *
 * const ends = (events: Stream.Stream<TaskEvent.TaskEvent>) => Stream.filter(events, TaskEvent.isEnded)
 * ```
 *
 * @category guards
 * @since 0.2.0
 */
export const isEnded = (event: TaskEvent): event is Ended => event._tag === "Ended"

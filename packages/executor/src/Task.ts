/**
 * A `Task` is the handle that an executor returns from `submit`: the work's
 * identity (`id`, `name`) and four ways to observe or stop it, shaped like
 * Effect's own `Fiber` operations.
 *
 * A task is not a fiber while it waits for a permit: it is a small record in
 * its executor's queue and becomes a fiber only when it starts. The handle
 * works the same in both states: `interrupt` on a queued task removes it at
 * once (it never runs), on a running task it interrupts the fiber and waits
 * for it to end.
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import { hasProperty } from "effect/Predicate"

/**
 * The brand carried by every {@link Task}.
 *
 * @category type ids
 * @since 0.1.0
 */
export const TypeId: "~@taskscope/executor/Task" = "~@taskscope/executor/Task"

/**
 * The handle of a submitted task, whose success is `A` and failure `E`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { BackgroundExecutor, Task } from "@taskscope/executor"
 *
 * const program = BackgroundExecutor.scoped(
 *   Effect.gen(function*() {
 *     const task = yield* BackgroundExecutor.submit(Effect.succeed(21), { name: "double" })
 *     return (yield* Task.join(task)) * 2
 *   })
 * )
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Task<out A, out E = never> {
  readonly [TypeId]: typeof TypeId
  /** Unique within its executor, increasing in submission order. */
  readonly id: number
  /** The `name` given at submission, or `task-<id>`. */
  readonly name: string
  /** Waits for the task and succeeds or fails as it did; an interrupted task's join fails with the interruption. */
  readonly join: Effect.Effect<A, E>
  /** Waits for the task and returns how it ended. */
  readonly await: Effect.Effect<Exit.Exit<A, E>>
  /** Stops the task (a queued one never runs) and waits until it has ended. */
  readonly interrupt: Effect.Effect<void>
  /** How the task ended, or `undefined` while it is queued or running. */
  readonly poll: Effect.Effect<Exit.Exit<A, E> | undefined>
}

/**
 * Tells whether a value is a {@link Task}.
 *
 * @example
 * ```ts
 * import { Task } from "@taskscope/executor"
 *
 * Task.isTask({}) // false
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isTask = (u: unknown): u is Task<unknown, unknown> => hasProperty(u, TypeId)

/**
 * Waits for a task and succeeds or fails as it did.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { BackgroundExecutor, Task } from "@taskscope/executor"
 *
 * const program = BackgroundExecutor.scoped(
 *   BackgroundExecutor.submit(Effect.succeed(1)).pipe(Effect.flatMap(Task.join))
 * )
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const join = <A, E>(self: Task<A, E>): Effect.Effect<A, E> => self.join

/**
 * Waits for a task and returns its `Exit`, never failing.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { BackgroundExecutor, Task } from "@taskscope/executor"
 *
 * const program = BackgroundExecutor.scoped(
 *   BackgroundExecutor.submit(Effect.fail("boom"), { reraiseOnExit: false }).pipe(Effect.flatMap(Task.await))
 * )
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
const await_ = <A, E>(self: Task<A, E>): Effect.Effect<Exit.Exit<A, E>> => self.await
export { await_ as await }

/**
 * Interrupts a task and waits until it has ended. A queued task is removed
 * from the queue and never runs.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { BackgroundExecutor, Task } from "@taskscope/executor"
 *
 * const program = BackgroundExecutor.scoped(
 *   BackgroundExecutor.submit(Effect.never).pipe(Effect.flatMap(Task.interrupt))
 * )
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const interrupt = <A, E>(self: Task<A, E>): Effect.Effect<void> => self.interrupt

/**
 * Returns the task's `Exit` if it has ended, `undefined` otherwise.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { BackgroundExecutor, Task } from "@taskscope/executor"
 *
 * const program = BackgroundExecutor.scoped(
 *   BackgroundExecutor.submit(Effect.never, { cancelOnExit: true }).pipe(Effect.flatMap(Task.poll))
 * ) // succeeds with undefined
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const poll = <A, E>(self: Task<A, E>): Effect.Effect<Exit.Exit<A, E> | undefined> => self.poll

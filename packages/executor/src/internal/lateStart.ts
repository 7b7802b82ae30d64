/**
 * Tasks that start late: an executor built on a `BackgroundExecutor` whose
 * tasks, once they hold a permit, still wait for something of their own
 * before their work begins (a `WorkerExecutor` call waits for a thread of
 * its pool) marks them with {@link make}. For such a task the executor keeps
 * the two deadlines apart, as for a queued one: its start deadline
 * (`startTimeout`, `deadline`) still runs while it waits, and fails it with
 * `TaskTimeoutError { phase: "queue" }`; its run deadline (`timeout`, what is
 * left of `deadline`) starts when the task calls `started`, just before its
 * work begins; `started` returns `false` when the start deadline has passed
 * (the work must not begin then: the task is about to fail with
 * `phase: "queue"`). `@taskscope/node`
 * imports it by the `@taskscope/executor/internal/lateStart` subpath; it is
 * not part of the public API and may change in any release.
 *
 * @internal
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import { constTrue } from "effect/Function"

/**
 * What a late-starting task is made of: its work, given the function that
 * says it begins now (and answers whether it still may).
 *
 * @category models
 * @since 0.2.0
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type * as LateStart from "@taskscope/executor/internal/lateStart"
 *
 * const build: LateStart.Build<number, never, never> = (started) =>
 *   Effect.flatMap(Effect.sync(started), (inTime) => inTime ? Effect.succeed(1) : Effect.never)
 * ```
 */
export type Build<A, E, R> = (started: () => boolean) => Effect.Effect<A, E, R>

/** The tasks marked by `make` (a `WeakMap`, so that the effect keeps the shape of every other). */
const builds = new WeakMap<object, Build<any, any, any>>()

/**
 * An effect that runs `build`'s work and tells the executor, through
 * `started`, when that work begins. Run anywhere else (not as a task with a
 * deadline), `started` does nothing and returns `true`.
 *
 * @category constructors
 * @since 0.2.0
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as LateStart from "@taskscope/executor/internal/lateStart"
 *
 * // the run deadline counts from the moment a connection is there
 * const task = LateStart.make((started) =>
 *   Effect.andThen(Effect.sleep("1 second"), Effect.sync(started))
 * )
 * ```
 */
export const make = <A, E, R>(build: Build<A, E, R>): Effect.Effect<A, E, R> => {
  const effect = Effect.suspend(() => build(constTrue))
  builds.set(effect, build)
  return effect
}

/**
 * The work of a task made by {@link make}, or `undefined` for any other
 * effect. The executor asks only for tasks with a deadline.
 *
 * @category getters
 * @since 0.2.0
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as LateStart from "@taskscope/executor/internal/lateStart"
 *
 * LateStart.buildOf(Effect.void) // undefined
 * ```
 */
export const buildOf = (effect: Effect.Effect<any, any, any>): Build<any, any, any> | undefined => builds.get(effect)

/**
 * `BackgroundExecutor.scoped` for executors built on one (`WorkerExecutor`,
 * `ClusterExecutor`: `@taskscope/node` and `@taskscope/cluster` import it by
 * the `@taskscope/executor/internal/scoped` subpath; it is not part of the
 * public API and may change in any release). Such an executor keeps a
 * `BackgroundExecutor` as its own bookkeeping; its body must not see that
 * one — a `BackgroundExecutor.submit` there would take one of its permits —
 * but its caller's, or none.
 *
 * @internal
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as BackgroundExecutor from "../BackgroundExecutor.ts"
import type { CloseTimeoutError, TaskFailedError } from "../ExecutorError.ts"

/**
 * Runs `body` with a fresh executor under the exit rules, as
 * `BackgroundExecutor.scoped` does, but in its caller's context: the
 * `BackgroundExecutor` it sees is the caller's (or none), not the fresh one.
 *
 * @category constructors
 * @since 0.2.0
 * @example
 * ```ts
 * import * as Scoped from "@taskscope/executor/internal/scoped"
 *
 * const stats = Scoped.scoped((executor) => executor.stats)
 * ```
 */
export const scoped = <A, E, R>(
  body: (executor: BackgroundExecutor.Executor) => Effect.Effect<A, E, R>,
  options?: BackgroundExecutor.Options
): Effect.Effect<A, E | TaskFailedError | CloseTimeoutError, R> =>
  Effect.contextWith((outer: Context.Context<never>) => {
    const callers = Context.getOrUndefined(outer, BackgroundExecutor.BackgroundExecutor)
    return BackgroundExecutor.scoped((executor: BackgroundExecutor.Executor) => {
      const effect: Effect.Effect<A, E, any> = body(executor)
      return callers === undefined
        ? Effect.updateContext(effect, Context.omit(BackgroundExecutor.BackgroundExecutor))
        : Effect.provideService(effect, BackgroundExecutor.BackgroundExecutor, callers)
    }, options)
  }) as Effect.Effect<A, E | TaskFailedError | CloseTimeoutError, R>

/**
 * Timers of an executor: the run deadline of a task (`timeout`, what is left
 * of `deadline`), its start deadline (`startTimeout`, `deadline`) and the
 * grace period of a close (`closeTimeout`). Every timer reads and sleeps on
 * the `Clock` of the fiber it belongs to, so `TestClock` drives them in
 * tests exactly as it drives `Effect.sleep`.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"

/** What the clock of `context` says it is, in epoch milliseconds. */
export const now = (context: Context.Context<never>): number =>
  Context.get(context, Clock.Clock).currentTimeMillisUnsafe()

/** A started timer; `cancel` stops it (it has then not fired, or has fired already). */
export interface Timer {
  readonly cancel: () => void
}

/**
 * Calls `fire` after `millis` on the clock of `context`, from a fiber of its
 * own (not a child of anyone's: it must outlive the fiber that set it).
 */
export const schedule = (context: Context.Context<never>, millis: number, fire: () => void): Timer => {
  const fiber: Fiber.Fiber<void> = Effect.runForkWith(context)(
    Effect.andThen(Effect.sleep(Duration.millis(millis)), Effect.sync(fire))
  )
  return { cancel: () => fiber.interruptUnsafe() }
}

/**
 * `effect`, given `millis` to end: past that it is interrupted, the
 * interruption is waited for (finalizers run), and it fails with
 * `onTimeout()`.
 */
export const within = <A, E, R, E2>(
  effect: Effect.Effect<A, E, R>,
  millis: number,
  onTimeout: () => E2
): Effect.Effect<A, E | E2, R> => until(effect, Effect.sleep(Duration.millis(millis)), onTimeout)

/**
 * The run of a task that, after taking its permit, still waits for something
 * outside the executor (a `WorkerExecutor` call waits for a thread): `build`
 * is given `started`, which it calls just before its work begins. Until then
 * the task is bounded by its start deadline `startBy` (on the clock `now`
 * reads; `undefined`: none), and fails with `onTimeout("queue")`; from then
 * by `runMillis()`, read at that moment (`onTimeout("run", millis)`, which
 * may be infinite). `started` returns `false` — the work must not begin —
 * once `startBy` is past: a deadline that passed while the event loop was
 * busy elsewhere, its timer not fired yet, ends the task as a queued one's
 * does. It wakes no fiber of the task's, only the timer's.
 */
export const withinPhases = <A, E, R, E2>(
  build: (started: () => boolean) => Effect.Effect<A, E, R>,
  startBy: number | undefined,
  now: () => number,
  runMillis: () => number,
  onTimeout: (phase: "queue" | "run", millis: number) => E2
): Effect.Effect<A, E | E2, R> =>
  Effect.suspend(() => {
    const began = Deferred.makeUnsafe<boolean>()
    const started = (): boolean => {
      // past, not reached: a task given `startTimeout: 0` that took its permit at submit may begin
      // in that same instant (as a task that is not late does)
      if (startBy !== undefined && now() > startBy) return false
      Deferred.doneUnsafe(began, Exit.succeed(true))
      return true
    }
    const waitStart = startBy === undefined
      ? Deferred.await(began)
      : Effect.raceFirst(
        Deferred.await(began),
        Effect.as(Effect.sleep(Duration.millis(Math.max(0, startBy - now()))), false)
      )
    let phase: "queue" | "run" = "queue"
    let millis = 0
    const expired = Effect.flatMap(waitStart, (inTime) => {
      if (!inTime) return Effect.void
      phase = "run"
      millis = runMillis()
      return millis === Number.POSITIVE_INFINITY ? Effect.never : Effect.sleep(Duration.millis(Math.max(0, millis)))
    })
    return until(build(started), expired, () => onTimeout(phase, millis))
  })

/**
 * `effect`, until `expired` ends first: then it is interrupted, the
 * interruption is waited for (finalizers run), and it fails with
 * `onTimeout()`. Whatever else it failed with meanwhile (a finalizer that
 * died, an uninterruptible part that failed) is kept beside: Effect's race
 * drops the exit of the side it interrupts, here the effect's own, so it is
 * read apart — also when the whole is interrupted from outside.
 */
const until = <A, E, R, E2>(
  effect: Effect.Effect<A, E, R>,
  expired: Effect.Effect<void>,
  onTimeout: () => E2
): Effect.Effect<A, E | E2, R> =>
  Effect.suspend(() => {
    let ended: Exit.Exit<A, E> | undefined
    /** What the effect failed with besides its interruption, if anything. */
    const own = (): Cause.Cause<E> | undefined => {
      if (ended === undefined || Exit.isSuccess(ended)) return undefined
      const reasons = ended.cause.reasons.filter((reason) => !Cause.isInterruptReason(reason))
      return reasons.length === 0 ? undefined : Cause.fromReasons(reasons)
    }
    // the race waits for the side it interrupts to end: `orElse` runs once the effect has ended
    const raced = Effect.flatMap(
      Effect.raceFirst(
        Effect.asSome(Effect.onExit(effect, (exit) => Effect.sync(() => void (ended = exit)))),
        Effect.as(expired, Option.none())
      ),
      (option): Effect.Effect<A, E | E2> => {
        if (Option.isSome(option)) return Effect.succeed(option.value)
        const timedOut = Cause.fail(onTimeout())
        const also = own()
        return Effect.failCause(also === undefined ? timedOut : Cause.combine(timedOut, also))
      }
    )
    return Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(Effect.exit(restore(raced)), (exit) => {
        if (Exit.isSuccess(exit) || !Cause.hasInterruptsOnly(exit.cause)) return exit
        // interrupted from outside: the race interrupted the effect and dropped its exit
        const also = own()
        return also === undefined ? exit : Effect.failCause(Cause.combine(exit.cause, also))
      })
    )
  })

/**
 * The thread pool behind a `WorkerExecutor`: at most `size` worker threads,
 * started lazily, one call at a time per thread, retired after `idleTimeout`,
 * terminated (and later replaced) when a running call is interrupted, and
 * replaced when they crash.
 *
 * Each thread is an Effect `Worker` from `effect/workers`, spawned through
 * `@effect/platform-node`'s `NodeWorker` platform; the pool keeps the
 * `node:worker_threads` handle the spawner returned so it can terminate a
 * thread that is busy in synchronous code (a message cannot stop it, and the
 * platform's own close waits five seconds before it terminates).
 *
 * @internal
 */
import * as NodeWorker from "@effect/platform-node/NodeWorker"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import * as EffectWorker from "effect/workers/Worker"
import { isWorkerError, type WorkerError } from "effect/workers/WorkerError"
import type * as WorkerThreads from "node:worker_threads"
import type { Stats } from "../WorkerPool.ts"
import * as Metrics from "./metrics.ts"
import type { Request, Response, Trace } from "./protocol.ts"

/** The thread ran nothing to completion: it died, or never started. */
export interface Crash {
  readonly _tag: "Crash"
  /** start: the thread never became ready; run: it died or was stopped mid-call; closed: no thread, the pool is closed */
  readonly phase: "start" | "run" | "closed"
  readonly reason: string
  readonly cause: unknown
}

/** The request could not be posted (its payload is not cloneable). */
export interface NotSent {
  readonly _tag: "NotSent"
  readonly cause: unknown
}

/** What one call comes back with. */
export type Outcome = Response | Crash | NotSent

export interface Options {
  readonly maxConcurrency: number
  readonly spawn: (id: number) => WorkerThreads.Worker
  /** milliseconds; undefined keeps idle threads until the pool closes */
  readonly idleTimeout: number | undefined
  readonly onInterruptRunning: "terminate" | "wait"
  /** The `executor` attribute of its series */
  readonly name: string
  readonly metrics: boolean
}

export interface Pool {
  /** Runs one request on a thread; interruption follows `onInterruptRunning`. */
  readonly execute: (
    task: string,
    payload: unknown,
    transfers: ReadonlyArray<unknown>,
    trace: Trace | undefined
  ) => Effect.Effect<Outcome>
  readonly stats: Effect.Effect<Stats>
  /** Starts threads up to `size` and waits until they are ready (or dead). */
  readonly prestart: Effect.Effect<void>
}

interface Pending {
  readonly id: number
  readonly deferred: Deferred.Deferred<Outcome>
}

interface Thread {
  readonly _tag: "Thread"
  readonly id: number
  raw: WorkerThreads.Worker | undefined
  backing: EffectWorker.Worker<Response, Request> | undefined
  fiber: Fiber.Fiber<never, unknown> | undefined
  /** true once started, false if it died first */
  readonly ready: Deferred.Deferred<boolean>
  pending: Pending | undefined
  state: "starting" | "idle" | "busy" | "dead"
  ending: "terminated" | "retired" | undefined
  idleSince: number
}

interface Waiter {
  resume: (thread: Thread | undefined) => void
  cancelled: boolean
  given: Thread | undefined
}

const PING_ID = -1

const crashOf = (exit: Exit.Exit<unknown, unknown>): { reason: string; cause: unknown } => {
  if (Exit.isSuccess(exit)) return { reason: "the worker stopped", cause: undefined }
  const error = Cause.findErrorOption(exit.cause)
  if (error._tag === "Some" && isWorkerError(error.value)) {
    const reason = error.value.reason
    const inner = reason.cause
    const detail = inner instanceof Error ? `: ${inner.message}` : ""
    return { reason: reason.message + detail, cause: inner ?? error.value }
  }
  const squashed = Cause.squash(exit.cause)
  return { reason: squashed instanceof Error ? squashed.message : String(squashed), cause: squashed }
}

/** Makes a pool whose threads all end when `Scope` closes. */
export const make = (options: Options): Effect.Effect<Pool, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const platform = yield* Effect.provide(EffectWorker.WorkerPlatform, NodeWorker.layerPlatform)
    // thread fibers are roots run with the pool's context: not children of
    // the task that happened to start them, and ended by the finalizer below
    const context = yield* Effect.context<never>()
    const runFork = Effect.runForkWith(context)
    const metrics = Metrics.make(context, options.name, options.metrics)
    const threads = new Set<Thread>()
    const idle: Array<Thread> = []
    // FIFO of callers waiting for a thread: O(1) push and take (a head index
    // into an array that is compacted when half of it has been taken)
    let waiters: Array<Waiter> = []
    let head = 0
    const takeWaiter = (): Waiter | undefined => {
      if (head >= waiters.length) return undefined
      const waiter = waiters[head++]!
      if (head > 1024 && head * 2 > waiters.length) {
        waiters = waiters.slice(head)
        head = 0
      }
      return waiter
    }
    let nextThreadId = 0
    let nextCallId = 0
    let closing = false
    let reaping = false
    let started = 0
    let crashed = 0
    let terminated = 0
    let retired = 0

    const onResponse = (thread: Thread, response: Response): void => {
      if (response[0] === PING_ID) {
        Deferred.doneUnsafe(thread.ready, Exit.succeed(true))
        return
      }
      const pending = thread.pending
      if (pending !== undefined && pending.id === response[0]) {
        thread.pending = undefined
        Deferred.doneUnsafe(pending.deferred, Exit.succeed(response))
      }
    }

    const removeIdle = (thread: Thread): void => {
      const index = idle.indexOf(thread)
      if (index >= 0) idle.splice(index, 1)
    }

    const onThreadEnd = (thread: Thread, exit: Exit.Exit<unknown, unknown>): void => {
      removeIdle(thread)
      thread.state = "dead"
      threads.delete(thread)
      metrics?.threadEnded()
      if (thread.ending === undefined) {
        crashed++
        metrics?.restarted("crash")
      }
      const { cause, reason } = crashOf(exit)
      Deferred.doneUnsafe(thread.ready, Exit.succeed(false))
      const pending = thread.pending
      thread.pending = undefined
      if (pending !== undefined) {
        Deferred.doneUnsafe(pending.deferred, Exit.succeed<Outcome>({ _tag: "Crash", phase: "run", reason, cause }))
      }
      // a waiter may now start a thread of its own
      wakeOne(undefined)
    }

    const wakeOne = (thread: Thread | undefined): boolean => {
      for (let waiter = takeWaiter(); waiter !== undefined; waiter = takeWaiter()) {
        if (waiter.cancelled) continue
        waiter.given = thread
        waiter.resume(thread)
        return true
      }
      return false
    }

    /** Ends a thread now: `terminate()` stops even a busy synchronous loop. */
    const stop = (thread: Thread, ending: "terminated" | "retired"): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (thread.ending === undefined) {
          thread.ending = ending
          if (ending === "terminated") {
            terminated++
            metrics?.restarted("terminate")
          } else retired++
        }
        const pending = thread.pending
        thread.pending = undefined
        if (pending !== undefined) {
          // the caller was interrupted (and stops listening), or the pool is
          // closing under a call of an executor that outlives it: never hang it
          Deferred.doneUnsafe(
            pending.deferred,
            Exit.succeed<Outcome>({
              _tag: "Crash",
              phase: "run",
              reason: ending === "terminated" ? "the thread was terminated" : "the pool closed while the task ran",
              cause: undefined
            })
          )
        }
        if (thread.state === "idle") removeIdle(thread)
        const raw = thread.raw
        const fiber = thread.fiber
        const terminate = raw === undefined ? Effect.void : Effect.promise(() => raw.terminate())
        return fiber === undefined
          ? terminate
          : Effect.andThen(terminate, Effect.andThen(Fiber.interrupt(fiber), Fiber.await(fiber)))
      }).pipe(Effect.asVoid)

    const spawn = (): Thread => {
      const thread: Thread = {
        _tag: "Thread",
        id: nextThreadId++,
        raw: undefined,
        backing: undefined,
        fiber: undefined,
        ready: Deferred.makeUnsafe<boolean>(),
        pending: undefined,
        state: "starting",
        ending: undefined,
        idleSince: 0
      }
      threads.add(thread)
      started++
      metrics?.threadStarted()
      const spawner: EffectWorker.SpawnerFn<WorkerThreads.Worker> = (id) => {
        const raw = options.spawn(id)
        thread.raw = raw
        return raw
      }
      const run = Effect.gen(function*() {
        const backing = yield* platform.spawn<Response, Request>(thread.id)
        thread.backing = backing
        // The ping is buffered by the platform until the worker is ready and
        // flushed before any later message is posted directly: once its reply
        // is in, a send can fail only for its own message.
        yield* backing.send([PING_ID, "", undefined])
        return yield* backing.run((response) => {
          onResponse(thread, response)
          return Effect.void
        })
      }).pipe(Effect.provideService(EffectWorker.Spawner, spawner as EffectWorker.SpawnerFn<unknown>))
      const fiber = runFork(run)
      thread.fiber = fiber
      fiber.addObserver((exit) => onThreadEnd(thread, exit))
      return thread
    }

    const reap: Effect.Effect<void> = Effect.suspend(() => {
      if (options.idleTimeout === undefined || idle.length === 0 || closing) {
        reaping = false
        return Effect.void
      }
      const now = Date.now()
      let next = options.idleTimeout
      const expired: Array<Thread> = []
      for (const thread of idle) {
        const age = now - thread.idleSince
        if (age >= options.idleTimeout) expired.push(thread)
        else next = Math.min(next, options.idleTimeout - age)
      }
      for (const thread of expired) {
        removeIdle(thread)
        metrics?.restarted("idle")
      }
      return Effect.andThen(
        Effect.forEach(expired, (thread) => stop(thread, "retired"), { discard: true, concurrency: "unbounded" }),
        Effect.andThen(Effect.sleep(Math.max(1, next)), reap)
      )
    })

    const checkin = (thread: Thread): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (thread.state === "dead") return Effect.void
        if (closing) return stop(thread, "retired")
        // busy before the hand-over: the waiter resumes synchronously and may
        // check the thread in again (a send that failed) before we return
        thread.state = "busy"
        if (wakeOne(thread)) return Effect.void
        thread.state = "idle"
        thread.idleSince = Date.now()
        idle.push(thread)
        if (options.idleTimeout !== undefined && !reaping) {
          reaping = true
          return Effect.asVoid(Effect.forkIn(Effect.andThen(Effect.sleep(options.idleTimeout), reap), scope))
        }
        return Effect.void
      })

    /** Waits for a thread to become ready; undefined if it died first. */
    const awaitStart = (thread: Thread) =>
      Effect.flatMap(Deferred.await(thread.ready), (ok) => Effect.succeed(ok ? thread : undefined))

    const acquire = (restore: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>): Effect.Effect<
      Thread | Crash
    > =>
      Effect.suspend(() => {
        let ready = idle.pop()
        while (ready !== undefined && ready.state === "dead") ready = idle.pop()
        if (ready !== undefined) {
          ready.state = "busy"
          return Effect.succeed(ready)
        }
        if (closing) {
          return Effect.succeed<Crash>({
            _tag: "Crash",
            phase: "closed",
            reason: "the pool is closed",
            cause: undefined
          })
        }
        if (threads.size < options.maxConcurrency) {
          const thread = spawn()
          return restore(awaitStart(thread)).pipe(
            Effect.onInterrupt(() =>
              // started for nobody: let it join the idle threads once up
              Effect.forkIn(Effect.flatMap(awaitStart(thread), (t) => t ? checkin(t) : Effect.void), scope)
            ),
            Effect.flatMap((t): Effect.Effect<Thread | Crash> => {
              if (t !== undefined) {
                t.state = "busy"
                return Effect.succeed(t)
              }
              return Effect.flatMap(Fiber.await(thread.fiber!),
                (exit) => Effect.succeed<Crash>({ _tag: "Crash", phase: "start", ...crashOf(exit) }))
            })
          )
        }
        const waiter: Waiter = { resume: () => {}, cancelled: false, given: undefined }
        return restore(Effect.callback<Thread | undefined>((resume) => {
          waiter.resume = (thread) => resume(Effect.succeed(thread))
          waiters.push(waiter)
          return Effect.suspend(() => {
            waiter.cancelled = true
            return waiter.given === undefined ? Effect.void : checkin(waiter.given)
          })
        })).pipe(Effect.flatMap((thread) => thread === undefined ? acquire(restore) : Effect.succeed(thread)))
      })

    const execute = (
      task: string,
      payload: unknown,
      transfers: ReadonlyArray<unknown>,
      trace: Trace | undefined
    ): Effect.Effect<Outcome> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(acquire(restore), (acquired): Effect.Effect<Outcome> => {
          if (acquired._tag === "Crash") return Effect.succeed(acquired)
          const thread = acquired
          const id = nextCallId++
          const deferred = Deferred.makeUnsafe<Outcome>()
          thread.pending = { id, deferred }
          const request: Request = trace === undefined ? [id, task, payload] : [id, task, payload, trace]
          return thread.backing!.send(request, transfers).pipe(
            Effect.matchEffect({
              onFailure: (error: WorkerError): Effect.Effect<Outcome> => {
                thread.pending = undefined
                return Effect.as(checkin(thread), { _tag: "NotSent", cause: error.reason.cause ?? error })
              },
              onSuccess: () =>
                restore(Deferred.await(deferred)).pipe(
                  Effect.onInterrupt(() =>
                    options.onInterruptRunning === "terminate"
                      ? stop(thread, "terminated")
                      : Effect.andThen(Deferred.await(deferred), checkin(thread))
                  ),
                  Effect.tap(() => checkin(thread))
                )
            })
          )
        })
      )

    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        closing = true
        for (let waiter = takeWaiter(); waiter !== undefined; waiter = takeWaiter()) {
          if (!waiter.cancelled) waiter.resume(undefined)
        }
        return Effect.forEach(Array.from(threads), (thread) => stop(thread, "retired"), {
          discard: true,
          concurrency: "unbounded"
        })
      })
    )

    const stats = Effect.sync((): Stats => {
      let busy = 0
      for (const thread of threads) if (thread.state === "busy") busy++
      return { threads: threads.size, idle: idle.length, busy, started, crashed, terminated, retired }
    })

    const prestart = Effect.suspend(() => {
      if (closing) return Effect.void
      // a fixed count: a thread whose spawn throws is gone again at once
      const missing = options.maxConcurrency - threads.size
      const fresh: Array<Thread> = []
      for (let i = 0; i < missing; i++) fresh.push(spawn())
      // The check-ins belong to the pool, not to the caller: interrupting
      // prestart stops the wait, and the threads still join the idle ones.
      return Effect.flatMap(
        Effect.forEach(fresh, (thread) =>
          Effect.forkIn(Effect.flatMap(awaitStart(thread), (t) => t === undefined ? Effect.void : checkin(t)), scope)),
        (fibers) => Effect.asVoid(Fiber.joinAll(fibers))
      )
    })

    return { execute, stats, prestart }
  })

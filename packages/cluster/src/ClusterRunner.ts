/**
 * The runner side of a `ClusterExecutor`: serves a task set in a runner
 * process, as one cluster entity whose messages are the task set's tasks.
 *
 * A runner decodes each task's payload with the task's Schema, runs the
 * task's function (at most `concurrency` at a time on this runner: the queue
 * is a `BackgroundExecutor` of `@taskscope/executor`, where the task waits
 * with its submit options' `priority`, `startTimeout`, `deadline` and
 * `timeout`), encodes what it returned, and stores the reply. A task's
 * function may need services: `layer` then asks for them
 * (`TaskSet.Services`), so a runner that does not provide them does not
 * compile.
 *
 * What happens to a task where it runs:
 *
 * - Interrupted by its submitter (`Task.interrupt`, `cancelOnExit`): the
 *   function's fiber is interrupted here, and the interruption is the
 *   task's stored result.
 * - Runner shut down gracefully: its tasks are interrupted but not answered;
 *   they stay stored and the next owner of their shard runs them again.
 * - Runner killed: the same, once the cluster has seen it gone (its database
 *   connection ends and its shard locks with it; the others poll its health).
 *
 * So a task may run more than once (at-least-once execution); its submitter
 * gets one result, the first one stored under its key.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { NodeRuntime } from "@effect/platform-node"
 * import { Cluster, ClusterRunner } from "@taskscope/cluster"
 * import { tasks } from "./tasks.ts"
 *
 * Layer.launch(ClusterRunner.layer(tasks, { concurrency: 8 }).pipe(
 *   Layer.provide(Cluster.layerPostgres({ url: process.env.DATABASE_URL!, runner: { port: 34431 } }))
 * )).pipe(NodeRuntime.runMain)
 * ```
 *
 * @since 0.2.0
 */
import { BackgroundExecutor, ExecutorError, Task } from "@taskscope/executor"
import { errorText } from "@taskscope/executor/internal/describe"
import * as KnownOptions from "@taskscope/executor/internal/knownOptions"
import * as LateStart from "@taskscope/executor/internal/lateStart"
import * as TaskSet from "@taskscope/executor/TaskSet"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Entity from "effect/cluster/Entity"
import type * as EntityAddress from "effect/cluster/EntityAddress"
import type * as ShardId from "effect/cluster/ShardId"
import * as Sharding from "effect/cluster/Sharding"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Predicate from "effect/Predicate"
import * as Schedule from "effect/Schedule"
import type * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import { Cluster } from "./Cluster.ts"
import * as Attempts from "./internal/attempts.ts"
import {
  type Codecs,
  isAttachProbe,
  protocolOf,
  WireAttempts,
  WireDefect,
  type WireError,
  WireInvalidPayload,
  WireInvalidResult,
  WireNotSubmitted,
  type WirePayload,
  WireTaskError,
  wireText,
  WireTimeout
} from "./internal/protocol.ts"
import { rideOutStorage } from "./internal/storage.ts"

/**
 * Options of a runner.
 *
 * @category models
 * @since 0.2.0
 * @example
 * ```ts
 * import type { ClusterRunner } from "@taskscope/cluster"
 *
 * const options: ClusterRunner.Options = { concurrency: 8 }
 * ```
 */
export interface Options {
  /**
   * How many tasks of this set may run at once on this runner: an integer
   * from 1 up, or `Infinity`. Default 16. The others wait here, by
   * `priority` (higher first), then in the order they came.
   */
  readonly concurrency?: number | undefined
  /**
   * How many times a task may start, on this cluster's runners, with its
   * runner dying before it finished (killed, out of memory, or ended by the
   * task itself) or losing the task's shard (its event loop blocked for
   * longer than `shardLockExpiration`: its result is then dropped): an
   * integer from 1 up, or `Infinity` (the default: no bound). The next
   * owner of the task's shard starts it again each time; a runner that
   * finds it over the bound fails it with
   * `AttemptsExhaustedError` instead, so that a task that kills its runners
   * does not take down one after another. Every task running on a runner
   * that dies is charged a start, whatever killed the runner (with
   * `maxAttempts: 1`, one SIGKILL fails every task it was running): leave
   * room for the deaths a healthy task may meet (3 or more). Each start is
   * counted in PostgreSQL before the task runs (a statement per start, and
   * one when it ends); that statement is part of the task's wait to start,
   * bounded by its start deadline, and its `timeout` counts from the moment
   * its function begins. A start stopped by a live runner does not count: a
   * graceful shutdown (also one that stops the task after its function
   * ended, its scope still closing), or the task's shard moving to another
   * runner while the function runs. In
   * memory (`Cluster.layerMemory`) nothing is counted: a task runs again only
   * when its runner's layer is rebuilt, which is a graceful shutdown.
   */
  readonly maxAttempts?: number | undefined
  /**
   * The `executor` attribute of the metric series of this runner's queue (a
   * `BackgroundExecutor`: every task this runner runs, by outcome). Default
   * `"<task set key>/runner"` (`"app/rows/runner"` for the task set
   * `"app/rows"`): not the default name of a `ClusterExecutor` (`"default"`),
   * so that a process that both submits and runs keeps the two apart — a
   * task submitted and run there counts once in each.
   */
  readonly name?: string | undefined
  /** Whether to keep the metric series of this runner's queue (default `true`). */
  readonly metrics?: boolean | undefined
}

/** The task's function as an effect: what it throws or rejects with is a failure, to be sorted out after. */
const runFunction = (task: TaskSet.AnyTask, payload: unknown): Effect.Effect<unknown, unknown, any> =>
  Effect.suspend(() => {
    let out: unknown
    try {
      out = task.run(payload)
    } catch (thrown) {
      return Effect.fail(thrown)
    }
    if (TaskSet.isEffectResult(task, out)) return out as Effect.Effect<unknown, unknown, any>
    if (Predicate.isPromiseLike(out)) {
      const promise = out
      return Effect.callback<unknown, unknown>((resume) => {
        try {
          promise.then((value) => resume(Effect.succeed(value)), (thrown) => resume(Effect.fail(thrown)))
        } catch (thrown) {
          resume(Effect.fail(thrown))
        }
      })
    }
    return Effect.succeed(out)
  })

/** Runs one task from its wire payload to its wire result. */
const serveTask = (
  name: string,
  task: TaskSet.AnyTask,
  codec: Codecs,
  runner: string,
  wire: WirePayload
): Effect.Effect<Schema.Json, WireError, any> => {
  if (isAttachProbe(wire.payload)) return Effect.fail(new WireNotSubmitted())
  let payload: unknown
  try {
    payload = codec.decodePayload(wire.payload)
  } catch (error) {
    return Effect.fail(new WireInvalidPayload({ issue: wireText(errorText(error)) }))
  }
  const encode = <A>(part: "success value" | "error", f: () => A): Effect.Effect<A, WireInvalidResult> => {
    try {
      return Effect.succeed(f())
    } catch (error) {
      return Effect.fail(new WireInvalidResult({ part, issue: wireText(errorText(error)) }))
    }
  }
  // what the task ended with, mapped to the wire's answer; a throw while mapping is a defect of the
  // runner's answer, never of the handler (Effect would restart the entity, and run the task again)
  const answer = (map: () => Effect.Effect<Schema.Json, WireError>): Effect.Effect<Schema.Json, WireError> => {
    try {
      return map()
    } catch (error) {
      return Effect.fail(
        new WireDefect({ runner, message: wireText(`${name}: its outcome could not be sent (${errorText(error)})`) })
      )
    }
  }
  return Effect.matchCauseEffect(runFunction(task, payload), {
    onSuccess: (value) => encode("success value", () => codec.encodeSuccess(value)),
    onFailure: (cause) =>
      answer(() => {
        const failure = Cause.findErrorOption(cause)
        if (failure._tag === "Some") {
          const error = failure.value
          return codec.isError(error)
            ? Effect.flatMap(
              encode("error", () => new WireTaskError({ error: codec.encodeError(error) })),
              Effect.fail
            )
            : Effect.fail(new WireDefect({ runner, message: wireText(`${name} failed with ${errorText(error)}`) }))
        }
        if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
        return Effect.fail(new WireDefect({ runner, message: wireText(errorText(Cause.squash(cause))) }))
      })
  })
}

/**
 * The options of the task's submission to this runner's queue: its submit
 * options' bounds, as its payload carries them (`startBy` as what is left of
 * it on this runner's clock, checked not past by the caller).
 */
const queueOptions = (name: string, wire: WirePayload, now: number): BackgroundExecutor.SubmitOptions => {
  const options: { -readonly [K in keyof BackgroundExecutor.SubmitOptions]: BackgroundExecutor.SubmitOptions[K] } = {
    name,
    cancelOnExit: true,
    reraiseOnExit: false
  }
  if (wire.priority !== undefined) options.priority = wire.priority
  if (wire.startBy !== undefined) options.startTimeout = Math.max(0, wire.startBy - now)
  if (wire.deadline !== undefined) options.deadline = wire.deadline
  if (wire.timeout !== undefined) options.timeout = wire.timeout
  return options
}

/**
 * The wire form of the task's `TaskTimeoutError` on this runner. Out of the
 * queue, it reports the time the task was given to start from its submit
 * (`startBudget`), as its submitter's queue would, not what was left of it
 * here.
 */
const wireTimeout = (error: ExecutorError.TaskTimeoutError, wire: WirePayload): WireTimeout =>
  new WireTimeout({
    phase: error.phase,
    timeoutMillis: error.phase === "queue" && wire.startBudget !== undefined
      ? wire.startBudget
      : Duration.toMillis(error.timeout)
  })

/** The names of a runner's options (see `KnownOptions`). */
const runnerOptions = KnownOptions.of<Options>()("concurrency", "maxAttempts", "name", "metrics")

/** The `executor` attribute of a runner's series unless `name` says otherwise (see `Options.name`). */
const defaultName = (taskSet: TaskSet.Any): string => `${taskSet.key}/runner`

/** An option that is an integer from 1 up, or `Infinity`; `fallback` when left out. */
const countOption = (argument: string, given: unknown, fallback: number, what: string): number => {
  const n = given === undefined ? fallback : given
  if (typeof n !== "number" || !(n === Infinity || (Number.isInteger(n) && n >= 1))) {
    throw new ExecutorError.InvalidArgumentError({
      argument,
      value: n,
      expected: `an integer from 1 up, or Infinity (${what})`
    })
  }
  return n
}

const checkOptions = (options: unknown): {
  readonly concurrency: number
  readonly maxAttempts: number
  // checked by BackgroundExecutor, like its own options
  readonly name: string | undefined
  readonly metrics: boolean | undefined
} => {
  if (options !== undefined && (typeof options !== "object" || options === null || Array.isArray(options))) {
    throw new ExecutorError.InvalidArgumentError({
      argument: "options",
      value: options,
      expected: "an object { concurrency?, maxAttempts?, name?, metrics? }"
    })
  }
  KnownOptions.check(options, runnerOptions, "ClusterRunner")
  const o = options as Options | undefined
  return {
    concurrency: countOption("concurrency", o?.concurrency, 16, "how many tasks run at once on this runner"),
    maxAttempts: countOption("maxAttempts", o?.maxAttempts, Infinity, "how many times a task may start unfinished"),
    name: o?.name,
    metrics: o?.metrics
  }
}

/**
 * Serves the tasks of `taskSet` on this process's runner for as long as the
 * layer lives. Needs a runner connection (`Cluster.layerPostgres` with
 * `runner`, or `Cluster.layerMemory`) and the services the tasks need. In a
 * process that only submits it dies with an `InvalidArgumentError` naming
 * `runner`; bad options die naming the option.
 *
 * When the layer is released the runner's running tasks are interrupted and
 * left stored, for the other runners to run them again.
 *
 * @category layers
 * @since 0.2.0
 * @example
 * ```ts
 * import { Context, Effect, Layer, Schema } from "effect"
 * import * as TaskSet from "@taskscope/executor/TaskSet"
 * import { Cluster, ClusterRunner } from "@taskscope/cluster"
 *
 * class Db extends Context.Service<Db, { readonly count: Effect.Effect<number> }>()("app/Db") {
 *   static readonly layer = Layer.succeed(Db, { count: Effect.succeed(42) })
 * }
 * const tasks = TaskSet.make("app/rows", {
 *   rows: TaskSet.task({ payload: Schema.Void, success: Schema.Number, run: () => Effect.flatMap(Db, (db) => db.count) })
 * })
 *
 * const Runner = ClusterRunner.layer(tasks, { concurrency: 4 }).pipe(
 *   Layer.provide(Db.layer), // without it, Layer.launch(Runner) does not compile
 *   Layer.provide(Cluster.layerPostgres({ url: "postgres://localhost/app", runner: { port: 34431 } }))
 * )
 * ```
 */
export const layer = <T extends TaskSet.Any>(
  taskSet: T,
  options?: Options
): Layer.Layer<never, never, Cluster | Sharding.Sharding | TaskSet.Services<T>> =>
  Layer.effectDiscard(Effect.gen(function*() {
    const { concurrency, maxAttempts, metrics, name } = checkOptions(options)
    const { codecs, entity, tasksByTag } = protocolOf(taskSet)
    const cluster = yield* Cluster
    if (cluster.runner === undefined) {
      return yield* Effect.die(new ExecutorError.InvalidArgumentError({
        argument: "runner",
        value: undefined,
        expected:
          `set in Cluster.layerPostgres({ url, runner: { port } }) for a process that serves task set "${taskSet.key}"`
      }))
    }
    const runner = cluster.runner
    const sharding = yield* Sharding.Sharding
    const owned = ownedBy(sharding)
    const services = yield* Effect.context<TaskSet.Services<T>>()
    // where the starts are counted (PostgreSQL only), when they are bounded
    const attempts = maxAttempts === Infinity ? undefined : yield* Attempts.CurrentAttempts
    // Forgetting an answered task's starts waits for nothing: neither its reply nor a cancel
    // (whose submitter waits until the task has ended here) is held up by the statement. The
    // starts go once the task's answer is stored (Effect stores it after the handler has ended):
    // an answer this runner gives once it has lost the task's shard (its event loop blocked past
    // shardLockExpiration) is dropped, and the start stays counted for the next owner. Asked until
    // then, for a minute at most: past that the rows stay (the task's next answer drops them, or
    // the purge of week-old rows).
    const layerScope = yield* Effect.scope
    // The answered tasks whose starts are not forgotten yet, by request id. The shutdown stops
    // the polls first of all (the last fibers forked in the layer's scope) and forks none after;
    // what they leave here is asked once more when the entity's shutdown is over (below).
    const unforgotten = new Map<string, Attempts.TaskId>()
    const forget = (attempts: Attempts.Attempts, id: Attempts.TaskId, requestId: string) =>
      Effect.suspend(() => {
        unforgotten.set(requestId, id)
        return Effect.asVoid(Effect.forkIn(
          Effect.andThen(
            Effect.sleep(FORGET_FIRST),
            attempts.answered(id, requestId).pipe(
              Effect.flatMap((stored) => stored ? Effect.void : Effect.fail("not stored yet" as const)),
              Effect.retry({ schedule: Schedule.spaced(FORGET_EVERY).pipe(Schedule.upTo({ duration: FORGET_FOR })) }),
              Effect.ignore,
              // forgotten, or given up: not when the shutdown stopped the poll
              Effect.andThen(Effect.sync(() => unforgotten.delete(requestId)))
            )
          ),
          layerScope
        ))
      })
    // The starts given back while the database was away, given back again once it is back. Made
    // here, before the shutdown's wait for them below is registered: their scope closes after it.
    const giveBacks = attempts === undefined ? undefined : yield* makeGiveBacks(attempts)
    // the queue of this runner's tasks; released after the entity, so that its
    // tasks are interrupted (and left stored) by the entity's shutdown first
    // no span of its own per task: the task runs in the span of Effect's entity server
    const executor = yield* BackgroundExecutor.make({
      maxConcurrency: concurrency,
      name: name ?? defaultName(taskSet),
      metrics,
      tracing: false
    })
    // How far this runner's shutdown has got. Finalizers run last first, so its two steps are set
    // by finalizers registered in the reverse order:
    // - "handing over", first of all (the layer's last finalizer, at the end), before the entity's
    //   shutdown interrupts the tasks' handlers: a task interrupted from then on was stopped by
    //   this runner, not by its submitter's cancel, and gives its start back (`handedOff`).
    // - "closing the queue", once the entity's shutdown is over (the finalizer just below, which
    //   runs after the entity's and before the queue's): a task that ends interrupted from then on
    //   was stopped by this runner's shutdown, not by its submitter or itself, and must not be
    //   answered.
    // One flag set at the first step would not do for the second test: during the entity's
    // shutdown, a task whose own function interrupts it (its handler not reached by the shutdown
    // yet) is answered with that interruption, as at any other time; it would be left unanswered
    // instead, and run again by the shard's next owner.
    let shutdown: "serving" | "handing over" | "closing the queue" = "serving"
    // whether a task of `shardId` interrupted now was stopped by this runner (its shutdown, or the
    // shard moving away), not by its submitter's cancel
    const handedOff = (shardId: ShardId.ShardId) => shutdown !== "serving" || !sharding.hasShardId(shardId)
    // whether a task that ends interrupted now was stopped by the queue's close (see `shutdown`)
    const queueClosing = () => shutdown === "closing the queue"
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        shutdown = "closing the queue"
      })
    )
    const handlers: Record<
      string,
      (request: { readonly payload: WirePayload; readonly requestId: unknown }) => Effect.Effect<Schema.Json, WireError>
    > = {}
    // by Rpc tag (the task's escaped name, and the tag an earlier version gave it)
    for (const [tag, name] of tasksByTag) {
      const task = taskSet.tasks[name]!
      const codec = codecs.get(name)!
      handlers[tag] = (request) => {
        const served = Effect.updateContext(
          serveTask(name, task, codec, runner, request.payload),
          (context: Context.Context<never>) => Context.merge(services as unknown as Context.Context<any>, context)
        ) as Effect.Effect<Schema.Json, WireError>
        // A shard given away interrupts its tasks' handlers one after the
        // other, and each interrupted task frees a permit that the next task
        // in the queue takes at once: one whose own handler is about to be
        // interrupted too. Such a task does not start while its shard is
        // away: the release interrupts it there, and the shard's next owner
        // runs it (once: not here as well).
        const wire = request.payload
        const taskId: Attempts.TaskId = { entity: entity.type, task: name, key: wire.key }
        // the start this handler counted and has not given back (see `counted`)
        const charged: Charged = { attempt: undefined }
        // The task's function begins once the shard is owned and its start counted (a statement,
        // which rides out a database that does not answer for up to a minute): that wait is the
        // start deadline's (`startTimeout`, `deadline`), and its run deadline (`timeout`, the rest
        // of `deadline`) counts from `started`. Past the start deadline `started` says no and the
        // function does not begin: the deadline's timer ends the task with `phase: "queue"`.
        const work = (shardId: ShardId.ShardId) =>
          LateStart.make((started) => {
            const begin = Effect.suspend(() => started() ? served : Effect.never)
            return Effect.andThen(
              owned(shardId),
              giveBacks === undefined
                ? begin
                : counted(giveBacks, taskId, maxAttempts, begin, () => handedOff(shardId), charged)
            )
          })
        // Stopped by the runner's shutdown, the task is left unanswered: the
        // entity's own shutdown then interrupts this handler, which leaves the
        // task stored for the next owner of its shard. Answered with the
        // interruption, the task would have it stored as its result.
        const unanswered = Effect.suspend(() => queueClosing() ? Effect.never : Effect.interrupt)
        // (the entity provides its address to its handlers)
        const address = Effect.service(Entity.CurrentAddress) as Effect.Effect<EntityAddress.EntityAddress>
        // Queued with its submit options' bounds: a task that does not start
        // by `startBy` (its submitter's clock, compared with this runner's)
        // fails without running, one that runs past its `timeout` or
        // `deadline` is interrupted; either fails with its TaskTimeoutError,
        // sent back and stored as the key's result.
        // After a yield: a task this runner reads back from storage (its
        // shard came from a runner that stopped) arrives with the cancel its
        // submitter stored meanwhile right behind it, and that cancel must
        // reach this handler before the task starts, not a moment after.
        const queued = Effect.andThen(Effect.yieldNow, Effect.flatMap(address, ({ shardId }) =>
          Clock.clockWith((clock): Effect.Effect<
            Task.Task<Schema.Json, WireError | ExecutorError.TaskTimeoutError>,
            WireTimeout | ExecutorError.ExecutorClosedError
          > => {
            const now = clock.currentTimeMillisUnsafe()
            // past already (a task that arrived, or was run again, too late): it never starts
            if (wire.startBy !== undefined && wire.startBy < now) {
              return Effect.fail(new WireTimeout({ phase: "queue", timeoutMillis: wire.startBudget ?? 0 }))
            }
            return executor.submit(work(shardId), queueOptions(name, wire, now))
          })))
        const submitted: Effect.Effect<Schema.Json, WireError> = Effect.flatMap(
          queued,
          (task) =>
            Effect.onInterrupt(
              Effect.catchCause(Task.join(task), (cause): Effect.Effect<never, WireError> => {
                if (Cause.hasInterruptsOnly(cause)) {
                  return queueClosing()
                    ? Effect.never
                    : Effect.failCause(cause as Cause.Cause<never>)
                }
                const failure = Cause.findErrorOption(cause)
                return failure._tag === "Some" && failure.value instanceof ExecutorError.TaskTimeoutError
                  ? Effect.fail(wireTimeout(failure.value, wire))
                  : Effect.failCause(cause as Cause.Cause<WireError>)
              }),
              () =>
                Task.interrupt(task)
            )
        ).pipe(Effect.catchTag("ExecutorClosedError", () => unanswered))
        // Answered (run, refused, timed out before it started, or cancelled: the stored
        // interruption is its answer), the task's starts are forgotten. Stopped by this runner's
        // shutdown or its shard moving away, the task is left for the next owner with its starts
        // still counted; `counted` gives back the one counted here when the stop caught its run.
        // One caught later, its function ended and its scope still closing, was not its fault
        // either when this runner is shutting down, and is given back here too. Not when the
        // shard went otherwise: `hasShardId` cannot tell a shard moved away from a lock this
        // runner lost (its event loop blocked past the lock's expiration), whose start must stay.
        return giveBacks === undefined ?
          submitted :
          Effect.onExit(submitted, (exit) =>
            Effect.flatMap(address, ({ shardId }) =>
              !(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause) && handedOff(shardId))
                ? forget(giveBacks.attempts, taskId, String(request.requestId))
                : shutdown !== "serving"
                ? giveBack(giveBacks, taskId, charged)
                : Effect.void))
      }
    }
    // Registered before the entity, so run after its shutdown (finalizers run last first): every
    // handler has ended by then, and Effect has stored the answers it was to store. The tasks
    // answered in the runner's last moments (their poll not due yet, or their answer stored since
    // it last asked) are asked about once more, each answer stored dropping its task's starts.
    // Bounded: a database that does not answer leaves those rows to the purge of week-old rows.
    if (giveBacks !== undefined) {
      yield* Effect.addFinalizer(() =>
        Effect.suspend(() =>
          Effect.forEach(unforgotten, ([requestId, id]) => Effect.ignore(giveBacks.attempts.answered(id, requestId)), {
            concurrency: FORGET_AT_SHUTDOWN_CONCURRENCY,
            discard: true
          })
        ).pipe(
          // and the starts still being given back in the background, in the same time
          Effect.andThen(giveBacks.all),
          Effect.timeoutOption(FORGET_AT_SHUTDOWN),
          Effect.asVoid
        )
      )
    }
    yield* sharding.registerEntity(entity as any, Effect.succeed(handlers as any), { concurrency: "unbounded" })
    // Finalizers run last first: this one before the entity's shutdown, which
    // interrupts the tasks' handlers one by one. Paused, the queue starts
    // none of the tasks waiting in it meanwhile (each would start as the one
    // before it stopped, only to be stopped and run again by another runner).
    yield* Effect.addFinalizer(() =>
      Effect.andThen(
        Effect.sync(() => {
          shutdown = "handing over"
        }),
        executor.pause
      )
    )
  }))

/** When an answered task's starts are first dropped, how often that is tried again until its answer is stored, for how long. */
const FORGET_FIRST = "50 millis"
const FORGET_EVERY = "500 millis"
const FORGET_FOR = "1 minute"
/**
 * How long a graceful shutdown spends dropping the starts of the tasks answered last, and how
 * many statements it has in flight at once (a statement per task; they are few: those answered
 * within about half a second of the shutdown). The runner hands its shards over after that: a
 * round trip to the database, normally; this long when the database does not answer.
 */
const FORGET_AT_SHUTDOWN = "2 seconds"
const FORGET_AT_SHUTDOWN_CONCURRENCY = 16

/**
 * `served` with its start counted in `giveBacks.attempts` (see `maxAttempts`): past the
 * bound, the task fails with `WireAttempts` instead of starting. A start
 * stays counted only when the runner dies with the task running (no step
 * here runs then) or loses the task's shard before its answer is stored (a
 * blocked event loop); the handler forgets a task's starts once its answer is stored.
 * Interrupted when this runner's shutdown or its shard moving away stopped it
 * (`handedOff`) — even while its start was being counted — the task gives
 * that start back: the next owner starts it again. So does its handler when
 * this runner's shutdown stops it after its function has ended (its scope
 * closing, its answer not sent yet), through `charged`. A give-back the database
 * does not answer is made again in the background (see {@link GiveBacks}), and
 * a new start of the task here waits for it. Counting is a safety net:
 * when the database cannot count (away for over a minute) the task runs
 * uncounted, and the other steps are best effort.
 *
 * The count is part of the task's wait to start (the `served` given calls
 * `started` first, see `work`): its start deadline passing while the start is counted, or
 * before `served` begins, interrupts it here and fails the task with
 * `phase: "queue"`. That is an answer like a refusal: the handler forgets
 * the task's starts once it is stored. Its row is not given back at once,
 * as a refusal's is: that would hold the answer up by a statement, and a
 * run of the task again (its answer dropped) finds its start deadline past
 * (the clocks agreeing) and fails before anything is counted.
 */
const counted = (
  giveBacks: GiveBacks,
  id: Attempts.TaskId,
  maxAttempts: number,
  served: Effect.Effect<Schema.Json, WireError>,
  handedOff: () => boolean,
  charged: Charged
): Effect.Effect<Schema.Json, WireError> =>
  Effect.suspend(() => {
    const attempt = Attempts.newAttempt()
    const run = Effect.flatMap(
      // once this runner's own give-backs of the task, if the database was away, are done
      Effect.andThen(
        giveBacks.settled(id),
        Effect.suspend(() => {
          // armed before the count (not before the wait: nothing to give back then): a statement
          // interrupted on its way may still be applied
          charged.attempt = attempt
          return Effect.orElseSucceed(rideOutStorage(giveBacks.attempts.start(id, attempt)), () => 0)
        })
      ),
      (starts): Effect.Effect<Schema.Json, WireError> =>
        starts > maxAttempts
          // a refusal is no start: its row goes at once (kept, it would count if the refusal's own
          // answer were dropped, the shard lost meanwhile, and the next refusal would say one more)
          ? Effect.andThen(giveBack(giveBacks, id, charged),
            Effect.fail(new WireAttempts({ attempts: starts - 1, maxAttempts })))
          : served
    )
    return Effect.onExit(run, (exit) =>
      Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause) && handedOff()
        ? giveBack(giveBacks, id, charged)
        : Effect.void)
  })

/**
 * The start a task's handler counted (see {@link counted}) and has not given
 * back yet. Given back by `counted` when the runner stops the task's run, and
 * by the handler when this runner's shutdown stops the task later, its
 * function ended and its scope still closing.
 */
interface Charged {
  attempt: string | undefined
}

/**
 * Gives back the start in `charged`, if it has not been already (see
 * {@link GiveBacks}). The holder is cleared once the statement has run, or
 * been left to the background: a give-back interrupted on its way (a
 * refusal's, which is not a finalizer) is made again by the next.
 */
const giveBack = (giveBacks: GiveBacks, id: Attempts.TaskId, charged: Charged): Effect.Effect<void> =>
  Effect.suspend(() => {
    const attempt = charged.attempt
    if (attempt === undefined) return Effect.void
    return Effect.andThen(
      giveBacks.giveBack(id, attempt),
      Effect.sync(() => {
        if (charged.attempt === attempt) charged.attempt = undefined
      })
    )
  })

/**
 * A runner's give-backs of starts (see {@link counted}). One is made at once;
 * when the database does not answer (an outage, which also costs the runner
 * its shard locks and so stops its tasks), it is tried again in the
 * background, as `rideOutStorage` rides a storage step out (every 500 ms, for
 * a minute), instead of leaving the start counted: with `maxAttempts: 1`, the
 * task's next owner would have failed it with `AttemptsExhaustedError`. This
 * runner counts a new start of a task only once its own give-backs of that
 * task are done; another runner takes the shard back only after its lock
 * storage is healthy again, by when the retried statement has normally run.
 */
interface GiveBacks {
  readonly attempts: Attempts.Attempts
  /** Gives `attempt` of task `id` back: now, or in the background while the database is away. */
  readonly giveBack: (id: Attempts.TaskId, attempt: string) => Effect.Effect<void>
  /** Waits until no give-back of task `id` is under way in the background. */
  readonly settled: (id: Attempts.TaskId) => Effect.Effect<void>
  /** Waits until none is (a graceful shutdown, bounded by the caller). */
  readonly all: Effect.Effect<void>
}

/**
 * {@link GiveBacks} on `attempts`, their background retries forked in a scope
 * of their own, closed with the scope in context: made before the runner's
 * shutdown registers its wait for them, it closes after that wait. Not the
 * runner's layer scope: that one is closed already while the entity's
 * shutdown stops the handlers (a retry forked into it then never ran), and it
 * interrupts what is forked into it before that wait.
 */
const makeGiveBacks = (attempts: Attempts.Attempts): Effect.Effect<GiveBacks, never, Scope.Scope> =>
  Effect.map(Effect.acquireRelease(Scope.make(), (scope, exit) => Scope.close(scope, exit)), (scope) =>
    giveBacksIn(attempts, scope))

const giveBacksIn = (attempts: Attempts.Attempts, scope: Scope.Scope): GiveBacks => {
  // by task: the background give-backs under way, each told when it is over (given back, given
  // up after the minute, or interrupted by the runner's end)
  const pending = new Map<string, Set<Deferred.Deferred<void>>>()
  const keyOf = (id: Attempts.TaskId) => JSON.stringify([id.entity, id.task, id.key])
  // uninterruptible from the registration to the observer (a refusal's give-back, which is not a
  // finalizer, may be interrupted): an entry left without its fiber would hold `settled` for good
  const inBackground = (id: Attempts.TaskId, attempt: string): Effect.Effect<void> =>
    Effect.uninterruptible(Effect.suspend(() => {
      const key = keyOf(id)
      let ofTask = pending.get(key)
      if (ofTask === undefined) pending.set(key, ofTask = new Set())
      const over = Deferred.makeUnsafe<void>()
      ofTask.add(over)
      const done = () => {
        ofTask.delete(over)
        if (ofTask.size === 0 && pending.get(key) === ofTask) pending.delete(key)
        Deferred.doneUnsafe(over, Exit.void)
      }
      // told by the fiber's end, however it ends: a fiber interrupted before it ran (its scope
      // closed) runs none of its own effect
      return Effect.map(
        Effect.forkIn(Effect.ignore(rideOutStorage(attempts.givenBack(attempt))), scope, { startImmediately: true }),
        (fiber) => {
          fiber.addObserver(done)
        }
      )
    }))
  const awaitAll = (overs: Iterable<Deferred.Deferred<void>>) =>
    Effect.forEach(Array.from(overs), Deferred.await, { discard: true })
  return {
    attempts,
    giveBack: (id, attempt) => Effect.catch(attempts.givenBack(attempt), () => inBackground(id, attempt)),
    settled: (id) =>
      Effect.suspend(() => {
        // (every counted start asks: most find nothing under way, without making a key)
        if (pending.size === 0) return Effect.void
        const ofTask = pending.get(keyOf(id))
        return ofTask === undefined ? Effect.void : awaitAll(ofTask)
      }),
    all: Effect.suspend(() => awaitAll(Array.from(pending.values()).flatMap((ofTask) => Array.from(ofTask))))
  }
}

/**
 * Waits until this runner owns `shardId`: at once, normally. A shard being
 * released is no longer owned; its handlers are interrupted next, and the
 * wait with them. (Should ownership only be late, the task starts once it is
 * owned.)
 */
const ownedBy = (sharding: Sharding.Sharding["Service"]) => (shardId: ShardId.ShardId): Effect.Effect<void> =>
  Effect.suspend(() =>
    sharding.hasShardId(shardId)
      ? Effect.void
      : Effect.repeat(Effect.sleep("100 millis"), { while: () => !sharding.hasShardId(shardId) })
  )

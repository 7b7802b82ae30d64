/**
 * What an executor reports about its tasks, behind one narrow interface: the
 * core calls {@link Telemetry}'s `submitted`, `started`, `ended`, `rejected`,
 * `instrument` and `closed`, and knows nothing of metrics, spans or events.
 *
 * - Metrics (`effect/Metric`), one series per executor `name`, never per task.
 *   The per-task counts and the running/queued gauges are *pulled*: the
 *   series read the core's own counters (the ones `stats` reports) when a
 *   snapshot is taken (`Metric.registerUnsafe`), so a task pays nothing for
 *   them. The two timers are pushed, for a uniform sample of the tasks: 1
 *   in {@link SAMPLE}, named or not (tasks are also timed when they have a
 *   span or while `changes` is followed, but only the sample reaches the
 *   histograms, so that their quantiles are those of all tasks). They are
 *   histograms in milliseconds (what `Metric.timer` makes, without the
 *   `Duration` round trip per observation). A timed task
 *   costs three clock reads and two histogram updates; timing every task
 *   would make metrics cost about 2.5x (measured with
 *   `packages/bench/src/baseline.ts`).
 *   Executors of one name in one registry add up; a closed executor's counts
 *   stay in its series.
 * - Spans: a task runs in a span of its name (`Effect.useSpan`), child of the
 *   submitter's span, with the `taskscope.*` attributes and its outcome.
 * - {@link Hooks}: what the metrics and the `changes` stream need at each
 *   step, built once from the options and again when `changes` gains its
 *   first follower or loses its last; `undefined` (nothing to call) when
 *   metrics are off and nobody follows.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as References from "effect/References"
import type { Stats } from "../BackgroundExecutor.ts"
import type { Outcome } from "../TaskEvent.ts"
import * as Check from "./options.ts"
import { CHANGES_CAPACITY, TaskTree, type Times, type Tracked } from "./taskTree.ts"

/** Every outcome, in the order of their series. (Adding one: a line here and one in `outcomeOf`.) */
export const OUTCOMES: ReadonlyArray<Outcome> = ["success", "failure", "interrupted", "timeout"]

/**
 * How a task's exit counts, as `stats` counts it: a failure is a timeout
 * when the task's own deadline ended it (`timedOut`), not when it fails with
 * another task's `TaskTimeoutError` (a task that joined one that timed out).
 */
export const outcomeOf = (exit: Exit.Exit<unknown, unknown>, timedOut: boolean): Outcome =>
  Exit.isSuccess(exit)
    ? "success"
    : Cause.hasInterruptsOnly(exit.cause)
    ? "interrupted"
    : timedOut
    ? "timeout"
    : "failure"

/** The timers observe one task in this many (the 1st, the (1 + SAMPLE)th, ... submitted). */
export const SAMPLE = 256

/**
 * Epoch milliseconds: the context's `Clock` if it has one (a `TestClock`),
 * else `performance` (the default clock's `Date.now()` costs more).
 */
const clockOf = (context: Context.Context<never>): () => number => {
  const clock = Context.getOrUndefined(context, Clock.Clock)
  if (clock !== undefined) return () => clock.currentTimeMillisUnsafe()
  const origin = performance.timeOrigin
  return () => origin + performance.now()
}

/**
 * Reports `error` as an uncaught exception on the next microtask, as a
 * throwing event listener would be: for user code (an observer, a tracer)
 * that throws inside the executor's bookkeeping, which must go on.
 */
export const rethrowLater = (error: unknown): void =>
  queueMicrotask(() => {
    throw error
  })

/**
 * Stamps a timed task's start and returns it: a task that took its permit
 * at submit started when it was submitted (one clock read less).
 */
const stampStart = (times: Times, queued: boolean, now: () => number): number =>
  times.startedAt = queued || times.submittedAt === undefined ? now() : times.submittedAt

/** Why a submission did not get in at once: refused (`closed`) or made to wait for a queue place (`queue_full`). */
export type RejectReason = "closed" | "queue_full"

/** The telemetry options of an executor, checked. */
export interface Settings {
  readonly name: string
  readonly metrics: boolean
  /** `undefined`: spans for named tasks only; `true`: every task; `false`: none. */
  readonly tracing: boolean | undefined
}

/** Checks the telemetry options, throwing `InvalidArgumentError` on bad input. */
export const makeSettings = (options: unknown): Settings => {
  const o = Check.optionsObject<Record<string, unknown>>("options", options) ?? {}
  const tracing = o.tracing // read once: a getter may answer differently twice
  return {
    name: Check.optionalName("name", o.name) ?? "default",
    metrics: Check.boolean("metrics", o.metrics, true),
    tracing: tracing === undefined ? undefined : Check.boolean("tracing", tracing, false)
  }
}

/** What the core tells at each step of a task; any may be left out by the hook object. */
export interface Hooks {
  /**
   * `waited`: how long `submit` waited for a queue place before the task was
   * accepted (ms); `sampled`: the timers observe it.
   */
  readonly onSubmitted: (task: Tracked, waited: number, sampled: boolean) => void
  /** For a timed task only: one with times. `queued`: it waited for its permit (else it took one at submit). */
  readonly onStarted: (task: Tracked, times: Times, queued: boolean) => void
  /** For a timed task only. */
  readonly onEnded: (task: Tracked, times: Times, outcome: Outcome) => void
  readonly onRejected: (reason: RejectReason) => void
}

// -----------------------------------------------------------------------------
// metric series
// -----------------------------------------------------------------------------

/** The counts of the executors of one name that have closed. */
class Counts {
  submitted = 0
  readonly completed: Record<Outcome, number> = { success: 0, failure: 0, interrupted: 0, timeout: 0 }
  add(counters: Stats): void {
    this.submitted += counters.submitted
    for (const outcome of OUTCOMES) this.completed[outcome] += completed(counters, outcome)
  }
}

/** Tasks ended with `outcome`: a timeout is counted by the core as a failure too. */
const completed = (counters: Stats, outcome: Outcome): number => {
  switch (outcome) {
    case "success":
      return counters.succeeded
    case "failure":
      return counters.failed - counters.timedOut
    case "interrupted":
      return counters.interrupted
    case "timeout":
      return counters.timedOut
  }
}

/** The executors of one name in one registry, and what closed ones counted. */
interface Family {
  readonly live: Set<Series>
  readonly closed: Counts
  readonly rejected: Record<RejectReason, Metric.Counter<number>>
  readonly queueWait: Metric.Metric<number, Metric.HistogramState>
  readonly duration: Metric.Metric<number, Metric.HistogramState>
}

/** The families of one registry, by name and attributes; and the one found last, with what it was found for. */
interface Families {
  readonly byId: Map<string, Family>
  last: { readonly name: string; readonly extra: Readonly<Record<string, string>>; readonly family: Family } | undefined
}

const families = new WeakMap<Metric.MetricRegistry, Families>()

const noop = () => {}

const sum = (family: Family, f: (series: Series) => number): number => {
  let total = 0
  for (const series of family.live) total += f(series)
  return total
}

/**
 * The family of `name` in the context's registry, registered once per name
 * and set of contextual attributes (`Metric.CurrentMetricAttributes`, which
 * the registry adds to every series key): executors of one name under
 * different attributes are different series.
 */
const familyOf = (context: Context.Context<never>, name: string): Family => {
  const registry = Context.get(context, Metric.MetricRegistry)
  let registered = families.get(registry)
  if (registered === undefined) families.set(registry, registered = { byId: new Map(), last: undefined })
  const extra = Context.get(context, Metric.CurrentMetricAttributes)
  // most executors are made under the same attributes object: its family is found without the key
  const last = registered.last
  if (last !== undefined && last.extra === extra && last.name === name) return last.family
  const id = JSON.stringify([name, Object.entries(extra).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))])
  let family = registered.byId.get(id)
  if (family === undefined) registered.byId.set(id, family = register(context, name))
  registered.last = { name, extra, family }
  return family
}

/** A new family of `name`, its pulled series registered in the context's registry. */
const register = (context: Context.Context<never>, name: string): Family => {
  const executor = { executor: name }
  const family: Family = {
    live: new Set(),
    closed: new Counts(),
    rejected: {
      closed: Metric.counter("taskscope_tasks_rejected", {
        description: "Submissions refused (closed) or made to wait for a queue place (queue_full)",
        attributes: { ...executor, reason: "closed" },
        incremental: true
      }),
      queue_full: Metric.counter("taskscope_tasks_rejected", {
        description: "Submissions refused (closed) or made to wait for a queue place (queue_full)",
        attributes: { ...executor, reason: "queue_full" },
        incremental: true
      })
    },
    queueWait: timer("taskscope_task_queue_wait", "Time from submit to start, per task", executor),
    duration: timer("taskscope_task_duration", "Time from start to end, per task that started", executor)
  }
  const counter = (id: string, description: string, attributes: Record<string, string>, get: () => number) =>
    Metric.registerUnsafe(Metric.counter(id, { description, attributes, incremental: true }), context, {
      get: () => ({ count: get(), incremental: true }),
      update: noop,
      modify: noop
    })
  const gauge = (id: string, description: string, get: () => number) =>
    Metric.registerUnsafe(Metric.gauge(id, { description, attributes: executor }), context, {
      get: () => ({ value: get() }),
      update: noop,
      modify: noop
    })
  counter(
    "taskscope_tasks_submitted",
    "Tasks accepted by submit",
    executor,
    () => family.closed.submitted + sum(family, (s) => s.counters().submitted)
  )
  for (const outcome of OUTCOMES) {
    counter(
      "taskscope_tasks_completed",
      "Tasks ended, by outcome",
      { ...executor, outcome },
      () => family.closed.completed[outcome] + sum(family, (s) => completed(s.counters(), outcome))
    )
  }
  // touch the pushed series so that they are listed from the start
  family.rejected.closed.modifyUnsafe(0, context)
  family.rejected.queue_full.modifyUnsafe(0, context)
  gauge("taskscope_tasks_running", "Tasks holding a permit", () => sum(family, (s) => s.counters().running))
  gauge("taskscope_tasks_queued", "Tasks waiting for a permit", () => sum(family, (s) => s.counters().queued))
  return family
}

/**
 * A histogram of milliseconds with the buckets and the `time_unit` attribute
 * of `Metric.timer`, updated with plain numbers.
 */
const timer = (id: string, description: string, attributes: Record<string, string>) =>
  Metric.histogram(id, {
    description,
    attributes: { ...attributes, time_unit: "milliseconds" },
    boundaries: Metric.exponentialBoundaries({ start: 0.5, factor: 2, count: 35 })
  })

/** The series of one executor. */
class Series {
  readonly family: Family
  readonly context: Context.Context<never>
  readonly counters: () => Stats

  constructor(context: Context.Context<never>, name: string, counters: () => Stats) {
    this.context = context
    this.counters = counters
    this.family = familyOf(context, name)
    this.family.live.add(this)
  }

  /** Moves this executor's counts to the family's closed counts. */
  close(): void {
    if (!this.family.live.delete(this)) return
    this.family.closed.add(this.counters())
  }
}

// -----------------------------------------------------------------------------
// the facade
// -----------------------------------------------------------------------------

/** The telemetry of one executor. */
export class Telemetry {
  readonly settings: Settings
  readonly tree: TaskTree
  /** What to call at each step; `undefined` when there is nothing to do. */
  hooks: Hooks | undefined
  private readonly series: Series | undefined
  /** Whether every task is traced (`tracing: true`), and whether named ones are (not `tracing: false`). */
  private readonly traceAll: boolean
  private readonly traceNamed: boolean
  /** Submissions until the next sampled one (see {@link SAMPLE}). */
  private untilSample = 1
  /** The context the executor was made in: its loggers report a tracer that throws. */
  private readonly context: Context.Context<never>
  /** Whether the tracer has thrown ending a span already (see {@link tracerFailed}). */
  private tracerLogged = false

  constructor(
    settings: Settings,
    context: Context.Context<never>,
    counters: () => Stats,
    forEachUnfinished: (f: (task: Tracked) => void) => void
  ) {
    this.settings = settings
    this.context = context
    this.traceAll = settings.tracing === true
    this.traceNamed = settings.tracing !== false
    this.tree = new TaskTree(settings.name, clockOf(context), CHANGES_CAPACITY, (followed) => {
      // The first follower hears every task's later steps, but only timed
      // tasks are told of them: time the unfinished ones now (from here on,
      // every task submitted while followed is timed at submit).
      if (followed) {
        forEachUnfinished((task) => {
          task.times ??= { submittedAt: undefined, startedAt: undefined, sampled: false } // times not known
        })
      }
      this.hooks = this.makeHooks()
    })
    this.series = settings.metrics ? new Series(context, settings.name, counters) : undefined
    this.hooks = this.makeHooks()
  }

  /** The hook object for the current options and followers. */
  private makeHooks(): Hooks | undefined {
    const series = this.series
    const tree = this.tree
    const followed = tree.followed
    if (series === undefined && !followed) return undefined
    const context = series?.context
    const family = series?.family
    const now = tree.now
    return {
      onSubmitted: (task, waited, sampled) => {
        task.times ??= { submittedAt: now() - waited, startedAt: undefined, sampled }
        if (followed) tree.publishSubmitted(task)
      },
      onStarted: (task, times, queued) => {
        const startedAt = stampStart(times, queued, now)
        if (family !== undefined && times.sampled && times.submittedAt !== undefined) {
          family.queueWait.updateUnsafe(startedAt - times.submittedAt, context!)
        }
        if (followed) tree.publishStarted(task)
      },
      onEnded: (task, times, outcome) => {
        const endedAt = now()
        if (family !== undefined && times.sampled && times.startedAt !== undefined) {
          family.duration.updateUnsafe(endedAt - times.startedAt, context!)
        }
        if (followed) tree.publishEnded(task, outcome, endedAt)
      },
      onRejected: (reason) => {
        if (family !== undefined) family.rejected[reason].updateUnsafe(1, context!)
      }
    }
  }

  /**
   * A task was accepted (before it can start). Most return after the
   * parent: an unnamed task, not sampled, with nobody following.
   */
  submitted(task: Tracked, submitter: Fiber.Fiber<unknown, unknown>, waited: number): void {
    this.tree.submitted(task, submitter)
    if (--this.untilSample > 0 && task.label === undefined && !this.traceAll && !this.tree.followed) return
    this.look(task, waited)
  }

  /**
   * {@link submitted} for a task that may need times: traced, sampled, or
   * followed. Its `submittedAt` is when `submit` was called: `waited` ms
   * before it was accepted, when `maxQueue` made it wait for a place.
   */
  private look(task: Tracked, waited: number): void {
    // 1 in SAMPLE of all tasks, named or not: the timers' sample is uniform
    const sampled = this.untilSample <= 0
    if (sampled) this.untilSample = SAMPLE
    // a task with a span is timed: its span tells how long it waited
    if (this.spanned(task.label)) task.times = { submittedAt: this.tree.now() - waited, startedAt: undefined, sampled }
    // every task while `changes` is followed (for its events), otherwise the sampled ones
    if (sampled || this.tree.followed) this.hooks?.onSubmitted(task, waited, sampled)
  }

  /**
   * A task took a permit, after waiting for it in the queue or not. Only
   * timed tasks are told (`times`: what {@link submitted} stamped).
   */
  started(task: Tracked, times: Times, queued: boolean): void {
    const hooks = this.hooks
    if (hooks !== undefined) hooks.onStarted(task, times, queued)
    // timed while followed, started once nobody follows: it still gets its start
    else stampStart(times, queued, this.tree.now)
  }

  /** A timed task ended, queued or holding a permit: its span, if it has one, ends now, finalizers included. */
  ended(task: Tracked, times: Times, exit: Exit.Exit<unknown, unknown>): void {
    const endSpan = task.endSpan
    if (endSpan !== undefined) {
      task.endSpan = undefined
      try {
        endSpan(exit)
      } catch (error) {
        this.tracerFailed(error) // a tracer that throws must not cut the executor's bookkeeping short
      }
    }
    this.hooks?.onEnded(task, times, outcomeOf(exit, task.timedOut))
  }

  /**
   * The tracer threw while a task's span ended (an exporter's bug, say).
   * Telemetry must not take the program down: the error is logged, at
   * `Error` level with the loggers of the context the executor was made in,
   * the first time only (a broken tracer would throw for every task), and
   * the executor goes on.
   */
  private tracerFailed(error: unknown): void {
    if (this.tracerLogged) return
    this.tracerLogged = true
    Effect.runForkWith(this.context)(
      Effect.logError(
        `taskscope: the tracer threw while ending the span of a task of executor "${this.settings.name}"; ` +
          "the executor goes on, and later failures of its tracer are not logged",
        error
      )
    )
  }

  /** A submission was refused or made to wait. */
  rejected(reason: RejectReason): void {
    this.hooks?.onRejected(reason)
  }

  /**
   * The effect a task's fiber runs: in a span (named tasks; every task with
   * `tracing: true`; none with `tracing: false`) child of the submitter's
   * span, and with a `task` log annotation when it is named. The span is
   * made when the fiber starts and ended by {@link ended}, once the task's
   * scope has closed: its end and its outcome are the task's, finalizers
   * included (the finalizers of an untimed task run after its fiber).
   */
  instrument<A, E, R>(task: Tracked, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    const label = task.label
    if (label !== undefined) effect = Effect.annotateLogs(effect, "task", label)
    if (!this.spanned(label)) return effect
    const inner = effect
    const name = task.name
    return Effect.withFiber((fiber) => {
      const clock = fiber.getRef(Clock.Clock)
      const timing = fiber.getRef(References.TracerTimingEnabled)
      return Effect.flatMap(
        Effect.makeSpan(name, {
          attributes: {
            "taskscope.task.id": task.id,
            "taskscope.task.name": name,
            "taskscope.executor": this.settings.name,
            "taskscope.queue_wait_ms": this.queueWait(task)
          }
        }),
        (span) => {
          task.endSpan = (exit) => {
            if (span.status._tag === "Ended") return
            span.attribute("taskscope.outcome", outcomeOf(exit, task.timedOut))
            span.end(timing ? clock.currentTimeNanosUnsafe() : BigInt(0), exit)
          }
          return Effect.withParentSpan(inner, span)
        }
      )
    })
  }

  /**
   * Whether {@link instrument} changes the effect of a task with this label
   * (a named task, or any with `tracing: true`): the core asks first, so
   * that an unnamed task's start makes no call into the telemetry.
   */
  instruments(label: string | undefined): boolean {
    return label !== undefined || this.traceAll
  }

  /** Whether a task with this label runs in a span of its own. */
  private spanned(label: string | undefined): boolean {
    return label === undefined ? this.traceAll : this.traceNamed
  }

  /** How long a spanned (so timed) task waited, in milliseconds. */
  private queueWait(task: Tracked): number {
    // stamped by the hooks when there are any; otherwise now
    const times = task.times!
    times.startedAt ??= this.tree.now()
    return times.submittedAt === undefined ? 0 : times.startedAt - times.submittedAt
  }

  /** The executor has closed: its counts stay in its series, its `changes` end. */
  closed(): void {
    this.series?.close()
    this.tree.close()
  }
}

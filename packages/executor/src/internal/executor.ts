/**
 * The machinery behind every taskscope executor, and the one place where the
 * exit rules live.
 *
 * An executor holds permits (`maxConcurrency`, changed by `resize`; none are
 * handed out while it is paused) and a queue of tasks waiting for one. A
 * waiting task is a plain record in the queue, not a fiber: it becomes a
 * fiber (`Effect.runForkWith` with the submitter's context) only when it
 * takes a permit. Which task starts next — FIFO, or by priority and key — is
 * the queue's business ({@link TaskQueue}, `queue.ts`); the timers of
 * `timeout`, `startTimeout`, `deadline` and `closeTimeout` are `deadline.ts`'s.
 * A task that ends while queued (interrupted, timed out) is marked done and
 * skipped when the queue reaches it.
 *
 * The exit rules (see the README) are implemented by {@link ExecutorCore.close}
 * and {@link ExecutorCore.finalFailure}, and combined with the owner's exit by
 * {@link resolveExit} (for `scoped`) and {@link finalize} (for scope
 * finalizers, which cannot fail with a typed error).
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import { identity } from "effect/Function"
import type * as Stream from "effect/Stream"
import type { Options, Stats, SubmitOptions } from "../BackgroundExecutor.ts"
import {
  CloseTimeoutError,
  ExecutorClosedError,
  type InterruptedTask,
  InvalidArgumentError,
  TaskFailedError,
  type TaskFailure,
  TaskTimeoutError
} from "../ExecutorError.ts"
import * as Task from "../Task.ts"
import type { TaskEvent, TaskInfo } from "../TaskEvent.ts"
import * as Timer from "./deadline.ts"
import * as KnownOptions from "./knownOptions.ts"
import * as LateStart from "./lateStart.ts"
import * as Check from "./options.ts"
import { type Entry, QUEUED, TaskQueue } from "./queue.ts"
import { type Slot, TaskScopes } from "./taskScope.ts"
import { type Parent, taskOf, type Times, type Tracked } from "./taskTree.ts"
import { rethrowLater, type Settings, Telemetry } from "./telemetry.ts"
import * as Timeouts from "./timeouts.ts"
import { type Waiter, Waiters } from "./waiters.ts"

/**
 * The executor whose task the current fiber runs (or descends from). Set only
 * for executors with a `maxQueue`: their own tasks are never suspended by
 * backpressure, since the queue they wait on can drain only through the
 * permits those tasks hold.
 */
interface TaskChain {
  readonly executor: ExecutorCore
  readonly parent: TaskChain | undefined
}
export const TaskOf = Context.Reference<TaskChain | undefined>("@taskscope/executor/TaskOf", {
  defaultValue: () => undefined
})

/** Whether `chain` names `executor` (a task resubmitting into its own executor adds no link). */
const chainHas = (chain: TaskChain | undefined, executor: ExecutorCore): boolean => {
  for (let link = chain; link !== undefined; link = link.parent) {
    if (link.executor === executor) return true
  }
  return false
}

/**
 * Whether `fiber` runs a task of `executor`, or descends from one (through
 * nested executors too), and the task it works for has not ended: a daemon
 * fiber that outlives its task keeps the task's context, and with it the
 * chain, but is no longer one of the tasks whose permits drain the queue —
 * nor when a later task took over its task's scope (see `taskOf`).
 */
const worksFor = (fiber: Fiber.Fiber<unknown, unknown>, executor: ExecutorCore): boolean =>
  chainHas(fiber.getRef(TaskOf), executor) && taskOf(fiber) !== undefined

/** Resolved executor options. */
export interface Config {
  readonly maxConcurrency: number
  readonly maxQueue: number
  readonly bubbleUp: ((error: unknown) => boolean) | undefined
  /** `undefined`: no per-key limit, and no task may give a `key`. */
  readonly maxConcurrencyPerKey: number | undefined
  /** The grace period of a close in milliseconds, or `undefined` (none). */
  readonly closeTimeout: number | undefined
  /**
   * Failures that are a task's own timeout where its work ran, for an
   * executor built on this one (see `timeouts.ts`); asked only when a task fails.
   */
  readonly isTimeout: Timeouts.IsTimeout | undefined
}

/** Resolved submit options. Durations in milliseconds, `deadline` in epoch milliseconds. */
export interface Submission {
  readonly name: string | undefined
  readonly cancelOnExit: boolean
  readonly reraiseOnExit: boolean
  readonly nextTick: boolean
  readonly priority: number
  readonly key: string | undefined
  readonly timeout: number | undefined
  readonly startTimeout: number | undefined
  readonly deadline: number | undefined
  /** Whether any of `timeout`, `startTimeout`, `deadline` is set. */
  readonly timed: boolean
  /** Whether `priority` or `key` is set: the queue must order its tasks. */
  readonly ordered: boolean
}

/** The names of the executor options and of the submit options (see `KnownOptions`). */
const executorOptions = KnownOptions.of<Options>()(...KnownOptions.executorNames)
const submitOptions = KnownOptions.of<SubmitOptions>()(...KnownOptions.submitNames)

/**
 * The submit options' names again, as a `switch`: a submit with options
 * checks each of its names, and comparing names (interned strings) costs a
 * few nanoseconds where the set's lookup hashes them (about 15-35 ns per
 * submit measured). Only a fast path: a name it does not know goes to the
 * set's check, which decides.
 */
const isSubmitOption = (name: string): boolean => {
  switch (name) {
    case "name":
    case "cancelOnExit":
    case "reraiseOnExit":
    case "nextTick":
    case "timeout":
    case "startTimeout":
    case "deadline":
    case "priority":
    case "key":
      return true
    default:
      return false
  }
}

/** Checks executor options, throwing `InvalidArgumentError` on bad input. */
export const makeConfig = (options: unknown): Config => {
  const o = Check.optionsObject<Record<string, unknown>>("options", options) ?? {}
  KnownOptions.check(o, executorOptions, "the executor")
  const perKey = o.maxConcurrencyPerKey // each option is read once: a getter may answer differently twice
  return {
    maxConcurrency: Check.positiveIntegerOrInfinity("maxConcurrency", o.maxConcurrency, Number.POSITIVE_INFINITY),
    maxQueue: Check.positiveIntegerOrInfinity("maxQueue", o.maxQueue, Number.POSITIVE_INFINITY),
    bubbleUp: Check.optionalFunction<(error: unknown) => boolean>("bubbleUp", o.bubbleUp),
    maxConcurrencyPerKey: perKey === undefined
      ? undefined
      : Check.positiveIntegerOrInfinity("maxConcurrencyPerKey", perKey, Number.POSITIVE_INFINITY),
    closeTimeout: Check.optionalDuration("closeTimeout", o.closeTimeout),
    isTimeout: Timeouts.isTimeoutOf(o)
  }
}

const defaultSubmission: Submission = {
  name: undefined,
  cancelOnExit: false,
  reraiseOnExit: true,
  nextTick: false,
  priority: 0,
  key: undefined,
  timeout: undefined,
  startTimeout: undefined,
  deadline: undefined,
  timed: false,
  ordered: false
}

/**
 * Submissions that differ from the default in `priority` only, one per
 * priority. A queued task keeps its submission, and an object per task is
 * garbage-collector work for as long as the task waits: sharing them made
 * 1e5 queued I/O-like tasks submitted with `{ priority }` about 13% faster,
 * and those with options that are all defaults (which get the default
 * submission itself) about 19% (steady-state runs, medians of 6 processes).
 * The first {@link SHARED_PRIORITIES} priorities seen are kept for the
 * process; any other gets an object of its own, as before.
 */
const byPriority = new Map<number, Submission>()
const SHARED_PRIORITIES = 64

/** The submission of default options but `priority`. */
const prioritySubmission = (priority: number): Submission => {
  if (priority === 0) return defaultSubmission
  let submission = byPriority.get(priority)
  if (submission === undefined) {
    // a copy of the default keeps its shape (V8 gives the copy the literal's map)
    submission = { ...defaultSubmission, priority, ordered: true }
    if (byPriority.size < SHARED_PRIORITIES) byPriority.set(priority, submission)
  }
  return submission
}

/**
 * Submissions that differ from the default in `priority` and `key` only,
 * shared within one executor (keys are its own business: only an executor
 * with `maxConcurrencyPerKey` accepts them). A queued task keeps its
 * submission, and the queue reads it when the task starts — long after it was
 * made, out of cache: sharing them made 1e5 queued I/O-like tasks submitted
 * with `{ priority, key }` (8 priorities, 1,000 keys) about 8% faster
 * (steady-state runs, medians of 8 processes). Shared are the integer
 * priorities from -{@link PRIORITY_OFFSET} to {@link PRIORITY_OFFSET} - 1,
 * found by index, for the first {@link SHARED_KEYED} combinations seen while
 * the executor lives; any other gets an object of its own, as before.
 */
export class KeyedSubmissions {
  /** Per key, its shared submissions by priority + {@link PRIORITY_OFFSET}. */
  private readonly byKey = new Map<string, Array<Submission | undefined>>()
  private size = 0

  /** The submission of default options but `priority` and `key`. */
  get(priority: number, key: string): Submission {
    const index = priority + PRIORITY_OFFSET
    const shareable = Number.isInteger(index) && index >= 0 && index < 2 * PRIORITY_OFFSET
    let shared = shareable ? this.byKey.get(key) : undefined
    const found = shared?.[index]
    if (found !== undefined) return found
    const submission: Submission = { ...defaultSubmission, priority, key, ordered: true }
    if (shareable && this.size < SHARED_KEYED) {
      if (shared === undefined) this.byKey.set(key, shared = new Array(2 * PRIORITY_OFFSET).fill(undefined))
      shared[index] = submission
      this.size++
    }
    return submission
  }
}
const SHARED_KEYED = 16_384
const PRIORITY_OFFSET = 8

/**
 * Checks submit options, throwing `InvalidArgumentError` on bad input.
 * `keyed`: the executor's shared keyed submissions, if it accepts keys.
 */
export const makeSubmission = (options: unknown, keyed?: KeyedSubmissions): Submission => {
  if (options === undefined) return defaultSubmission
  const o = Check.optionsObject<Record<string, unknown>>("submit options", options)!
  for (const name in o) {
    if (!isSubmitOption(name)) {
      KnownOptions.check(o, submitOptions, "submit")
      break
    }
  }
  const timeout = Check.optionalDuration("timeout", o.timeout)
  const startTimeout = Check.optionalDuration("startTimeout", o.startTimeout)
  const deadline = Check.optionalInstant("deadline", o.deadline)
  const priority = Check.finiteNumber("priority", o.priority, 0)
  const key = Check.optionalString("key", o.key)
  const name = Check.optionalName("name", o.name)
  const cancelOnExit = Check.boolean("cancelOnExit", o.cancelOnExit, false)
  const reraiseOnExit = Check.boolean("reraiseOnExit", o.reraiseOnExit, true)
  const nextTick = Check.boolean("nextTick", o.nextTick, false)
  const timed = timeout !== undefined || startTimeout !== undefined || deadline !== undefined
  if (name === undefined && !cancelOnExit && reraiseOnExit && !nextTick && !timed) {
    if (key === undefined) return prioritySubmission(priority)
    if (keyed !== undefined) return keyed.get(priority, key)
  }
  return {
    name,
    cancelOnExit,
    reraiseOnExit,
    nextTick,
    priority,
    key,
    timeout,
    startTimeout,
    deadline,
    timed,
    ordered: priority !== 0 || key !== undefined
  }
}

// Task states. A task holds a permit in STARTING and RUNNING. QUEUED (0) is the queue's.
const STARTING = 1 // has a permit, its start is scheduled (nextTick)
const RUNNING = 2
const DONE = 3

/**
 * What few tasks need, kept off the task record: a queued task is a record,
 * and the garbage collector copies every queued record, field by field, as
 * it ages (each field left out of the record measured in queue-heavy runs).
 */
class Rare {
  /** Set when an interrupt arrives while the fiber is being created. */
  pendingInterrupt: number | undefined = undefined
  /** The start deadline's timer, while the task is queued. */
  timer: Timer.Timer | undefined = undefined
  /**
   * While the task is queued with a start deadline (or, for one that starts
   * late, until it says it started: see `withDeadlines`): when it passes, on
   * the submitter's clock, and the time it was given (its `TaskTimeoutError`
   * says it). A permit that frees after the deadline, before its timer has
   * fired (a busy event loop), does not start the task (see `pump`).
   */
  startBy: number | undefined = undefined
  startBudget: Duration.Duration | undefined = undefined
  /**
   * A timed task's body has ended and its scope is closing, inside its own
   * fiber (so that its deadline covers its finalizers): an interrupt from
   * outside has nothing left to stop, as for an untimed task, whose scope
   * closes in a fiber of its own once its fiber has ended.
   */
  finalizing = false
  /**
   * Set when the task's own deadline ended it (counted in `stats.timedOut`):
   * here, or where its work ran (`Config.isTimeout`).
   */
  timedOut = false
  // the task tree's and the telemetry's (see `taskTree.ts`): a nested task's parent, a timed task's times
  parent: Parent | undefined = undefined
  times: Times | undefined = undefined
  /** Ends the task's span (see `telemetry.ts`): a task with a span is timed, so it has these fields. */
  endSpan: ((exit: Exit.Exit<unknown, unknown>) => void) | undefined = undefined

  /** Keeps the task's start deadline (see `startDeadline`): when it passes, and the time it was given. */
  keepStartBy(startBy: { readonly at: number; readonly budget: Duration.Duration }): void {
    this.startBy = startBy.at
    this.startBudget = startBy.budget
  }

  /** Stops the start deadline's timer, if it runs: the task took a permit or ended. */
  cancelTimer(): void {
    if (this.timer === undefined) return
    this.timer.cancel()
    this.timer = undefined
  }
}

/**
 * A submitted task: the queue entry, the running fiber's owner and the handle
 * returned to the user, in one object so a task costs one allocation.
 */
class TaskRecord<A, E> implements Task.Task<A, E>, Tracked {
  declare readonly [Task.TypeId]: typeof Task.TypeId // on the prototype, below
  state = QUEUED
  effect: Effect.Effect<A, E, any> | undefined
  context: Context.Context<never> | undefined
  fiber: Fiber.Fiber<A, E> | undefined = undefined
  exit: Exit.Exit<A, E> | undefined = undefined
  /**
   * Fibers waiting for the task's end (`await`, `join`, `interrupt`), in the
   * order they came. A `Set`, so that a waiter that gives up (a `timeout`, a
   * `race`) leaves in O(1): with an array, interrupting 80,000 joiners of
   * one task took 3 to 7 s (each removal searched and shifted the rest).
   */
  observers: Set<(exit: Exit.Exit<A, E>) => void> | undefined = undefined
  /** The task's scope and context while it runs. */
  slot: Slot | undefined = undefined
  /** The queue's field (see `Entry.next` in `queue.ts`): its link while queued. */
  next: Entry["next"] = undefined
  /** The queue's field (see `Entry.nextId` in `queue.ts`). */
  nextId = 0
  /**
   * The fields few tasks need (see {@link Rare}), made by {@link fields} on
   * first write (every write is of a task that needs them). Read directly:
   * a task without it has no timer, no times and no pending interrupt.
   */
  rare: Rare | undefined = undefined
  readonly executor: ExecutorCore
  readonly id: number
  readonly submission: Submission

  constructor(
    executor: ExecutorCore,
    id: number,
    effect: Effect.Effect<A, E, any>,
    context: Context.Context<never>,
    submission: Submission
  ) {
    this.executor = executor
    this.id = id
    this.effect = effect
    this.context = context
    this.submission = submission
  }

  get label(): string | undefined {
    return this.submission.name
  }
  get cancelOnExit(): boolean {
    return this.submission.cancelOnExit
  }
  get reraiseOnExit(): boolean {
    return this.submission.reraiseOnExit
  }
  get priority(): number {
    return this.submission.priority
  }
  get key(): string | undefined {
    return this.submission.key
  }

  get name(): string {
    return this.label ?? `task-${this.id}`
  }

  /** The task's {@link Rare} fields, made now if it had none, for a write. */
  fields(): Rare {
    return (this.rare ??= new Rare())
  }
  // the task tree's and the telemetry's (`Tracked`)
  get timedOut(): boolean {
    return this.rare?.timedOut === true
  }
  get parent(): Parent | undefined {
    return this.rare?.parent
  }
  set parent(parent: Parent | undefined) {
    this.fields().parent = parent
  }
  get times(): Times | undefined {
    return this.rare?.times
  }
  set times(times: Times | undefined) {
    this.fields().times = times
  }
  get endSpan(): ((exit: Exit.Exit<unknown, unknown>) => void) | undefined {
    return this.rare?.endSpan
  }
  set endSpan(endSpan: ((exit: Exit.Exit<unknown, unknown>) => void) | undefined) {
    this.fields().endSpan = endSpan
  }

  get await(): Effect.Effect<Exit.Exit<A, E>> {
    // The state is read inside the registration: a check made one step
    // earlier could see the task running, yield to the scheduler, and then
    // register after the task ended, waiting forever.
    return Effect.callback<Exit.Exit<A, E>>((resume) => {
      if (this.exit !== undefined) return resume(Exit.succeed(this.exit))
      return this.observe(resume)
    })
  }

  get join(): Effect.Effect<A, E> {
    return Effect.flatten(this.await)
  }

  get interrupt(): Effect.Effect<void> {
    return Effect.withFiber((fiber) => {
      this.executor.interruptTask(this, fiber.id)
      return Effect.asVoid(this.await)
    })
  }

  get poll(): Effect.Effect<Exit.Exit<A, E> | undefined> {
    return Effect.sync(() => this.exit)
  }

  /** Calls `resume` with the exit once the task ends; returns the canceller. */
  private observe(resume: (effect: Effect.Effect<Exit.Exit<A, E>>) => void): Effect.Effect<void> {
    const observer = (exit: Exit.Exit<A, E>) => resume(Exit.succeed(exit))
    ;(this.observers ??= new Set()).add(observer)
    return Effect.sync(() => {
      this.observers?.delete(observer)
    })
  }

  toJSON(): unknown {
    return { _id: "Task", id: this.id, name: this.name, state: ["queued", "starting", "running", "done"][this.state] }
  }
}

Object.defineProperty(TaskRecord.prototype, Task.TypeId, { value: Task.TypeId })

/**
 * Calls a callback that resumes user code (a fiber waiting on a task, on
 * idleness or for a queue place). Effect runs the resumed fiber, and its
 * observers, at once; if one of those throws, the error is reported as an
 * uncaught exception on the next microtask, as a throwing event listener
 * would be, instead of cutting the executor's bookkeeping short.
 */
const wake = <A>(callback: (value: A) => void, value: A): void => {
  try {
    callback(value)
  } catch (error) {
    rethrowLater(error)
  }
}

// -----------------------------------------------------------------------------
// nesting
// -----------------------------------------------------------------------------

/**
 * Effect runs user code synchronously in two places the executor reaches:
 * a fiber resumed by an observer runs at once, and a forked fiber runs until
 * its first suspension. So telling a joiner that a task ended, or starting a
 * task, can end or start another task from inside the first — a chain of
 * tasks that each join the one before, or each submit the next before they
 * suspend, nests as deep as the chain is long and overflows the stack
 * (1,000 links did), leaving the counters half-updated.
 *
 * Notifications and starts therefore share one depth counter: up to
 * `MAX_DEPTH` levels run at once, as Effect would run them; deeper ones are
 * queued and run in order by the outermost level. One queue for the process,
 * since chains cross executors. Every queued job is guarded, so one that
 * throws cannot strand the ones behind it.
 */
const MAX_DEPTH = 64
const later: Array<() => void> = []
let depth = 0

/** Runs the queued jobs; called by the outermost level only. */
const drainLater = (): void => {
  depth++
  try {
    for (let i = 0; i < later.length; i++) {
      try {
        later[i]!()
      } catch (error) {
        rethrowLater(error)
      }
    }
  } finally {
    later.length = 0
    depth--
  }
}

/** Tells observers that a task has ended, now or, below `MAX_DEPTH`, from the outermost level. */
const notify = (observers: ReadonlySet<(exit: Exit.Exit<any, any>) => void>, exit: Exit.Exit<any, any>): void => {
  if (depth >= MAX_DEPTH) {
    for (const observer of observers) later.push(() => observer(exit))
    return
  }
  depth++
  try {
    for (const observer of observers) wake(observer, exit)
  } finally {
    depth--
  }
  if (depth === 0 && later.length > 0) drainLater()
}

/**
 * A submitter suspended by `maxQueue`, woken in FIFO order (or sooner, when
 * its own submission could start at once: see `admitWaiters`).
 */
interface QueueWaiter extends Waiter {
  readonly submission: Submission
}

/** Whether `exit` carries `error` as one of its failures. */
const carries = (exit: Exit.Exit<unknown, unknown>, error: unknown): boolean =>
  Exit.isFailure(exit) && exit.cause.reasons.some((reason) => Cause.isFailReason(reason) && reason.error === error)

/**
 * One executor's state: permits, the FIFO of waiting tasks, the counters and
 * the failures kept for the exit rules.
 */
export class ExecutorCore {
  readonly config: Config
  private phase: "open" | "closing" | "closed" = "open"
  private nextId = 0
  /** The permits: `maxConcurrency`, until `resize` changes it. */
  private limit: number
  private paused = false
  private running = 0
  private queued = 0
  /** Unfinished tasks that the exit waits for (not cancel-on-exit): what `awaitIdle` waits on. */
  private awaited = 0
  private readonly queue: TaskQueue
  /** Shared submissions of keyed tasks (see {@link KeyedSubmissions}), if the executor accepts keys. */
  readonly keyed: KeyedSubmissions | undefined
  private pumping = false
  /** Set when `pump` is asked again while it runs: it loops until nothing changes. */
  private repump = false
  /** Set when {@link settle} is asked while the pump runs: the pump settles once it is done. */
  private settleAfterPump = false
  private submitted = 0
  private succeeded = 0
  private failed = 0
  private interrupted = 0
  private timedOut = 0
  /**
   * Cancel-on-exit tasks holding a permit (at most `maxConcurrency`); the
   * queued ones are found by walking the queue when the executor closes.
   */
  private readonly startedCancelOnExit = new Set<TaskRecord<any, any>>()
  /** Every task holding a permit, kept only with a `closeTimeout` (which must interrupt them). */
  private readonly holding: Set<TaskRecord<any, any>> | undefined
  /**
   * Tasks holding a permit without a task scope in use: started on the next
   * tick or from the outermost level (not yet forked), or closing their
   * scope. With the scopes in use, they are the running tasks `tasks` lists.
   */
  private readonly unscoped = new Set<TaskRecord<any, any>>()
  /** The `closeTimeout` timer while closing. */
  private graceTimer: Timer.Timer | undefined = undefined
  /** What the `closeTimeout` interrupted; `undefined` until it passes. */
  private cutOff: Array<InterruptedTask & { readonly record: TaskRecord<any, any> }> | undefined = undefined
  /** Re-raisable failures not yet reported, in completion order. */
  private failures: Array<TaskRecord<any, any>> = []
  /** Fibers waiting in `awaitIdle` (or `join`), oldest first; a `Set` for the reason `TaskRecord.observers` is one. */
  private readonly idleWaiters = new Set<() => void>()
  /** Fibers waiting in `close` for the last task to end. */
  private closeWaiters: Array<() => void> = []
  /** Joins that took failures and have neither failed with them nor put them back yet. */
  private handing = 0
  /** Fibers waiting in `finalFailure` for those joins. */
  private handingWaiters: Array<() => void> = []
  /** Submitters suspended by `maxQueue`, oldest first, kept by key too (see `waiters.ts`). */
  private readonly queueWaiters = new Waiters<QueueWaiter>()

  /** No submitted task is unfinished: none queued, none holding a permit. */
  private get idle(): boolean {
    return this.queued + this.running === 0
  }

  /** Suspended submitters are woken once the queue has drained to this length. */
  private readonly lowWater: number
  private readonly scopes: TaskScopes
  private readonly telemetry: Telemetry

  constructor(config: Config, settings: Settings, context: Context.Context<never>) {
    this.config = config
    this.limit = config.maxConcurrency
    this.lowWater = Math.floor(config.maxQueue / 2)
    this.telemetry = new Telemetry(settings, context, () => this.counters(), (f) => {
      if (this.running > 0) this.runningTasks().forEach(f)
      this.queue.forEach((entry) => f(entry as TaskRecord<any, any>))
    })
    // with a maxQueue, a task's context names the executors it works for
    this.scopes = new TaskScopes(
      config.maxQueue === Number.POSITIVE_INFINITY ? identity : (context) => {
        const chain = Context.get(context, TaskOf)
        return chainHas(chain, this) ? context : Context.add(context, TaskOf, { executor: this, parent: chain })
      },
      this.telemetry.tree
    )
    this.queue = new TaskQueue(config.maxConcurrencyPerKey ?? Number.POSITIVE_INFINITY, this.queueWaiters)
    this.keyed = config.maxConcurrencyPerKey === undefined ? undefined : new KeyedSubmissions()
    this.holding = config.closeTimeout === undefined ? undefined : new Set()
  }

  /**
   * Whether a task of `submission` submitted now would take a permit at
   * once, without queueing: a permit is free, and nothing queued could take
   * it first (in an ordered queue, no queued task could start now, and the
   * task's key has room — tasks held back only by their own key's bound do
   * not count).
   */
  private startsAtOnce(submission: Submission): boolean {
    if (this.paused || this.running >= this.limit) return false
    return this.queue.ordered ? this.queue.couldStartNow(submission.key) : this.queued === 0
  }

  /**
   * Whether a submission may enter now without waiting for a queue place:
   * there is room and nobody waits for it, or it starts at once (it takes no
   * place), or it comes from one of the executor's own tasks.
   */
  private admits(submitter: Fiber.Fiber<unknown, unknown>, submission: Submission): boolean {
    return (this.queueWaiters.size === 0 && this.queued < this.config.maxQueue) ||
      this.startsAtOnce(submission) ||
      (this.config.maxQueue !== Number.POSITIVE_INFINITY && worksFor(submitter, this))
  }

  /** Submits `effect` in the context of `submitter`. */
  submit<A, E, R>(
    effect: Effect.Effect<A, E, R>,
    submission: Submission,
    submitter: Fiber.Fiber<unknown, unknown>
  ): Effect.Effect<Task.Task<A, E>, ExecutorClosedError> {
    if (submission.key !== undefined && this.config.maxConcurrencyPerKey === undefined) {
      throw new InvalidArgumentError({
        argument: "key",
        value: submission.key,
        expected: "left out unless the executor has `maxConcurrencyPerKey` (a key would limit nothing)"
      })
    }
    if (this.phase === "closed") {
      this.telemetry.rejected("closed")
      return Effect.fail(new ExecutorClosedError({ taskName: submission.name }))
    }
    if (this.admits(submitter, submission)) {
      return Exit.succeed(this.accept(effect, submission, submitter, undefined))
    }
    // Backpressure: wait for a place in the queue. The waiter submits the
    // task itself, synchronously, when a place frees, so that a submitter
    // interrupted while waiting leaves nothing behind. The check is made
    // again inside the registration: the queue may have drained, or the
    // executor closed, while this fiber yielded between the two steps.
    return Effect.callback<Task.Task<A, E>, ExecutorClosedError>((resume) => {
      // a start deadline counts from `submit`, the wait for a place included, and so does the
      // task's queue wait in the telemetry
      const submittedAt = Timer.now(submitter.context)
      const enter = () => {
        if (this.phase === "closed") this.telemetry.rejected("closed")
        resume(
          this.phase === "closed"
            ? Effect.fail(new ExecutorClosedError({ taskName: submission.name }))
            : Exit.succeed(this.accept(effect, submission, submitter, submittedAt))
        )
      }
      if (this.phase === "closed" || this.admits(submitter, submission)) return enter()
      this.telemetry.rejected("queue_full")
      let timer: Timer.Timer | undefined
      const waiter: QueueWaiter = Object.assign(() => {
        this.queueWaiters.delete(waiter)
        timer?.cancel()
        enter()
      }, { submission })
      this.queueWaiters.add(waiter)
      // A start deadline passes while waiting for a place: `submit` returns then, with the task
      // failed (`accept` sees the deadline past), instead of holding its caller until a place frees.
      const startBy = submission.timed ? this.startDeadline(submission, submitter.context, 0) : undefined
      if (startBy !== undefined) {
        const expire = () => {
          const left = startBy.at - Timer.now(submitter.context)
          if (left > 0) timer = Timer.schedule(submitter.context, left, expire) // fired early
          else if (this.queueWaiters.delete(waiter)) enter()
        }
        timer = Timer.schedule(submitter.context, Math.max(0, startBy.millis), expire)
      }
      return Effect.sync(() => {
        this.queueWaiters.delete(waiter)
        timer?.cancel()
      })
    })
  }

  /** Takes a submission in; `submittedAt`: when `submit` was called, if it waited for a queue place. */
  private accept<A, E>(
    effect: Effect.Effect<A, E, any>,
    submission: Submission,
    submitter: Fiber.Fiber<unknown, unknown>,
    submittedAt: number | undefined
  ): TaskRecord<A, E> {
    const record = new TaskRecord<A, E>(this, ++this.nextId, effect, submitter.context, submission)
    this.submitted++
    // how long `submit` waited for a queue place: the task's queue wait and start deadline include it
    const waited = submittedAt === undefined ? 0 : Timer.now(submitter.context) - submittedAt
    this.telemetry.submitted(record, submitter, waited)
    if (!submission.cancelOnExit) this.awaited++
    if ((submission.cancelOnExit && this.phase !== "open") || this.cutOff !== undefined) {
      return this.refuse(record, submitter.id)
    }
    const queue = this.queue
    if (submission.ordered) queue.becomeOrdered()
    const startBy = submission.timed ? this.startDeadline(submission, submitter.context, waited) : undefined
    // past (or, for a submit that waited for a place, reached while it waited): the task never starts
    if (startBy !== undefined && (startBy.millis < 0 || (startBy.millis === 0 && submittedAt !== undefined))) {
      // a deadline already past: the task ends at once, without running
      this.queued++ // counted as queued for the moment `finish` takes it out
      this.timeOutQueued(record, startBy.budget)
      return record
    }
    // first come, first served: a task starts at once only when none waits
    // ahead of it (in an ordered queue, none that could start now, and its
    // key has room)
    if (!this.paused && this.running < this.limit && (queue.ordered ? queue.startNow(record) : this.queued === 0)) {
      // its start deadline goes on while it waits for what it starts on (see `withDeadlines`)
      if (startBy !== undefined && LateStart.buildOf(effect) !== undefined) record.fields().keepStartBy(startBy)
      this.takePermit(record, submittedAt !== undefined) // (one that waited for a place waited to start)
      if (submission.nextTick) {
        this.unscoped.add(record)
        submitter.currentDispatcher.scheduleTask(() => this.start(record), 0)
      } else {
        this.start(record)
      }
    } else {
      this.queued++
      queue.push(record)
      if (startBy !== undefined) {
        const rare = record.fields()
        rare.keepStartBy(startBy)
        rare.timer = Timer.schedule(submitter.context, startBy.millis, () => this.timeOutQueued(record, startBy.budget))
      }
      if (queue.ordered) this.pump() // it may go round again for a task that woke while it ran
    }
    return record
  }

  /**
   * Rule 2: a cancel-on-exit task submitted while closing never runs; nor
   * does any task submitted once the grace period has passed.
   */
  private refuse(record: TaskRecord<any, any>, by: number): TaskRecord<any, any> {
    if (this.cutOff !== undefined && !record.submission.cancelOnExit) {
      this.cutOff.push({ taskId: record.id, taskName: record.name, state: "queued", record })
    }
    this.queued++ // counted as queued for the moment `finish` takes it out
    this.finish(record, Exit.interrupt(by))
    return record
  }

  /**
   * How long a task with `startTimeout` or `deadline` may wait for a permit
   * (negative: its deadline is already past) and when that ends, on the
   * clock of `context`, and the time it was given, as its `TaskTimeoutError`
   * reports it; `undefined` when it may wait for ever. `waited`: what the
   * wait for a queue place used up of `startTimeout`. The timer is set only
   * if the task is queued, and cancelled when it takes a permit.
   */
  private startDeadline(
    submission: Submission,
    context: Context.Context<never>,
    waited: number
  ): { readonly millis: number; readonly at: number; readonly budget: Duration.Duration } | undefined {
    const { deadline, startTimeout } = submission
    const now = Timer.now(context)
    let millis = startTimeout === undefined ? Number.POSITIVE_INFINITY : startTimeout - waited
    // the time it was given: `startTimeout`, or what was left of `deadline` if that ends first
    let given = startTimeout
    if (deadline !== undefined) {
      const left = deadline - now
      if (left < millis) {
        millis = left
        given = Math.max(0, left)
      }
    }
    if (millis === Number.POSITIVE_INFINITY) return undefined
    return { millis, at: now + millis, budget: Duration.millis(given!) }
  }

  /** The start deadline of a queued task passed: it ends without running. */
  private timeOutQueued(record: TaskRecord<any, any>, budget: Duration.Duration): void {
    const rare = record.fields()
    rare.timer = undefined
    if (record.state !== QUEUED) return
    this.finish(record, Exit.fail(this.deadlinePassed(record, "queue", budget)))
  }

  /** Gives `record` a permit; `queued`: it waited for it in the queue. */
  private takePermit(record: TaskRecord<any, any>, queued: boolean): void {
    this.running++
    record.state = STARTING
    if (record.submission.cancelOnExit) this.startedCancelOnExit.add(record)
    if (this.holding !== undefined) this.holding.add(record)
    const rare = record.rare
    if (rare !== undefined) {
      rare.cancelTimer()
      if (rare.times !== undefined) this.telemetry.started(record, rare.times, queued)
    }
  }

  /**
   * Starts a task that holds a permit: now, or — when starts and
   * notifications are already nested `MAX_DEPTH` deep — from the outermost
   * level (see {@link MAX_DEPTH}).
   */
  private start(record: TaskRecord<any, any>): void {
    if (depth >= MAX_DEPTH) {
      // (a `nextTick` start of a task interrupted meanwhile: nothing to start, nothing to list)
      if (record.state !== STARTING) return
      this.unscoped.add(record)
      later.push(() => this.start(record))
      return
    }
    depth++
    try {
      this.fork(record)
    } finally {
      depth--
    }
    if (depth === 0 && later.length > 0) drainLater()
  }

  /**
   * Forks the task's fiber, in a scope of its own (rule 5, see
   * `taskScope.ts`), closed after the fiber has ended and before the task
   * counts as ended. A task with a run deadline is interrupted when it
   * passes; it then fails with `TaskTimeoutError` once it has really ended
   * (finalizers run), and only then frees its permit.
   */
  private fork(record: TaskRecord<any, any>): void {
    if (record.state !== STARTING) return // interrupted before its scheduled start
    record.state = RUNNING
    if (this.unscoped.size > 0) this.unscoped.delete(record)
    const submission = record.submission
    let effect: Effect.Effect<any, any, any> = record.effect!
    // a run deadline covers the task's finalizers too: a timed task closes its scope inside it
    if (submission.timed) effect = this.timed(record, effect)
    if (this.telemetry.instruments(submission.name)) effect = this.telemetry.instrument(record, effect)
    const slot = this.scopes.acquire(record.context!, record)
    record.effect = undefined
    record.context = undefined
    record.slot = slot
    let fiber: Fiber.Fiber<any, any>
    try {
      fiber = slot.run(effect as Effect.Effect<any, any, never>)
    } catch (error) {
      // Effect turns what a task throws into a defect; this is the last guard
      // (a stack overflow inside the runtime itself) so the counters stay right
      return this.release(record, Exit.die(error))
    }
    const exit = fiber.pollUnsafe()
    if (exit !== undefined) return this.release(record, exit) // ended synchronously
    record.fiber = fiber
    fiber.addObserver((exit) => this.release(record, exit))
    const rare = record.rare
    if (rare !== undefined && rare.pendingInterrupt !== undefined) fiber.interruptUnsafe(rare.pendingInterrupt)
  }

  /**
   * The effect of a task with a deadline (a method of its own: `fork` stays
   * small for the tasks without one). Its scope closes inside its fiber, so
   * that the run deadline covers its finalizers too.
   */
  private timed(record: TaskRecord<any, any>, effect: Effect.Effect<any, any, any>): Effect.Effect<any, any, any> {
    const scopedBody = (work: Effect.Effect<any, any, any>) =>
      Effect.scoped(Effect.onExit(work, () =>
        Effect.sync(() => {
          record.fields().finalizing = true
        })))
    const late = LateStart.buildOf(effect)
    return late === undefined
      ? this.withRunDeadline(record, scopedBody(effect), record.context!)
      : this.withDeadlines(record, (started) => scopedBody(late(started)), record.context!)
  }

  /** `effect` bounded by the task's `timeout` and what is left of its `deadline`. */
  private withRunDeadline(
    record: TaskRecord<any, any>,
    effect: Effect.Effect<any, any, any>,
    context: Context.Context<never>
  ): Effect.Effect<any, any, any> {
    const millis = this.runMillis(record, context)
    if (millis === Number.POSITIVE_INFINITY) return effect
    return Timer.within(effect, millis, () => this.deadlinePassed(record, "run", Duration.millis(millis)))
  }

  /**
   * A task that starts late (see `lateStart.ts`, a call waiting for a thread):
   * bounded by what is left of its start deadline until it says it started,
   * then by its `timeout` and what is then left of its `deadline`.
   */
  private withDeadlines(
    record: TaskRecord<any, any>,
    build: LateStart.Build<any, any, any>,
    context: Context.Context<never>
  ): Effect.Effect<any, any, any> {
    const rare = record.rare
    const startBy = rare?.startBy
    return Timer.withinPhases(
      build,
      startBy,
      () => Timer.now(context),
      () => this.runMillis(record, context),
      (phase, millis) =>
        phase === "queue"
          ? this.deadlinePassed(record, "queue", rare!.startBudget!)
          : this.deadlinePassed(record, "run", Duration.millis(millis))
    )
  }

  /** How long the task may run from now: its `timeout`, or what is left of its `deadline` if less. */
  private runMillis(record: TaskRecord<any, any>, context: Context.Context<never>): number {
    const { deadline, timeout } = record.submission
    const millis = timeout ?? Number.POSITIVE_INFINITY
    return deadline === undefined ? millis : Math.min(millis, Math.max(0, deadline - Timer.now(context)))
  }

  /** The task's own deadline ended it: counted in `stats.timedOut`, and what it fails with. */
  private deadlinePassed(
    record: TaskRecord<any, any>,
    phase: "queue" | "run",
    timeout: Duration.Duration
  ): TaskTimeoutError {
    record.fields().timedOut = true
    return new TaskTimeoutError({ taskName: record.name, phase, timeout })
  }

  /**
   * Ends a task's scope once its fiber has ended, then finishes the task.
   * Finalizers run in a fiber of their own, uninterruptibly; one that fails
   * adds its cause to the task's exit, as `Effect.scoped` would.
   */
  private release(record: TaskRecord<any, any>, exit: Exit.Exit<any, any>): void {
    const slot = record.slot!
    record.slot = undefined
    const finalizers = this.scopes.release(slot, exit)
    if (finalizers === undefined) return this.finish(record, exit)
    this.closeScope(record, slot, finalizers, exit)
  }

  /** Runs the finalizers of a task's scope, then finishes the task. */
  private closeScope(
    record: TaskRecord<any, any>,
    slot: Slot,
    finalizers: Effect.Effect<void>,
    exit: Exit.Exit<any, any>
  ): void {
    this.unscoped.add(record) // still holding its permit while its scope closes
    let closer: Fiber.Fiber<void>
    try {
      // in the task's context, its cell still naming it: what a finalizer submits is the task's
      closer = Effect.runForkWith(slot.context)(Effect.uninterruptible(finalizers))
    } catch (error) {
      slot.cell.task = undefined
      return this.finish(record, Exit.die(error)) // as in `fork`: the counters must stay right
    }
    const done = (closed: Exit.Exit<void>) => {
      slot.cell.task = undefined
      this.finish(
        record,
        Exit.isSuccess(closed)
          ? exit
          : Exit.failCause(Exit.isSuccess(exit) ? closed.cause : Cause.combine(exit.cause, closed.cause))
      )
    }
    const closed = closer.pollUnsafe()
    if (closed !== undefined) return done(closed)
    closer.addObserver(done)
  }

  /**
   * Starts queued tasks while permits are free and the executor is not
   * paused, then lets suspended submitters in. Starting a task or waking a
   * submitter runs user code at once, which may free permits or queue tasks:
   * a call made meanwhile marks the pump to go round again instead of
   * recursing.
   */
  private pump(): void {
    // nothing queued and no submitter waiting: nothing to do, even for a pump running now
    if (this.queued === 0 && this.queueWaiters.size === 0) {
      if (this.settleAfterPump && !this.pumping) this.settleNow()
      return
    }
    if (this.pumping) {
      this.repump = true
      return
    }
    this.pumping = true
    try {
      do {
        this.repump = false
        while (this.queued > 0 && !this.paused && this.running < this.limit) {
          const record = this.queue.pop() as TaskRecord<any, any> | undefined
          if (record === undefined) break
          const rare = record.rare
          if (rare !== undefined && rare.startBy !== undefined && Timer.now(record.context!) >= rare.startBy) {
            // its start deadline passed before its timer could fire: it ends without running
            if (this.queue.ordered) this.queue.ended(record) // `pop` counted it against its key
            rare.cancelTimer()
            this.timeOutQueued(record, rare.startBudget!)
            continue
          }
          this.queued--
          this.takePermit(record, true)
          this.start(record)
        }
        this.admitWaiters()
      } while (this.repump)
    } finally {
      this.pumping = false
    }
    if (this.settleAfterPump) this.settleNow()
  }

  /**
   * Lets submitters suspended by `maxQueue` in, oldest first, once the queue
   * has drained to half its bound (or a task would start at once): a
   * producer that outruns its tasks is woken once per `maxQueue / 2` tasks,
   * not per task. While paused, only the queue's bound counts.
   */
  private admitWaiters(): void {
    let first = this.queueWaiters.first()
    if (first === undefined) return
    if (this.queued > this.lowWater && !this.startsAtOnce(first.submission)) return this.admitStartable()
    while (this.queued < this.config.maxQueue || this.startsAtOnce(first.submission)) {
      this.queueWaiters.delete(first) // a waiter that throws must not be called again
      wake(first, undefined)
      first = this.queueWaiters.first()
      if (first === undefined) return
    }
    this.admitStartable()
  }

  /**
   * With the queue full and a permit free (the queued tasks are held back by
   * their keys' bounds), lets in the waiting submitters, oldest first, whose
   * own task could start at once: it takes no queue place, and waiting for
   * the queue to drain could wait for ever (the queued tasks' keys may wait
   * on it). Only the keys that may have gained room are looked at (see
   * `waiters.ts`): asking every waiter on every task end was quadratic.
   */
  private admitStartable(): void {
    this.queueWaiters.admitStartable(this.permitFree, this.hasRoom, this.admitWaiter)
  }
  private readonly permitFree = () =>
    this.queue.ordered && !this.paused && this.running < this.limit && !this.queue.holdsStartable()
  private readonly hasRoom = (key: string | undefined) => this.queue.hasRoom(key)
  private readonly admitWaiter = (waiter: QueueWaiter) => wake(waiter, undefined)

  private finish(record: TaskRecord<any, any>, exit: Exit.Exit<any, any>): void {
    if (record.state === DONE) return
    const heldPermit = record.state !== QUEUED
    record.state = DONE
    record.exit = exit
    record.fiber = undefined
    record.effect = undefined
    record.context = undefined
    const rare = record.rare
    if (rare !== undefined) rare.cancelTimer()
    if (heldPermit) {
      this.running--
      if (this.queue.ordered) this.queue.ended(record)
      if (this.holding !== undefined) this.holding.delete(record)
      if (this.unscoped.size > 0) this.unscoped.delete(record)
    } else {
      this.queued--
    }
    const submission = record.submission
    if (submission.cancelOnExit) {
      if (heldPermit) this.startedCancelOnExit.delete(record)
    } else {
      this.awaited--
    }
    const succeeded = Exit.isSuccess(exit)
    // before the telemetry hears of it: the outcome it reports is the one `stats` counts
    if (!succeeded && this.config.isTimeout !== undefined) this.timedOutElsewhere(record, exit.cause)
    if (rare !== undefined && rare.times !== undefined) this.telemetry.ended(record, rare.times, exit)
    if (succeeded) this.succeeded++
    else this.count(record, exit.cause)
    const observers = record.observers
    if (observers !== undefined) {
      record.observers = undefined
      notify(observers, exit)
    }
    const stale = this.queue.length - this.queued
    if (stale > 1024 && stale > this.queued && !this.pumping) this.queue.compact()
    this.pump()
    if ((this.awaited === 0 && this.idleWaiters.size > 0) || (this.phase === "closing" && this.idle)) {
      this.settleAfterObservers()
    }
  }

  /**
   * Marks a failed task as timed out when `Config.isTimeout` says its
   * failure was its own deadline where its work ran. A predicate that throws
   * answers "no".
   */
  private timedOutElsewhere(record: TaskRecord<any, any>, cause: Cause.Cause<unknown>): void {
    if (record.timedOut) return
    let timedOut = false
    try {
      timedOut = this.config.isTimeout!(cause)
    } catch {
      // a failure, as before
    }
    if (timedOut) record.fields().timedOut = true
  }

  /** Counts a task that did not succeed, and keeps its failure for the exit rules. */
  private count(record: TaskRecord<any, any>, cause: Cause.Cause<unknown>): void {
    if (Cause.hasInterruptsOnly(cause)) {
      this.interrupted++
      return
    }
    this.failed++
    if (record.timedOut) this.timedOut++
    if (record.submission.reraiseOnExit && !this.isBubbleUp(cause)) this.failures.push(record)
  }

  /**
   * {@link settle}, once the observers queued below `MAX_DEPTH` have heard
   * that their task ended: they may submit more.
   */
  private settleAfterObservers(): void {
    if (later.length > 0) later.push(() => this.settle())
    else this.settle()
  }

  /**
   * Wakes the fibers waiting for idleness, then — if it is still idle — ends
   * the closing in the same synchronous step, so that no submission can slip
   * in between "idle" and "closed". A woken waiter runs at once and may
   * submit: waking stops as soon as there is work again.
   */
  private settle(): void {
    // Not while the pump runs: a task ended inside it (one that ends as soon as it starts, or one
    // the close cancels while holding the pump) may have freed the place a suspended submitter
    // is about to be let into, and "idle" is not true until it has been. The pump settles after.
    if (this.pumping) {
      this.settleAfterPump = true
      return
    }
    // nor before the submitters waiting for a place the queue has are let in: the pump lets them
    // in, then settles
    if (this.queueWaiters.size > 0 && this.phase !== "closed") {
      this.settleAfterPump = true
      return this.pump()
    }
    this.settleNow()
  }

  /** {@link settle}, the pump done and no submitter left that a free place would let in. */
  private settleNow(): void {
    this.settleAfterPump = false
    while (this.awaited === 0 && this.idleWaiters.size > 0) {
      const first = this.idleWaiters.values().next().value!
      this.idleWaiters.delete(first)
      wake(first, undefined)
    }
    if (this.phase !== "closing" || !this.idle) return
    this.phase = "closed"
    if (this.graceTimer !== undefined) {
      this.graceTimer.cancel()
      this.graceTimer = undefined
    }
    this.scopes.close()
    this.telemetry.closed()
    const closers = this.closeWaiters
    this.closeWaiters = []
    for (let i = 0; i < closers.length; i++) wake(closers[i]!, undefined)
    // submitters still waiting for a queue place cannot be admitted any more
    for (const waiter of this.queueWaiters.toArray()) wake(waiter, undefined)
  }

  /**
   * A failure is a bubble-up signal when every error and defect in it
   * satisfies `bubbleUp`. A predicate that throws answers "no": the failure
   * is kept and re-raised rather than lost.
   */
  private isBubbleUp(cause: Cause.Cause<unknown>): boolean {
    const bubbleUp = this.config.bubbleUp
    if (bubbleUp === undefined) return false
    let signals = 0
    try {
      for (const reason of cause.reasons) {
        if (Cause.isInterruptReason(reason)) continue
        if (!bubbleUp(Cause.isFailReason(reason) ? reason.error : reason.defect)) return false
        signals++
      }
    } catch {
      return false
    }
    return signals > 0
  }

  /** Interrupts a task on behalf of fiber `by`, whatever its state. */
  interruptTask(record: TaskRecord<any, any>, by: number): void {
    switch (record.state) {
      case QUEUED:
      case STARTING:
        this.finish(record, Exit.interrupt(by))
        return
      case RUNNING:
        if (record.rare !== undefined && record.rare.finalizing) return // (see `Rare.finalizing`)
        if (record.fiber !== undefined) record.fiber.interruptUnsafe(by)
        else record.fields().pendingInterrupt = by
        return
    }
  }

  /**
   * Waits until every task that the exit would wait for has ended:
   * cancel-on-exit tasks are not waited for (the exit interrupts them). The
   * state is read inside the registration, so an executor that becomes idle
   * while this fiber yields cannot be missed.
   */
  readonly awaitIdle: Effect.Effect<void> = Effect.callback<void>((resume) => {
    if (this.idleNow()) return resume(Effect.void)
    return this.onIdle(() => resume(Effect.void))
  })

  /**
   * Whether `awaitIdle` and `join` return at once: no awaited task is
   * unfinished, and the pump is not running. Asked from inside the pump (a
   * fiber resumed by a task's end), the answer waits until it is done: a
   * submitter it is about to let in may still come (see {@link settle}).
   */
  private idleNow(): boolean {
    if (this.awaited !== 0) return false
    if (!this.pumping) return true
    this.settleAfterPump = true
    return false
  }

  /** Registers `waiter` for idleness; returns the canceller. */
  private onIdle(waiter: () => void): Effect.Effect<void> {
    this.idleWaiters.add(waiter)
    return Effect.sync(() => {
      this.idleWaiters.delete(waiter)
    })
  }

  /** Sets the number of permits; more permits start queued tasks at once. */
  resize(maxConcurrency: number): void {
    this.limit = maxConcurrency
    this.pump()
  }

  /**
   * Stops handing out permits until {@link resume}; running tasks go on.
   * Once closing it does nothing: the close waits for the queued tasks, so
   * they must be able to start.
   */
  pause(): void {
    if (this.phase === "open") this.paused = true
  }

  /** Hands out permits again. */
  resume(): void {
    if (!this.paused) return
    this.paused = false
    this.pump()
  }

  /**
   * Rules 1–3: resumes a paused executor, interrupts the unfinished
   * cancel-on-exit tasks, waits for every other task (including those
   * submitted while closing), then refuses new submissions. The wait cannot
   * be cut short by interrupting the closer; only the `closeTimeout` can.
   */
  readonly close: Effect.Effect<void> = Effect.uninterruptible(Effect.withFiber((closer) => {
    if (this.phase === "open") {
      this.phase = "closing"
      this.paused = false // the queue must drain
      this.cancelQueued(Exit.interrupt(closer.id))
      // then the started ones, the newest first: the permits they free go to
      // queued tasks that stay. (An executor whose tasks only relay work
      // queued elsewhere, as a cluster submitter's do, tells that queue of
      // the newest — likely still waiting there — before an older one frees
      // a place in it.)
      const started = Array.from(this.startedCancelOnExit)
      for (let i = started.length - 1; i >= 0; i--) this.interruptTask(started[i]!, closer.id)
      // armed even when idle now: a task may still come while closing (from an
      // observer the close runs after), and the settling cancels it
      if (this.config.closeTimeout !== undefined) {
        this.graceTimer = Timer.schedule(closer.context, this.config.closeTimeout, () => this.cutShort(closer.id))
      }
    }
    return Effect.callback<void>((resume) => {
      if (this.phase !== "closed") {
        this.closeWaiters.push(() => resume(Effect.void))
        // nothing may be left to finish: decide now (or after queued observers)
        if (this.idle) this.settleAfterObservers()
        return
      }
      resume(Effect.void)
    })
  }))

  /**
   * The grace period has passed: every unfinished task is interrupted — the
   * queued ones first, so that no permit freed meanwhile goes to them — and
   * listed for the report. The close still waits until each has ended.
   */
  private cutShort(by: number): void {
    this.graceTimer = undefined
    if (this.phase !== "closing") return
    const cutOff: Array<InterruptedTask & { readonly record: TaskRecord<any, any> }> = this.cutOff = []
    this.endQueued(Exit.interrupt(by), (record) => {
      cutOff.push({ taskId: record.id, taskName: record.name, state: "queued", record })
      return true
    })
    for (const record of Array.from(this.holding!)) {
      if (record.state === DONE) continue
      cutOff.push({ taskId: record.id, taskName: record.name, state: "running", record })
      this.interruptTask(record, by)
    }
  }

  /**
   * Rule 1 for queued tasks: removes the cancel-on-exit ones from the queue
   * and ends them with `exit`. It runs before any running task is
   * interrupted, so that no permit freed meanwhile goes to a doomed task.
   */
  private cancelQueued(exit: Exit.Exit<never>): void {
    this.endQueued(exit, (record) => record.submission.cancelOnExit)
  }

  /**
   * Ends with `exit` every queued task `which` picks. The pump is held
   * meanwhile: the observers of an ended task run at once and may free a
   * permit (interrupt a running task, `resize`), which must not go to a
   * queued task about to be ended — that one would start, then be counted
   * as ended while its fiber runs on.
   */
  private endQueued(exit: Exit.Exit<never>, which: (record: TaskRecord<any, any>) => boolean): void {
    const pumping = this.pumping
    this.pumping = true // pump once the walk is done, below
    try {
      // Ended records stay in the queue (stale) until the compaction below;
      // the walk skips them, and those an observer ends meanwhile.
      this.queue.forEach((entry) => {
        const record = entry as TaskRecord<any, any>
        if (which(record)) this.finish(record, exit)
      })
    } finally {
      this.pumping = pumping
    }
    this.queue.compact()
    // a task ended above may have run code that freed a permit
    if (pumping) this.repump = true
    else this.pump()
  }

  /** Takes the re-raisable failures not yet reported, in submission order. */
  private takeFailures(): Array<TaskRecord<any, any>> | undefined {
    if (this.failures.length === 0) return undefined
    const records = this.failures.sort((a, b) => a.id - b.id)
    this.failures = []
    return records
  }

  /**
   * Rule 4: the re-raisable failures not yet reported, as one error naming
   * the first in submission order; reported failures are not reported again.
   */
  private takeFailure(): TaskFailedError | undefined {
    const records = this.takeFailures()
    return records === undefined ? undefined : toError(records)
  }

  /**
   * What the exit raises once closed: a {@link CloseTimeoutError} when the
   * grace period passed (carrying the failures not reported), otherwise the
   * failures not reported as in {@link takeFailure}.
   */
  private takeExitFailure(): TaskFailedError | CloseTimeoutError | undefined {
    if (this.cutOff === undefined) return this.takeFailure()
    const records = this.takeFailures() ?? []
    // a task that ended otherwise once interrupted (it succeeded, or failed) is reported as such
    const interrupted: Array<InterruptedTask> = []
    const endedOtherwise: Array<InterruptedTask> = []
    for (const { record, state, taskId, taskName } of this.cutOff.sort((a, b) => a.taskId - b.taskId)) {
      const exit = record.exit
      const stopped = exit !== undefined && Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)
      ;(stopped ? interrupted : endedOtherwise).push({ taskId, taskName, state })
    }
    this.cutOff = []
    return new CloseTimeoutError({
      timeout: Duration.millis(this.config.closeTimeout!),
      interrupted,
      endedOtherwise,
      failures: records.map(toFailure)
    })
  }

  /**
   * Rule 4 at the exit, once closed: waits for the joins that are handing
   * failures over (they fail with them, or put them back if interrupted
   * first), then takes what nobody reported ({@link takeExitFailure}).
   */
  readonly finalFailure: Effect.Effect<TaskFailedError | CloseTimeoutError | undefined> = Effect.callback(
    (resume) => {
      if (this.handing === 0) return resume(Exit.succeed(this.takeExitFailure()))
      this.handingWaiters.push(() => resume(Exit.succeed(this.takeExitFailure())))
    }
  )

  /**
   * Waits like `awaitIdle`, then fails with the failures not yet reported.
   * They are taken and handed to the joiner in one step, inside the wake-up;
   * if the joiner is interrupted before the failure reaches its exit (a
   * `timeout` or `race` that fires at that moment), they are put back, to be
   * reported by the next `join` or by the exit.
   */
  readonly join: Effect.Effect<void, TaskFailedError> = Effect.suspend(() => {
    let taken: Array<TaskRecord<any, any>> | undefined
    let error: TaskFailedError | undefined
    const deliver = (resume: (effect: Effect.Effect<void, TaskFailedError>) => void) => {
      taken = this.takeFailures()
      if (taken === undefined) return resume(Effect.void)
      this.handing++
      error = toError(taken)
      resume(Effect.fail(error))
    }
    return Effect.onExit(
      Effect.callback<void, TaskFailedError>((resume) => {
        if (this.idleNow()) return deliver(resume)
        return this.onIdle(() => deliver(resume))
      }),
      (exit) =>
        Effect.sync(() => {
          if (taken === undefined) return
          if (!carries(exit, error)) this.failures.push(...taken)
          if (--this.handing > 0) return
          const waiters = this.handingWaiters
          this.handingWaiters = []
          for (let i = 0; i < waiters.length; i++) wake(waiters[i]!, undefined)
        })
    )
  })

  /** The unfinished tasks (see `taskTree.ts`). */
  readonly tasks: Effect.Effect<ReadonlyArray<TaskInfo>> = Effect.sync(() =>
    this.telemetry.tree.snapshot(
      this.running === 0 ? [] : this.runningTasks(),
      (f) => this.queue.forEachInOrder((entry) => f(entry as TaskRecord<any, any>))
    )
  )

  /** The tasks holding a permit, in no order. */
  private runningTasks(): Array<TaskRecord<any, any>> {
    const out = Array.from(this.unscoped)
    this.scopes.forEachRunning((task) => out.push(task as TaskRecord<any, any>))
    return out
  }

  /** Every task's steps from now on (see `taskTree.ts`). */
  get changes(): Stream.Stream<TaskEvent> {
    return this.telemetry.tree.changes
  }

  readonly stats: Effect.Effect<Stats> = Effect.sync(() => this.counters())

  /** The counters, as `stats` reports them and the metric series read them. */
  private counters(): Stats {
    return {
      submitted: this.submitted,
      queued: this.queued,
      running: this.running,
      succeeded: this.succeeded,
      failed: this.failed,
      interrupted: this.interrupted,
      timedOut: this.timedOut
    }
  }
}

const toFailure = (record: TaskRecord<any, any>): TaskFailure => ({
  taskId: record.id,
  taskName: record.name,
  cause: (record.exit as Exit.Failure<unknown, unknown>).cause
})

/** One error for failed task records, naming the first in submission order. */
const toError = (records: ReadonlyArray<TaskRecord<any, any>>): TaskFailedError => {
  const failures = records.map(toFailure)
  return TaskFailedError.fromFailures(failures as [TaskFailure, ...Array<TaskFailure>])
}

/**
 * Rule 4 when the owner's own error wins: the task failures are not raised,
 * but they are not dropped either — they are logged as a warning with the
 * error that carries them.
 */
const logUnraised = (failure: TaskFailedError | CloseTimeoutError): Effect.Effect<void> =>
  Effect.logWarning("taskscope: task failures not raised because the scope already failed", failure)

/**
 * Rule 4 for an owner that can fail (`scoped`): a successful owner fails with
 * the task failure; a failed owner's error wins and the task failure is
 * logged; an interrupted owner is still interrupted, and the task failure
 * rides along in the same cause so that it is not lost.
 */
export const resolveExit = <A, E>(
  owner: Exit.Exit<A, E>,
  failure: TaskFailedError | CloseTimeoutError | undefined
): Effect.Effect<A, E | TaskFailedError | CloseTimeoutError> => {
  if (failure === undefined) return owner
  if (Exit.isSuccess(owner)) return Exit.fail(failure)
  if (Cause.hasInterruptsOnly(owner.cause)) return Exit.failCause(Cause.combine(owner.cause, Cause.fail(failure)))
  return Effect.andThen(logUnraised(failure), owner)
}

/**
 * Rule 4 for a scope finalizer (`make`, `layer`), which cannot fail with a
 * typed error: closes the executor, then turns failures nobody joined into a
 * defect carrying the `TaskFailedError`. When the scope itself failed, its
 * error wins and the task failures are logged instead of raised.
 */
export const finalize = (core: ExecutorCore, scopeExit: Exit.Exit<unknown, unknown>): Effect.Effect<void> =>
  Effect.flatMap(Effect.andThen(core.close, core.finalFailure), (failure) => {
    if (failure === undefined) return Effect.void
    if (Exit.isFailure(scopeExit) && !Cause.hasInterruptsOnly(scopeExit.cause)) return logUnraised(failure)
    return Effect.die(failure)
  })

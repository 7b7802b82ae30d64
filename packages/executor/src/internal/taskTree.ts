/**
 * The task tree of one executor: which tasks are unfinished, who submitted
 * them, and the stream of their steps (`changes`).
 *
 * What every task pays, whether or not anyone looks: two fields on its
 * record (a queued task is a record, and a million queued records are a
 * million of them: each field is GC work, so the fields are few) and
 * finding its parent (one context lookup per submitting context, cached for
 * the next submission from the same one; a small object when there is a
 * parent). The tree keeps no list of its own: the running tasks are those
 * named by the executor's task scopes in use (see `taskScope.ts`), the
 * queued ones are in the executor's queue. No clock is read for the tree:
 * times are stamped by the telemetry (see `telemetry.ts`) for the tasks it
 * times. Everything else — a {@link TaskInfo} per task, an event per step —
 * is built only when `tasks` runs or while a `changes` stream is consumed.
 *
 * A task's parent is found through {@link CurrentTask}, a mutable cell in
 * the context its fiber (and every fiber it forks) runs with: the cell of a
 * pooled task scope (see `taskScope.ts`) names the task that uses it. A
 * fiber that outlives its task (forked as a daemon) keeps the cell, which a
 * later task may take over: {@link taskOf} tells that fiber apart by its
 * age, so its submissions have no parent once its task ended.
 *
 * @internal
 */
import type * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Outcome, TaskEvent, TaskInfo, TaskRef } from "../TaskEvent.ts"

/** What the tree reads and writes on a task record. */
export interface Tracked {
  readonly id: number
  readonly name: string
  readonly label: string | undefined
  /** 0 queued, 1 starting, 2 running, 3 done (the core's states) */
  readonly state: number
  /** Whether its own deadline ended it. */
  readonly timedOut: boolean
  /** The task that submitted it. */
  parent: Parent | undefined
  /** When it was submitted and started, for a timed task. */
  times: Times | undefined
  /** Ends the task's span with its exit, for a task that runs in one (set when its fiber starts). */
  endSpan: ((exit: Exit.Exit<unknown, unknown>) => void) | undefined
  /** Its fiber, once its first synchronous run has returned and while it runs. */
  readonly fiber: Fiber.Fiber<unknown, unknown> | undefined
}

/**
 * A task's parent: its executor's name and its id — not the executor itself,
 * so that a handle kept after its task ended does not keep the parent's
 * executor (its pools, its task tree) alive. Handed out as it is in `TaskInfo`.
 */
export type Parent = TaskRef

/**
 * The times of a timed task, epoch milliseconds; `submittedAt` is
 * `undefined` for a task that was not timed when it was submitted and became
 * timed later (the first follower of `changes` came while it was queued).
 */
export interface Times {
  readonly submittedAt: number | undefined
  startedAt: number | undefined
  /** One of the 1 in `SAMPLE` tasks whose times the metrics' timers observe (see `telemetry.ts`). */
  readonly sampled: boolean
}

/** The task whose fiber (or a fiber it forked) runs with this cell in its context. */
export interface Cell {
  task: Tracked | undefined
  tree: TaskTree | undefined
}

/** The cell of the task the current fiber works for. */
export const CurrentTask = Context.Reference<Cell | undefined>("@taskscope/executor/CurrentTask", {
  defaultValue: () => undefined
})

/**
 * The task `fiber` works for: the one its context's cell names, if `fiber`
 * is that task's own or was forked after it started. Fiber ids grow with
 * every fiber made, so a fiber older than the task is a daemon of an
 * earlier task whose scope (and cell) this one took over — it works for no
 * running task. (A fiber such a daemon forks later is not told apart.)
 * While the task's first synchronous run has not returned its fiber is not
 * known yet, and no other fiber runs.
 */
export const taskOf = (fiber: Fiber.Fiber<unknown, unknown>): Tracked | undefined => {
  const task = fiber.getRef(CurrentTask)?.task
  return task !== undefined && serves(fiber, task) ? task : undefined
}

/** Whether `fiber`, with `task`'s cell in its context, works for it (see {@link taskOf}). */
const serves = (fiber: Fiber.Fiber<unknown, unknown>, task: Tracked): boolean => {
  const own = task.fiber
  return own === undefined || fiber.id >= own.id
}

/** The clock reading of the executor: epoch milliseconds. */
export type Now = () => number

/** Events of one synchronous run of the executor, at most `capacity` of them (a longer run makes several). */
type Batch = ReadonlyArray<TaskEvent>

/** How many batches a subscriber may fall behind before the newest are dropped. */
const BATCHES = 16

const STATES = ["queued", "running", "running", "done"] as const

/** Default capacity of the `changes` buffer. */
export const CHANGES_CAPACITY = 4096

export class TaskTree {
  readonly executor: string
  readonly now: Now
  /**
   * Each subscriber's own buffer of batches: one that falls behind loses
   * only its own newest batches, never another subscriber's.
   */
  private readonly queues = new Set<Queue.Queue<Batch, Cause.Done>>()
  /** Events of the current synchronous run, published together once it ends. */
  private pending: Array<TaskEvent> | undefined = undefined
  /**
   * Subscribers that joined while a batch was under way, and where in it they
   * joined: they get only the rest of it (what happened after they came).
   */
  private readonly joinedAt = new Map<Queue.Queue<Batch, Cause.Done>, number>()
  private sequence = 0
  private finished = false
  private readonly capacity: number
  /** The last submitting context and the cell found in it. */
  private lastContext: Context.Context<never> | undefined = undefined
  private lastCell: Cell | undefined = undefined
  /** Called when the number of subscribers goes from 0 to 1 or from 1 to 0. */
  private readonly onFollowed: (followed: boolean) => void

  constructor(executor: string, now: Now, capacity: number, onFollowed: (followed: boolean) => void) {
    this.executor = executor
    this.now = now
    this.capacity = capacity
    this.onFollowed = onFollowed
  }

  /** Records under which task a new task was submitted (see {@link taskOf}). */
  submitted(task: Tracked, submitter: Fiber.Fiber<unknown, unknown>): void {
    const context = submitter.context
    let cell = this.lastCell
    if (context !== this.lastContext) {
      cell = this.lastCell = Context.get(context, CurrentTask)
      this.lastContext = context
    }
    const parent = cell?.task
    if (parent !== undefined && serves(submitter, parent)) {
      task.parent = { executor: cell!.tree!.executor, id: parent.id }
    }
  }

  info(task: Tracked): TaskInfo {
    return {
      executor: this.executor,
      id: task.id,
      name: task.name,
      state: STATES[task.state] ?? "done",
      submittedAt: task.times?.submittedAt,
      startedAt: task.times?.startedAt,
      parent: task.parent
    }
  }

  /** The unfinished tasks: those holding a permit in id order, then the queue in order. */
  snapshot(holding: Array<Tracked>, forEachQueued: (f: (task: Tracked) => void) => void): ReadonlyArray<TaskInfo> {
    const out: Array<TaskInfo> = []
    holding.sort((a, b) => a.id - b.id)
    for (let i = 0; i < holding.length; i++) out.push(this.info(holding[i]!))
    forEachQueued((task) => out.push(this.info(task)))
    return out
  }

  // ---------------------------------------------------------------------------
  // changes
  // ---------------------------------------------------------------------------

  /** Whether anyone follows `changes` now. */
  get followed(): boolean {
    return this.queues.size > 0
  }

  publishSubmitted(task: Tracked): void {
    this.publish({ _tag: "Submitted", sequence: ++this.sequence, task: this.info(task) })
  }

  publishStarted(task: Tracked): void {
    this.publish({ _tag: "Started", sequence: ++this.sequence, task: this.info(task) })
  }

  publishEnded(task: Tracked, outcome: Outcome, endedAt: number): void {
    this.publish({ _tag: "Ended", sequence: ++this.sequence, task: this.info(task), outcome, endedAt })
  }

  /**
   * Adds an event to the batch of the current synchronous run, published as
   * one message a microtask later: a subscriber is woken once per batch, not
   * per event (following cost three times less so). A batch that reaches
   * `capacity` is published at once and the next one begins, so a long run
   * (a queue of thousands draining at once) reaches a subscriber whole as far
   * as its buffer's free batches go (`BATCHES` when it has kept up). Nothing
   * waits: a batch for a subscriber `BATCHES` behind is dropped by its own
   * buffer, so a slow subscriber never holds the executor or another
   * subscriber up; the gap shows in its `sequence`.
   */
  private publish(event: TaskEvent): void {
    if (this.queues.size === 0) return
    let pending = this.pending
    if (pending === undefined) {
      pending = this.pending = []
      queueMicrotask(this.flush)
    }
    pending.push(event)
    if (pending.length >= this.capacity) this.flush()
  }

  /** Publishes the pending events as one message (one wake-up of each subscriber). */
  private readonly flush = (): void => {
    const pending = this.pending
    this.pending = undefined
    if (pending === undefined) return
    for (const queue of this.queues) {
      const from = this.joinedAt.get(queue) ?? 0
      if (from === 0) Queue.offerUnsafe(queue, pending)
      else if (from < pending.length) Queue.offerUnsafe(queue, pending.slice(from))
    }
    this.joinedAt.clear()
  }

  /**
   * Ends every stream of `changes` once the executor has closed: each
   * subscriber first gets what is buffered for it, then the end.
   */
  close(): void {
    // the last submitter's context and its cell: kept for speed while open, not after
    this.lastContext = undefined
    this.lastCell = undefined
    this.finished = true
    this.flush()
    for (const queue of this.queues) Queue.endUnsafe(queue)
  }

  /** The events from the moment the stream starts; ends when the executor closes. */
  readonly changes: Stream.Stream<TaskEvent> = Stream.unwrap(Effect.suspend(() => this.follow()))

  private follow(): Effect.Effect<Stream.Stream<TaskEvent>, never, Scope.Scope> {
    if (this.finished) return Effect.succeed(Stream.empty)
    const subscribed = Effect.acquireRelease(
      Effect.flatMap(Queue.dropping<Batch, Cause.Done>(BATCHES), (queue) =>
        Effect.sync(() => {
          // (closed meanwhile: the stream ends at once)
          if (this.finished) Queue.endUnsafe(queue)
          else {
            // the batch under way holds events from before this subscriber came: it gets the rest
            const under = this.pending?.length ?? 0
            if (under > 0) this.joinedAt.set(queue, under)
            if (this.queues.add(queue).size === 1) this.onFollowed(true)
          }
          return queue
        })),
      (queue) =>
        Effect.sync(() => {
          this.joinedAt.delete(queue)
          if (this.queues.delete(queue) && this.queues.size === 0) this.onFollowed(false)
        })
    )
    return Effect.map(subscribed, (queue) => Stream.flattenIterable(Stream.fromQueue(queue)))
  }
}

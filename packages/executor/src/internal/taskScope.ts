/**
 * Rule 5's scopes: every task runs in a `Scope` of its own, closed when the
 * task ends, so that what it acquires lives exactly as long as it runs (the
 * submitter's scope may close long before, or long after).
 *
 * A task's scope is the `Scope` service of the context its fiber starts
 * with. Deriving that context (one `Context.add`) and the scope for every
 * task cost a quarter of a trivial task's time, so both are pooled: a
 * {@link Slot} — a scope and the context that carries it — is taken when a
 * task starts and handed back when it ends, if the task left its scope empty
 * (no finalizer registered, or all removed again). A scope that holds
 * finalizers is closed for good and its slot dropped.
 *
 * Slots are pooled per submitter context: the derived context inherits
 * everything else from it. At most {@link MAX_FREE} idle slots are kept per
 * submitter context (and one spare: the slot released last, which the next
 * task from the same context takes back first), so a burst of concurrent
 * tasks leaves no lasting footprint.
 *
 * One caveat of reuse, for code that keeps a task's scope after the task
 * ended (a bug in itself): a finalizer added to it then runs when the next
 * task using the slot ends, not at once.
 *
 * The slots also tell which tasks are running, at no cost per task: a slot
 * in use names its task in its cell, so {@link TaskScopes.forEachRunning}
 * walks every slot of every pool. The first pool is listed directly, the
 * others through `WeakRef`s (a pool keeps its submitter context; a strong
 * list would keep every context that ever submitted). Most executors have
 * one pool only, and so no `WeakRef`: a `WeakRef` keeps its target alive
 * until the current job ends, so that a loop of `await`s that never yields
 * to the event loop kept every executor it made and closed, whole. A pool
 * lists its slots, taking out the ones it drops.
 *
 * @internal
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import { type Cell, CurrentTask, type TaskTree, type Tracked } from "./taskTree.ts"

/** A task's scope and the context its fiber runs with. */
export interface Slot {
  readonly scope: Scope.Closeable
  readonly context: Context.Context<never>
  /** `Effect.runForkWith(context)`, made once per slot. */
  readonly run: <A, E>(effect: Effect.Effect<A, E>) => Fiber.Fiber<A, E>
  readonly pool: Pool
  /** Names the task using the slot (see `taskTree.ts`). */
  readonly cell: Cell
  /** Its place in `pool.all`. */
  index: number
}

interface Pool {
  readonly submitter: Context.Context<never>
  /**
   * Idle slots: the first `idle` entries. The count is kept apart from the
   * array's length so that taking the last slot and giving it back, as every
   * trivial task does, never makes V8 shrink and regrow the array.
   */
  readonly free: Array<Slot | undefined>
  idle: number
  /** Every slot of the pool, in use or idle. */
  readonly all: Array<Slot>
}

/**
 * Effect's one "no finalizer" state object: every scope starts with it and
 * returns to it when its last finalizer is removed, so comparing identities
 * tells an empty scope without reading the state's tag.
 */
const EMPTY = Scope.makeUnsafe().state

/** Idle slots kept per submitter context. */
const MAX_FREE = 128

/** The scopes of one executor's tasks. */
export class TaskScopes {
  private readonly pools = new WeakMap<Context.Context<never>, Pool>()
  /** Every pool, for {@link forEachRunning}; swept of the collected ones as it grows. */
  private readonly listed: Array<WeakRef<Pool>> = []
  /** The first pool made (kept for the executor's lifetime, with its submitter context). */
  private first: Pool | undefined = undefined
  /** The length of `listed` at which it is swept next. */
  private sweepAt = 64
  /** The pool used last: most submissions come from the same context. */
  private last: Pool | undefined = undefined
  /**
   * The idle slot released last, kept out of its pool's free list: a task
   * that starts after the one before it ended (every task that ends in its
   * first run) takes it back without touching the pool.
   */
  private spare: Slot | undefined = undefined
  /** Adds what else the executor's tasks carry in their context. */
  private readonly extend: (context: Context.Context<never>) => Context.Context<never>

  private readonly tree: TaskTree

  constructor(extend: (context: Context.Context<never>) => Context.Context<never>, tree: TaskTree) {
    this.extend = extend
    this.tree = tree
  }

  /** A slot for `task`, submitted from `submitter`'s context. */
  acquire(submitter: Context.Context<never>, task: Tracked): Slot {
    const spare = this.spare
    if (spare !== undefined && spare.pool.submitter === submitter) {
      this.spare = undefined
      spare.cell.task = task
      return spare
    }
    const last = this.last
    if (last !== undefined && last.submitter === submitter && last.idle > 0) return takeIdle(last, task)
    return this.acquireSlow(submitter, task)
  }

  /** {@link acquire} from another submitter context than the last one, or from a pool with no idle slot. */
  private acquireSlow(submitter: Context.Context<never>, task: Tracked): Slot {
    let pool = this.last
    if (pool === undefined || pool.submitter !== submitter) {
      pool = this.pools.get(submitter)
      if (pool === undefined) {
        pool = { submitter, free: [], idle: 0, all: [] }
        this.pools.set(submitter, pool)
        this.list(pool)
      }
      this.last = pool
      if (pool.idle > 0) return takeIdle(pool, task)
    }
    const scope = Scope.makeUnsafe()
    const cell: Cell = { task, tree: this.tree }
    const context = this.extend(Context.add(Context.add(submitter, Scope.Scope, scope), CurrentTask, cell))
    const slot: Slot = { scope, context, run: Effect.runForkWith(context), pool, cell, index: pool.all.length }
    pool.all.push(slot)
    return slot
  }

  /** Adds a new pool to the list, sweeping out the collected ones when the list has doubled. */
  private list(pool: Pool): void {
    if (this.first === undefined) {
      this.first = pool
      return
    }
    const listed = this.listed
    if (listed.length >= this.sweepAt) {
      let kept = 0
      for (let i = 0; i < listed.length; i++) {
        if (listed[i]!.deref() !== undefined) listed[kept++] = listed[i]!
      }
      listed.length = kept
      this.sweepAt = Math.max(64, 2 * kept)
    }
    listed.push(new WeakRef(pool))
  }

  /**
   * Ends a task's scope with its exit: returns the finalizers to run, or
   * `undefined` when there are none — the slot then goes back to its pool.
   * A slot with finalizers leaves the pool for good, its cell still naming
   * the task: the caller clears it once they have run.
   */
  release(slot: Slot, exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> | undefined {
    const pool = slot.pool
    if (slot.scope.state !== EMPTY) {
      // the cell names the task until its finalizers have run (the caller
      // clears it): what they submit is the task's
      drop(slot)
      return Scope.closeUnsafe(slot.scope, exit)
    }
    slot.cell.task = undefined
    if (this.spare === undefined) this.spare = slot
    else if (pool.idle < MAX_FREE) pool.free[pool.idle++] = slot
    else drop(slot)
    return undefined
  }

  /** Calls `f` with the task of every slot in use: the tasks running now. */
  forEachRunning(f: (task: Tracked) => void): void {
    if (this.first !== undefined) forEachInUse(this.first, f)
    for (const ref of this.listed) {
      const pool = ref.deref()
      if (pool !== undefined) forEachInUse(pool, f)
    }
  }
}

/** Calls `f` with the task of every slot of `pool` in use. */
const forEachInUse = (pool: Pool, f: (task: Tracked) => void): void => {
  for (const slot of pool.all) {
    if (slot.cell.task !== undefined) f(slot.cell.task)
  }
}

/** Takes the last idle slot of `pool` for `task`. */
const takeIdle = (pool: Pool, task: Tracked): Slot => {
  const slot = pool.free[--pool.idle]!
  pool.free[pool.idle] = undefined
  slot.cell.task = task
  return slot
}

/** Takes a slot out of its pool's list for good (swapping the last one into its place). */
const drop = (slot: Slot): void => {
  const all = slot.pool.all
  const last = all.pop()!
  if (last !== slot) {
    all[slot.index] = last
    last.index = slot.index
  }
}

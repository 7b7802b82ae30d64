/**
 * Rule 5's scopes: every task runs in a `Scope` of its own, closed when the
 * task ends, so that what it acquires lives exactly as long as it runs (the
 * submitter's scope may close long before, or long after).
 *
 * A task's scope is the `Scope` service of the context its fiber starts
 * with. Deriving that context (a `Context.add` for the scope, one for the
 * cell naming the task, see `taskTree.ts`) and the scope for every task cost
 * a quarter of a trivial task's time, so both are pooled: a
 * {@link Slot} — a scope and the context that carries it — is taken when a
 * task starts and handed back when it ends, if the task left its scope empty
 * (no finalizer registered, or all removed again). A scope that holds
 * finalizers is closed for good and its slot dropped.
 *
 * Slots are pooled per submitter context: the derived context inherits
 * everything else from it. Most submissions come from a few contexts that
 * submit many tasks (a loop, a few producers); a server's requests each
 * submit from a context of their own, a few tasks at most. So a context gets
 * a pool only at its {@link POOL_AFTER}th task in a short while (while it is
 * among the last {@link RECENT} contexts without one); until then, and for
 * contexts that submit a few tasks, a slot is made for the task and dropped
 * when it ends ("loose"). At most {@link KEPT} pools are kept, found by comparing
 * identities (no `WeakMap`, whose hashing of every new context cost more
 * than the slot), the oldest given up for a new one; each keeps at most
 * {@link MAX_FREE} idle slots, and there is one spare: a slot released
 * while there was none, which the next task from the same context takes
 * back first. So what the executor keeps is bounded — its pools, the recent
 * contexts, the spare — whatever the number of contexts that submit, and it
 * lets go of all of them when it closes.
 *
 * One caveat of reuse, for code that keeps a task's scope after the task
 * ended (a daemon fiber forked by the task, say; a bug in itself): a
 * finalizer added to it runs when the slot is next taken (it is then given
 * up, see `takeIdle`) or given up otherwise (its pool given up, the executor
 * closed), not at once — and when it is added while a later task already
 * uses the slot, at that task's end. A slot given up has its scope closed.
 *
 * The slots also tell which tasks are running, at no cost per task: a slot
 * in use names its task in its cell, so {@link TaskScopes.forEachRunning}
 * walks every slot of every kept pool and the loose ones. A pool given up
 * hands its slots in use to the loose ones, which are dropped when their
 * task ends.
 *
 * @internal
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import { type Cell, CurrentTask, type TaskTree, type Tracked } from "./taskTree.ts"

/** A task's scope and the context its fiber runs with. */
export interface Slot {
  readonly scope: Scope.Closeable
  readonly context: Context.Context<never>
  /** `Effect.runForkWith(context)`, made once per slot. */
  readonly run: <A, E>(effect: Effect.Effect<A, E>) => Fiber.Fiber<A, E>
  /** Its pool: a kept one, or the loose slots (a pool given up moves its slots in use there). */
  pool: Pool
  /** Names the task using the slot (see `taskTree.ts`). */
  readonly cell: Cell
  /** Its place in `pool.all`. */
  index: number
}

interface Pool {
  /** `undefined` for the loose slots (see {@link TaskScopes.loose}). */
  readonly submitter: Context.Context<never> | undefined
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

/** Idle slots kept per pool. */
const MAX_FREE = 128

/** Pools kept per executor. */
const KEPT = 16

/** Contexts without a pool remembered, to give one that keeps submitting a pool (a few producers taking turns). */
const RECENT = 8

/** Loose slots a context has (while among the recent ones) before it gets a pool. */
const POOL_AFTER = 4

/** The scopes of one executor's tasks. */
export class TaskScopes {
  /** The kept pools (see {@link KEPT}); a new one takes the place of the oldest. */
  private readonly pools: Array<Pool> = []
  private poolsAt = 0
  /**
   * The slots in use made for a context with no pool, and those of pools
   * given up: dropped when their task ends.
   */
  private readonly loose: Pool = { submitter: undefined, free: [], idle: 0, all: [] }
  /** The contexts the last loose slots were made for, a ring (see {@link RECENT}). */
  private readonly recent: Array<Context.Context<never> | undefined> = []
  /** How many loose slots each context of the ring has had. */
  private readonly recentCount: Array<number> = []
  private recentAt = 0
  /** The pool used last: most submissions come from the same context. */
  private last: Pool | undefined = undefined
  /**
   * An idle slot kept out of its pool's free list (the first released while
   * there was none): a task that starts after the one before it ended (every
   * task that ends in its first run) takes it back without touching the pool.
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
      if (spare.scope.state === EMPTY) {
        spare.cell.task = task
        return spare
      }
      retire(spare, Exit.void) // used since its task ended (see `takeIdle`)
    }
    const last = this.last
    if (last !== undefined && last.submitter === submitter && last.idle > 0) {
      const idle = takeIdle(last)
      if (idle !== undefined) return claim(idle, task)
    }
    return this.acquireSlow(submitter, task)
  }

  /** {@link acquire} from another submitter context than the last one, or from a pool with no idle slot. */
  private acquireSlow(submitter: Context.Context<never>, task: Tracked): Slot {
    let pool = this.last
    if (pool === undefined || pool.submitter !== submitter) {
      pool = this.poolOf(submitter)
      if (pool === undefined) {
        if (!this.seenRecently(submitter)) return this.make(submitter, task, this.loose)
        pool = this.keep(submitter)
      }
      this.last = pool
      const idle = takeIdle(pool)
      if (idle !== undefined) return claim(idle, task)
    }
    return this.make(submitter, task, pool)
  }

  /** The kept pool of `submitter`, if it has one. */
  private poolOf(submitter: Context.Context<never>): Pool | undefined {
    const pools = this.pools
    for (let i = 0; i < pools.length; i++) {
      if (pools[i]!.submitter === submitter) return pools[i]
    }
    return undefined
  }

  /**
   * Counts a loose slot for `submitter` in the ring of recent contexts;
   * whether this was its {@link POOL_AFTER}th while in it (it then leaves the
   * ring, to get a pool).
   */
  private seenRecently(submitter: Context.Context<never>): boolean {
    const recent = this.recent
    for (let i = 0; i < recent.length; i++) {
      if (recent[i] === submitter) {
        if (++this.recentCount[i]! < POOL_AFTER) return false
        recent[i] = undefined
        return true
      }
    }
    recent[this.recentAt] = submitter
    this.recentCount[this.recentAt] = 1
    this.recentAt = (this.recentAt + 1) % RECENT
    return false
  }

  /** A new pool for `submitter`, in the place of the oldest kept one (given up). */
  private keep(submitter: Context.Context<never>): Pool {
    const pool: Pool = { submitter, free: [], idle: 0, all: [] }
    if (this.pools.length < KEPT) {
      this.pools.push(pool)
      return pool
    }
    const old = this.pools[this.poolsAt]!
    this.pools[this.poolsAt] = pool
    this.poolsAt = (this.poolsAt + 1) % KEPT
    this.giveUp(old)
    return pool
  }

  /** Closes the idle slots of `pool`; its slots in use become loose, dropped when their task ends. */
  private giveUp(pool: Pool): void {
    if (this.last === pool) this.last = undefined
    if (this.spare !== undefined && this.spare.pool === pool) this.spare = undefined
    const loose = this.loose
    for (const slot of pool.all) {
      if (slot.cell.task === undefined) {
        closeIdle(slot, Exit.void)
        continue
      }
      slot.pool = loose
      slot.index = loose.all.length
      loose.all.push(slot)
    }
  }

  /**
   * The executor has closed, so no task is running: closes every idle slot
   * and forgets the pools and the contexts they were kept for.
   */
  close(): void {
    for (const pool of this.pools) this.giveUp(pool)
    this.pools.length = 0
    this.recent.length = 0
    this.recentCount.length = 0
    this.recentAt = 0
    this.poolsAt = 0
  }

  /** A new slot of `pool` for `task`, in use. */
  private make(submitter: Context.Context<never>, task: Tracked, pool: Pool): Slot {
    const scope = Scope.makeUnsafe()
    const cell: Cell = { task, tree: this.tree }
    const context = this.extend(Context.add(Context.add(submitter, Scope.Scope, scope), CurrentTask, cell))
    const slot: Slot = { scope, context, run: Effect.runForkWith(context), pool, cell, index: pool.all.length }
    pool.all.push(slot)
    return slot
  }

  /**
   * Ends a task's scope with its exit: returns the finalizers to run, or
   * `undefined` when there are none — the slot then goes back to its pool.
   * A slot with finalizers leaves its pool for good, its cell still naming
   * the task: the caller clears it once they have run.
   */
  release(slot: Slot, exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> | undefined {
    const pool = slot.pool
    if (slot.scope.state !== EMPTY) {
      drop(slot)
      const finalizers = Scope.closeUnsafe(slot.scope, exit)
      // the cell names the task until its finalizers have run (the caller
      // clears it): what they submit is the task's. A scope the task closed
      // itself has none left: the task has ended
      if (finalizers === undefined) slot.cell.task = undefined
      return finalizers
    }
    slot.cell.task = undefined
    if (pool === this.loose) retire(slot, exit)
    else if (this.spare === undefined) this.spare = slot
    else if (pool.idle < MAX_FREE) pool.free[pool.idle++] = slot
    else retire(slot, exit)
    return undefined
  }

  /** Calls `f` with the task of every slot in use: the tasks running now. */
  forEachRunning(f: (task: Tracked) => void): void {
    forEachInUse(this.loose, f)
    for (const pool of this.pools) forEachInUse(pool, f)
  }
}

/** Takes an idle slot out of its pool for good, closing its scope (see {@link closeIdle}). */
const retire = (slot: Slot, exit: Exit.Exit<unknown, unknown>): void => {
  drop(slot)
  closeIdle(slot, exit)
}

/**
 * Closes the scope of a slot that no task uses, given up: a finalizer added
 * to it since its task ended (a task's scope kept past the task, a bug in
 * itself) runs now, in a fiber of its own, and one added later runs at once,
 * as it would for any closed scope.
 */
const closeIdle = (slot: Slot, exit: Exit.Exit<unknown, unknown>): void => {
  const finalizers = Scope.closeUnsafe(slot.scope, exit)
  if (finalizers !== undefined) Effect.runForkWith(slot.context)(Effect.uninterruptible(finalizers))
}

/** Calls `f` with the task of every slot of `pool` in use. */
const forEachInUse = (pool: Pool, f: (task: Tracked) => void): void => {
  for (const slot of pool.all) {
    if (slot.cell.task !== undefined) f(slot.cell.task)
  }
}

/**
 * Takes the last idle slot of `pool` that is still fresh, if any. A slot
 * whose scope was used after its task ended — a finalizer added by a fiber
 * that outlived the task, or the scope closed — is not: handed to the next
 * task, that finalizer would run when the next task ends, with the next task
 * waiting for it. Such a slot is given up (its scope closed, running what
 * was added, as a closed scope runs what is added to it).
 */
const takeIdle = (pool: Pool): Slot | undefined => {
  while (pool.idle > 0) {
    const slot = pool.free[--pool.idle]!
    pool.free[pool.idle] = undefined
    if (slot.scope.state === EMPTY) return slot
    retire(slot, Exit.void)
  }
  return undefined
}

/** Hands `slot` to `task`. */
const claim = (slot: Slot, task: Tracked): Slot => {
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

/**
 * The queue discipline of an executor: which waiting task starts next.
 *
 * Two modes behind one interface:
 *
 * - FIFO (the fast path): while every task submitted so far has the default
 *   priority and no key, the queue is a singly linked list through the
 *   entries' `next` field — O(1) push and pop, no allocation.
 * - Ordered: from the first task with a priority or a key on, entries live
 *   in one *lane* per key (one more lane for tasks without a key). A lane
 *   keeps a FIFO per priority and its priorities in a max-heap, so its next
 *   entry is the first of its highest priority: (priority, highest first;
 *   submission, first first). The lanes that may start a task now — a
 *   queued entry, and fewer than `maxPerKey` of their tasks running — sit in
 *   a heap ordered by their next entry. Starting a task is O(log lanes),
 *   plus O(log priorities) when a priority empties; a saturated key leaves
 *   that heap, so it never blocks the keys behind it and no start scans
 *   past it.
 *
 * Entries that ended while queued (interrupted, timed out) are not searched
 * for: they stay in place, are skipped when they reach the front, and are
 * dropped in bulk by {@link TaskQueue.compact}. The executor counts the
 * queued ones; `length - queued` is the number of such stale entries.
 *
 * @internal
 */
import type { RoomWatcher } from "./waiters.ts"

/** The state of an entry that still waits; anything else is skipped. */
export const QUEUED = 0

/** What the queue needs of a task. */
export interface Entry {
  /** Increasing in submission order: the tie-breaker between equal priorities. */
  readonly id: number
  state: number
  /**
   * The queue's own field. While the entry is queued: the next entry of its
   * FIFO (read through {@link after}). Once it has started with a key: its
   * lane, so that {@link TaskQueue.ended} finds it without a lookup by key
   * (about 6% of the time per task with 1,000 keys, paired runs of 1e5).
   */
  next: Entry | Lane | undefined
  /**
   * The queue's too: the id of the entry after this one in its FIFO, written
   * with `next` (the tail is being written anyway). Taking an entry copies
   * the next one's order into its lane; reading it from here instead of from
   * the next entry, which will not start for a while and is out of cache,
   * made 1e5 queued I/O-like tasks with priorities and keys about 10% faster.
   */
  nextId: number
  readonly priority: number
  readonly key: string | undefined
}

/** The entry after `entry` in its FIFO (a queued entry's `next`). */
const after = (entry: Entry): Entry | undefined => entry.next as Entry | undefined

/** Up to this many priorities in a lane are found by a scan; beyond, by a `Map`. */
const SCAN = 16

/** The entries of one priority in one lane, in submission order (linked through `next`). */
class Level {
  readonly priority: number
  head: Entry | undefined = undefined
  tail: Entry | undefined = undefined
  constructor(priority: number) {
    this.priority = priority
  }
}

/**
 * The queued tasks of one key (or of no key), and how many of them run:
 * a FIFO per priority, the priorities in a max-heap, so that taking the
 * next entry is O(1) and only a new or emptied priority costs O(log levels).
 */
export class Lane {
  readonly key: string | undefined
  /** Priorities with entries, highest first (a binary heap). */
  private readonly levels: Array<Level> = []
  /** The levels by priority, once there are more than {@link SCAN} of them. */
  private byPriority: Map<number, Level> | undefined = undefined
  /** Entries held, stale ones included. */
  size = 0
  running = 0
  /** Position in the heap of runnable lanes, or -1. */
  index = -1
  /** The first entry's priority and id, copied here so that ordering lanes reads no entry. */
  priority = 0
  id = 0
  constructor(key: string | undefined) {
    this.key = key
  }

  /** Appends `entry`; returns whether it became the first entry. */
  push(entry: Entry): boolean {
    this.size++
    let level = this.level(entry.priority)
    if (level === undefined) {
      level = new Level(entry.priority)
      levelUp(this.levels, this.levels.push(level) - 1)
      if (this.byPriority !== undefined) this.byPriority.set(level.priority, level)
      else if (this.levels.length > SCAN) this.byPriority = new Map(this.levels.map((l) => [l.priority, l]))
    }
    const tail = level.tail
    if (tail === undefined) level.head = entry
    else {
      tail.next = entry
      tail.nextId = entry.id
    }
    level.tail = entry
    if (this.levels[0] !== level || level.head !== entry) return false
    this.priority = entry.priority
    this.id = entry.id
    return true
  }

  /** The level of `priority`, if it has entries: a scan of a few, a lookup beyond. */
  private level(priority: number): Level | undefined {
    if (this.byPriority !== undefined) return this.byPriority.get(priority)
    const levels = this.levels
    for (let i = 0; i < levels.length; i++) {
      if (levels[i]!.priority === priority) return levels[i]
    }
    return undefined
  }

  /** Nothing queued and nothing running: kept only for its key's next task (see `TaskQueue.wentIdle`). */
  isIdle(): boolean {
    return this.size === 0 && this.running === 0
  }

  /** The first entry (the lane must not be empty). */
  first(): Entry {
    return this.levels[0]!.head!
  }

  /** Takes the first entry (the lane must not be empty) and copies in the next one's order. */
  shift(): Entry {
    const levels = this.levels
    const level = levels[0]!
    const entry = level.head!
    level.head = after(entry)
    entry.next = undefined
    this.size--
    if (level.head !== undefined) {
      // the same level stays first: its next entry's order, without reading that entry
      this.id = entry.nextId
      return entry
    }
    level.tail = undefined
    this.byPriority?.delete(level.priority)
    const last = levels.pop()!
    if (levels.length > 0) {
      levels[0] = last
      levelDown(levels, 0)
      const top = levels[0]!
      this.priority = top.priority
      this.id = top.head!.id
    }
    return entry
  }

  /** Calls `f` on every entry held (the list is taken first: `f` may end entries). */
  entries(): Array<Entry> {
    const all: Array<Entry> = []
    for (const level of this.levels) {
      for (let entry = level.head; entry !== undefined; entry = after(entry)) all.push(entry)
    }
    return all
  }

  /** Drops the entries that are no longer queued; returns how many are left. */
  compact(): number {
    const kept = this.entries().filter((entry) => entry.state === QUEUED).sort((a, b) => a.id - b.id)
    for (const level of this.levels) level.head = level.tail = undefined
    this.levels.length = 0
    this.byPriority = undefined
    this.size = 0
    for (const entry of kept) {
      entry.next = undefined
      this.push(entry)
    }
    const first = this.levels[0]?.head
    if (first !== undefined) {
      this.priority = first.priority
      this.id = first.id
    }
    return kept.length
  }
}

const levelUp = (levels: Array<Level>, i: number): void => {
  const level = levels[i]!
  while (i > 0) {
    const parent = (i - 1) >> 1
    if (levels[parent]!.priority >= level.priority) break
    levels[i] = levels[parent]!
    i = parent
  }
  levels[i] = level
}

const levelDown = (levels: Array<Level>, i: number): void => {
  const n = levels.length
  const level = levels[i]!
  for (;;) {
    let child = 2 * i + 1
    if (child >= n) break
    if (child + 1 < n && levels[child + 1]!.priority > levels[child]!.priority) child++
    if (levels[child]!.priority <= level.priority) break
    levels[i] = levels[child]!
    i = child
  }
  levels[i] = level
}

/** Idle lanes a queue may keep whatever the number of live ones (see `TaskQueue.wentIdle`). */
const IDLE_LANES = 1024

/** The order arrays of a queue that has not yet ordered anything: empty, shared. */
const NO_ORDER = new Float64Array(0)

/** A watcher for a queue nobody watches. */
const UNWATCHED: RoomWatcher = { watching: false, roomFor: () => {}, roomForAll: () => {} }

/**
 * The queue of one executor. `maxPerKey` bounds the running tasks of each
 * key (`Infinity` when the executor has no per-key limit).
 */
export class TaskQueue {
  private readonly maxPerKey: number
  /** Linked (FIFO) or heaped (ordered) entries, stale ones included. */
  length = 0
  /** Whether an entry with a priority or a key has been seen: starts then go through {@link pop}. */
  ordered = false
  // FIFO mode
  private head: Entry | undefined = undefined
  private tail: Entry | undefined = undefined
  // ordered mode
  private readonly lanes = new Map<string | undefined, Lane>()
  /** Lanes in the map with nothing queued and nothing running (see {@link wentIdle}). */
  private idle = 0
  /** Lanes that may start a task now, ordered by their first entry. */
  private readonly runnable: Array<Lane> = []
  /**
   * The runnable lanes' order — their next entry's priority and id — by
   * heap position, in flat arrays: sifting compares numbers side by side
   * instead of reaching into a lane object per comparison.
   */
  private orderP = NO_ORDER
  private orderId = NO_ORDER
  /** Told when a key may have gained room (see `waiters.ts`). */
  private readonly watcher: RoomWatcher

  constructor(maxPerKey: number, watcher: RoomWatcher = UNWATCHED) {
    this.maxPerKey = maxPerKey
    this.watcher = watcher
  }

  /**
   * Queues `entry`. The caller turns the queue ordered ({@link becomeOrdered})
   * before it pushes the first entry with a priority or a key.
   */
  push(entry: Entry): void {
    this.length++
    if (this.ordered) return this.pushOrdered(entry)
    if (this.tail === undefined) this.head = entry
    else this.tail.next = entry
    this.tail = entry
  }

  /**
   * In an ordered queue: whether `entry`, just submitted, may start at once
   * without passing anyone — no lane could start a task now (so none waits
   * for a free permit) and its own lane has nothing queued and room under
   * `maxPerKey`. If so, its key counts it as running from here until
   * {@link ended}.
   */
  startNow(entry: Entry): boolean {
    if (this.holdsStartable()) return false
    const key = entry.key
    let lane = this.lanes.get(key)
    if (lane !== undefined && !this.takesNow(lane)) return false
    if (key === undefined) return true
    if (lane === undefined) lane = this.addLane(key)
    else if (lane.running === 0) this.idle-- // an idle lane taken up again
    lane.running++
    entry.next = lane
    return true
  }

  /**
   * Whether an entry of `key` submitted now could start at once (what
   * {@link startNow} decides), without counting it.
   */
  couldStartNow(key: string | undefined): boolean {
    return !this.holdsStartable() && this.hasRoom(key)
  }

  /** Whether a queued entry could start now, given a free permit (it would go before a new one). */
  holdsStartable(): boolean {
    return this.runnable.length > 0 && this.startsSomething()
  }

  /** Whether a task of `key` submitted now would not wait for its key: nothing of it queued, room under the bound. */
  hasRoom(key: string | undefined): boolean {
    const lane = this.lanes.get(key)
    return lane === undefined || this.takesNow(lane)
  }

  /** Whether `lane` would start a task of its key submitted now: it has none queued, and room under `maxPerKey`. */
  private takesNow(lane: Lane): boolean {
    return lane.size === 0 && (lane.key === undefined || lane.running < this.maxPerKey)
  }

  /**
   * Takes the next entry that may start now, or `undefined`; skips (and
   * drops) stale entries. The entry's key counts it as running from here
   * until {@link ended}.
   */
  pop(): Entry | undefined {
    if (!this.ordered) {
      for (;;) {
        const entry = this.head
        if (entry === undefined) return undefined
        this.head = after(entry)
        if (this.head === undefined) this.tail = undefined
        entry.next = undefined
        this.length--
        if (entry.state === QUEUED) return entry
      }
    }
    for (;;) {
      const lane = this.runnable[0]
      if (lane === undefined) return undefined
      const entry = this.shiftFirst(lane)
      if (entry.state === QUEUED) return entry
    }
  }

  /**
   * Whether the runnable lanes hold an entry still queued, which a free
   * permit would start: drops the stale entries at their front until one
   * is found (or none is left). An entry ended while queued stays in its
   * lane, and its lane among the runnable ones, until then.
   */
  private startsSomething(): boolean {
    for (;;) {
      const lane = this.runnable[0]
      if (lane === undefined) return false
      if (lane.first().state === QUEUED) return true
      this.shiftFirst(lane)
    }
  }

  /**
   * Takes the first entry of `lane`, the first runnable one, and puts the
   * lane back in its place. A live entry's key counts it as running from
   * here until {@link ended}.
   */
  private shiftFirst(lane: Lane): Entry {
    const entry = lane.shift()
    this.length--
    if (lane.key !== undefined && entry.state === QUEUED) {
      lane.running++
      entry.next = lane
    }
    if (lane.size === 0 && this.watcher.watching) this.watcher.roomFor(lane.key)
    // the lane's next entry comes later than this one, or it can start nothing now
    if (this.canStart(lane)) {
      this.reorder(lane)
      this.laneDown(0)
    } else {
      this.settleLane(lane)
      if (lane.isIdle()) this.wentIdle() // its last entry had ended while queued
    }
    return entry
  }

  /** A started entry has ended: its key may start another. */
  ended(entry: Entry): void {
    if (entry.key === undefined) return // keys are counted, tasks without one are not
    const lane = entry.next as Lane
    entry.next = undefined
    lane.running--
    if (this.watcher.watching) this.watcher.roomFor(lane.key)
    if (lane.index >= 0) return // it has entries queued
    this.settleLane(lane)
    if (lane.isIdle()) this.wentIdle()
  }

  /**
   * Calls `f` on every entry still queued, in the order they would start
   * given free permits: FIFO, or in an ordered queue by priority, then
   * submission (a key at its bound may hold some back). Sorts: for
   * snapshots, not for the executor's own walks.
   */
  forEachInOrder(f: (entry: Entry) => void): void {
    if (!this.ordered) return this.forEach(f)
    const entries: Array<Entry> = []
    this.forEach((entry) => entries.push(entry))
    entries.sort((a, b) => b.priority - a.priority || a.id - b.id)
    for (const entry of entries) f(entry)
  }

  /** Calls `f` on every entry still queued, in no particular order; `f` may end them. */
  forEach(f: (entry: Entry) => void): void {
    if (!this.ordered) {
      for (let entry = this.head; entry !== undefined; entry = after(entry)) {
        if (entry.state === QUEUED) f(entry)
      }
      return
    }
    for (const lane of Array.from(this.lanes.values())) {
      for (const entry of lane.entries()) {
        if (entry.state === QUEUED) f(entry)
      }
    }
  }

  /** Drops the stale entries. */
  compact(): void {
    if (!this.ordered) {
      let entry = this.head
      this.head = this.tail = undefined
      this.length = 0
      while (entry !== undefined) {
        const next = after(entry)
        entry.next = undefined
        if (entry.state === QUEUED) {
          if (this.tail === undefined) this.head = entry
          else this.tail.next = entry
          this.tail = entry
          this.length++
        }
        entry = next
      }
      return
    }
    this.length = 0
    for (const lane of Array.from(this.lanes.values())) {
      this.length += lane.compact()
      if (lane.index >= 0) this.removeLane(lane.index)
      this.settleLane(lane)
      if (lane.isIdle()) this.lanes.delete(lane.key) // idle lanes go too
    }
    this.idle = 0
    this.watcher.roomForAll()
  }

  /** How many lanes the queue holds, idle ones included (for tests). */
  get laneCount(): number {
    return this.lanes.size
  }

  /** Turns ordered (for good): from now on, every start goes through {@link pop}. */
  becomeOrdered(): void {
    if (this.ordered) return
    this.ordered = true
    let entry = this.head
    this.head = this.tail = undefined
    while (entry !== undefined) {
      const next = after(entry)
      entry.next = undefined
      this.pushOrdered(entry)
      entry = next
    }
  }

  private pushOrdered(entry: Entry): void {
    let lane = this.lanes.get(entry.key)
    if (lane === undefined) lane = this.addLane(entry.key)
    else if (lane.isIdle()) this.idle-- // an idle lane taken up again
    if (!lane.push(entry)) return // the lane's first entry, and so its place, is unchanged
    if (lane.index >= 0) {
      this.reorder(lane)
      this.laneUp(lane.index)
    } else this.settleLane(lane)
  }

  /** Whether `lane` may start a task now. */
  private canStart(lane: Lane): boolean {
    return lane.size > 0 && (lane.key === undefined || lane.running < this.maxPerKey)
  }

  /**
   * For a lane whose first entry is copied in and that is out of the
   * runnable heap, or that is in it and can start nothing any more: puts it
   * in or takes it out. A lane left with nothing queued or running stays in
   * the map, idle, for its key's next task (see {@link wentIdle}).
   */
  private settleLane(lane: Lane): void {
    if (this.canStart(lane)) {
      if (lane.index < 0) this.insertLane(lane)
      return
    }
    if (lane.index >= 0) this.removeLane(lane.index)
  }

  /** Makes the lane of `key`, which has none. */
  private addLane(key: string | undefined): Lane {
    const lane = new Lane(key)
    this.lanes.set(key, lane)
    return lane
  }

  /**
   * A lane has just been left with nothing queued and nothing running. It
   * stays in the map for its key's next task: a key whose tasks run one at
   * a time, each ending before the next comes (every key of a crawler whose
   * hosts answer quickly), would otherwise make and drop a lane per task,
   * about a tenth of a trivial keyed task's time (paired runs of 1e5). Once
   * idle lanes are more than {@link IDLE_LANES} and more than the live ones,
   * every idle lane is dropped in one walk of the map: never more idle lanes
   * than that are kept, and a walk costs O(1) per lane it drops.
   */
  private wentIdle(): void {
    if (++this.idle <= IDLE_LANES || this.idle <= this.lanes.size - this.idle) return
    for (const [key, lane] of this.lanes) {
      if (lane.isIdle()) this.lanes.delete(key)
    }
    this.idle = 0
  }

  /** Puts `lane` at the end of the runnable heap, with its order copied in, and lifts it to its place. */
  private insertLane(lane: Lane): void {
    const i = this.runnable.length
    if (i === this.orderP.length) {
      // made on the first ordered start (a typed array costs an executor 2 us to make, measured)
      const size = Math.max(64, i * 2)
      const p = new Float64Array(size)
      const d = new Float64Array(size)
      p.set(this.orderP)
      d.set(this.orderId)
      this.orderP = p
      this.orderId = d
    }
    this.runnable.push(lane)
    lane.index = i
    this.orderP[i] = lane.priority
    this.orderId[i] = lane.id
    this.laneUp(i)
  }

  /** Copies the (changed) order of `lane`, which is in the runnable heap, into the heap's arrays. */
  private reorder(lane: Lane): void {
    this.orderP[lane.index] = lane.priority
    this.orderId[lane.index] = lane.id
  }

  private removeLane(i: number): void {
    const runnable = this.runnable
    const lane = runnable[i]!
    const last = runnable.pop()!
    const n = runnable.length
    lane.index = -1
    if (last !== lane) {
      runnable[i] = last
      last.index = i
      this.orderP[i] = this.orderP[n]!
      this.orderId[i] = this.orderId[n]!
      this.laneUp(i)
      this.laneDown(last.index)
    }
  }

  /** Moves the lane at `i` towards the root while it comes before its parent. */
  private laneUp(i: number): void {
    const runnable = this.runnable
    const orderP = this.orderP
    const orderId = this.orderId
    const lane = runnable[i]!
    const p = orderP[i]!
    const id = orderId[i]!
    while (i > 0) {
      const parent = (i - 1) >> 1
      const pp = orderP[parent]!
      if (!(p > pp || (p === pp && id < orderId[parent]!))) break
      const moved = runnable[parent]!
      runnable[i] = moved
      moved.index = i
      orderP[i] = pp
      orderId[i] = orderId[parent]!
      i = parent
    }
    runnable[i] = lane
    lane.index = i
    orderP[i] = p
    orderId[i] = id
  }

  /** Moves the lane at `i` towards the leaves while a child comes before it. */
  private laneDown(i: number): void {
    const runnable = this.runnable
    const orderP = this.orderP
    const orderId = this.orderId
    const n = runnable.length
    const lane = runnable[i]!
    const p = orderP[i]!
    const id = orderId[i]!
    for (;;) {
      let child = 2 * i + 1
      if (child >= n) break
      let cp = orderP[child]!
      if (child + 1 < n) {
        const rp = orderP[child + 1]!
        if (rp > cp || (rp === cp && orderId[child + 1]! < orderId[child]!)) {
          child++
          cp = rp
        }
      }
      if (!(cp > p || (cp === p && orderId[child]! < id))) break
      const moved = runnable[child]!
      runnable[i] = moved
      moved.index = i
      orderP[i] = cp
      orderId[i] = orderId[child]!
      i = child
    }
    runnable[i] = lane
    lane.index = i
    orderP[i] = p
    orderId[i] = id
  }
}

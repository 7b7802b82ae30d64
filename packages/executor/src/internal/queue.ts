/**
 * The queue discipline of an executor: which waiting task starts next.
 *
 * Two modes behind one interface:
 *
 * - FIFO (the fast path): while every task submitted so far has the default
 *   priority and no key, the queue is a singly linked list through the
 *   entries' `next` field — O(1) push and pop, no allocation.
 * - Ordered: from the first task with a priority or a key on, entries live
 *   in one *lane* per key (one more lane for tasks without a key). A lane is
 *   a binary heap ordered by (priority, highest first; id, lowest first).
 *   The lanes that may start a task now — a queued entry, and fewer than
 *   `maxPerKey` of their tasks running — sit in a second heap ordered by
 *   their first entry. Starting a task is O(log lanes + log entries); a
 *   saturated key leaves that heap, so it never blocks the keys behind it
 *   and no start scans past it.
 *
 * Entries that ended while queued (interrupted, timed out) are not searched
 * for: they stay in place, are skipped when they reach the front, and are
 * dropped in bulk by {@link TaskQueue.compact}. The executor counts the
 * queued ones; `length - queued` is the number of such stale entries.
 *
 * @internal
 */

/** The state of an entry that still waits; anything else is skipped. */
export const QUEUED = 0

/** What the queue needs of a task. */
export interface Entry {
  /** Increasing in submission order: the tie-breaker between equal priorities. */
  readonly id: number
  state: number
  /** Link of the FIFO mode. */
  next: Entry | undefined
  readonly priority: number
  readonly key: string | undefined
}

/** The queued tasks of one key (or of no key), and how many of them run. */
class Lane {
  readonly key: string | undefined
  readonly heap: Array<Entry> = []
  running = 0
  /** Position in the heap of runnable lanes, or -1. */
  index = -1
  constructor(key: string | undefined) {
    this.key = key
  }
}

/** Whether entry `a` starts before entry `b`. */
const before = (a: Entry, b: Entry): boolean => a.priority > b.priority || (a.priority === b.priority && a.id < b.id)

const siftUp = (heap: Array<Entry>, i: number): void => {
  const entry = heap[i]!
  while (i > 0) {
    const parent = (i - 1) >> 1
    if (!before(entry, heap[parent]!)) break
    heap[i] = heap[parent]!
    i = parent
  }
  heap[i] = entry
}

const siftDown = (heap: Array<Entry>, i: number): void => {
  const n = heap.length
  const entry = heap[i]!
  for (;;) {
    let child = 2 * i + 1
    if (child >= n) break
    if (child + 1 < n && before(heap[child + 1]!, heap[child]!)) child++
    if (!before(heap[child]!, entry)) break
    heap[i] = heap[child]!
    i = child
  }
  heap[i] = entry
}

const popHeap = (heap: Array<Entry>): Entry => {
  const top = heap[0]!
  const last = heap.pop()!
  if (heap.length > 0) {
    heap[0] = last
    siftDown(heap, 0)
  }
  return top
}

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
  /** Lanes that may start a task now, ordered by their first entry. */
  private readonly runnable: Array<Lane> = []

  constructor(maxPerKey: number) {
    this.maxPerKey = maxPerKey
  }

  /** Queues `entry`; the queue turns ordered at the first entry with a priority or a key. */
  push(entry: Entry): void {
    this.length++
    if (!this.ordered) {
      if (entry.priority === 0 && entry.key === undefined) {
        if (this.tail === undefined) this.head = entry
        else this.tail.next = entry
        this.tail = entry
        return
      }
      this.becomeOrdered()
    }
    this.pushOrdered(entry)
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
        this.head = entry.next
        if (this.head === undefined) this.tail = undefined
        entry.next = undefined
        this.length--
        if (entry.state === QUEUED) return entry
      }
    }
    for (;;) {
      const lane = this.runnable[0]
      if (lane === undefined) return undefined
      const entry = popHeap(lane.heap)
      this.length--
      if (entry.state !== QUEUED) {
        this.reposition(lane)
        continue
      }
      if (lane.key !== undefined) lane.running++
      this.reposition(lane)
      return entry
    }
  }

  /** A started entry has ended: its key may start another. */
  ended(entry: Entry): void {
    if (entry.key === undefined) return // keys are counted, tasks without one are not
    const lane = this.lanes.get(entry.key)!
    lane.running--
    this.reposition(lane)
  }

  /** Calls `f` on every entry still queued, in no particular order; `f` may end them. */
  forEach(f: (entry: Entry) => void): void {
    if (!this.ordered) {
      for (let entry = this.head; entry !== undefined; entry = entry.next) {
        if (entry.state === QUEUED) f(entry)
      }
      return
    }
    for (const lane of Array.from(this.lanes.values())) {
      for (const entry of lane.heap.slice()) {
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
        const next: Entry | undefined = entry.next
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
      const kept = lane.heap.filter((entry) => entry.state === QUEUED)
      lane.heap.length = 0
      for (const entry of kept) lane.heap.push(entry)
      for (let i = (kept.length >> 1) - 1; i >= 0; i--) siftDown(lane.heap, i)
      this.length += kept.length
      this.reposition(lane)
    }
  }

  /** Turns ordered (for good): from now on, every start goes through {@link pop}. */
  becomeOrdered(): void {
    if (this.ordered) return
    this.ordered = true
    let entry = this.head
    this.head = this.tail = undefined
    while (entry !== undefined) {
      const next: Entry | undefined = entry.next
      entry.next = undefined
      this.pushOrdered(entry)
      entry = next
    }
  }

  private pushOrdered(entry: Entry): void {
    let lane = this.lanes.get(entry.key)
    if (lane === undefined) {
      lane = new Lane(entry.key)
      this.lanes.set(entry.key, lane)
    }
    lane.heap.push(entry)
    siftUp(lane.heap, lane.heap.length - 1)
    this.reposition(lane)
  }

  /** Whether `lane` may start a task now. */
  private canStart(lane: Lane): boolean {
    return lane.heap.length > 0 && (lane.key === undefined || lane.running < this.maxPerKey)
  }

  /**
   * Puts `lane` where it belongs in the runnable heap after its first entry
   * or its running count changed; forgets a lane with nothing queued or running.
   */
  private reposition(lane: Lane): void {
    const runnable = this.runnable
    if (!this.canStart(lane)) {
      if (lane.index >= 0) this.removeLane(lane.index)
      if (lane.heap.length === 0 && lane.running === 0) this.lanes.delete(lane.key)
      return
    }
    if (lane.index < 0) {
      lane.index = runnable.length
      runnable.push(lane)
    }
    this.laneUp(lane.index)
    this.laneDown(lane.index)
  }

  private removeLane(i: number): void {
    const runnable = this.runnable
    const lane = runnable[i]!
    const last = runnable.pop()!
    lane.index = -1
    if (last !== lane) {
      runnable[i] = last
      last.index = i
      this.laneUp(i)
      this.laneDown(last.index)
    }
  }

  private laneUp(i: number): void {
    const runnable = this.runnable
    const lane = runnable[i]!
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!before(lane.heap[0]!, runnable[parent]!.heap[0]!)) break
      runnable[i] = runnable[parent]!
      runnable[i]!.index = i
      i = parent
    }
    runnable[i] = lane
    lane.index = i
  }

  private laneDown(i: number): void {
    const runnable = this.runnable
    const n = runnable.length
    const lane = runnable[i]!
    for (;;) {
      let child = 2 * i + 1
      if (child >= n) break
      if (child + 1 < n && before(runnable[child + 1]!.heap[0]!, runnable[child]!.heap[0]!)) child++
      if (!before(runnable[child]!.heap[0]!, lane.heap[0]!)) break
      runnable[i] = runnable[child]!
      runnable[i]!.index = i
      i = child
    }
    runnable[i] = lane
    lane.index = i
  }
}

/**
 * The submitters that `maxQueue` keeps waiting for a queue place, oldest
 * first, and which of them could skip that wait.
 *
 * A waiter is normally let in when the queue has drained (the executor
 * wakes the oldest ones). In an ordered queue there is a second way in: with
 * a permit free and the queue full of tasks held back by their own keys'
 * bounds, a waiter whose own task could start at once takes no place, and
 * waiting for the queue to drain could wait for ever (the held-back keys may
 * be waiting on that very task). Finding those waiters by asking every one
 * of them on every task end made a run quadratic in the number of waiters
 * (20,000 tasks of one key, `maxConcurrencyPerKey: 1`, `maxQueue: 10`,
 * submitted at once: 11 s with two permits, 0.2 s with one, where no permit
 * sits free).
 *
 * Whether a waiter's task could start at once depends on its key alone once
 * a permit is free: its key must have nothing queued and room under
 * `maxConcurrencyPerKey`. A key gains room only when one of its tasks ends
 * or its lane empties, which the queue reports ({@link RoomWatcher}); so the
 * waiters are kept by key, and only the keys that may have gained room since
 * they were last looked at are looked at again. A new waiter's key is looked
 * at too (a permit may have been all it lacked). The keys found with room
 * wait in a heap ordered by their oldest waiter, so that waiters are let in
 * oldest first and a task end that frees one permit lets in one waiter in
 * O(log keys), however many keys wait; a key leaves the heap when it is
 * found without room at its top, or when its last waiter goes. So what is
 * kept is bounded by the keys that have waiters.
 *
 * @internal
 */

/** What a queue reports to whoever watches its keys for room. */
export interface RoomWatcher {
  /** Whether to report at all: there are waiters (read on every task end of an ordered queue). */
  readonly watching: boolean
  /** One of `key`'s tasks ended, or its lane emptied: it may take a task at once now. */
  roomFor(key: string | undefined): void
  /** Every key may have changed (the queue was rebuilt). */
  roomForAll(): void
}

/** A suspended submitter: called to let it in. */
export interface Waiter {
  (): void
  readonly submission: { readonly key: string | undefined }
}

/** The waiters of one key. */
interface KeyWaiters<W> {
  readonly key: string | undefined
  /** Oldest first. */
  readonly waiters: Set<W>
  /** The place of its oldest waiter (see `Waiters.all`): its order in the heap. */
  oldest: number
  /** Its position in the heap of keys found with room, or -1. */
  index: number
}

/** The executor's suspended submitters (see the module's documentation). */
export class Waiters<W extends Waiter> implements RoomWatcher {
  /** Every waiter, oldest first, with its place in that order. */
  private readonly all = new Map<W, number>()
  private readonly byKey = new Map<string | undefined, KeyWaiters<W>>()
  /** Keys reported since they were last looked at, out of the heap (a subset of `byKey`'s). */
  private readonly reported = new Set<KeyWaiters<W>>()
  private everyKey = false
  /** Keys found with room, by their oldest waiter (a binary heap). */
  private readonly heap: Array<KeyWaiters<W>> = []
  private nextPlace = 0

  get size(): number {
    return this.all.size
  }

  get watching(): boolean {
    return this.all.size > 0
  }

  /** Adds a waiter, last; its key is looked at by the next {@link admitStartable}. */
  add(waiter: W): void {
    const place = this.nextPlace++
    this.all.set(waiter, place)
    const key = waiter.submission.key
    let ofKey = this.byKey.get(key)
    if (ofKey === undefined) {
      ofKey = { key, waiters: new Set(), oldest: place, index: -1 }
      this.byKey.set(key, ofKey)
    }
    ofKey.waiters.add(waiter)
    if (ofKey.index < 0) this.reported.add(ofKey)
  }

  /** Removes a waiter; whether it was there. */
  delete(waiter: W): boolean {
    const place = this.all.get(waiter)
    if (place === undefined) return false
    this.all.delete(waiter)
    const ofKey = this.byKey.get(waiter.submission.key)!
    ofKey.waiters.delete(waiter)
    if (ofKey.waiters.size === 0) {
      this.byKey.delete(ofKey.key)
      this.reported.delete(ofKey)
      if (ofKey.index >= 0) this.removeAt(ofKey.index)
    } else if (place === ofKey.oldest) {
      ofKey.oldest = this.all.get(ofKey.waiters.values().next().value!)!
      if (ofKey.index >= 0) this.down(ofKey.index)
    }
    return true
  }

  /** How many keys are kept, in the map, the reports and the heap together (for tests: at most 3x the keys with waiters). */
  get keysKept(): number {
    return this.byKey.size + this.reported.size + this.heap.length
  }

  /** The oldest waiter, if any. */
  first(): W | undefined {
    return this.all.keys().next().value
  }

  /** Every waiter, oldest first (a copy: letting one in may add or remove others). */
  toArray(): Array<W> {
    return Array.from(this.all.keys())
  }

  roomFor(key: string | undefined): void {
    const ofKey = this.byKey.get(key)
    if (ofKey !== undefined && ofKey.index < 0) this.reported.add(ofKey)
  }

  roomForAll(): void {
    if (this.watching) this.everyKey = true
  }

  /**
   * Lets in, oldest first, the waiters whose task could start at once:
   * `permitFree` tells whether a task could start now at all (a permit is
   * free, nothing queued could take it first; asking may report keys),
   * `hasRoom` whether a task of a key would (asking must report nothing).
   * Looks at the keys reported since last time, then lets in the oldest
   * waiter of the keys with room while permits last. `admit` runs user code
   * at once, which may add or remove waiters and report keys: those are
   * looked at before the next waiter is chosen.
   */
  admitStartable(
    permitFree: () => boolean,
    hasRoom: (key: string | undefined) => boolean,
    admit: (waiter: W) => void
  ): void {
    for (;;) {
      // first: asking may itself report keys (the queue drops entries that ended while queued,
      // which can empty a lane), and those must be looked at before the next waiter is chosen
      if (!permitFree()) return
      this.takeReports(hasRoom)
      const top = this.heap[0]
      if (top === undefined) return
      // no room any more: it comes back when the queue reports its key again
      if (!hasRoom(top.key)) {
        this.removeAt(0)
        continue
      }
      const waiter = top.waiters.values().next().value!
      this.delete(waiter)
      admit(waiter)
    }
  }

  /** Puts the reported keys that have room into the heap; those without are dropped until reported again. */
  private takeReports(hasRoom: (key: string | undefined) => boolean): void {
    if (this.everyKey) {
      this.everyKey = false
      for (const ofKey of this.byKey.values()) {
        if (ofKey.index < 0) this.reported.add(ofKey)
      }
    }
    if (this.reported.size === 0) return
    for (const ofKey of this.reported) {
      this.reported.delete(ofKey)
      if (ofKey.index < 0 && hasRoom(ofKey.key)) this.push(ofKey)
    }
  }

  private push(ofKey: KeyWaiters<W>): void {
    ofKey.index = this.heap.length
    this.heap.push(ofKey)
    this.up(ofKey.index)
  }

  private removeAt(i: number): void {
    const heap = this.heap
    const removed = heap[i]!
    const last = heap.pop()!
    removed.index = -1
    if (last === removed) return
    heap[i] = last
    last.index = i
    this.up(i)
    this.down(last.index)
  }

  private up(i: number): void {
    const heap = this.heap
    const item = heap[i]!
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (heap[parent]!.oldest <= item.oldest) break
      heap[i] = heap[parent]!
      heap[i]!.index = i
      i = parent
    }
    heap[i] = item
    item.index = i
  }

  private down(i: number): void {
    const heap = this.heap
    const n = heap.length
    const item = heap[i]!
    for (;;) {
      let child = 2 * i + 1
      if (child >= n) break
      if (child + 1 < n && heap[child + 1]!.oldest < heap[child]!.oldest) child++
      if (heap[child]!.oldest >= item.oldest) break
      heap[i] = heap[child]!
      heap[i]!.index = i
      i = child
    }
    heap[i] = item
    item.index = i
  }
}

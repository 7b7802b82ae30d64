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
 * at too (a permit may have been all it lacked).
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

/** The executor's suspended submitters (see the module's documentation). */
export class Waiters<W extends Waiter> implements RoomWatcher {
  /** Every waiter, oldest first, with its place in that order. */
  private readonly all = new Map<W, number>()
  /** The waiters of each key, oldest first. */
  private readonly byKey = new Map<string | undefined, Set<W>>()
  /** Keys that may have gained room since they were last looked at. */
  private room = new Set<string | undefined>()
  private everyKey = false
  private nextPlace = 0
  watching = false

  get size(): number {
    return this.all.size
  }

  /** Adds a waiter, last; its key is looked at by the next {@link admitStartable}. */
  add(waiter: W): void {
    this.all.set(waiter, this.nextPlace++)
    const key = waiter.submission.key
    let ofKey = this.byKey.get(key)
    if (ofKey === undefined) {
      ofKey = new Set()
      this.byKey.set(key, ofKey)
    }
    ofKey.add(waiter)
    this.room.add(key)
    this.watching = true
  }

  /** Removes a waiter; whether it was there. */
  delete(waiter: W): boolean {
    if (!this.all.delete(waiter)) return false
    const key = waiter.submission.key
    const ofKey = this.byKey.get(key)!
    ofKey.delete(waiter)
    if (ofKey.size === 0) this.byKey.delete(key)
    if (this.all.size === 0) {
      this.watching = false
      this.room.clear()
      this.everyKey = false
    }
    return true
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
    if (this.byKey.has(key)) this.room.add(key)
  }

  roomForAll(): void {
    if (this.watching) this.everyKey = true
  }

  /**
   * Lets in, oldest first, the waiters whose task could start at once,
   * among the keys that may have gained room: `permitFree` tells whether a
   * task could start now at all (a permit is free, nothing queued could
   * take it first), `hasRoom` whether a task of a key would. A key without
   * room is forgotten until the queue reports it again; keys not looked at
   * because no permit was left stay to be looked at next time. `admit` runs
   * user code at once, which may add or remove waiters.
   */
  admitStartable(
    permitFree: () => boolean,
    hasRoom: (key: string | undefined) => boolean,
    admit: (waiter: W) => void
  ): void {
    if (!permitFree()) return
    if (this.everyKey) {
      this.everyKey = false
      for (const key of this.byKey.keys()) this.room.add(key)
    }
    if (this.room.size === 0) return
    const keys = this.room
    this.room = new Set()
    const candidates: Array<string | undefined> = []
    for (const key of keys) {
      if (this.byKey.has(key) && hasRoom(key)) candidates.push(key)
    }
    while (candidates.length > 0) {
      if (!permitFree()) {
        // what is left is looked at once a permit frees
        for (const key of candidates) this.room.add(key)
        return
      }
      // the oldest waiter among the keys with room
      let best = -1
      let bestWaiter: W | undefined
      let bestPlace = Number.POSITIVE_INFINITY
      for (let i = 0; i < candidates.length; i++) {
        const waiter = this.byKey.get(candidates[i])?.values().next().value
        const place = waiter === undefined ? undefined : this.all.get(waiter)
        if (place !== undefined && place < bestPlace) {
          best = i
          bestWaiter = waiter
          bestPlace = place
        }
      }
      if (bestWaiter === undefined) return // the candidates' waiters have all gone meanwhile
      if (!hasRoom(candidates[best])) {
        candidates.splice(best, 1) // its room was taken meanwhile: reported again when it frees
        continue
      }
      this.delete(bestWaiter)
      admit(bestWaiter)
    }
  }
}

/**
 * The submitters `maxQueue` keeps waiting (`internal/waiters.ts`): let in
 * oldest first among the keys with room, at a cost that does not grow with
 * the number of waiting keys, and never keeping more than the keys that
 * have waiters.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import * as fc from "fast-check"
import { BackgroundExecutor, Task } from "../src/index.ts"
import { QUEUED, TaskQueue } from "../src/internal/queue.ts"
import { type Waiter, Waiters } from "../src/internal/waiters.ts"

interface Named extends Waiter {
  readonly label: string
}

const waiter = (label: string, key: string | undefined, onAdmit: (w: Named) => void = () => {}): Named => {
  const w: Named = Object.assign(() => onAdmit(w), { label, submission: { key } })
  return w
}

describe("Waiters", () => {
  it("lets in the oldest waiter of the keys with room, as long as permits last", () => {
    const waiters = new Waiters<Named>()
    const room = new Set(["b", "c"])
    for (const [label, key] of [["a1", "a"], ["b1", "b"], ["c1", "c"], ["b2", "b"]] as const) {
      waiters.add(waiter(label, key))
    }
    const admitted: Array<string> = []
    let permits = 2
    waiters.admitStartable(() => permits > 0, (key) => room.has(key!), (w) => {
      admitted.push(w.label)
      permits--
    })
    assert.deepStrictEqual(admitted, ["b1", "c1"])
    assert.strictEqual(waiters.size, 2)
    // a permit frees: b still has room and its next waiter goes; a never had room
    permits = 5
    waiters.admitStartable(() => permits > 0, (key) => room.has(key!), (w) => admitted.push(w.label))
    assert.deepStrictEqual(admitted, ["b1", "c1", "b2"])
    // a gains room: only once it is reported
    room.add("a")
    waiters.admitStartable(() => true, (key) => room.has(key!), (w) => admitted.push(w.label))
    assert.deepStrictEqual(admitted, ["b1", "c1", "b2"])
    waiters.roomFor("a")
    waiters.admitStartable(() => true, (key) => room.has(key!), (w) => admitted.push(w.label))
    assert.deepStrictEqual(admitted, ["b1", "c1", "b2", "a1"])
    assert.strictEqual(waiters.size, 0)
  })

  it("a key that gains room while a waiter is let in is looked at before the next, younger waiter", () => {
    const waiters = new Waiters<Named>()
    const room = new Set(["k1", "k2"])
    const admitted: Array<string> = []
    // letting k1 in gives j room (k1's task ended one of j's, say), and the queue reports it
    waiters.add(waiter("j", "j"))
    waiters.add(waiter("k1", "k1", () => {
      room.add("j")
      waiters.roomFor("j")
    }))
    waiters.add(waiter("k2", "k2"))
    let permits = 2
    waiters.admitStartable(() => permits > 0, (key) => room.has(key!), (w) => {
      admitted.push(w.label)
      permits--
      w()
    })
    assert.deepStrictEqual(admitted, ["k1", "j"])
  })

  it("a key reported while asking whether a permit is free is looked at before the next waiter is chosen", () => {
    const waiters = new Waiters<Named>()
    const room = new Set(["b"])
    for (const [label, key] of [["a1", "a"], ["b1", "b"], ["b2", "b"]] as const) waiters.add(waiter(label, key))
    // the executor's question drops queued entries that ended, which can empty a lane: a report
    let reportA = false
    const admitted: Array<string> = []
    waiters.admitStartable(() => {
      if (reportA) {
        reportA = false
        room.add("a")
        waiters.roomFor("a")
      }
      return true
    }, (key) => room.has(key!), (w) => {
      admitted.push(w.label)
      if (w.label === "b1") reportA = true
    })
    // before: b2, chosen before the question, went ahead of the older a1
    assert.deepStrictEqual(admitted, ["b1", "a1", "b2"])
  })

  it("keeps no more keys than have waiters, however many keys came and went", () => {
    const waiters = new Waiters<Named>()
    waiters.add(waiter("stays", "busy"))
    for (let i = 0; i < 10_000; i++) {
      const w = waiter(`w${i}`, `key-${i}`)
      waiters.add(w)
      waiters.roomFor(`key-${i}`)
      if (i % 100 === 0) {
        // a permit free for a moment: the reported keys with room go into the heap, and stay there
        let free = true
        waiters.admitStartable(() => {
          const was = free
          free = false
          return was
        }, (key) => key !== "busy", () => {})
      } else {
        // no permit free: the reports pile up
        waiters.admitStartable(() => false, () => true, () => {})
      }
      waiters.delete(w)
    }
    assert.strictEqual(waiters.size, 1)
    assert.isAtMost(waiters.keysKept, 3)
  })

  it("letting in one waiter per call costs O(1) room checks each, however many keys wait", () => {
    const n = 5_000
    const waiters = new Waiters<Named>()
    for (let i = 0; i < n; i++) waiters.add(waiter(`w${i}`, `key-${i}`))
    let checks = 0
    const admitted: Array<string> = []
    for (let i = 0; i < n; i++) {
      let permits = 1
      waiters.admitStartable(() => permits > 0, () => {
        checks++
        return true
      }, (w) => {
        admitted.push(w.label)
        permits--
      })
    }
    assert.strictEqual(admitted.length, n)
    assert.deepStrictEqual(admitted.slice(0, 3), ["w0", "w1", "w2"])
    // every key is looked at once when first reported, then once each time it comes to the top
    assert.isBelow(checks, 3 * n, `${checks} room checks for ${n} waiters`)
  })
})

/** One step of a program of several submitters against an executor with `maxQueue` and keys. */
type Step =
  | { readonly _tag: "submit"; readonly key: string; readonly holds: boolean }
  | { readonly _tag: "release"; readonly index: number }
  | { readonly _tag: "interruptTask"; readonly index: number }
  | { readonly _tag: "interruptSubmitter"; readonly index: number }

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      _tag: fc.constant("submit" as const),
      key: fc.constantFrom("a", "b", "c"),
      // mostly tasks that run until released: the queue fills, and submitters wait
      holds: fc.boolean().chain((b) => b ? fc.constant(true) : fc.boolean())
    })
  },
  { weight: 3, arbitrary: fc.record({ _tag: fc.constant("release" as const), index: fc.nat(40) }) },
  { weight: 1, arbitrary: fc.record({ _tag: fc.constant("interruptTask" as const), index: fc.nat(40) }) },
  { weight: 1, arbitrary: fc.record({ _tag: fc.constant("interruptSubmitter" as const), index: fc.nat(40) }) }
)

const settle = Effect.yieldNow.pipe(Effect.repeat({ times: 8 }))

/**
 * Runs `steps` with a submitter fiber per submit; after each step, checks
 * that no submitter still waiting could have its task started at once: a
 * permit free, no queued task that could take it (each queued task's key is
 * at its bound), and the submitter's key with nothing queued and room. At
 * the end, checks that each key's submitters got in in the order they came.
 */
const program = (
  maxConcurrency: number,
  maxConcurrencyPerKey: number,
  maxQueue: number,
  steps: ReadonlyArray<Step>
) => {
  const entries: Array<{
    readonly key: string
    readonly gate: Deferred.Deferred<void>
    readonly submitter: Fiber.Fiber<Task.Task<void>, unknown>
    started: boolean
  }> = []
  // whatever happens (a failed check), the tasks can end: the close waits for them
  const releaseAll = Effect.suspend(() => Effect.forEach(entries, (entry) => Deferred.succeed(entry.gate, undefined)))
  return BackgroundExecutor.scoped((executor) =>
    Effect.gen(function*() {
      const check = Effect.gen(function*() {
        const running = new Map<string, number>()
        const queued = new Map<string, number>()
        let runningAll = 0
        for (const entry of entries) {
          const exit = entry.submitter.pollUnsafe()
          if (exit === undefined || exit._tag === "Failure") continue
          if ((yield* Task.poll(exit.value)) !== undefined) continue
          const into = entry.started ? running : queued
          into.set(entry.key, (into.get(entry.key) ?? 0) + 1)
          if (entry.started) runningAll++
        }
        const hasRoom = (key: string) => (queued.get(key) ?? 0) === 0 && (running.get(key) ?? 0) < maxConcurrencyPerKey
        const queuedStartable = [...queued.keys()].some((key) => (running.get(key) ?? 0) < maxConcurrencyPerKey)
        assert.isFalse(runningAll < maxConcurrency && queuedStartable, "a queued task could start on a free permit")
        if (runningAll >= maxConcurrency) return
        for (const [i, entry] of entries.entries()) {
          if (entry.submitter.pollUnsafe() !== undefined) continue
          assert.isFalse(hasRoom(entry.key),
            `submitter ${i} (key ${entry.key}) waits though its task could start at once`)
        }
      })
      for (const s of steps) {
        if (s._tag === "submit") {
          const gate = yield* Deferred.make<void>()
          const entry = { key: s.key, gate, submitter: undefined as any, started: false }
          const body = Effect.andThen(Effect.sync(() => entry.started = true),
            s.holds ? Deferred.await(gate) : Effect.void)
          entry.submitter = yield* Effect.forkChild(executor.submit(body, { key: s.key }), { startImmediately: true })
          entries.push(entry)
        } else if (entries.length > 0) {
          const entry = entries[s.index % entries.length]!
          if (s._tag === "release") yield* Deferred.succeed(entry.gate, undefined)
          else if (s._tag === "interruptSubmitter") yield* Fiber.interrupt(entry.submitter)
          else {
            const exit = entry.submitter.pollUnsafe()
            if (exit !== undefined && exit._tag === "Success") yield* Task.interrupt(exit.value)
          }
        }
        yield* settle
        yield* check
      }
      // every task can end now: every submit returns, and the executor drains (a lost wake-up hangs here)
      yield* Effect.gen(function*() {
        for (const entry of entries) yield* Deferred.succeed(entry.gate, undefined)
        for (const entry of entries) yield* Fiber.await(entry.submitter)
        yield* executor.awaitIdle
      }).pipe(Effect.timeoutOrElse({
        duration: "2 seconds",
        orElse: () => Effect.die(new Error("a submitter or the executor never finished"))
      }))
      // each key's submitters got in in the order they came (task ids are given on entry)
      const lastId = new Map<string, number>()
      for (const [i, entry] of entries.entries()) {
        const exit = entry.submitter.pollUnsafe()
        if (exit === undefined || exit._tag === "Failure") continue
        const id = exit.value.id
        assert.isAbove(id, lastId.get(entry.key) ?? 0, `submitter ${i} (key ${entry.key}) got in before an older one`)
        lastId.set(entry.key, id)
      }
    }).pipe(Effect.ensuring(releaseAll)), { maxConcurrency, maxConcurrencyPerKey, maxQueue })
}

describe("Waiters in an executor", () => {
  it.effect("no submitter that maxQueue keeps waiting could have its task started at once, and each key's get in in the order they came (random programs)", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 2, max: 3 }),
          fc.integer({ min: 1, max: 2 }),
          fc.integer({ min: 1, max: 2 }),
          fc.array(step, { minLength: 1, maxLength: 40 }),
          (maxConcurrency, maxConcurrencyPerKey, maxQueue, steps) =>
            Effect.runPromise(program(maxConcurrency, maxConcurrencyPerKey, maxQueue, steps))
        ),
        { numRuns: 1500 }
      )
    ))
})

describe("the queue's reports to its watcher", () => {
  const watched = () => {
    const reports: Array<string | undefined> = []
    const watcher = {
      watching: true,
      roomFor: (key: string | undefined) => void reports.push(key),
      roomForAll: () => void reports.push("*")
    }
    const queue = new TaskQueue(2, watcher)
    queue.becomeOrdered()
    let id = 0
    const entry = (key: string | undefined) => ({
      id: ++id,
      state: QUEUED,
      next: undefined,
      nextId: 0,
      priority: 0,
      key
    })
    return { queue, entry, reports }
  }

  it("reports a key when one of its tasks ends, and when its lane empties", () => {
    const { entry, queue, reports } = watched()
    const [a1, a2, b1] = [entry("a"), entry("a"), entry("b")]
    queue.push(a1)
    queue.push(a2)
    queue.push(b1)
    assert.strictEqual(queue.pop(), a1)
    assert.deepStrictEqual(reports, [], "a still has a2 queued")
    assert.strictEqual(queue.pop(), a2)
    assert.deepStrictEqual(reports, ["a"], "a's lane emptied: with a bound of 2 it may take one more")
    assert.strictEqual(queue.pop(), b1)
    assert.deepStrictEqual(reports, ["a", "b"])
    queue.ended(a1)
    assert.deepStrictEqual(reports, ["a", "b", "a"])
  })

  it("reports a lane emptied by dropping its entries that ended while queued, and every key after a compaction", () => {
    const { entry, queue, reports } = watched()
    const [k1, k2] = [entry("k"), entry("k")]
    queue.push(k1)
    queue.push(k2)
    k1.state = 3 // ended while queued (interrupted)
    assert.strictEqual(queue.pop(), k2)
    assert.deepStrictEqual(reports, ["k"])
    queue.compact()
    assert.deepStrictEqual(reports, ["k", "*"])
  })

  it("reports nothing while nobody watches", () => {
    const reports: Array<string | undefined> = []
    const queue = new TaskQueue(1, {
      watching: false,
      roomFor: (key) => void reports.push(key),
      roomForAll: () => {}
    })
    queue.becomeOrdered()
    const e = { id: 1, state: QUEUED, next: undefined, nextId: 0, priority: 0, key: "a" }
    queue.push(e)
    queue.pop()
    queue.ended(e)
    assert.deepStrictEqual(reports, [])
  })
})

/**
 * The submitters `maxQueue` keeps waiting (`internal/waiters.ts`): let in
 * oldest first among the keys with room, at a cost that does not grow with
 * the number of waiting keys, and never keeping more than the keys that
 * have waiters.
 */
import { assert, describe, it } from "@effect/vitest"
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

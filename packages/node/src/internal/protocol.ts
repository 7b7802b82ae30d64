/**
 * Everything a `WorkerExecutor`'s parent side (`internal/pool.ts`) and its
 * worker side (`WorkerRunner.ts`) exchange, in one place.
 *
 * Two channels per thread:
 *
 * - The control channel is Effect's worker platform (`effect/workers` on
 *   `NodeWorker` / `NodeWorkerRunner`): it starts the thread, reports its
 *   readiness, its errors and its exit. The parent sends one {@link Open}
 *   message on it; the worker answers {@link Ready}.
 * - The call channel is a `MessageChannel` of our own, handed over in `Open`,
 *   plus a small `SharedArrayBuffer` ({@link Signal}). The parent posts
 *   batches of {@link Call}s and wakes the worker with `Atomics.notify`; an
 *   idle worker sleeps in `Atomics.wait` and reads batches with
 *   `receiveMessageOnPort`, so that no call pays for an event-loop wake-up.
 *   The worker answers each call with one {@link Response}.
 *
 * Tuples, not objects: they are structured-cloned on every call.
 *
 * @internal
 */
import { isMarkedAsUntransferable, type MessagePort, type TransferListItem } from "node:worker_threads"

// -----------------------------------------------------------------------------
// control channel
// -----------------------------------------------------------------------------

/**
 * Parent to worker, on the control channel: the call channel, the shared
 * signal, and the parts of the protocol the parent knows ({@link Features};
 * left out by a parent from a copy of the package older than them).
 */
export type Open = readonly [port: MessagePort, signal: SharedArrayBuffer, features?: number]

/**
 * Parts of the protocol added after its first release, as bits of
 * {@link Open}'s `features`: a worker uses one only with a parent that says
 * it knows it, so that a worker and a parent from different copies of the
 * package (a worker entry bundled on its own, say) still agree.
 */
export const Features = {
  /**
   * The worker holds a call's slot at {@link Slot}.Posting while it posts the
   * answer; without it, the worker frees the slot before it posts (a parent
   * that does not know `Posting` would take it for a thread that runs none of
   * its calls, and stop it under a call nobody interrupted).
   */
  Posting: 1
} as const

/** What a parent from this copy of the package knows. */
export const FEATURES = Features.Posting

/** Worker to parent, on the control channel: the call channel is being served. */
export type Ready = 0

// -----------------------------------------------------------------------------
// call channel
// -----------------------------------------------------------------------------

/**
 * One call: `seq` is the thread's own call number, `payload` Schema-encoded,
 * and `trace` the caller's span when the call runs in one, so that the
 * worker's span is its child.
 */
export type Call = readonly [seq: number, task: string, payload: unknown, trace?: Trace]

/** The caller's span: trace id, span id, sampled. */
export type Trace = readonly [traceId: string, spanId: string, sampled: boolean]

/** Parent to worker: one message carries one or more calls, run in order. */
export type Batch = ReadonlyArray<Call>

/** Reply kinds, worker to parent. */
export const Reply = {
  /** value: the encoded success */
  Success: 0,
  /** value: the encoded typed error */
  Failure: 1,
  /** value: what the task function threw (or a plain copy of it) */
  Defect: 2,
  /** value: the task names the worker knows */
  UnknownTask: 3,
  /** value: the Schema issue, as text */
  InvalidPayload: 4,
  /** value: [what failed, why] as text */
  InvalidResult: 5,
  /** value: undefined; the call was cancelled before it started and was not run */
  Skipped: 6,
  /**
   * seq: -1; value: a plain copy of what the read threw. Reading a posted
   * batch threw (a payload nested too deeply for the worker's stack, say):
   * the thread has lost its receive loop. It dies of it, unless it swallows
   * uncaught exceptions; either way the parent ends it and treats it as dead
   * while reading (see `Signal.Reading`).
   */
  ReadFailed: 7
} as const

/** The kind of a reply. */
export type ReplyKind = typeof Reply[keyof typeof Reply]

/**
 * Worker to parent: the outcome of call `seq`, and how long (ms) the worker
 * spent on it, from its start to its response (0 for a skipped call and for
 * `Reply.ReadFailed`, which is no call's).
 */
export type Response = readonly [seq: number, kind: ReplyKind, value: unknown, took: number]

// -----------------------------------------------------------------------------
// shared signal
// -----------------------------------------------------------------------------

/**
 * The layout of the shared `Int32Array`: two counters, then one state word per
 * call slot. Call `seq` uses slot `seq % Signal.Slots`; the parent reuses a
 * slot only once it has read the answer of the slot's previous call (or
 * dropped a cancelled one) *and* the worker is done with that call: the slot
 * is {@link Slot}.Free, or `Posting` the answer the parent already holds (a
 * cancel of a call must find its own slot, never a new call's). So at most
 * `Signal.Slots` calls are outstanding on a thread.
 */
export const Signal = {
  /** bumped (and notified) by the parent after each batch it posts */
  Requests: 0,
  /** bumped by the worker after each response it posts */
  Responses: 1,
  /** index of the first slot word */
  FirstSlot: 2,
  /** number of slots */
  Slots: 64,
  /**
   * index of the first kind word: one per slot, the {@link ReplyKind} of the
   * response the worker posts for the slot's call, written before it posts
   * it — so that the parent can tell what an answer it cannot read was
   * (a value nested too deeply for its smaller stack, say)
   */
  FirstKind: 2 + 64,
  /**
   * 1 while the worker reads posted batches (deserializes their payloads),
   * 2 once such a read threw, 0 otherwise: a thread that dies at 1 or 2 died
   * of a payload it could not read (see `Entry.suspect` in `pool.ts`); one at
   * 1 is busy reading a large payload, not stuck, while one that lives on at
   * 2 (uncaught errors swallowed) has lost its loop
   */
  Reading: 2 + 64 + 64
} as const

/** Bytes of the shared buffer. */
export const signalBytes = (Signal.Reading + 1) * Int32Array.BYTES_PER_ELEMENT

/**
 * The state of a call slot. Two transitions race, and both are
 * compare-and-swap on `Pending`: the worker's `Pending -> Started` before it
 * runs a call and the parent's `Pending -> Cancelled` when a batched call is
 * interrupted. Whoever wins decides: a cancelled call is never run; a started
 * one can only be stopped with its thread.
 *
 * The worker answers a call in two steps: `Posting` while `postMessage`
 * clones the response, then `Free` once it is posted — a compare-and-swap
 * from `Posting`, because a parent that has read the response may already
 * have given the slot to a new call (`Pending`), which must stand. So `Free`
 * on a call the parent holds means its response is waiting in the port, and
 * `Posting` that the thread is still busy with the call: cloning an answer
 * runs the answer's own code (a getter) and can take as long as the call
 * itself, or for ever, so the parent treats it as running.
 */
export const Slot = {
  /** unused, or the call's response has been posted */
  Free: 0,
  /** posted, not started */
  Pending: 1,
  /** the worker is running it */
  Started: 2,
  /** interrupted before it started: the worker skips it and answers `Reply.Skipped` */
  Cancelled: 3,
  /** answered: the worker is cloning and posting the response (then frees the slot) */
  Posting: 4
} as const

/** Whether a slot's call keeps its thread busy: running, or its answer being posted (see {@link Slot}). */
export const isBusy = (state: number): boolean => state === Slot.Started || state === Slot.Posting

/** The index of the state word of call `seq`. */
export const slotOf = (seq: number): number => Signal.FirstSlot + (seq % Signal.Slots)

/** The index of the kind word of call `seq`'s response. */
export const kindOf = (seq: number): number => Signal.FirstKind + (seq % Signal.Slots)

/**
 * The transfer list of one message, from what Effect's `Transferable`
 * collector gathered: each item once (two views of one buffer give it
 * twice, which `postMessage` refuses), without the buffers that cannot move
 * — a `SharedArrayBuffer` (shared already) or one Node marks untransferable
 * (the pool behind small `Buffer`s) — which are copied with the message
 * instead. (WebAssembly's memory cannot move either, and nothing tells it
 * apart: see {@link postMessage}.)
 */
export const transferList = (collected: ReadonlyArray<unknown>): ReadonlyArray<unknown> => {
  if (collected.length === 0) return collected
  const list: Array<unknown> = []
  const seen = new Set<unknown>()
  for (const item of collected) {
    if (seen.has(item)) continue
    seen.add(item)
    if (typeof SharedArrayBuffer !== "undefined" && item instanceof SharedArrayBuffer) continue
    if (item instanceof ArrayBuffer && isMarkedAsUntransferable(item)) continue
    list.push(item)
  }
  return list
}

/**
 * Posts `message` on `port`, moving the buffers of `transfers`. A buffer that
 * cannot be detached — the memory of a WebAssembly instance, which nothing
 * marks beforehand — makes `postMessage` throw before it detaches any; the
 * message then goes again with every buffer copied — the whole of each
 * buffer, not just the bytes its views cover (a view of a large WebAssembly
 * memory copies all of it: slice it to send less). A message that cannot be
 * cloned at all still throws (the second error).
 */
export const postMessage = (port: MessagePort, message: unknown, transfers: ReadonlyArray<unknown>): void => {
  if (transfers.length === 0) return port.postMessage(message)
  try {
    port.postMessage(message, transfers as ReadonlyArray<TransferListItem>)
  } catch {
    port.postMessage(message)
  }
}

/**
 * The parent side of the thread pool behind a `WorkerExecutor`: at most
 * `maxConcurrency` worker threads, started lazily, retired after
 * `idleTimeout`, terminated (and later replaced) when a running call is
 * interrupted, and replaced when they crash. A thread that fails to start
 * fails a call only when no other thread is ready or starting; otherwise the
 * calls wait for those, and no thread is started for {@link START_RETRY_MS}
 * (if only starting threads were left and they fail too, each failed start
 * fails a call then: see `owed`).
 *
 * Each thread is started and watched through Effect's worker platform
 * (`effect/workers` on `@effect/platform-node`'s `NodeWorker`): its start,
 * its readiness, its errors and its exit. Calls do not go through the
 * platform (it forks a fiber per message and wakes an idle worker through its
 * event loop): they go over a `MessageChannel` of the pool's own, in batches,
 * and wake the worker with `Atomics.notify` (see `protocol.ts`). The pool
 * keeps the `node:worker_threads` handle the spawner returned so it can
 * terminate a thread that is busy in synchronous code.
 *
 * Calls wait in one FIFO. A thread takes one call at a time while calls are
 * long; when the calls it answers take less than {@link TINY_MS} each, it
 * takes them in batches of up to {@link DEPTH}, shared out evenly between the
 * ready threads, so that a stream of tiny calls costs one message and one
 * wake-up per batch instead of per call. When an answer shows calls are no
 * longer tiny, the calls threads hold unstarted beyond their next one are
 * taken back and handed out one per thread again. While calls are tiny, those
 * a thread holds behind the one it runs count as waiting for a thread, so a
 * pool that batches still grows to its size, and a thread that becomes ready
 * takes back what the others hold unstarted. Calls made while the responses at
 * hand are being settled (an executor starts a call for each one that
 * finished) are dispatched once they all are, so that they too go out in
 * batches.
 *
 * @internal
 */
import * as NodeWorker from "@effect/platform-node/NodeWorker"
import { errorText } from "@taskscope/executor/internal/describe"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import * as EffectWorker from "effect/workers/Worker"
import { isWorkerError } from "effect/workers/WorkerError"
import * as WorkerThreads from "node:worker_threads"
import type { Stats } from "../WorkerPool.ts"
import * as Metrics from "./metrics.ts"
import {
  type Call,
  FEATURES,
  isBusy,
  kindOf,
  type Open,
  postMessage,
  type Ready,
  Reply,
  type ReplyKind,
  type Response,
  Signal,
  signalBytes,
  Slot,
  slotOf,
  type Trace
} from "./protocol.ts"

/** The thread ran nothing to completion: it died, or never started. */
export interface Crash {
  readonly _tag: "Crash"
  /** start: the thread never became ready; run: it died or was stopped mid-call; closed: no thread, the pool is closed */
  readonly phase: "start" | "run" | "closed"
  readonly reason: string
  readonly cause: unknown
}

/** The request could not be posted (its payload is not cloneable). */
export interface NotSent {
  readonly _tag: "NotSent"
  readonly cause: unknown
}

/**
 * The call's response could not be read on this thread (`kind` says what it
 * was): a value the worker could clone but this thread cannot rebuild, as a
 * structure nested too deeply for its stack, which is smaller than a
 * worker's.
 */
export interface Unreadable {
  readonly _tag: "Unreadable"
  readonly kind: ReplyKind
  readonly cause: unknown
}

/** What one call comes back with. */
export type Outcome = Response | Crash | NotSent | Unreadable

export interface Options {
  readonly maxConcurrency: number
  readonly spawn: (id: number) => WorkerThreads.Worker
  /** milliseconds; undefined keeps idle threads until the pool closes */
  readonly idleTimeout: number | undefined
  /** milliseconds a thread may take to become ready; undefined: no limit */
  readonly readyTimeout: number | undefined
  readonly onInterruptRunning: "terminate" | "wait"
  /** The `executor` attribute of its series */
  readonly name: string
  readonly metrics: boolean
  /** What the pool tells its threads it knows (see `Features`); tests leave some out to play an older parent. */
  readonly features?: number | undefined
}

export interface Pool {
  /**
   * Runs one call on a thread; interruption follows `onInterruptRunning`.
   * A call given `starting` (a `WorkerExecutor` call with a deadline) goes
   * only to a thread that holds no other call, where it starts at once, and
   * `starting` is asked just before it is sent: the run deadline starts then,
   * and `false` (its start deadline has passed) keeps it unsent, waiting
   * for the interruption that ends it.
   */
  readonly execute: (
    task: string,
    payload: unknown,
    transfers: ReadonlyArray<unknown>,
    trace?: Trace | undefined,
    starting?: (() => boolean) | undefined
  ) => Effect.Effect<Outcome>
  readonly stats: Effect.Effect<Stats>
  /** Starts threads up to `size` (replacing those on their way out once they end) and waits until they are ready (or dead). */
  readonly prestart: Effect.Effect<void>
  /** `true` while the calls it answers take a thread less than {@link TINY_MS} each (moving average). */
  readonly tiny: () => boolean
}

/** The parent side behind each public `WorkerPool`, for the executors that run on it. */
export const internals = new WeakMap<object, Pool>()

/**
 * A call of a public `WorkerPool`'s task set; `starting`: see {@link Pool.execute}.
 */
export type TaskCall = (task: string, payload: unknown, starting?: () => boolean) => Effect.Effect<any, any>

/**
 * The calls of each public `WorkerPool`, for the executors that run on it:
 * `traced` carries the caller's trace context to the thread, `untraced` none
 * (what a `WorkerExecutor` without `tracing` uses: its calls get no span in
 * this thread, so none in the worker either).
 */
export const calls = new WeakMap<object, { readonly traced: TaskCall; readonly untraced: TaskCall }>()

/** The longest delay `setTimeout` takes (a longer one fires at once). */
const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * A call interrupted (a `timeout`, say) before its thread started it, sent
 * at least this long before (ms), while the thread answered nothing since
 * and runs none of its calls, is a stall: the thread is away in code of its
 * own, a callback a task left behind. A thread reaches a call sent to it
 * within a few milliseconds, or answers the ones ahead of it.
 */
export const STALL_MS = 100

/**
 * The most threads a call whose payload may be unreadable is sent to: past
 * that it fails even when the deaths could be blamed on a cancelled call
 * (see `onThreadEnd`).
 */
export const MAX_READ_DEATHS = 4

/**
 * A thread with two stalls in a row (no answer between them), or one of at
 * least this long (ms), is stuck — in a callback that may never return —
 * and would hold every call sent to it: it is terminated and replaced.
 */
export const STUCK_MS = 1000

/**
 * After a thread the calls needed failed to start while another one was
 * ready or starting, the pool starts no thread for this long (ms); after
 * any failed start, the calls held behind running ones (while calls are
 * tiny) do not ask for a thread for this long. The calls wait for the
 * threads the pool has, and a start that failed is tried again this much
 * later, not in a loop.
 */
export const START_RETRY_MS = 500
/** Calls that take a thread less than this (ms, moving average, measured by the workers) are sent in batches. */
export const TINY_MS = 1
/** The most calls a thread holds at once when calls are tiny (at most `Signal.Slots`). */
export const DEPTH = 32
/**
 * How many calls per thread an executor starts while calls are tiny (see
 * `WorkerExecutor`): enough that a thread finds its next calls waiting, few
 * enough that a call rarely waits long behind others in its thread's batch.
 * 8, 16 and 32 were tried in the node bench: 16 was fastest at 2,000 and at
 * 20,000 calls in flight.
 */
export const AHEAD = DEPTH / 2

interface Entry {
  readonly task: string
  readonly payload: unknown
  readonly transfers: ReadonlyArray<unknown>
  readonly trace: Trace | undefined
  /** undefined once the call is settled (answered, failed or interrupted) */
  resume: ((outcome: Outcome) => void) | undefined
  thread: Thread | undefined
  seq: number
  /** the order in which the calls were made */
  readonly order: number
  /**
   * How many threads died reading their calls while holding it unstarted
   * (see `onThreadEnd`). From the first, it is a suspect ({@link isSuspect}):
   * it goes out alone, so that a payload the worker cannot read is found and
   * fails, instead of killing thread after thread.
   */
  readDeaths: number
  /** When it was sent to its thread (`Date.now()`), and how many answers that thread had given then. */
  sentAt: number
  answeredBefore: number
  /**
   * For a call with a deadline (see `Pool.execute`): asked just before the
   * call is first sent, to a thread that holds no other call; `false`: its
   * start deadline has passed, it must not be sent. Undefined once sent.
   */
  starting: (() => boolean) | undefined
}

/**
 * Whether `entry`'s payload was posted with a transfer list (it has one, and
 * a call number: a call whose post failed is settled, never sent again): the
 * buffers now belong to the thread it went to, and the call cannot be sent
 * again. So such a call goes out only as the first call of a thread (never
 * taken back, see `reclaim`), and fails if that thread ends before starting
 * it.
 */
const moved = (entry: Entry): boolean => entry.transfers.length > 0 && entry.seq >= 0

interface Thread {
  readonly id: number
  raw: WorkerThreads.Worker | undefined
  fiber: Fiber.Fiber<never, unknown> | undefined
  readonly port: WorkerThreads.MessagePort
  readonly signal: Int32Array
  /** true once ready, false if it died first */
  readonly ready: Deferred.Deferred<boolean>
  /** done once it has ended (`onThreadEnd`): it no longer counts against the pool's size */
  readonly gone: Deferred.Deferred<void>
  state: "starting" | "ready" | "dead"
  /**
   * why the pool ended it (undefined: it ended on its own; "unreadable": it
   * could not read the calls posted to it, see `Reply.ReadFailed`)
   */
  ending: "terminated" | "retired" | "readyTimedOut" | "unreadable" | undefined
  /** what its read of posted calls threw (see `Reply.ReadFailed`), if it did */
  readError: unknown
  /**
   * started because a call needed it: if it never starts while no other
   * thread is ready or starting, the call at the head of the queue fails
   * (otherwise that call waits for the threads the pool has, and if those
   * were only starting and fail too, a call fails for this start then)
   */
  readonly onDemand: boolean
  /** the calls made before it was started (their `order` is below this) */
  readonly madeBefore: number
  /**
   * Ends it if it is not ready within `readyTimeout`. A real-time timer, not
   * the program's `Clock`: a thread starts in real time, and a test that
   * moves a `TestClock` past the deadline must not stop a healthy thread.
   */
  readyTimer: ReturnType<typeof setTimeout> | undefined
  /** calls sent and not settled, by seq (in seq order) */
  readonly calls: Map<number, Entry>
  nextSeq: number
  idleSince: number
  /** it holds a suspect call (see `Entry.readDeaths`): it gets no other until that one is answered */
  holdsSuspect: boolean
  /** responses read from it so far */
  answered: number
  /** stalls since its last answer (see {@link STALL_MS}) */
  stalls: number
}

const crashOf = (exit: Exit.Exit<unknown, unknown>): { reason: string; cause: unknown } => {
  if (Exit.isSuccess(exit)) return { reason: "the worker stopped", cause: undefined }
  const error = Cause.findErrorOption(exit.cause)
  if (error._tag === "Some" && isWorkerError(error.value)) {
    const reason = error.value.reason
    const inner = reason.cause
    const detail = inner instanceof Error ? `: ${inner.message}` : ""
    return { reason: reason.message + detail, cause: inner ?? error.value }
  }
  const squashed = Cause.squash(exit.cause)
  return { reason: squashed instanceof Error ? squashed.message : String(squashed), cause: squashed }
}

/** A call that goes out alone (see `Entry.readDeaths`). */
const isSuspect = (entry: Entry): boolean => entry.readDeaths > 0

const closedCrash: Crash = { _tag: "Crash", phase: "closed", reason: "the pool is closed", cause: undefined }

/** A call whose transferred buffers went to a thread that ended before starting it (see `moved`). */
const movedCrash = (reason: string, cause: unknown): Crash => ({
  _tag: "Crash",
  phase: "run",
  reason: `${reason} before the call could start, and its payload's transferred buffers went with the thread ` +
    "(they cannot be sent again)",
  cause
})

/**
 * `raw` as the worker platform sees it: its `message` listeners hear the
 * platform's own messages only (arrays, as `[0]` for ready). Task code may
 * post anything on `parentPort` (a library reporting progress its own way),
 * and the platform's listener reads `message[0]` unchecked: a `null` or an
 * `undefined` threw in the parent's event listener, an uncaught exception
 * that ended the whole process. Anything else goes to `raw` as it is.
 */
const platformOnly = (raw: WorkerThreads.Worker): WorkerThreads.Worker =>
  new Proxy(raw, {
    get(target, property) {
      if (property === "on") {
        return (event: string, listener: (...args: Array<any>) => void) => {
          target.on(event, event === "message"
            ? (message: unknown) => Array.isArray(message) && listener(message)
            : listener)
          return target
        }
      }
      const value: unknown = Reflect.get(target, property, target)
      return typeof value === "function" ? value.bind(target) : value
    }
  })

/** Makes a pool whose threads all end when `Scope` closes. */
export const make = (options: Options): Effect.Effect<Pool, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const platform = yield* Effect.provide(EffectWorker.WorkerPlatform, NodeWorker.layerPlatform)
    // thread fibers are roots run with the pool's context: not children of
    // the task that happened to start them, and ended by the finalizer below
    const context = yield* Effect.context<never>()
    const runFork = Effect.runForkWith(context)
    const metrics = Metrics.make(context, options.name, options.metrics)
    const threads = new Set<Thread>()
    /** ready threads, for the dispatcher's scan */
    const ready: Array<Thread> = []
    // FIFO of calls waiting for a thread: a head index into an array that is
    // compacted when half of it has been taken; settled entries are skipped
    let queue: Array<Entry> = []
    let head = 0
    /** unsettled entries in the queue */
    let waiting = 0
    /** calls made so far */
    let made = 0
    let starting = 0
    let nextThreadId = 0
    let closing = false
    /** When a thread last failed to start (`performance.now()`, see `backlog`); reset once one becomes ready. */
    let startFailedAt = Number.NEGATIVE_INFINITY
    /**
     * No thread is started before this (`performance.now()`) while another
     * could serve the calls: set when a thread the calls needed failed to
     * start with another ready or starting (see `holdStart`).
     */
    let holdUntil = Number.NEGATIVE_INFINITY
    /**
     * Starts the calls needed that failed while only other starting threads
     * could serve them: if those fail to start too, each of these fails a
     * call then, so that a worker that cannot start fails one call per start,
     * as when it is started alone. Forgotten once a thread becomes ready.
     */
    let owed = 0
    /** Brings the dispatcher back once a start held back by {@link START_RETRY_MS} may be tried again. */
    let retryTimer: ReturnType<typeof setTimeout> | undefined
    let reaping = false
    let dispatching = false
    /** settling responses: calls made meanwhile are dispatched once that is done */
    let receiving = false
    let again = false
    /** moving average of the time a thread takes per call (ms); undefined until measured */
    let perCall: number | undefined
    /** Whether calls are tiny now: measured, and under {@link TINY_MS}. */
    const isTiny = (): boolean => perCall !== undefined && perCall < TINY_MS
    let started = 0
    let crashed = 0
    let terminated = 0
    let retired = 0

    const settle = (entry: Entry, outcome: Outcome): void => {
      const resume = entry.resume
      if (resume === undefined) return
      entry.resume = undefined
      resume(outcome)
    }

    const takeQueued = (): Entry | undefined => {
      while (head < queue.length) {
        const entry = queue[head++]!
        if (head > 1024 && head * 2 > queue.length) {
          queue = queue.slice(head)
          head = 0
        }
        if (entry.resume !== undefined) {
          waiting--
          return entry
        }
      }
      return undefined
    }

    /** Puts calls back at the front of the queue, in the given order. */
    const requeue = (entries: ReadonlyArray<Entry>): void => {
      if (entries.length === 0) return
      for (const entry of entries) {
        entry.thread = undefined
        waiting++
      }
      if (head >= entries.length) {
        head -= entries.length
        for (let i = 0; i < entries.length; i++) queue[head + i] = entries[i]!
      } else {
        queue = [...entries, ...queue.slice(head)]
        head = 0
      }
    }

    /** `thread` let go of a call: once it holds none, it is idle from now (for `idleTimeout`). */
    const letGo = (thread: Thread, seq: number): void => {
      const entry = thread.calls.get(seq)
      if (thread.holdsSuspect && entry !== undefined && isSuspect(entry)) thread.holdsSuspect = false
      thread.calls.delete(seq)
      if (thread.calls.size === 0) {
        thread.idleSince = Date.now()
        scheduleReap()
      }
    }

    const onResponse = (thread: Thread, response: Response): void => {
      if (response[1] === Reply.ReadFailed) return onReadFailed(thread, response[2])
      thread.answered++
      thread.stalls = 0
      const entry = thread.calls.get(response[0])
      if (entry === undefined) return
      letGo(thread, response[0])
      if (response[1] === Reply.Skipped) {
        // never started: a cancel takes its call out first, so this is not
        // one; should it happen all the same, the call is run elsewhere, not lost
        // (or fails, when its payload went to this thread: see `moved`)
        if (moved(entry)) settle(entry, movedCrash("the thread skipped it", undefined))
        else requeue([entry])
        return
      }
      // the worker's own measure: not inflated by waiting for a core
      const took = response[3]
      perCall = perCall === undefined ? took : perCall + (took - perCall) / 4
      settle(entry, response)
    }

    /**
     * `thread` could not read the calls posted to it: it has lost its receive
     * loop, and answers nothing from now on. It is ended (should it live on,
     * swallowing uncaught exceptions) and its calls are dealt with as those
     * of a thread that died while reading (see `onThreadEnd`).
     */
    const onReadFailed = (thread: Thread, cause: unknown): void => {
      thread.readError = cause
      if (thread.state !== "dead" && thread.ending === undefined) runFork(stop(thread, "unreadable"))
    }

    /**
     * A response `thread` posted could not be read here (it is consumed all
     * the same). The worker runs its calls one at a time and answers them in
     * that order, and a call leaves `calls` once its response is read: the
     * unreadable response is that of the oldest call the thread holds.
     */
    const onUnreadable = (thread: Thread, cause: unknown): void => {
      const oldest = thread.calls.entries().next()
      if (oldest.done === true) return
      const [seq, entry] = oldest.value
      letGo(thread, seq)
      settle(entry, { _tag: "Unreadable", kind: Atomics.load(thread.signal, kindOf(seq)) as ReplyKind, cause })
    }

    /** Reads the responses `thread` has already posted, without waiting for their events. */
    const drain = (thread: Thread): void => {
      const port = thread.port
      for (;;) {
        let got: { message: unknown } | undefined
        try {
          got = WorkerThreads.receiveMessageOnPort(port)
        } catch (cause) {
          onUnreadable(thread, cause)
          continue
        }
        if (got === undefined) return
        onResponse(thread, got.message as Response)
      }
    }

    /** Reads every response already posted by any ready thread. */
    const drainAll = (): void => {
      for (let i = 0; i < ready.length; i++) {
        const thread = ready[i]!
        if (thread.calls.size > 0) drain(thread)
      }
    }

    /** Posts up to `count` queued calls to `thread` in one message. */
    const send = (thread: Thread, count: number): void => {
      const signal = thread.signal
      const entries: Array<Entry> = []
      const calls: Array<Call> = []
      const transfers: Array<unknown> = []
      let expired: Array<Entry> | undefined
      while (entries.length < count) {
        // A slot still in use: a call the worker has not answered (a
        // cancelled one it has not reached yet, say), or an answered one
        // whose answer is not read yet (its cancel must not land on a new
        // call in its slot). The Skipped answer, or reading the answer,
        // brings the dispatcher back. `Posting` with the answer read (or the
        // call dropped) is free: the worker's own `Posting -> Free` is a
        // compare-and-swap that leaves the new call's `Pending` alone.
        const previous = Atomics.load(signal, slotOf(thread.nextSeq))
        if (
          (previous !== Slot.Free && previous !== Slot.Posting) || thread.calls.has(thread.nextSeq - Signal.Slots)
        ) break
        const entry = takeQueued()
        if (entry === undefined) break
        // a suspect alone on a thread that holds nothing else; a call that
        // transfers buffers as the first call of its thread (see `moved`); a
        // call with a deadline too, so that the thread starts it at once: its
        // run deadline starts as it is sent
        if (
          (isSuspect(entry) || entry.transfers.length > 0 || entry.starting !== undefined) && thread.calls.size > 0
        ) {
          requeue([entry])
          break
        }
        if (entry.starting !== undefined) {
          if (!entry.starting()) {
            // its start deadline passed while the event loop was busy: never sent; its
            // interruption (the deadline's timer) takes it out of the queue
            ;(expired ??= []).push(entry)
            continue
          }
          entry.starting = undefined
        }
        const seq = thread.nextSeq++
        Atomics.store(signal, slotOf(seq), Slot.Pending)
        entry.thread = thread
        entry.seq = seq
        entry.answeredBefore = thread.answered
        thread.calls.set(seq, entry)
        entries.push(entry)
        calls.push(
          entry.trace === undefined ? [seq, entry.task, entry.payload] : [seq, entry.task, entry.payload, entry.trace]
        )
        for (const transfer of entry.transfers) transfers.push(transfer)
        if (isSuspect(entry)) {
          thread.holdsSuspect = true
          break
        }
      }
      if (expired !== undefined) requeue(expired)
      if (entries.length === 0) return
      try {
        thread.port.postMessage(calls, transfers as Array<WorkerThreads.Transferable>)
      } catch (error) {
        // some payload cannot be cloned, or some buffer cannot move: nothing
        // was sent. Send them one by one, so that only the calls that cannot
        // be sent fail, and only those whose buffers cannot move are copied.
        for (let i = 0; i < entries.length; i++) {
          const entry = entries[i]!
          try {
            if (entries.length === 1 && entry.transfers.length === 0) throw error
            postMessage(thread.port, [calls[i]], entry.transfers)
          } catch (cause) {
            Atomics.store(signal, slotOf(entry.seq), Slot.Free)
            letGo(thread, entry.seq)
            settle(entry, { _tag: "NotSent", cause })
          }
        }
      }
      // sent now (what cloning the payloads took is not the thread's delay)
      const now = Date.now()
      for (let i = 0; i < entries.length; i++) entries[i]!.sentAt = now
      Atomics.add(signal, Signal.Requests, 1)
      // every waiter (the thread waits in `Atomics.wait` or, with timers pending, `Atomics.waitAsync`)
      Atomics.notify(signal, Signal.Requests)
    }

    /**
     * Calls are no longer tiny: takes back what each thread holds beyond its
     * first call and has not started, so that those calls go one per thread
     * (to whichever is free first) instead of waiting behind a long call in a
     * batch made while calls were tiny. A call the thread starts first stays
     * with it (the compare-and-swap decides); the thread answers the others
     * `Skipped` when it reaches them, which frees their slots.
     */
    const reclaim = (): void => {
      let taken: Array<Entry> | undefined
      for (let i = 0; i < ready.length; i++) {
        const thread = ready[i]!
        if (thread.calls.size >= 2) taken = takeBack(thread, true, taken)
      }
      if (taken !== undefined) requeue(taken.sort(byOrder))
    }

    /** Calls in the order they were made. */
    const byOrder = (a: Entry, b: Entry): number => a.order - b.order

    /**
     * Takes back the calls `thread` holds and has not started (a
     * compare-and-swap each: one it starts first stays with it), all or all
     * but its first, into `taken`; the thread answers the others `Skipped`
     * when it reaches them (if it lives), which frees their slots.
     */
    const takeBack = (
      thread: Thread,
      keepFirst: boolean,
      taken: Array<Entry> | undefined
    ): Array<Entry> | undefined => {
      let first = keepFirst
      for (const entry of thread.calls.values()) {
        if (first) {
          first = false
          continue
        }
        if (entry.resume === undefined || moved(entry)) continue // (a moved call is first: not here)
        if (
          Atomics.compareExchange(thread.signal, slotOf(entry.seq), Slot.Pending, Slot.Cancelled) !== Slot.Pending
        ) {
          continue
        }
        thread.calls.delete(entry.seq)
        ;(taken ??= []).push(entry)
      }
      return taken
    }

    /**
     * Calls waiting for a thread of their own: the queue, and — while calls
     * are tiny and go out in batches — those a thread holds behind the one it
     * runs. A pool that batches must still grow to its size: otherwise the
     * first long calls after tiny ones (or after a crash) queue up on the
     * threads that happen to exist.
     */
    const backlog = (tiny: boolean): number => {
      let count = waiting
      // A thread that failed to start took nothing out of the held calls:
      // counting them again at once would start threads in a loop. They count
      // again a while after the failure, so a start that failed once is tried
      // again later.
      if (tiny) {
        const since = performance.now() - startFailedAt
        for (let i = 0; i < ready.length; i++) {
          const held = ready[i]!.calls.size
          if (held <= 1) continue
          if (since >= START_RETRY_MS) count += held - 1
          else retryLater(START_RETRY_MS - since) // they ask again once the wait is over
        }
      }
      return count
    }

    /** Whether a thread is ready and not on its way out: one that will serve the queued calls. */
    const readyServer = (): boolean => {
      for (let i = 0; i < ready.length; i++) {
        if (ready[i]!.ending === undefined) return true
      }
      return false
    }

    /** Whether a thread is ready (and not on its way out) or starting: one that may serve the queued calls. */
    const canServe = (): boolean => starting > 0 || readyServer()

    /**
     * How long (ms) a new thread must wait: a thread failed to start less than
     * {@link START_RETRY_MS} ago while another could serve the calls. Starting
     * one at once would fail the same way, again and again, as long as those
     * threads are busy (the failed start took no call). With no thread at all,
     * nothing is held back: a call waits for a thread, or fails if none starts.
     */
    const holdStart = (): number => {
      const left = holdUntil - performance.now()
      return left > 0 && canServe() ? left : 0
    }

    const retryLater = (ms: number): void => {
      if (retryTimer !== undefined || closing) return
      retryTimer = setTimeout(() => {
        retryTimer = undefined
        dispatch()
      }, Math.max(1, Math.ceil(ms)))
      retryTimer.unref() // the pool's threads keep the process alive, not this
    }

    /** Hands queued calls to ready threads, and starts threads the queue needs. */
    const dispatch = (): void => {
      if (dispatching) {
        again = true
        return
      }
      dispatching = true
      try {
        do {
          again = false
          const tiny = isTiny()
          if (!tiny && perCall !== undefined) reclaim()
          // `send` takes calls off the queue (`waiting`): go on while it can
          for (;;) {
            if (waiting === 0) break
            // the ready thread holding the fewest calls
            let best: Thread | undefined
            for (let i = 0; i < ready.length; i++) {
              const thread = ready[i]!
              if (thread.ending !== undefined || thread.holdsSuspect) continue
              if (best === undefined || thread.calls.size < best.calls.size) best = thread
            }
            const held = best === undefined ? Infinity : best.calls.size
            if (best === undefined || (tiny ? held > DEPTH / 2 : held > 0)) break
            const share = tiny ? Math.min(DEPTH - held, Math.ceil(waiting / ready.length)) : 1
            const before = waiting
            send(best, share)
            if (waiting === before) break
          }
          // (the backlog, which walks the ready threads, only when a thread could be started)
          if (threads.size < options.maxConcurrency && !closing && backlog(tiny) > starting) {
            const hold = holdStart()
            if (hold > 0) retryLater(hold)
            else {
              spawn(true)
              again = true
            }
          }
        } while (again)
      } finally {
        dispatching = false
      }
    }

    const onThreadEnd = (thread: Thread, exit: Exit.Exit<unknown, unknown>): void => {
      if (thread.state === "dead") return
      clearTimeout(thread.readyTimer)
      const wasStarting = thread.state === "starting"
      if (wasStarting) {
        starting--
        startFailedAt = performance.now()
      } else ready.splice(ready.indexOf(thread), 1)
      thread.state = "dead"
      threads.delete(thread)
      metrics?.threadEnded()
      if (thread.ending === undefined || thread.ending === "readyTimedOut" || thread.ending === "unreadable") {
        crashed++
        metrics?.restarted("crash")
      }
      // responses posted before the thread ended still count
      drain(thread)
      thread.port.close()
      const { cause, reason } = thread.ending === "terminated"
        ? { reason: "the thread was terminated", cause: undefined }
        : thread.ending === "retired"
        ? { reason: "the pool closed while the task ran", cause: undefined }
        : thread.ending === "readyTimedOut"
        ? {
          reason: `it was not ready within ${options.readyTimeout} ms (readyTimeout); ` +
            "does its entry module call WorkerRunner.serve?",
          cause: undefined
        }
        : thread.readError !== undefined
        ? {
          reason: `it could not read the calls posted to it (${errorText(thread.readError)})`,
          cause: thread.readError
        }
        : crashOf(exit)
      const crash: Crash = { _tag: "Crash", phase: "run", reason, cause }
      // The calls that fail here are taken out now and told last, once the pool is in order:
      // telling one runs its caller at once, which may interrupt the others (an `Effect.all`
      // failing fast) or call again, and must find none of them half dealt with.
      const failed: Array<readonly [resume: (outcome: Outcome) => void, outcome: Outcome]> = []
      const fail = (entry: Entry, outcome: Outcome): void => {
        if (entry.resume === undefined) return
        failed.push([entry.resume, outcome])
        entry.resume = undefined
      }
      // Calls the thread had not started never ran: they go back to the
      // front of the queue. The one it was running fails.
      const unstarted: Array<Entry> = []
      let running = false
      for (const entry of thread.calls.values()) {
        if (entry.resume === undefined) continue
        const state = Atomics.load(thread.signal, slotOf(entry.seq))
        if (isBusy(state)) running = true
        if (state === Slot.Pending && !closing) unstarted.push(entry)
        else fail(entry, state === Slot.Pending ? closedCrash : crash)
      }
      thread.calls.clear()
      // a call whose buffers went to this thread cannot be sent again (see `moved`)
      for (let i = unstarted.length - 1; i >= 0; i--) {
        if (moved(unstarted[i]!)) fail(unstarted.splice(i, 1)[0]!, movedCrash(reason, cause))
      }
      if (
        (thread.ending === undefined || thread.ending === "unreadable") && !running && unstarted.length > 0 &&
        Atomics.load(thread.signal, Signal.Reading) !== 0
      ) {
        // It died on its own while reading posted calls, or said its read
        // threw and was ended here ("unreadable": it swallows uncaught
        // exceptions, and lived on without its loop): a payload too large
        // for its resourceLimits, or nested too deeply for its stack, ends a
        // thread before any call of its message starts. A call that went out
        // alone and met this twice is the cause: it fails. Otherwise every
        // call it held goes out alone from now on. (A thread that dies of
        // something else, a timer its task left behind, says nothing of the
        // calls it had not started: they run elsewhere.) Nor does one that
        // still had to read a cancelled call: that call's payload may be the
        // one it could not read, so a suspect goes out alone again — up to
        // MAX_READ_DEATHS threads in all, then it fails all the same (the
        // thread may have read that call already, and not said so yet).
        const only = unstarted[0]!
        const suspected = isSuspect(only)
        for (const entry of unstarted) entry.readDeaths++ // each a suspect from now on
        if (
          unstarted.length === 1 && suspected &&
          (!holdsUnreadCancelled(thread) || only.readDeaths >= MAX_READ_DEATHS)
        ) {
          fail(only, {
            _tag: "Crash",
            phase: "run",
            reason: `${reason}, ${only.readDeaths === 2 ? "twice" : `${only.readDeaths} times`}, ` +
              "before the call could start: " +
              "the worker could not read its payload (too large for the thread's resourceLimits, " +
              "or nested too deeply for its stack?)",
            cause
          })
          unstarted.length = 0
        }
      }
      requeue(unstarted)
      if (wasStarting && !closing) {
        if (thread.ending === "readyTimedOut") {
          // The calls made before it started have waited the whole
          // readyTimeout for it: with no thread ready to take them, they fail
          // now rather than wait for another thread that may not start either.
          if (ready.length === 0) failQueuedBefore(thread.madeBefore, { _tag: "Crash", phase: "start", reason, cause })
        } else if (thread.onDemand) {
          // With a thread ready or starting, a start that failed (no thread
          // could be made just now, say) fails no call: the calls wait for
          // that thread, and no new one is started for a while (see
          // `holdStart`). With none, the head of the queue fails — and one
          // more call for each start that failed while only starting threads
          // were left (`owed`) — so that calls fail, one per start, instead of
          // waiting for ever when the worker cannot start at all.
          if (canServe()) {
            if (!readyServer()) owed++
            holdUntil = performance.now() + START_RETRY_MS
          } else {
            holdUntil = Number.NEGATIVE_INFINITY
            // taken out and paid off here, told last with the others: what their callers call next
            // (or a start that fails in turn) must find neither these calls nor the debt
            const startCrash: Crash = { _tag: "Crash", phase: "start", ...crashOf(exit) }
            for (let n = 1 + owed; n > 0; n--) {
              const entry = takeQueued()
              if (entry === undefined) break
              fail(entry, startCrash)
            }
            owed = 0
          }
        }
      }
      dispatch()
      Deferred.doneUnsafe(thread.ready, Exit.succeed(false))
      Deferred.doneUnsafe(thread.gone, Exit.void)
      for (const [resume, outcome] of failed) resume(outcome)
    }

    /** Fails the queued calls made before call number `order`. */
    const failQueuedBefore = (order: number, crash: Crash): void => {
      // all taken out before any caller runs: a caller resumed here runs at once, and may call
      // again (the queue grows, or is compacted under this walk) or take calls from it
      const resumes: Array<(outcome: Outcome) => void> = []
      for (let i = head; i < queue.length; i++) {
        const entry = queue[i]!
        if (entry.order >= order || entry.resume === undefined) continue
        resumes.push(entry.resume)
        entry.resume = undefined
        waiting--
      }
      for (const resume of resumes) resume(crash)
    }

    const onReady = (thread: Thread): void => {
      if (thread.state !== "starting") return
      clearTimeout(thread.readyTimer)
      thread.readyTimer = undefined
      starting--
      startFailedAt = holdUntil = Number.NEGATIVE_INFINITY
      owed = 0
      thread.state = "ready"
      thread.idleSince = Date.now()
      ready.push(thread)
      thread.port.on("message", (response: Response) => {
        // calls made while the responses are settled (the executor starts
        // one task per finished one) wait for the dispatch below, so that
        // they go to the threads in batches instead of one message each
        receiving = true
        try {
          onResponse(thread, response)
          drainAll()
        } finally {
          receiving = false
          dispatch()
        }
      })
      thread.port.on("messageerror", (cause: unknown) => {
        onUnreadable(thread, cause)
        dispatch()
      })
      scheduleReap()
      // calls other threads hold unstarted, batched while calls were tiny,
      // are shared out again: one of them may be a long call that would
      // wait behind another while this thread sits idle
      if (ready.length > 1) reclaim()
      dispatch()
      // last: whoever waits for it (prestart) resumes at once, and finds the calls that waited
      // for a thread handed out
      Deferred.doneUnsafe(thread.ready, Exit.succeed(true))
    }

    /** Marks `thread` as ending, why, and counts it (once): no call is sent to it from then on. */
    const markEnding = (thread: Thread, ending: NonNullable<Thread["ending"]>): void => {
      if (thread.ending !== undefined) return
      thread.ending = ending
      // (a thread not ready in time counts as crashed, when it ends)
      if (ending === "terminated") {
        terminated++
        metrics?.restarted("terminate")
      } else if (ending === "retired") retired++
    }

    /** Ends a thread now: `terminate()` stops even a busy synchronous loop or an `Atomics.wait`. */
    const stop = (thread: Thread, ending: NonNullable<Thread["ending"]>): Effect.Effect<void> =>
      Effect.suspend(() => {
        markEnding(thread, ending)
        const raw = thread.raw
        const fiber = thread.fiber
        const terminate = raw === undefined ? Effect.void : Effect.promise(() => raw.terminate())
        return fiber === undefined
          ? terminate
          : Effect.andThen(terminate, Effect.andThen(Fiber.interrupt(fiber), Fiber.await(fiber)))
      }).pipe(Effect.asVoid)

    const spawn = (onDemand: boolean): Thread => {
      const { port1, port2 } = new WorkerThreads.MessageChannel()
      const buffer = new SharedArrayBuffer(signalBytes)
      const thread: Thread = {
        id: nextThreadId++,
        raw: undefined,
        fiber: undefined,
        port: port1,
        signal: new Int32Array(buffer),
        ready: Deferred.makeUnsafe<boolean>(),
        gone: Deferred.makeUnsafe<void>(),
        state: "starting",
        ending: undefined,
        onDemand,
        madeBefore: made,
        readyTimer: undefined,
        calls: new Map(),
        nextSeq: 0,
        idleSince: 0,
        holdsSuspect: false,
        answered: 0,
        stalls: 0,
        readError: undefined
      }
      threads.add(thread)
      started++
      starting++
      metrics?.threadStarted()
      const spawner: EffectWorker.SpawnerFn<WorkerThreads.Worker> = (id) => {
        const raw = options.spawn(id)
        thread.raw = raw
        return platformOnly(raw)
      }
      const run = Effect.gen(function*() {
        const backing = yield* platform.spawn<Ready, Open>(thread.id)
        // buffered by the platform until the worker is ready
        const open: Open = [port2, buffer, options.features ?? FEATURES]
        yield* backing.send(open, [port2])
        return yield* backing.run(() => Effect.sync(() => onReady(thread)))
      }).pipe(Effect.provideService(EffectWorker.Spawner, spawner as EffectWorker.SpawnerFn<unknown>))
      const fiber = runFork(run)
      thread.fiber = fiber
      if (options.readyTimeout !== undefined && thread.state === "starting") {
        const timer = setTimeout(() => {
          if (thread.state === "starting" && thread.ending === undefined) runFork(stop(thread, "readyTimedOut"))
        }, Math.min(options.readyTimeout, MAX_TIMER_MS))
        timer.unref() // the thread itself keeps the process alive while it starts, or not
        thread.readyTimer = timer
      }
      fiber.addObserver((exit) => onThreadEnd(thread, exit))
      return thread
    }

    const reap: Effect.Effect<void> = Effect.suspend(() => {
      if (options.idleTimeout === undefined || closing) {
        reaping = false
        return Effect.void
      }
      const now = Date.now()
      let next = options.idleTimeout
      const expired: Array<Thread> = []
      let idle = 0
      for (const thread of ready) {
        if (thread.calls.size > 0 || thread.ending !== undefined) continue
        idle++
        const age = now - thread.idleSince
        if (age >= options.idleTimeout) expired.push(thread)
        else next = Math.min(next, options.idleTimeout - age)
      }
      if (idle === 0) {
        reaping = false
        return Effect.void
      }
      // marked at once: the dispatcher hands them nothing more
      for (const thread of expired) {
        thread.ending = "retired"
        metrics?.restarted("idle")
      }
      retired += expired.length
      return Effect.andThen(
        Effect.forEach(expired, (thread) => stop(thread, "retired"), { discard: true, concurrency: "unbounded" }),
        Effect.andThen(Effect.sleep(Math.max(1, next)), reap)
      )
    })

    const scheduleReap = (): void => {
      if (options.idleTimeout === undefined || reaping || closing) return
      reaping = true
      runFork(Effect.forkIn(Effect.andThen(Effect.sleep(options.idleTimeout), reap), scope))
    }

    /**
     * Whether `thread` is running one of its calls, posting its answer
     * included (cloning a large answer takes a while); `orAnswered`: or has
     * posted the answer of one that is not read here yet — either way it is
     * not stuck.
     */
    const runsACall = (thread: Thread, orAnswered = false): boolean => {
      for (const entry of thread.calls.values()) {
        const state = Atomics.load(thread.signal, slotOf(entry.seq))
        if (isBusy(state) || (orAnswered && state === Slot.Free)) return true
      }
      return false
    }

    /**
     * Whether `thread` may still have to read a call cancelled (or taken
     * back) before it started: its message stays in the thread's port until
     * the thread reaches it, and reading it could be what kills the thread.
     */
    const holdsUnreadCancelled = (thread: Thread): boolean => {
      for (let i = 0; i < Signal.Slots; i++) {
        if (Atomics.load(thread.signal, Signal.FirstSlot + i) === Slot.Cancelled) return true
      }
      return false
    }

    const cancel = (entry: Entry): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (entry.resume === undefined) return Effect.void
        const thread = entry.thread
        if (thread === undefined) {
          // still queued: dropped where it stands
          entry.resume = undefined
          waiting--
          return Effect.void
        }
        if (thread.state === "dead") {
          // interrupted while its thread's end reads the answers it left (code run by telling one
          // of them): the thread is gone; the call is neither queued again nor failed there
          entry.resume = undefined
          return Effect.void
        }
        const was = Atomics.compareExchange(thread.signal, slotOf(entry.seq), Slot.Pending, Slot.Cancelled)
        if (was === Slot.Pending) {
          // sent but not started: the worker will skip it
          entry.resume = undefined
          letGo(thread, entry.seq)
          const waited = Date.now() - entry.sentAt
          if (
            thread.ending === undefined && waited >= STALL_MS && thread.answered === entry.answeredBefore &&
            !runsACall(thread, true) && Atomics.load(thread.signal, Signal.Reading) !== 1 &&
            (++thread.stalls >= 2 || waited >= STUCK_MS)
          ) {
            return stop(thread, "terminated") // stuck (see STUCK_MS): its other calls go to the next thread
          }
          dispatch()
          return Effect.void
        }
        // Free: its response is posted, and waits in the port. Started, or Posting (the worker
        // is cloning the response: that runs the value's own code, and may never end): running.
        let answered = was === Slot.Free
        if (!answered && options.onInterruptRunning === "terminate") {
          // A call whose response is being posted is stopped as a running one, with no grace
          // period: its caller has given up on it (an interrupt, a timeout), so the response
          // would be dropped, and waiting for it may be waiting for ever. The price, when the
          // clone was about to end, is a new thread, as for a call interrupted just before it
          // answered.
          // The calls it holds behind this one go to other threads first: `terminate()` lands
          // later, and the thread could start the next of them meanwhile, which would then fail
          // for an interrupt that was not its own.
          const held = takeBack(thread, false, undefined)
          answered = Atomics.load(thread.signal, slotOf(entry.seq)) === Slot.Free // (then: no thread to stop)
          if (!answered) markEnding(thread, "terminated") // (no call goes to it from now on)
          if (held !== undefined) requeue(held.sort(byOrder))
          if (!answered) {
            dispatch()
            return stop(thread, "terminated")
          }
        }
        if (answered) {
          // answered: reading its response (posted) settles it; the outcome is dropped
          drain(thread)
          dispatch()
          if (entry.resume === undefined) return Effect.void
        }
        // "wait": the call runs to its end; its outcome is dropped
        return Effect.callback<void>((resume) => {
          entry.resume = () => resume(Effect.void)
        })
      })

    const execute = (
      task: string,
      payload: unknown,
      transfers: ReadonlyArray<unknown>,
      trace?: Trace | undefined,
      starting?: (() => boolean) | undefined
    ): Effect.Effect<Outcome> =>
      Effect.callback<Outcome>((resume) => {
        if (closing) return resume(Exit.succeed(closedCrash))
        const entry: Entry = {
          task,
          payload,
          transfers,
          trace,
          resume: (outcome) => resume(Exit.succeed(outcome)),
          thread: undefined,
          seq: -1,
          order: made++,
          readDeaths: 0,
          sentAt: 0,
          answeredBefore: 0,
          starting
        }
        queue.push(entry)
        waiting++
        if (!receiving) dispatch()
        return cancel(entry)
      })

    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        closing = true
        clearTimeout(retryTimer)
        retryTimer = undefined
        for (let entry = takeQueued(); entry !== undefined; entry = takeQueued()) settle(entry, closedCrash)
        return Effect.forEach(Array.from(threads), (thread) => stop(thread, "retired"), {
          discard: true,
          concurrency: "unbounded"
        })
      })
    )

    const stats = Effect.sync((): Stats => {
      let busy = 0
      let idle = 0
      for (const thread of ready) {
        if (thread.calls.size === 0) {
          if (thread.ending === undefined) idle++
          continue
        }
        // busy: running a call (a thread holding only calls it has not
        // started yet is on its way to busy, and counts as neither)
        if (runsACall(thread)) busy++
      }
      return { threads: threads.size, idle, busy, queued: waiting, started, crashed, terminated, retired }
    })

    /**
     * Starts the threads missing from the pool's size, and waits until they
     * and those already starting (for calls, on demand) are ready (or dead).
     */
    const startMissing = Effect.suspend(() => {
      if (closing) return Effect.void
      // a fixed count: a thread whose spawn throws is gone again at once
      const missing = options.maxConcurrency - threads.size
      const awaited: Array<Thread> = []
      for (const thread of threads) if (thread.state === "starting" && thread.ending === undefined) awaited.push(thread)
      for (let i = 0; i < missing; i++) awaited.push(spawn(false))
      // the threads belong to the pool: interrupting prestart stops only the wait
      return Effect.forEach(awaited, (thread) => Deferred.await(thread.ready), { discard: true })
    })

    const prestart = Effect.suspend(() => {
      // A thread on its way out (retired, terminated) counts against the size until it has
      // ended, so that the pool never runs more than its size; the dispatcher starts its
      // replacement when it ends, and so does prestart, once. Counted as one of the threads,
      // it left the pool short of its size when prestart came right after a retirement.
      const leaving: Array<Thread> = []
      for (const thread of threads) if (thread.ending !== undefined) leaving.push(thread)
      if (leaving.length === 0) return startMissing
      const ended = Effect.forEach(leaving, (thread) => Deferred.await(thread.gone), { discard: true })
      return Effect.andThen(startMissing, Effect.andThen(ended, startMissing))
    })

    return { execute, stats, prestart, tiny: isTiny }
  })

/**
 * The worker side of a `WorkerExecutor`: serves a task set inside a
 * `node:worker_threads` worker. Effect's worker runner platform
 * (`effect/workers` `WorkerRunner` with `@effect/platform-node`'s
 * `NodeWorkerRunner`) starts it and carries the one message that opens the
 * call channel; the calls themselves arrive in batches on a `MessagePort` of
 * their own, read with `receiveMessageOnPort` while the thread waits in
 * `Atomics.wait` (see `internal/protocol.ts`).
 *
 * A worker entry module is one line after its imports:
 *
 * ```ts
 * import { WorkerRunner } from "@taskscope/node"
 * import { tasks } from "./tasks.ts"
 *
 * WorkerRunner.serve(tasks)
 * ```
 *
 * Each call names a task and carries its Schema-encoded payload. The runner
 * decodes the payload, calls the task's function, encodes what it returned
 * (collecting `Transferable`s) and posts the reply; calls run one at a time,
 * in the order they were sent. Every mistake is answered as a reply for that
 * call only: an unknown task name, a payload that fails its Schema, a result
 * that fails its Schema or cannot be cloned, and a function that throws. Only
 * what kills the thread itself (`process.exit`, an uncaught asynchronous
 * error, running out of memory) ends the thread, and the parent replaces it.
 *
 * While it waits for calls the thread sleeps in `Atomics.wait` with its
 * event loop paused, as piscina's threads do; when it has timers, immediates
 * or I/O pending (a task left them behind), it waits in its event loop
 * instead, with `Atomics.waitAsync`, so that they run on time; an unref'd
 * timer, which is not counted as pending, runs within a quarter of a second
 * of its time (the sleeping thread turns its event loop that often). It goes
 * back to its event loop at least every few milliseconds while it runs a
 * stream of calls.
 *
 * A task whose `run` needs services gets them from the context the runner
 * runs in: {@link make} and {@link layer} require them (`TaskSet.Services`),
 * and {@link serve} takes a `Layer` that provides them — and does not
 * compile without one when a task needs it:
 *
 * ```ts
 * WorkerRunner.serve(tasks, Config.layer) // tasks whose run needs Config
 * ```
 *
 * @since 0.1.0
 */
import * as NodeWorkerRunner from "@effect/platform-node/NodeWorkerRunner"
import { attempt, quote } from "@taskscope/executor/internal/describe"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Tracer from "effect/Tracer"
import * as Transferable from "effect/workers/Transferable"
import type { WorkerError } from "effect/workers/WorkerError"
import * as EffectWorkerRunner from "effect/workers/WorkerRunner"
import { type MessagePort, receiveMessageOnPort } from "node:worker_threads"
import { schemaProblem, type SyncSteps, syncSteps } from "./internal/codec.ts"
import {
  type Batch,
  type Call,
  Features,
  kindOf,
  type Open,
  postMessage,
  type Ready,
  Reply,
  type ReplyKind,
  Signal,
  Slot,
  slotOf,
  transferList
} from "./internal/protocol.ts"
import * as TaskSet from "./TaskSet.ts"

interface Codecs {
  readonly run: (payload: unknown) => unknown
  /** Whether what `run` returned is an effect to run (see `TaskSet.isEffectResult`). */
  readonly isEffect: (out: unknown) => boolean
  readonly decodePayload: (input: unknown) => Effect.Effect<unknown, Schema.SchemaError>
  readonly encodeSuccess: (value: unknown) => Effect.Effect<unknown, Schema.SchemaError>
  readonly encodeError: (value: unknown) => Effect.Effect<unknown, Schema.SchemaError>
  readonly isError: (value: unknown) => boolean
  /** the steps whose Schema allows running them without a fiber */
  readonly sync: SyncSteps
}

const compile = (definition: TaskSet.AnyTask): Codecs => ({
  run: definition.run,
  isEffect: (out) => TaskSet.isEffectResult(definition, out),
  decodePayload: Schema.decodeUnknownEffect(definition.payload),
  encodeSuccess: Schema.encodeUnknownEffect(definition.success),
  encodeError: Schema.encodeUnknownEffect(definition.error),
  isError: Schema.is(definition.error),
  sync: syncSteps(definition)
})

/**
 * A plain, always-cloneable copy of a thrown value, for when the value itself
 * is not cloneable: strings only, each read guarded (a `name` that is a
 * Symbol, a `message` getter that throws, a revoked Proxy).
 */
const plainDefect = (u: unknown): { readonly name: string; readonly message: string; readonly stack?: string } => {
  const text = (read: () => unknown): string | undefined =>
    attempt(() => {
      const value = read()
      return value === undefined ? undefined : String(value)
    }, undefined)
  if (!attempt(() => u instanceof Error, false)) {
    return { name: "NonCloneableDefect", message: quote(u) }
  }
  const error = u as Error
  const copy = {
    name: text(() => error.name) ?? "Error",
    message: text(() => error.message) ?? "(a message that cannot be read)"
  }
  const stack = text(() => error.stack)
  return stack === undefined ? copy : { ...copy, stack }
}

/** Go back to the event loop at least this often (ms) while calls keep coming. */
const TURN_MS = 10

/**
 * An idle thread turns its event loop this often (ms): an unref'd timer a
 * task left behind is not pending work (`getActiveResourcesInfo` lists only
 * what keeps the thread alive), and would otherwise wait for the next call.
 */
const IDLE_TURN_MS = 250

/** `true` when something besides message ports waits in this thread's event loop. */
const hasPendingWork = (): boolean => {
  for (const resource of process.getActiveResourcesInfo()) {
    if (resource !== "MessagePort") return true
  }
  return false
}

/**
 * What ends the worker-side span of a call answered with `kind`: success, the
 * (encoded) typed error, the defect, or the problem with the payload or the
 * result.
 */
const spanOutcome = (kind: ReplyKind, value: unknown): Effect.Effect<void, unknown> => {
  switch (kind) {
    case Reply.Success:
    case Reply.Skipped:
      return Effect.void
    case Reply.Defect:
      return Effect.die(value)
    default:
      return Effect.fail(value)
  }
}

/**
 * Serves calls on `port` until the thread ends: the receive loop. Calls whose
 * slot the parent cancelled are skipped; each other call gets exactly one
 * response.
 */
/** The transfer list of a reply that moves nothing (one array for all: `post` runs per call). */
const none: ReadonlyArray<unknown> = []

const serveCalls = (
  taskSet: TaskSet.Any,
  codecs: ReadonlyMap<string, Codecs>,
  port: MessagePort,
  signal: Int32Array,
  /** the parent knows `Slot.Posting` (see `Features.Posting`) */
  posting: boolean,
  runFork: <A, E>(
    effect: Effect.Effect<A, E>
  ) => {
    readonly pollUnsafe: () => Exit.Exit<A, E> | undefined
    readonly addObserver: (f: (exit: Exit.Exit<A, E>) => void) => unknown
  }
): () => void => {
  let inbox: Array<Call> = []
  let head = 0
  /** when the call being run started (calls run one at a time) */
  let startedAt = 0
  /** what the last answer posted was, and carried: for the worker-side span of a traced call */
  let lastKind: ReplyKind = Reply.Success
  let lastValue: unknown = undefined
  /** the call answered last: a thread runs one call at a time, so `runEffect` can tell whether its call was */
  let lastSeq = -1

  const post = (seq: number, kind: ReplyKind, value: unknown, transfers: ReadonlyArray<unknown> = none): void => {
    lastKind = kind
    lastValue = value
    lastSeq = seq
    // what the response is, for a parent that cannot read it (see `Signal.FirstKind`)
    Atomics.store(signal, kindOf(seq), kind)
    // Busy with the call until its response is posted: cloning it runs the
    // value's own code (a getter) and may never end, and a parent that took
    // the call for answered would wait for a response that never comes — its
    // timeout and its cancel could not stop the thread (see `Slot.Posting`).
    // (A parent that does not know `Posting` gets the slot freed first, as it expects.)
    const slot = slotOf(seq)
    Atomics.store(signal, slot, posting ? Slot.Posting : Slot.Free)
    const took = kind === Reply.Skipped ? 0 : performance.now() - startedAt
    try {
      postMessage(port, [seq, kind, value, took], transfers)
    } catch (error) {
      // postMessage throws synchronously (DataCloneError) and sends nothing
      if (kind === Reply.Defect) {
        // strings only: it is sent, and the call gets its answer
        port.postMessage([seq, Reply.Defect, plainDefect(value), took])
      } else {
        const what = kind === Reply.Failure ? "error" : "success value"
        const issue = [what, `could not be cloned to the parent thread (${quote(error)})`]
        Atomics.store(signal, kindOf(seq), Reply.InvalidResult)
        lastKind = Reply.InvalidResult
        lastValue = issue
        port.postMessage([seq, Reply.InvalidResult, issue, took])
      }
    }
    // Posted: the parent may have read it already and given the slot to a new
    // call, whose `Pending` stays (hence a compare-and-swap).
    if (posting) Atomics.compareExchange(signal, slot, Slot.Posting, Slot.Free)
    Atomics.add(signal, Signal.Responses, 1)
  }

  const encodeAndPost = (
    seq: number,
    kind: typeof Reply.Success | typeof Reply.Failure,
    encode: Effect.Effect<unknown, Schema.SchemaError>,
    value: unknown
  ): Effect.Effect<void> => {
    const collector = Transferable.makeCollectorUnsafe()
    return encode.pipe(
      Effect.provideService(Transferable.Collector, collector),
      Effect.matchCause({
        onSuccess: (encoded) => post(seq, kind, encoded, transferList(collector.clearUnsafe())),
        // a Schema error, or a transformation that threw: either way the call gets its reply
        onFailure: (cause) =>
          post(seq, Reply.InvalidResult, [
            kind === Reply.Failure ? "error" : "success value",
            `${quote(value)} does not match its Schema: ${schemaProblem(cause)}`
          ])
      })
    )
  }

  const failOrDie = (seq: number, codec: Codecs, thrown: unknown): Effect.Effect<void> =>
    codec.isError(thrown)
      ? encodeAndPost(seq, Reply.Failure, codec.encodeError(thrown), thrown)
      : Effect.sync(() => post(seq, Reply.Defect, thrown))

  const complete = (seq: number, codec: Codecs, out: unknown): Effect.Effect<void> => {
    if (codec.isEffect(out)) {
      // in a Scope of its own, closed when the call ends (before it is answered)
      return Effect.matchCauseEffect(Effect.scoped(out as Effect.Effect<unknown, unknown, Scope.Scope>), {
        onSuccess: (value) => encodeAndPost(seq, Reply.Success, codec.encodeSuccess(value), value),
        onFailure: (cause) => {
          const error = Cause.findErrorOption(cause)
          return error._tag === "Some"
            ? failOrDie(seq, codec, error.value)
            : Effect.sync(() => post(seq, Reply.Defect, Cause.squash(cause)))
        }
      })
    }
    if (Predicate.isPromiseLike(out)) {
      return Effect.flatMap(
        Effect.callback<Exit.Exit<unknown, unknown>>((resume) => {
          try {
            out.then(
              (value) => resume(Effect.succeed(Exit.succeed(value))),
              (thrown) => resume(Effect.succeed(Exit.fail(thrown)))
            )
          } catch (thrown) {
            // a thenable whose `then` throws fails like a rejected promise
            resume(Effect.succeed(Exit.fail(thrown)))
          }
        }),
        (exit) =>
          Exit.isSuccess(exit)
            ? encodeAndPost(seq, Reply.Success, codec.encodeSuccess(exit.value), exit.value)
            : failOrDie(seq, codec, Cause.squash(exit.cause))
      )
    }
    return encodeAndPost(seq, Reply.Success, codec.encodeSuccess(out), out)
  }

  /** The whole call as an effect: the path for Schemas with transformations, async results and failures. */
  const handle = (seq: number, codec: Codecs, payload: unknown): Effect.Effect<void> =>
    Effect.matchCauseEffect(codec.decodePayload(payload), {
      onFailure: (cause) => Effect.sync(() => post(seq, Reply.InvalidPayload, schemaProblem(cause))),
      onSuccess: (decoded) => run(seq, codec, decoded)
    })

  const run = (seq: number, codec: Codecs, decoded: unknown): Effect.Effect<void> => {
    let out: unknown
    try {
      out = codec.run(decoded)
    } catch (thrown) {
      return failOrDie(seq, codec, thrown)
    }
    return complete(seq, codec, out)
  }

  /**
   * Runs an effect that answers call `seq`; `true` if it finished at once,
   * `false` if it suspended (the loop resumes when it ends).
   */
  const runEffect = (seq: number, effect: Effect.Effect<void>): boolean => {
    // Every call gets exactly one reply: whatever escapes the steps above
    // (a defect in this module's own code, a task that interrupted its own
    // fiber) is answered as a defect.
    // (answered already, the call's reply stands: a second one would free
    // its slot again, maybe under a later call of the parent's)
    const fiber = runFork(
      Effect.catchCause(effect, (cause) =>
        Effect.sync(() => {
          if (lastSeq !== seq) post(seq, Reply.Defect, Cause.squash(cause))
        }))
    )
    // what no handler can catch: the fiber itself interrupted (by the task,
    // through a handle to its own fiber) before it answered
    const unanswered = (exit: Exit.Exit<void>): void => {
      if (Exit.isFailure(exit) && lastSeq !== seq) post(seq, Reply.Defect, Cause.squash(exit.cause))
    }
    const exit = fiber.pollUnsafe()
    if (exit !== undefined) {
      unanswered(exit)
      return true
    }
    fiber.addObserver((exit) => {
      unanswered(exit)
      setImmediate(loop)
    })
    return false
  }

  /** Runs one call; `true` if it was answered before returning. */
  const runCall = (call: Call): boolean => {
    const [seq, name, payload, trace] = call
    let answered = false
    try {
      const codec = typeof name === "string" ? codecs.get(name) : undefined
      if (codec === undefined) {
        answered = true
        post(seq, Reply.UnknownTask, taskSet.names)
        return true
      }
      if (trace !== undefined) {
        // on this side of the thread, a child of the caller's span (the task's)
        // the span ends with the call's outcome: `handle` answers every
        // call and succeeds, so what it answered is replayed inside the span
        const answered = Effect.flatMap(handle(seq, codec, payload), () => spanOutcome(lastKind, lastValue))
        return runEffect(
          seq,
          // a defect ends the span too: `ignoreCause`, as `ignore` lets a defect through
          Effect.ignoreCause(Effect.withSpan(answered, `${name} (worker)`, {
            parent: Tracer.externalSpan({ traceId: trace[0], spanId: trace[1], sampled: trace[2] }),
            attributes: { "taskscope.task.name": name },
            captureStackTrace: false
          }))
        )
      }
      const { decodePayload, encodeSuccess } = codec.sync
      if (decodePayload === undefined) return runEffect(seq, handle(seq, codec, payload))
      // plain payload Schema: no fiber unless the result needs one
      const decoded = decodePayload(payload)
      if (Exit.isFailure(decoded)) {
        answered = true
        post(seq, Reply.InvalidPayload, schemaProblem(decoded.cause))
        return true
      }
      let out: unknown
      try {
        out = codec.run(decoded.value)
      } catch (thrown) {
        return runEffect(seq, failOrDie(seq, codec, thrown))
      }
      if (encodeSuccess === undefined || codec.isEffect(out) || Predicate.isPromiseLike(out)) {
        return runEffect(seq, complete(seq, codec, out))
      }
      const encoded = encodeSuccess(out)
      answered = true
      if (Exit.isSuccess(encoded)) {
        post(seq, Reply.Success, encoded.value)
      } else {
        post(seq, Reply.InvalidResult, [
          "success value",
          `${quote(out)} does not match its Schema: ${schemaProblem(encoded.cause)}`
        ])
      }
      return true
    } catch (defect) {
      if (!answered) post(seq, Reply.Defect, defect)
      return true
    }
  }

  const drain = (): void => {
    Atomics.store(signal, Signal.Reading, 1)
    try {
      for (let entry = receiveMessageOnPort(port); entry !== undefined; entry = receiveMessageOnPort(port)) {
        for (const call of entry.message as Batch) inbox.push(call)
      }
    } catch (error) {
      // a read that threw: it ends the thread, unless something catches
      // uncaught exceptions — then the thread lives on without its loop. The
      // parent is told at once (see `Reply.ReadFailed`): no call of this
      // thread would ever be answered
      Atomics.store(signal, Signal.Reading, 2)
      port.postMessage([-1, Reply.ReadFailed, plainDefect(error), 0])
      throw error
    }
    Atomics.store(signal, Signal.Reading, 0)
  }

  /** The receive loop; entered after every turn of the event loop. */
  const loop = (): void => {
    const turn = performance.now()
    // whether a call ran since this turn of the event loop began
    let ran = false
    for (;;) {
      // read before draining: a batch posted after this read changes the
      // counter, so the wait below returns at once instead of missing it
      const seen = Atomics.load(signal, Signal.Requests)
      drain()
      while (head < inbox.length) {
        const call = inbox[head++]!
        const slot = slotOf(call[0])
        if (Atomics.compareExchange(signal, slot, Slot.Pending, Slot.Started) !== Slot.Pending) {
          // interrupted while it waited in its batch: never run
          post(call[0], Reply.Skipped, undefined)
          continue
        }
        startedAt = performance.now()
        ran = true
        if (!runCall(call)) return
        if (startedAt - turn > TURN_MS) {
          setImmediate(loop)
          return
        }
      }
      inbox = []
      head = 0
      if (hasPendingWork()) {
        // Timers or I/O wait in the event loop: wait for calls there, woken by
        // the parent's notify through `Atomics.waitAsync`, so that they run on
        // time and nothing polls (waiting in slices of 2 ms, an idle thread
        // that kept a timer or a keep-alive socket cost 3-4% of a core). The
        // loop is one chain (no call is in flight here), so one such wait is
        // pending at most; the parent wakes every waiter all the same.
        const waited = Atomics.waitAsync(signal, Signal.Requests, seen)
        if (!waited.async) continue // a batch came since `seen`
        waited.value.then(loop)
        return
      } else if (ran) {
        // the calls may have left microtasks, process.nextTick callbacks or a
        // rejected promise nobody handles: they run (an unhandled rejection
        // ends the thread) in a turn of the event loop, before the thread
        // sleeps — not once the next call comes, under that call's name
        setImmediate(loop)
        return
      } else if (Atomics.wait(signal, Signal.Requests, seen, IDLE_TURN_MS) === "timed-out") {
        // a turn of the event loop now and then, for what a task left behind that does not keep
        // the thread alive (an unref'd timer: a batching exporter's flush) and so is not counted
        // as pending work: it runs within IDLE_TURN_MS of its time, not only once the next call comes
        setImmediate(loop)
        return
      }
    }
  }
  return loop
}

/**
 * Serves a task set on an Effect `WorkerRunner` until the parent closes the
 * worker. Requires the `WorkerRunnerPlatform` (in Node: `NodeWorkerRunner.layer`);
 * use {@link serve} in a worker entry module, or {@link layer} to compose it.
 *
 * @category constructors
 * @since 0.1.0
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as NodeWorkerRunner from "@effect/platform-node/NodeWorkerRunner"
 * import { WorkerRunner } from "@taskscope/node"
 * import { tasks } from "./tasks.ts"
 *
 * Effect.runFork(WorkerRunner.make(tasks).pipe(Effect.provide(NodeWorkerRunner.layer)))
 * ```
 */
export const make = <T extends TaskSet.Any>(
  taskSet: T
): Effect.Effect<void, WorkerError, EffectWorkerRunner.WorkerRunnerPlatform | TaskSet.Services<T>> =>
  Effect.gen(function*() {
    const platform: EffectWorkerRunner.WorkerRunnerPlatform["Service"] = yield* EffectWorkerRunner.WorkerRunnerPlatform
    const runner = yield* platform.start<Ready, Open>()
    const codecs = new Map<string, Codecs>()
    for (const name of taskSet.names) codecs.set(name, compile(taskSet.tasks[name]!))
    // the tasks run in this fiber's context: with the services their functions need
    const runFork = Effect.runForkWith(yield* Effect.context<never>())
    let serving = false
    yield* runner.run<void, never, never>((_portId, open) => {
      if (serving) return
      serving = true
      const [port, buffer, features = 0] = open
      const posting = (features & Features.Posting) !== 0
      const loop = serveCalls(taskSet, codecs, port, new Int32Array(buffer), posting, runFork)
      runner.sendUnsafe(0, 0)
      // the loop blocks this thread while it waits: start it after this event
      setImmediate(loop)
    })
  })

/**
 * Serves a task set for as long as the layer is alive (until the parent
 * closes the worker). Requires the `WorkerRunnerPlatform`. Building the
 * services its tasks need is the program's that launches it: a services
 * layer that fails to build fails that program, and ends the thread with
 * its error only if the program is run so (`NodeRuntime.runMain`, say — a
 * bare `Effect.runFork` exits the thread with code 0 and the error is lost).
 * {@link serve} does both.
 *
 * @category layers
 * @since 0.1.0
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import * as NodeWorkerRunner from "@effect/platform-node/NodeWorkerRunner"
 * import { WorkerRunner } from "@taskscope/node"
 * import { tasks } from "./tasks.ts"
 *
 * Layer.launch(WorkerRunner.layer(tasks).pipe(Layer.provide(NodeWorkerRunner.layer)))
 * ```
 */
export const layer = <T extends TaskSet.Any>(
  taskSet: T
): Layer.Layer<never, never, EffectWorkerRunner.WorkerRunnerPlatform | TaskSet.Services<T>> =>
  Layer.effectDiscard(Effect.forkScoped(Effect.tapCause(make(taskSet), Effect.logError)))

/**
 * What a task set served without a layer is checked against: nothing when no
 * task of it needs a service; otherwise a property that names the layer, so
 * that leaving it out is a compile error that says so.
 */
type NeedsNoServices<T extends TaskSet.Any> = [TaskSet.Services<T>] extends [never] ? unknown : {
  readonly "tasks of this set need services: pass the `layer` that provides them, as serve(tasks, layer)":
    TaskSet.Services<T>
}

/**
 * Serves a task set in this worker thread: the one line of a worker entry
 * module. When tasks of the set need services, pass the `Layer` that provides
 * them (built once per thread); without it the call does not compile. A layer
 * that fails to build (or whose build is interrupted) ends the thread with
 * its error, which the parent reports in the `WorkerCrashedError` of the call
 * that started the thread.
 * The parent terminates the thread when its pool closes (or retires or
 * replaces it): the layer's finalizers do not run then.
 *
 * @category running
 * @since 0.1.0
 * @example
 * ```ts
 * // worker.ts
 * import { WorkerRunner } from "@taskscope/node"
 * import { tasks } from "./tasks.ts"
 *
 * WorkerRunner.serve(tasks)
 * ```
 */
export const serve: {
  <T extends TaskSet.Any>(taskSet: T, layer: Layer.Layer<TaskSet.Services<T>, unknown>): void
  <T extends TaskSet.Any>(taskSet: T & NeedsNoServices<T>): void
} = (taskSet: TaskSet.Any, layer?: Layer.Layer<never, unknown>): void => {
  /** whether the services were built (or none were needed): what an interruption stopped */
  let built = false
  const serving = Effect.andThen(
    Effect.sync(() => {
      built = true
    }),
    make(taskSet) as Effect.Effect<void, WorkerError, EffectWorkerRunner.WorkerRunnerPlatform>
  )
  Effect.runFork(
    (layer === undefined ? serving : Effect.provide(serving, layer)).pipe(
      Effect.provide(NodeWorkerRunner.layer),
      // A layer that fails to build, or serving that fails, ends the thread
      // with its error uncaught: the parent sees the thread fail with it (in
      // the `WorkerCrashedError` of the call that started the thread), not a
      // thread that ended quietly. An interruption too: serving ends without
      // one when the parent closes the worker (or terminates the thread), so
      // one here stopped the layer's build (an `Effect.interrupt` in it, say)
      // or the serving itself, and the thread must not exit 0 as if all were well.
      Effect.catchCause((cause) =>
        Effect.sync(() => {
          // a plain Error: what crosses to the parent is its name and message
          let what: string
          if (Cause.hasInterruptsOnly(cause)) {
            what = built ? "interrupted while serving" : "its services layer was interrupted while it was built"
          } else {
            const failure = Cause.squash(cause)
            // a tagged error without a message says its fields (quote gives name and message)
            what = failure instanceof Error && failure.message === ""
              ? `${failure.name} ${quote({ ...failure })}`
              : quote(failure)
          }
          const error = new Error(`WorkerRunner.serve failed: ${what}`)
          setImmediate(() => {
            throw error
          })
        })
      )
    )
  )
}

/**
 * The worker side of a `WorkerExecutor`: serves a task set inside a
 * `node:worker_threads` worker, over Effect's worker runner platform
 * (`effect/workers` `WorkerRunner` with `@effect/platform-node`'s
 * `NodeWorkerRunner`).
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
 * Each request names a task and carries its Schema-encoded payload. The
 * runner decodes the payload, calls the task's function, encodes what it
 * returned (collecting `Transferable`s) and posts the reply. Every mistake is
 * answered as a reply for that call only: an unknown task name, a payload that
 * fails its Schema, a result that fails its Schema or cannot be cloned, and a
 * function that throws. Only what kills the thread itself (`process.exit`, an
 * uncaught asynchronous error, running out of memory) ends the thread, and the
 * parent replaces it.
 *
 * @since 0.1.0
 */
import * as NodeWorkerRunner from "@effect/platform-node/NodeWorkerRunner"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Tracer from "effect/Tracer"
import * as Transferable from "effect/workers/Transferable"
import type { WorkerError } from "effect/workers/WorkerError"
import * as EffectWorkerRunner from "effect/workers/WorkerRunner"
import { describeValue } from "./internal/describe.ts"
import { Reply, type ReplyKind, type Request, type Response } from "./internal/protocol.ts"
import type * as TaskSet from "./TaskSet.ts"

interface Codecs {
  readonly run: (payload: unknown) => unknown
  readonly decodePayload: (input: unknown) => Effect.Effect<unknown, Schema.SchemaError>
  readonly encodeSuccess: (value: unknown) => Effect.Effect<unknown, Schema.SchemaError>
  readonly encodeError: (value: unknown) => Effect.Effect<unknown, Schema.SchemaError>
  readonly isError: (value: unknown) => boolean
}

// Every step of a request runs in the one fiber the runner starts for it:
// the `Exit`/`Sync` Schema variants would each start a fiber of their own.
const compile = (definition: TaskSet.AnyTask): Codecs => ({
  run: definition.run,
  decodePayload: Schema.decodeUnknownEffect(definition.payload),
  encodeSuccess: Schema.encodeUnknownEffect(definition.success),
  encodeError: Schema.encodeUnknownEffect(definition.error),
  isError: Schema.is(definition.error)
})

const isPromiseLike = (u: unknown): u is PromiseLike<unknown> =>
  typeof u === "object" && u !== null && typeof (u as { then?: unknown }).then === "function"

/** A plain, always-cloneable copy of a thrown value, for when the value itself is not cloneable. */
const plainDefect = (u: unknown): unknown =>
  u instanceof Error
    ? { name: u.name, message: u.message, stack: u.stack }
    : { name: "NonCloneableDefect", message: describeValue(u) }

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
): Effect.Effect<void, WorkerError, EffectWorkerRunner.WorkerRunnerPlatform> =>
  Effect.gen(function*() {
    const platform: EffectWorkerRunner.WorkerRunnerPlatform["Service"] = yield* EffectWorkerRunner.WorkerRunnerPlatform
    const runner = yield* platform.start<Response, Request>()
    const codecs = new Map<string, Codecs>()
    for (const name of taskSet.names) codecs.set(name, compile(taskSet.tasks[name]!))

    const post = (id: number, kind: ReplyKind, value: unknown, transfers?: ReadonlyArray<unknown>): void => {
      try {
        runner.sendUnsafe(0, [id, kind, value], transfers)
      } catch (error) {
        // postMessage throws synchronously (DataCloneError) and sends nothing
        if (kind === Reply.Defect) {
          runner.sendUnsafe(0, [id, Reply.Defect, plainDefect(value)])
        } else {
          const what = kind === Reply.Failure ? "error" : "success value"
          runner.sendUnsafe(0, [id, Reply.InvalidResult, [
            what,
            `could not be cloned to the parent thread (${describeValue(error)})`
          ]])
        }
      }
    }

    const encodeAndPost = (
      id: number,
      kind: typeof Reply.Success | typeof Reply.Failure,
      encode: Effect.Effect<unknown, Schema.SchemaError>,
      value: unknown
    ): Effect.Effect<void> => {
      const collector = Transferable.makeCollectorUnsafe()
      return encode.pipe(
        Effect.provideService(Transferable.Collector, collector),
        Effect.matchCause({
          onSuccess: (encoded) => post(id, kind, encoded, collector.clearUnsafe()),
          // a Schema error, or a transformation that threw: either way the call gets its reply
          onFailure: (cause) =>
            post(id, Reply.InvalidResult, [
              kind === Reply.Failure ? "error" : "success value",
              `${describeValue(value)} does not match its Schema: ${schemaProblem(cause)}`
            ])
        })
      )
    }

    /** What went wrong in a Schema step: its error's message, or what its code threw. */
    const schemaProblem = (cause: Cause.Cause<Schema.SchemaError>): string => {
      const error = Cause.findErrorOption(cause)
      return error._tag === "Some"
        ? error.value.message
        : `its transformation threw ${describeValue(Cause.squash(cause))}`
    }

    const failOrDie = (id: number, codec: Codecs, thrown: unknown): Effect.Effect<void> =>
      codec.isError(thrown)
        ? encodeAndPost(id, Reply.Failure, codec.encodeError(thrown), thrown)
        : Effect.sync(() => post(id, Reply.Defect, thrown))

    const complete = (id: number, codec: Codecs, out: unknown): Effect.Effect<void> => {
      if (Effect.isEffect(out)) {
        return Effect.matchCauseEffect(out as Effect.Effect<unknown, unknown>, {
          onSuccess: (value) => encodeAndPost(id, Reply.Success, codec.encodeSuccess(value), value),
          onFailure: (cause) => {
            const error = Cause.findErrorOption(cause)
            return error._tag === "Some"
              ? failOrDie(id, codec, error.value)
              : Effect.sync(() => post(id, Reply.Defect, Cause.squash(cause)))
          }
        })
      }
      if (isPromiseLike(out)) {
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
              ? encodeAndPost(id, Reply.Success, codec.encodeSuccess(exit.value), exit.value)
              : failOrDie(id, codec, Cause.squash(exit.cause))
        )
      }
      return encodeAndPost(id, Reply.Success, codec.encodeSuccess(out), out)
    }

    const handle = (request: Request): Effect.Effect<void> | undefined => {
      const [id, name, payload, trace] = request
      if (id < 0) {
        // the parent's readiness ping
        post(id, Reply.Success, null)
        return undefined
      }
      const codec = codecs.get(name)
      if (codec === undefined) {
        post(id, Reply.UnknownTask, taskSet.names)
        return undefined
      }
      const work = Effect.matchCauseEffect(codec.decodePayload(payload), {
        onFailure: (cause) => Effect.sync(() => post(id, Reply.InvalidPayload, schemaProblem(cause))),
        onSuccess: (decoded) => {
          let out: unknown
          try {
            out = codec.run(decoded)
          } catch (thrown) {
            return failOrDie(id, codec, thrown)
          }
          return complete(id, codec, out)
        }
      })
      // Every request gets exactly one reply: whatever escapes the steps above
      // (a defect in this module's own code) is answered as a defect, so the
      // caller fails instead of waiting forever.
      const answered = Effect.catchCause(work, (cause) =>
        Cause.hasInterruptsOnly(cause) ? Effect.void : Effect.sync(() => post(id, Reply.Defect, Cause.squash(cause))))
      // on this side of the thread, a child of the caller's span (the task's)
      return trace === undefined ? answered : Effect.withSpan(answered, `${name} (worker)`, {
        parent: Tracer.externalSpan({ traceId: trace[0], spanId: trace[1], sampled: trace[2] }),
        attributes: { "taskscope.task.name": name },
        captureStackTrace: false
      })
    }

    yield* runner.run<void, never, never>((_portId, request) => handle(request))
  })

/**
 * Serves a task set for as long as the layer is alive (until the parent
 * closes the worker). Requires the `WorkerRunnerPlatform`.
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
): Layer.Layer<never, never, EffectWorkerRunner.WorkerRunnerPlatform> =>
  Layer.effectDiscard(Effect.forkScoped(Effect.tapCause(make(taskSet), Effect.logError)))

/**
 * Serves a task set in this worker thread: the one line of a worker entry
 * module. The thread ends by itself when the parent closes it.
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
export const serve = <T extends TaskSet.Any>(taskSet: T): void => {
  Effect.runFork(make(taskSet).pipe(
    Effect.provide(NodeWorkerRunner.layer),
    Effect.tapCause(Effect.logError)
  ))
}

/**
 * The messages a `WorkerExecutor` and its worker threads exchange, on top of
 * Effect's worker platform framing (`effect/workers`). Tuples, not objects:
 * they are structured-cloned on every call.
 *
 * @internal
 */

/**
 * Parent to worker: run `task` with its Schema-encoded `payload`, in a span
 * child of `trace` when the call runs in one.
 */
export type Request = readonly [id: number, task: string, payload: unknown, trace?: Trace]

/** The caller's span, so that the worker's span is its child: trace id, span id, sampled. */
export type Trace = readonly [traceId: string, spanId: string, sampled: boolean]

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
  InvalidResult: 5
} as const

/** The kind of a reply. */
export type ReplyKind = typeof Reply[keyof typeof Reply]

/** Worker to parent: the outcome of request `id`. */
export type Response = readonly [id: number, kind: ReplyKind, value: unknown]

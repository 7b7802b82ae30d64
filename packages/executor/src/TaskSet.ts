/**
 * The declaration both sides of a remote executor share: a named set of
 * tasks, each with a Schema for its payload, its success and (optionally) its
 * typed error, and the function that runs where the work is done — a worker
 * thread (`WorkerExecutor` of `@taskscope/node`) or a runner process
 * (`ClusterExecutor` of `@taskscope/cluster`).
 *
 * The submitting side imports a task set to type its calls (a wrong task name
 * or payload type is a compile error) and to encode payloads; the executing
 * side imports the same set and serves it (`WorkerRunner.serve`,
 * `ClusterRunner.layer`). Values travel in their Schema-encoded form: by
 * structured clone between threads, as JSON between processes.
 *
 * A task's `run` may need services (an `Effect` with requirements): such a
 * task can only be served where a layer provides them — `ClusterRunner.layer`
 * and `WorkerRunner.layer` ask for {@link Services}, and `WorkerRunner.serve`
 * takes the layer as its second argument (and does not compile without it).
 *
 * @module @taskscope/executor/TaskSet
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { describe } from "./internal/describe.ts"
import * as KnownOptions from "./internal/knownOptions.ts"

/**
 * The kind of Schema a task uses: any codec that needs no services to encode
 * or decode.
 *
 * @category models
 * @since 0.2.0
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import type * as TaskSet from "@taskscope/executor/TaskSet"
 *
 * const payload: TaskSet.AnySchema = Schema.Number
 * ```
 */
export type AnySchema = Schema.Codec<any, any, never, never>

/**
 * One task: its Schemas and the function that runs it on a worker thread.
 *
 * `run` may return its value, a promise of it, or an `Effect`; to fail with
 * the typed error it either throws a value that its `error` Schema accepts or
 * returns an `Effect` that fails with one. Anything else it throws is a defect
 * and fails the call with `WorkerCrashedError`.
 *
 * @category models
 * @since 0.2.0
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import * as TaskSet from "@taskscope/executor/TaskSet"
 *
 * const square: TaskSet.Task<typeof Schema.Number, typeof Schema.Number, typeof Schema.Never> =
 *   TaskSet.task({ payload: Schema.Number, success: Schema.Number, run: (n) => n * n })
 * ```
 */
export interface Task<P extends AnySchema, S extends AnySchema, E extends AnySchema, R = never> {
  readonly payload: P
  readonly success: S
  readonly error: E
  readonly run: (payload: P["Type"]) => S["Type"] | PromiseLike<S["Type"]> | Effect.Effect<S["Type"], E["Type"], R>
}

/**
 * Any task, whatever its Schemas.
 *
 * @category models
 * @since 0.2.0
 * @example
 * ```ts
 * import type * as TaskSet from "@taskscope/executor/TaskSet"
 *
 * const names = (tasks: Record<string, TaskSet.AnyTask>) => Object.keys(tasks)
 * ```
 */
export interface AnyTask {
  readonly payload: AnySchema
  readonly success: AnySchema
  readonly error: AnySchema
  readonly run: (payload: any) => unknown
}

/**
 * Declares one task. `error` defaults to `Schema.Never` (the task has no typed
 * error, and its error type is `never`), wherever the task is written; left
 * out and `undefined` are the same. An error Schema typed as possibly
 * `undefined` (`cond ? TooBig : undefined`) does not compile: write
 * `Schema.Never` for "none".
 *
 * @category constructors
 * @since 0.2.0
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import * as TaskSet from "@taskscope/executor/TaskSet"
 *
 * class TooBig extends Schema.TaggedError<TooBig>()("TooBig", { n: Schema.Number }) {}
 *
 * const fib = TaskSet.task({
 *   payload: Schema.Number,
 *   success: Schema.Number,
 *   error: TooBig,
 *   run: (n) => {
 *     if (n > 90) throw new TooBig({ n })
 *     let [a, b] = [0, 1]
 *     for (let i = 0; i < n; i++) [a, b] = [b, a + b]
 *     return a
 *   }
 * })
 * ```
 */
export const task: {
  // Two signatures, so that an `error` left out and an `error: undefined`
  // both give `Schema.Never`: with one signature, `undefined` became the
  // candidate for `E`, failed its bound, and `E` fell back to `AnySchema`,
  // whose type is `any`. The one without an error Schema comes last: it is
  // the one TypeScript reports on, and the usual slip is a failure left
  // undeclared ("not assignable to type 'never'", on `run`).
  // `NoInfer`: written inline in `make`, a call is contextually typed by
  // `AnyTask`, and without it `E` would be inferred from that (its `error` is
  // `AnySchema`, whose type is `any`)
  <P extends AnySchema, S extends AnySchema, E extends AnySchema, R = never>(definition: {
    readonly payload: P
    readonly success: S
    readonly error: E
    readonly run: (payload: P["Type"]) => S["Type"] | PromiseLike<S["Type"]> | Effect.Effect<S["Type"], E["Type"], R>
  }): Task<P, S, NoInfer<E>, R>
  <P extends AnySchema, S extends AnySchema, R = never>(definition: {
    readonly payload: P
    readonly success: S
    readonly error?: undefined
    readonly run: (payload: P["Type"]) => S["Type"] | PromiseLike<S["Type"]> | Effect.Effect<S["Type"], never, R>
  }): Task<P, S, typeof Schema.Never, R>
} = (definition: {
  readonly payload: AnySchema
  readonly success: AnySchema
  readonly error?: AnySchema | undefined
  readonly run: (payload: any) => any
}): any => {
  if (definition === null || typeof definition !== "object") {
    throw new TypeError(
      `TaskSet.task: a declaration must be an object { payload, success, error?, run }, got ${describe(definition)}`
    )
  }
  // a misspelt `erorr` would otherwise leave the task with no typed error, silently
  KnownOptions.check(definition, taskFields, "TaskSet.task")
  return {
    payload: definition.payload,
    success: definition.success,
    error: definition.error ?? Schema.Never,
    run: definition.run
  }
}

/** The names of a task declaration's fields (see `KnownOptions`). */
const taskFields = KnownOptions.of<AnyTask>()("payload", "success", "error", "run")

const TypeId = "~@taskscope/executor/TaskSet" as const

/**
 * A named set of tasks, imported by the parent side and the worker side alike.
 *
 * @category models
 * @since 0.2.0
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import * as TaskSet from "@taskscope/executor/TaskSet"
 *
 * const tasks = TaskSet.make("example/Math", {
 *   double: TaskSet.task({ payload: Schema.Number, success: Schema.Number, run: (n) => 2 * n })
 * })
 * const key: string = tasks.key // "example/Math"
 * ```
 */
export interface TaskSet<Tasks extends Record<string, AnyTask>, Key extends string = string> {
  readonly [TypeId]: typeof TypeId
  /**
   * A unique key; it names the executor's service for this set (and its
   * cluster entity). Its type is the literal given to {@link make}, so that
   * two sets of the same tasks under different keys are different types, as
   * their executors are different services.
   */
  readonly key: Key
  readonly tasks: Tasks
  /** The task names: the keys of `tasks`, in JavaScript's order (declaration order, integer-like names first). */
  readonly names: ReadonlyArray<string>
}

/**
 * Any task set.
 *
 * @category models
 * @since 0.2.0
 * @example
 * ```ts
 * import type * as TaskSet from "@taskscope/executor/TaskSet"
 *
 * const describe = (set: TaskSet.Any) => `${set.key}: ${set.names.join(", ")}`
 * ```
 */
export type Any = TaskSet<Record<string, AnyTask>>

/**
 * A task set of which nothing is known: any task name, and `unknown`
 * payloads, results and errors. Name-first calls (`WorkerExecutor.submit("fib",
 * 30)`) are typed by it while the program registers no task set: their
 * results must be checked before use, as an unchecked `any` would not be.
 *
 * @category models
 * @since 0.2.0
 * @example
 * ```ts
 * import type * as TaskSet from "@taskscope/executor/TaskSet"
 *
 * type Result = TaskSet.Success<TaskSet.Unknown, "anything"> // unknown
 * ```
 */
export type Unknown = TaskSet<Record<string, Task<typeof Schema.Unknown, typeof Schema.Unknown, typeof Schema.Unknown>>>

/**
 * The task names of a set.
 *
 * @category type-level
 * @since 0.2.0
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import * as TaskSet from "@taskscope/executor/TaskSet"
 *
 * const tasks = TaskSet.make("example/Names", {
 *   a: TaskSet.task({ payload: Schema.Void, success: Schema.Void, run: () => {} })
 * })
 * const name: TaskSet.Names<typeof tasks> = "a"
 * ```
 */
export type Names<T extends Any> = keyof T["tasks"] & string

/**
 * The payload type of task `K` (its Schema's `Type`): what a call of `K`
 * takes. For a union of names (a `name: "a" | "b"` whose task is known only
 * at run time) it is what every one of those tasks takes — the intersection
 * of their payload types, `never` when they have none in common — so that a
 * call cannot pair one task's name with another's payload. A name that is a
 * single literal gets its own task's payload type, as before.
 *
 * @category type-level
 * @since 0.2.0
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import * as TaskSet from "@taskscope/executor/TaskSet"
 *
 * const tasks = TaskSet.make("example/Payload", {
 *   len: TaskSet.task({ payload: Schema.String, success: Schema.Number, run: (s) => s.length })
 * })
 * const payload: TaskSet.Payload<typeof tasks, "len"> = "hello"
 * ```
 */
export type Payload<T extends Any, K extends Names<T>> =
  // each name's payload in a parameter position: inferring from their union gives their intersection
  { readonly [N in K]: (payload: T["tasks"][N]["payload"]["Type"]) => void }[K] extends (payload: infer P) => void ? P
    : never

/**
 * The success type of task `K`.
 *
 * @category type-level
 * @since 0.2.0
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import * as TaskSet from "@taskscope/executor/TaskSet"
 *
 * const tasks = TaskSet.make("example/Success", {
 *   len: TaskSet.task({ payload: Schema.String, success: Schema.Number, run: (s) => s.length })
 * })
 * const result: TaskSet.Success<typeof tasks, "len"> = 5
 * ```
 */
export type Success<T extends Any, K extends Names<T>> = T["tasks"][K]["success"]["Type"]

/**
 * The typed error of task `K` (`never` when it declares none).
 *
 * @category type-level
 * @since 0.2.0
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import * as TaskSet from "@taskscope/executor/TaskSet"
 *
 * const tasks = TaskSet.make("example/Error", {
 *   parse: TaskSet.task({ payload: Schema.String, success: Schema.Number, error: Schema.String, run: Number })
 * })
 * const error: TaskSet.Error<typeof tasks, "parse"> = "not a number"
 * ```
 */
export type Error<T extends Any, K extends Names<T>> = T["tasks"][K]["error"]["Type"]

/**
 * The services the tasks of a set need to run (`never` when none does): the
 * requirements of the `Effect`s their `run` functions return, as
 * {@link task} inferred them (`R` of each {@link Task}). `Scope` is not one:
 * every executor runs each task in a `Scope` of its own, closed when the task
 * ends.
 *
 * @category type-level
 * @since 0.2.0
 * @example
 * ```ts
 * import { Context, Effect, Schema } from "effect"
 * import * as TaskSet from "@taskscope/executor/TaskSet"
 *
 * class Db extends Context.Service<Db, { readonly get: (id: string) => Effect.Effect<string> }>()("app/Db") {}
 *
 * const tasks = TaskSet.make("example/Services", {
 *   load: TaskSet.task({
 *     payload: Schema.String,
 *     success: Schema.String,
 *     run: (id) => Effect.flatMap(Db, (db) => db.get(id))
 *   })
 * })
 * type Needs = TaskSet.Services<typeof tasks> // Db
 * ```
 */
export type Services<T extends Any> = Exclude<{ [K in Names<T>]: ServicesOf<T["tasks"][K]> }[Names<T>], Scope.Scope>

/**
 * A task's requirements: `R` of a {@link Task} (read from the type argument,
 * since a success Schema of type `unknown` makes `run`'s declared return type
 * `unknown`, which hides the `Effect`), else what the `run` of a declaration
 * written without {@link task} returns.
 */
type ServicesOf<Declared> = Declared extends Task<any, any, any, infer R> ? unknown extends R ? Returned<Declared> : R
  : Returned<Declared>

type Returned<Declared> = Declared extends { readonly run: (payload: any) => infer Out }
  // a task whose success Schema's type is `any` (`Schema.Any`) returns `any`, which says nothing of services
  ? 0 extends 1 & Out ? never
  : Out extends Effect.Effect<any, any, infer R> ? R
  : never
  : never

/**
 * Declares a task set. `key` must be unique in the program: it names the
 * executor service that `WorkerExecutor.layer` or `ClusterExecutor.layer`
 * provides for this set, and, in a cluster, the entity that serves it. Task
 * names are the keys of `tasks`, each a non-empty string (a task runs under
 * its name). A bad key, task name or declaration is refused at once with a
 * `TypeError` naming the set and the value.
 *
 * @category constructors
 * @since 0.2.0
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import * as TaskSet from "@taskscope/executor/TaskSet"
 *
 * export const tasks = TaskSet.make("example/Tasks", {
 *   sum: TaskSet.task({
 *     payload: Schema.Array(Schema.Number),
 *     success: Schema.Number,
 *     run: (xs) => xs.reduce((a, b) => a + b, 0)
 *   })
 * })
 * ```
 */
export const make = <const Tasks extends Record<string, AnyTask>, const Key extends string = string>(
  key: Key,
  tasks: Tasks
): TaskSet<Tasks, Key> => {
  if (typeof key !== "string" || key.length === 0) {
    throw new TypeError(`TaskSet.make: key must be a non-empty string, got ${describe(key)}`)
  }
  const proto = tasks === null || typeof tasks !== "object" ? undefined : Object.getPrototypeOf(tasks)
  // a plain object: the tasks are its own keys (a Map's entries would be no tasks at all)
  if (proto !== Object.prototype && proto !== null) {
    throw new TypeError(
      `TaskSet.make(${JSON.stringify(key)}): tasks must be an object of TaskSet.task({ ... }) declarations, got ${
        describe(tasks)
      }`
    )
  }
  for (const [name, definition] of Object.entries(tasks)) {
    // (a task runs under its name, and the executors refuse an empty `name`)
    if (name.length === 0) {
      throw new TypeError(
        `TaskSet.make(${
          JSON.stringify(key)
        }): a task name must be a non-empty string (the executors run a task under its name), got ""`
      )
    }
    if (
      definition === null || typeof definition !== "object" || typeof definition.run !== "function" ||
      !Schema.isSchema(definition.payload) || !Schema.isSchema(definition.success) ||
      !Schema.isSchema(definition.error)
    ) {
      throw new TypeError(
        `TaskSet.make(${JSON.stringify(key)}): task ${
          JSON.stringify(name)
        } must be declared with TaskSet.task({ payload, success, error?, run }), got ${describe(definition)}`
      )
    }
  }
  return { [TypeId]: TypeId, key, tasks, names: Object.keys(tasks) }
}

/**
 * Whether what a task's `run` returned is an effect to run rather than its
 * success value. Effect counts an error instance (a `Schema.TaggedError`,
 * say) as an effect too: one that the task's `success` Schema singles out —
 * accepts, where it would not accept any object — is the task's value,
 * returned as it is. Anything else Effect counts as an effect is run: an
 * `Exit` always (`Effect.succeed(1)` is one), and an error instance whose
 * `success` Schema accepts anything (`Schema.Void`, `Schema.Any`). Every
 * runner of task sets (worker threads, cluster runners) reads `run`'s
 * result so.
 *
 * @category guards
 * @since 0.2.0
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import * as TaskSet from "@taskscope/executor/TaskSet"
 *
 * class Rejected extends Schema.TaggedError<Rejected>()("Rejected", { reason: Schema.String }) {}
 * // a task whose value is an error instance (a verdict, say)
 * const judge = TaskSet.task({ payload: Schema.String, success: Rejected, run: (reason) => new Rejected({ reason }) })
 * TaskSet.isEffectResult(judge, new Rejected({ reason: "late" })) // false: the task's value
 * TaskSet.isEffectResult(judge, Effect.succeed(new Rejected({ reason: "late" }))) // true
 * ```
 */
export const isEffectResult = (task: AnyTask, out: unknown): out is Effect.Effect<unknown, unknown, unknown> =>
  Effect.isEffect(out) && !(out instanceof Error && singlesOut(task.success, out))

/** A plain object: what a Schema that accepts anything accepts too. */
const anyObject = Object.freeze({})

/** Whether `schema` accepts `value`, and would not accept any object. */
const singlesOut = (schema: AnySchema, value: unknown): boolean => {
  const is = Schema.is(schema)
  return is(value) && !is(anyObject)
}

/**
 * Returns `true` when a value is a task set. Given a union that holds task
 * sets (a `WorkerExecutor.Source<T>`, say: a task set or a pool), it narrows
 * to those sets, and its `false` branch to the rest; given a value of no
 * such type (`unknown`), it narrows to {@link Any}.
 *
 * @category guards
 * @since 0.2.0
 * @example
 * ```ts
 * import * as TaskSet from "@taskscope/executor/TaskSet"
 *
 * TaskSet.isTaskSet({}) // false
 * ```
 */
export const isTaskSet = <U>(u: U): u is TaskSetOf<U> =>
  typeof u === "object" && u !== null && (u as Record<string, unknown>)[TypeId] === TypeId

/**
 * What {@link isTaskSet} narrows `U` to: the task sets among its members,
 * else `U & Any` (`Any` for `unknown`). Not `Any` alone: TypeScript narrows
 * a union by a type predicate to the members that are subtypes of it, and a
 * concrete set is not one of `Any` (its tasks have no index signature, which
 * the strict subtype relation asks for, though assignability does not), so
 * `typeof tasks | string` became `(typeof tasks | string) & Any`, and the
 * `false` branch kept the set. `Extract` asks assignability.
 */
type TaskSetOf<U> = [Extract<U, Any>] extends [never] ? U & Any : Extract<U, Any>

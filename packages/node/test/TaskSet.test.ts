/**
 * What a task set's declaration gives its callers: the payload, success and
 * error types of each task, taken exactly from its Schemas. Most checks here
 * are made by the type check that runs with the suite (tsc checks test files):
 * an `expectTypeOf` that does not hold fails it, and so does a
 * `@ts-expect-error` line that compiles.
 */
import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import { type ExecutorError, Task } from "@taskscope/executor"
import { Effect, Schema } from "effect"
import { TaskSet, type WorkerError, WorkerExecutor, type WorkerPool } from "../src/index.ts"

class TooBig extends Schema.TaggedError<TooBig>()("TooBig", { n: Schema.Number }) {}

const fib = (n: number): number => {
  let [a, b] = [0, 1]
  for (let i = 0; i < n; i++) [a, b] = [b, a + b]
  return a
}

// The READMEs' declarations: tasks written inline in `make`, without and with an error Schema.
const plain = TaskSet.make("@taskscope/node/test/TaskSet/plain", {
  fib: TaskSet.task({ payload: Schema.Number, success: Schema.Number, run: (n) => fib(n) }),
  len: TaskSet.task({ payload: Schema.Array(Schema.String), success: Schema.Number, run: (xs) => xs.length })
})

const withError = TaskSet.make("@taskscope/node/test/TaskSet/withError", {
  fib: TaskSet.task({
    payload: Schema.Number,
    success: Schema.Number,
    error: TooBig,
    run: (n) => {
      if (n > 90) throw new TooBig({ n })
      return fib(n)
    }
  })
})

/** What the executor's own calls may fail with, besides the task's typed error. */
type CallError = ExecutorError.ExecutorClosedError | WorkerError.WorkerTaskError

const joinFib = (executor: WorkerExecutor.WorkerExecutor<typeof plain>) =>
  Effect.flatMap(executor.submit("fib", 30), Task.join)

const joinFibWithError = (executor: WorkerExecutor.WorkerExecutor<typeof withError>) =>
  Effect.flatMap(executor.submit("fib", 30), Task.join)

describe("TaskSet", () => {
  it("an inline task without an error Schema has the error type never, and Schema.Never at run time", () => {
    expectTypeOf<TaskSet.Error<typeof plain, "fib">>().toEqualTypeOf<never>()
    expectTypeOf<TaskSet.Error<typeof plain, "len">>().toEqualTypeOf<never>()
    assert.strictEqual(plain.tasks.fib.error, Schema.Never)
    assert.strictEqual(plain.tasks.len.error, Schema.Never)
  })

  it("an inline task with an error Schema has exactly that error type", () => {
    expectTypeOf<TaskSet.Error<typeof withError, "fib">>().toEqualTypeOf<TooBig>()
    assert.strictEqual(withError.tasks.fib.error, TooBig)
  })

  it("payload and success types are exactly their Schemas' types", () => {
    expectTypeOf<TaskSet.Payload<typeof plain, "fib">>().toEqualTypeOf<number>()
    expectTypeOf<TaskSet.Success<typeof plain, "fib">>().toEqualTypeOf<number>()
    expectTypeOf<TaskSet.Payload<typeof plain, "len">>().toEqualTypeOf<ReadonlyArray<string>>()
    expectTypeOf<TaskSet.Success<typeof withError, "fib">>().toEqualTypeOf<number>()
    expectTypeOf<TaskSet.Names<typeof plain>>().toEqualTypeOf<"fib" | "len">()
    assert.deepStrictEqual(plain.names, ["fib", "len"])
  })

  it("a task declared on its own and one declared inline get the same types", () => {
    const alone = TaskSet.task({ payload: Schema.Number, success: Schema.Number, run: (n) => fib(n) })
    expectTypeOf(alone).toEqualTypeOf<TaskSet.Task<typeof Schema.Number, typeof Schema.Number, typeof Schema.Never>>()
    expectTypeOf<TaskSet.Error<typeof plain, "fib">>().toEqualTypeOf<typeof alone.error.Type>()
    expectTypeOf<TaskSet.Error<typeof plain, "fib">>().toEqualTypeOf<never>()
    assert.strictEqual(alone.error, Schema.Never)
  })

  it("joining a call without an error Schema fails only with the executor's errors: no tag of its own is catchable", () => {
    expectTypeOf(joinFib).returns.toEqualTypeOf<Effect.Effect<number, CallError>>()
    const catchMissing = (executor: WorkerExecutor.WorkerExecutor<typeof plain>) =>
      // @ts-expect-error: the task has no error tagged "NoSuchTag"
      Effect.catchTag(joinFib(executor), "NoSuchTag", () => Effect.succeed(0))
    const catchCrash = (executor: WorkerExecutor.WorkerExecutor<typeof plain>) =>
      Effect.catchTag(joinFib(executor), "WorkerCrashedError", () => Effect.succeed(0))
    expectTypeOf(catchCrash).returns.toEqualTypeOf<
      Effect.Effect<number, Exclude<CallError, WorkerError.WorkerCrashedError>>
    >()
    void catchMissing // checked by the type check only: never run
  })

  it("joining a call with an error Schema fails with that error too, and its tag is catchable", () => {
    expectTypeOf(joinFibWithError).returns.toEqualTypeOf<Effect.Effect<number, TooBig | CallError>>()
    const recovered = (executor: WorkerExecutor.WorkerExecutor<typeof withError>) =>
      Effect.catchTag(joinFibWithError(executor), "TooBig", (error) => Effect.succeed(`too big: ${error.n}`))
    expectTypeOf(recovered).returns.toEqualTypeOf<Effect.Effect<number | string, CallError>>()
    const catchMissing = (executor: WorkerExecutor.WorkerExecutor<typeof withError>) =>
      // @ts-expect-error: the task has no error tagged "NoSuchTag"
      Effect.catchTag(joinFibWithError(executor), "NoSuchTag", () => Effect.succeed(0))
    void catchMissing // checked by the type check only: never run
  })

  // before: narrowed to `Source<typeof plain> & TaskSet.Any` (its `key` a string, its calls untyped), and
  // the `false` branch kept the task set
  it("TaskSet.isTaskSet narrows a Source to its task set, and its false branch to the pool", () => {
    const keyOf = (source: WorkerExecutor.Source<typeof plain>) => {
      if (TaskSet.isTaskSet(source)) {
        expectTypeOf(source).toEqualTypeOf<typeof plain>()
        return source.key
      }
      expectTypeOf(source).toEqualTypeOf<WorkerPool.WorkerPool<typeof plain>>()
      return source.taskSet.key
    }
    expectTypeOf(keyOf).returns.toEqualTypeOf<"@taskscope/node/test/TaskSet/plain">()
    assert.strictEqual(keyOf(plain), "@taskscope/node/test/TaskSet/plain")
  })

  // before: `name: "fib" | "len"` took the union of their payloads, so `fib`'s number compiled as `len`'s
  it("a call whose name is a union of tasks takes only a payload every one of them takes", () => {
    const calls = (executor: WorkerExecutor.WorkerExecutor<typeof plain>, name: "fib" | "len") => [
      // @ts-expect-error: a number is fib's payload, not len's
      executor.submit(name, 30),
      // @ts-expect-error: nor is a list of strings fib's
      executor.submit(name, ["a"]),
      // @ts-expect-error: the pool's calls alike
      executor.pool.call(name, 30),
      // @ts-expect-error: and the accessor's
      WorkerExecutor.submit(plain, name, 30)
    ]
    const one = (executor: WorkerExecutor.WorkerExecutor<typeof plain>) => executor.submit("len", ["a", "b"])
    expectTypeOf(one).returns.toEqualTypeOf<
      Effect.Effect<Task.Task<number, WorkerError.WorkerTaskError>, ExecutorError.ExecutorClosedError>
    >()
    // a helper generic in the name passes its payload on as it is
    const forward = <K extends TaskSet.Names<typeof plain>>(
      executor: WorkerExecutor.WorkerExecutor<typeof plain>,
      name: K,
      payload: TaskSet.Payload<typeof plain, K>
    ) => executor.submit(name, payload)
    assert.isFunction(calls)
    assert.isFunction(forward)
  })

  it("an executor is invariant in its task set: a helper for the executor of any set is generic in it", () => {
    const stats = <T extends TaskSet.Any>(executor: WorkerExecutor.WorkerExecutor<T>) => executor.stats
    const uses = (executor: WorkerExecutor.WorkerExecutor<typeof plain>) => {
      // @ts-expect-error: `TaskSet.Any`'s executor takes any name, which this one does not
      const wide: WorkerExecutor.WorkerExecutor<TaskSet.Any> = executor
      return [stats(executor), wide]
    }
    assert.isFunction(uses)
  })

  it("run must fit the declared Schemas", () => {
    const fails = TaskSet.task({
      payload: Schema.Number,
      success: Schema.Number,
      error: TooBig,
      run: (n) => Effect.fail(new TooBig({ n }))
    })
    expectTypeOf(fails.run).returns.toEqualTypeOf<number | PromiseLike<number> | Effect.Effect<number, TooBig>>()
    const mistakes = () => [
      // @ts-expect-error: without an error Schema, run cannot fail with a typed error
      TaskSet.task({ payload: Schema.Number, success: Schema.Number, run: (n) => Effect.fail(`bad ${n}`) }),
      // @ts-expect-error: run fails with a value its error Schema does not describe
      TaskSet.task({ payload: Schema.Number, success: Schema.Number, error: TooBig, run: () => Effect.fail("bad") }),
      // @ts-expect-error: run returns a string where the success Schema is a number
      TaskSet.task({ payload: Schema.Number, success: Schema.Number, run: (n) => `${n}` }),
      TaskSet.make("mistakes", {
        // @ts-expect-error: inline in make too, run cannot fail with a typed error without an error Schema
        f: TaskSet.task({ payload: Schema.Number, success: Schema.Number, run: (n) => Effect.fail(`bad ${n}`) })
      })
    ]
    void mistakes // checked by the type check only: never run
  })

  it("make refuses a key or a task map it cannot use, naming the set and the value", () => {
    const make = TaskSet.make as (key: unknown, tasks: unknown) => unknown
    assert.throws(() => make("", {}), /TaskSet\.make: key must be a non-empty string, got ""/)
    assert.throws(() => make("k", 42), /TaskSet\.make\("k"\): tasks must be an object .*, got 42/)
    assert.throws(() => make("k", null), /TaskSet\.make\("k"\): tasks must be an object .*, got null/)
    assert.throws(() => make("k", [1]), /TaskSet\.make\("k"\): tasks must be an object/)
    assert.throws(() => make("k", { f: 1 }), /TaskSet\.make\("k"\): task "f" must be declared with TaskSet\.task/)
  })
})

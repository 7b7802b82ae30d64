/**
 * A task set's declarations: the types each task gets, written inline in
 * `make` or on its own, with its `error` Schema given, left out or
 * `undefined`. The type checks run in the suite's `tsc` step; the runtime
 * checks here.
 */
import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import { Context, Effect, Schema } from "effect"
import * as TaskSet from "../src/TaskSet.ts"

class TooBig extends Schema.TaggedError<TooBig>()("TooBig", { n: Schema.Number }) {}
class Db extends Context.Service<Db, { readonly get: (id: string) => Effect.Effect<string> }>()("test/Db") {}

const tasks = TaskSet.make("@taskscope/executor/test/TaskSet", {
  leftOut: TaskSet.task({ payload: Schema.Number, success: Schema.Number, run: (n) => n + 1 }),
  undefinedError: TaskSet.task({ payload: Schema.Number, success: Schema.Number, error: undefined, run: (n) => n }),
  typed: TaskSet.task({
    payload: Schema.Number,
    success: Schema.Number,
    error: TooBig,
    run: (n) => n > 10 ? Effect.fail(new TooBig({ n })) : Effect.succeed(n)
  }),
  withDb: TaskSet.task({
    payload: Schema.String,
    success: Schema.String,
    run: (id) => Effect.flatMap(Db, (db) => db.get(id))
  })
})

describe("TaskSet", () => {
  it("a task without an error Schema, left out or undefined, has the error type never and Schema.Never", () => {
    expectTypeOf<TaskSet.Error<typeof tasks, "leftOut">>().toEqualTypeOf<never>()
    expectTypeOf<TaskSet.Error<typeof tasks, "undefinedError">>().toEqualTypeOf<never>()
    const alone = TaskSet.task({ payload: Schema.Number, success: Schema.Number, error: undefined, run: (n) => n })
    expectTypeOf(alone).toEqualTypeOf<TaskSet.Task<typeof Schema.Number, typeof Schema.Number, typeof Schema.Never>>()
    assert.strictEqual(alone.error, Schema.Never)
    assert.strictEqual(tasks.tasks.leftOut.error, Schema.Never)
    assert.strictEqual(tasks.tasks.undefinedError.error, Schema.Never)
  })

  it("a task with an error Schema has that Schema's type; the services its run needs are the set's", () => {
    expectTypeOf<TaskSet.Error<typeof tasks, "typed">>().toEqualTypeOf<TooBig>()
    expectTypeOf<TaskSet.Services<typeof tasks>>().toEqualTypeOf<Db>()
    assert.strictEqual(tasks.tasks.typed.error, TooBig)
  })

  it("a set's services are every task's requirements, Scope excepted, whatever the success Schema", () => {
    class Log extends Context.Service<Log, { readonly n: number }>()("test/Log") {}
    const mixed = TaskSet.make("@taskscope/executor/test/Services", {
      // `unknown` as the success type made `run`'s declared return type `unknown`: Db was lost
      unknownSuccess: TaskSet.task({
        payload: Schema.String,
        success: Schema.Unknown,
        run: (id) => Effect.flatMap(Db, (db) => db.get(id))
      }),
      // each task runs in a Scope of its own: not a service the runner must provide
      scoped: TaskSet.task({ payload: Schema.Void, success: Schema.Number, run: () => Effect.as(Effect.scope, 1) }),
      // declared without `task`: read from what `run` returns
      literal: {
        payload: Schema.Void,
        success: Schema.Number,
        error: Schema.Never,
        run: () => Effect.map(Effect.service(Log), (log) => log.n)
      }
    })
    const scopeOnly = TaskSet.make("@taskscope/executor/test/ScopeOnly", {
      scoped: TaskSet.task({ payload: Schema.Void, success: Schema.Number, run: () => Effect.as(Effect.scope, 1) })
    })
    // the tasks given explicitly, as code written before the key's type parameter does
    const explicit = TaskSet.make<typeof scopeOnly.tasks>("@taskscope/executor/test/Explicit", scopeOnly.tasks)
    expectTypeOf(explicit.key).toEqualTypeOf<string>()
    expectTypeOf(TaskSet.make("@taskscope/executor/test/Literal", scopeOnly.tasks).key).toEqualTypeOf<
      "@taskscope/executor/test/Literal"
    >()
    expectTypeOf<TaskSet.Services<typeof mixed>>().toEqualTypeOf<Db | Log>()
    expectTypeOf<TaskSet.Services<typeof scopeOnly>>().toEqualTypeOf<never>()
    assert.deepStrictEqual(mixed.names, ["unknownSuccess", "scoped", "literal"])
  })

  it("a failure that no error Schema describes does not compile", () => {
    const mistakes = () => [
      // @ts-expect-error: no error Schema, so no typed failure
      TaskSet.task({ payload: Schema.Number, success: Schema.Number, run: (n) => Effect.fail(`bad ${n}`) }),
      // @ts-expect-error: an error Schema of undefined is none either
      TaskSet.task({ payload: Schema.Number, success: Schema.Number, error: undefined, run: () => Effect.fail("bad") }),
      // @ts-expect-error: a failure the error Schema does not describe
      TaskSet.task({ payload: Schema.Number, success: Schema.Number, error: TooBig, run: () => Effect.fail("bad") })
    ]
    assert.isFunction(mistakes)
  })

  // A task named "" was accepted, and then refused by the executor that runs
  // it under its name (`name` must be a non-empty string): a cluster runner
  // refused such a task on every delivery, and the task never ended.
  it("task refuses a field it does not know, naming it and the field meant (a misspelt error Schema was dropped)", () => {
    assert.throws(
      () =>
        TaskSet.task({ payload: Schema.Number, success: Schema.Number, erorr: TooBig, run: (n: number) => n } as never),
      "Expected `erorr` to be an option of TaskSet.task (did you mean `error`?), got "
    )
    try {
      TaskSet.task({ payload: Schema.Number, success: Schema.Number, erorr: TooBig, run: (n: number) => n } as never)
      assert.fail("accepted")
    } catch (error) {
      assert.strictEqual((error as { _tag?: unknown })._tag, "InvalidArgumentError")
    }
  })

  // Before, the guard narrowed `typeof tasks | string` to `(typeof tasks | string) & TaskSet.Any` (a
  // concrete set was no subtype of `TaskSet.Any`), and its `false` branch kept the set
  it("isTaskSet narrows a union to the task set in it, and its false branch to the rest", () => {
    const narrow = (u: typeof tasks | string) => {
      if (TaskSet.isTaskSet(u)) {
        expectTypeOf(u).toEqualTypeOf<typeof tasks>()
        return u.key
      }
      expectTypeOf(u).toEqualTypeOf<string>()
      return u
    }
    expectTypeOf(narrow).returns.toEqualTypeOf<string>()
    assert.strictEqual(narrow(tasks), "@taskscope/executor/test/TaskSet")
    assert.strictEqual(narrow("x"), "x")
    const unknown = (u: unknown) => TaskSet.isTaskSet(u) ? u : undefined
    expectTypeOf(unknown).returns.toEqualTypeOf<TaskSet.Any | undefined>()
    expectTypeOf(tasks).toExtend<TaskSet.Any>()
  })

  // Before, a union of names had the union of their payloads: a call of `name: "leftOut" | "withDb"`
  // took a string, which is the payload of `withDb` only
  it("the payload of a union of names is what every one of their tasks takes", () => {
    expectTypeOf<TaskSet.Payload<typeof tasks, "withDb">>().toEqualTypeOf<string>()
    expectTypeOf<TaskSet.Payload<typeof tasks, "leftOut" | "withDb">>().toEqualTypeOf<never>()
    expectTypeOf<TaskSet.Payload<typeof tasks, "leftOut" | "typed">>().toEqualTypeOf<number>()
    expectTypeOf<TaskSet.Payload<TaskSet.Unknown, string>>().toEqualTypeOf<unknown>()
    expectTypeOf<TaskSet.Payload<TaskSet.Any, string>>().toBeAny()
  })

  it("isEffectResult: an effect is run, an error instance its success Schema singles out is the value", () => {
    class Verdict extends Schema.TaggedError<Verdict>()("Verdict", { reason: Schema.String }) {}
    const task = (success: TaskSet.AnySchema) => TaskSet.task({ payload: Schema.Void, success, run: () => undefined })
    const verdict = new Verdict({ reason: "late" })
    const cases: ReadonlyArray<readonly [string, TaskSet.AnySchema, unknown, boolean]> = [
      // Effect.succeed and Effect.fail are Exits in Effect 4: always run
      ["Void, Effect.fail", Schema.Void, Effect.fail(verdict), true],
      ["Void, Effect.void", Schema.Void, Effect.void, true],
      ["Any, Effect.succeed", Schema.Any, Effect.succeed(5), true],
      ["Number, Effect.succeed", Schema.Number, Effect.succeed(5), true],
      [
        "Number, a generator effect",
        Schema.Number,
        Effect.gen(function*() {
          return 1
        }),
        true
      ],
      // an error instance: the value only where the Schema singles it out
      ["Verdict, an instance", Verdict, verdict, false],
      ["Number or Verdict, an instance", Schema.Union([Schema.Number, Verdict]), verdict, false],
      ["Unknown, an instance", Schema.Unknown, verdict, true],
      ["Any, an instance", Schema.Any, verdict, true],
      ["Number, an instance", Schema.Number, verdict, true],
      // not effects at all
      ["Number, a number", Schema.Number, 5, false],
      ["Any, a promise", Schema.Any, Promise.resolve(1), false]
    ]
    for (const [label, success, out, expected] of cases) {
      assert.strictEqual(TaskSet.isEffectResult(task(success), out), expected, label)
    }
  })

  it("task refuses a declaration that is not an object, saying what it got", () => {
    for (const [definition, got] of [[null, "null"], [undefined, "undefined"], ["fib", "\"fib\" (string)"]] as const) {
      assert.throws(
        () => TaskSet.task(definition as never),
        TypeError,
        `TaskSet.task: a declaration must be an object { payload, success, error?, run }, got ${got}`
      )
    }
  })

  it("make refuses a task named \"\", naming the task set and the name", () => {
    const echo = TaskSet.task({ payload: Schema.Number, success: Schema.Number, run: (n) => n })
    assert.throws(
      () => TaskSet.make("test/empty-name", { ok: echo, "": echo }),
      TypeError,
      "TaskSet.make(\"test/empty-name\"): a task name must be a non-empty string (the executors run a task under its name), got \"\""
    )
    assert.deepStrictEqual(TaskSet.make("test/one-letter", { a: echo }).names, ["a"])
  })

  it("make refuses tasks that are not a plain object (a Map's entries made a set of no tasks)", () => {
    const echo = TaskSet.task({ payload: Schema.Number, success: Schema.Number, run: (n) => n })
    for (const tasks of [new Map([["echo", echo]]), [echo], null]) {
      assert.throws(
        () => TaskSet.make("test/not-plain", tasks as unknown as Record<string, typeof echo>),
        TypeError,
        "TaskSet.make(\"test/not-plain\"): tasks must be an object of TaskSet.task({ ... }) declarations"
      )
    }
    assert.deepStrictEqual(TaskSet.make("test/null-prototype", Object.assign(Object.create(null), { echo })).names, [
      "echo"
    ])
  })
})

/**
 * The embedded default: a cluster inside the test process, on Effect's
 * in-memory storages, with no database. Also the type-level promise of
 * ClusterRunner.layer: the services the tasks need are required.
 */
import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import { BackgroundExecutor, ExecutorError, Task } from "@taskscope/executor"
import * as TaskSet from "@taskscope/executor/TaskSet"
import {
  Cause,
  Chunk,
  Duration,
  Effect,
  Exit,
  Fiber,
  Layer,
  Option,
  Schema,
  SchemaTransformation,
  Scope,
  Tracer
} from "effect"
import * as EntityAddress from "effect/cluster/EntityAddress"
import * as EntityId from "effect/cluster/EntityId"
import * as EntityType from "effect/cluster/EntityType"
import * as Sharding from "effect/cluster/Sharding"
import { appendFileSync } from "node:fs"
import { Cluster, ClusterError, ClusterExecutor, ClusterRunner } from "../src/index.ts"
import { laneOf, protocolOf, tagOf, WirePayload } from "../src/internal/protocol.ts"
import { eventually, logFile, readLog } from "./fixtures/log.ts"
import { RunnerName, tasks, TooBig, WorkFailed } from "./fixtures/tasks.ts"

declare module "../src/ClusterExecutor.ts" {
  interface Register {
    readonly taskSet: typeof tasks
  }
}

const Local = ClusterRunner.layer(tasks, { concurrency: 4 }).pipe(
  Layer.provide(Layer.succeed(RunnerName, "memory")),
  Layer.provideMerge(Cluster.layerMemory())
)

/** A tracer that keeps the name of every span it makes. */
const recording = () => {
  const names: Array<string> = []
  const tracer = Tracer.make({
    span(options) {
      names.push(options.name)
      return new Tracer.NativeSpan(options)
    }
  })
  return { names, tracer }
}

describe("Cluster.layerMemory", () => {
  it.live("runs tasks in this process, with typed results and typed failures, and says it is not durable", () =>
    ClusterExecutor.scoped(tasks, (executor) =>
      Effect.gen(function*() {
        const a = yield* executor.submit("square", 12)
        const b = yield* executor.submit("square", 2000, { reraiseOnExit: false })
        assert.strictEqual(yield* Task.join(a), 144)
        const exit = yield* Task.await(b)
        assert.isTrue(Exit.isFailure(exit))
        assert.instanceOf(Cause.squash((exit as Exit.Failure<unknown, unknown>).cause), TooBig)
        const visit = yield* executor.submit("visit", { key: "v", ms: 0, log: "/dev/null" })
        assert.strictEqual((yield* Task.join(visit)).runner, "memory")
        assert.isFalse((yield* Cluster.Cluster).durable)
      })).pipe(Effect.provide(Local)))

  it.live("scoped's body sees its caller's BackgroundExecutor (or none), not the one inside the cluster executor", () =>
    Effect.gen(function*() {
      const [sameExecutor, stats] = yield* BackgroundExecutor.scoped(Effect.gen(function*() {
        const callers = yield* BackgroundExecutor.BackgroundExecutor
        const seen = yield* ClusterExecutor.scoped(
          tasks,
          Effect.gen(function*() {
            yield* Task.join(yield* BackgroundExecutor.submit(Effect.void, { name: "callers-task" }))
            return yield* BackgroundExecutor.BackgroundExecutor
          })
        )
        return [seen === callers, yield* callers.stats] as const
      }))
      // before: the cluster executor's own executor, which counted the task (and gave it a permit)
      assert.isTrue(sameExecutor)
      assert.strictEqual(stats.submitted, 1)
      const found = yield* ClusterExecutor.scoped(tasks, Effect.serviceOption(BackgroundExecutor.BackgroundExecutor))
      assert.strictEqual(found._tag, "None")
    }).pipe(Effect.provide(Local)))

  it("one task set's executor is not another's, whatever their tasks: the layer of one does not compile for the other", () => {
    const square = TaskSet.task({ payload: Schema.Number, success: Schema.Number, run: (n) => n * n })
    const cube = TaskSet.task({ payload: Schema.Number, success: Schema.Number, run: (n) => n * n * n })
    const light = TaskSet.make("@taskscope/cluster/test/light", { square })
    const heavy = TaskSet.make("@taskscope/cluster/test/heavy", { square })
    const more = TaskSet.make("@taskscope/cluster/test/more", { square, cube })
    const needsCluster = <A, E>(effect: Effect.Effect<A, E, Cluster.Cluster | Sharding.Sharding>) => effect
    const programs = () => [
      needsCluster(ClusterExecutor.submit(light, "square", 3).pipe(Effect.provide(ClusterExecutor.layer(light)))),
      // @ts-expect-error: the same tasks under another key are another service (it died: Service not found)
      needsCluster(ClusterExecutor.submit(heavy, "square", 3).pipe(Effect.provide(ClusterExecutor.layer(light)))),
      // @ts-expect-error: nor does a set with fewer tasks serve one with more
      needsCluster(ClusterExecutor.submit(more, "cube", 3).pipe(Effect.provide(ClusterExecutor.layer(light))))
    ]
    assert.isFunction(programs)
  })

  it.live("a ClusterExecutor opens no span per task unless asked to (tracing: true)", () =>
    Effect.gen(function*() {
      const spansOf = (options: ClusterExecutor.Options) =>
        Effect.gen(function*() {
          const { names, tracer } = recording()
          yield* ClusterExecutor.scoped(tasks,
            (executor) => Effect.flatMap(executor.submit("square", 3, { name: "three squared" }), Task.join), options)
            .pipe(
              Effect.withSpan("request"),
              Effect.withTracer(tracer)
            )
          return names
        })
      const quiet = yield* spansOf({})
      assert.include(quiet, "request")
      assert.notInclude(quiet, "three squared")
      assert.include(yield* spansOf({ tracing: true }), "three squared")
    }).pipe(Effect.provide(Local)))

  it.live("a task that throws an error whose message cannot be read fails once with TaskDefectError; it is not run again", () =>
    Effect.gen(function*() {
      let runs = 0
      class Unreadable extends Error {
        override get message(): string {
          throw new TypeError("no message")
        }
      }
      const unreadable = TaskSet.make("test/unreadable-error", {
        fail: TaskSet.task({
          payload: Schema.Number,
          success: Schema.Number,
          run: (): number => {
            runs++
            throw new Unreadable()
          }
        })
      })
      const layer = ClusterRunner.layer(unreadable).pipe(Layer.provideMerge(Cluster.layerMemory()))
      // before: the text of the error threw in the runner's handler, Effect restarted the entity,
      // and the task ran again and again, its submitter waiting for ever
      const exit = yield* ClusterExecutor.scoped(unreadable, (executor) =>
        Effect.flatMap(
          executor.submit("fail", 1, { reraiseOnExit: false, cancelOnExit: true }),
          (task) => Effect.timeoutOrElse(Task.await(task), { duration: "20 seconds", orElse: () => Effect.die("hung") })
        )).pipe(Effect.provide(layer))
      const error = errorOf(exit)
      assert.instanceOf(error, ClusterError.TaskDefectError)
      assert.include((error as ClusterError.TaskDefectError).defect, "an instance of Unreadable")
      assert.strictEqual(runs, 1)
    }))

  it.live("the text of a defect is cut at 64 Ki characters, saying how much was left out", () =>
    Effect.gen(function*() {
      const loud = TaskSet.make("test/loud-errors", {
        throws: TaskSet.task({
          payload: Schema.Number,
          success: Schema.Number,
          run: (n): number => {
            throw new Error("x".repeat(n))
          }
        })
      })
      const layer = ClusterRunner.layer(loud).pipe(Layer.provideMerge(Cluster.layerMemory()))
      const quiet = { reraiseOnExit: false } as const
      const [long, short] = yield* ClusterExecutor.scoped(loud, (executor) =>
        Effect.all([
          Effect.flatMap(executor.submit("throws", 200_000, quiet), Task.await),
          Effect.flatMap(executor.submit("throws", 3, quiet), Task.await)
        ])).pipe(Effect.provide(layer), Effect.timeout("20 seconds"))
      // before: stored and sent whole (a text over 64 MiB stopped the storage's reading for good)
      const defect = (errorOf(long) as ClusterError.TaskDefectError).defect
      const whole = "throws failed with Error: ".length + 200_000
      assert.strictEqual(defect.length, 64 * 1024 + `… (${whole - 64 * 1024} more characters)`.length)
      assert.isTrue(defect.endsWith(`xx… (${whole - 64 * 1024} more characters)`))
      assert.strictEqual((errorOf(short) as ClusterError.TaskDefectError).defect, "throws failed with Error: xxx")
    }))

  it.live("an Exit a task returns is run, whatever its success Schema accepts: a Void task that fails fails", () =>
    ClusterExecutor.scoped(tasks, (executor) =>
      Effect.gen(function*() {
        const exit = yield* Effect.flatMap(executor.submit("voidFails", "no", { reraiseOnExit: false }), Task.await)
        assert.deepStrictEqual(errorOf(exit), new WorkFailed({ message: "no" }))
      })).pipe(Effect.provide(Local)))

  it.live("a cancelled task holds its permit until it has ended on its runner: the next task starts after its finalizer", () =>
    ClusterExecutor.scoped(tasks, (executor) =>
      Effect.gen(function*() {
        const log = yield* logFile
        const a = yield* executor.submit("slowRelease", { key: "A", log, ms: 300 })
        const b = yield* executor.submit("visit", { key: "B", ms: 0, log })
        yield* eventually("A runs", Effect.map(readLog(log), (entries) => entries.some((e) => e.event === "start")))
        yield* Task.interrupt(a)
        const events = (yield* readLog(log)).map((e) => `${e.event} ${e.key}`)
        assert.deepStrictEqual(events, ["start A", "released A"], "Task.interrupt returned once A had ended")
        yield* Task.join(b)
        assert.deepStrictEqual((yield* readLog(log)).map((e) => `${e.event} ${e.key}`).slice(0, 3), [
          "start A",
          "released A",
          "start B"
        ])
      }), { maxConcurrency: 1 }).pipe(Effect.provide(Local)))

  it.live("what cannot cross the wire as it is fails its task, typed, once: values that are not JSON, classes JSON cannot tell apart", () =>
    Effect.gen(function*() {
      let runs = 0
      class Timeout extends Schema.Error<Timeout>("Timeout")({ message: Schema.String }) {}
      class Refused extends Schema.Error<Refused>("Refused")({ message: Schema.String }) {}
      class Point {
        constructor(readonly x: number, readonly y: number) {}
      }
      const wire = TaskSet.make("test/wire", {
        // an Error through Schema.Any: before, the runner's handler died on it and the task ran again and again
        anyError: TaskSet.task({
          payload: Schema.Number,
          success: Schema.Number,
          error: Schema.Any,
          run: (): number => {
            runs++
            throw new Error("bad input")
          }
        }),
        anyDate: TaskSet.task({ payload: Schema.Number, success: Schema.Any, run: (n) => new Date(n) }),
        anyPayload: TaskSet.task({ payload: Schema.Any, success: Schema.Number, run: () => 1 }),
        // a class instance its Schema reads back as a plain object: no class is swapped, it is the value
        point: TaskSet.task({
          payload: Schema.Number,
          success: Schema.Struct({ x: Schema.Number, y: Schema.Number }),
          run: (n) => new Point(n, n)
        }),
        // before: the submitter got a Timeout for the task's Refused
        refused: TaskSet.task({
          payload: Schema.String,
          success: Schema.Number,
          error: Schema.Union([Timeout, Refused]),
          run: (message) => Effect.fail(new Refused({ message }))
        }),
        // a class and what it encodes to: a Date would arrive as its ISO string (refused since 29a9706;
        // for an hour on 2026-11-27 only Schema classes were checked)
        dateOrText: TaskSet.task({
          payload: Schema.Number,
          success: Schema.Union([Schema.String, Schema.Date]),
          run: (n) => new Date(n)
        }),
        // before: not checked at all — the task ran with a Timeout for the Refused it was given
        union: TaskSet.task({
          payload: Schema.Union([Timeout, Refused]),
          success: Schema.String,
          run: (given) => given instanceof Refused ? "Refused" : "Timeout"
        })
      })
      const layer = ClusterRunner.layer(wire).pipe(Layer.provideMerge(Cluster.layerMemory()))
      const quiet = { reraiseOnExit: false } as const
      const [anyError, anyDate, anyPayload, refused, point, union, timeout, dateOrText] = yield* ClusterExecutor.scoped(
        wire,
        (executor) =>
          Effect.all([
            Effect.flatMap(executor.submit("anyError", 1, quiet), Task.await),
            Effect.flatMap(executor.submit("anyDate", 1, quiet), Task.await),
            Effect.flatMap(executor.submit("anyPayload", 5n, quiet), Task.await),
            Effect.flatMap(executor.submit("refused", "no", quiet), Task.await),
            Effect.flatMap(executor.submit("point", 2), Task.join),
            Effect.flatMap(executor.submit("union", new Refused({ message: "no" }), quiet), Task.await),
            Effect.flatMap(executor.submit("union", new Timeout({ message: "late" })), Task.join),
            Effect.flatMap(executor.submit("dateOrText", 0, quiet), Task.await)
          ])
      ).pipe(Effect.provide(layer), Effect.timeout("20 seconds"))
      assert.strictEqual(timeout, "Timeout", "the first member of the union crosses")
      assert.deepStrictEqual(point, { x: 2, y: 2 })
      const error = (exit: Exit.Exit<unknown, unknown>) =>
        errorOf(exit) as { readonly _tag: string; readonly message: string }
      assert.deepStrictEqual([error(anyError)._tag, error(anyDate)._tag, error(anyPayload)._tag, error(refused)._tag], [
        "InvalidResultError",
        "InvalidResultError",
        "InvalidPayloadError",
        "InvalidResultError"
      ])
      assert.include(error(anyError).message, "its JSON form is not JSON (an instance of Error)")
      assert.include(error(anyDate).message, "its JSON form is not JSON (an instance of Date)")
      assert.include(error(refused).message, "reads back as an instance of Timeout, not as an instance of Refused")
      assert.strictEqual(error(dateOrText)._tag, "InvalidResultError")
      assert.include(error(dateOrText).message, "not as an instance of Date")
      assert.strictEqual(error(union)._tag, "InvalidPayloadError")
      assert.include(error(union).message, "reads back as an instance of Timeout, not as an instance of Refused")
      assert.strictEqual(runs, 1)
    }))

  it("the class check follows the value's JSON form: what the Schema leaves out is not walked, nor compared", () => {
    const encoder = (payload: Schema.Top) => {
      const set = TaskSet.make("test/walk", {
        t: TaskSet.task({ payload: payload as Schema.Codec<unknown>, success: Schema.Number, run: () => 1 })
      })
      return protocolOf(set).codecs.get("t")!.encodePayload
    }
    // a link back to a parent, outside the Schema: before, the walk went round it for ever
    const org: { name: string; users: Array<unknown> } = { name: "acme", users: [] }
    for (let i = 0; i < 3; i++) org.users.push({ name: `u${i}`, org })
    assert.deepStrictEqual(encoder(Schema.Struct({ id: Schema.Number }))({ id: 1, org }), { id: 1 })
    // a cache of a Schema class, not one of its fields: before, "its field "memo" reads back as undefined"
    class Invoice extends Schema.Class<Invoice>("Invoice")({ lines: Schema.Array(Schema.Number) }) {
      memo: Map<string, number> | undefined = undefined
    }
    const invoice = new Invoice({ lines: [1, 2] })
    invoice.memo = new Map([["total", 3]])
    assert.deepStrictEqual(encoder(Invoice)(invoice), { lines: [1, 2] })
    // an array the Schema sorts when it decodes, of classes JSON tells apart: before, "its item 0 reads back as A"
    class A extends Schema.TaggedClass<A>()("A", { x: Schema.Number }) {}
    class B extends Schema.TaggedClass<B>()("B", { x: Schema.Number }) {}
    const sorted = Schema.Array(Schema.Union([A, B])).pipe(
      Schema.decode(SchemaTransformation.transform({
        decode: (xs: ReadonlyArray<A | B>): ReadonlyArray<A | B> => [...xs].sort((p, q) => p.x - q.x),
        encode: (xs: ReadonlyArray<A | B>) => xs
      }))
    )
    assert.deepStrictEqual(encoder(sorted)([new B({ x: 2 }), new A({ x: 1 })]), [{ _tag: "B", x: 2 }, {
      _tag: "A",
      x: 1
    }])
    // the same instance in two places is checked in each
    class T1 extends Schema.Class<T1>("T1")({ m: Schema.String }) {}
    class T2 extends Schema.Class<T2>("T2")({ m: Schema.String }) {}
    const t2 = new T2({ m: "x" })
    assert.throws(
      () => encoder(Schema.Struct({ a: T2, b: Schema.Union([T1, T2]) }))({ a: t2, b: t2 }),
      `its field "b" reads back as an instance of T1, not as an instance of T2`
    )
  })

  it.live("values of Effect's own classes cross as they are: a Chunk, an Option, a Uint8Array inside a struct", () =>
    Effect.gen(function*() {
      const own = TaskSet.make("test/own-classes", {
        // a Chunk points at itself: a check that walked class instances' keys hung on it (ea7bfe0)
        chunk: TaskSet.task({
          payload: Schema.Chunk(Schema.Number),
          success: Schema.Chunk(Schema.Number),
          run: (chunk) => Chunk.append(chunk, Chunk.size(chunk))
        }),
        maybe: TaskSet.task({
          payload: Schema.Struct({ bytes: Schema.Uint8Array, label: Schema.Option(Schema.String) }),
          success: Schema.Option(Schema.Number),
          run: ({ bytes, label }) => Option.map(label, () => bytes.length)
        })
      })
      const layer = ClusterRunner.layer(own).pipe(Layer.provideMerge(Cluster.layerMemory()))
      const [chunk, maybe] = yield* ClusterExecutor.scoped(own, (executor) =>
        Effect.all([
          Effect.flatMap(executor.submit("chunk", Chunk.make(1, 2)), Task.join),
          Effect.flatMap(executor.submit("maybe", { bytes: new Uint8Array(3), label: Option.some("x") }), Task.join)
        ])).pipe(Effect.provide(layer), Effect.timeout("20 seconds"))
      assert.deepStrictEqual(Chunk.toReadonlyArray(chunk), [1, 2, 2])
      assert.deepStrictEqual(maybe, Option.some(3))
    }))

  it.live("a class JSON cannot tell apart is refused inside a value too: in a struct's field, an array, a Schema class", () =>
    Effect.gen(function*() {
      let ran = 0
      class Timeout extends Schema.Error<Timeout>("Timeout")({ message: Schema.String }) {}
      class Refused extends Schema.Error<Refused>("Refused")({ message: Schema.String }) {}
      const Either = Schema.Union([Timeout, Refused])
      class Job extends Schema.Class<Job>("Job")({ id: Schema.Number, last: Either }) {}
      // (Effect's own constructor of Job turns a Refused given for `last` into a Timeout: not used below)
      class Stamp extends Schema.Class<Stamp>("Stamp")({ at: Schema.Union([Schema.String, Schema.Date]) }) {}
      const nested = TaskSet.make("test/nested-classes", {
        // before: the runner's task got a Timeout in `e` for the Refused it was sent
        field: TaskSet.task({
          payload: Schema.Struct({ e: Either }),
          success: Schema.String,
          run: ({ e }) => {
            ran++
            return e instanceof Refused ? "Refused" : "Timeout"
          }
        }),
        items: TaskSet.task({
          payload: Schema.Number,
          success: Schema.Array(Either),
          run: (n) => [new Timeout({ message: "a" }), new Refused({ message: String(n) })]
        }),
        stamp: TaskSet.task({
          payload: Schema.Number,
          success: Stamp,
          run: (n) => new Stamp({ at: new Date(n) })
        }),
        dates: TaskSet.task({
          payload: Schema.Number,
          success: Schema.Struct({ at: Schema.Union([Schema.String, Schema.Date]) }),
          run: (n) => ({ at: new Date(n) })
        }),
        // what reads back as it was sent crosses: the first member of the union, classes kept in place
        fine: TaskSet.task({
          payload: Schema.Struct({ e: Either, at: Schema.Date, xs: Schema.Array(Schema.Option(Schema.Number)) }),
          success: Job,
          run: ({ at, e, xs }) => new Job({ id: at.getTime() + xs.length, last: e })
        })
      })
      const layer = ClusterRunner.layer(nested).pipe(Layer.provideMerge(Cluster.layerMemory()))
      const quiet = { reraiseOnExit: false } as const
      const [field, items, stamp, dates, fine] = yield* ClusterExecutor.scoped(nested, (executor) =>
        Effect.all([
          Effect.flatMap(executor.submit("field", { e: new Refused({ message: "no" }) }, quiet), Task.await),
          Effect.flatMap(executor.submit("items", 1, quiet), Task.await),
          Effect.flatMap(executor.submit("stamp", 1, quiet), Task.await),
          Effect.flatMap(executor.submit("dates", 0, quiet), Task.await),
          Effect.flatMap(
            executor.submit("fine", {
              e: new Timeout({ message: "late" }),
              at: new Date(5),
              xs: [Option.some(1), Option.none()]
            }),
            Task.join
          )
        ])).pipe(Effect.provide(layer), Effect.timeout("20 seconds"))
      const error = (exit: Exit.Exit<unknown, unknown>) =>
        errorOf(exit) as { readonly _tag: string; readonly message: string }
      assert.strictEqual(error(field)._tag, "InvalidPayloadError")
      assert.include(error(field).message,
        `its field "e" reads back as an instance of Timeout, not as an instance of Refused`)
      assert.strictEqual(ran, 0, "the task never ran with the wrong class")
      assert.strictEqual(error(items)._tag, "InvalidResultError")
      assert.include(error(items).message, "its item 1 reads back as an instance of Timeout")
      assert.strictEqual(error(stamp)._tag, "InvalidResultError")
      assert.include(error(stamp).message, `its field "at" reads back as`)
      assert.strictEqual(error(dates)._tag, "InvalidResultError")
      assert.include(error(dates).message, `its field "at" reads back as`)
      assert.instanceOf(fine, Job)
      assert.strictEqual(fine.id, 7)
      assert.instanceOf(fine.last, Timeout)
    }))

  it.live("a task set the cluster cannot store dies with an InvalidArgumentError naming what is wrong", () =>
    Effect.gen(function*() {
      const longKey = TaskSet.make("k".repeat(141), {
        echo: TaskSet.task({ payload: Schema.Number, success: Schema.Number, run: (n) => n })
      })
      const longName = TaskSet.make("test/long-name", {
        ["n".repeat(51)]: TaskSet.task({ payload: Schema.Number, success: Schema.Number, run: (n) => n })
      })
      // TaskSet.make refuses a task named "", which the runner's executor could not run; a set made by hand too
      const made = TaskSet.make("test/empty-name", {
        a: TaskSet.task({ payload: Schema.Number, success: Schema.Number, run: (n) => n })
      })
      const emptyName: TaskSet.Any = { ...made, tasks: { "": made.tasks.a }, names: [""] }
      // storage would know a task of set "app/lane-3" and one of set "app" by one identity
      const laneKey = TaskSet.make("app/lane-3", {
        echo: TaskSet.task({ payload: Schema.Number, success: Schema.Number, run: (n) => n })
      })
      // storage turns a lone surrogate into U+FFFD (two names, one task), and cannot hold a NUL
      const byName = (name: string): TaskSet.Any => ({ ...made, tasks: { [name]: made.tasks.a }, names: [name] })
      const byKey = (key: string): TaskSet.Any => ({ ...made, key })
      for (
        const [taskSet, argument] of [
          [longKey, "taskSet.key"],
          [laneKey, "taskSet.key"],
          [byKey("k\uD800"), "taskSet.key"],
          [byKey("a\u0000b"), "taskSet.key"],
          [longName, "task name"],
          [emptyName, "task name"],
          [byName("x\uD800"), "task name"],
          [byName("\uDC00x"), "task name"],
          [byName("nul\u0000name"), "task name"]
        ] as const
      ) {
        const exit = yield* Effect.exit(ClusterExecutor.scoped(taskSet, () => Effect.void).pipe(Effect.provide(Local)))
        const defect = Cause.squash((exit as Exit.Failure<unknown, unknown>).cause)
        assert.instanceOf(defect, ExecutorError.InvalidArgumentError)
        assert.strictEqual((defect as ExecutorError.InvalidArgumentError).argument, argument)
      }
    }))

  it.live("a task the runners' task set lacks (a rolling deploy) fails with a typed DeliveryError, not a defect", () =>
    Effect.gen(function*() {
      const older = TaskSet.make("test/versions", {
        inc: TaskSet.task({ payload: Schema.Number, success: Schema.Number, run: (n) => n + 1 })
      })
      const newer = TaskSet.make("test/versions", {
        inc: TaskSet.task({ payload: Schema.Number, success: Schema.Number, run: (n) => n + 1 }),
        double: TaskSet.task({ payload: Schema.Number, success: Schema.Number, run: (n) => n * 2 })
      })
      const runnerOfOlder = ClusterRunner.layer(older).pipe(Layer.provideMerge(Cluster.layerMemory()))
      const [inc, exit] = yield* ClusterExecutor.scoped(newer, (executor) =>
        Effect.gen(function*() {
          const inc = yield* Task.join(yield* executor.submit("inc", 1))
          const double = yield* executor.submit("double", 2, { reraiseOnExit: false })
          return [inc, yield* Task.await(double)] as const
        })).pipe(Effect.provide(runnerOfOlder))
      assert.strictEqual(inc, 2)
      assert.isTrue(Exit.isFailure(exit) && !Cause.hasDies(exit.cause), "a typed failure, not a defect")
      const error = Cause.squash((exit as Exit.Failure<unknown, unknown>).cause)
      assert.instanceOf(error, ClusterError.DeliveryError)
      assert.include((error as Error).message, "\"double\"")
      assert.strictEqual(
        (error as ClusterError.DeliveryError).reason,
        "the runner that took it does not know task \"double\" (a rolling deploy, with runners of an older task set?)"
      )
    }))

  // Runners of different task sets on one database share its shards: a task
  // whose shard a runner of another task set took is answered by Effect with
  // "Entity type ... not registered" once entityRegistrationTimeout passes.
  it.live("a task set no runner serves fails with a DeliveryError that says so", () =>
    Effect.gen(function*() {
      const unserved = TaskSet.make("test/unserved", {
        inc: TaskSet.task({ payload: Schema.Number, success: Schema.Number, run: (n) => n + 1 })
      })
      const runnerOfOthers = ClusterRunner.layer(tasks, { concurrency: 4 }).pipe(
        Layer.provide(Layer.succeed(RunnerName, "memory")),
        Layer.provideMerge(Cluster.layerMemory({ shardingConfig: { entityRegistrationTimeout: "500 millis" } }))
      )
      const exit = yield* ClusterExecutor.scoped(unserved,
        (executor) => Effect.flatMap(executor.submit("inc", 1, { reraiseOnExit: false }), Task.await)).pipe(
          Effect.provide(runnerOfOthers)
        )
      assert.isTrue(Exit.isFailure(exit) && !Cause.hasDies(exit.cause), "a typed failure, not a defect")
      const error = Cause.squash((exit as Exit.Failure<unknown, unknown>).cause)
      assert.instanceOf(error, ClusterError.DeliveryError)
      assert.strictEqual(
        (error as ClusterError.DeliveryError).reason,
        "no runner that took its shard serves task set \"test/unserved\" (every runner that shares a database must serve every task set used with it)"
      )
    }))

  // Effect's storage identifies a request by `${entityType}/${entityId}/${tag}/${key}`:
  // with the task's name as its tag, ("render/v1", "invoice-42") and ("render",
  // "v1/invoice-42") were one request (both keys are in lane 33), and the
  // second submit answered with the first one's result.
  it.live("two tasks whose name and key join to the same text are two tasks in storage", () =>
    Effect.gen(function*() {
      const renders = TaskSet.make("test/renders", {
        render: TaskSet.task({ payload: Schema.String, success: Schema.String, run: (s) => `render(${s})` }),
        "render/v1": TaskSet.task({ payload: Schema.String, success: Schema.String, run: (s) => `render/v1(${s})` }),
        "render%2Fv1": TaskSet.task({ payload: Schema.String, success: Schema.String, run: (s) => `escaped(${s})` })
      })
      assert.strictEqual(laneOf("invoice-42"), laneOf("v1/invoice-42"), "one lane: the keys could meet")
      const runner = ClusterRunner.layer(renders).pipe(Layer.provideMerge(Cluster.layerMemory()))
      yield* ClusterExecutor.scoped(renders, (executor) =>
        Effect.gen(function*() {
          const join = (task: TaskSet.Names<typeof renders>, payload: string, key: string) =>
            Effect.flatMap(executor.submit(task, payload, { key }), Task.join)
          assert.strictEqual(yield* join("render/v1", "A", "invoice-42"), "render/v1(A)")
          assert.strictEqual(yield* join("render", "B", "v1/invoice-42"), "render(B)")
          assert.strictEqual(yield* join("render%2Fv1", "C", "invoice-42"), "escaped(C)")
          assert.strictEqual(yield* Effect.flatMap(executor.attach("v1/invoice-42"), Task.join), "render(B)")
          // a task sent by an earlier version, under its name as the tag, still runs
          const client = yield* protocolOf(renders).entity.client
          const legacy = yield* client(laneOf("old-7"))["render/v1"]!(new WirePayload({ key: "old-7", payload: "D" }))
          assert.strictEqual(legacy, "render/v1(D)")
        })).pipe(Effect.provide(runner))
      // a name without "%" or "/" is its own tag: what earlier versions stored for it is still found
      assert.deepStrictEqual(renders.names.map(tagOf), ["render", "render%2Fv1", "render%252Fv1"])
    }))

  it.live("a name that fits the tag column only unescaped gets a shortened tag of its own, and runs", () =>
    Effect.gen(function*() {
      // 49 characters, 51 once the "/" is escaped; the same first 40 escaped characters
      const a = `${"n".repeat(24)}/${"a".repeat(24)}`
      const b = `${"n".repeat(24)}/${"b".repeat(24)}`
      const long = TaskSet.make("test/long-tags", {
        [a]: TaskSet.task({ payload: Schema.String, success: Schema.String, run: (s) => `a(${s})` }),
        [b]: TaskSet.task({ payload: Schema.String, success: Schema.String, run: (s) => `b(${s})` })
      })
      const tags = long.names.map(tagOf)
      for (const tag of tags) {
        assert.isAtMost(Array.from(tag).length, 50)
        assert.notInclude(tag, "/")
      }
      assert.notStrictEqual(tags[0], tags[1])
      const runner = ClusterRunner.layer(long).pipe(Layer.provideMerge(Cluster.layerMemory()))
      const results = yield* ClusterExecutor.scoped(long, (executor) =>
        Effect.forEach([a, b], (name) =>
          Effect.flatMap(executor.submit(name as TaskSet.Names<typeof long>, "x", { key: `same-${name.at(-1)}` }),
            Task.join))).pipe(
          Effect.provide(runner)
        )
      assert.deepStrictEqual(results, ["a(x)", "b(x)"])
    }))

  it.live("shardingConfig takes what Effect takes: a fractional runner weight, durations as strings or Durations", () =>
    Effect.gen(function*() {
      const config = {
        ...Cluster.defaultShardingConfig,
        runnerShardWeight: 1.5,
        entityMailboxCapacity: "unbounded",
        shardLockRefreshInterval: "3 seconds"
      } as const
      const runner = ClusterRunner.layer(tasks, { concurrency: 4 }).pipe(
        Layer.provide(Layer.succeed(RunnerName, "memory")),
        Layer.provideMerge(Cluster.layerMemory({ shardingConfig: config }))
      )
      const squared = yield* ClusterExecutor.scoped(tasks, (executor) =>
        Effect.flatMap(executor.submit("square", 7), Task.join)).pipe(Effect.provide(runner))
      assert.strictEqual(squared, 49)
    }))

  it.live("a Schema whose own code throws is a typed error that says what it threw", () =>
    Effect.gen(function*() {
      const checked = TaskSet.make("test/throwing-schema", {
        check: TaskSet.task({
          payload: Schema.Number.check(Schema.makeFilter((n: number) => {
            if (n === 13) throw new RangeError("the check met 13")
            return true
          })),
          success: Schema.Number,
          run: (n) => n
        })
      })
      const runner = ClusterRunner.layer(checked).pipe(Layer.provideMerge(Cluster.layerMemory()))
      const exit = yield* ClusterExecutor.scoped(checked,
        (executor) => Effect.flatMap(executor.submit("check", 13, { reraiseOnExit: false }), Task.await)).pipe(
          Effect.provide(runner)
        )
      const error = Cause.squash((exit as Exit.Failure<unknown, unknown>).cause)
      assert.instanceOf(error, ClusterError.InvalidPayloadError)
      assert.include((error as Error).message, "RangeError: the check met 13")
    }))

  // A runner that shuts down lets go of the tasks it leaves stored: the calls
  // waiting for them get an interruption (Effect's shard release resumes their
  // reply handlers with one; from a remote runner it comes back over its
  // socket). Effect's client takes any interruption of a call for a cancel and
  // stores an Interrupt for the task, which the runner running it next
  // obeyed: the task's result was its interruption. Here the let-go is made
  // the way a runner's shard release makes it, while the task runs in this
  // process (fails on the call of 42b6aa3's revert: 5 of 5 runs).
  it.live("a call whose runner lets go of its task gets the task's result; the task is not cancelled", () =>
    ClusterExecutor.scoped(tasks, (executor) =>
      Effect.gen(function*() {
        const log = yield* logFile
        const key = "let-go"
        const task = yield* executor.submit("visit", { key, ms: 300, log }, { key })
        yield* eventually("the task runs", Effect.map(readLog(log), (entries) => entries.length > 0))
        const { storage } = yield* Cluster.Cluster
        const sharding = yield* Sharding.Sharding
        const entityId = EntityId.make(laneOf(key))
        const address = EntityAddress.make({
          entityType: EntityType.make(`taskscope/${tasks.key}`),
          entityId,
          shardId: sharding.getShardId(entityId, "default")
        })
        const requestId = yield* storage.requestIdForPrimaryKey({ address, tag: "visit", id: key })
        assert.isTrue(Option.isSome(requestId), "the task is stored")
        yield* storage.unregisterReplyHandler(Option.getOrThrow(requestId), { interrupt: true })
        const exit = yield* Task.await(task)
        assert.deepStrictEqual(exit, Exit.succeed({ key, runner: "memory" }))
        assert.deepStrictEqual((yield* readLog(log)).map((e) => e.event), ["start", "end"])
      })).pipe(Effect.provide(Local)))

  it.live("a task with a timeout that passes fails with TaskTimeoutError, its function stopped; the type says so", () =>
    ClusterExecutor.scoped(tasks, (executor) =>
      Effect.gen(function*() {
        const log = yield* logFile
        const timed = yield* executor.submit("hang", { key: "timed", log }, {
          timeout: "100 millis",
          reraiseOnExit: false
        })
        const plain = yield* executor.submit("square", 3)
        expectTypeOf(timed).toEqualTypeOf<
          ClusterExecutor.ClusterTask<void, ClusterError.ClusterTaskError | ExecutorError.TaskTimeoutError>
        >()
        expectTypeOf(plain).toEqualTypeOf<
          ClusterExecutor.ClusterTask<number, TooBig | ClusterError.ClusterTaskError>
        >()
        const exit = yield* Task.await(timed)
        assert.isTrue(Exit.isFailure(exit))
        assert.instanceOf(Cause.squash((exit as Exit.Failure<unknown, unknown>).cause), ExecutorError.TaskTimeoutError)
        yield* eventually(
          "the task's function is interrupted on its runner",
          Effect.map(readLog(log), (entries) => entries.some((entry) => entry.event === "interrupted"))
        )
        assert.strictEqual(yield* Task.join(plain), 9)
      })).pipe(Effect.provide(Local)))

  it.live("the name-first accessors reach the layer's executor (Current), typed by the registered task set", () =>
    Effect.gen(function*() {
      const task = yield* ClusterExecutor.submit("square", 7)
      expectTypeOf(task).toEqualTypeOf<ClusterExecutor.ClusterTask<number, TooBig | ClusterError.ClusterTaskError>>()
      assert.strictEqual(yield* Task.join(task), 49)
      const attached = yield* ClusterExecutor.attach(task.key)
      assert.deepStrictEqual(yield* Task.join(attached), 49)
      const viaTaskSet = yield* ClusterExecutor.submit(tasks, "square", 8)
      assert.strictEqual(yield* Task.join(viaTaskSet), 64)
      const stats = yield* Effect.flatMap(ClusterExecutor.Current, (executor) => executor.stats)
      assert.strictEqual(stats.succeeded, 3)
    }).pipe(Effect.provide(Layer.provide(ClusterExecutor.layer(tasks), Local))))

  it("only a layer of the registered task set provides the program's executor (Current) to name-first calls", () => {
    const other = TaskSet.make("@taskscope/cluster/test/other", {
      upper: TaskSet.task({ payload: Schema.String, success: Schema.String, run: (s) => s.toUpperCase() })
    })
    const byName = Effect.flatMap(ClusterExecutor.submit("square", 3), Task.join)
    const programs = () => [
      Effect.runPromise(byName.pipe(Effect.provide(ClusterExecutor.layer(tasks)), Effect.provide(Local))),
      // @ts-expect-error: the executor of another task set would fail this call with UnknownTaskError
      Effect.runPromise(byName.pipe(Effect.provide(ClusterExecutor.layer(other)), Effect.provide(Local)))
    ]
    expectTypeOf<ClusterExecutor.CurrentOf<typeof tasks>>().toEqualTypeOf<ClusterExecutor.Current>()
    expectTypeOf<ClusterExecutor.CurrentOf<typeof other>>().toEqualTypeOf<never>()
    assert.isFunction(programs)
  })

  it("a runner layer asks for the services its tasks need", () => {
    const withoutName = ClusterRunner.layer(tasks).pipe(Layer.provide(Cluster.layerMemory()))
    expectTypeOf(withoutName).toEqualTypeOf<Layer.Layer<never, never, RunnerName>>()
    // @ts-expect-error: launching a runner whose tasks need RunnerName without providing it does not compile
    const launch: Effect.Effect<never, never, never> = Layer.launch(withoutName)
    void launch
    assert.include(tasks.names, "visit", "the task that needs RunnerName")
  })
})

/** One runner that runs one task at a time: what queues there waits for the task ahead of it. */
const Single = ClusterRunner.layer(tasks, { concurrency: 1 }).pipe(
  Layer.provide(Layer.succeed(RunnerName, "memory")),
  Layer.provideMerge(Cluster.layerMemory())
)

/** The typed error a task's exit failed with, if any. */
const errorOf = (exit: Exit.Exit<unknown, unknown>): unknown =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.findErrorOption(exit.cause)) : undefined

const timeoutOf = (exit: Exit.Exit<unknown, unknown>): ExecutorError.TaskTimeoutError => {
  const error = errorOf(exit)
  assert.instanceOf(error, ExecutorError.TaskTimeoutError, String(exit))
  return error as ExecutorError.TaskTimeoutError
}

// The submitter's executor starts every task at once (maxConcurrency:
// Infinity): the task waits in its runner's queue, where its submit options
// must apply. Before they travelled with the task, a start deadline never
// fired there, a run deadline counted the wait and stored an interruption,
// and the runner's queue ignored priorities.
describe("submit options on the runner (a runner of concurrency 1; A: a task that runs for 1 s)", () => {
  /** Submits A, and waits until it runs. */
  const aheadOf = (executor: ClusterExecutor.ClusterExecutor<typeof tasks>, log: string) =>
    Effect.gen(function*() {
      const a = yield* executor.submit("visit", { key: "A", ms: 1000, log }, { key: "A" })
      yield* eventually("A runs", Effect.map(readLog(log), (entries) => entries.some((e) => e.key === "A")))
      return a
    })
  const started = (log: string) =>
    Effect.map(readLog(log), (entries) => entries.filter((e) => e.event === "start").map((e) => e.key))

  it.live("startTimeout: a task still in the runner's queue then fails with TaskTimeoutError { phase: \"queue\" }, never run", () =>
    ClusterExecutor.scoped(tasks, (executor) =>
      Effect.gen(function*() {
        const log = yield* logFile
        const a = yield* aheadOf(executor, log)
        const b = yield* executor.submit("visit", { key: "B", ms: 100, log }, {
          key: "B",
          startTimeout: "300 millis",
          reraiseOnExit: false
        })
        const error = timeoutOf(yield* Task.await(b))
        assert.strictEqual(error.phase, "queue")
        assert.strictEqual(error.taskName, "visit")
        assert.strictEqual(Duration.toMillis(error.timeout), 300)
        assert.deepStrictEqual(yield* Task.join(a), { key: "A", runner: "memory" })
        yield* Effect.sleep("200 millis") // B would have started once A ended
        assert.deepStrictEqual(yield* started(log), ["A"])
        assert.include(yield* executor.stats, { succeeded: 1, failed: 1, timedOut: 1 })
      })).pipe(Effect.provide(Single)))

  it.live("timeout counts from the start on the runner: the time queued behind A does not use it up", () =>
    ClusterExecutor.scoped(tasks, (executor) =>
      Effect.gen(function*() {
        const log = yield* logFile
        yield* aheadOf(executor, log)
        const c = yield* executor.submit("visit", { key: "C", ms: 100, log }, { key: "C", timeout: "600 millis" })
        assert.deepStrictEqual(yield* Task.join(c), { key: "C", runner: "memory" })
        assert.deepStrictEqual(yield* started(log), ["A", "C"])
      })).pipe(Effect.provide(Single)))

  it.live("a run past its timeout fails with TaskTimeoutError { phase: \"run\" }, its function stopped; attach gets the same", () =>
    ClusterExecutor.scoped(tasks, (executor) =>
      Effect.gen(function*() {
        const log = yield* logFile
        const task = yield* executor.submit("hang", { key: "H", log }, {
          key: "H",
          timeout: "200 millis",
          reraiseOnExit: false
        })
        const error = timeoutOf(yield* Task.await(task))
        assert.strictEqual(error.phase, "run")
        assert.strictEqual(error.taskName, "hang")
        assert.strictEqual(Duration.toMillis(error.timeout), 200)
        yield* eventually(
          "the task's function is interrupted on its runner",
          Effect.map(readLog(log), (entries) => entries.some((e) => e.event === "interrupted" && e.key === "H"))
        )
        // the timeout is the key's stored result, not an interruption
        const attached = yield* executor.attach("H", { reraiseOnExit: false })
        // whatever attach's options: the task it finds may have been timed
        type AttachedError = typeof attached extends ClusterExecutor.ClusterTask<any, infer E> ? E : never
        expectTypeOf<ExecutorError.TaskTimeoutError>().toExtend<AttachedError>()
        const again = timeoutOf(yield* Task.await(attached))
        assert.strictEqual(again.phase, "run")
        assert.strictEqual(again.taskName, "H") // the handle's name: attach names it by its key
        assert.strictEqual(Duration.toMillis(again.timeout), 200)
        // both handles were ended by the task's deadline, on its runner (before: counted as failed only)
        assert.include(yield* executor.stats, { failed: 2, timedOut: 2 })
      })).pipe(Effect.provide(Single)))

  it.live("priority orders the runner's queue: P3 (priority 10) starts before P1 and P2 (priority 0)", () =>
    ClusterExecutor.scoped(tasks, (executor) =>
      Effect.gen(function*() {
        const log = yield* logFile
        yield* aheadOf(executor, log)
        const ps = [
          yield* executor.submit("visit", { key: "P1", ms: 50, log }, { key: "P1" }),
          yield* executor.submit("visit", { key: "P2", ms: 50, log }, { key: "P2" }),
          yield* executor.submit("visit", { key: "P3", ms: 50, log }, { key: "P3", priority: 10 })
        ]
        yield* Effect.forEach(ps, Task.join)
        assert.deepStrictEqual(yield* started(log), ["A", "P3", "P1", "P2"])
      })).pipe(Effect.provide(Single)))

  it.live("deadline is one budget: the time queued behind A uses it up, in the queue and for the run", () =>
    ClusterExecutor.scoped(tasks, (executor) =>
      Effect.gen(function*() {
        const log = yield* logFile
        yield* aheadOf(executor, log)
        const now = Date.now()
        // D: starts after A, with what is left of its 1.6 s, too little for its 1 s
        const d = yield* executor.submit("visit", { key: "D", ms: 1000, log }, {
          key: "D",
          deadline: now + 1600,
          reraiseOnExit: false
        })
        // E: its deadline passes while it waits behind A
        const e = yield* executor.submit("visit", { key: "E", ms: 10, log }, {
          key: "E",
          deadline: new Date(now + 400),
          reraiseOnExit: false
        })
        const queued = timeoutOf(yield* Task.await(e))
        assert.strictEqual(queued.phase, "queue")
        assert.isAtMost(Duration.toMillis(queued.timeout), 400)
        const ran = timeoutOf(yield* Task.await(d))
        assert.strictEqual(ran.phase, "run")
        // what was left of the deadline when D started, after its wait behind A
        assert.isBelow(Duration.toMillis(ran.timeout), 1000, Duration.format(ran.timeout))
        assert.deepStrictEqual(yield* started(log), ["A", "D"])
        const attached = yield* executor.attach("D", { reraiseOnExit: false })
        assert.strictEqual(timeoutOf(yield* Task.await(attached)).phase, "run")
      })).pipe(Effect.provide(Single)))

  it.live("a deadline already past at submit fails the task at once, without storing it", () =>
    ClusterExecutor.scoped(tasks, (executor) =>
      Effect.gen(function*() {
        const late = yield* executor.submit("square", 3, {
          key: "late",
          deadline: Date.now() - 1,
          reraiseOnExit: false
        })
        const error = timeoutOf(yield* Task.await(late))
        assert.strictEqual(error.phase, "queue")
        assert.strictEqual(Duration.toMillis(error.timeout), 0)
        const attached = yield* executor.attach("late", { reraiseOnExit: false })
        assert.instanceOf(errorOf(yield* Task.await(attached)), ClusterError.TaskNotFoundError)
      })).pipe(Effect.provide(Single)))

  it.live("bad values of these options die at once with an InvalidArgumentError naming the option and its value", () =>
    ClusterExecutor.scoped(tasks, (executor) =>
      Effect.gen(function*() {
        for (
          const [option, value] of [
            ["timeout", -1],
            ["startTimeout", "soon"],
            ["deadline", Number.NaN],
            ["deadline", "tomorrow"],
            ["priority", Number.POSITIVE_INFINITY]
          ] as const
        ) {
          const exit = yield* Effect.exit(
            executor.submit("square", 3, { [option]: value } as ClusterExecutor.SubmitOptions)
          )
          const defect = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
          assert.instanceOf(defect, ExecutorError.InvalidArgumentError, `${option}: ${String(value)}`)
          assert.strictEqual((defect as ExecutorError.InvalidArgumentError).argument, option)
          assert.include((defect as Error).message, String(value))
        }
      })).pipe(Effect.provide(Single)))
})

/**
 * A task set whose `parent` submits `child` to the cluster (through an
 * executor of its own) and joins it: a task that waits for another task.
 */
const nested: TaskSet.TaskSet<any> = TaskSet.make("test/Nested", {
  child: TaskSet.task({
    payload: Schema.Struct({ key: Schema.String, log: Schema.String }),
    success: Schema.String,
    run: ({ key, log }) =>
      Effect.andThen(Effect.sync(() => appendFileSync(log, `child ${key}\n`)),
        Effect.as(Effect.sleep("2 seconds"), key))
  }),
  parent: TaskSet.task({
    payload: Schema.Struct({ key: Schema.String, log: Schema.String }),
    success: Schema.String,
    run: ({ key, log }) =>
      ClusterExecutor.scoped(nested, (executor) =>
        Effect.flatMap(
          executor.submit("child", { key: `${key}-child`, log }, { key: `${key}-child` }),
          Task.join
        )) as Effect.Effect<string>
  })
})

/** Closes `scope` (uninterruptible: watched from outside) and fails the test if that takes longer than `limit`. */
const closesWithin = (scope: Scope.Closeable, limit: Duration.Input) =>
  Effect.gen(function*() {
    const closing = yield* Effect.forkDetach(Scope.close(scope, Exit.void))
    const closed = yield* Effect.exit(Effect.timeout(Fiber.await(closing), limit))
    assert.isTrue(Exit.isSuccess(closed),
      `the layers did not close within ${Duration.format(Duration.fromInputUnsafe(limit))}`)
  })

describe("a runner's graceful shutdown", () => {
  it.live("ClusterExecutor.scoped leaves the body's scoped resources to its caller's scope", () =>
    Effect.gen(function*() {
      const events: Array<string> = []
      yield* Effect.scoped(Effect.gen(function*() {
        yield* ClusterExecutor.scoped(tasks, () =>
          Effect.addFinalizer(() => Effect.sync(() => events.push("released"))))
        events.push("scoped returned")
      })).pipe(Effect.provide(Local))
      // a scope of its own for the shutdown watch once released the body's resources when `scoped` returned
      assert.deepStrictEqual(events, ["scoped returned", "released"])
    }))

  it.live("ends while one of its tasks waits for a task of its own shards: the wait ends",
    () =>
      Effect.gen(function*() {
        const log = yield* logFile
        const scope = yield* Scope.make()
        const context = yield* Layer.buildWithScope(
          ClusterRunner.layer(nested).pipe(Layer.provideMerge(Cluster.layerMemory())),
          scope
        )
        yield* Effect.forkDetach(Effect.provideContext(
          ClusterExecutor.scoped(nested,
            (executor) => Effect.asVoid(executor.submit("parent", { key: "P", log }, { key: "P" }))),
          context
        ).pipe(Effect.timeout("100 millis"), Effect.ignore)) // a submitter that leaves at once: the task is stored
        yield* eventually("the child runs",
          Effect.map(readLog(log), (events) => events.some((e) => e.event === "child")))
        // the program ends (SIGTERM, Layer.launch interrupted): the runner's layers are released. Before, the
        // parent's executor waited for the child, which the shutdown had stopped and left stored, and whose
        // shard this runner hands off only once its tasks have ended: it never closed
        yield* closesWithin(scope, "10 seconds")
      }), 30_000)

  it.live("ends while an executor of the same process waits for a task its runner was running",
    () =>
      Effect.gen(function*() {
        const log = yield* logFile
        const scope = yield* Scope.make()
        const layers = Layer.mergeAll(
          ClusterRunner.layer(tasks, { concurrency: 4 }).pipe(Layer.provide(Layer.succeed(RunnerName, "memory"))),
          ClusterExecutor.layer(tasks)
        ).pipe(Layer.provideMerge(Cluster.layerMemory()))
        const context = yield* Layer.buildWithScope(layers, scope)
        const executor = yield* Effect.provideContext(ClusterExecutor.service(tasks), context)
        yield* executor.submit("visit", { key: "M", log, ms: 1500 }, { key: "M" })
        yield* eventually("it runs", Effect.map(readLog(log), (events) => events.length > 0))
        yield* closesWithin(scope, "10 seconds")
        // the task was stopped by the runner's shutdown, left stored; here it ends interrupted, not lost as failed
        assert.include(yield* executor.stats, { submitted: 1, interrupted: 1, failed: 0, running: 0 })
      }), 30_000)
})

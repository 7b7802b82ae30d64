import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import { Cause, Context, Data, Duration, Effect, Exit, Fiber, References } from "effect"
import { TestClock } from "effect/testing"
import * as v8 from "node:v8"
import { runInNewContext } from "node:vm"
import { BackgroundExecutor, ExecutorError, Task } from "../src/index.ts"

/** The defect of a died exit, or fails the test. */
const defectOf = (exit: Exit.Exit<unknown, unknown>): unknown => {
  assert.isTrue(Exit.isFailure(exit), "expected the effect to die")
  const defect = Cause.findDefect((exit as Exit.Failure<unknown, unknown>).cause)
  assert.strictEqual(defect._tag, "Success", `expected a defect in ${String(exit)}`)
  return (defect as { success: unknown }).success
}

class Greeting extends Context.Service<Greeting, string>()("test/Greeting") {}

describe("BackgroundExecutor", () => {
  it("options compile passed through a generic helper, as a wider variable, a union or a literal", () => {
    // the options of submit and scoped are inferred (their error types read them): a helper
    // generic in its options, or a config object with fields of its own, must still compile
    const helper = <O extends BackgroundExecutor.SubmitOptions>(executor: BackgroundExecutor.Executor, options: O) =>
      executor.submit(Effect.void, options)
    const scopedHelper = <O extends BackgroundExecutor.Options>(options: O) =>
      BackgroundExecutor.scoped(Effect.void, options)
    const config = { name: "x", timeout: 5, retries: 3 }
    const forms = (executor: BackgroundExecutor.Executor, options: BackgroundExecutor.SubmitOptions) => [
      helper(executor, { name: "x" }),
      scopedHelper({ maxConcurrency: 2 }),
      executor.submit(Effect.void, config),
      BackgroundExecutor.submit(Effect.void, options),
      executor.submit(Effect.void, { name: "x", timeout: 5 }),
      ...[{ name: "a" }, { name: "b", timeout: 1 }].map((o) => executor.submit(Effect.void, o))
    ]
    assert.isFunction(forms)
  })

  it("a misspelled option next to a valid one does not compile, in submit and scoped, data-first and data-last", () => {
    // (one alone never compiled: it shares no property with the options)
    const misspelled = (executor: BackgroundExecutor.Executor) => [
      // @ts-expect-error: `cancelOnExt` is not an option (did you mean `cancelOnExit`?)
      executor.submit(Effect.void, { name: "x", cancelOnExt: true }),
      // @ts-expect-error: `timout` is not an option
      BackgroundExecutor.submit(Effect.void, { name: "x", timout: 5 }),
      // @ts-expect-error: `nextTik` is not an option
      Effect.void.pipe(BackgroundExecutor.submit({ name: "x", nextTik: true })),
      // @ts-expect-error: `maxConcurency` is not an option
      BackgroundExecutor.scoped(Effect.void, { maxQueue: 9, maxConcurency: 2 }),
      // @ts-expect-error: `closeTimout` is not an option
      Effect.void.pipe(BackgroundExecutor.scoped({ maxQueue: 9, closeTimout: 5 }))
    ]
    assert.isFunction(misspelled)
  })

  it("options the compiler cannot check key by key get the wider error type, literal ones the exact one", () => {
    const types = (executor: BackgroundExecutor.Executor) =>
      Effect.gen(function*() {
        const helper = <O extends BackgroundExecutor.SubmitOptions>(options: O) =>
          executor.submit(Effect.fail("e" as const), options)
        expectTypeOf(yield* helper({ name: "x" })).toEqualTypeOf<
          Task.Task<never, "e" | ExecutorError.TaskTimeoutError>
        >()
        const config = { name: "x", retries: 3 }
        expectTypeOf(yield* BackgroundExecutor.submit(Effect.fail("e" as const), config)).toEqualTypeOf<
          Task.Task<never, "e" | ExecutorError.TaskTimeoutError>
        >()
        expectTypeOf(yield* executor.submit(Effect.fail("e" as const), { name: "x" })).toEqualTypeOf<
          Task.Task<never, "e">
        >()
        expectTypeOf(yield* Effect.fail("e" as const).pipe(BackgroundExecutor.submit({ name: "x" }))).toEqualTypeOf<
          Task.Task<never, "e">
        >()
        const executorConfig = { maxConcurrency: 2, retries: 3 }
        expectTypeOf(BackgroundExecutor.scoped(Effect.void, executorConfig)).toEqualTypeOf<
          Effect.Effect<void, ExecutorError.TaskFailedError | ExecutorError.CloseTimeoutError>
        >()
      })
    assert.isFunction(types)
  })

  describe("ported from the seed's Testing Guide", () => {
    it.effect("basic: submit returns a task whose result is the effect's value", () =>
      BackgroundExecutor.scoped(Effect.gen(function*() {
        const task = yield* BackgroundExecutor.submit(Effect.succeed(10).pipe(Effect.map((x) => x * 2)))
        assert.isTrue(Task.isTask(task))
        assert.strictEqual(yield* Task.join(task), 20)
      })))

    it.effect("cancellation: a long-running cancel-on-exit task is cancelled when the scope ends", () =>
      Effect.gen(function*() {
        const task = yield* BackgroundExecutor.scoped(
          BackgroundExecutor.submit(Effect.sleep("10 seconds"), { cancelOnExit: true })
        )
        const exit = yield* Task.await(task)
        assert.isTrue(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause))
      }))

    it.effect("error propagation: a failing task fails the scope with its error", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(BackgroundExecutor.scoped(
          BackgroundExecutor.submit(Effect.fail(new Error("Task failed")))
        ))
        assert.instanceOf(error, ExecutorError.TaskFailedError)
        assert.strictEqual((Cause.squash(error.cause) as Error).message, "Task failed")
      }))

    it.effect("concurrency limit: 4 tasks of 100 ms at maxConcurrency 2 take two rounds", () =>
      Effect.gen(function*() {
        const owner = yield* Effect.forkChild(
          BackgroundExecutor.scoped(
            Effect.forEach([0, 1, 2, 3], (i) => BackgroundExecutor.submit(Effect.as(Effect.sleep(100), i))),
            { maxConcurrency: 2 }
          ),
          { startImmediately: true }
        )
        yield* TestClock.adjust(100)
        assert.isUndefined(owner.pollUnsafe(), "four tasks finished in one round")
        yield* TestClock.adjust(100)
        const tasks = yield* Fiber.join(owner)
        assert.deepStrictEqual(yield* Effect.forEach(tasks, Task.join), [0, 1, 2, 3])
      }))

    it.effect("next tick: the submitter runs on before the task starts", () =>
      Effect.gen(function*() {
        const events: Array<string> = []
        yield* BackgroundExecutor.scoped(Effect.gen(function*() {
          events.push("before")
          yield* BackgroundExecutor.submit(Effect.sync(() => events.push("task")), { nextTick: true })
          events.push("after")
          yield* Effect.yieldNow
        }))
        assert.deepStrictEqual(events, ["before", "after", "task"])
      }))

    it.effect("error handling: joining a failing task fails with its error, and the body's error wins", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(BackgroundExecutor.scoped(Effect.gen(function*() {
          const task = yield* BackgroundExecutor.submit(Effect.fail("Async task failed"))
          yield* Task.join(task)
        })))
        assert.strictEqual(error, "Async task failed")
      }))

    it.effect("cleanup: a task not flagged cancel-on-exit completes before the scope ends", () =>
      Effect.gen(function*() {
        const completed: Array<boolean> = []
        yield* BackgroundExecutor.scoped(
          BackgroundExecutor.submit(Effect.sync(() => completed.push(true)).pipe(Effect.delay(5)), {
            cancelOnExit: false
          }).pipe(Effect.andThen(TestClock.adjust(5)))
        )
        assert.deepStrictEqual(completed, [true])
      }))

    it.effect("batch: 100 quick tasks all return their result", () =>
      Effect.gen(function*() {
        const results = yield* BackgroundExecutor.scoped(Effect.gen(function*() {
          const tasks = yield* Effect.forEach(
            Array.from({ length: 100 }, (_, i) => i),
            (i) => BackgroundExecutor.submit(Effect.sync(() => i * i))
          )
          return yield* Effect.forEach(tasks, Task.join)
        }))
        assert.strictEqual(results.length, 100)
        assert.strictEqual(results[99], 99 * 99)
      }))
  })

  describe("rule 1: cancel-on-exit tasks", () => {
    it.effect("the running ones are interrupted newest first, so that an older one frees no place for a newer one", () =>
      Effect.gen(function*() {
        // a task that relays work queued elsewhere (a cluster submitter's) tells that
        // queue of the newest first: they are the ones likely still waiting there
        const interrupted: Array<string> = []
        yield* BackgroundExecutor.scoped((executor) =>
          Effect.forEach(["oldest", "middle", "newest"], (name) =>
            executor.submit(
              Effect.onInterrupt(Effect.never, () => Effect.sync(() => interrupted.push(name))),
              { name, cancelOnExit: true }
            ))
        )
        assert.deepStrictEqual(interrupted, ["newest", "middle", "oldest"])
      }))
  })

  describe("rule 2: children submitted while closing", () => {
    it.effect("a running task may submit while the executor closes; its child is awaited", () =>
      Effect.gen(function*() {
        const events: Array<string> = []
        yield* BackgroundExecutor.scoped((executor) =>
          executor.submit(Effect.gen(function*() {
            yield* Effect.yieldNow // the body has ended and the executor is closing now
            const child = yield* executor.submit(Effect.sync(() => events.push("child")).pipe(Effect.delay(10)))
            const doomed = yield* executor.submit(Effect.sync(() => events.push("doomed")), { cancelOnExit: true })
            events.push(`doomed:${(yield* Task.poll(doomed)) === undefined ? "pending" : "ended"}`)
            return child
          })).pipe(Effect.andThen(Effect.forkChild(TestClock.adjust(10))))
        )
        assert.deepStrictEqual(events, ["doomed:ended", "child"])
      }))
  })

  describe("rule 4: make and layer", () => {
    it.effect("an un-joined failure becomes a defect carrying the TaskFailedError when the scope closes", () =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(Effect.scoped(Effect.gen(function*() {
          const executor = yield* BackgroundExecutor.make()
          yield* executor.submit(Effect.fail("lost?"), { name: "worker" })
        })))
        const defect = defectOf(exit)
        assert.instanceOf(defect, ExecutorError.TaskFailedError)
        assert.strictEqual((defect as ExecutorError.TaskFailedError).taskName, "worker")
      }))

    it.effect("a layer user surfaces failures with join; joined failures do not die on release", () =>
      Effect.gen(function*() {
        const joined = yield* Effect.gen(function*() {
          yield* BackgroundExecutor.submit(Effect.fail("boom"), { name: "job" })
          return yield* Effect.flip(BackgroundExecutor.join)
        }).pipe(Effect.provide(BackgroundExecutor.layer()))
        assert.strictEqual(joined.taskName, "job")
      }))

    it.effect("a layer released with an un-joined failure dies with it", () =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(
          BackgroundExecutor.submit(Effect.fail("boom"), { name: "job" }).pipe(
            Effect.provide(BackgroundExecutor.layer())
          )
        )
        assert.instanceOf(defectOf(exit), ExecutorError.TaskFailedError)
      }))

    it.effect("when the scope fails, its error wins over task failures", () =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(Effect.scoped(Effect.gen(function*() {
          const executor = yield* BackgroundExecutor.make()
          yield* executor.submit(Effect.fail("task error"))
          return yield* Effect.fail("scope error")
        })))
        assert.deepStrictEqual(exit, Exit.fail("scope error"))
      }))

    it.effect("when the owner of scoped is interrupted, a task failure rides along in the cause", () =>
      Effect.gen(function*() {
        const owner = yield* Effect.forkChild(
          BackgroundExecutor.scoped(BackgroundExecutor.submit(Effect.fail("late").pipe(Effect.delay(10))).pipe(
            Effect.andThen(Effect.never)
          )),
          { startImmediately: true }
        )
        yield* Effect.forkChild(Fiber.interrupt(owner), { startImmediately: true })
        yield* TestClock.adjust(10)
        const exit = yield* Fiber.await(owner)
        assert.isTrue(Exit.isFailure(exit) && Cause.hasInterrupts(exit.cause))
        const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : undefined
        assert.isTrue(error?._tag === "Some" && error.value instanceof ExecutorError.TaskFailedError)
      }))
  })

  describe("rule 5: a task inherits the submitter's context", () => {
    it.effect("services, log annotations and the span parent reach the task", () =>
      Effect.gen(function*() {
        const seen = yield* BackgroundExecutor.scoped(Effect.gen(function*() {
          const submitterSpan = yield* Effect.currentSpan
          const task = yield* BackgroundExecutor.submit(
            Effect.gen(function*() {
              const span = yield* Effect.currentSpan
              return {
                greeting: yield* Greeting,
                annotations: yield* References.CurrentLogAnnotations,
                spanName: span.name,
                parentId: span.parent?._tag === "Some" ? span.parent.value.spanId : undefined
              }
            }),
            { name: "child-task" }
          )
          return { ...yield* Task.join(task), submitterId: submitterSpan.spanId }
        }).pipe(
          Effect.withSpan("submitter"),
          Effect.annotateLogs("request", "r-42"),
          Effect.provideService(Greeting, "hello")
        ))
        assert.strictEqual(seen.greeting, "hello")
        assert.include(seen.annotations, { request: "r-42", task: "child-task" })
        assert.strictEqual(seen.spanName, "child-task")
        assert.strictEqual(seen.parentId, seen.submitterId)
      }))
  })

  describe("rule 5 with many submitter contexts (a server's requests each submit from their own)", () => {
    /**
     * Each producer submits `perProducer` tasks from its own context: turn by
     * turn (`interleaved`), or each all of its own in a row.
     */
    const fromProducers = (producers: number, perProducer: number, interleaved: boolean) =>
      Effect.gen(function*() {
        const log: Array<string> = []
        const executor = yield* BackgroundExecutor.make()
        const task = (label: string) =>
          Effect.gen(function*() {
            yield* Effect.addFinalizer(() => Effect.sync(() => log.push(`closed ${label} by ${label}`)))
            const greeting = yield* Greeting
            yield* Effect.sleep(10)
            log.push(`ran ${label} with ${greeting}`)
          })
        // a producer is a fiber whose context (its Greeting) stays the same from one submit to the next;
        // interleaved, the producers take turns (each yields after a submit)
        yield* Effect.forEach(
          Array.from({ length: producers }, (_, p) => p),
          (p) =>
            Effect.provideService(
              Effect.forEach(
                Array.from({ length: perProducer }, (_, round) => round),
                (round) =>
                  Effect.andThen(executor.submit(task(`p${p}-${round}`)), interleaved ? Effect.yieldNow : Effect.void),
                { discard: true }
              ),
              Greeting,
              `p${p}`
            ),
          { concurrency: interleaved ? "unbounded" : 1, discard: true }
        )
        return { executor, log }
      })

    it.effect.each([true, false])(
      "every task has its own scope and its producer's services, and is listed while it runs (interleaved: %s)",
      (interleaved) =>
        Effect.scoped(Effect.gen(function*() {
          // 40 producers of 6 tasks. Interleaved, no producer submits often enough to get a pool of
          // scopes; in a row, each does, and there are more than the executor keeps: pools are given
          // up while their tasks still run
          const { executor, log } = yield* fromProducers(40, 6, interleaved)
          const running = yield* executor.tasks
          assert.strictEqual(running.length, 240)
          assert.isTrue(running.every((t) => t.state === "running"))
          assert.strictEqual(new Set(running.map((t) => t.id)).size, 240)
          yield* TestClock.adjust(10)
          yield* executor.awaitIdle
          assert.deepStrictEqual(yield* executor.tasks, [])
          const expected = Array.from({ length: 40 }, (_, p) => p).flatMap((p) =>
            Array.from({ length: 6 }, (_, r) => [`ran p${p}-${r} with p${p}`, `closed p${p}-${r} by p${p}-${r}`])
          ).flat()
          assert.sameMembers(log, expected)
          // each task's finalizer ran after its own work, never before
          for (let i = 0; i < log.length; i++) {
            if (log[i]!.startsWith("closed")) {
              const label = log[i]!.split(" ")[1]
              assert.isTrue(log.slice(0, i).some((line) => line.startsWith(`ran ${label} `)), `${label} closed early`)
            }
          }
        }))
    )

    it.effect("a task submitted by a task from a context of its own names it as its parent", () =>
      Effect.scoped(Effect.gen(function*() {
        const executor = yield* BackgroundExecutor.make()
        const parents: Array<number | undefined> = []
        const child = Effect.sleep(10)
        const parentTasks = yield* Effect.forEach(Array.from({ length: 6 }, (_, i) => i), (i) =>
          Effect.provideService(
            executor.submit(Effect.andThen(executor.submit(child), Effect.sleep(20))),
            Greeting,
            `request-${i}`
          ))
        const infos = yield* executor.tasks
        for (const info of infos) if (!parentTasks.some((t) => t.id === info.id)) parents.push(info.parent?.id)
        assert.sameMembers(parents, parentTasks.map((t) => t.id))
        yield* TestClock.adjust(20)
      })))
  })

  describe("rule 6: start timing", () => {
    it.effect("nextTick: false runs the task until its first suspension before submit returns", () =>
      Effect.gen(function*() {
        const events: Array<string> = []
        yield* BackgroundExecutor.scoped(Effect.gen(function*() {
          yield* BackgroundExecutor.submit(Effect.gen(function*() {
            events.push("task started")
            yield* Effect.yieldNow
            events.push("task resumed")
          }))
          events.push("submit returned")
        }))
        assert.deepStrictEqual(events, ["task started", "submit returned", "task resumed"])
      }))

    it.effect("a nextTick task interrupted before its start never runs", () =>
      Effect.gen(function*() {
        let ran = false
        const task = yield* BackgroundExecutor.scoped(Effect.gen(function*() {
          const task = yield* BackgroundExecutor.submit(Effect.sync(() => (ran = true)), { nextTick: true })
          yield* Task.interrupt(task)
          return task
        }))
        yield* Effect.yieldNow
        assert.isFalse(ran)
        assert.isTrue(Exit.isFailure((yield* Task.poll(task))!))
      }))
  })

  describe("bad input fails at once and names the option and the value", () => {
    const cases: ReadonlyArray<[string, unknown, string]> = [
      ["maxConcurrency", 0, "`maxConcurrency` to be an integer from 1 and up, or Infinity, got 0 (number)"],
      ["maxConcurrency", -2, "got -2 (number)"],
      ["maxConcurrency", 1.5, "got 1.5 (number)"],
      ["maxConcurrency", Number.NaN, "got NaN (number)"],
      ["maxConcurrency", "4", "got \"4\" (string)"],
      ["maxQueue", 0, "`maxQueue` to be an integer from 1 and up, or Infinity, got 0 (number)"],
      ["bubbleUp", true, "`bubbleUp` to be a function, got true (boolean)"],
      ["maxConcurrencyPerKey", 0, "`maxConcurrencyPerKey` to be an integer from 1 and up, or Infinity, got 0 (number)"],
      [
        "maxConcurrencyPerKey",
        Number.NaN,
        "`maxConcurrencyPerKey` to be an integer from 1 and up, or Infinity, got NaN"
      ],
      [
        "closeTimeout",
        -1,
        "`closeTimeout` to be a non-negative duration (milliseconds, or e.g. \"5 seconds\"), got -1 (number)"
      ],
      ["closeTimeout", Number.NaN, "`closeTimeout` to be a non-negative duration"],
      ["closeTimeout", "soon", "got \"soon\" (string)"],
      // what Duration would read as zero: a misspelt field, no field, a Date, NaN in a pair
      ["closeTimeout", { millis: 5000 }, "`closeTimeout` to be a non-negative duration"],
      ["closeTimeout", {}, "`closeTimeout` to be a non-negative duration"],
      ["closeTimeout", { seconds: undefined }, "`closeTimeout` to be a non-negative duration"],
      ["closeTimeout", new Date(0), "`closeTimeout` to be a non-negative duration"],
      ["closeTimeout", [Number.NaN, 0], "`closeTimeout` to be a non-negative duration"],
      ["closeTimeout", { seconds: "5" }, "`closeTimeout` to be a non-negative duration"]
    ]
    it.effect.each(cases)("executor option %s = %s", ([option, value, message]) =>
      Effect.gen(function*() {
        const options = { [option]: value } as BackgroundExecutor.Options
        const viaMake = defectOf(yield* Effect.exit(Effect.scoped(BackgroundExecutor.make(options))))
        const viaScoped = defectOf(yield* Effect.exit(BackgroundExecutor.scoped(Effect.void, options)))
        const viaLayer = defectOf(yield* Effect.exit(Effect.provide(Effect.void, BackgroundExecutor.layer(options))))
        for (const defect of [viaMake, viaScoped, viaLayer]) assert.include(String((defect as Error).message), message)
      }))

    it.effect.each(["maxConcurrencyPerKey", "tracing"] as const)(
      "executor option %s is checked on the value used: a getter that answers differently twice gets no bad value past",
      (option) =>
        Effect.gen(function*() {
          // a bad value on the first read, nothing after: the option must be read once
          let reads = 0
          const options = Object.defineProperty({}, option, {
            enumerable: true,
            get: () => (reads++ === 0 ? (option === "tracing" ? "yes" : -5) : undefined)
          }) as BackgroundExecutor.Options
          const defect = defectOf(yield* Effect.exit(BackgroundExecutor.scoped(Effect.void, options)))
          assert.instanceOf(defect, ExecutorError.InvalidArgumentError)
          assert.strictEqual((defect as ExecutorError.InvalidArgumentError).argument, option)
        })
    )

    it.effect("durations in every form Duration documents are accepted", () =>
      Effect.gen(function*() {
        for (
          const closeTimeout of [1000, "1 second", Duration.seconds(1), [1, 0], { seconds: 1 }, { milliseconds: 1000 }]
        ) {
          const stats = yield* BackgroundExecutor.scoped(
            (executor) =>
              Effect.andThen(executor.submit(Effect.void, { timeout: closeTimeout as Duration.Input }), executor.stats),
            { closeTimeout: closeTimeout as Duration.Input }
          )
          assert.strictEqual(stats.submitted, 1, `closeTimeout ${JSON.stringify(closeTimeout)}`)
        }
      }))

    it.effect("submit of something that is not an effect", () =>
      Effect.gen(function*() {
        const executor = yield* BackgroundExecutor.make()
        const viaMethod = defectOf(yield* Effect.exit(executor.submit(42 as unknown as Effect.Effect<void>)))
        assert.include((viaMethod as Error).message, "`task` to be an Effect, got 42 (number)")
        const viaAccessor = defectOf(
          yield* Effect.exit(Effect.provideService(
            BackgroundExecutor.submit(Promise.resolve(1) as unknown as Effect.Effect<number>),
            BackgroundExecutor.BackgroundExecutor,
            executor
          ))
        )
        assert.include((viaAccessor as Error).message, "`task` to be an Effect, got an instance of Promise")
        assert.strictEqual((yield* executor.stats).submitted, 0)
      }))

    it.effect("scoped runs a body that is an Effect and a function at once (a service key) as the Effect", () =>
      Effect.gen(function*() {
        // before: it was called as a function (`Class constructor Greeting cannot be invoked without 'new'`)
        const greeting = yield* BackgroundExecutor.scoped(Greeting).pipe(Effect.provideService(Greeting, "hello"))
        assert.strictEqual(greeting, "hello")
      }))

    it.effect("scoped with a body that is not an effect, or a function that gives none, dies naming `body`", () =>
      Effect.gen(function*() {
        const expected = "`body` to be an Effect, or a function of the executor that returns one"
        let closed = 0
        const async = defectOf(
          yield* Effect.exit(BackgroundExecutor.scoped(
            // an `async` body: the slip TypeScript catches, and plain JavaScript does not
            (async () => "done") as unknown as () => Effect.Effect<string>
          ))
        )
        assert.include((async as Error).message, `${expected}, got an instance of Promise`)
        // a promise given as the body itself is not taken for options
        const promise = defectOf(
          yield* Effect.exit(BackgroundExecutor.scoped(Promise.resolve(1) as unknown as Effect.Effect<number>))
        )
        assert.include((promise as Error).message, `${expected}, got an instance of Promise`)
        // anything else is taken for options: bad ones are refused naming `options`, in the pipe form too
        const bad = defectOf(
          yield* Effect.exit(Effect.void.pipe(BackgroundExecutor.scoped(null as unknown as BackgroundExecutor.Options)))
        )
        assert.include((bad as Error).message, "`options`")
        // the tasks a body submitted before it threw are still awaited: the executor closes
        const thrown = yield* Effect.exit(BackgroundExecutor.scoped((executor): Effect.Effect<void> => {
          Effect.runSync(executor.submit(Effect.andThen(Effect.yieldNow, Effect.sync(() => closed++))))
          throw new Error("the body threw")
        }))
        assert.isTrue(Exit.isFailure(thrown))
        assert.strictEqual(closed, 1)
      }))

    it.effect("bad submit options", () =>
      Effect.gen(function*() {
        const executor = yield* BackgroundExecutor.make()
        const badName = defectOf(yield* Effect.exit(executor.submit(Effect.void, { name: "" })))
        assert.include((badName as Error).message, "`name` to be a non-empty string, got \"\" (string)")
        const badFlag = defectOf(yield* Effect.exit(executor.submit(Effect.void, { cancelOnExit: "yes" as any })))
        assert.include((badFlag as Error).message, "`cancelOnExit` to be a boolean, got \"yes\" (string)")
        assert.strictEqual((yield* executor.stats).submitted, 0)
      }))

    const submitCases: ReadonlyArray<[string, unknown, string]> = [
      ["timeout", -5, "`timeout` to be a non-negative duration (milliseconds, or e.g. \"5 seconds\"), got -5 (number)"],
      ["timeout", Number.NaN, "`timeout` to be a non-negative duration"],
      ["timeout", "-1 seconds", "got \"-1 seconds\" (string)"],
      ["startTimeout", -1, "`startTimeout` to be a non-negative duration"],
      ["startTimeout", "later", "got \"later\" (string)"],
      [
        "deadline",
        "2030-01-01",
        "`deadline` to be a Date or a number of milliseconds since the epoch, got \"2030-01-01\" (string)"
      ],
      [
        "deadline",
        new Date(Number.NaN),
        // before: "got an instance of Date", which the message's own first half seemed to allow
        "`deadline` to be a Date or a number of milliseconds since the epoch, got an invalid Date"
      ],
      ["deadline", Number.POSITIVE_INFINITY, "got Infinity (number)"],
      ["priority", Number.NaN, "`priority` to be a finite number, got NaN (number)"],
      ["priority", Number.POSITIVE_INFINITY, "`priority` to be a finite number, got Infinity (number)"],
      ["priority", "1", "`priority` to be a finite number, got \"1\" (string)"],
      ["key", 7, "`key` to be a string, got 7 (number)"]
    ]
    it.effect.each(submitCases)("submit option %s = %s", ([option, value, message]) =>
      Effect.gen(function*() {
        const executor = yield* BackgroundExecutor.make({ maxConcurrencyPerKey: 1 })
        const options = { [option]: value } as BackgroundExecutor.SubmitOptions
        const viaMethod = defectOf(yield* Effect.exit(executor.submit(Effect.void, options)))
        assert.instanceOf(viaMethod, ExecutorError.InvalidArgumentError)
        assert.include((viaMethod as Error).message, message)
        assert.strictEqual((yield* executor.stats).submitted, 0)
      }))

    // TypeScript refuses them; from plain JavaScript they were read as no option at all (a silent default)
    it.effect("an option the executor does not know fails at once, naming it and the option meant", () =>
      Effect.gen(function*() {
        const misspelt = { maxConcurency: 4 } as BackgroundExecutor.Options
        const viaMake = defectOf(yield* Effect.exit(Effect.scoped(BackgroundExecutor.make(misspelt))))
        const viaScoped = defectOf(yield* Effect.exit(BackgroundExecutor.scoped(Effect.void, misspelt)))
        const viaLayer = defectOf(yield* Effect.exit(Effect.provide(Effect.void, BackgroundExecutor.layer(misspelt))))
        for (const defect of [viaMake, viaScoped, viaLayer]) {
          assert.instanceOf(defect, ExecutorError.InvalidArgumentError)
          assert.strictEqual(
            (defect as Error).message,
            "Expected `maxConcurency` to be an option of the executor (did you mean `maxConcurrency`?), got 4 (number)"
          )
        }
        // nothing close: the known options are listed
        const far = defectOf(yield* Effect.exit(BackgroundExecutor.scoped(Effect.void, { size: 4 } as any)))
        assert.include((far as Error).message,
          "Expected `size` to be an option of the executor (one of `maxConcurrency`")
        assert.include((far as Error).message, "`tracing`)")
        // a very long name is cut in the message
        const long = defectOf(yield* Effect.exit(BackgroundExecutor.scoped(Effect.void, { ["x".repeat(10_000)]: 1 })))
        assert.isBelow((long as Error).message.length, 600)
      }))

    it.effect("what is not a misspelt option is accepted as before: undefined, class instances, inherited names", () =>
      Effect.gen(function*() {
        class Config extends Data.Class<{ readonly maxConcurrency: number }> {}
        // a Data.Class's prototype has enumerable `pipe` and `toString`, and a polyfill may add
        // enumerable names to Object.prototype: neither is a typo of the user's
        const polyfill = Effect.acquireRelease(
          Effect.sync(() =>
            // eslint-disable-next-line no-extend-native -- the test plays an old polyfill, and removes it after
            Object.defineProperty(Object.prototype, "polyfilled", {
              value: 1,
              enumerable: true,
              configurable: true,
              writable: true
            })
          ),
          () => Effect.sync(() => delete (Object.prototype as Record<string, unknown>).polyfilled)
        )
        yield* Effect.scoped(Effect.gen(function*() {
          yield* polyfill
          for (
            const options of [
              new Config({ maxConcurrency: 2 }),
              Object.create({ maxConcurrency: 2 }),
              { maxConcurency: undefined }, // undefined is "left out", as for every option
              { maxConcurrency: 2 }
            ]
          ) {
            const stats = yield* BackgroundExecutor.scoped(
              (executor) => Effect.andThen(executor.submit(Effect.void, { nmae: undefined } as any), executor.stats),
              options as BackgroundExecutor.Options
            )
            assert.strictEqual(stats.submitted, 1)
          }
        }))
      }))

    it.effect("a submit option the executor does not know fails at once; nothing is submitted", () =>
      Effect.gen(function*() {
        const executor = yield* BackgroundExecutor.make()
        for (
          const [options, message] of [
            [
              { cancelOnexit: true },
              "`cancelOnexit` to be an option of submit (did you mean `cancelOnExit`?), got true"
            ],
            [{ timeOut: 5 }, "`timeOut` to be an option of submit (did you mean `timeout`?), got 5 (number)"],
            [{ name: "a", retries: 3 }, "`retries` to be an option of submit (one of `name`, `cancelOnExit`"]
          ] as const
        ) {
          const defect = defectOf(yield* Effect.exit(executor.submit(Effect.void, options as any)))
          assert.instanceOf(defect, ExecutorError.InvalidArgumentError)
          assert.include((defect as Error).message, message)
        }
        assert.strictEqual((yield* executor.stats).submitted, 0)
      }))

    it.effect("a key on an executor without maxConcurrencyPerKey (it would limit nothing)", () =>
      Effect.gen(function*() {
        const executor = yield* BackgroundExecutor.make()
        const defect = defectOf(yield* Effect.exit(executor.submit(Effect.void, { key: "host" })))
        assert.include((defect as Error).message, "`key` to be left out unless the executor has `maxConcurrencyPerKey`")
        assert.include((defect as Error).message, "got \"host\" (string)")
        assert.strictEqual((yield* executor.stats).submitted, 0)
      }))
  })

  describe("awaitIdle", () => {
    it.effect("waiters that give up are not woken; the others are woken in the order they came", () =>
      BackgroundExecutor.scoped((executor) =>
        Effect.gen(function*() {
          yield* executor.submit(Effect.sleep(10))
          const woken: Array<number> = []
          const waiters = yield* Effect.forEach(Array.from({ length: 8 }, (_, i) => i), (i) =>
            Effect.forkChild(Effect.andThen(executor.awaitIdle, Effect.sync(() => woken.push(i))), {
              startImmediately: true
            }))
          for (const i of [7, 0, 4, 2]) yield* Fiber.interrupt(waiters[i]!)
          yield* TestClock.adjust(10)
          assert.deepStrictEqual(woken, [1, 3, 5, 6])
          for (const i of [7, 0, 4, 2]) assert.isTrue(Exit.hasInterrupts(waiters[i]!.pollUnsafe()!))
        })
      ))
  })

  describe("API shapes", () => {
    it.effect("submit and scoped have data-first and data-last forms", () =>
      Effect.gen(function*() {
        const value = yield* Effect.gen(function*() {
          const a = yield* Effect.succeed(1).pipe(BackgroundExecutor.submit({ name: "a" }))
          const b = yield* BackgroundExecutor.submit(Effect.succeed(2), { name: "b" })
          const c = yield* Effect.succeed(3).pipe(BackgroundExecutor.submit())
          assert.deepStrictEqual([a.name, b.name, c.name], ["a", "b", `task-${c.id}`])
          return (yield* Task.join(a)) + (yield* Task.join(b)) + (yield* Task.join(c))
        }).pipe(BackgroundExecutor.scoped({ maxConcurrency: 2 }))
        assert.strictEqual(value, 6)
      }))

    it.effect("data-last submit takes any options object: a class instance, one made from defaults", () =>
      Effect.gen(function*() {
        class Named {
          constructor(readonly name: string) {}
        }
        const defaults = { reraiseOnExit: false }
        const fromDefaults = Object.assign(Object.create(defaults) as typeof defaults, { name: "derived" })
        const names = yield* BackgroundExecutor.scoped(Effect.gen(function*() {
          const a = yield* Effect.succeed(1).pipe(BackgroundExecutor.submit(new Named("instance")))
          const b = yield* Effect.fail("no").pipe(BackgroundExecutor.submit(fromDefaults))
          yield* Task.await(b)
          return [a.name, b.name]
        }))
        assert.deepStrictEqual(names, ["instance", "derived"])
        // a promise is a slip for a task, not options: it fails naming the task
        const submitAnything = BackgroundExecutor.submit as unknown as (u: unknown) => Effect.Effect<unknown>
        const exit = yield* Effect.exit(BackgroundExecutor.scoped(submitAnything(Promise.resolve(1))))
        assert.isTrue(Exit.isFailure(exit))
        assert.match(String(Cause.squash((exit as Exit.Failure<unknown, unknown>).cause)), /`task`/)
      }))

    it.effect("stats count every outcome", () =>
      Effect.gen(function*() {
        const stats = yield* BackgroundExecutor.scoped(Effect.gen(function*() {
          yield* BackgroundExecutor.submit(Effect.void)
          yield* BackgroundExecutor.submit(Effect.fail("x"), { reraiseOnExit: false })
          yield* BackgroundExecutor.submit(Effect.never, { cancelOnExit: true })
          yield* BackgroundExecutor.submit(Effect.never, { cancelOnExit: true })
          return yield* BackgroundExecutor.stats
        }), { maxConcurrency: 1 })
        assert.deepStrictEqual(stats, {
          submitted: 4,
          queued: 1,
          running: 1,
          succeeded: 1,
          failed: 1,
          interrupted: 0,
          timedOut: 0
        })
      }))
  })
})

describe("as a layer shared by tests (it.layer)", () => {
  it.layer(BackgroundExecutor.layer({ maxConcurrency: 2 }))((it) => {
    it.effect("the provided executor runs submitted tasks within its bound", () =>
      Effect.gen(function*() {
        const tasks = yield* Effect.forEach([1, 2, 3], (i) => BackgroundExecutor.submit(Effect.as(Effect.sleep(10), i)))
        assert.include(yield* BackgroundExecutor.stats, { running: 2, queued: 1 })
        yield* TestClock.adjust(20)
        assert.deepStrictEqual(yield* Effect.forEach(tasks, Task.join), [1, 2, 3])
      }))

    it.effect("the same executor is seen by the next test: its counters carry over", () =>
      Effect.gen(function*() {
        const stats = yield* BackgroundExecutor.stats
        assert.strictEqual(stats.submitted, 3)
      }))
  })
})

describe("memory", () => {
  it("executors made and closed in a loop of awaits that never yields to the event loop are not kept", async () => {
    // a WeakRef keeps its target until the current job ends: one per executor kept every executor
    // made in such a loop, whole, until it ended (about 5.6 KB each)
    v8.setFlagsFromString("--expose-gc")
    const gc = runInNewContext("gc") as () => void
    const heap = () => {
      gc()
      return process.memoryUsage().heapUsed
    }
    const one = BackgroundExecutor.scoped((executor) => executor.submit(Effect.void))
    for (let i = 0; i < 200; i++) await Effect.runPromise(one)
    const before = heap()
    const n = 3000
    for (let i = 0; i < n; i++) await Effect.runPromise(one)
    const kept = (heap() - before) / n
    assert.isBelow(kept, 1000, `${kept.toFixed(0)} bytes kept per executor`)
  })
})

/**
 * Regression tests for the defects of the adversarial review (issue 7), one
 * `describe` per defect. Each was checked to fail on the code before its
 * fix. Effect 4 may yield to the scheduler between any two steps of a fiber
 * (every `Scheduler.MaxOpsBeforeYield` operations), so most tests sweep a
 * small operation budget and a padding of user work, to put that yield at
 * every point of the executor's code in turn.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Context, Deferred, Effect, Exit, Fiber, Logger, References, Scheduler, Scope } from "effect"
import { TestClock } from "effect/testing"
import { BackgroundExecutor, ExecutorError, Task } from "../src/index.ts"
import { TaskOf } from "../src/internal/executor.ts"

class Greeting extends Context.Service<Greeting, string>()("test/Greeting") {}

/** `n` synchronous steps of user work. */
const pad = (n: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < n; i++) yield* Effect.sync(() => i)
  })

/** Runs `effect` with a scheduler that yields every `ops` operations. */
const withBudget = (ops: number) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, Scheduler.MaxOpsBeforeYield, ops)

/**
 * Runs `effect` in a fiber of its own and gives it `turns` scheduler turns
 * (each with 1 ms of TestClock time) to end; fails the test if it has not.
 * A hang is reported as such instead of as a test timeout.
 */
const settles = <A, E>(effect: Effect.Effect<A, E>, label: string, turns = 100) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkDetach(effect, { startImmediately: true })
    for (let i = 0; i < turns && fiber.pollUnsafe() === undefined; i++) {
      yield* TestClock.adjust(1)
      yield* Effect.yieldNow
    }
    const exit = fiber.pollUnsafe()
    if (exit === undefined) assert.fail(`hung: ${label}`)
    return exit
  })

/** The `TaskFailedError` an exit carries, if any. */
const taskFailureOf = (exit: Exit.Exit<unknown, unknown>): ExecutorError.TaskFailedError | undefined => {
  if (Exit.isSuccess(exit)) return undefined
  for (const reason of exit.cause.reasons) {
    if (Cause.isFailReason(reason) && reason.error instanceof ExecutorError.TaskFailedError) return reason.error
    if (Cause.isDieReason(reason) && reason.defect instanceof ExecutorError.TaskFailedError) return reason.defect
  }
  return undefined
}

/** Budgets at which Effect yields often enough to hit each step. */
const budgets = Array.from({ length: 45 }, (_, i) => i + 4)

describe("reliability", () => {
  describe("D0: a waiter registers in the same step as it checks the state", () => {
    const cases: Array<[string, (pads: number) => Effect.Effect<unknown, unknown>]> = [
      ["Task.join", (pads) =>
        BackgroundExecutor.scoped((executor) =>
          Effect.gen(function*() {
            yield* Effect.yieldNow
            const task = yield* executor.submit(Effect.yieldNow)
            yield* pad(pads)
            yield* Task.join(task)
          })
        )],
      ["Task.interrupt", (pads) =>
        BackgroundExecutor.scoped((executor) =>
          Effect.gen(function*() {
            yield* Effect.yieldNow
            const task = yield* executor.submit(Effect.yieldNow)
            yield* pad(pads)
            yield* Task.interrupt(task)
          })
        )],
      ["awaitIdle", (pads) =>
        BackgroundExecutor.scoped((executor) =>
          Effect.gen(function*() {
            yield* Effect.yieldNow
            yield* executor.submit(Effect.yieldNow)
            yield* pad(pads)
            yield* executor.awaitIdle
          })
        )],
      ["join", (pads) =>
        BackgroundExecutor.scoped((executor) =>
          Effect.gen(function*() {
            yield* Effect.yieldNow
            yield* executor.submit(Effect.yieldNow)
            yield* pad(pads)
            yield* executor.join
          })
        )],
      ["close (scoped)", (pads) =>
        BackgroundExecutor.scoped((executor) =>
          Effect.gen(function*() {
            yield* Effect.yieldNow
            yield* executor.submit(Effect.yieldNow)
            yield* pad(pads)
          })
        )],
      ["close (layer)", (pads) =>
        Effect.gen(function*() {
          yield* Effect.yieldNow
          yield* BackgroundExecutor.submit(Effect.yieldNow)
          yield* pad(pads)
        }).pipe(Effect.provide(BackgroundExecutor.layer()))],
      ["submit waiting for a queue place", (pads) =>
        BackgroundExecutor.scoped((executor) =>
          Effect.gen(function*() {
            yield* Effect.yieldNow
            yield* executor.submit(Effect.yieldNow)
            yield* executor.submit(Effect.yieldNow)
            yield* pad(pads)
            yield* executor.submit(Effect.void)
          }), { maxConcurrency: 1, maxQueue: 1 })]
    ]
    for (const [name, program] of cases) {
      it.effect(`${name} never misses the wake-up, whatever the scheduler's budget`, () =>
        Effect.gen(function*() {
          for (const ops of budgets) {
            for (let pads = 0; pads <= ops + 4; pads++) {
              const exit = yield* settles(withBudget(ops)(program(pads)), `${name}, budget ${ops}, pad ${pads}`)
              assert.isTrue(Exit.isSuccess(exit), `${name}, budget ${ops}, pad ${pads}: ${String(exit)}`)
            }
          }
        }))
    }

    it.effect("the review's reproduction returns with the default budget", () =>
      Effect.gen(function*() {
        for (let pads = 2000; pads <= 2060; pads++) {
          const exit = yield* settles(
            BackgroundExecutor.scoped((executor) =>
              Effect.gen(function*() {
                yield* Effect.yieldNow
                yield* executor.submit(Effect.yieldNow)
                yield* pad(pads)
              })
            ),
            `pad ${pads}`
          )
          assert.isTrue(Exit.isSuccess(exit))
        }
      }))
  })

  describe("D1: starting tasks never recurses without bound", () => {
    const chain = (links: number) => {
      const step = (n: number): Effect.Effect<void, never, BackgroundExecutor.BackgroundExecutor> =>
        Effect.gen(function*() {
          if (n < links) yield* Effect.orDie(BackgroundExecutor.submit(step(n + 1)))
          yield* Effect.sleep(1)
        })
      return step
    }

    it.effect("a 5,000-link chain of tasks each submitting the next before suspending runs to the end", () =>
      Effect.gen(function*() {
        const exit = yield* settles(
          Effect.gen(function*() {
            yield* BackgroundExecutor.submit(chain(5000)(1))
            yield* BackgroundExecutor.join
            return yield* BackgroundExecutor.stats
          }).pipe(Effect.provide(BackgroundExecutor.layer())),
          "chain"
        )
        assert.isTrue(Exit.isSuccess(exit), String(exit))
        const stats = (exit as Exit.Success<BackgroundExecutor.Stats>).value
        assert.deepStrictEqual(stats, {
          submitted: 5000,
          queued: 0,
          running: 0,
          succeeded: 5000,
          failed: 0,
          interrupted: 0,
          timedOut: 0
        })
      }))

    it.effect("tasks started from deep inside a start still start before their submitter suspends", () =>
      Effect.gen(function*() {
        const started: Array<number> = []
        const step = (n: number): Effect.Effect<void, never, BackgroundExecutor.BackgroundExecutor> =>
          Effect.gen(function*() {
            started.push(n)
            if (n < 200) yield* Effect.orDie(BackgroundExecutor.submit(step(n + 1), { cancelOnExit: true }))
            yield* Effect.never
          })
        yield* BackgroundExecutor.scoped(Effect.gen(function*() {
          yield* BackgroundExecutor.submit(step(1), { cancelOnExit: true })
          assert.strictEqual(started.length, 200) // all of them, before submit returned
          assert.deepStrictEqual(started.slice(60, 70), [61, 62, 63, 64, 65, 66, 67, 68, 69, 70])
        }))
      }))
  })

  describe("D2: \"idle, so closed\" is one decision", () => {
    it.effect("a submission from outside while the executor closes is refused, or awaited and its failure reported", () =>
      Effect.gen(function*() {
        for (const ops of budgets) {
          for (let pads = 0; pads <= ops + 4; pads++) {
            let outside: Fiber.Fiber<unknown, ExecutorError.ExecutorClosedError> | undefined
            const exit = yield* settles(
              withBudget(ops)(BackgroundExecutor.scoped((executor) =>
                Effect.gen(function*() {
                  yield* executor.submit(Effect.yieldNow)
                  outside = yield* Effect.forkDetach(
                    Effect.andThen(pad(pads), executor.submit(Effect.fail("late"))),
                    { startImmediately: true }
                  )
                })
              )),
              `budget ${ops}, pad ${pads}`
            )
            const submitted = yield* Fiber.await(outside!)
            const label = `budget ${ops}, pad ${pads}`
            if (Exit.isSuccess(submitted)) {
              assert.isDefined(taskFailureOf(exit), `${label}: the late task's failure was lost`)
              assert.isDefined(yield* Task.poll(submitted.value as Task.Task<never, string>), `${label}: outlived`)
            } else {
              assert.isTrue(Exit.isSuccess(exit), label)
            }
          }
        }
      }))
  })

  describe("D3: join and an interruption cannot split a failure", () => {
    const reportedOnce = (
      label: string,
      body: (
        executor: BackgroundExecutor.Executor
      ) => Effect.Effect<Exit.Exit<void, ExecutorError.TaskFailedError>, ExecutorError.ExecutorClosedError>,
      ops: number
    ) =>
      Effect.gen(function*() {
        let joined: Exit.Exit<void, ExecutorError.TaskFailedError> | undefined
        const exit = yield* settles(
          withBudget(ops)(BackgroundExecutor.scoped((executor) =>
            Effect.map(body(executor), (exit) => {
              joined = exit
            })
          )),
          label,
          1000
        )
        const reports = (taskFailureOf(joined!) ? 1 : 0) + (taskFailureOf(exit) ? 1 : 0)
        assert.strictEqual(reports, 1, `${label}: the failure was reported ${reports} times`)
      })

    it.effect("a join interrupted by the next fiber woken on idleness still reports the failure once", () =>
      Effect.gen(function*() {
        for (const ops of budgets) {
          yield* reportedOnce(`budget ${ops}`, (executor) =>
            Effect.gen(function*() {
              yield* executor.submit(Effect.andThen(Effect.yieldNow, Effect.fail("boom")))
              const joiner = yield* Effect.forkDetach(executor.join, { startImmediately: true })
              yield* Effect.forkDetach(Effect.andThen(executor.awaitIdle, Fiber.interrupt(joiner)), {
                startImmediately: true
              })
              return yield* Fiber.await(joiner)
            }), ops)
        }
      }))

    it.effect("a join interrupted wherever its fiber yields reports the failure once", () =>
      Effect.gen(function*() {
        for (const ops of budgets) {
          for (let pads = 0; pads <= ops + 4; pads++) {
            yield* reportedOnce(`budget ${ops}, pad ${pads}`, (executor) =>
              Effect.gen(function*() {
                yield* executor.submit(Effect.fail("boom"))
                // runs until the scheduler makes it yield, somewhere in or after `join`
                const joiner = yield* Effect.forkDetach(Effect.andThen(pad(pads), executor.join), {
                  startImmediately: true
                })
                yield* Fiber.interrupt(joiner)
                return yield* Fiber.await(joiner)
              }), ops)
          }
        }
      }))
  })

  describe("D4: a task's resources live exactly as long as the task", () => {
    it.effect("a finalizer added to a task's scope kept past the task runs: at once, or when the executor closes", () =>
      Effect.gen(function*() {
        const ran: Array<string> = []
        const kept: Array<Scope.Scope> = []
        const keepScope = Effect.map(Effect.scope, (scope) => {
          kept.push(scope)
        })
        yield* Effect.scoped(Effect.gen(function*() {
          const executor = yield* BackgroundExecutor.make()
          // from a context of its own (one submission): its scope is closed when the task ends
          yield* Task.await(yield* Effect.provideService(executor.submit(keepScope), Greeting, "once"))
          yield* Scope.addFinalizer(kept[0]!, Effect.sync(() => ran.push("once")))
          assert.deepStrictEqual(ran, ["once"], "added to a closed scope: runs at once")
          // from a context that submits many: the scope goes back to its pool, idle
          yield* Effect.provideService(
            Effect.gen(function*() {
              for (let i = 0; i < 6; i++) yield* Task.await(yield* executor.submit(i === 5 ? keepScope : Effect.void))
            }),
            Greeting,
            "many"
          )
          yield* Scope.addFinalizer(kept[1]!, Effect.sync(() => ran.push("pooled")))
          assert.deepStrictEqual(ran, ["once"])
        }))
        assert.deepStrictEqual(ran, ["once", "pooled"], "the executor's close closes its idle scopes")
      }))

    it.effect("a task that closes its own scope is not the parent of what its daemon submits after it ended", () =>
      Effect.gen(function*() {
        const executor = yield* BackgroundExecutor.make({ name: "e" })
        const go = yield* Deferred.make<void>()
        const body = (close: boolean) =>
          Effect.gen(function*() {
            const scope = yield* Effect.scope
            if (close) yield* Scope.close(scope as Scope.Closeable, Exit.void)
            yield* Effect.forkDetach(Effect.andThen(
              Deferred.await(go),
              executor.submit(Effect.never, { name: close ? "closed" : "plain", cancelOnExit: true })
            ))
          })
        yield* Task.await(yield* executor.submit(body(false)))
        yield* Task.await(yield* executor.submit(body(true)))
        yield* Deferred.succeed(go, undefined)
        yield* Effect.yieldNow
        const infos = yield* executor.tasks
        assert.strictEqual(infos.find((t) => t.name === "plain")!.parent, undefined)
        assert.strictEqual(infos.find((t) => t.name === "closed")!.parent, undefined)
      }).pipe(Effect.scoped))

    it.effect("a resource acquired by a task is released when the task ends, not when its submitter's scope does", () =>
      Effect.gen(function*() {
        const log: Array<string> = []
        const exit = yield* settles(
          Effect.scoped(Effect.gen(function*() {
            const executor = yield* BackgroundExecutor.make()
            yield* executor.submit(Effect.gen(function*() {
              yield* Effect.acquireRelease(Effect.sync(() => log.push("open")), () =>
                Effect.sync(() => log.push("close")))
              yield* Effect.sleep(10)
              log.push("use")
            }))
          })),
          "the submitter's scope"
        )
        assert.isTrue(Exit.isSuccess(exit))
        assert.deepStrictEqual(log, ["open", "use", "close"])
      }))

    it.effect("the task's finalizers have run when join returns, and its permit is held until then", () =>
      Effect.gen(function*() {
        const log: Array<string> = []
        yield* BackgroundExecutor.scoped((executor) =>
          Effect.gen(function*() {
            const first = yield* executor.submit(Effect.gen(function*() {
              yield* Effect.addFinalizer(() => Effect.andThen(Effect.sleep(5), Effect.sync(() => log.push("released"))))
              log.push("first")
            }))
            yield* executor.submit(Effect.sync(() => log.push("second")))
            yield* Effect.forkChild(TestClock.adjust(5), { startImmediately: true })
            yield* Task.join(first)
            log.push("joined")
          }), { maxConcurrency: 1 })
        assert.deepStrictEqual(log.slice(0, 3), ["first", "released", "joined"])
        assert.include(log, "second")
        assert.isBelow(log.indexOf("released"), log.indexOf("second"))
      }))

    it.effect("a task may close its own scope without touching its submitter's", () =>
      Effect.gen(function*() {
        const log: Array<string> = []
        yield* Effect.addFinalizer(() => Effect.sync(() => log.push("submitter's scope closed")))
        const result = yield* BackgroundExecutor.scoped(
          BackgroundExecutor.submit(Effect.gen(function*() {
            yield* Effect.addFinalizer(() => Effect.sync(() => log.push("task's scope closed")))
            return "done"
          })).pipe(Effect.flatMap(Task.join))
        )
        assert.strictEqual(result, "done")
        assert.deepStrictEqual(log, ["task's scope closed"])
      }))

    it.effect("a finalizer of a task that dies turns the task's success into that defect", () =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(BackgroundExecutor.scoped(
          BackgroundExecutor.submit(
            Effect.as(Effect.addFinalizer(() => Effect.die("finalizer broke")), "value"),
            { name: "leaky" }
          ).pipe(Effect.flatMap(Task.await))
        ))
        const taskExit = (exit as Exit.Failure<unknown, ExecutorError.TaskFailedError>).cause
        const error = taskFailureOf(exit)
        assert.isDefined(error, String(taskExit))
        assert.strictEqual(error!.taskName, "leaky")
        assert.strictEqual(Cause.squash(error!.cause), "finalizer broke")
      }))

    it.effect("scopes reused across tasks never carry one task's finalizers into the next", () =>
      Effect.gen(function*() {
        const log: Array<string> = []
        yield* BackgroundExecutor.scoped((executor) =>
          Effect.gen(function*() {
            for (let i = 0; i < 5; i++) {
              const task = yield* executor.submit(Effect.gen(function*() {
                // every other task registers a finalizer and removes it again by closing a child scope
                if (i % 2 === 0) {
                  yield* Effect.scoped(Effect.addFinalizer(() => Effect.sync(() => log.push(`inner ${i}`))))
                } else {
                  yield* Effect.addFinalizer(() => Effect.sync(() => log.push(`task ${i}`)))
                }
                log.push(`ran ${i}`)
              }))
              yield* Task.join(task)
            }
          }), { maxConcurrency: 1 })
        assert.deepStrictEqual(log, [
          "inner 0",
          "ran 0",
          "ran 1",
          "task 1",
          "inner 2",
          "ran 2",
          "ran 3",
          "task 3",
          "inner 4",
          "ran 4"
        ])
      }))

    it.effect("a scope used after its task ended (by a daemon) is not handed to the next task", () =>
      Effect.gen(function*() {
        const log: Array<string> = []
        yield* BackgroundExecutor.scoped((executor) =>
          Effect.gen(function*() {
            // a few tasks from this context first: it gets a pool of scopes, reused from then on
            for (let i = 0; i < 5; i++) yield* Task.join(yield* executor.submit(Effect.void))
            const go = yield* Deferred.make<void>()
            // "A" forks a daemon and ends; the daemon acquires a resource in A's (ended) scope
            yield* Task.join(yield* executor.submit(
              Effect.asVoid(Effect.forkDetach(Effect.andThen(
                Deferred.await(go),
                Effect.acquireRelease(
                  Effect.sync(() => log.push("daemon acquired")),
                  () => Effect.andThen(Effect.sync(() => log.push("daemon's release")), Effect.sleep(100))
                )
              ))),
              { name: "A" }
            ))
            yield* Deferred.succeed(go, undefined)
            yield* Effect.yieldNow.pipe(Effect.repeat({ times: 5 }))
            const b = yield* executor.submit(Effect.sync(() => log.push("B ran")), { name: "B" })
            yield* Effect.yieldNow.pipe(Effect.repeat({ times: 5 }))
            // before: B took A's scope, and ended only once the daemon's release (100 ms) had run
            assert.isDefined(yield* Task.poll(b), "B waits for another task's finalizer")
            log.push("B ended")
          })
        )
        assert.deepStrictEqual(log, ["daemon acquired", "daemon's release", "B ran", "B ended"])
      }))

    it("a task that needs a Scope can be submitted where there is none", async () => {
      const log: Array<string> = []
      const program = BackgroundExecutor.scoped(
        BackgroundExecutor.submit(
          Effect.acquireRelease(Effect.sync(() => log.push("open")), () => Effect.sync(() => log.push("close")))
        ).pipe(Effect.flatMap(Task.join))
      )
      await Effect.runPromise(program)
      assert.deepStrictEqual(log, ["open", "close"])
    })
  })

  describe("D5: a task resubmitting itself does not grow its context", () => {
    it.effect("generation 2,000 of a self-resubmitting task under maxQueue carries one executor link", () =>
      Effect.gen(function*() {
        const depths: Array<number> = []
        const linkCount = Effect.withFiber((fiber) => {
          let n = 0
          for (let link = fiber.getRef(TaskOf); link !== undefined; link = link.parent) n++
          return Effect.succeed(n)
        })
        const generation = (n: number): Effect.Effect<void, never, BackgroundExecutor.BackgroundExecutor> =>
          Effect.gen(function*() {
            if (n % 500 === 0) depths.push(yield* linkCount)
            if (n < 2000) yield* Effect.orDie(BackgroundExecutor.submit(generation(n + 1), { nextTick: true }))
          })
        yield* BackgroundExecutor.scoped(BackgroundExecutor.submit(generation(1)), { maxConcurrency: 4, maxQueue: 10 })
        assert.deepStrictEqual(depths, [1, 1, 1, 1])
      }))
  })

  describe("D6: joiners deep in a chain hear before the executor decides it is idle", () => {
    for (const links of [63, 64, 65, 66, 129, 193]) {
      it.effect(`an outside watcher of the last of ${links} chained tasks may still submit a follow-up`, () =>
        Effect.gen(function*() {
          let watcher: Fiber.Fiber<Task.Task<void>, ExecutorError.ExecutorClosedError> | undefined
          yield* BackgroundExecutor.scoped((executor) =>
            Effect.gen(function*() {
              let previous: Task.Task<void> = yield* executor.submit(Effect.yieldNow)
              for (let i = 1; i < links; i++) previous = yield* executor.submit(Task.join(previous))
              const last = previous
              watcher = yield* Effect.forkDetach(
                Effect.andThen(Task.await(last), executor.submit(Effect.void)),
                { startImmediately: true }
              )
            })
          )
          const followUp = yield* Fiber.await(watcher!)
          assert.isTrue(Exit.isSuccess(followUp), `the follow-up was refused: ${String(followUp)}`)
          // accepted, so awaited by the close: it ran before the scope returned
          assert.deepStrictEqual(yield* Task.poll((followUp as Exit.Success<Task.Task<void>>).value), Exit.void)
        }))
    }
  })

  describe("D7: scoped keeps task failures when its body fails too", () => {
    it.effect("the body's error wins and the task failure is logged as a warning, as make and layer do", () =>
      Effect.gen(function*() {
        const logged: Array<{ level: string; message: unknown }> = []
        const collector = Logger.make((options) => {
          logged.push({ level: options.logLevel, message: options.message })
        })
        const exit = yield* Effect.exit(
          BackgroundExecutor.scoped(Effect.gen(function*() {
            yield* BackgroundExecutor.submit(Effect.fail("task error"), { name: "lost?" })
            yield* Effect.yieldNow
            return yield* Effect.fail("body error")
          })).pipe(Effect.provide(Logger.layer([collector])))
        )
        assert.deepStrictEqual(exit, Exit.fail("body error"))
        const warning = logged.find((entry) => entry.level === "Warn")
        assert.isDefined(warning, "no warning was logged")
        const parts = Array.isArray(warning!.message) ? warning!.message : [warning!.message]
        const error = parts.find((part) => part instanceof ExecutorError.TaskFailedError)
        assert.instanceOf(error, ExecutorError.TaskFailedError)
        assert.strictEqual((error as ExecutorError.TaskFailedError).taskName, "lost?")
      }))
  })

  describe("D8: names, spans and log annotations", () => {
    it.effect("an unnamed task runs in its submitter's span, with no task annotation; its handle is task-<id>", () =>
      Effect.gen(function*() {
        const seen = yield* BackgroundExecutor.scoped(
          Effect.gen(function*() {
            const outer = yield* Effect.currentSpan
            const task = yield* BackgroundExecutor.submit(
              Effect.gen(function*() {
                const span = yield* Effect.currentSpan
                const annotations = yield* References.CurrentLogAnnotations
                return { same: span === outer, annotated: "task" in annotations }
              })
            )
            return { ...(yield* Task.join(task)), name: task.name, id: task.id }
          }).pipe(Effect.withSpan("submitter"))
        )
        assert.deepStrictEqual(seen, { same: true, annotated: false, name: `task-${seen.id}`, id: seen.id })
      }))
  })

  describe("D9: join waits for the tasks that the exit waits for", () => {
    it.effect("join returns beside a cancel-on-exit heartbeat, and reports a failure", () =>
      Effect.gen(function*() {
        const beats: Array<number> = []
        const exit = yield* settles(
          Effect.gen(function*() {
            yield* BackgroundExecutor.submit(
              Effect.forever(Effect.andThen(Effect.sleep(1), Effect.sync(() => beats.push(beats.length)))),
              { cancelOnExit: true, name: "heartbeat" }
            )
            yield* BackgroundExecutor.submit(Effect.andThen(Effect.sleep(3), Effect.fail("work failed")))
            return yield* Effect.exit(BackgroundExecutor.join)
          }).pipe(Effect.provide(BackgroundExecutor.layer({ maxConcurrency: 2 }))),
          "join beside a heartbeat"
        )
        assert.isTrue(Exit.isSuccess(exit), String(exit))
        const joined = (exit as Exit.Success<Exit.Exit<void, ExecutorError.TaskFailedError>>).value
        assert.isDefined(taskFailureOf(joined))
        assert.isAtLeast(beats.length, 2)
      }))

    it.effect("awaitIdle still waits for ordinary tasks submitted beside the heartbeat", () =>
      Effect.gen(function*() {
        const exit = yield* settles(
          BackgroundExecutor.scoped((executor) =>
            Effect.gen(function*() {
              yield* executor.submit(Effect.never, { cancelOnExit: true })
              const work = yield* executor.submit(Effect.sleep(10))
              yield* executor.awaitIdle
              return yield* Task.poll(work)
            })
          ),
          "awaitIdle"
        )
        assert.deepStrictEqual(exit, Exit.succeed(Exit.void))
      }))
  })
})

import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import { BackgroundExecutor, Task, type TaskEvent } from "../src/index.ts"

/** Starts consuming `changes` at once (subscribed before this returns) into an array. */
const follow = (executor: BackgroundExecutor.Executor) =>
  Effect.forkChild(Stream.runCollect(executor.changes), { startImmediately: true })

const key = (ref: TaskEvent.TaskRef | undefined) => ref === undefined ? "-" : `${ref.executor}#${ref.id}`

describe("tasks", () => {
  it.effect("a task whose submit waited for a queue place was submitted when submit was called", () =>
    Effect.gen(function*() {
      yield* BackgroundExecutor.scoped(
        (executor) =>
          Effect.gen(function*() {
            // cancel-on-exit, so that a failed assertion ends the test instead of waiting for them
            yield* executor.submit(Effect.sleep(100), { name: "a", cancelOnExit: true })
            yield* executor.submit(Effect.sleep(100), { name: "b", cancelOnExit: true }) // the queue's one place
            const waiting = yield* Effect.forkChild(
              executor.submit(Effect.sleep(100), { name: "c", cancelOnExit: true }),
              {
                startImmediately: true
              }
            )
            yield* TestClock.adjust(100) // "a" ends, "b" starts, "c" is let in
            yield* Fiber.join(waiting)
            const c = (yield* executor.tasks).find((task) => task.name === "c")!
            // before: 100, when it was let in; its queue wait left out the wait for a place
            assert.strictEqual(c.submittedAt, 0)
            assert.strictEqual(c.startedAt, undefined)
            yield* TestClock.adjust(100)
            const started = (yield* executor.tasks).find((task) => task.name === "c")!
            assert.deepStrictEqual([started.state, started.startedAt], ["running", 200])
          }),
        { name: "waited", maxConcurrency: 1, maxQueue: 1 }
      )
    }))

  it.effect("lists the unfinished tasks: those holding a permit, then the queue, with state and times", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust(1000)
      yield* BackgroundExecutor.scoped(
        (executor) =>
          Effect.gen(function*() {
            // cancel-on-exit, so that a failed assertion ends the test instead of waiting for them
            yield* executor.submit(Effect.sleep(100), { name: "a", cancelOnExit: true })
            yield* TestClock.adjust(10)
            yield* executor.submit(Effect.sleep(100), { name: "b", cancelOnExit: true })
            yield* executor.submit(Effect.sleep(100), { cancelOnExit: true })
            const tasks = yield* executor.tasks
            assert.deepStrictEqual(tasks.map((t) => [t.executor, t.id, t.name, t.state]), [
              ["tree", 1, "a", "running"],
              ["tree", 2, "b", "queued"],
              ["tree", 3, "task-3", "queued"]
            ])
            // named tasks are timed (their spans say how long they waited)
            assert.strictEqual(tasks[0]!.submittedAt, 1000)
            assert.strictEqual(tasks[0]!.startedAt, 1000)
            assert.strictEqual(tasks[1]!.submittedAt, 1010)
            assert.strictEqual(tasks[1]!.startedAt, undefined)
            assert.strictEqual(tasks[0]!.parent, undefined)
            yield* TestClock.adjust(100)
            const later = yield* executor.tasks
            // "a" ended at 1100 and "b" took its permit then
            assert.deepStrictEqual(later.map((t) => [t.id, t.state, t.startedAt]), [[2, "running", 1100], [
              3,
              "queued",
              undefined
            ]])
            yield* TestClock.adjust(200)
            assert.deepStrictEqual(yield* executor.tasks, [])
          }),
        { name: "tree", maxConcurrency: 1 }
      )
    }))

  it.effect("a task interrupted while queued leaves the list", () =>
    BackgroundExecutor.scoped(
      (executor) =>
        Effect.gen(function*() {
          yield* executor.submit(Effect.never, { cancelOnExit: true })
          const queued = yield* executor.submit(Effect.never)
          yield* queued.interrupt
          assert.deepStrictEqual((yield* executor.tasks).map((t) => t.id), [1])
        }),
      { maxConcurrency: 1 }
    ))

  it.effect("lists a task that holds a permit but has not started yet (nextTick) as running", () =>
    BackgroundExecutor.scoped((executor) =>
      Effect.gen(function*() {
        yield* executor.submit(Effect.never, { nextTick: true, cancelOnExit: true })
        assert.deepStrictEqual((yield* executor.tasks).map((t) => [t.id, t.state]), [[1, "running"]])
        yield* Effect.yieldNow
        assert.deepStrictEqual((yield* executor.tasks).map((t) => [t.id, t.state]), [[1, "running"]])
      })
    ))

  it.effect("lists a task while its finalizers run, and no longer once they are done", () =>
    Effect.gen(function*() {
      const seen: Array<ReadonlyArray<string>> = []
      yield* BackgroundExecutor.scoped((executor) =>
        Effect.gen(function*() {
          const look = Effect.map(executor.tasks, (tasks) => seen.push(tasks.map((t) => `${t.id} ${t.state}`)))
          yield* executor.submit(Effect.addFinalizer(() => Effect.sleep(50)))
          yield* Effect.yieldNow
          yield* look
          yield* TestClock.adjust(50)
          yield* look
        })
      )
      assert.deepStrictEqual(seen, [["1 running"], []])
    }))

  it.effect("with priorities and keys, the queued tasks are listed in the order they would start", () =>
    Effect.gen(function*() {
      const names = yield* BackgroundExecutor.scoped(
        (executor) =>
          Effect.gen(function*() {
            yield* executor.submit(Effect.never, { name: "holder", cancelOnExit: true })
            const queued: ReadonlyArray<[string, number, string]> = [
              ["p1", 1, "a"],
              ["p3", 3, "b"],
              ["p2", 2, "a"],
              ["p5", 5, "c"],
              ["p0", 0, "b"],
              ["p4", 4, "a"],
              ["p3bis", 3, "c"]
            ]
            for (const [name, priority, key] of queued) {
              yield* executor.submit(Effect.void, { name, priority, key, cancelOnExit: true })
            }
            return (yield* executor.tasks).map((task) => task.name)
          }),
        { maxConcurrency: 1, maxConcurrencyPerKey: 5 }
      )
      // before: in the lanes' heap order, grouped by key
      assert.deepStrictEqual(names, ["holder", "p5", "p4", "p3", "p3bis", "p2", "p1", "p0"])
    }))

  it.effect("a task submitted by a task's finalizer has that task as its parent", () =>
    Effect.gen(function*() {
      const parents: Array<string> = []
      const executor = yield* BackgroundExecutor.make({ name: "fin" })
      const record = Effect.flatMap(executor.tasks, (tasks) =>
        Effect.sync(() => {
          for (const task of tasks) if (task.name === "child") parents.push(key(task.parent))
        }))
      const child = Effect.flatMap(Effect.sleep(10), () => Effect.void)
      // untimed: its scope is closed after its fiber ended; timed: inside it
      for (const options of [{ name: "plain" }, { name: "timed", timeout: 1000 }]) {
        yield* executor.submit(
          Effect.addFinalizer(() => Effect.asVoid(Effect.orDie(executor.submit(child, { name: "child" })))),
          options
        )
        yield* Effect.yieldNow
        yield* record
        yield* TestClock.adjust(10)
      }
      assert.deepStrictEqual(parents, ["fin#1", "fin#3"])
    }).pipe(Effect.scoped))

  it.effect("a daemon's submissions after its task ended have no parent, even with a later task in that task's reused scope", () =>
    Effect.gen(function*() {
      const executor = yield* BackgroundExecutor.make({ name: "d" })
      // a few tasks from this context first: it gets a pool of scopes, reused from then on
      for (let i = 0; i < 5; i++) yield* Task.join(yield* executor.submit(Effect.void))
      const go = yield* Deferred.make<void>()
      const daemon = Effect.andThen(Deferred.await(go),
        executor.submit(Effect.never, { name: "late", cancelOnExit: true }))
      yield* Task.await(yield* executor.submit(Effect.asVoid(Effect.forkDetach(daemon)), { name: "forker" }))
      // this task takes the scope "forker" released
      yield* executor.submit(Effect.never, { name: "later", cancelOnExit: true })
      yield* Deferred.succeed(go, undefined)
      yield* Effect.yieldNow.pipe(Effect.repeat({ times: 5 }))
      const late = (yield* executor.tasks).find((task) => task.name === "late")
      assert.isDefined(late, "the daemon's task was not submitted")
      assert.strictEqual(key(late!.parent), "-")
    }).pipe(Effect.scoped))

  it.effect("a task timed while followed and started once nobody follows gets its start time", () =>
    Effect.gen(function*() {
      const executor = yield* BackgroundExecutor.make({ metrics: false, maxConcurrency: 1 })
      yield* executor.submit(Effect.sleep(10))
      const follower = yield* follow(executor)
      yield* executor.submit(Effect.sleep(10)) // timed: submitted while followed
      yield* Fiber.interrupt(follower)
      yield* TestClock.adjust(15)
      const [info] = yield* executor.tasks
      assert.strictEqual(info!.state, "running")
      assert.strictEqual(info!.submittedAt, 0)
      assert.strictEqual(info!.startedAt, 10)
      yield* TestClock.adjust(10)
    }).pipe(Effect.scoped))

  it.effect("lists every running task of a burst larger than the pool of idle scopes, then none", () =>
    BackgroundExecutor.scoped((executor) =>
      Effect.gen(function*() {
        const release = yield* Deferred.make<void>()
        for (let i = 0; i < 300; i++) yield* executor.submit(Deferred.await(release))
        const running = yield* executor.tasks
        assert.deepStrictEqual(running.map((t) => t.id), Array.from({ length: 300 }, (_, i) => i + 1))
        yield* Deferred.succeed(release, undefined)
        yield* executor.awaitIdle
        assert.deepStrictEqual(yield* executor.tasks, [])
        // the scopes kept for reuse name no task
        yield* executor.submit(Deferred.await(release).pipe(Effect.andThen(Effect.never)), { cancelOnExit: true })
        assert.deepStrictEqual((yield* executor.tasks).map((t) => t.id), [301])
      })
    ))

  it.effect("the parent of a task is the task that submitted it, across nested executors and forked fibers", () =>
    Effect.gen(function*() {
      const outer = yield* BackgroundExecutor.make({ name: "outer" })
      const inner = yield* BackgroundExecutor.make({ name: "inner" })
      const done = yield* Deferred.make<void>()
      yield* outer.submit(
        Effect.gen(function*() {
          // from a fiber the task forked
          yield* Effect.forkChild(inner.submit(Deferred.await(done)), { startImmediately: true })
          yield* Deferred.await(done)
        }),
        { name: "root" }
      )
      yield* Effect.yieldNow
      const [root] = yield* outer.tasks
      const [child] = yield* inner.tasks
      assert.strictEqual(root!.parent, undefined)
      assert.deepStrictEqual(child!.parent, { executor: "outer", id: 1 })
      yield* Deferred.succeed(done, undefined)
    }).pipe(Effect.scoped))

  it("the tree matches what was submitted under random nesting", () =>
    fc.assert(
      fc.asyncProperty(
        // node i > 0 is submitted by node parent[i] < i (or from outside when -1), into executor 0 or 1
        fc.array(fc.tuple(fc.nat(), fc.boolean(), fc.boolean()), { minLength: 1, maxLength: 30 }),
        async (nodes) => {
          const parent = nodes.map(([p, outside], i) => (i === 0 || outside ? -1 : p % i))
          const into = nodes.map(([, , second]) => (second ? 1 : 0))
          const result = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
            const executors = [
              yield* BackgroundExecutor.make({ name: "e0" }),
              yield* BackgroundExecutor.make({ name: "e1", maxConcurrency: 64 })
            ]
            const release = yield* Deferred.make<void>()
            const ids = new Map<number, string>()
            const started = yield* Deferred.make<void>()
            let running = 0
            const node = (i: number): Effect.Effect<void> =>
              Effect.gen(function*() {
                for (let j = i + 1; j < nodes.length; j++) {
                  if (parent[j] === i) yield* Effect.orDie(submit(j))
                }
                if (++running === nodes.length) yield* Deferred.succeed(started, undefined)
                yield* Deferred.await(release)
              })
            const submit = (i: number) =>
              Effect.map(executors[into[i]!]!.submit(node(i), { name: `n${i}` }), (task) => {
                ids.set(i, `e${into[i]}#${task.id}`)
              })
            for (let i = 0; i < nodes.length; i++) if (parent[i] === -1) yield* submit(i)
            yield* Deferred.await(started)
            const infos = [...(yield* executors[0]!.tasks), ...(yield* executors[1]!.tasks)]
            yield* Deferred.succeed(release, undefined)
            return { infos, ids }
          })))
          const byName = new Map(result.infos.map((info) => [info.name, info]))
          assert.strictEqual(result.infos.length, nodes.length)
          for (let i = 0; i < nodes.length; i++) {
            const info = byName.get(`n${i}`)!
            assert.strictEqual(`${info.executor}#${info.id}`, result.ids.get(i))
            assert.strictEqual(info.state, "running")
            assert.strictEqual(key(info.parent), parent[i] === -1 ? "-" : result.ids.get(parent[i]!))
          }
        }
      ),
      { numRuns: 60 }
    ))
})

describe("changes", () => {
  it.effect("delivers every step of every task exactly once, in order, and ends when the executor closes", () =>
    Effect.gen(function*() {
      let fiber: Fiber.Fiber<Array<TaskEvent.TaskEvent>> | undefined
      yield* BackgroundExecutor.scoped(
        (executor) =>
          Effect.gen(function*() {
            fiber = yield* follow(executor)
            yield* executor.submit(Effect.sleep(10), { name: "slow" })
            yield* executor.submit(Effect.fail("boom"), { reraiseOnExit: false })
            const queued = yield* executor.submit(Effect.never)
            yield* queued.interrupt
            yield* executor.submit(Effect.asVoid(executor.submit(Effect.void, { name: "grandchild" })))
            yield* TestClock.adjust(50)
          }),
        { maxConcurrency: 2 }
      )
      const events = yield* Fiber.join(fiber!)
      assert.deepStrictEqual(events.map((e) => e.sequence), events.map((_, i) => i + 1))
      const steps = events.map((e) => `${e._tag} ${e.task.id}${e._tag === "Ended" ? ` ${e.outcome}` : ""}`)
      assert.deepStrictEqual(steps, [
        "Submitted 1",
        "Started 1",
        "Submitted 2",
        "Started 2",
        "Ended 2 failure",
        "Submitted 3",
        "Started 3",
        "Ended 3 interrupted",
        "Submitted 4",
        "Started 4",
        "Submitted 5",
        "Ended 4 success",
        "Started 5",
        "Ended 5 success",
        "Ended 1 success"
      ])
      const grandchild = events.find((e) => e.task.name === "grandchild")!
      assert.deepStrictEqual(grandchild.task.parent, { executor: "default", id: 4 })
      const ended = events.find((e): e is TaskEvent.Ended => e._tag === "Ended" && e.task.id === 1)!
      assert.strictEqual(ended.endedAt - ended.task.startedAt!, 10)
      assert.strictEqual(ended.task.state, "done")
    }))

  it.effect("a queue of thousands that drains in one synchronous run reaches a subscriber whole", () =>
    Effect.gen(function*() {
      let fiber: Fiber.Fiber<Array<TaskEvent.TaskEvent>> | undefined
      const n = 5_000
      yield* BackgroundExecutor.scoped(
        (executor) =>
          Effect.gen(function*() {
            fiber = yield* follow(executor)
            const gate = yield* Deferred.make<void>()
            yield* executor.submit(Deferred.await(gate))
            for (let i = 0; i < n; i++) yield* executor.submit(Effect.void)
            yield* Deferred.succeed(gate, undefined) // the queue drains in one run: 2n + 1 events
          }),
        { maxConcurrency: 1 }
      )
      const events = yield* Fiber.join(fiber!)
      // before: the run's events past 4,096 were dropped for every subscriber, the newest ones, no gap shown
      assert.strictEqual(events.filter((e) => e._tag === "Ended").length, n + 1)
      assert.deepStrictEqual(events.map((e) => e.sequence), events.map((_, i) => i + 1))
    }))

  it.effect("a subscriber hears only what happens after it subscribed, also within one synchronous run", () =>
    Effect.gen(function*() {
      let first: Fiber.Fiber<Array<TaskEvent.TaskEvent>> | undefined
      let second: Fiber.Fiber<Array<TaskEvent.TaskEvent>> | undefined
      yield* BackgroundExecutor.scoped((executor) =>
        Effect.gen(function*() {
          first = yield* follow(executor)
          yield* executor.submit(Effect.never, { cancelOnExit: true, name: "before" })
          second = yield* follow(executor) // same synchronous run: the batch of "before" is not sent yet
          yield* executor.submit(Effect.void, { name: "after" })
        })
      )
      const names = (events: Array<TaskEvent.TaskEvent>) => events.map((e) => `${e._tag} ${e.task.name}`)
      assert.deepStrictEqual(names(yield* Fiber.join(first!)), [
        "Submitted before",
        "Started before",
        "Submitted after",
        "Started after",
        "Ended after",
        "Ended before"
      ])
      // before: it got "before"'s Submitted and Started too, events from before it subscribed
      assert.deepStrictEqual(names(yield* Fiber.join(second!)), [
        "Submitted after",
        "Started after",
        "Ended after",
        "Ended before"
      ])
    }))

  it("random tasks: each task's events come once, Submitted before Started before Ended", () =>
    fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom("ok", "fail", "interrupt", "sleep"), fc.boolean()), { maxLength: 40 }),
        fc.integer({ min: 1, max: 4 }),
        async (specs, maxConcurrency) => {
          const events = await Effect.runPromise(Effect.gen(function*() {
            let fiber: Fiber.Fiber<Array<TaskEvent.TaskEvent>> | undefined
            yield* Effect.exit(BackgroundExecutor.scoped(
              (executor) =>
                Effect.gen(function*() {
                  fiber = yield* follow(executor)
                  for (const [kind, cancel] of specs) {
                    const effect = kind === "ok"
                      ? Effect.void
                      : kind === "fail"
                      ? Effect.fail("x")
                      : kind === "interrupt"
                      ? Effect.interrupt
                      : Effect.sleep(1)
                    yield* executor.submit(effect, { cancelOnExit: cancel, reraiseOnExit: false })
                  }
                }),
              { maxConcurrency }
            ))
            return yield* Fiber.join(fiber!)
          }))
          assert.deepStrictEqual(events.map((e) => e.sequence), events.map((_, i) => i + 1))
          for (let id = 1; id <= specs.length; id++) {
            const tags = events.filter((e) => e.task.id === id).map((e) => e._tag)
            assert.isTrue(
              tags.join() === "Submitted,Started,Ended" || tags.join() === "Submitted,Ended",
              `task ${id}: ${tags.join()}`
            )
          }
        }
      ),
      { numRuns: 100 }
    ))

  it.effect("a subscriber that never reads does not slow the executor: events beyond the buffer are dropped", () =>
    Effect.gen(function*() {
      const n = 10_000
      const seen: Array<number> = []
      const gate = yield* Deferred.make<void>()
      let fiber: Fiber.Fiber<void> | undefined
      yield* BackgroundExecutor.scoped((executor) =>
        Effect.gen(function*() {
          // takes one event, then waits until every task has ended
          fiber = yield* Effect.forkChild(
            executor.changes.pipe(
              Stream.runForEach((event) =>
                Effect.andThen(Effect.sync(() => seen.push(event.sequence)), Deferred.await(gate))
              )
            ),
            { startImmediately: true }
          )
          for (let i = 0; i < n; i++) {
            yield* executor.submit(Effect.void)
            // a synchronous run of 100 tasks: one batch of 300 events
            if (i % 100 === 99) yield* Effect.yieldNow
          }
          // every task ended although the subscriber has not moved
          assert.deepStrictEqual(yield* executor.stats, {
            submitted: n,
            queued: 0,
            running: 0,
            succeeded: n,
            failed: 0,
            interrupted: 0,
            timedOut: 0
          })
          yield* Deferred.succeed(gate, undefined)
        })
      )
      yield* Fiber.join(fiber!)
      // the batch it reads, the one its stream took in, then the 16 its buffer holds; the newest were dropped
      assert.strictEqual(seen.length, 18 * 300)
      assert.deepStrictEqual(seen.slice(0, 3), [1, 2, 3])
      for (let i = 1; i < seen.length; i++) assert.isAbove(seen[i]!, seen[i - 1]!)
      assert.isBelow(seen.at(-1)!, 3 * n)
    }))

  it.effect("a subscriber that falls behind loses only its own events: another one hears every event", () =>
    Effect.gen(function*() {
      const n = 10_000
      const stalled: Array<number> = []
      const gate = yield* Deferred.make<void>()
      const [all] = yield* BackgroundExecutor.scoped((executor) =>
        Effect.gen(function*() {
          yield* Effect.forkChild(
            executor.changes.pipe(
              Stream.runForEach((event) =>
                Effect.andThen(Effect.sync(() => stalled.push(event.sequence)), Deferred.await(gate))
              )
            ),
            { startImmediately: true }
          )
          const follower = yield* follow(executor)
          for (let i = 0; i < n; i++) {
            yield* executor.submit(Effect.void)
            if (i % 100 === 99) yield* Effect.yieldNow // a batch of 300 events, read by the follower at once
          }
          yield* Deferred.succeed(gate, undefined)
          return [follower] as const
        })
      )
      // before: one buffer for all, which dropped the newest batches for everyone once the stalled one was full
      const sequences = (yield* Fiber.join(all)).map((event) => event.sequence)
      assert.strictEqual(sequences.length, 3 * n)
      assert.deepStrictEqual(sequences.slice(0, 2), [1, 2])
      assert.strictEqual(sequences.at(-1), 3 * n)
      assert.isBelow(stalled.length, 3 * n, "the stalled subscriber lost its newest events")
    }))

  it.effect("a stream started while tasks are queued or running hears their later steps", () =>
    Effect.gen(function*() {
      const events = yield* BackgroundExecutor.scoped(
        (executor) =>
          Effect.gen(function*() {
            for (let i = 0; i < 3; i++) yield* executor.submit(Effect.sleep(10)) // unnamed: only the first is sampled
            const follower = yield* follow(executor)
            yield* TestClock.adjust(30)
            return follower
          }),
        { maxConcurrency: 1 }
      ).pipe(Effect.flatMap(Fiber.join))
      assert.deepStrictEqual(events.map((e) => `${e._tag} ${e.task.id}`), [
        "Ended 1",
        "Started 2",
        "Ended 2",
        "Started 3",
        "Ended 3"
      ])
      // what happened before the stream started is not known
      const started = events.find((e) => e._tag === "Started" && e.task.id === 3)!
      assert.strictEqual(started.task.submittedAt, undefined)
      assert.strictEqual(started.task.startedAt, 20)
    }))

  it.effect("a stream started after the close is empty", () =>
    Effect.gen(function*() {
      const executor = yield* BackgroundExecutor.scoped((executor) => Effect.succeed(executor))
      assert.deepStrictEqual(yield* Stream.runCollect(executor.changes), [])
    }))
})

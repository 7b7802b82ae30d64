/**
 * Cancels against a storage that fails at chosen moments: the in-memory
 * cluster of `Cluster.layerMemory`, its message storage wrapped so that a
 * test decides which saves fail. What a cancel must do whatever the storage
 * does: never store (and so run) the task it cancels, and not return before
 * the task has ended on its runner.
 */
import { assert, describe, it } from "@effect/vitest"
import { Task } from "@taskscope/executor"
import * as TaskSet from "@taskscope/executor/TaskSet"
import { type Duration, Effect, Exit, Layer, Schema } from "effect"
import { PersistenceError } from "effect/cluster/ClusterError"
import * as MessageStorage from "effect/cluster/MessageStorage"
import * as RunnerHealth from "effect/cluster/RunnerHealth"
import * as Runners from "effect/cluster/Runners"
import * as RunnerStorage from "effect/cluster/RunnerStorage"
import * as Sharding from "effect/cluster/Sharding"
import * as ShardingConfig from "effect/cluster/ShardingConfig"
import { TestClock } from "effect/testing"
import { Cluster, ClusterExecutor, ClusterRunner } from "../src/index.ts"
import { signallingStorage } from "../src/internal/protocol.ts"
import { rideOutStorage } from "../src/internal/storage.ts"

/** What the tasks of one test did on the runner. */
const makeTrace = () => ({ started: 0, released: 0 })

const tasksOf = (trace: ReturnType<typeof makeTrace>) =>
  TaskSet.make("test/faulty-storage", {
    /** Holds a permit for a moment. */
    brief: TaskSet.task({ payload: Schema.Number, success: Schema.Void, run: (ms) => Effect.sleep(ms) }),
    /** Runs until interrupted, counting its start and its release. */
    hang: TaskSet.task({
      payload: Schema.Number,
      success: Schema.Void,
      run: () =>
        Effect.andThen(Effect.sync(() => trace.started++), Effect.never).pipe(
          Effect.onInterrupt(() => Effect.sync(() => trace.released++))
        )
    })
  })

/** The storage's faults: each returns whether this save fails. */
interface Faults {
  /** Given the request's Rpc tag. */
  readonly request?: (tag: string) => boolean
  readonly interrupt?: () => boolean
}

/** `Cluster.layerMemory`, put together again around a message storage with `faults`, and a runner of `tasks`. */
const faultyCluster = <T extends TaskSet.Any>(tasks: T, faults: Faults) => {
  const faulty = Layer.effect(
    MessageStorage.MessageStorage,
    Effect.map(MessageStorage.MessageStorage, (storage) =>
      MessageStorage.MessageStorage.of({
        ...storage,
        // a request whose save fails as an outage longer than the call rides out would
        saveRequest: (message) =>
          faults.request?.(message.envelope.tag) === true
            ? Effect.andThen(Effect.sleep("1 second"), Effect.die(new Error("storage gave up")))
            : storage.saveRequest(message),
        // Effect's client ignores a failure to store an Interrupt: the Interrupt is lost
        saveEnvelope: (message) =>
          message.envelope._tag === "Interrupt" && faults.interrupt?.() === true
            ? Effect.fail(new PersistenceError({ cause: new Error("a blip") }))
            : storage.saveEnvelope(message)
      }))
  ).pipe(Layer.provide(MessageStorage.layerMemory))
  const connection = Layer.effect(
    Cluster.Cluster,
    Effect.map(MessageStorage.MessageStorage, (storage) => ({ durable: false, runner: "memory", storage }))
  ).pipe(
    Layer.provideMerge(
      Layer.effect(MessageStorage.MessageStorage, Effect.map(MessageStorage.MessageStorage, signallingStorage))
    ),
    Layer.provide(faulty)
  )
  const memory = Sharding.layer.pipe(
    Layer.provide(Runners.layerNoop),
    Layer.provideMerge(connection),
    Layer.provide([RunnerStorage.layerMemory, RunnerHealth.layerNoop]),
    Layer.provide(ShardingConfig.layer({ ...Cluster.defaultShardingConfig }))
  )
  return ClusterRunner.layer(tasks).pipe(Layer.provideMerge(memory))
}

/** `effect`, or a failure of the test once `seconds` have passed (a cancel that hangs). */
const within = <A, E, R>(effect: Effect.Effect<A, E, R>, seconds: number, what: string) =>
  Effect.timeoutOrElse(effect, {
    duration: `${seconds} seconds`,
    orElse: () => Effect.sync(() => assert.fail(`${what}: still waiting after ${seconds} s`))
  })

describe("cancels against a failing storage", () => {
  it.live("a cancel of a call whose request was never saved waits for nothing, and never stores the task", () =>
    Effect.gen(function*() {
      const trace = makeTrace()
      const tasks = tasksOf(trace)
      let saves = 0
      const layer = faultyCluster(tasks, {
        // the first save of the task fails; any later one would store it
        request: (tag) => tag === "hang" && saves++ === 0
      })
      yield* ClusterExecutor.scoped(tasks, (executor) =>
        Effect.gen(function*() {
          yield* executor.submit("brief", 300) // holds the one permit: "hang" starts at 300 ms
          const hang = yield* executor.submit("hang", 1, { key: "never-saved", reraiseOnExit: false })
          // cancelled while its save is under way (from 300 ms on), which fails (at 1.3 s)
          yield* Effect.sleep("600 millis")
          // before: the cancel asked again to wait for the task's end, and that ask stored the task
          yield* within(Task.interrupt(hang), 5, "Task.interrupt")
          assert.isTrue(Exit.isFailure(yield* Task.await(hang)))
          yield* Effect.sleep("300 millis") // a task stored by mistake would have started by now
          assert.strictEqual(trace.started, 0, "the cancelled task never ran")
        }), { maxConcurrency: 1 }).pipe(Effect.provide(layer))
    }))

  it.live("a cancel whose Interrupt is lost is sent again: the task is stopped, and the cancel returns after it",
    () =>
      Effect.gen(function*() {
        const trace = makeTrace()
        const tasks = tasksOf(trace)
        let lost = 1
        const layer = faultyCluster(tasks, { interrupt: () => lost-- > 0 })
        yield* ClusterExecutor.scoped(tasks, (executor) =>
          Effect.gen(function*() {
            const hang = yield* executor.submit("hang", 1, { key: "lost-interrupt", reraiseOnExit: false })
            yield* within(
              Effect.gen(function*() {
                while (trace.started === 0) yield* Effect.sleep("10 millis")
              }),
              5,
              "the task starts"
            )
            // before: the cancel waited for an end that no Interrupt would bring, for ever
            yield* within(Task.interrupt(hang), 20, "Task.interrupt")
            assert.strictEqual(trace.released, 1, "stopped on its runner before the cancel returned")
            assert.strictEqual(lost, -1, "the first Interrupt was lost")
          })).pipe(Effect.provide(layer))
      }), 30_000)
})

describe("riding out an outage", () => {
  const failing = (attempts: { count: number }, hangs: Duration.Input) =>
    Effect.andThen(
      Effect.sleep(hangs),
      Effect.suspend(() => {
        attempts.count++
        return Effect.fail(new PersistenceError({ cause: new Error("canceling statement due to statement timeout") }))
      })
    )

  it.effect("a storage step gives up a minute after its first failure, however long each attempt hangs", () =>
    Effect.gen(function*() {
      // a database that hangs: each attempt fails at its statement's deadline (20 s by default)
      const attempts = { count: 0 }
      const fiber = yield* Effect.forkChild(rideOutStorage(failing(attempts, "20 seconds")))
      yield* TestClock.adjust("90 seconds")
      const exit = fiber.pollUnsafe()
      // before: 120 attempts whatever each took (41 minutes at 20 s each)
      assert.isDefined(exit, "still trying after 90 s")
      assert.isTrue(Exit.isFailure(exit!))
      assert.strictEqual(attempts.count, 4) // failed at 20, 40.5, 61 (a minute is up at 80.5) and 81.5 s
    }))

  it.effect("a storage step that fails for less than a minute succeeds once the storage is back", () =>
    Effect.gen(function*() {
      const attempts = { count: 0 }
      const back = Effect.suspend(() => attempts.count < 50 ? failing(attempts, "0 millis") : Effect.succeed("stored"))
      const fiber = yield* Effect.forkChild(rideOutStorage(back))
      yield* TestClock.adjust("30 seconds")
      const exit = fiber.pollUnsafe()
      assert.isDefined(exit)
      assert.deepStrictEqual(exit, Exit.succeed("stored"))
    }))
})

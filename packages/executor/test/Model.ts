/**
 * The model of `Model.test.ts`: scenarios, and the check of one scenario.
 */
import { Cause, Effect, Exit, Fiber, Scheduler } from "effect"
import * as fc from "fast-check"
import { BackgroundExecutor, ExecutorError, Task } from "../src/index.ts"

// -----------------------------------------------------------------------------
// scenarios
// -----------------------------------------------------------------------------

interface TaskSpec {
  readonly outcome: "succeed" | "fail" | "never"
  /** Scheduler turns the task takes before it ends. */
  readonly yields: number
  /** Synchronous steps before the task's first suspension. */
  readonly pad: number
  readonly cancelOnExit: boolean
  readonly reraiseOnExit: boolean
  readonly nextTick: boolean
}

type Actor =
  | { readonly _tag: "Submit"; readonly pad: number; readonly task: TaskSpec }
  | { readonly _tag: "Interrupt"; readonly pad: number; readonly target: number }
  | { readonly _tag: "Join"; readonly pad: number }
  | { readonly _tag: "AwaitTask"; readonly pad: number; readonly target: number }
  | { readonly _tag: "InterruptJoiner"; readonly pad: number; readonly target: number }

export interface Scenario {
  readonly budget: number
  readonly maxConcurrency: number
  readonly maxQueue: number
  /** Tasks the owner submits, with a pad of work before each. */
  readonly owned: ReadonlyArray<{ readonly pad: number; readonly task: TaskSpec }>
  /** Fibers outside the executor, started by the owner before it ends. */
  readonly outside: ReadonlyArray<Actor>
  /** Work the owner does after forking the outside fibers, before its scope closes. */
  readonly tail: number
}

const pads = fc.integer({ min: 0, max: 70 })

const taskSpec: fc.Arbitrary<TaskSpec> = fc.record({
  outcome: fc.constantFrom("succeed", "succeed", "fail", "never"),
  yields: fc.integer({ min: 0, max: 3 }),
  pad: fc.integer({ min: 0, max: 20 }),
  cancelOnExit: fc.boolean(),
  reraiseOnExit: fc.constantFrom(true, true, true, false),
  nextTick: fc.boolean()
}).map((spec) => spec.outcome === "never" ? { ...spec, cancelOnExit: true } : spec)

const actor: fc.Arbitrary<Actor> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ _tag: fc.constant("Submit" as const), pad: pads, task: taskSpec }) },
  { weight: 2, arbitrary: fc.record({ _tag: fc.constant("Interrupt" as const), pad: pads, target: fc.nat(20) }) },
  { weight: 2, arbitrary: fc.record({ _tag: fc.constant("Join" as const), pad: pads }) },
  { weight: 1, arbitrary: fc.record({ _tag: fc.constant("AwaitTask" as const), pad: pads, target: fc.nat(20) }) },
  { weight: 1, arbitrary: fc.record({ _tag: fc.constant("InterruptJoiner" as const), pad: pads, target: fc.nat(8) }) }
)

const scenarioRecord = fc.record({
  budget: fc.integer({ min: 4, max: 64 }),
  maxConcurrency: fc.oneof(fc.integer({ min: 1, max: 4 }), fc.constant(Number.POSITIVE_INFINITY)),
  maxQueue: fc.oneof(
    { weight: 3, arbitrary: fc.constant(Number.POSITIVE_INFINITY) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }) }
  ),
  owned: fc.array(fc.record({ pad: pads, task: taskSpec }), { maxLength: 6 }),
  outside: fc.array(actor, { maxLength: 6 }),
  tail: pads
})

/**
 * With a `maxQueue`, an owner that submits behind a task that never ends
 * waits for a queue place that only its own exit would free: a deadlock of
 * the program, not of the executor. Such owners submit tasks that end.
 */
export const scenario: fc.Arbitrary<Scenario> = scenarioRecord.map((s) =>
  s.maxQueue === Number.POSITIVE_INFINITY ? s : {
    ...s,
    owned: s.owned.map((o) => o.task.outcome === "never" ? { ...o, task: { ...o.task, outcome: "succeed" as const } } : o)
  }
)

// -----------------------------------------------------------------------------
// running one
// -----------------------------------------------------------------------------

const pad = (n: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < n; i++) yield* Effect.sync(() => i)
  })

/** The failures a `TaskFailedError` in `exit` reports, by task id. */
const reportedIds = (exit: Exit.Exit<unknown, unknown>): Array<number> => {
  if (Exit.isSuccess(exit)) return []
  const ids: Array<number> = []
  for (const reason of exit.cause.reasons) {
    const error = Cause.isFailReason(reason) ? reason.error : Cause.isDieReason(reason) ? reason.defect : undefined
    if (error instanceof ExecutorError.TaskFailedError) ids.push(...error.failures.map((failure) => failure.taskId))
  }
  return ids
}

/** Gives `fiber` up to `turns` scheduler turns to end; `undefined` if it has not. */
const within = <A, E>(fiber: Fiber.Fiber<A, E>, turns: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < turns && fiber.pollUnsafe() === undefined; i++) yield* Effect.yieldNow
    return fiber.pollUnsafe()
  })

/** Runs a scenario and returns the first broken promise, or `undefined`. */
export const check = (s: Scenario) =>
  Effect.gen(function*() {
    let bodies = 0
    let maxBodies = 0
    let scopeEnded = false
    let ranAfterScope = false
    const tasks: Array<{ readonly task: Task.Task<unknown, unknown>; readonly spec: TaskSpec }> = []
    const joiners: Array<Fiber.Fiber<void, ExecutorError.TaskFailedError>> = []
    const outside: Array<Fiber.Fiber<unknown, unknown>> = []
    const joined: Array<Exit.Exit<void, ExecutorError.TaskFailedError>> = []
    let executor: BackgroundExecutor.Executor | undefined

    // counted from acquisition to release, so an interruption before the body starts counts nothing
    const body = (spec: TaskSpec) =>
      Effect.acquireUseRelease(
        Effect.sync(() => {
          bodies++
          maxBodies = Math.max(maxBodies, bodies)
        }),
        () =>
          Effect.gen(function*() {
            yield* pad(spec.pad)
            for (let i = 0; i < spec.yields; i++) {
              yield* Effect.yieldNow
              if (scopeEnded) ranAfterScope = true
            }
            if (spec.outcome === "fail") return yield* Effect.fail(`failure of a task`)
            if (spec.outcome === "never") return yield* Effect.never
          }),
        () => Effect.sync(() => bodies--)
      )

    const submit = (ex: BackgroundExecutor.Executor, spec: TaskSpec) =>
      Effect.map(
        ex.submit(body(spec), {
          cancelOnExit: spec.cancelOnExit,
          reraiseOnExit: spec.reraiseOnExit,
          nextTick: spec.nextTick
        }),
        (task) => {
          tasks.push({ task, spec })
        }
      )

    const act = (ex: BackgroundExecutor.Executor, a: Actor): Effect.Effect<unknown, unknown> => {
      const then = (effect: Effect.Effect<unknown, unknown>) => Effect.andThen(pad(a.pad), effect)
      switch (a._tag) {
        case "Submit":
          return then(Effect.exit(submit(ex, a.task)))
        case "Interrupt":
          return then(Effect.suspend(() => tasks.length === 0 ? Effect.void : Task.interrupt(tasks[a.target % tasks.length]!.task)))
        case "AwaitTask":
          return then(Effect.suspend(() => tasks.length === 0 ? Effect.void : Task.await(tasks[a.target % tasks.length]!.task)))
        case "Join":
          return Effect.flatMap(
            Effect.forkDetach(then(ex.join), { startImmediately: true }),
            (fiber) => {
              joiners.push(fiber as Fiber.Fiber<void, ExecutorError.TaskFailedError>)
              return Fiber.await(fiber)
            }
          )
        case "InterruptJoiner":
          return then(Effect.suspend(() => joiners.length === 0 ? Effect.void : Fiber.interrupt(joiners[a.target % joiners.length]!)))
      }
    }

    const program = BackgroundExecutor.scoped((ex) =>
      Effect.gen(function*() {
        executor = ex
        for (const { pad: n, task } of s.owned) {
          yield* pad(n)
          yield* submit(ex, task)
        }
        for (const a of s.outside) outside.push(yield* Effect.forkDetach(act(ex, a), { startImmediately: true }))
        yield* pad(s.tail)
      }), { maxConcurrency: s.maxConcurrency, maxQueue: s.maxQueue }).pipe(
        Effect.ensuring(Effect.sync(() => {
          scopeEnded = true
        })),
        Effect.provideService(Scheduler.MaxOpsBeforeYield, s.budget)
      )

    const owner = yield* Effect.forkDetach(program, { startImmediately: true })
    const exit = yield* within(owner, 2000)
    if (exit === undefined) return "the scope hung"
    for (const fiber of outside) {
      if ((yield* within(fiber, 2000)) === undefined) return "an outside fiber hung"
    }
    for (const fiber of joiners) joined.push((yield* Fiber.await(fiber)))
    // a few more turns: a task that outlived its scope would run now
    for (let i = 0; i < 20; i++) yield* Effect.yieldNow

    if (maxBodies > s.maxConcurrency) return `${maxBodies} task bodies ran at once (bound ${s.maxConcurrency})`
    if (ranAfterScope || bodies !== 0) return "a task ran after its scope returned"
    const stats = yield* executor!.stats
    if (stats.queued !== 0 || stats.running !== 0) return `not at rest: ${JSON.stringify(stats)}`
    if (stats.submitted !== stats.succeeded + stats.failed + stats.interrupted) {
      return `stats identity broken: ${JSON.stringify(stats)}`
    }
    if (stats.submitted !== tasks.length) return `submitted ${stats.submitted}, handles ${tasks.length}`
    const reports = [...joined.flatMap(reportedIds), ...reportedIds(exit)]
    for (const { spec, task } of tasks) {
      const taskExit = yield* Task.poll(task)
      if (taskExit === undefined) return `task ${task.id} never ended`
      const failed = Exit.isFailure(taskExit) && !Cause.hasInterruptsOnly(taskExit.cause)
      const times = reports.filter((id) => id === task.id).length
      const expected = failed && spec.reraiseOnExit ? 1 : 0
      if (times !== expected) return `task ${task.id}'s failure reported ${times} times, expected ${expected}`
    }
    return undefined
  })


import { assert, describe, it } from "@effect/vitest"
import { BackgroundExecutor, type TaskEvent } from "@taskscope/executor"
import { Deferred, Effect, Fiber } from "effect"
import * as LiveView from "../src/LiveView.ts"

const info = (
  executor: string,
  id: number,
  name: string,
  startedAt?: number,
  parent?: TaskEvent.TaskRef
): TaskEvent.TaskInfo => ({
  executor,
  id,
  name,
  state: startedAt === undefined ? "queued" : "running",
  submittedAt: 0,
  startedAt,
  parent
})

/** An event without its sequence number. */
type Step = TaskEvent.TaskEvent extends infer E ? E extends TaskEvent.TaskEvent ? Omit<E, "sequence"> : never : never

/** Feeds events with consecutive sequence numbers per executor. */
const feed = (view: LiveView.View, events: ReadonlyArray<Step>) => {
  const sequences = new Map<string, number>()
  for (const event of events) {
    const sequence = (sequences.get(event.task.executor) ?? 0) + 1
    sequences.set(event.task.executor, sequence)
    LiveView.apply(view, { ...event, sequence } as TaskEvent.TaskEvent)
  }
}

describe("LiveView", () => {
  it("draws running tasks under the running task that spawned them, across executors, in id order", () => {
    const view = LiveView.empty(0)
    const root = info("crawl", 1, "fetch /", 0)
    const a = info("crawl", 2, "fetch /a", 100, { executor: "crawl", id: 1 })
    const b = info("crawl", 3, "fetch /b", 150, { executor: "crawl", id: 1 })
    const print = info("threads", 1, "fingerprint /a", 200, { executor: "crawl", id: 2 })
    const orphan = info("crawl", 4, "fetch /c", 300, { executor: "crawl", id: 9 })
    feed(view, [
      { _tag: "Submitted", task: root },
      { _tag: "Started", task: root },
      { _tag: "Submitted", task: b },
      { _tag: "Submitted", task: a },
      { _tag: "Started", task: b },
      { _tag: "Started", task: a },
      { _tag: "Submitted", task: print },
      { _tag: "Started", task: print },
      { _tag: "Submitted", task: orphan },
      { _tag: "Started", task: orphan }
    ])
    assert.deepStrictEqual(LiveView.tree(view, 1000), [
      "fetch /  (crawl#1 1000 ms)",
      "├─ fetch /a  (crawl#2 900 ms)",
      "│  └─ fingerprint /a  (threads#1 800 ms)",
      "└─ fetch /b  (crawl#3 850 ms)",
      "fetch /c  (crawl#4 700 ms)"
    ])
    // once the root ends, its children are roots
    feed(view, [{ _tag: "Ended", task: root, outcome: "success", endedAt: 1000 }])
    assert.deepStrictEqual(LiveView.tree(view, 1000).filter((line) => !line.startsWith(" ") && !/^[│├└]/.test(line)), [
      "fetch /a  (crawl#2 900 ms)",
      "fetch /b  (crawl#3 850 ms)",
      "fetch /c  (crawl#4 700 ms)"
    ])
  })

  it("the bar and the plain line count done, running, queued, failed and throughput", () => {
    const view = LiveView.empty(0)
    const tasks = [1, 2, 3, 4, 5].map((id) => info("x", id, `t${id}`, id <= 3 ? 10 : undefined))
    feed(view, [
      ...tasks.map((task) => ({ _tag: "Submitted" as const, task })),
      ...tasks.slice(0, 3).map((task) => ({ _tag: "Started" as const, task })),
      { _tag: "Ended", task: tasks[0]!, outcome: "success", endedAt: 500 },
      { _tag: "Ended", task: tasks[1]!, outcome: "failure", endedAt: 600 }
    ])
    assert.strictEqual(
      LiveView.bar(view, 2000, 10),
      "[####------] 2/5  done 1  running 1  queued 2  failed 1  1.0 tasks/s"
    )
    assert.strictEqual(LiveView.line(view, 2000), "progress: 2/5 done=1 running=1 queued=2 failed=1 1.0 tasks/s")
  })

  it("a gap in an executor's sequence shows as dropped events", () => {
    const view = LiveView.empty(0)
    const task = info("x", 1, "t", 0)
    LiveView.apply(view, { _tag: "Submitted", sequence: 1, task })
    LiveView.apply(view, { _tag: "Ended", sequence: 5, task, outcome: "success", endedAt: 1 })
    assert.strictEqual(view.dropped, 3)
    assert.include(LiveView.bar(view, 1000), "(3 events dropped)")
  })

  it("the frame has the title, the bar and the tree, cut at maxLines", () => {
    const view = LiveView.empty(0)
    feed(view, [1, 2, 3].flatMap((id) => {
      const task = info("x", id, `t${id}`, 0)
      return [{ _tag: "Submitted" as const, task }, { _tag: "Started" as const, task }]
    }))
    assert.strictEqual(
      LiveView.frame(view, 1000, "title", 2),
      [
        "title",
        LiveView.bar(view, 1000),
        "",
        "t1  (x#1 1000 ms)",
        "t2  (x#2 1000 ms)",
        "… 1 more"
      ].join("\n")
    )
    assert.include(LiveView.frame(LiveView.empty(0), 0, "title"), "(nothing running)")
  })

  it.live("follow draws plain lines from a real executor when the output is not a terminal", () =>
    Effect.gen(function*() {
      const written: Array<string> = []
      const gate = yield* Deferred.make<void>()
      yield* BackgroundExecutor.scoped((executor) =>
        Effect.gen(function*() {
          const view = yield* Effect.forkChild(
            LiveView.follow([executor], {
              title: "t",
              output: { tty: false, write: (text) => written.push(text) },
              every: 5
            }),
            { startImmediately: true }
          )
          yield* executor.submit(Deferred.await(gate))
          yield* executor.submit(Effect.fail("boom"), { reraiseOnExit: false })
          yield* Effect.sleep(30)
          yield* Deferred.succeed(gate, undefined)
          yield* executor.awaitIdle
          yield* Effect.sleep(30)
          yield* Fiber.interrupt(view)
        }), { maxConcurrency: 1 })
      assert.isTrue(written.every((text) => text.startsWith("progress: ") && text.endsWith("\n")))
      assert.isTrue(written.some((text) => text.startsWith("progress: 0/2 done=0 running=1 queued=1 failed=0")))
      assert.strictEqual(written.at(-1)!.replace(/ [\d.]+ tasks\/s\n$/, ""),
        "progress: 2/2 done=1 running=0 queued=0 failed=1")
      // a line only when the counts change
      assert.strictEqual(new Set(written.map((text) => text.replace(/ [\d.]+ tasks\/s\n$/, ""))).size, written.length)
    }))

  it.live("in a terminal, follow redraws the frame in place", () =>
    Effect.gen(function*() {
      const written: Array<string> = []
      yield* BackgroundExecutor.scoped((executor) =>
        Effect.gen(function*() {
          const view = yield* Effect.forkChild(
            LiveView.follow([executor], {
              title: "live",
              output: { tty: true, write: (text) => written.push(text) },
              every: 5
            }),
            { startImmediately: true }
          )
          yield* executor.submit(Effect.sleep(40), { name: "sleeper" })
          yield* Effect.sleep(20)
          yield* Fiber.interrupt(view)
        })
      )
      assert.isAtLeast(written.length, 2)
      assert.isTrue(written.every((text) => text.startsWith("\x1b[H\x1b[Jlive\n")))
      assert.isTrue(written.some((text) => /\nsleeper {2}\(default#1 \d+ ms\)\n/.test(text)))
    }))
})

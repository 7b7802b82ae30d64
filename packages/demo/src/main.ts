/**
 * taskscope demo: crawl a small in-memory site with a bounded executor.
 *
 * What to watch for in the output:
 * - every page is fetched by a task; a task submits one task per new link it
 *   finds (tasks spawn tasks), and at most 2 fetches run at once;
 * - a heartbeat task, submitted with `cancelOnExit`, reports progress until
 *   the crawl's scope ends, and is then interrupted for us;
 * - one page is broken: its task fails, the failure comes back as a typed
 *   `TaskFailedError` naming the task, and we handle it;
 * - then the pages are fingerprinted, a CPU-bound job, on a pool of two
 *   worker threads (`WorkerExecutor`), with the same submit options and exit
 *   rules.
 *
 * Run it with `npm start` (or `pnpm demo`) at the repository root.
 */
import { NodeRuntime } from "@effect/platform-node"
import { BackgroundExecutor, ExecutorError, Task } from "@taskscope/executor"
import { WorkerExecutor } from "@taskscope/node"
import { Console, Data, Effect, Schedule } from "effect"
import { Worker } from "node:worker_threads"
import { tasks } from "./tasks.ts"

// -----------------------------------------------------------------------------
// A tiny "web": pages, their links, and how long each takes to fetch.
// -----------------------------------------------------------------------------

const site: Record<string, { readonly links: ReadonlyArray<string>; readonly ms: number }> = {
  "/": { links: ["/docs", "/blog", "/about"], ms: 40 },
  "/docs": { links: ["/docs/install", "/docs/api", "/"], ms: 60 },
  "/docs/install": { links: ["/docs"], ms: 30 },
  "/docs/api": { links: ["/docs/api/executor", "/docs/api/task", "/broken"], ms: 50 },
  "/docs/api/executor": { links: ["/docs/api"], ms: 70 },
  "/docs/api/task": { links: ["/docs/api"], ms: 20 },
  "/blog": { links: ["/blog/2026/launch", "/blog/2026/bench"], ms: 45 },
  "/blog/2026/launch": { links: ["/", "/about"], ms: 35 },
  "/blog/2026/bench": { links: ["/docs/api"], ms: 55 },
  "/about": { links: [], ms: 25 }
}

class PageNotFound extends Data.TaggedError("PageNotFound")<{ readonly url: string }> {
  override get message() {
    return `404 for ${this.url}`
  }
}

/** "Fetches" a page: waits its latency, then returns its links. */
const fetchPage = (url: string) =>
  Effect.gen(function*() {
    const page = site[url]
    yield* Effect.sleep(page?.ms ?? 15)
    if (page === undefined) return yield* new PageNotFound({ url })
    return page.links
  })

// -----------------------------------------------------------------------------
// The crawl
// -----------------------------------------------------------------------------

let inFlight = 0
let peak = 0
const seen = new Set<string>(["/"])

/** A task per page; it submits a task per link nobody has seen yet. */
const visit = (
  url: string,
  depth: number
): Effect.Effect<void, PageNotFound | ExecutorError.ExecutorClosedError, BackgroundExecutor.BackgroundExecutor> =>
  Effect.gen(function*() {
    inFlight++
    peak = Math.max(peak, inFlight)
    const links = yield* fetchPage(url).pipe(Effect.ensuring(Effect.sync(() => inFlight--)))
    yield* Console.log(`${"  ".repeat(depth)}fetched ${url} -> ${links.length} link(s)`)
    for (const link of links) {
      if (seen.has(link)) continue
      seen.add(link)
      // the child inherits this task's context, so it lands in the same executor
      yield* BackgroundExecutor.submit(visit(link, depth + 1), { name: `fetch ${link}` })
    }
  })

/** Reports the crawler's counters until it is interrupted. */
const heartbeat = (crawler: BackgroundExecutor.Executor) =>
  crawler.stats.pipe(
    Effect.flatMap((s) =>
      Console.log(`  [heartbeat] running=${s.running} queued=${s.queued} done=${s.succeeded} failed=${s.failed}`)
    ),
    Effect.repeat(Schedule.spaced("60 millis"))
  )

// -----------------------------------------------------------------------------
// Running it
// -----------------------------------------------------------------------------

const main = Effect.gen(function*() {
  yield* Console.log("taskscope demo: crawling an in-memory site, at most 2 fetches at once\n")
  const outcome = yield* BackgroundExecutor.scoped((monitor) =>
    // the crawler: a bounded executor whose body only starts the crawl
    BackgroundExecutor.scoped((crawler) =>
      Effect.gen(function*() {
        yield* crawler.submit(visit("/", 0), { name: "fetch /" })
        // never ends by itself: cancelOnExit stops it when the monitor's scope ends
        yield* monitor.submit(heartbeat(crawler), { name: "heartbeat", cancelOnExit: true })
        // The body returns at once. Closing the crawler waits for every page
        // task, including the children they submit while it closes.
      }), { maxConcurrency: 2 })
  ).pipe(
    Effect.as("every page task succeeded"),
    Effect.catchTag("TaskFailedError", (error: ExecutorError.TaskFailedError) =>
      Effect.succeed(
        `the crawl ended with a typed TaskFailedError, handled here:\n` +
          `  task:   ${error.taskName}\n` +
          `  reason: ${error.message}\n` +
          `  all failed tasks: ${error.failures.map((f) => f.taskName).join(", ")}\n` +
          `  (the heartbeat was interrupted by cancelOnExit: not a failure)`
      ))
  )
  yield* Console.log(`\ncrawl done: ${seen.size} urls seen, at most ${peak} fetches ran at once (bound: 2)`)
  yield* Console.log(outcome)

  // CPU-bound work goes to threads: fingerprint every page on two workers.
  yield* Console.log("\nfingerprinting the pages on 2 worker threads (CPU-bound)")
  const started = Date.now()
  const prints = yield* WorkerExecutor.scoped(tasks, (pool) =>
    Effect.gen(function*() {
      const jobs = yield* Effect.forEach(
        Object.keys(site),
        (url) => pool.submit("fingerprint", { url, rounds: 2_000_000 }, { name: `fingerprint ${url}` })
      )
      return yield* Effect.forEach(jobs, (job) => Effect.map(Task.join(job), (print) => `  ${print}  ${job.name}`))
    }), { spawn: () => new Worker(new URL("./worker.ts", import.meta.url)), maxConcurrency: 2 })
  yield* Console.log(prints.join("\n"))
  yield* Console.log(
    `${prints.length} pages fingerprinted in ${Date.now() - started} ms; the threads ended with the scope`
  )
})

NodeRuntime.runMain(main)

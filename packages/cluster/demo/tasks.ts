/**
 * The demo's task set, imported by the submitter (demo/main.ts) and by the
 * runner processes (demo/runner.ts).
 */
import * as TaskSet from "@taskscope/executor/TaskSet"
import { Context, Effect, Schedule, Schema } from "effect"

/** The name of the runner process a task runs in: a service only runners provide. */
export class RunnerName extends Context.Service<RunnerName, string>()("demo/RunnerName") {}

export class PageNotFound extends Schema.TaggedError<PageNotFound>()("PageNotFound", { url: Schema.String }) {}

export const tasks = TaskSet.make("demo/crawl", {
  /** "Fetches" a page: takes `ms`, fails for /missing, says which runner did it. */
  fetch: TaskSet.task({
    payload: Schema.Struct({ url: Schema.String, ms: Schema.Number }),
    success: Schema.Struct({ url: Schema.String, runner: Schema.String, bytes: Schema.Number }),
    error: PageNotFound,
    run: ({ ms, url }) =>
      Effect.gen(function*() {
        const runner = yield* RunnerName
        yield* Effect.log(`fetching ${url}`)
        yield* Effect.sleep(ms)
        if (url.endsWith("/missing")) return yield* new PageNotFound({ url })
        return { url, runner, bytes: 1000 + url.length * 37 }
      })
  }),
  /** Reports every two seconds until it is interrupted, where it runs. */
  heartbeat: TaskSet.task({
    payload: Schema.Void,
    success: Schema.Void,
    run: () =>
      Effect.log("heartbeat").pipe(
        Effect.repeat(Schedule.spaced("2 seconds")),
        Effect.asVoid,
        Effect.onInterrupt(() => Effect.log("heartbeat interrupted here, by the submitter's exit rules"))
      )
  })
})

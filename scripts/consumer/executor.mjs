// (a) A plain-JS ESM program, as a user writes it after `npm i @taskscope/executor effect`:
// no TypeScript, no build step, run with `node executor.mjs`.
import { BackgroundExecutor, Task } from "@taskscope/executor"
import { Effect } from "effect"

const fetchPage = (url) => Effect.succeed(`<html>${url}</html>`).pipe(Effect.delay("5 millis"))

const program = BackgroundExecutor.scoped(
  Effect.gen(function*() {
    const pages = yield* Effect.forEach(
      ["/a", "/b", "/c"],
      (url) => BackgroundExecutor.submit(fetchPage(url), { name: `fetch ${url}` })
    )
    yield* BackgroundExecutor.submit(Effect.fail("boom"), { name: "broken", reraiseOnExit: false })
    const stats = yield* BackgroundExecutor.stats
    return { pages: yield* Effect.forEach(pages, Task.join), submitted: stats.submitted }
  }),
  { maxConcurrency: 2 }
)

const result = await Effect.runPromise(program)
console.log(JSON.stringify(result))

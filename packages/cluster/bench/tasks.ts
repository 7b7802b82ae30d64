/** The benchmark's task set: a tiny task, and a long one whose starts the runners report. */
import * as TaskSet from "@taskscope/executor/TaskSet"
import { Effect, Schema } from "effect"
import { now, report } from "./ipc.ts"

export const tasks = TaskSet.make("bench/cluster", {
  echo: TaskSet.task({ payload: Schema.Number, success: Schema.Number, run: (i) => i }),
  long: TaskSet.task({
    payload: Schema.Struct({ key: Schema.String, ms: Schema.Number }),
    success: Schema.String,
    run: ({ key, ms }) =>
      Effect.andThen(Effect.sync(() => report({ event: "start", key, t: now() })), Effect.as(Effect.sleep(ms), key))
  })
})

// (c) The task set, shared by the main thread and the worker entry: plain JS.
import * as TaskSet from "@taskscope/node/TaskSet"
import * as Schema from "effect/Schema"

export const tasks = TaskSet.make("consumer/tasks", {
  fib: TaskSet.task({
    payload: Schema.Number,
    success: Schema.Number,
    run: (n) => {
      let [a, b] = [0, 1]
      for (let i = 0; i < n; i++) [a, b] = [b, a + b]
      return a
    }
  })
})

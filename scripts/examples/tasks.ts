// The task set the JSDoc examples of @taskscope/node and @taskscope/cluster import as "./tasks.ts",
// registered as the program's task set (see `WorkerExecutor.Register`, `ClusterExecutor.Register`). The
// check of the examples copies it beside them.
import { TaskSet } from "@taskscope/node"
import { Schema } from "effect"

export class TooBig extends Schema.TaggedError<TooBig>()("TooBig", { n: Schema.Number }) {}

export const tasks = TaskSet.make("app/Tasks", {
  fib: TaskSet.task({
    payload: Schema.Number,
    success: Schema.Number,
    error: TooBig,
    run: (n) => {
      if (n > 90) throw new TooBig({ n })
      let [a, b] = [0, 1]
      for (let i = 0; i < n; i++) [a, b] = [b, a + b]
      return a
    }
  })
})

declare module "@taskscope/node/WorkerExecutor" {
  interface Register {
    readonly taskSet: typeof tasks
  }
}

declare module "@taskscope/cluster/ClusterExecutor" {
  interface Register {
    readonly taskSet: typeof tasks
  }
}

/** A runner process of the demo: serves the crawl tasks until it is killed. */
import { NodeRuntime } from "@effect/platform-node"
import { Layer, Logger } from "effect"
import { Cluster, ClusterRunner } from "../src/index.ts"
import { RunnerName, tasks } from "./tasks.ts"

const name = process.env.RUNNER_NAME!

// The demo holds this process's stdin: when it closes (the demo ended, however), shut down gracefully.
process.stdin.on("end", () => process.kill(process.pid, "SIGTERM"))
process.stdin.resume()

Layer.launch(
  ClusterRunner.layer(tasks, { concurrency: 4 }).pipe(
    Layer.provide(Layer.succeed(RunnerName, name)),
    Layer.provide(Cluster.layerPostgres({
      url: process.env.DATABASE_URL!,
      runner: { host: "127.0.0.1", port: Number(process.env.RUNNER_PORT) }
    })),
    Layer.provide(Logger.layer([Logger.make(({ message }) => {
      const text = Array.isArray(message) ? message.join(" ") : String(message)
      if (text.startsWith("fetching") || text.startsWith("heartbeat")) console.log(text)
    })]))
  )
).pipe(NodeRuntime.runMain)

/**
 * A worker process of the benchmark, for one of the three systems compared
 * (argv[2]: taskscope | graphile-worker | pg-boss), on the database at
 * DATABASE_URL, running CONCURRENCY jobs at once. The peers' workers report
 * each job's end (and start) to the benchmark over IPC; taskscope's results
 * reach the benchmark through the cluster itself.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Layer } from "effect"
import { Logger as GraphileLogger, run as runGraphile } from "graphile-worker"
import { PgBoss } from "pg-boss"
import { Cluster, ClusterRunner } from "../src/index.ts"
import { now, report } from "./ipc.ts"
import { tasks } from "./tasks.ts"

const system = process.argv[2]
const url = process.env.DATABASE_URL!
const concurrency = Number(process.env.CONCURRENCY ?? "10")

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const job = async (payload: { key: string; ms?: number }) => {
  if (payload.ms !== undefined) {
    report({ event: "start", key: payload.key, t: now() })
    await sleep(payload.ms)
  }
  report({ event: "done", key: payload.key, t: now() })
}

switch (system) {
  case "taskscope": {
    Layer.launch(
      ClusterRunner.layer(tasks, { concurrency }).pipe(
        Layer.provide(Cluster.layerPostgres({
          url,
          runner: { host: "127.0.0.1", port: Number(process.env.RUNNER_PORT) }
        }))
      )
    ).pipe(NodeRuntime.runMain)
    break
  }
  case "graphile-worker": {
    await runGraphile({
      connectionString: url,
      concurrency,
      noHandleSignals: false,
      pollInterval: 2000,
      taskList: { job: async (payload) => job(payload as { key: string; ms?: number }) },
      logger: new GraphileLogger(() => () => {})
    })
    report({ event: "ready", key: "", t: now() })
    break
  }
  case "pg-boss": {
    const boss = new PgBoss({ connectionString: url, useListenNotify: true })
    boss.on("error", () => {})
    await boss.start()
    await boss.createQueue("job", { notify: true }).catch(() => {})
    await boss.work<{ key: string; ms?: number }>(
      "job",
      { batchSize: concurrency, burstWhenBatchFull: true, pollingIntervalSeconds: 0.5 },
      async (jobs) => {
        await Promise.all(jobs.map((j) => job(j.data)))
      }
    )
    report({ event: "ready", key: "", t: now() })
    break
  }
  default:
    throw new Error(`worker.ts: unknown system ${JSON.stringify(system)}`)
}

// The worker thread's entry module: serve the demo's task set.
import * as WorkerRunner from "@taskscope/node/WorkerRunner"
import { tasks } from "./tasks.ts"

WorkerRunner.serve(tasks)

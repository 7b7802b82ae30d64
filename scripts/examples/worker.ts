// The worker entry the JSDoc examples of @taskscope/node spawn as "./worker.ts".
import { WorkerRunner } from "@taskscope/node"
import { tasks } from "./tasks.ts"

WorkerRunner.serve(tasks)

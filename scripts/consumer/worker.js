// (c) The worker entry: a plain .js file importing the installed package.
import * as WorkerRunner from "@taskscope/node/WorkerRunner"
import { tasks } from "./tasks.js"

WorkerRunner.serve(tasks)

/**
 * The peers: what the runner and the report know of each, and a loader for
 * the in-process implementations (effect-peers.ts, promise-peers.ts). Every
 * peer runs a workload of n tasks at concurrency 100 with the same task bodies
 * (see workloads.ts), in the idiomatic way of its API to submit, wait and cancel.
 */
import type { Counter, WorkloadId } from "./workloads.ts"

/** Callbacks from a running workload to the measuring process. */
export interface Hooks {
  /** Called once, synchronously, right after the last submission returned. */
  readonly submitted: () => void
}

/**
 * Runs workload `w` with `n` tasks, each counting itself in `counter` when it
 * ends; resolves when the workload is done ("memory": never, the process exits).
 */
export type RunWorkload = (w: WorkloadId, n: number, counter: Counter, hooks: Hooks) => Promise<void>

/** A peer as the runner and the report see it. */
export interface Peer {
  /** Stable id, used on the command line of child processes. */
  readonly id: string
  /** Name in tables and charts. */
  readonly label: string
  /** Runs in-process (node) or as a python3 subprocess. */
  readonly runtime: "node" | "python"
  /** Largest size this peer runs per workload, with the reason; larger runs are skipped. */
  readonly caps?: Partial<Record<WorkloadId, { readonly max: number; readonly why: string }>>
  /** Workloads this peer does not take part in, with the reason. */
  readonly skips?: Partial<Record<WorkloadId, string>>
  /** What the peer does in workloads where its mechanism differs from taskscope's. */
  readonly note?: string
}

/** The id of taskscope's default configuration, which all ratios compare against. */
export const TASKSCOPE = "taskscope"

/** Issue 10's variants of taskscope: metrics off, a span per task, a follower of `changes`. */
export const METRICS_OFF = "taskscope-metrics-off"
export const TRACING = "taskscope-tracing"
export const FOLLOWED = "taskscope-followed"

const OBSERVABILITY_ONLY = {
  close: "observability costs are measured on (a) and (b)",
  memory: "observability costs are measured on (a) and (b)"
}

const QUADRATIC = "Effect 4.1's Semaphore scans its whole waiter set on every take and copies it on every " +
  "release: quadratic once tasks queue"

/**
 * The id of taskscope at another git revision (`--baseline REF`): the same
 * workloads in the same run, to tell what a change costs on a busy machine.
 * Its sources are read from the folder in `TASKSCOPE_BASELINE_DIR`.
 */
export const TASKSCOPE_BASELINE = "taskscope-baseline"

/** Every peer, in report order. */
export const PEERS: ReadonlyArray<Peer> = [
  { id: TASKSCOPE, label: "taskscope", runtime: "node" },
  {
    id: TASKSCOPE_BASELINE,
    label: "taskscope (baseline)",
    runtime: "node",
    note: "the executor at the revision given by --baseline (see the plan line), run in the same children and order"
  },
  {
    id: "taskscope-maxqueue",
    label: "taskscope maxQueue=1000",
    runtime: "node",
    skips: {
      trivial: "backpressure is shown on I/O-like tasks",
      close: "submit suspends at maxQueue, so 1e5 held tasks cannot be queued"
    },
    note: "in (d) its tasks are I/O-like (held ones would block submit forever): the row shows what a producer " +
      "holds once it has submitted n tasks"
  },
  {
    id: "taskscope-ordered",
    label: "taskscope priority(8)+keys(1000)",
    runtime: "node",
    note: "every task has one of 8 priorities and one of 1,000 keys, maxConcurrencyPerKey 1: the ordered queue " +
      "(a heap per key, a heap of runnable keys) instead of the FIFO fast path"
  },
  {
    id: METRICS_OFF,
    label: "taskscope metrics: false",
    runtime: "node",
    skips: OBSERVABILITY_ONLY,
    note: "the default configuration minus its metric series: what the 1.15× target of issue 10 compares against"
  },
  {
    id: TRACING,
    label: "taskscope tracing: true",
    runtime: "node",
    skips: OBSERVABILITY_ONLY,
    note: "a span per task, unnamed ones included (the default gives spans to named tasks only)"
  },
  {
    id: FOLLOWED,
    label: "taskscope + changes follower",
    runtime: "node",
    skips: OBSERVABILITY_ONLY,
    note: "a fiber consumes executor.changes: every task is timed and makes three events"
  },
  {
    id: "forEach",
    label: "Effect.forEach",
    runtime: "node",
    note:
      "pull-based over an array: not a background executor, holds no queued tasks; (c) interrupts the forked forEach"
  },
  {
    id: "naive",
    label: "naive Effect (FiberSet+Semaphore)",
    runtime: "node",
    caps: {
      suspend: { max: 2e4, why: QUADRATIC },
      close: { max: 2e4, why: QUADRATIC },
      memory: { max: 2e4, why: QUADRATIC }
    },
    note: "a fiber per task, parked on Effect 4.1's Semaphore while queued"
  },
  {
    id: "p-limit",
    label: "p-limit",
    runtime: "node",
    note: "(c) uses clearQueue() and cancels the running tasks; cleared tasks' promises stay pending forever " +
      "(its default), so its close does no per-task work, unlike taskscope whose every handle ends interrupted"
  },
  {
    id: "p-queue",
    label: "p-queue",
    runtime: "node",
    note: "(c) uses clear() and cancels the running tasks; each cleared task's promise rejects with an AbortError"
  },
  {
    id: "pool",
    label: "promise-worker pool",
    runtime: "node",
    note:
      "100 async workers pulling from a shared index: the plain-JS floor; holds no queued tasks; (c) sets a stop flag"
  },
  {
    id: "asyncio",
    label: "python asyncio (original design)",
    runtime: "python",
    caps: {
      trivial: { max: 1e5, why: "about 10 µs/task: 1e6 would take most of the time budget" },
      suspend: { max: 1e5, why: "about 10 µs/task: 1e6 would take most of the time budget" },
      memory: { max: 1e5, why: "1e6 asyncio tasks take about 1 GB and 15 s per run" }
    },
    note: "asyncio.Semaphore around each coroutine, a task per submission; its own timing, in its own process"
  }
]

/** Looks up a peer by id. */
export const peer = (id: string): Peer => {
  const found = PEERS.find((p) => p.id === id)
  if (found === undefined) throw new Error(`unknown peer: ${id}`)
  return found
}

/** The baseline's `BackgroundExecutor` module, from `TASKSCOPE_BASELINE_DIR`. */
const loadBaseline = async (): Promise<typeof import("@taskscope/executor").BackgroundExecutor> => {
  const dir = process.env.TASKSCOPE_BASELINE_DIR
  if (dir === undefined) throw new Error(`${TASKSCOPE_BASELINE} needs TASKSCOPE_BASELINE_DIR (run with --baseline REF)`)
  const { pathToFileURL } = await import("node:url")
  return (await import(pathToFileURL(`${dir}/index.ts`).href)).BackgroundExecutor
}

/** Loads the in-process implementation of a node peer (only the libraries it needs). */
export const loadRunner = async (id: string): Promise<RunWorkload> => {
  switch (id) {
    case TASKSCOPE:
      return (await import("./effect-peers.ts")).taskscope()
    case TASKSCOPE_BASELINE:
      return (await import("./effect-peers.ts")).taskscope({}, await loadBaseline())
    case "taskscope-maxqueue":
      return (await import("./effect-peers.ts")).taskscope({ maxQueue: 1000 })
    case "taskscope-ordered":
      return (await import("./effect-peers.ts")).taskscopeOrdered
    case METRICS_OFF:
      return (await import("./effect-peers.ts")).taskscope({ metrics: false })
    case TRACING:
      return (await import("./effect-peers.ts")).taskscope({ tracing: true })
    case FOLLOWED:
      return (await import("./effect-peers.ts")).taskscope({ followed: true })
    case "forEach":
      return (await import("./effect-peers.ts")).forEach
    case "naive":
      return (await import("./effect-peers.ts")).naive
    case "p-limit":
      return (await import("./promise-peers.ts")).limit
    case "p-queue":
      return (await import("./promise-peers.ts")).queue
    case "pool":
      return (await import("./promise-peers.ts")).pool
    default:
      throw new Error(`no node peer named ${JSON.stringify(id)}`)
  }
}

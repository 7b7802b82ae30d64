/**
 * The workloads of the suite and the task bodies they are made of.
 *
 * Every peer runs the same workloads with the same kind of task: a trivial
 * task only counts itself, an I/O-like task suspends once on `setImmediate`
 * then counts itself, a held task waits until it is cancelled.
 */
/** How many tasks may run at once, for every peer. */
export const CONCURRENCY = 100

/** Priority levels and keys of the ordered taskscope peer. */
export const LEVELS = 8
export const KEYS = 1000

/**
 * The submit options of the ordered peer, made once (as a program would
 * keep them): task i takes entry i % 8000, so it gets priority i % 8 and key
 * (i / 8) % 1000, and neighbours differ in both.
 */
export const orderedOptions = (cancelOnExit = false) =>
  Array.from({ length: LEVELS * KEYS }, (_, i) => ({
    priority: i % LEVELS,
    key: `host-${Math.floor(i / LEVELS)}`,
    cancelOnExit
  }))

/** The workload identifiers, in report order. */
export type WorkloadId = "trivial" | "suspend" | "close" | "memory"

/** A workload: what it measures and the sizes it runs at. */
export interface Workload {
  readonly id: WorkloadId
  /** Short label used in tables, e.g. "(a) trivial tasks". */
  readonly label: string
  /** One sentence on what is measured. */
  readonly description: string
  /** Sizes of a full run. */
  readonly sizes: ReadonlyArray<number>
  /** Sizes of a `--quick` run. */
  readonly quickSizes: ReadonlyArray<number>
}

/** The four workloads of issue 4. */
export const WORKLOADS: ReadonlyArray<Workload> = [
  {
    id: "trivial",
    label: "(a) trivial tasks",
    description: "submit n tasks that do nothing, wait until all are done",
    sizes: [1e4, 1e5, 1e6],
    quickSizes: [1e4, 1e5]
  },
  {
    id: "suspend",
    label: "(b) I/O-like tasks",
    description: "submit n tasks that each suspend once on setImmediate, wait until all are done",
    sizes: [1e4, 1e5, 1e6],
    quickSizes: [1e4, 1e5]
  },
  {
    id: "close",
    label: "(c) close with queued cancel-on-exit tasks",
    description:
      "submit n tasks that wait until cancelled (100 run, the rest queue), then close: time from close to closed",
    sizes: [1e4, 1e5],
    quickSizes: [1e4, 1e5]
  },
  {
    id: "memory",
    label: "(d) memory at n submitted tasks",
    description:
      "submit n tasks that wait forever (100 run, the rest queue); heap growth (after gc) and peak RSS once all are submitted",
    sizes: [2e4, 1e6],
    quickSizes: [2e4]
  }
]

/** Looks up a workload by id. */
export const workload = (id: WorkloadId): Workload => {
  const found = WORKLOADS.find((w) => w.id === id)
  if (found === undefined) throw new Error(`unknown workload: ${id}`)
  return found
}

/** Counts finished tasks, so that a run can check that every task ran. */
export interface Counter {
  done: number
}

/** A shared promise that never settles: what a held task waits on in "memory". */
const forever = new Promise<void>(() => {})

/**
 * The task of workload `w` as a promise-returning function, the same three
 * kinds; a held task in "close" ends when `cancelled` resolves.
 */
export const promiseTask = (w: WorkloadId, counter: Counter, cancelled: Promise<void>): () => unknown => {
  if (w === "trivial") {
    return () => {
      counter.done++
    }
  }
  if (w === "suspend") {
    return () =>
      new Promise<void>((resolve) =>
        setImmediate(() => {
          counter.done++
          resolve()
        })
      )
  }
  return w === "close" ? () => cancelled : () => forever
}

/** A promise that a workload resolves once, e.g. to cancel held tasks. */
export interface Signal {
  readonly promise: Promise<void>
  readonly fire: () => void
}

/** Makes a {@link Signal}. */
export const makeSignal = (): Signal => {
  let fire!: () => void
  const promise = new Promise<void>((resolve) => {
    fire = resolve
  })
  return { promise, fire }
}

/** How worker processes of the benchmark report to it: one clock, and IPC messages. */
import { performance } from "node:perf_hooks"

/** Milliseconds on a clock shared by every process of this machine, to a fraction of a millisecond. */
export const now = (): number => performance.timeOrigin + performance.now()

export interface Event {
  readonly event: "start" | "done" | "ready"
  readonly key: string
  readonly t: number
  readonly runner?: string
}

/** Sends an event to the parent (the benchmark), when there is one. */
export const report = (event: Omit<Event, "runner">): void => {
  process.send?.({ ...event, runner: process.env.WORKER_NAME })
}

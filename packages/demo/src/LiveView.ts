/**
 * The demo's live view of running executors, built from their `changes`:
 * a tree of the running tasks under the task that spawned them (across
 * executors), and a progress bar with done / running / queued / failed
 * counts and throughput.
 *
 * Pure functions over a {@link View}: `apply` folds an event in, `frame`
 * renders what a terminal redraws a few times a second, `line` the plain
 * progress line written when the output is not a terminal. `follow` wires
 * them to executors.
 */
import type { BackgroundExecutor, TaskEvent } from "@taskscope/executor"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"

/** What the view knows, folded from events. */
export interface View {
  /** When the view started (epoch ms). */
  readonly since: number
  submitted: number
  succeeded: number
  failed: number
  interrupted: number
  /** Tasks holding a permit, by `executor#id`. */
  readonly running: Map<string, TaskEvent.TaskInfo>
  /** Queued tasks, by `executor#id`. */
  readonly queued: Set<string>
  /** Events lost by a subscriber that fell behind (gaps in `sequence`), per executor. */
  dropped: number
  readonly last: Map<string, number>
}

/** An empty view started at `since`. */
export const empty = (since: number): View => ({
  since,
  submitted: 0,
  succeeded: 0,
  failed: 0,
  interrupted: 0,
  running: new Map(),
  queued: new Set(),
  dropped: 0,
  last: new Map()
})

const keyOf = (ref: TaskEvent.TaskRef): string => `${ref.executor}#${ref.id}`

/** Folds one event into the view. */
export const apply = (view: View, event: TaskEvent.TaskEvent): void => {
  const executor = event.task.executor
  const previous = view.last.get(executor) ?? 0
  if (event.sequence > previous + 1) view.dropped += event.sequence - previous - 1
  view.last.set(executor, event.sequence)
  const key = keyOf(event.task)
  switch (event._tag) {
    case "Submitted":
      view.submitted++
      view.queued.add(key)
      return
    case "Started":
      view.queued.delete(key)
      view.running.set(key, event.task)
      return
    case "Ended":
      view.queued.delete(key)
      view.running.delete(key)
      if (event.outcome === "success") view.succeeded++
      else if (event.outcome === "failure") view.failed++
      else view.interrupted++
  }
}

/** Tasks that have ended, whatever the outcome. */
const finished = (view: View): number => view.succeeded + view.failed + view.interrupted

/** The progress bar: `[####------] 12/40  done 10  running 2  queued 26  failed 2  31.4 tasks/s`. */
export const bar = (view: View, now: number, width = 24): string => {
  const total = view.submitted
  const end = finished(view)
  const filled = total === 0 ? 0 : Math.round((end / total) * width)
  const seconds = Math.max((now - view.since) / 1000, 1e-3)
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${end}/${total}` +
    `  done ${view.succeeded}  running ${view.running.size}  queued ${view.queued.size}  failed ${view.failed}` +
    (view.interrupted > 0 ? `  interrupted ${view.interrupted}` : "") +
    `  ${(end / seconds).toFixed(1)} tasks/s` +
    (view.dropped > 0 ? `  (${view.dropped} events dropped)` : "")
}

/**
 * The running tasks as a tree: each under the running task that spawned it;
 * a task whose spawner is not running (it ended, or was never a task) is a
 * root. Siblings in id order; each line names the task, where it runs and
 * for how long.
 */
export const tree = (view: View, now: number): Array<string> => {
  const children = new Map<string, Array<TaskEvent.TaskInfo>>()
  const roots: Array<TaskEvent.TaskInfo> = []
  for (const info of view.running.values()) {
    const parent = info.parent === undefined ? undefined : keyOf(info.parent)
    if (parent !== undefined && view.running.has(parent)) {
      const list = children.get(parent)
      if (list === undefined) children.set(parent, [info])
      else list.push(info)
    } else roots.push(info)
  }
  const order = (a: TaskEvent.TaskInfo, b: TaskEvent.TaskInfo) =>
    a.executor === b.executor ? a.id - b.id : a.executor < b.executor ? -1 : 1
  const lines: Array<string> = []
  const label = (info: TaskEvent.TaskInfo) => {
    const ms = info.startedAt === undefined ? "" : ` ${Math.max(0, Math.round(now - info.startedAt))} ms`
    return `${info.name}  (${info.executor}#${info.id}${ms})`
  }
  const walk = (info: TaskEvent.TaskInfo, prefix: string, last: boolean, root: boolean) => {
    lines.push(root ? label(info) : `${prefix}${last ? "└─ " : "├─ "}${label(info)}`)
    const below = (children.get(keyOf(info)) ?? []).sort(order)
    const next = root ? "" : `${prefix}${last ? "   " : "│  "}`
    below.forEach((child, i) => walk(child, next, i === below.length - 1, false))
  }
  for (const root of roots.sort(order)) walk(root, "", true, true)
  return lines
}

/** What a terminal shows: a title, the bar, the tree (at most `maxLines` tasks). */
export const frame = (view: View, now: number, title: string, maxLines = 20): string => {
  const lines = tree(view, now)
  const shown = lines.length > maxLines ? [...lines.slice(0, maxLines), `… ${lines.length - maxLines} more`] : lines
  return [title, bar(view, now), "", ...(shown.length === 0 ? ["(nothing running)"] : shown)].join("\n")
}

/** The plain progress line for a pipe: the bar without the bar. */
export const line = (view: View, now: number): string => {
  const end = finished(view)
  const seconds = Math.max((now - view.since) / 1000, 1e-3)
  return `progress: ${end}/${view.submitted} done=${view.succeeded} running=${view.running.size} ` +
    `queued=${view.queued.size} failed=${view.failed} ${(end / seconds).toFixed(1)} tasks/s`
}

/** Where the view goes: a terminal (redrawn in place) or a pipe (plain lines). */
export interface Output {
  readonly tty: boolean
  readonly write: (text: string) => void
}

/**
 * Follows `executors` (subscribed before this returns) and draws the view
 * until interrupted: in a terminal, the frame redrawn every `every` ms; in a
 * pipe, a progress line when the counts changed. Draws once more at the end.
 */
export const follow = (
  executors: ReadonlyArray<Pick<BackgroundExecutor.Executor, "changes">>,
  options: { readonly title: string; readonly output: Output; readonly every?: number }
): Effect.Effect<void> =>
  Effect.gen(function*() {
    const view = empty(Date.now())
    for (const executor of executors) {
      yield* Effect.forkChild(Stream.runForEach(executor.changes, (event) => Effect.sync(() => apply(view, event))), {
        startImmediately: true
      })
    }
    const { output, title } = options
    let previous = ""
    const draw = Effect.sync(() => {
      const now = Date.now()
      if (output.tty) {
        // home, clear below, then the frame
        output.write(`\x1b[H\x1b[J${frame(view, now, title)}\n`)
        return
      }
      const text = line(view, now)
      const counts = text.replace(/ [\d.]+ tasks\/s$/, "")
      if (counts !== previous) output.write(`${text}\n`)
      previous = counts
    })
    yield* Effect.ensuring(Effect.repeat(draw, Schedule.spaced(options.every ?? 200)), draw)
  })

/**
 * The demo's CPU-bound work, declared once for both sides of the thread pool:
 * the main thread submits `fingerprint` tasks, worker threads run them.
 */
import * as TaskSet from "@taskscope/node/TaskSet"
import * as Schema from "effect/Schema"

/** Hashes `text` `rounds` times over (FNV-1a): pure CPU work, no I/O. */
const fingerprint = (text: string, rounds: number): string => {
  let hash = 0x811c9dc5
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < text.length; i++) {
      hash ^= text.charCodeAt(i)
      hash = Math.imul(hash, 0x01000193)
    }
    hash ^= round
  }
  return (hash >>> 0).toString(16).padStart(8, "0")
}

export const tasks = TaskSet.make("@taskscope/demo/tasks", {
  fingerprint: TaskSet.task({
    payload: Schema.Struct({ url: Schema.String, rounds: Schema.Number }),
    success: Schema.String,
    run: ({ rounds, url }) => fingerprint(url, rounds)
  })
})

/**
 * The messages of a cluster task's own errors; the task set's errors are
 * `@taskscope/executor/TaskSetError`'s (tested there), which `ClusterError`
 * exports as they are.
 */
import { assert, describe, it } from "@effect/vitest"
import * as TaskSetError from "@taskscope/executor/TaskSetError"
import { ClusterError } from "../src/index.ts"

describe("ClusterError", () => {
  it("messages name the task, its key or runner, and what went wrong", () => {
    assert.strictEqual(
      new ClusterError.TaskDefectError({ task: "f", runner: "localhost:34431", defect: "Error: boom" }).message,
      "Task \"f\" died on runner localhost:34431: Error: boom"
    )
    assert.strictEqual(
      new ClusterError.DeliveryError({ task: "f", key: "k1", reason: "PersistenceError" }).message,
      "Task \"f\" (key \"k1\") could not be delivered: PersistenceError"
    )
    assert.strictEqual(
      new ClusterError.AttemptsExhaustedError({ task: "f", key: "k1", attempts: 3, maxAttempts: 3 }).message,
      "Task \"f\" (key \"k1\") started 3 times and never finished (maxAttempts: 3): each time its runner died or lost its shard with it running"
    )
    assert.include(
      new ClusterError.AttemptsExhaustedError({ task: "f", key: "k1", attempts: 1, maxAttempts: 1 }).message,
      "started once and never finished"
    )
    assert.strictEqual(
      new ClusterError.TaskNotFoundError({ taskSet: "app/Tasks", key: "k9" }).message,
      "No task of key \"k9\" was submitted to task set \"app/Tasks\""
    )
  })

  it("the task set's errors are the classes of @taskscope/executor/TaskSetError", () => {
    assert.strictEqual(ClusterError.UnknownTaskError, TaskSetError.UnknownTaskError)
    assert.strictEqual(ClusterError.InvalidPayloadError, TaskSetError.InvalidPayloadError)
    assert.strictEqual(ClusterError.InvalidResultError, TaskSetError.InvalidResultError)
    const error: ClusterError.ClusterTaskError = new ClusterError.InvalidResultError({
      task: "f",
      part: "error",
      issue: "Expected string"
    })
    assert.instanceOf(error, TaskSetError.InvalidResultError)
    assert.strictEqual(error._tag, "InvalidResultError")
  })
})

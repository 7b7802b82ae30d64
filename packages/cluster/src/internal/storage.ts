/**
 * The storages of `Cluster.layerPostgres`, as Effect's SQL storages make them
 * but for two changes: results saved in one statement (below), and
 * shard-lock checks made in batches ({@link batchingRunnerStorage}).
 *
 * The message storage is Effect's `SqlMessageStorage` (its tables,
 * migrations and queries), with one change: a task's result is
 * saved in one statement. Effect saves a final reply in a transaction of two
 * statements (mark the request processed, insert the reply): four round
 * trips to PostgreSQL on a connection taken for itself. Here one
 * data-modifying `WITH` does both, as atomically: one round trip, on a
 * connection other statements share. The table's unique `(request_id, kind)`
 * still refuses a second result for a request.
 *
 * @internal
 */
import * as NodeCrypto from "@effect/platform-node/NodeCrypto"
import { PersistenceError } from "effect/cluster/ClusterError"
import * as MessageStorage from "effect/cluster/MessageStorage"
import type * as RunnerAddress from "effect/cluster/RunnerAddress"
import * as RunnerStorage from "effect/cluster/RunnerStorage"
import type * as ShardId from "effect/cluster/ShardId"
import * as Snowflake from "effect/cluster/Snowflake"
import * as SqlMessageStorage from "effect/cluster/SqlMessageStorage"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as SqlClient from "effect/sql/SqlClient"

/** `SqlMessageStorage`'s default table prefix. */
const messages = "cluster_messages"
const replies = "cluster_replies"

/** The encoded storage of `SqlMessageStorage`, saving final replies in one statement. */
const encodedStorage = Effect.gen(function*() {
  const encoded = yield* SqlMessageStorage.makeEncoded()
  const sql = (yield* SqlClient.SqlClient).withoutTransforms()
  const saveReply: MessageStorage.Encoded["saveReply"] = (reply) => {
    // stream chunks (no task sends any) keep Effect's own path
    if (reply._tag !== "WithExit") return encoded.saveReply(reply)
    // the reply row as Effect writes it: kind 0 is a final reply (an exit)
    return sql`
      WITH answered AS (
        UPDATE ${sql(messages)} SET processed = TRUE, last_reply_id = ${reply.id}
        WHERE request_id = ${reply.requestId}
      )
      INSERT INTO ${sql(replies)} ${
      sql.insert({
        id: reply.id,
        kind: 0,
        request_id: reply.requestId,
        payload: JSON.stringify(reply.exit),
        sequence: null
      })
    }`.pipe(Effect.asVoid, PersistenceError.refail, Effect.withTracerEnabled(false))
  }
  return { ...encoded, saveReply }
})

/** The message storage on the `SqlClient` in context (PostgreSQL), migrated on first use. */
export const layerPostgresStorage: Layer.Layer<MessageStorage.MessageStorage, never, SqlClient.SqlClient> = Layer
  .effect(
    MessageStorage.MessageStorage,
    Effect.flatMap(encodedStorage, MessageStorage.makeEncoded)
  ).pipe(Layer.provide([Snowflake.layerGenerator, NodeCrypto.layerDigest]))

/**
 * Runner storage whose shard-lock checks are made in batches. Before it
 * stores a task's result, a runner checks that it still holds the task's
 * shard (Effect's fence against a runner that lost its shard answering for
 * it); Effect shares one check among the results of one shard, but checks
 * of different shards wait for each other on the runner's one lock
 * connection, two statements each. Here the checks asked for while one is
 * running are made together, as one check of all their shards, started
 * after each of them was asked for — so each still sees the locks as they
 * are after its own request, as the fence needs.
 */
export const batchingRunnerStorage = (
  storage: RunnerStorage.RunnerStorage["Service"]
): RunnerStorage.RunnerStorage["Service"] => {
  interface Waiter {
    readonly shardIds: ReadonlyArray<ShardId.ShardId>
    readonly resume: (effect: Effect.Effect<Array<ShardId.ShardId>, PersistenceError>) => void
  }
  interface Lane {
    running: boolean
    next: Array<Waiter>
  }
  // one lane per runner address (a process has one)
  const lanes = new Map<string, Lane>()
  const run = (address: RunnerAddress.RunnerAddress, lane: Lane): void => {
    const batch = lane.next
    lane.next = []
    lane.running = true
    const shardIds = new Map<string, ShardId.ShardId>()
    for (const waiter of batch) for (const id of waiter.shardIds) shardIds.set(id.toString(), id)
    Effect.runFork(storage.refresh(address, shardIds.values())).addObserver((exit) => {
      lane.running = false
      for (const waiter of batch) waiter.resume(exit)
      if (lane.next.length > 0) run(address, lane)
    })
  }
  return RunnerStorage.RunnerStorage.of({
    ...storage,
    refresh: (address, ids) => {
      const shardIds = Array.from(ids)
      // the liveness probe of unhealthy lock storage goes on its own
      if (shardIds.length === 0) return storage.refresh(address, shardIds)
      return Effect.callback<Array<ShardId.ShardId>, PersistenceError>((resume) => {
        const key = `${address.host}:${address.port}`
        let lane = lanes.get(key)
        if (lane === undefined) {
          lane = { running: false, next: [] }
          lanes.set(key, lane)
        }
        lane.next.push({ shardIds, resume })
        if (!lane.running) run(address, lane)
      })
    }
  })
}

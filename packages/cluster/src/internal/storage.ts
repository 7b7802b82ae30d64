/**
 * The message storage of `Cluster.layerPostgres`: Effect's `SqlMessageStorage`
 * (its tables, migrations and queries), with one change: a task's result is
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

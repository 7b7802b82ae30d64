/**
 * How many times each stored task has started on the cluster's runners
 * without finishing: what `ClusterRunner.layer`'s `maxAttempts` bounds.
 *
 * A runner that dies — killed, out of memory, or a task that ends the process
 * — leaves its tasks stored, and the next owner of their shards runs them
 * again. A task that is itself the cause would go on killing runner after
 * runner. Counting starts needs a record that outlives the runner: a row per
 * task in {@link TABLE}, written before the task starts, deleted once it has
 * an answer, and counted down again when a live runner stops it (a graceful
 * shutdown, its shard moving away: that start was not its fault).
 *
 * Only PostgreSQL keeps one: in memory the process is the only runner, and a
 * task runs again only when that runner's layer is rebuilt, gracefully.
 *
 * @internal
 */
import type { PersistenceError } from "effect/cluster/ClusterError"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as SqlClient from "effect/sql/SqlClient"
import { withDeadline } from "./storage.ts"

/** The table of the counts, beside Effect's `cluster_messages`. */
export const TABLE = "taskscope_attempts"

/** A store of start counts, per task (its entity type and key). */
export interface Attempts {
  /** Counts a start of the task; the number of its starts, this one included. */
  readonly start: (entity: string, key: string) => Effect.Effect<number, PersistenceError | unknown>
  /** The task has its answer (or was refused): its count is dropped. */
  readonly answered: (entity: string, key: string) => Effect.Effect<void, PersistenceError | unknown>
  /** A live runner stopped the task (its shutdown, its shard moving away): this start does not count. */
  readonly givenBack: (entity: string, key: string) => Effect.Effect<void, PersistenceError | unknown>
}

/** The store of this process's cluster connection: `undefined` where none is kept (in memory). */
export const CurrentAttempts = Context.Reference<Attempts | undefined>("@taskscope/cluster/Attempts", {
  defaultValue: () => undefined
})

/**
 * The store in PostgreSQL, on the `SqlClient` in context; `deadline` bounds
 * each statement (as the message storage's are). Its table is made on first
 * use, by the first runner that counts a start.
 */
export const makePostgres = (
  deadline: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | PersistenceError, R>
): Effect.Effect<Attempts, never, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = (yield* SqlClient.SqlClient).withoutTransforms()
    const create = sql`
      CREATE TABLE IF NOT EXISTS ${sql(TABLE)} (
        entity_type TEXT NOT NULL,
        key TEXT NOT NULL,
        starts INTEGER NOT NULL,
        PRIMARY KEY (entity_type, key)
      )`
    // Made once it worked (a failure, the database away, is tried again at the next start). Two
    // sessions creating the table at once can fail on the catalog's unique index (CREATE TABLE IF
    // NOT EXISTS is not atomic in PostgreSQL): the second try sees the table.
    let made = false
    const ready = Effect.suspend(() =>
      made ? Effect.void : deadline(
        create.pipe(
          Effect.catch(() => create),
          Effect.andThen(Effect.sync(() => {
            made = true
          }))
        )
      )
    )
    return {
      start: (entity, key) =>
        Effect.andThen(
          ready as Effect.Effect<void, PersistenceError | unknown>,
          deadline(sql<{ readonly starts: number }>`
            INSERT INTO ${sql(TABLE)} (entity_type, key, starts) VALUES (${entity}, ${key}, 1)
            ON CONFLICT (entity_type, key) DO UPDATE SET starts = ${sql(TABLE)}.starts + 1
            RETURNING starts`)
        ).pipe(Effect.map((rows) => Number(rows[0]!.starts))),
      answered: (entity, key) =>
        Effect.asVoid(deadline(sql`DELETE FROM ${sql(TABLE)} WHERE entity_type = ${entity} AND key = ${key}`)),
      givenBack: (entity, key) =>
        Effect.asVoid(deadline(sql`
          UPDATE ${sql(TABLE)} SET starts = starts - 1
          WHERE entity_type = ${entity} AND key = ${key} AND starts > 0`))
    }
  })

/** {@link CurrentAttempts} in PostgreSQL, each statement failing past `statementTimeout`. */
export const layerPostgres = (statementTimeout: Duration.Duration): Layer.Layer<never, never, SqlClient.SqlClient> =>
  Layer.effect(
    CurrentAttempts,
    Effect.flatMap(Effect.scope, (scope) => makePostgres(withDeadline(scope, statementTimeout)))
  ) as Layer.Layer<never, never, SqlClient.SqlClient>

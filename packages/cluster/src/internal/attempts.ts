/**
 * How many times each stored task has started on the cluster's runners
 * without finishing: what `ClusterRunner.layer`'s `maxAttempts` bounds.
 *
 * A runner that dies — killed, out of memory, or a task that ends the process
 * — leaves its tasks stored, and the next owner of their shards runs them
 * again. A task that is itself the cause would go on killing runner after
 * runner. Counting starts needs a record that outlives the runner: a row per
 * start in {@link TABLE}, written before the task starts, the task's rows
 * deleted once its answer is stored, and the start's own row deleted when a live
 * runner stops it (a graceful shutdown, its shard moving away: that start was
 * not its fault). A row per start, named by an id of its own, makes writing it
 * safe to repeat: a statement that timed out may still have been applied, and
 * trying it again must not count the start twice. Two starts of one task at
 * the same moment (two runners during a shard handover, each sure it owns the
 * shard) may each count only themselves, as neither sees the other's row yet;
 * both rows stay, so the next start counts them all. And a start whose row
 * is written while the runner shuts down, with the database stalled past
 * `statementTimeout`, may be written after its give-back: it stays counted.
 *
 * Once its answer is stored, not once its function has ended: a runner whose
 * event loop was blocked for longer than `shardLockExpiration` has lost its
 * shards by the time the task's function ends, and its answer is dropped
 * (Effect checks that the runner still holds the shard before it stores a
 * result); the next owner runs the task again, and that start must find the
 * blocked one still counted. (Forgetting the starts when the function ended
 * reset the count at every round, and such a task ran for ever, whatever
 * `maxAttempts`.)
 *
 * Only PostgreSQL keeps one: in memory the process is the only runner, and a
 * task runs again only when that runner's layer is rebuilt, gracefully.
 *
 * @internal
 */
import { PersistenceError } from "effect/cluster/ClusterError"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as SqlClient from "effect/sql/SqlClient"
import * as crypto from "node:crypto"
import { replies, withDeadline } from "./storage.ts"

/** The table of the starts, beside Effect's `cluster_messages`. */
export const TABLE = "taskscope_attempts"

/** Which task: its entity type (the task set), its name and its key, its identity in storage. */
export interface TaskId {
  readonly entity: string
  readonly task: string
  readonly key: string
}

/** A store of the tasks' starts. Each step fails with `PersistenceError` when the database does. */
export interface Attempts {
  /**
   * Counts start `attempt` (an id of its own, see `newAttempt`) of the task;
   * the number of its starts, this one included. Safe to repeat.
   */
  readonly start: (id: TaskId, attempt: string) => Effect.Effect<number, PersistenceError>
  /**
   * Drops the task's starts if its answer (its run's result, a refusal, a cancel) is stored under
   * request `requestId`; whether it is. A runner asks again until it is: the answer is stored after
   * the handler has ended, or never, when the runner lost the task's shard meanwhile.
   */
  readonly answered: (id: TaskId, requestId: string) => Effect.Effect<boolean, PersistenceError>
  /** A live runner stopped start `attempt` (its shutdown, the shard moving away): it does not count. */
  readonly givenBack: (attempt: string) => Effect.Effect<void, PersistenceError>
}

/** The id of a new start. */
export const newAttempt = (): string => crypto.randomUUID()

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
    /** A statement with its deadline, failing with `PersistenceError` (what `rideOutStorage` rides out). */
    const run = <A>(statement: Effect.Effect<A, unknown>): Effect.Effect<A, PersistenceError> =>
      deadline(statement).pipe(
        Effect.mapError((cause) => cause instanceof PersistenceError ? cause : new PersistenceError({ cause })),
        Effect.withTracerEnabled(false)
      )
    const create = sql`
      CREATE TABLE IF NOT EXISTS ${sql(TABLE)} (
        attempt TEXT PRIMARY KEY,
        entity_type TEXT NOT NULL,
        task TEXT NOT NULL,
        key TEXT NOT NULL,
        started_at TIMESTAMPTZ NOT NULL DEFAULT now()
      )`
    const index = sql`CREATE INDEX IF NOT EXISTS ${sql(`${TABLE}_task`)} ON ${sql(TABLE)} (entity_type, task, key)`
    // Made once it worked (a failure, the database away, is tried again at the next start). Two
    // sessions creating the table at once can fail on the catalog's unique index (CREATE TABLE IF
    // NOT EXISTS is not atomic in PostgreSQL): the second try sees the table.
    let made = false
    // Rows a step could not delete (a cancel racing its start's statement, the database away, a
    // runner killed just after its tasks were answered: a graceful shutdown deletes those itself):
    // never charged to anyone (the task has its answer), but kept for ever; each runner drops those
    // older than a week when it first counts (a task that runs for longer may lose its count)
    const purge = sql`DELETE FROM ${sql(TABLE)} WHERE started_at < now() - interval '7 days'`
    // the purge is best effort: a failure of it must not hold every start up
    const make = Effect.andThen(create, index).pipe(Effect.andThen(Effect.ignore(purge)))
    const ready = Effect.suspend(() =>
      made ? Effect.void : run(make.pipe(
        Effect.catch(() => make),
        Effect.andThen(Effect.sync(() => {
          made = true
        }))
      ))
    )
    return {
      // this start's row, and the task's other rows as they were before it (a repeat finds its own
      // row there, and does not count it twice)
      start: ({ entity, key, task }, attempt) =>
        Effect.andThen(
          ready,
          run(sql<{ readonly others: number | string }>`
            WITH added AS (
              INSERT INTO ${sql(TABLE)} (attempt, entity_type, task, key)
              VALUES (${attempt}, ${entity}, ${task}, ${key})
              ON CONFLICT (attempt) DO NOTHING
            )
            SELECT count(*) AS others FROM ${sql(TABLE)}
            WHERE entity_type = ${entity} AND task = ${task} AND key = ${key} AND attempt <> ${attempt}`)
        ).pipe(Effect.map((rows) => Number(rows[0]!.others) + 1)),
      // one statement, one snapshot: the rows go only if the answer is there, and it says whether it is
      answered: ({ entity, key, task }, requestId) =>
        run(sql<{ readonly stored: boolean }>`
          WITH stored AS (
            SELECT EXISTS (SELECT 1 FROM ${sql(replies)} WHERE request_id = ${requestId} AND kind = 0) AS stored
          ), gone AS (
            DELETE FROM ${sql(TABLE)}
            WHERE entity_type = ${entity} AND task = ${task} AND key = ${key} AND (SELECT stored FROM stored)
          )
          SELECT stored FROM stored`).pipe(Effect.map((rows) => rows[0]?.stored === true)),
      givenBack: (attempt) => Effect.asVoid(run(sql`DELETE FROM ${sql(TABLE)} WHERE attempt = ${attempt}`))
    }
  })

/** {@link CurrentAttempts} in PostgreSQL, each statement failing past `statementTimeout`. */
export const layerPostgres = (statementTimeout: Duration.Duration): Layer.Layer<never, never, SqlClient.SqlClient> =>
  Layer.effect(
    CurrentAttempts,
    Effect.flatMap(Effect.scope, (scope) => makePostgres(withDeadline(scope, statementTimeout)))
  ) as Layer.Layer<never, never, SqlClient.SqlClient>

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
 * Every statement of both storages has a deadline ({@link withDeadline}):
 * PostgreSQL's client gives none, and a connection that stays open but never
 * answers again would hold every statement sent on it for good — and the
 * pool keeps handing out that connection. Past its deadline a statement fails
 * with `PersistenceError`, which the cluster's loops and a task's ask retry;
 * the pool's `connectionTTL` (set by `Cluster.layerPostgres`) then retires the
 * silent connection.
 *
 * @internal
 */
import * as NodeCrypto from "@effect/platform-node/NodeCrypto"
import { PersistenceError } from "effect/cluster/ClusterError"
import * as MessageStorage from "effect/cluster/MessageStorage"
import type * as RunnerAddress from "effect/cluster/RunnerAddress"
import * as RunnerStorage from "effect/cluster/RunnerStorage"
import type * as ShardId from "effect/cluster/ShardId"
import type * as ShardingConfig from "effect/cluster/ShardingConfig"
import * as Snowflake from "effect/cluster/Snowflake"
import * as SqlMessageStorage from "effect/cluster/SqlMessageStorage"
import * as SqlRunnerStorage from "effect/cluster/SqlRunnerStorage"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as SqlClient from "effect/sql/SqlClient"

/** `SqlMessageStorage`'s default table prefix. */
const messages = "cluster_messages"
/** The table of the stored replies (`kind` 0: a final one, a task's result). */
export const replies = "cluster_replies"

/**
 * Bounds a storage operation: past `timeout` it fails with `PersistenceError`.
 * The operation runs in a fiber of `scope` and only the wait for it is timed
 * out: interrupting it may itself wait (taking a connection for a transaction
 * cannot be interrupted), so it is interrupted in the background.
 */
export const withDeadline =
  (scope: Scope.Scope, timeout: Duration.Duration) =>
  <A, E, R>(operation: Effect.Effect<A, E, R>): Effect.Effect<A, E | PersistenceError, R> =>
    Effect.flatMap(Effect.forkIn(operation, scope, { startImmediately: true }), (fiber) =>
      Fiber.join(fiber).pipe(
        Effect.timeoutOrElse({
          duration: timeout,
          orElse: () =>
            Effect.fail(
              new PersistenceError({
                cause: new Error(`a storage statement got no answer within ${Duration.format(timeout)}`)
              })
            )
        }),
        Effect.ensuring(Effect.suspend(() =>
          fiber.pollUnsafe() !== undefined
            ? Effect.void
            : Effect.asVoid(Effect.forkIn(Fiber.interrupt(fiber), scope, { startImmediately: true }))
        ))
      ))

/** Gives every operation of `storage` (all of its functions return one) the deadline of {@link withDeadline}. */
const bounded = <S extends object>(
  storage: S,
  deadline: <A, E, R>(operation: Effect.Effect<A, E, R>) => Effect.Effect<A, E | PersistenceError, R>
): S =>
  Object.fromEntries(
    Object.entries(storage).map(([name, f]) => [
      name,
      typeof f === "function"
        ? (...args: Array<unknown>) => deadline(f(...args) as Effect.Effect<unknown, unknown, unknown>)
        : f
    ])
  ) as S

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

/**
 * The message storage on the `SqlClient` in context (PostgreSQL), migrated on
 * first use; each statement fails past `statementTimeout`.
 */
export const layerPostgresStorage = (
  statementTimeout: Duration.Duration
): Layer.Layer<MessageStorage.MessageStorage, never, SqlClient.SqlClient> =>
  Layer.effect(
    MessageStorage.MessageStorage,
    Effect.gen(function*() {
      const encoded = bounded(yield* encodedStorage, withDeadline(yield* Effect.scope, statementTimeout))
      return yield* MessageStorage.makeEncoded(encoded)
    })
  ).pipe(Layer.provide([Snowflake.layerGenerator, NodeCrypto.layerDigest]))

/**
 * Effect's `SqlRunnerStorage` on the `SqlClient` in context (the runner
 * storage's own pool, see `Cluster.layerPostgres`), with its shard-lock
 * checks made in batches and each statement off the lock session failing
 * past `statementTimeout` (see {@link batchingRunnerStorage}).
 */
export const layerRunnerStorage = (
  statementTimeout: Duration.Duration
): Layer.Layer<RunnerStorage.RunnerStorage, never, SqlClient.SqlClient | ShardingConfig.ShardingConfig> =>
  Layer.effect(
    RunnerStorage.RunnerStorage,
    Effect.gen(function*() {
      const deadline = withDeadline(yield* Effect.scope, statementTimeout)
      return batchingRunnerStorage(yield* RunnerStorage.RunnerStorage, deadline)
    })
  ).pipe(Layer.provide(Layer.orDie(SqlRunnerStorage.layer)))

/**
 * Runner storage whose shard-lock checks are made in batches. Before it
 * stores a task's result, a runner checks that it still holds the task's
 * shard (Effect's fence against a runner that lost its shard answering for
 * it); Effect shares one check among the results of one shard, but checks
 * of different shards wait for each other on the runner's one lock
 * connection, two statements each. Here the checks asked for while one is
 * running are made together, as one check of all their shards, started
 * after each of them was asked for — so each still sees the locks as they
 * are after its own request, as the fence needs. Its statements off the
 * lock session get `deadline` ({@link withDeadline}).
 */
const batchingRunnerStorage = (
  storage: RunnerStorage.RunnerStorage["Service"],
  deadline: <A, E, R>(operation: Effect.Effect<A, E, R>) => Effect.Effect<A, E | PersistenceError, R>
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
    // the statements off the lock session (Effect bounds those on the lock connection)
    getRunners: deadline(storage.getRunners),
    register: (runner, healthy) => deadline(storage.register(runner, healthy)),
    unregister: (address) => deadline(storage.unregister(address)),
    setRunnerHealth: (address, healthy) => deadline(storage.setRunnerHealth(address, healthy)),
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

/** How long {@link rideOutStorage} rides an outage out, counted from the first failure. */
const RIDE_OUT = "1 minute"

/**
 * The database may be away for a while (a restart, a fail-over): a storage
 * step that is safe to repeat (a call, whose key is stored once; a lookup)
 * is tried again every 500 ms while it fails with `PersistenceError`, for
 * {@link RIDE_OUT} from its first failure, plus the attempt under way then.
 * Bounded by time, not by a number of attempts: against a database that
 * hangs rather than refuses, each attempt takes a statement's deadline
 * (`statementTimeout`), and 120 of them took 41 minutes at the default 20 s.
 */
export const rideOutStorage = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.retry(effect, {
    while: (error) => (error as { readonly _tag?: unknown })._tag === "PersistenceError",
    schedule: Schedule.spaced("500 millis").pipe(Schedule.upTo({ duration: RIDE_OUT }))
  })

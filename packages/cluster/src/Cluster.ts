/**
 * The connection of a process to a cluster: Effect's `Sharding` on its
 * storages, as every `ClusterExecutor` and `ClusterRunner` of the process
 * uses it.
 *
 * - {@link layerPostgres}: the durable cluster. Messages and replies are
 *   stored by `SqlMessageStorage` (a task's result saved in one statement), runners and shard locks (Postgres advisory
 *   locks) by `SqlRunnerStorage`, both on PostgreSQL through `@effect/sql-pg`;
 *   runners talk to each other over `NodeClusterSocket`. Give it `runner` in
 *   a runner process (the address other processes reach it at), leave it out
 *   in a process that only submits.
 * - {@link layerMemory}: one process, no database: Effect's in-memory storages
 *   (as `TestRunner`), so the process is the only runner. Nothing survives
 *   the process: it is the embedded default for tests and single-process
 *   programs, not a durable setup.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Cluster, ClusterRunner } from "@taskscope/cluster"
 * import { tasks } from "./tasks.ts"
 *
 * // a runner process
 * Layer.launch(ClusterRunner.layer(tasks, { concurrency: 8 }).pipe(
 *   Layer.provide(Cluster.layerPostgres({ url: process.env.DATABASE_URL!, runner: { port: 34431 } }))
 * ))
 * ```
 *
 * @since 0.2.0
 */
import * as NodeClusterSocket from "@effect/platform-node/NodeClusterSocket"
import * as PgClient from "@effect/sql-pg/PgClient"
import { ExecutorError } from "@taskscope/executor"
import * as Durations from "@taskscope/executor/internal/duration"
import * as KnownOptions from "@taskscope/executor/internal/knownOptions"
import * as MessageStorage from "effect/cluster/MessageStorage"
import * as RunnerAddress from "effect/cluster/RunnerAddress"
import * as RunnerHealth from "effect/cluster/RunnerHealth"
import * as Runners from "effect/cluster/Runners"
import * as RunnerStorage from "effect/cluster/RunnerStorage"
import * as Sharding from "effect/cluster/Sharding"
import * as ShardingConfig from "effect/cluster/ShardingConfig"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as SqlClient from "effect/sql/SqlClient"
import * as Attempts from "./internal/attempts.ts"
import { MAX_VALUE_BYTES, signallingStorage } from "./internal/protocol.ts"
import { layerPostgresStorage, layerRunnerStorage } from "./internal/storage.ts"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * What the executors of a process need from its cluster connection besides
 * `Sharding`.
 *
 * @category models
 * @since 0.2.0
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Cluster } from "@taskscope/cluster"
 *
 * const durable = Effect.map(Cluster.Cluster, (cluster) => cluster.durable)
 * ```
 */
export interface Connection {
  /** `true` on PostgreSQL, `false` in memory. */
  readonly durable: boolean
  /** This process's runner address (`host:port`, or `"memory"`), or `undefined` in a process that only submits. */
  readonly runner: string | undefined
  /** The message storage, for looking up stored tasks. */
  readonly storage: MessageStorage.MessageStorage["Service"]
}

/**
 * Options of {@link layerPostgres}.
 *
 * @category models
 * @since 0.2.0
 * @example
 * ```ts
 * import type { Cluster } from "@taskscope/cluster"
 *
 * const runner: Cluster.PostgresOptions = { url: "postgres://app@db/app", runner: { host: "10.0.0.5", port: 34431 } }
 * const submitter: Cluster.PostgresOptions = { url: "postgres://app@db/app" }
 * ```
 */
export interface PostgresOptions {
  /** The PostgreSQL connection URL (`postgres://user:password@host:port/database`). */
  readonly url: string | Redacted.Redacted<string>
  /**
   * In a runner process: the address other processes reach this runner at
   * (`host` defaults to `"localhost"`). Left out, the process only submits.
   */
  readonly runner?: { readonly host?: string | undefined; readonly port: number } | undefined
  /**
   * Overrides of Effect's `ShardingConfig`, over this package's defaults
   * ({@link defaultShardingConfig}). Keep them the same in every process.
   * Not `runnerAddress`: `runner` sets it.
   */
  readonly shardingConfig?:
    | Partial<Omit<ShardingConfig.ShardingConfig["Service"], "runnerAddress">> & { readonly runnerAddress?: never }
    | undefined
  /**
   * Largest number of database connections of this process, at least 3: two
   * are kept for the runner table and the shard locks (a pool of their own),
   * the others carry the tasks' statements. Default 10.
   */
  readonly maxConnections?: number | undefined
  /**
   * How long one storage statement may go unanswered before it fails (and is
   * retried, as any storage failure is). Default 20 seconds.
   */
  readonly statementTimeout?: Duration.Input | undefined
  /**
   * How long a database connection is used before it is replaced. A
   * connection that stays open but never answers again (a server that hung,
   * a network that dropped it silently) is retired this way; its statements
   * fail at `statementTimeout` meanwhile. Default 30 seconds.
   */
  readonly connectionTTL?: Duration.Input | undefined
  /**
   * PostgreSQL's `idle_session_timeout` for this process's sessions: the
   * server ends a session idle this long. A runner's session that went
   * silent (open, but its client gone quiet) looks idle to the server, and
   * holds the runner's shard locks until the server ends it; this bounds that
   * wait. Busy sessions (a runner's lock session is used every
   * `shardLockRefreshInterval`) are never idle that long. `false` leaves the
   * server's setting (off by default). Default 60 seconds.
   *
   * Must be longer than `shardLockRefreshInterval`. PostgreSQL 13 and
   * earlier have no such setting, and PgBouncer does not pass it on: both
   * refuse every connection that asks for it. So the layer tries it first (one
   * connection, one query); refused, the default is dropped with a warning
   * quoting the refusal, and a value given here dies with
   * `InvalidArgumentError` naming the option.
   */
  readonly idleSessionTimeout?: Duration.Input | false | undefined
}

// -----------------------------------------------------------------------------
// service
// -----------------------------------------------------------------------------

/**
 * The service of a process's cluster connection, provided with `Sharding` by
 * {@link layerPostgres} and {@link layerMemory}.
 *
 * @category services
 * @since 0.2.0
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Cluster } from "@taskscope/cluster"
 *
 * const program = Effect.gen(function*() {
 *   const cluster = yield* Cluster.Cluster
 *   return cluster.durable ? "on PostgreSQL" : "in memory"
 * }).pipe(Effect.provide(Cluster.layerMemory()))
 * ```
 */
export class Cluster extends Context.Service<Cluster, Connection>()("@taskscope/cluster/Cluster") {}

// -----------------------------------------------------------------------------
// layers
// -----------------------------------------------------------------------------

/**
 * The `ShardingConfig` values this package starts from: a dead runner's
 * shards are taken over within seconds (runners polled for health every
 * second, assignments refreshed and stored messages polled every half
 * second) instead of Effect's defaults (a minute's health check, 10 s polls);
 * submitters read stored results every 50 ms (Effect: 200 ms) when they
 * wait on storage (a duplicate key, a runner that died). The shard lock
 * expires after 6 s (Effect: 35 s), refreshed every 2 s: when the killed
 * runner was the one running the cluster's health check (a singleton), the
 * others see it gone only once its heartbeat is older than that, and with
 * 10 s that took the bench's recovery to 10 s. (Before shard-lock checks were
 * made in batches, lock timings this short made tasks run two or three times
 * under load: the checks queued on the lock connection until they timed out.)
 * 60 shards (Effect: 300): a runner checks that it still holds a task's shard
 * before it stores the task's result, and the checks of one shard made at
 * the same time are one query, so fewer shards mean fewer queries per task
 * (0.48 per task with 300 shards and 3 runners, 0.16-0.2 with 60 or 30, in
 * `bench/profile.ts`); raise it for clusters of more than a few dozen runners.
 *
 * @category defaults
 * @since 0.2.0
 * @example
 * ```ts
 * import { Cluster } from "@taskscope/cluster"
 *
 * const slower = { ...Cluster.defaultShardingConfig, runnerHealthCheckInterval: "10 seconds" }
 * ```
 */
export const defaultShardingConfig: Partial<Omit<ShardingConfig.ShardingConfig["Service"], "runnerAddress">> = {
  entityMessagePollInterval: Duration.millis(500),
  entityReplyPollInterval: Duration.millis(50),
  shardLockRefreshInterval: Duration.seconds(2),
  shardLockExpiration: Duration.seconds(6),
  refreshAssignmentsInterval: Duration.millis(500),
  runnerHealthCheckInterval: Duration.seconds(1),
  entityMailboxCapacity: "unbounded",
  entityMaxIdleTime: Duration.minutes(5),
  shardsPerGroup: 60
}

/** The message storage, and the connection built on it. */
const withConnection = <E, R>(
  storage: Layer.Layer<MessageStorage.MessageStorage, E, R>,
  durable: boolean,
  runner: string | undefined
): Layer.Layer<MessageStorage.MessageStorage | Cluster, E, R> =>
  Layer.effect(Cluster, Effect.map(MessageStorage.MessageStorage, (storage) => ({ durable, runner, storage }))).pipe(
    Layer.provideMerge(
      Layer.effect(MessageStorage.MessageStorage, Effect.map(MessageStorage.MessageStorage, signallingStorage))
    ),
    Layer.provide(storage)
  )

const invalid = (argument: string, value: unknown, expected: string): never => {
  throw new ExecutorError.InvalidArgumentError({ argument, value, expected })
}

/**
 * A `Duration.Input` decoded, or `undefined` when it is none — read strictly
 * (see `@taskscope/executor/internal/duration`): `Duration` would read NaN,
 * `{ millis: 5000 }` or a `Date` as zero.
 */
const durationOf = (value: unknown): Duration.Duration | undefined =>
  Number.isNaN(Durations.toMillis(value))
    ? undefined
    : Option.getOrUndefined(Duration.fromInput(value as Duration.Input))

/** A URL the PostgreSQL client can connect with: `postgres:` or `postgresql:`, parsable, its port in range. */
const isPostgresUrl = (u: unknown): boolean => {
  if (typeof u !== "string" || !/^postgres(ql)?:\/\/./.test(u)) return false
  try {
    // the URL parser refuses a port beyond 65535, spaces in the host, and the like
    return new URL(u).hostname.length > 0
  } catch {
    return false
  }
}

/**
 * Checks `shardingConfig` field by field against the kind of value of the
 * field in Effect's `ShardingConfig.defaults`: a duration, a positive integer
 * (or `"unbounded"` where the field allows it), a boolean, a list of names.
 * An unknown field is refused too (a misspelt one would be ignored).
 */
const checkShardingConfig = (value: unknown): void => {
  if (value === undefined) return
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    invalid("shardingConfig", value, "an object of ShardingConfig overrides")
  }
  for (const [field, given] of Object.entries(value as Record<string, unknown>)) {
    const argument = `shardingConfig.${field}`
    if (!(field in ShardingConfig.defaults)) {
      invalid(argument, given, `left out: ShardingConfig has no field ${JSON.stringify(field)}`)
    }
    const known = (ShardingConfig.defaults as unknown as Record<string, unknown>)[field]
    if (Duration.isDuration(known)) {
      const duration = durationOf(given)
      if (duration === undefined || Duration.toMillis(duration) < 0) {
        invalid(argument, given, "a non-negative duration (milliseconds, or e.g. \"2 seconds\")")
      }
    } else if (field === "runnerShardWeight") {
      // a relative weight: any finite positive number (Effect's hash ring takes 0.1 at least)
      if (typeof given !== "number" || !Number.isFinite(given) || given <= 0) {
        invalid(argument, given, "a finite number above 0 (this runner's share of the shards, relative to the others')")
      }
    } else if (typeof known === "number") {
      const unbounded = field === "entityMailboxCapacity" || field === "maxResidentEntities"
      if (
        !((typeof given === "number" && Number.isInteger(given) && given >= 1) || (unbounded && given === "unbounded"))
      ) {
        invalid(argument, given, unbounded ? "an integer from 1 up, or \"unbounded\"" : "an integer from 1 up")
      }
    } else if (typeof known === "boolean") {
      if (typeof given !== "boolean") invalid(argument, given, "a boolean")
    } else if (Array.isArray(known)) {
      if (!Array.isArray(given) || !given.every((name) => typeof name === "string" && name.length > 0)) {
        invalid(argument, given, "a list of non-empty names")
      }
    } else if (!Option.isOption(given)) {
      invalid(argument, given, "an Option (set by the layer from `runner`: leave it out)")
    }
  }
}

/** The names of `layerPostgres`'s options (see `KnownOptions`), and of its `runner`'s. */
const postgresOptions = KnownOptions.of<PostgresOptions>()(
  "url",
  "runner",
  "shardingConfig",
  "maxConnections",
  "statementTimeout",
  "connectionTTL",
  "idleSessionTimeout"
)
const runnerOptions = KnownOptions.of<NonNullable<PostgresOptions["runner"]>>()("host", "port")

/**
 * A value as an error may show it: a misspelt `url` holds the database's
 * password, which must not end up in a message or a log.
 */
const hideSecrets = (value: unknown): unknown =>
  Redacted.isRedacted(value) || (typeof value === "string" && /:\/\/[^/]*@/.test(value)) ? "<redacted>" : value

const checkPostgresOptions = (options: unknown) => {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    invalid("options", options, "an object with at least `url` (a postgres:// URL)")
  }
  const o = options as Record<string, unknown>
  KnownOptions.check(o, postgresOptions, "Cluster.layerPostgres", hideSecrets)
  const url = Redacted.isRedacted(o.url) ? Redacted.value(o.url as Redacted.Redacted<unknown>) : o.url
  if (!isPostgresUrl(url)) {
    invalid("url", Redacted.isRedacted(o.url) ? "<redacted>" : o.url,
      "a PostgreSQL URL (postgres://user:password@host:port/database)")
  }
  let runner: { host: string; port: number } | undefined
  if (o.runner !== undefined) {
    const r = o.runner as Record<string, unknown>
    if (typeof r !== "object" || r === null) invalid("runner", o.runner, "an object { host?, port }")
    KnownOptions.check(r, runnerOptions, "Cluster.layerPostgres's `runner`", hideSecrets)
    if (typeof r.port !== "number" || !Number.isInteger(r.port) || r.port < 1 || r.port > 65535) {
      invalid("runner.port", r.port, "an integer from 1 to 65535 (the port this runner listens on)")
    }
    if (r.host !== undefined && (typeof r.host !== "string" || r.host.length === 0)) {
      invalid("runner.host", r.host, "a non-empty host name or address")
    }
    runner = { host: (r.host as string | undefined) ?? "localhost", port: r.port as number }
  }
  if (o.maxConnections !== undefined) {
    const n = o.maxConnections
    if (typeof n !== "number" || !Number.isInteger(n) || n <= RUNNER_STORAGE_CONNECTIONS) {
      const kept = RUNNER_STORAGE_CONNECTIONS
      invalid("maxConnections", n,
        `an integer from ${kept + 1} up (${kept} are kept for the runner table and the shard locks)`)
    }
  }
  const statementTimeout = positiveDuration("statementTimeout", o.statementTimeout, Duration.seconds(20))
  const connectionTTL = positiveDuration("connectionTTL", o.connectionTTL, Duration.seconds(30))
  const idleSessionTimeout = o.idleSessionTimeout === false
    ? undefined
    : positiveDuration("idleSessionTimeout", o.idleSessionTimeout, Duration.seconds(60))
  if (idleSessionTimeout !== undefined && Math.ceil(Duration.toMillis(idleSessionTimeout)) > MAX_SETTING_MS) {
    // the server's setting is an int of milliseconds: it refuses more, which would read as "not supported"
    invalid("idleSessionTimeout", o.idleSessionTimeout,
      `at most ${MAX_SETTING_MS} ms (about 24.8 days), PostgreSQL's limit`)
  }
  checkShardingConfig(o.shardingConfig)
  const sharding = o.shardingConfig as Record<string, unknown> | undefined
  if (sharding !== undefined && Object.hasOwn(sharding, "runnerAddress") && sharding.runnerAddress !== undefined) {
    // the layer sets it from `runner` (none in a process that only submits): given here, it was dropped
    invalid(
      "shardingConfig.runnerAddress",
      sharding.runnerAddress,
      "left out: the layer sets it from `runner` ({ host, port })"
    )
  }
  // a runner's lock session is idle for up to this long between refreshes: the server must not end it
  const refresh = durationOf(
    sharding?.shardLockRefreshInterval ??
      defaultShardingConfig.shardLockRefreshInterval
  )
  if (
    idleSessionTimeout !== undefined && refresh !== undefined &&
    Duration.isLessThanOrEqualTo(idleSessionTimeout, refresh)
  ) {
    invalid(
      "idleSessionTimeout",
      o.idleSessionTimeout,
      `longer than shardLockRefreshInterval (${
        Duration.format(refresh)
      }): a runner's lock session is idle that long between refreshes, and the server would end it`
    )
  }
  return {
    url: url as string,
    runner,
    maxConnections: (o.maxConnections as number | undefined) ?? 10,
    statementTimeout,
    connectionTTL,
    idleSessionTimeout
  }
}

/**
 * The connections of the runner storage's own pool (see `layerPostgres`): the
 * shard-lock session, held for good, and one for the runner table.
 */
const RUNNER_STORAGE_CONNECTIONS = 2

/** The largest time setting PostgreSQL takes in milliseconds (an int). */
const MAX_SETTING_MS = 2_147_483_647

/** The startup parameter that carries `idleSessionTimeout` (a duration in milliseconds). */
const idleSessionParameters = (idleSessionTimeout: Duration.Duration): Record<string, string> => ({
  idle_session_timeout: `${Math.ceil(Duration.toMillis(idleSessionTimeout))}ms`
})

/**
 * Why a connection that asked for `idle_session_timeout` was refused for
 * that: the refusal's own words (PostgreSQL 13 and earlier: "unrecognized
 * configuration parameter"; PgBouncer: "unsupported startup parameter"), or
 * `undefined` for any other failure.
 */
const refusalOf = (error: unknown): string | undefined => {
  let current = error
  for (let depth = 0; depth < 6 && typeof current === "object" && current !== null; depth++) {
    const message = (current as { readonly message?: unknown }).message
    if (typeof message === "string" && message.includes("idle_session_timeout")) return message
    const next = current as { readonly reason?: unknown; readonly cause?: unknown }
    current = next.reason ?? next.cause
  }
  return undefined
}

/**
 * The `idle_session_timeout` this process's sessions can carry, found by
 * trying it: one connection that asks for it, one query. PostgreSQL 14 added
 * the setting; older servers, and poolers such as PgBouncer, refuse every
 * connection that asks for it. Refused: a value the user gave (`given`, the
 * option as passed) is an error naming the option, and the default is
 * dropped, with a warning. Any other failure (a server that is not there)
 * dies, as the layer's own connections would.
 */
const supportedIdleSessionTimeout = (
  url: string,
  idleSessionTimeout: Duration.Duration | undefined,
  given: PostgresOptions["idleSessionTimeout"],
  statementTimeout: Duration.Duration
): Effect.Effect<Duration.Duration | undefined> => {
  if (idleSessionTimeout === undefined) return Effect.succeed(undefined)
  const probe: Effect.Effect<string | undefined> = Effect.flatMap(SqlClient.SqlClient, (sql) => sql`SELECT 1`).pipe(
    Effect.provide(PgClient.layer({
      url: Redacted.make(url),
      maxConnections: 1,
      startupParameters: idleSessionParameters(idleSessionTimeout),
      applicationName: `taskscope probe ${process.pid}`
    })),
    Effect.as(undefined),
    Effect.catch((error) => {
      const refusal = refusalOf(error)
      return refusal === undefined ? Effect.die(error) : Effect.succeed(refusal)
    }),
    Effect.timeoutOrElse({
      duration: statementTimeout,
      orElse: () =>
        Effect.die(
          new Error(
            `taskscope: PostgreSQL did not answer within statementTimeout (${
              Duration.format(statementTimeout)
            }) to a connection asking for idle_session_timeout`
          )
        )
    })
  )
  const why = "PostgreSQL 14 added it, and connection poolers such as PgBouncer do not pass it on"
  return Effect.flatMap(probe, (refusal) => {
    if (refusal === undefined) return Effect.succeed(idleSessionTimeout)
    if (given !== undefined) {
      return Effect.sync(() =>
        invalid("idleSessionTimeout", given,
          `false here: the server refused idle_session_timeout ("${refusal}"; ${why})`)
      )
    }
    return Effect.as(
      Effect.logWarning(
        `taskscope: the server refused idle_session_timeout ("${refusal}"; ${why}). Sessions run without it, ` +
          "so a runner whose connections go silent keeps its shards until the server notices the connection " +
          "is gone. Pass idleSessionTimeout: false to silence this warning."
      ),
      undefined
    )
  })
}

/** A finite, positive `Duration.Input`; `undefined` yields `fallback`. */
const positiveDuration = (argument: string, value: unknown, fallback: Duration.Duration): Duration.Duration => {
  if (value === undefined) return fallback
  const duration = durationOf(value)
  if (duration === undefined || !Duration.isFinite(duration) || Duration.toMillis(duration) <= 0) {
    invalid(argument, value, "a finite, positive duration (milliseconds, or e.g. \"20 seconds\")")
  }
  return duration!
}

/**
 * Connects the process to a cluster stored in PostgreSQL (the tables, prefixed
 * `cluster_`, are created on first use). With `runner`, the process is a
 * runner: it listens on `runner.port`, takes a share of the shards and serves
 * the task sets whose `ClusterRunner.layer` it runs; without, it only
 * submits. A missing or malformed `url`, or a bad `runner`, dies at once
 * with an `InvalidArgumentError` naming the option and its value.
 *
 * @category layers
 * @since 0.2.0
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Task } from "@taskscope/executor"
 * import { Cluster, ClusterExecutor } from "@taskscope/cluster"
 * import { tasks } from "./tasks.ts"
 *
 * const program = ClusterExecutor.scoped(tasks, (executor) =>
 *   Effect.flatMap(executor.submit("fib", 30, { key: "fib-30" }), Task.join)
 * ).pipe(Effect.provide(Cluster.layerPostgres({ url: "postgres://localhost/app" })))
 * ```
 */
export const layerPostgres = (options: PostgresOptions): Layer.Layer<Cluster | Sharding.Sharding> =>
  Layer.unwrap(Effect.gen(function*() {
    const checked = checkPostgresOptions(options)
    const { connectionTTL, maxConnections, runner, statementTimeout, url } = checked
    const idleSessionTimeout = yield* supportedIdleSessionTimeout(
      url,
      checked.idleSessionTimeout,
      options.idleSessionTimeout,
      statementTimeout
    )
    const shardingConfig: Partial<ShardingConfig.ShardingConfig["Service"]> = {
      ...defaultShardingConfig,
      ...options.shardingConfig,
      runnerAddress: runner === undefined ? Option.none() : Option.some(RunnerAddress.make(runner.host, runner.port))
    }
    // NodeClusterSocket reads its own ShardingConfig (the environment's, under
    // these options); the storages get the same values
    const config = ShardingConfig.layer(shardingConfig)
    // which process a session is, and what for, in pg_stat_activity; the address last, since
    // PostgreSQL keeps 63 bytes of it
    const kind = runner === undefined ? "submitter" : "runner"
    const address = runner === undefined ? "" : ` ${runner.host}:${runner.port}`
    const client = (connections: number, multiplex: boolean, role: string) =>
      PgClient.layer({
        url: Redacted.make(url),
        maxConnections: connections,
        multiplex,
        connectionTTL,
        // a row holds a value of up to MAX_VALUE_BYTES (checked when it is encoded) and its other columns
        maxMessageSize: 4 * MAX_VALUE_BYTES,
        startupParameters: idleSessionTimeout === undefined
          ? undefined
          : idleSessionParameters(idleSessionTimeout),
        applicationName: `taskscope ${kind}${role} ${process.pid}${address}`
      })
    // The tasks' statements: multiplexed (the statements of concurrent fibers
    // share connections, pipelined into one write: a third less CPU per task
    // in bench/profile.ts); a connection that never answers again is retired
    // after connectionTTL.
    const sql = client(maxConnections - RUNNER_STORAGE_CONNECTIONS, true, "")
    // The runner table and the shard locks, on a pool of their own, not
    // multiplexed. The lock session holds its connection for good, and on a
    // multiplexed pool that hold counts as the connection's whole capacity:
    // when a restart of the server killed it, the pool could lose the
    // wake-up of a statement waiting for a new connection (Effect 4.1's
    // `Pool`), and the process stalled for minutes after the server was back
    // (2 of 4 rounds of a 20 s outage; test/OutageSoak.test.ts). Off it, none of 18.
    const lockSql = client(RUNNER_STORAGE_CONNECTIONS, false, " locks")
    const storage = withConnection(
      layerPostgresStorage(statementTimeout),
      true,
      runner === undefined ? undefined : `${runner.host}:${runner.port}`
    )
    const sharding = NodeClusterSocket.layer({
      storage: "byo",
      clientOnly: runner === undefined,
      shardingConfig,
      // a frame between processes carries a value of up to MAX_VALUE_BYTES and its envelope: past
      // the default 16 MiB, a frame spoilt the connection's decoder for every later message on it
      serializationMaxBufferSize: 4 * MAX_VALUE_BYTES
    }) as Layer.Layer<
      Sharding.Sharding | Runners.Runners,
      unknown,
      MessageStorage.MessageStorage | RunnerStorage.RunnerStorage
    >
    return sharding.pipe(
      Layer.provideMerge(storage),
      // a runner counts the starts of its tasks (see ClusterRunner's maxAttempts)
      Layer.provideMerge(runner === undefined ? Layer.empty : Attempts.layerPostgres(statementTimeout)),
      Layer.provide(Layer.provide(layerRunnerStorage(statementTimeout), lockSql)),
      Layer.provide(config),
      Layer.provide(sql),
      Layer.orDie
    ) as Layer.Layer<Cluster | Sharding.Sharding>
  }))

/** The names of `layerMemory`'s options. */
const memoryOptions = KnownOptions.of<NonNullable<Parameters<typeof layerMemory>[0]>>()("shardingConfig")

/**
 * A cluster inside this process, on Effect's in-memory storages: the process
 * is its only runner, and tasks run here. Not durable — stored tasks and
 * results are lost with the process — but needs no database: the embedded
 * default for tests and single-process programs.
 *
 * @category layers
 * @since 0.2.0
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Task } from "@taskscope/executor"
 * import { Cluster, ClusterExecutor, ClusterRunner } from "@taskscope/cluster"
 * import { tasks } from "./tasks.ts"
 *
 * const Local = ClusterRunner.layer(tasks, { concurrency: 4 }).pipe(Layer.provideMerge(Cluster.layerMemory()))
 * const program = ClusterExecutor.scoped(tasks, (executor) =>
 *   Effect.flatMap(executor.submit("fib", 30), Task.join)
 * ).pipe(Effect.provide(Local))
 * ```
 */
export const layerMemory = (options?: {
  readonly shardingConfig?: Partial<ShardingConfig.ShardingConfig["Service"]> | undefined
}): Layer.Layer<Cluster | Sharding.Sharding> =>
  Layer.unwrap(Effect.sync(() => {
    // bad options die when the layer is built, as layerPostgres's do
    if (options !== undefined && (typeof options !== "object" || options === null || Array.isArray(options))) {
      invalid("options", options, "an object { shardingConfig? }")
    }
    KnownOptions.check(options, memoryOptions, "Cluster.layerMemory")
    checkShardingConfig(options?.shardingConfig)
    return Sharding.layer.pipe(
      Layer.provide(Runners.layerNoop),
      Layer.provideMerge(withConnection(MessageStorage.layerMemory, false, "memory")),
      Layer.provide([RunnerStorage.layerMemory, RunnerHealth.layerNoop]),
      Layer.provide(ShardingConfig.layer({ ...defaultShardingConfig, ...options?.shardingConfig }))
    )
  }))

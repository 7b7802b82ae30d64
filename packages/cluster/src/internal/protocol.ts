/**
 * What travels between a submitter and a runner: one cluster entity per task
 * set, one persisted Rpc per task (its tag is the task's name, escaped: see
 * {@link tagOf}), a payload made of the task's key (the Rpc's primary key, so
 * that a key is run and answered once) and the task's payload in its
 * Schema's JSON form, and a reply that is the success value in its JSON form
 * or a wire error.
 *
 * The task's own Schemas are applied at both ends: the submitter encodes the
 * payload (a bad one fails that task before anything is stored) and decodes
 * the result; the runner decodes the payload and encodes the result. The
 * wire itself only carries JSON, so the Rpc's Schemas never fail.
 *
 * @internal
 */
import { ExecutorError } from "@taskscope/executor"
import { describe } from "@taskscope/executor/internal/describe"
import * as TaskSet from "@taskscope/executor/TaskSet"
import * as Cause from "effect/Cause"
import * as ClusterSchema from "effect/cluster/ClusterSchema"
import * as Entity from "effect/cluster/Entity"
import * as MessageStorage from "effect/cluster/MessageStorage"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as PrimaryKey from "effect/PrimaryKey"
import * as Rpc from "effect/rpc/Rpc"
import * as Schema from "effect/Schema"

/**
 * The payload of every task Rpc. `key` is its primary key.
 *
 * The other fields bound the task on its runner, as its submit options ask
 * (see `timingOf` in ClusterExecutor.ts). Each is absent when unused, so a
 * payload stored or sent without them (by an earlier version, or for an
 * untimed task) decodes as before; a runner of an earlier version, whose
 * Schema lacks them, drops them when it decodes (Effect's Schemas ignore
 * unknown keys by default) and runs the task unbounded.
 *
 * `startBy` and `deadline` are instants of the submitter's clock, compared
 * with the runner's: the machines' clocks must agree.
 */
export class WirePayload extends Schema.Class<WirePayload>("@taskscope/cluster/WirePayload")({
  key: Schema.String,
  payload: Schema.Json,
  /** The `priority` option, when not 0: orders the runner's queue. */
  priority: Schema.optionalKey(Schema.Number),
  /** The latest start (epoch milliseconds): `startTimeout` from submit, or `deadline`, whichever is earlier. */
  startBy: Schema.optionalKey(Schema.Number),
  /**
   * With `startBy`: the time from submit to it (milliseconds), the `timeout`
   * a `TaskTimeoutError { phase: "queue" }` reports.
   */
  startBudget: Schema.optionalKey(Schema.Number),
  /** The `deadline` option (epoch milliseconds): the run gets what is left of it when it starts. */
  deadline: Schema.optionalKey(Schema.Number),
  /** The `timeout` option (milliseconds), counted from the start on the runner. */
  timeout: Schema.optionalKey(Schema.Number)
}) {
  [PrimaryKey.symbol](): string {
    return this.key
  }
}

/** The task failed with its typed error, here in its Schema's JSON form. */
export class WireTaskError extends Schema.TaggedError<WireTaskError>()("WireTaskError", {
  error: Schema.Json
}) {}

/** The runner could not decode the payload with the task's Schema. */
export class WireInvalidPayload extends Schema.TaggedError<WireInvalidPayload>()("WireInvalidPayload", {
  issue: Schema.String
}) {}

/** The runner could not encode what the task returned or failed with. */
export class WireInvalidResult extends Schema.TaggedError<WireInvalidResult>()("WireInvalidResult", {
  part: Schema.Literals(["success value", "error"]),
  issue: Schema.String
}) {}

/**
 * The most a text of the wire (a defect's message, a Schema issue) keeps, in
 * UTF-16 units: 64 Ki. An error's message can hold a whole value (a Schema
 * issue printing a 100 MB string it refused), and the answer is stored in one
 * row, as a value is (see {@link MAX_VALUE_BYTES}).
 */
export const MAX_TEXT = 64 * 1024

/** `text`, cut at {@link MAX_TEXT} with a note of how much was left out. */
export const wireText = (text: string): string =>
  text.length <= MAX_TEXT ? text : `${text.slice(0, MAX_TEXT)}… (${text.length - MAX_TEXT} more characters)`

/** The task's function threw or died with something that is not its typed error. */
export class WireDefect extends Schema.TaggedError<WireDefect>()("WireDefect", {
  runner: Schema.String,
  message: Schema.String
}) {}

/**
 * The task passed a deadline of its submit options on its runner: it did not
 * start by `startBy` (`phase: "queue"`, never ran), or ran past its
 * `timeout` or `deadline` (`phase: "run"`, its function interrupted).
 * `timeoutMillis` is the time it was given for that phase.
 */
export class WireTimeout extends Schema.TaggedError<WireTimeout>()("WireTimeout", {
  phase: Schema.Literals(["queue", "run"]),
  timeoutMillis: Schema.Number
}) {}

/**
 * The task had started `attempts` times, each time without finishing (its
 * runner died, or lost its shard, with it running), and the runner's `maxAttempts` allows no
 * more: it was not started again.
 */
export class WireAttempts extends Schema.TaggedError<WireAttempts>()("WireAttempts", {
  attempts: Schema.Number,
  maxAttempts: Schema.Number
}) {}

/** A probe sent by `attach` reached a runner: the key was never submitted. */
export class WireNotSubmitted extends Schema.TaggedError<WireNotSubmitted>()("WireNotSubmitted", {}) {}

export const WireError = Schema.Union([
  WireTaskError,
  WireInvalidPayload,
  WireInvalidResult,
  WireDefect,
  WireNotSubmitted,
  WireTimeout,
  WireAttempts
])
export type WireError = typeof WireError.Type

/** The payload `attach` sends: never run, it only finds the stored request of its key. */
export const attachProbe: Schema.Json = { "~@taskscope/cluster/attach": true }

export const isAttachProbe = (u: unknown): boolean =>
  typeof u === "object" && u !== null && (u as Record<string, unknown>)["~@taskscope/cluster/attach"] === true

// Persisted: stored before it is run, run again by the shard's next owner if
// its runner dies. InterruptOnTermination: a runner that shuts down (or gives
// a shard away) interrupts its tasks at once and leaves them stored for the
// next owner, instead of draining them for up to entityTerminationTimeout.
const makeRpc = (name: string) =>
  Rpc.make(name, { payload: WirePayload, success: Schema.Json, error: WireError })
    .annotate(ClusterSchema.Persisted, true)
    .annotate(ClusterSchema.InterruptOnTermination, true)

export type TaskRpc = ReturnType<typeof makeRpc>
export type TaskEntity = Entity.Entity<string, TaskRpc>

/** The JSON codecs of one task. */
export interface Codecs {
  readonly encodePayload: (u: unknown) => Schema.Json
  readonly decodePayload: (json: unknown) => unknown
  readonly encodeSuccess: (u: unknown) => Schema.Json
  readonly decodeSuccess: (json: unknown) => unknown
  readonly encodeError: (u: unknown) => Schema.Json
  readonly decodeError: (json: unknown) => unknown
  readonly isError: (u: unknown) => boolean
}

/**
 * A Schema step that throws an `Error` saying what went wrong: the
 * `SchemaError`'s message, or what the Schema's own code (a transformation,
 * a filter) threw — which the `*Sync` variants replace by a generic message.
 */
const step = (run: (u: unknown) => Exit.Exit<unknown, Schema.SchemaError>) => (u: unknown): unknown => {
  const exit = run(u)
  if (Exit.isSuccess(exit)) return exit.value
  const error = Cause.findErrorOption(exit.cause)
  if (error._tag === "Some") throw new Error(error.value.message)
  const thrown = Cause.squash(exit.cause)
  throw new Error(
    `its transformation threw ${thrown instanceof Error ? `${thrown.name}: ${thrown.message}` : String(thrown)}`
  )
}

const isJson = Schema.is(Schema.Json)

/**
 * An encoding step whose output must be JSON, as storage and the wire keep
 * it: a Schema that lets a value through as it is (`Schema.Any` given a
 * `Date`, a bigint, an `Error`, `undefined`) would otherwise fail later, far
 * from its cause — in the Rpc's own encoding, or in the runner's handler,
 * which Effect then restarts.
 */
const toJson = (encode: (u: unknown) => unknown) => (u: unknown): Schema.Json => {
  const json = encode(u)
  if (!isJson(json)) {
    throw new Error(`its JSON form is not JSON (${describe(json)}): give the task a Schema that encodes it to JSON`)
  }
  const bytes = jsonBytes(json)
  if (bytes > MAX_VALUE_BYTES) {
    throw new Error(
      `its JSON form is ${bytes} bytes, more than the ${MAX_VALUE_BYTES} (16 MiB) a stored value may have: ` +
        "store large data elsewhere and pass a reference to it"
    )
  }
  return json
}

/**
 * The most a payload, a result or a typed error may take as JSON text
 * (UTF-8): 16 MiB. Each is stored in one row, read back in one message of
 * PostgreSQL's protocol, and a row the client cannot read would stop the
 * storage's read loop for every task behind it; `Cluster.layerPostgres` lets
 * a message be four times larger, for the row's other columns.
 */
export const MAX_VALUE_BYTES = 16 * 1024 * 1024

/**
 * The size of `json`'s text in UTF-8 where it may be over
 * {@link MAX_VALUE_BYTES}; below a third of that, its length (a UTF-16 unit
 * is at most 3 bytes of UTF-8), which is under the limit as well.
 */
const jsonBytes = (json: Schema.Json): number => {
  if (json === null || (typeof json !== "object" && typeof json !== "string")) return 0
  const text = JSON.stringify(json)
  return text.length * 3 <= MAX_VALUE_BYTES ? text.length : Buffer.byteLength(text, "utf8")
}

/**
 * `encode` with its output checked: every class instance the value holds
 * reads back, from its JSON form, as an instance of its class (or of a class
 * its class extends: a subclass reads back as the class its Schema names, or
 * as a plain object: a `Schema.Struct` reads it back so). JSON keeps no
 * class, so a Schema that is a union of classes with the same fields (two
 * `Schema.Error` classes with a `message`), or of a class and what it
 * encodes to (`Union([String, Date])`), reads back the first match, and the
 * other side would get another value than the one sent. Throws, saying so,
 * otherwise. See {@link lostClass} for which places are checked.
 */
const faithful = (
  encode: (u: unknown) => Schema.Json,
  decode: (json: unknown) => unknown
) =>
(value: unknown): Schema.Json => {
  const json = encode(value)
  if (!holdsClass(value, json, 0)) return json // nothing JSON could lose: the common case costs no decode
  const back = decode(json)
  const lost = lostClass(value, back, json, "", 0)
  if (lost === undefined) return json
  const [sent, read, where] = lost
  throw new Error(
    `${where}reads back as ${describe(read)}, not as ${describe(sent)}: its Schema cannot tell them apart in ` +
      "JSON (give the members of a union distinct tags, as TaggedError and TaggedClass do)"
  )
}

/** How deep {@link holdsClass} and {@link lostClass} look: JSON of a task's values is not deeper in practice. */
const MAX_DEPTH = 64

/** Whether `value` is an object made by a class (not a plain object, not an array). */
const isInstance = (value: object): boolean => {
  const own: unknown = Object.getPrototypeOf(value)
  return own !== Object.prototype && own !== null && !Array.isArray(value)
}

const isObject = (u: unknown): u is object => typeof u === "object" && u !== null

/**
 * The keys to walk of a plain object or a Schema class's instance: those its
 * JSON form has, which are its Schema's fields (a field the Schema leaves
 * out, a cache, a link back to a parent, is not part of what crosses).
 */
const keysOf = (value: object, json: unknown): ReadonlyArray<string> =>
  isObject(json) && !Array.isArray(json) ? Object.keys(json).filter((key) => Object.hasOwn(value, key)) : []

/**
 * Whether `value` holds a class instance at a place its JSON form `json`
 * has (itself included): where {@link lostClass} looks. Guided by the JSON,
 * the walk ends with it, whatever else the value links to.
 */
const holdsClass = (value: unknown, json: unknown, depth: number): boolean => {
  if (!isObject(value) || depth > MAX_DEPTH) return false
  if (isInstance(value)) return true
  if (Array.isArray(value)) {
    if (!Array.isArray(json)) return false
    const n = Math.min(value.length, json.length)
    for (let i = 0; i < n; i++) {
      if (holdsClass(value[i], json[i], depth + 1)) return true
    }
    return false
  }
  for (const key of keysOf(value, json)) {
    if (holdsClass((value as Record<string, unknown>)[key], (json as Record<string, unknown>)[key], depth + 1)) {
      return true
    }
  }
  return false
}

/**
 * Whether `back` keeps the class of `value`, a class instance: it is one of
 * its class, or of a class its class extends (a subclass reads back as the
 * class its Schema names), or a plain object (a `Schema.Struct` reads an
 * instance back so).
 */
const keepsClass = (value: object, back: unknown): boolean => {
  const kind: unknown = isObject(back) ? Object.getPrototypeOf(back) : undefined
  return kind === Object.getPrototypeOf(value) || kind === Object.prototype || kind === null ||
    (kind instanceof Object && Object.prototype.isPrototypeOf.call(kind, value))
}

/**
 * The first class instance in `value` that `back`, the value read back from
 * its JSON form `json`, holds at the same place as an instance of another
 * class (or as a value of no class): the two, and where (a path such as
 * `its field "e" ` or `its item 2 `). The walk follows `json`: into arrays,
 * item by item (an array the Schema shortens is left alone, and an item
 * found elsewhere in it, an array the Schema reorders, passes), and into
 * plain objects and the instances of Schema classes, by the fields the JSON
 * has. Any other class instance is checked where it is met, not gone into:
 * a `Chunk`, a `HashSet`, an `Option`, a `Uint8Array` are Effect's or the
 * platform's own, and their insides are not laid out as their JSON is. So
 * a union confused inside such a value (an `Option` of two classes with the
 * same fields) is not caught, and a union of a class and its own subclass
 * reads the subclass back as the class, accepted: the subclass's own fields
 * are lost.
 */
const lostClass = (
  value: unknown,
  back: unknown,
  json: unknown,
  path: string,
  depth: number
): readonly [unknown, unknown, string] | undefined => {
  if (!isObject(value) || depth > MAX_DEPTH) return undefined
  if (Array.isArray(value)) {
    if (!Array.isArray(back) || !Array.isArray(json) || back.length !== value.length) return undefined
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i]
      const lost = lostClass(item, back[i], json[i], `${path}its item ${i} `, depth + 1)
      if (lost === undefined) continue
      // the item itself, found at another place: reordered by the Schema, not confused
      if (lost[0] === item && back.some((other) => keepsClass(item as object, other))) continue
      return lost
    }
    return undefined
  }
  if (isInstance(value)) {
    if (!keepsClass(value, back)) return [value, back, path]
    // only a Schema class's fields are laid out as its JSON is
    if (!Schema.isSchema((value as { readonly constructor?: unknown }).constructor)) return undefined
  }
  if (!isObject(back)) return undefined
  for (const key of keysOf(value, json)) {
    if (!Object.hasOwn(back, key)) continue
    const lost = lostClass(
      (value as Record<string, unknown>)[key],
      (back as Record<string, unknown>)[key],
      (json as Record<string, unknown>)[key],
      `${path}its field ${JSON.stringify(key)} `,
      depth + 1
    )
    if (lost !== undefined) return lost
  }
  return undefined
}

const compile = (task: TaskSet.AnyTask): Codecs => {
  const payload = Schema.toCodecJson(task.payload)
  const success = Schema.toCodecJson(task.success)
  const error = Schema.toCodecJson(task.error)
  const isError = Schema.is(task.error)
  const decodeSuccess = step(Schema.decodeUnknownExit(success))
  const decodeError = step(Schema.decodeUnknownExit(error))
  const decodePayload = step(Schema.decodeUnknownExit(payload))
  return {
    encodePayload: faithful(toJson(step(Schema.encodeUnknownExit(payload))), decodePayload),
    decodePayload,
    encodeSuccess: faithful(toJson(step(Schema.encodeUnknownExit(success))), decodeSuccess),
    decodeSuccess,
    encodeError: faithful(toJson(step(Schema.encodeUnknownExit(error))), decodeError),
    decodeError,
    // a filter of the error Schema that throws: not a value of it
    isError: (u) => {
      try {
        return isError(u)
      } catch {
        return false
      }
    }
  }
}

/**
 * The Rpc tag of a task: its name with each "%" written "%25" and each "/"
 * written "%2F". A name with neither is its own tag, as it was before tags
 * were escaped, so what earlier versions stored for it is still found. An
 * escaped name longer than the storage's tag column ({@link TAG_LIMIT}
 * characters), which fitted as it was, is cut to its first 40 characters
 * followed by "%~" and a hash of the whole name: no escaped name holds "%~",
 * so such a tag is no other task's.
 *
 * Effect's message storage identifies a request by
 * `${entityType}/${entityId}/${tag}/${primaryKey}`, and both the tag and the
 * task's key may hold a "/": with the name as the tag, task "render/v1" with
 * key "invoice-42" and task "render" with key "v1/invoice-42" were one
 * stored request whenever their keys fell in the same lane, and the second
 * submit got the first one's result. A tag without "/" ends at the first "/"
 * after the lane, which tells the name from the key; escaping "%" as well
 * keeps two names from having one tag ("a/b" and "a%2Fb").
 */
export const tagOf = (name: string): string => {
  const escaped = name.replace(/[%/]/g, (c) => c === "%" ? "%25" : "%2F")
  const characters = Array.from(escaped)
  if (escaped === name || characters.length <= TAG_LIMIT) return escaped
  return `${characters.slice(0, TAG_LIMIT - 10).join("")}%~${fnv1a(name).toString(16).padStart(8, "0")}`
}

/** Characters of the tag column of Effect's SQL message storage. */
export const TAG_LIMIT = 50

/** Everything derived from a task set, made once per set. */
export interface Protocol {
  readonly taskSet: TaskSet.Any
  readonly entity: TaskEntity
  /** The codecs of each task, by name. */
  readonly codecs: ReadonlyMap<string, Codecs>
  /** The Rpc tag of each task, by name ({@link tagOf}). */
  readonly tags: ReadonlyMap<string, string>
  /**
   * The task of each Rpc tag of the entity: every task's own tag, then, for
   * a name that {@link tagOf} changes, the name itself — the tag earlier
   * versions stored it under, where no task has it as its own — so that a
   * runner still runs what an earlier version stored or sends. Only runners
   * answer these tags: a submitter never uses them, as a request stored
   * under one may be another task's (the ambiguity {@link tagOf} removes).
   */
  readonly tasksByTag: ReadonlyMap<string, string>
}

const protocols = new WeakMap<TaskSet.Any, Protocol>()

/**
 * Text storage keeps as given: well-formed UTF-16 (a lone surrogate is
 * stored as U+FFFD, so two such texts would be one) without NUL (which
 * PostgreSQL's text cannot hold: the INSERT would fail, and be retried for
 * a minute). Task keys, task names and task set keys are all stored.
 */
export const isStorable = (text: string): boolean =>
  !text.includes("\u0000") && !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text)

/** What {@link isStorable} asks, for messages. */
export const storable = "well-formed Unicode without NUL characters"

/**
 * Column widths of Effect's SQL message storage (`entity_type` 150
 * characters, `tag` 50) and what its text columns can hold.
 */
const check = (taskSet: TaskSet.Any): void => {
  if (!TaskSet.isTaskSet(taskSet)) {
    throw new ExecutorError.InvalidArgumentError({
      argument: "taskSet",
      value: taskSet,
      expected: "a TaskSet (TaskSet.make)"
    })
  }
  if (taskSet.key.length > 140) {
    throw new ExecutorError.InvalidArgumentError({
      argument: "taskSet.key",
      value: taskSet.key,
      expected: "at most 140 characters (the cluster stores it as the entity type)"
    })
  }
  if (!isStorable(taskSet.key)) {
    throw new ExecutorError.InvalidArgumentError({
      argument: "taskSet.key",
      value: taskSet.key,
      expected: `${storable} (the cluster stores it as the entity type)`
    })
  }
  if (/(^|\/)lane-\d+(\/|$)/.test(taskSet.key)) {
    // Storage knows a stored task by "<entity type>/<lane>/<tag>/<key>", the entity type being
    // "taskscope/<task set key>" and the lane "lane-<n>": a set "a/lane-3" and a set "a" with a
    // task named "lane-5" could give two tasks one identity. Such a segment in a key is refused.
    throw new ExecutorError.InvalidArgumentError({
      argument: "taskSet.key",
      value: taskSet.key,
      expected: "a key without a \"lane-<digits>\" segment between slashes (the cluster names its lanes so)"
    })
  }
  for (const name of taskSet.names) {
    // what the runner's BackgroundExecutor takes as a task's `name` (TaskSet.make refuses "" too)
    if (name.length === 0) {
      throw new ExecutorError.InvalidArgumentError({
        argument: "task name",
        value: name,
        expected: "a non-empty string (the runner runs a task under its name)"
      })
    }
    if (!isStorable(name)) {
      throw new ExecutorError.InvalidArgumentError({
        argument: "task name",
        value: name,
        expected: `${storable} (the cluster stores it as the message tag)`
      })
    }
    if (Array.from(name).length > TAG_LIMIT) {
      throw new ExecutorError.InvalidArgumentError({
        argument: "task name",
        value: name,
        expected: `at most ${TAG_LIMIT} characters (the cluster stores it as the message tag)`
      })
    }
  }
}

/** The protocol of a task set; throws an `InvalidArgumentError` for one the cluster cannot store. */
export const protocolOf = (taskSet: TaskSet.Any): Protocol => {
  let protocol = protocols.get(taskSet)
  if (protocol === undefined) {
    check(taskSet)
    const codecs = new Map<string, Codecs>()
    const tags = new Map<string, string>()
    const tasksByTag = new Map<string, string>()
    for (const name of taskSet.names) {
      codecs.set(name, compile(taskSet.tasks[name]!))
      const tag = tagOf(name)
      tags.set(name, tag)
      tasksByTag.set(tag, name)
    }
    for (const name of taskSet.names) {
      if (!tasksByTag.has(name)) tasksByTag.set(name, name)
    }
    protocol = {
      taskSet,
      entity: Entity.make(`taskscope/${taskSet.key}`, [...tasksByTag.keys()].map(makeRpc)) as unknown as TaskEntity,
      codecs,
      tags,
      tasksByTag
    }
    protocols.set(taskSet, protocol)
  }
  return protocol
}

/**
 * How many entities of a task set share the work. A task's key picks its
 * lane, and a lane's shard picks its runner: enough lanes spread the tasks
 * over every runner, few enough keep the entities resident on a runner few.
 */
export const LANES = 128

/** The entity id of a task's key (FNV-1a, so every process agrees). */
export const laneOf = (key: string): string => `lane-${fnv1a(key) % LANES}`

/** The 32-bit FNV-1a hash of `text`'s UTF-16 code units, unsigned. */
const fnv1a = (text: string): number => {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return hash >>> 0
}

/**
 * What the message storage of `Cluster.layerPostgres` / `layerMemory` tells
 * a task's call, and asks it. It sits in the context of the fiber that calls
 * the task's Rpc, where the storage finds it: Effect's cluster client keeps
 * that context on the outgoing request, and runs the Interrupt it sends for
 * an interrupted call in the same context.
 */
export interface CallHookShape {
  /**
   * The request is saved (or found saved under its key), before the call goes
   * on to the runner — so one call both stores the task and waits for its
   * result. `answered`: the task already had a stored result then (the call
   * answers with it).
   */
  readonly stored: (answered: boolean) => void
  /**
   * Whether the call's caller interrupted it (`Task.interrupt`,
   * `cancelOnExit`): only then is the call's interruption the task's cancel.
   */
  readonly cancelled: () => boolean
}

/** The {@link CallHookShape} of the task's call, in the context of the fiber that calls its Rpc. */
export class CallHook extends Context.Service<CallHook, CallHookShape>()("@taskscope/cluster/CallHook") {}

/**
 * Message storage that tells each call when its request is saved, and stores
 * the Interrupt of a call only when the call's caller interrupted it.
 *
 * Effect's client sends an Interrupt for a call whenever the call ends
 * interrupted (its `onInterrupt` sees an interruption it was returned as well
 * as one it suffered), and a call ends interrupted when the runner serving it
 * lets go of the task: a runner that shuts down answers the calls waiting on
 * the tasks it leaves stored with an interruption. Stored, that Interrupt
 * reached the shard's next owner, which interrupted the task it had just
 * started again and stored the interruption as the task's result. The task
 * was not cancelled; its call asks again and gets the next owner's result.
 */
export const signallingStorage = (
  storage: MessageStorage.MessageStorage["Service"]
): MessageStorage.MessageStorage["Service"] =>
  MessageStorage.MessageStorage.of({
    ...storage,
    saveRequest: (message) =>
      Effect.tap(storage.saveRequest(message), (result) =>
        Effect.sync(() => {
          const hook = Context.getOption(message.context, CallHook)
          if (hook._tag === "None") return
          hook.value.stored(
            result._tag === "Duplicate" && result.lastReceivedReply._tag === "Some" &&
              result.lastReceivedReply.value._tag === "WithExit"
          )
        })),
    saveEnvelope: (message) =>
      message.envelope._tag !== "Interrupt"
        ? storage.saveEnvelope(message)
        : Effect.flatMap(Effect.serviceOption(CallHook),
          (hook) => hook._tag === "Some" && !hook.value.cancelled() ? Effect.void : storage.saveEnvelope(message))
  })

/**
 * A `Duration.Input` read strictly, for the duration options of every
 * taskscope package (`@taskscope/node` and `@taskscope/cluster` import it by
 * the `@taskscope/executor/internal/duration` subpath; it is not part of the
 * public API and may change in any release).
 *
 * `Duration.fromInput` reads leniently what options from untyped code get
 * wrong: NaN (a number, or in a `[seconds, nanos]` pair) as zero, and any
 * object as a `Duration.DurationObject`, its unknown fields ignored — so a
 * misspelt `{ millis: 5000 }`, an empty `{}` or a `Date` read as zero, a
 * grace period of nothing or a timeout that fires at once. Those are refused
 * here.
 *
 * @internal
 * @since 0.2.0
 */
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"

/** The fields of a `Duration.DurationObject`. */
const FIELDS: ReadonlySet<string> = new Set([
  "weeks",
  "days",
  "hours",
  "minutes",
  "seconds",
  "milliseconds",
  "microseconds",
  "nanoseconds"
])

const isNumberOrUndefined = (value: unknown): boolean =>
  value === undefined || (typeof value === "number" && !Number.isNaN(value))

/**
 * Whether `value` (not a `Duration`) reads as a `DurationObject`: a plain
 * object whose fields are all known, each a number or undefined, at least
 * one a number; another object (a Temporal-like duration, with getters) must
 * have at least one field that is a number, and none of another kind.
 */
const isDurationObject = (value: object): boolean => {
  const record = value as Record<string, unknown>
  const proto = Object.getPrototypeOf(value)
  if (proto === Object.prototype || proto === null) {
    // every field known, and one at least a number: `{ seconds: undefined }` (a setting missing
    // from a configuration) is no more a duration than `{}`
    const keys = Object.keys(value)
    return keys.every((key) => FIELDS.has(key) && isNumberOrUndefined(record[key])) &&
      keys.some((key) => record[key] !== undefined)
  }
  let found = false
  for (const field of FIELDS) {
    const part = record[field]
    if (!isNumberOrUndefined(part)) return false
    if (part !== undefined) found = true
  }
  return found
}

/**
 * `value` as milliseconds (`Infinity` for an infinite duration, negative for
 * a negative one), or `NaN` when it is not a duration: the caller refuses
 * what is out of its range, NaN included, with its own message.
 *
 * @category decoding
 * @since 0.2.0
 * @example
 * ```ts
 * import * as Durations from "@taskscope/executor/internal/duration"
 *
 * Durations.toMillis("2 seconds") // 2000
 * Durations.toMillis({ millis: 5 }) // NaN: "millis" is no field of a duration object
 * ```
 */
export const toMillis = (value: unknown): number => {
  if (typeof value === "number") return value // NaN stays NaN
  if (typeof value === "object" && value !== null) {
    if (Array.isArray(value)) {
      if (value.length !== 2 || !value.every(isNumberOrUndefined)) return Number.NaN
    } else if (!Duration.isDuration(value) && !isDurationObject(value)) {
      return Number.NaN
    }
  }
  const decoded = Option.getOrUndefined(Duration.fromInput(value as Duration.Input))
  return decoded === undefined ? Number.NaN : Duration.toMillis(decoded)
}

/**
 * A limit option (a timeout, a grace period) in milliseconds: `undefined`
 * when it is left out or infinite (no limit), `null` when it is not a
 * non-negative duration. The caller decides what `null` means: an
 * `InvalidArgumentError` naming the option, or leaving the value to a check
 * that reports it.
 *
 * @category decoding
 * @since 0.2.0
 * @example
 * ```ts
 * import * as Durations from "@taskscope/executor/internal/duration"
 *
 * Durations.limitMillis("5 seconds") // 5000
 * Durations.limitMillis(Infinity) // undefined: no limit
 * Durations.limitMillis(-1) // null
 * ```
 */
export const limitMillis = (value: unknown): number | undefined | null => {
  if (value === undefined) return undefined
  const millis = toMillis(value)
  if (!(millis >= 0)) return null // NaN too
  return Number.isFinite(millis) ? millis : undefined
}

/**
 * An instant option (a deadline) in epoch milliseconds: `undefined` when it
 * is left out, `null` when it is neither a valid `Date` nor a finite number
 * of milliseconds since the epoch.
 *
 * @category decoding
 * @since 0.2.0
 * @example
 * ```ts
 * import * as Durations from "@taskscope/executor/internal/duration"
 *
 * Durations.instantMillis(new Date(0)) // 0
 * Durations.instantMillis(new Date("not a date")) // null
 * ```
 */
export const instantMillis = (value: unknown): number | undefined | null => {
  if (value === undefined) return undefined
  if (typeof value === "number") return Number.isFinite(value) ? value : null
  if (value instanceof Date) {
    const millis = value.getTime()
    return Number.isFinite(millis) ? millis : null
  }
  return null
}

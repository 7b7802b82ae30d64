/**
 * Text for error messages built from values that came from the user: what a
 * task failed with, the value of a bad option. A message must never throw,
 * and these values can be anything: an object with a null prototype, one
 * whose `toString` or getters throw, a revoked proxy, a cycle, or a plain
 * copy of a `Cause` (vitest replaces an error's `cause` with one when a test
 * fails with it). Every function here returns text for any input.
 *
 * `@taskscope/node` and `@taskscope/cluster` import it by the
 * `@taskscope/executor/internal/describe` subpath, so that an error or a
 * value reads the same in every package's messages; it is not part of the
 * public API and may change in any release.
 *
 * @internal
 * @since 0.2.0
 */
import * as Cause from "effect/Cause"

/**
 * Runs `f`; if it throws, returns `fallback`.
 *
 * @category utils
 * @since 0.2.0
 */
export const attempt = <A>(f: () => A, fallback: A): A => {
  try {
    return f()
  } catch {
    return fallback
  }
}

const MAX = 200

const clip = (text: string): string => text.length > MAX ? `${text.slice(0, MAX - 3)}...` : text

const isRecord = (u: unknown): u is Readonly<Record<string, unknown>> =>
  (typeof u === "object" && u !== null) || typeof u === "function"

/**
 * The errors and the defects of a cause, or of a plain copy of one (its
 * `reasons` as plain objects), in order, with how many reasons it has in all
 * (interruptions too); `undefined` for anything else.
 */
const reasonsOf = (
  cause: unknown
): { readonly errors: Array<unknown>; readonly defects: Array<unknown>; readonly count: number } | undefined => {
  const reasons: unknown = Cause.isCause(cause) ? cause.reasons : isRecord(cause) ? cause.reasons : undefined
  if (!Array.isArray(reasons)) return undefined
  const errors: Array<unknown> = []
  const defects: Array<unknown> = []
  for (const reason of reasons) {
    if (!isRecord(reason)) continue
    if (reason._tag === "Fail") errors.push(reason.error)
    else if (reason._tag === "Die") defects.push(reason.defect)
  }
  return { errors, defects, count: reasons.length }
}

/**
 * What a cause failed with, as `Cause.squash` finds it: the first typed
 * error, else the first defect. A plain copy of a cause is read the same
 * way; anything else is its own reason.
 *
 * @category causes
 * @since 0.2.0
 */
export const squash = (cause: unknown): unknown =>
  attempt(() => {
    if (Cause.isCause(cause)) return Cause.squash(cause)
    const found = reasonsOf(cause)
    if (found === undefined) return cause
    if (found.errors.length > 0) return found.errors[0]
    if (found.defects.length > 0) return found.defects[0]
    return found.count > 0 ? "interrupted" : "no reason recorded"
  }, cause)

/**
 * The reasons of a cause besides the one {@link squash} finds — the errors
 * and defects, in order; interruptions do not count — for a real cause or a
 * plain copy; none for anything else.
 *
 * @category causes
 * @since 0.2.0
 */
export const otherReasons = (cause: unknown): ReadonlyArray<unknown> =>
  attempt(() => {
    const found = reasonsOf(cause)
    if (found === undefined) return []
    // squash names the first error, or the first defect when there is none
    return found.errors.length > 0 ? [...found.errors.slice(1), ...found.defects] : found.defects.slice(1)
  }, [])

/** The names a plain copy of an error has: what structured cloning or a JSON round trip leaves of one. */
const copiedErrorNames = new Set(["name", "message", "stack", "cause"])

/**
 * `name: message` of an error, or of a plain copy of one — an object with
 * a null or the plain prototype whose own names are among `name`, `message`,
 * `stack` and `cause`, with `name`, `message` and `stack` strings (a defect
 * a worker thread could not clone as it was; user data `{ name, message }`
 * is not one) —;
 * `undefined` for anything else. `loose`: any object with a string
 * `message` counts (for values known to be errors: a defect, a failure).
 */
const errorLike = (u: unknown, loose: boolean): string | undefined =>
  attempt(() => {
    if (!isRecord(u)) return undefined
    const { message, name } = u
    if (typeof message !== "string") return undefined
    if (!loose && !(u instanceof Error)) {
      const proto = Object.getPrototypeOf(u)
      if (proto !== null && proto !== Object.prototype) return undefined
      if (typeof name !== "string" || typeof u.stack !== "string") return undefined
      if (!Object.keys(u).every((key) => copiedErrorNames.has(key))) return undefined
    }
    return typeof name === "string" && name !== "" ? `${name}: ${message}` : message
  }, undefined)

/**
 * What a defect or an error says, in full: `name: message` of an error or
 * of anything with a string `message` (a plain copy of an error), a string
 * as it is, an error whose fields cannot be read by its class (`an instance
 * of RangeError`), anything else {@link print}ed (JSON, up to about 200
 * characters).
 *
 * @category formatting
 * @since 0.2.0
 */
export const errorText = (u: unknown): string =>
  typeof u === "string" ? u : errorLike(u, true) ??
    // an error whose `message` or `name` cannot be read (a getter that throws): its class, at least
    (attempt(() => u instanceof Error, false) ? describe(u) : print(u))

/**
 * A value printed for people; at most about 200 characters for objects. A
 * plain copy of an error reads as the error would: `name: message`.
 *
 * @category formatting
 * @since 0.2.0
 */
export const print = (u: unknown): string => {
  switch (typeof u) {
    case "string":
      return u
    case "function":
      return `function ${attempt(() => (typeof u.name === "string" && u.name) || "(anonymous)", "(anonymous)")}`
    case "object": {
      if (u === null) return "null"
      const proto = attempt(() => Object.getPrototypeOf(u), undefined)
      // plain objects and arrays say more as JSON; instances by their own toString (a Date, an Error)
      const plain = proto === null || proto === Object.prototype || proto === Array.prototype
      const copied = plain ? errorLike(u, false) : undefined
      if (copied !== undefined) return clip(copied)
      const asJson = () => attempt(() => JSON.stringify(u) as string | undefined, undefined)
      const asString = () => attempt(() => String(u), undefined)
      const text = plain ? (asJson() ?? asString()) : (asString() ?? asJson())
      return clip(text ?? attempt(() => Object.prototype.toString.call(u), "an object that cannot be printed"))
    }
    default:
      return String(u)
  }
}

/**
 * An error's message when it has one, otherwise the value printed; an error
 * without a message (an Effect tagged error, say) with its fields as JSON.
 *
 * @category formatting
 * @since 0.2.0
 */
export const messageOf = (u: unknown): string => {
  const message = attempt(() => (isRecord(u) ? u.message : undefined), undefined)
  if (typeof message === "string" && message.length > 0) return message
  const text = print(u)
  if (typeof message !== "string") return text
  const fields = attempt(() => JSON.stringify(u) as string | undefined, undefined)
  return fields === undefined || fields === "{}" || fields === text ? text : clip(`${text} ${fields}`)
}

/**
 * A value as option checks show it: `0 (number)`, `"" (string)`, `an instance of Promise`,
 * `an object {"millis":5000}`, `an invalid Date`.
 *
 * @category formatting
 * @since 0.2.0
 */
export const describe = (value: unknown): string =>
  attempt(() => {
    if (typeof value === "string") return `${JSON.stringify(value)} (string)`
    if (typeof value === "function") {
      const name = attempt(() => value.name as unknown, undefined)
      return `a function${typeof name === "string" && name !== "" ? ` (${name})` : ""}`
    }
    if (value === null || value === undefined) return String(value)
    if (typeof value === "object") {
      if (value instanceof Date && Number.isNaN(value.getTime())) return "an invalid Date"
      const constructorName = attempt(() => (value as object).constructor?.name, undefined)
      if (typeof constructorName === "string" && constructorName !== "" && constructorName !== "Object") {
        return `an instance of ${constructorName}`
      }
      // a plain object shows its fields: `{ millis: 5000 }` given for a duration says what went wrong
      const fields = attempt(() => JSON.stringify(value) as string | undefined, undefined)
      return fields === undefined || fields === "{}" ? "an object" : clip(`an object ${fields}`)
    }
    return `${String(value)} (${typeof value})`
  }, "a value that cannot be printed")

const QUOTE_MAX = 80

/**
 * A value quoted for a message about it (a task name from untyped code, a
 * payload): strings in double quotes, objects as JSON (errors and their
 * plain copies by name and message), at most about 80 characters.
 *
 * @category formatting
 * @since 0.2.0
 */
export const quote = (u: unknown): string => {
  const cut = (text: string) => text.length > QUOTE_MAX ? `${text.slice(0, QUOTE_MAX - 3)}...` : text
  switch (typeof u) {
    case "string":
      return JSON.stringify(cut(u))
    case "bigint":
      return `${u}n`
    case "object": {
      if (u === null) return "null"
      const text = errorLike(u, false) ??
        // cyclic or otherwise not JSON: fall back to the tag
        attempt(() => JSON.stringify(u) as string | undefined, undefined) ??
        attempt(() => Object.prototype.toString.call(u), "an object that cannot be printed")
      return cut(text)
    }
    default:
      return print(u)
  }
}

/**
 * A list of values, each quoted, joined by commas; anything else quoted as one.
 *
 * @category formatting
 * @since 0.2.0
 */
export const quoteList = (u: unknown): string =>
  attempt(() => Array.isArray(u) ? u.map(quote).join(", ") : undefined, undefined) ?? quote(u)

/**
 * Short, printable descriptions of arbitrary values for error messages. They
 * never throw: a message is built from whatever the user handed in (a
 * payload, a task name from untyped code) and is read wherever the error ends
 * up, maybe after a test runner replaced its fields with plain copies; null
 * prototypes, throwing getters, cycles and revoked proxies all get a text.
 *
 * @internal
 */

const MAX = 80

const clip = (text: string): string => text.length > MAX ? text.slice(0, MAX - 3) + "..." : text

/** Runs `f`; `undefined` if it throws. */
const attempt = <A>(f: () => A): A | undefined => {
  try {
    return f()
  } catch {
    return undefined
  }
}

/** Describes a value in at most about 80 characters, never throwing. */
export const describeValue = (u: unknown): string => {
  switch (typeof u) {
    case "string":
      return JSON.stringify(clip(u))
    case "function": {
      const name = attempt(() => u.name as unknown)
      return `function ${typeof name === "string" && name !== "" ? name : "(anonymous)"}`
    }
    case "bigint":
      return `${u}n`
    case "object": {
      if (u === null) return "null"
      const text = attempt(() => (u instanceof Error ? `${u.name}: ${u.message}` : undefined)) ??
        // cyclic or otherwise not JSON: fall back to the tag
        attempt(() => JSON.stringify(u) as string | undefined) ??
        attempt(() => Object.prototype.toString.call(u)) ??
        "an object that cannot be printed"
      return clip(text)
    }
    default:
      // numbers, booleans, undefined, symbols
      return String(u)
  }
}

/** A field that should hold text: a string as it is, anything else described. */
export const describeText = (u: unknown): string => typeof u === "string" ? u : describeValue(u)

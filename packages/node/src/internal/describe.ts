/**
 * Short, printable descriptions of arbitrary values for error messages.
 *
 * @internal
 */

const MAX = 80

const clip = (text: string): string => text.length > MAX ? text.slice(0, MAX - 3) + "..." : text

/** Describes a value in at most about 80 characters, never throwing. */
export const describeValue = (u: unknown): string => {
  switch (typeof u) {
    case "string":
      return JSON.stringify(clip(u))
    case "function":
      return `function ${u.name || "(anonymous)"}`
    case "bigint":
      return `${u}n`
    case "symbol":
      return u.toString()
    case "object": {
      if (u === null) return "null"
      if (u instanceof Error) return clip(`${u.name}: ${u.message}`)
      try {
        const json = JSON.stringify(u)
        if (json !== undefined) return clip(json)
      } catch {
        // cyclic or otherwise not JSON: fall back to the tag
      }
      return Object.prototype.toString.call(u)
    }
    default:
      return String(u)
  }
}

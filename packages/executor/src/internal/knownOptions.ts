/**
 * Option names checked at run time, for the options objects of every
 * taskscope package (`@taskscope/node` and `@taskscope/cluster` import it by
 * the `@taskscope/executor/internal/knownOptions` subpath; it is not part of
 * the public API and may change in any release).
 *
 * TypeScript refuses an option the interface does not name; a program in
 * plain JavaScript, or one that builds its options from configuration, would
 * otherwise have `{ maxConcurency: 4 }` read as no option at all: a silent
 * default (no bound). Each entry point refuses an option it does not know,
 * with an `InvalidArgumentError` that names it and the option meant.
 *
 * @internal
 * @since 0.2.0
 */
import { InvalidArgumentError } from "../ExecutorError.ts"

/**
 * The names of the options of `T`, every one of them: a name the interface
 * gains and the list lacks is a type error at the list.
 *
 * @category models
 * @since 0.2.0
 */
export type Exhaustive<T, K extends ReadonlyArray<PropertyKey>> = [Exclude<keyof T, K[number]>] extends [never] ?
  unknown
  : { readonly "missing option names": Exclude<keyof T, K[number]> }

/**
 * The names of `BackgroundExecutor.Options`, which every executor built on
 * it (`WorkerExecutor`, `ClusterExecutor`) takes too, all or some.
 *
 * @category constants
 * @since 0.2.0
 */
export const executorNames = [
  "maxConcurrency",
  "maxQueue",
  "maxConcurrencyPerKey",
  "closeTimeout",
  "bubbleUp",
  "name",
  "metrics",
  "tracing"
] as const

/**
 * The names of `BackgroundExecutor.SubmitOptions`, which every executor's
 * `submit` takes.
 *
 * @category constants
 * @since 0.2.0
 */
export const submitNames = [
  "name",
  "cancelOnExit",
  "reraiseOnExit",
  "nextTick",
  "timeout",
  "startTimeout",
  "deadline",
  "priority",
  "key"
] as const

/**
 * The option names of the interface `T`, as a set for {@link check}; the
 * list must name every option of `T` (see {@link Exhaustive}).
 *
 * @category constructors
 * @since 0.2.0
 * @example
 * ```ts
 * import * as KnownOptions from "@taskscope/executor/internal/knownOptions"
 *
 * interface Options {
 *   readonly size?: number
 *   readonly name?: string
 * }
 * const known = KnownOptions.of<Options>()("size", "name")
 * ```
 */
export const of =
  <T>() => <const K extends ReadonlyArray<keyof T & string>>(...names: K & Exhaustive<T, K>): ReadonlySet<string> =>
    new Set<string>(names)

/**
 * Throws an `InvalidArgumentError` for the first own enumerable property of
 * the plain object `options` that is not in `known` and not `undefined`
 * (left out, as every option's `undefined` is), naming it, its value (as
 * `show` gives it: a secret may be hidden) and the option it is closest to,
 * or every option when none is close. `where` says whose options they are,
 * e.g. `"BackgroundExecutor.make"`.
 *
 * Only plain objects (`{ ... }`, or of a `null` prototype) are checked —
 * anything else is left to the caller's own check that options are an
 * object (`undefined` is no options at all), and an instance of a class (a `Schema.Class`, a `Data.Class`, Effect's
 * `RunnerAddress`) carries names of its own beside the options it was made
 * for, and names inherited from a prototype are no one's typo.
 *
 * @category checks
 * @since 0.2.0
 * @example
 * ```ts
 * import * as KnownOptions from "@taskscope/executor/internal/knownOptions"
 *
 * const known = new Set(["maxConcurrency", "maxQueue"])
 * KnownOptions.check({ maxQueue: 10 }, known, "make") // returns
 * // KnownOptions.check({ maxConcurency: 4 }, known, "make") throws:
 * // Expected `maxConcurency` to be an option of make (did you mean `maxConcurrency`?), got 4
 * ```
 */
export const check = (
  options: unknown,
  known: ReadonlySet<string>,
  where: string,
  show: (value: unknown) => unknown = (value) => value
): void => {
  if (typeof options !== "object" || options === null) return
  const proto = Object.getPrototypeOf(options)
  if (proto !== Object.prototype && proto !== null) return
  for (const name in options) {
    if (known.has(name) || !Object.hasOwn(options, name)) continue
    const value = (options as Record<string, unknown>)[name]
    if (value === undefined) continue
    throw new InvalidArgumentError({
      argument: name.length > MAX_NAME ? `${name.slice(0, MAX_NAME)}…` : name,
      value: show(value),
      expected: `an option of ${where} (${hint(name, known)})`
    })
  }
}

/** How much of an unknown name a message repeats. */
const MAX_NAME = 64

/** "did you mean `x`?" for the known name closest to `name`, or the list of them when none is close. */
const hint = (name: string, known: ReadonlySet<string>): string => {
  if (name.length > MAX_NAME) return list(known)
  let best: string | undefined
  let bestDistance = Number.POSITIVE_INFINITY
  for (const candidate of known) {
    const d = distance(name.toLowerCase(), candidate.toLowerCase())
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  // close: a few edits, fewer than a third of the name (a typo, a case slip, a missing letter)
  if (best !== undefined && bestDistance <= Math.max(1, Math.floor(best.length / 3))) {
    return `did you mean \`${best}\`?`
  }
  return list(known)
}

const list = (known: ReadonlySet<string>): string => `one of ${[...known].map((k) => `\`${k}\``).join(", ")}`

/**
 * The edit distance (optimal string alignment): insertions, deletions,
 * substitutions and swaps of two neighbours that turn `a` into `b`.
 */
const distance = (a: string, b: string): number => {
  // rows i - 2, i - 1 and i of the table
  let before: Array<number> = []
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      let d = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, before[j - 2]! + 1)
      current[j] = d
    }
    before = previous
    previous = current
  }
  return previous[b.length]!
}

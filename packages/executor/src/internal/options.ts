/**
 * Checks of user input shared by every executor. Each check throws an
 * `InvalidArgumentError` whose message names the option or argument and
 * the value it got, in the manner of p-queue: a programming error is reported
 * where it is made, never turned into a hang or a silent default.
 *
 * @internal
 */
import { InvalidArgumentError } from "../ExecutorError.ts"
import * as Durations from "./duration.ts"

/** A positive integer or `Infinity`; `undefined` yields `fallback`. */
export const positiveIntegerOrInfinity = (argument: string, value: unknown, fallback: number): number => {
  if (value === undefined) return fallback
  if (value === Number.POSITIVE_INFINITY || (typeof value === "number" && Number.isInteger(value) && value > 0)) {
    return value as number
  }
  throw new InvalidArgumentError({ argument, value, expected: "an integer from 1 and up, or Infinity" })
}

/** A boolean; `undefined` yields `fallback`. */
export const boolean = (argument: string, value: unknown, fallback: boolean): boolean => {
  if (value === undefined) return fallback
  if (typeof value === "boolean") return value
  throw new InvalidArgumentError({ argument, value, expected: "a boolean" })
}

/** A non-empty string, or `undefined`. */
export const optionalName = (argument: string, value: unknown): string | undefined => {
  if (value === undefined || (typeof value === "string" && value.length > 0)) return value
  throw new InvalidArgumentError({ argument, value, expected: "a non-empty string" })
}

/** A function, or `undefined`. */
export const optionalFunction = <F extends Function>(argument: string, value: unknown): F | undefined => {
  if (value === undefined || typeof value === "function") return value as F | undefined
  throw new InvalidArgumentError({ argument, value, expected: "a function" })
}

/** An object of options, or `undefined`. */
export const optionsObject = <O extends object>(argument: string, value: unknown): O | undefined => {
  if (value === undefined || (typeof value === "object" && value !== null && !Array.isArray(value))) {
    return value as O | undefined
  }
  throw new InvalidArgumentError({ argument, value, expected: "an object of options" })
}

/** A finite number; `undefined` yields `fallback`. */
export const finiteNumber = (argument: string, value: unknown, fallback: number): number => {
  if (value === undefined) return fallback
  if (typeof value === "number" && Number.isFinite(value)) return value
  throw new InvalidArgumentError({ argument, value, expected: "a finite number" })
}

/** A string, or `undefined`. */
export const optionalString = (argument: string, value: unknown): string | undefined => {
  if (value === undefined || typeof value === "string") return value
  throw new InvalidArgumentError({ argument, value, expected: "a string" })
}

/**
 * A non-negative `Duration.Input` (`1000`, `"5 seconds"`, a `Duration`), in
 * milliseconds; `undefined` and an infinite duration yield `undefined` (no limit).
 */
export const optionalDuration = (argument: string, value: unknown): number | undefined => {
  const millis = Durations.limitMillis(value)
  if (millis !== null) return millis
  throw new InvalidArgumentError({
    argument,
    value,
    expected: "a non-negative duration (milliseconds, or e.g. \"5 seconds\")"
  })
}

/** A valid `Date` or a finite number of epoch milliseconds, as epoch milliseconds, or `undefined`. */
export const optionalInstant = (argument: string, value: unknown): number | undefined => {
  const instant = Durations.instantMillis(value)
  if (instant !== null) return instant
  throw new InvalidArgumentError({ argument, value, expected: "a Date or a number of milliseconds since the epoch" })
}

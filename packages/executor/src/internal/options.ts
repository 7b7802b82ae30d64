/**
 * Checks of user input shared by every executor. Each check throws an
 * {@link InvalidArgumentError} whose message names the option or argument and
 * the value it got, in the manner of p-queue: a programming error is reported
 * where it is made, never turned into a hang or a silent default.
 *
 * @internal
 */
import * as Data from "effect/Data"

/** @internal */
export class InvalidArgumentError extends Data.TaggedError("InvalidArgumentError")<{
  readonly argument: string
  readonly value: unknown
  readonly expected: string
}> {
  override get message(): string {
    return `Expected \`${this.argument}\` to be ${this.expected}, got ${describe(this.value)}`
  }
}

/** Renders a value the way an error message should show it: `0 (number)`. */
export const describe = (value: unknown): string => {
  if (typeof value === "string") return `${JSON.stringify(value)} (string)`
  if (typeof value === "function") return `a function${value.name ? ` (${value.name})` : ""}`
  if (value === null || value === undefined) return String(value)
  if (typeof value === "object") {
    const constructorName = (value as object).constructor?.name
    return constructorName && constructorName !== "Object" ? `an instance of ${constructorName}` : "an object"
  }
  return `${String(value)} (${typeof value})`
}

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

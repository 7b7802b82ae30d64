/**
 * Schema steps of a call, shared by both sides.
 *
 * A Schema whose AST has no transformation anywhere (no `encoding`, as
 * `Schema.Number`, `Schema.Struct({ ... })` of such fields, unions and arrays
 * of them) encodes and decodes by checking the value: it needs no service
 * (no `Transferable.Collector`) and never suspends, so it is run with the
 * synchronous `Exit` variants, outside any fiber. Every other Schema runs as
 * an `Effect` in a fiber, as before. Either way the Schema does its work: the
 * value is checked and rebuilt the same way.
 *
 * @internal
 */
import { quote } from "@taskscope/executor/internal/describe"
import * as Cause from "effect/Cause"
import type * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import type * as SchemaAST from "effect/SchemaAST"
import type * as TaskSet from "../TaskSet.ts"

/**
 * `true` when a Schema's AST has no transformation anywhere, so that its
 * encoding and decoding are checks needing no service and never suspending.
 * Conservative: declarations (classes, `instanceOf`) and recursive schemas
 * answer `false`.
 */
export const isPlain = (ast: SchemaAST.AST): boolean => {
  if (ast.encoding !== undefined || ast.context !== undefined) return false
  switch (ast._tag) {
    case "Null":
    case "Undefined":
    case "Void":
    case "Never":
    case "Unknown":
    case "Any":
    case "String":
    case "Number":
    case "Boolean":
    case "BigInt":
    case "Symbol":
    case "Literal":
    case "UniqueSymbol":
    case "ObjectKeyword":
    case "Enum":
    case "TemplateLiteral":
      return true
    case "Arrays":
      return ast.elements.every(isPlain) && ast.rest.every(isPlain)
    case "Objects":
      return ast.propertySignatures.every((property) => isPlain(property.type)) &&
        ast.indexSignatures.every((index) => isPlain(index.type))
    case "Union":
      return ast.types.every(isPlain)
    default:
      return false
  }
}

/** A synchronous Schema step: an `Exit`, or `undefined` when the Schema needs the Effect path. */
export type SyncStep = ((input: unknown) => Exit.Exit<unknown, Schema.SchemaError>) | undefined

/** The synchronous steps of one task, each `undefined` where its Schema is not plain. */
export interface SyncSteps {
  readonly encodePayload: SyncStep
  readonly decodePayload: SyncStep
  readonly encodeSuccess: SyncStep
  readonly decodeSuccess: SyncStep
}

const when = (schema: TaskSet.AnySchema, step: (schema: TaskSet.AnySchema) => SyncStep): SyncStep =>
  isPlain(schema.ast) ? step(schema) : undefined

/** Compiles the synchronous steps a task's Schemas allow. */
export const syncSteps = (definition: TaskSet.AnyTask): SyncSteps => ({
  encodePayload: when(definition.payload, Schema.encodeUnknownExit),
  decodePayload: when(definition.payload, Schema.decodeUnknownExit),
  encodeSuccess: when(definition.success, Schema.encodeUnknownExit),
  decodeSuccess: when(definition.success, Schema.decodeUnknownExit)
})

/**
 * What went wrong in a Schema step, for the typed error that reports it: its
 * `SchemaError`'s message, or what its own code (a transformation, a
 * filter) threw — a defect of the step, not of the program.
 */
export const schemaProblem = (cause: Cause.Cause<Schema.SchemaError>): string => {
  const error = Cause.findErrorOption(cause)
  return error._tag === "Some" ? error.value.message : `its transformation threw ${quote(Cause.squash(cause))}`
}

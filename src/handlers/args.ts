// Builds a Handler from a typed body: checks the resolved `with:` arguments against the params schema first.

import { Ajv, type ValidateFunction } from 'ajv';
import type { JsonSchema } from '../chart/model.js';
import { FinalFailure, type ArgumentKind, type Handler, type StepContext } from './handler.js';

// One compiler for all handlers; useDefaults fills `default:` values (e.g. compression: gzip). The schemas are
// ours and strict mode checks them as they compile, so the meta-schema is not compiled at start-up as well.
const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, validateSchema: false });
const compiled = new WeakMap<JsonSchema, ValidateFunction>();

export interface HandlerSpec<T> {
  readonly name: string;
  readonly description: string;
  readonly params: JsonSchema;
  readonly operatorOwned?: Readonly<Record<string, ArgumentKind>>;
  readonly writes?: string;
  run(args: T, ctx: StepContext): Promise<void>;
}

/**
 * Every failure report starts with the handler's name, so it reads on its own in an alert;
 * a FinalFailure (retrying cannot help) stays one, so the step skips its remaining retries.
 */
export function defineHandler<T>(spec: HandlerSpec<T>): Handler {
  return {
    name: spec.name,
    description: spec.description,
    params: spec.params,
    ...(spec.operatorOwned && { operatorOwned: spec.operatorOwned }),
    ...(spec.writes && { writes: spec.writes }),
    async run(args, ctx) {
      try {
        await spec.run(checkArgs<T>(spec.params, args), ctx);
      } catch (error) {
        const message = `${spec.name}: ${error instanceof Error ? error.message : String(error)}`;
        const wrapped = error instanceof FinalFailure ? new FinalFailure(message) : new Error(message);
        wrapped.cause = error;
        throw wrapped;
      }
    },
  };
}

/** Returns a checked copy of `args` (defaults filled in) or throws one Error listing every problem. */
export function checkArgs<T>(schema: JsonSchema, args: Record<string, unknown>): T {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  const copy = structuredClone(args);
  if (!validate(copy)) {
    const problems = (validate.errors ?? []).map((error) => {
      const where = error.instancePath || 'arguments';
      const extra = error.keyword === 'additionalProperties' ? ` '${String(error.params['additionalProperty'])}'` : '';
      return `${where} ${error.message ?? 'is invalid'}${extra}`;
    });
    throw new FinalFailure(`invalid arguments: ${problems.join('; ')}`);
  }
  return copy as T;
}

/** A JSON Schema for a non-empty path string. */
export const PATH_SCHEMA = { type: 'string', minLength: 1 } as const;

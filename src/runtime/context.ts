// Checks an instance's context against its chart's JSON Schema once, at creation; then it is frozen.

import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { Chart } from '../chart/model.js';
import type { Context } from '../engine/snapshot.js';
import { ContextInvalid } from '../errors.js';
import { checkDepth } from '../jsonDepth.js';

/**
 * Real contexts are a few named inputs, two or three levels deep; 32 is ten times that, and far below the ~2,000
 * levels at which writing a snapshot to the journal (JSON.stringify, which recurses) runs out of stack.
 */
export const MAX_CONTEXT_DEPTH = 32;

export class ContextChecker {
  // Charts' context schemas were checked against the meta-schema when the chart loaded (chart/schema.ts).
  private readonly ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, validateSchema: false });
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor() {
    addFormats.default(this.ajv);
  }

  /** A validated copy with the schema's defaults filled in; throws ContextInvalid listing every problem. */
  check(chart: Chart, context: unknown): Context {
    if (typeof context !== 'object' || context === null || Array.isArray(context)) {
      throw new ContextInvalid('context must be a JSON object', ['context must be a JSON object']);
    }
    checkDepth(context, MAX_CONTEXT_DEPTH, 'context', 'an instance\'s context holds its inputs; pass them flatter');
    const copy = structuredClone(context) as Context;
    const validate = this.validator(chart);
    if (validate && !validate(copy)) {
      const problems = (validate.errors ?? []).map((error) => {
        const where = error.instancePath ? `context${error.instancePath.replaceAll('/', '.')}` : 'context';
        const extra = error.keyword === 'additionalProperties' ? ` (${String(error.params['additionalProperty'])})` : '';
        return `${where} ${error.message ?? 'is invalid'}${extra}`;
      });
      throw new ContextInvalid(`context does not match chart ${chart.name}'s schema: ${problems.join('; ')}`, problems);
    }
    return copy;
  }

  accepts(chart: Chart, context: Context): boolean {
    const validate = this.validator(chart);
    return !validate || validate(structuredClone(context));
  }

  private validator(chart: Chart): ValidateFunction | undefined {
    if (!chart.context) return undefined;
    const key = `${chart.name}@${chart.version}`;
    let validate = this.compiled.get(key);
    if (!validate) {
      validate = this.ajv.compile({ type: 'object', ...chart.context });
      this.compiled.set(key, validate);
    }
    return validate;
  }
}

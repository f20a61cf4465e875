// The shape of each chart dialect as JSON Schema (ajv), with ajv's errors turned into messages people can act on.

import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { Dialect, JsonSchema } from './model.js';
import { didYouMean, listNames } from './problem.js';
import { lazy } from '../lazy.js';

export interface ShapeProblem {
  readonly path: string;
  readonly message: string;
  /** Set on a key the dialect ignores (StateService's extra keys): worth a warning, not a refusal. */
  readonly level?: 'warning';
}

export const CHART_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const CHART_NAME_RULE = "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit";
const STATE_NAME = '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$';
const EVENT_NAME = '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$';

const stateRef = { type: 'string', minLength: 1 };
// Prediction models the chart names (POST /state): model name -> file, relative to the chart file.
const models = {
  type: 'object',
  propertyNames: { pattern: EVENT_NAME, hint: "model names are 1-64 letters, digits, '.', '_' or '-'" },
  additionalProperties: { type: 'string', minLength: 1 },
};
// Durations, times and timeouts are checked by the dialects, which can say how to write them.
const unchecked = {};

const chartdState = {
  type: 'object',
  properties: {
    description: { type: 'string' },
    final: { type: 'boolean' },
    gate: {
      type: 'object',
      properties: {
        count: { type: 'integer', minimum: 1, hint: 'gate count must be a whole number of at least 1 (the PUTs needed to open it)' },
        distinct: { type: 'boolean' },
      },
      required: ['count'],
      additionalProperties: false,
    },
    next: stateRef,
    at: unchecked,
    after: unchecked,
    run: { type: 'string', minLength: 1 },
    with: { type: 'object' },
    on_success: stateRef,
    on_failure: stateRef,
    retry: {
      type: 'object',
      properties: {
        attempts: { type: 'integer', minimum: 1, hint: 'attempts counts the first try too, so it must be at least 1' },
        delay: unchecked,
        backoff: { type: 'number', minimum: 1, hint: 'backoff multiplies the delay after each failure; it must be at least 1' },
        max_delay: unchecked,
      },
      additionalProperties: false,
    },
    timeout: unchecked,
    on: {
      type: 'object',
      minProperties: 1,
      propertyNames: { pattern: EVENT_NAME, hint: "event names are 1-64 letters, digits, '.', '_' or '-'" },
      additionalProperties: stateRef,
      hint: 'on: needs at least one event, e.g. on: { passed: done }',
    },
  },
  additionalProperties: false,
};

const chartdSchema = {
  type: 'object',
  properties: {
    chart: { type: 'string', pattern: CHART_NAME.source, hint: `chart name must be ${CHART_NAME_RULE}` },
    description: { type: 'string' },
    initial: stateRef,
    context: { type: 'object' },
    settings: { type: 'object' },
    failure_prefix: { type: 'string' },
    owner: { type: 'string', pattern: CHART_NAME.source, hint: 'owner names a built-in service, e.g. backup-controller' },
    models,
    states: {
      type: 'object',
      minProperties: 1,
      propertyNames: { pattern: STATE_NAME, hint: "state names are 1-64 letters, digits, '.', '_' or '-', not starting with '.' or '-'" },
      additionalProperties: chartdState,
      hint: 'a chart needs at least one state',
    },
  },
  required: ['chart', 'initial', 'states'],
  additionalProperties: false,
};

const counter = {
  type: 'object',
  properties: { key: { type: 'string', minLength: 1 }, value: { type: ['integer', 'string'] } },
  required: ['key', 'value'],
  additionalProperties: false,
};

const stateServiceSchema = {
  type: 'object',
  properties: {
    current_state: stateRef,
    models,
    states: {
      type: 'array',
      minItems: 1,
      hint: 'a chart needs at least one state',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string', minLength: 1 },
          func: { enum: ['increment', 'time'] },
          current: counter,
          target: {
            type: 'object',
            properties: { name: stateRef, when: counter },
            required: ['name', 'when'],
            additionalProperties: false,
          },
        },
        required: ['name'],
        additionalProperties: false,
      },
    },
  },
  required: ['current_state', 'states'],
  additionalProperties: false,
};

/** Each dialect's shape; the editors' schema (editorSchema.ts) is built from these too, so the two cannot drift. */
export const SHAPES: Readonly<Record<Dialect, JsonSchema>> = { chartd: chartdSchema, stateservice: stateServiceSchema };

/** `hint` words the message of a failed keyword (see describe). */
export const HINT = 'hint';

const shapeAjv = lazy(() => {
  // Our own schemas: strict mode checks them as they compile; validating them against the meta-schema too would only cost start-up time.
  const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true, validateSchema: false });
  ajv.addVocabulary([HINT]);
  return ajv;
});
const validators: Record<Dialect, () => ValidateFunction> = {
  chartd: lazy(() => shapeAjv().compile(chartdSchema)),
  stateservice: lazy(() => shapeAjv().compile(stateServiceSchema)),
};
// StateService reads the keys it knows and passes over the rest (a top-level owner:, a state's description:).
const IGNORES_UNKNOWN_KEYS: Record<Dialect, boolean> = { chartd: false, stateservice: true };

/** Every way `value` departs from the dialect's shape, as path + message; keys the dialect ignores come as warnings. */
export function checkShape(dialect: Dialect, value: unknown): ShapeProblem[] {
  return shapeProblems(validators[dialect](), value, IGNORES_UNKNOWN_KEYS[dialect]);
}

/** A shape check for another of chartd's own files (chart tests), with the same messages as the charts' one. */
export function shapeChecker(schema: JsonSchema): (value: unknown) => ShapeProblem[] {
  const validate = lazy(() => shapeAjv().compile(schema));
  return (value) => shapeProblems(validate(), value, false);
}

function shapeProblems(validate: ValidateFunction, value: unknown, ignoresUnknownKeys: boolean): ShapeProblem[] {
  if (validate(value)) return [];
  const seen = new Set<string>();
  const problems: ShapeProblem[] = [];
  for (const error of validate.errors ?? []) {
    const problem = describe(error, value, ignoresUnknownKeys);
    if (!problem) continue;
    const id = `${problem.path}\n${problem.message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    problems.push(problem);
  }
  return problems;
}

// Compiling the draft-07 meta-schema costs tens of milliseconds, so it is done once per process.
const contextMetaAjv = lazy(() => new Ajv({ allErrors: true, verbose: true, strict: false }));

/** Why `schema` is not a usable JSON Schema (paths relative to it, "" = the schema itself); [] when ajv compiles it. */
export function checkJsonSchema(schema: unknown): ShapeProblem[] {
  const metaAjv = contextMetaAjv();
  const problems: ShapeProblem[] = [];
  if (!metaAjv.validateSchema(schema as object)) {
    // The meta-schema reports one mistake several ways (enum, type, anyOf); the first per place says it best.
    const firstPerPath = new Map<string, ErrorObject>();
    for (const error of metaAjv.errors ?? []) {
      if (error.keyword !== 'anyOf' && error.keyword !== 'oneOf' && !firstPerPath.has(error.instancePath)) firstPerPath.set(error.instancePath, error);
    }
    problems.push(...[...firstPerPath.values()].map((error) => describe(error, schema, false)).filter((problem) => problem !== undefined));
  }
  // ajv would refuse a bad regular expression only when compiling, without saying where it is; reported with
  // the meta-schema's problems, so one pass over the chart shows them all.
  problems.push(...badPatterns(schema, ''));
  if (problems.length > 0) return problems;
  try {
    // A fresh compiler each time, so a chart's `$id` never clashes with another chart's (or an older version's).
    const contextAjv = new Ajv({ strict: false, validateSchema: false });
    addFormats.default(contextAjv);
    contextAjv.compile(schema as object);
    return [];
  } catch (error) {
    return [{ path: '', message: (error as Error).message }];
  }
}

/** Every `pattern` and `patternProperties` key under `schema` that is not a regular expression ajv can use (unicode mode). */
function badPatterns(schema: unknown, path: string): ShapeProblem[] {
  if (Array.isArray(schema)) return schema.flatMap((item, index) => badPatterns(item, `${path}[${index}]`));
  if (typeof schema !== 'object' || schema === null) return [];
  const problems: ShapeProblem[] = [];
  for (const [key, value] of Object.entries(schema)) {
    const at = join(path, key);
    if (key === 'pattern' && typeof value === 'string') problems.push(...regexProblem(value, at));
    if (key === 'patternProperties' && typeof value === 'object' && value !== null && !Array.isArray(value)) {
      for (const pattern of Object.keys(value)) problems.push(...regexProblem(pattern, join(at, pattern)));
    }
    // enum, const, default and examples hold data, where a "pattern" key is a value, not a keyword. (A property
    // named pattern under `properties` has a schema, not a string, as its value, so it is not mistaken either.)
    if (key !== 'enum' && key !== 'const' && key !== 'default' && key !== 'examples') problems.push(...badPatterns(value, at));
  }
  return problems;
}

function regexProblem(pattern: string, path: string): ShapeProblem[] {
  try {
    new RegExp(pattern, 'u');
    return [];
  } catch (error) {
    return [{ path, message: `${JSON.stringify(pattern)} is not a regular expression: ${(error as Error).message.replace(/^Invalid regular expression: /, '')}` }];
  }
}

function describe(error: ErrorObject, root: unknown, ignoreUnknownKeys: boolean): ShapeProblem | undefined {
  const path = pointerToPath(error.instancePath, root);
  const params = error.params as Record<string, unknown>;
  const hint = (error.parentSchema as { hint?: string } | undefined)?.hint;
  switch (error.keyword) {
    case 'required':
      return { path, message: `missing required key '${String(params['missingProperty'])}'` };
    case 'additionalProperties': {
      const key = String(params['additionalProperty']);
      const allowed = Object.keys((error.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      const suggestion = didYouMean(key, allowed);
      if (ignoreUnknownKeys) {
        return { path: join(path, key), message: `key '${key}' is ignored: StateService does not read it, and neither does chartd${suggestion || ` (chartd reads ${listNames(allowed)} here)`}`, level: 'warning' };
      }
      return { path: join(path, key), message: `unknown key '${key}'${suggestion || `; allowed here: ${listNames(allowed)}`}` };
    }
    case 'propertyNames':
      return undefined; // the inner error, which carries the name, says it better
    case 'pattern':
      if (error.propertyName !== undefined) {
        return { path: join(path, error.propertyName), message: `'${error.propertyName}': ${hint ?? `must match ${String(params['pattern'])}`}` };
      }
      return { path, message: `'${String(error.data)}': ${hint ?? `must match ${String(params['pattern'])}`}` };
    case 'type':
      return { path, message: `must be ${typeNames(params['type'])}, not ${kindOf(error.data)}` };
    case 'enum': {
      const allowed = (params['allowedValues'] as unknown[]).map(String);
      return { path, message: `'${String(error.data)}' is not one of: ${listNames(allowed)}${didYouMean(String(error.data), allowed)}` };
    }
    case 'minimum':
      return { path, message: hint ?? `must be at least ${String(params['limit'])}` };
    case 'minLength':
      return { path, message: 'must not be empty' };
    case 'minItems':
    case 'minProperties':
      return { path, message: hint ?? 'must not be empty' };
    default:
      return { path, message: hint ?? error.message ?? `fails ${error.keyword}` };
  }
}

/** "/states/1/target" -> "states[1].target", using the data to tell list indexes from keys. */
function pointerToPath(pointer: string, root: unknown): string {
  if (pointer === '') return '';
  let path = '';
  let current: unknown = root;
  for (const raw of pointer.slice(1).split('/')) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(current)) {
      path = `${path}[${segment}]`;
      current = current[Number(segment)];
    } else {
      path = join(path, segment);
      current = typeof current === 'object' && current !== null ? (current as Record<string, unknown>)[segment] : undefined;
    }
  }
  return path;
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function typeNames(type: unknown): string {
  const names = (Array.isArray(type) ? type : [type]).map((name) => (name === 'integer' ? 'a whole number' : name === 'object' ? 'a mapping' : name === 'array' ? 'a list' : `a ${String(name)}`));
  return names.join(' or ');
}

function kindOf(value: unknown): string {
  if (value === null) return 'empty (null)';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `the string '${value}'`;
  return `${typeof value} ${String(value)}`;
}

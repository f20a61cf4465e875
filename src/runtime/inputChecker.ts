// Checks an instance's inputs against its chart's JSON Schemas once, at creation: the client's context and the operator's settings.

import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { Chart } from '../chart/model.js';
import { didYouMean, listNames } from '../chart/problem.js';
import type { Context } from '../engine/snapshot.js';
import { ContextInvalid } from '../errors.js';
import { checkDepth } from '../jsonDepth.js';

type Section = 'context' | 'settings';

/** One way a value departs from its schema; `path` is dotted inside the value ("" = the value itself). */
export interface InputProblem {
  readonly path: string;
  readonly message: string;
}

/** Settings as checked: with defaults filled in, the required keys nobody bound, and every other problem. */
export interface SettingsCheck {
  readonly settings: Context;
  readonly missing: readonly string[];
  readonly problems: readonly InputProblem[];
}

/**
 * Real contexts are a few named inputs, two or three levels deep; 32 is ten times that, and far below the ~2,000
 * levels at which writing a snapshot to the journal (JSON.stringify, which recurses) runs out of stack.
 */
export const MAX_CONTEXT_DEPTH = 32;

export class InputChecker {
  // Charts' schemas were checked against the meta-schema when the chart loaded (chart/schema.ts).
  private readonly ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, validateSchema: false, verbose: true });
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor() {
    addFormats.default(this.ajv);
  }

  /** A validated copy with the schema's defaults filled in; throws ContextInvalid listing every problem. */
  check(chart: Chart, context: unknown): Context {
    if (!isObject(context)) {
      throw new ContextInvalid('context must be a JSON object', ['context must be a JSON object']);
    }
    checkDepth(context, MAX_CONTEXT_DEPTH, 'context', 'an instance\'s context holds its inputs; pass them flatter');
    const copy = structuredClone(context);
    const validate = this.validator(chart, 'context');
    if (validate && !validate(copy)) {
      const problems = contextProblems(validate.errors ?? [], Object.keys(chart.settings?.['properties'] ?? {}))
        .map((problem) => formatInputProblem('context', problem));
      throw new ContextInvalid(`context does not match chart ${chart.name}'s schema: ${problems.join('; ')}`, problems);
    }
    return copy;
  }

  accepts(chart: Chart, context: Context): boolean {
    const validate = this.validator(chart, 'context');
    return !validate || validate(structuredClone(context));
  }

  /** The chart's settings schema applied to `values` (a chart without one takes no settings). */
  settings(chart: Chart, values: Context): SettingsCheck {
    const settings = structuredClone(values);
    const validate = this.validator(chart, 'settings');
    if (!validate) {
      const keys = Object.keys(values);
      return { settings, missing: [], problems: keys.map((key) => ({ path: key, message: `is not a setting: chart ${chart.name} declares no settings` })) };
    }
    if (validate(settings)) return { settings, missing: [], problems: [] };
    const missing: string[] = [];
    const problems: InputProblem[] = [];
    for (const error of validate.errors ?? []) {
      if (error.keyword === 'required') missing.push(join(dotted(error.instancePath), String(error.params['missingProperty'])));
      else problems.push(problemOf(error));
    }
    return { settings, missing, problems };
  }

  private validator(chart: Chart, section: Section): ValidateFunction | undefined {
    const schema = chart[section];
    if (!schema) return undefined;
    const key = `${chart.name}@${chart.version}#${section}`;
    let validate = this.compiled.get(key);
    if (!validate) {
      validate = this.ajv.compile({ type: 'object', ...schema });
      this.compiled.set(key, validate);
    }
    return validate;
  }
}

/** "settings.storage_root must match pattern "^/"". */
export function formatInputProblem(section: Section, problem: InputProblem): string {
  return `${problem.path ? join(section, problem.path) : section} ${problem.message}`;
}

/**
 * A context's problems, with the keys it may not have gathered per place: those the chart declares as settings are
 * named as the operator's, so a client learns why, not merely that, chartd will not take them.
 */
function contextProblems(errors: readonly ErrorObject[], settings: readonly string[]): InputProblem[] {
  const problems: InputProblem[] = [];
  const extra = new Map<string, { keys: string[]; declared: string[] }>();
  for (const error of errors) {
    if (error.keyword !== 'additionalProperties') {
      problems.push(problemOf(error));
      continue;
    }
    const path = dotted(error.instancePath);
    const place = extra.get(path) ?? { keys: [], declared: Object.keys((error.parentSchema as { properties?: object } | undefined)?.properties ?? {}) };
    place.keys.push(String(error.params['additionalProperty']));
    extra.set(path, place);
  }
  for (const [path, { keys, declared }] of extra) {
    const operators = path === '' ? keys.filter((key) => settings.includes(key)) : [];
    const unknown = keys.filter((key) => !operators.includes(key));
    if (operators.length) {
      problems.push({ path, message: `may not set ${listNames(operators)}: the operator binds ${operators.length === 1 ? 'it' : 'them'} as the chart's settings (--values FILE), never a request` });
    }
    if (unknown.length === 1) {
      problems.push({ path: join(path, unknown[0]!), message: `is not declared${didYouMean(unknown[0]!, declared)}; declared: ${listNames(declared)}` });
    } else if (unknown.length > 1) {
      problems.push({ path, message: `has keys that are not declared: ${listNames(unknown)}; declared: ${listNames(declared)}` });
    }
  }
  return problems;
}

function problemOf(error: ErrorObject): InputProblem {
  const path = dotted(error.instancePath);
  if (error.keyword === 'additionalProperties') {
    const key = String(error.params['additionalProperty']);
    const declared = Object.keys((error.parentSchema as { properties?: object } | undefined)?.properties ?? {});
    return { path: join(path, key), message: `is not declared${didYouMean(key, declared)}; declared: ${listNames(declared)}` };
  }
  return { path, message: error.message ?? 'is invalid' };
}

function dotted(pointer: string): string {
  return pointer.slice(1).replaceAll('/', '.');
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function isObject(value: unknown): value is Context {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

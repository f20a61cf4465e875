// {{key}} templates in chart values: parsed and checked at load time, rendered against an instance at run time.

import { didYouMean } from './problem.js';
import type { JsonSchema } from './model.js';

export interface TemplateScope {
  context: Record<string, unknown>;
  /** The operator's values the instance was created with; absent = none. */
  settings?: Record<string, unknown>;
  instance: { id: string; created: string /* ISO */ };
}

/** One {{ key | filter:arg }} placeholder. */
export interface Placeholder {
  readonly key: string;
  readonly filter?: string;
  readonly arg?: string;
  /** The placeholder as written, for messages. */
  readonly text: string;
}

export type TemplateSegment = string | Placeholder;

/** A problem inside a value; `path` is relative to the value (".a.b", "[0]"), "" for the value itself. */
export interface TemplateProblem {
  readonly path: string;
  readonly message: string;
}

export const BUILTIN_KEYS: readonly string[] = ['instance.id', 'instance.created'];
/** Templates read the operator's settings as {{settings.KEY}}. */
export const SETTINGS_PREFIX = 'settings.';
export const FILTERS: readonly string[] = ['stamp', 'date', 'year', 'month', 'fiscal_year'];

const KEY = '[A-Za-z_][A-Za-z0-9_-]*(?:\\.[A-Za-z_][A-Za-z0-9_-]*)*';
const PLACEHOLDER = new RegExp(`^\\s*(${KEY})\\s*(?:\\|\\s*([A-Za-z_][A-Za-z0-9_]*)\\s*(?::\\s*(${KEY})\\s*)?)?$`);

/** Splits text into literal text and placeholders; throws an Error describing bad syntax. */
export function parseTemplate(text: string): TemplateSegment[] {
  const segments: TemplateSegment[] = [];
  let rest = text;
  for (let open = rest.indexOf('{{'); open !== -1; open = rest.indexOf('{{')) {
    if (open > 0) segments.push(rest.slice(0, open));
    const close = rest.indexOf('}}', open + 2);
    if (close === -1) throw new Error(`unclosed '{{' in '${text}'`);
    const inner = rest.slice(open + 2, close);
    const match = PLACEHOLDER.exec(inner);
    if (!match) {
      throw new Error(`bad template '{{${inner}}}' in '${text}': write {{key}}, {{key | filter}} or {{key | filter:other_key}}`);
    }
    const [, key = '', filter, arg] = match;
    segments.push({ key, text: `{{${inner}}}`, ...(filter !== undefined && { filter }), ...(arg !== undefined && { arg }) });
    rest = rest.slice(close + 2);
  }
  if (rest !== '') segments.push(rest);
  return segments;
}

/** Every key a text refers to, filter arguments included; throws on bad syntax. */
export function templateKeys(text: string): string[] {
  return parseTemplate(text).flatMap((segment) => (typeof segment === 'string' ? [] : [segment.key, ...(segment.arg ? [segment.arg] : [])]));
}

/** Keys a chart's templates may use: its context properties, its settings as settings.KEY (dotted for nested ones) and the built-ins. */
export function knownTemplateKeys(context: JsonSchema | undefined, settings?: JsonSchema): Set<string> {
  const known = new Set(BUILTIN_KEYS);
  const walk = (schema: unknown, prefix: string): void => {
    if (typeof schema !== 'object' || schema === null) return;
    const properties = (schema as { properties?: unknown }).properties;
    if (typeof properties !== 'object' || properties === null) return;
    for (const [name, child] of Object.entries(properties)) {
      known.add(prefix + name);
      walk(child, `${prefix}${name}.`);
    }
  };
  walk(context, '');
  walk(settings, SETTINGS_PREFIX);
  return known;
}

/**
 * Keys every instance has a value for: the built-ins, and properties that are required or have a default (their
 * parents too, for nested ones). A template on any other key could fail to render at run time.
 */
export function presentTemplateKeys(context: JsonSchema | undefined, settings?: JsonSchema): Set<string> {
  const present = new Set(BUILTIN_KEYS);
  const walk = (schema: unknown, prefix: string): void => {
    if (typeof schema !== 'object' || schema === null) return;
    const { properties, required } = schema as { properties?: unknown; required?: unknown };
    if (typeof properties !== 'object' || properties === null) return;
    const needed = Array.isArray(required) ? required : [];
    for (const [name, child] of Object.entries(properties)) {
      const defaulted = typeof child === 'object' && child !== null && 'default' in child;
      if (!needed.includes(name) && !defaulted) continue;
      present.add(prefix + name);
      walk(child, `${prefix}${name}.`);
    }
  };
  walk(context, '');
  walk(settings, SETTINGS_PREFIX);
  return present;
}

/** Problem messages for every unknown key, unknown filter or bad syntax in the strings of `value` (and keys not always `present`). */
export function checkTemplates(value: unknown, known: ReadonlySet<string>, present?: ReadonlySet<string>): string[] {
  return findTemplateProblems(value, known, '', present).map((problem) => problem.message);
}

/** Like checkTemplates, with where in `value` each problem is, so the loader can point at its line. */
export function findTemplateProblems(value: unknown, known: ReadonlySet<string>, path = '', present?: ReadonlySet<string>): TemplateProblem[] {
  if (typeof value === 'string') return checkText(value, known, present).map((message) => ({ path, message }));
  if (Array.isArray(value)) return value.flatMap((item, index) => findTemplateProblems(item, known, `${path}[${index}]`, present));
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).flatMap(([key, item]) => findTemplateProblems(item, known, `${path}.${key}`, present));
  }
  return [];
}

function checkText(text: string, known: ReadonlySet<string>, present: ReadonlySet<string> | undefined): string[] {
  let segments: TemplateSegment[];
  try {
    segments = parseTemplate(text);
  } catch (error) {
    return [(error as Error).message];
  }
  const problems: string[] = [];
  const checkKey = (key: string, placeholder: Placeholder): void => {
    const where = key.startsWith(SETTINGS_PREFIX) ? 'settings' : 'context';
    if (!known.has(key)) {
      problems.push(`unknown template key '${key}' in ${placeholder.text}${didYouMean(key, known)}; declare it under the chart's ${where} properties (built-ins: ${BUILTIN_KEYS.join(', ')})`);
    } else if (present && !present.has(key)) {
      const name = where === 'settings' ? key.slice(SETTINGS_PREFIX.length) : key;
      problems.push(`template key '${key}' in ${placeholder.text} may be missing: ${where} property '${name}' is neither required nor given a default, ` +
        `so an instance without it could not fill the template; list it under the ${where === 'settings' ? "settings'" : "context's"} required: or give it a default:`);
    }
  };
  for (const segment of segments) {
    if (typeof segment === 'string') continue;
    checkKey(segment.key, segment);
    if (segment.filter === undefined) continue;
    if (!FILTERS.includes(segment.filter)) {
      problems.push(`unknown filter '${segment.filter}' in ${segment.text}${didYouMean(segment.filter, FILTERS)}; filters: stamp, date, year, month, fiscal_year:KEY`);
    } else if (segment.filter === 'fiscal_year') {
      if (segment.arg === undefined) problems.push(`${segment.text}: fiscal_year needs the context key holding the fiscal year's last month, e.g. {{${segment.key} | fiscal_year:fiscal_year_end}}`);
      else checkKey(segment.arg, segment);
    } else if (segment.arg !== undefined) {
      problems.push(`${segment.text}: filter '${segment.filter}' takes no argument`);
    }
  }
  return problems;
}

/** Renders every string in `value` (deeply); throws an Error when a value the template needs is missing. */
export function renderValue(value: unknown, scope: TemplateScope): unknown {
  if (typeof value === 'string') return renderText(value, scope);
  if (Array.isArray(value)) return value.map((item) => renderValue(item, scope));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, renderValue(item, scope)]));
  }
  return value;
}

function renderText(text: string, scope: TemplateScope): unknown {
  if (!text.includes('{{')) return text;
  const segments = parseTemplate(text);
  const only = segments[0];
  // A lone {{key}} keeps the value's type, so `count: "{{replicas}}"` stays a number.
  if (segments.length === 1 && typeof only === 'object' && only.filter === undefined) return lookup(only.key, only, scope);
  return segments.map((segment) => (typeof segment === 'string' ? segment : stringify(applyFilter(segment, scope)))).join('');
}

function lookup(key: string, placeholder: Placeholder, scope: TemplateScope): unknown {
  if (key === 'instance.id') return scope.instance.id;
  if (key === 'instance.created') return scope.instance.created;
  const setting = key.startsWith(SETTINGS_PREFIX);
  let current: unknown = setting ? scope.settings : scope.context;
  for (const part of (setting ? key.slice(SETTINGS_PREFIX.length) : key).split('.')) {
    current = typeof current === 'object' && current !== null ? (current as Record<string, unknown>)[part] : undefined;
  }
  if (current === undefined || current === null) {
    const what = setting ? `setting '${key.slice(SETTINGS_PREFIX.length)}'` : `context value '${key}'`;
    throw new Error(`template ${placeholder.text} needs ${what}, which this instance does not have`);
  }
  return current;
}

function applyFilter(placeholder: Placeholder, scope: TemplateScope): unknown {
  const value = lookup(placeholder.key, placeholder, scope);
  if (placeholder.filter === undefined) return value;
  const time = toDate(value, placeholder);
  const iso = time.toISOString();
  switch (placeholder.filter) {
    case 'stamp':
      return `${iso.slice(0, 19).replace(/[-:]/g, '')}Z`;
    case 'date':
      return iso.slice(0, 10);
    case 'year':
      return String(time.getUTCFullYear());
    case 'month':
      return String(time.getUTCMonth() + 1).padStart(2, '0');
    case 'fiscal_year': {
      const lastMonth = Number(lookup(placeholder.arg ?? '', placeholder, scope));
      if (!Number.isInteger(lastMonth) || lastMonth < 1 || lastMonth > 12) {
        throw new Error(`template ${placeholder.text}: '${placeholder.arg}' must be the fiscal year's last month, 1-12`);
      }
      const year = time.getUTCFullYear();
      return String(time.getUTCMonth() + 1 > lastMonth ? year + 1 : year);
    }
    default:
      throw new Error(`template ${placeholder.text}: unknown filter '${placeholder.filter}'`);
  }
}

function toDate(value: unknown, placeholder: Placeholder): Date {
  const time = value instanceof Date ? value : typeof value === 'string' || typeof value === 'number' ? new Date(value) : undefined;
  if (!time || Number.isNaN(time.getTime())) {
    throw new Error(`template ${placeholder.text}: '${String(value)}' is not a time`);
  }
  return time;
}

function stringify(value: unknown): string {
  return typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
}

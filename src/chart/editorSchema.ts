// The JSON Schema editors complete and check chart files with (chartd schema), built from the load-time shape check's schemas.

import type { Handler } from '../handlers/handler.js';
import { DRIVERS } from './dialects/chartd.js';
import { DURATION_PATTERN, INSTANT } from './duration.js';
import { KEY_DOCS, type KeyDoc } from './keyDocs.js';
import type { Dialect, JsonSchema, StateKind } from './model.js';
import { KIND_MEANING } from './operatorArgs.js';
import { HINT, SHAPES } from './schema.js';

export type EditorDialect = Dialect | 'both';

/** The handlers a chart may run, as the editors' schema lists them. */
export interface HandlerCatalog {
  names(): string[];
  get(name: string): Handler | undefined;
}

type Node = Record<string, unknown>;

const DRAFT_07 = 'http://json-schema.org/draft-07/schema#';
const DURATION = { type: 'string', pattern: DURATION_PATTERN };
const INSTANT_TEXT = { type: 'string', pattern: `^\\s*${INSTANT.source.slice(1, -1)}\\s*$` };

/**
 * The schema of chart files in `dialect`: the shape check's keys, types and required keys with a description and
 * examples for each, plus what the dialect compilers check with their own messages (durations, times, one driver
 * per state, each handler's arguments). It refuses only what `chartd validate` refuses.
 */
export function editorSchema(handlers: HandlerCatalog, dialect: EditorDialect = 'both'): JsonSchema {
  const head = { $schema: DRAFT_07, title: 'chartd chart' };
  if (dialect !== 'both') return { ...head, ...dialectSchema(dialect, handlers) };
  const chartd = { $ref: '#/definitions/chartd' };
  return {
    ...head,
    description: 'A chart file: the chartd dialect (chart: NAME) or, unchanged, the StateService dialect (current_state and a states list).',
    definitions: { chartd: dialectSchema('chartd', handlers), stateservice: dialectSchema('stateservice', handlers) },
    // The loader's own test (load.ts detectDialect); a file that is neither is offered the chartd dialect's keys.
    if: { required: ['chart'] },
    then: chartd,
    else: {
      if: { anyOf: [{ required: ['current_state'] }, { required: ['states'], properties: { states: { type: 'array' } } }] },
      then: { $ref: '#/definitions/stateservice' },
      else: chartd,
    },
  };
}

function dialectSchema(dialect: Dialect, handlers: HandlerCatalog): Node {
  // A JSON copy: the shapes share sub-schemas (a state reference, a counter), which get different descriptions here.
  const schema = JSON.parse(JSON.stringify(SHAPES[dialect])) as Node;
  const extras: Record<string, Node> = dialect === 'chartd' ? chartdExtras(handlers) : {};
  document(schema, '', KEY_DOCS[dialect], extras);
  // StateService passes over keys it does not know, and validate only warns of them: an editor must not mark them wrong.
  if (dialect === 'stateservice') openToUnknownKeys(schema);
  return schema;
}

function openToUnknownKeys(node: Node): void {
  if (node['additionalProperties'] === false) delete node['additionalProperties'];
  for (const child of Object.values((node['properties'] ?? {}) as Record<string, Node>)) openToUnknownKeys(child);
  if (isNode(node['items'])) openToUnknownKeys(node['items']);
}

/** Strips the shape check's hints and gives every key its description, examples and editor-only rules, in place. */
function document(node: Node, path: string, docs: Readonly<Record<string, KeyDoc>>, extras: Readonly<Record<string, Node>>): void {
  delete node[HINT];
  const doc = docs[path];
  if (!doc) throw new Error(`chart key ${path || '(top level)'} has no description in keyDocs.ts`);
  node['description'] = doc.description;
  if (doc.examples.length) node['examples'] = doc.examples;
  for (const [key, child] of Object.entries((node['properties'] ?? {}) as Record<string, Node>)) document(child, `${path}.${key}`, docs, extras);
  if (isNode(node['additionalProperties'])) document(node['additionalProperties'], `${path}.*`, docs, extras);
  if (isNode(node['items'])) document(node['items'], `${path}[]`, docs, extras);
  if (isNode(node['propertyNames'])) delete node['propertyNames'][HINT];
  Object.assign(node, extras[path]);
}

function chartdExtras(handlers: HandlerCatalog): Record<string, Node> {
  const names = handlers.names();
  return {
    '.context': inputSchema("an instance's inputs"),
    '.settings': inputSchema("the operator's values"),
    '.states.*': { allOf: [...driverRules(), ...names.map((name) => argumentRule(name, handlers.get(name)!))] },
    '.states.*.at': INSTANT_TEXT,
    '.states.*.after': DURATION,
    '.states.*.run': { enum: names, enumDescriptions: names.map((name) => handlers.get(name)!.description) },
    '.states.*.retry.delay': DURATION,
    '.states.*.retry.max_delay': DURATION,
    '.states.*.timeout': { anyOf: [DURATION, waitTimeout()] },
  };
}

/** Exactly one driver per state, and only the keys that driver takes (as dialects/chartd.ts checks). */
function driverRules(): Node[] {
  const onlyFor: Readonly<Record<StateKind, Node>> = {
    final: { properties: { final: { const: true, description: KEY_DOCS.chartd['.states.*.final']!.description, examples: [true] } } },
    gate: { required: ['next'], properties: { timeout: waitTimeout() } },
    timer: { required: ['next'], not: { required: ['at', 'after'] } },
    step: { required: ['on_success', 'on_failure'], properties: { timeout: { ...DURATION, description: 'How long one attempt may run (default 1h); then it fails and is retried.', examples: ['5m', '1h'] } } },
    event: { properties: { timeout: waitTimeout() } },
  };
  const rules: Node[] = [{ anyOf: DRIVERS.flatMap((driver) => driver.keys.map((key) => ({ required: [key] }))) }];
  for (const driver of DRIVERS) {
    const selected: Node = { anyOf: driver.keys.map((key) => ({ required: [key] })) };
    // on: beside gate: belongs to the gate.
    if (driver.kind === 'event') selected['not'] = { required: ['gate'] };
    rules.push({ if: selected, then: { propertyNames: { enum: [...driver.allowed, 'description'] }, ...onlyFor[driver.kind] } });
  }
  return rules;
}

/** A step's with: as its handler takes it. Values stay free: templates fill them, and the handler checks them when it runs. */
function argumentRule(name: string, handler: Handler): Node {
  const params = handler.params as { properties?: Record<string, Node>; required?: string[]; additionalProperties?: unknown };
  const properties: Record<string, Node> = {};
  for (const [key, param] of Object.entries(params.properties ?? {})) {
    const kind = handler.operatorOwned?.[key];
    const owned = kind ? ` Operator-owned (${kind}: ${KIND_MEANING[kind]}): from {{settings.KEY}}, or a context property with a pattern.` : '';
    properties[key] = { description: `${String(param['description'] ?? key)}${owned}`, examples: argumentExamples(key, param, kind) };
  }
  const required = params.required ?? [];
  return {
    if: { required: ['run'], properties: { run: { const: name } } },
    then: {
      ...(required.length ? { required: ['with'] } : {}),
      properties: {
        with: {
          type: 'object', description: `Arguments of ${name}: ${handler.description}`, properties, required,
          examples: [Object.fromEntries(Object.entries(properties).filter(([key]) => required.includes(key)).map(([key, property]) => [key, (property['examples'] as unknown[])[0]]))],
          ...(params.additionalProperties === false ? { additionalProperties: false } : {}),
        },
      },
    },
  };
}

function argumentExamples(key: string, param: Node, kind: string | undefined): unknown[] {
  if (Array.isArray(param['enum'])) return param['enum'];
  if (param['default'] !== undefined) return [param['default']];
  if (kind === 'path') return ['{{settings.storage_root}}/work'];
  if (kind) return [`{{settings.${key}}}`];
  return [`{{${key}}}`];
}

function waitTimeout(): Node {
  return {
    type: 'object',
    description: 'How long the state may wait, and where it goes when the time is up (records a failure).',
    examples: [{ after: '1h', next: 'rollback' }],
    properties: {
      after: { ...DURATION, description: 'How long to wait from entering the state.', examples: ['10m', '1h'] },
      next: { type: 'string', minLength: 1, description: 'Where to go when the time is up.', examples: ['rollback'] },
    },
    required: ['after', 'next'],
    additionalProperties: false,
  };
}

const JSON_TYPES = ['string', 'integer', 'number', 'boolean', 'object', 'array', 'null'];

/** context: and settings: are JSON Schemas of an object; the keys authors use most are offered, any other is allowed. */
function inputSchema(what: string): Node {
  const typeOf = { anyOf: [{ enum: JSON_TYPES }, { type: 'array', items: { enum: JSON_TYPES } }] };
  const declared = {
    type: 'object',
    description: `One of ${what}: a JSON Schema.`,
    examples: [{ type: 'string', pattern: '^[a-z0-9_]+$' }],
    properties: {
      type: { ...typeOf, description: 'Its JSON type.', examples: ['string', 'integer'] },
      description: { type: 'string', description: 'What it is, for the people who fill it in.', examples: ['The database to back up.'] },
      pattern: { type: 'string', description: 'A regular expression a string must match; a client value a step uses as a path, host or variable needs one.', examples: ['^[A-Za-z0-9][A-Za-z0-9._-]*$'] },
      enum: { type: 'array', description: 'The only values allowed.', examples: [['v1']] },
      default: { description: 'The value used when none is given.', examples: [5432] },
      minimum: { type: 'number', description: 'The smallest number allowed.', examples: [1] },
      maximum: { type: 'number', description: 'The largest number allowed.', examples: [12] },
      minLength: { type: 'integer', description: 'The fewest characters allowed.', examples: [1] },
      maxLength: { type: 'integer', description: 'The most characters allowed.', examples: [255] },
      format: { type: 'string', description: 'A named format (date, date-time, email, uri, …).', examples: ['date'] },
    },
  };
  return {
    properties: {
      type: { const: 'object', description: `Always object: ${what} are named values.`, examples: ['object'] },
      properties: { type: 'object', description: 'Each value by name, with its own JSON Schema.', examples: [{ release: { type: 'string' } }], additionalProperties: declared },
      required: { type: 'array', items: { type: 'string' }, description: 'The names that must be given.', examples: [['release']] },
      additionalProperties: { description: 'false refuses names not declared under properties.', examples: [false] },
    },
  };
}

function isNode(value: unknown): value is Node {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

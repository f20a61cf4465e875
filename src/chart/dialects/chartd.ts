// The chartd dialect (top-level chart:): a map of named states, each with exactly one driver.

import type { HandlerLookup } from '../../handlers/handler.js';
import { parseDuration, parseInstant } from '../duration.js';
import type { ChartDraft, TargetRef } from '../graph.js';
import { DEFAULT_RETRY, DEFAULT_STEP_TIMEOUT_MS, formatDuration, type JsonSchema, type RetryPolicy, type StateDef, type Timeout } from '../model.js';
import { checkOperatorArgs } from '../operatorArgs.js';
import { didYouMean, listNames, type ProblemLog } from '../problem.js';
import { checkJsonSchema } from '../schema.js';
import { findTemplateProblems, knownTemplateKeys, presentTemplateKeys } from '../template.js';
import { emptyRecord, isRecord } from '../yamlSource.js';

export interface Driver {
  readonly kind: StateDef['kind'];
  /** How messages name a state with this driver, article included. */
  readonly label: string;
  /** Keys whose presence selects this driver. */
  readonly keys: readonly string[];
  /** Keys a state with this driver may have besides description. */
  readonly allowed: readonly string[];
}

export const DRIVERS: readonly Driver[] = [
  { kind: 'final', label: 'a final state', keys: ['final'], allowed: ['final'] },
  { kind: 'gate', label: 'a gate', keys: ['gate'], allowed: ['gate', 'next', 'on', 'timeout'] },
  { kind: 'timer', label: 'a timer (at/after)', keys: ['at', 'after'], allowed: ['at', 'after', 'next'] },
  { kind: 'step', label: 'a run step', keys: ['run'], allowed: ['run', 'with', 'on_success', 'on_failure', 'retry', 'timeout'] },
  { kind: 'event', label: 'an event state (on:)', keys: ['on'], allowed: ['on', 'timeout'] },
];
const DRIVER_KEYS = new Set(DRIVERS.flatMap((driver) => driver.allowed));

/** Everything compiling one state needs besides the state itself. */
interface Scope {
  readonly log: ProblemLog;
  readonly handlers: HandlerLookup;
  readonly templateKeys: ReadonlySet<string>;
  /** Keys every instance has a value for; a template on another could fail at run time. */
  readonly presentKeys: ReadonlySet<string>;
  readonly context: JsonSchema | undefined;
  readonly refs: TargetRef[];
}

/** Compiles what it can and logs the rest; the shape check (schema.ts) has already logged wrong types and unknown keys. */
export function compileChartd(doc: Record<string, unknown>, log: ProblemLog, handlers: HandlerLookup, services?: readonly string[]): ChartDraft {
  const context = isRecord(doc['context']) ? (doc['context'] as JsonSchema) : undefined;
  const settings = isRecord(doc['settings']) ? (doc['settings'] as JsonSchema) : undefined;
  if (context) checkInputSchema('context', context, log);
  if (settings) checkInputSchema('settings', settings, log);
  if (context && settings) checkNoOverlap(context, settings, log);
  const scope: Scope = { log, handlers, templateKeys: knownTemplateKeys(context, settings), presentKeys: presentTemplateKeys(context, settings), context, refs: [] };
  const failurePrefix = typeof doc['failure_prefix'] === 'string' ? doc['failure_prefix'] : undefined;
  if (failurePrefix !== undefined) checkTemplatesAt(failurePrefix, 'failure_prefix', scope);
  const owner = typeof doc['owner'] === 'string' ? doc['owner'] : undefined;
  if (owner !== undefined && services && !services.includes(owner)) {
    log.add('owner', `no built-in service is called '${owner}'${didYouMean(owner, services)}; owner names the service that drives the chart (${listNames([...services])})`);
  }

  const states = emptyRecord<StateDef>();
  const statePaths = emptyRecord<string>();
  for (const [name, raw] of Object.entries(isRecord(doc['states']) ? doc['states'] : {})) {
    const path = `states.${name}`;
    statePaths[name] = path;
    if (!isRecord(raw)) continue; // the shape check says it must be a mapping
    const state = compileState(name, raw, path, scope);
    if (state) states[name] = state;
  }
  return {
    name: typeof doc['chart'] === 'string' ? doc['chart'] : '',
    ...(typeof doc['description'] === 'string' && { description: doc['description'] }),
    initial: typeof doc['initial'] === 'string' ? doc['initial'] : undefined,
    initialPath: 'initial',
    states,
    statePaths,
    refs: scope.refs,
    ...(context && { context }),
    ...(settings && { settings }),
    ...(failurePrefix !== undefined && { failurePrefix }),
    ...(owner !== undefined && { owner }),
    finalHint: 'mark at least one state final: true',
    unreachable: 'problem',
  };
}

const DESCRIBES = { context: "an instance's inputs", settings: "the operator's values the steps need" } as const;
/** Context names that templates read as something else. */
const RESERVED: Readonly<Record<string, string>> = {
  instance: "'instance' is reserved for the built-in {{instance.id}} and {{instance.created}}; rename this property",
  settings: "'settings' is reserved for the operator's values ({{settings.KEY}}); rename this property",
};

/** context: and settings: are both JSON Schemas of an object. */
function checkInputSchema(section: keyof typeof DESCRIBES, schema: JsonSchema, log: ProblemLog): void {
  for (const problem of checkJsonSchema(schema)) {
    log.add(problem.path ? `${section}.${problem.path}` : section, `not a valid JSON Schema: ${problem.message}`);
  }
  const type = schema['type'];
  if (type !== undefined && type !== 'object') log.add(`${section}.type`, `${section} describes ${DESCRIBES[section]}, so its type must be object, not ${JSON.stringify(type)}`);
  if (section !== 'context' || !isRecord(schema['properties'])) return;
  for (const [name, message] of Object.entries(RESERVED)) {
    if (Object.hasOwn(schema['properties'], name)) log.add(`context.properties.${name}`, message);
  }
}

/** A key is either the client's (context) or the operator's (settings), never both. */
function checkNoOverlap(context: JsonSchema, settings: JsonSchema, log: ProblemLog): void {
  if (!isRecord(context['properties']) || !isRecord(settings['properties'])) return;
  for (const name of Object.keys(settings['properties'])) {
    if (Object.hasOwn(context['properties'], name)) {
      log.add(`settings.properties.${name}`, `'${name}' is declared in both context and settings; a value comes from the client (context) or from the operator (settings): keep one`);
    }
  }
}

function compileState(name: string, raw: Record<string, unknown>, path: string, scope: Scope): StateDef | undefined {
  const { log } = scope;
  // A gate may also be left early by events (on:), so on: beside gate: is part of the gate, not a second driver.
  const drivers = DRIVERS.filter((driver) => driver.keys.some((key) => key in raw) && !(driver.kind === 'event' && 'gate' in raw));
  const [driver] = drivers;
  if (!driver) {
    log.add(path, `state '${name}' has no driver: give it exactly one of final: true, gate, at or after, run, or on`);
    return undefined;
  }
  if (drivers.length > 1) {
    const named = drivers.map((each) => each.keys.find((key) => key in raw) ?? each.label);
    log.add(path, `state '${name}' has ${drivers.length} drivers, ${named.join(' and ')}; a state has exactly one`);
    return undefined;
  }
  for (const key of Object.keys(raw)) {
    // Keys of no driver at all are the shape check's "unknown key"; here only keys of another driver.
    if (key !== 'description' && DRIVER_KEYS.has(key) && !driver.allowed.includes(key)) {
      log.add(`${path}.${key}`, `'${key}' does not apply to ${driver.label}, which takes: ${listNames([...driver.allowed, 'description'])}`);
    }
  }
  const base = { name, line: log.lineOf(path), ...(typeof raw['description'] === 'string' && { description: raw['description'] }) };
  const ref = (key: string, purpose: string): string | undefined => targetAt(raw, key, `${path}.${key}`, scope, purpose);

  switch (driver.kind) {
    case 'final':
      if (raw['final'] !== true) log.add(`${path}.final`, 'final must be true; leave it out and give the state another driver instead');
      return { kind: 'final', ...base };
    case 'gate': {
      const gate = isRecord(raw['gate']) ? raw['gate'] : {};
      const count = gate['count'];
      const next = ref('next', 'where the gate leads once it opens');
      const on = 'on' in raw ? eventTargets(raw['on'], `${path}.on`, scope) : {};
      const timeout = waitTimeout(raw['timeout'], `${path}.timeout`, scope);
      if (!Number.isInteger(count) || (count as number) < 1 || next === undefined || !on || timeout === null) return undefined;
      return {
        kind: 'gate', ...base, start: 0, count: count as number, distinct: gate['distinct'] === true, counterKey: 'count', next,
        ...(Object.keys(on).length > 0 && { on }), ...(timeout && { timeout }),
      };
    }
    case 'timer': {
      const next = ref('next', 'where the timer leads when it fires');
      if ('at' in raw && 'after' in raw) {
        log.add(path, 'a timer takes either at (a time) or after (a duration), not both');
        return undefined;
      }
      const timing = 'at' in raw ? instantAt(raw['at'], `${path}.at`, log) : durationAt(raw['after'], `${path}.after`, log, false);
      if (timing === undefined || next === undefined) return undefined;
      return { kind: 'timer', ...base, ...('at' in raw ? { atMs: timing } : { afterMs: timing }), next };
    }
    case 'step': {
      const onSuccess = ref('on_success', 'where the step goes when its handler succeeds');
      const onFailure = ref('on_failure', 'where the step goes when it fails after its retries');
      const run = typeof raw['run'] === 'string' ? raw['run'] : undefined;
      const args = isRecord(raw['with']) ? raw['with'] : {};
      if (run) checkHandler(run, args, path, scope);
      checkTemplatesAt(args, `${path}.with`, scope);
      const handler = run ? scope.handlers.get(run) : undefined;
      if (handler) for (const problem of checkOperatorArgs(handler, args, scope.context)) log.add(`${path}.with${problem.path}`, problem.message);
      const retry = retryPolicy(raw['retry'], `${path}.retry`, log);
      const timeoutMs = stepTimeout(raw['timeout'], `${path}.timeout`, log);
      if (!run || onSuccess === undefined || onFailure === undefined || !retry || timeoutMs === undefined) return undefined;
      return { kind: 'step', ...base, run, with: args, onSuccess, onFailure, retry, timeoutMs };
    }
    case 'event': {
      const on = eventTargets(raw['on'], `${path}.on`, scope);
      const timeout = waitTimeout(raw['timeout'], `${path}.timeout`, scope);
      if (!on || Object.keys(on).length === 0 || timeout === null) return undefined;
      return { kind: 'event', ...base, on, ...(timeout && { timeout }) };
    }
  }
}

/** on: { EVENT: STATE } with each target recorded for the graph check; undefined when malformed (the shape check says how). */
function eventTargets(raw: unknown, path: string, scope: Scope): Record<string, string> | undefined {
  if (!isRecord(raw)) return undefined;
  const on = emptyRecord<string>();
  for (const [event, target] of Object.entries(raw)) {
    if (typeof target !== 'string') return undefined;
    on[event] = target;
    scope.refs.push({ target, path: `${path}.${event}` });
  }
  return on;
}

/** The target named by raw[key], recorded for the graph check; logs when it is missing. */
function targetAt(raw: Record<string, unknown>, key: string, path: string, scope: Scope, purpose: string): string | undefined {
  const target = raw[key];
  if (target === undefined) {
    scope.log.add(path.slice(0, path.lastIndexOf('.')), `missing required key '${key}' (${purpose})`);
    return undefined;
  }
  if (typeof target !== 'string') return undefined;
  scope.refs.push({ target, path });
  return target;
}

/** A gate's or event state's timeout: { after, next }. undefined = none; null = broken (already logged). */
function waitTimeout(raw: unknown, path: string, scope: Scope): Timeout | undefined | null {
  if (raw === undefined) return undefined;
  if (!isRecord(raw)) {
    scope.log.add(path, 'a waiting state\'s timeout is { after: DURATION, next: STATE }, e.g. timeout: { after: 1h, next: rollback }');
    return null;
  }
  for (const key of Object.keys(raw)) {
    if (key !== 'after' && key !== 'next') scope.log.add(`${path}.${key}`, `unknown key '${key}'${didYouMean(key, ['after', 'next'])}; a timeout takes after and next`);
  }
  if (raw['after'] === undefined) scope.log.add(path, "missing required key 'after' (how long to wait, e.g. after: 1h)");
  const afterMs = raw['after'] === undefined ? undefined : durationAt(raw['after'], `${path}.after`, scope.log, true);
  const next = targetAt(raw, 'next', `${path}.next`, scope, 'where to go when the time is up');
  return afterMs === undefined || next === undefined ? null : { afterMs, next };
}

function stepTimeout(raw: unknown, path: string, log: ProblemLog): number | undefined {
  if (raw === undefined) return DEFAULT_STEP_TIMEOUT_MS;
  if (isRecord(raw)) {
    log.add(path, "a run step's timeout is one duration bounding each attempt, e.g. timeout: 10m");
    return undefined;
  }
  return durationAt(raw, path, log, true);
}

function retryPolicy(raw: unknown, path: string, log: ProblemLog): RetryPolicy | undefined {
  if (raw === undefined) return { ...DEFAULT_RETRY };
  if (!isRecord(raw)) return undefined; // the shape check says it must be a mapping
  const attempts = raw['attempts'] ?? DEFAULT_RETRY.attempts;
  const backoff = raw['backoff'] ?? DEFAULT_RETRY.backoff;
  const delayMs = raw['delay'] === undefined ? DEFAULT_RETRY.delayMs : durationAt(raw['delay'], `${path}.delay`, log, false);
  const explicitMax = raw['max_delay'] === undefined ? undefined : durationAt(raw['max_delay'], `${path}.max_delay`, log, false);
  if (delayMs === undefined || (raw['max_delay'] !== undefined && explicitMax === undefined)) return undefined;
  if (explicitMax !== undefined && explicitMax < delayMs) {
    log.add(`${path}.max_delay`, `max_delay is shorter than delay; it caps the growing delay, so make it at least as long`);
    return undefined;
  }
  if (!Number.isInteger(attempts) || (attempts as number) < 1 || typeof backoff !== 'number' || backoff < 1) return undefined;
  const policy = { attempts: attempts as number, delayMs, backoff, maxDelayMs: explicitMax ?? Math.max(DEFAULT_RETRY.maxDelayMs, delayMs) };
  if (raw['backoff'] !== undefined) warnIdleBackoff(policy, explicitMax !== undefined, path, log);
  return policy;
}

/** A backoff the chart asks for that no wait would ever feel: too few attempts, or max_delay already at delay. */
function warnIdleBackoff({ attempts, delayMs, backoff, maxDelayMs }: RetryPolicy, explicitMax: boolean, path: string, log: ProblemLog): void {
  if (backoff <= 1) return;
  if (attempts <= 2) {
    log.warn(`${path}.backoff`, `backoff ${backoff} never takes effect: with attempts: ${attempts} there is at most one wait, and backoff grows the waits after it; allow more attempts or leave backoff out`);
    return;
  }
  if (maxDelayMs > delayMs) return;
  const cap = explicitMax ? `max_delay ${formatDuration(maxDelayMs)}` : `max_delay (by default the larger of 1m and delay) is ${formatDuration(maxDelayMs)}, which`;
  const longest = formatDuration(Math.round(delayMs * backoff ** (attempts - 2)));
  log.warn(`${path}.backoff`, `backoff ${backoff} never takes effect: ${cap} caps every wait at delay ${formatDuration(delayMs)}; set max_delay: ${longest} to let the waits grow as backoff says`);
}

function checkHandler(run: string, args: Record<string, unknown>, path: string, scope: Scope): void {
  const handler = scope.handlers.get(run);
  if (!handler) {
    scope.log.add(`${path}.run`, `unknown handler '${run}'${describeKnownHandlers(run, scope.handlers)}`);
    return;
  }
  const params = handler.params;
  const properties = isRecord(params['properties']) ? Object.keys(params['properties']) : [];
  const required = Array.isArray(params['required']) ? params['required'].filter((key): key is string => typeof key === 'string') : [];
  for (const key of required) {
    if (!Object.hasOwn(args, key)) scope.log.add(`${path}.with`, `handler '${run}' needs argument '${key}' (with: { ${key}: ... })`);
  }
  if (params['additionalProperties'] !== false) return;
  for (const key of Object.keys(args)) {
    if (!properties.includes(key)) {
      scope.log.add(`${path}.with.${key}`, `handler '${run}' takes no argument '${key}'${didYouMean(key, properties)}; it takes: ${listNames(properties)}`);
    }
  }
}

/** "; known pg.* handlers: pg.dump, pg.restore" — registries that can list their names get a helpful hint. */
function describeKnownHandlers(run: string, handlers: HandlerLookup): string {
  const lister = (handlers as { names?: unknown }).names;
  if (typeof lister !== 'function') return '';
  const names = [...(lister.call(handlers) as Iterable<string>)].sort();
  const prefix = `${run.split('.')[0] ?? run}.`;
  const family = names.filter((name) => name.startsWith(prefix));
  const suggestion = didYouMean(run, names);
  if (family.length > 0) return `${suggestion}; known ${prefix}* handlers: ${listNames(family)}`;
  return `${suggestion}; no ${prefix}* handler is registered (registered: ${listNames(names)})`;
}

function checkTemplatesAt(value: unknown, path: string, scope: Scope): void {
  for (const problem of findTemplateProblems(value, scope.templateKeys, '', scope.presentKeys)) scope.log.add(path + problem.path, problem.message);
}

function durationAt(raw: unknown, path: string, log: ProblemLog, positive: boolean): number | undefined {
  if (typeof raw !== 'string' && typeof raw !== 'number') {
    log.add(path, 'must be a duration such as 10s, 5m or 1h30m');
    return undefined;
  }
  try {
    const ms = parseDuration(String(raw));
    if (positive && ms === 0) throw new Error('must be longer than 0s');
    return ms;
  } catch (error) {
    log.add(path, (error as Error).message);
    return undefined;
  }
}

function instantAt(raw: unknown, path: string, log: ProblemLog): number | undefined {
  try {
    return parseInstant(String(raw));
  } catch (error) {
    log.add(path, (error as Error).message);
    return undefined;
  }
}

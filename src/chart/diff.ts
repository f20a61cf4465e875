// What changed between two versions of a chart: states added, removed and renamed, and each state's driver, targets and timings.

import { formatDuration, type Chart, type StateDef } from './model.js';

export interface Detail {
  /** What changed: "driver", "next", "gate.count", "on.failed", "timeout.after", "with.path", "description", … */
  readonly key: string;
  readonly before: string | undefined;
  readonly after: string | undefined;
  /** False when instances behave the same (a description, or a target that only follows a rename). */
  readonly behaviour: boolean;
}

export type StateChange =
  | { readonly kind: 'added'; readonly state: string; readonly driver: string }
  | { readonly kind: 'removed'; readonly state: string; readonly driver: string }
  | { readonly kind: 'renamed'; readonly state: string; readonly to: string; readonly details: readonly Detail[] }
  | { readonly kind: 'changed'; readonly state: string; readonly details: readonly Detail[] };

export interface ChartDiff {
  /** Chart-level changes: name, initial state, context and settings schemas, failure prefix, owner. */
  readonly chart: readonly Detail[];
  readonly states: readonly StateChange[];
}

/** One fact about a state, by key; `target` facts name a state, so a rename can be told from a real change. */
interface Fact {
  readonly value: string;
  readonly target?: boolean;
}

export function diffCharts(before: Chart, after: Chart): ChartDiff {
  const removed = Object.keys(before.states).filter((name) => !Object.hasOwn(after.states, name));
  const added = Object.keys(after.states).filter((name) => !Object.hasOwn(before.states, name));
  const renames = findRenames(before, after, removed, added);
  const states: StateChange[] = [];
  for (const name of Object.keys(before.states)) {
    const to = renames.get(name);
    if (to !== undefined) {
      states.push({ kind: 'renamed', state: name, to, details: compare(before.states[name]!, after.states[to]!, renames) });
    } else if (removed.includes(name)) {
      states.push({ kind: 'removed', state: name, driver: driverOf(before.states[name]!) });
    } else {
      const details = compare(before.states[name]!, after.states[name]!, renames);
      if (details.length) states.push({ kind: 'changed', state: name, details });
    }
  }
  const renamedTo = new Set(renames.values());
  for (const name of added.filter((each) => !renamedTo.has(each))) states.push({ kind: 'added', state: name, driver: driverOf(after.states[name]!) });
  return { chart: chartDetails(before, after, renames), states };
}

/** Whether instances sitting in `state` of the old version find it changed or gone in the new one. */
export function strands(change: StateChange): boolean {
  return change.kind === 'removed' || change.kind === 'renamed' || (change.kind === 'changed' && change.details.some((detail) => detail.behaviour));
}

/** A removed state and an added one with the same facts (targets followed through the renames) is one state renamed. */
function findRenames(before: Chart, after: Chart, removed: string[], added: string[]): Map<string, string> {
  const renames = new Map<string, string>();
  const open = new Set(added);
  for (const name of removed) {
    // Targets are compared as if this state were already renamed to the candidate.
    const match = [...open].find((candidate) => sameFacts(factsOf(before.states[name]!), factsOf(after.states[candidate]!), new Map([...renames, [name, candidate]])));
    if (match === undefined) continue;
    renames.set(name, match);
    open.delete(match);
  }
  return renames;
}

function sameFacts(before: Map<string, Fact>, after: Map<string, Fact>, renames: ReadonlyMap<string, string>): boolean {
  const keys = new Set([...before.keys(), ...after.keys()]);
  return [...keys].every((key) => key === 'description' || followed(before.get(key), renames) === after.get(key)?.value);
}

function compare(before: StateDef, after: StateDef, renames: ReadonlyMap<string, string>): Detail[] {
  const was = factsOf(before);
  const now = factsOf(after);
  const details: Detail[] = [];
  for (const key of new Set([...was.keys(), ...now.keys()])) {
    const old = was.get(key)?.value;
    const next = now.get(key)?.value;
    if (old === next) continue;
    const behaviour = key !== 'description' && followed(was.get(key), renames) !== next;
    details.push({ key, before: old, after: next, behaviour });
  }
  return details;
}

function followed(fact: Fact | undefined, renames: ReadonlyMap<string, string>): string | undefined {
  if (!fact) return undefined;
  return fact.target ? renames.get(fact.value) ?? fact.value : fact.value;
}

/** Everything about a state that decides how an instance in it behaves, as comparable text. */
function factsOf(state: StateDef): Map<string, Fact> {
  const facts = new Map<string, Fact>([['driver', { value: state.kind }]]);
  const set = (key: string, value: unknown, target = false): void => {
    if (value !== undefined) facts.set(key, { value: typeof value === 'string' ? value : JSON.stringify(value), ...(target && { target }) });
  };
  set('description', state.description);
  switch (state.kind) {
    case 'final':
      break;
    case 'gate':
      set('gate.count', state.count - state.start);
      set('gate.distinct', state.distinct);
      set('next', state.next, true);
      break;
    case 'timer':
      set(state.atMs !== undefined ? 'at' : 'after', state.atMs !== undefined ? new Date(state.atMs).toISOString() : formatDuration(state.afterMs ?? 0));
      set('next', state.next, true);
      break;
    case 'step':
      set('run', state.run);
      for (const [key, value] of Object.entries(state.with)) set(`with.${key}`, value);
      set('on_success', state.onSuccess, true);
      set('on_failure', state.onFailure, true);
      set('retry.attempts', state.retry.attempts);
      set('retry.delay', formatDuration(state.retry.delayMs));
      set('retry.backoff', state.retry.backoff);
      set('retry.max_delay', formatDuration(state.retry.maxDelayMs));
      set('timeout', formatDuration(state.timeoutMs));
      break;
    case 'event':
      break;
  }
  if (state.kind === 'gate' || state.kind === 'event') {
    for (const [event, target] of Object.entries(state.on ?? {})) set(`on.${event}`, target, true);
    if (state.timeout) {
      set('timeout.after', formatDuration(state.timeout.afterMs));
      set('timeout.next', state.timeout.next, true);
    }
  }
  return facts;
}

/** "a gate", "a step (fs.makeDir)", for listings. */
export function driverOf(state: StateDef): string {
  switch (state.kind) {
    case 'final':
      return 'final';
    case 'gate':
      return 'gate';
    case 'timer':
      return 'timer';
    case 'step':
      return `step (${state.run})`;
    case 'event':
      return 'event';
  }
}

function chartDetails(before: Chart, after: Chart, renames: ReadonlyMap<string, string>): Detail[] {
  const text = (value: unknown): string | undefined => (value === undefined ? undefined : typeof value === 'string' ? value : JSON.stringify(value));
  const details: Detail[] = [];
  const add = (key: string, old: unknown, next: unknown, behaviour: boolean): void => {
    if (text(old) !== text(next)) details.push({ key, before: text(old), after: text(next), behaviour });
  };
  add('chart', before.name, after.name, true);
  add('initial', before.initial, after.initial, (renames.get(before.initial) ?? before.initial) !== after.initial);
  add('context', before.context, after.context, true);
  add('settings', before.settings, after.settings, true);
  add('failure_prefix', before.failurePrefix, after.failurePrefix, true);
  add('owner', before.owner, after.owner, true);
  add('description', before.description, after.description, false);
  return details;
}

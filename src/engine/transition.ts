// Pure state-chart semantics: one input in, the next snapshot and the effects to carry out.

import { isCleanup, type Chart, type StateDef, type StepState } from '../chart/model.js';
import type { Effect } from './effects.js';
import { FAILURE_LIMIT, HISTORY_LIMIT, type Context, type Failure, type Snapshot, type Transition } from './snapshot.js';

export type Input =
  /** StateService's PUT: count one check-in on the current gate. `token` names the bearer token that sent it. */
  | { readonly type: 'put'; readonly state: string; readonly by?: string; readonly token?: string }
  /** A named event from outside; `state`, when given, must be current. */
  | { readonly type: 'event'; readonly event: string; readonly state?: string; readonly by?: string; readonly token?: string }
  /** A stored deadline came due; `at` identifies which one, so a stale wake-up changes nothing. */
  | { readonly type: 'deadline'; readonly at: number }
  /** A step's handler finished; `error` absent means success; `final` failures skip the remaining retries. */
  | { readonly type: 'stepDone'; readonly state: string; readonly attempt: number; readonly error?: string; readonly final?: boolean }
  /** Leave the happy path now (see `interrupt`); `reason` is the failure report's message, e.g. "interrupted by SIGINT". */
  | { readonly type: 'interrupt'; readonly reason: string };

/** Why an input was refused; the transports map these to statuses. */
export type RejectCode = 'not_current' | 'final' | 'not_countable' | 'caller_required' | 'event_not_accepted';

export interface Outcome {
  readonly snapshot: Snapshot;
  readonly effects: readonly Effect[];
  readonly accepted: boolean;
  /** Accepted, but nothing changed: nothing to commit. */
  readonly unchanged: boolean;
  readonly code?: RejectCode;
  readonly reason?: string;
}

/** Callers listed on a gate that counts every PUT; a distinct gate lists all of them (at most its count). */
const MAX_CALLERS = 1000;

/** How an instance begins besides its context: the operator's settings, and the bearer token (its name) that created it. */
export interface Origin {
  readonly settings?: Context;
  readonly token?: string;
}

/** A new instance, already entered into the chart's initial state. */
export function createSnapshot(chart: Chart, id: string, context: Context, now: number, { settings, token }: Origin = {}): Outcome {
  const at = iso(now);
  const blank: Snapshot = {
    chart: chart.name, version: chart.version, id, state: '', status: 'active', context, ...(settings && { settings }),
    counter: 0, callers: [], deadline: null, attempt: 0, revision: 0,
    enteredAt: at, createdAt: at, updatedAt: at, history: [], failures: [],
  };
  return enter(chart, blank, chart.initial, now, { cause: 'create', token }, []);
}

export function transition(chart: Chart, snapshot: Snapshot, input: Input, now: number): Outcome {
  const def = stateOf(chart, snapshot.state);
  switch (input.type) {
    case 'put':
      return put(chart, snapshot, def, input, now);
    case 'event':
      return fireEvent(chart, snapshot, def, input, now);
    case 'deadline':
      return deadlineReached(chart, snapshot, def, input.at, now);
    case 'stepDone':
      return stepDone(chart, snapshot, def, input, now);
    case 'interrupt':
      return interrupt(chart, snapshot, def, input.reason, now);
  }
}

function put(chart: Chart, snapshot: Snapshot, def: StateDef, input: { state: string; by?: string; token?: string }, now: number): Outcome {
  if (input.state !== snapshot.state) {
    // A retried check-in whose first try opened (or was counted by) a distinct gate that has since closed.
    if (input.by && countedWhenClosed(snapshot, input.state, input.by)) return unchanged(snapshot);
    return reject(snapshot, 'not_current', `${input.state} is not the current state`);
  }
  switch (def.kind) {
    case 'final':
      return reject(snapshot, 'final', `${def.name} is final; nothing moves it`);
    case 'timer':
      return reject(snapshot, 'not_countable', `${def.name} is driven by a timer; it moves on its own`);
    case 'step':
      return reject(snapshot, 'not_countable', `${def.name} runs a step; it moves when its handler finishes`);
    case 'event':
      return reject(snapshot, 'not_countable', `${def.name} waits for an event (${Object.keys(def.on).join(', ')}); send event=NAME`);
    case 'gate':
      break;
  }
  if (def.distinct && !input.by) {
    return reject(snapshot, 'caller_required', `${def.name} counts each caller once; say who you are with by=NAME or the X-Chartd-Caller header`);
  }
  if (def.distinct && input.by && snapshot.callers.includes(input.by)) return unchanged(snapshot);
  const callers = input.by && !snapshot.callers.includes(input.by) && (def.distinct || snapshot.callers.length < MAX_CALLERS)
    ? [...snapshot.callers, input.by]
    : snapshot.callers;
  const counter = snapshot.counter + 1;
  if (counter >= def.count) {
    const counted = def.distinct ? { callers } : {};
    return enter(chart, snapshot, def.next, now, { cause: 'put', caller: input.by, token: input.token, ...counted }, []);
  }
  return accept({ ...snapshot, counter, callers, revision: snapshot.revision + 1, updatedAt: iso(now) }, []);
}

function fireEvent(chart: Chart, snapshot: Snapshot, def: StateDef, input: { event: string; state?: string; by?: string; token?: string }, now: number): Outcome {
  if (input.state !== undefined && input.state !== snapshot.state) {
    return reject(snapshot, 'not_current', `${input.state} is not the current state`);
  }
  const events = def.kind === 'event' || def.kind === 'gate' ? def.on ?? {} : {};
  const target = Object.hasOwn(events, input.event) ? events[input.event] : undefined;
  if (target === undefined) {
    const names = Object.keys(events);
    const accepts = names.length ? `it accepts ${names.join(', ')}` : 'it accepts no events';
    return reject(snapshot, 'event_not_accepted', `${def.name} does not accept event ${input.event}; ${accepts}`);
  }
  return enter(chart, snapshot, target, now, { cause: `event:${input.event}`, caller: input.by, token: input.token }, []);
}

function deadlineReached(chart: Chart, snapshot: Snapshot, def: StateDef, at: number, now: number): Outcome {
  const deadline = snapshot.deadline;
  if (!deadline || deadline.at !== at || now < at) return unchanged(snapshot);
  if (deadline.kind === 'timer' && def.kind === 'timer') {
    return enter(chart, snapshot, def.next, now, { cause: 'timer' }, []);
  }
  if (deadline.kind === 'timeout' && (def.kind === 'gate' || def.kind === 'event') && def.timeout) {
    const failure = { node: def.name, error: `timed out: nothing moved ${def.name} before its deadline`, at: iso(now) };
    return enter(chart, snapshot, def.timeout.next, now, { cause: 'timeout', error: failure.error }, [failure]);
  }
  if (deadline.kind === 'retry' && def.kind === 'step') {
    const next = { ...snapshot, deadline: null, revision: snapshot.revision + 1, updatedAt: iso(now) };
    return accept(next, [{ type: 'runStep', state: def.name, attempt: snapshot.attempt }]);
  }
  return unchanged(snapshot);
}

function stepDone(chart: Chart, snapshot: Snapshot, def: StateDef, input: { state: string; attempt: number; error?: string; final?: boolean }, now: number): Outcome {
  if (def.kind !== 'step' || input.state !== snapshot.state || input.attempt !== snapshot.attempt || snapshot.deadline) {
    return unchanged(snapshot);
  }
  if (input.error === undefined) {
    return enter(chart, snapshot, def.onSuccess, now, { cause: 'success' }, []);
  }
  if (!input.final && snapshot.attempt < def.retry.attempts) {
    const at = now + retryDelay(def, snapshot.attempt);
    const next: Snapshot = {
      ...snapshot, attempt: snapshot.attempt + 1, deadline: { at, kind: 'retry' }, lastError: input.error,
      revision: snapshot.revision + 1, updatedAt: iso(now),
    };
    return accept(next, [{ type: 'armTimer', at }]);
  }
  const failure = { node: def.name, error: input.error, at: iso(now) };
  return enter(chart, snapshot, def.onFailure, now, { cause: 'failure', error: input.error }, [failure]);
}

/**
 * The instance leaves its happy path at once and is marked interrupted: a running (or retrying) step fails and
 * takes its unhappy path, whose cleanup steps then run; a cleanup step is let finish; a waiting state takes its
 * timeout edge if it has one. Anything else (a timer, a wait without a timeout) stays where it is.
 */
function interrupt(chart: Chart, snapshot: Snapshot, def: StateDef, reason: string, now: number): Outcome {
  if (snapshot.status === 'done' || snapshot.interrupted) return unchanged(snapshot);
  const marked: Snapshot = { ...snapshot, interrupted: { reason, at: iso(now) } };
  if (def.kind === 'step' && !isCleanup(def)) {
    const error = snapshot.lastError ? `${reason} while waiting to retry after attempt ${snapshot.attempt - 1} failed: ${snapshot.lastError}` : reason;
    return enter(chart, marked, def.onFailure, now, { cause: 'interrupt', error }, [{ node: def.name, error, at: iso(now) }]);
  }
  if ((def.kind === 'gate' || def.kind === 'event') && def.timeout) {
    const error = `${reason} while waiting`;
    return enter(chart, marked, def.timeout.next, now, { cause: 'interrupt', error }, [{ node: def.name, error, at: iso(now) }]);
  }
  return accept({ ...marked, revision: snapshot.revision + 1, updatedAt: iso(now) }, []);
}

/** Delay before attempt n+1 after attempt n failed: delay × backoff^(n-1), capped. */
export function retryDelay(step: StepState, failedAttempt: number): number {
  const { delayMs, backoff, maxDelayMs } = step.retry;
  return Math.min(maxDelayMs, Math.round(delayMs * backoff ** (failedAttempt - 1)));
}

interface Move {
  readonly cause: string;
  readonly caller?: string;
  readonly token?: string;
  readonly error?: string;
  /** Who a distinct gate counted before it opened; kept on the transition so late retries can be recognised. */
  readonly callers?: readonly string[];
}

/** Whether `caller` was counted by the last visit of distinct gate `state`, recorded when it closed. */
function countedWhenClosed(snapshot: Snapshot, state: string, caller: string): boolean {
  for (let index = snapshot.history.length - 1; index >= 0; index -= 1) {
    const entry = snapshot.history[index]!;
    if (entry.from === state) return entry.callers?.includes(caller) ?? false;
    if (entry.to === state) return false;
  }
  return false;
}

/** Moves into `target`, resetting per-state fields and starting the new state's driver. */
function enter(chart: Chart, snapshot: Snapshot, target: string, now: number, move: Move, failures: Failure[]): Outcome {
  const def = stateOf(chart, target);
  const at = iso(now);
  const revision = snapshot.revision + 1;
  const record: Transition = {
    revision, at, from: snapshot.state === '' ? null : snapshot.state, to: target, cause: move.cause,
    ...(move.caller ? { caller: move.caller } : {}),
    ...(move.token ? { token: move.token } : {}),
    ...(move.error ? { error: move.error } : {}),
    ...(move.callers ? { callers: move.callers } : {}),
  };
  const { lastError: _lastError, ...rest } = snapshot;
  let next: Snapshot = {
    ...rest,
    state: target, status: def.kind === 'final' ? 'done' : 'active',
    counter: def.kind === 'gate' ? def.start : 0, callers: [], deadline: null, attempt: 0,
    revision, enteredAt: at, updatedAt: at,
    history: capped([...snapshot.history, record], HISTORY_LIMIT),
    failures: failures.length ? capped([...snapshot.failures, ...failures], FAILURE_LIMIT) : snapshot.failures,
  };
  const effects: Effect[] = failures.map((failure) => ({ type: 'alert', failure }));
  const deadline = deadlineOnEntry(def, now);
  if (deadline) {
    next = { ...next, deadline };
    effects.push({ type: 'armTimer', at: deadline.at });
  }
  if (def.kind === 'step') {
    next = { ...next, attempt: 1 };
    effects.push({ type: 'runStep', state: def.name, attempt: 1 });
  }
  return accept(next, effects);
}

function deadlineOnEntry(def: StateDef, now: number): Snapshot['deadline'] {
  if (def.kind === 'timer') return { at: def.atMs ?? now + (def.afterMs ?? 0), kind: 'timer' };
  if ((def.kind === 'gate' || def.kind === 'event') && def.timeout) return { at: now + def.timeout.afterMs, kind: 'timeout' };
  return null;
}

function stateOf(chart: Chart, name: string): StateDef {
  const def = chart.states[name];
  // The loader guarantees every target exists; reaching this is a bug, not bad input.
  if (!def) throw new Error(`chart ${chart.name}@${chart.version} has no state ${name}`);
  return def;
}

function accept(snapshot: Snapshot, effects: Effect[]): Outcome {
  return { snapshot, effects, accepted: true, unchanged: false };
}

function unchanged(snapshot: Snapshot): Outcome {
  return { snapshot, effects: [], accepted: true, unchanged: true };
}

function reject(snapshot: Snapshot, code: RejectCode, reason: string): Outcome {
  return { snapshot, effects: [], accepted: false, unchanged: true, code, reason };
}

function capped<T>(items: T[], limit: number): T[] {
  return items.length > limit ? items.slice(items.length - limit) : items;
}

// Under load many transitions share a millisecond; formatting a date costs more than the rest of a check-in.
let lastMs = Number.NaN;
let lastIso = '';

function iso(ms: number): string {
  if (ms !== lastMs) {
    lastIso = new Date(ms).toISOString();
    lastMs = ms;
  }
  return lastIso;
}

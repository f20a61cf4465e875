// Pure state-chart semantics: one input in, the next snapshot and the effects to carry out.

import { isCleanup, type Chart, type StateDef, type StepState } from '../chart/model.js';
import { accept, enter, iso, recording, reject, stateOf, transitionRecord, unchanged, type Move, type Outcome } from './outcome.js';
import { isFinished, type Cancellation, type Context, type Snapshot } from './snapshot.js';

export type { Outcome, RejectCode } from './outcome.js';

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
  | { readonly type: 'interrupt'; readonly reason: string }
  /** A client ends the instance (see `cancel`); `reason` is recorded as it was given. */
  | { readonly type: 'cancel'; readonly reason: string; readonly by?: string; readonly token?: string };

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
    enteredAt: at, createdAt: at, updatedAt: at, transitions: 0, failures: [],
  };
  return enter(chart, blank, chart.initial, now, { cause: 'create', token }, []);
}

/** A finished instance restarted: its id, context and history (which a restart adds to), with the operator's settings now. */
export interface Restart extends Origin {
  readonly context: Context;
  readonly by?: string;
  readonly reason?: string;
}

/**
 * A finished (done or cancelled) instance starts over in the initial state of `chart`, the version served now,
 * as a new run: its revision goes on and the restart is recorded in its history; failures start afresh.
 */
export function restartSnapshot(chart: Chart, snapshot: Snapshot, now: number, restart: Restart): Outcome {
  if (!isFinished(snapshot)) {
    return reject(snapshot, 'not_finished', `instance ${snapshot.id} is still active in ${snapshot.state}; only a finished (done or cancelled) instance starts over`);
  }
  const at = iso(now);
  const { settings, context } = restart;
  const blank: Snapshot = {
    chart: chart.name, version: chart.version, id: snapshot.id, state: snapshot.state, status: 'active', context, ...(settings && { settings }),
    counter: 0, callers: [], deadline: null, attempt: 0, revision: snapshot.revision,
    enteredAt: at, createdAt: at, updatedAt: at, transitions: snapshot.transitions, failures: [],
  };
  return enter(chart, blank, chart.initial, now, { cause: 'restart', caller: restart.by, token: restart.token, reason: restart.reason }, []);
}

export function transition(chart: Chart, snapshot: Snapshot, input: Input, now: number): Outcome {
  const def = stateOf(chart, snapshot.state);
  if (snapshot.status === 'cancelled' && (input.type === 'put' || input.type === 'event')) {
    return reject(snapshot, 'finished', `instance ${snapshot.id} was cancelled (${snapshot.cancelled?.reason ?? 'no reason given'}); nothing moves it until it is restarted`);
  }
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
    case 'cancel':
      return cancel(chart, snapshot, def, input, now);
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
  if (def.kind !== 'step' || isFinished(snapshot) || input.state !== snapshot.state || input.attempt !== snapshot.attempt || snapshot.deadline) {
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
  if (isFinished(snapshot) || snapshot.interrupted || snapshot.cancelled) return unchanged(snapshot);
  const marked: Snapshot = { ...snapshot, interrupted: { reason, at: iso(now) } };
  const edge = unhappyEdge(def);
  if (edge === undefined) return accept({ ...marked, revision: snapshot.revision + 1, updatedAt: iso(now) }, []);
  const error = def.kind !== 'step'
    ? `${reason} while waiting`
    : snapshot.lastError ? `${reason} while waiting to retry after attempt ${snapshot.attempt - 1} failed: ${snapshot.lastError}` : reason;
  return enter(chart, marked, edge, now, { cause: 'interrupt', error }, [{ node: def.name, error, at: iso(now) }]);
}

/**
 * A client ends the instance. Like an interrupt it leaves the happy path, but it follows the unhappy edge (a
 * running step's on_failure, a wait's timeout) only when that edge leads to a step, so the chart's own cleanup
 * runs; it then ends `cancelled` at the first state that is not a step (see enter). Without such a cleanup it
 * ends at once where it is. A step already on the unhappy path (a cleanup step, or one an interrupt led to) is
 * let finish. Nothing failed, so no failure is recorded and no alert raised; the history says who and why.
 */
function cancel(chart: Chart, snapshot: Snapshot, def: StateDef, input: { reason: string; by?: string; token?: string }, now: number): Outcome {
  if (isFinished(snapshot)) return reject(snapshot, 'finished', `instance ${snapshot.id} is already ${snapshot.status} in ${snapshot.state}; nothing to cancel`);
  if (snapshot.cancelled) return unchanged(snapshot);
  const cancelled: Cancellation = { reason: input.reason, at: iso(now), ...(input.by ? { by: input.by } : {}), ...(input.token ? { token: input.token } : {}) };
  const marked: Snapshot = { ...snapshot, cancelled };
  const move: Move = { cause: 'cancel', caller: input.by, token: input.token, reason: input.reason };
  const edge = snapshot.interrupted ? undefined : unhappyEdge(def);
  if (edge === undefined && def.kind === 'step') return accept({ ...marked, revision: snapshot.revision + 1, updatedAt: iso(now) }, []);
  if (edge !== undefined && stateOf(chart, edge).kind === 'step') return enter(chart, marked, edge, now, move, []);
  return endHere(marked, move, now);
}

/** Where the chart leaves the happy path from `def`: a step's on_failure (not a cleanup step's), a wait's timeout. */
function unhappyEdge(def: StateDef): string | undefined {
  if (def.kind === 'step') return isCleanup(def) ? undefined : def.onFailure;
  if ((def.kind === 'gate' || def.kind === 'event') && def.timeout) return def.timeout.next;
  return undefined;
}

/** Ends a cancelled instance in the state it is in: no timer, no step, a transition onto itself saying so. */
function endHere(snapshot: Snapshot, move: Move, now: number): Outcome {
  const at = iso(now);
  const revision = snapshot.revision + 1;
  const { lastError: _lastError, closedGates: _closedGates, ...rest } = snapshot;
  const record = { ...transitionRecord(move, revision, at, snapshot.state, snapshot.state), status: 'cancelled' as const };
  return accept({
    ...rest, status: 'cancelled', counter: 0, deadline: null, attempt: 0, revision, updatedAt: at, ...recording(snapshot, record),
  }, [], [record]);
}

/** Delay before attempt n+1 after attempt n failed: delay × backoff^(n-1), capped. */
export function retryDelay(step: StepState, failedAttempt: number): number {
  const { delayMs, backoff, maxDelayMs } = step.retry;
  return Math.min(maxDelayMs, Math.round(delayMs * backoff ** (failedAttempt - 1)));
}

/** Whether `caller` was counted by the last visit of distinct gate `state` in this run, recorded when it closed. */
function countedWhenClosed(snapshot: Snapshot, state: string, caller: string): boolean {
  return snapshot.closedGates?.[state]?.includes(caller) ?? false;
}

// How the engine moves an instance: entering a state, the transition it records, and accepted or refused outcomes.

import type { Chart, StateDef } from '../chart/model.js';
import type { Effect } from './effects.js';
import { FAILURE_LIMIT, type Failure, type Snapshot, type Transition } from './snapshot.js';

/** Why an input was refused; the transports map these to statuses. */
export type RejectCode = 'not_current' | 'final' | 'not_countable' | 'caller_required' | 'event_not_accepted' | 'finished' | 'not_finished';

export interface Outcome {
  readonly snapshot: Snapshot;
  readonly effects: readonly Effect[];
  /** The transitions this change made, oldest first: the runtime adds them to the instance's history. */
  readonly recorded: readonly Transition[];
  readonly accepted: boolean;
  /** Accepted, but nothing changed: nothing to commit. */
  readonly unchanged: boolean;
  readonly code?: RejectCode;
  readonly reason?: string;
}

/** What a transition records besides where and when: cause, who (caller, token), and the error or reason. */
export type Move = Pick<Transition, 'cause' | 'caller' | 'token' | 'error' | 'callers' | 'reason'>;

/**
 * Moves into `target`, resetting per-state fields and starting the new state's driver. A cancelled instance runs
 * only steps: it ends `cancelled` on entering any other state, which then arms no timer.
 */
export function enter(chart: Chart, snapshot: Snapshot, target: string, now: number, move: Move, failures: Failure[]): Outcome {
  const def = stateOf(chart, target);
  const at = iso(now);
  const revision = snapshot.revision + 1;
  const ending = snapshot.cancelled !== undefined && def.kind !== 'step';
  const record: Transition = {
    ...transitionRecord(move, revision, at, snapshot.state === '' ? null : snapshot.state, target),
    ...(ending ? { status: 'cancelled' as const } : {}),
  };
  const { lastError: _lastError, closedGates: _closedGates, ...rest } = snapshot;
  let next: Snapshot = {
    ...rest,
    state: target, status: ending ? 'cancelled' : def.kind === 'final' ? 'done' : 'active',
    counter: def.kind === 'gate' ? def.start : 0, callers: [], deadline: null, attempt: 0,
    revision, enteredAt: at, updatedAt: at, ...recording(snapshot, record),
    failures: failures.length ? capped([...snapshot.failures, ...failures], FAILURE_LIMIT) : snapshot.failures,
  };
  const effects: Effect[] = failures.map((failure) => ({ type: 'alert', failure }));
  const deadline = ending ? null : deadlineOnEntry(def, now);
  if (deadline) {
    next = { ...next, deadline };
    effects.push({ type: 'armTimer', at: deadline.at });
  }
  if (def.kind === 'step') {
    next = { ...next, attempt: 1 };
    effects.push({ type: 'runStep', state: def.name, attempt: 1 });
  }
  return accept(next, effects, [record]);
}

/**
 * The snapshot's fields that follow a recorded transition: its count, and what a distinct gate it leaves had
 * counted. The caller leaves `closedGates` out of what it spreads: it is absent once empty.
 */
export function recording(snapshot: Pick<Snapshot, 'transitions' | 'closedGates'>, record: Transition): Pick<Snapshot, 'transitions' | 'closedGates'> {
  const { from } = record;
  let closedGates = snapshot.closedGates;
  if (from !== null && (record.callers || closedGates?.[from])) {
    const { [from]: _left, ...others } = closedGates ?? {};
    closedGates = record.callers ? { ...others, [from]: record.callers } : others;
  }
  return { transitions: snapshot.transitions + 1, ...(closedGates && Object.keys(closedGates).length ? { closedGates } : {}) };
}

export function transitionRecord(move: Move, revision: number, at: string, from: string | null, to: string): Transition {
  return {
    revision, at, from, to, cause: move.cause,
    ...(move.caller ? { caller: move.caller } : {}),
    ...(move.token ? { token: move.token } : {}),
    ...(move.error ? { error: move.error } : {}),
    ...(move.callers ? { callers: move.callers } : {}),
    ...(move.reason ? { reason: move.reason } : {}),
  };
}

function deadlineOnEntry(def: StateDef, now: number): Snapshot['deadline'] {
  if (def.kind === 'timer') return { at: def.atMs ?? now + (def.afterMs ?? 0), kind: 'timer' };
  if ((def.kind === 'gate' || def.kind === 'event') && def.timeout) return { at: now + def.timeout.afterMs, kind: 'timeout' };
  return null;
}

export function stateOf(chart: Chart, name: string): StateDef {
  const def = chart.states[name];
  // The loader guarantees every target exists; reaching this is a bug, not bad input.
  if (!def) throw new Error(`chart ${chart.name}@${chart.version} has no state ${name}`);
  return def;
}

export function accept(snapshot: Snapshot, effects: Effect[], recorded: readonly Transition[] = []): Outcome {
  return { snapshot, effects, recorded, accepted: true, unchanged: false };
}

export function unchanged(snapshot: Snapshot): Outcome {
  return { snapshot, effects: [], recorded: [], accepted: true, unchanged: true };
}

export function reject(snapshot: Snapshot, code: RejectCode, reason: string): Outcome {
  return { snapshot, effects: [], recorded: [], accepted: false, unchanged: true, code, reason };
}

export function capped<T>(items: T[], limit: number): T[] {
  return items.length > limit ? items.slice(items.length - limit) : items;
}

// Under load many transitions share a millisecond; formatting a date costs more than the rest of a check-in.
let lastMs = Number.NaN;
let lastIso = '';

export function iso(ms: number): string {
  if (ms !== lastMs) {
    lastIso = new Date(ms).toISOString();
    lastMs = ms;
  }
  return lastIso;
}

// What-if runs (chartd simulate): actions in order on a Simulation, every step succeeding unless told to fail, as one transcript.

import { formatDuration } from '../chart/model.js';
import { Simulation, type Answer, type Move } from './simulation.js';

export type WhatIfAction =
  | { readonly kind: 'put'; readonly state: string; readonly by?: string }
  | { readonly kind: 'event'; readonly event: string; readonly by?: string }
  | { readonly kind: 'advance'; readonly ms: number };

export type Entry =
  | ({ readonly type: 'move' } & Move)
  | { readonly type: 'attempt'; readonly at: number; readonly state: string; readonly attempt: number; readonly run: string; readonly args: Record<string, unknown>; readonly error?: string }
  | { readonly type: 'action'; readonly at: number; readonly action: string; readonly status?: Answer['status']; readonly reason?: string; readonly after?: string };

/** Runs `actions` in order; each step's attempts fail with the message `fails` gives its state, else succeed. */
export function whatIf(simulation: Simulation, actions: readonly WhatIfAction[], fails: ReadonlyMap<string, string>): Entry[] {
  const entries: Entry[] = [];
  let seen = 0;
  const flushMoves = (): void => {
    for (const move of simulation.moves.slice(seen)) entries.push({ type: 'move', ...move });
    seen = simulation.moves.length;
  };
  const runSteps = (): void => {
    for (let step = simulation.running; step || simulation.retryAt !== undefined; step = simulation.running) {
      const state = simulation.snapshot.state;
      const error = fails.get(state);
      // A step waiting to retry starts its next attempt first (finishStep waits it out); record that attempt as it runs.
      if (!step) simulation.advance((simulation.retryAt ?? simulation.now) - simulation.now);
      flushMoves();
      const running = simulation.running!;
      entries.push({ type: 'attempt', at: simulation.now, state, attempt: running.attempt, run: running.run, args: running.args, ...(error !== undefined && { error }) });
      simulation.finishStep(state, error !== undefined ? { error } : {});
      flushMoves();
    }
  };
  flushMoves();
  runSteps();
  for (const action of actions) {
    const at = simulation.now;
    if (action.kind === 'advance') {
      entries.push({ type: 'action', at, action: `advance ${formatDuration(action.ms)}` });
      // Steps take no time here: each one a timer leads into runs when it starts, not when the clock stops.
      for (let due = simulation.nextDue; due !== undefined && due <= at + action.ms; due = simulation.nextDue) {
        simulation.advance(Math.max(0, due - simulation.now));
        flushMoves();
        runSteps();
      }
      // A step's retries may already have taken the clock past the end.
      simulation.advance(Math.max(0, at + action.ms - simulation.now));
    } else {
      const answer = action.kind === 'put' ? simulation.put(action.state, action.by) : simulation.event(action.event, action.by);
      const by = action.by ? ` by ${action.by}` : '';
      const text = action.kind === 'put' ? `put ${action.state}${by}` : `event ${action.event}${by}`;
      // An accepted PUT that does not open the gate moves nothing: say where the instance stands instead.
      const after = answer.status === 200 && simulation.moves.length === seen ? { after: simulation.whereNow() } : {};
      entries.push({ type: 'action', at, action: text, status: answer.status, ...(answer.reason && { reason: answer.reason }), ...after });
    }
    flushMoves();
    runSteps();
  }
  return entries;
}

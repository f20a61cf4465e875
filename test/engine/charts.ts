// Small charts built in code for the engine's tests, and an instance of one started at T0.

import type { Chart, StateDef } from '../../src/chart/model.js';
import type { Snapshot } from '../../src/engine/snapshot.js';
import { createSnapshot } from '../../src/engine/transition.js';

export const T0 = Date.UTC(2026, 10, 22, 6, 0, 0);

export function chartOf(initial: string, states: StateDef[], version = 'v1'): Chart {
  return {
    name: 'test', version, dialect: 'chartd', initial, file: 'test.yaml', source: '',
    states: Object.fromEntries(states.map((state) => [state.name, state])),
  };
}

export const gate = (name: string, count: number, next: string, extra: Partial<StateDef> = {}): StateDef =>
  ({ kind: 'gate', name, line: 1, start: 0, count, distinct: false, counterKey: 'count', next, ...extra }) as StateDef;
export const final = (name: string): StateDef => ({ kind: 'final', name, line: 1 });
/** A step; `onSuccess === onFailure` makes it a cleanup step. */
export const step = (name: string, onSuccess: string, onFailure: string, attempts = 1): StateDef => ({
  kind: 'step', name, line: 1, run: 'x', with: {}, onSuccess, onFailure, retry: { attempts, delayMs: 1000, backoff: 2, maxDelayMs: 4000 }, timeoutMs: 1000,
});

export function start(chart: Chart, now = T0): Snapshot {
  return createSnapshot(chart, 'default', {}, now).snapshot;
}

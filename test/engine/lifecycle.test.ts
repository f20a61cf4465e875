import { describe, expect, it } from 'vitest';
import { restartSnapshot, transition, type Input } from '../../src/engine/transition.js';
import type { Snapshot } from '../../src/engine/snapshot.js';
import { chartOf, final, gate, start, step, T0 } from './charts.js';

const at = (ms: number): string => new Date(ms).toISOString();
const cancel = (reason = 'not needed any more', by?: string): Input => ({ type: 'cancel', reason, token: 'ops', ...(by ? { by } : {}) });

// dump (happy step) -> remove (cleanup) -> done; a failed cleanup goes on to done too.
const backup = chartOf('dump', [step('dump', 'done', 'remove', 3), step('remove', 'done', 'done'), final('done')]);

describe('cancel', () => {
  it('stops a running step, runs the cleanup it leads to, then ends cancelled in the final state, with no failure or alert', () => {
    const out = transition(backup, start(backup), cancel('release pulled', 'alice'), T0 + 5);
    expect(out.snapshot).toMatchObject({
      state: 'remove', status: 'active', attempt: 1, failures: [],
      cancelled: { reason: 'release pulled', at: at(T0 + 5), by: 'alice', token: 'ops' },
    });
    expect(out.recorded).toMatchObject([{ from: 'dump', to: 'remove', cause: 'cancel', reason: 'release pulled', caller: 'alice', token: 'ops' }]);
    expect(out.effects).toEqual([{ type: 'runStep', state: 'remove', attempt: 1 }]);
    // A second cancel while the cleanup runs changes nothing; neither does an interrupt.
    expect(transition(backup, out.snapshot, cancel('again'), T0 + 6)).toMatchObject({ accepted: true, unchanged: true });
    expect(transition(backup, out.snapshot, { type: 'interrupt', reason: 'interrupted by SIGTERM' }, T0 + 6)).toMatchObject({ unchanged: true });
    const ended = transition(backup, out.snapshot, { type: 'stepDone', state: 'remove', attempt: 1 }, T0 + 7);
    expect(ended.snapshot).toMatchObject({ state: 'done', status: 'cancelled', failures: [] });
    expect(ended.recorded.at(-1)).toMatchObject({ from: 'remove', to: 'done', cause: 'success', status: 'cancelled' });
  });

  it('ends a waiting instance at once where it is: no timer, refused check-ins and events, a transition onto itself', () => {
    const chart = chartOf('drain', [gate('drain', 3, 'done', { on: { failed: 'failed' } } as never), final('done'), final('failed')]);
    const counted = transition(chart, start(chart), { type: 'put', state: 'drain' }, T0).snapshot;
    const out = transition(chart, counted, cancel(), T0 + 10);
    expect(out.effects).toEqual([]);
    expect(out.snapshot).toMatchObject({ state: 'drain', status: 'cancelled', counter: 0, deadline: null, revision: counted.revision + 1, updatedAt: at(T0 + 10) });
    expect(out.recorded).toEqual([{ revision: counted.revision + 1, at: at(T0 + 10), from: 'drain', to: 'drain', cause: 'cancel', token: 'ops', reason: 'not needed any more', status: 'cancelled' }]);
    expect(transition(chart, out.snapshot, { type: 'put', state: 'drain' }, T0 + 11)).toMatchObject({ accepted: false, code: 'finished' });
    expect(transition(chart, out.snapshot, { type: 'event', event: 'failed' }, T0 + 11)).toMatchObject({ accepted: false, code: 'finished' });
    expect(transition(chart, out.snapshot, cancel(), T0 + 11)).toMatchObject({ accepted: false, code: 'finished' });
  });

  it('follows a wait\'s timeout only to a step: a rollback step runs, a rollback gate is not entered', () => {
    const toStep = chartOf('verify', [
      { kind: 'event', name: 'verify', line: 1, on: { passed: 'done' }, timeout: { afterMs: 60_000, next: 'rollback' } },
      step('rollback', 'rolled_back', 'rolled_back'), final('done'), final('rolled_back'),
    ]);
    const rolling = transition(toStep, start(toStep), cancel(), T0).snapshot;
    expect(rolling).toMatchObject({ state: 'rollback', status: 'active', deadline: null });
    expect(transition(toStep, rolling, { type: 'stepDone', state: 'rollback', attempt: 1, error: 'x' }, T0 + 1).snapshot).toMatchObject({ state: 'rolled_back', status: 'cancelled' });
    const toGate = chartOf('drain', [gate('drain', 3, 'done', { timeout: { afterMs: 60_000, next: 'rollback' } } as never), gate('rollback', 3, 'done'), final('done')]);
    expect(transition(toGate, start(toGate), cancel(), T0).snapshot).toMatchObject({ state: 'drain', status: 'cancelled', deadline: null });
  });

  it('ends a step whose unhappy edge leads to no step where it is, so its running attempt is left', () => {
    const chart = chartOf('upgrade', [step('upgrade', 'done', 'failed', 3), final('done'), final('failed')]);
    const out = transition(chart, start(chart), cancel(), T0);
    expect(out.snapshot).toMatchObject({ state: 'upgrade', status: 'cancelled', attempt: 0 });
    // The stopped attempt's outcome arrives late and changes nothing.
    expect(transition(chart, out.snapshot, { type: 'stepDone', state: 'upgrade', attempt: 1 }, T0 + 1)).toMatchObject({ unchanged: true });
  });

  it('lets a cleanup step, or a step an interrupt led to, finish before ending', () => {
    const inCleanup = transition(backup, start(backup), { type: 'stepDone', state: 'dump', attempt: 1, error: 'x', final: true }, T0).snapshot;
    const out = transition(backup, inCleanup, cancel(), T0 + 1);
    expect(out).toMatchObject({ accepted: true, unchanged: false, effects: [] });
    expect(out.snapshot).toMatchObject({ state: 'remove', status: 'active', attempt: 1, cancelled: { reason: 'not needed any more' } });
    const rollback = chartOf('deploy', [step('deploy', 'done', 'rollback'), step('rollback', 'rolled_back', 'failed'), final('done'), final('rolled_back'), final('failed')]);
    const interrupted = transition(rollback, start(rollback), { type: 'interrupt', reason: 'interrupted by SIGINT' }, T0).snapshot;
    expect(interrupted.state).toBe('rollback');
    const cancelled = transition(rollback, interrupted, cancel(), T0 + 1).snapshot;
    expect(cancelled).toMatchObject({ state: 'rollback', status: 'active', attempt: 1 });
    expect(transition(rollback, cancelled, { type: 'stepDone', state: 'rollback', attempt: 1 }, T0 + 2).snapshot).toMatchObject({ state: 'rolled_back', status: 'cancelled' });
  });

  it('ends a retrying step\'s wait, and a timer, without a deadline left behind', () => {
    const waiting = transition(backup, start(backup), { type: 'stepDone', state: 'dump', attempt: 1, error: 'refused' }, T0).snapshot;
    expect(transition(backup, waiting, cancel(), T0 + 1).snapshot).toMatchObject({ state: 'remove', deadline: null, attempt: 1 });
    const timer = chartOf('wait', [{ kind: 'timer', name: 'wait', line: 1, afterMs: 60_000, next: 'done' }, final('done')]);
    const ended = transition(timer, start(timer), cancel(), T0).snapshot;
    expect(ended).toMatchObject({ state: 'wait', status: 'cancelled', deadline: null });
    expect(transition(timer, ended, { type: 'deadline', at: T0 + 60_000 }, T0 + 60_000)).toMatchObject({ unchanged: true });
  });

  it('is refused once the instance is done', () => {
    const chart = chartOf('go', [gate('go', 1, 'done'), final('done')]);
    const done = transition(chart, start(chart), { type: 'put', state: 'go' }, T0).snapshot;
    expect(transition(chart, done, cancel(), T0)).toMatchObject({ accepted: false, code: 'finished', reason: 'instance default is already done in done; nothing to cancel' });
  });
});

describe('restart', () => {
  const light = chartOf('green', [gate('green', 1, 'red'), gate('red', 1, 'off', { distinct: true } as never), final('off')]);
  const finished = (): Snapshot => {
    let snapshot = start(light);
    snapshot = transition(light, snapshot, { type: 'put', state: 'green' }, T0 + 1).snapshot;
    return transition(light, snapshot, { type: 'put', state: 'red', by: 'web1' }, T0 + 2).snapshot;
  };

  it('starts a finished instance over in the initial state of the version served now, as a new run recorded in its history', () => {
    const done = finished();
    expect(done.status).toBe('done');
    const newer = chartOf('green', [gate('green', 2, 'off'), final('off')], 'v2');
    const out = restartSnapshot(newer, { ...done, failures: [{ node: 'red', error: 'x', at: at(T0) }] }, T0 + 100, { context: { release: '2' }, token: 'ops', by: 'alice', reason: 'again' });
    expect(out.accepted).toBe(true);
    expect(out.snapshot).toMatchObject({
      version: 'v2', state: 'green', status: 'active', counter: 0, failures: [], context: { release: '2' },
      revision: done.revision + 1, createdAt: at(T0 + 100), enteredAt: at(T0 + 100),
    });
    expect(out.snapshot.transitions).toBe(done.transitions + 1);
    expect(out.recorded).toHaveLength(1);
    expect(out.recorded.at(-1)).toMatchObject({ from: 'off', to: 'green', cause: 'restart', token: 'ops', caller: 'alice', reason: 'again' });
  });

  it('starts a cancelled instance over, its cancellation gone', () => {
    const cancelled = transition(light, start(light), cancel(), T0).snapshot;
    const out = restartSnapshot(light, cancelled, T0 + 1, { context: {} });
    expect(out.snapshot).toMatchObject({ state: 'green', status: 'active' });
    expect(out.snapshot).not.toHaveProperty('cancelled');
  });

  it('is refused while the instance is active', () => {
    expect(restartSnapshot(light, start(light), T0, { context: {} })).toMatchObject({ accepted: false, code: 'not_finished' });
  });

  it('forgets check-ins of the run before: a retried one is not taken as counted', () => {
    const again = restartSnapshot(light, finished(), T0 + 10, { context: {} }).snapshot;
    // web1 was counted by red in the last run; in this run red is not current, so the PUT is refused.
    expect(transition(light, again, { type: 'put', state: 'red', by: 'web1' }, T0 + 11)).toMatchObject({ accepted: false, code: 'not_current' });
  });
});

import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY, type StateDef } from '../../src/chart/model.js';
import { createSnapshot, restartSnapshot, retryDelay, transition } from '../../src/engine/transition.js';
import { chartOf, final, gate, start, step, T0 } from './charts.js';

const traffic = chartOf('green', [gate('green', 1, 'red'), gate('red', 2, 'blue'), final('blue')]);

describe('transition', () => {
  it('creates an instance in the initial state with a create transition', () => {
    const { snapshot, recorded } = createSnapshot(traffic, 'default', {}, T0);
    expect(snapshot.state).toBe('green');
    expect(snapshot.revision).toBe(1);
    expect(recorded).toEqual([{ revision: 1, at: new Date(T0).toISOString(), from: null, to: 'green', cause: 'create' }]);
    expect(snapshot.transitions).toBe(1);
  });

  it('counts PUTs on a gate and moves once the count is reached', () => {
    const moved = transition(traffic, start(traffic), { type: 'put', state: 'green' }, T0);
    expect(moved.snapshot.state).toBe('red');
    expect(moved.recorded).toMatchObject([{ from: 'green', to: 'red', cause: 'put' }]);
    const once = transition(traffic, moved.snapshot, { type: 'put', state: 'red', by: 'web1' }, T0 + 1);
    expect(once.accepted).toBe(true);
    expect(once.recorded).toEqual([]);
    expect(once.snapshot.state).toBe('red');
    expect(once.snapshot.counter).toBe(1);
    expect(once.snapshot.callers).toEqual(['web1']);
    const last = transition(traffic, once.snapshot, { type: 'put', state: 'red', by: 'web1' }, T0 + 2);
    const snapshot = last.snapshot;
    expect(snapshot.state).toBe('blue');
    expect(snapshot.status).toBe('done');
    expect(last.recorded).toMatchObject([{ from: 'red', to: 'blue', cause: 'put', revision: 4 }]);
    expect(snapshot.transitions).toBe(3);
    expect(snapshot.revision).toBe(4);
  });

  it('refuses a PUT on a state that is not current, or on a final state', () => {
    const snapshot = start(traffic);
    const wrong = transition(traffic, snapshot, { type: 'put', state: 'red' }, T0);
    expect(wrong).toMatchObject({ accepted: false, code: 'not_current' });
    expect(wrong.snapshot).toBe(snapshot);
    const done = transition(traffic, transition(traffic, transition(traffic, transition(traffic, snapshot, { type: 'put', state: 'green' }, T0).snapshot, { type: 'put', state: 'red' }, T0).snapshot, { type: 'put', state: 'red' }, T0).snapshot, { type: 'put', state: 'blue' }, T0);
    expect(done).toMatchObject({ accepted: false, code: 'final' });
  });

  it('counts each caller once on a distinct gate and asks for a caller', () => {
    const chart = chartOf('drain', [gate('drain', 2, 'done', { distinct: true } as Partial<StateDef>), final('done')]);
    let snapshot = start(chart);
    expect(transition(chart, snapshot, { type: 'put', state: 'drain' }, T0)).toMatchObject({ accepted: false, code: 'caller_required' });
    snapshot = transition(chart, snapshot, { type: 'put', state: 'drain', by: 'web1' }, T0).snapshot;
    const again = transition(chart, snapshot, { type: 'put', state: 'drain', by: 'web1' }, T0);
    expect(again).toMatchObject({ accepted: true, unchanged: true });
    expect(again.snapshot.counter).toBe(1);
    const opened = transition(chart, snapshot, { type: 'put', state: 'drain', by: 'web2' }, T0);
    expect(opened.snapshot.state).toBe('done');
    expect(opened.recorded.at(-1)).toMatchObject({ cause: 'put', caller: 'web2' });
  });

  it('arms a timer on entry and moves only when its own deadline comes due', () => {
    const chart = chartOf('wait', [{ kind: 'timer', name: 'wait', line: 1, afterMs: 60_000, next: 'done' }, final('done')]);
    const created = createSnapshot(chart, 'i', {}, T0);
    expect(created.snapshot.deadline).toEqual({ at: T0 + 60_000, kind: 'timer' });
    expect(created.effects).toContainEqual({ type: 'armTimer', at: T0 + 60_000 });
    expect(transition(chart, created.snapshot, { type: 'put', state: 'wait' }, T0)).toMatchObject({ accepted: false, code: 'not_countable' });
    expect(transition(chart, created.snapshot, { type: 'deadline', at: T0 + 1 }, T0 + 60_000)).toMatchObject({ unchanged: true });
    expect(transition(chart, created.snapshot, { type: 'deadline', at: T0 + 60_000 }, T0 + 59_999)).toMatchObject({ unchanged: true });
    const fired = transition(chart, created.snapshot, { type: 'deadline', at: T0 + 60_000 }, T0 + 60_005);
    expect(fired.snapshot).toMatchObject({ state: 'done', deadline: null });
  });

  it('times out a waiting state along its timeout path with a failure and an alert', () => {
    const chart = chartOf('verify', [
      { kind: 'event', name: 'verify', line: 1, on: { passed: 'done', failed: 'rollback' }, timeout: { afterMs: 1000, next: 'rollback' } },
      final('done'), final('rollback'),
    ]);
    const snapshot = start(chart);
    expect(transition(chart, snapshot, { type: 'event', event: 'nope' }, T0)).toMatchObject({ accepted: false, code: 'event_not_accepted' });
    expect(transition(chart, snapshot, { type: 'event', event: 'passed', state: 'other' }, T0)).toMatchObject({ accepted: false, code: 'not_current' });
    expect(transition(chart, snapshot, { type: 'event', event: 'passed' }, T0).snapshot.state).toBe('done');
    const late = transition(chart, snapshot, { type: 'deadline', at: T0 + 1000 }, T0 + 1000);
    expect(late.snapshot.state).toBe('rollback');
    expect(late.snapshot.failures).toHaveLength(1);
    expect(late.snapshot.failures[0]).toMatchObject({ node: 'verify' });
    expect(late.effects.some((effect) => effect.type === 'alert')).toBe(true);
  });

  it('runs a step, retries with backoff, then takes the unhappy path with a failure', () => {
    const step: StateDef = {
      kind: 'step', name: 'dump', line: 1, run: 'pg.dumpSchema', with: {}, onSuccess: 'done', onFailure: 'cleanup',
      retry: { attempts: 3, delayMs: 1000, backoff: 2, maxDelayMs: 1500 }, timeoutMs: 10_000,
    };
    const chart = chartOf('dump', [step, final('done'), final('cleanup')]);
    const created = createSnapshot(chart, 'i', {}, T0);
    expect(created.effects).toContainEqual({ type: 'runStep', state: 'dump', attempt: 1 });
    let snapshot = created.snapshot;
    const first = transition(chart, snapshot, { type: 'stepDone', state: 'dump', attempt: 1, error: 'boom' }, T0);
    expect(first.snapshot).toMatchObject({ state: 'dump', attempt: 2, deadline: { at: T0 + 1000, kind: 'retry' } });
    snapshot = first.snapshot;
    expect(transition(chart, snapshot, { type: 'stepDone', state: 'dump', attempt: 2 }, T0)).toMatchObject({ unchanged: true });
    const woke = transition(chart, snapshot, { type: 'deadline', at: T0 + 1000 }, T0 + 1000);
    expect(woke.effects).toEqual([{ type: 'runStep', state: 'dump', attempt: 2 }]);
    snapshot = transition(chart, woke.snapshot, { type: 'stepDone', state: 'dump', attempt: 2, error: 'boom' }, T0 + 1100).snapshot;
    expect(snapshot.deadline).toEqual({ at: T0 + 1100 + 1500, kind: 'retry' });
    snapshot = transition(chart, snapshot, { type: 'deadline', at: T0 + 2600 }, T0 + 2600).snapshot;
    const last = transition(chart, snapshot, { type: 'stepDone', state: 'dump', attempt: 3, error: 'disk full' }, T0 + 3000);
    expect(last.snapshot.state).toBe('cleanup');
    expect(last.snapshot.failures).toEqual([{ node: 'dump', error: 'disk full', at: new Date(T0 + 3000).toISOString() }]);
    expect(last.recorded.at(-1)).toMatchObject({ from: 'dump', to: 'cleanup', cause: 'failure', error: 'disk full' });
  });

  it('ignores a stale step result and takes the happy path on success', () => {
    const step: StateDef = { kind: 'step', name: 'mk', line: 1, run: 'fs.makeDir', with: {}, onSuccess: 'done', onFailure: 'done', retry: DEFAULT_RETRY, timeoutMs: 1000 };
    const chart = chartOf('mk', [step, final('done')]);
    const snapshot = start(chart);
    expect(transition(chart, snapshot, { type: 'stepDone', state: 'other', attempt: 1 }, T0)).toMatchObject({ unchanged: true });
    expect(transition(chart, snapshot, { type: 'stepDone', state: 'mk', attempt: 1 }, T0).snapshot).toMatchObject({ state: 'done', failures: [] });
  });

  it('caps the retry delay', () => {
    const step = { retry: { attempts: 9, delayMs: 100, backoff: 3, maxDelayMs: 1000 } } as Parameters<typeof retryDelay>[0];
    expect([1, 2, 3, 4].map((attempt) => retryDelay(step, attempt))).toEqual([100, 300, 900, 1000]);
  });

  it('starts a gate from its StateService start value', () => {
    const chart = chartOf('g', [gate('g', 3, 'done', { start: 1 } as Partial<StateDef>), final('done')]);
    let snapshot = start(chart);
    expect(snapshot.counter).toBe(1);
    snapshot = transition(chart, snapshot, { type: 'put', state: 'g' }, T0).snapshot;
    expect(snapshot.state).toBe('g');
    snapshot = transition(chart, snapshot, { type: 'put', state: 'g' }, T0).snapshot;
    expect(snapshot.state).toBe('done');
  });
});

describe('the engine stays pure', () => {
  it('imports nothing from Node and never reads the clock', async () => {
    const { readdir, readFile } = await import('node:fs/promises');
    const dir = new URL('../../src/engine/', import.meta.url);
    for (const file of await readdir(dir)) {
      const text = await readFile(new URL(file, dir), 'utf8');
      expect(text, file).not.toMatch(/from ['"](node:|fs|path|os|child_process|http)/);
      expect(text, file).not.toMatch(/Date\.now\(|new Date\(\)|performance\.now|setTimeout|process\./);
    }
  });
});

describe('events on gates', () => {
  it('lets an event leave a gate early, and refuses events it does not name', () => {
    const chart = chartOf('verify', [
      gate('verify', 3, 'done', { distinct: true, on: { failed: 'rollback' } } as Partial<StateDef>), final('done'), final('rollback'),
    ]);
    let snapshot = start(chart);
    snapshot = transition(chart, snapshot, { type: 'put', state: 'verify', by: 'web1' }, T0).snapshot;
    expect(transition(chart, snapshot, { type: 'event', event: 'toString', state: 'verify' }, T0)).toMatchObject({ accepted: false, code: 'event_not_accepted' });
    const failed = transition(chart, snapshot, { type: 'event', event: 'failed', state: 'verify', by: 'web2' }, T0);
    expect(failed.snapshot.state).toBe('rollback');
    expect(failed.recorded.at(-1)).toMatchObject({ cause: 'event:failed', caller: 'web2' });
  });
});

describe('final failures', () => {
  it('skip the remaining retries', () => {
    const step: StateDef = {
      kind: 'step', name: 'check', line: 1, run: 'x', with: {}, onSuccess: 'ok', onFailure: 'no',
      retry: { attempts: 5, delayMs: 10, backoff: 1, maxDelayMs: 10 }, timeoutMs: 1000,
    };
    const chart = chartOf('check', [step, final('ok'), final('no')]);
    const out = transition(chart, start(chart), { type: 'stepDone', state: 'check', attempt: 1, error: 'denied', final: true }, T0);
    expect(out.snapshot.state).toBe('no');
    expect(out.snapshot.failures).toHaveLength(1);
  });
});

describe('retried check-ins', () => {
  it('answer yes without counting when the gate they were counted by has closed since', () => {
    const chart = chartOf('drain', [
      gate('drain', 2, 'upgrade', { distinct: true } as Partial<StateDef>),
      gate('upgrade', 2, 'done', { distinct: true } as Partial<StateDef>), final('done'),
    ]);
    let snapshot = start(chart);
    snapshot = transition(chart, snapshot, { type: 'put', state: 'drain', by: 'web1' }, T0).snapshot;
    const opened = transition(chart, snapshot, { type: 'put', state: 'drain', by: 'web2' }, T0);
    snapshot = opened.snapshot;
    expect(snapshot.state).toBe('upgrade');
    expect(opened.recorded.at(-1)).toMatchObject({ from: 'drain', to: 'upgrade', callers: ['web1', 'web2'] });
    expect(snapshot.closedGates).toEqual({ drain: ['web1', 'web2'] });
    expect(transition(chart, snapshot, { type: 'put', state: 'drain', by: 'web1' }, T0)).toMatchObject({ accepted: true, unchanged: true });
    expect(transition(chart, snapshot, { type: 'put', state: 'drain', by: 'web3' }, T0)).toMatchObject({ accepted: false, code: 'not_current' });
    expect(transition(chart, snapshot, { type: 'put', state: 'drain' }, T0)).toMatchObject({ accepted: false, code: 'not_current' });
  });

  it('forget who a gate counted once it is left without them, or the run starts over', () => {
    const chart = chartOf('drain', [
      gate('drain', 2, 'upgrade', { distinct: true, on: { skip: 'upgrade' } } as Partial<StateDef>),
      gate('upgrade', 1, 'done', { on: { back: 'drain' } } as Partial<StateDef>), final('done'),
    ]);
    let snapshot = start(chart);
    snapshot = transition(chart, snapshot, { type: 'put', state: 'drain', by: 'web1' }, T0).snapshot;
    snapshot = transition(chart, snapshot, { type: 'put', state: 'drain', by: 'web2' }, T0).snapshot;
    snapshot = transition(chart, snapshot, { type: 'event', event: 'back' }, T0).snapshot;
    expect(snapshot.closedGates).toEqual({ drain: ['web1', 'web2'] });
    snapshot = transition(chart, snapshot, { type: 'event', event: 'skip' }, T0).snapshot;
    expect(snapshot).not.toHaveProperty('closedGates');
    expect(transition(chart, snapshot, { type: 'put', state: 'drain', by: 'web1' }, T0)).toMatchObject({ accepted: false, code: 'not_current' });
    snapshot = transition(chart, snapshot, { type: 'event', event: 'back' }, T0).snapshot;
    snapshot = transition(chart, snapshot, { type: 'put', state: 'drain', by: 'web1' }, T0).snapshot;
    snapshot = transition(chart, snapshot, { type: 'put', state: 'drain', by: 'web2' }, T0).snapshot;
    snapshot = transition(chart, snapshot, { type: 'put', state: 'upgrade' }, T0).snapshot;
    expect(snapshot).toMatchObject({ status: 'done', closedGates: { drain: ['web1', 'web2'] } });
    const again = restartSnapshot(chart, snapshot, T0 + 1, { context: {} }).snapshot;
    expect(again).not.toHaveProperty('closedGates');
    expect(again.transitions).toBe(snapshot.transitions + 1);
  });

  it('lists every caller of a distinct gate, however many', () => {
    const chart = chartOf('fleet', [gate('fleet', 1500, 'done', { distinct: true } as Partial<StateDef>), final('done')]);
    let snapshot = start(chart);
    for (let index = 0; index < 1200; index += 1) snapshot = transition(chart, snapshot, { type: 'put', state: 'fleet', by: `n${index}` }, T0).snapshot;
    expect(snapshot.callers).toHaveLength(1200);
    expect(transition(chart, snapshot, { type: 'put', state: 'fleet', by: 'n1100' }, T0)).toMatchObject({ unchanged: true });
  });
});

describe('interrupts', () => {
  // A happy step whose unhappy path is a cleanup step (same state on success and failure).
  const chart = chartOf('dump', [step('dump', 'done', 'remove', 3), step('remove', 'done', 'done'), final('done')]);
  const interrupt = { type: 'interrupt', reason: 'interrupted by SIGINT' } as const;

  it('fail a running happy-path step and take its unhappy path, once, with a failure and an alert', () => {
    const out = transition(chart, start(chart), interrupt, T0 + 5);
    expect(out.snapshot).toMatchObject({ state: 'remove', attempt: 1, interrupted: { reason: 'interrupted by SIGINT', at: new Date(T0 + 5).toISOString() } });
    expect(out.snapshot.failures).toEqual([{ node: 'dump', error: 'interrupted by SIGINT', at: new Date(T0 + 5).toISOString() }]);
    expect(out.recorded.at(-1)).toMatchObject({ from: 'dump', to: 'remove', cause: 'interrupt' });
    expect(out.effects).toEqual([{ type: 'alert', failure: out.snapshot.failures[0] }, { type: 'runStep', state: 'remove', attempt: 1 }]);
    expect(transition(chart, out.snapshot, interrupt, T0 + 6)).toMatchObject({ unchanged: true });
  });

  it('let a cleanup step finish, marking the instance only', () => {
    const inCleanup = transition(chart, start(chart), { type: 'stepDone', state: 'dump', attempt: 1, error: 'x', final: true }, T0).snapshot;
    const out = transition(chart, inCleanup, interrupt, T0 + 1);
    expect(out).toMatchObject({ accepted: true, unchanged: false, effects: [] });
    expect(out.snapshot).toMatchObject({ state: 'remove', attempt: 1, interrupted: { reason: 'interrupted by SIGINT' } });
    expect(transition(chart, out.snapshot, { type: 'stepDone', state: 'remove', attempt: 1 }, T0 + 2).snapshot.status).toBe('done');
  });

  it('end the wait of a retrying step, saying what it was waiting after; the error is gone once it moves on', () => {
    const waiting = transition(chart, start(chart), { type: 'stepDone', state: 'dump', attempt: 1, error: 'connection refused' }, T0).snapshot;
    expect(waiting).toMatchObject({ deadline: { kind: 'retry' }, lastError: 'connection refused' });
    const out = transition(chart, waiting, interrupt, T0 + 10);
    expect(out.snapshot).toMatchObject({ state: 'remove', deadline: null });
    expect(out.snapshot.failures[0]!.error).toBe('interrupted by SIGINT while waiting to retry after attempt 1 failed: connection refused');
    expect(out.snapshot).not.toHaveProperty('lastError');
  });

  it('take a waiting state\'s timeout edge, and leave a timer where it is', () => {
    const waits = chartOf('verify', [
      { kind: 'event', name: 'verify', line: 1, on: { passed: 'done' }, timeout: { afterMs: 60_000, next: 'rollback' } }, final('done'), final('rollback'),
    ]);
    const out = transition(waits, start(waits), interrupt, T0);
    expect(out.snapshot).toMatchObject({ state: 'rollback', status: 'done', failures: [{ node: 'verify', error: 'interrupted by SIGINT while waiting' }] });
    const timer = chartOf('wait', [{ kind: 'timer', name: 'wait', line: 1, afterMs: 60_000, next: 'done' }, final('done')]);
    const held = transition(timer, start(timer), interrupt, T0);
    expect(held.snapshot).toMatchObject({ state: 'wait', deadline: { kind: 'timer' }, failures: [], interrupted: { reason: 'interrupted by SIGINT' } });
  });

  it('change nothing once the instance is done', () => {
    const done = transition(chart, transition(chart, start(chart), interrupt, T0).snapshot, { type: 'stepDone', state: 'remove', attempt: 1 }, T0).snapshot;
    expect(transition(chart, done, interrupt, T0)).toMatchObject({ unchanged: true });
  });
});

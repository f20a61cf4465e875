// What changed between two chart versions: states added, removed and renamed, and each state's driver, targets, gates, timers and steps.
import { describe, expect, it } from 'vitest';
import { diffCharts, strands } from '../../src/chart/diff.js';
import { parseChart } from '../../src/chart/load.js';
import { chartLoadOptions } from '../../src/main.js';

const chart = (source: string) => parseChart(source, 'c.yaml', chartLoadOptions());

const OLD = chart(`chart: release
description: Ship a release.
initial: window
states:
  window: { after: 3s, next: drain }
  drain:
    gate: { count: 3, distinct: true }
    next: build
    on: { failed: rollback }
    timeout: { after: 10m, next: rollback }
  build:
    run: fs.makeDir
    with: { path: /srv/build }
    retry: { attempts: 3, delay: 10s }
    on_success: verify
    on_failure: rollback
  verify:
    on: { passed: done, failed: rollback }
  rollback: { final: true }
  done: { final: true }
`);

describe('diffCharts', () => {
  it('finds nothing between a chart and itself', () => {
    expect(diffCharts(OLD, OLD)).toEqual({ chart: [], states: [] });
  });

  it('lists states added and removed, drivers changed, and each target, gate, timer and step setting', () => {
    const next = chart(`chart: release
description: Ship a release, carefully.
initial: window
states:
  window: { after: 1m, next: drain }
  drain:
    gate: { count: 2 }
    next: build
    on: { failed: rollback, paused: hold }
    timeout: { after: 20m, next: rollback }
  build:
    run: fs.removeDir
    with: { path: /srv/old }
    retry: { attempts: 5, delay: 10s }
    timeout: 10m
    on_success: done
    on_failure: rollback
  hold: { on: { resume: drain } }
  rollback: { final: true }
  done: { final: true }
`);
    const diff = diffCharts(OLD, next);
    expect(diff.chart).toEqual([{ key: 'description', before: 'Ship a release.', after: 'Ship a release, carefully.', behaviour: false }]);
    const byState = Object.fromEntries(diff.states.map((change) => [change.state, change]));
    expect(byState['window']).toEqual({ kind: 'changed', state: 'window', details: [{ key: 'after', before: '3s', after: '1m', behaviour: true }] });
    expect(byState['drain']).toEqual({
      kind: 'changed', state: 'drain', details: [
        { key: 'gate.count', before: '3', after: '2', behaviour: true },
        { key: 'gate.distinct', before: 'true', after: 'false', behaviour: true },
        { key: 'timeout.after', before: '10m', after: '20m', behaviour: true },
        { key: 'on.paused', before: undefined, after: 'hold', behaviour: true },
      ],
    });
    expect(byState['build']).toMatchObject({ kind: 'changed' });
    expect((byState['build'] as { details: readonly { key: string }[] }).details.map((detail) => detail.key)).toEqual(['run', 'with.path', 'on_success', 'retry.attempts', 'timeout']);
    expect(byState['verify']).toEqual({ kind: 'removed', state: 'verify', driver: 'event' });
    expect(byState['hold']).toEqual({ kind: 'added', state: 'hold', driver: 'event' });
    expect(diff.states.filter(strands).map((change) => change.state)).toEqual(['window', 'drain', 'build', 'verify']);
  });

  it('tells a renamed state by its unchanged definition, and targets that only follow the rename change nothing', () => {
    const next = chart(OLD.source.replaceAll('verify', 'check'));
    const diff = diffCharts(OLD, next);
    expect(diff.states).toEqual([
      { kind: 'changed', state: 'build', details: [{ key: 'on_success', before: 'verify', after: 'check', behaviour: false }] },
      { kind: 'renamed', state: 'verify', to: 'check', details: [] },
    ]);
    expect(diff.states.map(strands)).toEqual([false, true]);
  });

  it('says when a state changes its driver', () => {
    const next = chart(OLD.source.replace('verify:\n    on: { passed: done, failed: rollback }', 'verify:\n    gate: { count: 1 }\n    next: done'));
    const verify = diffCharts(OLD, next).states.find((change) => change.state === 'verify');
    expect(verify).toMatchObject({ kind: 'changed', details: expect.arrayContaining([{ key: 'driver', before: 'event', after: 'gate', behaviour: true }]) });
  });

  it('compares StateService charts too, gate counts and targets alike', () => {
    const before = parseChart('current_state: a\nstates:\n  - name: a\n    func: increment\n    current: { key: n, value: 0 }\n    target: { name: b, when: { key: n, value: 1 } }\n  - name: b\n', 'ss.yaml', chartLoadOptions());
    const after = parseChart(before.source.replace('value: 1 }', 'value: 3 }'), 'ss.yaml', chartLoadOptions());
    expect(diffCharts(before, after).states).toEqual([{ kind: 'changed', state: 'a', details: [{ key: 'gate.count', before: '1', after: '3', behaviour: true }] }]);
  });
});

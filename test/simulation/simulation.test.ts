// The simulation keeps the runtime's rules on a simulated clock: timers, timeouts, retries and step timeouts fire when due, not before.
import { describe, expect, it } from 'vitest';
import { parseChart } from '../../src/chart/load.js';
import { chartLoadOptions, handlerRegistry } from '../../src/main.js';
import { Simulation, SimulationError } from '../../src/simulation/simulation.js';

const handlers = handlerRegistry();
const START = Date.parse('2026-12-01T00:00:00Z');

function simulate(source: string, context: Record<string, unknown> = {}, settings?: Record<string, unknown>): Simulation {
  const chart = parseChart(source, 'sim.yaml', chartLoadOptions(handlers));
  return new Simulation(chart, handlers, { id: 'one', context, at: START, ...(settings && { settings }) });
}

const WAITING = `chart: waiting
initial: hold
failure_prefix: "waiting {{instance.id}}"
states:
  hold: { after: 10m, next: gate }
  gate:
    gate: { count: 2, distinct: true }
    next: done
    timeout: { after: 1h, next: late }
  done: { final: true }
  late: { final: true }
`;

const STEPS = `chart: steps
initial: make
settings: { type: object, properties: { root: { type: string, pattern: "^/" } }, required: [root] }
context: { type: object, properties: { name: { type: string, pattern: "^[a-z./]+$" } }, required: [name] }
states:
  make:
    run: fs.makeDir
    with: { path: "{{settings.root}}/{{name}}" }
    retry: { attempts: 3, delay: 10s, backoff: 3 }
    timeout: 2m
    on_success: done
    on_failure: failed
  done: { final: true }
  failed: { final: true }
`;

describe('a simulation', () => {
  it('fires a timer at its deadline, not a millisecond before', () => {
    const simulation = simulate(WAITING);
    simulation.advance(10 * 60_000 - 1);
    expect(simulation.snapshot.state).toBe('hold');
    simulation.advance(1);
    expect(simulation.snapshot.state).toBe('gate');
    expect(simulation.moves.map((move) => [move.to, move.at - START, move.cause])).toEqual([['hold', 0, 'create'], ['gate', 600_000, 'timer']]);
  });

  it('fires deadlines in order within one long advance, each at its own time', () => {
    const simulation = simulate(WAITING);
    simulation.advance(3 * 3_600_000);
    expect(simulation.moves.map((move) => [move.to, move.at - START])).toEqual([['hold', 0], ['gate', 600_000], ['late', 600_000 + 3_600_000]]);
    expect(simulation.snapshot.failures).toEqual([{ node: 'gate', error: 'timed out: nothing moved gate before its deadline', at: '2026-12-01T01:10:00.000Z' }]);
    expect(simulation.alerts).toEqual(['Failure: waiting one gate: timed out: nothing moved gate before its deadline']);
    expect(simulation.now - START).toBe(3 * 3_600_000);
  });

  it('answers PUTs and events as the HTTP routes would', () => {
    const simulation = simulate(WAITING);
    expect(simulation.put('gate', 'web1')).toEqual({ status: 406, reason: 'gate is not the current state' });
    expect(simulation.put('hold')).toMatchObject({ status: 406, reason: expect.stringContaining('driven by a timer') });
    simulation.advance(600_000);
    expect(simulation.put('gate')).toMatchObject({ status: 400, reason: expect.stringContaining('counts each caller once') });
    expect(simulation.put('gate', 'web1')).toEqual({ status: 200 });
    expect(simulation.put('gate', 'web1')).toEqual({ status: 200 });
    expect(simulation.snapshot).toMatchObject({ counter: 1, callers: ['web1'] });
    expect(simulation.event('go')).toMatchObject({ status: 406, reason: expect.stringContaining('does not accept event go') });
    expect(simulation.put('gate', 'web2')).toEqual({ status: 200 });
    expect(simulation.snapshot).toMatchObject({ state: 'done', status: 'done' });
  });

  it('fires a deadline already past at once, as the runtime does', () => {
    const simulation = simulate('chart: late\ninitial: at\nstates:\n  at: { at: "2026-11-30T00:00:00Z", next: done }\n  done: { final: true }\n');
    expect(simulation.snapshot.state).toBe('done');
    expect(simulation.moves.map((move) => move.cause)).toEqual(['create', 'timer']);
  });

  it('resolves a step\'s arguments as the runtime would, and retries it after its growing delays', () => {
    const simulation = simulate(STEPS, { name: 'a' }, { root: '/srv' });
    expect(simulation.running).toEqual({ state: 'make', attempt: 1, run: 'fs.makeDir', args: { path: '/srv/a' }, startedAt: START });
    simulation.finishStep('make', { error: 'disk full' });
    expect(simulation.running).toBeUndefined();
    expect(simulation.retryAt! - START).toBe(10_000);
    simulation.finishStep('make', { error: 'disk full' });
    expect(simulation.now - START).toBe(10_000);
    expect(simulation.retryAt! - START).toBe(10_000 + 30_000);
    simulation.finishStep('make', { error: 'disk full' });
    expect(simulation.snapshot).toMatchObject({ state: 'failed', failures: [{ node: 'make', error: 'disk full' }] });
    expect(simulation.now - START).toBe(40_000);
  });

  it('times out a step whose handler never finishes, each attempt after its own timeout', () => {
    const simulation = simulate(STEPS, { name: 'a' }, { root: '/srv' });
    simulation.advance(2 * 60_000 - 1);
    expect(simulation.running?.attempt).toBe(1);
    simulation.advance(1);
    expect(simulation.running).toBeUndefined();
    simulation.advance(10_000 + 2 * 60_000 + 30_000 + 2 * 60_000);
    expect(simulation.snapshot.state).toBe('failed');
    expect(simulation.snapshot.failures).toEqual([{ node: 'make', error: 'timed out after 120000 ms', at: '2026-12-01T00:06:40.000Z' }]);
  });

  it('fails an attempt whose path would leave its root before the handler runs, without retries', () => {
    const simulation = simulate(STEPS, { name: '../etc' }, { root: '/srv' });
    expect(simulation.snapshot.state).toBe('failed');
    expect(simulation.snapshot.failures[0]?.error).toContain('path resolves to /etc, outside its root /srv');
  });

  it('refuses to finish a step that is not running, saying where the instance is', () => {
    const simulation = simulate(WAITING);
    expect(() => simulation.finishStep('hold')).toThrow(new SimulationError(`step hold is not running: the instance is in hold (a timer firing at 2026-12-01T00:10:00.000Z)`));
  });
});

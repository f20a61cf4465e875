// The supervisor on a simulated clock: starts, failures noticed, starts again with a growing wait, recovery, switches.
import { describe, expect, it } from 'vitest';
import type { Service } from '../../src/services/service.js';
import { readiness } from '../../src/services/service.js';
import { DEFAULT_SERVICES, type ServicesConfig } from '../../src/services/servicesConfig.js';
import { Supervisor } from '../../src/services/supervisor.js';
import { SimulatedClock } from '../support/clock.js';
import { capturingLogger } from '../support/server.js';

/** A service whose start fails while `refuse` is set, and which reports `broken` as its failure while running. */
class Loop implements Service {
  refuse: string | undefined;
  broken: string | undefined;
  readonly calls: string[] = [];

  constructor(readonly name: string) {}

  async start(): Promise<void> {
    this.calls.push('start');
    if (this.refuse !== undefined) throw new Error(this.refuse);
  }

  async stop(): Promise<void> {
    this.calls.push('stop');
  }

  failure(): string | undefined {
    return this.broken;
  }
}

const CONFIG: ServicesConfig = { intervalMs: 10_000, maxIntervalMs: 35_000, choices: {} };

function supervise(services: Service[], config: Partial<ServicesConfig> = {}) {
  const clock = new SimulatedClock();
  const { log, lines } = capturingLogger('info');
  const supervisor = new Supervisor({ config: { ...CONFIG, ...config }, clock, log });
  for (const service of services) supervisor.add(service);
  const status = (name: string) => supervisor.statuses().find((each) => each.name === name)!;
  return { clock, lines, supervisor, status };
}

describe('the supervisor', () => {
  it('starts each enabled service: not_started, starting, then running', async () => {
    const loop = new Loop('alerts');
    const { clock, supervisor, status } = supervise([loop]);
    expect(status('alerts')).toMatchObject({ state: 'not_started', enabled: true, keepAlive: true, restarts: 0 });
    supervisor.start();
    expect(status('alerts').state).toBe('starting');
    await clock.advance(0);
    expect(status('alerts')).toEqual({ name: 'alerts', state: 'running', since: new Date(clock.now()).toISOString(), enabled: true, keepAlive: true, restarts: 0 });
    expect(readiness(supervisor.statuses()).ready).toBe(true);
    await supervisor.stop();
  });

  it('starts a service whose start failed again after the interval, doubling the wait up to the longest, until it starts', async () => {
    const loop = new Loop('job-service');
    loop.refuse = 'ECONNREFUSED';
    const { clock, supervisor, status, lines } = supervise([loop]);
    const started = clock.now();
    supervisor.start();
    await clock.advance(0);
    expect(status('job-service')).toMatchObject({
      state: 'failed', since: new Date(started).toISOString(), lastError: { message: 'ECONNREFUSED', at: new Date(started).toISOString() },
      restarts: 0, nextStart: new Date(started + 10_000).toISOString(),
    });
    expect(readiness(supervisor.statuses())).toMatchObject({ ready: false, notRunning: [expect.objectContaining({ name: 'job-service', state: 'failed' })] });
    expect(lines.find((line) => line.service === 'job-service')).toMatchObject({ msg: 'service job-service failed; it is started again in 10000 ms', err: 'ECONNREFUSED' });

    // Waits of 10 s, 20 s, then 35 s (the longest) and 35 s: each start is a stop and a start.
    const starts: number[] = [];
    for (const wait of [10_000, 20_000, 35_000, 35_000]) {
      await clock.advance(wait - 1);
      expect(status('job-service').restarts).toBe(starts.length);
      await clock.advance(1);
      starts.push(clock.now() - started);
      expect(status('job-service')).toMatchObject({ state: 'failed', restarts: starts.length });
    }
    expect(starts).toEqual([10_000, 30_000, 65_000, 100_000]);
    expect(loop.calls).toEqual(['start', ...starts.flatMap(() => ['stop', 'start'])]);

    loop.refuse = undefined;
    await clock.advance(35_000);
    expect(status('job-service')).toMatchObject({ state: 'running', restarts: 5, lastError: { message: 'ECONNREFUSED' } });
    expect(status('job-service').nextStart).toBeUndefined();
    expect(lines.some((line) => line.msg === 'service job-service started again')).toBe(true);
    await supervisor.stop();
  });

  it('notices a failure a running service reports, starts it again, and forgives it once it has run a whole interval', async () => {
    const loop = new Loop('alerts');
    const { clock, supervisor, status } = supervise([loop]);
    supervisor.start();
    await clock.advance(0);
    loop.broken = 'the webhook answered 503 three times';
    // Noticed by the supervisor's own look every interval, without anyone asking.
    await clock.advance(10_000);
    loop.broken = undefined;
    expect(status('alerts')).toMatchObject({ state: 'running', restarts: 0, lastError: { message: 'the webhook answered 503 three times' } });

    // Failing again soon after, it waits twice as long before it is started again.
    loop.broken = 'still down';
    expect(status('alerts')).toMatchObject({ state: 'failed', lastError: { message: 'still down' }, nextStart: new Date(clock.now() + 20_000).toISOString() });
    await clock.advance(20_000);
    expect(status('alerts')).toMatchObject({ state: 'failed', restarts: 1 });
    expect(loop.calls.slice(-2)).toEqual(['stop', 'start']);
    await clock.advance(35_000);
    expect(status('alerts').restarts).toBe(2);
    loop.broken = undefined;
    await clock.advance(10_000);
    expect(status('alerts').state).toBe('running');
    // Running for a whole interval wipes the slate: the next failure waits the first interval again.
    await clock.advance(10_000);
    loop.broken = 'down again';
    const failedAt = clock.now();
    expect(status('alerts')).toMatchObject({ state: 'failed', nextStart: new Date(failedAt + 10_000).toISOString() });
    await supervisor.stop();
  });

  it('leaves a service that is not kept alive failed, and does not start one that is switched off', async () => {
    const kept = new Loop('job-service');
    kept.refuse = 'unreachable';
    const off = new Loop('alerts');
    const { clock, supervisor, status, lines } = supervise([kept, off], {
      choices: { 'job-service': { enabled: true, keepAlive: false }, alerts: { enabled: false, keepAlive: true } },
    });
    supervisor.start();
    await clock.advance(60 * 60_000);
    expect(status('job-service')).toMatchObject({ state: 'failed', restarts: 0, keepAlive: false });
    expect(kept.calls).toEqual(['start']);
    expect(status('alerts')).toMatchObject({ state: 'not_started', enabled: false });
    expect(off.calls).toEqual([]);
    expect(readiness(supervisor.statuses()).notRunning.map((each) => each.name)).toEqual(['job-service']);
    expect(lines.map((line) => line.msg)).toContain('service alerts is switched off (services: in --values); it is not started');
    await supervisor.stop();
  });

  it('starts a service added after start at once, and plans no start once stopped', async () => {
    const early = new Loop('steps');
    early.refuse = 'no';
    const { clock, supervisor, status } = supervise([early]);
    supervisor.start();
    supervisor.add(new Loop('zone-outbox'));
    await clock.advance(0);
    expect(status('zone-outbox').state).toBe('running');
    expect(() => supervisor.add(new Loop('steps'))).toThrow(/two services are named steps/);
    await supervisor.stop();
    await clock.advance(60 * 60_000);
    expect(early.calls).toEqual(['start']);
    expect(clock.timers).toBe(0);
  });

  it('runs with no configuration: looks every 10 s and waits at most 5 min between starts', () => {
    expect(DEFAULT_SERVICES).toEqual({ intervalMs: 10_000, maxIntervalMs: 300_000, choices: {} });
  });
});

// Long-polls in the runtime: a wait runs out on the Clock, to the millisecond, and a change ends it sooner.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Snapshot } from '../../src/engine/snapshot.js';
import { startEngine, type Engine } from '../../src/main.js';
import { SimulatedClock } from '../support/clock.js';
import { capturingLogger, gateChart, removeDir, tempDir, writeCharts } from '../support/server.js';

let chartDir: string;
let dataDir: string;
let clock: SimulatedClock;
let engine: Engine;

beforeEach(async () => {
  [chartDir, dataDir] = await Promise.all([tempDir('chartd-charts-'), tempDir('chartd-data-')]);
  await writeCharts(chartDir, { 'gates.yaml': gateChart(2) });
  clock = new SimulatedClock();
  engine = await startEngine({ chartPaths: [chartDir], dataDir, log: capturingLogger().log, clock });
});

afterEach(async () => {
  await engine.close();
  await Promise.all([removeDir(chartDir), removeDir(dataDir)]);
});

/** A wait's answer, and whether it has come yet. */
function watched(waiting: Promise<Snapshot | undefined>): { answered: () => boolean; answer: Promise<Snapshot | undefined> } {
  let answered = false;
  const answer = waiting.then((snapshot) => {
    answered = true;
    return snapshot;
  });
  return { answered: () => answered, answer };
}

describe('a long-poll', () => {
  it('runs out when its time on the clock is up, not before, and leaves no waiter or timer behind', async () => {
    const { runtime } = engine;
    await runtime.create('gates', 'a', {});
    const timers = clock.timers;
    const wait = watched(runtime.waitFor('gates', 'a', (snapshot) => snapshot.state === 'open', 10_000));
    await clock.advance(9_999);
    expect(wait.answered()).toBe(false);
    expect(runtime.waiters.count).toBe(1);
    await clock.advance(1);
    expect(wait.answered()).toBe(true);
    expect(await wait.answer).toBeUndefined();
    expect(runtime.waiters.count).toBe(0);
    expect(clock.timers).toBe(timers);
  });

  it('ends with the snapshot that satisfies it as soon as it is committed, and its timer goes with it', async () => {
    const { runtime } = engine;
    await runtime.create('gates', 'b', {});
    const timers = clock.timers;
    const wait = watched(runtime.waitFor('gates', 'b', (snapshot) => snapshot.counter === 1, 10_000));
    expect(clock.timers).toBe(timers + 1);
    await clock.advance(5_000);
    expect(wait.answered()).toBe(false);
    await runtime.apply('gates', 'b', { type: 'put', state: 'wait', by: 'web1' });
    expect(await wait.answer).toMatchObject({ state: 'wait', counter: 1 });
    expect(runtime.waiters.count).toBe(0);
    expect(clock.timers).toBe(timers);
  });
});

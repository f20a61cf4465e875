// A data directory written before effects were stored: start-up derives the steps and deadlines its active instances wait on, once.
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { startEngine, type Engine } from '../../src/main.js';
import { EFFECTS, type EffectRecord } from '../../src/runtime/effectRecords.js';
import { readAll } from '../../src/store/readAll.js';
import { SimulatedClock } from '../support/clock.js';
import { capturingLogger, removeDir, tempDir, type LogLine } from '../support/server.js';
import { until } from '../support/wait.js';

// Written by chartd before effects were stored (its charts/ and store/), at 2026-01-05T08:00Z: waits/default and
// waits/later wait an hour in a timer state, works/w1 was in its step (fs.removeFile of a file that is not there) when it stopped.
const FIXTURE = new URL('../fixtures/store-before-effects/', import.meta.url).pathname;
const WRITTEN_AT = Date.UTC(2026, 0, 5, 8, 0, 0);
const HOUR = 60 * 60 * 1000;

let dataDir: string;
let engine: Engine | undefined;
let lines: LogLine[];

beforeEach(async () => {
  dataDir = await tempDir('chartd-data-');
  await cp(join(FIXTURE, 'store'), dataDir, { recursive: true });
});

afterEach(async () => {
  await engine?.close();
  engine = undefined;
  await removeDir(dataDir);
});

async function start(clock: SimulatedClock): Promise<Engine> {
  await engine?.close();
  const captured = capturingLogger('info');
  lines = captured.lines;
  engine = await startEngine({ chartPaths: [join(FIXTURE, 'charts')], dataDir, log: captured.log, clock });
  return engine;
}

it('derives the effects of active instances from their snapshots once, then carries them out', async () => {
  const clock = new SimulatedClock(WRITTEN_AT + HOUR / 2);
  const { runtime, store } = await start(clock);
  expect(lines.filter((line) => line.msg.startsWith('derived the steps and deadlines')).map((line) => line.effects)).toEqual([3]);
  const stored = await readAll<EffectRecord>(store, EFFECTS);
  expect(stored.filter((record) => record.effect.type === 'armTimer').map((record) => [record.instance, record.due]))
    .toEqual([['waits/default', WRITTEN_AT + HOUR], ['waits/later', WRITTEN_AT + HOUR]]);
  // The step it was running when it stopped runs again.
  await until(async () => (await runtime.snapshot('works', 'w1')).state === 'finished', 'the interrupted step to run again');
  await clock.advance(HOUR / 2 - 1, () => runtime.whenIdle());
  expect((await runtime.snapshot('waits', 'later')).state).toBe('wait');
  await clock.advance(1, () => runtime.whenIdle());
  expect((await runtime.snapshot('waits', 'later')).state).toBe('expired');
  expect(await store.count(EFFECTS)).toBe(0);

  // Once: a restart derives nothing again, and an instance created since keeps its deadline in the store alone.
  await runtime.create('waits', 'fresh', {});
  await runtime.whenIdle();
  const restarted = await start(clock);
  expect(lines.some((line) => line.msg.startsWith('derived the steps and deadlines'))).toBe(false);
  expect((await readAll<EffectRecord>(restarted.store, EFFECTS)).map((record) => record.instance)).toEqual(['waits/fresh']);
  await clock.advance(HOUR, () => restarted.runtime.whenIdle());
  expect((await restarted.runtime.snapshot('waits', 'fresh')).state).toBe('expired');
});

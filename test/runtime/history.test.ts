// Histories kept apart from snapshots: the newest HISTORY_LIMIT per instance, removed with it, and moved out of snapshots stored with them inside.
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HISTORY_LIMIT, type Snapshot, type Transition } from '../../src/engine/snapshot.js';
import { startEngine, type Engine } from '../../src/main.js';
import { HISTORY, historyKey } from '../../src/runtime/history.js';
import { INSTANCES } from '../../src/runtime/runtime.js';
import { readAll } from '../../src/store/readAll.js';
import { SimulatedClock } from '../support/clock.js';
import { capturingLogger, removeDir, tempDir, type LogLine } from '../support/server.js';

// Written by chartd before histories were kept apart (its charts/ and store/): instances long (63 revisions, 50
// transitions kept), fresh (drain closed by web1 and web2, then one tick), again (stopped, restarted, one check-in) and default.
const FIXTURE = new URL('../fixtures/inlined-history/', import.meta.url).pathname;
const CHART_DIR = join(FIXTURE, 'charts');

let dataDir: string;
let lines: LogLine[];
let engine: Engine | undefined;

beforeEach(async () => {
  dataDir = await tempDir('chartd-data-');
});

afterEach(async () => {
  await engine?.close();
  engine = undefined;
  await removeDir(dataDir);
});

async function start(): Promise<Engine> {
  await engine?.close();
  const captured = capturingLogger('info');
  lines = captured.lines;
  engine = await startEngine({ chartPaths: [CHART_DIR], dataDir, log: captured.log, clock: new SimulatedClock() });
  return engine;
}

const tick = (runtime: Engine['runtime'], id: string) => runtime.apply('legacy', id, { type: 'event', event: 'tick' });
const put = (runtime: Engine['runtime'], id: string, by: string) => runtime.apply('legacy', id, { type: 'put', state: 'drain', by });
const causes = (history: readonly Transition[]) => history.map((entry) => entry.cause);

describe('history', () => {
  it('keeps the newest transitions apart from the snapshot, which stays the same size however many there were', async () => {
    const { runtime, store } = await start();
    await runtime.create('legacy', 'x', {});
    await put(runtime, 'x', 'web1');
    await put(runtime, 'x', 'web2');
    await tick(runtime, 'x');
    const early = JSON.stringify((await store.get(INSTANCES, 'legacy/x'))?.value);
    for (let count = 0; count < HISTORY_LIMIT + 10; count += 1) await tick(runtime, 'x');
    const snapshot = await runtime.snapshot('legacy', 'x');
    expect(snapshot).not.toHaveProperty('history');
    expect(snapshot.transitions).toBe(HISTORY_LIMIT + 13);
    // Only its counts grew a digit or two.
    expect(JSON.stringify((await store.get(INSTANCES, 'legacy/x'))?.value).length).toBeLessThanOrEqual(early.length + 4);
    expect(await store.count(HISTORY, 'legacy/x/')).toBe(HISTORY_LIMIT);
    const history = await runtime.history(snapshot);
    expect(history.map((entry) => entry.revision)).toEqual(Array.from({ length: HISTORY_LIMIT }, (_, index) => snapshot.revision - HISTORY_LIMIT + 1 + index));
    expect((await store.get(HISTORY, historyKey('legacy/x', snapshot.transitions)))?.value).toEqual(history.at(-1));
    expect((await store.get(HISTORY, historyKey('legacy/x', snapshot.transitions - HISTORY_LIMIT)))?.value).toBeUndefined();
    // What an older snapshot is shown: its own transitions, none made since.
    const older = await runtime.history({ ...snapshot, revision: snapshot.revision - 2, transitions: snapshot.transitions - 2 });
    expect(older.map((entry) => entry.revision)).toEqual(history.slice(0, -2).map((entry) => entry.revision));
  });

  it('goes with its instance, and a restart records into it', async () => {
    const { runtime, store } = await start();
    await runtime.create('legacy', 'x', {});
    await put(runtime, 'x', 'web1');
    await put(runtime, 'x', 'web2');
    await runtime.apply('legacy', 'x', { type: 'event', event: 'stop' });
    const again = await runtime.restart('legacy', 'x', { reason: 'once more', by: 'alice' });
    expect(causes(await runtime.history(again))).toEqual(['create', 'put', 'event:stop', 'restart']);
    expect((await runtime.history(again)).at(-1)).toMatchObject({ from: 'done', to: 'drain', caller: 'alice', reason: 'once more' });
    // A check-in counted before the restart belongs to the run that is over: web1 counts again.
    expect(await put(runtime, 'x', 'web1')).toMatchObject({ accepted: true, unchanged: false });
    await put(runtime, 'x', 'web2');
    await runtime.apply('legacy', 'x', { type: 'event', event: 'stop' });
    await runtime.remove('legacy', 'x');
    expect(await store.count(HISTORY, 'legacy/x/')).toBe(0);
    const { snapshot } = await runtime.create('legacy', 'x', {});
    expect(causes(await runtime.history(snapshot))).toEqual(['create']);
    expect(await store.count(HISTORY, 'legacy/x/')).toBe(1);
  });
});

describe('a data directory written with histories inside snapshots', () => {
  it('has them moved out once at start-up, the engine deciding as before', async () => {
    await cp(join(FIXTURE, 'store'), dataDir, { recursive: true });
    const { runtime, store } = await start();
    expect(lines.filter((line) => line.msg.startsWith('moved the history'))).toMatchObject([{ instances: 4 }]);
    expect((await readAll<Snapshot>(store, INSTANCES)).filter((snapshot) => 'history' in snapshot)).toEqual([]);
    const long = await runtime.snapshot('legacy', 'long');
    expect(long).toMatchObject({ revision: 63, transitions: HISTORY_LIMIT });
    expect((await runtime.history(long)).map((entry) => entry.revision)).toEqual(Array.from({ length: HISTORY_LIMIT }, (_, index) => 14 + index));
    expect(causes(await runtime.history(await runtime.snapshot('legacy', 'again')))).toEqual(['create', 'put', 'event:stop', 'restart']);
    // fresh's drain closed with web1 and web2: a retried check-in of theirs is answered without counting, another is refused.
    expect((await runtime.snapshot('legacy', 'fresh')).closedGates).toEqual({ drain: ['web1', 'web2'] });
    expect(await put(runtime, 'fresh', 'web1')).toMatchObject({ accepted: true, unchanged: true });
    expect(await put(runtime, 'fresh', 'web3')).toMatchObject({ accepted: false, code: 'not_current' });
    // New transitions go on from the moved ones, and the oldest go.
    await tick(runtime, 'long');
    const history = await runtime.history(await runtime.snapshot('legacy', 'long'));
    expect(history).toHaveLength(HISTORY_LIMIT);
    expect([history[0]!.revision, history.at(-1)!.revision]).toEqual([15, 64]);

    // Nothing is left to move at the next start.
    const moved = await readAll(store, HISTORY);
    await start();
    expect(lines.filter((line) => line.msg.startsWith('moved the history'))).toEqual([]);
    expect(await readAll(engine!.store, HISTORY)).toEqual(moved);
  });

  it('moves the instances a start-up left unmoved, and only those', async () => {
    await cp(join(FIXTURE, 'store'), dataDir, { recursive: true });
    const { runtime, store } = await start();
    const snapshot = await runtime.snapshot('legacy', 'again');
    const history = await runtime.history(snapshot);
    const moved = { instances: await readAll(store, INSTANCES), history: await readAll(store, HISTORY) };
    // As a start-up stopped before this instance's commit would have left it.
    const { transitions: _transitions, closedGates: _closedGates, ...inlined } = snapshot;
    await store.commit([
      { collection: INSTANCES, key: 'legacy/again', value: { ...inlined, history } },
      ...history.map((_, index) => ({ collection: HISTORY, key: historyKey('legacy/again', index + 1), value: null })),
    ]);
    await start();
    expect(lines.filter((line) => line.msg.startsWith('moved the history'))).toMatchObject([{ instances: 1 }]);
    expect({ instances: await readAll(engine!.store, INSTANCES), history: await readAll(engine!.store, HISTORY) }).toEqual(moved);
  });
});

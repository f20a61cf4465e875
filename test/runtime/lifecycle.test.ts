// An instance's life cycle in the runtime: cancel (a real step stopped, its cleanup run), restart, remove, retention, unserved charts.
import { readAll } from '../../src/store/readAll.js';
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Conflict } from '../../src/errors.js';
import { startEngine, type Engine, type RuntimeConfig } from '../../src/main.js';
import { ALERTS } from '../../src/runtime/alertRecords.js';
import { INSTANCES } from '../../src/runtime/runtime.js';
import { SimulatedClock } from '../support/clock.js';
import { holdWrites, releaseHeldWrites } from '../support/journalWrites.js';
import { capturingLogger, gateChart, removeDir, tempDir, writeCharts, type LogLine } from '../support/server.js';
import { until } from '../support/wait.js';

// pack archives a directory with tar; the test holds it by putting a FIFO where tar writes. clean always goes on to failed.
const ARCHIVE = `chart: archive
initial: pack
settings:
  type: object
  properties: { root: { type: string } }
  required: [root]
states:
  pack:
    run: tar.create
    with: { directory: "{{settings.root}}/in", file: "{{settings.root}}/out.tar.gz" }
    on_success: done
    on_failure: clean
  clean:
    run: fs.removeFile
    with: { path: "{{settings.root}}/out.tar.gz" }
    on_success: failed
    on_failure: failed
  done: { final: true }
  failed: { final: true }
`;

const HOUR = 60 * 60 * 1000;

let chartDir: string;
let dataDir: string;
let root: string;
let clock: SimulatedClock;
let lines: LogLine[];
let engine: Engine | undefined;

beforeEach(async () => {
  [chartDir, dataDir, root] = await Promise.all([tempDir('chartd-charts-'), tempDir('chartd-data-'), tempDir('chartd-root-')]);
  await writeCharts(chartDir, { 'archive.yaml': ARCHIVE, 'gates.yaml': gateChart(2) });
  await writeFile(join(root, 'values.yaml'), `charts: { archive: { root: ${root} } }\n`);
  await mkdir(join(root, 'in'));
  clock = new SimulatedClock();
});

afterEach(async () => {
  releaseHeldWrites();
  await engine?.close();
  engine = undefined;
  await Promise.all([removeDir(chartDir), removeDir(dataDir), removeDir(root)]);
});

async function start(extra: Partial<RuntimeConfig> = {}): Promise<Engine> {
  const captured = capturingLogger();
  lines = captured.lines;
  engine = await startEngine({ chartPaths: [chartDir], dataDir, log: captured.log, clock, valuesFile: join(root, 'values.yaml'), ...extra });
  return engine;
}

describe('cancel', () => {
  it('stops a running step, runs the cleanup its unhappy path leads to, then ends cancelled: no failure, no alert', async () => {
    await promisify(execFile)('mkfifo', [join(root, '.out.tar.gz.partial')]);
    const { runtime, store } = await start();
    await runtime.create('archive', 'nightly', {});
    const asked = await runtime.cancel('archive', 'nightly', { reason: 'release pulled', by: 'alice', token: 'ops' });
    expect(asked).toMatchObject({ state: 'clean', status: 'active', cancelled: { reason: 'release pulled', by: 'alice', token: 'ops' } });
    // clean starts only once tar (blocked on the FIFO) is gone: the instance ending proves the step was stopped.
    await until(async () => (await runtime.snapshot('archive', 'nightly')).status !== 'active', 'the cleanup', 10_000);
    const ended = (await runtime.snapshot('archive', 'nightly'));
    expect(ended).toMatchObject({ state: 'failed', status: 'cancelled', failures: [] });
    expect((await runtime.history(ended)).map(({ from, to, cause, status }) => [from, to, cause, status ?? null])).toEqual([
      [null, 'pack', 'create', null], ['pack', 'clean', 'cancel', null], ['clean', 'failed', 'success', 'cancelled'],
    ]);
    expect(await store.count(ALERTS)).toBe(0);
    expect(runtime.tally.counts('archive')).toMatchObject({ active: 0, cancelled: 1 });
    await expect(runtime.cancel('archive', 'nightly', { reason: 'again' })).rejects.toThrow(/already cancelled in failed; nothing to cancel/);
  });

  it('ends a waiting instance at once; check-ins are refused, and a restart starts it over as a new run', async () => {
    const { runtime } = await start();
    await runtime.apply('gates', 'default', { type: 'put', state: 'wait' });
    const ended = await runtime.cancel('gates', 'default', { reason: 'wrong release' });
    expect(ended).toMatchObject({ state: 'wait', status: 'cancelled', counter: 0 });
    expect(await runtime.apply('gates', 'default', { type: 'put', state: 'wait' })).toMatchObject({ accepted: false, code: 'finished' });
    await clock.advance(HOUR);
    const again = await runtime.restart('gates', 'default', { reason: 'go', token: 'ops' });
    expect(again).toMatchObject({ state: 'wait', status: 'active', counter: 0, revision: ended.revision + 1, createdAt: new Date(clock.now()).toISOString() });
    expect((await runtime.history(again)).at(-1)).toMatchObject({ from: 'wait', to: 'wait', cause: 'restart', reason: 'go', token: 'ops' });
    expect(again).not.toHaveProperty('cancelled');
    await expect(runtime.restart('gates', 'default')).rejects.toThrow(Conflict);
  });
});

describe('remove', () => {
  it('is refused while the instance is active, and forgets a finished one: store, counts and quota', async () => {
    const { runtime, store } = await start({ maxInstances: 2 });
    await runtime.create('gates', 'a', {});
    await expect(runtime.create('gates', 'b', {})).rejects.toThrow(/most this server allows/);
    await expect(runtime.remove('gates', 'a')).rejects.toMatchObject({ status: 409, code: 'instance_active' });
    await runtime.cancel('gates', 'a', { reason: 'done with it' });
    const removed: string[] = [];
    runtime.onRemove((snapshot) => removed.push(snapshot.id));
    expect(await runtime.remove('gates', 'a')).toMatchObject({ id: 'a', status: 'cancelled' });
    expect(removed).toEqual(['a']);
    expect(await store.get(INSTANCES, 'gates/a')).toBeUndefined();
    expect(runtime.tally.counts('gates')).toMatchObject({ total: 1, cancelled: 0 });
    await expect(runtime.remove('gates', 'a')).rejects.toThrow(/has no instance a/);
    // Its place is free again.
    await runtime.create('gates', 'b', {});
  });
});

describe('removeStoredTogether', () => {
  it('removes finished instances in one commit, leaving out active and missing ones; until it lands, requests build on the removal', async () => {
    const { runtime, store } = await start();
    for (const id of ['a', 'b', 'c']) {
      await runtime.create('gates', id, {});
      await runtime.cancel('gates', id, { reason: 'x' });
    }
    const held = holdWrites('"gates/a",null');
    const removal = runtime.removeStoredTogether(['gates/a', 'gates/b', 'gates/default', 'gates/nope']);
    await until(() => held.length === 1, "the removal's write");
    expect(held[0]!.text).toContain('"gates/b",null');
    expect(held[0]!.text.trimEnd().split('\n')).toHaveLength(1);
    // Still stored, a is already gone for what comes next: nothing to start over, and its id is free for a new instance.
    await expect(runtime.restart('gates', 'a')).rejects.toThrow(/gates\/a does not exist/);
    const created = runtime.create('gates', 'a', {});
    held[0]!.release();
    expect(await removal).toMatchObject({ removed: [{ id: 'a', status: 'cancelled' }, { id: 'b', status: 'cancelled' }], busy: [] });
    expect(await created).toMatchObject({ created: true, snapshot: { id: 'a', status: 'active' } });
    await runtime.whenIdle();
    expect((await store.get(INSTANCES, 'gates/a'))?.value).toMatchObject({ status: 'active', revision: 1 });
    expect(await store.get(INSTANCES, 'gates/b')).toBeUndefined();
    expect(runtime.tally.counts('gates')).toMatchObject({ total: 3, active: 2, cancelled: 1 });
  });
});

describe('--retain-finished', () => {
  it('removes finished instances once finished that long, on the clock, and leaves active ones; stored ones too after a restart', async () => {
    const { runtime, store } = await start({ retainFinishedMs: HOUR });
    for (const id of ['early', 'late', 'running', 'restarted']) await runtime.create('gates', id, {});
    await runtime.cancel('gates', 'early', { reason: 'x' });
    await runtime.cancel('gates', 'restarted', { reason: 'x' });
    await clock.advance(30 * 60 * 1000);
    await runtime.cancel('gates', 'late', { reason: 'x' });
    await runtime.restart('gates', 'restarted');
    await clock.advance(31 * 60 * 1000, () => runtime.whenIdle());
    await until(() => lines.some((line) => line.msg === 'removed 1 instance finished longer than --retain-finished ago'), 'the first sweep');
    expect((await readAll<{ id: string }>(store, INSTANCES, 'gates/')).map((snapshot) => snapshot.id).sort()).toEqual(['default', 'late', 'restarted', 'running']);

    // Stopped and started again, it finds what is stored and keeps the times.
    await engine!.close();
    const again = await start({ retainFinishedMs: HOUR });
    await clock.advance(28 * 60 * 1000, () => again.runtime.whenIdle());
    expect(await again.store.get(INSTANCES, 'gates/late')).toBeDefined();
    await clock.advance(2 * 60 * 1000, () => again.runtime.whenIdle());
    await until(async () => (await again.store.get(INSTANCES, 'gates/late')) === undefined, 'the sweep after the restart');
    expect((await readAll<{ id: string }>(again.store, INSTANCES, 'gates/')).map((snapshot) => snapshot.id).sort()).toEqual(['default', 'restarted', 'running']);
  });

  it('removes hundreds that finished at once a batch at a time, no faster than its rate', async () => {
    const { runtime, store } = await start({ retainFinishedMs: HOUR, retainFinishedRate: 200 });
    const ids = Array.from({ length: 500 }, (_, index) => `i${index}`);
    await Promise.all(ids.map((id) => runtime.create('gates', id, {})));
    await Promise.all(ids.map((id) => runtime.cancel('gates', id, { reason: 'batch' })));
    await clock.advance(HOUR, () => runtime.whenIdle());
    // Second by second on the clock until all are gone: each second removes as many as the rate allows.
    const left = [await store.count(INSTANCES, 'gates/')];
    // Between timers: the sweep hands its batch in, it lands, and the sweep sets its next timer.
    const turn = () => new Promise((resolve) => setImmediate(resolve));
    const settled = async () => {
      await turn();
      await runtime.whenIdle();
      await turn();
    };
    await until(async () => {
      await clock.advance(1000, settled);
      left.push(await store.count(INSTANCES, 'gates/'));
      return left.at(-1) === 1;
    }, 'every finished instance removed', 20_000, 0);
    const perSecond = left.slice(1).map((count, second) => left[second]! - count);
    // A batch of 16 every 80 ms: 12 or 13 batches a second, 200 a second over two.
    expect(perSecond).toEqual([192, 208, 84]);
    expect(runtime.tally.counts('gates')).toMatchObject({ total: 1, active: 1 });
  });

});

describe('start-up', () => {
  it('names the charts whose stored instances it does not serve, with counts, in one warning, and leaves them as they are', async () => {
    const first = await start();
    await first.runtime.create('gates', 'one', {});
    await first.runtime.cancel('gates', 'one', { reason: 'x' });
    await engine!.close();
    await removeDir(join(chartDir, 'gates.yaml'));
    const again = await start();
    const warnings = lines.filter((line) => line.msg.startsWith('the data directory holds instances of charts not served'));
    expect(warnings.map((line) => line.msg)).toEqual([
      'the data directory holds instances of charts not served, left as they are: gates (1 active, 1 finished); serve those charts (--chart) to resume them',
    ]);
    expect(await again.store.count(INSTANCES, 'gates/')).toBe(2);
  });
});

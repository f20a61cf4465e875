// chartd's own services fail for real reasons and work again: checkpoints refused, deadlines and step outcomes the store refuses.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startEngine, type Engine, type RuntimeConfig } from '../../src/main.js';
import { INSTANCES } from '../../src/runtime/runtime.js';
import { checkpointerService } from '../../src/services/engineServices.js';
import { openLowdbStore } from '../../src/store/lowdbStore.js';
import { Shards } from '../../src/store/shards.js';
import { SimulatedClock } from '../support/clock.js';
import { holdWrites, releaseHeldWrites, type HeldWrite } from '../support/journalWrites.js';
import { capturingLogger, tempDirs, writeCharts } from '../support/server.js';
import { until } from '../support/wait.js';

const TIMED = `chart: timed
initial: wait
states:
  wait: { after: 1s, next: expired }
  expired: { final: true }
`;

const STEPPED = `chart: stepped
initial: work
settings:
  type: object
  properties: { root: { type: string } }
  required: [root]
states:
  work:
    run: fs.removeFile
    with: { path: "{{settings.root}}/nothing-here" }
    on_success: finished
    on_failure: failed
  finished: { final: true }
  failed: { final: true }
`;

const dirs = tempDirs();
const dir = dirs.make;
let engine: Engine | undefined;

afterEach(async () => {
  releaseHeldWrites();
  await engine?.close();
  engine = undefined;
  await dirs.removeAll();
});

async function startCharts(clock: SimulatedClock, more: Partial<RuntimeConfig> = {}, moreValues = ''): Promise<Engine> {
  const [charts, data, root] = await Promise.all([dir('chartd-charts-'), dir('chartd-data-'), dir('chartd-root-')]);
  await writeCharts(charts, { 'timed.yaml': TIMED, 'stepped.yaml': STEPPED });
  await writeFile(join(root, 'values.yaml'), `charts: { stepped: { root: ${root} } }\n${moreValues}`);
  engine = await startEngine({ chartPaths: [charts], dataDir: data, log: capturingLogger().log, clock, valuesFile: join(root, 'values.yaml'), ...more });
  return engine;
}

function status(running: Engine, name: string) {
  return running.supervisor.statuses().find((each) => each.name === name)!;
}

const EIO = Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });

describe('the timers and steps services', () => {
  /** The held commit fails: `service` is failed; the runtime applies it again a second later, the disk takes it, and it runs again. */
  async function refusedThenApplied(running: Engine, clock: SimulatedClock, held: HeldWrite[], service: string, why: RegExp): Promise<void> {
    await until(() => held.length === 1, `the ${service}' commit`);
    held[0]!.fail(EIO);
    await until(() => status(running, service).state === 'failed', `the ${service} to fail`);
    expect(status(running, service).lastError!.message).toMatch(why);
    await clock.advance(1000);
    await until(() => held.length === 2, 'the input applied again');
    held[1]!.release();
    await until(() => status(running, service).state === 'running', `the ${service} to run again`);
  }

  it('fail while a deadline that came due cannot be applied, and run again once it is', async () => {
    const clock = new SimulatedClock();
    const running = await startCharts(clock);
    expect(status(running, 'timers').state).toBe('running');
    const held = holdWrites('"state":"expired"');
    await clock.advance(1000);
    await refusedThenApplied(running, clock, held, 'timers', /^1 deadlines not applied \(timed\/default: could not make 1 commit\(s\) durable .*EIO/);
    expect((await running.runtime.snapshot('timed', 'default')).state).toBe('expired');
    expect(status(running, 'steps').lastError).toBeUndefined();
  });

  it('fail while a step\'s outcome cannot be applied, and run again once it is', async () => {
    const clock = new SimulatedClock();
    const running = await startCharts(clock);
    const held = holdWrites('"state":"finished"');
    await running.runtime.create('stepped', 's1', {});
    await refusedThenApplied(running, clock, held, 'steps', /^1 step outcomes not applied \(stepped\/s1: could not make/);
    expect((await running.runtime.snapshot('stepped', 's1')).state).toBe('finished');
  });
});

describe('the retention service', () => {
  it('fails while the store refuses its removals, tries them again, and runs again once one lands', async () => {
    const clock = new SimulatedClock();
    const running = await startCharts(clock, { retainFinishedMs: 60 * 60 * 1000 });
    await clock.advance(1000, () => running.runtime.whenIdle());
    expect((await running.runtime.snapshot('timed', 'default')).status).toBe('done');
    expect(status(running, 'retention').state).toBe('running');
    const held = holdWrites('"timed/default",null');
    await clock.advance(60 * 60 * 1000);
    await until(() => held.length === 1, 'the removal');
    held[0]!.fail(EIO);
    await until(() => status(running, 'retention').state === 'failed', 'the retention service to fail');
    expect(status(running, 'retention').lastError!.message).toMatch(/^could not remove finished instances past --retain-finished \(could not make 1 commit\(s\) durable .*EIO.*\); trying again every 10 s$/);
    expect(await running.store.get(INSTANCES, 'timed/default')).toBeDefined();
    await clock.advance(10_000);
    await until(() => held.length === 2, 'the removal tried again');
    held[1]!.release();
    await until(() => status(running, 'retention').state === 'running', 'the retention service to run again');
    expect(await running.store.get(INSTANCES, 'timed/default')).toBeUndefined();
  });

  it('switched off in --values, is not started and leaves finished instances stored', async () => {
    const clock = new SimulatedClock();
    const running = await startCharts(clock, { retainFinishedMs: 1000 }, 'services: { retention: { enabled: false } }\n');
    await clock.advance(60 * 60 * 1000, () => running.runtime.whenIdle());
    expect(status(running, 'retention')).toMatchObject({ state: 'not_started', enabled: false });
    expect((await running.runtime.snapshot('timed', 'default')).status).toBe('done');
  });
});

describe('the checkpointer service', () => {
  it('fails while checkpoints fail, and a start checkpoints at once instead of waiting for the journals to grow', async () => {
    const store = await openLowdbStore(await dir('chartd-data-'), { checkpointBytes: 2048 });
    const checkpointer = checkpointerService(store);
    const real = Shards.prototype.writeDirty;
    const refuse = vi.spyOn(Shards.prototype, 'writeDirty').mockRejectedValue(Object.assign(new Error('ENOSPC: no space left on device, open'), { code: 'ENOSPC' }));
    try {
      await checkpointer.start();
      expect(checkpointer.failure()).toBeUndefined();
      for (let n = 0; n < 60; n++) await store.commit([{ collection: 'c', key: `k${n}`, value: { n, pad: 'x'.repeat(50) } }]);
      await until(() => checkpointer.failure() !== undefined, 'a checkpoint to fail');
      expect(checkpointer.failure()).toMatch(/^checkpoint of .* failed \(Error: ENOSPC.*\); journals are kept and it will be retried$/);
      await expect(checkpointer.start()).rejects.toThrow(/ENOSPC/);
      refuse.mockImplementation(real);
      await checkpointer.start();
      expect(checkpointer.failure()).toBeUndefined();
      expect(store.stats()).toMatchObject({ journals: 1, dirtyShards: 0 });
    } finally {
      vi.restoreAllMocks();
      await store.close();
    }
  });
});

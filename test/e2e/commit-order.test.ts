// One gate under a burst of PUTs: each batch is built on the one before while that is still on its way to
// disk; answers come in order, and a failed write fails every PUT built on it.
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LowdbStore } from '../../src/store/lowdbStore.js';
import { holdWrites, releaseHeldWrites, track } from '../support/journalWrites.js';
import { gateChart, removeDir, startTestServer, tempDir, writeCharts, type TestServer } from '../support/server.js';
import { sleep, until } from '../support/wait.js';

let chartDir: string;
let dataDir: string;
let server: TestServer | undefined;

beforeEach(async () => {
  chartDir = await tempDir('chartd-charts-');
  dataDir = await tempDir('chartd-data-');
  await writeCharts(chartDir, { 'gates.yaml': gateChart(1000) });
  server = await startTestServer({ chartDir, dataDir });
});

afterEach(async () => {
  releaseHeldWrites();
  await server?.close();
  server = undefined;
  await removeDir(chartDir);
  await removeDir(dataDir);
});

const syncs = (): number => server!.engine.storeStats!().journalSyncs;
const counter = async (): Promise<number> => (await request(server!.url).get('/charts/gates/instances/default').expect(200)).body.counter as number;

/** A PUT's status; one the store refused must say so, and when to ask again, without naming files. */
function statusOf(response: request.Response): number {
  if (response.status === 503) {
    expect(response.headers['retry-after']).toBe('10');
    expect(response.body.error.code).toBe('store_unavailable');
    expect(response.body.error.message).toContain('the change was not applied');
    expect(response.body.error.message).not.toContain('journal');
  }
  return response.status;
}

/** Sends `n` PUTs at once; resolves with their statuses once all are answered. */
function burst(n: number): Promise<number[]> {
  return Promise.all(Array.from({ length: n }, () => request(server!.url).put('/state?state=wait').then(statusOf)));
}

describe('commits in flight together', () => {
  it('builds the next batch on one still being written, and answers in order', async () => {
    const held = holdWrites('"gates/default"');
    const before = syncs();
    const answered = burst(6);
    // The first PUT's batch is being written when the others arrive: they form batches of their own at once.
    await until(() => held.length >= 2);
    expect(syncs() - before).toBe(held.length);
    const replies = track(answered.then(() => undefined));
    // Later writes land first; nobody hears back until the first has landed too.
    for (const write of held.slice(1)) write.release();
    await sleep(50);
    expect(replies.settled()).toBe(false);
    // Batches that waited for a free slot go straight to disk from here on.
    releaseHeldWrites();
    expect(await answered).toEqual(Array(6).fill(200));
    expect(await counter()).toBe(6);
  });

  it('fails the PUTs of a batch whose write fails; batches built on it are applied again to what was committed; the counter holds only answered ones', async () => {
    await burst(3);
    const held = holdWrites('"gates/default"');
    const answered = burst(8);
    await until(() => held.length >= 2);
    const doomed = held.length;
    for (const write of held.slice(1)) write.release();
    held[0]!.fail(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
    // PUTs that reach the instance after the failure was dealt with build on what was committed, and succeed.
    releaseHeldWrites();
    const statuses = await answered;
    const ok = statuses.filter((status) => status === 200).length;
    // Every batch issued behind the failed one was built on it: refused by the store, each is rebuilt and lands.
    expect(ok).toBeGreaterThanOrEqual(doomed - 1);
    expect(statuses.filter((status) => status === 503).length).toBeGreaterThanOrEqual(1);
    expect(ok + statuses.filter((status) => status === 503).length).toBe(8);
    expect(await counter()).toBe(3 + ok);
    // The next PUT builds on what was committed, not on the failed batches.
    await request(server!.url).put('/state?state=wait').expect(200);
    expect(await counter()).toBe(4 + ok);
    await server!.close();
    server = await startTestServer({ chartDir, dataDir });
    expect(await counter()).toBe(4 + ok);
  });

  it('counts exactly under many concurrent check-ins while some of their writes fail', async () => {
    const held = holdWrites('"gates/default"');
    let writes = 0;
    let failed = 0;
    // Every third write of the instance fails, the others land, each as soon as it is issued.
    const settle = setInterval(() => {
      for (const write of held.splice(0)) {
        if (++writes % 3 === 0) {
          failed += 1;
          write.fail(Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' }));
        } else {
          write.release();
        }
      }
    }, 2);
    try {
      const rounds = await Promise.all(Array.from({ length: 4 }, () => burst(25)));
      const statuses = rounds.flat();
      const ok = statuses.filter((status) => status === 200).length;
      expect(ok + statuses.filter((status) => status === 503).length).toBe(100);
      expect(failed).toBeGreaterThan(0);
      expect(ok).toBeGreaterThan(0);
      expect(await counter()).toBe(ok);
      await server!.close();
      server = await startTestServer({ chartDir, dataDir });
      expect(await counter()).toBe(ok);
    } finally {
      clearInterval(settle);
    }
  });

  it('builds on what was committed once a write has failed, however late the failed commit hears of it', async () => {
    await burst(3);
    // The failed commit's rejection reaches the runtime only 200 ms later; the store is healthy again long before.
    const realCommit = LowdbStore.prototype.commit;
    vi.spyOn(LowdbStore.prototype, 'commit').mockImplementation(function (this: LowdbStore, ...args: Parameters<LowdbStore['commit']>) {
      return realCommit.apply(this, args).catch(async (error: unknown) => {
        await sleep(200);
        throw error;
      });
    });
    const held = holdWrites('"gates/default"');
    const doomed = request(server!.url).put('/state?state=wait').then(statusOf);
    await until(() => held.length >= 1);
    expect(server!.engine.store.health().ok).toBe(true);
    held[0]!.fail(Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' }));
    await until(() => !server!.engine.store.health().ok);
    // This PUT comes while the failed one is still waiting for its answer: it must not count on top of it.
    const next = request(server!.url).put('/state?state=wait').then(statusOf);
    await until(() => held.length >= 2);
    held[1]!.release();
    expect(await next).toBe(200);
    expect(await doomed).toBe(503);
    expect(await counter()).toBe(4);
    await server!.close();
    server = await startTestServer({ chartDir, dataDir });
    expect(await counter()).toBe(4);
  });

  it('reports a failed write on /healthz until a write issued after it lands', async () => {
    expect((await request(server!.url).get('/healthz').expect(200)).body.store).toEqual({ ok: true });
    const held = holdWrites('"gates/default"');
    const answered = burst(2);
    await until(() => held.length >= 2);
    // The later write fails; the earlier one lands after that, which says nothing about the disk now.
    held[1]!.fail(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
    held[0]!.release();
    expect((await answered).sort()).toEqual([200, 503]);
    const failing = await request(server!.url).get('/healthz').expect(503);
    expect(failing.body).toMatchObject({ status: 'failing', store: { ok: false, problem: expect.stringMatching(/journal.*ENOSPC/) } });
    expect(Date.parse(failing.body.store.since)).toBeGreaterThan(Date.now() - 5000);
    releaseHeldWrites();
    await request(server!.url).put('/state?state=wait').expect(200);
    expect((await request(server!.url).get('/healthz').expect(200)).body).toMatchObject({ status: 'ok', store: { ok: true } });
  });
});

// The PostgreSQL store when PostgreSQL fails under it: restarted, stopped, its sessions terminated, a COMMIT's answer lost.

import { describe, expect, it } from 'vitest';
import type { PostgresStore } from '../../src/store/postgres/postgresStore.js';
import { StoreUnavailable, WriteConflict, type Change } from '../../src/store/port.js';
import { startPgProxy } from '../support/pgProxy.js';
import { sleep, until } from '../support/wait.js';
import { outcome, postgresForFile } from './postgresStores.js';

const { stores, server } = postgresForFile();
const T = Date.UTC(2026, 10, 22, 6, 0, 0);

interface PairOutcome {
  readonly at: number;
  readonly ok: boolean;
  readonly error?: unknown;
}

/** Workers committing pairs (a/N and b/N together) until stopped: a commit half applied would show as one without the other. */
function writePairs(store: PostgresStore, workers = 6): { landed(): number; stop(): Promise<PairOutcome[]> } {
  const outcomes: PairOutcome[] = [];
  let next = 0;
  let stopping = false;
  const work = async (): Promise<void> => {
    while (!stopping) {
      const at = (next += 1);
      const value = { at };
      try {
        await store.commit([{ collection: 'a', key: String(at), value }, { collection: 'b', key: String(at), value }]);
        outcomes.push({ at, ok: true });
      } catch (error) {
        outcomes.push({ at, ok: false, error });
        // A crash test: give PostgreSQL a moment rather than spin while it is away.
        await sleep(20);
      }
    }
  };
  const running = Array.from({ length: workers }, work);
  return {
    landed: () => outcomes.filter(({ ok }) => ok).length,
    stop: async () => {
      stopping = true;
      await Promise.all(running);
      return outcomes;
    },
  };
}

/** Every acknowledged pair is stored whole; no pair is stored half; each refusal is StoreUnavailable, and applied nothing unless in doubt. */
async function expectWholePairs(store: PostgresStore, outcomes: readonly PairOutcome[]): Promise<void> {
  const keysIn = async (collection: string) => new Set((await store.page(collection, { limit: 1_000_000 })).documents.map(({ key }) => Number(key)));
  const [a, b] = [await keysIn('a'), await keysIn('b')];
  expect([...a].sort()).toEqual([...b].sort());
  for (const { at, ok, error } of outcomes) {
    if (ok) {
      expect(a.has(at), `acknowledged pair ${at}`).toBe(true);
      continue;
    }
    expect(error).toBeInstanceOf(StoreUnavailable);
    if (!(error as StoreUnavailable).inDoubt) expect(a.has(at), `refused pair ${at}`).toBe(false);
  }
}

function heardBy(store: PostgresStore): (readonly Change[])[] {
  const heard: (readonly Change[])[] = [];
  store.onChange((changes) => heard.push(changes));
  return heard;
}

const toldAnythingMayHaveChanged = (heard: readonly (readonly Change[])[]) => heard.some((changes) => changes.length === 0);

describe('PostgreSQL store: faults', () => {
  it('PostgreSQL restarted mid-commits: each commit lands whole or throws StoreUnavailable, and the same store carries on', async () => {
    const store = await stores.open(await stores.freshDatabase());
    const heard = heardBy(store);
    const run = writePairs(store);
    await until(() => run.landed() >= 30, 'commits before the restart');
    await server().control('restart');
    const before = run.landed();
    await until(() => run.landed() >= before + 30, 'commits after the restart', 20_000);
    const outcomes = await run.stop();
    // The restart met commits: some were refused.
    const refused = outcomes.filter(({ ok }) => !ok);
    expect(refused.length).toBeGreaterThan(0);
    console.info(`restart: ${outcomes.length - refused.length} commits acknowledged, ${refused.length} refused, ${refused.filter(({ error }) => (error as StoreUnavailable).inDoubt).length} of them in doubt`);
    await expectWholePairs(store, outcomes);
    expect(store.health().ok).toBe(true);
    await until(() => toldAnythingMayHaveChanged(heard) && store.health().warning === undefined, 'the change feed back, waking everyone', 15_000);
  });

  it('PostgreSQL stopped: commits and reads throw StoreUnavailable at once, health says so, and the store recovers when it is back', async () => {
    const store = await stores.open(await stores.freshDatabase());
    await store.commit([{ collection: 'c', key: 'k', value: 1 }]);
    const heard = heardBy(store);
    await server().control('stop');
    try {
      const started = Date.now();
      const refused = await outcome(store.commit([{ collection: 'c', key: 'k', value: 2 }]));
      expect((refused as { error: unknown }).error).toBeInstanceOf(StoreUnavailable);
      const error = (refused as { error: StoreUnavailable }).error;
      expect(error).toMatchObject({ retryAfter: 2, inDoubt: false });
      expect(error.message).toMatch(/^PostgreSQL at postgres:\/\/.* is unavailable \(.*\): a commit failed; nothing was applied$/);
      await expect(store.get('c', 'k')).rejects.toBeInstanceOf(StoreUnavailable);
      await expect(store.page('c', { limit: 1 })).rejects.toBeInstanceOf(StoreUnavailable);
      await expect(store.claim('c', { owner: 'a', now: T, leaseMs: 1, limit: 1 })).rejects.toBeInstanceOf(StoreUnavailable);
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(store.health()).toMatchObject({ ok: false, problem: expect.stringContaining('is unavailable'), since: expect.any(String) });
      await until(() => store.health().warning !== undefined, 'the change feed to notice');
    } finally {
      await server().control('start');
    }
    // Healthy again without a request: the change feed, back, proves PostgreSQL answers.
    await until(() => store.health().ok && store.health().warning === undefined, 'health back by itself', 15_000);
    expect(toldAnythingMayHaveChanged(heard)).toBe(true);
    await store.commit([{ collection: 'c', key: 'k', value: 3 }]);
    expect(await store.get('c', 'k')).toEqual({ key: 'k', value: 3, revision: 2 });
  });

  it('a replica whose sessions are terminated carries on by itself, and a lease it lost meanwhile cannot commit', async () => {
    const [a, b] = await stores.replicas(2);
    await a!.commit([{ collection: 'effects', key: 'step', value: { due: T } }]);
    const [held] = await a!.claim('effects', { owner: 'a', now: T, leaseMs: 30_000, limit: 1 });
    const heard = heardBy(a!);
    const terminated = await server().psql('postgres', "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'replica-0'");
    // Its pooled connection and its change feed's.
    expect(Number(terminated)).toBeGreaterThanOrEqual(2);
    expect((await a!.get('effects', 'step'))?.value).toEqual({ due: T });
    await a!.commit([{ collection: 'c', key: 'after', value: 1 }]);
    await until(() => toldAnythingMayHaveChanged(heard), 'the change feed back, waking everyone');
    await b!.commit([{ collection: 'c', key: 'from-b', value: 1 }]);
    await until(() => heard.some((changes) => changes.some(({ key }) => key === 'from-b')), 'a commit of the other replica heard');
    // Cut off, a could not renew; its lease ran out and b took the work over.
    const [taken] = await b!.claim('effects', { owner: 'b', now: T + 30_000, leaseMs: 30_000, limit: 1 });
    expect(taken?.key).toBe('step');
    await expect(a!.commit([{ collection: 'effects', key: 'step', value: null }], { fence: { collection: 'effects', key: 'step', lease: held!.lease } })).rejects.toThrow(WriteConflict);
    expect(await a!.renew('effects', ['step'], { owner: 'a', until: T + 90_000 })).toEqual([]);
  });

  it('sessions terminated again and again under a stream of commits: each lands whole or throws StoreUnavailable', async () => {
    const [store] = await stores.replicas(1);
    const run = writePairs(store!);
    for (let round = 0; round < 5; round += 1) {
      const landed = run.landed();
      await until(() => run.landed() >= landed + 10, 'commits between terminations');
      await server().psql('postgres', "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'replica-0'");
    }
    const landed = run.landed();
    await until(() => run.landed() >= landed + 10, 'commits after the last termination');
    await expectWholePairs(store!, await run.stop());
  });

  it('a COMMIT whose answer is lost is asked after: one that landed is acknowledged, one that never arrived throws StoreUnavailable', async () => {
    const proxy = await startPgProxy(server().host, server().port);
    try {
      const store = await stores.open(await stores.freshDatabase(), '', {}, proxy.port);
      const answerLost = proxy.cutNextCommit('after-commit');
      await store.commit([{ collection: 'c', key: 'landed', value: 1 }]);
      await answerLost;
      expect(await store.get('c', 'landed')).toEqual({ key: 'landed', value: 1, revision: 1 });
      const commitLost = proxy.cutNextCommit('before-commit');
      const refused = await outcome(store.commit([{ collection: 'c', key: 'lost', value: 1 }]));
      await commitLost;
      expect((refused as { error: unknown }).error).toBeInstanceOf(StoreUnavailable);
      expect((refused as { error: StoreUnavailable }).error.inDoubt).toBe(false);
      expect(await store.get('c', 'lost')).toBeUndefined();
    } finally {
      await stores.closeAll();
      await proxy.close();
    }
  });
});

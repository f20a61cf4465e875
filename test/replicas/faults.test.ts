// Replicas when PostgreSQL goes away under load and when a replica is killed -9: 503 with Retry-After while it is
// away, back by itself without a restart, and no acknowledged check-in lost.

import { describe, expect, it } from 'vitest';
import type { ChildServer } from '../support/child.js';
import { sleep, until } from '../support/wait.js';
import { call, clusterForFile, json, running, type Answer } from './cluster.js';

const cluster = clusterForFile();

interface Tally {
  /** Check-ins answered 200: each must be counted. */
  acknowledged: number;
  /** Check-ins that may have landed without an acknowledgement: a 503 in doubt, or a replica killed before it answered. */
  uncertain: number;
  refusals: Answer[];
}

/** Workers checking in on the tally gate through `targets()` until stopped. */
function load(targets: () => readonly ChildServer[], workers: number): { tally: Tally; stop(): Promise<void> } {
  const tally: Tally = { acknowledged: 0, uncertain: 0, refusals: [] };
  let stopping = false;
  const work = async (worker: number): Promise<void> => {
    while (!stopping) {
      const all = targets();
      const target = all[worker % all.length]!;
      try {
        const answer = await call(target.url, 'PUT', '/charts/tally/state?state=open');
        if (answer.status === 200) tally.acknowledged += 1;
        else {
          tally.refusals.push(answer);
          if (answer.body.includes('may or may not have been applied')) tally.uncertain += 1;
          await sleep(20);
        }
      } catch {
        // The replica died with the request in flight: it may have committed before.
        tally.uncertain += 1;
        await sleep(20);
      }
    }
  };
  const running = Array.from({ length: workers }, (_, worker) => work(worker));
  return { tally, stop: async () => void (stopping = true, await Promise.all(running)) };
}

async function counted(replica: ChildServer): Promise<number> {
  return (await json<{ counter: number }>(replica.url, '/charts/tally/instances/default')).counter;
}

describe('replicas when things fail', () => {
  it('PostgreSQL stopped under load: writes and reads answer 503 with Retry-After; back by itself once it starts; nothing acknowledged lost', async () => {
    const pg = cluster.pg();
    if (!pg.managed) return;
    const replicas = await cluster.replicas(2);
    const loader = load(() => replicas, 6);
    await until(() => loader.tally.acknowledged > 50, 'check-ins under way');
    await pg.control('stop');
    for (const replica of replicas) {
      const write = await call(replica.url, 'PUT', '/charts/tally/state?state=open');
      expect(write.status).toBe(503);
      expect(Number(write.headers.get('retry-after'))).toBeGreaterThan(0);
      const read = await call(replica.url, 'GET', '/charts/tally/state?state=open');
      expect(read.status).toBe(503);
    }
    await pg.control('start');
    const before = loader.tally.acknowledged;
    await until(() => loader.tally.acknowledged > before + 50, 'check-ins acknowledged again, with no restart', 30_000);
    await loader.stop();
    for (const refusal of loader.tally.refusals) {
      expect(refusal.status).toBe(503);
      expect(refusal.headers.get('retry-after')).not.toBeNull();
    }
    const stored = await counted(replicas[0]!);
    expect(stored).toBeGreaterThanOrEqual(loader.tally.acknowledged);
    expect(stored).toBeLessThanOrEqual(loader.tally.acknowledged + loader.tally.uncertain);
    expect(await counted(replicas[1]!)).toBe(stored);
  }, 90_000);

  it('a random replica of three killed -9 under load, twenty times: every acknowledged check-in is counted', async () => {
    const replicas = await cluster.replicas(3);
    const loader = load(() => running(replicas), 9);
    for (let round = 0; round < 20; round += 1) {
      const before = loader.tally.acknowledged;
      await until(() => loader.tally.acknowledged > before + 30, 'check-ins under way');
      const victim = Math.floor(Math.random() * replicas.length);
      await replicas[victim]!.kill('SIGKILL');
      replicas[victim] = await cluster.start();
    }
    await loader.stop();
    const stored = await counted(replicas[0]!);
    expect(stored).toBeGreaterThanOrEqual(loader.tally.acknowledged);
    expect(stored).toBeLessThanOrEqual(loader.tally.acknowledged + loader.tally.uncertain);
  }, 90_000);
});

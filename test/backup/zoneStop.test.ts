// A zone stopped mid-backup: the backup is interrupted and cleans up before the zone exits, and its failure is reported.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningZone } from '../../src/servers.js';
import { holdTableLock, listTree, lockWaiters } from '../support/backupRun.js';
import { until } from '../support/wait.js';
import { makeWorld, ZONE_TOKEN_ENV, type World } from './support/world.js';

let world: World;
let zone: RunningZone | undefined;

beforeAll(async () => {
  world = await makeWorld();
}, 120_000);

afterAll(async () => {
  await zone?.close();
  await world?.cleanup();
});

function order(requestId: string): Record<string, unknown> {
  const job = world.job('nightly') as { client: string; eoyMonth: number; keyName: string; source: Record<string, unknown> };
  return { requestId, apiVersion: '1', backupJobId: 'nightly', dataDate: '2026-11-22', client: job.client, eoyMonth: job.eoyMonth, keyName: job.keyName, source: job.source };
}

describe('stopping a zone', () => {
  it('interrupts its running backup, which cleans up and reports the interrupt before the zone exits; nothing is left in clear', async () => {
    zone = await world.startZone();
    const lock = await holdTableLock(world.pg, 'sales', 'orders');
    try {
      const sent = await fetch(`${world.zoneUrl}/orders`, {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${world.env[ZONE_TOKEN_ENV]}` }, body: JSON.stringify(order('req-stop-1')),
      });
      expect(sent.status).toBe(202);
      await until(async () => (await lockWaiters(world.pg, 'sales')) >= 1, 'the schema dump waiting on the lock', 20_000, 50);
      await zone.close();
      zone = undefined;
    } finally {
      await lock.release();
    }
    // Its working directory is gone: not a file, not a directory of the run is left.
    expect(await listTree(join(world.storage, 'intermediate'))).toEqual(['acme/', 'acme/sales/']);
    expect(await world.storedBackups()).toEqual([]);

    // Started again, it has the order finished, with the interrupt as its failure, waiting in the outbox for the controller.
    zone = await world.startZone();
    const record = (await zone.zone.describe('req-stop-1')) as { finishedAt?: string; state: string; failures: { node: string; error: string }[]; outbox: { result: { ok: boolean; failures: string[] } } };
    expect(record.finishedAt).toEqual(expect.any(String));
    expect(record.state).toBe('report_results');
    expect(record.failures).toMatchObject([{ node: 'backup_schema', error: 'interrupted: zone local is stopping' }]);
    expect(record.outbox.result).toMatchObject({ ok: false, failures: [`Failure: acme ${world.pg.host} sales backup_schema: interrupted: zone local is stopping`] });
  });
});

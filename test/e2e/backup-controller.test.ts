// The backup controller as operators run it (`chartd serve --backup-config`), killed with SIGKILL in every lifecycle state
// and at every seam of result handling, then restarted: each request finishes once, no backup is duplicated or lost.

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningZone } from '../../src/servers.js';
import { spawnServer, type ChildServer } from '../support/child.js';
import { getJson, makeWorld, postRequest, until, type World } from '../backup/support/world.js';

let world: World;
let zone: RunningZone | undefined;
let dataDir: string;
const requests: string[] = [];

beforeAll(async () => {
  world = await makeWorld();
  dataDir = join(world.root, 'controller-data');
  zone = await world.startZone();
}, 60_000);

afterAll(async () => {
  await zone?.close();
  await world?.cleanup();
});

function controller(env: Record<string, string> = {}): Promise<ChildServer> {
  return spawnServer(['--chart', 'charts/backup-request.yaml', '--data', dataDir, '--port', String(world.controllerPort), '--backup-config', world.configFile],
    { ...world.env, ...env });
}

/** Posts a request for a fresh job; a controller that dies on the way leaves the caller without an answer. */
async function post(server: ChildServer, jobId: string): Promise<number | undefined> {
  world.jobs.jobs.set(jobId, world.job(jobId));
  try {
    return (await postRequest(server.url, { apiVersion: 'v1', backupJobId: jobId, dataDate: '2026-11-21' })).status;
  } catch {
    return undefined;
  }
}

async function requestOf(url: string, jobId: string): Promise<any> {
  const { requests: found } = await getJson(`${url}/backup-requests?jobId=${jobId}`);
  expect(found, `requests of ${jobId}`).toHaveLength(1);
  return found[0];
}

async function finishes(url: string, jobId: string): Promise<any> {
  const view = await requestOf(url, jobId);
  requests.push(view.id);
  return until(() => getJson(`${url}/backup-requests/${view.id}`), (each) => each.final && each.times.resultRecorded !== undefined, 20_000);
}

describe('kill -9 of the controller', () => {
  it('in Received (job service down): re-checked after restart', async () => {
    await world.jobs.stop();
    const first = await controller();
    expect(await post(first, 'in-received')).toBe(503);
    expect((await requestOf(first.url, 'in-received')).state).toBe('Received');
    await first.kill('SIGKILL');
    await world.jobs.start();
    const second = await controller();
    try {
      expect((await finishes(second.url, 'in-received')).state).toBe('Succeeded');
    } finally {
      await second.kill();
    }
  });

  it('in Allowed (zone down): sent after restart', async () => {
    await zone!.close();
    zone = undefined;
    const first = await controller();
    expect(await post(first, 'in-allowed')).toBe(202);
    await until(() => requestOf(first.url, 'in-allowed'), (view) => view.lastError !== undefined, 5000);
    expect((await requestOf(first.url, 'in-allowed')).state).toBe('Allowed');
    await first.kill('SIGKILL');
    zone = await world.startZone();
    const second = await controller();
    try {
      expect((await finishes(second.url, 'in-allowed')).state).toBe('Succeeded');
    } finally {
      await second.kill();
    }
  });

  it('in Sent: the zone keeps its result until the restarted controller acknowledges it', async () => {
    const first = await controller();
    expect(await post(first, 'in-sent')).toBe(202);
    const sent = await until(() => requestOf(first.url, 'in-sent'), (view) => view.state !== 'Allowed', 5000, 10);
    expect(sent.state).toBe('Sent');
    await first.kill('SIGKILL');
    // The zone finishes meanwhile and cannot deliver: the result waits in its outbox.
    expect(await until(async () => zone!.outbox.size, (size) => size === 1, 10_000)).toBe(1);
    const second = await controller();
    try {
      expect((await finishes(second.url, 'in-sent')).state).toBe('Succeeded');
      expect(zone!.outbox.size).toBe(0);
    } finally {
      await second.kill();
    }
  });

  for (const point of ['check:after-record', 'dispatch:after-send', 'inbox:after-ack', 'inbox:after-backup', 'inbox:after-event']) {
    it(`at ${point}: resumed where it stopped`, async () => {
      const jobId = `at-${point.replace(':', '-')}`;
      const first = await controller({ CHARTD_FAILPOINT: point });
      await post(first, jobId);
      await until(async () => first.child.exitCode !== null || first.child.signalCode !== null, (dead) => dead, 15_000);
      expect(first.child.signalCode).toBe('SIGKILL');
      await first.kill();
      const second = await controller();
      try {
        expect((await finishes(second.url, jobId)).state).toBe('Succeeded');
      } finally {
        await second.kill();
      }
    });
  }

  it('and of the zone, while its result waits in its outbox: the restarted zone sends it again', async () => {
    await zone!.close();
    zone = undefined;
    let zoneChild = await world.spawnZone();
    try {
      const first = await controller();
      expect(await post(first, 'zone-killed')).toBe(202);
      const sent = await until(() => requestOf(first.url, 'zone-killed'), (view) => view.state !== 'Allowed', 5000, 10);
      expect(sent.state).toBe('Sent');
      await first.kill('SIGKILL');
      const order = () => getJson(`${world.zoneUrl}/orders/${sent.id}`, { authorization: `Bearer ${world.env['CHARTD_TEST_ZONE_TOKEN']}` });
      const waiting = await until(order, (view) => view.outbox !== null, 10_000);
      expect(waiting.outbox.result).toMatchObject({ requestId: sent.id, ok: true });
      await zoneChild.kill('SIGKILL');
      zoneChild = await world.spawnZone();
      const second = await controller();
      try {
        expect((await finishes(second.url, 'zone-killed')).state).toBe('Succeeded');
        expect(await until(order, (view) => view.deliveredAt !== undefined, 5000)).toMatchObject({ outbox: null });
      } finally {
        await second.kill();
      }
    } finally {
      await zoneChild.kill();
      zone = await world.startZone();
    }
  });

  it('after all of that: every request succeeded once, with one backup each, and nothing left in flight', async () => {
    const last = await controller();
    try {
      const { requests: all } = await getJson(`${last.url}/backup-requests`);
      expect(all.map((view: { id: string }) => view.id).sort()).toEqual([...requests].sort());
      expect(all.every((view: { state: string }) => view.state === 'Succeeded')).toBe(true);
      const { backups } = await getJson(`${last.url}/backups`);
      expect(backups.map((backup: { requestId: string }) => backup.requestId).sort()).toEqual([...requests].sort());
      expect(new Set(backups.map((backup: { file: string }) => backup.file)).size).toBe(requests.length);
      expect(await world.storedBackups()).toHaveLength(requests.length);
      expect(await zone!.engine.runtime.instances('backup-and-encrypt')).toHaveLength(requests.length);
      const status = await getJson(`${last.url}/backup-controller`);
      expect(status).toMatchObject({ inbox: 0, requests: { Succeeded: requests.length } });
      expect(zone!.outbox.size).toBe(0);
    } finally {
      await last.kill();
    }
  });
});

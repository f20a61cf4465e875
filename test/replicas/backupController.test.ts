// Two `chartd serve --store --backup-config` replicas on one PostgreSQL: every backup request sent once, recorded once, finished by the survivor of a kill -9.

import { readFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChildServer } from '../support/child.js';
import { removeDir, tempDir } from '../support/server.js';
import { startTakingZone, type TakingZone } from '../support/takingZone.js';
import { until } from '../support/wait.js';
import { clusterForFile, json } from './cluster.js';

const cluster = clusterForFile();
const TOKEN_ENV = 'CHARTD_TEST_REPLICA_TOKEN';
const TOKEN = 'replica-results-token';

let zone: TakingZone;
let dir: string;
let configFile: string;

beforeEach(async () => {
  process.env[TOKEN_ENV] = TOKEN;
  zone = await startTakingZone();
  dir = await tempDir('chartd-bc-replicas-');
  configFile = await zone.writeConfig(dir, { zoneToken: TOKEN_ENV, resultsToken: TOKEN_ENV });
});

afterEach(async () => {
  await zone.close();
  await removeDir(dir);
});

interface View {
  readonly id: string;
  readonly state: string;
}

async function replicas(): Promise<[ChildServer, ChildServer]> {
  const charts = { 'backup-request.yaml': await readFile('charts/backup-request.yaml', 'utf8') };
  const args = ['--backup-config', configFile, '--lease', '3s'];
  const [a, b] = await Promise.all([cluster.start(args, charts), cluster.start(args, charts)]);
  return [a, b];
}

async function receive(replica: ChildServer, dataDate: string): Promise<string> {
  const answer = await fetch(`${replica.url}/backup-requests`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiVersion: 'v1', backupJobId: 'nightly', dataDate }),
  });
  expect(answer.status).toBe(202);
  return ((await answer.json()) as View).id;
}

/** Posts the zone's result of `id`; false when the replica did not take it (it was killed meanwhile). */
async function postResult(replica: ChildServer, id: string): Promise<boolean> {
  const result = {
    requestId: id, zone: 'east', ok: true, file: `long_term/acme/sales/${id}.tar.gz.gpg`, size: 1, sha256: 'ab'.repeat(32),
    failures: [], startedAt: '2026-11-21T01:00:00.000Z', finishedAt: '2026-11-21T01:05:00.000Z',
  };
  try {
    const answer = await fetch(`${replica.url}/zone-results`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(result),
    });
    return answer.status === 202;
  } catch {
    return false;
  }
}

async function states(replica: ChildServer): Promise<Map<string, string>> {
  const { requests } = await json<{ requests: View[] }>(replica.url, '/backup-requests?limit=1000');
  return new Map(requests.map((view) => [view.id, view.state]));
}

/** Every request Succeeded once, sent to the zone (which takes an order once per request id), one backup each, the inbox empty. */
async function expectAllDone(replica: ChildServer, ids: readonly string[]): Promise<void> {
  await until(async () => [...(await states(replica)).values()].filter((state) => state === 'Succeeded').length === ids.length, 'every request to succeed', 60_000, 100);
  expect([...new Set(zone.orders.map((order) => order.requestId))].sort()).toEqual([...ids].sort());
  const { backups } = await json<{ backups: { requestId: string }[] }>(replica.url, '/backups?limit=1000');
  expect(backups.map((backup) => backup.requestId).sort()).toEqual([...ids].sort());
  expect(await json<{ inbox: number }>(replica.url, '/backup-controller')).toMatchObject({ inbox: 0, requests: { Succeeded: ids.length } });
  for (const id of ids) {
    const { history } = await json<{ history: { to: string }[] }>(replica.url, `/backup-requests/${id}`);
    expect(history.map((step) => step.to)).toEqual(['Received', 'Allowed', 'Sent', 'Succeeded']);
  }
}

describe('the backup controller on two replicas', () => {
  it('records each request once with results posted to either, and the survivor of a kill -9 finishes everything', async () => {
    const [a, b] = await replicas();
    const ids = await Promise.all(Array.from({ length: 12 }, (_, at) => receive(at % 2 ? b : a, `2026-11-${String(at + 1).padStart(2, '0')}`)));
    await until(async () => [...(await states(b)).values()].every((state) => state === 'Sent'), 'every request to be sent', 30_000, 100);
    // Each result to one replica, and a few to both at once.
    await Promise.all(ids.map((id, at) => (at % 3 === 0 ? Promise.all([postResult(a, id), postResult(b, id)]) : postResult(at % 2 ? a : b, id))));
    await expectAllDone(a, ids);

    const more = await Promise.all(Array.from({ length: 12 }, (_, at) => receive(at % 2 ? b : a, `2026-12-${String(at + 1).padStart(2, '0')}`)));
    await until(async () => {
      const now = await states(b);
      return more.every((id) => now.get(id) === 'Sent');
    }, 'the new requests to be sent', 30_000, 100);
    // Results go to a, which is killed while it records them; those it did not take go to b.
    const taken = await Promise.all(more.slice(0, 6).map((id) => postResult(a, id)));
    await a.kill('SIGKILL');
    for (const [at, id] of more.entries()) {
      if (at >= 6 || !taken[at]) expect(await postResult(b, id)).toBe(true);
    }
    await expectAllDone(b, [...ids, ...more]);
  });
});

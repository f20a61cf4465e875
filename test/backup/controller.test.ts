// The backup controller end to end in-process: real zone, real PostgreSQL and gpg, fake job service on loopback.

import { join } from 'node:path';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { RunningServer, RunningZone } from '../../src/servers.js';
import { runCommand } from '../../src/handlers/exec.js';
import { compareTables, createDatabase, restoreFile } from '../support/postgres.js';
import { getJson, makeWorld, postRequest, until, type World } from './support/world.js';

let world: World;
let zone: RunningZone;
let controller: RunningServer;

beforeAll(async () => {
  world = await makeWorld();
  world.jobs.jobs.set('nightly', world.job('nightly'));
  zone = await world.startZone();
  controller = await world.startController();
}, 60_000);

afterAll(async () => {
  await controller?.close();
  await zone?.close();
  await world?.cleanup();
});

const zoneAuth = () => ({ authorization: `Bearer ${world.env['CHARTD_TEST_ZONE_TOKEN']}` });
const request = (id: string) => getJson(`${controller.url}/backup-requests/${id}`);
const finished = (id: string) => until(() => request(id), (view) => view.final === true && view.times.resultRecorded !== undefined);

describe('POST /backup-requests to an encrypted backup', () => {
  it('checks, sends, backs up, records: 202, a restorable encrypted file, a row in the master store, Succeeded', async () => {
    const answer = await postRequest(controller.url, { apiVersion: 'v1', backupJobId: 'nightly', dataDate: '2026-11-21' });
    expect(answer.status).toBe(202);
    const id = answer.body.id as string;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(answer.headers.get('x-request-id')).toBe(id);
    expect(answer.body).toMatchObject({ state: 'Allowed', transport: 'http', backupJobId: 'nightly', dataDate: '2026-11-21' });
    expect(answer.body.times.checkedAllowed).toBeDefined();
    expect(answer.body.times.responded).toBeDefined();
    // The job service saw the request id, for tracing.
    expect(world.jobs.seen.at(-1)).toMatchObject({ path: '/backup-jobs/nightly', requestId: id });

    const view = await finished(id);
    expect(view.state).toBe('Succeeded');
    expect(view.zone).toBe('local');
    const times = view.times;
    for (const key of ['received', 'checkedAllowed', 'responded', 'sentToZone', 'resultReceived', 'resultRecorded']) expect(times[key], key).toBeDefined();
    expect(times.received <= times.checkedAllowed && times.checkedAllowed <= times.responded).toBe(true);
    expect(times.sentToZone <= times.resultReceived && times.resultReceived <= times.resultRecorded).toBe(true);
    expect(view.history.map((step: { to: string }) => step.to)).toEqual(['Received', 'Allowed', 'Sent', 'Succeeded']);

    const { backups } = await getJson(`${controller.url}/backups?jobId=nightly`);
    expect(backups).toHaveLength(1);
    expect(backups[0]).toMatchObject({ id: view.backupId, requestId: id, backupJobId: 'nightly', dataDate: '2026-11-21', zone: 'local', client: 'acme', database: 'sales' });
    // Named by its time and its run, the request: backups made in the same second never share a name.
    expect(backups[0].file).toMatch(new RegExp(`/long_term/acme/sales/FY\\d{4}/\\d{8}T\\d{6}Z-${id}\\.tar\\.gz\\.gpg$`));
    expect(backups[0].sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(await world.storedBackups()).toHaveLength(1);

    // The backup is what it says: decrypt, unpack, restore, compare.
    const out = await mkdtemp(join(world.root, 'restore-'));
    try {
      await world.gpg.decrypt(backups[0].file, join(out, 'backup.tar.gz'));
      await runCommand('tar', ['--extract', `--file=${join(out, 'backup.tar.gz')}`, `--directory=${out}`]);
      const [stamp] = backups[0].file.split('/').at(-1).split('-');
      await createDatabase(world.pg, 'sales_restored');
      await restoreFile(world.pg, 'sales_restored', join(out, stamp, 'schema.sql'));
      await restoreFile(world.pg, 'sales_restored', join(out, stamp, 'data.sql'));
      expect(await compareTables(world.pg, 'sales', 'sales_restored')).toEqual([]);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});

describe('not allowed', () => {
  const cases: [string, Record<string, unknown> | undefined, string, RegExp][] = [
    ['denied', { status: 'denied' }, '2026-11-21', /backup job denied-job is denied/],
    ['pending', { status: 'pending' }, '2026-11-21', /backup job pending-job is pending approval/],
    ['out of force', { inForce: { from: '2026-01-01', to: '2026-06-30' } }, '2026-11-21', /not in force for data of 2026-11-21: it was in force until 2026-06-30/],
    ['unknown', undefined, '2026-11-21', /backup job unknown-job does not exist/],
  ];
  for (const [name, overrides, dataDate, reason] of cases) {
    it(`${name} job: 406 with the reason, kept as NotAllowed, nothing sent`, async () => {
      const jobId = `${name.replace(/ /g, '-')}-job`;
      if (overrides) world.jobs.jobs.set(jobId, world.job(jobId, overrides));
      const answer = await postRequest(controller.url, { apiVersion: 'v1', backupJobId: jobId, dataDate });
      expect(answer.status).toBe(406);
      expect(answer.body.error).toMatchObject({ code: 'not_allowed' });
      expect(answer.body.error.message).toMatch(reason);
      const view = await request(answer.body.request.id);
      expect(view).toMatchObject({ state: 'NotAllowed', final: true, notAllowedReason: answer.body.error.message });
      expect(view.times.checkedAllowed).toBeDefined();
      expect(view.times.sentToZone).toBeUndefined();
      const listed = await getJson(`${controller.url}/backup-requests?state=NotAllowed&jobId=${jobId}`);
      expect(listed.requests.map((each: { id: string }) => each.id)).toEqual([view.id]);
    });
  }

  it('a source path the job does not cover: 406', async () => {
    const answer = await postRequest(controller.url, { apiVersion: 'v1', backupJobId: 'nightly', dataDate: '2026-11-21', sourcePath: 'payroll' });
    expect(answer.status).toBe(406);
    expect(answer.body.error.message).toBe("source path payroll is not one of backup job nightly's sources (sales)");
  });

  it('a malformed request: 400 and nothing stored', async () => {
    const before = (await getJson(`${controller.url}/backup-requests`)).requests.length;
    for (const body of [{ apiVersion: 'v2', backupJobId: 'nightly', dataDate: '2026-11-21' }, { apiVersion: 'v1', backupJobId: 'nightly', dataDate: '21/11/2026' },
      { apiVersion: 'v1', backupJobId: 'nightly', dataDate: '2026-11-21', extra: 1 }, { apiVersion: 'v1', dataDate: '2026-11-21' }]) {
      const answer = await postRequest(controller.url, body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.body.error.code).toBe('invalid_backup_request');
    }
    expect((await getJson(`${controller.url}/backup-requests`)).requests.length).toBe(before);
  });
});

describe('refused for good', () => {
  it('an order the zone cannot take fails the request at once, and one naming an unknown zone too', async () => {
    world.jobs.jobs.set('slash', world.job('slash', { source: { host: world.pg.host, port: world.pg.port, database: '../etc' } }));
    world.jobs.jobs.set('nowhere', world.job('nowhere', { zone: 'nowhere' }));
    for (const [jobId, failure] of [
      ['slash', /^backup\.dispatch: zone local refused the order: zone local .* answered POST \/orders with 400: context does not match chart backup-and-encrypt's schema: context\.database must match pattern/],
      ['nowhere', /^backup\.dispatch: backup job nowhere names zone nowhere, which is not configured \(configured: local\)$/],
    ] as const) {
      const answer = await postRequest(controller.url, { apiVersion: 'v1', backupJobId: jobId, dataDate: '2026-11-21' });
      expect(answer.status).toBe(202);
      const view = await until(() => request(answer.body.id), (each) => each.final);
      expect(view.state).toBe('Failed');
      expect(view.failures).toEqual([expect.objectContaining({ node: 'Allowed', error: expect.stringMatching(failure) })]);
      expect(view.times.sentToZone).toBeUndefined();
    }
  });

  it('an order whose password variable is off the zone\'s allow-list (here the zone\'s own token) is refused with 422 and stored nowhere', async () => {
    const source = { host: world.pg.host, port: world.pg.port, database: 'sales', passwordEnv: 'CHARTD_TEST_ZONE_TOKEN' };
    world.jobs.jobs.set('peeking', world.job('peeking', { source }));
    const answer = await postRequest(controller.url, { apiVersion: 'v1', backupJobId: 'peeking', dataDate: '2026-11-21' });
    const view = await until(() => request(answer.body.id), (each) => each.final);
    expect(view.state).toBe('Failed');
    expect(view.failures).toEqual([expect.objectContaining({
      node: 'Allowed',
      error: expect.stringMatching(/answered POST \/orders with 422: zone local does not let backups read the environment variable CHARTD_TEST_ZONE_TOKEN \(source\.passwordEnv\): its operator adds it to environment: in the zone's --values FILE$/),
    })]);
    expect((await fetch(`${world.zoneUrl}/orders/${answer.body.id}`, { headers: zoneAuth() })).status).toBe(404);
    expect((await zone.engine.runtime.instances('backup-and-encrypt')).filter((snapshot) => snapshot.id === answer.body.id)).toEqual([]);
  });
});

describe('Idempotency-Key', () => {
  it('concurrent retries with one key make one request; another body with the key is a conflict', async () => {
    world.jobs.jobs.set('weekly', world.job('weekly'));
    const body = { apiVersion: 'v1', backupJobId: 'weekly', dataDate: '2026-11-22' };
    const answers = await Promise.all(Array.from({ length: 6 }, () => postRequest(controller.url, body, { 'idempotency-key': 'weekly-2026-11-22' })));
    expect(answers.map((answer) => answer.status)).toEqual(Array(6).fill(202));
    const ids = new Set(answers.map((answer) => answer.body.id));
    expect(ids.size).toBe(1);
    const [id] = [...ids] as [string];
    const conflict = await postRequest(controller.url, { ...body, dataDate: '2026-11-23' }, { 'idempotency-key': 'weekly-2026-11-22' });
    expect(conflict.status).toBe(409);
    expect((await finished(id)).state).toBe('Succeeded');
    const again = await postRequest(controller.url, body, { 'idempotency-key': 'weekly-2026-11-22' });
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({ id, state: 'Succeeded' });
    expect((await getJson(`${controller.url}/backup-requests?jobId=weekly`)).requests).toHaveLength(1);
    expect((await getJson(`${controller.url}/backups?jobId=weekly`)).backups).toHaveLength(1);
  });
});

describe('outages', () => {
  it('job service down: 503 with Retry-After, kept as Received, allowed by the background re-check once it is back', async () => {
    world.jobs.jobs.set('monthly', world.job('monthly'));
    await world.jobs.stop();
    const answer = await postRequest(controller.url, { apiVersion: 'v1', backupJobId: 'monthly', dataDate: '2026-11-30' }, { 'idempotency-key': 'monthly-1' });
    expect(answer.status).toBe(503);
    expect(Number(answer.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(answer.body.error.code).toBe('job_service_unavailable');
    expect(answer.body.error.message).toMatch(/cannot be reached/);
    expect(answer.body.request).toMatchObject({ state: 'Received', lastError: { step: 'Received' } });
    const id = answer.body.request.id as string;
    await world.jobs.start();
    const view = await finished(id);
    expect(view.state).toBe('Succeeded');
    expect(view.lastError).toBeUndefined();
    const retried = await postRequest(controller.url, { apiVersion: 'v1', backupJobId: 'monthly', dataDate: '2026-11-30' }, { 'idempotency-key': 'monthly-1' });
    expect(retried).toMatchObject({ status: 202, body: { id, state: 'Succeeded' } });
  });

  it('zone down: the circuit opens, and the request is sent by itself once the zone is back', async () => {
    await zone.close();
    let restarted = false;
    onTestFinished(async () => {
      if (!restarted) zone = await world.startZone();
    });
    const answer = await postRequest(controller.url, { apiVersion: 'v1', backupJobId: 'nightly', dataDate: '2026-11-24' });
    expect(answer.status).toBe(202);
    const id = answer.body.id as string;
    const status = await until(() => getJson(`${controller.url}/backup-controller`), (body) => body.zones[0].circuit === 'open', 10_000);
    expect(status.zones).toEqual([{ name: 'local', url: world.zoneUrl, circuit: 'open' }]);
    const waiting = await until(() => request(id), (view) => view.lastError !== undefined, 5000);
    expect(waiting).toMatchObject({ state: 'Allowed', lastError: { step: 'Allowed' } });
    expect(waiting.lastError.message).toMatch(/cannot be reached|circuit is open/);
    zone = await world.startZone();
    restarted = true;
    const view = await finished(id);
    expect(view.state).toBe('Succeeded');
    expect((await getJson(`${controller.url}/backup-controller`)).zones[0].circuit).toBe('closed');
  });
});

describe('zone results and tokens', () => {
  const results = (token?: string, body: unknown = {}) => fetch(`${controller.url}/zone-results`, {
    method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body),
  });

  it('a failed backup: the zone reports it and the request fails, with the zone\'s failure report, and no backup is recorded', async () => {
    world.jobs.jobs.set('nokey', world.job('nokey', { keyName: 'nobody@chartd.invalid' }));
    const answer = await postRequest(controller.url, { apiVersion: 'v1', backupJobId: 'nokey', dataDate: '2026-11-21' });
    expect(answer.status).toBe(202);
    const view = await finished(answer.body.id);
    expect(view.state).toBe('Failed');
    expect(view.result.ok).toBe(false);
    expect(view.result.failures.join('\n')).toMatch(/^Failure: acme .* sales encrypt: gpg\.encrypt: no usable public key/m);
    expect((await getJson(`${controller.url}/backups?jobId=nokey`)).backups).toEqual([]);
  });

  it('without a valid token: 401, and nothing is stored', async () => {
    const [id] = (await getJson(`${controller.url}/backup-requests?jobId=nightly&state=Succeeded`)).requests.map((each: { id: string }) => each.id);
    const before = await request(id);
    const forged = { requestId: id, zone: 'local', ok: true, file: '/x', size: 1, sha256: 'a'.repeat(64), failures: [], startedAt: new Date().toISOString(), finishedAt: new Date().toISOString() };
    for (const token of [undefined, 'wrong-token-of-some-length', `${world.env['CHARTD_TEST_ZONE_TOKEN']}`]) {
      const answer = await results(token, forged);
      expect(answer.status).toBe(401);
      expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer /);
    }
    expect(await request(id)).toEqual(before);
    expect((await getJson(`${controller.url}/backup-controller`)).inbox).toBe(0);
    const order = await fetch(`${world.zoneUrl}/orders`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer nope' }, body: '{}' });
    expect(order.status).toBe(401);
    expect((await fetch(`${world.zoneUrl}/orders/${id}`)).status).toBe(401);
  });

  it('a result delivered again (the zone missed the acknowledgement) changes nothing', async () => {
    const [view] = (await getJson(`${controller.url}/backup-requests?jobId=nightly&state=Succeeded`)).requests;
    const zoneView = await getJson(`${world.zoneUrl}/orders/${view.id}`, zoneAuth());
    expect(zoneView).toMatchObject({ state: 'report_results', outbox: null });
    expect(zoneView.deliveredAt).toBeDefined();
    const backups = (await getJson(`${controller.url}/backups`)).backups;
    const backup = backups.find((each: { requestId: string }) => each.requestId === view.id);
    const replay = { requestId: view.id, zone: 'local', ok: true, file: backup.file, size: backup.size, sha256: backup.sha256, failures: [], startedAt: zoneView.startedAt, finishedAt: backup.createdAt };
    const answer = await results(world.env['CHARTD_TEST_RESULTS_TOKEN'], replay);
    expect(answer.status).toBe(202);
    expect(await request(view.id)).toEqual(view);
    expect((await getJson(`${controller.url}/backups`)).backups).toEqual(backups);
  });

  it('the zone takes an order once: sending it again starts no second backup', async () => {
    const [view] = (await getJson(`${controller.url}/backup-requests?jobId=nightly&state=Succeeded`)).requests;
    const record = await getJson(`${world.zoneUrl}/orders/${view.id}`, zoneAuth());
    const resend = await fetch(`${world.zoneUrl}/orders`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${world.env['CHARTD_TEST_ZONE_TOKEN']}` }, body: JSON.stringify(record.order),
    });
    expect(resend.status).toBe(202);
    expect(await resend.json()).toEqual({ requestId: view.id, zone: 'local', created: false });
    expect((await zone.engine.runtime.instances('backup-and-encrypt')).filter((snapshot) => snapshot.id === view.id)).toHaveLength(1);
    const changed = await fetch(`${world.zoneUrl}/orders`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${world.env['CHARTD_TEST_ZONE_TOKEN']}` }, body: JSON.stringify({ ...record.order, eoyMonth: 12 }),
    });
    expect(changed.status).toBe(409);
  });
});

type ErrorBody = { error: { code: string } };

describe("the zone's unknown routes", () => {
  it('answer a method /orders does not take with 405 and Allow, and a path it does not have with 404, as JSON', async () => {
    for (const method of ['DELETE', 'PROPFIND']) {
      const refused = await fetch(`${world.zoneUrl}/orders`, { method });
      expect(refused.status, method).toBe(405);
      expect(refused.headers.get('allow')).toBe('POST');
      expect(((await refused.json()) as ErrorBody).error.code).toBe('method_not_allowed');
      const missing = await fetch(`${world.zoneUrl}/nowhere`, { method });
      expect(missing.status, method).toBe(404);
      expect(((await missing.json()) as ErrorBody).error.code).toBe('not_found');
    }
  });
});

describe('a result after the deadline', () => {
  it('is late: the request stays Failed (timed out), and the backup that exists is recorded all the same', async () => {
    // The real chart, waiting 100ms instead of 24h in Sent: the zone's result comes after the timeout.
    const chartPath = join(world.root, 'backup-request-impatient.yaml');
    await writeFile(chartPath, (await readFile('charts/backup-request.yaml', 'utf8')).replace('timeout: { after: 24h, next: Failed }', 'timeout: { after: 100ms, next: Failed }'));
    await controller.close();
    controller = await world.startController(join(world.root, 'impatient-data'), chartPath);
    try {
      world.jobs.jobs.set('late', world.job('late'));
      const answer = await postRequest(controller.url, { apiVersion: 'v1', backupJobId: 'late', dataDate: '2026-11-21' });
      expect(answer.status).toBe(202);
      const view = await finished(answer.body.id);
      expect(view.state).toBe('Failed');
      expect(view.failures).toEqual([expect.objectContaining({ node: 'Sent', error: expect.stringMatching(/^timed out/) })]);
      expect(view.result).toEqual({ ok: true, zone: 'local', failures: [], late: true });
      expect((await getJson(`${controller.url}/backups?jobId=late`)).backups).toEqual([expect.objectContaining({ requestId: view.id, id: view.backupId })]);
    } finally {
      await controller.close();
      controller = await world.startController();
    }
  });
});

// Last in the file: by now the runs above have stored several backups.
describe('lists', () => {
  it('lists requests and backups a page at a time, in their order, with next links that keep the filter', async () => {
    const sent: string[] = [];
    for (let n = 0; n < 5; n++) sent.push((await postRequest(controller.url, { apiVersion: 'v1', backupJobId: 'paged-job', dataDate: '2026-11-21' })).body.request.id);
    const seen: string[] = [];
    let next: string | null = '/backup-requests?jobId=paged-job&limit=2';
    const links: string[] = [];
    while (next) {
      links.push(next);
      const page: { requests: { id: string }[]; next: string | null } = await getJson(`${controller.url}${next}`);
      seen.push(...page.requests.map((each) => each.id));
      next = page.next;
    }
    expect(seen).toEqual(sent);
    expect(links).toHaveLength(3);
    expect(links[1]).toBe(`/backup-requests?jobId=paged-job&after=${sent[1]}&limit=2`);
    const bad = await fetch(`${controller.url}/backup-requests?after=no-such-request`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/names no backup request/);
    expect((await fetch(`${controller.url}/backup-requests?limit=0`)).status).toBe(400);
    // The status counts every request by state, as the list shows them.
    const counts: Record<string, number> = (await getJson(`${controller.url}/backup-controller`)).requests;
    const listed: { state: string }[] = (await getJson(`${controller.url}/backup-requests?limit=10000`)).requests;
    expect(counts).toEqual(listed.reduce<Record<string, number>>((sum, view) => ({ ...sum, [view.state]: (sum[view.state] ?? 0) + 1 }), {}));
    expect(counts['NotAllowed']).toBeGreaterThanOrEqual(5);

    const all = (await getJson(`${controller.url}/backups`)).backups.map((backup: { id: string }) => backup.id);
    expect(all.length).toBeGreaterThanOrEqual(2);
    const paged: string[] = [];
    for (let link: string | null = '/backups?limit=1'; link; ) {
      const page: { backups: { id: string }[]; next: string | null } = await getJson(`${controller.url}${link}`);
      paged.push(...page.backups.map((backup) => backup.id));
      link = page.next;
    }
    expect(paged).toEqual(all);
  });
});

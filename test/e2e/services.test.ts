// Services against real servers on a simulated clock: the alert webhook and the job service made unreachable show
// failed on GET /services and /readyz, the supervisor starts them again, and /readyz follows; the zone's services too.
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import request from 'supertest';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startZoneServer, type RunningServer, type RunningZone } from '../../src/servers.js';
import type { ServiceStatus } from '../../src/services/service.js';
import { startFakeJobService, type FakeJobService } from '../backup/support/fakeJobService.js';
import { freePort, postRequest } from '../backup/support/world.js';
import { SimulatedClock } from '../support/clock.js';
import { holdWrites, releaseHeldWrites } from '../support/journalWrites.js';
import { capturingLogger, startTestServer, tempDirs, writeCharts } from '../support/server.js';
import { startTakingZone } from '../support/takingZone.js';
import { until } from '../support/wait.js';

// The default instance times out at once on the simulated clock, which records one alert for the webhook.
const LATE = 'chart: late\ninitial: waiting\nstates:\n  waiting:\n    on: { ok: done }\n    timeout: { after: 1ms, next: failed }\n  done: { final: true }\n  failed: { final: true }\n';
const TOKEN = 'z'.repeat(40);

const dirs = tempDirs();
const dir = dirs.make;
const closing: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  releaseHeldWrites();
  for (const close of closing.splice(0).reverse()) await close();
  await dirs.removeAll();
});

async function valuesFile(text: string): Promise<string> {
  const file = join(await dir('chartd-values-'), 'values.yaml');
  await writeFile(file, text);
  return file;
}

async function statusOf(url: string, name: string): Promise<ServiceStatus> {
  const { body } = await request(url).get('/services').expect(200);
  return (body.services as ServiceStatus[]).find((each) => each.name === name)!;
}

/** Moves the clock in steps until the service is in `state`, as the supervisor and the loops' own retries see it. */
async function advanceUntil(clock: SimulatedClock, url: string, name: string, state: ServiceStatus['state'], step: number): Promise<ServiceStatus> {
  for (let steps = 0; steps < 30; steps += 1) {
    const status = await statusOf(url, name);
    if (status.state === state) return status;
    await clock.advance(step);
  }
  throw new Error(`${name} never became ${state}: ${JSON.stringify(await statusOf(url, name))}`);
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
}

describe('alert delivery as a service', () => {
  it('fails while the webhook is unreachable, is started again by the supervisor, and /readyz follows it back', async () => {
    const clock = new SimulatedClock();
    const [chartDir, dataDir, port] = await Promise.all([dir('chartd-charts-'), dir('chartd-data-'), freePort()]);
    await writeCharts(chartDir, { 'late.yaml': LATE });
    const { log, lines } = capturingLogger('info');
    const server = await startTestServer({
      chartDir, dataDir, log, clock, alertWebhook: `http://127.0.0.1:${port}/alerts`,
      valuesFile: await valuesFile('supervisor: { backoff_interval: 1m, max_backoff: 4m }\n'),
    });
    closing.push(() => server.close());
    const { url } = server;
    await until(async () => (await request(url).get('/readyz')).status === 200, 'every service to run');
    expect((await request(url).get('/readyz')).body).toEqual({ ready: true });

    // Each step of 10 s lets the outbox's own backoff try again; the third failure in a row fails the service.
    await clock.advance(1);
    const failed = await advanceUntil(clock, url, 'alerts', 'failed', 10_000);
    expect(failed).toMatchObject({ enabled: true, keepAlive: true, restarts: 0, nextStart: expect.any(String) });
    expect(failed.lastError!.message).toMatch(/^the webhook did not take the last \d+ attempts to deliver an alert \(last: ECONNREFUSED\); 1 alerts wait$/);
    const unready = await request(url).get('/readyz').expect(503);
    expect(unready.headers['cache-control']).toBe('no-store');
    expect(unready.body).toEqual({ ready: false, notRunning: [{ name: 'alerts', state: 'failed', since: failed.since, error: failed.lastError!.message }] });

    // The supervisor starts it again a minute later; the webhook is still down, so it is failed again, and waits longer.
    await clock.advance(Date.parse(failed.nextStart!) - clock.now());
    await until(async () => (await statusOf(url, 'alerts')).restarts === 1, 'the first start again');
    // The stop hands back the alert it was trying (a commit) before the start: logged once both are done.
    await until(() => lines.some((line) => line.msg === 'service alerts started again'), 'the start to finish');
    const again = await advanceUntil(clock, url, 'alerts', 'failed', 1000);
    expect(Date.parse(again.nextStart!) - Date.parse(again.since)).toBe(2 * 60_000);

    // The webhook comes back: the next start delivers the alert, and /readyz is 200 again.
    const received: string[] = [];
    const hook = createServer((req, res) => {
      req.on('data', (chunk: Buffer) => received.push(chunk.toString()));
      req.on('end', () => res.end('ok'));
    });
    await listen(hook, port);
    closing.push(() => new Promise((resolve) => hook.close(resolve)));
    await clock.advance(Date.parse(again.nextStart!) - clock.now());
    await advanceUntil(clock, url, 'alerts', 'running', 1000);
    expect(JSON.parse(received.join(''))).toMatchObject({ type: 'chartd.failure', chart: 'late', node: 'waiting' });
    // Kept after it runs again, for whoever looks later.
    expect((await statusOf(url, 'alerts')).lastError!.message).toMatch(/^the webhook did not take the last \d+ attempts/);
    expect((await request(url).get('/readyz').expect(200)).body).toEqual({ ready: true });
  });

  it('is not started when switched off: alerts wait in the store and /readyz leaves it out', async () => {
    const clock = new SimulatedClock();
    const [chartDir, dataDir, port] = await Promise.all([dir('chartd-charts-'), dir('chartd-data-'), freePort()]);
    await writeCharts(chartDir, { 'late.yaml': LATE });
    let attempts = 0;
    const hook = createServer((_req, res) => {
      attempts += 1;
      res.end('ok');
    });
    await listen(hook, port);
    closing.push(() => new Promise((resolve) => hook.close(resolve)));
    const server = await startTestServer({
      chartDir, dataDir, clock, alertWebhook: `http://127.0.0.1:${port}/alerts`, valuesFile: await valuesFile('services:\n  alerts: { enabled: false }\n'),
    });
    closing.push(() => server.close());
    await clock.advance(60_000, () => server.engine.runtime.whenIdle());
    expect(await statusOf(server.url, 'alerts')).toMatchObject({ state: 'not_started', enabled: false, restarts: 0 });
    expect(server.engine.runtime.alertHealth()).toMatchObject({ undelivered: 1 });
    expect(attempts).toBe(0);
    expect((await request(server.url).get('/readyz').expect(200)).body).toEqual({ ready: true });
  });
});

describe('the backup controller\'s links', () => {
  let jobs: FakeJobService;

  /** A controller whose job service is down at first, and a real zone it reaches (neither runs a backup here). */
  async function start(): Promise<{ controller: RunningServer; zone: RunningZone; clock: SimulatedClock }> {
    process.env['CHARTD_TEST_LINK_TOKEN'] = TOKEN;
    jobs = await startFakeJobService({ denied: { id: 'denied', status: 'denied', inForce: { from: '2026-01-01' }, zone: 'local', client: 'acme', eoyMonth: 6, keyName: 'k', source: { host: 'db', database: 'sales' } } });
    await jobs.stop();
    closing.push(() => jobs.stop());
    const [controllerPort, zonePort, root] = await Promise.all([freePort(), freePort(), dir('chartd-links-')]);
    const zone = await startZoneServer({
      name: 'local', storageRoot: root, dataDir: join(root, 'zone-data'), port: zonePort, host: '127.0.0.1',
      controllerUrl: `http://127.0.0.1:${controllerPort}`, token: { env: 'CHARTD_TEST_LINK_TOKEN' }, controllerToken: { env: 'CHARTD_TEST_LINK_TOKEN' },
      log: capturingLogger().log,
    });
    closing.push(() => zone.close());
    const configFile = join(root, 'backup-controller.yaml');
    await writeFile(configFile, [
      `jobs: { url: "${jobs.url}" }`,
      `zones: { local: { url: "http://127.0.0.1:${zonePort}", token: { env: CHARTD_TEST_LINK_TOKEN } } }`,
      'results_token: { env: CHARTD_TEST_LINK_TOKEN }',
      'timeouts: { job_service: 2s, answer: 2s }',
      // Open after two failed calls, and stay open for an hour: only a start of the link closes it within this test.
      'calls: { retries: 1, retry_delay: 10ms, breaker_failures: 2, half_open_after: 1h }',
      '',
    ].join('\n'));
    const clock = new SimulatedClock();
    const controller = await startTestServer({
      chartDir: 'charts', dataDir: join(root, 'controller-data'), port: controllerPort, clock, backupConfig: configFile,
      valuesFile: await valuesFile('supervisor: { backoff_interval: 1m }\n'),
    });
    closing.push(() => controller.close());
    return { controller, zone, clock };
  }

  it('fail while the job service is unreachable or its circuit is open, and run again once a start finds it answering', async () => {
    const { controller, clock } = await start();
    const { url } = controller;
    const down = await until(async () => (await statusOf(url, 'job-service')).state === 'failed', 'the job service link to fail').then(() => statusOf(url, 'job-service'));
    expect(down.lastError!.message).toMatch(/^job service http:\/\/127\.0\.0\.1:\d+ cannot be reached at .*\/backup-jobs\/chartd-probe: ECONNREFUSED$/);
    await until(async () => (await statusOf(url, 'zone:local')).state === 'running', 'the zone link to run');
    const unready = await request(url).get('/readyz').expect(503);
    expect(unready.body.notRunning).toEqual([expect.objectContaining({ name: 'job-service', state: 'failed', error: down.lastError!.message })]);

    await jobs.start();
    await clock.advance(60_000);
    await until(async () => (await request(url).get('/readyz')).status === 200, '/readyz to follow the job service back');
    expect(await statusOf(url, 'job-service')).toMatchObject({ state: 'running', restarts: 1 });

    // Failing calls open the circuit: the link fails at once, without waiting for a start.
    jobs.failWith = 500;
    expect((await postRequest(url, { apiVersion: 'v1', backupJobId: 'denied', dataDate: '2026-11-21' })).status).toBe(503);
    const open = await statusOf(url, 'job-service');
    expect(open).toMatchObject({ state: 'failed', restarts: 1 });
    expect(open.lastError!.message).toMatch(/is not being called: its circuit is open after 2 failures in a row \(last: .*500/);
    expect((await request(url).get('/readyz').expect(503)).body.notRunning.map((each: ServiceStatus) => each.name)).toEqual(['job-service']);

    // Failed again soon after it ran, it waits twice the interval before its next start.
    jobs.failWith = undefined;
    expect(Date.parse(open.nextStart!) - Date.parse(open.since)).toBe(2 * 60_000);
    await clock.advance(Date.parse(open.nextStart!) - clock.now());
    await until(async () => (await statusOf(url, 'job-service')).restarts === 2, 'a start of the link');
    expect(await statusOf(url, 'job-service')).toMatchObject({ state: 'running' });
    expect(await controller.engine.backup!.controller.status()).toMatchObject({ jobs: { circuit: 'closed' } });
    await request(url).get('/readyz').expect(200);
  });

  it('are listed with the controller on GET /services and the overview; the zone lists its own, reads needing its token', async () => {
    const { controller, zone, clock } = await start();
    await until(async () => (await statusOf(controller.url, 'job-service')).state === 'failed', 'the job service link to fail');
    await jobs.start();
    await clock.advance(60_000);
    await until(async () => (await request(controller.url).get('/readyz')).status === 200, 'every service to run', 15_000);
    const { body } = await request(controller.url).get('/services').expect(200);
    expect(body.services.map((each: ServiceStatus) => each.name)).toEqual(['checkpointer', 'timers', 'steps', 'backup-controller', 'job-service', 'zone:local']);
    const overview = await request(controller.url).get('/overview').expect(200);
    expect(overview.body.services.map((each: ServiceStatus) => [each.name, each.state])).toEqual(body.services.map((each: ServiceStatus) => [each.name, 'running']));

    await request(zone.url).get('/services').expect(401);
    const zoneServices = await request(zone.url).get('/services').set('authorization', `Bearer ${TOKEN}`).expect(200);
    expect(zoneServices.body.services.map((each: ServiceStatus) => [each.name, each.state])).toEqual([['checkpointer', 'running'], ['timers', 'running'], ['steps', 'running'], ['zone-outbox', 'running']]);
    expect((await request(zone.url).get('/readyz').expect(200)).body).toEqual({ ready: true });
  });
});

describe('the backup controller as a service', () => {
  it('fails while a zone result cannot be processed; the retry policy processes it once the disk takes it, and the service runs again', async () => {
    const root = await dir('chartd-inbox-');
    const zone = await startTakingZone();
    closing.push(() => zone.close());
    process.env['CHARTD_TEST_LINK_TOKEN'] = TOKEN;
    const backupConfig = await zone.writeConfig(root, { zoneToken: 'CHARTD_TEST_LINK_TOKEN', resultsToken: 'CHARTD_TEST_LINK_TOKEN' });
    const clock = new SimulatedClock();
    const server = await startTestServer({
      chartDir: 'charts', dataDir: join(root, 'data'), clock, backupConfig, valuesFile: await valuesFile('supervisor: { backoff_interval: 1m }\n'),
    });
    closing.push(() => server.close());
    const { url } = server;
    const received = await postRequest(url, { apiVersion: 'v1', backupJobId: 'nightly', dataDate: '2026-11-21' });
    expect(received.status).toBe(202);
    const id = received.body.id as string;
    const state = async () => (await server.engine.runtime.snapshot('backup-request', id)).state;
    await until(async () => (await state()) === 'Sent', 'the request to be sent');

    // The disk refuses the commit that records the backup: the result stays in the inbox.
    const held = holdWrites('"backupId"');
    await request(url).post('/zone-results').set('authorization', `Bearer ${TOKEN}`).send({
      requestId: id, zone: 'east', ok: true, file: 'long_term/acme/sales/2026-11-21.tar.gz.gpg', size: 1, sha256: 'ab'.repeat(32),
      failures: [], startedAt: '2026-11-21T01:00:00.000Z', finishedAt: '2026-11-21T01:05:00.000Z',
    }).expect(202);
    await until(() => held.length === 1, 'the backup\'s commit');
    held[0]!.fail(Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' }));
    await until(async () => (await statusOf(url, 'backup-controller')).state === 'failed', 'the controller to fail');
    const failed = await statusOf(url, 'backup-controller');
    expect(failed.lastError!.message).toMatch(new RegExp(`^1 zone results could not be processed and wait in the inbox \\(${id}: could not make \\d+ commit\\(s\\) durable .*EIO`));
    expect((await request(url).get('/readyz').expect(503)).body.notRunning.map((each: ServiceStatus) => each.name)).toEqual(['backup-controller']);

    vi.restoreAllMocks();
    // The first retry comes within a second, long before the supervisor would start the service again.
    await clock.advance(1000);
    await until(async () => (await state()) === 'Succeeded', 'the result to be processed');
    expect(await server.engine.backup!.controller.inbox.size()).toBe(0);
    await clock.advance(Date.parse(failed.nextStart!) - clock.now());
    await until(async () => (await statusOf(url, 'backup-controller')).state === 'running', 'the controller to run again');
    await request(url).get('/readyz').expect(200);
  });
});

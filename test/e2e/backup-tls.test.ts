// The backup system with every link over https, each side requiring and presenting client certificates of one private
// CA: `chartd serve --backup-config` and `chartd zone` as operators start them, and a job service that asks the same.

import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createHttpClient, type HttpClient } from '../../src/net/httpClient.js';
import { makeCertificates, type Certificates } from '../support/certs.js';
import { spawnServer, type ChildServer } from '../support/child.js';
import { makeWorld, until, type World, type ZoneChild } from '../backup/support/world.js';

let certs: Certificates;
let world: World;
let http: HttpClient;
let zone: ZoneChild | undefined;
let controller: ChildServer | undefined;

beforeAll(async () => {
  certs = await makeCertificates();
  world = await makeWorld({ tls: certs });
  http = await createHttpClient({ ca: certs.ca, client: certs.client });
}, 60_000);

afterAll(async () => {
  await controller?.kill();
  await zone?.kill();
  await http?.close();
  await world?.cleanup();
  await certs?.cleanup();
});

async function call(method: 'GET' | 'POST', url: string, body?: unknown): Promise<{ status: number; body: any }> {
  const answer = await http.fetch(url, {
    method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, signal: AbortSignal.timeout(10_000),
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: answer.status, body: JSON.parse(await answer.text()) };
}

it('dispatches the order to the https zone and takes its result back on the https controller', async () => {
  zone = await world.spawnZone();
  controller = await spawnServer(['--chart', 'charts/backup-request.yaml', '--data', join(world.root, 'controller-data'),
    '--port', String(world.controllerPort), '--backup-config', world.configFile, ...world.tlsFlags], world.env);
  expect(world.controllerUrl).toMatch(/^https:/);
  expect(controller.url).toBe(world.controllerUrl);
  world.jobs.jobs.set('over-tls', world.job('over-tls'));

  const posted = await call('POST', `${controller.url}/backup-requests`, { apiVersion: 'v1', backupJobId: 'over-tls', dataDate: '2026-11-21' });
  expect(posted.status).toBe(202);
  expect(world.jobs.seen.at(-1)?.path).toBe('/backup-jobs/over-tls');
  const { body: { requests } } = await call('GET', `${controller.url}/backup-requests?jobId=over-tls`);
  const done = await until(() => call('GET', `${controller!.url}/backup-requests/${requests[0].id}`),
    ({ body }) => body.final && body.times.resultRecorded !== undefined, 20_000);
  expect(done.body).toMatchObject({ state: 'Succeeded' });
  expect(await world.storedBackups()).toHaveLength(1);
});

import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { removeDir, startTestServer, tempDir, writeCharts, type TestServer } from '../support/server.js';
import { until } from '../support/wait.js';

// Every unhappy move is recorded on the instance and POSTed to the alert webhook.
const CHART = `chart: alerting
initial: remove
context:
  type: object
  properties:
    target: { type: string, pattern: "^[A-Za-z0-9._-]+$" }
    client: { type: string }
  required: [target, client]
settings:
  type: object
  properties:
    root: { type: string }
  required: [root]
failure_prefix: "nightly {{client}}"
states:
  remove:
    run: fs.removeFile
    with: { path: "{{settings.root}}/{{target}}" }
    on_success: confirm
    on_failure: failed
  confirm:
    on: { ok: done }
    timeout: { after: 300ms, next: failed }
  done: { final: true }
  failed: { final: true }
`;

let chartDir: string;
let dataDir: string;
/** The chart's root, bound by the operator's values file; it holds a directory the step cannot remove. */
let root: string;
let server: TestServer | undefined;
let hook: Server;
let received: Record<string, unknown>[];

beforeEach(async () => {
  chartDir = await tempDir('chartd-charts-');
  dataDir = await tempDir('chartd-data-');
  received = [];
  hook = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      received.push(JSON.parse(body) as Record<string, unknown>);
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
  await writeCharts(chartDir, { 'alerting.yaml': CHART });
  root = await tempDir('chartd-root-');
  await mkdir(join(root, 'a-directory'));
  await writeFile(join(root, 'values.yaml'), `charts: { alerting: { root: ${root} } }\n`);
  server = await startTestServer({
    chartDir, dataDir, alertWebhook: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/alerts`, valuesFile: join(root, 'values.yaml'),
  });
});

afterEach(async () => {
  await server?.close();
  if (hook.listening) await new Promise((resolve) => hook.close(resolve));
  await removeDir(chartDir);
  await removeDir(dataDir);
  await removeDir(root);
});

describe('failure reports', () => {
  it('records a failed step and POSTs it to the webhook with the failure prefix', async () => {
    const { url } = server!;
    await request(url).post('/charts/alerting/instances').send({ id: 'dir', context: { target: 'a-directory', client: 'acme' } }).expect(201);
    await until(() => received.length === 1);
    expect(received[0]).toMatchObject({ type: 'chartd.failure', chart: 'alerting', instance: 'dir', node: 'remove', prefix: 'nightly acme' });
    expect(String(received[0]!['message'])).toMatch(/^Failure: nightly acme remove: /);
    const snapshot = await request(url).get('/charts/alerting/instances/dir').expect(200);
    expect(snapshot.body.state).toBe('failed');
    expect(snapshot.body.failures).toHaveLength(1);
    expect(snapshot.body.history.at(-1)).toMatchObject({ from: 'remove', to: 'failed', cause: 'failure' });
  });

  it('reports a waiting state that timed out', async () => {
    const { url } = server!;
    await request(url).post('/charts/alerting/instances').send({ id: 'gone', context: { target: 'missing-file', client: 'acme' } }).expect(201);
    await until(() => received.length === 1);
    expect(received[0]).toMatchObject({ node: 'confirm', instance: 'gone' });
    expect(String(received[0]!['error'])).toMatch(/timed out/);
    const snapshot = await request(url).get('/charts/alerting/instances/gone').expect(200);
    expect(snapshot.body.state).toBe('failed');
    expect(snapshot.body.history.map((entry: { cause: string }) => entry.cause)).toEqual(['create', 'success', 'timeout']);
  });

  it('shows undelivered alerts on /healthz while the webhook is down, still answering 200', async () => {
    const { url } = server!;
    await new Promise((resolve) => hook.close(resolve));
    hook = createServer();
    await request(url).post('/charts/alerting/instances').send({ id: 'dir', context: { target: 'a-directory', client: 'acme' } }).expect(201);
    await until(async () => (await request(url).get('/healthz')).body.alerts?.lastError !== undefined, 'a failed delivery on /healthz');
    const health = await request(url).get('/healthz').expect(200);
    expect(health.body.alerts).toMatchObject({ undelivered: 1, oldest: expect.any(String) });
    expect(health.body.alerts.lastError).toMatch(/ECONNREFUSED/);
  });

  it('refuses a context the chart does not accept, storing nothing', async () => {
    const { url } = server!;
    const answer = await request(url).post('/charts/alerting/instances').send({ id: 'bad', context: { target: 5 } }).expect(400);
    expect(answer.body.error.code).toBe('context_invalid');
    expect(answer.body.error.message).toMatch(/client/);
    await request(url).get('/charts/alerting/instances/bad').expect(404);
  });
});

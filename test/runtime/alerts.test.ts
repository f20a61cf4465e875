// Durable alerts: recorded in the failure's commit, delivered oldest first with backoff and an idempotency key, kept across restarts.
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEngine, StartupError, type Engine } from '../../src/main.js';
import { ALERTS } from '../../src/runtime/alertRecords.js';
import { formatFailure } from '../../src/runtime/alerts.js';
import { openLowdbStore } from '../../src/store/lowdbStore.js';
import { SimulatedClock } from '../support/clock.js';
import { capturingLogger, removeDir, tempDir, writeCharts } from '../support/server.js';
import { until } from '../support/wait.js';

// fs.removeFile refuses a directory at once (no retry), so each instance fails at its first step.
const CHART = `chart: alerting
initial: remove
context:
  type: object
  properties:
    target: { type: string, pattern: "^[A-Za-z0-9._-]+$" }
  required: [target]
settings:
  type: object
  properties:
    root: { type: string }
  required: [root]
failure_prefix: "nightly {{target}}"
states:
  remove:
    run: fs.removeFile
    with: { path: "{{settings.root}}/{{target}}" }
    on_success: done
    on_failure: failed
  done: { final: true }
  failed: { final: true }
`;

interface Delivery {
  readonly key: string | undefined;
  readonly body: Record<string, unknown>;
}

let chartDir: string;
let dataDir: string;
let root: string;
let hook: Server;
let hookUrl: string;
/** While true the webhook answers 503 to every request. */
let down: boolean;
let attempts: number;
let accepted: Delivery[];
let engine: Engine | undefined;
let clock: SimulatedClock;

beforeEach(async () => {
  [chartDir, dataDir, root] = await Promise.all([tempDir('chartd-charts-'), tempDir('chartd-data-'), tempDir('chartd-root-')]);
  await writeCharts(chartDir, { 'alerting.yaml': CHART });
  await writeFile(join(root, 'values.yaml'), `charts: { alerting: { root: ${root} } }\n`);
  for (const name of ['a', 'b', 'c']) await mkdir(join(root, name));
  down = true;
  attempts = 0;
  accepted = [];
  hook = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      attempts += 1;
      if (down) {
        res.statusCode = 503;
        res.end('down for maintenance');
        return;
      }
      accepted.push({ key: header(req.headers, 'idempotency-key'), body: JSON.parse(body) as Record<string, unknown> });
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
  hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/alerts`;
  clock = new SimulatedClock();
});

afterEach(async () => {
  await engine?.close();
  engine = undefined;
  await new Promise((resolve) => hook.close(resolve));
  await Promise.all([removeDir(chartDir), removeDir(dataDir), removeDir(root)]);
});

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function start(options: { webhook?: string } = {}): Promise<Engine> {
  const { log } = capturingLogger('debug');
  engine = await startEngine({
    chartPaths: [chartDir], dataDir, log, clock, valuesFile: join(root, 'values.yaml'), alertWebhook: options.webhook ?? hookUrl,
  });
  return engine;
}

async function failInstance(running: Engine, target: string): Promise<void> {
  await running.runtime.create('alerting', target, { target });
  await until(async () => (await running.runtime.snapshot('alerting', target)).status === 'done', `instance ${target} to fail`);
}

describe('alerts', () => {
  it('are recorded in the same commit as the failure they report', async () => {
    const running = await start();
    const seen: Promise<number>[] = [];
    running.runtime.onChange(({ after }) => {
      if (after.failures.length) seen.push(running.store.count(ALERTS));
    });
    await failInstance(running, 'a');
    expect(await Promise.all(seen)).toEqual([1]);
  });

  it('reach a webhook that was down for a while, each exactly once and in order, across a restart, with backoff between attempts', async () => {
    let running = await start();
    await failInstance(running, 'a');
    await failInstance(running, 'b');
    await until(() => running.runtime.alertHealth()?.lastError !== undefined, 'the first delivery attempt to fail');
    expect(running.runtime.alertHealth()).toMatchObject({ undelivered: 2, lastError: 'the webhook answered 503' });
    expect(attempts).toBe(1);

    // Backoff: no second attempt before the first wait (0.5-1 s) has passed on the simulated clock, then more.
    await clock.advance(450);
    expect(attempts).toBe(1);
    await clock.advance(5 * 60_000);
    await until(() => attempts >= 2, 'the second attempt');

    // A restart keeps what was not delivered, and adds to it.
    await running.close();
    engine = undefined;
    running = await start();
    await failInstance(running, 'c');
    await until(() => attempts >= 3, 'an attempt after the restart');
    expect(running.runtime.alertHealth()?.undelivered).toBe(3);

    down = false;
    await clock.advance(5 * 60_000);
    await until(() => running.runtime.alertHealth()?.undelivered === 0, 'every alert delivered', 10_000);
    await clock.advance(60 * 60_000);
    expect(accepted.map((delivery) => delivery.body['instance'])).toEqual(['a', 'b', 'c']);
    expect(accepted.map((delivery) => delivery.key)).toEqual(accepted.map((delivery) => delivery.body['id']));
    expect(new Set(accepted.map((delivery) => delivery.key)).size).toBe(3);
    expect(accepted[0]!.key).toMatch(/^alerting\/a@\d+$/);
    const snapshot = (await running.runtime.snapshot('alerting', 'a'));
    expect(accepted[0]!.body).toMatchObject({
      type: 'chartd.failure', chart: 'alerting', instance: 'a', prefix: 'nightly a', node: 'remove', at: snapshot.failures[0]!.at,
      message: formatFailure({ prefix: 'nightly a', node: 'remove', error: snapshot.failures[0]!.error }),
    });
    expect(running.runtime.alertHealth()).toEqual({ undelivered: 0 });
  });

  it('recorded before alerts were claimable (no due) are delivered after a start', async () => {
    const report = { id: 'alerting/a@2', chart: 'alerting', instance: 'a', prefix: 'nightly a', node: 'remove', error: 'gone', at: new Date(clock.now()).toISOString() };
    const store = await openLowdbStore(dataDir);
    const key = `${String(clock.now()).padStart(15, '0')} ${report.id}`;
    await store.commit([{ collection: ALERTS, key, value: { key, report, recordedAt: report.at } }]);
    await store.close();
    down = false;
    const running = await start();
    await until(() => accepted.length === 1, 'the alert written before to be delivered');
    expect(accepted[0]).toMatchObject({ key: report.id, body: { instance: 'a', message: formatFailure(report) } });
    await until(async () => (await running.store.count(ALERTS)) === 0, 'the alert to be removed');
  });

  it('are refused at start-up when the webhook is not an http(s) URL, before the data directory is touched', async () => {
    for (const webhook of ['notaurl', 'ftp://alerts.example.com/x']) {
      await expect(start({ webhook })).rejects.toThrow(StartupError);
      await expect(start({ webhook })).rejects.toThrow(/--alert-webhook .* (is not a URL|must be an http:\/\/ or https:\/\/ URL)/);
    }
  });
});

describe('failure reports', () => {
  it('are one line, with a tool\'s output indented beneath it', () => {
    expect(formatFailure({ prefix: ' acme db1 sales ', node: 'backup_data', error: 'pg_dump exited with code 1:\npg_dump: error: no\n\tIs the server running?\n' }))
      .toBe('Failure: acme db1 sales backup_data: pg_dump exited with code 1:\n    pg_dump: error: no\n    Is the server running?');
    expect(formatFailure({ prefix: '', node: 'x', error: 'plain' })).toBe('Failure: x: plain');
  });
});

// /metrics on a real server after real traffic, parsed: names, types, labels, and counts that match the traffic sent;
// the read scope; --no-metrics; the zone's /metrics; one log line per transition; the shipped alert rules and dashboard.

import { execFile } from 'node:child_process';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashOf, newToken } from '../../src/access/tokens.js';
import type { Snapshot } from '../../src/engine/snapshot.js';
import { createLogger } from '../../src/log.js';
import { instanceKey } from '../../src/runtime/runtime.js';
import { startZoneServer, type RunningZone } from '../../src/servers.js';
import { packageVersion } from '../../src/version.js';
import { spawnServer } from '../support/child.js';
import { SimulatedClock } from '../support/clock.js';
import { freePort } from '../support/postgres.js';
import { checkHistograms, parseMetrics, samplesOf, valueOf, type Family } from '../support/promText.js';
import { capturingLogger, removeDir, startTestServer, tempDir, TRAFFIC_LIGHT, writeCharts, type LogLine, type TestServer } from '../support/server.js';
import { EventStream } from '../support/sse.js';
import { startTakingZone, type TakingZone } from '../support/takingZone.js';
import { until } from '../support/wait.js';

const GATE = `chart: gate
initial: open
states:
  open:
    gate: { count: 3 }
    next: done
  done: { final: true }
`;

const tokens = { reader: newToken(), writer: newToken(), requester: newToken(), zone: newToken(), results: newToken() };
const AUTH = `reads: token
tokens:
  reader: { hash: '${hashOf(tokens.reader)}', scopes: [read] }
  writer: { hash: '${hashOf(tokens.writer)}', scopes: [read, { write: ['traffic-*', gate] }] }
  requester: { hash: '${hashOf(tokens.requester)}', scopes: [{ write: [backup-request] }] }
`;

let dir: string;
let server: TestServer;
let zone: TakingZone;
let clock: SimulatedClock;
let logged: LogLine[];

beforeAll(async () => {
  dir = await tempDir('chartd-metrics-');
  const charts = join(dir, 'charts');
  await mkdir(charts);
  await writeCharts(charts, { 'traffic-light.yaml': TRAFFIC_LIGHT, 'gate.yaml': GATE });
  await copyFile('charts/backup-request.yaml', join(charts, 'backup-request.yaml'));
  zone = await startTakingZone();
  process.env['CHARTD_METRICS_TEST_ZONE'] = tokens.zone;
  process.env['CHARTD_METRICS_TEST_RESULTS'] = tokens.results;
  // Job nightly goes to the zone that takes every order; job broken to a zone nobody listens for, whose circuit opens.
  await writeFile(join(dir, 'jobs.yaml'), `jobs:
  - { id: nightly, status: approved, inForce: { from: '2026-01-01' }, zone: east, client: acme, eoyMonth: 6, keyName: k, source: { host: db.internal, database: sales } }
  - { id: broken, status: approved, inForce: { from: '2026-01-01' }, zone: west, client: acme, eoyMonth: 6, keyName: k, source: { host: db.internal, database: sales } }
`);
  await writeFile(join(dir, 'backup.yaml'), `jobs: { file: jobs.yaml }
zones:
  east: { url: 'http://127.0.0.1:${(zone.server.address() as { port: number }).port}', token: { env: CHARTD_METRICS_TEST_ZONE } }
  west: { url: 'http://127.0.0.1:${await freePort()}', token: { env: CHARTD_METRICS_TEST_ZONE } }
results_token: { env: CHARTD_METRICS_TEST_RESULTS }
calls: { retries: 1, retry_delay: 10ms, breaker_failures: 2, half_open_after: 10m }
`);
  await writeFile(join(dir, 'auth.yaml'), AUTH);
  const capture = capturingLogger('info');
  logged = capture.lines;
  clock = new SimulatedClock();
  server = await startTestServer({
    chartDir: charts, dataDir: join(dir, 'data'), defaultChart: 'traffic-light', authFile: join(dir, 'auth.yaml'),
    backupConfig: join(dir, 'backup.yaml'), log: capture.log, clock,
  });
});

afterAll(async () => {
  await server?.close();
  await zone?.close();
  await removeDir(dir);
});

function call(path: string, token: string | undefined, init: RequestInit = {}): Promise<Response> {
  return fetch(`${server.url}${path}`, { ...init, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.body ? { 'content-type': 'application/json' } : {}) } });
}

async function status(path: string, token: string | undefined, init: RequestInit = {}): Promise<number> {
  const answer = await call(path, token, init);
  await answer.arrayBuffer();
  return answer.status;
}

async function scrape(url = server.url, token = tokens.reader): Promise<{ text: string; families: Map<string, Family> }> {
  const answer = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  expect(answer.status).toBe(200);
  expect(answer.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  const text = await answer.text();
  return { text, families: parseMetrics(text) };
}

/** The instance's snapshot once `test` holds: now, or at the commit that makes it hold. */
function reach(chart: string, id: string, test: (snapshot: Snapshot) => boolean): Promise<Snapshot | undefined> {
  return server.engine.runtime.waitFor(chart, id, test, 10_000);
}

function promtool(args: string[], input?: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile('promtool', args, { timeout: 20_000 }, (error, stdout, stderr) => {
      if (error && (error as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(new Error('promtool is not installed: apt-get install prometheus (or bash .ci/deps.sh, which installs it)'));
        return;
      }
      resolve({ code: error ? Number(error.code ?? 1) : 0, output: `${stdout}${stderr}` });
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}

describe('/metrics after real traffic', () => {
  let families: Map<string, Family>;
  let text: string;
  let parked: { waiters: number; streams: number };

  beforeAll(async () => {
    const read = tokens.reader;
    for (let i = 0; i < 5; i++) expect(await status('/state?state=green_state', read)).toBe(200);
    for (let i = 0; i < 3; i++) expect(await status('/charts/traffic-light/state?state=red_state', read)).toBe(406);
    expect(await status('/state?state=green_state&by=web1', tokens.writer, { method: 'PUT' })).toBe(200);
    for (const id of ['i-1', 'i-2']) expect(await status('/charts/gate/instances', tokens.writer, { method: 'POST', body: JSON.stringify({ id }) })).toBe(201);
    for (let i = 0; i < 3; i++) expect(await status('/charts/gate/instances/i-1/state?state=open&by=web1', tokens.writer, { method: 'PUT' })).toBe(200);
    expect(await status('/charts/gate/instances/i-2/state?state=open', tokens.writer, { method: 'PUT' })).toBe(200);
    expect(await status('/charts/gate/instances/i-9999/state?state=open', read)).toBe(404);
    expect(await status('/no/such/path-42', read)).toBe(404);

    // A long-poll and a watch stream stay open while the server is scraped.
    const longPoll = status('/charts/gate/instances/i-2/state?state=done&wait=20s', read);
    const stream = await EventStream.open(`${server.url}/charts/gate/instances/i-2/events`, { authorization: `Bearer ${read}` });
    await until(() => server.engine.runtime.waiters.count === 1, 'the long-poll to park');
    const during = (await scrape()).families;
    parked = { waiters: valueOf(during, 'chartd_long_polls_waiting')!, streams: valueOf(during, 'chartd_watch_streams')! };
    for (let i = 0; i < 2; i++) expect(await status('/charts/gate/instances/i-2/state?state=open', tokens.writer, { method: 'PUT' })).toBe(200);
    expect(await longPoll).toBe(200);
    stream.close();

    // One backup request reaches Sent; one is allowed, but its zone refuses connections until the circuit opens.
    const post = (job: string) => call('/backup-requests', tokens.requester, { method: 'POST', body: JSON.stringify({ apiVersion: 'v1', backupJobId: job, dataDate: '2026-11-21' }) });
    const sent = (await (await post('nightly')).json()) as { id: string };
    await reach('backup-request', sent.id, (snapshot) => snapshot.state === 'Sent');
    const stuck = (await (await post('broken')).json()) as { id: string };
    // A failed attempt leaves the instance waiting to run the next one.
    await reach('backup-request', stuck.id, (snapshot) => snapshot.state === 'Allowed' && snapshot.attempt === 2 && snapshot.deadline?.kind === 'retry');
    // The retry comes due on the simulated clock: a second attempt, refused at once by the open circuit.
    await clock.advance(1000, () => server.engine.runtime.whenIdle());
    expect(await reach('backup-request', stuck.id, (snapshot) => snapshot.attempt === 3 && snapshot.deadline?.kind === 'retry')).toBeDefined();
    await until(() => server.engine.runtime.waiters.count === 0 && server.engine.runtime.runningSteps === 0, 'the requests to settle');

    ({ text, families } = await scrape());
  });

  it('declares each family once with its type, and every histogram is well formed', () => {
    const types = Object.fromEntries([...families.values()].map((family) => [family.name, family.type]));
    expect(types).toMatchObject({
      chartd_http_requests_total: 'counter', chartd_http_request_duration_seconds: 'histogram', chartd_build_info: 'gauge',
      chartd_store_commits_total: 'counter', chartd_store_commit_failures_total: 'counter', chartd_store_batch_commits: 'histogram',
      chartd_store_journal_write_seconds: 'histogram', chartd_store_journal_bytes: 'gauge', chartd_store_checkpoint_age_seconds: 'gauge',
      chartd_store_checkpoints_total: 'counter', chartd_store_healthy: 'gauge', chartd_store_checkpoint_failing: 'gauge',
      chartd_instances: 'gauge', chartd_transitions_total: 'counter', chartd_steps_started_total: 'counter', chartd_steps_retried_total: 'counter',
      chartd_steps_ended_total: 'counter', chartd_step_duration_seconds: 'histogram', chartd_steps_running: 'gauge', chartd_timers_pending: 'gauge',
      chartd_long_polls_waiting: 'gauge', chartd_watch_streams: 'gauge', chartd_alerts_pending: 'gauge', chartd_alert_deliveries_total: 'counter',
      chartd_backup_requests: 'gauge', chartd_backup_inbox_results: 'gauge', chartd_backup_circuit_state: 'gauge',
      chartd_service_up: 'gauge', chartd_service_restarts_total: 'counter',
      process_cpu_user_seconds_total: 'counter', process_resident_memory_bytes: 'gauge', nodejs_eventloop_lag_seconds: 'gauge',
    });
    for (const family of families.values()) expect(family.help, `${family.name} has a help text`).not.toBe('');
    expect(checkHistograms(families)).toEqual([]);
    expect(valueOf(families, 'chartd_build_info', { version: packageVersion() })).toBe(1);
  });

  it('counts requests by route template, method and status, as sent', () => {
    const requests = (route: string, method: string, code: string) => valueOf(families, 'chartd_http_requests_total', { route, method, status: code });
    expect(requests('/state', 'GET', '200')).toBe(5);
    expect(requests('/state', 'PUT', '200')).toBe(1);
    expect(requests('/charts/:chart/state', 'GET', '406')).toBe(3);
    expect(requests('/charts/:chart/instances', 'POST', '201')).toBe(2);
    expect(requests('/charts/:chart/instances/:id/state', 'PUT', '200')).toBe(6);
    expect(requests('/charts/:chart/instances/:id/state', 'GET', '404')).toBe(1);
    expect(requests('/charts/:chart/instances/:id/state', 'GET', '200')).toBe(1);
    expect(requests('/charts/:chart/instances/:id/events', 'GET', '200')).toBe(1);
    expect(requests('/backup-requests', 'POST', '202')).toBe(2);
    expect(requests('unmatched', 'GET', '404')).toBe(1);
    expect(requests('/metrics', 'GET', '200')).toBe(1);
    // Raw paths never become labels: the ids and the unknown path sent appear nowhere.
    expect(text).not.toMatch(/i-9999|path-42|"i-1"|web1/);
  });

  it('times every request but those held open (the long-poll, the watch stream)', () => {
    const timed = (route: string, method: string, code: string) => valueOf(families, 'chartd_http_request_duration_seconds_count', { route, method, status: code });
    expect(timed('/state', 'GET', '200')).toBe(5);
    expect(timed('/charts/:chart/instances/:id/state', 'PUT', '200')).toBe(6);
    expect(timed('/charts/:chart/instances/:id/state', 'GET', '200')).toBeUndefined();
    expect(timed('/charts/:chart/instances/:id/events', 'GET', '200')).toBeUndefined();
    const slowest = valueOf(families, 'chartd_http_request_duration_seconds_sum', { route: '/state', method: 'GET', status: '200' })!;
    expect(slowest).toBeGreaterThan(0);
    expect(slowest).toBeLessThan(5);
  });

  it('counted the parked long-poll and the open watch stream while they were open, and none after', () => {
    expect(parked).toEqual({ waiters: 1, streams: 1 });
    expect(valueOf(families, 'chartd_long_polls_waiting')).toBe(0);
  });

  it('counts transitions by chart, from, to and cause, and instances by chart, state and status', () => {
    const moved = (labels: Record<string, string>) => valueOf(families, 'chartd_transitions_total', labels);
    // The default instance, created at start-up, and i-1 and i-2.
    expect(moved({ chart: 'gate', from: '', to: 'open', cause: 'create' })).toBe(3);
    expect(moved({ chart: 'gate', from: 'open', to: 'done', cause: 'put' })).toBe(2);
    expect(moved({ chart: 'traffic-light', from: 'green_state', to: 'red_state', cause: 'put' })).toBe(1);
    expect(moved({ chart: 'backup-request', from: 'Received', to: 'Allowed', cause: 'success' })).toBe(2);
    expect(moved({ chart: 'backup-request', from: 'Allowed', to: 'Sent', cause: 'success' })).toBe(1);
    expect(valueOf(families, 'chartd_instances', { chart: 'gate', state: 'done', status: 'done' })).toBe(2);
    expect(valueOf(families, 'chartd_instances', { chart: 'traffic-light', state: 'red_state', status: 'active' })).toBe(1);
    expect(valueOf(families, 'chartd_instances', { chart: 'gate', state: 'open', status: 'active' })).toBe(1);
    expect(valueOf(families, 'chartd_instances', { chart: 'gate', state: 'done', status: 'active' })).toBeUndefined();
  });

  it('counts steps started, retried and ended by handler, with their durations', () => {
    const value = (name: string, labels: Record<string, string>) => valueOf(families, name, labels);
    expect(value('chartd_steps_started_total', { handler: 'backup.checkAllowed' })).toBe(2);
    expect(value('chartd_steps_ended_total', { handler: 'backup.checkAllowed', outcome: 'succeeded' })).toBe(2);
    expect(value('chartd_steps_started_total', { handler: 'backup.dispatch' })).toBe(3);
    expect(value('chartd_steps_retried_total', { handler: 'backup.dispatch' })).toBe(1);
    expect(value('chartd_steps_ended_total', { handler: 'backup.dispatch', outcome: 'succeeded' })).toBe(1);
    expect(value('chartd_steps_ended_total', { handler: 'backup.dispatch', outcome: 'failed' })).toBe(2);
    expect(value('chartd_step_duration_seconds_count', { handler: 'backup.dispatch', outcome: 'failed' })).toBe(2);
    expect(value('chartd_steps_running', {})).toBe(0);
    // The request in Sent waits out its 24h timeout; the one whose zone is down, its next retry.
    expect(value('chartd_timers_pending', {})).toBe(2);
  });

  it('shows the backup controller: requests by state, its inbox, and each dependency\'s circuit', () => {
    expect(valueOf(families, 'chartd_backup_requests', { state: 'Sent' })).toBe(1);
    expect(valueOf(families, 'chartd_backup_requests', { state: 'Allowed' })).toBe(1);
    expect(valueOf(families, 'chartd_backup_inbox_results')).toBe(0);
    const circuit = (dependency: string) => samplesOf(families, 'chartd_backup_circuit_state', { dependency }).filter((sample) => sample.value === 1).map((sample) => sample.labels['state']);
    expect(circuit('zone:east')).toEqual(['closed']);
    expect(circuit('zone:west')).toEqual(['open']);
    expect(samplesOf(families, 'chartd_backup_circuit_state', { dependency: 'zone:west' })).toHaveLength(4);
  });

  it('shows each background service up while it runs, and down while it is failed, as /readyz says', async () => {
    const up = Object.fromEntries(samplesOf(families, 'chartd_service_up').map((sample) => [sample.labels['service'], sample.value]));
    expect(up).toEqual({ checkpointer: 1, timers: 1, steps: 1, 'backup-controller': 1, 'zone:east': 1, 'zone:west': 0 });
    const ready = (await (await call('/readyz', undefined)).json()) as { notRunning: { name: string }[] };
    expect(ready.notRunning.map((service) => service.name)).toEqual(['zone:west']);
    // The supervisor starts zone:west again only after backoff_interval (10 s), which the simulated clock has not reached.
    expect(samplesOf(families, 'chartd_service_restarts_total').map((sample) => sample.value)).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('shows the store: every durable commit went through a counted journal write', () => {
    const commits = valueOf(families, 'chartd_store_commits_total')!;
    // Changes made over HTTP alone: 1 + 2 + 3 + 3 PUTs and creations, 2 backup requests with their records and steps.
    expect(commits).toBeGreaterThanOrEqual(9);
    expect(valueOf(families, 'chartd_store_batch_commits_sum')).toBe(commits);
    expect(valueOf(families, 'chartd_store_journal_write_seconds_count')).toBe(valueOf(families, 'chartd_store_batch_commits_count'));
    expect(valueOf(families, 'chartd_store_commit_failures_total')).toBe(0);
    expect(valueOf(families, 'chartd_store_journal_bytes')).toBeGreaterThan(1000);
    expect(valueOf(families, 'chartd_store_checkpoint_age_seconds')).toBeGreaterThanOrEqual(0);
    expect(valueOf(families, 'chartd_store_healthy')).toBe(1);
    expect(valueOf(families, 'chartd_store_checkpoint_failing')).toBe(0);
    expect(valueOf(families, 'chartd_alerts_pending')).toBe(0);
  });

  it('passes promtool\'s own check of the text format, for every chartd metric', async () => {
    const { output } = await promtool(['check', 'metrics'], text);
    // prom-client's default Node metrics draw lint remarks of their own (e.g. nodejs_active_handles_total is a gauge); ours none.
    expect(output.split('\n').filter((line) => line.startsWith('chartd_'))).toEqual([]);
  });

  it('logs one info line per transition, after its commit, with chart, instance, from, to, cause, caller, token and revision', async () => {
    const lines = logged.filter((line) => line.msg === 'transition');
    const gate = lines.filter((line) => line['chart'] === 'gate' && line['instance'] === 'i-1');
    expect(gate.map(({ from, to, cause, caller, token, revision }) => ({ from, to, cause, caller, token, revision }))).toEqual([
      { from: null, to: 'open', cause: 'create', caller: undefined, token: 'writer', revision: 1 },
      { from: 'open', to: 'done', cause: 'put', caller: 'web1', token: 'writer', revision: 4 },
    ]);
    expect(gate.every((line) => line.level === 30)).toBe(true);
    expect(lines.filter((line) => line['chart'] === 'backup-request' && line['cause'] === 'success')).toHaveLength(3);
    // Every transition is counted once in the log and once in the metrics.
    const counted = samplesOf(families, 'chartd_transitions_total').reduce((sum, sample) => sum + sample.value, 0);
    expect(lines).toHaveLength(counted);
  });
});

describe('/metrics access', () => {
  it('follows the read scope: 401 without a token where reads need one, 403 for a token without read', async () => {
    const anonymous = await call('/metrics', undefined);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer realm="chartd"/);
    expect(await anonymous.text()).not.toMatch(/chartd_/);
    expect(await status('/metrics', tokens.requester)).toBe(403);
    expect(await status('/metrics', tokens.writer)).toBe(200);
  });

  it('is served by chartd serve unless --no-metrics turns it off', async () => {
    const charts = join(dir, 'plain');
    await mkdir(charts);
    await writeCharts(charts, { 'gate.yaml': GATE });
    const [counting, plain] = await Promise.all([
      spawnServer(['--chart', charts, '--data', join(dir, 'counting-data')]),
      spawnServer(['--chart', charts, '--data', join(dir, 'plain-data'), '--no-metrics']),
    ]);
    try {
      expect(await fetch(`${plain.url}/charts/gate/state?state=open`).then((each) => each.status)).toBe(200);
      expect((await fetch(`${plain.url}/metrics`)).status).toBe(404);
      const scraped = await fetch(`${counting.url}/metrics`);
      expect(scraped.status).toBe(200);
      expect(valueOf(parseMetrics(await scraped.text()), 'chartd_build_info', { version: packageVersion() })).toBe(1);
    } finally {
      await Promise.all([counting.kill(), plain.kill()]);
    }
  });
});

describe('the zone\'s /metrics', () => {
  let zoneServer: RunningZone;
  beforeAll(async () => {
    const root = join(dir, 'zone');
    await mkdir(join(root, 'storage'), { recursive: true });
    process.env['CHARTD_METRICS_TEST_ZONE_IN'] = tokens.zone;
    zoneServer = await startZoneServer({
      name: 'east', storageRoot: join(root, 'storage'), dataDir: join(root, 'data'), port: 0, host: '127.0.0.1',
      controllerUrl: 'http://127.0.0.1:9', token: { env: 'CHARTD_METRICS_TEST_ZONE_IN' }, controllerToken: { env: 'CHARTD_METRICS_TEST_RESULTS' },
      log: createLogger('silent'),
    });
  });
  afterAll(async () => {
    await zoneServer?.close();
  });

  it('needs a read token, and shows the outbox and the zone\'s own engine', async () => {
    expect((await fetch(`${zoneServer.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${zoneServer.url}/orders/nothing-here`, { headers: { authorization: `Bearer ${tokens.zone}` } })).status).toBe(404);
    const { families } = await scrape(zoneServer.url, tokens.zone);
    expect(valueOf(families, 'chartd_zone_outbox_results')).toBe(0);
    expect(valueOf(families, 'chartd_store_healthy')).toBe(1);
    expect(valueOf(families, 'chartd_http_requests_total', { route: '/orders/:id', method: 'GET', status: '404' })).toBe(1);
    expect(valueOf(families, 'chartd_http_requests_total', { route: '/metrics', method: 'GET', status: '401' })).toBe(1);
    expect(checkHistograms(families)).toEqual([]);
  });

  it('the shipped alert rules and dashboard name only metrics the servers export, and pass promtool', async () => {
    // `up` is Prometheus' own record of each scrape.
    const exported = new Set<string>(['up']);
    for (const url of [server.url, zoneServer.url]) {
      const { families } = await scrape(url, url === server.url ? tokens.reader : tokens.zone);
      for (const family of families.values()) {
        exported.add(family.name);
        for (const suffix of family.type === 'histogram' ? ['_bucket', '_sum', '_count'] : []) exported.add(`${family.name}${suffix}`);
      }
    }
    const named = (expression: string): string[] => [...expression.matchAll(/\b((?:chartd|process|nodejs)_[a-zA-Z0-9_]+|up(?=\{))/g)].map((match) => match[1]!);

    const rules = load(await readFile('docs/prometheus-rules.yml', 'utf8')) as { groups: { rules: { alert: string; expr: string }[] }[] };
    const checked = await promtool(['check', 'rules', 'docs/prometheus-rules.yml']);
    expect(checked.output, checked.output).toMatch(/SUCCESS/);
    expect(checked.code).toBe(0);
    const tested = await promtool(['test', 'rules', 'test/fixtures/prometheus/rules.test.yml']);
    expect(tested.code, tested.output).toBe(0);
    const expressions = rules.groups.flatMap((group) => group.rules.map((rule) => rule.expr));
    expect(expressions.length).toBeGreaterThanOrEqual(6);
    for (const expression of expressions) {
      expect(named(expression).length, expression).toBeGreaterThan(0);
      for (const name of named(expression)) expect(exported.has(name), `${name} in ${expression}`).toBe(true);
    }

    const dashboard = JSON.parse(await readFile('docs/grafana-dashboard.json', 'utf8')) as { panels: { title: string; type: string; targets?: { expr: string }[] }[] };
    const panels = dashboard.panels.filter((panel) => panel.type !== 'row');
    expect(panels.length).toBeGreaterThanOrEqual(10);
    for (const panel of panels) {
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      for (const { expr } of panel.targets!) {
        expect(named(expr).length, `${panel.title}: ${expr}`).toBeGreaterThan(0);
        for (const name of named(expr)) expect(exported.has(name), `${panel.title}: ${name}`).toBe(true);
      }
    }

    // docs/operations.md describes every chartd metric the servers export.
    const operations = await readFile('docs/operations.md', 'utf8');
    const undocumented = [...exported].filter((name) => name.startsWith('chartd_') && !/_(bucket|sum|count)$/.test(name) && !operations.includes(name));
    expect(undocumented).toEqual([]);
  });
});

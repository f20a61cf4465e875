// The trust boundary on a real server: every write route refuses a missing, unknown or out-of-scope token and changes
// nothing; service-owned charts are closed to the generic routes; tokens are recorded in history and bound to callers.

import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashOf, newToken } from '../../src/access/tokens.js';
import { isGuard } from '../../src/http/guard.js';
import type { Snapshot } from '../../src/engine/snapshot.js';
import { instanceKey } from '../../src/runtime/runtime.js';
import { removeDir, startTestServer, tempDir, TRAFFIC_LIGHT, writeCharts, type TestServer } from '../support/server.js';
import { startTakingZone, type TakingZone } from '../support/takingZone.js';

const GATED = `chart: gated
initial: open
states:
  open:
    gate: { count: 5, distinct: true }
    next: done
    on: { abort: done }
  done: { final: true }
`;

const tokens = {
  ops: newToken(), reader: newToken(), writer: newToken(), requester: newToken(), fleet: newToken(), web1: newToken(),
};
const RESULTS_TOKEN = newToken();
const ZONE_TOKEN = newToken();
const UNKNOWN = newToken();

const AUTH = `reads: token
tokens:
  ops: { hash: '${hashOf(tokens.ops)}', scopes: [admin] }
  reader: { hash: '${hashOf(tokens.reader)}', scopes: [read] }
  writer: { hash: '${hashOf(tokens.writer)}', scopes: [read, { write: ['traffic-*', gated] }] }
  requester: { hash: '${hashOf(tokens.requester)}', scopes: [{ write: [backup-request] }] }
  fleet: { hash: '${hashOf(tokens.fleet)}', scopes: [read, { write: [gated] }], callers: ['web*'] }
  web1: { hash: '${hashOf(tokens.web1)}', scopes: [{ write: [gated] }], callers: [web1] }
`;

let dir: string;
let server: TestServer;
let zone: TakingZone;

beforeAll(async () => {
  dir = await tempDir('chartd-auth-');
  const charts = join(dir, 'charts');
  await mkdir(charts);
  await writeCharts(charts, { 'traffic-light.yaml': TRAFFIC_LIGHT, 'gated.yaml': GATED });
  await copyFile('charts/backup-request.yaml', join(charts, 'backup-request.yaml'));
  // A zone that takes every order, so requests reach Sent and wait for a result.
  zone = await startTakingZone();
  process.env['CHARTD_AUTH_TEST_ZONE'] = ZONE_TOKEN;
  process.env['CHARTD_AUTH_TEST_RESULTS'] = RESULTS_TOKEN;
  const backupConfig = await zone.writeConfig(dir, { zoneToken: 'CHARTD_AUTH_TEST_ZONE', resultsToken: 'CHARTD_AUTH_TEST_RESULTS' });
  await writeFile(join(dir, 'auth.yaml'), AUTH);
  server = await startTestServer({
    chartDir: charts, dataDir: join(dir, 'data'), defaultChart: 'traffic-light',
    authFile: join(dir, 'auth.yaml'), backupConfig,
  });
  await server.engine.runtime.create('gated', 'g1', {});
});

afterAll(async () => {
  await server?.close();
  await zone?.close();
  await removeDir(dir);
});

/** A string body is a chart's YAML; anything else goes as JSON. */
function call(method: string, path: string, token?: string, body?: unknown): Promise<Response> {
  const type = typeof body === 'string' ? 'application/yaml' : 'application/json';
  return fetch(`${server.url}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': type } : {}) },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
}

interface Answer {
  readonly id: string;
  readonly error: { readonly code: string; readonly message: string };
  readonly access: unknown;
}
const body = (answer: Response): Promise<Answer> => answer.json() as Promise<Answer>;

/** The request's snapshot once `test` holds: now, or at the commit that makes it hold (checked and awaited in one turn). */
function reach(id: string, test: (snapshot: Snapshot) => boolean): Promise<Snapshot | undefined> {
  return server.engine.runtime.waitFor('backup-request', id, test, 10_000);
}

/** Everything a refused request could have changed. */
async function footprint(): Promise<string> {
  const { runtime } = server.engine;
  return JSON.stringify({
    charts: runtime.chartNames().map((name) => runtime.chart(name).version),
    light: (await runtime.snapshot('traffic-light', 'default')).revision,
    gated: (await runtime.instances('gated')).map((s) => [s.id, s.revision]),
    requests: (await runtime.instances('backup-request')).length,
    inbox: await server.engine.backup!.controller.inbox.size(),
  });
}

const result = (requestId: string, ok: boolean) => ({
  requestId, zone: 'east', ok, failures: ok ? [] : ['Failure: acme db.internal sales backup_data: pg_dump: connection refused'],
  startedAt: '2026-11-21T01:00:00.000Z', finishedAt: '2026-11-21T01:05:00.000Z',
});

// Each write route, the token that may use it, one that may not, and the answer the right one gets.
const WRITES: { name: string; method: string; path: string; body?: unknown; right: () => string; wrong: () => string; ok: number[] }[] = [
  { name: 'PUT /state (default chart)', method: 'PUT', path: '/state?state=green_state', right: () => tokens.writer, wrong: () => tokens.reader, ok: [200] },
  { name: 'PUT /charts/:chart/state', method: 'PUT', path: '/charts/traffic-light/state?state=red_state', right: () => tokens.writer, wrong: () => tokens.fleet, ok: [200] },
  { name: 'PUT /charts/:chart/instances/:id/state', method: 'PUT', path: '/charts/gated/instances/g1/state?state=open&by=web7', right: () => tokens.fleet, wrong: () => tokens.requester, ok: [200] },
  { name: 'POST /charts/:chart/instances', method: 'POST', path: '/charts/gated/instances', body: { id: 'g2' }, right: () => tokens.writer, wrong: () => tokens.reader, ok: [201] },
  { name: 'POST /charts/:chart/instances/:id/events/:event', method: 'POST', path: '/charts/gated/instances/g2/events/abort', right: () => tokens.ops, wrong: () => tokens.reader, ok: [200] },
  { name: 'POST /charts/:chart/instances/:id/restart', method: 'POST', path: '/charts/gated/instances/g2/restart', right: () => tokens.writer, wrong: () => tokens.requester, ok: [200] },
  { name: 'POST /charts/:chart/instances/:id/cancel', method: 'POST', path: '/charts/gated/instances/g2/cancel', body: { reason: 'test' }, right: () => tokens.writer, wrong: () => tokens.reader, ok: [200] },
  { name: 'DELETE /charts/:chart/instances/:id', method: 'DELETE', path: '/charts/gated/instances/g2', right: () => tokens.writer, wrong: () => tokens.requester, ok: [200] },
  { name: 'PUT /charts/:chart', method: 'PUT', path: '/charts/applied', body: GATED.replace('chart: gated', 'chart: applied'), right: () => tokens.ops, wrong: () => tokens.writer, ok: [201] },
  { name: 'DELETE /charts/:chart', method: 'DELETE', path: '/charts/applied', body: { unsafe_paraphrase: "I know what I'm doing!" }, right: () => tokens.ops, wrong: () => tokens.writer, ok: [200] },
  { name: 'POST /charts/reload', method: 'POST', path: '/charts/reload', right: () => tokens.ops, wrong: () => tokens.writer, ok: [200] },
  {
    name: 'POST /backup-requests', method: 'POST', path: '/backup-requests', body: { apiVersion: 'v1', backupJobId: 'nightly', dataDate: '2026-11-21' },
    right: () => tokens.requester, wrong: () => tokens.writer, ok: [202],
  },
  { name: 'POST /zone-results', method: 'POST', path: '/zone-results', body: result('no-such-request', false), right: () => RESULTS_TOKEN, wrong: () => tokens.ops, ok: [202, 404] },
];

describe.sequential('every write route', () => {
  for (const route of WRITES) {
    it(`${route.name}: 401 without a token or with an unknown one, 403 out of scope, and nothing changes; the right token gets through`, async () => {
      const before = await footprint();
      const none = await call(route.method, route.path, undefined, route.body);
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toBe('Bearer realm="chartd"');
      expect((await body(none)).error.code).toBe('unauthorized');

      const unknown = await call(route.method, route.path, UNKNOWN, route.body);
      expect(unknown.status).toBe(401);
      expect(unknown.headers.get('www-authenticate')).toBe('Bearer realm="chartd", error="invalid_token"');

      const wrong = await call(route.method, route.path, route.wrong(), route.body);
      expect(wrong.status).toBe(403);
      const refusal = (await body(wrong)).error;
      expect(refusal.code).toBe('forbidden');
      expect(refusal.message).toMatch(/^token \S+ may not do this: it needs the scope (write on chart \S+|results|admin)/);
      expect(await footprint()).toBe(before);

      const right = await call(route.method, route.path, route.right(), route.body);
      expect(route.ok).toContain(right.status);
    });
  }
});

describe('reads', () => {
  it('need a token with the read scope here; /healthz needs none and says how access works', async () => {
    expect((await call('GET', '/state?state=green_state')).status).toBe(401);
    expect((await call('GET', '/charts')).status).toBe(401);
    expect((await call('GET', '/charts', tokens.requester)).status).toBe(403);
    expect((await call('GET', '/charts', tokens.reader)).status).toBe(200);
    expect((await call('GET', '/charts/gated/instances/g1/events', tokens.web1)).status).toBe(403);
    const health = await call('GET', '/healthz');
    expect(health.status).toBe(200);
    expect((await body(health)).access).toEqual({ authentication: 'tokens', reads: 'token' });
  });

  it('an unauthenticated caller hears nothing of the charts, not even in a 404', async () => {
    const answer = await call('GET', '/charts/no-such-chart');
    expect(answer.status).toBe(401);
    expect(await answer.text()).not.toContain('gated');
  });
});

describe('who did it', () => {
  it('records the token\'s name with the caller in each transition; a token bound to one caller speaks for it', async () => {
    await server.engine.runtime.create('gated', 'g3', {});
    const path = '/charts/gated/instances/g3/state?state=open';
    expect((await call('PUT', path, tokens.web1)).status).toBe(200);
    expect((await server.engine.runtime.snapshot('gated', 'g3')).callers).toEqual(['web1']);
    const refused = await call('PUT', `${path}&by=web2`, tokens.web1);
    expect(refused.status).toBe(403);
    expect((await body(refused)).error).toEqual({ code: 'caller_not_allowed', message: 'token web1 may speak only for the callers web1; by=web2 is not one of them' });
    expect((await call('PUT', `${path}&by=db1`, tokens.fleet)).status).toBe(403);
    for (const host of ['web2', 'web3', 'web4']) expect((await call('PUT', `${path}&by=${host}`, tokens.fleet)).status).toBe(200);
    const created = await call('POST', '/charts/gated/instances', tokens.writer, { id: 'g4' });
    expect(created.status).toBe(201);
    expect((await call('POST', '/charts/gated/instances/g4/events/abort?by=web9', tokens.fleet)).status).toBe(200);
    expect((await call('PUT', `${path}&by=web5`, tokens.fleet)).status).toBe(200);
    const { runtime } = server.engine;
    const history = await runtime.history(await runtime.snapshot('gated', 'g3'));
    expect(history.at(-1)).toMatchObject({ from: 'open', to: 'done', cause: 'put', caller: 'web5', token: 'fleet' });
    expect((await runtime.history(await runtime.snapshot('gated', 'g4'))).map((entry) => [entry.cause, entry.caller, entry.token])).toEqual([
      ['create', undefined, 'writer'], ['event:abort', 'web9', 'fleet'],
    ]);
  });
});

describe('the backup-request chart belongs to the controller', () => {
  it('no token, not even admin, creates, moves or sends events to a request through the generic routes; the zone\'s result decides', async () => {
    const asked = await call('POST', '/backup-requests', tokens.requester, { apiVersion: 'v1', backupJobId: 'nightly', dataDate: '2026-11-22' });
    expect(asked.status).toBe(202);
    const id = (await body(asked)).id;
    const sent = await reach(id, (s) => s.state === 'Sent');
    expect(sent?.state).toBe('Sent');

    const before = await footprint();
    const forgeries = [
      call('POST', `/charts/backup-request/instances/${id}/events/succeeded`, tokens.ops),
      call('PUT', `/charts/backup-request/instances/${id}/state?state=Sent&event=failed`, tokens.ops),
      call('PUT', `/charts/backup-request/instances/${id}/state?state=Sent&event=succeeded`, tokens.ops),
      call('POST', '/charts/backup-request/instances', tokens.ops, { id: 'forged', context: { apiVersion: 'v1', backupJobId: 'nightly', dataDate: '2026-11-22', transport: 'http' } }),
      call('PUT', '/charts/backup-request/state?state=Received', tokens.ops),
      call('POST', `/charts/backup-request/instances/${id}/cancel`, tokens.ops),
      call('POST', `/charts/backup-request/instances/${id}/restart`, tokens.ops),
      call('DELETE', `/charts/backup-request/instances/${id}`, tokens.ops),
      call('POST', `/charts/backup-request/instances/${id}/events/succeeded`),
    ];
    const answers = await Promise.all(forgeries);
    expect(answers.map((answer) => answer.status)).toEqual([403, 403, 403, 403, 403, 403, 403, 403, 401]);
    const refusal = (await body(answers[0]!)).error;
    expect(refusal).toEqual({
      code: 'owned_by_service',
      message: 'chart backup-request is driven by the backup-controller: its instances are created and moved only by that service; use POST /backup-requests',
    });
    expect(await footprint()).toBe(before);
    expect((await server.engine.runtime.snapshot('backup-request', id)).state).toBe('Sent');

    const delivered = await call('POST', '/zone-results', RESULTS_TOKEN, result(id, false));
    expect(delivered.status).toBe(202);
    const done = await reach(id, (s) => s.status === 'done');
    expect(done?.state).toBe('Failed');
    expect((await server.engine.runtime.history(done!)).at(-1)).toMatchObject({ cause: 'event:failed' });
  });
});

describe('one door', () => {
  it('every route of the server passes through the guard first', () => {
    const routers = server.app.middleware.map((middleware) => (middleware as { router?: { stack: { path: string; methods: string[]; stack: unknown[] }[] } }).router).filter((router) => router !== undefined);
    expect(routers).toHaveLength(1);
    const layers = routers[0]!.stack;
    expect(layers.length).toBeGreaterThan(20);
    const unguarded = layers.filter((layer) => !isGuard(layer.stack[0])).map((layer) => `${layer.methods.join(',')} ${layer.path}`);
    expect(unguarded).toEqual([]);
    expect(layers.map((layer) => layer.path)).toEqual(expect.arrayContaining(['/healthz', '/charts/:chart/instances', '/backup-requests', '/zone-results']));
  });
});

describe('reads: open', () => {
  it('lets anyone read and still refuses every write without a token', async () => {
    const data = await tempDir('chartd-auth-open-');
    await writeFile(join(data, 'auth.yaml'), `reads: open\ntokens:\n  ops: { hash: '${hashOf(tokens.ops)}', scopes: [admin] }\n`);
    const open = await startTestServer({ chartDir: join(dir, 'charts'), dataDir: join(data, 'data'), defaultChart: 'traffic-light', authFile: join(data, 'auth.yaml') });
    try {
      const at = (method: string, path: string, token?: string) => fetch(`${open.url}${path}`, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });
      expect((await at('GET', '/state?state=green_state')).status).toBe(200);
      expect((await at('GET', '/charts/gated/instances')).status).toBe(200);
      expect((await at('PUT', '/state?state=green_state')).status).toBe(401);
      expect((await at('PUT', '/state?state=green_state', tokens.ops)).status).toBe(200);
      expect(((await (await at('GET', '/healthz')).json()) as { access: unknown }).access).toEqual({ authentication: 'tokens', reads: 'open' });
    } finally {
      await open.close();
      await removeDir(data);
    }
  });
});

// What the dashboard reads besides the long-standing routes: /access, /overview, counts and source of a chart, the
// instance list by last change, changes that move no state on the watch stream, and the page's files at /ui/.

import { writeFile } from 'node:fs/promises';
import { get as httpGet } from 'node:http';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import Koa from 'koa';
import Router from '@koa/router';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashOf, newToken } from '../../src/access/tokens.js';
import { AccessPolicy } from '../../src/access/policy.js';
import { createLogger } from '../../src/log.js';
import { errorAnswer, errorMiddleware } from '../../src/http/errors.js';
import { Guard, guardRoutes } from '../../src/http/guard.js';
import { dashboardRoutes } from '../../src/http/routes/dashboard.js';
import { instanceKey } from '../../src/runtime/runtime.js';
import { GATED, writeDashboardCharts } from '../support/dashboardCharts.js';
import { removeDir, startTestServer, tempDir, type TestServer } from '../support/server.js';
import { EventStream } from '../support/sse.js';

const tokens = { ops: newToken(), reader: newToken(), fleet: newToken(), web1: newToken() };

let dir: string;
let server: TestServer;

beforeAll(async () => {
  dir = await tempDir('chartd-dashboard-api-');
  const charts = await writeDashboardCharts(dir);
  await writeFile(join(dir, 'auth.yaml'), `reads: token
tokens:
  ops: { hash: '${hashOf(tokens.ops)}', scopes: [admin] }
  reader: { hash: '${hashOf(tokens.reader)}', scopes: [read] }
  fleet: { hash: '${hashOf(tokens.fleet)}', scopes: [read, { write: [gated, 'traffic-*'] }], callers: ['web*'] }
  web1: { hash: '${hashOf(tokens.web1)}', scopes: [{ write: [gated] }], callers: [web1] }
`);
  server = await startTestServer({ chartDir: charts, dataDir: join(dir, 'data'), authFile: join(dir, 'auth.yaml') });
  const { runtime } = server.engine;
  for (const id of ['g1', 'g2', 'g3']) await runtime.create('gated', id, {});
  await runtime.create('watchdog', 'w1', {});
  if ((await runtime.snapshot('watchdog', 'w1')).state !== 'late') {
    await runtime.waiters.wait(instanceKey('watchdog', 'w1'), (s) => s.state === 'late', 5000);
  }
});

afterAll(async () => {
  await server?.close();
  await removeDir(dir);
});

const get = (path: string, token?: string) => request(server.url).get(path).set(token ? { authorization: `Bearer ${token}` } : {});

describe('GET /access', () => {
  it('says what the presented token may do, and never echoes the token', async () => {
    const answer = await get('/access', tokens.fleet);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      authentication: 'tokens', reads: 'token', token: 'fleet', scopes: ['read', 'write:gated,traffic-*'], callers: ['web*'], caller: null,
      read: true, admin: false, write: ['gated', 'traffic-light'], services: [],
    });
    expect(answer.text).not.toContain(tokens.fleet);
    expect((await get('/access', tokens.web1)).body).toMatchObject({ token: 'web1', caller: 'web1', read: false, write: ['gated'] });
  });

  it('needs no token, names no one without one, and refuses an unknown token', async () => {
    expect((await get('/access')).body).toMatchObject({ authentication: 'tokens', reads: 'token', token: null, scopes: [], read: false, write: [] });
    expect((await get('/access', newToken())).status).toBe(401);
  });

  it('leaves out of write the charts a service drives, even for admin', async () => {
    const { body } = await get('/access', tokens.ops);
    expect(body).toMatchObject({ admin: true, read: true, write: ['gated', 'traffic-light', 'watchdog'] });
  });
});

describe('GET /overview', () => {
  it('gives each chart its counts by state and status, and the instances needing a look', async () => {
    const { status, body } = await get('/overview', tokens.reader);
    expect(status).toBe(200);
    const gated = body.charts.find((chart: { name: string }) => chart.name === 'gated');
    expect(gated).toMatchObject({ name: 'gated', instances: 4, owner: null, counts: { total: 4, active: 4, done: 0, byState: { wait: { active: 4, done: 0 } } } });
    expect(body.charts.find((chart: { name: string }) => chart.name === 'backup-request').owner).toBe('backup-controller');
    expect(body.attention.instances).toEqual(expect.arrayContaining([
      expect.objectContaining({ chart: 'watchdog', id: 'w1', reason: 'failed', state: 'late', failure: expect.objectContaining({ node: 'waiting' }) }),
    ]));
    expect(body.store).toEqual({ ok: true });
    // The background services with their states; no alerts or backup controller run here.
    expect(body.services.map((service: { name: string; state: string }) => [service.name, service.state])).toEqual([['checkpointer', 'running'], ['timers', 'running'], ['steps', 'running']]);
  });

  it('needs the read scope', async () => {
    expect((await get('/overview')).status).toBe(401);
    expect((await get('/overview', tokens.web1)).status).toBe(403);
  });
});

describe('a chart', () => {
  it('GET /charts/:chart carries its counts; GET /charts/:chart/source its YAML as loaded, with its version', async () => {
    const { body } = await get('/charts/gated', tokens.reader);
    expect(body.counts.byState.wait.active).toBe(4);
    const source = await get('/charts/gated/source', tokens.reader);
    expect(source.status).toBe(200);
    expect(source.headers['content-type']).toBe('text/yaml; charset=utf-8');
    expect(source.headers['x-chartd-version']).toBe(body.version);
    expect(source.text).toBe(GATED);
    expect((await get('/charts/gated/source')).status).toBe(401);
  });

  it('lists instances by last change, newest first, a page at a time, with filters', async () => {
    const put = await request(server.url).put('/charts/gated/instances/g2/state?state=wait&by=web9').set({ authorization: `Bearer ${tokens.fleet}` });
    expect(put.status).toBe(200);
    const first = await get('/charts/gated/instances?order=changed&limit=2&status=active', tokens.reader);
    expect(first.body.instances.map((row: { id: string }) => row.id)[0]).toBe('g2');
    expect(first.body.next).toMatch(/^\/charts\/gated\/instances\?status=active&order=changed&after=\d+\.[^&]+&limit=2$/);
    const rest = await get(first.body.next, tokens.reader);
    const ids = [...first.body.instances, ...rest.body.instances].map((row: { id: string }) => row.id);
    expect(ids.sort()).toEqual(['default', 'g1', 'g2', 'g3']);
    expect(rest.body.next).toBeNull();
  });

  it('refuses an unknown order or a cursor it did not write', async () => {
    expect((await get('/charts/gated/instances?order=name', tokens.reader)).body.error.message).toMatch(/order must be id or changed/);
    expect((await get('/charts/gated/instances?order=changed&after=g1', tokens.reader)).status).toBe(400);
  });
});

describe('the watch stream', () => {
  it('sends a change that moves no state (a check-in a gate counted) as a revision event without an id', async () => {
    const stream = await EventStream.open(`${server.url}/charts/gated/instances/g3/events`, { authorization: `Bearer ${tokens.reader}` });
    try {
      const put = await request(server.url).put('/charts/gated/instances/g3/state?state=wait').set({ authorization: `Bearer ${tokens.web1}` });
      expect(put.status).toBe(200);
      await stream.until((s) => s.events.some((event) => event.event === 'revision'));
      const event = stream.events.find((each) => each.event === 'revision')!;
      expect(event.id).toBeUndefined();
      expect(JSON.parse(event.data)).toMatchObject({ chart: 'gated', instance: 'g3', state: 'wait', counter: 1, callers: ['web1'], revision: 2 });
      expect(stream.transitions()).toEqual([]);
    } finally {
      stream.close();
    }
  });
});

describe('the dashboard files at /ui/', () => {
  it('serve the page for every view path without a token, with a policy that lets it run only its own script', async () => {
    for (const path of ['/ui/', '/ui/charts/gated/instances/g1', '/ui/sign-in']) {
      const page = await get(path);
      expect(page.status, path).toBe(200);
      expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(page.text).toContain('<script type="module" src="/ui/assets/app.js">');
      expect(page.headers['content-security-policy']).toContain("script-src 'self'");
      expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    }
    const bare = await get('/ui');
    expect(bare.status).toBe(302);
    expect(bare.headers['location']).toBe('/ui/');
  });

  it('serve the script gzipped when asked, and 304 while it has not changed', async () => {
    const plain = await get('/ui/assets/app.js').set('accept-encoding', 'identity');
    expect(plain.headers['content-type']).toBe('text/javascript; charset=utf-8');
    // Read as it travels (supertest and fetch would unzip it).
    const zipped = await new Promise<{ encoding: string | undefined; body: Buffer }>((resolve, reject) => {
      httpGet(`${server.url}/ui/assets/app.js`, { headers: { 'accept-encoding': 'gzip' } }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ encoding: response.headers['content-encoding'], body: Buffer.concat(chunks) }));
      }).on('error', reject);
    });
    expect(zipped.encoding).toBe('gzip');
    expect(zipped.body.length).toBeLessThan(plain.text.length / 2);
    expect(gunzipSync(zipped.body).toString()).toBe(plain.text);
    const again = await get('/ui/assets/app.js').set('if-none-match', plain.headers['etag']!);
    expect(again.status).toBe(304);
    const missing = await get('/ui/assets/nothing.js');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
  });

  it('answer 404 saying how to build them when the copy of chartd was not built', async () => {
    const app = new Koa();
    const log = createLogger('silent');
    app.use(errorMiddleware(log, errorAnswer(log)));
    const router = new Router();
    dashboardRoutes(guardRoutes(router, new Guard({ policy: AccessPolicy.open(), log, realm: 'test' })), join(dir, 'not-built'));
    app.use(router.routes());
    const answer = await request(app.callback()).get('/ui/');
    expect(answer.status).toBe(404);
    expect(answer.body.error.message).toMatch(/the dashboard is not built .* run npm run build/);
  });
});

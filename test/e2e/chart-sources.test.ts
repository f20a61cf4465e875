// Charts changed while serving, on a real server behind --auth: PUT and DELETE /charts/:chart, POST /charts/reload (also
// under a load of concurrent check-ins), and the client commands chartd apply and chartd charts.

import { readAll } from '../../src/store/readAll.js';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashOf, newToken } from '../../src/access/tokens.js';
import type { Snapshot } from '../../src/engine/snapshot.js';
import { UNSAFE_PARAPHRASE } from '../../src/http/routes/chartSources.js';
import { runCli } from '../support/child.js';
import { gateChart, removeDir, startTestServer, tempDir, writeCharts, type TestServer } from '../support/server.js';

const tokens = { ops: newToken(), writer: newToken(), reader: newToken() };
const AUTH = `tokens:
  ops: { hash: '${hashOf(tokens.ops)}', scopes: [admin] }
  writer: { hash: '${hashOf(tokens.writer)}', scopes: [read, { write: ['*'] }] }
  reader: { hash: '${hashOf(tokens.reader)}', scopes: [read] }
`;

/** A chart `deploy` whose gate opens after `count` check-ins; `via` puts a state between the gate and done. */
const deploy = (count: number, via?: string) => `chart: deploy
initial: wait
states:
  wait: { gate: { count: ${count} }, next: ${via ?? 'done'} }
${via ? `  ${via}: { gate: { count: 1 }, next: done }\n` : ''}  done: { final: true }
`;
const BROKEN = `chart: deploy
initial: wait
states:
  wait: { gate: { count: 0 }, next: nowhere }
  done: { final: true }
`;

let dir: string;
let chartDir: string;
let server: TestServer;

beforeAll(async () => {
  dir = await tempDir('chartd-sources-');
  chartDir = join(dir, 'charts');
  await writeCharts(dir, { 'auth.yaml': AUTH });
  await import('node:fs/promises').then(({ mkdir }) => mkdir(chartDir));
  await writeCharts(chartDir, { 'gates.yaml': gateChart(1_000_000) });
  server = await startTestServer({ chartDir, dataDir: join(dir, 'data'), authFile: join(dir, 'auth.yaml') });
});

afterAll(async () => {
  await server?.close();
  await removeDir(dir);
});

async function call(method: string, path: string, token: string | undefined, body?: string, type = 'application/yaml'): Promise<{ status: number; body: any }> {
  const answer = await fetch(`${server.url}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': type } : {}) },
    ...(body !== undefined ? { body } : {}),
  });
  const text = await answer.text();
  return { status: answer.status, body: answer.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text };
}

/** Writes a chart file whole, as an editor saving it would (a reader never sees half of it). */
async function saveChart(file: string, text: string): Promise<void> {
  await writeFile(`${file}.new`, text);
  await rename(`${file}.new`, file);
}

describe('PUT /charts/:chart', () => {
  it('validates, serves at once and keeps the chart; answers every problem as chartd validate prints them', async () => {
    const file = join(dir, 'deploy.yaml');
    await writeFile(file, BROKEN);
    const validate = await runCli(['validate', file]);
    const expected = validate.stdout.trim().split('\n').filter((line) => line.startsWith(file)).map((line) => line.replace(file, 'PUT /charts/deploy'));
    expect(expected.length).toBeGreaterThan(1);
    const refused = await call('PUT', '/charts/deploy', tokens.ops, BROKEN);
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe('chart_invalid');
    expect(refused.body.error.problems).toEqual(expected);
    expect((await call('GET', '/charts/deploy', tokens.reader)).status).toBe(404);

    const created = await call('PUT', '/charts/deploy', tokens.ops, deploy(2));
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'deploy', source: 'applied', file: 'PUT /charts/deploy', created: true, unchanged: false });
    const source = await call('GET', '/charts/deploy/source', tokens.reader);
    expect(source).toMatchObject({ status: 200, body: deploy(2) });
    expect((await call('PUT', '/charts/deploy', tokens.ops, deploy(2))).body).toMatchObject({ created: false, unchanged: true });
    const charts = await call('GET', '/charts', tokens.reader);
    expect(charts.body.charts.map((chart: { name: string; source: string }) => [chart.name, chart.source])).toEqual([['deploy', 'applied'], ['gates', 'file']]);
  });

  it('needs the admin scope, a YAML type, and a body within the size of a chart file; a --chart file\'s name is refused', async () => {
    expect((await call('PUT', '/charts/other', undefined, deploy(1))).status).toBe(401);
    expect((await call('PUT', '/charts/other', tokens.writer, deploy(1))).status).toBe(403);
    expect((await call('PUT', '/charts/other', tokens.ops, deploy(1), 'application/json')).status).toBe(415);
    expect((await call('PUT', '/charts/other', tokens.ops, deploy(1), 'text/yaml; charset=latin1')).status).toBe(415);
    const big = `${deploy(1)}# ${'x'.repeat(1024 * 1024)}\n`;
    expect((await call('PUT', '/charts/other', tokens.ops, big)).status).toBe(413);
    expect((await call('PUT', '/charts/other', tokens.ops, '')).status).toBe(400);
    const file = await call('PUT', '/charts/gates', tokens.ops, gateChart(3));
    expect(file).toMatchObject({ status: 409, body: { error: { code: 'chart_in_file' } } });
    expect((await call('GET', '/charts/other', tokens.reader)).status).toBe(404);
  });

  it('serves a new version to new instances while those running stay on theirs', async () => {
    await call('POST', '/charts/deploy/instances', tokens.writer, JSON.stringify({ id: 'before' }), 'application/json');
    expect((await call('PUT', '/charts/deploy', tokens.ops, deploy(1, 'verify'))).status).toBe(200);
    await call('POST', '/charts/deploy/instances', tokens.writer, JSON.stringify({ id: 'after' }), 'application/json');
    expect((await call('PUT', '/charts/deploy/instances/before/state?state=wait', tokens.writer)).status).toBe(200);
    expect((await call('PUT', '/charts/deploy/instances/before/state?state=wait', tokens.writer)).status).toBe(200);
    expect((await call('GET', '/charts/deploy/instances/before', tokens.reader)).body.state).toBe('done');
    expect((await call('PUT', '/charts/deploy/instances/after/state?state=wait', tokens.writer)).status).toBe(200);
    expect((await call('GET', '/charts/deploy/instances/after', tokens.reader)).body.state).toBe('verify');
  });
});

describe('DELETE /charts/:chart', () => {
  it('is refused while the chart has active instances, unless the phrase is sent exactly; then they are cancelled saying why', async () => {
    const active = await call('DELETE', '/charts/deploy', tokens.ops);
    expect(active.status).toBe(409);
    expect(active.body.error).toMatchObject({ code: 'chart_has_active_instances' });
    expect(active.body.error.message).toContain(`"unsafe_paraphrase": "${UNSAFE_PARAPHRASE}"`);
    const sloppy = await call('DELETE', '/charts/deploy', tokens.ops, JSON.stringify({ unsafe_paraphrase: "i know what i'm doing!" }), 'application/json');
    expect(sloppy).toMatchObject({ status: 400, body: { error: { code: 'wrong_paraphrase' } } });
    expect((await call('DELETE', '/charts/deploy', tokens.writer, JSON.stringify({ unsafe_paraphrase: UNSAFE_PARAPHRASE }), 'application/json')).status).toBe(403);
    expect((await call('DELETE', '/charts/gates', tokens.ops)).body.error.code).toBe('chart_in_file');
    expect((await call('GET', '/charts/deploy', tokens.reader)).status).toBe(200);

    const deleted = await call('DELETE', '/charts/deploy', tokens.ops, JSON.stringify({ unsafe_paraphrase: UNSAFE_PARAPHRASE, reason: 'replaced by deploy-v2' }), 'application/json');
    expect(deleted).toMatchObject({ status: 200, body: { deleted: 'deploy', cancelled: 2 } });
    expect((await call('GET', '/charts/deploy', tokens.reader)).status).toBe(404);
    const kept = await readAll<Snapshot>(server.engine.store, 'instances', 'deploy/');
    expect(kept.map((snapshot) => [snapshot.id, snapshot.status, snapshot.cancelled?.reason ?? null, snapshot.cancelled?.token ?? null])).toEqual([
      ['after', 'cancelled', 'chart deploy was deleted: replaced by deploy-v2', 'ops'],
      ['before', 'done', null, null],
      ['default', 'cancelled', 'chart deploy was deleted: replaced by deploy-v2', 'ops'],
    ]);
  });
});

describe('POST /charts/reload', () => {
  it('re-reads the --chart files: every problem answered and nothing changed, or all of it served', async () => {
    expect((await call('POST', '/charts/reload', tokens.writer)).status).toBe(403);
    await saveChart(join(chartDir, 'broken.yaml'), BROKEN.replace('chart: deploy', 'chart: broken'));
    const refused = await call('POST', '/charts/reload', tokens.ops);
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe('reload_refused');
    expect(refused.body.error.problems).toHaveLength(2);
    expect(refused.body.error.problems.every((line: string) => line.startsWith(`${join(chartDir, 'broken.yaml')}:4: `))).toBe(true);
    expect((await call('GET', '/charts/broken', tokens.reader)).status).toBe(404);
    await removeDir(join(chartDir, 'broken.yaml'));
    await saveChart(join(chartDir, 'added.yaml'), gateChart(1).replace('chart: gates', 'chart: added'));
    const reloaded = await call('POST', '/charts/reload', tokens.ops);
    expect(reloaded).toMatchObject({ status: 200, body: { added: ['added'], changed: [], removed: [], charts: ['added', 'gates'] } });
  });

  it('under a load of concurrent check-ins: no request fails, old instances stay on their version, new ones start on the new', async () => {
    const file = join(chartDir, 'gates.yaml');
    const ids = Array.from({ length: 16 }, (_, index) => `old-${index}`);
    for (const id of ids) await call('POST', '/charts/gates/instances', tokens.writer, JSON.stringify({ id }), 'application/json');
    const first = server.engine.runtime.chart('gates').version;
    const answers = new Map<string, number[]>(ids.map((id) => [id, []]));
    let running = true;
    const workers = ids.map(async (id) => {
      while (running) answers.get(id)!.push((await call('PUT', `/charts/gates/instances/${id}/state?state=wait`, tokens.writer)).status);
    });
    const versions: string[] = [first];
    try {
      for (const count of [2_000_000, 3_000_000, 4_000_000]) {
        await saveChart(file, gateChart(count));
        const reloaded = await call('POST', '/charts/reload', tokens.ops);
        expect(reloaded).toMatchObject({ status: 200, body: { changed: [{ name: 'gates' }] } });
        versions.push(server.engine.runtime.chart('gates').version);
        const created = await call('POST', '/charts/gates/instances', tokens.writer, JSON.stringify({ id: `new-${count}` }), 'application/json');
        expect(created.body.version).toBe(versions.at(-1));
      }
    } finally {
      running = false;
      await Promise.all(workers);
    }
    const statuses = [...answers.values()].flat();
    expect(statuses.length).toBeGreaterThan(100);
    expect(new Set(statuses)).toEqual(new Set([200]));
    expect(new Set(versions).size).toBe(4);
    for (const id of ids) {
      const snapshot = (await server.engine.runtime.snapshot('gates', id));
      expect(snapshot.version).toBe(first);
      expect(snapshot.counter).toBe(answers.get(id)!.length);
    }
  });
});

describe('a reload re-reads --auth', () => {
  it('with the charts: a token added works at once; a broken auth file refuses the whole reload and the tokens stay as they were', async () => {
    const added = newToken();
    const auth = join(dir, 'auth.yaml');
    expect((await call('GET', '/charts', added)).status).toBe(401);
    await writeFile(auth, `${AUTH}  auditor: { hash: '${hashOf(added)}', scopes: [read] }\n`);
    expect((await call('POST', '/charts/reload', tokens.ops)).status).toBe(200);
    expect((await call('GET', '/charts', added)).status).toBe(200);

    await writeFile(auth, `${AUTH}  auditor: { hash: '${hashOf(added)}', scopes: [reed] }\n`);
    await saveChart(join(chartDir, 'later.yaml'), gateChart(1).replace('chart: gates', 'chart: later'));
    const refused = await call('POST', '/charts/reload', tokens.ops);
    expect(refused.status).toBe(400);
    expect(refused.body.error.problems).toEqual([expect.stringMatching(new RegExp(`^${auth}:5: tokens\\.auditor\\.scopes\\[0\\]: `))]);
    expect((await call('GET', '/charts/later', tokens.reader)).status).toBe(404);
    expect((await call('GET', '/charts', added)).status).toBe(200);
    await writeFile(auth, AUTH);
    await removeDir(join(chartDir, 'later.yaml'));
    expect((await call('POST', '/charts/reload', tokens.ops)).status).toBe(200);
    expect((await call('GET', '/charts', added)).status).toBe(401);
  });
});

describe('chartd apply and chartd charts', () => {
  it('send a chart with the token of CHARTD_TOKEN or --token-file, print problems as validate does, and list what is served', async () => {
    const file = join(dir, 'release.yaml');
    await writeFile(file, BROKEN.replace('chart: deploy', 'chart: release'));
    const validate = await runCli(['validate', file]);
    const refused = await runCli(['apply', file, '--server', server.url], { CHARTD_TOKEN: tokens.ops });
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe(validate.stdout);

    await writeFile(file, deploy(1).replace('chart: deploy', 'chart: release'));
    const forbidden = await runCli(['apply', file, '--server', server.url], { CHARTD_TOKEN: tokens.reader });
    expect(forbidden.code).toBe(2);
    expect(forbidden.stderr).toMatch(/answered 403: token reader may not do this: it needs the scope admin/);
    await writeFile(join(dir, 'ops.token'), `${tokens.ops}\n`);
    const applied = await runCli(['apply', file, '--server', server.url, '--token-file', join(dir, 'ops.token')], { CHARTD_TOKEN: '' });
    expect(applied).toMatchObject({ code: 0, stderr: '' });
    expect(applied.stdout).toMatch(new RegExp(`^applied ${file}: chart release version [0-9a-f]{16}, served as a new chart\\n$`));

    const listed = await runCli(['charts', '--server', server.url], { CHARTD_TOKEN: tokens.reader });
    expect(listed.code).toBe(0);
    const rows = listed.stdout.trim().split('\n').map((line) => line.split(/\s+/));
    expect(rows[0]).toEqual(['NAME', 'VERSION', 'SOURCE', 'ACTIVE', 'DONE', 'CANCELLED', 'FILE']);
    expect(rows.slice(1).map((row) => row.slice(0, 3).concat(row.slice(3, 6)).filter((_, index) => index !== 1))).toEqual([
      ['added', 'file', '1', '0', '0'], ['gates', 'file', '20', '0', '0'], ['release', 'applied', '1', '0', '0'],
    ]);
    expect((await runCli(['charts'])).code).toBe(2);
    expect((await runCli(['apply', '--server', server.url])).stderr).toContain('chartd: apply needs FILE: the chart file');
  });
});

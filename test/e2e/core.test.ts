import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { JournalWriter } from '../../src/store/journalWriter.js';
import { gateChart, removeDir, sleep, startTestServer, tempDir, TRAFFIC_LIGHT, writeCharts, type TestServer } from '../support/server.js';
import { until } from '../support/wait.js';

let chartDir: string;
let dataDir: string;
let server: TestServer | undefined;

beforeEach(async () => {
  chartDir = await tempDir('chartd-charts-');
  dataDir = await tempDir('chartd-data-');
});

afterEach(async () => {
  vi.restoreAllMocks();
  await server?.close();
  server = undefined;
  await removeDir(chartDir);
  await removeDir(dataDir);
});

async function serve(charts: Record<string, string>, defaultChart?: string): Promise<TestServer> {
  await writeCharts(chartDir, charts);
  server = await startTestServer({ chartDir, dataDir, ...(defaultChart ? { defaultChart } : {}) });
  return server;
}

async function restart(): Promise<TestServer> {
  await server?.close();
  server = await startTestServer({ chartDir, dataDir });
  return server;
}

/** One timer state, `soak`, that moves to `done` after `after`. */
const timedChart = (after: string) => `chart: timed
initial: soak
states:
  soak:
    after: ${after}
    next: done
  done:
    final: true
`;

describe('the StateService README session', () => {
  it('answers exactly as StateService does', async () => {
    const { url } = await serve({ 'traffic-light.yaml': TRAFFIC_LIGHT });
    const first = await request(url).get('/state?state=green_state').expect(200, 'green_state');
    expect([first.headers['content-type'], first.headers['x-chartd-state'], first.headers['cache-control']]).toEqual(['text/plain; charset=utf-8', undefined, 'no-store']);
    await request(url).head('/state?state=green_state').expect(200);
    await request(url).put('/state?state=green_state').expect(200, 'green_state');
    await request(url).get('/state?state=red_state').expect(200);
    // StateService's 406 is empty; chartd's own routes say why, with the current state in a header.
    const refused = await request(url).get('/state?state=green_state').expect(406, '');
    expect([refused.headers['content-type'], refused.headers['x-chartd-revision']]).toEqual(['text/plain; charset=utf-8', undefined]);
    const explained = await request(url).get('/charts/traffic-light/state?state=green_state').expect(406, 'green_state is not current');
    expect([explained.headers['x-chartd-state'], explained.headers['x-chartd-revision']]).toEqual(['red_state', '2']);
    await request(url).head('/state?state=green_state').expect(406);
    await request(url).put('/state?state=red_state').expect(200);
    await request(url).get('/state?state=blue_state').expect(200);
    await request(url).put('/state?state=blue_state').expect(406);
    const snapshot = await request(url).get('/charts/traffic-light/instances/default').expect(200);
    expect(snapshot.body.history.map((entry: { to: string }) => entry.to)).toEqual(['green_state', 'red_state', 'blue_state']);
    expect(snapshot.headers['x-chartd-revision']).toBe('3');
  });
});

describe('gates and 406s', () => {
  it('moves a gate only when its count is reached', async () => {
    const { url } = await serve({ 'gates.yaml': gateChart(3) });
    await request(url).put('/state?state=wait').expect(200);
    await request(url).put('/charts/gates/state?state=wait').expect(200);
    await request(url).get('/state?state=wait').expect(200);
    const snapshot = await request(url).get('/charts/gates/instances/default').expect(200);
    expect(snapshot.body.counter).toBe(2);
    await request(url).put('/charts/gates/instances/default/state?state=wait').expect(200);
    await request(url).get('/state?state=open').expect(200);
    await request(url).get('/state?state=wait').expect(406);
  });

  it('refuses PUT on a state that is not current, final, or driven by a timer', async () => {
    const { url } = await serve({ 'timed.yaml': timedChart('1h') });
    await request(url).put('/state?state=soak').expect(406, '');
    const timer = await request(url).put('/charts/timed/state?state=soak').expect(406);
    expect(timer.text).toMatch(/timer/);
    await request(url).put('/state?state=done').expect(406);
    await request(url).put('/state?state=nowhere').expect(406);
    await request(url).get('/state?state=soak').expect(200);
  });

  it('counts exactly 50 of 50 concurrent PUTs on a gate of 100', async () => {
    const { url } = await serve({ 'gates.yaml': gateChart(100) });
    const answers = await Promise.all(Array.from({ length: 50 }, () => request(url).put('/state?state=wait')));
    expect(answers.every((answer) => answer.status === 200)).toBe(true);
    const snapshot = await request(url).get('/charts/gates/instances/default').expect(200);
    expect(snapshot.body.counter).toBe(50);
    expect(snapshot.body.revision).toBe(51);
  });

  it('lets exactly one of 20 racing PUTs move a gate of 1', async () => {
    const { url } = await serve({ 'gates.yaml': gateChart(1) });
    const answers = await Promise.all(Array.from({ length: 20 }, () => request(url).put('/state?state=wait')));
    expect(answers.filter((answer) => answer.status === 200)).toHaveLength(1);
    expect(answers.filter((answer) => answer.status === 406)).toHaveLength(19);
    await request(url).get('/state?state=open').expect(200);
  });
});

describe('shutdown', () => {
  it('answers a parked long-poll 503 with Retry-After, not a false 406', async () => {
    const { url } = await serve({ 'gates.yaml': gateChart(3) });
    const parked = fetch(`${url}/state?state=open&wait=60s`);
    await sleep(100);
    await server!.close();
    server = undefined;
    const answer = await parked;
    expect(answer.status).toBe(503);
    expect(answer.headers.get('retry-after')).toBe('2');
    expect(((await answer.json()) as { error: { code: string } }).error.code).toBe('shutting_down');
  });
});

describe('durability across restarts', () => {
  it('keeps state, counters and the chart version after a restart, even when the file changed', async () => {
    const { url } = await serve({ 'gates.yaml': gateChart(5) });
    await request(url).put('/state?state=wait').expect(200);
    await request(url).put('/state?state=wait').expect(200);
    const before = await request(url).get('/charts/gates/instances/default').expect(200);
    await writeFile(join(chartDir, 'gates.yaml'), gateChart(3));
    const again = await restart();
    const after = await request(again.url).get('/charts/gates/instances/default').expect(200);
    expect(after.body.counter).toBe(2);
    expect(after.body.version).toBe(before.body.version);
    const chart = await request(again.url).get('/charts/gates').expect(200);
    expect(chart.body.version).not.toBe(before.body.version);
    // Still the old version's gate of 5: three more PUTs do not open it.
    for (let i = 0; i < 2; i += 1) await request(again.url).put('/state?state=wait').expect(200);
    await request(again.url).get('/state?state=wait').expect(200);
    // A new instance starts on the new version's gate of 3.
    await request(again.url).post('/charts/gates/instances').send({ id: 'fresh' }).expect(201);
    for (let i = 0; i < 3; i += 1) await request(again.url).put('/charts/gates/instances/fresh/state?state=wait').expect(200);
    await request(again.url).get('/charts/gates/instances/fresh/state?state=open').expect(200);
    const chartFile = await readFile(join(chartDir, 'gates.yaml'), 'utf8');
    expect(chartFile).toBe(gateChart(3));
  });

  it('applies a deadline the store refused once the disk takes writes again, without a restart', async () => {
    const { url } = await serve({ 'timed.yaml': timedChart('300ms') });
    await request(url).get('/state?state=soak').expect(200);
    // The disk is full when the deadline comes due: every write for this instance fails.
    const real = JournalWriter.prototype.write;
    let refused = 0;
    vi.spyOn(JournalWriter.prototype, 'write').mockImplementation(function (this: JournalWriter, bytes: Buffer, offset: number) {
      if (!bytes.toString('utf8').includes('"timed/default"')) return real.call(this, bytes, offset);
      refused += 1;
      return Promise.reject(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
    });
    await until(() => refused >= 1, 'the deadline to be refused');
    await request(url).get('/state?state=soak').expect(200);
    vi.restoreAllMocks();
    await until(async () => (await request(url).get('/state?state=done')).status === 200, 'the deadline to be applied again', 4000);
    const snapshot = await request(url).get('/charts/timed/instances/default').expect(200);
    expect(snapshot.body.history.at(-1)).toMatchObject({ from: 'soak', to: 'done', cause: 'timer' });
  });

  it('fires a timer, and an overdue one at once after a restart', async () => {
    const { url } = await serve({ 'timed.yaml': timedChart('300ms') });
    await request(url).get('/state?state=soak').expect(200);
    await sleep(600);
    await request(url).get('/state?state=done').expect(200);

    await server!.close();
    server = undefined;
    await removeDir(dataDir);
    dataDir = await tempDir('chartd-data-');
    await writeFile(join(chartDir, 'timed.yaml'), timedChart('1s'));
    server = await startTestServer({ chartDir, dataDir });
    await request(server.url).get('/state?state=soak').expect(200);
    await server.close();
    server = undefined;
    await sleep(1300);
    const again = await restart();
    await sleep(100);
    await request(again.url).get('/state?state=done').expect(200);
    const snapshot = await request(again.url).get('/charts/timed/instances/default').expect(200);
    expect(snapshot.body.history.at(-1)).toMatchObject({ from: 'soak', to: 'done', cause: 'timer' });
  });

  it('refuses a second server on the same data directory', async () => {
    await serve({ 'traffic-light.yaml': TRAFFIC_LIGHT });
    await expect(startTestServer({ chartDir, dataDir })).rejects.toThrow(/in use/);
  });

  it('stops start-up on a corrupt data file, naming it, and resets nothing', async () => {
    const { url } = await serve({ 'traffic-light.yaml': TRAFFIC_LIGHT });
    await request(url).put('/state?state=green_state').expect(200);
    await server!.close();
    server = undefined;
    const files = await listFiles(dataDir);
    const victim = files.find((file) => /\.(json|log|jsonl)$/.test(file) && !file.endsWith('LOCK'));
    expect(victim).toBeDefined();
    const original = await readFile(victim!, 'utf8');
    await writeFile(victim!, `{ this is not json\n${original}`);
    await expect(startTestServer({ chartDir, dataDir })).rejects.toThrow(new RegExp(escape(victim!.split('/').pop()!)));
    expect(await readFile(victim!, 'utf8')).toContain('{ this is not json');
  });
});

describe('malformed requests', () => {
  it('answers 4xx with a JSON error and keeps serving', async () => {
    const { url } = await serve({ 'traffic-light.yaml': TRAFFIC_LIGHT, 'gates.yaml': gateChart(2) }, 'traffic-light');
    const cases: [() => request.Test, number, string][] = [
      [() => request(url).get('/state'), 400, 'missing_parameter'],
      [() => request(url).get('/state?state='), 400, 'bad_request'],
      [() => request(url).get('/state?state=a&state=b'), 400, 'bad_request'],
      [() => request(url).get('/state?state=drop%0Atable'), 400, 'invalid_name'],
      [() => request(url).put(`/state?state=${'x'.repeat(300)}`), 400, 'invalid_name'],
      [() => request(url).get('/charts/nope/state?state=x'), 404, 'not_found'],
      [() => request(url).get('/charts/gates/instances/nope/state?state=x'), 404, 'not_found'],
      [() => request(url).get('/charts/gates/instances/nope'), 404, 'not_found'],
      [() => request(url).post('/charts/gates/instances').set('content-type', 'application/json').send('{"id": '), 400, 'invalid_json'],
      [() => request(url).post('/charts/gates/instances').set('content-type', 'text/plain').send('id=x'), 415, 'unsupported_media_type'],
      [() => request(url).post('/charts/gates/instances').send({ id: 'bad id!' }), 400, 'invalid_name'],
      [() => request(url).post('/charts/gates/instances').send({ id: 'x', extra: 1 }), 400, 'bad_request'],
      [() => request(url).post('/charts/gates/instances').send([1, 2]), 400, 'bad_request'],
      [() => request(url).post('/charts/gates/instances').send({ id: 'big', context: { blob: 'x'.repeat(70_000) } }), 413, 'payload_too_large'],
      [() => request(url).put('/charts/gates/state?state=wait').set('content-type', 'text/plain').send('x'.repeat(70_000)), 413, 'payload_too_large'],
      [() => request(url).get('/state?state=green_state&wait=soon'), 400, 'bad_request'],
      [() => request(url).get('/nowhere'), 404, 'not_found'],
      [() => request(url).delete('/state?state=green_state'), 405, 'method_not_allowed'],
    ];
    for (const [index, [send, status, code]] of cases.entries()) {
      const answer = await send();
      expect(answer.status, `case ${index}`).toBe(status);
      expect(answer.body.error.code, `case ${index}`).toBe(code);
      expect(answer.body.error.message.length).toBeGreaterThan(10);
    }
    const deleted = await request(url).delete('/state?state=green_state').expect(405);
    expect(deleted.headers['allow']).toMatch(/GET/);
    expect(deleted.headers['allow']).toMatch(/PUT/);
    const bareBadEscape = await fetch(`${url}/charts/%E0%A4%A/state?state=x`);
    expect(bareBadEscape.status).toBeGreaterThanOrEqual(400);
    expect(bareBadEscape.status).toBeLessThan(500);
    await request(url).get('/state?state=green_state').expect(200);
    const list = await request(url).get('/charts').expect(200);
    expect(list.body.charts.map((chart: { name: string }) => chart.name)).toEqual(['gates', 'traffic-light']);
  });

  it('creates instances idempotently by id', async () => {
    const { url } = await serve({ 'gates.yaml': gateChart(2) });
    const first = await request(url).post('/charts/gates/instances').send({ id: 'r1', context: { release: '1.2' } }).expect(201);
    expect(first.headers['location']).toBe('/charts/gates/instances/r1');
    await request(url).post('/charts/gates/instances').send({ id: 'r1', context: { release: '1.2' } }).expect(200);
    await request(url).post('/charts/gates/instances').send({ id: 'r1', context: { release: '1.3' } }).expect(409);
    const generated = await request(url).post('/charts/gates/instances').send({}).expect(201);
    expect(generated.body.id).toMatch(/^\d{4}-\d{2}-\d{2}-/);
  });
});

describe('listing instances', () => {
  it('lists a chart\'s instances a page at a time, in id order, filtered by state or status', async () => {
    const { url } = await serve({ 'gates.yaml': gateChart(1) });
    const ids = Array.from({ length: 23 }, (_, n) => `r-${String(n).padStart(2, '0')}`);
    for (const id of ids) await request(url).post('/charts/gates/instances').send({ id }).expect(201);
    // Every third one is opened, which ends it.
    for (const id of ids.filter((_, n) => n % 3 === 0)) await request(url).put(`/charts/gates/instances/${id}/state?state=wait`).expect(200);
    const all = ['default', ...ids];

    const seen: string[] = [];
    let next: string | null = '/charts/gates/instances?limit=10';
    let pages = 0;
    while (next) {
      const page: request.Response = await request(url).get(next).expect(200);
      expect(page.headers['cache-control']).toBe('no-store');
      seen.push(...page.body.instances.map((instance: { id: string }) => instance.id));
      next = page.body.next;
      pages += 1;
    }
    expect(seen).toEqual(all);
    expect(pages).toBe(3);

    const first = await request(url).get('/charts/gates/instances?state=open&limit=3').expect(200);
    expect(first.body.instances.map((instance: { id: string; state: string }) => [instance.id, instance.state])).toEqual([['r-00', 'open'], ['r-03', 'open'], ['r-06', 'open']]);
    expect(first.body.next).toBe('/charts/gates/instances?state=open&after=r-06&limit=3');
    const done = await request(url).get('/charts/gates/instances?status=done&after=r-18').expect(200);
    expect(done.body).toEqual({ instances: [expect.objectContaining({ id: 'r-21', status: 'done' })], next: null });
    const unlimited = await request(url).get('/charts/gates/instances').expect(200);
    expect(unlimited.body.instances).toHaveLength(24);
    expect((await request(url).get('/charts').expect(200)).body.charts[0].instances).toBe(24);
    expect((await request(url).get('/charts/gates').expect(200)).body.instances).toBe(24);

    for (const [query, message] of [
      ['limit=0', /limit must be a whole number from 1 to 10000/],
      ['limit=10001', /limit/],
      ['limit=ten', /limit/],
      ['status=failed', /status must be one of active, done, cancelled/],
      ['after=bad%20id', /after .* is not a valid name/],
      ['state=a&state=b', /given 2 times/],
      ['state=opne', /chart gates has no state opne \(its states: wait, open\)/],
    ] as const) {
      const answer = await request(url).get(`/charts/gates/instances?${query}`).expect(400);
      expect(answer.body.error.message, query).toMatch(message);
    }
    await request(url).get('/charts/nope/instances').expect(404);
  });
});

describe('listing instances by a state the chart no longer has', () => {
  it('finds instances still on the version that has it', async () => {
    const { url } = await serve({ 'gates.yaml': gateChart(1).replace(/\bwait\b/g, 'hold') });
    await request(url).post('/charts/gates/instances').send({ id: 'old' }).expect(201);
    await writeFile(join(chartDir, 'gates.yaml'), gateChart(1));
    const again = await restart();
    const listed = await request(again.url).get('/charts/gates/instances?state=hold').expect(200);
    expect(listed.body.instances.map((instance: { id: string }) => instance.id)).toEqual(['default', 'old']);
    const refused = await request(again.url).get('/charts/gates/instances?state=held').expect(400);
    expect(refused.body.error.message).toBe('chart gates has no state held (its states: wait, open)');
  });
});

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(path)));
    else out.push(path);
  }
  return out.sort();
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

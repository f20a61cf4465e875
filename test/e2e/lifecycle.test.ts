// An instance's life cycle over HTTP on a real server: cancel, restart, delete, the cancelled status everywhere, retention.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SimulatedClock } from '../support/clock.js';
import { gateChart, removeDir, startTestServer, tempDir, writeCharts, type TestServer } from '../support/server.js';
import { EventStream } from '../support/sse.js';
import { until } from '../support/wait.js';

let server: TestServer;
let clock: SimulatedClock;

beforeEach(async () => {
  const chartDir = await tempDir('chartd-life-charts-');
  await writeCharts(chartDir, { 'gates.yaml': gateChart(3, '    on: { abort: open }\n') });
  clock = new SimulatedClock();
  server = await startTestServer({ chartDir, dataDir: await tempDir('chartd-life-data-'), clock, retainFinishedMs: 24 * 60 * 60 * 1000 });
});

afterEach(async () => {
  await server.close();
  await removeDir(server.chartDir);
  await removeDir(server.dataDir);
});

async function call(method: string, path: string, body?: unknown, type = 'application/json'): Promise<{ status: number; body: Record<string, any> }> {
  const answer = await fetch(`${server.url}${path}`, {
    method, ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': type } } : {}),
  });
  const text = await answer.text();
  const json = answer.headers.get('content-type')?.startsWith('application/json');
  return { status: answer.status, body: json ? JSON.parse(text) as Record<string, any> : { text } };
}

const create = (id: string) => call('POST', '/charts/gates/instances', { id });

describe('cancel', () => {
  it('ends a waiting instance cancelled with its reason and caller recorded; it then refuses check-ins, events and another cancel', async () => {
    await create('w1');
    expect((await call('PUT', '/charts/gates/instances/w1/state?state=wait')).status).toBe(200);
    const cancelled = await call('POST', '/charts/gates/instances/w1/cancel?by=alice', { reason: 'wrong release' });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ state: 'wait', status: 'cancelled', counter: 0, cancelled: { reason: 'wrong release', by: 'alice' } });
    expect(cancelled.body['history'].at(-1)).toMatchObject({ from: 'wait', to: 'wait', cause: 'cancel', caller: 'alice', reason: 'wrong release', status: 'cancelled' });
    const put = await call('PUT', '/charts/gates/instances/w1/state?state=wait');
    expect(put).toEqual({ status: 406, body: { text: 'instance w1 was cancelled (wrong release); nothing moves it until it is restarted' } });
    expect((await call('POST', '/charts/gates/instances/w1/events/abort')).body.error.code).toBe('finished');
    expect(await call('POST', '/charts/gates/instances/w1/cancel')).toMatchObject({ status: 409, body: { error: { message: 'instance w1 is already cancelled in wait; nothing to cancel' } } });
    // Without a body the reason says how it was cancelled.
    await create('w2');
    expect((await call('POST', '/charts/gates/instances/w2/cancel')).body.cancelled.reason).toBe('cancelled over HTTP');
  });

  it('is understood wherever a status is: list filters, counts, the overview, a long-poll, the watch stream', async () => {
    await create('a');
    await create('b');
    const stream = await EventStream.open(`${server.url}/charts/gates/instances/b/events`);
    const polling = fetch(`${server.url}/charts/gates/instances/b/state?state=open&wait=60s`);
    await call('POST', '/charts/gates/instances/b/cancel', { reason: 'not needed' });
    // A long-poll for a state of an instance that finished otherwise answers at once.
    expect((await polling).status).toBe(406);
    await stream.until((s) => s.transitions().length === 1);
    expect(stream.transitions().at(-1)?.data).toMatchObject({ from: 'wait', to: 'wait', cause: 'cancel', status: 'cancelled' });
    stream.close();
    const listed = await call('GET', '/charts/gates/instances?status=cancelled');
    expect(listed.body['instances'].map((row: { id: string; status: string }) => [row.id, row.status])).toEqual([['b', 'cancelled']]);
    expect((await call('GET', '/charts/gates/instances?status=active')).body['instances'].map((row: { id: string }) => row.id)).toEqual(['a', 'default']);
    expect((await call('GET', '/charts/gates')).body['counts']).toEqual({ total: 3, active: 2, done: 0, cancelled: 1, byState: { wait: { active: 2, done: 0, cancelled: 1 } } });
    expect((await call('GET', '/overview')).body['charts'][0].counts).toMatchObject({ active: 2, cancelled: 1 });
  });

  it('takes only a JSON body with a reason of at most 1000 characters', async () => {
    await create('x');
    expect(await call('POST', '/charts/gates/instances/x/cancel', { why: 'x' })).toMatchObject({ status: 400, body: { error: { message: 'unknown field "why" in body; it takes reason, e.g. {"reason": "the release was pulled"}' } } });
    expect((await call('POST', '/charts/gates/instances/x/cancel', { reason: 'x'.repeat(1001) })).status).toBe(400);
    expect((await call('POST', '/charts/gates/instances/x/cancel', { reason: 7 })).status).toBe(400);
    expect((await call('POST', '/charts/gates/instances/x/cancel', 'reason=x', 'application/x-www-form-urlencoded')).status).toBe(415);
    expect((await call('POST', '/charts/gates/instances/nope/cancel')).status).toBe(404);
    expect((await call('GET', '/charts/gates/instances/x')).body['status']).toBe('active');
  });
});

describe('restart', () => {
  it('starts a finished instance over from the initial state, recorded in its history; an active one is refused', async () => {
    await create('r');
    expect((await call('POST', '/charts/gates/instances/r/restart')).status).toBe(409);
    await call('POST', '/charts/gates/instances/r/events/abort');
    const done = await call('GET', '/charts/gates/instances/r');
    expect(done.body).toMatchObject({ state: 'open', status: 'done' });
    const again = await call('POST', '/charts/gates/instances/r/restart?by=bob', { reason: 'run it again' });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ state: 'wait', status: 'active', revision: done.body['revision'] + 1 });
    expect(again.body['history'].map((entry: { cause: string }) => entry.cause)).toEqual(['create', 'event:abort', 'restart']);
    expect(again.body['history'].at(-1)).toMatchObject({ from: 'open', to: 'wait', caller: 'bob', reason: 'run it again' });
  });
});

describe('delete', () => {
  it('removes a finished instance (409 while active), after which it is gone everywhere and its watchers are told', async () => {
    await create('d');
    const refused = await call('DELETE', '/charts/gates/instances/d');
    expect(refused).toMatchObject({ status: 409, body: { error: { code: 'instance_active' } } });
    expect(refused.body.error.message).toBe('instance d of chart gates is active in wait; cancel it first (POST /charts/gates/instances/d/cancel), then delete it');
    await call('POST', '/charts/gates/instances/d/cancel');
    const stream = await EventStream.open(`${server.url}/charts/gates/instances/d/events`);
    const deleted = await call('DELETE', '/charts/gates/instances/d');
    expect(deleted).toMatchObject({ status: 200, body: { deleted: { chart: 'gates', id: 'd', state: 'wait', status: 'cancelled' } } });
    expect(await stream.ended).toBe('end');
    expect(stream.events.at(-1)).toMatchObject({ event: 'removed' });
    expect((await call('GET', '/charts/gates/instances/d')).status).toBe(404);
    expect((await call('DELETE', '/charts/gates/instances/d')).status).toBe(404);
    expect((await call('GET', '/charts/gates')).body['counts']['total']).toBe(1);
  });
});

describe('the watch stream', () => {
  it('says it is alive every 15 s of the server\'s clock, so nothing between cuts a quiet stream, and not before', async () => {
    await create('quiet');
    const stream = await EventStream.open(`${server.url}/charts/gates/instances/quiet/events`);
    await clock.advance(14_999);
    // Events come in the order written: a keep-alive written by now would be read before this check-in's.
    expect((await call('PUT', '/charts/gates/instances/quiet/state?state=wait&by=web1')).status).toBe(200);
    await stream.until((s) => s.events.length === 1);
    expect(stream.events[0]).toMatchObject({ event: 'revision' });
    expect(stream.comments).toEqual(['watching gates/quiet from revision 1']);
    await clock.advance(1);
    await stream.until((s) => s.comments.length === 2);
    await clock.advance(15_000);
    await stream.until((s) => s.comments.length === 3);
    expect(stream.comments.slice(1)).toEqual(['keep-alive', 'keep-alive']);
    stream.close();
  });
});

describe('--retain-finished', () => {
  it('removes finished instances in the background once finished that long, on the server\'s clock', async () => {
    for (const id of ['old', 'kept']) await create(id);
    await call('POST', '/charts/gates/instances/old/cancel');
    await clock.advance(12 * 60 * 60 * 1000);
    await call('POST', '/charts/gates/instances/kept/events/abort');
    await clock.advance(13 * 60 * 60 * 1000, () => server.engine.runtime.whenIdle());
    await until(async () => (await call('GET', '/charts/gates/instances/old')).status === 404, 'the old instance removed');
    expect((await call('GET', '/charts/gates/instances/kept')).body['status']).toBe('done');
    expect((await call('GET', '/charts/gates/instances/default')).body['status']).toBe('active');
  });
});

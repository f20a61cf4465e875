// The watch stream: every transition in order with its revision as id, resume by Last-Event-ID, a signalled gap
// past the capped history, and a clean end when the server stops.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HISTORY_LIMIT } from '../../src/engine/snapshot.js';
import { createRun, getRun, NODES, PINGPONG, rollingUpgradeChart, waitForState } from '../support/recipes.js';
import { removeDir, startTestServer, tempDir, writeCharts, type TestServer } from '../support/server.js';
import { EventStream } from '../support/sse.js';

let server: TestServer;
const streams: EventStream[] = [];

beforeEach(async () => {
  const chartDir = await tempDir('chartd-watch-charts-');
  await writeCharts(chartDir, { 'rolling-upgrade.yaml': await rollingUpgradeChart({ window: '100ms' }), 'pingpong.yaml': PINGPONG });
  server = await startTestServer({ chartDir, dataDir: await tempDir('chartd-watch-data-') });
});

afterEach(async () => {
  for (const stream of streams.splice(0)) stream.close();
  await server.close();
  await removeDir(server.chartDir);
  await removeDir(server.dataDir);
});

async function watch(chart: string, run: string, lastEventId?: number): Promise<EventStream> {
  const stream = await EventStream.open(`${server.url}/charts/${chart}/instances/${run}/events`, lastEventId === undefined ? {} : { 'last-event-id': String(lastEventId) });
  streams.push(stream);
  return stream;
}

async function send(method: 'PUT' | 'POST', path: string): Promise<number> {
  const answer = await fetch(`${server.url}${path}`, { method });
  await answer.arrayBuffer();
  return answer.status;
}

const go = (run: string) => send('POST', `/charts/pingpong/instances/${run}/events/go`);

describe('the watch stream', () => {
  it('delivers each transition of a rolling upgrade, in order, with the revision as id', async () => {
    await createRun(server.url, 'r1', { release: '1.0' });
    const stream = await watch('rolling-upgrade', 'r1');
    expect(stream.response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    await waitForState(server.url, 'r1', 'drain');
    for (const phase of ['drain', 'upgrade', 'verify']) {
      for (const node of NODES) expect(await send('PUT', `/charts/rolling-upgrade/instances/r1/state?state=${phase}&by=${node}`)).toBe(200);
    }
    await stream.until((s) => s.transitions().length === 4);
    const seen = stream.transitions();
    expect(seen.map(({ data }) => `${String(data['from'])}>${String(data['to'])}`)).toEqual(['window>drain', 'drain>upgrade', 'upgrade>verify', 'verify>done']);
    expect(seen.map(({ id }) => id)).toEqual(seen.map(({ data }) => data['revision']));
    // Check-ins move the revision too, so ids go up by more than one between transitions.
    expect(seen.map(({ id }) => id)).toEqual([2, 5, 8, 11]);
    expect(seen[1]!.data).toMatchObject({ chart: 'rolling-upgrade', instance: 'r1', from: 'drain', to: 'upgrade', cause: 'put', caller: 'web3', status: 'active' });
    expect(seen[3]!.data).toMatchObject({ status: 'done' });
    expect(Number.isNaN(Date.parse(String(seen[0]!.data['at'])))).toBe(false);
    expect(seen[0]!.data).toMatchObject({ cause: 'timer' });
    const snapshot = await getRun(server.url, 'r1');
    expect(seen.map(({ id }) => id)).toEqual(snapshot.history.slice(1).map((entry) => entry.revision));
  });

  it('keeps order and drops nothing when many transitions are committed together', async () => {
    await createRun(server.url, 'burst', {}, 'pingpong');
    const stream = await watch('pingpong', 'burst');
    const answers = await Promise.all(Array.from({ length: 30 }, () => go('burst')));
    expect(answers.every((status) => status === 200)).toBe(true);
    await stream.until((s) => s.transitions().length === 30);
    const ids = stream.transitions().map(({ id }) => id);
    expect(ids).toEqual(Array.from({ length: 30 }, (_, index) => index + 2));
    expect(stream.transitions().map(({ data }) => data['to'])).toEqual(Array.from({ length: 30 }, (_, index) => (index % 2 ? 'ping' : 'pong')));
  });

  it('replays exactly what was missed when a client reconnects with Last-Event-ID', async () => {
    await createRun(server.url, 'resume', {}, 'pingpong');
    const first = await watch('pingpong', 'resume');
    await go('resume');
    await go('resume');
    await first.until((s) => s.transitions().length === 2);
    first.close();
    const last = first.transitions().at(-1)!.id;
    for (let i = 0; i < 3; i += 1) await go('resume');
    const again = await watch('pingpong', 'resume', last);
    await again.until((s) => s.transitions().length === 3);
    await go('resume');
    await again.until((s) => s.transitions().length === 4);
    expect(again.transitions().map(({ id }) => id)).toEqual([last + 1, last + 2, last + 3, last + 4]);
    expect(again.events.some((event) => event.event === 'gap')).toBe(false);
    // From the beginning: Last-Event-ID 0 replays the whole history, creation included.
    const all = await watch('pingpong', 'resume', 0);
    await all.until((s) => s.transitions().length === 7);
    expect(all.transitions()[0]!.data).toMatchObject({ revision: 1, from: null, to: 'ping', cause: 'create' });
  });

  it('gives each transition its own status, also when replayed after the run has ended', async () => {
    await createRun(server.url, 'ended', {}, 'pingpong');
    const live = await watch('pingpong', 'ended');
    // Committed together: the first two transitions leave the run active, only the last one ends it.
    const answers = await Promise.all([go('ended'), go('ended'), send('POST', '/charts/pingpong/instances/ended/events/stop')]);
    expect(answers).toEqual([200, 200, 200]);
    await live.until((s) => s.transitions().length === 3);
    const expected = [['pong', 'active'], ['ping', 'active'], ['over', 'done']];
    expect(live.transitions().map(({ data }) => [data['to'], data['status']])).toEqual(expected);
    const replay = await watch('pingpong', 'ended', 1);
    await replay.until((s) => s.transitions().length === 3);
    expect(replay.transitions().map(({ data }) => [data['to'], data['status']])).toEqual(expected);
  });

  it('signals a reset when Last-Event-ID is ahead of the run, and then streams from where the run is', async () => {
    await createRun(server.url, 'rewound', {}, 'pingpong');
    await go('rewound');
    // As after a restore from an older backup: the client has seen revisions this run no longer has.
    const ahead = await watch('pingpong', 'rewound', 40);
    await ahead.until((s) => s.events.length === 1);
    expect(ahead.events[0]).toMatchObject({ event: 'reset', id: '2' });
    expect(JSON.parse(ahead.events[0]!.data)).toMatchObject({ revision: 2 });
    await go('rewound');
    await ahead.until((s) => s.transitions().length === 1);
    expect(ahead.transitions()[0]).toMatchObject({ id: 3, data: { from: 'pong', to: 'ping' } });
  });

  it('signals a gap when the client is further behind than the capped history', async () => {
    await createRun(server.url, 'long', {}, 'pingpong');
    const total = HISTORY_LIMIT + 10;
    for (let i = 0; i < total; i += 1) expect(await go('long')).toBe(200);
    const revision = 1 + total;
    const oldest = revision - HISTORY_LIMIT + 1;
    const behind = await watch('pingpong', 'long', 3);
    await behind.until((s) => s.transitions().length === HISTORY_LIMIT);
    expect(behind.events[0]!.event).toBe('gap');
    expect(JSON.parse(behind.events[0]!.data)).toMatchObject({ from: 4, to: oldest - 1 });
    expect(behind.transitions().map(({ id }) => id)).toEqual(Array.from({ length: HISTORY_LIMIT }, (_, index) => oldest + index));
    // Just inside the history: no gap, only the newer transitions.
    const inside = await watch('pingpong', 'long', oldest);
    await inside.until((s) => s.transitions().length === HISTORY_LIMIT - 1);
    expect(inside.events.every((event) => event.event === 'transition')).toBe(true);
  });

  it('ends the stream cleanly when the server stops, without holding up the shutdown', async () => {
    await createRun(server.url, 'stop', {}, 'pingpong');
    const stream = await watch('pingpong', 'stop');
    await go('stop');
    await stream.until((s) => s.transitions().length === 1);
    const started = Date.now();
    await server.close();
    expect(await stream.ended).toBe('end');
    expect(Date.now() - started).toBeLessThan(2000);
    // The next beforeEach-less afterEach closes again; give it a fresh server to close.
    server = await startTestServer({ chartDir: server.chartDir, dataDir: server.dataDir });
  });

  it('drops a watcher whose client went away', async () => {
    await createRun(server.url, 'gone', {}, 'pingpong');
    // No public count of watchers exists; peek at the runtime's listener set rather than add one for a test.
    const listeners = (server.engine.runtime as unknown as { listeners: Set<unknown> }).listeners;
    const before = listeners.size;
    const stream = await watch('pingpong', 'gone');
    expect(listeners.size).toBe(before + 1);
    stream.close();
    await expect.poll(() => listeners.size, { timeout: 2000, interval: 20 }).toBe(before);
    const head = await fetch(`${server.url}/charts/pingpong/instances/gone/events`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    await expect.poll(() => listeners.size, { timeout: 2000, interval: 20 }).toBe(before);
    expect(await go('gone')).toBe(200);
  });

  it('refuses a malformed Last-Event-ID and an unknown run with JSON errors', async () => {
    const bad = await fetch(`${server.url}/charts/pingpong/instances/default/events`, { headers: { 'last-event-id': 'yesterday' } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('bad_request');
    const missing = await fetch(`${server.url}/charts/pingpong/instances/nope/events`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('not_found');
  });
});

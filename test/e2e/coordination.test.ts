// Coordination across machines: three nodes through the rolling upgrade, per-caller gates, events, timeouts,
// long-polls (latency, expiry, revisions), restarts mid-run, and the cost of thousands of parked waiters.

import { readFile } from 'node:fs/promises';
import { Agent, request as httpRequest } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawnServer, type ChildServer } from '../support/child.js';
import { createRun, getRun, NODES, PINGPONG, rollingUpgradeChart, waitForRun, waitForState, type Snapshot } from '../support/recipes.js';
import { restartOnSamePort } from '../support/restart.js';
import { removeDir, sleep, startTestServer, tempDir, writeCharts, type TestServer } from '../support/server.js';

/** The rolling upgrade as shipped but with a 50 ms window, and a fast copy whose phases time out in 1-2 s. */
async function charts(): Promise<Record<string, string>> {
  return {
    'rolling-upgrade.yaml': await rollingUpgradeChart({ window: '50ms' }),
    'rolling-upgrade-fast.yaml': await rollingUpgradeChart({ name: 'fast', window: '50ms', drain: '2s', upgrade: '1s', verify: '1s', rollback: '1s' }),
    'pingpong.yaml': PINGPONG,
  };
}

let server: TestServer;

beforeEach(async () => {
  const chartDir = await tempDir('chartd-coord-charts-');
  await writeCharts(chartDir, await charts());
  server = await startTestServer({ chartDir, dataDir: await tempDir('chartd-coord-data-') });
});

afterEach(async () => {
  await server.close();
  await removeDir(server.chartDir);
  await removeDir(server.dataDir);
});

interface Answer {
  readonly status: number;
  readonly body: string;
  readonly state: string | null;
  readonly revision: number;
  readonly etag: string | null;
}

async function call(method: string, path: string, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Answer> {
  const answer = await fetch(`${server.url}${path}`, { method, headers, ...(signal ? { signal } : {}) });
  return {
    status: answer.status, body: await answer.text(), state: answer.headers.get('x-chartd-state'),
    revision: Number(answer.headers.get('x-chartd-revision')), etag: answer.headers.get('etag'),
  };
}

const stateOf = (run: string, chart = 'rolling-upgrade') => `/charts/${chart}/instances/${run}/state`;
const checkIn = (run: string, phase: string, node: string, chart = 'rolling-upgrade') => call('PUT', `${stateOf(run, chart)}?state=${phase}&by=${node}`);

async function waiters(): Promise<number> {
  return ((await (await fetch(`${server.url}/healthz`)).json()) as { waiters: number }).waiters;
}

/** Waits until the server has `count` long-polls parked, so a test acts only once its waiters are in place. */
async function parked(count: number): Promise<void> {
  await expect.poll(waiters, { timeout: 5000, interval: 5 }).toBe(count);
}

function moves(snapshot: Snapshot): string[] {
  return snapshot.history.map((entry) => `${entry.from ?? '-'}>${entry.to} ${entry.cause}${entry.caller ? ` ${entry.caller}` : ''}`);
}

/** One node as a script would drive it: long-poll for each phase, check in (twice: a retry), then wait for done. */
async function simulatedNode(run: string, node: string): Promise<number[]> {
  const statuses: number[] = [];
  for (const phase of ['drain', 'upgrade', 'verify', 'done']) {
    for (;;) {
      const turn = await call('GET', `${stateOf(run)}?state=${phase}&wait=10s`);
      if (turn.status === 200) break;
      expect(turn.status).toBe(406);
    }
    if (phase === 'done') break;
    // The retry goes out alongside the first try; web2 names itself with the header instead of by=.
    const retry = node === 'web2' ? call('PUT', `${stateOf(run)}?state=${phase}`, { 'x-chartd-caller': node }) : checkIn(run, phase, node);
    const [first, again] = await Promise.all([checkIn(run, phase, node), retry]);
    statuses.push(first.status, again.status);
  }
  return statuses;
}

describe('three nodes through the rolling upgrade', () => {
  it('take every phase to done; retried check-ins are answered but never counted twice', async () => {
    await createRun(server.url, 'r1', { release: '2026.11.22-1' });
    const results = await Promise.all(NODES.map((node) => simulatedNode('r1', node)));
    for (const statuses of results) {
      expect(statuses.every((status) => status === 200 || status === 406)).toBe(true);
      // Of each check-in and its retry, at least one is a 200; a 406 only when the node's own first PUT closed the phase.
      for (let i = 0; i < statuses.length; i += 2) expect(statuses.slice(i, i + 2)).toContain(200);
    }
    const snapshot = await getRun(server.url, 'r1');
    expect(moves(snapshot).map((move) => move.split(' ').slice(0, 2).join(' '))).toEqual([
      '->window create', 'window>drain timer', 'drain>upgrade put', 'upgrade>verify put', 'verify>done put',
    ]);
    // create + timer + exactly 3 counted check-ins per phase: any double count would show here.
    expect(snapshot.revision).toBe(2 + 3 * 3);
    expect(snapshot.status).toBe('done');
  });
});

describe('creating a run', () => {
  it('is idempotent by id under concurrency: one 201, the same body again 200, another body 409', async () => {
    const post = (context: Record<string, unknown>) => fetch(`${server.url}/charts/rolling-upgrade/instances`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: '2026-11-22-release', context }),
    }).then(async (answer) => ({ status: answer.status, body: (await answer.json()) as Snapshot & { createdAt: string } }));
    const racing = await Promise.all([
      ...Array.from({ length: 8 }, () => post({ release: '2026.11.22-1' })),
      ...Array.from({ length: 4 }, () => post({ release: '2026.11.22-2' })),
    ]);
    const created = racing.filter((answer) => answer.status === 201);
    expect(created).toHaveLength(1);
    const winner = created[0]!.body.context['release'];
    for (const answer of racing.filter(({ status }) => status !== 409)) {
      expect(answer.status).toBeOneOf([200, 201]);
      expect(answer.body.context['release']).toBe(winner);
      expect(answer.body.createdAt).toBe(created[0]!.body.createdAt);
    }
    const losers = racing.filter((answer) => answer.status === 409);
    expect(losers).toHaveLength(winner === '2026.11.22-1' ? 4 : 8);
    expect(losers[0]!.body).toMatchObject({ error: { code: 'conflict' } });
    expect((await getRun(server.url, '2026-11-22-release')).context).toEqual({ release: winner });
  });
});

describe('per-caller gates', () => {
  it('count each caller once, whether by= or X-Chartd-Caller, however often and however concurrently it retries', async () => {
    await createRun(server.url, 'r2');
    await waitForState(server.url, 'r2', 'drain');
    const { revision } = await getRun(server.url, 'r2');
    const burst = await Promise.all([
      ...Array.from({ length: 10 }, () => checkIn('r2', 'drain', 'web1')),
      ...Array.from({ length: 5 }, () => call('PUT', `${stateOf('r2')}?state=drain`, { 'x-chartd-caller': 'web1' })),
    ]);
    expect(burst.map((answer) => answer.status)).toEqual(Array(15).fill(200));
    let snapshot = await getRun(server.url, 'r2');
    expect({ counter: snapshot.counter, callers: snapshot.callers, revision: snapshot.revision }).toEqual({ counter: 1, callers: ['web1'], revision: revision + 1 });

    expect((await checkIn('r2', 'drain', 'web1')).status).toBe(200);
    const anonymous = await call('PUT', `${stateOf('r2')}?state=drain`);
    expect(anonymous.status).toBe(400);
    expect(JSON.parse(anonymous.body)).toMatchObject({ error: { code: 'caller_required' } });
    expect((await checkIn('r2', 'drain', 'web2')).status).toBe(200);
    snapshot = await getRun(server.url, 'r2');
    expect({ counter: snapshot.counter, callers: snapshot.callers, revision: snapshot.revision }).toEqual({ counter: 2, callers: ['web1', 'web2'], revision: revision + 2 });

    // The last node's check-in and its retries race: one moves the gate, none leaks into the next phase.
    const last = await Promise.all(Array.from({ length: 5 }, () => checkIn('r2', 'drain', 'web3')));
    // Retries that arrive after web3's first try opened the gate are recognised: 200, counted once.
    expect(last.map((answer) => answer.status)).toEqual(Array(5).fill(200));
    snapshot = await getRun(server.url, 'r2');
    expect({ state: snapshot.state, counter: snapshot.counter, callers: snapshot.callers, revision: snapshot.revision }).toEqual({ state: 'upgrade', counter: 0, callers: [], revision: revision + 3 });
    expect(moves(snapshot).filter((move) => move.startsWith('drain>'))).toEqual(['drain>upgrade put web3']);

    // A retry that arrives after its phase closed is still a yes for a caller the phase counted, and changes nothing;
    // a caller it never counted gets a 406 that says where the run is now.
    const late = await checkIn('r2', 'drain', 'web1');
    expect({ status: late.status, state: late.state, revision: late.revision }).toEqual({ status: 200, state: 'upgrade', revision: revision + 3 });
    const stranger = await checkIn('r2', 'drain', 'web9');
    expect({ status: stranger.status, state: stranger.state, revision: stranger.revision }).toEqual({ status: 406, state: 'upgrade', revision: revision + 3 });
  });
});

describe('events', () => {
  it('event=failed from one node sends the run to rollback; events the state does not take are 406', async () => {
    await createRun(server.url, 'r3');
    await waitForState(server.url, 'r3', 'drain');
    for (const node of NODES) await checkIn('r3', 'drain', node);
    expect((await checkIn('r3', 'upgrade', 'web1')).status).toBe(200);

    const wrongState = await call('PUT', `${stateOf('r3')}?state=drain&event=failed&by=web2`);
    expect({ status: wrongState.status, state: wrongState.state }).toEqual({ status: 406, state: 'upgrade' });
    const unknownEvent = await call('PUT', `${stateOf('r3')}?state=upgrade&event=exploded&by=web2`);
    expect(unknownEvent.status).toBe(406);
    expect(unknownEvent.body).toMatch(/accepts failed/);

    const failed = await call('PUT', `${stateOf('r3')}?state=upgrade&event=failed&by=web2`);
    expect({ status: failed.status, body: failed.body, state: failed.state }).toEqual({ status: 200, body: 'upgrade', state: 'rollback' });
    const snapshot = await getRun(server.url, 'r3');
    expect(moves(snapshot).at(-1)).toBe('upgrade>rollback event:failed web2');
    expect({ counter: snapshot.counter, callers: snapshot.callers }).toEqual({ counter: 0, callers: [] });

    expect((await checkIn('r3', 'upgrade', 'web3')).status).toBe(406);
    expect((await call('PUT', `${stateOf('r3')}?state=upgrade&event=failed&by=web2`)).status).toBe(406);
    const notTaken = await call('POST', '/charts/rolling-upgrade/instances/r3/events/failed');
    expect(notTaken.status).toBe(406);
    expect(JSON.parse(notTaken.body)).toMatchObject({ error: { code: 'event_not_accepted' } });
    for (const node of NODES) expect((await checkIn('r3', 'rollback', node)).status).toBe(200);
    expect((await getRun(server.url, 'r3')).state).toBe('rolled_back');
  });

  it('POST …/events/:event fires on a gate and records the caller from X-Chartd-Caller', async () => {
    await createRun(server.url, 'r4');
    await waitForState(server.url, 'r4', 'drain');
    const fired = await call('POST', '/charts/rolling-upgrade/instances/r4/events/failed', { 'x-chartd-caller': 'web3' });
    expect(fired.status).toBe(200);
    expect(JSON.parse(fired.body)).toMatchObject({ state: 'rollback', history: expect.arrayContaining([expect.objectContaining({ cause: 'event:failed', caller: 'web3' })]) });
    expect((await call('POST', '/charts/rolling-upgrade/instances/nope/events/failed')).status).toBe(404);
    expect((await call('POST', '/charts/rolling-upgrade/instances/r4/events/bad%20name')).status).toBe(400);
  });
});

describe('timeouts', () => {
  it('a node that never checks in trips the timeout into rollback, and a stalled rollback ends in needs_attention', async () => {
    await createRun(server.url, 'r5', { release: 'r5-release' }, 'fast');
    await waitForState(server.url, 'r5', 'drain', 5000, 'fast');
    for (const node of ['web1', 'web2']) expect((await checkIn('r5', 'drain', node, 'fast')).status).toBe(200);
    let snapshot = await getRun(server.url, 'r5', 'fast');
    expect(snapshot.deadline).toEqual({ at: Date.parse(snapshot.enteredAt) + 2000, kind: 'timeout' });
    const deadline = snapshot.deadline!.at;

    snapshot = await waitForRun(server.url, 'r5', (s) => s.state === 'rollback', 5000, 'fast');
    const timedOut = snapshot.history.at(-1)!;
    expect(timedOut).toMatchObject({ from: 'drain', to: 'rollback', cause: 'timeout', error: expect.stringMatching(/timed out/) });
    expect(Date.parse(timedOut.at) - deadline).toBeGreaterThanOrEqual(0);
    expect(Date.parse(timedOut.at) - deadline).toBeLessThan(250);
    expect(snapshot.failures.map((failure) => failure.node)).toEqual(['drain']);

    for (const node of ['web1', 'web2']) expect((await checkIn('r5', 'rollback', node, 'fast')).status).toBe(200);
    snapshot = await waitForRun(server.url, 'r5', (s) => s.status === 'done', 5000, 'fast');
    expect(snapshot.state).toBe('needs_attention');
    expect(snapshot.failures.map((failure) => failure.node)).toEqual(['drain', 'rollback']);
  });
});

describe('long-polls', () => {
  it('release a parked waiter within 100 ms of the transition', async () => {
    // From sending the event: this includes the durable commit (fsync) that every transition waits for.
    const fromSent: number[] = [];
    // From the event's own answer: the waiter is told before the caller that moved the run.
    const fromAck: number[] = [];
    for (let i = 0; i < 20; i += 1) {
      const target = i % 2 === 0 ? 'pong' : 'ping';
      const waiter = call('GET', `${stateOf('default', 'pingpong')}?state=${target}&wait=10s`).then((answer) => ({ answer, at: performance.now() }));
      await parked(1);
      const sent = performance.now();
      expect((await call('POST', '/charts/pingpong/instances/default/events/go')).status).toBe(200);
      const acked = performance.now();
      const { answer, at } = await waiter;
      expect(answer.status).toBe(200);
      fromSent.push(at - sent);
      fromAck.push(at - acked);
    }
    const sorted = [...fromSent].sort((a, b) => a - b);
    console.info(`long-poll release, 20 samples: from the event sent median ${sorted[10]!.toFixed(1)} ms, max ${sorted[19]!.toFixed(1)} ms; `
      + `from the event's answer max ${Math.max(...fromAck).toFixed(1)} ms`);
    // The waiter has its answer no later than the caller whose change released it (the change is committed by then).
    expect(Math.max(...fromAck)).toBeLessThan(100);
    expect(sorted[10]).toBeLessThan(100);
  });

  it('release the nodes waiting for the next phase when the last node checks in', async () => {
    await createRun(server.url, 'r6');
    await waitForState(server.url, 'r6', 'drain');
    for (const node of ['web1', 'web2']) await checkIn('r6', 'drain', node);
    const waiting = NODES.map(() => call('GET', `${stateOf('r6')}?state=upgrade&wait=10s`).then((answer) => ({ answer, at: performance.now() })));
    await parked(3);
    expect((await checkIn('r6', 'drain', 'web3')).status).toBe(200);
    const acked = performance.now();
    for (const { answer, at } of await Promise.all(waiting)) {
      expect({ status: answer.status, body: answer.body, state: answer.state }).toEqual({ status: 200, body: 'upgrade', state: 'upgrade' });
      expect(at - acked).toBeLessThan(100);
    }
  });

  it('answer 406 when the wait runs out, with the current state and revision', async () => {
    await createRun(server.url, 'r7');
    await waitForState(server.url, 'r7', 'drain');
    const { revision } = await getRun(server.url, 'r7');
    const started = performance.now();
    const answer = await call('GET', `${stateOf('r7')}?state=upgrade&wait=300ms`);
    const took = performance.now() - started;
    expect({ status: answer.status, state: answer.state, revision: answer.revision }).toEqual({ status: 406, state: 'drain', revision });
    expect(took).toBeGreaterThanOrEqual(290);
    expect(took).toBeLessThan(1000);
    expect(await waiters()).toBe(0);
  });

  it('end a wait for a state at once with 406 when the run finishes in another, and not while it only goes elsewhere', async () => {
    await createRun(server.url, 'r12');
    await waitForState(server.url, 'r12', 'drain');
    const started = performance.now();
    const waiting = call('GET', `${stateOf('r12')}?state=upgrade&wait=10s`);
    await parked(1);
    expect((await call('PUT', `${stateOf('r12')}?state=drain&event=failed&by=web1`)).status).toBe(200);
    // Rollback is not the end: the run could still be anywhere later, so the waiter stays.
    await sleep(100);
    expect(await waiters()).toBe(1);
    for (const node of NODES) expect((await checkIn('r12', 'rollback', node)).status).toBe(200);
    const answer = await waiting;
    expect({ status: answer.status, state: answer.state, body: answer.body }).toEqual({ status: 406, state: 'rolled_back', body: 'upgrade is not current' });
    expect(performance.now() - started).toBeLessThan(5000);
    // Asked of a finished run, it does not wait at all; the final state itself is still 200.
    const again = performance.now();
    expect((await call('GET', `${stateOf('r12')}?state=upgrade&wait=10s`)).status).toBe(406);
    expect((await call('GET', `${stateOf('r12')}?state=rolled_back&wait=10s`)).status).toBe(200);
    expect(performance.now() - again).toBeLessThan(1000);
    expect(await waiters()).toBe(0);
  });

  it('park a wait longer than the cap, and let go of it when the client goes away', async () => {
    await createRun(server.url, 'r8');
    const client = new AbortController();
    const hanging = call('GET', `${stateOf('r8')}?state=upgrade&wait=1h`, {}, client.signal).catch((error: Error) => error);
    await parked(1);
    client.abort();
    expect(await hanging).toBeInstanceOf(Error);
    await parked(0);
  });

  it('block on a revision: ?index=REV&wait= returns when the run changes, even if the state does not', async () => {
    await createRun(server.url, 'r9');
    await waitForState(server.url, 'r9', 'drain');
    const { revision } = await getRun(server.url, 'r9');

    const onState = call('GET', `${stateOf('r9')}?state=drain&index=${revision}&wait=10s`);
    const onInstance = call('GET', `/charts/rolling-upgrade/instances/r9?index=${revision}&wait=10s`);
    await parked(2);
    await checkIn('r9', 'drain', 'web1');
    const [state, instance] = await Promise.all([onState, onInstance]);
    expect({ status: state.status, body: state.body, revision: state.revision }).toEqual({ status: 200, body: 'drain', revision: revision + 1 });
    expect({ status: instance.status, etag: instance.etag, revision: instance.revision }).toEqual({ status: 200, etag: expect.stringMatching(new RegExp(`^"${revision + 1}\\.[0-9a-z]+"$`)), revision: revision + 1 });
    expect(JSON.parse(instance.body)).toMatchObject({ revision: revision + 1, callers: ['web1'] });

    // Already past the index: answered at once.
    const past = await call('GET', `${stateOf('r9')}?state=upgrade&index=${revision}&wait=10s`);
    expect({ status: past.status, revision: past.revision }).toEqual({ status: 406, revision: revision + 1 });
    // Nothing changes: the wait runs out and the answer carries the unchanged revision.
    const quiet = await call('GET', `/charts/rolling-upgrade/instances/r9?index=${revision + 1}&wait=200ms`);
    expect({ status: quiet.status, etag: quiet.etag }).toEqual({ status: 200, etag: instance.etag });
    // index needs wait on /state.
    expect((await call('GET', `${stateOf('r9')}?state=drain&index=${revision}`)).status).toBe(400);
  });
});

describe('a chartd restart in the middle of a run', () => {
  it('keeps callers and the stored deadline, which fires on time after the restart; waiting clients reconnect and are released', async () => {
    await createRun(server.url, 'r10', { release: 'r10-release' }, 'fast');
    await waitForState(server.url, 'r10', 'drain', 5000, 'fast');
    for (const node of ['web1', 'web2']) await checkIn('r10', 'drain', node, 'fast');
    const before = await getRun(server.url, 'r10', 'fast');
    const deadline = before.deadline!.at;

    // Clients that wait for the rollback the way the recipes do: long-poll, and ask again on a 406 or a dropped connection.
    const released = Array.from({ length: 3 }, async () => {
      for (let tries = 0; tries < 200; tries += 1) {
        const answer = await call('GET', `${stateOf('r10', 'fast')}?state=rollback&wait=5s`).catch(() => undefined);
        if (answer?.status === 200) return Date.now();
        if (!answer) await sleep(20);
      }
      throw new Error('never released');
    });
    await parked(3);
    // Down for half a second: a deadline re-armed from the restart, rather than kept, would fire that much late.
    server = await restartOnSamePort(server, () => sleep(500));
    const after = await getRun(server.url, 'r10', 'fast');
    expect({ state: after.state, callers: after.callers, deadline: after.deadline, revision: after.revision })
      .toEqual({ state: 'drain', callers: ['web1', 'web2'], deadline: before.deadline, revision: before.revision });
    expect(Date.now()).toBeLessThan(deadline);

    const times = await Promise.all(released);
    const snapshot = await getRun(server.url, 'r10', 'fast');
    const fired = Date.parse(snapshot.history.at(-1)!.at);
    expect(snapshot.history.at(-1)).toMatchObject({ from: 'drain', to: 'rollback', cause: 'timeout' });
    expect(fired - deadline).toBeGreaterThanOrEqual(0);
    expect(fired - deadline).toBeLessThan(250);
    for (const time of times) expect(time - fired).toBeLessThan(250);
  });

  it('fires a deadline that passed while chartd was down as soon as it is back', async () => {
    await createRun(server.url, 'r11', { release: 'r11-release' }, 'fast');
    await waitForState(server.url, 'r11', 'drain', 5000, 'fast');
    await call('PUT', `${stateOf('r11', 'fast')}?state=drain&event=failed&by=web1`);
    const { deadline } = await getRun(server.url, 'r11', 'fast');
    expect(deadline?.kind).toBe('timeout');
    let restartedAt = 0;
    server = await restartOnSamePort(server, async () => {
      await sleep(Math.max(0, deadline!.at - Date.now()) + 100);
      restartedAt = Date.now();
    });
    const snapshot = await waitForRun(server.url, 'r11', (s) => s.status === 'done', 5000, 'fast');
    expect(snapshot.state).toBe('needs_attention');
    const fired = Date.parse(snapshot.history.at(-1)!.at);
    expect(fired).toBeGreaterThanOrEqual(restartedAt);
    expect(fired - restartedAt).toBeLessThan(1000);
  });
});

describe('many waiters', () => {
  it('parks 2,000 long-polls on one run at almost no cost and releases them all promptly', async () => {
    const child = await spawnServer(['--chart', server.chartDir, '--data', await tempDir('chartd-coord-many-')]);
    try {
      await measureManyWaiters(child, 2000);
    } finally {
      await child.kill();
    }
  }, 60_000);
});

async function measureManyWaiters(child: ChildServer, count: number): Promise<void> {
  const pid = child.child.pid!;
  const url = child.url;
  const health = async () => ((await (await fetch(`${url}/healthz`)).json()) as { waiters: number }).waiters;
  const put = async (path: string) => (await fetch(`${url}${path}`, { method: 'PUT' })).status;
  await createRun(url, 'big');
  await waitForState(url, 'big', 'drain');
  for (const node of ['web1', 'web2']) expect(await put(`${stateOf('big')}?state=drain&by=${node}`)).toBe(200);
  const rssBefore = await rss(pid);
  // node:http rather than fetch: thousands of fetches cost the test process more than the server.
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  const get = (path: string, signal?: AbortSignal) => new Promise<{ status: number; body: string }>((resolve, reject) => {
    const request = httpRequest(`${url}${path}`, { agent, ...(signal ? { signal } : {}) }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode!, body }));
    });
    request.on('error', reject);
    request.end();
  });

  // Connect in batches, so the listen backlog never overflows into SYN retries.
  const leaving = new AbortController();
  const answers: Promise<number | 'aborted'>[] = [];
  for (let i = 0; i < count; i += 1) {
    answers.push(get(`${stateOf('big')}?state=upgrade&wait=60s`, i < 100 ? leaving.signal : undefined).then(({ status, body }) => {
      expect(body).toBe('upgrade');
      return status;
    }, () => 'aborted' as const));
    if ((i + 1) % 250 === 0) await expect.poll(health, { timeout: 10_000, interval: 10 }).toBe(i + 1);
  }
  const rssParked = await rss(pid);

  // While they wait, the server has nothing to do for them. A poller would burn CPU in every window; the
  // least busy of three windows hides a one-off garbage collection after the parking.
  const idle: number[] = [];
  for (let window = 0; window < 3; window += 1) {
    const before = await cpuMs(pid);
    await sleep(400);
    idle.push((await cpuMs(pid)) - before);
  }
  // Changes to other instances do not touch these waiters.
  for (let i = 0; i < 20; i += 1) expect((await fetch(`${url}/charts/pingpong/instances/default/events/go`, { method: 'POST' })).status).toBe(200);
  expect(await health()).toBe(count);

  leaving.abort();
  await expect.poll(health, { timeout: 5000, interval: 10 }).toBe(count - 100);

  const releaseCpuBefore = await cpuMs(pid);
  const sent = performance.now();
  expect(await put(`${stateOf('big')}?state=drain&by=web3`)).toBe(200);
  const statuses = await Promise.all(answers);
  const releaseMs = performance.now() - sent;
  const releaseCpu = (await cpuMs(pid)) - releaseCpuBefore;
  expect(statuses.filter((status) => status === 200)).toHaveLength(count - 100);
  expect(statuses.filter((status) => status === 'aborted')).toHaveLength(100);
  expect(await health()).toBe(0);

  // Baseline: as many plain, immediately answered GETs, over the same connections.
  const plainCpuBefore = await cpuMs(pid);
  const plain = await Promise.all(Array.from({ length: count - 100 }, () => get(`${stateOf('big')}?state=upgrade`)));
  const plainCpu = (await cpuMs(pid)) - plainCpuBefore;
  expect(plain.every(({ status }) => status === 200)).toBe(true);
  agent.destroy();

  const perWaiterKb = (rssParked - rssBefore) / 1024 / count;
  console.info(`${count} parked long-polls: server CPU in three idle 400 ms windows ${idle.join('/')} ms; RSS +${((rssParked - rssBefore) / 1048576).toFixed(1)} MiB (${perWaiterKb.toFixed(1)} KiB each); `
    + `${count - 100} released ${releaseMs.toFixed(0)} ms after the last check-in was sent, costing the server ${releaseCpu} ms CPU `
    + `(${count - 100} plain GETs: ${plainCpu} ms)`);
  expect(Math.min(...idle)).toBeLessThanOrEqual(20);
  // Releasing a parked waiter costs no more than answering an ordinary GET (10 ms clock ticks, hence the slack).
  expect(releaseCpu).toBeLessThanOrEqual(plainCpu * 1.5 + 50);
  expect(releaseMs).toBeLessThan(10_000);
  expect(perWaiterKb).toBeLessThan(100);
}

/** utime + stime of a process, from /proc (clock ticks of 10 ms on Linux). */
async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function rss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

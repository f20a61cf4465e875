// Alerts delivered once across replicas: claimed with a lease, oldest first, retried on the Clock, on the embedded store and on PostgreSQL.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ALERTS } from '../../src/runtime/alertRecords.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import type { Store } from '../../src/store/port.js';
import { SimulatedClock } from '../support/clock.js';
import { holdingHandlers, replicasForFile, startAlertingReplica, type HeldRun, type ReplicaStores } from '../support/replica.js';
import { capturingLogger } from '../support/server.js';
import { until } from '../support/wait.js';
import { startPgProxy } from '../support/pgProxy.js';

// Each step fails when released with an error: an instance raises two alerts, one per step, in that order.
const FAILS = `chart: fails
initial: first
states:
  first: { run: test.hold, on_success: done, on_failure: second, retry: { attempts: 1 } }
  second: { run: test.hold, on_success: done, on_failure: failed, retry: { attempts: 1 } }
  done: { final: true }
  failed: { final: true }
`;

const LEASE_MS = 30_000;
const { running, pg, kinds } = replicasForFile();

/** One POST the webhook received: from which replica (its URL's query), under which idempotency key, and the answer. */
interface Post {
  readonly from: string;
  readonly key: string;
  readonly instance: string;
  readonly taken: boolean;
}

let hook: Server;
let hookUrl: string;
/** While true the webhook answers 503. */
let down: boolean;
let posts: Post[];

beforeEach(async () => {
  down = false;
  posts = [];
  hook = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const from = new URL(req.url ?? '/', 'http://hook').searchParams.get('from') ?? '';
      posts.push({ from, key: String(req.headers['idempotency-key']), instance: String((JSON.parse(body) as { instance: string }).instance), taken: !down });
      res.statusCode = down ? 503 : 200;
      res.end(down ? 'down for maintenance' : 'ok');
    });
  });
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
  hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/alerts`;
});

afterEach(async () => {
  await new Promise((resolve) => hook.close(resolve));
});

interface Replicas {
  readonly a: Runtime;
  readonly b: Runtime;
  readonly store: Store;
  readonly runs: HeldRun[];
  /** Until both runtimes and both outboxes have nothing under way: what the simulated clock waits for between timers. */
  readonly settled: () => Promise<unknown>;
}

/** Two replicas on one store and one clock, each posting to the webhook with its name in the query. */
async function replicas(stores: ReplicaStores, clock: SimulatedClock): Promise<Replicas> {
  const [storeA, storeB] = await stores();
  const runs: HeldRun[] = [];
  const { log } = capturingLogger();
  const start = async (store: Store, name: string) => {
    const { runtime, outbox } = await startAlertingReplica({
      store, clock, log: log.child({ replica: name }), handlers: holdingHandlers(runs, name), owner: `replica-${name}`, leaseMs: LEASE_MS,
      charts: { 'fails.yaml': FAILS }, webhook: `${hookUrl}?from=${name}`,
    });
    running.push(runtime);
    return { runtime, outbox: outbox! };
  };
  const a = await start(storeA, 'a');
  const b = await start(storeB, 'b');
  const settled = () => Promise.all([a.runtime.whenIdle(), b.runtime.whenIdle(), a.outbox.whenIdle(), b.outbox.whenIdle()]);
  return { a: a.runtime, b: b.runtime, store: storeA, runs, settled };
}

/**
 * Creates `ids` through both replicas in turn and fails both steps of each, one failure at a time a millisecond
 * apart (too soon for a retry after a failed attempt): two alerts an instance, recorded in a known order.
 */
async function failAll(replicas: Replicas, ids: string[], clock: SimulatedClock): Promise<void> {
  for (const [at, id] of ids.entries()) await (at % 2 ? replicas.b : replicas.a).create('fails', id, {});
  for (const step of [1, 2]) {
    await until(() => replicas.runs.length === ids.length * step, `step ${step} of every instance to start`);
    for (const run of replicas.runs.slice(ids.length * (step - 1))) {
      run.release(`step ${step} broke`);
      const [chart, id] = run.instance.split('/') as [string, string];
      await until(async () => (await replicas.a.snapshot(chart, id)).failures.length === step, `step ${step} of ${id} to fail`);
      await clock.advance(1, replicas.settled);
    }
  }
}

/** Each instance's alerts reached the webhook in the order they were raised (the revision that recorded each). */
function inOrderPerInstance(taken: readonly Post[]): boolean {
  const last = new Map<string, number>();
  return taken.every(({ instance, key }) => {
    const revision = Number(key.slice(key.indexOf('@') + 1));
    const before = last.get(instance) ?? 0;
    last.set(instance, revision);
    return revision > before;
  });
}

describe.each(kinds)('alerts on %s', (_name, stores) => {
  it('each is posted once, in order, though both replicas record and claim them', async () => {
    const clock = new SimulatedClock();
    const both = await replicas(stores, clock);
    const ids = ['i1', 'i2', 'i3', 'i4', 'i5', 'i6'];
    await failAll(both, ids, clock);
    await until(async () => (await both.store.count(ALERTS)) === 0, 'every alert delivered');
    await clock.advance(LEASE_MS * 3, both.settled);
    expect(posts).toHaveLength(ids.length * 2);
    expect(new Set(posts.map((post) => post.key)).size).toBe(ids.length * 2);
    expect(posts.every((post) => post.taken)).toBe(true);
    expect(inOrderPerInstance(posts)).toBe(true);
  });

  it('a webhook down then up: one replica retries the oldest with backoff on the Clock, then each is delivered once', async () => {
    const clock = new SimulatedClock();
    down = true;
    const both = await replicas(stores, clock);
    const ids = ['d1', 'd2', 'd3'];
    await failAll(both, ids, clock);
    await both.settled();
    expect(posts).toHaveLength(1);
    const first = posts[0]!;
    // Backoff: the next attempt waits 0.5-1 s and then longer, on the simulated clock.
    await clock.advance(450, both.settled);
    expect(posts).toHaveLength(1);
    await clock.advance(10 * 60_000, both.settled);
    expect(posts.length).toBeGreaterThan(3);
    // Only the holder of the oldest alert tries, and only that alert: the other replica leaves the rest to it.
    expect(new Set(posts.map((post) => `${post.from} ${post.key}`))).toEqual(new Set([`${first.from} ${first.key}`]));

    down = false;
    await clock.advance(5 * 60_000, both.settled);
    await until(async () => (await both.store.count(ALERTS)) === 0, 'every alert delivered');
    await clock.advance(LEASE_MS * 3, both.settled);
    const taken = posts.filter((post) => post.taken);
    expect(taken).toHaveLength(ids.length * 2);
    expect(new Set(taken.map((post) => post.key)).size).toBe(ids.length * 2);
    expect(taken[0]!.key).toBe(first.key);
    expect(inOrderPerInstance(taken)).toBe(true);
  });
});

describe('alerts on PostgreSQL out of reach', () => {
  it('a replica whose renewals hang stops retrying its alert a third of a lease before the claim runs out; the other delivers it after', async () => {
    const proxy = await startPgProxy(pg.server().host, pg.server().port);
    try {
      down = true;
      const database = await pg.stores.freshDatabase();
      const clocks = { a: new SimulatedClock(), b: new SimulatedClock() };
      const runs: HeldRun[] = [];
      const { log, lines } = capturingLogger();
      const start = async (name: 'a' | 'b', port?: number) => {
        const store = await pg.stores.open(database, `application_name=replica-${name}`, {}, port);
        const started = await startAlertingReplica({
          store, clock: clocks[name], log: log.child({ replica: name }), handlers: holdingHandlers(runs, name), owner: `replica-${name}`,
          leaseMs: LEASE_MS, charts: { 'fails.yaml': FAILS }, webhook: `${hookUrl}?from=${name}`,
        });
        running.push(started.runtime);
        return { ...started, store };
      };
      // A alone when the alert is raised, so A claims it, through the proxy about to go silent.
      const a = await start('a', proxy.port);
      await a.runtime.create('fails', 'f1', {});
      await until(() => runs.length === 1, 'the step to start on A');
      runs[0]!.release('step 1 broke');
      await until(() => posts.length === 1, 'A posting the alert');
      const b = await start('b');
      proxy.partition();
      const beat = LEASE_MS / 3;
      await clocks.a.advance(beat - 1);
      const tried = posts.length;
      expect(tried).toBeGreaterThan(1);
      // The renewal a beat ago has not come back: with a beat of the claim left, A stops retrying.
      await clocks.a.advance(beat + 1);
      await until(() => lines.some((line) => line.msg.startsWith('stopped delivering an alert')), 'A giving the alert up');
      const byA = posts.length;
      await clocks.a.advance(LEASE_MS);
      expect(posts.length).toBe(byA);
      expect(posts.every((post) => post.from === 'a')).toBe(true);

      down = false;
      // Not before the claim runs out by B's clock: a lease after A claimed it (its renewals never landed).
      await clocks.b.advance(LEASE_MS - 1000, () => b.outbox!.whenIdle());
      expect(posts.some((post) => post.from === 'b')).toBe(false);
      await until(async () => {
        await clocks.b.advance(1000, () => b.outbox!.whenIdle());
        return posts.some((post) => post.from === 'b' && post.taken);
      }, 'B delivering the alert once the claim ran out');
      expect(new Set(posts.map((post) => post.key)).size).toBe(1);
      await until(async () => (await b.store.count(ALERTS)) === 0, 'the delivered alert removed');
    } finally {
      await proxy.close();
    }
  });
});

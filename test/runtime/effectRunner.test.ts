// Steps and deadlines carried out once across replicas: claimed with a lease, outcomes fenced by it, on the embedded store and on PostgreSQL.
import { describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/runtime/runtime.js';
import { INSTANCES } from '../../src/runtime/runtime.js';
import { EFFECTS } from '../../src/runtime/effectRecords.js';
import type { Store } from '../../src/store/port.js';
import { SimulatedClock } from '../support/clock.js';
import { holdingHandlers, replicasForFile, startReplica, type HeldRun, type ReplicaStores } from '../support/replica.js';
import { capturingLogger, type LogLine } from '../support/server.js';
import { until } from '../support/wait.js';
import { startPgProxy } from '../support/pgProxy.js';

const WORKS = `chart: works
initial: work
states:
  work: { run: test.hold, on_success: done, on_failure: failed, retry: { attempts: 1 } }
  done: { final: true }
  failed: { final: true }
`;

const WAITS = `chart: waits
initial: wait
states:
  wait: { after: 1m, next: expired }
  expired: { final: true }
`;

const LEASE_MS = 30_000;
const { running, pg, kinds } = replicasForFile();

interface Replicas {
  readonly a: Runtime;
  readonly b: Runtime;
  readonly store: Store;
  readonly runs: HeldRun[];
  readonly lines: LogLine[];
}


async function replicas(stores: ReplicaStores, clocks: [SimulatedClock, SimulatedClock]): Promise<Replicas> {
  const [storeA, storeB] = await stores();
  const runs: HeldRun[] = [];
  const { log, lines } = capturingLogger();
  const start = (store: Store, clock: SimulatedClock, name: string) => startReplica({
    store, clock, log: log.child({ replica: name }), handlers: holdingHandlers(runs, name), owner: `replica-${name}`, leaseMs: LEASE_MS,
    charts: { 'works.yaml': WORKS, 'waits.yaml': WAITS },
  });
  const a = await start(storeA, clocks[0], 'a');
  running.push(a);
  const b = await start(storeB, clocks[1], 'b');
  running.push(b);
  return { a, b, store: storeA, runs, lines };
}

const causes = async (runtime: Runtime, id: string, chart = 'works') => (await runtime.history(await runtime.snapshot(chart, id))).map((entry) => entry.cause);

describe.each(kinds)('effects on %s', (_name, stores) => {
  it('a step runs once however many replicas see it, and its outcome takes the effect away', async () => {
    const clock = new SimulatedClock();
    const { a, b, store, runs } = await replicas(stores, [clock, clock]);
    await a.create('works', 'w1', {});
    await until(() => runs.length === 1, 'the step to start');
    expect(await store.count(EFFECTS, 'works/')).toBe(1);
    await Promise.all([a.whenIdle(), b.whenIdle()]);
    runs[0]!.release();
    await until(async () => (await b.snapshot('works', 'w1')).state === 'done', 'the outcome');
    await until(async () => (await store.count(EFFECTS, 'works/')) === 0, 'the effect to go');
    await Promise.all([a.whenIdle(), b.whenIdle()]);
    expect(runs).toHaveLength(1);
    expect(await causes(a, 'w1')).toEqual(['create', 'success']);
  });

  it('a deadline fires once, at its time', async () => {
    const clock = new SimulatedClock();
    const { a, b, store } = await replicas(stores, [clock, clock]);
    await b.create('waits', 'later', {});
    const settled = () => Promise.all([a.whenIdle(), b.whenIdle()]);
    await until(async () => (await store.count(EFFECTS, 'waits/later/')) === 1, 'the deadline to be stored');
    await clock.advance(59_999, settled);
    expect((await a.snapshot('waits', 'later')).state).toBe('wait');
    await clock.advance(1, settled);
    await until(async () => (await a.snapshot('waits', 'later')).state === 'expired', 'the deadline');
    await clock.advance(LEASE_MS * 3, settled);
    expect(await causes(a, 'later', 'waits')).toEqual(['create', 'timer']);
    expect(await store.count(EFFECTS, 'waits/later/')).toBe(0);
  });

  it('a lease that runs out is taken over by another replica, and the first one\'s late outcome is refused', async () => {
    const clocks: Record<string, SimulatedClock> = { a: new SimulatedClock(), b: new SimulatedClock() };
    const { a, b, runs, lines } = await replicas(stores, [clocks.a!, clocks.b!]);
    const runtimes: Record<string, Runtime> = { a, b };
    await a.create('works', 'w2', {});
    await until(() => runs.length === 1, 'a replica to start the step');
    const first = runs[0]!.replica;
    const other = first === 'a' ? 'b' : 'a';
    // The first replica's clock stands still (it stopped renewing, as if cut off); by the other's the lease runs out. The
    // other hears of the step when the change reaches it (at once on the embedded store, by NOTIFY on PostgreSQL), so its
    // time moves a second at a turn.
    await until(async () => {
      await clocks[other]!.advance(1000, () => runtimes[other]!.whenIdle());
      return runs.length === 2;
    }, 'the other replica to take the step over');
    expect(runs[1]!.replica).toBe(other);
    expect(clocks[other]!.now() - clocks[first]!.now()).toBeGreaterThanOrEqual(LEASE_MS);
    runs[0]!.release('too late');
    await until(() => lines.some((line) => line.replica === first && line.msg.startsWith('the claim on an effect was lost')), 'the refusal of the late outcome');
    expect((await b.snapshot('works', 'w2')).state).toBe('work');
    runs[1]!.release();
    await until(async () => (await b.snapshot('works', 'w2')).state === 'done', 'the outcome of the replica holding the lease');
    expect(await causes(b, 'w2')).toEqual(['create', 'success']);
  });

  it('a step held for three leases stays with the replica renewing it: each renewal lands before time moves on', async () => {
    const clock = new SimulatedClock();
    const { a, b, runs } = await replicas(stores, [clock, clock]);
    await a.create('works', 'w5', {});
    await until(() => runs.length === 1, 'the step to start');
    await clock.advance(LEASE_MS * 3, () => Promise.all([a.whenIdle(), b.whenIdle()]));
    expect(runs).toHaveLength(1);
    expect(runs[0]!.signal.aborted).toBe(false);
    runs[0]!.release();
    await until(async () => (await a.snapshot('works', 'w5')).state === 'done', 'the outcome');
    expect(await causes(a, 'w5')).toEqual(['create', 'success']);
  });

  it('an interrupt stops a running step', async () => {
    const clock = new SimulatedClock();
    const { a, b, store, runs } = await replicas(stores, [clock, clock]);
    await a.create('works', 'w3', {});
    await until(() => runs.length === 1, 'the step to start');
    // Whichever replica runs it, the interrupt through the other stops it.
    await b.interrupt('works', 'w3', 'interrupted by SIGINT');
    await until(() => runs[0]!.signal.aborted, 'the step to be stopped');
    expect((await a.snapshot('works', 'w3')).state).toBe('failed');
    expect(await store.count(EFFECTS, 'works/')).toBe(0);
    expect(await store.get(INSTANCES, 'works/w3')).toBeDefined();
  });
});

describe('effects on PostgreSQL out of reach', () => {
  it('a replica whose renewals hang stops its step a third of a lease before the claim runs out; another takes it over then', async () => {
    const proxy = await startPgProxy(pg.server().host, pg.server().port);
    try {
      const database = await pg.stores.freshDatabase();
      const clocks = { a: new SimulatedClock(), b: new SimulatedClock() };
      const runs: HeldRun[] = [];
      const { log } = capturingLogger();
      const start = async (name: 'a' | 'b', port?: number) => {
        const store = await pg.stores.open(database, `application_name=replica-${name}`, {}, port);
        const runtime = await startReplica({
          store, clock: clocks[name], log: log.child({ replica: name }), handlers: holdingHandlers(runs, name), owner: `replica-${name}`,
          leaseMs: LEASE_MS, charts: { 'works.yaml': WORKS },
        });
        running.push(runtime);
        return runtime;
      };
      // A alone when the step is due, so A claims it, through the proxy about to go silent.
      const a = await start('a', proxy.port);
      await a.create('works', 'w4', {});
      await until(() => runs.length === 1, 'the step to start on A');
      const b = await start('b');
      proxy.partition();
      const beat = LEASE_MS / 3;
      await clocks.a.advance(beat);
      expect(runs[0]!.signal.aborted).toBe(false);
      // The renewal a beat ago has not come back: with a beat of the claim left, A gives it up.
      await clocks.a.advance(beat);
      await until(() => runs[0]!.signal.aborted, 'A stopping its step');
      await until(async () => {
        await clocks.b.advance(1000, () => b.whenIdle());
        return runs.length === 2;
      }, 'B taking the step over');
      expect(runs[1]!.replica).toBe('b');
      // Not before the claim ran out: A had stopped a beat before that.
      expect(clocks.b.now() - clocks.a.now()).toBeGreaterThanOrEqual(beat);
      runs[1]!.release();
      await until(async () => (await b.snapshot('works', 'w4')).state === 'done', 'the outcome B committed');
      expect(await causes(b, 'w4')).toEqual(['create', 'success']);
    } finally {
      await proxy.close();
    }
  });
});

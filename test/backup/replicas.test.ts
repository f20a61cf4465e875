// Two backup controllers on one store, as replicas run them: requests, record updates and zone results each handled once.

import { appendFile, readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadBackupConfig } from '../../src/backup/controller/config.js';
import { createBackupController } from '../../src/backup/controller/assemble.js';
import type { BackupController } from '../../src/backup/controller/controller.js';
import { RequestRecords } from '../../src/backup/controller/requestRecords.js';
import { INBOX } from '../../src/backup/controller/resultInbox.js';
import type { ZoneResult } from '../../src/backup/zone.js';
import { handlerRegistry } from '../../src/main.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import type { Store } from '../../src/store/port.js';
import { SimulatedClock } from '../support/clock.js';
import { replicasForFile, startReplica, type ReplicaStores } from '../support/replica.js';
import { capturingLogger, tempDirs } from '../support/server.js';
import { startTakingZone, type TakingZone } from '../support/takingZone.js';
import { until } from '../support/wait.js';

const LEASE_MS = 30_000;
/** timeouts.answer in the config: how long a reception waits for the allow check, on the clock. */
const ANSWER_MS = 100;
const TOKEN_ENV = 'CHARTD_TEST_REPLICA_TOKEN';
const { running, pg, kinds } = replicasForFile();
const dirs = tempDirs();

let zone: TakingZone;
let configFile: string;
let requestChart: string;

beforeEach(async () => {
  process.env[TOKEN_ENV] = 'replica-test-token';
  zone = await startTakingZone();
  configFile = await zone.writeConfig(await dirs.make('chartd-bc-replicas-'), { zoneToken: TOKEN_ENV, resultsToken: TOKEN_ENV });
  // These runtimes do not follow each other's commits (chartd serve's do), so a receipt whose check ran on the other replica is answered after this.
  await appendFile(configFile, `timeouts: { answer: ${ANSWER_MS}ms }\n`);
  requestChart = await readFile('charts/backup-request.yaml', 'utf8');
});

afterEach(async () => {
  for (const controller of controllers.splice(0)) await controller.inbox.stop();
  await zone.close();
  await dirs.removeAll();
});

const controllers: BackupController[] = [];

interface Replica {
  readonly runtime: Runtime;
  readonly controller: BackupController;
  readonly store: Store;
  readonly clock: SimulatedClock;
}

/** A runtime serving the request chart on `store` and its backup controller, started as `chartd serve --backup-config` starts them. */
async function startController(store: Store, clock: SimulatedClock, name: string, logger: Logger = capturingLogger('info').log): Promise<Replica> {
  const log = logger.child({ replica: name });
  let controller: BackupController | undefined;
  const runtime = await startReplica({
    store, clock, log, handlers: handlerRegistry(() => controller), charts: { 'backup-request.yaml': requestChart }, owner: `replica-${name}`, leaseMs: LEASE_MS,
  });
  running.push(runtime);
  controller = createBackupController(await loadBackupConfig(configFile), { runtime, store, clock, log, fetch: (url, init) => fetch(url, init), owner: `replica-${name}`, leaseMs: LEASE_MS });
  controllers.push(controller);
  await controller.start();
  return { runtime, controller, store, clock };
}

/**
 * `receiving`, with `clock` moved on while it waits. Whichever replica claims a request's allow check runs it; when
 * the other did, this runtime hears nothing of it and answers once its wait (timeouts.answer) runs out on the clock.
 */
async function onClock<T>(clock: SimulatedClock, receiving: Promise<T>): Promise<T> {
  let answered = false;
  const answer = receiving.finally(() => {
    answered = true;
  });
  await until(async () => {
    if (!answered) await clock.advance(ANSWER_MS);
    return answered;
  }, 'the reception to be answered');
  return answer;
}

async function twoControllers(stores: ReplicaStores, clock = new SimulatedClock()): Promise<[Replica, Replica]> {
  const [first, second] = await stores();
  return [await startController(first, clock, 'a'), await startController(second, clock, 'b')];
}

function resultOf(requestId: string): ZoneResult {
  return {
    requestId, zone: 'east', ok: true, file: `long_term/acme/sales/${requestId}.tar.gz.gpg`, size: 1, sha256: 'ab'.repeat(32),
    failures: [], startedAt: '2026-11-21T01:00:00.000Z', finishedAt: '2026-11-21T01:05:00.000Z',
  };
}

const BODY = { apiVersion: 'v1', backupJobId: 'nightly', dataDate: '2026-11-21' };

async function stateOf(replica: Replica, id: string): Promise<string | undefined> {
  return (await replica.runtime.find('backup-request', id))?.state;
}

/** A request received on `on`, once its order was sent. */
async function sentRequest(on: Replica): Promise<string> {
  const { request } = await onClock(on.clock, on.controller.receive(BODY, { transport: 'http' }));
  await until(async () => (await stateOf(on, request.id)) === 'Sent', 'the request to be sent');
  return request.id;
}

/** The causes of the request's transitions to `to`. */
async function movesTo(replica: Replica, id: string, to: string): Promise<number> {
  const snapshot = await replica.runtime.snapshot('backup-request', id);
  return (await replica.runtime.history(snapshot)).filter((step) => step.to === to).length;
}

describe.each(kinds)('two backup controllers on %s', (_kind, stores) => {
  it('the same Idempotency-Key sent to both at once creates one request', async () => {
    const [a, b] = await twoControllers(stores);
    const receptions = await onClock(a.clock, Promise.all(Array.from({ length: 8 }, (_, at) => (at % 2 ? b : a).controller.receive(BODY, { transport: 'http', idempotencyKey: 'nightly-2026-11-21' }))));
    expect(new Set(receptions.map((each) => each.request.id)).size).toBe(1);
    expect(receptions.filter((each) => each.created)).toHaveLength(1);
    expect(await a.controller.records.list()).toHaveLength(1);
    expect(await b.runtime.instances('backup-request')).toHaveLength(1);
  });

  it('started at once on records whose instances were never created, they create each instance once', async () => {
    const [first, second] = await stores();
    const records = new RequestRecords(first);
    const ids = ['0b0e7c1e-0000-4000-8000-000000000001', '0b0e7c1e-0000-4000-8000-000000000002'];
    for (const id of ids) await records.create({ id, transport: 'http', ...BODY, receivedAt: '2026-11-21T00:00:00.000Z' });
    const clock = new SimulatedClock();
    const [a] = await Promise.all([startController(first, clock, 'a'), startController(second, clock, 'b')]);
    expect((await a.runtime.instances('backup-request')).map((snapshot) => snapshot.id).sort()).toEqual(ids);
  });

  it('50 concurrent updates of one record through both lose none', async () => {
    const [a, b] = await twoControllers(stores);
    const id = await sentRequest(a);
    const count = (message: string | undefined) => Number(message ?? 0);
    await Promise.all(Array.from({ length: 50 }, (_, at) => (at % 2 ? b : a).controller.records.update(id, (record) => ({
      lastError: { at: record.receivedAt, step: 'test', message: String(count(record.lastError?.message) + 1) },
    }))));
    expect((await b.controller.records.get(id))!.lastError!.message).toBe('50');
  });

  it('one zone result accepted on both at once is recorded once', async () => {
    const [a, b] = await twoControllers(stores);
    const id = await sentRequest(b);
    await Promise.all([a.controller.inbox.accept(resultOf(id)), b.controller.inbox.accept(resultOf(id)), a.controller.inbox.accept(resultOf(id))]);
    await until(async () => (await a.controller.inbox.size()) === 0 && (await stateOf(a, id)) === 'Succeeded', 'the result to be recorded');
    expect(await movesTo(a, id, 'Succeeded')).toBe(1);
    expect(await a.controller.listBackups()).toEqual([expect.objectContaining({ requestId: id })]);
    await until(async () => (await b.controller.records.get(id))?.resultRecordedAt !== undefined, 'the record to say so');
    expect(a.controller.inbox.failure()).toBeUndefined();
    expect(b.controller.inbox.failure()).toBeUndefined();
  });

  it('a result that comes before its request is sent waits, and the send on the other replica wakes it', async () => {
    const clock = new SimulatedClock();
    const [store, other] = await stores();
    const a = await startController(store, clock, 'a');
    zone.holding = true;
    const { request } = await onClock(clock, a.controller.receive(BODY, { transport: 'http' }));
    await until(() => zone.orders.length === 1, 'the order to reach the zone');
    // Only replica b runs an inbox from here: a's sending the order must reach b through the store.
    const b = await startController(other, clock, 'b');
    await a.controller.inbox.stop();
    await b.controller.inbox.accept(resultOf(request.id));
    await until(async () => (await other.get<{ due?: number }>(INBOX, request.id))?.value.due === undefined, 'the result to wait');
    expect(await stateOf(b, request.id)).toBe('Allowed');
    zone.release();
    await until(async () => (await stateOf(b, request.id)) === 'Succeeded' && (await b.controller.inbox.size()) === 0, 'the result to be recorded');
    expect(await movesTo(b, request.id, 'Succeeded')).toBe(1);
  });
});

describe('zone results on PostgreSQL failing', () => {
  /** Refuses any commit that records a backup: on every connection, or only on those of application `only`. */
  async function refuseBackups(database: string, only?: string): Promise<{ allow(): Promise<void> }> {
    const condition = only === undefined ? '' : ` AND current_setting('application_name') = '${only}'`;
    await pg.server().psql(database, `CREATE FUNCTION public.refuse_backups() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.collection = 'backups'${condition} THEN RAISE EXCEPTION 'backups refused by the test'; END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER refuse_backups BEFORE INSERT OR UPDATE ON chartd.documents FOR EACH ROW EXECUTE FUNCTION public.refuse_backups();`);
    return { allow: async () => void (await pg.server().psql(database, 'DROP TRIGGER refuse_backups ON chartd.documents;')) };
  }

  it('processing that fails is retried on the clock under the retry policy, and succeeds once the store takes it', async () => {
    const database = await pg.stores.freshDatabase();
    const [first, second] = [await pg.stores.open(database, 'application_name=replica-a'), await pg.stores.open(database, 'application_name=replica-b')];
    const clock = new SimulatedClock();
    const { log, lines } = capturingLogger('info');
    const a = await startController(first, clock, 'a', log);
    const b = await startController(second, clock, 'b', log);
    const id = await sentRequest(a);
    const refused = await refuseBackups(database);
    await a.controller.inbox.accept(resultOf(id));
    const failure = () => a.controller.inbox.failure() ?? b.controller.inbox.failure();
    await until(() => failure() !== undefined, 'the processing to fail');
    expect(failure()).toMatch(new RegExp(`^1 zone results could not be processed and wait in the inbox \\(${id}: .*backups refused by the test`));
    const settled = () => Promise.all([a.runtime.whenIdle(), b.runtime.whenIdle(), a.controller.inbox.whenIdle(), b.controller.inbox.whenIdle()]);
    const tries = () => lines.filter((line) => line.msg.startsWith('a zone result could not be processed now')).length;
    // Tried again each time the backoff has passed, not before.
    await until(async () => {
      await clock.advance(1000, settled);
      return tries() >= 3;
    }, 'three tries');
    expect(await stateOf(a, id)).toBe('Sent');
    await refused.allow();
    await until(async () => {
      await clock.advance(1000, settled);
      return (await stateOf(a, id)) === 'Succeeded' && (await a.controller.inbox.size()) === 0;
    }, 'the result to be recorded', 15_000);
    expect(failure()).toBeUndefined();
    expect(await a.controller.listBackups()).toHaveLength(1);
    expect(lines.filter((line) => line.msg === 'zone result recorded')).toHaveLength(1);
  });

  it('a result whose replica stops renewing is taken over after the lease, and the stale one cannot commit', async () => {
    const database = await pg.stores.freshDatabase();
    const [first, second] = [await pg.stores.open(database, 'application_name=replica-a'), await pg.stores.open(database, 'application_name=replica-b')];
    const clocks = { a: new SimulatedClock(), b: new SimulatedClock() };
    const { log, lines } = capturingLogger('info');
    const a = await startController(first, clocks.a, 'a', log);
    const b = await startController(second, clocks.b, 'b', log);
    const id = await sentRequest(a);
    // a takes the result and fails on it; b's inbox is stopped meanwhile, so a is the one that claims it.
    await b.controller.inbox.stop();
    const refused = await refuseBackups(database, 'replica-a');
    await a.controller.inbox.accept(resultOf(id));
    await until(() => a.controller.inbox.failure() !== undefined, 'a to fail on the result');
    await b.controller.inbox.start();
    // a's clock stands still (it stopped renewing, as if cut off); by b's the lease runs out and b takes the result over.
    await until(async () => {
      await clocks.b.advance(1000, () => Promise.all([b.runtime.whenIdle(), b.controller.inbox.whenIdle()]));
      return (await stateOf(b, id)) === 'Succeeded' && (await b.controller.inbox.size()) === 0;
    }, 'b to take the result over', 15_000);
    expect(clocks.b.now() - clocks.a.now()).toBeGreaterThanOrEqual(LEASE_MS);
    // a tries again, with the store taking its writes now: its claim is gone, so it commits nothing.
    await refused.allow();
    await clocks.a.advance(1000, () => Promise.all([a.runtime.whenIdle(), a.controller.inbox.whenIdle()]));
    await until(() => lines.some((line) => line.replica === 'a' && line.msg.startsWith('stopped processing a zone result')), 'a to give the result up');
    expect(lines.filter((line) => line.msg === 'zone result recorded').map((line) => line.replica)).toEqual(['b']);
    expect(a.controller.inbox.failure()).toBeUndefined();
    expect(await movesTo(a, id, 'Succeeded')).toBe(1);
    expect(await a.controller.listBackups()).toHaveLength(1);
  });
});

// Runtimes on one store as replicas would be (each its own claims, queue and clock), with a step handler a test holds and releases.

import type { Logger } from 'pino';
import { afterEach } from 'vitest';
import { parseChart } from '../../src/chart/load.js';
import { builtinHandlers } from '../../src/handlers/builtin.js';
import type { Handler, StepContext } from '../../src/handlers/handler.js';
import { createRegistry, type HandlerRegistry } from '../../src/handlers/registry.js';
import { chartLoadOptions } from '../../src/main.js';
import { AlertOutbox } from '../../src/runtime/alertOutbox.js';
import { createAlerter } from '../../src/runtime/alerts.js';
import { BoundSettings } from '../../src/runtime/boundSettings.js';
import { ChartCatalog } from '../../src/runtime/catalog.js';
import type { Clock } from '../../src/runtime/clock.js';
import { Environment } from '../../src/runtime/environment.js';
import { InputChecker } from '../../src/runtime/inputChecker.js';
import { DEFAULT_LEASE_MS, Runtime } from '../../src/runtime/runtime.js';
import { openLowdbStore } from '../../src/store/lowdbStore.js';
import type { Store } from '../../src/store/port.js';
import { postgresForFile, type PostgresStores } from '../store/postgresStores.js';
import { tempDirs } from './server.js';

/** One attempt of `test.hold`: which replica's runtime ran it, and how it ends. */
export interface HeldRun {
  /** The name the handlers were made with: the replica that ran it. */
  readonly replica: string;
  readonly instance: string;
  readonly attempt: number;
  readonly signal: AbortSignal;
  release(error?: string): void;
}

/** `test.hold` runs until the test releases it (or its signal aborts); every run is added to `runs`, named `replica`. */
export function holdingHandlers(runs: HeldRun[], replica: string): HandlerRegistry {
  const hold: Handler = {
    name: 'test.hold',
    description: 'Waits until the test releases it.',
    params: { type: 'object', properties: {}, additionalProperties: false },
    run: (_args, ctx: StepContext) => new Promise<void>((resolve, reject) => {
      ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error), { once: true });
      runs.push({
        replica, instance: `${ctx.instance.chart}/${ctx.instance.id}`, attempt: ctx.instance.attempt, signal: ctx.signal,
        release: (error) => (error === undefined ? resolve() : reject(new Error(error))),
      });
    }),
  };
  return createRegistry([...builtinHandlers(), hold]);
}

export interface ReplicaOptions {
  readonly store: Store;
  readonly clock: Clock;
  readonly log: Logger;
  readonly handlers: HandlerRegistry;
  /** Chart sources by file name. */
  readonly charts: Readonly<Record<string, string>>;
  readonly owner: string;
  readonly leaseMs?: number;
  /** Where its alerts go (--alert-webhook): delivered by its outbox, started with it (as the alerts service is). */
  readonly webhook?: string;
}

/** A started runtime serving `charts` on `store`, as `chartd serve` builds one (without HTTP). */
export async function startReplica(options: ReplicaOptions): Promise<Runtime> {
  return (await startAlertingReplica(options)).runtime;
}

/** As startReplica, with the outbox delivering its alerts when `webhook` is given. */
export async function startAlertingReplica(options: ReplicaOptions): Promise<{ runtime: Runtime; outbox: AlertOutbox | undefined }> {
  const { store, clock, log, handlers } = options;
  const load = chartLoadOptions(handlers);
  const charts = Object.entries(options.charts).map(([file, source]) => parseChart(source, file, load));
  const catalog = await ChartCatalog.open(charts, store, (source, file) => parseChart(source, file, load));
  await catalog.archiveCurrent(new Date(clock.now()));
  const inputs = new InputChecker();
  const outbox = options.webhook === undefined ? undefined : new AlertOutbox({
    store, clock, log, url: options.webhook, fetch: (url, init) => fetch(url, init), owner: options.owner, leaseMs: options.leaseMs ?? DEFAULT_LEASE_MS,
  });
  const runtime = new Runtime({
    store, catalog, handlers, clock, log, inputs, alerter: createAlerter({ log, ...(outbox ? { outbox } : {}) }), settings: new BoundSettings(inputs, {}),
    environment: new Environment(new Set()), owner: options.owner, ...(options.leaseMs ? { leaseMs: options.leaseMs } : {}),
  });
  await runtime.start();
  await outbox?.start();
  return { runtime, outbox };
}

/** Two replicas' stores, opened per test. */
export type ReplicaStores = () => Promise<[Store, Store]>;

/** Both kinds of store replicas share: one embedded store object (its claims in memory), or two connections to one fresh database; embedded ones are added to `opened` for closing. */
export function replicaStoreKinds(dirs: { make(prefix: string): Promise<string> }, pg: PostgresStores, opened: Store[]): [string, ReplicaStores][] {
  return [
    ['the embedded store', async () => {
      const store = await openLowdbStore(await dirs.make('chartd-data-'));
      opened.push(store);
      return [store, store];
    }],
    ['PostgreSQL', async () => {
      const [first, second] = await pg.replicas(2);
      return [first!, second!];
    }],
  ];
}

/**
 * The replicas of a test file: runtimes started and stores opened by its tests (stopped and closed after each),
 * temporary directories removed, one PostgreSQL for the file, and the store kinds to run each test on.
 */
export function replicasForFile(): { running: Runtime[]; opened: Store[]; pg: ReturnType<typeof postgresForFile>; kinds: [string, ReplicaStores][] } {
  const dirs = tempDirs();
  const pg = postgresForFile();
  const running: Runtime[] = [];
  const opened: Store[] = [];
  afterEach(async () => {
    for (const runtime of running.splice(0)) await runtime.stop();
    for (const store of opened.splice(0)) await store.close();
    await dirs.removeAll();
  });
  return { running, opened, pg, kinds: replicaStoreKinds(dirs, pg.stores, opened) };
}

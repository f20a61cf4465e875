// The built-in zone: takes backup orders once per request id, runs backup-and-encrypt for each, reports through its outbox.

import type { Logger } from 'pino';
import type { Snapshot } from '../../engine/snapshot.js';
import { Conflict, NotFound } from '../../errors.js';
import type { Clock } from '../../runtime/clock.js';
import { instanceKey, type Runtime } from '../../runtime/runtime.js';
import type { Store } from '../../store/port.js';
import { readAll } from '../../store/readAll.js';
import { Unprocessable } from '../errors.js';
import { KeyedMutex } from '../keyedMutex.js';
import { ZONE_OUTBOX, type ZoneOutbox } from './zoneOutbox.js';
import { buildResult } from './zoneResult.js';
import type { ZoneOrder, ZoneReceipt } from '../zone.js';

export const ZONE_ORDERS = 'zone-orders';
export const ZONE_CHART = 'backup-and-encrypt';
/** The settings the zone supplies for each backup; the chart it runs must declare them all. */
export const ZONE_SETTINGS: readonly string[] = ['storage_root', 'gnupg_home', 'postgresql_host', 'postgresql_port', 'postgresql_user', 'password_env'];

export interface OrderRecord {
  readonly order: ZoneOrder;
  readonly receivedAt: string;
  /** When its backup-and-encrypt instance was created (id = request id). */
  readonly startedAt?: string;
  /** When its result went into the outbox. */
  readonly finishedAt?: string;
  readonly deliveredAt?: string;
}

export interface ZoneServiceOptions {
  readonly runtime: Runtime;
  readonly store: Store;
  readonly clock: Clock;
  readonly log: Logger;
  readonly outbox: ZoneOutbox;
  /** This zone's name, reported with every result. */
  readonly name: string;
  /** Absolute path of the storage area (intermediate/ and long_term/). */
  readonly storageRoot: string;
  /** GnuPG home with the recipients' public keys; undefined = the default keyring. */
  readonly gnupgHome?: string;
  /** The variables the zone's operator lets handlers read (--values FILE): an order's passwordEnv must be one. */
  readonly environment: { allows(name: string): boolean };
}

export class ZoneService {
  private readonly orders = new KeyedMutex();
  private readonly sources = new KeyedMutex();
  /** Orders without a result yet, by id -> source (client/database). */
  private readonly open = new Map<string, string>();
  private stopListening: (() => void) | undefined;
  private stopped = false;

  constructor(private readonly options: ZoneServiceOptions) {}

  async start(): Promise<void> {
    const { runtime, store } = this.options;
    this.stopListening = runtime.onChange(({ after }) => {
      if (after.chart === ZONE_CHART && after.status === 'done') this.finishLater(after.id);
    });
    for (const record of await readAll<OrderRecord>(store, ZONE_ORDERS)) {
      const id = record.order.requestId;
      const snapshot = await this.snapshotOf(id);
      if (record.finishedAt) continue;
      this.open.set(id, sourceOf(record.order));
      if (snapshot?.status === 'done') this.finishLater(id);
    }
    for (const source of new Set(this.open.values())) this.pumpLater(source);
  }

  /**
   * Starts no more backups; those running are interrupted and clean up (their results go into the outbox) before it
   * resolves, so nothing unencrypted stays on disk while the zone is down. A second signal stops the process at once;
   * the cleanup then finishes when the zone starts again.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.interruptRunning();
    this.stopListening?.();
    await this.options.outbox.stop();
    await Promise.all([this.orders.idle(), this.sources.idle()]);
  }

  /** Takes an order once: the same request id again is acknowledged without a second backup. */
  accept(order: ZoneOrder): Promise<ZoneReceipt> {
    const id = order.requestId;
    return this.orders.run(id, async () => {
      const existing = (await this.options.store.get<OrderRecord>(ZONE_ORDERS, id))?.value;
      if (existing) {
        if (canonical(existing.order) !== canonical(order)) throw new Conflict(`order ${id} was received before with different contents`);
        return { requestId: id, zone: this.options.name, created: false };
      }
      const { passwordEnv } = order.source;
      if (passwordEnv !== undefined && !this.options.environment.allows(passwordEnv)) {
        throw new Unprocessable(`zone ${this.options.name} does not let backups read the environment variable ${passwordEnv} (source.passwordEnv): ` +
          `its operator adds it to environment: in the zone's --values FILE`);
      }
      this.options.runtime.checkContext(ZONE_CHART, contextFor(order));
      this.options.runtime.checkSettings(ZONE_CHART, this.settingsFor(order));
      const record: OrderRecord = { order, receivedAt: this.now() };
      await this.options.store.commit([{ collection: ZONE_ORDERS, key: id, value: record }]);
      this.open.set(id, sourceOf(order));
      this.pumpLater(sourceOf(order));
      return { requestId: id, zone: this.options.name, created: true };
    });
  }

  async describe(id: string): Promise<Record<string, unknown>> {
    const record = (await this.options.store.get<OrderRecord>(ZONE_ORDERS, id))?.value;
    if (!record) throw new NotFound(`no order ${id}`);
    const snapshot = await this.snapshotOf(id);
    return {
      ...record,
      state: snapshot?.state ?? 'queued',
      status: snapshot?.status ?? 'queued',
      failures: snapshot?.failures ?? [],
      outbox: (await this.options.store.get(ZONE_OUTBOX, id))?.value ?? null,
    };
  }

  get openOrders(): number {
    return this.open.size;
  }

  /** One backup at a time per source, so a database is not dumped twice at once. */
  private pumpLater(source: string): void {
    this.sources.run(source, () => this.pump(source)).catch((error: Error) =>
      this.options.log.error({ source, err: error.message }, 'could not start the next backup; it starts on restart'));
  }

  private async pump(source: string): Promise<void> {
    if (this.stopped) return;
    const { runtime, store } = this.options;
    const waiting: OrderRecord[] = [];
    for (const [id, of] of this.open) {
      if (of !== source) continue;
      const snapshot = await this.snapshotOf(id);
      if (snapshot && snapshot.status !== 'done') return;
      const record = (await store.get<OrderRecord>(ZONE_ORDERS, id))?.value;
      if (!snapshot && record) waiting.push(record);
    }
    const next = waiting.sort((a, b) => a.receivedAt.localeCompare(b.receivedAt))[0];
    if (!next) return;
    const id = next.order.requestId;
    const started: OrderRecord = { ...next, startedAt: this.now() };
    await store.commit([{ collection: ZONE_ORDERS, key: id, value: started }]);
    try {
      await runtime.create(ZONE_CHART, id, contextFor(next.order), { settings: this.settingsFor(next.order) });
    } catch (error) {
      // E.g. the chart changed and no longer takes this order: report it failed rather than block the source.
      const at = this.now();
      const result = { requestId: id, zone: this.options.name, ok: false, failures: [`the backup could not start: ${(error as Error).message}`], startedAt: at, finishedAt: at };
      await this.options.outbox.put(result, at, [{ collection: ZONE_ORDERS, key: id, value: { ...started, finishedAt: at } }]);
      this.open.delete(id);
      this.pumpLater(source);
      return;
    }
    this.options.log.info({ request: id, source }, 'backup started');
  }

  private finishLater(id: string): void {
    this.orders.run(id, () => this.finish(id)).catch((error: Error) =>
      this.options.log.error({ request: id, err: error.message }, 'could not queue the result; it is queued on restart'));
  }

  /** Builds the result of a finished backup and puts it in the outbox with the order's finished time, together. */
  private async finish(id: string): Promise<void> {
    const { runtime, store, outbox } = this.options;
    const record = (await store.get<OrderRecord>(ZONE_ORDERS, id))?.value;
    const snapshot = await this.snapshotOf(id);
    if (!record || record.finishedAt || snapshot?.status !== 'done') return;
    const result = await buildResult(runtime.chartOf(snapshot), snapshot, await runtime.history(snapshot), this.options.name, runtime.failurePrefix(snapshot));
    const at = this.now();
    await outbox.put(result, at, [{ collection: ZONE_ORDERS, key: id, value: { ...record, finishedAt: at } }]);
    this.open.delete(id);
    this.pumpLater(sourceOf(record.order));
  }

  /** Where the backup connects and writes: the zone's own storage and keyring, and the source the controller vouches for. */
  private settingsFor(order: ZoneOrder): Record<string, unknown> {
    const { source } = order;
    return {
      storage_root: this.options.storageRoot,
      ...(this.options.gnupgHome !== undefined ? { gnupg_home: this.options.gnupgHome } : {}),
      postgresql_host: source.host,
      ...(source.port !== undefined ? { postgresql_port: source.port } : {}),
      ...(source.user !== undefined ? { postgresql_user: source.user } : {}),
      ...(source.passwordEnv !== undefined ? { password_env: source.passwordEnv } : {}),
    };
  }

  /** Interrupts every backup still running and waits until each has cleaned up and its result is in the outbox. */
  private async interruptRunning(): Promise<void> {
    const { runtime, log, name } = this.options;
    const snapshots = await Promise.all([...this.open.keys()].map((id) => this.snapshotOf(id)));
    const running = snapshots.filter((snapshot) => snapshot?.status === 'active').map((snapshot) => snapshot!.id);
    if (!running.length) return;
    log.warn({ backups: running }, `stopping: ${running.length} running backup${running.length === 1 ? ' is' : 's are'} interrupted and clean up first`);
    await Promise.all(running.map(async (id) => {
      const parked = new AbortController();
      const done = runtime.waitFor(ZONE_CHART, id, (snapshot) => snapshot.status === 'done', 2 ** 31 - 1, parked.signal);
      const interrupted = await runtime.interrupt(ZONE_CHART, id, `interrupted: zone ${name} is stopping`);
      if (interrupted.status === 'done') parked.abort();
      await done;
    }));
    // Their results, put into the outbox by finish(), are delivered when the zone starts again.
    await this.orders.idle();
  }

  private snapshotOf(id: string): Promise<Snapshot | undefined> {
    return this.options.runtime.find(ZONE_CHART, id);
  }

  private now(): string {
    return new Date(this.options.clock.now()).toISOString();
  }
}

/** What the backup is of: the client's name, database, fiscal year end and key. */
function contextFor(order: ZoneOrder): Record<string, unknown> {
  return { client_name: order.client, database: order.source.database, eoy_month: order.eoyMonth, key_name: order.keyName };
}

function sourceOf(order: ZoneOrder): string {
  return `${order.client}/${order.source.database}`;
}

/** JSON with sorted keys, so equal orders compare equal whatever their key order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    item && typeof item === 'object' && !Array.isArray(item)
      ? Object.fromEntries(Object.entries(item as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : item);
}

/** Writes that mark an order delivered; the outbox commits them with the entry's removal. */
export function deliveredWrites(store: Store, now: () => string): (id: string) => Promise<{ collection: string; key: string; value: unknown }[]> {
  return async (id) => {
    const record = (await store.get<OrderRecord>(ZONE_ORDERS, id))?.value;
    return record ? [{ collection: ZONE_ORDERS, key: id, value: { ...record, deliveredAt: now() } }] : [];
  };
}

// The replicas sharing a store, each with the chart versions it serves: a version served by one and not the others is named.

import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Chart } from '../chart/model.js';
import { unlessTaken, type Store, type Stored } from '../store/port.js';
import { readAllStored } from '../store/readAll.js';
import type { Clock, ClockTimer } from './clock.js';

export const REPLICAS = 'replicas';

/** Each replica writes its record again this often, so the others can tell it is still there. */
export const HEARTBEAT_MS = 30_000;
/** A record not written again for this long is a replica gone without saying so (killed): left out of comparisons. */
export const GONE_AFTER_MS = 3 * HEARTBEAT_MS;
/** A record not written again for this long is removed, so replicas killed over the years leave nothing behind. */
export const FORGOTTEN_AFTER_MS = 60 * 60_000;

export interface ReplicaRecord {
  readonly replica: string;
  readonly host: string;
  readonly pid: number;
  /** Chart name → the version (content hash) this replica serves. */
  readonly charts: Readonly<Record<string, string>>;
  readonly startedAt: string;
  /** Epoch ms of its last write, by its own clock. */
  readonly seenAt: number;
}

/** A chart served in more than one version: each version with the replicas serving it. */
export interface VersionMismatch {
  readonly chart: string;
  readonly versions: Readonly<Record<string, readonly string[]>>;
}

export interface ReplicasView {
  /** This replica's id in the store's `replicas` collection. */
  readonly self: string;
  /** Replicas heard from in the last GONE_AFTER_MS, this one included. */
  readonly live: number;
  readonly mismatched: readonly VersionMismatch[];
}

export interface ReplicaRegistryOptions {
  readonly store: Store;
  readonly clock: Clock;
  readonly log: Logger;
  /** The charts this replica serves now. */
  readonly served: () => readonly Chart[];
}

export class ReplicaRegistry {
  readonly self = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  private readonly startedAt: string;
  private records: readonly ReplicaRecord[] = [];
  private mismatched: readonly VersionMismatch[] = [];
  private timer: ClockTimer | undefined;
  private problem: string | undefined;

  constructor(private readonly options: ReplicaRegistryOptions) {
    this.startedAt = new Date(options.clock.now()).toISOString();
  }

  /** Records what this replica serves and compares it with the others', then does so every HEARTBEAT_MS. */
  async start(): Promise<void> {
    await this.publish();
    await this.refresh();
    this.schedule();
  }

  /** Writes this replica's record again: at start, on each heartbeat, and when the charts it serves change. */
  async publish(): Promise<void> {
    const { store, clock } = this.options;
    const charts = Object.fromEntries(this.options.served().map((chart) => [chart.name, chart.version]));
    const record: ReplicaRecord = { replica: this.self, host: hostname(), pid: process.pid, charts, startedAt: this.startedAt, seenAt: clock.now() };
    await store.commit([{ collection: REPLICAS, key: this.self, value: record }]);
  }

  /** Reads every replica's record again (one changed), removes those long gone, and names each chart served in more than one version. */
  async refresh(): Promise<void> {
    const now = this.options.clock.now();
    const stored = await readAllStored<ReplicaRecord>(this.options.store, REPLICAS);
    await this.forget(stored.filter(({ value }) => value.replica !== this.self && now - value.seenAt >= FORGOTTEN_AFTER_MS));
    const records = stored.map(({ value }) => value).filter((record) => record.replica === this.self || now - record.seenAt < GONE_AFTER_MS);
    const before = new Set(this.mismatched.map((mismatch) => `${mismatch.chart} ${JSON.stringify(mismatch.versions)}`));
    this.records = records;
    this.mismatched = mismatches(records);
    for (const mismatch of this.mismatched) {
      if (before.has(`${mismatch.chart} ${JSON.stringify(mismatch.versions)}`)) continue;
      const versions = Object.entries(mismatch.versions).map(([version, replicas]) => `${version} (${replicas.join(', ')})`).join(' and ');
      this.options.log.warn({ chart: mismatch.chart, versions: mismatch.versions, replica: this.self },
        `chart ${mismatch.chart} is served in different versions by the replicas sharing this store: ${versions}; serve the same chart files on every replica (a reload, SIGHUP, on each)`);
    }
  }

  view(): ReplicasView {
    return { self: this.self, live: this.records.length, mismatched: this.mismatched };
  }

  /** Why the heartbeat cannot write, while it cannot (GET /services). */
  failure(): string | undefined {
    return this.problem;
  }

  /** Stops the heartbeat and removes this replica's record, so the others stop comparing with it. */
  async stop(): Promise<void> {
    if (this.timer) this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
    await this.options.store.commit([{ collection: REPLICAS, key: this.self, value: null }]);
  }

  /** Removes the records of replicas not heard from for FORGOTTEN_AFTER_MS; one written again meanwhile (or removed by another replica) stays as it is. */
  private async forget(gone: readonly Stored<ReplicaRecord>[]): Promise<void> {
    for (const { key, value, revision } of gone) {
      await this.options.store.commit([{ collection: REPLICAS, key, value: null, expect: revision }]).then(() => {
        this.options.log.info({ replica: value.replica, host: value.host, seenAt: new Date(value.seenAt).toISOString() }, 'removed the record of a replica not heard from for an hour');
      }, unlessTaken);
    }
  }

  private schedule(): void {
    this.timer = this.options.clock.setTimeout(() => {
      this.publish().then(() => {
        this.problem = undefined;
      }, (error: unknown) => {
        this.problem = `cannot record this replica's charts in the store: ${(error as Error).message}`;
      }).finally(() => {
        if (this.timer) this.schedule();
      });
    }, HEARTBEAT_MS);
  }
}

/** The charts the records serve in more than one version. */
export function mismatches(records: readonly ReplicaRecord[]): VersionMismatch[] {
  const byChart = new Map<string, Map<string, string[]>>();
  for (const record of records) {
    for (const [chart, version] of Object.entries(record.charts)) {
      let versions = byChart.get(chart);
      if (!versions) byChart.set(chart, (versions = new Map()));
      versions.set(version, [...(versions.get(version) ?? []), record.replica]);
    }
  }
  return [...byChart].filter(([, versions]) => versions.size > 1).sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([chart, versions]) => ({ chart, versions: Object.fromEntries([...versions].map(([version, replicas]) => [version, replicas.sort()])) }));
}

// The charts served, by name, and every version instances still run on (kept in the store); a reload swaps the set served.

import type { Chart } from '../chart/model.js';
import type { Store, Write } from '../store/port.js';
import { readAll } from '../store/readAll.js';

export const CHART_VERSIONS = 'chart-versions';

export interface ArchivedChart {
  readonly name: string;
  readonly version: string;
  readonly file: string;
  readonly source: string;
  readonly archivedAt: string;
}

/** Rebuilds a chart from archived source; throws with every problem when it no longer loads. */
export type ChartParser = (source: string, file: string) => Chart;

export class ChartCatalog {
  private readonly current = new Map<string, Chart>();
  private readonly versions = new Map<string, Chart>();
  /** Every archived version by its key, read once at start and kept as archives are committed: lookups stay synchronous. */
  private readonly archived = new Map<string, ArchivedChart>();

  private constructor(charts: readonly Chart[], private readonly store: Store, private readonly parse: ChartParser) {
    this.serve(charts);
  }

  /** Serves `charts`, knowing every version archived in the store. */
  static async open(charts: readonly Chart[], store: Store, parse: ChartParser): Promise<ChartCatalog> {
    const catalog = new ChartCatalog(charts, store, parse);
    await catalog.readArchived();
    return catalog;
  }

  /** Reads every archived version again (on a shared store: anything may have changed). */
  async readArchived(): Promise<void> {
    for (const archived of await readAll<ArchivedChart>(this.store, CHART_VERSIONS)) this.archived.set(versionKey(archived.name, archived.version), archived);
  }

  /** Reads archived version `key` again: another replica archived it, and instances it creates may run on it. */
  async readArchivedVersion(key: string): Promise<void> {
    const stored = await this.store.get<ArchivedChart>(CHART_VERSIONS, key);
    if (stored) this.archived.set(key, stored.value);
  }

  /** Serves exactly `charts` from now on; versions that are no longer current stay known for their instances. */
  serve(charts: readonly Chart[]): void {
    this.current.clear();
    for (const chart of charts) {
      this.current.set(chart.name, chart);
      this.versions.set(versionKey(chart.name, chart.version), chart);
    }
  }

  /** Keeps a copy of every served version so instances can stay on it after the file changes. */
  async archiveCurrent(now: Date): Promise<void> {
    const writes = this.archiveWrites([...this.current.values()], now);
    if (writes.length) await this.store.commit(writes);
    this.archivedBy(writes);
  }

  /** Learns of the archives `writes` (from archiveWrites) made, once they are committed. */
  archivedBy(writes: readonly Write[]): void {
    for (const { collection, key, value } of writes) if (collection === CHART_VERSIONS) this.archived.set(key, value as ArchivedChart);
  }

  /** The writes that archive those of `charts` not archived yet, to commit before they are served. */
  archiveWrites(charts: readonly Chart[], now: Date): Write[] {
    const writes: Write[] = [];
    for (const chart of charts) {
      const key = versionKey(chart.name, chart.version);
      if (this.archived.has(key)) continue;
      const value: ArchivedChart = { name: chart.name, version: chart.version, file: chart.file, source: chart.source, archivedAt: now.toISOString() };
      writes.push({ collection: CHART_VERSIONS, key, value });
    }
    return writes;
  }

  /** Every chart served. */
  charts(): Chart[] {
    return this.names().map((name) => this.current.get(name)!);
  }

  names(): string[] {
    return [...this.current.keys()].sort();
  }

  get(name: string): Chart | undefined {
    return this.current.get(name);
  }

  /** The chart an instance runs on: the current one, or its archived version, loaded once. */
  version(name: string, version: string): Chart | undefined {
    // Nearly every instance runs on the current version: found without building a key.
    const current = this.current.get(name);
    if (current?.version === version) return current;
    const key = versionKey(name, version);
    const known = this.versions.get(key);
    if (known) return known;
    const archived = this.archived.get(key);
    if (!archived) return undefined;
    const chart = this.parse(archived.source, `${archived.file} (archived version ${version})`);
    this.versions.set(key, chart);
    return chart;
  }

  /** Whether the current version of chart `name`, or one its instances may still run on, has state `state`. */
  hasState(name: string, state: string): boolean {
    if (this.current.get(name)?.states[state]) return true;
    for (const archived of this.archived.values()) {
      if (archived.name !== name) continue;
      try {
        if (this.version(name, archived.version)?.states[state]) return true;
      } catch {
        // An archived version that no longer loads is reported where its instances are used, not here.
      }
    }
    return false;
  }
}

function versionKey(name: string, version: string): string {
  return `${name}@${version}`;
}

// The most instances one chart may have (--max-instances), counted as they are created so each check costs O(1).

import { InstanceQuotaReached } from '../errors.js';

/** Ten times the 100,000 instances the benchmarks keep in one chart: a limit for a runaway client, not for use. */
export const DEFAULT_MAX_INSTANCES = 1_000_000;

export interface Quota {
  readonly limit: number;
  /** Takes a place for a new instance of `chart`; when none is left, returns the refusal, naming the chart, the limit and the fix. */
  take(chart: string): Promise<InstanceQuotaReached | undefined>;
  /** Gives back the place of an instance that was never stored: its commit failed. */
  giveBack(chart: string): void;
  /** An instance of `chart` this server took a place for is stored now. */
  created(chart: string): void;
  /** An instance of `chart` was removed: its place is free. */
  removed(chart: string): void;
}

/** The quota of a server alone with its store: it sees every creation and removal. */
export class InstanceQuota implements Quota {
  /** Per chart, its instances stored or on their way to the store; read from the store on the chart's first creation. */
  private readonly counts = new Map<string, number>();

  constructor(
    readonly limit: number,
    private readonly stored: (chart: string) => Promise<number>,
  ) {}

  async take(chart: string): Promise<InstanceQuotaReached | undefined> {
    if (!this.counts.has(chart)) {
      const stored = await this.stored(chart);
      // Another creation may have read it meanwhile and counted on from it.
      if (!this.counts.has(chart)) this.counts.set(chart, stored);
    }
    const count = this.counts.get(chart)!;
    if (count >= this.limit) return quotaReached(chart, count, this.limit);
    this.counts.set(chart, count + 1);
    return undefined;
  }

  giveBack(chart: string): void {
    const count = this.counts.get(chart);
    if (count !== undefined) this.counts.set(chart, count - 1);
  }

  created(): void {}

  removed(chart: string): void {
    this.giveBack(chart);
  }
}

/**
 * The quota where other replicas create and remove instances too: the instances stored, as this replica follows
 * them, and its own creations on their way. Replicas creating at the same moment may pass the limit by a few.
 */
export class SharedQuota implements Quota {
  private readonly pending = new Map<string, number>();

  constructor(readonly limit: number, private readonly stored: (chart: string) => number) {}

  take(chart: string): Promise<InstanceQuotaReached | undefined> {
    const count = this.stored(chart) + (this.pending.get(chart) ?? 0);
    if (count >= this.limit) return Promise.resolve(quotaReached(chart, count, this.limit));
    this.pending.set(chart, (this.pending.get(chart) ?? 0) + 1);
    return Promise.resolve(undefined);
  }

  giveBack(chart: string): void {
    const count = (this.pending.get(chart) ?? 0) - 1;
    if (count > 0) this.pending.set(chart, count);
    else this.pending.delete(chart);
  }

  created(chart: string): void {
    this.giveBack(chart);
  }

  removed(): void {}
}

function quotaReached(chart: string, count: number, limit: number): InstanceQuotaReached {
  return new InstanceQuotaReached(`chart ${chart} has ${count} instances, the most this server allows (--max-instances ${limit}); start chartd serve with a larger --max-instances to create more`);
}

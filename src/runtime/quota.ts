// The most instances one chart may have (--max-instances), counted as they are created so each check costs O(1).

import { InstanceQuotaReached } from '../errors.js';

/** Ten times the 100,000 instances the benchmarks keep in one chart: a limit for a runaway client, not for use. */
export const DEFAULT_MAX_INSTANCES = 1_000_000;

export class InstanceQuota {
  /** Per chart, its instances stored or on their way to the store; read from the store on the chart's first creation. */
  private readonly counts = new Map<string, number>();

  constructor(
    readonly limit: number,
    private readonly stored: (chart: string) => Promise<number>,
  ) {}

  /** Takes a place for a new instance of `chart`; when none is left, returns the refusal, naming the chart, the limit and the fix. */
  async take(chart: string): Promise<InstanceQuotaReached | undefined> {
    if (!this.counts.has(chart)) {
      const stored = await this.stored(chart);
      // Another creation may have read it meanwhile and counted on from it.
      if (!this.counts.has(chart)) this.counts.set(chart, stored);
    }
    const count = this.counts.get(chart)!;
    if (count >= this.limit) {
      return new InstanceQuotaReached(`chart ${chart} has ${count} instances, the most this server allows (--max-instances ${this.limit}); start chartd serve with a larger --max-instances to create more`);
    }
    this.counts.set(chart, count + 1);
    return undefined;
  }

  /** Gives back the place of an instance that was never stored: its commit failed. */
  giveBack(chart: string): void {
    const count = this.counts.get(chart);
    if (count !== undefined) this.counts.set(chart, count - 1);
  }
}

// Counts and histograms kept as plain numbers where chartd counts often (requests, journal writes, transitions), read by prom-client only when scraped.

import type { Metric } from 'prom-client';

export interface Sample {
  readonly labels: Record<string, string | number>;
  readonly value: number;
  readonly metricName?: string;
}

/** One histogram series: a count, a sum, and how many observations fell in each bucket (the last: +Inf). */
export class Buckets {
  count = 0;
  sum = 0;
  private readonly counts: Float64Array;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    this.count += 1;
    this.sum += value;
    let bucket = 0;
    while (bucket < this.bounds.length && value > this.bounds[bucket]!) bucket += 1;
    this.counts[bucket]! += 1;
  }

  /** The series as Prometheus' text has it: cumulative buckets, then the sum and the count. */
  samples(name: string, labels: Record<string, string>): Sample[] {
    const samples: Sample[] = [];
    let cumulative = 0;
    for (const [at, bound] of this.bounds.entries()) {
      cumulative += this.counts[at]!;
      samples.push({ metricName: `${name}_bucket`, labels: { ...labels, le: bound }, value: cumulative });
    }
    samples.push(
      { metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: this.count },
      { metricName: `${name}_sum`, labels, value: this.sum },
      { metricName: `${name}_count`, labels, value: this.count },
    );
    return samples;
  }
}

/** A counter by label values, one Map per label: counting walks them and builds no string or object. */
export class LabelledCounter {
  private readonly root = new Map<string, unknown>();

  constructor(private readonly labelNames: readonly string[]) {}

  /** Adds one to the series of `values`, given in the order of the label names. */
  inc(values: readonly string[]): void {
    let level = this.root;
    const last = this.labelNames.length - 1;
    for (let at = 0; at < last; at += 1) {
      let next = level.get(values[at]!) as Map<string, unknown> | undefined;
      if (!next) level.set(values[at]!, (next = new Map()));
      level = next;
    }
    level.set(values[last]!, ((level.get(values[last]!) as number | undefined) ?? 0) + 1);
  }

  samples(): Sample[] {
    const samples: Sample[] = [];
    const walk = (level: Map<string, unknown>, labels: Record<string, string>, depth: number): void => {
      const name = this.labelNames[depth]!;
      for (const [value, below] of level) {
        const here = { ...labels, [name]: value };
        if (depth === this.labelNames.length - 1) samples.push({ labels: here, value: below as number });
        else walk(below as Map<string, unknown>, here, depth + 1);
      }
    };
    walk(this.root, {}, 0);
    return samples;
  }
}

/** A metric as prom-client's registry reads it: the registry takes any object with a name and get(), though its types list only its own classes. */
export function scrapedMetric(name: string, help: string, type: 'counter' | 'histogram', values: () => Sample[]): Metric {
  const metric = { name, help, type, aggregator: 'sum', get: async () => ({ ...metric, values: values() }) };
  return metric as unknown as Metric;
}

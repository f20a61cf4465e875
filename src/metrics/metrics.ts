// One server's metrics: a prom-client registry (no global one), the process's default metrics, and gauges read at each scrape.

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { Buckets, LabelledCounter, scrapedMetric } from './inPlace.js';
import { RequestMetrics } from './requestMetrics.js';

export class Metrics {
  readonly registry = new Registry();
  /** Counted in place on the request path; see RequestMetrics. */
  readonly requests = new RequestMetrics();

  constructor(version: string) {
    collectDefaultMetrics({ register: this.registry });
    for (const metric of this.requests.metrics()) this.registry.registerMetric(metric);
    this.gauge('chartd_build_info', 'Always 1; the version label says which chartd answers.', ['version'], (set) => set({ version }, 1));
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The text a scrape answers with; gauges and counters read from the engine are read now. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  /** A gauge whose values are read at each scrape; label sets not set again disappear. */
  gauge<L extends string>(name: string, help: string, labelNames: readonly L[], read: (set: (labels: Record<L, string>, value: number) => void) => void | Promise<void>): void {
    new Gauge<L>({
      name, help, labelNames, registers: [this.registry],
      // prom-client awaits a collect that returns a promise (a count read from the store).
      collect() {
        this.reset();
        return read((labels, value) => this.set(labels, value));
      },
    });
  }

  /** A counter kept by someone else (e.g. the store's own counts), read at each scrape. */
  countedElsewhere<L extends string>(name: string, help: string, labelNames: readonly L[], read: (set: (labels: Record<L, string>, value: number) => void) => void): void {
    new Counter<L>({
      name, help, labelNames, registers: [this.registry],
      collect() {
        this.reset();
        read((labels, value) => this.inc(labels, value));
      },
    });
  }

  counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
    return new Counter<L>({ name, help, labelNames, registers: [this.registry] });
  }

  histogram<L extends string>(name: string, help: string, labelNames: readonly L[], buckets: readonly number[]): Histogram<L> {
    return new Histogram<L>({ name, help, labelNames, buckets: [...buckets], registers: [this.registry] });
  }

  /** A counter for what happens per request (e.g. transitions): counted in place, with no label hashing; see inPlace.ts. */
  counterInPlace(name: string, help: string, labelNames: readonly string[]): LabelledCounter {
    const counter = new LabelledCounter(labelNames);
    this.registry.registerMetric(scrapedMetric(name, help, 'counter', () => counter.samples()));
    return counter;
  }

  /** A histogram without labels for what happens per request (e.g. journal writes), observed in place. */
  histogramInPlace(name: string, help: string, bounds: readonly number[]): Buckets {
    const buckets = new Buckets(bounds);
    this.registry.registerMetric(scrapedMetric(name, help, 'histogram', () => buckets.samples(name, {})));
    return buckets;
  }
}

// Counts kept in place read the same, through prom-client's registry, as prom-client's own counter and histogram fed the same values.

import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { Metrics } from '../../src/metrics/metrics.js';
import { parseMetrics } from '../support/promText.js';

const BOUNDS = [0.001, 0.01, 0.1];
const OBSERVED = [0.0005, 0.001, 0.004, 0.05, 0.05, 2];
const COUNTED = [['gate', '', 'open', 'create'], ['gate', 'open', 'done', 'put'], ['gate', 'open', 'done', 'put'], ['light', 'red', 'green', 'timer']] as const;

/** Our exposition, with only the families named. */
async function render(registry: Registry, names: readonly string[]): Promise<string> {
  const families = parseMetrics(await registry.metrics());
  return JSON.stringify(names.map((name) => families.get(name)));
}

describe('counted in place', () => {
  it('gives the samples prom-client gives for the same observations and label values', async () => {
    const metrics = new Metrics('test');
    const buckets = metrics.histogramInPlace('h_seconds', 'help', BOUNDS);
    const counter = metrics.counterInPlace('c_total', 'help', ['chart', 'from', 'to', 'cause']);
    for (const value of OBSERVED) buckets.observe(value);
    for (const labels of COUNTED) counter.inc(labels);

    const reference = new Registry();
    const histogram = new Histogram({ name: 'h_seconds', help: 'help', buckets: BOUNDS, registers: [reference] });
    const counted = new Counter({ name: 'c_total', help: 'help', labelNames: ['chart', 'from', 'to', 'cause'], registers: [reference] });
    for (const value of OBSERVED) histogram.observe(value);
    for (const [chart, from, to, cause] of COUNTED) counted.inc({ chart, from, to, cause });

    expect(await render(metrics.registry, ['h_seconds', 'c_total'])).toBe(await render(reference, ['h_seconds', 'c_total']));
    const text = await metrics.render();
    expect(text).toContain('h_seconds_bucket{le="0.01"} 3\n');
    expect(text).toContain('c_total{chart="gate",from="open",to="done",cause="put"} 2\n');
  });
});

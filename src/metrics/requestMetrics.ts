// HTTP requests counted in place (a count, a sum and latency buckets per route, method and status), made into metrics only when scraped.

import type { Metric } from 'prom-client';

/** Upper bounds in seconds: a state GET takes well under a millisecond, a durable PUT about one. */
export const REQUEST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

// A method outside this list is labelled "other", so a client inventing methods cannot add series.
const METHODS = ['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS'] as const;
const OTHER = METHODS.length;

interface Series {
  readonly route: string;
  readonly method: string;
  readonly status: string;
  count: number;
  /** Requests timed (all but those held open), their total seconds, and how many fell in each bucket (the last: +Inf). */
  timed: number;
  seconds: number;
  readonly buckets: Float64Array;
}

interface Sample {
  readonly labels: Record<string, string | number>;
  readonly value: number;
  readonly metricName?: string;
}

export class RequestMetrics {
  /** By route template, then by status × method index: two lookups, no string built per request. */
  private readonly routes = new Map<string, Map<number, Series>>();

  /** One answered request; `seconds` is undefined for one held open by design (a long-poll, a watch stream). */
  record(route: string, method: string, status: number, seconds: number | undefined): void {
    let byCode = this.routes.get(route);
    if (!byCode) this.routes.set(route, (byCode = new Map()));
    const index = methodIndex(method);
    const code = status * 8 + index;
    let series = byCode.get(code);
    if (!series) {
      series = { route, method: METHODS[index] ?? 'other', status: String(status), count: 0, timed: 0, seconds: 0, buckets: new Float64Array(REQUEST_BUCKETS.length + 1) };
      byCode.set(code, series);
    }
    series.count += 1;
    if (seconds === undefined) return;
    series.timed += 1;
    series.seconds += seconds;
    let bucket = 0;
    while (bucket < REQUEST_BUCKETS.length && seconds > REQUEST_BUCKETS[bucket]!) bucket += 1;
    series.buckets[bucket]! += 1;
  }

  /** The two metrics as prom-client's registry reads them (it formats and escapes the text). */
  metrics(): Metric[] {
    const counter = {
      name: 'chartd_http_requests_total',
      help: 'HTTP requests answered, by route template, method and status.',
      type: 'counter',
      aggregator: 'sum',
      get: async () => ({ ...counter, values: this.all().map((series) => ({ labels: labelsOf(series), value: series.count })) }),
    };
    const histogram = {
      name: 'chartd_http_request_duration_seconds',
      help: 'Time from a request\'s arrival to its answer, by route template, method and status; long-polls and watch streams are left out.',
      type: 'histogram',
      aggregator: 'sum',
      get: async () => ({ ...histogram, values: this.all().filter((series) => series.timed > 0).flatMap(histogramSamples) }),
    };
    // The registry takes any object with a name and get(); its types list only prom-client's own classes.
    return [counter, histogram] as unknown as Metric[];
  }

  private all(): Series[] {
    return [...this.routes.values()].flatMap((byCode) => [...byCode.values()]);
  }
}

function methodIndex(method: string): number {
  const index = METHODS.indexOf(method as (typeof METHODS)[number]);
  return index === -1 ? OTHER : index;
}

function labelsOf(series: Series): Record<string, string> {
  return { route: series.route, method: series.method, status: series.status };
}

function histogramSamples(series: Series): Sample[] {
  const labels = labelsOf(series);
  const name = 'chartd_http_request_duration_seconds';
  const samples: Sample[] = [];
  let cumulative = 0;
  for (const [at, bound] of REQUEST_BUCKETS.entries()) {
    cumulative += series.buckets[at]!;
    samples.push({ metricName: `${name}_bucket`, labels: { ...labels, le: bound }, value: cumulative });
  }
  samples.push(
    { metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: series.timed },
    { metricName: `${name}_sum`, labels, value: series.seconds },
    { metricName: `${name}_count`, labels, value: series.timed },
  );
  return samples;
}

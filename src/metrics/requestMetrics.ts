// HTTP requests counted in place (a count and latency buckets per route, method and status), made into metrics only when scraped.

import type { Metric } from 'prom-client';
import { Buckets, scrapedMetric } from './inPlace.js';

/** Upper bounds in seconds: a state GET takes well under a millisecond, a durable PUT about one. */
export const REQUEST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

// A method outside this list is labelled "other", so a client inventing methods cannot add series.
const METHODS = ['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS'] as const;
const OTHER = METHODS.length;
const DURATION = 'chartd_http_request_duration_seconds';

interface Series {
  readonly labels: { readonly route: string; readonly method: string; readonly status: string };
  count: number;
  /** All but the requests held open. */
  readonly timed: Buckets;
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
      series = { labels: { route, method: METHODS[index] ?? 'other', status: String(status) }, count: 0, timed: new Buckets(REQUEST_BUCKETS) };
      byCode.set(code, series);
    }
    series.count += 1;
    if (seconds !== undefined) series.timed.observe(seconds);
  }

  /** The two metrics as prom-client's registry reads them (it formats and escapes the text). */
  metrics(): Metric[] {
    return [
      scrapedMetric('chartd_http_requests_total', 'HTTP requests answered, by route template, method and status.', 'counter',
        () => this.all().map((series) => ({ labels: series.labels, value: series.count }))),
      scrapedMetric(DURATION, 'Time from a request\'s arrival to its answer, by route template, method and status; long-polls and watch streams are left out.', 'histogram',
        () => this.all().filter((series) => series.timed.count > 0).flatMap((series) => series.timed.samples(DURATION, series.labels))),
    ];
  }

  private all(): Series[] {
    return [...this.routes.values()].flatMap((byCode) => [...byCode.values()]);
  }
}

function methodIndex(method: string): number {
  const index = METHODS.indexOf(method as (typeof METHODS)[number]);
  return index === -1 ? OTHER : index;
}

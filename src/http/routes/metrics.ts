// Metrics over HTTP: GET /metrics in Prometheus' text format, and every request counted and timed by its route template.

import type { Middleware } from 'koa';
import type { Metrics } from '../../metrics/metrics.js';
import type { RequestMetrics } from '../../metrics/requestMetrics.js';
import { READ, type GuardedRoutes } from '../guard.js';
import { routeTemplate } from '../routeTemplate.js';
import { isHeld } from '../signal.js';

/** GET /metrics with the read scope; `watchStreams` counts the open watch streams where the server has them. */
export function metricsRoutes(routes: GuardedRoutes, metrics: Metrics, watchStreams?: () => number): void {
  if (watchStreams) metrics.gauge('chartd_watch_streams', 'Watch streams (server-sent events) open now.', [], (set) => set({}, watchStreams()));
  routes.get('/metrics', READ, async (ctx) => {
    const text = await metrics.render();
    ctx.set('cache-control', 'no-store');
    ctx.set('content-type', metrics.contentType);
    ctx.body = text;
  });
}

/**
 * Wraps the app's first middleware so every request is counted when its answer is set: two clock reads and a few
 * additions, and no promise of its own for an answer given in place (the state fast path's GET).
 */
export function measured(middleware: Middleware, requests: RequestMetrics): Middleware {
  return (ctx, next) => {
    const started = performance.now();
    const result = middleware(ctx, next) as Promise<unknown> | undefined;
    const record = (): void => requests.record(routeTemplate(ctx), ctx.method, ctx.status, isHeld(ctx) ? undefined : (performance.now() - started) / 1000);
    if (result === undefined) return record();
    return result.finally(record);
  };
}

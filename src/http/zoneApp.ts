// HTTP face of the built-in zone: POST /orders and GET /orders/:id (and its API description), through the same guard as every chartd route.

import Koa from 'koa';
import Router from '@koa/router';
import type { Logger } from 'pino';
import { accessLog } from './accessLog.js';
import type { Metrics } from '../metrics/metrics.js';
import { errorMiddleware } from './errors.js';
import { measured, metricsRoutes } from './routes/metrics.js';
import { checkName, readJson } from './params.js';
import { guardRoutes, OPEN, READ, type Guard } from './guard.js';
import { openapiRoutes } from './routes/openapi.js';
import { serviceRoutes } from './routes/services.js';
import { zoneDescription } from './openapi/document.js';
import { unroutedAnswers } from './unrouted.js';
import type { ServiceBoard } from '../services/service.js';
import { checkOrder } from '../backup/zone.js';
import { ZONE_CHART, type ZoneService } from '../backup/zone/zoneService.js';

export interface ZoneAppOptions {
  readonly zone: ZoneService;
  readonly name: string;
  /** chartd's version, in the API description. */
  readonly version: string;
  /** Who may do what: the controller's token may send orders; --auth FILE may add others. */
  readonly guard: Guard;
  readonly outboxSize: () => number;
  /** The zone's background services: GET /services and /readyz. */
  readonly board: ServiceBoard;
  readonly log: Logger;
  /** --access-log: where a line per request goes. */
  readonly accessLog?: Logger;
  /** Counts and times every request and serves GET /metrics; none without (--no-metrics). */
  readonly metrics?: Metrics;
}

export function createZoneApp(options: ZoneAppOptions): Koa {
  const { zone } = options;
  const app = new Koa();
  app.silent = true;
  if (options.accessLog) app.use(accessLog(options.accessLog));
  const errors = errorMiddleware(options.log);
  app.use(options.metrics ? measured(errors, options.metrics.requests) : errors);
  app.use(unroutedAnswers());
  const router = new Router();
  const routes = guardRoutes(router, options.guard);
  routes.get('/healthz', OPEN, (ctx) => {
    ctx.body = { status: 'ok', zone: options.name, openOrders: zone.openOrders, outbox: options.outboxSize() };
  });
  // An order starts a backup-and-encrypt run: a write to the zone's chart.
  routes.post('/orders', { scope: 'write', chart: ZONE_CHART }, async (ctx) => {
    const order = checkOrder(await readJson(ctx));
    const receipt = await zone.accept(order);
    ctx.status = 202;
    ctx.set('x-request-id', order.requestId);
    ctx.set('location', `/orders/${order.requestId}`);
    ctx.body = receipt;
  });
  routes.get('/orders/:id', READ, async (ctx) => {
    ctx.body = await zone.describe(checkName(ctx.params['id']!, 'order id'));
  });
  serviceRoutes(routes, options.board);
  openapiRoutes(routes, zoneDescription(options.version));
  if (options.metrics) metricsRoutes(routes, options.metrics);
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}

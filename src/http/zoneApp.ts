// HTTP face of the built-in zone: POST /orders and GET /orders/:id behind the controller's bearer token.

import Koa from 'koa';
import Router from '@koa/router';
import type { Logger } from 'pino';
import { errorMiddleware } from './errors.js';
import { checkName, readJson } from './params.js';
import type { Secret } from '../backup/secret.js';
import { requireBearer } from './bearer.js';
import { unroutedAnswers } from './unrouted.js';
import { checkOrder } from '../backup/zone.js';
import type { ZoneService } from '../backup/zone/zoneService.js';

export interface ZoneAppOptions {
  readonly zone: ZoneService;
  readonly name: string;
  /** The token the controller must present. */
  readonly token: Secret;
  readonly outboxSize: () => number;
  readonly log: Logger;
}

export function createZoneApp(options: ZoneAppOptions): Koa {
  const { zone } = options;
  const app = new Koa();
  app.silent = true;
  app.use(errorMiddleware(options.log));
  app.use(unroutedAnswers());
  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok', zone: options.name, openOrders: zone.openOrders, outbox: options.outboxSize() };
  });
  const auth = requireBearer(options.token, `chartd zone ${options.name}`);
  router.post('/orders', auth, async (ctx) => {
    const order = checkOrder(await readJson(ctx));
    const receipt = await zone.accept(order);
    ctx.status = 202;
    ctx.set('x-request-id', order.requestId);
    ctx.set('location', `/orders/${order.requestId}`);
    ctx.body = receipt;
  });
  router.get('/orders/:id', auth, (ctx) => {
    ctx.body = zone.describe(checkName(ctx.params['id']!, 'order id'));
  });
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}

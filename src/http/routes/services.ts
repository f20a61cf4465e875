// GET /services (each background service's state) and /readyz (200 only while every enabled one runs), on serve and zone.

import { readiness, type ServiceBoard } from '../../services/service.js';
import { OPEN, READ, type GuardedRoutes } from '../guard.js';

export function serviceRoutes(routes: GuardedRoutes, board: ServiceBoard): void {
  routes.get('/services', READ, (ctx) => {
    ctx.set('cache-control', 'no-store');
    ctx.body = { services: board.statuses() };
  });
  // Open like /healthz, for load balancers; 503 names each service that is not running and why.
  routes.get('/readyz', OPEN, (ctx) => {
    const { ready, notRunning } = readiness(board.statuses());
    ctx.set('cache-control', 'no-store');
    ctx.status = ready ? 200 : 503;
    ctx.body = {
      ready,
      ...(ready ? {} : {
        notRunning: notRunning.map(({ name, state, since, lastError }) => ({ name, state, since, ...(state === 'failed' && lastError ? { error: lastError.message } : {}) })),
      }),
    };
  });
}

// One answer for a first look: every chart with its instance counts, the instances needing a look, the services' states.

import type { Runtime } from '../../runtime/runtime.js';
import type { ServiceBoard } from '../../services/service.js';
import { READ, type GuardedRoutes } from '../guard.js';
import { summary } from './charts.js';

/** The most instances needing a look that one answer lists; `attention.totals` counts them all. */
export const ATTENTION_LIMIT = 100;

export function overviewRoutes(routes: GuardedRoutes, runtime: Runtime, chartNames: () => string[], board: ServiceBoard): void {
  routes.get('/overview', READ, (ctx) => {
    const charts = chartNames().map((name) => {
      const counts = runtime.tally.counts(name);
      return { ...summary(runtime.chart(name), counts.total), counts };
    });
    ctx.set('cache-control', 'no-store');
    ctx.body = { charts, attention: runtime.tally.attention(ATTENTION_LIMIT), store: runtime.storeHealth(), services: board.statuses() };
  });
}

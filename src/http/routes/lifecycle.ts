// An instance's life cycle: cancel an active one, start a finished one over, delete a finished one (generic write routes).

import type { Context } from 'koa';
import type { Runtime } from '../../runtime/runtime.js';
import { principalOf, speakerOf, tokenName, type GuardedRoutes } from '../guard.js';
import { readTextFields } from '../params.js';
import { sendSnapshot } from './instances.js';

const REASON_EXAMPLE = '{"reason": "the release was pulled"}';

export function lifecycleRoutes(routes: GuardedRoutes, runtime: Runtime): void {
  const writeToChart = routes.guard.genericWrite((ctx) => ctx.params['chart']!);

  // 202 while the cleanup steps the chart leads to run (the instance then ends cancelled); 200 once it has ended.
  routes.post('/charts/:chart/instances/:id/cancel', writeToChart, async (ctx) => {
    const { chart, id } = ctx.params as { chart: string; id: string };
    await runtime.snapshot(chart, id);
    const request = await requestOf(ctx);
    const snapshot = await runtime.cancel(chart, id, { ...request, reason: request.reason ?? 'cancelled over HTTP' });
    ctx.status = snapshot.status === 'active' ? 202 : 200;
    await sendSnapshot(ctx, runtime, snapshot);
  });

  routes.post('/charts/:chart/instances/:id/restart', writeToChart, async (ctx) => {
    const { chart, id } = ctx.params as { chart: string; id: string };
    await runtime.snapshot(chart, id);
    await sendSnapshot(ctx, runtime, await runtime.restart(chart, id, await requestOf(ctx)));
  });

  routes.delete('/charts/:chart/instances/:id', writeToChart, async (ctx) => {
    const { chart, id } = ctx.params as { chart: string; id: string };
    const removed = await runtime.remove(chart, id);
    ctx.set('cache-control', 'no-store');
    ctx.body = { deleted: { chart, id, state: removed.state, status: removed.status, revision: removed.revision } };
  });
}

/** Who asks (by= or X-Chartd-Caller, and the token) and why (an optional JSON body {"reason": "…"}). */
async function requestOf(ctx: Context): Promise<{ reason?: string; by?: string; token?: string }> {
  const principal = principalOf(ctx);
  const by = speakerOf(ctx, principal);
  const token = tokenName(principal);
  const { reason } = await readTextFields(ctx, ['reason'], REASON_EXAMPLE);
  return { ...(reason ? { reason } : {}), ...(by ? { by } : {}), ...(token ? { token } : {}) };
}

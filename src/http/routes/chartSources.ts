// Changing the charts served, with the admin scope: POST /charts/reload, PUT /charts/:chart (YAML), DELETE /charts/:chart.

import type { Need } from '../../access/policy.js';
import { MAX_CHART_BYTES } from '../../chart/load.js';
import { BadRequest, Conflict } from '../../errors.js';
import type { ChartSources } from '../../runtime/chartSources.js';
import type { Runtime } from '../../runtime/runtime.js';
import { principalOf, tokenName, type GuardedRoutes } from '../guard.js';
import { checkName, readText, readTextFields } from '../params.js';
import { summary } from './charts.js';

/** What DELETE /charts/:chart must carry to cancel the chart's active instances with it, exactly, case and all. */
export const UNSAFE_PARAPHRASE = "I know what I'm doing!";

const ADMIN: Need = { scope: 'admin' };
const YAML_TYPES = ['application/yaml', 'text/yaml', 'application/x-yaml', 'text/x-yaml'];
const DELETE_EXAMPLE = `{"unsafe_paraphrase": "${UNSAFE_PARAPHRASE}", "reason": "replaced by deploy-v2"}`;

export function chartSourceRoutes(routes: GuardedRoutes, sources: ChartSources, runtime: Runtime): void {
  routes.post('/charts/reload', ADMIN, async (ctx) => {
    const token = tokenName(principalOf(ctx));
    const changes = await sources.reload(`POST /charts/reload${token ? ` by ${token}` : ''}`);
    ctx.set('cache-control', 'no-store');
    ctx.body = { ...changes, charts: runtime.chartNames() };
  });

  routes.put('/charts/:chart', ADMIN, async (ctx) => {
    const name = checkName(ctx.params['chart']!, 'chart name');
    const source = await readText(ctx, YAML_TYPES, MAX_CHART_BYTES, "the chart's YAML");
    const applied = await sources.apply(name, source, tokenName(principalOf(ctx)));
    ctx.status = applied.created ? 201 : 200;
    ctx.set('location', `/charts/${encodeURIComponent(name)}`);
    ctx.set('cache-control', 'no-store');
    ctx.body = { ...summary(applied.chart, await runtime.instanceCount(name)), created: applied.created, unchanged: applied.unchanged, notices: applied.notices };
  });

  routes.delete('/charts/:chart', ADMIN, async (ctx) => {
    const name = runtime.chart(ctx.params['chart']!).name;
    const { unsafe_paraphrase: phrase, reason } = await readTextFields(ctx, ['unsafe_paraphrase', 'reason'], DELETE_EXAMPLE);
    if (phrase !== undefined && phrase !== UNSAFE_PARAPHRASE) {
      throw new BadRequest(`unsafe_paraphrase must be exactly "${UNSAFE_PARAPHRASE}" (case-sensitive); nothing was deleted`, 'wrong_paraphrase');
    }
    const token = tokenName(principalOf(ctx));
    const removal = sources.remove(name, { cancelActive: phrase !== undefined, ...(reason ? { reason } : {}), ...(token ? { token } : {}) });
    const { chart, cancelled } = await removal.catch((error: unknown) => {
      if (error instanceof Conflict && error.code === 'chart_has_active_instances') {
        throw new Conflict(`${error.message}: nothing was deleted. Cancel them first, or send ${DELETE_EXAMPLE} to cancel them with the chart (each records the reason)`, error.code);
      }
      throw error;
    });
    ctx.set('cache-control', 'no-store');
    ctx.body = { deleted: chart.name, version: chart.version, cancelled };
  });
}

// POST /state: StateService's prediction of a machine's state from its metric values, by a model the chart names.

import type { Context } from 'koa';
import { predict, rowsProblem } from '../../chart/decisionTree.js';
import type { ChartModels } from '../../chart/models.js';
import { listNames } from '../../chart/problem.js';
import { isRecord } from '../../chart/yamlSource.js';
import { BadRequest } from '../../errors.js';
import type { Runtime } from '../../runtime/runtime.js';
import { READ, type GuardedRoutes } from '../guard.js';
import { readJson } from '../params.js';
import { bareTarget } from './state.js';

const EXAMPLE = '{"name": "MODEL", "values": [[0.5, 12]]}';

/** A prediction reads: it answers from the chart's model and the request's values, and stores or moves nothing. */
export function predictRoutes(routes: GuardedRoutes, runtime: Runtime, models: () => ChartModels, defaultChart: () => string): void {
  routes.post('/state', READ, (ctx) => answer(ctx, models(), bareTarget(routes.guard, defaultChart, ctx).chart));
  routes.post('/charts/:chart/state', READ, (ctx) => answer(ctx, models(), runtime.chart(ctx.params['chart']!).name));
}

/** 200 `{"state": [one state per row]}`, StateService's answer; 400 naming what is wrong with the request. */
async function answer(ctx: Context, models: ChartModels, chart: string): Promise<void> {
  const body = await readJson(ctx);
  if (!isRecord(body)) throw new BadRequest(`body must be a JSON object like ${EXAMPLE}`);
  const { name, values, ...rest } = body;
  const unknown = Object.keys(rest);
  if (unknown.length) throw new BadRequest(`unknown field(s) in body: ${unknown.join(', ')}; expected name and values, e.g. ${EXAMPLE}`);
  const known = models.names(chart);
  const choices = known.length ? `its models: ${listNames(known)}` : 'it names none under models: in its file';
  if (typeof name !== 'string' || name === '') throw new BadRequest(`name must be the name of one of chart ${chart}'s models (${choices}), e.g. ${EXAMPLE}`, 'unknown_model');
  const tree = models.get(chart, name);
  if (!tree) throw new BadRequest(`chart ${chart} has no model ${JSON.stringify(name.slice(0, 80))} (${choices})`, 'unknown_model');
  const problem = rowsProblem(tree, values);
  if (problem) throw new BadRequest(problem, 'invalid_values');
  ctx.set('cache-control', 'no-store');
  ctx.body = { state: predict(tree, values as number[][]) };
}

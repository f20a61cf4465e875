// Read-only views of the charts served: list, detail, and diagrams.

import type { Context } from 'koa';
import { renderDiagram, type DiagramFormat } from '../../chart/diagram.js';
import { edgesOf, type Chart, type StateDef } from '../../chart/model.js';
import { isApplied } from '../../runtime/appliedCharts.js';
import type { Runtime } from '../../runtime/runtime.js';
import { etagOf, notModified } from '../conditional.js';
import { READ, type GuardedRoutes } from '../guard.js';

const DIAGRAM_TYPES: Record<string, { format: DiagramFormat; type: string }> = {
  svg: { format: 'svg', type: 'image/svg+xml' },
  mmd: { format: 'mermaid', type: 'text/plain; charset=utf-8' },
  dot: { format: 'dot', type: 'text/vnd.graphviz; charset=utf-8' },
};

export function chartRoutes(routes: GuardedRoutes, runtime: Runtime): void {
  routes.get('/charts', READ, async (ctx) => {
    const charts = await Promise.all(runtime.chartNames().map(async (name) => ({ chart: runtime.chart(name), instances: await runtime.instanceCount(name) })));
    if (notModified(ctx, etagOf(...charts.flatMap(({ chart, instances }) => [chart.name, chart.version, instances])))) return;
    ctx.body = { charts: charts.map(({ chart, instances }) => summary(chart, instances)) };
  });
  routes.get('/charts/:chart', READ, async (ctx) => {
    const chart = runtime.chart(ctx.params['chart']!);
    const instances = await runtime.instanceCount(chart.name);
    const counts = runtime.tally.counts(chart.name);
    // Revalidated on every use: the counts move with every transition, and the ETag with them.
    ctx.set('cache-control', 'no-cache');
    if (notModified(ctx, etagOf(chart.name, chart.version, instances, JSON.stringify(counts)))) return;
    ctx.body = { ...summary(chart, instances), states: Object.values(chart.states).map(describeState), counts };
  });
  // The YAML exactly as loaded: charts hold no secrets (the operator's values are bound apart, from --values).
  routes.get('/charts/:chart/source', READ, (ctx) => {
    const chart = runtime.chart(ctx.params['chart']!);
    ctx.set('x-chartd-version', chart.version);
    if (notModified(ctx, etagOf(chart.name, chart.version, 'source'))) return;
    ctx.type = 'text/yaml; charset=utf-8';
    ctx.body = chart.source;
  });
  for (const extension of Object.keys(DIAGRAM_TYPES)) {
    routes.get(`/charts/:chart/diagram.${extension}`, READ, async (ctx) => {
      await sendDiagram(ctx, runtime.chart(ctx.params['chart']!), extension);
    });
    routes.get(`/charts/:chart/instances/:id/diagram.${extension}`, READ, async (ctx) => {
      const snapshot = await runtime.snapshot(ctx.params['chart']!, ctx.params['id']!);
      await sendDiagram(ctx, runtime.chartOf(snapshot), extension, snapshot.state, snapshot.failures.map((failure) => failure.node));
    });
  }
}

/** A diagram is drawn only when the client does not hold it already: the chart's version and what is lit decide it. */
async function sendDiagram(ctx: Context, chart: Chart, extension: string, current?: string, failed?: string[]): Promise<void> {
  const { format, type } = DIAGRAM_TYPES[extension]!;
  if (notModified(ctx, etagOf(chart.name, chart.version, extension, current ?? '', ...(failed ?? [])))) return;
  ctx.type = type;
  ctx.body = await renderDiagram(chart, format, { ...(current ? { current } : {}), ...(failed?.length ? { failed } : {}) });
}

export function summary(chart: Chart, instances: number) {
  return {
    name: chart.name, version: chart.version, dialect: chart.dialect, description: chart.description ?? null,
    file: chart.file, source: isApplied(chart) ? 'applied' : 'file', initial: chart.initial, states: Object.keys(chart.states).length, instances,
    owner: chart.owner ?? null,
  };
}

export function describeState(state: StateDef) {
  const { name, kind, description } = state;
  const edges = edgesOf(state).map(({ to, kind: edge, label }) => ({ to, kind: edge, label }));
  const detail: Record<string, unknown> = {};
  if (state.kind === 'gate') Object.assign(detail, { count: state.count - state.start, distinct: state.distinct });
  if (state.kind === 'step') Object.assign(detail, { run: state.run, retry: state.retry, timeoutMs: state.timeoutMs });
  if (state.kind === 'timer') Object.assign(detail, state.atMs !== undefined ? { at: new Date(state.atMs).toISOString() } : { afterMs: state.afterMs });
  if (state.kind === 'event') Object.assign(detail, { events: Object.keys(state.on) });
  return { name, kind, description: description ?? null, ...detail, edges };
}

// Instances of a chart: list (a page at a time), create (idempotent by id), read (optionally blocking on a revision), events.

import { randomUUID } from 'node:crypto';
import type { Context } from 'koa';
import type { Snapshot, Status } from '../../engine/snapshot.js';
import { BadRequest, Conflict, ShuttingDown } from '../../errors.js';
import { formatCursor, pageByChange, parseCursor } from '../../runtime/pageByChange.js';
import { instanceKey, type Runtime } from '../../runtime/runtime.js';
import { notModified } from '../conditional.js';
import { principalOf, READ, speakerOf, tokenName, type GuardedRoutes } from '../guard.js';
import { checkName, indexParam, limitParam, nextPage, optionalName, optionalState, queryParam, readJson, waitParam } from '../params.js';
import { requestSignal } from '../signal.js';
import { describeState } from './charts.js';
import { revisionHeaders } from './state.js';

export function instanceRoutes(routes: GuardedRoutes, runtime: Runtime): void {
  const writeToChart = routes.guard.genericWrite((ctx) => ctx.params['chart']!);
  routes.get('/charts/:chart/instances', READ, async (ctx) => {
    const chart = runtime.chart(ctx.params['chart']!).name;
    const limit = limitParam(ctx);
    const state = optionalState(ctx);
    if (state) runtime.checkState(chart, state);
    const status = statusParam(ctx);
    const accept = state || status ? (s: Snapshot) => (!state || s.state === state) && (!status || s.status === status) : undefined;
    const page = await (orderParam(ctx) === 'changed' ? changedPage(runtime, chart, { limit, after: queryParam(ctx, 'after'), accept }) : idPage(ctx, runtime, chart, limit, accept));
    ctx.set('cache-control', 'no-store');
    ctx.body = {
      instances: page.instances.map((s) => ({ id: s.id, state: s.state, status: s.status, revision: s.revision, version: s.version, updatedAt: s.updatedAt })),
      next: page.next === undefined ? null : nextPage(ctx, `/charts/${encodeURIComponent(chart)}/instances`, ['state', 'status', 'order'], page.next, limit),
    };
  });

  routes.post('/charts/:chart/instances', writeToChart, async (ctx) => {
    const chart = runtime.chart(ctx.params['chart']!);
    const body = await readJson(ctx);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new BadRequest('body must be a JSON object like {"id": "nightly-1", "context": {}}');
    const { id: rawId, context = {}, ...rest } = body as Record<string, unknown>;
    const unknown = Object.keys(rest);
    if (unknown.length) throw new BadRequest(`unknown field(s) in body: ${unknown.join(', ')}; expected id and context`);
    if (rawId !== undefined && typeof rawId !== 'string') throw new BadRequest('id must be a string');
    const id = rawId === undefined ? newInstanceId() : checkName(rawId, 'instance id');
    const token = tokenName(principalOf(ctx));
    const { snapshot, created } = await runtime.create(chart.name, id, context as Record<string, unknown>, token ? { token } : {});
    if (!created && !sameContext(snapshot, runtime, chart.name, context)) {
      throw new Conflict(`instance ${id} of chart ${chart.name} already exists with a different context; pick another id`);
    }
    ctx.status = created ? 201 : 200;
    ctx.set('location', `/charts/${chart.name}/instances/${id}`);
    await sendSnapshot(ctx, runtime, snapshot);
  });

  routes.get('/charts/:chart/instances/:id', READ, async (ctx) => {
    const { chart, id } = ctx.params as { chart: string; id: string };
    let snapshot = await runtime.snapshot(chart, id);
    const index = indexParam(ctx);
    const wait = waitParam(ctx);
    if (index !== undefined && wait === undefined) throw new BadRequest('index=REV needs wait=DURATION, e.g. ?index=12&wait=60s');
    if (index !== undefined && wait !== undefined && snapshot.revision <= index) {
      const moved = await runtime.waitFor(chart, id, (s) => s.revision > index, wait, requestSignal(ctx));
      if (!moved && runtime.stopping) throw new ShuttingDown('chartd is stopping; ask again in a moment');
      snapshot = moved ?? (await runtime.snapshot(chart, id));
    }
    await sendSnapshot(ctx, runtime, snapshot);
  });

  routes.post('/charts/:chart/instances/:id/events/:event', writeToChart, async (ctx) => {
    const { chart, id } = ctx.params as { chart: string; id: string };
    const event = checkName(ctx.params['event']!, 'event');
    const principal = principalOf(ctx);
    const by = speakerOf(ctx, principal);
    const token = tokenName(principal);
    const outcome = await runtime.apply(chart, id, { type: 'event', event, ...(by ? { by } : {}), ...(token ? { token } : {}) });
    if (!outcome.accepted) {
      revisionHeaders(ctx, outcome.snapshot);
      ctx.status = 406;
      ctx.body = { error: { code: outcome.code ?? 'not_acceptable', message: outcome.reason ?? 'event not accepted' } };
      return;
    }
    await sendSnapshot(ctx, runtime, outcome.snapshot);
  });
}

/** `order=changed`: newest change first; by id otherwise. */
function orderParam(ctx: Context): 'id' | 'changed' {
  const order = queryParam(ctx, 'order');
  if (order === undefined || order === 'id' || order === 'changed') return order ?? 'id';
  throw new BadRequest('query parameter order must be id or changed (newest change first)');
}

function idPage(ctx: Context, runtime: Runtime, chart: string, limit: number, accept: ((s: Snapshot) => boolean) | undefined): Promise<{ instances: Snapshot[]; next: string | undefined }> {
  const after = optionalName(ctx, 'after');
  return runtime.instancePage(chart, { limit, ...(after ? { after } : {}), ...(accept ? { accept } : {}) });
}

async function changedPage(runtime: Runtime, chart: string, query: { limit: number; after: string | undefined; accept: ((s: Snapshot) => boolean) | undefined }): Promise<{ instances: Snapshot[]; next: string | undefined }> {
  const after = query.after === undefined ? undefined : parseCursor(query.after);
  if (query.after !== undefined && !after) throw new BadRequest('query parameter after must be the next link of a previous page (TIME.ID) when order=changed');
  const page = pageByChange(await runtime.instances(chart), { limit: query.limit, ...(after ? { after } : {}), ...(query.accept ? { accept: query.accept } : {}) });
  return { instances: page.instances, next: page.next && formatCursor(page.next) };
}

const STATUSES: readonly Status[] = ['active', 'done', 'cancelled'];

function statusParam(ctx: Context): Status | undefined {
  const status = queryParam(ctx, 'status');
  if (status === undefined || (STATUSES as readonly string[]).includes(status)) return status as Status | undefined;
  throw new BadRequest(`query parameter status must be one of ${STATUSES.join(', ')}`);
}

export async function sendSnapshot(ctx: Context, runtime: Runtime, snapshot: Snapshot): Promise<void> {
  revisionHeaders(ctx, snapshot);
  // The revision names the snapshot; the creation time tells an instance created anew under the same id apart.
  if (notModified(ctx, `"${snapshot.revision}.${Date.parse(snapshot.createdAt).toString(36)}"`)) return;
  const def = runtime.chartOf(snapshot).states[snapshot.state];
  // What the engine keeps for itself stays in; the history, kept apart, goes where the answer has always had it.
  const { transitions: _transitions, closedGates: _closedGates, failures, ...shown } = snapshot;
  ctx.body = { ...shown, history: await runtime.history(snapshot), failures, current: def ? describeState(def) : null };
}

/** Creating with the same id and the same context again is a harmless retry. */
function sameContext(existing: Snapshot, runtime: Runtime, chart: string, context: unknown): boolean {
  try {
    const checked = runtime.checkContext(chart, context);
    return JSON.stringify(sortKeys(checked)) === JSON.stringify(sortKeys(existing.context));
  } catch {
    return false;
  }
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]));
  }
  return value;
}

function newInstanceId(): string {
  return `${new Date().toISOString().slice(0, 10)}-${randomUUID().slice(0, 8)}`;
}

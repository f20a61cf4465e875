// StateService's contract: GET answers 200/406 "is S current?", PUT counts a check-in or fires an event.
// /state answers exactly as StateService did; /charts/…/state adds chartd's headers and says why in a 406.

import type { Context, Middleware } from 'koa';
import type { Input } from '../../engine/transition.js';
import { isFinished, type Snapshot } from '../../engine/snapshot.js';
import { BadRequest, NotFound, ShuttingDown } from '../../errors.js';
import { DEFAULT_INSTANCE, instanceKey, type Runtime } from '../../runtime/runtime.js';
import { principalOf, READ, speakerOf, tokenName, type Guard, type GuardedRoutes } from '../guard.js';
import { indexParam, optionalName, requiredState, waitParam } from '../params.js';
import { setRouteTemplate } from '../routeTemplate.js';
import { markHeld, requestSignal } from '../signal.js';

export interface Target {
  readonly chart: string;
  readonly id: string;
  /**
   * StateService's own route, /state: 200 with the state's name or 406 with nothing, and no X-Chartd-* header, so
   * the checks scripts made against StateService (`curl -sI … | grep 200`, `curl -s … | grep -q STATE`) still hold.
   */
  readonly bare?: boolean;
}

export type TargetOf = (ctx: Context) => Target;

// The three state paths with plain names; percent-encoded names, a trailing slash or other case go to the router.
const STATE_PATH = /^(?:\/charts\/([^/%]+)(?:\/instances\/([^/%]+))?)?\/state$/;
const BARE = '/state';
const OF_CHART = '/charts/:chart/state';
const OF_INSTANCE = '/charts/:chart/instances/:id/state';

/**
 * Takes GET, HEAD and PUT on the state paths ahead of the router. They are nearly all of the traffic, and the
 * router's per-request matching and composing cost more than answering them (see bench/README.md). Everything
 * else goes on to the router, where stateRoutes registers the same handlers, so the answer never depends on
 * which of the two took the request.
 */
export function stateFastPath(runtime: Runtime, defaultChart: () => string, guard: Guard): Middleware {
  return (ctx, next) => {
    const { method } = ctx;
    if (method !== 'GET' && method !== 'HEAD' && method !== 'PUT') return next();
    const match = STATE_PATH.exec(ctx.path);
    if (!match) return next();
    const [, chart, id] = match;
    setRouteTemplate(ctx, chart === undefined ? BARE : id === undefined ? OF_CHART : OF_INSTANCE);
    const target: Target = chart === undefined ? bareTarget(guard, defaultChart, ctx) : { chart, id: id ?? DEFAULT_INSTANCE };
    if (method === 'PUT') {
      guard.admitGenericWrite(ctx, target.chart);
      return changeState(ctx, runtime, target);
    }
    guard.admit(ctx, READ);
    return answerState(ctx, runtime, target);
  };
}

export function stateRoutes(routes: GuardedRoutes, runtime: Runtime, defaultChart: () => string): void {
  const { guard } = routes;
  const bare: TargetOf = (ctx) => bareTarget(guard, defaultChart, ctx);
  const ofChart: TargetOf = (ctx) => ({ chart: ctx.params['chart']!, id: DEFAULT_INSTANCE });
  const ofInstance: TargetOf = (ctx) => ({ chart: ctx.params['chart']!, id: ctx.params['id']! });
  for (const [path, target] of [[BARE, bare], [OF_CHART, ofChart], [OF_INSTANCE, ofInstance]] as const) {
    routes.get(path, READ, (ctx) => answerState(ctx, runtime, target(ctx)));
    routes.put(path, guard.genericWrite((ctx) => target(ctx).chart), (ctx) => changeState(ctx, runtime, target(ctx)));
  }
}

/**
 * The default chart's default instance. When there is no default chart, the 404 that says so lists the charts
 * served: only a caller who may read hears it.
 */
export function bareTarget(guard: Guard, defaultChart: () => string, ctx: Context): Target {
  try {
    return { chart: defaultChart(), id: DEFAULT_INSTANCE, bare: true };
  } catch (error) {
    guard.admit(ctx, READ);
    throw error;
  }
}

/**
 * Answers once the snapshot is read, unless `wait` asks for a long-poll (one promise, the read's: no async
 * function of its own for the GETs that are nearly all of the traffic). A long-poll for a state ends when that
 * state is current, when the instance finishes in another, or when the wait runs out; one on `index` when the
 * revision moves past it.
 */
function answerState(ctx: Context, runtime: Runtime, target: Target): Promise<void> {
  const state = requiredState(ctx);
  const wait = waitParam(ctx);
  const index = indexParam(ctx);
  return runtime.snapshot(target.chart, target.id).then((snapshot) => {
    // A finished instance never moves again: waiting for another state of it would only run out the clock.
    const done = (s: Snapshot): boolean => (index === undefined ? s.state === state || isFinished(s) : s.revision > index);
    if (wait !== undefined && !done(snapshot)) return waitThenAnswer(ctx, runtime, target, state, wait, done);
    if (index !== undefined && wait === undefined) throw new BadRequest('index=REV needs wait=DURATION, e.g. ?index=12&wait=60s');
    stateAnswer(ctx, target, snapshot, state);
  });
}

async function waitThenAnswer(ctx: Context, runtime: Runtime, target: Target, state: string, wait: number, done: (s: Snapshot) => boolean): Promise<void> {
  markHeld(ctx);
  const moved = await runtime.waitFor(target.chart, target.id, done, wait, requestSignal(ctx));
  if (!moved && runtime.stopping) throw new ShuttingDown('chartd is stopping; ask again in a moment');
  stateAnswer(ctx, target, moved ?? (await runtime.snapshot(target.chart, target.id)), state);
}

function stateAnswer(ctx: Context, target: Target, snapshot: Snapshot, state: string): void {
  if (snapshot.state === state) return yes(ctx, target, snapshot, state);
  no(ctx, target, snapshot, `${state} is not current`);
}

async function changeState(ctx: Context, runtime: Runtime, target: Target): Promise<void> {
  const state = requiredState(ctx);
  const event = optionalName(ctx, 'event');
  const principal = principalOf(ctx);
  const by = speakerOf(ctx, principal);
  const token = tokenName(principal);
  const who = { ...(by ? { by } : {}), ...(token ? { token } : {}) };
  const input: Input = event ? { type: 'event', event, state, ...who } : { type: 'put', state, ...who };
  const outcome = await runtime.apply(target.chart, target.id, input);
  if (outcome.accepted) return yes(ctx, target, outcome.snapshot, state);
  if (outcome.code === 'caller_required') throw new BadRequest(outcome.reason ?? 'caller required', 'caller_required');
  no(ctx, target, outcome.snapshot, outcome.reason ?? `${state} is not current`);
}

/** 200 with the state's name, as StateService answered. */
function yes(ctx: Context, target: Target, snapshot: Snapshot, state: string): void {
  stateText(ctx, target, snapshot, 200, state);
}

/** 406: empty on /state, as StateService answered; on chartd's routes the body says why. */
function no(ctx: Context, target: Target, snapshot: Snapshot, reason: string): void {
  stateText(ctx, target, snapshot, 406, target.bare ? '' : reason);
}

function stateText(ctx: Context, target: Target, snapshot: Snapshot, status: number, body: string): void {
  if (target.bare) ctx.set('cache-control', 'no-store');
  else revisionHeaders(ctx, snapshot);
  text(ctx, status, body);
}

/**
 * The instance's revision and current state. Headers carry only ASCII, so the state is percent-encoded as in a URL
 * (UTF-8, encodeURIComponent); names of letters, digits, '_', '.' and '-' read as they are.
 */
export function revisionHeaders(ctx: Context, snapshot: Snapshot): void {
  ctx.set('x-chartd-revision', String(snapshot.revision));
  ctx.set('x-chartd-state', encodeURIComponent(snapshot.state));
  ctx.set('cache-control', 'no-store');
}

function text(ctx: Context, status: number, body: string): void {
  ctx.status = status;
  // What `ctx.type = 'text/plain'` sets, without its MIME lookup on every answer.
  ctx.set('content-type', 'text/plain; charset=utf-8');
  ctx.body = body;
}

/** The chart /state acts on: `pinned` (see servers.ts), else the only chart served, else a 404 naming them. */
export function pickDefaultChart(names: () => string[], pinned: string | undefined): () => string {
  return () => {
    if (pinned) return pinned;
    const served = names();
    if (served.length === 1) return served[0]!;
    throw new NotFound(`/state needs one chart to act on, but ${served.length} are served (${served.join(', ')}); use /charts/NAME/state or start chartd with --default-chart NAME`);
  };
}

// The Koa application: a body-size check, the state fast path, error mapping, the guarded routes (the dashboard's and the API description too), and a JSON 404 for the rest.

import Koa, { type Context, type Middleware } from 'koa';
import Router from '@koa/router';
import type { Logger } from 'pino';
import { MAX_CHART_BYTES } from '../chart/load.js';
import { ChartModels } from '../chart/models.js';
import { PayloadTooLarge } from '../errors.js';
import type { ChartSources } from '../runtime/chartSources.js';
import type { ReplicasView } from '../runtime/replicaRegistry.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Runtime } from '../runtime/runtime.js';
import type { ServiceBoard } from '../services/service.js';
import { accessLog } from './accessLog.js';
import { errorAnswer, errorMiddleware, type ErrorAnswer } from './errors.js';
import { guardRoutes, OPEN, type Guard, type GuardedRoutes } from './guard.js';
import { BODY_LIMIT } from './params.js';
import { accessRoutes } from './routes/access.js';
import { chartRoutes } from './routes/charts.js';
import { chartSourceRoutes } from './routes/chartSources.js';
import { lifecycleRoutes } from './routes/lifecycle.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { instanceRoutes } from './routes/instances.js';
import { openapiRoutes } from './routes/openapi.js';
import { measured, metricsRoutes } from './routes/metrics.js';
import { overviewRoutes } from './routes/overview.js';
import { predictRoutes } from './routes/predict.js';
import { serviceRoutes } from './routes/services.js';
import { pickDefaultChart, stateFastPath, stateRoutes } from './routes/state.js';
import { watchRoutes } from './routes/watch.js';
import { unroutedAnswers } from './unrouted.js';
import { serveDescription } from './openapi/document.js';

export interface AppOptions {
  readonly runtime: Runtime;
  /** Reload, apply and delete charts (POST /charts/reload, PUT and DELETE /charts/:chart); absent, those routes are too. */
  readonly sources?: ChartSources;
  readonly log: Logger;
  /** The chart /state serves (--default-chart, or the only chart at start-up). */
  readonly defaultChart?: string;
  /** The models POST /state predicts with, as of the last reload; none unless given. */
  readonly models?: () => ChartModels;
  readonly version: string;
  /** Who may do what; every route passes through it. */
  readonly guard: Guard;
  /** What /healthz says of access: how clients authenticate, and a warning when the server is exposed without it. */
  readonly access: () => Record<string, unknown>;
  /** Built-in services that may own a chart and run in this server (e.g. backup-controller), named in /access. */
  readonly services?: readonly string[];
  /** Every background service's state: GET /services, /readyz and /overview. */
  readonly board: ServiceBoard;
  /** --access-log: where a line per request goes. */
  readonly accessLog?: Logger;
  /** More routes, composed in servers.ts (e.g. the backup controller's, from src/http/routes/backupController.ts). */
  readonly mount?: readonly ((routes: GuardedRoutes) => void)[];
  /** Counts and times every request and serves GET /metrics; none without (--no-metrics). */
  readonly metrics?: Metrics;
  /** On a shared store: the replicas sharing it, and the charts they serve in different versions (/healthz). */
  readonly replicas?: () => ReplicasView;
}

export function createApp(options: AppOptions): Koa {
  const { runtime, log } = options;
  const app = new Koa();
  app.silent = true;
  if (options.accessLog) app.use(accessLog(options.accessLog));
  // StateService's GET and PUT, nearly all the traffic, go first: they answer their own errors, and a plain GET
  // is answered without a promise, the router's per-request work or any other middleware (bench/README.md).
  const chartNames = (): string[] => runtime.chartNames();
  const defaultChart = pickDefaultChart(chartNames, options.defaultChart);
  const answerError = errorAnswer(log);
  const fastPath = answeringOwnErrors(stateFastPath(runtime, defaultChart, options.guard), answerError);
  app.use(options.metrics ? measured(fastPath, options.metrics.requests) : fastPath);
  app.use(errorMiddleware(log, answerError));

  // Anything no route answered becomes a JSON 404, and a method its path's routes lack a JSON 405 with Allow.
  app.use(unroutedAnswers('; see GET /charts'));

  const router = new Router();
  const routes = guardRoutes(router, options.guard);
  // Monitoring sees 503 while changes cannot be made durable, with the store's reason; 200 again once a write lands.
  routes.get('/healthz', OPEN, (ctx) => {
    const store = runtime.storeHealth();
    const alerts = runtime.alertHealth();
    ctx.set('cache-control', 'no-store');
    if (!store.ok) ctx.status = 503;
    ctx.body = {
      status: store.ok ? 'ok' : 'failing', version: options.version, charts: chartNames().length, waiters: runtime.waiters.count, store,
      ...(alerts ? { alerts } : {}), access: options.access(), ...(options.replicas ? { replicas: options.replicas() } : {}),
    };
  });
  stateRoutes(routes, runtime, defaultChart);
  const none = new ChartModels();
  predictRoutes(routes, runtime, options.models ?? (() => none), defaultChart);
  if (options.sources) chartSourceRoutes(routes, options.sources, runtime);
  chartRoutes(routes, runtime);
  instanceRoutes(routes, runtime);
  lifecycleRoutes(routes, runtime);
  const watchStreams = watchRoutes(routes, runtime);
  if (options.metrics) metricsRoutes(routes, options.metrics, watchStreams);
  accessRoutes(routes, chartNames, options.services ?? []);
  overviewRoutes(routes, runtime, chartNames, options.board);
  serviceRoutes(routes, options.board);
  dashboardRoutes(routes);
  openapiRoutes(routes, serveDescription(options.version));
  for (const mount of options.mount ?? []) mount(routes);
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}

/** A chart's YAML (PUT /charts/NAME) may be as large as a chart file; every other body is JSON of at most BODY_LIMIT. */
const CHART_PATH = /^\/charts\/[^/]+$/;

/** Refuses a request whose declared body is over the limit, before anything reads it. */
function checkBodyLimit(ctx: Context): void {
  const limit = ctx.method === 'PUT' && CHART_PATH.test(ctx.path) ? MAX_CHART_BYTES : BODY_LIMIT;
  if (Number(ctx.req.headers['content-length'] || 0) > limit) {
    throw new PayloadTooLarge(`request body is over the limit of ${limit} bytes`);
  }
}

/**
 * Runs the body-size guard and `middleware` ahead of the error middleware, answering their errors itself:
 * thrown ones at once, rejected ones when they come. What `middleware` hands on with `next()` is answered
 * further down.
 */
function answeringOwnErrors(middleware: Middleware, answer: ErrorAnswer): Middleware {
  return (ctx, next) => {
    let result: Promise<unknown> | void;
    try {
      checkBodyLimit(ctx);
      result = middleware(ctx, next) as Promise<unknown> | void;
    } catch (error) {
      answer(ctx, error);
      return;
    }
    return result?.then(undefined, (error: unknown) => answer(ctx, error));
  };
}

// Health, readiness, services, access, the overview, this description and the dashboard's files.

import { array, empty, integer, json, object, operation, schema, string, text, type Json } from './build.js';

const OPEN_TO_PROBES = 'Needs no token, so load balancers and monitors need none.';

/** /services, /readyz and /metrics answer alike on serve and zone. */
export const SERVICE_PATHS: Record<string, Json> = {
  '/services': {
    get: operation({
      id: 'listServices', tag: 'monitoring', scope: 'read',
      summary: 'Each background service with its state, since when, its last error and restarts',
      answers: { 200: json('every service', schema('Services')) },
    }),
  },
  '/metrics': {
    get: operation({
      id: 'getMetrics', tag: 'monitoring', scope: 'read', summary: 'Metrics in the Prometheus text format',
      description: 'Requests by route, method and status with latencies; the store; instances and transitions; steps; timers, long-polls and watch ' +
        'streams; alerts; the background services; the backup services; the process. docs/operations.md lists them, with alert rules and a Grafana dashboard.',
      answers: { 200: text('the metrics (text/plain; version=0.0.4)', [], 'text/plain') },
    }),
  },
  '/readyz': {
    get: operation({
      id: 'getReadiness', tag: 'monitoring', scope: 'none', summary: 'Whether every enabled background service runs',
      description: `${OPEN_TO_PROBES} It says only which services are not running and their last error.`,
      answers: {
        200: json('every enabled service runs', schema('Readiness')),
        503: json('some do not: notRunning names each and why', schema('Readiness')),
      },
    }),
  },
};

/** GET /openapi.json on either server, answering the document of that server's kind. */
export function describing(kind: 'serve' | 'zone'): Record<string, Json> {
  return {
    '/openapi.json': {
      get: operation({
        id: 'getDescription', tag: 'monitoring', scope: 'none', conditional: true,
        summary: `This description of chartd ${kind}'s HTTP API (OpenAPI 3.1)`,
        description: 'Needs no token: it holds no secrets and is the same for every server of this version and kind, whatever its charts, tokens or options.',
        answers: { 200: json('the OpenAPI document', { type: 'object' }, ['ETag']) },
      }),
    },
  };
}

const HEALTH = object({
  status: string(undefined, { enum: ['ok', 'failing'] }),
  version: string(), charts: integer(), waiters: integer('long-polls waiting'),
  store: schema('StoreHealth'),
  alerts: object({ undelivered: integer(), oldest: string(), lastError: string() }, ['oldest', 'lastError'], { description: 'with --alert-webhook' }),
  replicas: object({
    self: string('this replica\'s id'), live: integer('replicas sharing the store heard from in the last 90 s, this one included'),
    mismatched: array(object({ chart: string(), versions: { type: 'object', additionalProperties: array(string()), description: 'each version served, with the replicas serving it' } }),
      'charts served in more than one version: serve the same chart files on every replica'),
  }, [], { description: 'with --store postgres://…' }),
  access: object({
    authentication: string(undefined, { enum: ['tokens', 'off'] }), reads: string(undefined, { enum: ['open', 'token'] }),
    listening: string(), warning: string('under --insecure-no-auth on another address than loopback'),
  }, ['reads', 'listening', 'warning']),
}, ['alerts', 'replicas']);

const PAGE = text('the dashboard\'s page', ['ETag'], 'text/html');

export const MONITOR_PATHS: Record<string, Json> = {
  '/healthz': {
    get: operation({
      id: 'getHealth', tag: 'monitoring', scope: 'none', summary: 'Whether changes can be made durable, and how clients authenticate',
      description: `${OPEN_TO_PROBES} Failing checkpoints show as store.warning with a 200.`,
      answers: {
        200: json('the store takes changes', HEALTH),
        503: json('changes cannot be made durable, from a failed write until a later one lands: status failing, store.problem says why', HEALTH),
      },
    }),
  },
  ...SERVICE_PATHS,
  '/access': {
    get: operation({
      id: 'getAccess', tag: 'access', scope: 'none', summary: 'Who the presented token is and what it may do',
      description: 'Needs no token, so a client learns whether it needs one. Names the token, never the token itself.',
      answers: { 200: json('the token\'s name, scopes and callers, and the charts it may write to', schema('Access')) },
    }),
  },
  '/overview': {
    get: operation({
      id: 'getOverview', tag: 'monitoring', scope: 'read',
      summary: 'Every chart with its counts, the instances needing a look (overdue, retrying, failed in the last 24 h), store health, the services',
      answers: { 200: json('the overview', schema('Overview')) },
    }),
  },
  ...describing('serve'),
  '/ui': {
    get: operation({
      id: 'getDashboard', tag: 'dashboard', scope: 'none', conditional: true, summary: 'The dashboard: /ui redirects to /ui/, which is the page',
      description: 'The dashboard\'s files hold no data: every figure comes from the JSON routes, with the token the page sends.',
      answers: { 200: PAGE, 302: empty('to /ui/', ['Location']) },
      errors: [404],
    }),
  },
  '/ui/{view}': {
    get: operation({
      id: 'getDashboardView', tag: 'dashboard', scope: 'none', conditional: true, summary: 'The dashboard\'s page, opened at a view (any path under /ui/)',
      params: [{ name: 'view', in: 'path', required: true, description: 'the view; it may hold further / segments', schema: string() }],
      answers: { 200: PAGE }, errors: [404],
    }),
  },
  '/ui/assets/{file}': {
    get: operation({
      id: 'getDashboardAsset', tag: 'dashboard', scope: 'none', conditional: true, summary: "One of the dashboard's script, stylesheet or image files",
      params: [{ name: 'file', in: 'path', required: true, schema: string() }],
      answers: { 200: empty('the file, gzipped when the client accepts it', ['ETag']) },
      errors: [404],
    }),
  },
};

// The shapes of chartd's own answers: errors, charts, snapshots and their history, pages, health and services.

import { HISTORY_LIMIT } from '../../engine/snapshot.js';
import { array, integer, nullable, object, page, schema, string, time, type Json } from './build.js';

const COUNT = integer(undefined, { minimum: 0 });
const STATUS = string('active while the instance can still move; done once it is in a final state; cancelled once cancelled', { enum: ['active', 'done', 'cancelled'] });
const ANY_OBJECT: Json = { type: 'object' };
const SERVICE_STATE = string(undefined, { enum: ['not_started', 'starting', 'running', 'failed'] });

/** What a chart's summary, detail and overview entry share. */
const CHART_FIELDS: Record<string, Json> = {
  name: string(),
  version: string("the content hash of the chart's file; an instance stays on the version it started with"),
  dialect: string(undefined, { enum: ['stateservice', 'chartd'] }),
  description: nullable(string()),
  file: string('the file the chart was loaded from'),
  source: string('file: read from a --chart path; applied: stored by PUT /charts/:chart', { enum: ['file', 'applied'] }),
  initial: string(),
  instances: COUNT,
  owner: nullable(string('the built-in service that drives the chart; generic write routes refuse it')),
};

const COUNTS = object({
  total: COUNT, active: COUNT, done: COUNT, cancelled: COUNT,
  byState: { type: 'object', additionalProperties: object({ active: COUNT, done: COUNT, cancelled: COUNT }), description: 'per state name, of any version the instances run on' },
});

export const SCHEMAS: Record<string, Json> = {
  Error: object({
    error: object({
      code: string('what went wrong, for programs: bad_request, missing_parameter, invalid_name, not_found, unauthorized, forbidden, owned_by_service, conflict, store_unavailable, …'),
      message: string('what went wrong and how to fix it, for people; a server fault says only to see the log'),
      problems: array(string(), 'a refused chart or reload: every problem, one line each, as `chartd validate` prints them'),
    }, ['problems']),
  }, [], { description: 'Every error answer. The text may end in spaces: its length in bytes never holds 200 or 406, so `curl -sI … | grep 200` scripts never read an error as a yes.' }),

  Transition: object({
    revision: COUNT, at: time(), from: nullable(string()), to: string(),
    cause: string('put, event:NAME, timer, timeout, success, failure, interrupt, cancel, restart or create'),
    caller: string('who the PUT or event spoke for (by=)'),
    token: string("the name of the token that sent it (never the token)"),
    error: string('why the step failed'),
    callers: array(string(), 'the callers a distinct gate had counted when this transition opened it'),
    reason: string('why a client cancelled or restarted the instance, as it said'),
    status: string('set when this transition ended the instance cancelled', { enum: ['cancelled'] }),
  }, ['caller', 'token', 'error', 'callers', 'reason', 'status'], { description: 'One entry of an instance\'s history.' }),

  Failure: object({ node: string(), error: string(), at: time() }),

  StateView: object({
    name: string(),
    kind: string(undefined, { enum: ['gate', 'timer', 'step', 'event', 'final'] }),
    description: nullable(string()),
    edges: array(object({ to: string(), kind: string(undefined, { enum: ['happy', 'unhappy', 'timeout', 'event'] }), label: string() })),
    count: integer('gate: check-ins it needs'), distinct: { type: 'boolean', description: 'gate: each caller counted once' },
    run: string('step: its handler'), retry: ANY_OBJECT, timeoutMs: integer(),
    at: time('timer: when it fires'), afterMs: integer('timer: how long after entry it fires'),
    events: array(string(), 'event: the events it takes'),
  }, ['count', 'distinct', 'run', 'retry', 'timeoutMs', 'at', 'afterMs', 'events'], { description: 'A state as the chart defines it, with the edges leaving it.' }),

  Snapshot: object({
    chart: string(), version: string(), id: string(), state: string(), status: STATUS,
    context: { ...ANY_OBJECT, description: "the instance's inputs, checked against the chart's context schema, frozen at creation" },
    settings: { ...ANY_OBJECT, description: "the operator's values for the chart's settings, frozen at creation" },
    counter: integer('check-ins the current gate has counted'),
    callers: array(string(), 'callers the current gate counted'),
    deadline: nullable(object({ at: integer('milliseconds since 1970'), kind: string(undefined, { enum: ['timer', 'timeout', 'retry'] }) })),
    attempt: integer("the current step's attempt, from 1; 0 outside steps"),
    lastError: string("why the current step's last attempt failed, while it waits to try again"),
    interrupted: object({ reason: string(), at: time() }),
    cancelled: object({ reason: string(), at: time(), by: string('who asked (by=)'), token: string('the name of the token that asked') }, ['by', 'token'],
      { description: 'set once a client cancelled it: it then only runs the cleanup its chart leads to, and ends cancelled' }),
    revision: integer('moves by one on every accepted change'),
    enteredAt: time(), createdAt: time(), updatedAt: time(),
    history: array(schema('Transition'), `the last ${HISTORY_LIMIT} transitions, oldest first`),
    failures: array(schema('Failure')),
    current: nullable(schema('StateView')),
  }, ['settings', 'lastError', 'interrupted', 'cancelled'], { description: 'One instance as stored, with its current state as the chart defines it.' }),

  InstancePage: page('instances', object({ id: string(), state: string(), status: STATUS, revision: COUNT, version: string(), updatedAt: time() })),

  ChartSummary: object({ ...CHART_FIELDS, states: integer('how many states the chart has') }),
  AppliedChart: object({
    ...CHART_FIELDS, states: integer('how many states the chart has'),
    created: { type: 'boolean', description: 'no chart of this name was served before' },
    unchanged: { type: 'boolean', description: 'the same text as the version served: nothing changed' },
    notices: array(string(), 'warnings and notes, as `chartd validate` prints them'),
  }),
  ChartDetail: object({ ...CHART_FIELDS, states: array(schema('StateView')), counts: COUNTS }),
  ChartOverview: object({ ...CHART_FIELDS, states: integer(), counts: COUNTS }),

  StoreHealth: object({
    ok: { type: 'boolean' }, problem: string('what fails, naming the file and the cause'), since: time(),
    warning: string('checkpoints are failing (writes still land)'), warningSince: time(), journalBytes: COUNT,
  }, ['problem', 'since', 'warning', 'warningSince', 'journalBytes']),

  ServiceStatus: object({
    name: string(), state: SERVICE_STATE, since: time(),
    lastError: object({ message: string(), at: time() }),
    enabled: { type: 'boolean', description: 'false when --values switched it off: not started, and /readyz leaves it out' },
    keepAlive: { type: 'boolean', description: 'whether the supervisor starts it again when it fails' },
    restarts: COUNT, nextStart: time('the next start the supervisor has planned, while failed'),
  }, ['lastError', 'nextStart']),

  Services: object({ services: array(schema('ServiceStatus')) }),

  Readiness: object({
    ready: { type: 'boolean' },
    notRunning: array(object({ name: string(), state: SERVICE_STATE, since: time(), error: string('the last error of a failed service') }, ['error'])),
  }, ['notRunning']),

  Access: object({
    authentication: string(undefined, { enum: ['tokens', 'off'] }),
    reads: string(undefined, { enum: ['open', 'token'] }),
    token: nullable(string('the name of the token presented (never the token)')),
    scopes: array(string(), 'read, write:PATTERNS, admin, results'),
    callers: nullable(array(string())),
    caller: nullable(string('the caller a token bound to one name checks in as')),
    read: { type: 'boolean' }, admin: { type: 'boolean' },
    write: array(string(), 'the charts whose instances the token may create, move and send events to through the generic routes'),
    services: array(string(), 'built-in services running here that own charts'),
  }),

  Overview: object({
    charts: array(schema('ChartOverview')),
    attention: object({
      instances: array(object({
        chart: string(), id: string(), state: string(), status: STATUS,
        reason: string(undefined, { enum: ['overdue', 'retrying', 'failed'] }), since: time(),
        attempt: integer(), deadline: ANY_OBJECT, failure: schema('Failure'),
      }, ['attempt', 'deadline', 'failure'])),
      totals: object({ overdue: COUNT, retrying: COUNT, failed: COUNT }),
    }),
    store: schema('StoreHealth'),
    services: array(schema('ServiceStatus')),
  }),
};

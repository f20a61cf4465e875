// Charts and their instances: lists, details, the YAML, diagrams, applying and deleting charts, creating, cancelling,
// restarting and deleting instances, events and the watch stream.

import { UNSAFE_PARAPHRASE } from '../routes/chartSources.js';
import { array, integer, json, object, operation, problem, schema, string, text, type Answer, type Json } from './build.js';

const WRITE_ON_CHART = 'write on the chart in the path; refused (403 owned_by_service) for a chart a built-in service owns';
const SNAPSHOT_HEADERS = ['X-Chartd-Revision', 'X-Chartd-State', 'ETag'];

const DIAGRAMS: Record<string, { type: string; what: string }> = {
  svg: { type: 'image/svg+xml', what: 'SVG' },
  mmd: { type: 'text/plain', what: 'Mermaid' },
  dot: { type: 'text/vnd.graphviz', what: 'Graphviz dot' },
};

function diagrams(): Record<string, Json> {
  const paths: Record<string, Json> = {};
  for (const [extension, { type, what }] of Object.entries(DIAGRAMS)) {
    const upper = extension[0]!.toUpperCase() + extension.slice(1);
    paths[`/charts/{chart}/diagram.${extension}`] = {
      get: operation({
        id: `getChartDiagram${upper}`, tag: 'charts', scope: 'read', conditional: true,
        summary: `The chart's diagram (${what}): happy paths green, unhappy paths red`,
        params: ['chart'], answers: { 200: text('the diagram', ['ETag'], type) }, errors: [404],
      }),
    };
    paths[`/charts/{chart}/instances/{id}/diagram.${extension}`] = {
      get: operation({
        id: `getInstanceDiagram${upper}`, tag: 'instances', scope: 'read', conditional: true,
        summary: `An instance's diagram (${what}): its current state highlighted, failed nodes outlined`,
        params: ['chart', 'instance'], answers: { 200: text('the diagram', ['ETag'], type) }, errors: [404],
      }),
    };
  }
  return paths;
}

const reasonBody = (): Json => object({ reason: string('up to 1,000 characters') }, ['reason'], { additionalProperties: false });

const snapshot = (description: string): Answer => json(description, schema('Snapshot'), SNAPSHOT_HEADERS);

export const CHART_PATHS: Record<string, Json> = {
  '/charts': {
    get: operation({
      id: 'listCharts', tag: 'charts', scope: 'read', conditional: true, summary: 'The charts served, with their instance counts',
      answers: { 200: json('every chart', object({ charts: { type: 'array', items: schema('ChartSummary') } }), ['ETag']) },
    }),
  },
  '/charts/{chart}': {
    get: operation({
      id: 'getChart', tag: 'charts', scope: 'read', conditional: true,
      summary: "One chart: its states and edges, and its instances counted by state and status",
      params: ['chart'], answers: { 200: json('the chart', schema('ChartDetail'), ['ETag']) }, errors: [404],
    }),
    put: operation({
      id: 'applyChart', tag: 'charts', scope: 'admin', summary: "Apply a chart's YAML: validated, stored durably, served at once",
      description: 'The chart is kept in the store and survives restarts; a --chart file of the same name wins over it. ' +
        'Running instances stay on the version they started with. `chartd apply FILE --server URL` sends this.',
      params: ['chart'],
      body: { description: "the chart's YAML (application/yaml or text/yaml), named as in the path", type: 'application/yaml', schema: string() },
      answers: {
        201: json('added', schema('AppliedChart'), ['Location']),
        200: json('replaced, or the same text again (unchanged)', schema('AppliedChart'), ['Location']),
        400: problem('the chart has problems (chart_invalid): every one, one per line, as `chartd validate` prints them'),
        409: problem('a --chart file serves this name: change the file and reload instead'),
      },
    }),
    delete: operation({
      id: 'deleteChart', tag: 'charts', scope: 'admin', summary: 'Stop serving an applied chart',
      description: 'Refused (409) while the chart has active instances, unless the body carries the confirmation phrase ' +
        `\`{"unsafe_paraphrase": "${UNSAFE_PARAPHRASE}"}\` exactly (case-sensitive): then each active instance is cancelled first, recording the reason.`,
      params: ['chart'],
      body: {
        description: 'the confirmation phrase, and why (recorded in each cancelled instance\'s history)', required: false,
        schema: object({ unsafe_paraphrase: string(undefined, { const: UNSAFE_PARAPHRASE }), reason: string() }, ['unsafe_paraphrase', 'reason'], { additionalProperties: false }),
      },
      answers: {
        200: json('no longer served', object({ deleted: string(), version: string(), cancelled: integer('active instances cancelled with it') })),
        400: problem('the phrase is not exactly right (wrong_paraphrase); nothing was deleted'),
        409: problem('the chart has active instances and no phrase came (chart_has_active_instances), or a --chart file serves it; nothing was deleted'),
      },
      errors: [404],
    }),
  },
  '/charts/reload': {
    post: operation({
      id: 'reloadCharts', tag: 'charts', scope: 'admin', summary: 'Read every --chart path, --values and --auth again, and serve all of it or none',
      description: 'As SIGHUP does. New versions serve new instances; running ones stay on the version they started with. ' +
        'If any chart or file has a problem nothing changes, and the answer lists every problem as `chartd validate` prints them.',
      answers: {
        200: json('what changed', object({
          added: array(string()), removed: array(string()), charts: array(string(), 'every chart served now'),
          changed: array(object({ name: string(), from: string('the version served before'), to: string('the version served now') })),
        })),
        400: problem('a chart or file has problems, or a chart no longer served has active instances (reload_refused): every problem, one per line; nothing changed'),
      },
    }),
  },
  '/charts/{chart}/source': {
    get: operation({
      id: 'getChartSource', tag: 'charts', scope: 'read', conditional: true, summary: "The chart's YAML exactly as loaded",
      description: "Charts hold no secrets: the operator's values are bound apart (--values).",
      params: ['chart'], answers: { 200: text('the YAML', ['ETag', 'X-Chartd-Version'], 'text/yaml') }, errors: [404],
    }),
  },
  ...diagrams(),
  '/charts/{chart}/instances': {
    get: operation({
      id: 'listInstances', tag: 'instances', scope: 'read', summary: 'A page of the chart\'s instances',
      description: 'In id order (order=changed: the last change first), optionally only those in a state or with a status.',
      params: ['chart', 'limit', 'after', 'stateFilter', 'status', 'order'],
      answers: { 200: json('one page', schema('InstancePage')) }, errors: [400, 404],
    }),
    post: operation({
      id: 'createInstance', tag: 'instances', scope: 'write', guard: WRITE_ON_CHART,
      summary: 'Create an instance (idempotent by id)',
      description: "The context is checked against the chart's context schema; the body takes no settings (those are the operator's). " +
        'The same id with the same context again is a harmless retry (200).',
      params: ['chart'],
      body: {
        description: 'the new instance: an id (one is made when left out) and its context', required: false,
        schema: object({ id: string('the instance id; letters, digits, . _ - : @'), context: { type: 'object' } }, ['id', 'context'], { additionalProperties: false }),
      },
      answers: {
        201: snapshot('created; Location names it'),
        200: snapshot('it existed already with this context'),
        409: problem('the id exists with another context (conflict), the operator has not bound the chart\'s required settings (not_configured), or the chart has --max-instances instances (instance_quota)'),
      },
      errors: [404, 503],
    }),
  },
  '/charts/{chart}/instances/{id}': {
    get: operation({
      id: 'getInstance', tag: 'instances', scope: 'read', conditional: true,
      summary: 'One instance: its state, counter, callers, deadline, revision, history and failures',
      description: 'The ETag is "REVISION.CREATED". With `index` and `wait`, a blocking query: answers once the revision moves past `index`.',
      params: ['chart', 'instance', 'index', 'wait'],
      answers: { 200: snapshot('the instance') }, errors: [400, 404, 503],
    }),
    delete: operation({
      id: 'deleteInstance', tag: 'instances', scope: 'write', guard: WRITE_ON_CHART, summary: 'Delete a finished instance',
      params: ['chart', 'instance'],
      answers: {
        200: json('deleted', object({ deleted: object({ chart: string(), id: string(), state: string(), status: string(undefined, { enum: ['done', 'cancelled'] }), revision: integer() }) })),
        409: problem('the instance is still active: cancel it first'),
      },
      errors: [404, 503],
    }),
  },
  '/charts/{chart}/instances/{id}/cancel': {
    post: operation({
      id: 'cancelInstance', tag: 'instances', scope: 'write', guard: WRITE_ON_CHART, summary: 'Cancel an active instance',
      description: 'Its running step is stopped, the cleanup steps its chart leads to run, and it ends in the cancelled status, the reason recorded. ' +
        '202 while that cleanup runs; 200 once it has ended.',
      params: ['chart', 'instance', 'by', 'callerHeader'],
      body: { description: 'why, recorded in its history', required: false, schema: reasonBody() },
      answers: { 200: snapshot('cancelled'), 202: snapshot('cancelling: its cleanup runs'), 409: problem('the instance has finished already') },
      errors: [404, 503],
    }),
  },
  '/charts/{chart}/instances/{id}/restart': {
    post: operation({
      id: 'restartInstance', tag: 'instances', scope: 'write', guard: WRITE_ON_CHART, summary: 'Start a finished instance over',
      description: "From the initial state of the chart's version served now, with its context and settings; recorded in its history.",
      params: ['chart', 'instance', 'by', 'callerHeader'],
      body: { description: 'why, recorded in its history', required: false, schema: reasonBody() },
      answers: { 200: snapshot('started over'), 409: problem('the instance is still active: cancel it first') },
      errors: [404, 503],
    }),
  },
  '/charts/{chart}/instances/{id}/events/{event}': {
    post: operation({
      id: 'sendEvent', tag: 'instances', scope: 'write', guard: WRITE_ON_CHART,
      summary: 'Send an event to an instance', description: 'Answers once the change is durable. No body is read.',
      params: ['chart', 'instance', 'event', 'by', 'callerHeader'],
      answers: {
        200: snapshot('accepted: the instance after it'),
        406: problem('the current state does not accept the event; the message says why', ['X-Chartd-Revision', 'X-Chartd-State']),
      },
      errors: [400, 404, 503],
    }),
  },
  '/charts/{chart}/instances/{id}/events': {
    get: operation({
      id: 'watchInstance', tag: 'instances', scope: 'read', summary: "A stream of the instance's transitions (server-sent events)",
      description: 'Events: `transition` (id: the revision; data: the transition with chart, instance and status), `revision` without an id ' +
        '(a change that moved no state: a counted check-in, a step\'s retry), `reset` (Last-Event-ID is ahead of the run) and `gap` ' +
        '(older transitions are no longer kept). A comment every 15 s keeps the connection open; a client more than 1 MiB behind is cut off and resumes with Last-Event-ID.',
      params: ['chart', 'instance', 'lastEventId', 'since'],
      answers: { 200: text('the stream, open until the client or the server closes it', [], 'text/event-stream') },
      errors: [400, 404],
    }),
  },
};

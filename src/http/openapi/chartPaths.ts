// Charts and their instances: lists, details, the YAML, diagrams, creating instances, events and the watch stream.

import { json, object, operation, problem, schema, string, text, type Answer, type Json } from './build.js';

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

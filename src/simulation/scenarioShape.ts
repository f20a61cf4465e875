// The shape of a chart test file (NAME.test.yaml) as JSON Schema: checked on load (with hints) and offered to editors.

import type { JsonSchema } from '../chart/model.js';
import { HINT } from '../chart/schema.js';

const name = (description: string, examples: string[]) => ({ type: 'string', minLength: 1, description, examples });
const names = (description: string, examples: string[][]) => ({ type: 'array', items: { type: 'string', minLength: 1 }, description, examples });

const expectation = {
  type: 'object',
  description: 'What must hold after this step; each key given is compared, the others are not.',
  examples: [{ state: 'drain', counter: 1, callers: ['web1'] }],
  minProperties: 1,
  hint: 'expect: needs at least one of state, status, counter, callers, failures, alerts, answer, path',
  properties: {
    state: name('The current state.', ['rollback']),
    status: { enum: ['active', 'done'], description: 'active, or done once the instance is in a final state.', examples: ['done'] },
    counter: { type: 'integer', minimum: 0, description: "The current gate's check-ins counted so far.", examples: [2] },
    callers: names("The callers (by:) the current gate has counted, in order.", [['web1', 'web2']]),
    failures: {
      type: ['integer', 'array'],
      description: 'The failures recorded so far: how many, or each in order as the node (a state name) or { node, error }.',
      examples: [0, ['backup_data'], [{ node: 'backup_data', error: 'pg_dump: connection refused' }]],
      items: {
        type: ['string', 'object'],
        properties: {
          node: name('The state that failed (a step after its retries, or a waiting state that timed out).', ['backup_data']),
          error: { type: 'string', description: 'The failure message, exactly.', examples: ['timed out: nothing moved drain before its deadline'] },
        },
        required: ['node'],
        additionalProperties: false,
      },
    },
    alerts: {
      type: ['integer', 'array'],
      items: { type: 'string' },
      description: 'The alerts raised so far: how many, or each line exactly as the server logs it (Failure: <prefix> <node>: <message>).',
      examples: [1, ['Failure: acme db.internal sales backup_data: pg_dump: connection refused']],
    },
    answer: { enum: [200, 400, 406], description: "The HTTP status this step's put or event gets: 200 applied, 406 refused, 400 no caller for a distinct gate.", examples: [406] },
    path: names('Every state entered since the instance was created, the initial one first.', [['window', 'drain', 'upgrade']]),
  },
  additionalProperties: false,
};

const step = {
  type: 'object',
  description: 'One thing that happens (put, event, advance, succeed or fail), an expect:, or both: the expectation is checked after the action.',
  examples: [{ put: 'drain', by: 'web1', expect: { counter: 1 } }, { advance: '10m', expect: { state: 'rollback' } }],
  minProperties: 1,
  hint: 'a step needs one of put, event, advance, succeed, fail, or an expect:',
  properties: {
    put: name('PUT …/state?state=STATE: a check-in on the gate STATE (StateService increment).', ['drain']),
    by: name('Who checks in or sends the event (by=NAME); a distinct gate counts each caller once.', ['web1']),
    event: name('Send the named event (POST …/events/NAME).', ['failed']),
    state: name('With event: the state the sender believes is current (PUT …?state=STATE&event=NAME).', ['verify']),
    advance: { type: 'string', description: 'Move the simulated clock on; timers, timeouts and retry delays that fall due fire in order.', examples: ['3s', '10m', '1h30m'] },
    succeed: {
      type: ['string', 'array'], items: { type: 'string', minLength: 1 },
      description: 'The running step succeeds; a list names several steps that succeed one after another. A step waiting to retry is waited for.',
      examples: ['create_intermediate_directory', ['create_intermediate_directory', 'create_pg_dump_directory']],
    },
    fail: name('The running step fails, on every attempt it has left unless attempts: says how many (the clock waits out each retry delay).', ['backup_data']),
    message: { type: 'string', description: "With fail: the handler's failure message (default: failed).", examples: ['pg_dump: connection to server failed'] },
    attempts: { type: 'integer', minimum: 1, description: 'With fail: how many attempts fail (default: all it has left).', examples: [1] },
    final: { type: 'boolean', description: 'With fail: a failure no retry can fix (the handler throws a FinalFailure): the step takes on_failure at once.', examples: [true] },
    expect: expectation,
  },
  additionalProperties: false,
};

const scenario = {
  type: 'object',
  description: 'One scenario: a new instance and the steps it goes through.',
  examples: [{ name: 'the happy path', context: { release: '1.2.3' }, steps: [{ expect: { state: 'window' } }] }],
  properties: {
    name: name('What the scenario shows, as the report names it.', ['a node fails its health check and everyone rolls back']),
    id: name('The instance id (default: default), as {{instance.id}} reads it.', ['nightly-1']),
    context: { type: 'object', description: "The instance's context, checked against the chart's context schema (defaults filled in).", examples: [{ release: '2026.11.22-1' }] },
    settings: { type: 'object', description: "The operator's settings for the instance, checked against the chart's settings schema.", examples: [{ storage_root: '/srv/backups' }] },
    start: { type: 'string', description: 'When the instance is created on the simulated clock (ISO 8601); overrides the file\'s start.', examples: ['2026-12-01T01:59:00Z'] },
    steps: { type: 'array', minItems: 1, items: step, description: 'What happens, in order.', examples: [[{ advance: '3s' }, { expect: { state: 'drain' } }]], hint: 'a scenario needs at least one step' },
  },
  required: ['name', 'steps'],
  additionalProperties: false,
};

export const SCENARIO_SHAPE: JsonSchema = {
  type: 'object',
  description: 'Chart tests: scenarios run by chartd test on the pure engine with a simulated clock.',
  properties: {
    chart: name('The chart file under test, relative to this file (default: NAME.yaml beside NAME.test.yaml).', ['rolling-upgrade.yaml']),
    start: { type: 'string', description: 'When each scenario starts on the simulated clock (ISO 8601; default 2026-01-01T00:00:00Z).', examples: ['2026-12-01T01:59:00Z'] },
    scenarios: { type: 'array', minItems: 1, items: scenario, description: 'The scenarios, each on a new instance.', examples: [[{ name: 'the happy path', steps: [{ expect: { state: 'drain' } }] }]], hint: 'a chart test file needs at least one scenario' },
  },
  required: ['scenarios'],
  additionalProperties: false,
};

/** The scenario shape for editors: the same schema without the hints the load-time check words its messages with. */
export function scenarioEditorSchema(): JsonSchema {
  const schema = JSON.parse(JSON.stringify(SCENARIO_SHAPE, (key, value: unknown) => (key === HINT ? undefined : value))) as Record<string, unknown>;
  return { $schema: 'http://json-schema.org/draft-07/schema#', title: 'chartd chart tests', ...schema };
}

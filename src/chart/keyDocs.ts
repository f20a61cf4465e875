// What every key of a chart file means, with examples: shown by editors as authors type (chartd schema).

import type { Dialect } from './model.js';

export interface KeyDoc {
  readonly description: string;
  readonly examples: readonly unknown[];
}

/**
 * Keyed by the key's place in the dialect's shape (SHAPES in schema.ts): `.key` for a named key, `.*` for any
 * name (a state, an event), `[]` for a list item. editorSchema.ts refuses a shape key without an entry here.
 */
export const KEY_DOCS: Readonly<Record<Dialect, Readonly<Record<string, KeyDoc>>>> = {
  chartd: {
    '': { description: 'A chartd chart: named states, each with exactly one driver (final, gate, at/after, run, or on).', examples: [] },
    '.chart': { description: "The chart's name, used in URLs (/charts/NAME/…): 1-64 letters, digits, '.', '_' or '-'.", examples: ['rolling-upgrade', 'backup-and-encrypt'] },
    '.description': { description: 'What the chart does and why, for the people who read it a year from now (shown in GET /charts/NAME).', examples: ['Upgrade three web nodes one phase at a time.'] },
    '.initial': { description: 'The state a new instance starts in.', examples: ['drain', 'create_intermediate_directory'] },
    '.context': {
      description: "JSON Schema of an instance's inputs, given by the client that creates it (POST …/instances) and frozen after; templates read them as {{key}}.",
      examples: [{ type: 'object', properties: { release: { type: 'string', pattern: '^[0-9][0-9.-]*$' } }, required: ['release'] }],
    },
    '.settings': {
      description: "JSON Schema of the operator's values the steps need (hosts, storage roots, variable names), bound with --values FILE or chartd run --set, never by a client; templates read them as {{settings.KEY}}.",
      examples: [{ type: 'object', properties: { storage_root: { type: 'string', pattern: '^/' } }, required: ['storage_root'] }],
    },
    '.failure_prefix': { description: 'Template put before every failure report of an instance, naming what failed.', examples: ['{{client_name}} {{settings.postgresql_host}} {{database}}', 'rolling-upgrade {{release}}'] },
    '.models': {
      description: 'Decision-tree models for POST /state (StateService\'s prediction of a machine\'s state from metric values): model name -> its file (YAML or JSON), relative to the chart file; keep them in a models/ directory, as *.yaml beside the charts would be read as charts. See docs/stateservice.md.',
      examples: [{ load: 'models/load.yaml' }],
    },
    '.models.*': { description: 'The model file, relative to the chart file.', examples: ['models/load.yaml'] },
    '.owner': { description: 'The built-in service that alone creates and moves instances; the generic HTTP routes refuse them (403 owned_by_service).', examples: ['backup-controller'] },
    '.states': { description: 'The states by name. Every state but a final one has exactly one driver: gate, at/after, run, or on.', examples: [{ done: { final: true } }] },
    '.states.*': {
      description: 'One state: final: true, a gate (PUTs), a timer (at/after), a step (run), or an event state (on).',
      examples: [{ final: true }, { gate: { count: 3, distinct: true }, next: 'upgrade' }, { run: 'fs.makeDir', with: { path: '{{settings.root}}/work' }, on_success: 'next_step', on_failure: 'cleanup' }],
    },
    '.states.*.description': { description: 'Why this state is here (the overview of the node); shown in diagrams and GET /charts/NAME.', examples: ['Create the intermediate directory for pulling the backup.'] },
    '.states.*.final': { description: 'Marks an end of the chart: nothing moves an instance out of it. Only true is allowed.', examples: [true] },
    '.states.*.gate': { description: 'A gate: PUT …/state?state=NAME counts one check-in; the gate opens (moves to next) at count.', examples: [{ count: 3, distinct: true }, { count: 1 }] },
    '.states.*.gate.count': { description: 'How many check-ins open the gate (at least 1).', examples: [1, 3] },
    '.states.*.gate.distinct': { description: 'Count each caller (by=NAME) once, so a retried PUT never counts twice; callers must say who they are.', examples: [true] },
    '.states.*.next': { description: 'Where a gate leads once it opens, or a timer once it fires.', examples: ['upgrade', 'done'] },
    '.states.*.at': { description: 'A timer that fires at this time: ISO 8601 with Z or an offset, or without a zone for the server\'s local time.', examples: ['2026-12-01T02:00:00Z', '2026-12-01T02:00:00+01:00'] },
    '.states.*.after': { description: 'A timer that fires this long after the state is entered: whole numbers with units d, h, m, s, ms.', examples: ['10m', '1h30m', '500ms'] },
    '.states.*.run': { description: 'A step: the registered handler run on entry; its outcome takes on_success or on_failure.', examples: ['fs.makeDir', 'pg.dumpSchema'] },
    '.states.*.with': { description: "The handler's arguments; strings may hold {{key}} templates ({{settings.KEY}}, {{instance.id}}, {{instance.created | stamp}}).", examples: [{ path: '{{settings.storage_root}}/intermediate/{{client_name}}' }] },
    '.states.*.on_success': { description: 'The happy path: where the step goes when its handler succeeds (green in diagrams).', examples: ['create_pg_dump_directory'] },
    '.states.*.on_failure': { description: 'The unhappy path: where the step goes when it fails after its retries (red in diagrams); records a failure and raises an alert.', examples: ['remove_intermediate_directory'] },
    '.states.*.retry': { description: 'How a failing step is retried before it takes on_failure; by default it is not.', examples: [{ attempts: 3, delay: '10s' }, { attempts: 5, delay: '1s', backoff: 2, max_delay: '1m' }] },
    '.states.*.retry.attempts': { description: 'Attempts in all, the first included (1 = no retry).', examples: [3] },
    '.states.*.retry.delay': { description: 'Wait before the second attempt (default 1s).', examples: ['10s', '1m'] },
    '.states.*.retry.backoff': { description: 'Each later wait is the one before times this (at least 1; default 2).', examples: [2] },
    '.states.*.retry.max_delay': { description: 'The longest wait between attempts (default 1m, or delay if longer).', examples: ['2m'] },
    '.states.*.timeout': {
      description: 'On a step, how long one attempt may run (default 1h). On a gate or event state, { after, next }: where to go if nothing moves it in time (records a failure).',
      examples: ['10m', { after: '1h', next: 'rollback' }],
    },
    '.states.*.on': { description: 'Events that move the state: NAME: TARGET (POST …/events/NAME or PUT …?event=NAME). Beside a gate, they leave it early.', examples: [{ passed: 'done', failed: 'rollback' }] },
    '.states.*.on.*': { description: 'The state this event moves to.', examples: ['rollback'] },
  },
  stateservice: {
    '': { description: 'A StateService chart, accepted unchanged: the chart is named after its file.', examples: [] },
    '.current_state': { description: 'The state a new instance starts in; a file StateService has saved progress into names where it stopped, and chartd starts there (it never writes the file).', examples: ['green_state'] },
    '.models': {
      description: 'Decision-tree models for POST /state (StateService\'s prediction of a machine\'s state from metric values): model name -> its file (YAML or JSON), relative to the chart file; keep them in a models/ directory, as *.yaml beside the charts would be read as charts. See docs/stateservice.md.',
      examples: [{ load: 'models/load.yaml' }],
    },
    '.models.*': { description: 'The model file, relative to the chart file.', examples: ['models/load.yaml'] },
    '.states': { description: 'The states, in order. A state without func is final.', examples: [[{ name: 'green_state', func: 'increment', current: { key: 'count', value: 0 }, target: { name: 'red_state', when: { key: 'count', value: 1 } } }, { name: 'red_state' }]] },
    '.states[]': { description: 'One state: func: increment (a gate), func: time (a timer), or no func (final).', examples: [{ name: 'blue_state' }] },
    '.states[].name': { description: 'The state\'s name, as clients GET and PUT it (?state=NAME).', examples: ['green_state'] },
    '.states[].func': { description: 'increment: every PUT counts one, and the state moves to target once the count reaches target.when.value; time: the state moves at target.when.value.', examples: ['increment', 'time'] },
    '.states[].current': { description: 'The counter of an increment: its key and the value it starts from.', examples: [{ key: 'count', value: 0 }] },
    '.states[].current.key': { description: "The counter's name; target.when.key names the same one.", examples: ['count'] },
    '.states[].current.value': { description: 'The count on entry (a whole number below target.when.value).', examples: [0] },
    '.states[].target': { description: 'Where the state moves, and when.', examples: [{ name: 'red_state', when: { key: 'count', value: 1 } }] },
    '.states[].target.name': { description: 'The state moved to.', examples: ['red_state'] },
    '.states[].target.when': { description: 'When it moves: the count an increment waits for, or the time of a time state.', examples: [{ key: 'count', value: 1 }, { key: 'time', value: '2026-12-01T12:00:00' }] },
    '.states[].target.when.key': { description: 'For increment, the counter\'s name (as in current.key); for time, any name.', examples: ['count', 'time'] },
    '.states[].target.when.value': { description: 'For increment, the count that moves it; for time, YYYY-MM-DDTHH:MM:SS (server-local) or with Z or an offset.', examples: [1, '2026-12-01T12:00:00'] },
  },
};

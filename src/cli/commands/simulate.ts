// `chartd simulate CHART …`: what a chart does with the actions given, transition by transition, on a simulated clock.

import { loadChartFile } from '../../chart/load.js';
import { formatDuration, type Chart } from '../../chart/model.js';
import { chartLoadOptions, handlerRegistry } from '../../main.js';
import { BoundSettings } from '../../runtime/boundSettings.js';
import { InputChecker } from '../../runtime/inputChecker.js';
import { Simulation } from '../../simulation/simulation.js';
import { whatIf, type Entry, type WhatIfAction } from '../../simulation/whatIf.js';
import { formatValue } from '../format.js';
import { ChartdCommand } from '../command.js';
import { duration, instant, UsageError } from '../usage.js';
import { inputsFrom } from '../runInstance.js';


interface SimulateOptions {
  readonly set?: string[];
  readonly fail?: string[];
  readonly start?: number;
  readonly id: string;
  readonly json?: boolean;
}

/** An action option as written, in the order written: --put, --event, --by or --advance. */
interface Written {
  readonly name: 'put' | 'event' | 'by' | 'advance';
  readonly value: string;
}

export function command(): ChartdCommand {
  const written: Written[] = [];
  const command = new ChartdCommand('simulate')
    .usage(`CHART [--set key=value]... [--put STATE [--by CALLER]]...
                       [--event NAME [--by CALLER]]... [--advance DURATION]...
                       [--fail NODE[=MESSAGE]]... [--start TIME] [--id ID] [--json]`)
    .description(`Creates one instance of CHART on the engine with a simulated clock (nothing is stored,
no handler runs) and prints the path it takes, transition by transition, and where it
ends. --put, --event and --advance happen in the order given; --by names the caller
of the --put or --event before it. Every step succeeds at once, unless --fail names it:
then each of its attempts fails (with MESSAGE), waiting out its retry delays.`)
    .operand('CHART', 'the chart file')
    .accept('--set <key=value>', "the chart's context or settings, as chartd run takes them", { repeat: true })
    .accept('--put <STATE>', 'a check-in (PUT ?state=STATE)', { repeat: true })
    .accept('--event <NAME>', 'an event sent to the instance', { repeat: true })
    .accept('--by <CALLER>', 'the caller of the --put or --event just before', { repeat: true })
    .accept('--advance <DURATION>', 'move the clock on (timers fire, retries wait)', { repeat: true, read: duration('--advance') })
    .accept('--fail <NODE[=MESSAGE]>', 'every attempt of this step fails', { repeat: true })
    .accept('--start <TIME>', 'when the instance is created (ISO 8601)', { read: instant('--start'), defaultText: 'now' })
    .accept('--id <ID>', "the instance's id", { default: 'default' })
    .accept('--json', 'the transcript as JSON')
    .example('chartd simulate charts/rolling-upgrade.yaml --set release=1.2 --advance 3s \\',
      '  --put drain --by web1 --event failed --advance 30m');
  // commander tells each option as it reads it: the order the actions happen in.
  for (const name of ['put', 'event', 'by', 'advance'] as const) command.on(`option:${name}`, (value: string) => written.push({ name, value }));
  return command.run<SimulateOptions>((options, [file]) => simulate(options, file!, written));
}

async function simulate(options: SimulateOptions, file: string, written: readonly Written[]): Promise<number> {
  const handlers = handlerRegistry();
  const chart = await loadChartFile(file, chartLoadOptions(handlers));
  const actions = actionsFrom(written, chart);
  const fails = failuresFrom(options.fail ?? [], chart);
  const at = options.start ?? Date.now();
  const inputs = new InputChecker();
  const given = inputsFrom(chart, options.set ?? []);
  const context = inputs.check(chart, given.context);
  const settings = new BoundSettings(inputs).forInstance(chart, given.settings);
  const simulation = new Simulation(chart, handlers, { id: options.id, context, at, ...(settings && { settings }) });
  const entries = whatIf(simulation, actions, fails);
  if (options.json) {
    const { state, status, counter, callers, failures } = simulation.snapshot;
    const transcript = { chart: chart.name, version: chart.version, instance: options.id, start: new Date(at).toISOString(), entries, end: { state, status, counter, callers, failures, waiting: simulation.whereNow() }, alerts: simulation.alerts };
    process.stdout.write(`${JSON.stringify(transcript, null, 2)}\n`);
  } else {
    process.stdout.write(textTranscript(chart, simulation, entries, at));
  }
  return 0;
}

/** The --put, --event and --advance options in the order written; --by belongs to the --put or --event before it. */
function actionsFrom(written: readonly Written[], chart: Chart): WhatIfAction[] {
  const actions: WhatIfAction[] = [];
  for (const { name, value } of written) {
    if (name === 'put') actions.push({ kind: 'put', state: knownState(chart, value, '--put') });
    if (name === 'event') actions.push({ kind: 'event', event: value });
    if (name === 'advance') actions.push({ kind: 'advance', ms: duration('--advance')(value) });
    if (name === 'by') {
      const last = actions.at(-1);
      if (!last || last.kind === 'advance' || last.by !== undefined) throw new UsageError(`--by ${value} names the caller of the --put or --event just before it, and there is none`);
      actions[actions.length - 1] = { ...last, by: value };
    }
  }
  return actions;
}

/** --fail NODE[=MESSAGE], each NODE a step of the chart. */
function failuresFrom(specs: string[], chart: Chart): Map<string, string> {
  const fails = new Map<string, string>();
  for (const spec of specs) {
    const equals = spec.indexOf('=');
    const node = equals === -1 ? spec : spec.slice(0, equals);
    knownState(chart, node, '--fail');
    if (chart.states[node]!.kind !== 'step') throw new UsageError(`--fail ${node}: ${node} is not a step (run:), so it cannot fail`);
    fails.set(node, equals === -1 ? 'failed (--fail)' : spec.slice(equals + 1));
  }
  return fails;
}

function knownState(chart: Chart, state: string, flag: string): string {
  if (!Object.hasOwn(chart.states, state)) throw new UsageError(`${flag} ${state}: chart ${chart.name} has no such state (its states: ${Object.keys(chart.states).join(', ')})`);
  return state;
}

function textTranscript(chart: Chart, simulation: Simulation, entries: readonly Entry[], start: number): string {
  const lines = [`chart ${chart.name} (${chart.file}, version ${chart.version}), instance ${simulation.snapshot.id}, created ${new Date(start).toISOString()}`];
  const when = (at: number): string => `+${formatDuration(at - start)}`.padEnd(10);
  for (const entry of entries) {
    if (entry.type === 'move') {
      const caller = entry.caller ? ` by ${entry.caller}` : '';
      lines.push(`${when(entry.at)}${entry.cause.padEnd(14)}${entry.from ?? ''} -> ${entry.to}${caller}${entry.error ? `  (${entry.error})` : ''}`);
    } else if (entry.type === 'attempt') {
      const args = Object.entries(entry.args).map(([key, value]) => `${key}=${formatValue(value)}`).join(' ');
      lines.push(`${when(entry.at)}${'  run'.padEnd(14)}${entry.run} ${args}${entry.attempt > 1 ? ` (attempt ${entry.attempt})` : ''}: ${entry.error === undefined ? 'succeeds' : `fails: ${entry.error}`}`);
    } else {
      const answer = entry.status === undefined ? '' : entry.status === 200 ? `: 200${entry.after ? `; ${entry.after}` : ''}` : `: ${entry.status} (${entry.reason ?? 'refused'})`;
      lines.push(`${when(entry.at)}> ${entry.action}${answer}`);
    }
  }
  const { snapshot } = simulation;
  lines.push(snapshot.status === 'done' ? `ends in ${snapshot.state} (final)` : `stops: ${simulation.whereNow()}`);
  for (const alert of simulation.alerts) lines.push(alert);
  return `${lines.join('\n')}\n`;
}

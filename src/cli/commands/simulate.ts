// `chartd simulate CHART …`: what a chart does with the actions given, transition by transition, on a simulated clock.

import { parseDuration, parseInstant } from '../../chart/duration.js';
import { loadChartFile } from '../../chart/load.js';
import { formatDuration, type Chart } from '../../chart/model.js';
import { chartLoadOptions, handlerRegistry } from '../../main.js';
import { BoundSettings } from '../../runtime/boundSettings.js';
import { InputChecker } from '../../runtime/inputChecker.js';
import { Simulation } from '../../simulation/simulation.js';
import { whatIf, type Entry, type WhatIfAction } from '../../simulation/whatIf.js';
import { formatValue } from '../format.js';
import { parseInOrder, UsageError } from '../usage.js';
import { inputsFrom } from '../runInstance.js';

export const help = `Usage: chartd simulate CHART [--set key=value]... [--put STATE [--by CALLER]]...
                       [--event NAME [--by CALLER]]... [--advance DURATION]...
                       [--fail NODE[=MESSAGE]]... [--start TIME] [--id ID] [--json]

Creates one instance of CHART on the engine with a simulated clock (nothing is stored,
no handler runs) and prints the path it takes, transition by transition, and where it
ends. --put, --event and --advance happen in the order given; --by names the caller
of the --put or --event before it. Every step succeeds at once, unless --fail names it:
then each of its attempts fails (with MESSAGE), waiting out its retry delays.

  --set key=value    the chart's context or settings, as chartd run takes them
  --start TIME       when the instance is created (ISO 8601; default: now)
  --json             the transcript as JSON

Example: chartd simulate charts/rolling-upgrade.yaml --set release=1.2 --advance 3s \\
           --put drain --by web1 --event failed --advance 30m
`;

export async function command(args: string[]): Promise<number> {
  const { values, positionals, tokens } = parseInOrder(args, {
    set: { type: 'string', multiple: true },
    put: { type: 'string', multiple: true },
    event: { type: 'string', multiple: true },
    by: { type: 'string', multiple: true },
    advance: { type: 'string', multiple: true },
    fail: { type: 'string', multiple: true },
    start: { type: 'string' },
    id: { type: 'string', default: 'default' },
    json: { type: 'boolean', default: false },
  });
  if (positionals.length !== 1) throw new UsageError('simulate needs exactly one chart file, e.g. chartd simulate charts/rolling-upgrade.yaml --set release=1.2');
  const handlers = handlerRegistry();
  const chart = await loadChartFile(positionals[0]!, chartLoadOptions(handlers));
  const actions = actionsFrom(tokens ?? [], chart);
  const fails = failuresFrom(values.fail ?? [], chart);
  const at = values.start === undefined ? Date.now() : usable(() => parseInstant(values.start!), '--start');
  const inputs = new InputChecker();
  const given = inputsFrom(chart, values.set ?? []);
  const context = inputs.check(chart, given.context);
  const settings = new BoundSettings(inputs).forInstance(chart, given.settings);
  const simulation = new Simulation(chart, handlers, { id: values.id, context, at, ...(settings && { settings }) });
  const entries = whatIf(simulation, actions, fails);
  if (values.json) {
    const { state, status, counter, callers, failures } = simulation.snapshot;
    const transcript = { chart: chart.name, version: chart.version, instance: values.id, start: new Date(at).toISOString(), entries, end: { state, status, counter, callers, failures, waiting: simulation.whereNow() }, alerts: simulation.alerts };
    process.stdout.write(`${JSON.stringify(transcript, null, 2)}\n`);
  } else {
    process.stdout.write(textTranscript(chart, simulation, entries, at));
  }
  return 0;
}

/** The --put, --event and --advance options in the order written; --by belongs to the --put or --event before it. */
function actionsFrom(tokens: NonNullable<ReturnType<typeof parseInOrder>['tokens']>, chart: Chart): WhatIfAction[] {
  const actions: WhatIfAction[] = [];
  for (const token of tokens) {
    if (token.kind !== 'option' || token.value === undefined) continue;
    const value = token.value;
    if (token.name === 'put') actions.push({ kind: 'put', state: knownState(chart, value, '--put') });
    if (token.name === 'event') actions.push({ kind: 'event', event: value });
    if (token.name === 'advance') actions.push({ kind: 'advance', ms: usable(() => parseDuration(value), '--advance') });
    if (token.name === 'by') {
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

function usable<T>(read: () => T, flag: string): T {
  try {
    return read();
  } catch (error) {
    throw new UsageError(`${flag}: ${(error as Error).message}`);
  }
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

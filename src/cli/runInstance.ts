// The instance `chartd run` drives: made from the --set pairs, or the one an earlier run with the same --id left.

import type { Chart, JsonSchema } from '../chart/model.js';
import { didYouMean, listNames } from '../chart/problem.js';
import type { Snapshot } from '../engine/snapshot.js';
import { AppError } from '../errors.js';
import type { Runtime } from '../runtime/runtime.js';
import { UsageError } from './usage.js';

/**
 * A new instance, or the one an earlier run with the same --id left (e.g. killed mid-step, or stopped by a second
 * signal mid-cleanup): the engine has already resumed its step, so this run follows it instead of starting another.
 */
export async function createOrResume(runtime: Runtime, chart: Chart, id: string, pairs: string[]): Promise<Snapshot> {
  const { context, settings } = inputsFrom(chart, pairs);
  const existing = await runtime.find(chart.name, id);
  if (!existing) {
    // Both come from this command line, so a wrong context and missing settings are reported together.
    const problems = [() => runtime.checkContext(chart.name, context), () => runtime.checkSettings(chart.name, settings)].flatMap((check) => {
      try {
        check();
        return [];
      } catch (error) {
        if (error instanceof AppError) return [error.message];
        throw error;
      }
    });
    if (problems.length) throw new Error(problems.join('\n'));
    return (await runtime.create(chart.name, id, context, { settings })).snapshot;
  }
  // Its context and settings are frozen: a differing --set would be silently ignored, so refuse it.
  const differing = (given: Record<string, unknown>, stored: Record<string, unknown> = {}): string[] => Object.entries(given)
    .filter(([key, value]) => JSON.stringify(stored[key]) !== JSON.stringify(value))
    .map(([key, value]) => `${key}=${String(value)} (it has ${JSON.stringify(stored[key])})`);
  const conflicts = [...differing(context, existing.context), ...differing(settings, existing.settings)];
  if (conflicts.length) {
    throw new Error(`instance ${id} of ${chart.name} already exists with other values: ${conflicts.join(', ')}; use another --id for a new run`);
  }
  const cleaning = existing.interrupted ? ` (${existing.interrupted.reason}; it only cleans up)` : '';
  const what = existing.status === 'done' ? `finished in ${existing.state}; reporting its outcome` : `is in ${existing.state}${cleaning}; resuming it`;
  process.stderr.write(`chartd: instance ${id} of ${chart.name} (created ${existing.createdAt}) ${what}\n`);
  return existing;
}

/**
 * `--set key=value`, each to the schema that declares it: the chart's settings (on the command line the operator
 * is the one choosing) or its context; typed by it (integer, number, boolean, else string). A chart without a
 * context schema takes any other key as context.
 */
export function inputsFrom(chart: Chart, pairs: string[]): { context: Record<string, unknown>; settings: Record<string, unknown> } {
  const settingsKeys = propertiesOf(chart.settings);
  const contextKeys = propertiesOf(chart.context);
  const inputs = { context: {} as Record<string, unknown>, settings: {} as Record<string, unknown> };
  for (const pair of pairs) {
    const equals = pair.indexOf('=');
    if (equals < 1) throw new UsageError(`--set ${pair}: write key=value`);
    const key = pair.slice(0, equals);
    const text = pair.slice(equals + 1);
    const section = Object.hasOwn(settingsKeys, key) ? 'settings' : Object.hasOwn(contextKeys, key) || !chart.context ? 'context' : undefined;
    if (!section) {
      const known = [...Object.keys(settingsKeys), ...Object.keys(contextKeys)];
      throw new UsageError(`--set ${key}=${text}: chart ${chart.name} has no setting or context key '${key}'${didYouMean(key, known)}; ` +
        `settings: ${listNames(Object.keys(settingsKeys))}; context: ${listNames(Object.keys(contextKeys))}`);
    }
    inputs[section][key] = typed(key, text, (section === 'settings' ? settingsKeys : contextKeys)[key]?.type);
  }
  return inputs;
}

/** Refuses a chart that waits for PUTs or events: nothing in this process sends them, so only --timeout would end it. */
export function refuseOutsideInput(chart: Chart): void {
  const waits = Object.values(chart.states).flatMap((state) => {
    if (state.kind === 'gate') return [`${state.name} (check-ins: PUT …?state=${state.name})`];
    if (state.kind === 'event') return [`${state.name} (events: ${Object.keys(state.on).join(', ')})`];
    return [];
  });
  if (!waits.length) return;
  throw new UsageError(`chart ${chart.name} waits for input from outside in ${waits.join(', ')}, which chartd run cannot send: ` +
    'serve it (chartd serve) and drive it over HTTP, or give --timeout DURATION to run it until then and take its unhappy path');
}

function typed(key: string, text: string, type: string | undefined): unknown {
  if (type === 'integer' || type === 'number') {
    const number = Number(text);
    if (text.trim() === '' || Number.isNaN(number)) throw new UsageError(`--set ${key}=${text}: ${key} must be a number`);
    return number;
  }
  if (type === 'boolean') {
    if (text !== 'true' && text !== 'false') throw new UsageError(`--set ${key}=${text}: ${key} must be true or false`);
    return text === 'true';
  }
  return text;
}

function propertiesOf(schema: JsonSchema | undefined): Record<string, { type?: string }> {
  return (schema?.['properties'] ?? {}) as Record<string, { type?: string }>;
}

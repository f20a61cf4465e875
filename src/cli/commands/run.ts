// `chartd run CHART --set k=v…`: one instance to a final state in-process; exit code = failures (seed 001's EndPoint).

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDuration } from '../../chart/duration.js';
import type { Chart, JsonSchema } from '../../chart/model.js';
import { didYouMean, listNames } from '../../chart/problem.js';
import type { Snapshot } from '../../engine/snapshot.js';
import { AppError } from '../../errors.js';
import { createLogger, type LogLevel } from '../../log.js';
import { startEngine } from '../../main.js';
import { formatFailure } from '../../runtime/alerts.js';
import { instanceKey, type Runtime } from '../../runtime/runtime.js';
import { parse, UsageError } from '../usage.js';

export async function runCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    set: { type: 'string', multiple: true },
    data: { type: 'string' },
    id: { type: 'string' },
    timeout: { type: 'string' },
    'log-level': { type: 'string', default: 'warn' },
  }, true);
  if (positionals.length !== 1) throw new UsageError('run needs exactly one chart file, e.g. chartd run charts/backup-and-encrypt.yaml --set database=sales');
  const timeoutMs = values.timeout ? parseDuration(values.timeout) : undefined;
  const dataDir = values.data ?? (await mkdtemp(join(tmpdir(), 'chartd-run-')));
  const log = createLogger(values['log-level'] as LogLevel);
  try {
    // The operator at the shell names the variables a handler reads (e.g. --set password_env=PGPASSWORD).
    const engine = await startEngine({ chartPaths: [positionals[0]!], dataDir, log, anyEnvironment: true });
    try {
      const chart = engine.charts[0]!;
      const id = values.id ?? `run-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      const snapshot = await createOrResume(engine.runtime, chart, id, values.set ?? []);
      const final = await untilDone(engine.runtime, chart.name, snapshot, timeoutMs ?? 2 ** 31 - 1);
      if (!final) {
        process.stdout.write(`Critical failure: ${chart.name} did not reach a final state within ${values.timeout}; it stopped in ${engine.runtime.snapshot(chart.name, id).state}\n`);
        return 1;
      }
      const prefix = engine.runtime.failurePrefix(final);
      for (const failure of final.failures) process.stdout.write(`${formatFailure({ prefix, node: failure.node, error: failure.error })}\n`);
      return Math.min(final.failures.length, 125);
    } finally {
      await engine.close();
    }
  } catch (error) {
    if (error instanceof UsageError) throw error;
    process.stdout.write(`Critical failure: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  } finally {
    log.flush();
    if (!values.data) await rm(dataDir, { recursive: true, force: true });
  }
}

/**
 * A new instance, or the one an earlier run with the same --id left (e.g. killed mid-step):
 * the engine has already resumed its step, so this run waits for it instead of starting another.
 */
async function createOrResume(runtime: Runtime, chart: Chart, id: string, pairs: string[]): Promise<Snapshot> {
  const { context, settings } = inputsFrom(chart, pairs);
  const existing = runtime.find(chart.name, id);
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
  const what = existing.status === 'done' ? `finished in ${existing.state}; reporting its outcome` : `is in ${existing.state}; resuming it`;
  process.stderr.write(`chartd: instance ${id} of ${chart.name} (created ${existing.createdAt}) ${what}\n`);
  return existing;
}

/** The instance's final snapshot, or undefined if `ms` ran out first. */
async function untilDone(runtime: Runtime, chart: string, snapshot: Snapshot, ms: number): Promise<Snapshot | undefined> {
  if (snapshot.status === 'done') return snapshot;
  const parked = new AbortController();
  const waiting = runtime.waiters.wait(instanceKey(chart, snapshot.id), (next) => next.status === 'done', ms, parked.signal);
  // It may have finished between the snapshot above and parking the waiter.
  const latest = runtime.snapshot(chart, snapshot.id);
  if (latest.status !== 'done') return waiting;
  parked.abort();
  return latest;
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

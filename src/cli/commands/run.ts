// `chartd run CHART --set k=v…`: one instance to a final state in-process; exit code = failures (seed 001's EndPoint).

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDuration } from '../../chart/duration.js';
import type { Chart } from '../../chart/model.js';
import type { Snapshot } from '../../engine/snapshot.js';
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
    const engine = await startEngine({ chartPaths: [positionals[0]!], dataDir, log });
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
  const context = contextFrom(chart, pairs);
  const existing = runtime.find(chart.name, id);
  if (!existing) return (await runtime.create(chart.name, id, context)).snapshot;
  // Its context is frozen: a differing --set would be silently ignored, so refuse it.
  const conflicts = Object.entries(context)
    .filter(([key, value]) => JSON.stringify(existing.context[key]) !== JSON.stringify(value))
    .map(([key, value]) => `${key}=${String(value)} (it has ${JSON.stringify(existing.context[key])})`);
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

/** `--set key=value`, typed by the chart's context schema (integer, number, boolean, else string). */
export function contextFrom(chart: Chart, pairs: string[]): Record<string, unknown> {
  const properties = (chart.context?.['properties'] ?? {}) as Record<string, { type?: string }>;
  const context: Record<string, unknown> = {};
  for (const pair of pairs) {
    const equals = pair.indexOf('=');
    if (equals < 1) throw new UsageError(`--set ${pair}: write key=value`);
    const key = pair.slice(0, equals);
    const text = pair.slice(equals + 1);
    const type = properties[key]?.type;
    if (type === 'integer' || type === 'number') {
      const number = Number(text);
      if (text.trim() === '' || Number.isNaN(number)) throw new UsageError(`--set ${key}=${text}: ${key} must be a number`);
      context[key] = number;
    } else if (type === 'boolean') {
      if (text !== 'true' && text !== 'false') throw new UsageError(`--set ${key}=${text}: ${key} must be true or false`);
      context[key] = text === 'true';
    } else {
      context[key] = text;
    }
  }
  return context;
}

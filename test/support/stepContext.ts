// Test helper: a real StepContext whose log keeps its entries, so tests can assert what was (not) logged.

import type { StepContext } from '../../src/handlers/handler.js';
import { Environment } from '../../src/runtime/environment.js';

export interface LogEntry {
  level: 'info' | 'warn' | 'error';
  fields: Record<string, unknown>;
  message: string;
}

export interface RecordingContext extends StepContext {
  readonly entries: LogEntry[];
}

/** `environment` defaults to any variable, as with `chartd run`. */
export function makeStepContext(options: { signal?: AbortSignal; state?: string; environment?: Environment } = {}): RecordingContext {
  const environment = options.environment ?? new Environment('any');
  const entries: LogEntry[] = [];
  const record = (level: LogEntry['level']) => (fields: Record<string, unknown>, message: string) => {
    entries.push({ level, fields, message });
  };
  return {
    signal: options.signal ?? new AbortController().signal,
    log: { info: record('info'), warn: record('warn'), error: record('error') },
    instance: { chart: 'test', id: 'default', state: options.state ?? 'step', attempt: 1 },
    env: (name, purpose) => environment.read(name, purpose),
    childEnv: () => environment.forChild(),
    entries,
  };
}

// Test helper: a real StepContext whose log keeps its entries, so tests can assert what was (not) logged.

import type { StepContext } from '../../src/handlers/handler.js';

export interface LogEntry {
  level: 'info' | 'warn' | 'error';
  fields: Record<string, unknown>;
  message: string;
}

export interface RecordingContext extends StepContext {
  readonly entries: LogEntry[];
}

export function makeStepContext(options: { signal?: AbortSignal; state?: string } = {}): RecordingContext {
  const entries: LogEntry[] = [];
  const record = (level: LogEntry['level']) => (fields: Record<string, unknown>, message: string) => {
    entries.push({ level, fields, message });
  };
  return {
    signal: options.signal ?? new AbortController().signal,
    log: { info: record('info'), warn: record('warn'), error: record('error') },
    instance: { chart: 'test', id: 'default', state: options.state ?? 'step', attempt: 1 },
    entries,
  };
}

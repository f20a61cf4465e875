// Structured logs (pino) on standard error, so standard output stays free for command results.

import { pino, type Logger } from 'pino';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export function createLogger(level: LogLevel = 'info'): Logger {
  return pino({ level, base: { service: 'chartd' } }, pino.destination({ fd: 2, sync: false }));
}

// Structured logs (pino) on standard error, so standard output stays free for command results: JSON lines, or pretty
// ones for a terminal.

import { pino, type Level, type Logger } from 'pino';
import pinoPretty from 'pino-pretty';

export type LogLevel = Level | 'silent';
export type LogFormat = 'json' | 'pretty';

/** pino's levels, most severe first, and silent. */
export const LOG_LEVELS: readonly LogLevel[] = [
  ...(Object.keys(pino.levels.values) as Level[]).sort((a, b) => pino.levels.values[b]! - pino.levels.values[a]!),
  'silent',
];
export const LOG_FORMATS: readonly LogFormat[] = ['json', 'pretty'];

export function createLogger(level: LogLevel = 'info', format: LogFormat = 'json'): Logger {
  const options = { level, base: { service: 'chartd' } };
  if (format === 'json') return pino(options, pino.destination({ fd: 2, sync: false }));
  // A terminal reads as it goes: written at once, coloured only when standard error is one.
  return pino(options, pinoPretty({ destination: 2, sync: true, colorize: process.stderr.isTTY === true, ignore: 'service,pid,hostname', translateTime: 'SYS:HH:MM:ss.l' }));
}

/** The access log (--access-log): one info line per request, whatever level the rest of the log is at. */
export function accessLogger(log: Logger): Logger {
  return log.child({ log: 'access' }, { level: 'info' });
}

// The log flags serve, zone and run share: the level, the format, and for the servers the access log.

import type { Logger } from 'pino';
import { createLogger, LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from '../log.js';
import type { ChartdCommand } from './command.js';

export interface LogValues {
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
}

/** Adds --log-level (starting at `level`) and --log-format; with `access`, --access-log too. */
export function logOptions(level: LogLevel, access: boolean): (command: ChartdCommand) => void {
  return (command) => {
    command
      .accept('--log-level <LEVEL>', 'the least severe log lines written (standard error)', { choices: LOG_LEVELS, default: level })
      .accept('--log-format <FORMAT>', 'json lines for machines, or pretty for a terminal', { choices: LOG_FORMATS, default: 'json' });
    if (access) command.accept('--access-log', 'also log one line per request: method, path, status, duration, token name, caller and address (never a token)');
  };
}

export function loggerOf(values: LogValues): Logger {
  return createLogger(values.logLevel, values.logFormat);
}

// Usage errors (exit 2, every problem of the command line at once) and the readers of option values that raise them.

import { parseDuration, parseInstant } from '../chart/duration.js';

export class UsageError extends Error {
  readonly problems: readonly string[];

  constructor(...problems: string[]) {
    super(problems.join('; '));
    this.problems = problems;
  }
}

export function portNumber(text: string): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : -1;
  if (port < 0 || port > 65535) throw new UsageError(`--port ${text} is not a port number (0-65535)`);
  return port;
}

/** A reader of whole numbers of at least 1, for `flag`. */
export function positiveInteger(flag: string): (text: string) => number {
  return (text) => {
    const value = /^\d{1,15}$/.test(text) ? Number(text) : 0;
    if (value < 1) throw new UsageError(`${flag} ${text} is not a whole number of at least 1`);
    return value;
  };
}

/** A reader of durations (10s, 5m, 1h30m) for `flag`, in milliseconds. */
export function duration(flag: string): (text: string) => number {
  return (text) => readWith(parseDuration, text, flag);
}

/** A reader of instants (ISO 8601) for `flag`, in milliseconds since the epoch. */
export function instant(flag: string): (text: string) => number {
  return (text) => readWith(parseInstant, text, flag);
}

/** The parser's own message names the text: "--advance: duration '10' has no unit". */
function readWith<T>(parse: (text: string) => T, text: string, flag: string): T {
  try {
    return parse(text);
  } catch (error) {
    throw new UsageError(`${flag}: ${(error as Error).message}`);
  }
}

/** An http:// or https:// address, for `flag`. */
export function httpUrl(flag: string, what: string): (text: string) => string {
  return (text) => {
    if (!/^https?:\/\/[^\s/]+/.test(text)) throw new UsageError(`${flag} ${text} is not an http:// or https:// address; give ${what}, e.g. http://HOST:PORT`);
    return text;
  };
}

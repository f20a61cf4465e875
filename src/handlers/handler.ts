// The Handler port: named, idempotent pieces of work that step states run.

import type { JsonSchema } from '../chart/model.js';

export interface StepLog {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

export interface StepContext {
  /** Aborted when the step's timeout runs out, the instance is interrupted (it leaves the step) or the server shuts down. */
  readonly signal: AbortSignal;
  readonly log: StepLog;
  readonly instance: { readonly chart: string; readonly id: string; readonly state: string; readonly attempt: number };
  /**
   * The value of a server environment variable the operator lets handlers read; throws a FinalFailure for a
   * name off the allow-list or unset. `purpose` names the argument in the message, e.g. "password_env".
   */
  env(name: string, purpose?: string): string;
  /** The environment for a child process: the server's, without the variables handlers may read. */
  childEnv(): NodeJS.ProcessEnv;
}

/**
 * What an operator-owned argument decides: a file or directory chartd reads or writes (`path`), where chartd
 * connects (`target`: host, port, user), or which server environment variable it reads (`env`).
 */
export type ArgumentKind = 'path' | 'target' | 'env';

export interface Handler {
  /** Dotted name charts use in `run:`, e.g. "fs.makeDir". */
  readonly name: string;
  readonly description: string;
  /** JSON Schema of the resolved `with:` arguments; required keys are checked at chart load. */
  readonly params: JsonSchema;
  /** Arguments the operator decides, by kind; a chart may fill them from client context only through a pattern. */
  readonly operatorOwned?: Readonly<Record<string, ArgumentKind>>;
  /** The argument naming the file the handler leaves behind when it succeeds (what `chartd run` reports as written). */
  readonly writes?: string;
  /**
   * Does the work; resolves on success, throws an Error whose message is the failure report.
   * Must be idempotent: after a crash the same step runs again with the same arguments.
   */
  run(args: Record<string, unknown>, ctx: StepContext): Promise<void>;
}

/** What the chart loader needs to check `run:` names and `with:` keys. */
export interface HandlerLookup {
  get(name: string): Handler | undefined;
}

/** A failure that retrying cannot fix (e.g. "backup job 7 is denied"): the step takes its unhappy path at once. */
export class FinalFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FinalFailure';
  }
}

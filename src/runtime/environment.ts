// The server environment variables handlers may read: the operator's allow-list, or any with `chartd run`.

import { FinalFailure } from '../handlers/handler.js';

export class Environment {
  /** `allowed` = the names from the --values file; 'any' when the operator names variables at the shell (`chartd run`). */
  constructor(
    private allowed: ReadonlySet<string> | 'any',
    private readonly source: NodeJS.ProcessEnv = process.env,
  ) {}

  /** A reloaded --values file's list; steps that start from now on read it. */
  allowOnly(names: readonly string[]): void {
    this.allowed = new Set(names);
  }

  allows(name: string): boolean {
    return this.allowed === 'any' || this.allowed.has(name);
  }

  /** The variable's value; a FinalFailure (no retry can fix it) for a name off the allow-list or unset. */
  read(name: string, purpose?: string): string {
    const what = `environment variable ${name}${purpose ? ` (${purpose})` : ''}`;
    if (!this.allows(name)) throw new FinalFailure(`${what} is not on the allow-list: add it to environment: in the --values file`);
    const value = this.source[name];
    if (value === undefined || value === '') throw new FinalFailure(`${what} is not set on the server`);
    return value;
  }

  /** The server's environment without the allowed variables: a child gets a secret only when a handler hands it on. */
  forChild(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...this.source };
    if (this.allowed !== 'any') for (const name of this.allowed) delete env[name];
    return env;
  }
}

// Bearer tokens a service holds: read from an environment variable or a file (never from config text), never printed.

import { readFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { tokenProblem } from '../access/tokens.js';

/** Where a token comes from; `file` is relative to the config file that names it. */
export type TokenSource = { readonly env: string } | { readonly file: string };

/** A token that prints as *** in logs, JSON and error messages; only `reveal()` gives the value. */
export class Secret {
  readonly #value: string;

  constructor(value: string, readonly origin: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }


  toString(): string {
    return '***';
  }

  toJSON(): string {
    return '***';
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `Secret(${this.origin})`;
  }
}

export async function readSecret(source: TokenSource, what: string, baseDir = process.cwd()): Promise<Secret> {
  let value: string;
  let origin: string;
  if ('env' in source) {
    origin = `environment variable ${source.env}`;
    const raw = process.env[source.env];
    if (raw === undefined) throw new Error(`${what}: ${origin} is not set`);
    value = raw.trim();
  } else {
    const file = isAbsolute(source.file) ? source.file : resolve(baseDir, source.file);
    origin = `file ${file}`;
    try {
      value = (await readFile(file, 'utf8')).trim();
    } catch (error) {
      throw new Error(`${what}: cannot read ${origin}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  }
  const problem = tokenProblem(value);
  if (problem) throw new Error(`${what}: the token in ${origin} cannot be used: ${problem}`);
  return new Secret(value, origin);
}

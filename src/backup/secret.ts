// Bearer tokens: read from an environment variable or a file (never from config text), compared in constant time.

import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';

/** Where a token comes from; `file` is relative to the config file that names it. */
export type TokenSource = { readonly env: string } | { readonly file: string };

export const MIN_TOKEN_LENGTH = 16;

/** A token that prints as *** in logs, JSON and error messages; only `reveal()` gives the value. */
export class Secret {
  readonly #value: string;

  constructor(value: string, readonly origin: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  /** Constant-time: both sides are hashed to equal-length digests before comparing. */
  matches(given: string): boolean {
    return timingSafeEqual(digest(given), digest(this.#value));
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
  if (value.length < MIN_TOKEN_LENGTH) throw new Error(`${what}: the token in ${origin} is shorter than ${MIN_TOKEN_LENGTH} characters; use a long random one (e.g. openssl rand -hex 32)`);
  if (/\s/.test(value)) throw new Error(`${what}: the token in ${origin} contains white space`);
  return new Secret(value, origin);
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

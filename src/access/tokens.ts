// Bearer tokens as chartd makes and stores them: 256 random bits, kept on the server only as a SHA-256 hash.

import { randomBytes } from 'node:crypto';
import { digestOf } from './policy.js';

/** Prefix of the tokens chartd makes, so secret scanners and people can tell one at a glance. */
export const TOKEN_PREFIX = 'chartd_';
/** Shorter tokens are guessable; a hash of one would not protect it. */
export const MIN_TOKEN_LENGTH = 16;

/** A new token: the prefix and 32 random bytes in base64url (a fast hash suits it: there is nothing to guess). */
export function newToken(): string {
  return `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
}

/** The form the auth file keeps: "sha256:" and the hex digest. */
export function hashOf(token: string): string {
  return `sha256:${digestOf(token).toString('hex')}`;
}

/** The digest of a "sha256:HEX" line, or undefined when the text is not one. */
export function parseHash(text: string): Buffer | undefined {
  const match = /^sha256:([0-9a-f]{64})$/i.exec(text.trim());
  return match ? Buffer.from(match[1]!, 'hex') : undefined;
}

/** Why `token` cannot be used, or undefined when it can. */
export function tokenProblem(token: string): string | undefined {
  if (token.length < MIN_TOKEN_LENGTH) return `it is shorter than ${MIN_TOKEN_LENGTH} characters; use a long random one (chartd token new NAME, or openssl rand -hex 32)`;
  if (!/^[\x21-\x7e]+$/.test(token)) return 'it holds white space or characters outside visible ASCII, which an Authorization header cannot carry';
  return undefined;
}

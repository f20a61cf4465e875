// What a failure talking to PostgreSQL means for the store: unreachable (503 and ask again), worth one more try, or a refusal.

import pg from 'pg';
import { StoreUnavailable } from '../store.js';

/** Seconds a caller is told to wait: PostgreSQL restarts in a second or two, and a pool reconnects at once. */
export const RETRY_AFTER_SECONDS = 2;

export type FailureKind =
  /** No answer, or PostgreSQL cannot serve now (starting, stopping, out of connections, a timeout ran out). */
  | 'unavailable'
  /** A serialization failure or deadlock: the transaction is safe to run again as it is. */
  | 'retry'
  /** PostgreSQL answered and refused (bad data, a bug): asking again gives the same answer. */
  | 'refused';

/** Error codes of Node's sockets and of name lookups that mean no connection. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED']);

/**
 * SQLSTATE classes and codes that mean "not now": connection exceptions (08), insufficient resources (53, e.g.
 * too many connections or a full disk), operator intervention (57: shutdown, crash, starting up, and 57014, a
 * statement_timeout), and authentication (28: a password rotated under a running replica).
 */
const UNAVAILABLE_CLASSES = ['08', '53', '57', '28'];
const RETRY_CODES = new Set(['40001', '40P01']);

export function classify(error: unknown): FailureKind {
  if (error instanceof StoreUnavailable) return 'unavailable';
  if (error instanceof pg.DatabaseError) {
    const code = error.code ?? '';
    if (RETRY_CODES.has(code)) return 'retry';
    // A FATAL or PANIC ends the session whatever its code: the connection is gone.
    if (UNAVAILABLE_CLASSES.includes(code.slice(0, 2)) || error.severity === 'FATAL' || error.severity === 'PANIC') return 'unavailable';
    return 'refused';
  }
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && SOCKET_CODES.has(code)) return 'unavailable';
  // node-postgres's own errors carry no code: a lost connection, a timeout, a client that cannot be used any more.
  const message = error instanceof Error ? error.message : '';
  if (/Connection terminated|connection timeout|timeout exceeded when trying to connect|Query read timeout|not queryable|Connection ended/i.test(message)) return 'unavailable';
  return 'refused';
}

/** `error` (of kind 'unavailable') as the store's StoreUnavailable, saying what was not done and where. */
export function unavailable(error: unknown, what: string, shown: string, inDoubt = false): StoreUnavailable {
  if (error instanceof StoreUnavailable) return error;
  const reason = error instanceof Error ? error.message : String(error);
  const outcome = inDoubt
    ? 'its answer was lost and PostgreSQL could not be asked whether it was applied (a revision read later tells)'
    : 'nothing was applied';
  return new StoreUnavailable(`PostgreSQL at ${shown} is unavailable (${reason}): ${what} failed; ${outcome}`, RETRY_AFTER_SECONDS, { cause: error, inDoubt });
}

// The one place that turns thrown errors into HTTP answers: JSON `{ error: { code, message } }`.

import type { Context, Middleware } from 'koa';
import type { Logger } from 'pino';
import { AppError, ClientGone, ProblemsFound, ShuttingDown, Unauthorized } from '../errors.js';
import { StoreError, StoreUnavailable } from '../store/store.js';
import { Throttle } from './throttle.js';

/** Answers `error` on `ctx`; server faults are logged, with their detail kept out of the answer. */
export type ErrorAnswer = (ctx: Context, error: unknown) => void;

/** Seconds a caller is told to wait before asking again after the store refused a change. */
const STORE_RETRY_AFTER_SECONDS = 10;

interface Described {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  readonly retryAfter?: number;
  /** Every problem of a refused chart or reload, one line each, as `chartd validate` prints them. */
  readonly problems?: readonly string[];
}

/** How often a run of store refusals is logged: every caller asks again while the disk is full. */
const STORE_LOG_INTERVAL_MS = 10_000;

export function errorAnswer(log: Logger, storeLogIntervalMs = STORE_LOG_INTERVAL_MS): ErrorAnswer {
  const storeLog = new Throttle(storeLogIntervalMs);
  return (ctx, error) => {
    const { status, code, message, retryAfter, problems } = describe(error);
    if (error instanceof StoreError) {
      const skipped = storeLog.pass(Date.now());
      if (skipped !== undefined) {
        log.error({ err: error, method: ctx.method, url: ctx.url, refusedSinceLastLog: skipped }, `a change could not be made durable; callers are told to ask again (logged at most every ${storeLogIntervalMs / 1000} s)`);
      }
    } else if (error instanceof ClientGone) {
      // A hang-up mid-upload is the client's doing, and nobody is left to answer: no fault of the server's.
      log.debug({ method: ctx.method, url: ctx.url, reason: error.message }, 'the client went away mid-request');
    } else if (status >= 500 && !(error instanceof ShuttingDown)) {
      // A long-poll released by shutdown answers 503 as planned; it is no fault of the server's.
      log.error({ err: error, method: ctx.method, url: ctx.url }, 'request failed with a server fault');
    }
    ctx.status = status;
    ctx.set('cache-control', 'no-store');
    if (retryAfter !== undefined) ctx.set('retry-after', String(retryAfter));
    if (error instanceof Unauthorized) ctx.set('www-authenticate', error.challenge);
    ctx.type = 'application/json';
    ctx.body = withoutStatusDigits(JSON.stringify({ error: { code, message, ...(problems ? { problems } : {}) } }));
  };
}

/**
 * The JSON with spaces added until its length in bytes (the Content-Length) holds neither 200 nor 406: scripts
 * written for StateService read `curl -sI … | grep 200` as yes, and an error must never look like one.
 */
export function withoutStatusDigits(json: string): string {
  let text = json;
  while (/200|406/.test(String(Buffer.byteLength(text)))) text += ' ';
  return text;
}

/** Answers every error thrown further down the chain. */
export function errorMiddleware(log: Logger, answer: ErrorAnswer = errorAnswer(log)): Middleware {
  return (ctx, next) => next().then(undefined, (error: unknown) => answer(ctx, error));
}

function describe(error: unknown): Described {
  if (error instanceof ShuttingDown) return { status: 503, code: error.code, message: error.message, retryAfter: error.retryAfterSeconds };
  if (error instanceof ProblemsFound) return { status: error.status, code: error.code, message: error.message, problems: error.problems };
  if (error instanceof AppError) {
    return { status: error.status, code: error.code, message: error.expose ? error.message : 'internal error; see the server log' };
  }
  if (error instanceof StoreUnavailable) {
    // The database is away (restarting, unreachable, or this replica's session ended): whether a change landed is said plainly.
    return {
      status: 503, code: 'store_unavailable', retryAfter: error.retryAfter,
      message: error.inDoubt
        ? 'the store stopped answering while the change was being committed: it may or may not have been applied; read it back, then ask again'
        : 'the change was not applied: the store is not reachable just now (the server log says why); ask again after Retry-After',
    };
  }
  if (error instanceof StoreError) {
    // The journal's path and the disk's own message go to the log; the caller learns the change did not happen.
    return {
      status: 503, code: 'store_unavailable', retryAfter: STORE_RETRY_AFTER_SECONDS,
      message: 'the change was not applied: the data directory could not make it durable (the server log says why, e.g. a full disk); ask again once that is fixed',
    };
  }
  if (error instanceof URIError) return { status: 400, code: 'bad_request', message: 'the URL is not correctly percent-encoded' };
  // Errors raised by Koa and the router carry an HTTP status (e.g. 405 from allowedMethods).
  const status = (error as { status?: unknown }).status;
  if (typeof status === 'number' && ((status >= 400 && status < 500) || status === 501)) {
    return { status, code: statusCode(status), message: (error as Error).message };
  }
  return { status: 500, code: 'internal', message: 'internal error; the change was not applied; see the server log' };
}

function statusCode(status: number): string {
  const codes: Record<number, string> = { 400: 'bad_request', 404: 'not_found', 405: 'method_not_allowed', 413: 'payload_too_large', 415: 'unsupported_media_type', 501: 'not_implemented' };
  return codes[status] ?? 'client_error';
}

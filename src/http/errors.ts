// The one place that turns thrown errors into HTTP answers: JSON `{ error: { code, message } }`.

import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import { AppError, ShuttingDown } from '../errors.js';

export function errorMiddleware(log: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      const { status, code, message } = describe(error);
      // A long-poll released by shutdown answers 503 as planned; it is no fault of the server's.
      if (status >= 500 && !(error instanceof ShuttingDown)) log.error({ err: error, method: ctx.method, url: ctx.url }, 'request failed with a server fault');
      ctx.status = status;
      ctx.set('cache-control', 'no-store');
      if (error instanceof ShuttingDown) ctx.set('retry-after', String(error.retryAfterSeconds));
      ctx.body = { error: { code, message } };
    }
  };
}

function describe(error: unknown): { status: number; code: string; message: string } {
  if (error instanceof AppError) {
    return { status: error.status, code: error.code, message: error.expose ? error.message : 'internal error; see the server log' };
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

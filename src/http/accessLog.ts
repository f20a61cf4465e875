// The access log (--access-log): one line per request once its answer is sent or the client has gone.

import type { Context, Middleware } from 'koa';
import type { Logger } from 'pino';
import { impliedCaller, type Principal } from '../access/policy.js';

/** Query parameters chartd reads, logged as given; any other is named without its value. */
const LOGGED_PARAMETERS = new Set(['state', 'by', 'event', 'wait', 'index', 'limit', 'after', 'since', 'order', 'status', 'changed']);
/** Longest value logged of a parameter or header: every line stays short whatever a request sends. */
const MAX_VALUE = 256;

export function accessLog(log: Logger): Middleware {
  return (ctx, next) => {
    const started = performance.now();
    // Read now: once the connection is gone its socket no longer knows the address.
    const from = ctx.ip;
    ctx.res.once('close', () => {
      log.info(accessEntry(ctx, from, performance.now() - started), `${ctx.method} ${ctx.path} ${ctx.res.statusCode}`);
    });
    return next();
  };
}

function accessEntry(ctx: Context, from: string, ms: number): Record<string, unknown> {
  const principal = ctx.state['principal'] as Principal | undefined;
  const caller = new URLSearchParams(ctx.querystring).get('by') ?? (ctx.get('x-chartd-caller') || undefined) ?? (principal && impliedCaller(principal));
  return {
    method: ctx.method,
    path: cut(ctx.path),
    ...(ctx.querystring && { query: loggedQuery(ctx.querystring) }),
    status: ctx.res.statusCode,
    ms: Math.round(ms * 1000) / 1000,
    // The token's name, as the auth file gives it; the token itself and the Authorization header never.
    ...(principal && !principal.anonymous && { token: principal.name }),
    ...(caller !== undefined && { caller: cut(caller) }),
    from,
    ...(!ctx.res.writableFinished && { aborted: true }),
  };
}

function loggedQuery(querystring: string): Record<string, string> {
  const logged: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(querystring)) {
    if (LOGGED_PARAMETERS.has(name)) logged[name] = cut(value);
    else logged[cut(name)] = '(not logged)';
  }
  return logged;
}

function cut(text: string): string {
  return text.length > MAX_VALUE ? `${text.slice(0, MAX_VALUE)}…` : text;
}

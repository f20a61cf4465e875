// Answers what no route took: a JSON 404 for a path no route has, a JSON 405 with Allow for a method its routes lack.

import type { Middleware } from 'koa';
import { NotFound } from '../errors.js';

/**
 * Mounted ahead of the router and its allowedMethods(), which must not throw: the Allow header it sets is wanted.
 * allowedMethods answers 501 to a method the router does not know (TRACE, PROPFIND) even where no route has the
 * path; here that is a 404 when no route has the path, else a 405 like any other method the path does not take.
 */
export function unroutedAnswers(hint = ''): Middleware {
  return async (ctx, next) => {
    await next();
    if (ctx.body !== undefined && ctx.body !== null) return;
    const refused = ctx.status === 405 || ctx.status === 501;
    const allowed = refused ? ctx.response.get('allow') : '';
    if (ctx.status === 404 || (refused && !allowed)) throw new NotFound(`no route for ${ctx.method} ${ctx.path}${hint}`);
    if (!refused) return;
    ctx.status = 405;
    ctx.body = { error: { code: 'method_not_allowed', message: `${ctx.method} is not supported on ${ctx.path}; use ${allowed}` } };
  };
}

// Conditional GETs: an ETag naming what an answer shows, and 304 Not Modified when the client holds it already.

import { hash } from 'node:crypto';
import type { Context } from 'koa';

/** A strong ETag of the parts that decide an answer (versions, revisions, counts), short and opaque. */
export function etagOf(...parts: readonly (string | number)[]): string {
  return `"${hash('sha256', parts.join('\u0000'), 'base64url').slice(0, 22)}"`;
}

/**
 * Sets `etag` on an answer; for a GET or HEAD, true when If-None-Match names it (or *), in which case the answer is a
 * 304 without a body and the caller builds nothing more.
 */
export function notModified(ctx: Context, etag: string): boolean {
  ctx.set('etag', etag);
  // A create or event answers with its own status and the snapshot it made; only a read can be answered from cache.
  if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return false;
  ctx.status = 200;
  if (!holds(ctx.get('if-none-match'), etag)) return false;
  ctx.status = 304;
  return true;
}

/**
 * If-None-Match as RFC 9110 has an origin server read it: `*`, or a list of tags compared weakly. (Koa's
 * ctx.fresh also says no whenever the request carries Cache-Control: no-cache, which fetch() adds to every
 * conditional request, so a browser would never get its 304.)
 */
function holds(ifNoneMatch: string, etag: string): boolean {
  if (ifNoneMatch === '') return false;
  if (ifNoneMatch.trim() === '*') return true;
  const bare = etag.replace(/^W\//, '');
  return ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === bare);
}

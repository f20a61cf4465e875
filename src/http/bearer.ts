// Bearer tokens on the wire: reading the Authorization header, and a guard for routes behind one shared token.

import type { Middleware } from 'koa';
import type { Secret } from '../backup/secret.js';
import { Unauthorized } from '../errors.js';

/** The token of an `Authorization: Bearer TOKEN` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}

/** Refuses (401) any request without the expected bearer token, before its body is read. */
export function requireBearer(expected: Secret, realm: string): Middleware {
  return async (ctx, next) => {
    const given = bearerToken(ctx.get('authorization'));
    if (given === undefined || !expected.matches(given)) {
      ctx.set('www-authenticate', `Bearer realm="${realm}"`);
      throw new Unauthorized(given === undefined
        ? 'this endpoint needs an Authorization: Bearer TOKEN header'
        : 'the bearer token is not valid for this endpoint');
    }
    await next();
  };
}

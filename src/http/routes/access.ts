// Who the presented token is and what it may do, so a client (the dashboard) offers only what will be allowed.

import { allows, impliedCaller, type Grant } from '../../access/policy.js';
import { OPEN, principalOf, type GuardedRoutes } from '../guard.js';

export function accessRoutes(routes: GuardedRoutes, chartNames: () => string[], services: readonly string[]): void {
  // Open, so a client without a token learns whether it needs one; an unknown token still gets 401 from the guard.
  routes.get('/access', OPEN, (ctx) => {
    const principal = principalOf(ctx);
    const { policy } = routes.guard;
    ctx.set('cache-control', 'no-store');
    ctx.body = {
      authentication: policy.authenticating ? 'tokens' : 'off',
      reads: allows(policy.anonymous, { scope: 'read' }) ? 'open' : 'token',
      token: principal.anonymous ? null : principal.name,
      scopes: principal.grants.map(describeGrant),
      callers: principal.callers ?? null,
      caller: impliedCaller(principal) ?? null,
      read: allows(principal, { scope: 'read' }),
      admin: allows(principal, { scope: 'admin' }),
      // Charts whose instances this token may create, move and send events to through the generic routes.
      write: chartNames().filter((chart) => routes.guard.mayWriteGeneric(principal, chart)),
      services,
    };
  });
}

function describeGrant(grant: Grant): string {
  return grant.scope === 'write' ? `write:${grant.charts.join(',')}` : grant.scope;
}

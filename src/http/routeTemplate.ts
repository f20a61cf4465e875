// The route template a request matched (e.g. /charts/:chart/state), never its raw path: the router records it, and the state fast path does too.

import type { Context } from 'koa';

/** What requests no route took are counted under, so paths nobody serves add no series. */
export const UNMATCHED = 'unmatched';

// The field @koa/router sets on the context when a route matches path and method.
type Matched = { _matchedRoute?: string | RegExp };

export function setRouteTemplate(ctx: Context, template: string): void {
  (ctx as Matched)._matchedRoute = template;
}

export function routeTemplate(ctx: Context): string {
  const matched = (ctx as Matched)._matchedRoute;
  return typeof matched === 'string' ? matched : UNMATCHED;
}

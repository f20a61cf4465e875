// GET /openapi.json: the server's OpenAPI description, serialized once, with an ETag so a client fetches it once per version.

import { etagOf, notModified } from '../conditional.js';
import { OPEN, type GuardedRoutes } from '../guard.js';

/** Open like /healthz: the description holds no secrets and is the same for every server of a version and kind. */
export function openapiRoutes(routes: GuardedRoutes, description: object): void {
  const body = JSON.stringify(description);
  const etag = etagOf(body);
  routes.get('/openapi.json', OPEN, (ctx) => {
    ctx.set('cache-control', 'no-cache');
    if (notModified(ctx, etag)) return;
    ctx.type = 'application/json';
    ctx.body = body;
  });
}

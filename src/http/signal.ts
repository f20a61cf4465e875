// An AbortSignal that fires when the client goes away, so long-polls stop waiting for nobody.

import type { Context } from 'koa';

export function requestSignal(ctx: Context): AbortSignal {
  const controller = new AbortController();
  ctx.res.once('close', () => controller.abort());
  return controller.signal;
}

// Requests held open (long-polls, watch streams): a signal for when the client goes away, and a mark that says so.

import type { Context } from 'koa';

const HELD = 'held';

export function requestSignal(ctx: Context): AbortSignal {
  const controller = new AbortController();
  ctx.res.once('close', () => controller.abort());
  return controller.signal;
}

/** Marks a request held open by design: how long it takes is the client's choice, not a latency (metrics leave it out). */
export function markHeld(ctx: Context): void {
  ctx.state[HELD] = true;
}

export function isHeld(ctx: Context): boolean {
  return ctx.state[HELD] === true;
}

// Server-sent events: every transition of one instance as it is committed, resumable by Last-Event-ID, and every other change.

import { PassThrough } from 'node:stream';
import type { Context } from 'koa';
import type { Snapshot, Status, Transition } from '../../engine/snapshot.js';
import { BadRequest } from '../../errors.js';
import { repeatOnClock } from '../../runtime/clock.js';
import type { Change, Runtime } from '../../runtime/runtime.js';
import { READ, type GuardedRoutes } from '../guard.js';
import { markHeld } from '../signal.js';

const HEARTBEAT_MS = 15_000;
/** A client this far behind is cut off; it reconnects with Last-Event-ID and replays from history. */
const SLOW_CLIENT_BYTES = 1024 * 1024;

/** Registers the watch route; returns how many streams are open now (metrics). */
export function watchRoutes(routes: GuardedRoutes, runtime: Runtime): () => number {
  let open = 0;
  routes.get('/charts/:chart/instances/:id/events', READ, async (ctx) => {
    const { chart, id } = ctx.params as { chart: string; id: string };
    const snapshot = await runtime.snapshot(chart, id);
    const states = runtime.chartOf(snapshot).states;
    let sent = lastEventId(ctx) ?? snapshot.revision;
    const stream = new PassThrough();
    const send = (transition: Transition): void => {
      if (transition.revision <= sent) return;
      sent = transition.revision;
      // The status this transition left the run in, not the latest one: a batch or a replay holds several.
      const status: Status = transition.status ?? (states[transition.to]?.kind === 'final' ? 'done' : 'active');
      const data = { chart, instance: id, ...transition, status };
      stream.write(`id: ${transition.revision}\nevent: transition\ndata: ${JSON.stringify(data)}\n\n`);
    };
    // A client ahead of the run (restored from an older copy, or recreated) would otherwise hear nothing until
    // the run caught up with its id; tell it, and stream from where the run is. The id makes EventSource resume here.
    if (sent > snapshot.revision) {
      const reset = { revision: snapshot.revision, lastEventId: sent, message: 'Last-Event-ID is ahead of this run; GET the instance for its current state' };
      stream.write(`id: ${snapshot.revision}\nevent: reset\ndata: ${JSON.stringify(reset)}\n\n`);
      sent = snapshot.revision;
    }
    // Changes committed while the history is read wait for it, so they go out after it, in order, none lost.
    let held: Change[] | undefined = [];
    let historySent = (): void => {};
    // On a shared store, every replica's changes come as stored snapshots, one at a time, once the history is out.
    let storedChanges = new Promise<void>((resolve) => (historySent = resolve));
    const unsubscribe = runtime.shared
      ? runtime.watchStored(chart, id, (stored) => {
        storedChanges = storedChanges.then(() => followStored(stored)).catch((error: Error) => {
          // The client reconnects with Last-Event-ID and is replayed what it missed.
          stream.write(`event: error\ndata: ${JSON.stringify({ message: `the store did not answer: ${error.message}` })}\n\n`);
          close();
        });
      })
      : runtime.onChange((change) => {
        if (held) held.push(change);
        else follow(change);
      });
    // Resume: what the capped history still holds past the client's last id, up to the instance as it is now.
    let history: Transition[];
    try {
      const latest = sent < snapshot.revision ? await runtime.find(chart, id) : undefined;
      history = latest ? await runtime.history(latest) : [];
    } catch (error) {
      unsubscribe();
      throw error;
    }
    async function followStored(stored: Snapshot | undefined): Promise<void> {
      if (closed) return;
      if (!stored) return removed(sent);
      if (stored.revision <= sent) return;
      const recorded = (await runtime.history(stored)).filter((transition) => transition.revision > sent);
      if (!closed) follow({ before: undefined, after: stored, recorded });
    }
    function follow({ after, recorded }: Change): void {
      if (after.chart !== chart || after.id !== id) return;
      for (const transition of recorded) send(transition);
      // A change that moved no state (a check-in a gate counted, a step's retry) has no id: resuming replays transitions only.
      if (after.revision > sent) {
        sent = after.revision;
        const { revision, state, status, counter, callers, attempt, deadline } = after;
        stream.write(`event: revision\ndata: ${JSON.stringify({ chart, instance: id, revision, state, status, counter, callers, attempt, deadline })}\n\n`);
      }
      if (stream.writableLength > SLOW_CLIENT_BYTES) close();
    }
    // A deleted instance has nothing more to say: the stream ends, and a reconnect answers 404.
    const removed = (revision: number): void => {
      if (closed) return;
      stream.write(`event: removed\ndata: ${JSON.stringify({ chart, instance: id, revision })}\n\n`);
      close();
    };
    const unsubscribeRemoval = runtime.onRemove((snapshot) => {
      if (snapshot.chart === chart && snapshot.id === id) removed(snapshot.revision);
    });
    // A comment now and then keeps proxies and load balancers from cutting a quiet stream; it runs on the runtime's clock.
    const stopHeartbeat = repeatOnClock(runtime.clock, HEARTBEAT_MS, () => stream.write(': keep-alive\n\n'));
    let removeStopHook = (): void => {};
    let closed = false;
    const close = (): void => {
      if (closed) return;
      closed = true;
      open -= 1;
      stopHeartbeat();
      unsubscribe();
      unsubscribeRemoval();
      removeStopHook();
      stream.end();
    };
    open += 1;
    markHeld(ctx);
    ctx.req.once('close', close);
    const remove = runtime.onStop(close);
    removeStopHook = () => void remove();
    ctx.req.socket.setTimeout(0);
    ctx.req.socket.setNoDelay(true);
    ctx.status = 200;
    ctx.type = 'text/event-stream';
    ctx.set('cache-control', 'no-store');
    ctx.set('x-accel-buffering', 'no');
    ctx.body = stream;
    const oldest = history[0]?.revision;
    if (oldest !== undefined && sent + 1 < oldest) {
      stream.write(`event: gap\ndata: ${JSON.stringify({ from: sent + 1, to: oldest - 1, message: 'older transitions are no longer kept; GET the instance for its current state' })}\n\n`);
    }
    for (const transition of history) send(transition);
    const waiting = held;
    held = undefined;
    for (const change of waiting) follow(change);
    historySent();
    stream.write(`retry: 2000\n: watching ${chart}/${id} from revision ${sent}\n\n`);
  });
  return () => open;
}

function lastEventId(ctx: Context): number | undefined {
  const text = ctx.get('last-event-id') || (typeof ctx.query['since'] === 'string' ? ctx.query['since'] : '');
  if (!text) return undefined;
  if (!/^\d{1,15}$/.test(text)) throw new BadRequest('Last-Event-ID must be a revision number');
  return Number(text);
}

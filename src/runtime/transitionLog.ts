// One info line per transition, written from the runtime's change listener once the change is durable.

import type { Logger } from 'pino';
import type { Transition } from '../engine/snapshot.js';
import type { Change } from './runtime.js';

/** The transitions one committed change made, oldest first: those of its history newer than what came before. */
export function newTransitions({ before, after }: Change): Transition[] {
  const since = before?.revision ?? 0;
  const { history } = after;
  let first = history.length;
  while (first > 0 && history[first - 1]!.revision > since) first -= 1;
  return first === history.length ? [] : history.slice(first);
}

/** A change listener that logs each transition with what an operator searches by; nothing for a change that moved no state. */
export function logTransitions(log: Logger): (change: Change) => void {
  return (change) => {
    if (!log.isLevelEnabled('info')) return;
    for (const transition of newTransitions(change)) {
      const { revision, from, to, cause, caller, token } = transition;
      // A failure's message is logged on its own line already (see alerts.ts).
      log.info({
        chart: change.after.chart, instance: change.after.id, from, to, cause, revision,
        ...(caller !== undefined ? { caller } : {}), ...(token !== undefined ? { token } : {}),
      }, 'transition');
    }
  };
}

// One info line per transition, written from the runtime's change listener once the change is durable.

import type { Logger } from 'pino';
import type { Change } from './runtime.js';

/** A change listener that logs each transition with what an operator searches by; nothing for a change that moved no state. */
export function logTransitions(log: Logger): (change: Change) => void {
  return (change) => {
    if (!log.isLevelEnabled('info')) return;
    for (const transition of change.recorded) {
      const { revision, from, to, cause, caller, token } = transition;
      // A failure's message is logged on its own line already (see alerts.ts).
      log.info({
        chart: change.after.chart, instance: change.after.id, from, to, cause, revision,
        ...(caller !== undefined ? { caller } : {}), ...(token !== undefined ? { token } : {}),
      }, 'transition');
    }
  };
}

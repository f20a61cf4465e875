// Long-running commands wait here until the operator or the service manager asks them to stop.

import { constants } from 'node:os';
import type { Logger } from 'pino';

export type StopSignal = 'SIGINT' | 'SIGTERM';

/** Resolves on the first SIGINT or SIGTERM; a second one ends the process at once (Node's default). */
export function untilStopSignal(log: Logger): Promise<void> {
  return new Promise((resolve) => {
    const stop = (signal: string): void => {
      log.info({ signal }, 'shutting down');
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

/**
 * Calls `first` on the first SIGINT or SIGTERM (stop cleanly) and `again` on the next (stop now; it should exit).
 * Returns a function that removes the handlers.
 */
export function onStopSignals(first: (signal: StopSignal) => void, again: (signal: StopSignal) => void): () => void {
  let count = 0;
  const handle = (signal: StopSignal): void => {
    count += 1;
    if (count === 1) first(signal);
    else again(signal);
  };
  const onInt = (): void => handle('SIGINT');
  const onTerm = (): void => handle('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return () => {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  };
}

/** The exit code a shell gives a process a signal ended: 128 + its number (130 for SIGINT, 143 for SIGTERM). */
export function signalExitCode(signal: StopSignal): number {
  return 128 + constants.signals[signal];
}

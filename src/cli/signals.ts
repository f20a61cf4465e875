// Long-running commands wait here until the operator or the service manager asks them to stop (or, serving, to reload).

import { constants } from 'node:os';
import type { Logger } from 'pino';
import { releaseLocksNow } from '../store/lock.js';

export type StopSignal = 'SIGINT' | 'SIGTERM' | 'SIGHUP';

/** How `chartd serve` meets signals, from before it starts until it has stopped. */
export interface ServeSignals {
  /** Resolves on the first SIGINT or SIGTERM (a second one ends the process at once, its LOCK removed first). */
  readonly stopped: Promise<StopSignal>;
  /** From now on SIGHUP calls `reload` (a SIGHUP during start-up is taken now); until then it only waits for it. */
  onHangup(reload: () => Promise<unknown>): void;
  dispose(): void;
}

/**
 * Installs the server's signal handlers at once, so no signal finds Node's defaults (which end the process and leave
 * the data directory's LOCK): SIGINT and SIGTERM stop it cleanly, SIGHUP reloads its charts, and a second stop
 * signal exits at once after removing the LOCK.
 */
export function serveSignals(log: Logger): ServeSignals {
  let stopping = false;
  let hungUp = false;
  let reload: (() => Promise<unknown>) | undefined;
  let resolveStop: (signal: StopSignal) => void = () => undefined;
  const stopped = new Promise<StopSignal>((resolve) => (resolveStop = resolve));
  const removeStops = onStopSignals((signal) => {
    stopping = true;
    log.info({ signal }, 'shutting down; send the signal again to stop at once');
    resolveStop(signal);
  }, (signal) => exitNow(log, signal, 'stopping at once'));
  const runReload = (): void => {
    log.info({ signal: 'SIGHUP' }, 'reloading the charts, --values and --auth');
    // A refused reload has logged each problem; the server goes on as it was.
    reload!().catch((error: Error) => log.error({ err: error.message }, 'reload failed; nothing changed'));
  };
  const onHangupSignal = (): void => {
    if (stopping) return;
    if (reload) runReload();
    else hungUp = true;
  };
  process.on('SIGHUP', onHangupSignal);
  return {
    stopped,
    onHangup(handler) {
      reload = handler;
      if (hungUp && !stopping) runReload();
    },
    dispose() {
      removeStops();
      process.off('SIGHUP', onHangupSignal);
    },
  };
}

/** Ends the process now with the signal's exit code, after flushing the log and removing any LOCK it holds. */
export function exitNow(log: Pick<Logger, 'warn' | 'flush'>, signal: StopSignal, message: string): never {
  log.warn({ signal }, message);
  log.flush();
  releaseLocksNow();
  process.exit(signalExitCode(signal));
}

/**
 * Calls `first` on the first of `signals` (stop cleanly) and `again` on the next (stop now; it should exit).
 * Returns a function that removes the handlers.
 */
export function onStopSignals(first: (signal: StopSignal) => void, again: (signal: StopSignal) => void, signals: readonly StopSignal[] = ['SIGINT', 'SIGTERM']): () => void {
  let count = 0;
  const handlers = signals.map((signal) => {
    const handle = (): void => {
      count += 1;
      if (count === 1) first(signal);
      else again(signal);
    };
    process.on(signal, handle);
    return [signal, handle] as const;
  });
  return () => {
    for (const [signal, handle] of handlers) process.off(signal, handle);
  };
}

/** The exit code a shell gives a process a signal ended: 128 + its number (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP). */
export function signalExitCode(signal: StopSignal): number {
  return 128 + constants.signals[signal];
}

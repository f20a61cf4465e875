// Long-running commands wait here until the operator or the service manager asks them to stop.

import type { Logger } from 'pino';

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

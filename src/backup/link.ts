// A link to another service (the job service, a zone) as a chartd service: started by a call it answers, failed while its circuit is open.

import type { Service } from '../services/service.js';
import type { Resilient } from './resilience.js';

/**
 * `probe` is one call outside the retries and the circuit, so a check never opens the circuit for real calls; it
 * resolves when the service answered at all. Once it has, an open circuit is closed at once.
 */
export function linkService(name: string, resilient: Resilient, timeoutMs: number, probe: (signal: AbortSignal) => Promise<unknown>): Service {
  return {
    name,
    async start() {
      const signal = AbortSignal.timeout(timeoutMs);
      await probe(signal).catch((error: unknown) => {
        throw signal.aborted ? new Error(`${name} gave no answer within ${timeoutMs} ms`) : error;
      });
      if (resilient.circuit() !== 'closed') resilient.reset();
    },
    stop: async () => {},
    failure: () => resilient.failure(),
  };
}

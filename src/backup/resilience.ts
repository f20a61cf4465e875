// Calls to other services: a timeout per call, quick retries with backoff, and a circuit breaker (cockatiel).

import {
  BrokenCircuitError, CircuitState, ConsecutiveBreaker, ExponentialBackoff, TaskCancelledError,
  circuitBreaker, handleWhen, retry, timeout, TimeoutStrategy, wrap, type CircuitBreakerPolicy, type IPolicy,
} from 'cockatiel';
import { Refused, Unusable } from './errors.js';

/** How calls to the job service and the zones are bounded, retried and cut off. */
export interface CallPolicy {
  readonly timeoutMs: number;
  /** Quick retries inside one attempt of a step; the step's own retry takes over after them. */
  readonly retries: number;
  readonly retryDelayMs: number;
  /** Consecutive failures that open a service's circuit. */
  readonly breakerFailures: number;
  readonly halfOpenAfterMs: number;
}

export type CircuitView = 'closed' | 'open' | 'half-open' | 'isolated';

export interface Resilient {
  /** Runs `call` under the policies; `call` gets a signal that aborts on timeout or when `signal` does. */
  execute<T>(call: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T>;
  circuit(): CircuitView;
  /** Why the service is not being called, while its circuit is open; undefined otherwise. */
  failure(): string | undefined;
  /** Closes the circuit, once the service has been seen to answer again. */
  reset(): void;
}

/** Failures worth retrying and counting against the circuit: the service did not answer usefully. */
export function isTransient(error: unknown): boolean {
  return !(error instanceof Refused) && !(error instanceof Unusable) && !(error instanceof BrokenCircuitError);
}

export function createResilience(service: string, policy: CallPolicy): Resilient {
  const build = (): { breaker: CircuitBreakerPolicy; policies: IPolicy } => {
    const breaker = circuitBreaker(handleWhen(isTransient), {
      halfOpenAfter: policy.halfOpenAfterMs,
      breaker: new ConsecutiveBreaker(policy.breakerFailures),
    });
    const policies = wrap(
      retry(handleWhen(isTransient), {
        maxAttempts: policy.retries,
        backoff: new ExponentialBackoff({ initialDelay: policy.retryDelayMs, maxDelay: policy.retryDelayMs * 8 }),
      }),
      breaker,
      timeout(policy.timeoutMs, TimeoutStrategy.Aggressive),
    );
    return { breaker, policies };
  };
  let current = build();
  let lastFailure = '';
  const open = (): string =>
    `${service} is not being called: its circuit is open after ${policy.breakerFailures} failures in a row (last: ${lastFailure}); it is tried again after ${policy.halfOpenAfterMs} ms`;
  const circuit = (): CircuitView => {
    switch (current.breaker.state) {
      case CircuitState.Closed: return 'closed';
      case CircuitState.Open: return 'open';
      case CircuitState.HalfOpen: return 'half-open';
      case CircuitState.Isolated: return 'isolated';
    }
  };
  return {
    async execute(call, signal) {
      try {
        return await current.policies.execute((context) => call(context.signal), signal);
      } catch (error) {
        if (error instanceof BrokenCircuitError) throw new Error(open());
        if (error instanceof TaskCancelledError) {
          lastFailure = signal?.aborted ? 'aborted' : `no answer within ${policy.timeoutMs} ms`;
          throw new Error(`${service}: ${lastFailure}`);
        }
        if (isTransient(error)) lastFailure = (error as Error).message;
        throw error;
      }
    },
    circuit,
    failure: () => (circuit() === 'open' || circuit() === 'isolated' ? open() : undefined),
    reset() {
      current = build();
    },
  };
}

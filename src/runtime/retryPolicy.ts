// The one policy by which work after a commit is tried again (an outcome the store refused, an alert the webhook did not take): cockatiel's backoff, waited out on the Clock port.

import { ExponentialBackoff, halfJitterGenerator, type IBackoff, type IBackoffFactory } from 'cockatiel';
import type { Clock } from './clock.js';

// 0.5-1 s after the first refusal, doubling to 30-60 s: a disk, database or webhook back within a minute is noticed within one.
export const EFFECT_BACKOFF: IBackoffFactory<unknown> = new ExponentialBackoff({ generator: halfJitterGenerator, initialDelay: 1000, maxDelay: 60_000 });

export interface RetryOptions {
  readonly clock: Clock;
  readonly backoff?: IBackoffFactory<unknown>;
  /** Whether a failure is worth another try; anything else is thrown at once. */
  readonly retryable: (error: unknown) => boolean;
  /** Aborting ends the waiting: the last failure is thrown. */
  readonly signal: AbortSignal;
  /** Told of each failure that will be tried again, and after how long. */
  readonly onRetry?: (error: unknown, delayMs: number) => void;
}

/**
 * Runs `attempt` until it succeeds, a failure is not retryable, or `signal` aborts. The waits come from cockatiel's
 * backoff but run on the Clock (cockatiel's own retry sleeps on the global timer, which simulated time cannot move).
 */
export async function retryOnClock<T>(attempt: () => Promise<T>, options: RetryOptions): Promise<T> {
  const { clock, retryable, signal } = options;
  let backoff: IBackoff<unknown> | undefined;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (signal.aborted || !retryable(error)) throw error;
      backoff = backoff ? backoff.next(undefined) : (options.backoff ?? EFFECT_BACKOFF).next(undefined);
      const delay = Math.round(backoff.duration);
      options.onRetry?.(error, delay);
      const waited = await sleep(clock, delay, signal);
      if (!waited) throw error;
    }
  }
}

/** Resolves true after `ms` on the clock, or false as soon as `signal` aborts. */
function sleep(clock: Clock, ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = clock.setTimeout(() => {
      signal.removeEventListener('abort', aborted);
      resolve(true);
    }, ms);
    const aborted = (): void => {
      clock.clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener('abort', aborted, { once: true });
  });
}

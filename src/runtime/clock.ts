// The Clock port: the runtime's only source of "now" and of timers (tests pass a simulated one).

/** A pending callback of a Clock; only the clock that made it can cancel it. */
export type ClockTimer = { readonly id: unknown };

export interface Clock {
  now(): number;
  /** Calls `callback` once, `ms` from now; a pending timer never keeps the process alive. */
  setTimeout(callback: () => void, ms: number): ClockTimer;
  clearTimeout(timer: ClockTimer): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(callback, ms) {
    const handle = setTimeout(callback, ms);
    handle.unref();
    return { id: handle };
  },
  clearTimeout(timer) {
    clearTimeout(timer.id as NodeJS.Timeout);
  },
};

/** Calls `tick` every `ms` on `clock`, each time armed as the one before fires, until the returned function stops it. */
export function repeatOnClock(clock: Clock, ms: number, tick: () => void): () => void {
  let timer: ClockTimer | undefined;
  let stopped = false;
  const arm = (): void => {
    timer = clock.setTimeout(() => {
      if (stopped) return;
      arm();
      tick();
    }, ms);
  };
  arm();
  return () => {
    stopped = true;
    if (timer) clock.clearTimeout(timer);
  };
}

// Hooks for a view's data: load when the inputs change (aborting the older load), reload on demand without overlap.

import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

export interface Loaded<T> {
  readonly data?: T;
  readonly error?: Error;
  readonly loading: boolean;
  /** Loads again; asked while a load runs, it loads once more after it, however often it was asked. */
  readonly reload: () => void;
}

export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, inputs: readonly unknown[]): Loaded<T> {
  const [result, setResult] = useState<{ data?: T; error?: Error }>({});
  const [loading, setLoading] = useState(true);
  const latest = useRef(load);
  latest.current = load;
  const run = useRef({ busy: false, again: false, controller: new AbortController() });

  const start = useCallback(() => {
    const current = run.current;
    if (current.busy) {
      current.again = true;
      return;
    }
    current.busy = true;
    setLoading(true);
    const { signal } = current.controller;
    latest.current(signal).then(
      (data) => !signal.aborted && setResult({ data }),
      (error: Error) => !signal.aborted && setResult((before) => ({ ...before, error })),
    ).finally(() => {
      if (signal.aborted) return;
      current.busy = false;
      setLoading(false);
      if (current.again) {
        current.again = false;
        start();
      }
    });
  }, []);

  useEffect(() => {
    run.current = { busy: false, again: false, controller: new AbortController() };
    setResult({});
    start();
    return () => run.current.controller.abort();
  }, inputs);

  return { ...result, loading, reload: start };
}

/** The time now, moving every `everyMs` while the view shows it (for countdowns; the server is not asked). */
export function useNow(everyMs = 1000): number {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}

// One button's request at a time, and what became of it in words: "Cancel: done." or why it was not accepted.

import { useState } from 'preact/hooks';
import { ApiError } from '../api';

export interface Outcome {
  readonly ok: boolean;
  readonly text: string;
}

export function useAction(): { busy: boolean; outcome: Outcome | undefined; run(what: string, call: () => Promise<unknown>, after: () => void): Promise<void> } {
  const [outcome, setOutcome] = useState<Outcome>();
  const [busy, setBusy] = useState(false);
  const run = async (what: string, call: () => Promise<unknown>, after: () => void): Promise<void> => {
    setBusy(true);
    try {
      await call();
      setOutcome({ ok: true, text: `${what}: done.` });
      after();
    } catch (error) {
      const status = error instanceof ApiError ? ` (${error.status})` : '';
      setOutcome({ ok: false, text: `${what}: not accepted${status}. ${(error as Error).message}` });
    } finally {
      setBusy(false);
    }
  };
  return { busy, outcome, run };
}

// Cancel a running instance, start a finished one over, or delete it (after a confirmation): for a token that may write.

import { useState } from 'preact/hooks';
import { pathOf, request } from '../api';
import { href, navigate } from '../route';
import type { Snapshot } from '../types';
import { useAction } from './action';

export function LifeCycle({ snapshot, onDone }: { snapshot: Snapshot; onDone: () => void }) {
  const [reason, setReason] = useState('');
  const [confirming, setConfirming] = useState(false);
  const { busy, outcome, run } = useAction();
  const base = pathOf('/charts', snapshot.chart, 'instances', snapshot.id);
  const active = snapshot.status === 'active';

  const send = async (what: string, method: 'POST' | 'DELETE', path: string, after: () => void): Promise<void> => {
    const body = reason.trim() ? JSON.stringify({ reason: reason.trim() }) : undefined;
    setConfirming(false);
    await run(what, () => request(path, { method, ...(body ? { body, headers: { 'content-type': 'application/json' } } : {}) }), () => {
      setReason('');
      after();
    });
  };

  return (
    <section aria-labelledby="lifecycle-heading" class="actions lifecycle">
      <h2 id="lifecycle-heading">Life cycle</h2>
      {active && snapshot.cancelled && <p class="muted">Cancelled ({snapshot.cancelled.reason}); its cleanup is running.</p>}
      <label class="reason">Reason (recorded in the history)
        <input name="reason" value={reason} maxLength={1000} autocomplete="off" placeholder={active ? 'e.g. the release was pulled' : 'optional'}
          onInput={(event) => setReason((event.target as HTMLInputElement).value)} />
      </label>
      <div class="buttons">
        {active && !snapshot.cancelled && (
          <button type="button" disabled={busy} onClick={() => send('Cancel', 'POST', `${base}/cancel`, onDone)}>Cancel</button>
        )}
        {!active && <button type="button" disabled={busy} onClick={() => send('Start over', 'POST', `${base}/restart`, onDone)}>Start over</button>}
        {!active && !confirming && <button type="button" class="danger" disabled={busy} onClick={() => setConfirming(true)}>Delete…</button>}
      </div>
      {confirming && (
        <div class="note bad confirm" role="alertdialog" aria-labelledby="confirm-text">
          <p id="confirm-text">Delete instance <strong>{snapshot.id}</strong> and its history for good?</p>
          <div class="buttons">
            <button type="button" class="danger" disabled={busy}
              onClick={() => send('Delete', 'DELETE', base, () => navigate(href('charts', snapshot.chart)))}>Delete {snapshot.id}</button>
            <button type="button" disabled={busy} onClick={() => setConfirming(false)}>Keep it</button>
          </div>
        </div>
      )}
      {outcome && <p class={`note ${outcome.ok ? 'ok' : 'bad'}`} role="status">{outcome.text}</p>}
    </section>
  );
}

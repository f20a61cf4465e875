// An instance's past: the failures it recorded and its transitions as a timeline, newest first.

import type { Failure, Transition } from '../types';
import { Time } from './common';

export function Failures({ failures }: { failures: readonly Failure[] }) {
  if (failures.length === 0) return null;
  return (
    <section aria-labelledby="failures-heading">
      <h2 id="failures-heading">Failures</h2>
      <ul class="failures">
        {[...failures].reverse().map((failure, index) => (
          <li key={`${failure.at}-${index}`}>
            <Time at={failure.at} /> <strong>{failure.node}</strong>: <span class="message">{failure.error}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}

/** A transition as the instance keeps it, or as a backup request's view gives it (without revision, caller or token). */
type Step = Pick<Transition, 'at' | 'from' | 'to' | 'cause'> & Partial<Pick<Transition, 'caller' | 'token' | 'error' | 'reason' | 'status'>>;

export function Timeline({ history }: { history: readonly Step[] }) {
  return (
    <section aria-labelledby="history-heading">
      <h2 id="history-heading">History</h2>
      <ol class="timeline" reversed>
        {[...history].reverse().map((entry, index) => (
          <li key={history.length - index} class={entry.error ? 'unhappy' : undefined}>
            <Time at={entry.at} />
            <span class="move">{entry.from ?? '•'} → <strong>{entry.to}</strong></span>
            <span class="cause">{entry.cause}</span>
            {entry.caller && <span class="caller">by {entry.caller}</span>}
            {entry.token && <span class="token">token {entry.token}</span>}
            {entry.status && <span class="status">ended {entry.status}</span>}
            {entry.reason && <span class="reason">“{entry.reason}”</span>}
            {entry.error && <span class="message">{entry.error}</span>}
          </li>
        ))}
      </ol>
    </section>
  );
}

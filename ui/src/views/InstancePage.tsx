// One instance, live: its diagram with the current state lit, what it waits for, its actions and life cycle, failures and history.

import { useState } from 'preact/hooks';
import { pathOf, request, withQuery } from '../api';
import { mayWrite, useAccess } from '../access';
import { duration, relative } from '../format';
import { useLiveInstance } from '../live';
import { useNow } from '../load';
import { href } from '../route';
import type { Access, Snapshot } from '../types';
import { Diagram } from '../parts/Diagram';
import { Badge, ErrorNote, Facts, Loading, StatusBadge, Time } from '../parts/common';
import { Failures, Timeline } from '../parts/history';
import { LifeCycle } from '../parts/LifeCycle';
import { useAction } from '../parts/action';

const STREAM_WORDS = { connecting: 'connecting…', live: 'live', reconnecting: 'reconnecting…', stopped: 'not live' } as const;

export function InstancePage({ chart, id }: { chart: string; id: string }) {
  const live = useLiveInstance(chart, id);
  const access = useAccess();
  const snapshot = live.data;
  const heading = <h1><a href={href('charts', chart)}>{chart}</a> / {id}</h1>;
  if (live.error && !snapshot) return <>{heading}<ErrorNote error={live.error} what={`instance ${id}`} /></>;
  if (!snapshot) return <>{heading}<Loading what={`instance ${id}`} /></>;
  return (
    <>
      <div class="heading">
        {heading}
        <p class={`stream ${live.stream}`} title={live.streamProblem}>{STREAM_WORDS[live.stream]}</p>
      </div>
      <Now snapshot={snapshot} />
      <Diagram src={pathOf('/charts', chart, 'instances', id, 'diagram.svg')} revision={snapshot.revision}
        label={`Diagram of ${chart} version ${snapshot.version}: the current state, ${snapshot.state}, is filled yellow; states with failures are outlined red.`} />
      {snapshot.status === 'active' && !snapshot.cancelled && mayWrite(access, chart) && <Actions snapshot={snapshot} access={access} onDone={live.reload} />}
      {mayWrite(access, chart) && <LifeCycle snapshot={snapshot} onDone={live.reload} />}
      <Failures failures={snapshot.failures} />
      <Timeline history={snapshot.history} />
      <section aria-labelledby="context-heading">
        <h2 id="context-heading">Context</h2>
        <pre class="json" tabIndex={0}><code>{JSON.stringify(snapshot.context, null, 2)}</code></pre>
      </section>
    </>
  );
}

/** What the instance is doing now; its state and counter are announced to screen readers as they change (the countdown is not). */
function Now({ snapshot }: { snapshot: Snapshot }) {
  const current = snapshot.current;
  return (
    <section aria-labelledby="now-heading" class="now">
      <h2 id="now-heading" class="visually-hidden">Now</h2>
      <p class="visually-hidden" aria-live="polite">
        {`${snapshot.id} is in ${snapshot.state} (${snapshot.status})${current?.kind === 'gate' ? `, ${snapshot.counter} of ${current.count ?? '?'} check-ins` : ''}`}
      </p>
      <div>
        <Facts items={[
          ['State', <><strong data-state={snapshot.state}>{snapshot.state}</strong> {current && <span class="muted">({current.kind})</span>} <StatusBadge status={snapshot.status} /></>],
          ['Since', <Time at={snapshot.enteredAt} />],
          current?.kind === 'gate' ? ['Gate', `${snapshot.counter} of ${current.count ?? '?'} check-ins${current.distinct ? ' (each caller once)' : ''}`] : null,
          current?.kind === 'gate' ? ['Callers', snapshot.callers.length ? snapshot.callers.join(', ') : 'none yet'] : null,
          current?.kind === 'step' ? ['Attempt', `${snapshot.attempt} of ${current.retry?.attempts ?? 1}${current.run ? ` (${current.run})` : ''}`] : null,
          snapshot.deadline ? ['Deadline', <Countdown at={snapshot.deadline.at} kind={snapshot.deadline.kind} />] : null,
          ['Revision', snapshot.revision],
          ['Chart version', <code>{snapshot.version}</code>],
          snapshot.cancelled ? ['Cancelled', <><Time at={snapshot.cancelled.at} />{snapshot.cancelled.by ? ` by ${snapshot.cancelled.by}` : ''}: {snapshot.cancelled.reason}</>] : null,
          ['Created', <Time at={snapshot.createdAt} />],
        ]} />
      </div>
    </section>
  );
}

const DEADLINE_WORDS = { timer: 'moves on', timeout: 'times out', retry: 'tries again' } as const;

function Countdown({ at, kind }: { at: number; kind: keyof typeof DEADLINE_WORDS }) {
  const now = useNow();
  const left = at - now;
  return (
    <span class={left < 0 ? 'overdue' : undefined}>
      {left >= 0 ? <>{DEADLINE_WORDS[kind]} in <span class="countdown">{duration(left)}</span></> : <>{DEADLINE_WORDS[kind]}: due {relative(at, now)}</>}
      {' '}(<Time at={at} />)
    </span>
  );
}

/** Check in and accepted events: shown only to a token that may write to this chart. */
function Actions({ snapshot, access, onDone }: { snapshot: Snapshot; access: Access; onDone: () => void }) {
  const current = snapshot.current;
  const events = current?.edges.filter((edge) => edge.kind === 'event').map((edge) => edge.label) ?? [];
  const gate = current?.kind === 'gate';
  const [by, setBy] = useState(access.caller ?? '');
  const { busy, outcome, run } = useAction();
  if (!gate && events.length === 0) return null;

  const send = (what: string, path: string, query: Record<string, string>, method: 'PUT' | 'POST'): Promise<void> =>
    run(what, () => request(withQuery(path, { ...query, by: by.trim() || undefined }), { method }), onDone);
  const base = pathOf('/charts', snapshot.chart, 'instances', snapshot.id);
  return (
    <section aria-labelledby="actions-heading" class="actions">
      <h2 id="actions-heading">Act</h2>
      {!access.caller && (
        <label class="caller">Caller (by=)
          <input name="by" value={by} placeholder={access.callers ? access.callers.join(', ') : 'e.g. web1'} autocomplete="off"
            onInput={(event) => setBy((event.target as HTMLInputElement).value)} />
        </label>
      )}
      {access.caller && <p class="muted">Acting as caller <strong>{access.caller}</strong>.</p>}
      <div class="buttons">
        {gate && (
          <button type="button" disabled={busy} onClick={() => send(`Check-in at ${snapshot.state}`, `${base}/state`, { state: snapshot.state }, 'PUT')}>
            Check in at {snapshot.state}
          </button>
        )}
        {events.map((event) => (
          <button type="button" key={event} disabled={busy} onClick={() => send(`Event ${event}`, `${base}/events/${encodeURIComponent(event)}`, {}, 'POST')}>
            Send {event}
          </button>
        ))}
      </div>
      {outcome && <p class={`note ${outcome.ok ? 'ok' : 'bad'}`} role="status">{outcome.text}</p>}
      {gate && current?.distinct && !access.caller && <p class="muted"><Badge tone="plain">note</Badge> This gate counts each caller once: name one.</p>}
    </section>
  );
}

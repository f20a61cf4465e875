// Small pieces every view uses: times, status badges, error notes, key-value lists, page links.

import type { ComponentChildren } from 'preact';
import { ApiError } from '../api';
import type { Status } from '../types';
import { dateTime } from '../format';
import { href } from '../route';

export function Time({ at }: { at: string | number }) {
  const iso = new Date(at).toISOString();
  return <time dateTime={iso} title={iso}>{dateTime(at)}</time>;
}

export function Badge({ tone, children }: { tone: Status | 'bad' | 'warn' | 'ok' | 'plain'; children: ComponentChildren }) {
  return <span class={`badge ${tone}`}>{children}</span>;
}

export function StatusBadge({ status }: { status: Status }) {
  return <Badge tone={status}>{status}</Badge>;
}

export function ErrorNote({ error, what }: { error: Error; what: string }) {
  const signIn = error instanceof ApiError && error.status === 401;
  return (
    <div class="note bad" role="alert">
      <strong>Could not load {what}.</strong> {error.message}
      {signIn && <> <a href={`${href('sign-in')}?next=${encodeURIComponent(location.pathname + location.search)}`}>Sign in</a></>}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return <p class="loading" aria-busy="true">Loading {what}…</p>;
}

export function Facts({ items }: { items: readonly (readonly [string, ComponentChildren] | false | null | undefined)[] }) {
  return (
    <dl class="facts">
      {items.filter((item): item is readonly [string, ComponentChildren] => Boolean(item)).map(([term, value]) => (
        <div key={term}>
          <dt>{term}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

/** Links to the first page and the next one; `next` is a server list path whose `after` goes into this view's URL. */
export function Pager({ next, here }: { next: string | null; here: URLSearchParams }) {
  const after = next ? new URL(next, location.origin).searchParams.get('after') : null;
  const withAfter = (value: string | null): string => {
    const query = new URLSearchParams(here);
    if (value) query.set('after', value);
    else query.delete('after');
    const text = query.toString();
    return location.pathname + (text ? `?${text}` : '');
  };
  if (!after && !here.has('after')) return null;
  return (
    <nav class="pager" aria-label="Pages">
      {here.has('after') && <a href={withAfter(null)}>First page</a>}
      {after && <a href={withAfter(after)}>Next page</a>}
    </nav>
  );
}

export function Table({ caption, head, children, empty }: { caption: string; head: readonly string[]; children: ComponentChildren[]; empty: string }) {
  if (children.length === 0) return <p class="empty">{empty}</p>;
  return (
    <div class="scroll" tabIndex={0} role="region" aria-label={caption}>
      <table>
        <caption class="visually-hidden">{caption}</caption>
        <thead>
          <tr>{head.map((name) => <th scope="col" key={name}>{name}</th>)}</tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}

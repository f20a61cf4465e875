// Counts by state and status follow every change exactly, and the instances needing a look are the overdue, the
// retrying and the recently failed, most pressing first.

import { describe, expect, it } from 'vitest';
import type { Snapshot } from '../../src/engine/snapshot.js';
import { formatCursor, pageByChange, parseCursor } from '../../src/runtime/pageByChange.js';
import { InstanceTally, OVERDUE_AFTER_MS, RECENT_FAILURE_MS } from '../../src/runtime/tally.js';

const T0 = Date.parse('2026-03-01T00:00:00.000Z');
const iso = (ms: number): string => new Date(ms).toISOString();

function snapshot(id: string, fields: Partial<Snapshot> = {}): Snapshot {
  return {
    chart: 'c', version: 'v1', id, state: 'wait', status: 'active', context: {}, counter: 0, callers: [], deadline: null, attempt: 0,
    revision: 1, enteredAt: iso(T0), createdAt: iso(T0), updatedAt: iso(T0), transitions: 1, failures: [], ...fields,
  };
}

describe('InstanceTally', () => {
  it('counts by chart, state and status from the stored instances, then follows each change', () => {
    const tally = new InstanceTally(() => T0);
    const a = snapshot('a');
    const b = snapshot('b', { state: 'done', status: 'done' });
    tally.reset([a, b, snapshot('x', { chart: 'other' })]);
    expect(tally.counts('c')).toEqual({ total: 2, active: 1, done: 1, cancelled: 0, byState: { wait: { active: 1, done: 0, cancelled: 0 }, done: { active: 0, done: 1, cancelled: 0 } } });

    const moved = { ...a, state: 'done', status: 'done' as const, revision: 2 };
    tally.note(a, moved);
    const c1 = snapshot('c1');
    tally.note(undefined, c1);
    expect(tally.counts('c')).toEqual({ total: 3, active: 1, done: 2, cancelled: 0, byState: { wait: { active: 1, done: 0, cancelled: 0 }, done: { active: 0, done: 2, cancelled: 0 } } });
    const cancelled = { ...c1, status: 'cancelled' as const, revision: 2 };
    tally.note(c1, cancelled);
    expect(tally.counts('c')).toMatchObject({ total: 3, active: 0, done: 2, cancelled: 1, byState: { wait: { active: 0, done: 0, cancelled: 1 } } });
    // A removal: counted no more.
    tally.note(cancelled, undefined);
    tally.note(moved, undefined);
    expect(tally.counts('c')).toEqual({ total: 1, active: 0, done: 1, cancelled: 0, byState: { done: { active: 0, done: 1, cancelled: 0 } } });
    expect(tally.chartNames()).toEqual(['c', 'other']);
    expect(tally.counts('other').total).toBe(1);
    expect(tally.counts('none')).toEqual({ total: 0, active: 0, done: 0, cancelled: 0, byState: {} });
  });

  it('lists overdue deadlines, retried steps and recent failures, most pressing first; a fixed instance leaves the list', () => {
    let now = T0;
    const tally = new InstanceTally(() => now);
    const overdue = snapshot('late', { deadline: { at: T0 - OVERDUE_AFTER_MS - 1, kind: 'timeout' } });
    const onTime = snapshot('soon', { deadline: { at: T0 + 60_000, kind: 'timer' } });
    const retrying = snapshot('retry', { state: 'step', attempt: 2, deadline: { at: T0 + 1000, kind: 'retry' }, updatedAt: iso(T0 - 10) });
    const failure = { node: 'dump', error: 'pg_dump: connection refused', at: iso(T0 - 1000) };
    const failed = snapshot('failed', { state: 'end', status: 'done', failures: [failure] });
    const oldFailure = snapshot('old', { state: 'end', status: 'done', failures: [{ ...failure, at: iso(T0 - RECENT_FAILURE_MS - 1) }] });
    tally.reset([overdue, onTime, retrying, failed, oldFailure, snapshot('fine')]);

    const seen = tally.attention(10);
    expect(seen.instances.map((entry) => [entry.id, entry.reason])).toEqual([['late', 'overdue'], ['retry', 'retrying'], ['failed', 'failed']]);
    expect(seen.totals).toEqual({ overdue: 1, retrying: 1, failed: 1 });
    expect(seen.instances[2]).toMatchObject({ failure, since: failure.at, status: 'done' });
    expect(tally.attention(1).instances.map((entry) => entry.id)).toEqual(['late']);
    expect(tally.attention(10, 'other').instances).toEqual([]);

    // The deadline fires after all, and time passes the on-time one by more than the grace.
    tally.note(overdue, { ...overdue, deadline: null, revision: 2 });
    now = T0 + 60_000 + OVERDUE_AFTER_MS + 1;
    expect(tally.attention(10).instances.map((entry) => entry.id)).toEqual(['soon', 'retry', 'failed']);
  });
});

describe('pageByChange', () => {
  const at = (id: string, ms: number): Snapshot => snapshot(id, { updatedAt: iso(T0 + ms) });
  const all = [at('a', 5), at('b', 9), at('c', 1), at('d', 9), at('e', 3), at('f', 7)];

  it('pages newest change first (ties by id), whatever order the instances come in, and goes on from the cursor', () => {
    const first = pageByChange(all, { limit: 4 });
    expect(first.instances.map((s) => s.id)).toEqual(['b', 'd', 'f', 'a']);
    expect(first.next).toEqual({ at: T0 + 5, id: 'a' });
    const second = pageByChange([...all].reverse(), { limit: 4, after: parseCursor(formatCursor(first.next!))! });
    expect(second.instances.map((s) => s.id)).toEqual(['e', 'c']);
    expect(second.next).toBeUndefined();
    expect(pageByChange(all, { limit: 6 }).next).toBeUndefined();
  });

  it('filters before paging', () => {
    const page = pageByChange(all, { limit: 2, accept: (s) => s.id !== 'b' });
    expect(page.instances.map((s) => s.id)).toEqual(['d', 'f']);
    expect(page.next).toEqual({ at: T0 + 7, id: 'f' });
  });

  it('reads back only cursors it wrote', () => {
    expect(parseCursor('1767225600000.nightly.1')).toEqual({ at: 1767225600000, id: 'nightly.1' });
    expect(parseCursor('nightly')).toBeUndefined();
    expect(parseCursor('12.')).toBeUndefined();
  });
});
